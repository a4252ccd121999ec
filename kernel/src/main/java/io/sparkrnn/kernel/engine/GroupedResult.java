package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.State;
import java.util.function.Consumer;

/**
 * What {@link BpttEngine#lossAndGradients} returns: one raw sum per group of sequences, in group
 * order, and the final states of the whole batch (truncated BPTT carries them on).
 *
 * <p>An engine that sums each group's gradient in float32 (the JVM engine) hands those arrays over
 * as they are ({@link #ofFloat32}); {@link #widen} reads them as float64 a range at a time, which is
 * exact, so a consumer that adds groups (spark-job's fixed tree) gets the bits it would get from
 * widened copies without making one: at V = 16 groups of LSTM H = 256 (265,000 parameters) those
 * copies were 34 MB written per training step and about a tenth of its time. {@link #groups()}
 * makes the float64 sums on first use.
 */
public final class GroupedResult {
  private final double[] lossSums;
  private final long[] counts;
  /** [group][≥ parameterCount]: float32 sums, or null where the result was made from float64 sums. */
  private final float[][] float32;
  private final int parameterCount;
  private final State finalState;
  private GradientSum[] groups;
  /** Takes the float32 arrays back on {@link #release} (the engine's spares), or null. */
  private Consumer<float[][]> onRelease;
  private boolean released;

  /**
   * A result of float64 sums, one per group.
   *
   * @throws IllegalStateException groups of different parameter counts: the sums of one call all
   *     come from the same model, so this is a bug (as {@link GradientSum#merge} says)
   */
  public GroupedResult(GradientSum[] groups, State finalState) {
    for (GradientSum g : groups) {
      if (g.gradient().length != groups[0].gradient().length) {
        throw new IllegalStateException("groups of " + groups[0].gradient().length + " and " + g.gradient().length + " parameters");
      }
    }
    this.groups = groups.clone();
    this.lossSums = null;
    this.counts = null;
    this.float32 = null;
    this.parameterCount = groups.length == 0 ? 0 : groups[0].gradient().length;
    this.finalState = finalState;
  }

  private GroupedResult(double[] lossSums, long[] counts, float[][] gradients, int parameterCount, State finalState) {
    this.lossSums = lossSums;
    this.counts = counts;
    this.float32 = gradients;
    this.parameterCount = parameterCount;
    this.finalState = finalState;
  }

  /**
   * A result of float32 gradient sums, taken over (not copied): group g's loss sum lossSums[g], its
   * count of loss terms counts[g], its gradient the first {@code parameterCount} values of
   * gradients[g] (an array may be longer: a buffer sized for a larger model).
   */
  public static GroupedResult ofFloat32(double[] lossSums, long[] counts, float[][] gradients, int parameterCount, State finalState) {
    return ofFloat32(lossSums, counts, gradients, parameterCount, finalState, null);
  }

  /**
   * {@link #ofFloat32} whose arrays go to {@code onRelease} when the consumer is done with them
   * ({@link #release}): an engine reuses them for a later call instead of allocating |θ| floats per
   * group and call (17 MB of garbage a step at V = 16 groups of LSTM H = 256; on a heap of 2 GB or less, G1 allocates
   * each 1.06 MB array as a humongous object).
   */
  public static GroupedResult ofFloat32(double[] lossSums, long[] counts, float[][] gradients, int parameterCount, State finalState,
      Consumer<float[][]> onRelease) {
    if (lossSums.length != gradients.length || counts.length != gradients.length) {
      throw new IllegalArgumentException(gradients.length + " gradients, " + lossSums.length + " loss sums and " + counts.length + " counts");
    }
    for (float[] g : gradients) {
      if (g.length < parameterCount) {
        throw new IllegalArgumentException("a group's gradient holds " + g.length + " values, fewer than its " + parameterCount + " parameters");
      }
    }
    GroupedResult r = new GroupedResult(lossSums, counts, gradients, parameterCount, finalState);
    r.onRelease = onRelease;
    return r;
  }

  /**
   * Says the consumer has read the sums (its last {@link #widen} or {@link #groups()} is done): the
   * float32 arrays may go back to the engine that made them. Reading the sums afterwards is a bug
   * (IllegalStateException). Optional: a result never released keeps its arrays.
   */
  public void release() {
    if (released) {
      return;
    }
    released = true;
    if (float32 != null && onRelease != null) {
      onRelease.accept(float32);
    }
  }

  private void requireUnreleased() {
    if (released) {
      throw new IllegalStateException("the groups' float32 sums were read after release()");
    }
  }

  /** The number of groups. */
  public int size() {
    return float32 != null ? float32.length : groups.length;
  }

  /** The parameter count: the length of each group's gradient. */
  public int parameterCount() {
    return parameterCount;
  }

  /** Group g's loss sum. */
  public double lossSum(int g) {
    return float32 != null ? lossSums[g] : groups[g].lossSum();
  }

  /** Group g's count of loss terms. */
  public long count(int g) {
    return float32 != null ? counts[g] : groups[g].count();
  }

  /** dst[at + i − from] = group g's gradient[i] as float64, for i in [from, to). */
  public void widen(int g, int from, int to, double[] dst, int at) {
    if (groups != null) { // float64 sums, given or made by groups(): the caller's, whatever release() did
      System.arraycopy(groups[g].gradient(), from, dst, at, to - from);
      return;
    }
    requireUnreleased();
    float[] src = float32[g];
    for (int i = from; i < to; i++) {
      dst[at + i - from] = src[i];
    }
  }

  /** The groups' sums as float64 (made on first call from float32 sums, then the same arrays). */
  public GradientSum[] groups() {
    if (groups == null) {
      requireUnreleased();
      GradientSum[] made = new GradientSum[float32.length];
      for (int g = 0; g < made.length; g++) {
        double[] gradient = new double[parameterCount];
        widen(g, 0, parameterCount, gradient, 0);
        made[g] = new GradientSum(lossSums[g], counts[g], gradient);
      }
      groups = made;
    }
    return groups;
  }

  /** The final states of the whole batch. */
  public State finalState() {
    return finalState;
  }
}
