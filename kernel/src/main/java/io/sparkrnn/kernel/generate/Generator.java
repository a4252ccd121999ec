package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;

/**
 * Autoregressive generation and closed-loop evaluation of a seq2seq model: the model's own outputs,
 * through a {@link Sampler}, become its next inputs.
 *
 * <p>Which samplers fit which models: a {@link ClassSampler} (argmax, softmax) needs a
 * cross_entropy model with F == O (the vocabulary), and feeds the picked id back one-hot; the
 * {@link Sampler#identity() identity} sampler needs an mse model with O == F, and feeds the output
 * row back as it is ({@link Sampler#continuous} through a change of units). Anything else is
 * refused with the reason.
 */
public final class Generator {
  private Generator() {}

  /**
   * Runs the primer through the model in one forward call, then generates N steps per sequence.
   * Step 0 is the head's output at each sequence's last primer step (t = length(b) − 1); step n &gt; 0
   * is the output after feeding step n − 1 back. So N outputs cost N − 1 one-step forward calls
   * after the primer.
   *
   * @param primer inputs [T][B][F] (targets ignored; lengths, if any, ≥ 1)
   * @param steps N ≥ 1
   */
  public static Generation generate(Params params, BpttEngine engine, Batch primer, int steps, Sampler sampler) {
    return generate(params, engine, primer, steps, sampler, null);
  }

  /** As {@link #generate(Params, BpttEngine, Batch, int, Sampler)}, telling {@code progress} (if not null) each step done, 1..N. */
  public static Generation generate(Params params, BpttEngine engine, Batch primer, int steps, Sampler sampler,
      java.util.function.IntConsumer progress) {
    ModelConfig config = params.config();
    checkFits(config, sampler);
    if (steps < 1) {
      throw new BadInputException("generate needs at least one step, found N=" + steps);
    }
    primer.validateFor(config, false);
    int B = primer.batchSize();
    int O = config.outputSize();
    for (int b = 0; b < B; b++) {
      if (primer.length(b) < 1) {
        throw new BadInputException("primer sequence " + b + " has length 0; generation needs at least one primer step");
      }
    }
    StatefulSession session = new StatefulSession(params, engine, B);
    ForwardResult primed = session.run(primer);
    float[] current = new float[B * O];                            // head output at each row's last primer step
    for (int b = 0; b < B; b++) {
      int t = primer.length(b) - 1;
      System.arraycopy(primed.outputs(), (t * B + b) * O, current, b * O, O);
    }
    float[] outputs = new float[steps * B * O];
    int[] ids = sampler instanceof ClassSampler ? new int[steps * B] : null;
    for (int n = 0; n < steps; n++) {
      if (n > 0) {
        current = session.step(nextInput(sampler, current, B, O, ids, n - 1, "generate step " + (n - 1)));
      }
      System.arraycopy(current, 0, outputs, n * B * O, B * O);
      if (progress != null) {
        progress.accept(n + 1);
      }
    }
    // Sample the last step too, so ids[N−1] exists; its input is not fed.
    nextInput(sampler, current, B, O, ids, steps - 1, "generate step " + (steps - 1));
    return new Generation(steps, B, O, outputs, ids, session.state());
  }

  /** {@link #generate(Params, BpttEngine, Batch, int, Sampler)} with a full-length primer x [T][B][F]. */
  public static Generation generate(Params params, BpttEngine engine, float[] primer, int primerSteps, int batchSize,
      int steps, Sampler sampler) {
    return generate(params, engine, Batch.inputsOnly(primerSteps, batchSize, params.config().inputSize(), primer), steps, sampler);
  }

