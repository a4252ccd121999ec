package io.sparkrnn.testing;

import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A seeded F = O = 1 GRU (H = 2, seq2seq, mse) of a "csv" task with stored normalisation statistics,
 * for the tests of values past float32's range: statistics a real prep can give (an input that
 * barely varied, targets near float32's top) on weights whose outputs are ordinary.
 */
public final class NormalizedGru {
  private NormalizedGru() {}

  public static final ModelConfig CONFIG = new ModelConfig(CellType.GRU, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);

  public static Params params() {
    return Params.initialize(CONFIG, 7);
  }

  /** The model file's metadata: task csv and the statistics {input_mean, input_std, target_mean, target_std}. */
  public static Map<String, String> metadata(double inputMean, double inputStd, double targetMean, double targetStd) {
    Map<String, Object> n = new LinkedHashMap<>();
    n.put("input_mean", List.of((Object) inputMean));
    n.put("input_std", List.of((Object) inputStd));
    n.put("target_mean", List.of((Object) targetMean));
    n.put("target_std", List.of((Object) targetStd));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "csv");
    meta.put(ModelMetadata.KEY_NORMALIZATION, Json.write(n));
    return meta;
  }

  /** The model file's bytes. */
  public static byte[] file(double inputMean, double inputStd, double targetMean, double targetStd) {
    return ModelFile.toBytes(params(), metadata(inputMean, inputStd, targetMean, targetStd));
  }
}
