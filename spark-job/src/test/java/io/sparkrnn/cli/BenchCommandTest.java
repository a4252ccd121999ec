package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.bench.ExchangeBench;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {
  @TempDir Path tmp;

  /** The keys every JSON row carries, whatever its mode. */
  static final List<String> ROW_KEYS = List.of("cell", "hidden_size", "input_size", "batch", "steps", "device", "mode", "seq_per_s",
      "gflops");

  @Test
  void tinyBenchWritesOneRowPerShapeAndDeviceWithTheDocumentedKeys() throws IOException {
    Path json = tmp.resolve("bench.json");
    assertEquals(0, Main.run("bench", "--cells", "rnn,gru", "--hidden", "8", "--batch", "4", "--steps", "5", "--no-large", "--no-latency",
        "--devices", "jvm,reference", "--runs", "3", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds",
        "0.05", "--json", json.toString()));
    Object parsed = Json.parse(Files.readString(json));
    assertTrue(parsed instanceof List, "a JSON list: " + parsed);
    List<?> rows = (List<?>) parsed;
    assertEquals(4, rows.size(), "2 cells × (jvm, reference): " + rows);
    for (Object o : rows) {
      Map<?, ?> row = (Map<?, ?>) o;
      for (String key : ROW_KEYS) {
        assertTrue(row.containsKey(key), "row lacks '" + key + "': " + row);
      }
      assertEquals("kernel", row.get("mode"));
      // provenance, as the header line gives it: the arguments as typed, the JVM's processors, a parseable date
      assertEquals("bench --cells rnn,gru --hidden 8 --batch 4 --steps 5 --no-large --no-latency --devices jvm,reference --runs 3"
          + " --warmup 1 --warmup-seconds 0 --min-seconds 0 --ceiling-seconds 0.05 --json " + json, row.get("command"));
      assertEquals(Runtime.getRuntime().availableProcessors(), ((Number) row.get("cores")).intValue());
      java.time.OffsetDateTime.parse((String) row.get("date"));
      assertTrue(String.valueOf(row.get("jvm")).endsWith(System.getProperty("java.version")), row.toString());
      assertTrue(row.containsKey("cpu"), row.toString());
      assertEquals(3, ((Number) row.get("runs")).intValue(), "--runs 3 --min-seconds 0: " + row);
      assertTrue(((Number) row.get("seq_per_s")).doubleValue() > 0, row.toString());
      double gc = ((Number) row.get("gc_pct")).doubleValue();
      assertTrue(gc >= 0 && gc <= 100, "gc_pct is a percentage: " + row);
      assertTrue(((Number) row.get("alloc_kb_per_step")).doubleValue() >= 0, row.toString());
      if (row.get("device").equals("jvm")) {
        assertTrue(((Number) row.get("working_mb")).doubleValue() > 0, "the JVM engine counts its buffers: " + row);
        // the host's FMA ceiling right after the row, on the threads its slices ran on (every core, at most B = 4),
        // and the row's share of it
        assertEquals(Math.min(Runtime.getRuntime().availableProcessors(), 4), ((Number) row.get("ceiling_threads")).intValue(),
            row.toString());
        double ceiling = ((Number) row.get("ceiling_gflops")).doubleValue();
        assertTrue(ceiling > 0 && Double.isFinite(ceiling), row.toString());
        double share = 100 * ((Number) row.get("gflops")).doubleValue() / (ceiling * ((Number) row.get("ceiling_threads")).intValue());
        // a ceiling under the row's own rate read low on a busy host: no share then (BenchArithmeticTest)
        assertEquals(share <= 100 ? share : null, (Double) row.get("ceiling_pct"), row.toString());
      } else {
        assertEquals(null, row.get("working_mb"), "the reference does not count its buffers: " + row);
        assertFalse(row.containsKey("ceiling_pct"), "no FMA ceiling beside the float64 reference: " + row);
      }
      if (Files.isWritable(Path.of("/proc/self/clear_refs"))) {
        assertTrue(((Number) row.get("peak_rss_mb")).doubleValue() > 1, "Linux: peak RSS read from VmHWM after a reset: " + row);
      }
    }
  }

  @Test
  void shapeAloneRunsOnlyThatShapeAndWithTheGridOptionsAlsoTheGrid() throws IOException {
    Path alone = tmp.resolve("alone.json");
    assertEquals(0, Main.run("bench", "--shape", "gru:2:8:4:5", "--devices", "jvm", "--runs", "1", "--warmup", "1", "--warmup-seconds",
        "0", "--min-seconds", "0.05", "--ceiling-seconds", "0", "--json", alone.toString()));
    List<?> rows = (List<?>) Json.parse(Files.readString(alone));
    assertEquals(1, rows.size(), "--shape alone: just that shape: " + rows);
    Map<?, ?> row = (Map<?, ?>) rows.get(0);
    // --min-seconds 0.05: as many timed runs as the last warm-up call's time fits into 0.05 s (at least --runs): several,
    // unless that call alone took 50 ms (a loaded machine, or the JVM's first call); no assertion on the time itself
    int runs = ((Number) row.get("runs")).intValue();
    double lastWarmUpMs = ((Number) row.get("warmup_last_ms")).doubleValue();
    assertEquals(Math.max(1, (int) Math.ceil(50 / lastWarmUpMs)), runs, "--min-seconds 0.05 sizes the timed runs: " + row);
    assertEquals(List.of("gru", 2, 8, 4, 5), List.of(row.get("cell"), ((Number) row.get("input_size")).intValue(),
        ((Number) row.get("hidden_size")).intValue(), ((Number) row.get("batch")).intValue(), ((Number) row.get("steps")).intValue()));
    Path both = tmp.resolve("both.json");
    assertEquals(0, Main.run("bench", "--cells", "rnn", "--hidden", "8", "--batch", "4", "--steps", "5", "--shape", "gru:2:8:4:5",
        "--devices", "jvm", "--runs", "1", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0",
        "--json", both.toString()));
    assertEquals(2, ((List<?>) Json.parse(Files.readString(both))).size(), "the grid (rnn H=8) and the shape");
  }

  /**
   * --forward: a forward row after each training row, of the same shape and device, whose
   * ratio_to_training is its seq/s over the training row's (ratio_to_training_min: the training
   * row's fastest run over the forward row's); without --no-latency the grid gains
   * a B = 8 row and a T = 1000 row per cell, at the grid's first H.
   */
  @Test
  void forwardAddsAForwardRowPerTrainingRowAndTheLatencyRowsComeWithTheGrid() throws IOException {
    Path json = tmp.resolve("forward.json");
    assertEquals(0, Main.run("bench", "--cells", "lstm", "--hidden", "8", "--batch", "4", "--steps", "5", "--no-large", "--forward",
        "--devices", "jvm", "--runs", "3", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0", "--json",
        json.toString()));
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(6, rows.size(), "(the grid row, B = 8, T = 1000) × (training, forward): " + rows);
    assertTrue(rows.stream().noneMatch(r -> ((Map<?, ?>) r).containsKey("ceiling_gflops")), "--ceiling-seconds 0 skips the ceiling");
    List<List<Integer>> shapes = new ArrayList<>();
    for (int i = 0; i < rows.size(); i += 2) {
      Map<?, ?> train = (Map<?, ?>) rows.get(i);
      Map<?, ?> fwd = (Map<?, ?>) rows.get(i + 1);
      assertEquals("kernel", train.get("mode"));
      assertEquals("forward", fwd.get("mode"));
      for (String key : List.of("cell", "hidden_size", "input_size", "batch", "steps", "device")) {
        assertEquals(train.get(key), fwd.get(key), key);
      }
      assertEquals(((Number) fwd.get("seq_per_s")).doubleValue() / ((Number) train.get("seq_per_s")).doubleValue(),
          ((Number) fwd.get("ratio_to_training")).doubleValue(), 1e-9);
      assertEquals(((Number) train.get("min_ms")).doubleValue() / ((Number) fwd.get("min_ms")).doubleValue(),
          ((Number) fwd.get("ratio_to_training_min")).doubleValue(), 1e-9);
      // the paired ratio: rounds of training and forward windows (--runs of them), median and quartiles
      double q1 = ((Number) fwd.get("ratio_paired_q1")).doubleValue();
      double median = ((Number) fwd.get("ratio_paired")).doubleValue();
      double q3 = ((Number) fwd.get("ratio_paired_q3")).doubleValue();
      assertTrue(q1 > 0 && q1 <= median && median <= q3 && Double.isFinite(q3), q1 + " " + median + " " + q3);
      assertEquals(3, ((Number) fwd.get("paired_rounds")).intValue());
      shapes.add(List.of(((Number) train.get("batch")).intValue(), ((Number) train.get("steps")).intValue()));
    }
    assertEquals(List.of(List.of(4, 5), List.of(8, 5), List.of(4, 1000)), shapes, "(B, T) of the grid row, then B = 8, then T = 1000");
  }

  /**
   * An OpenCL row allocates for its launches (Aparapi's per-launch objects), not because the JIT
   * left the JVM engine's vectors boxed: the boxed-vectors warning, with its advice to run again,
   * is the JVM engine's rows' alone (it was printed for cpu-opencl rows; a user audit).
   */
  @Test
  void theBoxedVectorsWarningIsTheJvmEnginesAlone() {
    if (!Devices.available().contains(DeviceChoice.CPU_OPENCL)) {
      // CI requires OpenCL (SPARKRNN_REQUIRE_OPENCL=1): there this fails; elsewhere (an IDE, a host without PoCL) it is skipped
      org.junit.jupiter.api.Assertions.assertNotEquals("1", System.getenv("SPARKRNN_REQUIRE_OPENCL"),
          "SPARKRNN_REQUIRE_OPENCL=1 but there is no OpenCL CPU device: " + Devices.list());
      org.junit.jupiter.api.Assumptions.abort("no OpenCL CPU device (PoCL) here");
    }
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("bench", "--shape", "lstm:1:16:4:5", "--devices", "cpu-opencl",
        "--runs", "3", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("cpu-opencl"), r.out());
    assertFalse(r.err().contains("vectors boxed"), r.err());
  }

  @Test
  void sparkRowTimesTrainAgainstTheKernelTimedBeforeAndAfter() throws IOException {
    Path json = tmp.resolve("spark.json");
    assertEquals(0, Main.run("bench", "--cells", "rnn", "--hidden", "8", "--batch", "4", "--steps", "5", "--no-large", "--no-latency", "--devices",
        "jvm", "--runs", "1", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0", "--spark", "--master",
        "local[1]", "--spark-steps", "8",
        "--spark-warmup", "2", "--spark-seconds", "0.2", "--spark-sync", "barrier,job", "--json", json.toString()));
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(3, rows.size(), "the kernel row and a train row for each sync: " + rows);
    // --sync job runs no segments: its launch time is null (it was NaN, and the JSON could not be written)
    Map<?, ?> job = (Map<?, ?>) rows.get(2);
    assertEquals("job", job.get("sync"));
    assertEquals(0L, ((Number) job.get("segments")).longValue());
    assertTrue(job.containsKey("segment_launch_ms") && job.get("segment_launch_ms") == null, job.toString());
    Map<?, ?> spark = (Map<?, ?>) rows.get(1);
    assertEquals("barrier", spark.get("sync"));
    assertTrue(((Number) spark.get("segment_launch_ms")).doubleValue() >= 0, spark.toString());
    assertEquals("spark", spark.get("mode"));
    for (String key : List.of("ratio_to_kernel", "kernel_seq_per_s", "kernel_before_ms", "kernel_after_ms", "overhead_ms", "gc_pct",
        "segments", "mean_ms")) {
      assertTrue(spark.get(key) instanceof Number, "spark row lacks the number '" + key + "': " + spark);
    }
    double kernelMs = (((Number) spark.get("kernel_before_ms")).doubleValue() + ((Number) spark.get("kernel_after_ms")).doubleValue()) / 2;
    assertEquals(4 / (kernelMs / 1e3), ((Number) spark.get("kernel_seq_per_s")).doubleValue(), 1e-6 * (4 / (kernelMs / 1e3)),
        "the ratio's kernel figure is the mean of the windows before and after");
    assertEquals(((Number) spark.get("seq_per_s")).doubleValue() / ((Number) spark.get("kernel_seq_per_s")).doubleValue(),
        ((Number) spark.get("ratio_to_kernel")).doubleValue(), 1e-9);
    // seq/s and GFLOP/s of the mean train step: B = 4 over it, and the training step's products over it. RNN F = O = 1,
    // H = 8 (GH = 8), multiply-adds a (t, b): forward 8·1 + 8·8 = 72, backward 8 + 64 + 64 = 136, head 3·8 = 24:
    // 232 = 464 flops × T·B = 20: 9,280
    double meanS = ((Number) spark.get("mean_ms")).doubleValue() / 1e3;
    assertEquals(4 / meanS, ((Number) spark.get("seq_per_s")).doubleValue(), 1e-9 * 4 / meanS, spark.toString());
    assertEquals(9_280 / meanS / 1e9, ((Number) spark.get("gflops")).doubleValue(), 1e-9 * 9_280 / meanS / 1e9, spark.toString());
    // the step's parts: compute and the update were measured (> 0), the reduction of one partition is its own merge (≥ 0), and
    // the parts with the control remainder make up the mean step
    double compute = ((Number) spark.get("compute_ms")).doubleValue();
    double reduce = ((Number) spark.get("reduce_ms")).doubleValue();
    double update = ((Number) spark.get("update_ms")).doubleValue();
    double control = ((Number) spark.get("control_ms")).doubleValue();
    assertTrue(compute > 0 && update > 0 && reduce >= 0 && control >= 0, spark.toString());
    assertEquals(((Number) spark.get("mean_ms")).doubleValue(), compute + reduce + update + control, 1e-6, spark.toString());
  }

  @Test
  void exchangeRowsCountTheBytesOfTheTreeAndTheDriversShareStaysOneGradientEachWay() throws IOException {
    Path json = tmp.resolve("exchange.json");
    assertEquals(0, Main.run("bench", "--exchange", "--exchange-partitions", "2,4,3", "--exchange-hidden", "8", "--exchange-layers", "1",
        "--exchange-steps", "2", "--runs", "1", "--json", json.toString()));
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(3, rows.size(), rows.toString());
    // LSTM F = 1, H = 8, O = 1: 4·8·(1 + 8) + 2·4·8 + (8 + 1) = 361 parameters, 2,888 bytes as float64
    double gradient = 8.0 * 361;
    for (Object o : rows) {
      Map<?, ?> row = (Map<?, ?>) o;
      int partitions = ((Number) row.get("partitions")).intValue();
      assertEquals(361, ((Number) row.get("parameters")).intValue());
      double driver = ((Number) row.get("driver_bytes_per_step")).doubleValue();
      double links = ((Number) row.get("link_bytes_per_step")).doubleValue();
      // the driver: the root's gradient in and the total out, plus headers under 1 kB
      assertTrue(driver > 2 * gradient && driver < 2 * gradient + 1024, row.toString());
      // the streams of the tree: each node's remote sources up, the total down to those that do not get it otherwise, and the
      // driver's two; one gradient each when P divides V = 16 into aligned runs
      int streams = ExchangeBench.streams(partitions);
      assertEquals(partitions == 2 ? 4 : partitions == 4 ? 9 : 7, streams, "P=2: 1 up, 2 driver, 1 down; P=4: 4 up, 2, 3 down; P=3: 3, 2, 2");
      if (partitions != 3) {
        assertTrue(links > streams * gradient && links < streams * gradient + 1024 * streams, streams + " streams: " + row);
      } else {
        // runs [0, 5), [5, 10), [10, 16) of 16 leaves are not aligned: more than one block on some links up
        assertTrue(links > streams * gradient + gradient, streams + " streams: " + row);
      }
      assertTrue(((Number) row.get("median_ms")).doubleValue() > 0, row.toString());
    }
  }

  /**
   * --virtual-partitions V: the training rows time what one train task runs (V groups and the
   * combine tree) and say so, in the JSON and the table's notes; forward rows are the same as
   * without it; a negative V is bad input, and so is a V over a shape's batch (as train refuses it,
   * {@link #badOptionsAreRefusedBeforeAnyRow}).
   */
  @Test
  void virtualPartitionsTimeTheTrainingStepAsATrainTaskRunsIt() throws IOException {
    Path json = tmp.resolve("groups.json");
    ByteArrayOutputStream table = new ByteArrayOutputStream();
    PrintStream out = System.out;
    System.setOut(new PrintStream(table, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, Main.run("bench", "--shape", "lstm:1:8:12:5", "--shape", "rnn:1:8:4:4", "--devices", "jvm", "--forward",
          "--virtual-partitions", "4", "--runs", "1", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0",
          "--ceiling-seconds", "0", "--json", json.toString()));
    } finally {
      System.setOut(out);
    }
    String printed = table.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("as a train task: 4 virtual partitions"), printed);
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(4, rows.size(), "a training and a forward row per shape: " + rows);
    for (Object o : rows) {
      Map<?, ?> row = (Map<?, ?>) o;
      boolean training = row.get("mode").equals("kernel");
      int batch = ((Number) row.get("batch")).intValue();
      assertEquals(training ? 4 : null, row.get("virtual_partitions") == null ? null
          : ((Number) row.get("virtual_partitions")).intValue(), "V groups, training rows only: " + row);
      assertTrue(((Number) row.get("seq_per_s")).doubleValue() > 0, row.toString());
      // GFLOP/s count the training step's products whether or not it is cut into groups (the groups do the same
      // products over fewer sequences each), the forward pass's alone for forward rows. Multiply-adds a (t, b), as in
      // AparapiBenchTest: LSTM H = 8 (GH = 32): forward 32·1 + 32·8 = 288, backward 32 + 256 + 256 = 544, head 3·8 = 24:
      // 856 = 1,712 flops × T·B = 60: 102,720; forward alone 288 + 8 = 296 = 592 × 60 = 35,520. RNN H = 8 (GH = 8):
      // 72 + 136 + 24 = 232 = 464 × 16 = 7,424; forward alone 72 + 8 = 80 = 160 × 16 = 2,560.
      long flops = batch == 12 ? (training ? 102_720 : 35_520) : (training ? 7_424 : 2_560);
      double medianS = ((Number) row.get("median_ms")).doubleValue() / 1e3;
      assertEquals(flops / medianS / 1e9, ((Number) row.get("gflops")).doubleValue(), 1e-9 * flops / medianS / 1e9, row.toString());
      assertEquals(batch / medianS, ((Number) row.get("seq_per_s")).doubleValue(), 1e-9 * batch / medianS, row.toString());
    }
    assertEquals(2, Main.run("bench", "--shape", "lstm:1:8:4:5", "--devices", "jvm", "--virtual-partitions", "-1"));

    // bench's own latency row of B = 8 under V = 9 (the grid's --batch): it runs with V = B = 8, its row says 8, and one
    // line says so; the grid row and the T = 1000 latency row (B = --batch = 9) get the 9 asked for
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, Main.run("bench", "--cells", "lstm", "--hidden", "8", "--batch", "9", "--steps", "3", "--no-large",
          "--devices", "jvm", "--virtual-partitions", "9", "--runs", "1", "--warmup", "1", "--warmup-seconds", "0",
          "--min-seconds", "0", "--ceiling-seconds", "0", "--json", json.toString()));
    } finally {
      System.setErr(stderr);
    }
    assertTrue(err.toString(StandardCharsets.UTF_8).contains(
        "--virtual-partitions 9 is over the batch of bench's own rows lstm:1:8:8:3: they run with V = B"), err.toString());
    Map<Integer, Integer> groupsByBatch = new HashMap<>();
    for (Object o : (List<?>) Json.parse(Files.readString(json))) {
      Map<?, ?> row = (Map<?, ?>) o;
      groupsByBatch.put(((Number) row.get("batch")).intValue(), ((Number) row.get("virtual_partitions")).intValue());
    }
    assertEquals(Map.of(8, 8, 9, 9), groupsByBatch);
  }

  /**
   * --reference-max-gflop: the float64 reference runs only where one training step is at most that
   * many GFLOP. RNN F = O = 1 (multiply-adds a (t, b): forward H + H², backward H + 2·H², head 3·H):
   * H = 4, B = 1, T = 2: 68 = 136 flops × 2 = 272; H = 8, B = 2, T = 3: 232 = 464 × 6 = 2,784. At
   * 1e-6 GFLOP (1,000 flops) the first gets a reference row, the second none. The FMA ceiling
   * beside a JVM row runs on as many threads as the row's slices (a batch of B runs on at most B):
   * 1 for B = 1. --json into folders that do not exist yet creates them (docs/inference.md).
   */
  @Test
  void theReferenceSkipsStepsOverItsGflopAndTheCeilingRunsOnTheRowsThreads() throws IOException {
    Path json = tmp.resolve("new").resolve("folder").resolve("rows.json");
    assertEquals(0, Main.run("bench", "--shape", "rnn:1:4:1:2", "--shape", "rnn:1:8:2:3", "--devices", "jvm,reference",
        "--reference-max-gflop", "1e-6", "--runs", "1", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0",
        "--ceiling-seconds", "0.05", "--json", json.toString()));
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    List<String> seen = new ArrayList<>();
    for (Object o : rows) {
      Map<?, ?> row = (Map<?, ?>) o;
      seen.add(row.get("device") + " H=" + ((Number) row.get("hidden_size")).intValue());
      if (row.get("device").equals("jvm") && io.sparkrnn.kernel.jvm.MathKernels.best().lanes() > 1) {
        int batch = ((Number) row.get("batch")).intValue();
        assertEquals(Math.min(Runtime.getRuntime().availableProcessors(), batch), ((Number) row.get("ceiling_threads")).intValue(),
            "B = " + batch + ": " + row);
      }
    }
    assertEquals(List.of("jvm H=4", "reference H=4", "jvm H=8"), seen, rows.toString());
    try (Stream<Path> files = Files.list(json.getParent())) {
      assertEquals(List.of("rows.json"), files.map(f -> f.getFileName().toString()).toList(), "written under a temporary name, renamed");
    }
  }

  /**
   * Times and counts the table cannot take, each refused in one line before the header: the FMA
   * ceiling's window is [0, 60] s (HostCeiling.MAX_SECONDS), warm-up calls and --min-seconds ≥ 0.
   */
  @Test
  void negativeTimesAndACeilingOverAMinuteAreRefusedBeforeAnyRow() {
    Object[][] cases = {
        {new String[] {"--ceiling-seconds", "61"}, "--ceiling-seconds must be in [0, 60], found 61.0"},
        {new String[] {"--ceiling-seconds", "-1"}, "--ceiling-seconds must be in [0, 60], found -1.0"},
        {new String[] {"--warmup", "-1"}, "--warmup must be at least 0, found -1"},
        {new String[] {"--min-seconds", "-0.5"}, "--min-seconds must be at least 0, found -0.5"},
    };
    for (Object[] c : cases) {
      String[] own = (String[]) c[0];
      List<String> args = new ArrayList<>(List.of("bench", "--shape", "rnn:1:4:2:2", "--devices", "jvm", "--runs", "1",
          "--warmup-seconds", "0"));
      args.addAll(List.of(own));
      InferenceCommandsTest.Run r = InferenceCommandsTest.run(args.toArray(String[]::new));
      assertEquals(2, r.code(), String.join(" ", own) + ": " + r.err());
      assertTrue(r.err().contains((String) c[1]), String.join(" ", own) + ": lacks '" + c[1] + "': " + r.err());
      assertFalse(r.out().contains("GFLOP/s"), "refused before the table: " + r.out());
    }
  }

  @Test
  void badShapeIsAUserError() {
    assertEquals(2, Main.run("bench", "--shape", "lstm:64:256", "--devices", "jvm", "--runs", "1"));
  }

  /** Each refused in one line before the table's header, where it used to fail after rows had run (or name no option). */
  @Test
  void badOptionsAreRefusedBeforeAnyRow() throws IOException {
    String[] quick = {"--devices", "jvm", "--warmup", "0", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0"};
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    Object[][] cases = {
        {new String[] {"--shape", "lstm:1:8:4:5", "--json", tmp.toString()}, "--json " + tmp + ": is a directory"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--json", file.resolve("rows.json").toString()}, "--json " + file.resolve("rows.json")},
        {new String[] {"--shape", "lstm:1:0:8:10"}, "--shape 'lstm:1:0:8:10': hidden_size must be in"},
        {new String[] {"--shape", "lstm:1:8:0:10"}, "--shape 'lstm:1:8:0:10': B must be at least 1, found 0"},
        {new String[] {"--cells", "gru", "--hidden", "8", "--steps", "0", "--no-large", "--no-latency"},
            "shape gru:1:8:64:0 (from --cells, --input, --hidden, --batch, --steps): T must be at least 1"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--runs", "0"}, "--runs must be at least 1, found 0"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--spark", "--spark-steps", "5"},
            "--spark-steps must be more than --spark-warmup + 1 (5), found 5"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--devices", "jvm,foo"}, "--devices: unknown device 'foo'", "reference"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--spark", "--master", "bogus"}, "--master bogus: not a master URL"},
        {new String[] {"--shape", "lstm:1:8:4:5", "--spark", "--master", "local[2]", "--spark-partitions", "0,20"},
            "--spark-partitions: 20 under --spark-sync barrier", "local[2] runs 2"},
        {new String[] {"--shape", "rnn:2:8:4:5", "--spark"}, "no shape has F = 1", "rnn:2:8:4:5"},
        // train refuses V > B (each virtual partition holds at least one sequence); bench used to time 64 and say so
        {new String[] {"--cells", "lstm", "--hidden", "8", "--no-large", "--no-latency", "--virtual-partitions", "65"},
            "--virtual-partitions: must be at most --batch (64", "found 65"},
        {new String[] {"--shape", "lstm:1:8:3:4", "--virtual-partitions", "4"},
            "--virtual-partitions: must be at most the batch B = 3 of --shape 'lstm:1:8:3:4'", "found 4"},
        // the same shape spelt otherwise (case, a leading zero) is the same batch: it ran with V = B (an auditor's find)
        {new String[] {"--shape", "LSTM:1:8:03:4", "--virtual-partitions", "4"},
            "--virtual-partitions: must be at most the batch B = 3 of --shape 'LSTM:1:8:03:4'", "found 4"},
        // --shard-cache: the rule broken named with its value, and local-cluster's executors (other JVMs) refused
        // before its dataset is written, not after a minute with a stack trace (a user audit)
        {new String[] {"--shard-cache", "--cache-ratio", "0.5"}, "--shard-cache: --cache-ratio must be > 1, found 0.5"},
        // the transform table is keys x hours, 2 hours a key at least: 100 rows over 500 keys ran 1,000 rows
        {new String[] {"--transform", "--transform-keys", "500", "--transform-rows", "100"},
            "--transform: --transform-rows must be ≥ 2 × --transform-keys (1000: 2 hours a key), found 100"},
        {new String[] {"--transform", "--transform-hidden", "0"}, "--transform: --transform-hidden must be ≥ 1, found 0"},
        // --prep-table: prep's windows are T = 48 plus the next-step target, 49 hours a key; 100 rows over 10 keys
        // failed after writing the table, naming prep's --steps and --min-steps (a user audit)
        {new String[] {"--prep-table", "--table-rows", "100", "--table-keys", "10"},
            "--prep-table: --table-rows must be ≥ 49 × --table-keys (490: a window of T = 48 hours and the next one a key),"
                + " found 100"},
        // hours a key are an int: 3·10^9 rows over one key passed the 49-hour rule and gave negative hours
        {new String[] {"--prep-table", "--table-rows", "3000000000", "--table-keys", "1"},
            "--prep-table: --table-rows / --table-keys must be at most 2147483647 hours a key, found 3000000000"},
        {new String[] {"--prep-table", "--table-keys", "0", "--runs", "0"},
            "--prep-table: --runs must be ≥ 1, found 0; --table-keys must be ≥ 1, found 0"},
        // --exchange: the rules broken, each with its value (it listed every rule: a user audit)
        {new String[] {"--exchange", "--exchange-partitions", "2,0", "--exchange-steps", "0"},
            "--exchange: --exchange-steps must be ≥ 1, found 0; --exchange-partitions must be in 1..64, found 0"},
        {new String[] {"--exchange", "--exchange-partitions", "65", "--exchange-layers", "0"},
            "--exchange: --exchange-partitions must be in 1..64, found 65; --exchange-layers must be ≥ 1, found 0"},
        {new String[] {"--shard-cache", "--master", "local-cluster[2,1,1024]"},
            "--shard-cache: --master must be local, local[N] or local[*]", "found local-cluster[2,1,1024]"},
    };
    for (Object[] c : cases) {
      String[] own = (String[]) c[0];
      String[] args = new String[1 + quick.length + own.length];
      args[0] = "bench";
      System.arraycopy(quick, 0, args, 1, quick.length);
      System.arraycopy(own, 0, args, 1 + quick.length, own.length);
      InferenceCommandsTest.Run r = InferenceCommandsTest.run(args);
      assertEquals(2, r.code(), String.join(" ", own) + ": " + r.err());
      for (int i = 1; i < c.length; i++) {
        assertTrue(r.err().contains((String) c[i]), String.join(" ", own) + ": lacks '" + c[i] + "': " + r.err());
      }
      assertFalse(r.out().contains("GFLOP/s"), "refused before the table: " + r.out());
    }
  }

  @Test
  void smallRatiosKeepTheirDigits() {
    assertEquals("1.50", BenchCommand.ratio(1.5));
    assertEquals("0.0100", BenchCommand.ratio(0.00999999));
    assertEquals("0.00234", BenchCommand.ratio(0.00234));
    assertEquals("0.00", BenchCommand.ratio(0));
  }

  /**
   * A call's results by hand (LSTM H = 256, F = O = 1, B = 64: 4·256·(1 + 256 + 2) + 257 = 265,473
   * parameters, 8 bytes each, and h and c of 64 × 256 floats; RNN H = 64: 64·67 + 65 = 4,353), and
   * the bench's own allocations of 2026-12-02: 2,259 and 52 kB a call where the JIT intrinsified
   * every vector, 7,176 and 4,865 kB where it left some boxed.
   */
  @Test
  void boxedVectorsAreToldFromTheResultsAllocation() {
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, 1, 256, 1, Mode.SEQ2SEQ, LossType.MSE);
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 64, 1, Mode.SEQ2SEQ, LossType.MSE);
    assertEquals(265_473L * 8 + 2L * 64 * 256 * 4, BenchCommand.resultBytes(lstm, 64, 50, false, 0));
    assertEquals(4_353L * 8 + 64L * 64 * 4, BenchCommand.resultBytes(rnn, 64, 50, false, 0));
    assertEquals(50L * 64 * 4 + 2L * 64 * 256 * 4, BenchCommand.resultBytes(lstm, 64, 50, true, 0)); // forward: T·B outputs
    assertNull(BenchCommand.boxedVectorsWarning(2_259_000, BenchCommand.resultBytes(lstm, 64, 50, false, 0)));
    assertNull(BenchCommand.boxedVectorsWarning(52_000, BenchCommand.resultBytes(rnn, 64, 50, false, 0)));
    String warning = BenchCommand.boxedVectorsWarning(7_176_000, BenchCommand.resultBytes(lstm, 64, 50, false, 0));
    assertTrue(warning != null && warning.contains("7176 kB") && warning.contains("boxed"), String.valueOf(warning));
    assertTrue(BenchCommand.boxedVectorsWarning(4_865_000, BenchCommand.resultBytes(rnn, 64, 50, false, 0)) != null);
    // bench --virtual-partitions 16 at LSTM H = 64 (2026-12-04): 337 kB a call, an unboxed JVM; the
    // tree's root (17,217 float64s) and its five range buffers of 4,096 float64s, and h and c
    ModelConfig lstm64 = new ModelConfig(CellType.LSTM, 1, 1, 64, 1, Mode.SEQ2SEQ, LossType.MSE);
    assertEquals(17_217L * 8 + 5L * 4096 * 8 + 2L * 64 * 64 * 4, BenchCommand.resultBytes(lstm64, 64, 50, false, 16));
    assertNull(BenchCommand.boxedVectorsWarning(337_000, BenchCommand.resultBytes(lstm64, 64, 50, false, 16)));
    // and a boxed one: the least boxing seen (the RNN step's, 49,152 bytes a time step: 2,458 kB at T = 50) on top of the tree's
    assertNotNull(BenchCommand.boxedVectorsWarning(2_800_000, BenchCommand.resultBytes(lstm64, 64, 50, false, 16)));
  }

  /**
   * bench --prep-table end to end on the smallest table it takes: 1 key × 60 hours. prep's windows
   * are T = 48 a stride of 24 apart with the next-step target, so ⌊(60 − 48 − 1) / 24⌋ + 1 = 1
   * window in 1 shard (no validation under 10 keys). Without --work its temporary folder (the
   * table, Spark's sorted copy, the dataset) is deleted at the end; it stayed in /tmp.
   */
  @Test
  void prepTableRunsOnATinyTableAndLeavesNoTemporaryFolder() throws IOException {
    Path tmpdir = Path.of(System.getProperty("java.io.tmpdir"));
    List<Path> before = benchFolders(tmpdir);
    Path json = tmp.resolve("prep-table.json");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("bench", "--prep-table", "--table-rows", "60", "--table-keys", "1",
        "--runs", "1", "--master", "local[1]", "--json", json.toString());
    assertEquals(0, r.code(), r.err());
    Map<?, ?> row = (Map<?, ?>) ((List<?>) Json.parse(Files.readString(json))).get(0);
    assertEquals("prep_table", row.get("kind"));
    assertEquals(60L, ((Number) row.get("rows")).longValue());
    assertEquals(1L, ((Number) row.get("sequences")).longValue(), row.toString());
    assertEquals(1L, ((Number) row.get("shards")).longValue(), row.toString());
    assertEquals(before, benchFolders(tmpdir), "the bench's temporary folder is gone");
  }

  private static List<Path> benchFolders(Path tmpdir) throws IOException {
    try (var s = Files.list(tmpdir)) {
      return s.filter(p -> p.getFileName().toString().startsWith("spark-rnn-bench-table")).sorted().toList();
    }
  }
}
