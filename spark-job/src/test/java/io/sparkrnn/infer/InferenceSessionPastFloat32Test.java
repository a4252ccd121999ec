package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.testing.NormalizedGru;
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
    TrainedModel model = TrainedModel.of(NormalizedGru.params(), NormalizedGru.metadata(5e-40, 5e-40, 3.0, 2.0));
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
    TrainedModel model = TrainedModel.of(NormalizedGru.params(), NormalizedGru.metadata(0.0, 1.0, 3.4e38, 1e38));
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