  /**
   * Closed-loop evaluation (as FluxTraining's warm-up then free-running prediction): the model reads
   * the batch's true inputs for steps 0 .. n − 1 (teacher forcing, one forward call), then drives
   * itself for steps n .. n + K − 1, where the input at step t is the sampler applied to its
   * output at step t − 1. Returns the outputs at those K steps beside the batch's targets there.
   *
   * @param batch inputs [T][B][F] with T ≥ n + K, every length ≥ n + K; targets optional
   * @param teacherSteps n ≥ 1
   * @param feedbackSteps K ≥ 1
   */
  public static ClosedLoop closedLoop(Params params, BpttEngine engine, Batch batch, int teacherSteps, int feedbackSteps,
      Sampler sampler) {
    ModelConfig config = params.config();
    checkFits(config, sampler);
    batch.validateFor(config, false);
    int n = teacherSteps;
    int K = feedbackSteps;
    if (n < 1 || K < 1) {
      throw new BadInputException("closed loop needs ≥ 1 teacher-forced and ≥ 1 feedback step, found n=" + n + " K=" + K);
    }
    if (n + K > batch.steps()) {
      throw new BadInputException("closed loop over steps 0.." + (n + K - 1) + " needs T ≥ " + (n + K)
          + ", the batch has T=" + batch.steps());
    }
    int B = batch.batchSize();
    int F = config.inputSize();
    int O = config.outputSize();
    for (int b = 0; b < B; b++) {
      if (batch.length(b) < n + K) {
        throw new BadInputException("sequence " + b + " has length " + batch.length(b) + "; closed loop over n=" + n
            + " + K=" + K + " steps needs every length ≥ " + (n + K));
      }
    }
    StatefulSession session = new StatefulSession(params, engine, B);
    float[] prefix = Arrays.copyOf(batch.x(), n * B * F);          // x[0..n−1]: steps are contiguous [B,F] blocks
    ForwardResult teacher = session.run(prefix, n);
    float[] current = Arrays.copyOfRange(teacher.outputs(), (n - 1) * B * O, n * B * O);
    float[] outputs = new float[K * B * O];
    int[] picked = sampler instanceof ClassSampler ? new int[K * B] : null;
    for (int k = 0; k < K; k++) {
      int t = n + k;
      current = session.step(nextInput(sampler, current, B, O, picked, k, "closed-loop input at step " + t));
      System.arraycopy(current, 0, outputs, k * B * O, B * O);
    }
    float[] targets = batch.targets() == null ? null : Arrays.copyOfRange(batch.targets(), n * B * O, (n + K) * B * O);
    int[] classes = batch.classes() == null ? null : Arrays.copyOfRange(batch.classes(), n * B, (n + K) * B);
    return new ClosedLoop(n, K, B, O, outputs, targets, classes);
  }

  /**
   * Checks that the model is seq2seq and that the sampler fits its loss and sizes.
   *
   * @throws IllegalArgumentException saying what does not fit and what would
   */
  public static void checkFits(ModelConfig config, Sampler sampler) {
    if (config.mode() != Mode.SEQ2SEQ) {
      throw new BadInputException("generation needs a seq2seq model (an output at every step); this model is "
          + config.mode().id() + " (a StatefulSession can still step it)");
    }
    int F = config.inputSize();
    int O = config.outputSize();
    if (sampler instanceof ClassSampler) {
      if (config.loss() != LossType.CROSS_ENTROPY) {
        throw new BadInputException(sampler.describe() + " picks class ids from logits, but the model's loss is "
            + config.loss().id() + " (continuous outputs); use Sampler.identity()");
      }
      if (F != O) {
        throw new BadInputException(sampler.describe() + " feeds the picked class back one-hot, which needs F == O;"
            + " the model has F=" + F + " inputs and O=" + O + " classes");
      }
    } else {
      if (config.loss() != LossType.MSE) {
        throw new BadInputException("the identity sampler feeds outputs back as inputs, but the model's outputs are "
            + config.loss().id() + " logits; use Sampler.argmax() or Sampler.softmax(...)");
      }
      if (F != O) {
        throw new BadInputException("the identity sampler feeds the O=" + O + " outputs back as the F=" + F
            + " inputs, which needs O == F");
      }
    }
  }

  /**
   * The next input [B][F] from the outputs [B][O]: one-hot of the picked ids (recorded in
   * {@code ids[n * B + b]}) or the outputs themselves.
   */
  private static float[] nextInput(Sampler sampler, float[] outputs, int B, int O, int[] ids, int n, String where) {
    for (int i = 0; i < outputs.length; i++) {
      float y = outputs[i];
      if (Float.isNaN(y) || (sampler instanceof Sampler.Identity && Float.isInfinite(y))) {
        throw new IllegalStateException(where + ": the model's output (b=" + i / O + ", o=" + i % O + ") is " + y
            + "; it cannot be fed back");
      }
    }
    if (sampler instanceof ClassSampler classes) {
      float[] oneHot = new float[B * O];                           // F == O
      for (int b = 0; b < B; b++) {
        int id = classes.pick(outputs, b * O, O);
        ids[n * B + b] = id;
        oneHot[b * O + id] = 1f;
      }
      return oneHot;
    }
    float[] next = ((Sampler.Identity) sampler).toInputs(outputs);
    for (int i = 0; i < next.length; i++) {
      if (!Float.isFinite(next[i])) {   // a finite output can overflow in the change of units
        throw new IllegalStateException(where + ": the model's output (b=" + i / O + ", o=" + i % O + ") = " + outputs[i]
            + " becomes the input " + next[i] + " (" + sampler.describe() + "); it cannot be fed back");
      }
    }
    return next;
  }
}
