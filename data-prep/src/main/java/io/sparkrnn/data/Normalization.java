package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Locale;

/**
 * Z-score statistics computed on the training split only and already applied to every shard:
 * a stored value is {@code (raw - mean) / std}. To get raw units back, {@code raw = stored * std + mean}.
 * A feature constant on the training split (every value the same: a variance of exactly 0, which
 * exact sums can tell) gets std 1, so it is centred and not divided by 0; any other spread, however
 * small, is scaled (a floor at 1e-8 once flattened features measured in small units).
 *
 * @param inputMean [F] mean of each input feature over valid steps of the training split
 * @param inputStd [F] population standard deviation of each input feature
 * @param targetMean [O] for float (mse) targets, null for class ids
 * @param targetStd [O] for float (mse) targets, null for class ids
 * @param from where the statistics were taken from instead of being computed (the model or dataset
 *     of {@code --normalization-from}, or a fit's initial model), or null when they are the training
 *     split's own; recorded so that {@code inspect} can say which. Not part of {@link #equals}: the
 *     same numbers are the same statistics wherever they came from.
 */
public record Normalization(double[] inputMean, double[] inputStd, double[] targetMean, double[] targetStd,
    String from) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Statistics computed on the training split itself. */
  public Normalization(double[] inputMean, double[] inputStd, double[] targetMean, double[] targetStd) {
    this(inputMean, inputStd, targetMean, targetStd, null);
  }

  /** The same statistics, recorded as taken from {@code source} (a model file or a dataset directory). */
  public Normalization takenFrom(String source) {
    return new Normalization(inputMean, inputStd, targetMean, targetStd, source);
  }

  public Normalization {
    if (inputMean == null || inputStd == null || inputMean.length != inputStd.length) {
      throw new BadInputException("normalization: input_mean and input_std must both have F entries");
    }
    if ((targetMean == null) != (targetStd == null) || (targetMean != null && targetMean.length != targetStd.length)) {
      throw new BadInputException("normalization: target_mean and target_std must both have O entries or both be absent");
    }
    checkFinite("input_mean", inputMean);
    checkFinite("input_std", inputStd);
    checkFinite("target_mean", targetMean);
    checkFinite("target_std", targetStd);
  }

  /** Input feature f in the model's units: {@code (raw − input_mean[f]) / input_std[f]}, in double. */
  public double inputToModel(double raw, int f) {
    return (raw - inputMean[f]) / inputStd[f];
  }

  /** Input feature f back in raw units: {@code x · input_std[f] + input_mean[f]}, in double. */
  public double inputToRaw(double x, int f) {
    return x * inputStd[f] + inputMean[f];
  }

  /**
   * {@link #inputToModel} rounded to float, refused where that is past float32's range: a finite
   * value far from the mean of a feature that barely varies on the training split (std 5e-40: 1000
   * is 2e42 stds out). Else it became Infinity, which the shard check reported as "x has Infinity"
   * in a file prep wrote itself, and predict fed to the model (a review).
   */
  public float inputToModelFloat(double raw, int f) {
    return inputToModelFloat(raw, f, null);
  }

  /** As {@link #inputToModelFloat(double, int)}, the refusal naming the feature's {@code label} too ("column 'temp'"), if not null. */
  public float inputToModelFloat(double raw, int f, String label) {
    return toModelFloat(raw, inputMean[f], inputStd[f], "input feature ", f, label, -1);
  }

  /** {@link #targetToModel} rounded to float, refused where past float32's range (see {@link #inputToModelFloat}). */
  public float targetToModelFloat(double raw, int o) {
    return targetToModelFloat(raw, o, null);
  }

  /** As {@link #targetToModelFloat(double, int)}, the refusal naming the target's {@code label} too, if not null. */
  public float targetToModelFloat(double raw, int o, String label) {
    return toModelFloat(raw, targetMean[o], targetStd[o], "target ", o, label, -1);
  }

  /**
   * {@code (raw − mean) / std} rounded to float, as {@link #inputToModel} and {@link #targetToModel}
   * compute it, refused where past float32's range; the refusal's words ("input feature 3 (column
   * 'temp')") are built only then, since prep calls this for every value.
   *
   * @param element the value's index in the array converted, or −1
   */
  private float toModelFloat(double raw, double mean, double std, String kind, int index, String label, int element) {
    double z = (raw - mean) / std;
    if (pastFloat32(raw, z)) {
      throw pastFloat32(kind + index + (label == null ? "" : " (" + label + ")"), raw, z, mean, std, element);
    }
    return (float) z;
  }

  /** Whether a finite raw value is ±Infinity as a float in model units (z). */
  private static boolean pastFloat32(double raw, double z) {
    return Float.isInfinite((float) z) && Double.isFinite(raw);
  }

  /**
   * The refusal of a raw value past float32's range once normalised. The advice depends on where the
   * statistics came from: the training split's own (prep without --normalize, or leave the feature
   * out), or a model's or dataset's ({@link #from}: a model with them cannot take the value, and
   * prepping without --normalize would give data that model refuses; a review).
   */
  private PastFloat32Exception pastFloat32(String what, double raw, double z, double mean, double std, int element) {
    String fact = String.format(Locale.ROOT, "normalization: %s: the value %s is %.3g training standard deviations from"
        + " the training mean (mean %s, std %s), past float32's range: the feature barely varied on the training split%s",
        what, raw, z, mean, std, from == null ? "" : " of these statistics (" + from + ")");
    String advice = from == null ? "; leave it out, or prep without --normalize"
        : "; a model trained with them cannot take the value: leave such values out, or train without the feature";
    return new PastFloat32Exception(fact, advice, element);
  }

  /**
   * A value that normalising puts past float32's range. {@link #fact} is the message without its
   * advice, for callers that name the file, column or step and advise for their own command;
   * {@link #element} is the value's index in the array converted (−1 for a single value).
   */
  public static final class PastFloat32Exception extends BadInputException {
    private static final long serialVersionUID = 1L;
    private final String fact;
    private final int element;

    PastFloat32Exception(String fact, String advice, int element) {
      super(fact + advice);
      this.fact = fact;
      this.element = element;
    }

    public String fact() {
      return fact;
    }

    public int element() {
      return element;
    }
  }

  /** Regression target o in the model's units: {@code (raw − target_mean[o]) / target_std[o]}; needs float targets. */
  public double targetToModel(double raw, int o) {
    return (raw - targetMean[o]) / targetStd[o];
  }

  /** Regression output o in raw units: {@code y · target_std[o] + target_mean[o]}; needs float targets. */
  public double outputToRaw(double y, int o) {
    return y * targetStd[o] + targetMean[o];
  }

  /**
   * Raw inputs [n][F] in the model's units, {@code (x − input_mean) / input_std} per feature,
   * rounded once to float; a new array. A value past float32's range there is refused
   * ({@link #inputToModelFloat}).
   */
  public float[] inputsToModelUnits(float[] raw) {
    float[] x = new float[raw.length];
    int F = inputMean.length;
    for (int i = 0; i < x.length; i++) {
      int f = i % F;
      x[i] = toModelFloat(raw[i], inputMean[f], inputStd[f], "input feature ", f, null, i);
    }
    return x;
  }

  /**
   * Model-unit inputs [n][F] back in raw units, {@code x · input_std + input_mean} per feature,
   * rounded once to float; a new array.
   */
  public float[] inputsToRawUnits(float[] x) {
    float[] raw = new float[x.length];
    int F = inputMean.length;
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (float) inputToRaw(x[i], i % F);
    }
    return raw;
  }

  /**
   * The model's regression outputs [n][O] in raw units, {@code y · target_std + target_mean} per
   * output, rounded once to float; a copy unchanged where the targets are class ids (logits).
   */
  public float[] outputsToRawUnits(float[] y) {
    float[] raw = new float[y.length];
    if (targetMean == null) {
      System.arraycopy(y, 0, raw, 0, y.length);
      return raw;
    }
    int O = targetMean.length;
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (float) outputToRaw(y[i], i % O);
    }
    return raw;
  }

  /**
   * An output row fed back as the next input (O == F), as generation does: to raw units with the
   * target statistics, then to model units with the input statistics, since the two may differ:
   * {@code x' = (y·t_std + t_mean − i_mean) / i_std}. A new array.
   */
  public float[] feedBack(float[] outputs) {
    float[] raw = outputsToRawUnits(outputs);
    float[] x = new float[raw.length];
    int F = inputMean.length;
    for (int i = 0; i < x.length; i++) {
      int f = i % F;
      if (Float.isInfinite(raw[i]) && Float.isFinite(outputs[i])) {   // past float32 already in raw units (a review)
        throw outputPastFloat32(outputs[i], i, "; feed back no outputs (--feedback 0)");
      }
      double z = inputToModel(raw[i], f);
      if (pastFloat32(raw[i], z)) {   // the model's own output, not the user's input: the refusal says so (a review)
        throw new PastFloat32Exception(String.format(Locale.ROOT, "normalization: the model's output %d (%s), fed back as"
            + " input feature %d, is %.3g training standard deviations from that feature's mean (mean %s, std %s), past"
            + " float32's range: the input barely varied on the training split where the output varies", f, raw[i], f, z,
            inputMean[f], inputStd[f]), "; feed back no outputs (--feedback 0), or leave the feature out", i);
      }
      x[i] = (float) z;
    }
    return x;
  }

  /**
   * A finite output y (model units) whose raw value y · target_std + target_mean is past float32's
   * range: element {@code i} of an outputs array [n][O]; {@code advice} for the caller's command.
   */
  public PastFloat32Exception outputPastFloat32(float y, int i, String advice) {
    int o = i % targetMean.length;
    return new PastFloat32Exception(String.format(Locale.ROOT, "normalization: the model's output %d (%s in the model's"
        + " units) is past float32's range in raw units (· std %s + mean %s)", o, y, targetStd[o], targetMean[o]), advice, i);
  }

  private static void checkFinite(String name, double[] v) {
    if (v == null) {
      return;
    }
    for (int i = 0; i < v.length; i++) {
      if (!Double.isFinite(v[i]) || (name.endsWith("std") && v[i] <= 0)) {
        throw new BadInputException("normalization: " + name + "[" + i + "] = " + v[i]
            + ", expected a finite number" + (name.endsWith("std") ? " > 0" : ""));
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Normalization n && Arrays.equals(inputMean, n.inputMean) && Arrays.equals(inputStd, n.inputStd)
        && Arrays.equals(targetMean, n.targetMean) && Arrays.equals(targetStd, n.targetStd);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(inputMean) * 31 + Arrays.hashCode(inputStd);
  }

  @Override
  public String toString() {
    return "Normalization[inputMean=" + Arrays.toString(inputMean) + ", inputStd=" + Arrays.toString(inputStd)
        + ", targetMean=" + Arrays.toString(targetMean) + ", targetStd=" + Arrays.toString(targetStd)
        + (from == null ? "" : ", from=" + from) + "]";
  }
}
