package io.sparkrnn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
 * the fit refused where it cannot separate α and β or gives a negative one, and
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
    double[][] made = {{0, 1e6, 1.1}, {1, 4e6, 4.2}, {2, 1e5, 0.4}};
    List<Map<String, Object>> rows = rows(made);
    ExchangeBench.Fit fit = ExchangeBench.fit(rows);
    assertNull(fit.refused(), fit.toString());
    assertEquals(5e-5, fit.alpha(), 1e-12);
    assertEquals(1e-9, fit.beta(), 1e-15);
    String text = fitAndProject(rows);
    assertTrue(text.contains("α = 50.0 µs per hop, β = 1.000 ns/byte (1.00 GB/s"), text);
    assertTrue(text.contains("projection, ms per step"), text);
    for (int i = 0; i < made.length; i++) {
      assertEquals(made[i][2], (Double) rows.get(i).get("model_ms"), 1e-9, "row " + i + ": " + rows.get(i));
      assertNull(rows.get(i).get("model_refused"), rows.get(i).toString());
    }
  }

  /**
   * The reported run: LSTM H = 32 (4,513 parameters, G = 36,104 bytes) at P = 1 (d = 0: 2 hops, the
   * driver's 2 streams, 2G) and P = 2 (d = 1: 4 hops, 4 streams, 4G), 0.52 and 1.38 ms. Bytes per hop
   * are G in both rows, so α and β cannot be told apart (the old fit printed α = 388 ms per hop and
   * a negative β); with a few header bytes (64 and 192) the system is not exactly singular but no
   * better. One row alone is fewer points than the two parameters. Each is refused: one line saying
   * why and what to vary, no model or projection printed, and the rows' model_ms null with the reason.
   */
  @Test
  void collinearHopsAndBytesOrTooFewRowsAreNotFitted() {
    double g = 36_104;
    double[][][] cases = {
        {{0, 2 * g, 0.52}, {1, 4 * g, 1.38}},
        {{0, 2 * g + 64, 0.52}, {1, 4 * g + 192, 1.38}},
        {{1, 4 * g, 1.38}},
    };
    for (double[][] made : cases) {
      List<Map<String, Object>> rows = rows(made);
      assertNotNull(ExchangeBench.fit(rows).refused(), rows.toString());
      String text = fitAndProject(rows);
      assertTrue(text.contains("model not fitted:") && text.contains("--exchange-hidden") && text.contains("--exchange-partitions"), text);
      assertFalse(text.contains("µs per hop") || text.contains("projection, ms per step"), text);
      for (Map<String, Object> r : rows) {
        assertTrue(r.containsKey("model_ms") && r.get("model_ms") == null, r.toString());
        assertNotNull(r.get("model_refused"), r.toString());
      }
    }
  }

  /**
   * Rows whose bytes per hop differ (5·10^5 and 1.67·10^5) but whose times no positive α and β
   * explain. β ≤ 0: d = 0, 10^6 bytes, 1 ms and d = 2, 10^6 bytes, 5 ms give 2α + 10^6·β = 1 ms,
   * 6α + 10^6·β = 5 ms: α = 1 ms, β = −1 ns/byte. α < 0: made by α = −10 µs, β = 1 ns/byte:
   * −20 µs + 1 ms = 0.98 ms and −60 µs + 1 ms = 0.94 ms. Both refused, naming the fitted value.
   */
  @Test
  void aNegativeLatencyOrANonPositiveCostPerByteIsNotAFit() {
    List<Map<String, Object>> negativeBeta = rows(new double[][] {{0, 1e6, 1.0}, {2, 1e6, 5.0}});
    ExchangeBench.Fit fit = ExchangeBench.fit(negativeBeta);
    assertNotNull(fit.refused());
    assertTrue(fit.refused().contains("β = -1.000 ns/byte"), fit.refused());
    List<Map<String, Object>> negativeAlpha = rows(new double[][] {{0, 1e6, 0.98}, {2, 1e6, 0.94}});
    fit = ExchangeBench.fit(negativeAlpha);
    assertNotNull(fit.refused());
    assertTrue(fit.refused().contains("α = -10.0 µs"), fit.refused());
    String text = fitAndProject(negativeAlpha);
    assertTrue(text.contains("model not fitted:"), text);
    // the bytes per hop already differ 3×: the advice is longer timings, not other sizes
    assertTrue(text.contains("Time longer: more --runs or --exchange-steps"), text);
    assertFalse(text.contains("--exchange-hidden"), text);
    assertFalse(text.contains("projection, ms per step"), text);
  }

  /** Rows of LSTM 8×1 (361 parameters) from {depth, bytes over all links, median ms}. */
  private static List<Map<String, Object>> rows(double[][] made) {
    List<Map<String, Object>> rows = new ArrayList<>();
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
    return rows;
  }

  private static String fitAndProject(List<Map<String, Object>> rows) {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    ExchangeBench.fitAndProject(rows, new PrintStream(printed, true, StandardCharsets.UTF_8));
    return printed.toString(StandardCharsets.UTF_8);
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
