package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.MathKernels;
import org.junit.jupiter.api.Test;

class HostCeilingTest {

  @Test
  void aRoundIsSixteenFmasOfEveryLaneAndAnFmaIsTwoFlops() {
    // 1,000 rounds × 16 chains × 16 lanes × 2 flops = 512,000 flops in 1 ms: 0.512 GFLOP/s
    assertEquals(0.512, HostCeiling.gflops(1_000, 16, 1_000_000), 1e-12);
    // 8 lanes (AVX2), 2.5 million rounds in 0.5 s: 2.5e6 × 16 × 8 × 2 = 6.4e8 flops / 0.5 s = 1.28 GFLOP/s
    assertEquals(1.28, HostCeiling.gflops(2_500_000, 8, 500_000_000), 1e-12);
  }

  /** bench's ceiling_gflops is the threads' mean rate: (1 + 2 + 6) / 3 = 3 GFLOP/s a thread; one thread's is its own. */
  @Test
  void theMeanIsOverEveryThread() {
    assertEquals(3.0, new HostCeiling.Result(3, 8, new double[] {1, 2, 6}, false).mean(), 1e-12);
    assertEquals(7.5, new HostCeiling.Result(1, 16, new double[] {7.5}, false).mean(), 1e-12);
  }

  @Test
  void everyThreadReportsItsOwnRateAtTheEnginesWidth() {
    HostCeiling.Result r = HostCeiling.measure(2, 0.05);
    assertEquals(2, r.threads());
    assertEquals(2, r.gflopsPerThread().length);
    // the engine's kernels and the chains both take the preferred species: the same lanes
    assertEquals(MathKernels.best().lanes(), r.lanes());
    for (double g : r.gflopsPerThread()) {
      assertTrue(g > 0 && Double.isFinite(g), "a thread's rate: " + g);
    }
  }

  @Test
  void noThreadsOrNoWindowIsBadInput() {
    assertThrows(BadInputException.class, () -> HostCeiling.measure(0, 0.1));
    assertThrows(BadInputException.class, () -> HostCeiling.measure(1, 0));
    assertThrows(BadInputException.class, () -> HostCeiling.measure(1, Double.NaN));
    assertThrows(BadInputException.class, () -> HostCeiling.measure(1, Double.POSITIVE_INFINITY), "a window that never ends");
  }
}
