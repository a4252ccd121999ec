package io.sparkrnn.infer;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.generate.ClassSampler;
import io.sparkrnn.kernel.generate.Generator;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Generation from a primer, in the model's units and symbols.
 *
 * <p>Class models (cross_entropy, F == O): the kernel's {@link Generator#generate} with an argmax
 * or seeded softmax sampler; the picked symbol is fed back one-hot. Continuous models (mse,
 * O == F): each output is fed back as the next input; with stored normalisation the output is
 * first taken to raw units and then to input units ({@code x' = (y·t_std + t_mean − i_mean) / i_std}),
 * since targets and inputs may have been scaled with different statistics.
 *
 * @param steps N
 * @param batchSize B
 * @param outputs the continuation [N][B][O]: raw units for continuous models, logits for class models;
 *     step 0 is the output at the primer's last step (the prediction of the step after it)
 * @param ids the picked class ids [N][B], or null for continuous models
 */
public record Generation(int steps, int batchSize, float[] outputs, int[] ids) {

  /** Generates N steps after {@code primer} (model units; lengths allowed). */
  public static Generation run(TrainedModel model, BpttEngine engine, Batch primer, int steps, Sampler sampler) {
    return run(model, engine, primer, steps, sampler, null);
  }

  /** As {@link #run(TrainedModel, BpttEngine, Batch, int, Sampler)}, telling {@code progress} (if not null) each step done, 1..N. */
  public static Generation run(TrainedModel model, BpttEngine engine, Batch primer, int steps, Sampler sampler,
      java.util.function.IntConsumer progress) {
    ModelConfig c = model.config();
    Generator.checkFits(c, sampler);
    if (sampler instanceof ClassSampler) {
      io.sparkrnn.kernel.generate.Generation g = Generator.generate(model.params(), engine, primer, steps, sampler, progress);
      return new Generation(steps, primer.batchSize(), g.outputs(), g.ids());
    }
    if (steps < 1) {
      throw new BadInputException("--steps must be at least 1, found " + steps);
    }
    primer.validateFor(c, false);
    int B = primer.batchSize();
    int O = c.outputSize();
    ForwardResult primed = engine.forward(model.params(), primer, null);   // padding carries the state to T
    float[] current = new float[B * O];
    for (int b = 0; b < B; b++) {
      int t = primer.length(b) - 1;
      System.arraycopy(primed.outputs(), (t * B + b) * O, current, b * O, O);
    }
    StatefulSession session = new StatefulSession(model.params(), engine, B);
    session.setState(primed.finalState());
    float[] outputs = new float[steps * B * O];
    for (int n = 0; n < steps; n++) {
      float[] raw = model.outputsToRawUnits(current);
      for (int i = 0; i < raw.length; i++) {
        if (!Float.isFinite(raw[i]) && Float.isFinite(current[i])) {   // finite in model units, past float32 in raw: the target std took it there
          throw new BadInputException("generate: step " + (n + 1) + " of " + steps + "'s output cannot be written or fed back"
              + " (sequence " + i / O + "): " + model.normalization().outputPastFloat32(current[i], i, "").getMessage());
        }
        if (!Float.isFinite(raw[i])) {   // the model computed NaN or Infinity: not the input's doing
          throw new IllegalStateException("generate: step " + (n + 1) + " of " + steps + "'s output (b=" + i / O + ", o="
              + i % O + ") is " + raw[i] + "; it cannot be fed back");
        }
      }
      System.arraycopy(raw, 0, outputs, n * B * O, B * O);
      if (n + 1 < steps) {
        float[] next;
        try {
          next = model.feedBack(current);    // y (model units) → raw → next x (the inputs' units)
        } catch (Normalization.PastFloat32Exception e) {
          // the model's own output, not the user's input: said so, with the step (it read "input feature 0: the value"
          // and advised prep, a review)
          // numbered as the progress lines number the steps done: step n + 1's output is fed back for the next
          throw new BadInputException("generate: step " + (n + 1) + " of " + steps + "'s output cannot be fed back (sequence "
              + e.element() / O + "): " + e.fact() + "; generation feeds each output back as the next input, which suits a"
              + " model whose targets are its inputs a step ahead", e);
        }
        current = session.step(next);
      }
      if (progress != null) {
        progress.accept(n + 1);
      }
    }
    return new Generation(steps, B, outputs, null);
  }

  /** Per sequence, the symbols of the picked ids. */
  public List<String> decode(List<String> vocabulary) {
    List<String> out = new ArrayList<>();
    for (int b = 0; b < batchSize; b++) {
      StringBuilder sb = new StringBuilder();
      for (int n = 0; n < steps; n++) {
        sb.append(vocabulary.get(ids[n * batchSize + b]));
      }
      out.add(sb.toString());
    }
    return out;
  }
}
