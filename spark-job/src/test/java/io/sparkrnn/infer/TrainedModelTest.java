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
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
  /** Feeding a class model's argmax back one-hot is warned of unless a vocabulary says its inputs are one-hot of its classes. */
  @Test
  void feedingClassesBackOneHotIsWarnedOfWithoutAVocabulary() {
    ModelConfig classes = new ModelConfig(CellType.GRU, 1, 3, 4, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    String w = TrainedModel.oneHotFeedbackWarning(classes, null, "generate");
    assertTrue(w != null && w.startsWith("generate feeds each step's argmax class back as a one-hot input of F=3")
        && w.contains("its figures mean nothing"), w);
    org.junit.jupiter.api.Assertions.assertNull(TrainedModel.oneHotFeedbackWarning(classes, List.of("a", "b", "c"), "generate"),
        "a text model's vocabulary: one-hot inputs");
    org.junit.jupiter.api.Assertions.assertNull(TrainedModel.oneHotFeedbackWarning(
        new ModelConfig(CellType.GRU, 1, 3, 4, 3, Mode.SEQ2SEQ, LossType.MSE), null, "generate"), "regression feeds values back");
    org.junit.jupiter.api.Assertions.assertNull(TrainedModel.oneHotFeedbackWarning(
        new ModelConfig(CellType.GRU, 1, 2, 4, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY), null, "generate"), "F != O is refused");
  }

  static final ModelConfig MSE_F2_O1 = new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final ModelConfig CLASSES_3 = new ModelConfig(CellType.RNN, 1, 3, 3, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);

  static Map<String, String> normalization(List<Double> inputMean, List<Double> targetMean) {
    Map<String, Object> n = new LinkedHashMap<>();
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
  void targetStatisticsOfARegressionModelMustHaveOneEntryPerOutput() {
    // O = 1 but two target means: output o = 1 would have no statistics
    assertRefused(() -> TrainedModel.of(Params.zeros(MSE_F2_O1), normalization(List.of(0.0, 0.0), List.of(0.0, 0.0))),
        "target_mean has 2 entries", "output_size=1");
  }

  @Test
  void inputsToRawUnitsUndoesTheInputZScore() {
    // x · std + mean with input_mean [1, −2], input_std [2, 0.5]: 3 · 2 + 1 = 7, 4 · 0.5 − 2 = 0 (row-major, F fastest)
    Map<String, String> meta = Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(Map.of(
        "input_mean", List.of(1.0, -2.0), "input_std", List.of(2.0, 0.5))));
    TrainedModel m = TrainedModel.of(Params.zeros(MSE_F2_O1), meta);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {7f, 0f, 1f, -2f},
        m.inputsToRawUnits(new float[] {3f, 4f, 0f, 0f}), 0f);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {3f, 4f}, TrainedModel.of(Params.zeros(MSE_F2_O1), null)
        .inputsToRawUnits(new float[] {3f, 4f}), 0f, "no statistics: the identity");
  }

  @Test
  void loadTakesADirectoryThatHoldsModelSafetensorsAndRefusesOneWithoutNamingIt(@org.junit.jupiter.api.io.TempDir
      Path tmp) throws IOException {
    // modelFile: "for a directory its model.safetensors (train's --out, or a saved RnnModel)"; "a directory without one is
    // refused naming it"
    Params p = Params.initialize(MSE_F2_O1, 7);
    Path out = Files.createDirectories(tmp.resolve("out"));
    Files.write(out.resolve("model.safetensors"), ModelFile.toBytes(p, Map.of()));
    TrainedModel m = TrainedModel.load(out);
    org.junit.jupiter.api.Assertions.assertEquals(MSE_F2_O1, m.config());
    org.junit.jupiter.api.Assertions.assertArrayEquals(p.values(), m.params().values(), 0f);
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    FileNotFoundException e = assertThrows(FileNotFoundException.class, () -> TrainedModel.load(empty));
    // the directory the user gave, then what it lacks
    assertTrue(e.getMessage().startsWith(empty + ": ") && e.getMessage().contains("without model.safetensors"), e.getMessage());
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
