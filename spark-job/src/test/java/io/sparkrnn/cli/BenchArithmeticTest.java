package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.bench.AparapiBench;
import io.sparkrnn.kernel.bench.HostCeiling;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The arithmetic behind bench's forward rows and FMA-ceiling columns, without Spark and without
 * asserting on any time: the forward flop count by hand, multiply-add by multiply-add (2 flops
 * each), the ceiling's share of the threads together, and timeCalls' rates as B / median and
 * flops / median / 1e9.
 */
class BenchArithmeticTest {

  /**
   * LSTM, L = 1, F = 3, H = 2, O = 1, B = 3, T = 2: GH = 8; per (t, b) x·W_ihᵀ 3·8 = 24 and
   * h·W_hhᵀ 2·8 = 16 multiply-adds, the head h·wᵀ 2: 42 = 84 flops, × T·B = 6: 504.
   */
  @Test
  void forwardFlopsOfOneLayerCountBothProductsAndTheHead() {
    assertEquals(504, BenchCommand.forwardFlops(new ModelConfig(CellType.LSTM, 1, 3, 2, 1, Mode.SEQ2SEQ, LossType.MSE), 3, 2));
  }

  /**
   * GRU, L = 2, F = 1, H = 2, O = 3, B = 2, T = 3: GH = 6; per (t, b) layer 0 6·1 + 6·2 = 18, layer 1
   * (input H = 2) 6·2 + 6·2 = 24, head O·H = 6: 48 multiply-adds = 96 flops, × 6: 576.
   */
  @Test
  void forwardFlopsOfAStackTakeTheHiddenSizeAsTheUpperLayersInput() {
    assertEquals(576, BenchCommand.forwardFlops(new ModelConfig(CellType.GRU, 2, 1, 2, 3, Mode.SEQ2SEQ, LossType.MSE), 2, 3));
  }

  /**
   * RNN, F = 1, H = 4, O = 2, B = 5, T = 7, seq2one: the cell 4·1 + 4·4 = 20 × T·B = 35 → 700; the
   * head on B = 5 rows of O·H = 8 → 40; 740 multiply-adds = 1,480 flops.
   */
  @Test
  void aSeqToOneForwardRunsTheHeadOncePerSequence() {
    assertEquals(1_480, BenchCommand.forwardFlops(new ModelConfig(CellType.RNN, 1, 1, 4, 2, Mode.SEQ2ONE, LossType.MSE), 5, 7));
  }

  /**
   * Two threads at 100 and 300 GFLOP/s: ceiling_gflops is their mean, 200; a row at 100 GFLOP/s is
   * 100 / (2 · 200) = 25% of the two together.
   */
  @Test
  void theCeilingShareIsOfAllTheRowsThreadsTogether() {
    Map<String, Object> row = new LinkedHashMap<>();
    BenchCommand.putCeiling(row, new HostCeiling.Result(2, 8, new double[] {100, 300}, false), 100);
    assertEquals(200.0, (Double) row.get("ceiling_gflops"), 1e-12);
    assertEquals(2, row.get("ceiling_threads"));
    assertEquals(25.0, (Double) row.get("ceiling_pct"), 1e-12);
    assertEquals(false, row.get("ceiling_low"));
    assertEquals("; 25% of the FMA ceiling (200 GFLOP/s a thread on 2)", BenchCommand.ceilingNote(row));
  }

  /**
   * A row cannot run above its threads' FMA ceiling: 2 threads at 0.25 GFLOP/s read as 0.5
   * together, under a row's 0.8, means the ceiling's threads did not have the cores (a docs audit
   * saw "82072% of the FMA ceiling (0 GFLOP/s a thread on 2)"). No share then, and the note says so;
   * exactly at the ceiling (100%) the share stands.
   */
  @Test
  void aCeilingUnderTheRowsOwnRateReadLowAndGivesNoShare() {
    Map<String, Object> row = new LinkedHashMap<>();
    BenchCommand.putCeiling(row, new HostCeiling.Result(2, 8, new double[] {0.25, 0.25}, false), 0.8);
    assertEquals(true, row.get("ceiling_low"));
    assertNull(row.get("ceiling_pct"));
    assertEquals("; the FMA ceiling read low, 0.250 GFLOP/s a thread on 2, under this row's rate (the cores were busy with"
        + " other work while it ran): no share", BenchCommand.ceilingNote(row));
    BenchCommand.putCeiling(row, new HostCeiling.Result(2, 8, new double[] {100, 100}, false), 200);
    assertEquals(100.0, (Double) row.get("ceiling_pct"), 1e-12);
    assertEquals(false, row.get("ceiling_low"));
  }

  /** The forward rows' Result (timeCalls) keeps AparapiBench's contract: B / median seq/s, flops / median / 1e9 GFLOP/s. */
  @Test
  void timedCallsReportTheBatchAndTheFlopsOverTheMedianCall() {
    ModelConfig config = new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, 3, 6, 2);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 1)) {
      for (int runs : new int[] {1, 4, 5}) {
        AparapiBench.Result r = BenchCommand.timeCalls(engine, () -> engine.forward(params, batch, null), 1_000L, params, batch, runs);
        double median = r.medianSeconds();
        assertTrue(median > 0 && r.minSeconds() <= median, "runs=" + runs + ": min " + r.minSeconds() + ", median " + median);
        if (runs == 1) {
          assertEquals(r.minSeconds(), median, 0, "one run is both the median and the fastest");
        }
        assertEquals(runs, r.runs());
        assertEquals(6, r.batchSize());
        assertEquals(3, r.steps());
        assertEquals(1_000L, r.flopsPerStep());
        assertEquals(6 / median, r.sequencesPerSecond(), 1e-9 * r.sequencesPerSecond(), "B = 6 over the median");
        assertEquals(1_000 / median / 1e9, r.gflopPerSecond(), 1e-9 * r.gflopPerSecond(), "GFLOP/s");
      }
    }
  }
}
