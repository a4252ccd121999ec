package io.sparkrnn.kernel.generate;

import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Turns the head's output at one step into the model's next input during generation.
 *
 * <p>Two kinds: a {@link ClassSampler} picks a class id from a row of logits [O] and the next
 * input is that id one-hot (models with cross_entropy loss and F == O); {@link #identity()} feeds
 * the output row itself back as the input row, {@link #continuous} through a map such as the
 * change of units between normalised targets and inputs (models with mse loss and O == F).
 */
public sealed interface Sampler permits ClassSampler, Sampler.Identity {

  /** The class with the largest logit; the first such class on ties (as {@code torch.argmax}). */
  static ClassSampler argmax() {
    return ClassSampler.ARGMAX;
  }

  /**
   * Draws a class from softmax(logits / temperature), with a {@link java.util.SplittableRandom}
   * seeded by {@code seed}. Stateful: one draw per row per step, rows in order b = 0..B−1, so the
   * same seed, model and primer give the same sequence; use a new sampler for each generation.
   * A temperature ≤ {@link SoftmaxSampler#ARGMAX_TEMPERATURE} (1e-6) is treated as the limit
   * temperature → 0, which is argmax (and draws no random number).
   *
   * @param temperature ≥ 0 and finite
   */
  static ClassSampler softmax(double temperature, long seed) {
    return new SoftmaxSampler(temperature, seed);
  }

  /** Feeds each output row [O] back as the next input row [F]; needs O == F. */
  static Sampler identity() {
    return Identity.INSTANCE;
  }

  /**
   * Feeds the outputs [B][O] back through {@code outputsToInputs}, which returns the next inputs
   * [B][F] (a new array; O == F). For a model trained on normalised data the outputs are in the
   * targets' units and the inputs in the inputs' own: {@code x' = (y·t_std + t_mean − i_mean) / i_std},
   * which is what generation from such a model does and so what a closed loop must do to measure it.
   */
  static Sampler continuous(UnaryOperator<float[]> outputsToInputs, String description) {
    return new Identity(outputsToInputs, description);
  }

  /** A short description for logs, e.g. "softmax(temperature=0.8, seed=7)". */
  String describe();

  /** Continuous outputs become the next inputs: as they are, or mapped (see {@link #continuous}). */
  final class Identity implements Sampler {
    static final Identity INSTANCE = new Identity(float[]::clone, "identity");

    private final UnaryOperator<float[]> toInputs;
    private final String description;

    private Identity(UnaryOperator<float[]> toInputs, String description) {
      this.toInputs = Objects.requireNonNull(toInputs, "outputsToInputs");
      this.description = description;
    }

    /** The next inputs [B][F] from the outputs [B][O]; a new array. */
    float[] toInputs(float[] outputs) {
      float[] x = toInputs.apply(outputs);
      if (x == outputs || x.length != outputs.length) {
        throw new IllegalStateException(description + ": the feedback map must return a new array of the outputs' length");
      }
      return x;
    }

    @Override
    public String describe() {
      return description;
    }
  }
}
