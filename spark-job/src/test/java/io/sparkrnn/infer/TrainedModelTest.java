package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a model file's data metadata must agree with (the class comment: input statistics per
 * input feature F, target statistics per output O and only for regression, since "class logits are
 * never transformed"; a vocabulary of one symbol per class), and the refusal of non-finite weights
 * ({@code requireFinite}: "naming the tensor and element").
 */
class TrainedModelTest {
  static final ModelConfig MSE_F2_O1 = new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final ModelConfig CLASSES_3 = new ModelConfig(CellType.RNN, 1, 3, 3, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);

  static Map<String, String> normalization(List<Double> inputMean, List<Double> targetMean) {
    Map<String, Object> n = new java.util.LinkedHashMap<>();
    n.put("input_mean", inputMean);
    n.put("input_std", inputMean.stream().map(v -> 1.0).toList());
    if (targetMean != null) {
      n.put("target_mean", targetMean);
      n.put("target_std", targetMean.stream().map(v -> 1.0).toList());
    }
    return Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(n));
  }

  static void assertRefused(Runnable r, String... fragments) {
    BadInputException e = assertThrows(BadInputException.class, r::run);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
    }
  }

  @Test
  void inputStatisticsMustHaveOneEntryPerInputFeature() {
    // F = 2 but one input mean
    assertRefused(() -> TrainedModel.of(Params.zeros(MSE_F2_O1), normalization(List.of(0.0), null)),
        "input_mean has 1 entries", "input_size=2");
  }

  @Test
  void targetStatisticsAreRefusedOnAClassModel() {
    // O = 3 target means would match O, but a cross_entropy model's outputs are logits, never rescaled
    assertRefused(() -> TrainedModel.of(Params.zeros(CLASSES_3), normalization(List.of(0.0, 0.0, 0.0), List.of(0.0, 0.0, 0.0))),
        "target_mean", "mse models only");
  }

  @Test
  void aClassModelsVocabularyMustHaveOneSymbolPerClass() {
    assertRefused(() -> TrainedModel.of(Params.zeros(CLASSES_3), Map.of(ModelMetadata.KEY_VOCABULARY, Json.write(List.of("a", "b")))),
        "vocabulary has 2 symbols", "output_size=3");
  }

  @Test
  void anInfiniteWeightIsRefusedNamingTheTensorAndElement() {
    Params p = Params.zeros(MSE_F2_O1);
    p.set(ParamLayout.HEAD_BIAS, new float[] {Float.POSITIVE_INFINITY});
    byte[] file = ModelFile.toBytes(p, Map.of());
    assertRefused(() -> TrainedModel.fromBytes(file, "m.safetensors"), "m.safetensors", "'head.bias'", "Infinity", "element 0");
    p.set(ParamLayout.HEAD_BIAS, new float[] {Float.NaN});
    byte[] nan = ModelFile.toBytes(p, Map.of());
    assertRefused(() -> TrainedModel.fromBytes(nan, "m.safetensors"), "'head.bias'", "NaN");
  }
}
