package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;

/**
 * Per-feature sums over the valid steps of some batches, for z-score normalisation. Accumulates
 * in double; {@link #merge} combines partial results, and merging the same partials in the same
 * order gives bit-identical statistics, which is how the local and the Spark prep agree.
 *
 * <p>Call order: {@code new Moments(F, O)} → {@link #add}* / {@link #merge}* → {@link #toNormalization}.
 */
public final class Moments implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Valid (t, b) steps counted for the inputs. */
  private long inputCount;
  /** [F] sum and sum of squares of each input feature. */
  private final double[] inputSum;
  private final double[] inputSumSq;
  /** Target rows counted (valid steps for seq2seq, sequences for seq2one); 0 when targets are classes. */
  private long targetCount;
  /** [O] sum and sum of squares of each float target, or null for class ids. */
  private final double[] targetSum;
  private final double[] targetSumSq;

  /** @param outputs O for float targets, 0 when targets are class ids (not normalised) */
  public Moments(int features, int outputs) {
    inputSum = new double[features];
    inputSumSq = new double[features];
    targetSum = outputs > 0 ? new double[outputs] : null;
    targetSumSq = outputs > 0 ? new double[outputs] : null;
  }

  /** Moments sized for a spec: float targets counted, class ids not. */
  public static Moments forSpec(DatasetSpec spec) {
    return new Moments(spec.features(), spec.classTargets() ? 0 : spec.outputs());
  }

  /** Adds the valid steps of one batch (steps t &lt; lengths[b]). */
  public Moments add(Batch batch, Mode mode) {
    int T = batch.steps();
    int B = batch.batchSize();
    int F = batch.features();
    float[] x = batch.x();
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        if (t >= batch.length(b)) {
          continue;
        }
        inputCount++;
        for (int f = 0; f < F; f++) {
          double v = x[batch.xAt(t, b, f)];
          inputSum[f] += v;
          inputSumSq[f] += v * v;
        }
      }
    }
    if (targetSum != null && batch.targets() != null) {
      int O = targetSum.length;
      float[] y = batch.targets();
      if (mode == Mode.SEQ2SEQ) {
        for (int t = 0; t < T; t++) {
          for (int b = 0; b < B; b++) {
            if (t < batch.length(b)) {
              addTarget(y, (t * B + b) * O);
            }
          }
        }
      } else {
        for (int b = 0; b < B; b++) {
          addTarget(y, b * O);
        }
      }
    }
    return this;
  }

  private void addTarget(float[] y, int offset) {
    targetCount++;
    for (int o = 0; o < targetSum.length; o++) {
      double v = y[offset + o];
      targetSum[o] += v;
      targetSumSq[o] += v * v;
    }
  }

  /** Adds another partial result into this one. */
  public Moments merge(Moments other) {
    inputCount += other.inputCount;
    targetCount += other.targetCount;
    for (int f = 0; f < inputSum.length; f++) {
      inputSum[f] += other.inputSum[f];
      inputSumSq[f] += other.inputSumSq[f];
    }
    if (targetSum != null) {
      for (int o = 0; o < targetSum.length; o++) {
        targetSum[o] += other.targetSum[o];
        targetSumSq[o] += other.targetSumSq[o];
      }
    }
    return this;
  }

  /** Mean and population standard deviation (std 1 where below {@link Normalization#MIN_STD}). */
  public Normalization toNormalization() {
    if (inputCount == 0) {
      throw new BadInputException("cannot normalise: the training split has no valid steps");
    }
    double[][] in = stats(inputSum, inputSumSq, inputCount);
    double[][] out = targetSum == null ? new double[][] {null, null} : stats(targetSum, targetSumSq, targetCount);
    return new Normalization(in[0], in[1], out[0], out[1]);
  }

  private static double[][] stats(double[] sum, double[] sumSq, long n) {
    double[] mean = new double[sum.length];
    double[] std = new double[sum.length];
    for (int i = 0; i < sum.length; i++) {
      mean[i] = sum[i] / n;
      // var = E[v^2] - E[v]^2, clamped at 0 against rounding
      double var = Math.max(0, sumSq[i] / n - mean[i] * mean[i]);
      std[i] = Math.sqrt(var);
      if (std[i] < Normalization.MIN_STD) {
        std[i] = 1;
      }
    }
    return new double[][] {mean, std};
  }

  /** Applies {@code (v - mean) / std} in place to the valid steps of x and of float targets; padding stays 0. */
  public static void apply(Batch batch, Mode mode, Normalization n) {
    int T = batch.steps();
    int B = batch.batchSize();
    int F = batch.features();
    float[] x = batch.x();
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        if (t >= batch.length(b)) {
          continue;
        }
        for (int f = 0; f < F; f++) {
          int i = batch.xAt(t, b, f);
          x[i] = (float) n.inputToModel(x[i], f);
        }
      }
    }
    float[] y = batch.targets();
    if (y == null || n.targetMean() == null) {
      return;
    }
    int O = n.targetMean().length;
    for (int t = 0; t < (mode == Mode.SEQ2SEQ ? T : 1); t++) {
      for (int b = 0; b < B; b++) {
        if (mode == Mode.SEQ2SEQ && t >= batch.length(b)) {
          continue;
        }
        int offset = mode == Mode.SEQ2SEQ ? (t * B + b) * O : b * O;
        for (int o = 0; o < O; o++) {
          y[offset + o] = (float) n.targetToModel(y[offset + o], o);
        }
      }
    }
  }
}
