package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.testing.NormalizedGru;
import org.junit.jupiter.api.Test;

/**
 * Review of 4fe5f2f..6d7e62d (ad04354c): InferenceSession.step refuses an output finite in the
 * model's units but past float32 in raw units and advises "stepModelUnits gives the outputs in the
 * model's units". The refusal comes after session.step has advanced the recurrent state, so the
 * refused call has already consumed the step: a caller who follows the advice and calls
 * stepModelUnits with the same input advances twice and gets the next step's outputs, silently.
 * (The input refusal, before the step, leaves the state as it was.) A refused step should leave
 * the state as it found it.
 */
class InferenceSessionRefusalKeepsStateTest {
  @Test
  void aRefusedStepLeavesTheStateSoThatStepModelUnitsGivesThatStepsOutputs() {
    TrainedModel model = TrainedModel.of(NormalizedGru.params(), NormalizedGru.metadata(0.0, 1.0, 3.4e38, 1e38));
    boolean refused = false;
    try (InferenceSession s = model.openSession(1, "reference", "jvm")) {
      for (float x = -2; x <= 2 && !refused; x += 0.5f) {
        float[] expected = s.stepModelUnits(new float[] {x});   // from the zero state
        s.reset();
        if (expected[0] * 1e38 + 3.4e38 > Float.MAX_VALUE) {
          float[] at = {x};
          BadInputException e = assertThrows(BadInputException.class, () -> s.step(at));
          assertTrue(e.getMessage().contains("stepModelUnits gives the outputs"), e.getMessage());
          refused = true;
          // as advised: the same step in the model's units
          assertArrayEquals(expected, s.stepModelUnits(at), 0f,
              "after a refused step, stepModelUnits of the same input should give that step's outputs (the state unchanged),"
                  + " not the next step's");
        }
      }
    }
    assertTrue(refused, "some input gives an output past float32 in raw units");
  }
}
