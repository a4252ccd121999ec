package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Review of 9da547b..4fe5f2f: predict's refusal of a raw input past float32's range once normalised
 * was rewritten to advise for a model's input ("the model cannot take such a value: leave it out of
 * the input"), not prep's. The Java API's InferenceSession.step (docs/inference.md) meets the same
 * value through TrainedModel.inputsToModelUnits and still advises "prep without --normalize": the
 * user holds a trained model, not a dataset to prep, and data prepped without --normalize would not
 * suit this model.
 */
class InferenceSessionPastFloat32Test {
  @Test
  void aSessionsRefusalOfARawInputPastFloat32DoesNotAdvisePrep() {
    ModelConfig gru = new ModelConfig(CellType.GRU, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Map<String, Object> n = new LinkedHashMap<>();
    n.put("input_mean", List.of((Object) 5e-40));
    n.put("input_std", List.of((Object) 5e-40));
    n.put("target_mean", List.of((Object) 3.0));
    n.put("target_std", List.of((Object) 2.0));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "csv");
    meta.put(ModelMetadata.KEY_NORMALIZATION, Json.write(n));
    TrainedModel model = TrainedModel.of(Params.initialize(gru, 7), meta);
    try (InferenceSession s = model.openSession(1, "reference", "jvm")) {
      BadInputException e = assertThrows(BadInputException.class, () -> s.step(new float[] {1000f}));
      assertTrue(e.getMessage().contains("past float32's range"), e.getMessage());
      assertFalse(e.getMessage().contains("prep without --normalize"),
          "a model's session should not advise prep (predict no longer does): " + e.getMessage());
      assertTrue(e.getMessage().startsWith("InferenceSession.step: x[0] (b=0, f=0): normalization: input feature 0")
          && e.getMessage().endsWith("the model cannot take such a value: leave it out of the input"), e.getMessage());
    }
  }

  /**
   * An output finite in the model's units but past float32 in raw units (targets near float32's
   * top: mean 3.4e38, std 1e38) is refused as predict and generate refuse it, not returned as
   * Infinity; stepModelUnits gives it.
   */
  @Test
  void aSessionsOutputPastFloat32InRawUnitsIsRefused() {
    ModelConfig gru = new ModelConfig(CellType.GRU, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Map<String, Object> n = new LinkedHashMap<>();
    n.put("input_mean", List.of((Object) 0.0));
    n.put("input_std", List.of((Object) 1.0));
    n.put("target_mean", List.of((Object) 3.4e38));
    n.put("target_std", List.of((Object) 1e38));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "csv");
    meta.put(ModelMetadata.KEY_NORMALIZATION, Json.write(n));
    TrainedModel model = TrainedModel.of(Params.initialize(gru, 7), meta);
    boolean refused = false;
    try (InferenceSession s = model.openSession(1, "reference", "jvm")) {
      for (float x = -2; x <= 2 && !refused; x += 0.5f) {
        float y = s.stepModelUnits(new float[] {x})[0];
        s.reset();
        if (y * 1e38 + 3.4e38 > Float.MAX_VALUE) {   // past float32 in raw units, by the model's own output
          float[] at = {x};   // raw units = model units here (input mean 0, std 1)
          BadInputException e = assertThrows(BadInputException.class, () -> s.step(at), "y " + y);
          refused = true;
          assertTrue(e.getMessage().contains("past float32's range in raw units")
              && e.getMessage().contains("stepModelUnits gives the outputs in the model's units"), e.getMessage());
        }
      }
    }
    assertTrue(refused, "some input gives an output past float32 in raw units");
  }
}
