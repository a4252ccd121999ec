package io.sparkrnn.model;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a trained model file carries about its data, beside the model configuration, in
 * safetensors {@code __metadata__} strings: {@code dataset_task}, {@code normalization} (JSON
 * with input_mean, input_std and, for regression targets, target_mean, target_std: the z-score
 * the shards were prepared with) and {@code vocabulary} (JSON list of the text model's symbols).
 * Predict and generate use them to normalise inputs, de-normalise outputs and decode symbols.
 */
public final class ModelMetadata {
  public static final String KEY_TASK = "dataset_task";
  public static final String KEY_NORMALIZATION = "normalization";
  public static final String KEY_VOCABULARY = "vocabulary";

  private ModelMetadata() {}

  /** The metadata for a model trained on this dataset. */
  public static Map<String, String> fromManifest(Manifest manifest) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(KEY_TASK, manifest.spec().task());
    Normalization n = manifest.normalization();
    if (n != null) {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("input_mean", list(n.inputMean()));
      j.put("input_std", list(n.inputStd()));
      if (n.targetMean() != null) {
        j.put("target_mean", list(n.targetMean()));
        j.put("target_std", list(n.targetStd()));
      }
      m.put(KEY_NORMALIZATION, Json.write(j));
    }
    if (manifest.spec().vocabulary() != null) {
      m.put(KEY_VOCABULARY, Json.write(new ArrayList<Object>(manifest.spec().vocabulary())));
    }
    return m;
  }

  /** The normalisation stored in a model's metadata, or null. */
  public static Normalization normalization(Map<String, String> metadata, String source) {
    String s = metadata.get(KEY_NORMALIZATION);
    if (s == null) {
      return null;
    }
    try {
      Map<String, Object> j = Json.parseObject(s);
      return new Normalization(doubles(j.get("input_mean")), doubles(j.get("input_std")),
          j.containsKey("target_mean") ? doubles(j.get("target_mean")) : null,
          j.containsKey("target_std") ? doubles(j.get("target_std")) : null);
    } catch (RuntimeException e) {
      throw new BadInputException(source + ": __metadata__ normalization is not valid: " + e.getMessage(), e);
    }
  }

  /** The vocabulary stored in a model's metadata, or null. */
  public static List<String> vocabulary(Map<String, String> metadata, String source) {
    String s = metadata.get(KEY_VOCABULARY);
    if (s == null) {
      return null;
    }
    Object v;
    try {
      v = Json.parse(s);
    } catch (RuntimeException e) {
      throw new BadInputException(source + ": __metadata__ vocabulary is not valid: " + e.getMessage(), e);
    }
    String expected = source + ": __metadata__ vocabulary must be a JSON list of strings";
    if (!(v instanceof List<?> l)) {
      throw new BadInputException(expected);
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      // a number or null is no token: read as "1.0" or "null" it would be printed for the class ids that mean it
      if (!(l.get(i) instanceof String token)) {
        throw new BadInputException(expected + "; entry " + i + " is " + (l.get(i) == null ? "null" : l.get(i)));
      }
      out.add(token);
    }
    return out;
  }

  private static List<Object> list(double[] v) {
    List<Object> l = new ArrayList<>();
    for (double d : v) {
      l.add(d);
    }
    return l;
  }

  private static double[] doubles(Object o) {
    if (!(o instanceof List<?> l)) {
      throw new BadInputException("expected a list of numbers");
    }
    double[] d = new double[l.size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = ((Number) l.get(i)).doubleValue();
    }
    return d;
  }
}
