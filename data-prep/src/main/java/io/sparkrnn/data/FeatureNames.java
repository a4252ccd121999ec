package io.sparkrnn.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * The source's name of each input feature and float target, for messages about one value
 * ("column 'temp'", an array column's element "column 'v'[2]"), or null where the source has
 * none (npy, the synthetic sources). The statistics are per feature, and prep's refusal of a
 * value past float32 once normalised named "input feature 0" only (a review).
 *
 * @param inputs [F] labels, or null
 * @param targets [O] labels (float targets), or null
 */
public record FeatureNames(List<String> inputs, List<String> targets) implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final FeatureNames NONE = new FeatureNames(null, null);

  /** From a CSV source's {@code input_columns} and {@code target_columns}, where they give one name per feature. */
  public static FeatureNames of(DatasetSpec spec) {
    return new FeatureNames(columns(spec.source().get("input_columns"), spec.features()),
        columns(spec.source().get("target_columns"), spec.outputs()));
  }

  private static List<String> columns(Object names, int count) {
    if (!(names instanceof List<?> list) || list.size() != count) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (Object n : list) {
      out.add(label(String.valueOf(n), -1));
    }
    return out;
  }

  /** "column 'name'", or for element i of an array or vector column "column 'name'[i]". */
  public static String label(String column, int element) {
    return "column '" + column + "'" + (element < 0 ? "" : "[" + element + "]");
  }

  /** Input feature f's label, or null. */
  public String input(int f) {
    return inputs == null ? null : inputs.get(f);
  }

  /** Target o's label, or null. */
  public String target(int o) {
    return targets == null ? null : targets.get(o);
  }
}
