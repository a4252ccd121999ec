package io.sparkrnn.kernel.generate;

/**
 * Turns the head's output at one step into the model's next input during generation.
 *
 * <p>Two kinds: a {@link ClassSampler} picks a class id from a row of logits [O] and the next
 * input is that id one-hot (models with cross_entropy loss and F == O); {@link #identity()} feeds
 * the output row itself back as the input row (models with mse loss and O == F).
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

  /** A short description for logs, e.g. "softmax(temperature=0.8, seed=7)". */
  String describe();

  /** The identity sampler: continuous outputs become the next inputs. */
  final class Identity implements Sampler {
    static final Identity INSTANCE = new Identity();

    private Identity() {}

    @Override
    public String describe() {
      return "identity";
    }
  }
}
