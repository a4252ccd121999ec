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
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

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

  /** A row's shape and place, as BenchCommand's baseRow puts them, on the JVM engine. */
  private static Map<String, Object> shapeRow(String cell, int features, int hidden, int batch, int steps, String mode) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("cell", cell);
    row.put("hidden_size", hidden);
    row.put("input_size", features);
    row.put("batch", batch);
    row.put("steps", steps);
    row.put("device", "jvm");
    row.put("mode", mode);
    return row;
  }

  /**
   * The table's columns (docs/PERFORMANCE.md, "Commands"): cell, F, H, B, T, device, mode, then
   * ms/step, seq/s and GFLOP/s, then the notes. A kernel row's ms/step is its median call (%.2f),
   * seq/s one decimal, GFLOP/s two, and its notes give the fastest run ("min").
   */
  @Test
  void theHeaderNamesTheColumnsAKernelRowFills() {
    assertEquals(List.of("cell", "F", "H", "B", "T", "device", "mode", "ms/step", "seq/s", "GFLOP/s", "notes"),
        List.of(BenchCommand.header().trim().split("\\s+")));
    Map<String, Object> row = shapeRow("gru", 2, 8, 3, 4, "kernel");
    row.put("seq_per_s", 1234.56);
    row.put("gflops", 0.125);
    row.put("median_ms", 2.5);
    row.put("min_ms", 1.25);
    row.put("gc_pct", 0.0);
    row.put("peak_rss_mb", null);
    row.put("engine", "E");
    String line = BenchCommand.format(row);
    assertEquals(List.of("gru", "2", "8", "3", "4", "jvm", "kernel", "2.50", "1234.6", "0.13"),
        List.of(line.trim().split("\\s+")).subList(0, 10), line);
    assertTrue(line.contains("min 1.25 ms;"), line);
    assertTrue(line.endsWith("GC 0.0%, peak RSS ?; E"), line);
  }

  /**
   * A --spark row's ms/step is the mean step of train (its notes: "ms/step the mean of N steps
   * (median M ms)"), not the median, and its ratio and kernel figure come from the row: mean 12.5 ms
   * for B = 4 is 4 / 0.0125 = 320 seq/s.
   */
  @Test
  void aSparkRowShowsTheMeanStepAndItsMedianInTheNotes() {
    Map<String, Object> row = shapeRow("rnn", 1, 8, 4, 5, "spark");
    row.put("engine", "train on local[1], 1 partitions, sync barrier");
    row.put("seq_per_s", 320.0);
    row.put("gflops", 0.5);
    row.put("mean_ms", 12.5);
    row.put("median_ms", 10.0);
    row.put("runs", 8);
    row.put("segments", 3);
    row.put("segment_launch_ms", 1.5);
    row.put("kernel_seq_per_s", 256.0);
    row.put("ratio_to_kernel", 1.25);
    row.put("overhead_ms", 2.0);
    row.put("empty_job_ms", 4.0);
    row.put("gc_pct", 1.0);
    row.put("peak_rss_mb", 100.0);
    row.put("driver_bytes_per_step", 2048.0);
    String line = BenchCommand.format(row);
    assertEquals(List.of("rnn", "1", "8", "4", "5", "jvm", "spark", "12.50", "320.0", "0.50"),
        List.of(line.trim().split("\\s+")).subList(0, 10), line);
    assertTrue(line.contains("1.25× the kernel alone (256 seq/s"), line);
    assertTrue(line.contains("Spark overhead 2.00 ms/step (an empty Spark job: 4.0 ms); 3 segments, launch 1.5 ms each;"), line);
    assertTrue(line.contains("ms/step the mean of 8 steps (median 10.00 ms)"), line);
    assertTrue(line.contains("; 2.0 kB through the driver per step"), line);
  }

  /**
   * Which shapes run (README and the command's description): by default rnn, lstm, gru at H = 64
   * and 256 (F = 1, B = 64, T = 50), the large lstm F=64 H=256 B=256 T=100, then each cell at the
   * grid's first H with B = 8 and with T = 1000; --shape alone runs only its shapes; with --cells
   * or --hidden beside it also the grid (and neither the large nor the latency rows).
   */
  @Test
  void theShapesAreTheGridTheLargeAndTheLatencyRowsOrTheShapesAskedFor() {
    assertEquals(List.of("rnn:1:64:64:50", "rnn:1:256:64:50", "lstm:1:64:64:50", "lstm:1:256:64:50", "gru:1:64:64:50",
        "gru:1:256:64:50", "lstm:64:256:256:100", "rnn:1:64:8:50", "rnn:1:64:64:1000", "lstm:1:64:8:50", "lstm:1:64:64:1000",
        "gru:1:64:8:50", "gru:1:64:64:1000"), shapeIds());
    assertEquals(List.of("lstm:2:16:4:3", "lstm:2:32:4:3", "lstm:64:256:256:100", "lstm:2:16:8:3", "lstm:2:16:4:1000"),
        shapeIds("--cells", "lstm", "--hidden", "16,32", "--input", "2", "--batch", "4", "--steps", "3"));
    assertEquals(List.of("lstm:2:16:4:3"), shapeIds("--cells", "lstm", "--hidden", "16", "--input", "2", "--batch", "4", "--steps",
        "3", "--no-large", "--no-latency"));
    assertEquals(List.of("gru:2:8:4:5"), shapeIds("--shape", "gru:2:8:4:5"));
    assertEquals(List.of("rnn:1:16:4:3", "lstm:1:16:4:3", "gru:1:16:4:3", "gru:2:8:4:5"),
        shapeIds("--hidden", "16", "--batch", "4", "--steps", "3", "--shape", "gru:2:8:4:5"), "--hidden beside --shape: also the grid");
    assertEquals(List.of("gru:1:64:4:3", "gru:1:256:4:3", "gru:2:8:4:5"),
        shapeIds("--cells", "gru", "--batch", "4", "--steps", "3", "--shape", "gru:2:8:4:5"), "--cells beside --shape: also the grid");
  }

  private static List<String> shapeIds(String... args) {
    BenchCommand bench = new BenchCommand();
    new CommandLine(bench).parseArgs(args);
    return bench.shapes().stream().map(BenchCommand.Shape::id).toList();
  }
}
