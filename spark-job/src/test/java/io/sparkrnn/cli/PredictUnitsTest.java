package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The units a prediction file and predictions.json record (docs/inference.md): raw only where
 * outputs were mapped back through target statistics, which a class model's logits never are,
 * even when its inputs were normalised.
 */
class PredictUnitsTest {
  private static TrainedModel model(LossType loss, String normalization) {
    Params p = Params.initialize(new ModelConfig(CellType.GRU, 1, 2, 3, 2, Mode.SEQ2SEQ, loss), 1);
    return TrainedModel.of(p, normalization == null ? Map.of() : Map.of(ModelMetadata.KEY_NORMALIZATION, normalization));
  }

  @Test
  void rawOnlyWhereTargetStatisticsMappedTheOutputsBack() {
    String inputsOnly = "{\"input_mean\": [0.5, 1.0], \"input_std\": [2.0, 4.0]}";
    String both = "{\"input_mean\": [0.5, 1.0], \"input_std\": [2.0, 4.0], \"target_mean\": [3.0, 5.0], \"target_std\": [0.5, 0.25]}";
    assertEquals("model", PredictCommand.units(model(LossType.CROSS_ENTROPY, inputsOnly), false), "logits of normalised inputs");
    assertEquals("raw", PredictCommand.units(model(LossType.MSE, both), false));
    assertEquals("model", PredictCommand.units(model(LossType.MSE, both), true), "--model-units");
    assertEquals("model", PredictCommand.units(model(LossType.MSE, null), false), "no statistics");
  }
}
