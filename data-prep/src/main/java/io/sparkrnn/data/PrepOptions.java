package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.net.URI;
import java.util.function.Supplier;

/**
 * Options every prep shares, validated at construction.
 *
 * @param out the dataset directory to create (any Hadoop FileSystem URI)
 * @param batch B, sequences per shard (the last shard of each split may hold fewer)
 * @param validationFraction the share of sequences, taken from the end of the source's order, that
 *     forms the validation split; in [0, 1)
 * @param normalize z-score inputs (and float targets) with statistics of the training split
 * @param overwrite replace {@code out} if it already holds a dataset
 * @param normalizationFrom statistics to apply instead of computing them (another dataset's or a
 *     model's, so that new data matches a trained model), or null; needs {@code normalize}
 * @param normalizationSource where {@code normalizationFrom} came from, as its errors name it
 *     ({@code --normalization-from}, or the initial model of a fit)
 */
public record PrepOptions(URI out, int batch, double validationFraction, boolean normalize, boolean overwrite,
    Normalization normalizationFrom, String normalizationSource) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Options whose statistics, if given, come from {@code --normalization-from}. */
  public PrepOptions(URI out, int batch, double validationFraction, boolean normalize, boolean overwrite,
      Normalization normalizationFrom) {
    this(out, batch, validationFraction, normalize, overwrite, normalizationFrom, "--normalization-from");
  }

  /** Options whose statistics, with {@code normalize}, come from the training split. */
  public PrepOptions(URI out, int batch, double validationFraction, boolean normalize, boolean overwrite) {
    this(out, batch, validationFraction, normalize, overwrite, null);
  }

  public PrepOptions {
    if (normalizationFrom != null && !normalize) {
      throw new BadInputException(normalizationSource + " needs --normalize (it gives the statistics to apply)");
    }
    if (out == null) {
      throw new BadInputException("--out: an output URI is required");
    }
    if (batch < 1) {
      throw new BadInputException("--batch must be at least 1, found " + batch);
    }
    if (!(validationFraction >= 0 && validationFraction < 1)) {
      throw new BadInputException("--validation-fraction must be in [0, 1), found " + validationFraction);
    }
  }

  /**
   * The statistics to apply: {@code normalizationFrom} checked against F and O, or the training
   * split's, computed by {@code compute} only when needed.
   */
  public Normalization normalization(DatasetSpec spec, Supplier<Normalization> compute) {
    if (!normalize) {
      return null;
    }
    if (normalizationFrom == null) {
      return compute.get();
    }
    Normalization n = normalizationFrom;
    if (n.inputMean().length != spec.features()) {
      throw new BadInputException(normalizationSource + ": its input statistics have " + n.inputMean().length
          + " features, this dataset has F=" + spec.features());
    }
    if (spec.classTargets() ? n.targetMean() != null : n.targetMean() == null || n.targetMean().length != spec.outputs()) {
      throw new BadInputException(normalizationSource + ": its target statistics ("
          + (n.targetMean() == null ? "none" : n.targetMean().length + " values") + ") do not fit this dataset's "
          + (spec.classTargets() ? "class-id targets (none expected)" : "O=" + spec.outputs() + " float targets"));
    }
    return n;
  }
}
