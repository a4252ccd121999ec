package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.Refusals.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** States that do not fit the optimizer they are loaded into are refused, naming what is missing or extra. */
class OptimizerStateLoadTest {

  @Test
  void adamStateAfterSomeStepsWithoutItsMomentsIsRefused() {
    // Loaded silently, the moments would restart at zero while the bias correction 1 − β^t assumes
    // t = 3 steps of history: the next update would be about (1 − 0.9³)/(1 − 0.9) ≈ 2.7 times too small.
    OptimizerState noMoments = new OptimizerState("adam", 3, Map.of(), Map.of());
    refused(() -> Adam.adam(0.1).load(noMoments), "step 3", "exp_avg");
  }

  @Test
  void adamStateAfterItsFirstStepWithoutItsMomentsIsRefused() {
    // Step 0 is the only step count at which no moments is a fresh start: after one step the
    // moments hold g_1, and restarting them at zero with t = 1 would make the next update use
    // the bias correction 1 − β1² for a single step of history.
    OptimizerState noMoments = new OptimizerState("adam", 1, Map.of(), Map.of());
    refused(() -> Adam.adam(0.1).load(noMoments), "step 1", "exp_avg");
  }

  @Test
  void adamStateWithOnlyOneMomentIsRefused() {
    OptimizerState half = new OptimizerState("adam", 1, Map.of(), Map.of("exp_avg", new float[] {0.1f}));
    refused(() -> Adam.adam(0.1).load(half), "exp_avg_sq");
  }

  @Test
  void adamStateAtStepZeroWithoutMomentsStartsFresh() {
    Adam a = Adam.adam(0.1);
    a.load(new OptimizerState("adam", 0, Map.of(), Map.of()));
    float[] p = {1f};
    a.step(p, new float[] {4f});
    // first Adam step: m̂ = g, v̂ = g², θ = 1 − 0.1 · 4 / (4 + 1e-8) = 0.9 (to float32)
    assertArrayEquals(new float[] {0.9f}, p, 1e-6f);
  }

  @Test
  void aMomentumBufferLoadedIntoSgdWithoutMomentumIsRefused() {
    // Accepted, the buffer would be dropped on the floor: plain SGD never reads it.
    OptimizerState withBuffer = new OptimizerState("sgd", 2, Map.of(), Map.of("momentum_buffer", new float[] {0.5f}));
    refused(() -> new Sgd(0.1).load(withBuffer), "momentum_buffer", "momentum = 0");
  }
}
