package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.Serializable;

/**
 * Loss and accuracy sums over a batch's valid steps, computed in float64 from the head's outputs
 * (teacher-forced evaluation, validation, closed-loop scoring). Merge partial sums with
 * {@link #merge}; read means with {@link #meanLoss()} and {@link #accuracy()}.
 *
 * <p>{@code lossSum / lossCount} is the same mean as the training loss (mse: per output element;
 * cross_entropy: per valid step). {@code correct / predictions} counts argmax hits (cross_entropy only).
 * With a tolerance (mse), {@link #fractionWithinTolerance()} is the share of scored rows (a valid
 * (t, b), or b for seq2one) whose largest absolute error over the O outputs is at most the tolerance.
 */
public final class LossStats implements Serializable {
  private static final long serialVersionUID = 1L;

  private double lossSum;
  private long lossCount;
  private long correct;
  private long predictions;
  private final double tolerance;
  private long rows;
  private long rowsWithinTolerance;
  /** mse: Σ (y_o − target_o)² per output [O] over the scored rows, model units; null before the first mse row. */
  private double[] squaredErrorSums;
  /** mse: Σ |y_o − target_o| per output [O] over the scored rows, model units; null before the first mse row. */
  private double[] absoluteErrorSums;

  /** Loss and accuracy only. */
  public LossStats() {
    this(Double.NaN);
  }

  /** Also counts mse rows within {@code tolerance} (NaN: do not count). */
  public LossStats(double tolerance) {
    this.tolerance = tolerance;
  }

  public double lossSum() {
    return lossSum;
  }

  public long lossCount() {
    return lossCount;
  }

  public long correct() {
    return correct;
  }

  public long predictions() {
    return predictions;
  }

  public double meanLoss() {
    return lossSum / lossCount;
  }

  /** Fraction of valid steps whose argmax equals the class id; NaN for mse. */
  public double accuracy() {
    return predictions == 0 ? Double.NaN : (double) correct / predictions;
  }

  /** Share of scored mse rows with every |error| ≤ tolerance; NaN without a tolerance or rows. */
  public double fractionWithinTolerance() {
    return Double.isNaN(tolerance) || rows == 0 ? Double.NaN : (double) rowsWithinTolerance / rows;
  }

  public double tolerance() {
    return tolerance;
  }

  /** mse: the rows scored (a valid (t, b), or b for seq2one); each contributes one error per output. */
  public long rows() {
    return rows;
  }

  /** mse: root mean squared error per output [O], model units, sqrt(Σ d_o² / rows); null without mse rows. */
  public double[] rootMeanSquaredErrors() {
    if (squaredErrorSums == null) {
      return null;
    }
    double[] r = new double[squaredErrorSums.length];
    for (int o = 0; o < r.length; o++) {
      r[o] = Math.sqrt(squaredErrorSums[o] / rows);
    }
    return r;
  }

  /** mse: mean absolute error per output [O], model units, Σ |d_o| / rows; null without mse rows. */
  public double[] meanAbsoluteErrors() {
    if (absoluteErrorSums == null) {
      return null;
    }
    double[] r = new double[absoluteErrorSums.length];
    for (int o = 0; o < r.length; o++) {
      r[o] = absoluteErrorSums[o] / rows;
    }
    return r;
  }

  public LossStats merge(LossStats o) {
    rows += o.rows;
    rowsWithinTolerance += o.rowsWithinTolerance;
    lossSum += o.lossSum;
    lossCount += o.lossCount;
    correct += o.correct;
    predictions += o.predictions;
    squaredErrorSums = addInto(squaredErrorSums, o.squaredErrorSums);
    absoluteErrorSums = addInto(absoluteErrorSums, o.absoluteErrorSums);
    return this;
  }

  /** a += b elementwise; either may be null (no mse rows yet). */
  private static double[] addInto(double[] a, double[] b) {
    if (b == null) {
      return a;
    }
    if (a == null) {
      return b.clone();
    }
    for (int o = 0; o < a.length; o++) {
      a[o] += b[o];
    }
    return a;
  }

  /**
   * Adds the loss of {@code outputs} ([T,B,O] or [B,O], as {@link BpttEngine#forward} returns)
   * against the batch's targets, over steps t with {@code fromStep ≤ t < lengths[b]} (seq2seq) or
   * one row per sequence (seq2one).
   */
  public LossStats add(ModelConfig config, Batch batch, float[] outputs, int fromStep) {
    int O = config.outputSize();
    int B = batch.batchSize();
    boolean seq = config.mode() == Mode.SEQ2SEQ;
    int headRows = seq ? batch.steps() : 1;
    for (int t = seq ? fromStep : 0; t < headRows; t++) {
      for (int b = 0; b < B; b++) {
        if (seq && t >= batch.length(b)) {
          continue;
        }
        int row = (t * B + b) * O;
        if (config.loss() == LossType.MSE) {
          if (squaredErrorSums == null) {
            squaredErrorSums = new double[O];
            absoluteErrorSums = new double[O];
          }
          double worst = 0;
          for (int o = 0; o < O; o++) {
            double d = (double) outputs[row + o] - batch.targets()[row + o];
            lossSum += d * d;
            squaredErrorSums[o] += d * d;
            absoluteErrorSums[o] += Math.abs(d);
            worst = Math.max(worst, Math.abs(d));
          }
          lossCount += O;
          rows++;
          if (worst <= tolerance) {
            rowsWithinTolerance++;
          }
        } else {
          int cls = batch.classes()[t * B + b];
          double max = Double.NEGATIVE_INFINITY;
          int best = 0;
          for (int o = 0; o < O; o++) {
            if (outputs[row + o] > max) {
              max = outputs[row + o];
              best = o;
            }
          }
          double z = 0;
          for (int o = 0; o < O; o++) {
            z += Math.exp(outputs[row + o] - max);
          }
          lossSum += max + Math.log(z) - outputs[row + cls]; // −log softmax(y)[cls]
          lossCount++;
          predictions++;
          if (best == cls) {
            correct++;
          }
        }
      }
    }
    return this;
  }
}
