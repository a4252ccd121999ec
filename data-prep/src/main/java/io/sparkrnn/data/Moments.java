package io.sparkrnn.data;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;

/**
 * Per-feature moments over the valid steps of some batches, for z-score normalisation, with exact
 * sums ({@link ExactMoments}): the statistics are the float32 values' own, to 34 digits and then a
 * double, whatever the order of the batches and of {@link #merge}, so the local and the Spark prep of
 * sources agree, and both agree with the table prep. Until 2026-12-07 the sums were in double, and
 * a feature whose spread is small against its size lost its variance to cancellation in
 * E[v²] − E[v]²: values 1e6 + k/16 (k = 0 … 7, std 0.143) came out constant (std 1), and 1e6 with
 * a random spread of std 0.2 came out 0.0625.
 *
 * <p>Call order: {@code new Moments(F, O)} → {@link #add}* / {@link #merge}* → {@link #toNormalization}.
 */
public final class Moments implements Serializable {
  private static final long serialVersionUID = 2L;

  private final ExactMoments exact;
  /** O for float targets, 0 for class ids (not counted). */
  private final int outputs;

  /** @param outputs O for float targets, 0 when targets are class ids (not normalised) */
  public Moments(int features, int outputs) {
    exact = new ExactMoments(features, outputs);
    this.outputs = outputs;
  }

  /** Moments sized for a spec: float targets counted, class ids not. */
  public static Moments forSpec(DatasetSpec spec) {
    return new Moments(spec.features(), spec.classTargets() ? 0 : spec.outputs());
  }

  /** Adds the valid steps of one batch (steps t &lt; lengths[b]); x is [T][B][F], y [T][B][O] or [B][O]. */
  public Moments add(Batch batch, Mode mode) {
    int T = batch.steps();
    int B = batch.batchSize();
    float[] x = batch.x();
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        if (t < batch.length(b)) {
          exact.addInput(x, batch.xAt(t, b, 0));
        }
      }
    }
    float[] y = batch.targets();
    if (y != null && outputs > 0) {   // class ids are not normalised
      int O = outputs;
      if (mode == Mode.SEQ2SEQ) {
        for (int t = 0; t < T; t++) {
          for (int b = 0; b < B; b++) {
            if (t < batch.length(b)) {
              exact.addTarget(y, (t * B + b) * O);
            }
          }
        }
      } else {
        for (int b = 0; b < B; b++) {
          exact.addTarget(y, b * O);
        }
      }
    }
    return this;
  }

  /** Adds another partial result into this one (exact: the order of merges does not matter). */
  public Moments merge(Moments other) {
    exact.merge(other.exact);
    return this;
  }

  /** Mean and population standard deviation (std 1 for a feature whose every value is the same). */
  public Normalization toNormalization() {
    return exact.toNormalization();
  }

  /**
   * Applies {@code (v - mean) / std} in place to the valid steps of x and of float targets; padding
   * stays 0. A value that falls past float32's range is refused, naming the feature
   * ({@link Normalization#inputToModelFloat}).
   */
  public static void apply(Batch batch, Mode mode, Normalization n) {
    apply(batch, mode, n, FeatureNames.NONE);
  }

  /** As {@link #apply(Batch, Mode, Normalization)}, a refusal naming the source's column too ({@code names}). */
  public static void apply(Batch batch, Mode mode, Normalization n, FeatureNames names) {
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
          x[i] = n.inputToModelFloat(x[i], f, names.input(f));
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
          y[offset + o] = n.targetToModelFloat(y[offset + o], o, names.target(o));
        }
      }
    }
  }
}
