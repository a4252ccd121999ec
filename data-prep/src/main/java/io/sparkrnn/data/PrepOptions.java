package io.sparkrnn.data;

import java.io.Serializable;
import java.net.URI;

/**
 * Options every prep shares, validated at construction.
 *
 * @param out the dataset directory to create (any Hadoop FileSystem URI)
 * @param batch B, sequences per shard (the last shard of each split may hold fewer)
 * @param validationFraction the share of sequences, taken from the end of the source's order, that
 *     forms the validation split; in [0, 1)
 * @param normalize z-score inputs (and float targets) with statistics of the training split
 * @param overwrite replace {@code out} if it already holds a dataset
 */
public record PrepOptions(URI out, int batch, double validationFraction, boolean normalize, boolean overwrite)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public PrepOptions {
    if (out == null) {
      throw new IllegalArgumentException("--out: an output URI is required");
    }
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be at least 1, found " + batch);
    }
    if (!(validationFraction >= 0 && validationFraction < 1)) {
      throw new IllegalArgumentException("--validation-fraction must be in [0, 1), found " + validationFraction);
    }
  }
}
