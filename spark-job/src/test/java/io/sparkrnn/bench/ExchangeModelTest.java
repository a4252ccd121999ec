package io.sparkrnn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The exchange bench's model (its class comment: T = (2d + 2)·α + bytes·β fitted to the rows,
 * T_tree = (2d + 2)·α + (6·G + 2d·min(G, C))·β with C = 256 KiB, T_star = 2α + 2P·G·β) by hand, and
 * GroupedStepBench's quartiles (rank round(q·(n − 1)) of the sorted values), without any timing.
 */
class ExchangeModelTest {
  private static final double TOL = 1e-12; // sums of a few doubles of magnitude ≤ 1e-2

  /**
   * α = 10 µs, β = 1 ns/byte. G = 1 MB, d = 2: hops 6 → 60 µs; bytes 6·10^6 + 2·2·262,144 (G is
   * over a chunk: C counts) = 7,048,576 → 7.048576 ms; 7.108576 ms. G = 1,000 bytes, d = 2: under a
   * chunk, 6,000 + 4·1,000 = 10,000 bytes → 10 µs; 70 µs.
   */
  @Test
  void theTreeCostsItsHopsSixGradientsAndAChunkPerLevel() {
    assertEquals(7.108576e-3, ExchangeBench.tree(2, 1e6, 1e-5, 1e-9), TOL);
    assertEquals(7.0e-5, ExchangeBench.tree(2, 1_000, 1e-5, 1e-9), TOL);
    // depth 0 (one partition: the driver's hop alone): 2α + 6G·β = 20 µs + 6 µs
    assertEquals(2.6e-5, ExchangeBench.tree(0, 1_000, 1e-5, 1e-9), TOL);
  }

  /** P = 4, G = 1 MB, α = 10 µs, β = 1 ns/byte: 2α = 20 µs, 2·4·10^6 bytes = 8 ms; 8.02 ms. */
  @Test
  void theStarTakesEveryGradientInAndTheTotalOutToEach() {
    assertEquals(8.02e-3, ExchangeBench.star(4, 1e6, 1e-5, 1e-9), TOL);
  }

  /**
   * Rows made exactly by α = 50 µs a hop and β = 1 ns a byte: d = 0, 10^6 bytes: 2·50 µs + 1 ms =
   * 1.1 ms; d = 1, 4·10^6 bytes: 0.2 + 4 = 4.2 ms; d = 2, 10^5 bytes: 0.3 + 0.1 = 0.4 ms. The fit
   * recovers α and β, and every row's model equals its measurement.
   */
  @Test
  void theFitRecoversALatencyAndBandwidthThatMadeTheRows() {
    List<Map<String, Object>> rows = new ArrayList<>();
    double[][] made = {{0, 1e6, 1.1}, {1, 4e6, 4.2}, {2, 1e5, 0.4}};
    for (double[] m : made) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("hidden_size", 8);
      r.put("layers", 1);
      r.put("parameters", 361);
      r.put("partitions", 1 << (int) m[0]);
      r.put("depth", (int) m[0]);
      r.put("link_bytes_per_step", m[1]);
      r.put("median_ms", m[2]);
      rows.add(r);
    }
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    ExchangeBench.fitAndProject(rows, new PrintStream(printed, true, StandardCharsets.UTF_8));
    String text = printed.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("α = 50.0 µs per hop, β = 1.000 ns/byte (1.00 GB/s"), text);
    for (int i = 0; i < made.length; i++) {
      assertEquals(made[i][2], (Double) rows.get(i).get("model_ms"), 1e-9, "row " + i + ": " + rows.get(i));
    }
  }

  /**
   * Ranks round(q·(n − 1)): of 10..50 (n = 5) q = 0.25 → rank 1 (20), q = 0.75 → rank 3 (40); of
   * 1..4 (n = 4) q = 0.25 → round(0.75) = 1 (2), q = 0.75 → round(2.25) = 2 (3); unsorted input.
   */
  @Test
  void groupedStepQuartilesTakeTheNearestRank() {
    assertEquals(20, GroupedStepBench.quantile(new double[] {50, 10, 40, 20, 30}, 0.25), 0);
    assertEquals(40, GroupedStepBench.quantile(new double[] {50, 10, 40, 20, 30}, 0.75), 0);
    assertEquals(2, GroupedStepBench.quantile(new double[] {4, 3, 2, 1}, 0.25), 0);
    assertEquals(3, GroupedStepBench.quantile(new double[] {4, 3, 2, 1}, 0.75), 0);
  }
}
