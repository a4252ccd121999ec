package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.aparapi.ResolvedDevice;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceInfo;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One prepared device run, for a machine lent for minutes (an NVIDIA GPU host; see
 * docs/PERFORMANCE.md, "A GPU run"): it builds nothing and needs only the kernel jar, Aparapi and a
 * Java runtime. In order:
 * <ol>
 *   <li>lists the OpenCL devices;
 *   <li>checks the Aparapi engine on {@code device} against the float64 reference on fresh random
 *       inputs: every cell, seq2seq/mse and seq2one/cross_entropy, 1 and 2 layers, uneven lengths,
 *       and one bench-size LSTM; loss and every parameter's gradient within 1e-4 norm-wise, and
 *       every launch on the named device (a fallback throws);
 *   <li>times training steps (forward, loss, BPTT) at the shapes of shared/GPU.md's cuDNN table:
 *       median of {@code runs} after {@code warmup}, at most about {@code maxSeconds} per shape;
 *   <li>writes {@code gpu-check.json} (the rows, with the yardstick's figures beside them when
 *       {@code yardstick=FILE} names the JSON the cuDNN script wrote) and {@code gpu-check.md} to
 *       {@code out}, and prints the table last.
 * </ol>
 * Exit status 0 when every check passed, 1 when one failed (the timings still run), 2 on bad
 * arguments or no such device.
 *
 * <p>{@code java --add-modules=jdk.incubator.vector -cp 'lib/*' io.sparkrnn.kernel.bench.GpuCheck
 * device=gpu out=DIR [runs=7] [warmup=3] [maxSeconds=20] [shapes=gpu|quick|CELL:F:H:B:T,...] [check=1]
 * [bigCheck=1] [jvm=0] [yardstick=FILE]}
 */
public final class GpuCheck {
  /** Norm-wise relative error allowed between float32 and the float64 reference (as in the engines' tests). */
  static final double REL_TOL = 1e-4;
  /** Norms below this are zero at float32 precision. */
  static final double NORM_FLOOR = 1e-6;

  /**
   * The shapes of shared/GPU.md's cuDNN table (cell:F:H:B:T): the two of issue 8's target first,
   * then the rest from small to large, so that a run cut short by its time budget has the ones that
   * matter most.
   */
  static final List<String> GPU_SHAPES = List.of("lstm:1:256:64:50", "lstm:64:256:256:100", "rnn:1:64:64:50", "lstm:1:64:64:50",
      "gru:1:64:64:50", "rnn:1:256:64:50", "gru:1:256:64:50", "lstm:128:512:1024:50", "lstm:256:1024:256:100");
  /** A run of seconds, for trying the script on a CPU. */
  static final List<String> QUICK_SHAPES = List.of("rnn:1:64:64:50", "lstm:1:64:64:50", "gru:1:64:64:50");

  private GpuCheck() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out));
  }

  /** Runs the check; returns the exit status. */
  static int run(String[] args, PrintStream out) {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("device", "gpu");
    a.put("out", "gpu-check-out");
    a.put("runs", "7");
    a.put("warmup", "3");
    a.put("maxSeconds", "20");
    a.put("shapes", "gpu");
    a.put("check", "1");
    a.put("bigCheck", "1");
    a.put("jvm", "0");
    a.put("yardstick", "");
    a.put("seed", "1");
    a.put("budgetSeconds", "300");
    try {
      AparapiBench.putKeyValues(args, a);
    } catch (IllegalArgumentException e) {
      out.println("error: " + e.getMessage());
      return 2;
    }
    String device = a.get("device");
    Path outDir = Path.of(a.get("out"));
    int runs = Integer.parseInt(a.get("runs"));
    int warmup = Integer.parseInt(a.get("warmup"));
    double maxSeconds = Double.parseDouble(a.get("maxSeconds"));
    double budgetSeconds = Double.parseDouble(a.get("budgetSeconds"));
    long begun = System.nanoTime();
    long seed = Long.parseLong(a.get("seed"));
    List<String> shapes = switch (a.get("shapes")) {
      case "gpu" -> GPU_SHAPES;
      case "quick" -> QUICK_SHAPES;
      default -> Arrays.asList(a.get("shapes").split(","));
    };

    out.printf("spark-rnn GPU check, %s, %s %s, %d cores%n", ZonedDateTime.now().withNano(0), System.getProperty("java.vm.name"),
        System.getProperty("java.version"), Runtime.getRuntime().availableProcessors());
    out.println("OpenCL devices:");
    for (DeviceInfo d : Devices.list()) {
      out.println("  " + d.describe());
    }
    ResolvedDevice resolved;
    try {
      resolved = Devices.resolve(device);
    } catch (RuntimeException e) {
      out.println("error: " + e.getMessage());
      return 2;
    }
    out.println("device=" + device + ": " + resolved.info().describe() + " [" + resolved.reason() + "]");

    Map<String, Object> report = new LinkedHashMap<>();
    report.put("date", ZonedDateTime.now().withNano(0).toString());
    report.put("device", resolved.info().describe());
    boolean ok = true;
    if (a.get("check").equals("1")) {
      List<Map<String, Object>> checks = correctness(resolved, a.get("bigCheck").equals("1"), seed, out);
      report.put("checks", checks);
      ok = checks.stream().allMatch(c -> Boolean.TRUE.equals(c.get("pass")));
      out.println(ok ? "correctness: all " + checks.size() + " cases within " + REL_TOL + " of the float64 reference, every launch on "
          + device : "correctness: FAILED (see above)");
    }

    Yardstick yardstick = readYardstick(a.get("yardstick"), out);
    report.put("yardstick", yardstick.source());
    List<Map<String, Object>> rows = new ArrayList<>();
    report.put("rows", rows);
    if (!save(outDir, report, rows, resolved, yardstick, out)) {
      return 1;
    }
    out.println();
    out.println("timing: median of up to " + runs + " after up to " + warmup + " warm-up calls, about " + maxSeconds
        + " s a shape at most, " + budgetSeconds + " s in all");
    for (String spec : shapes) {
      String[] p = spec.trim().split(":");
      ModelConfig config = new ModelConfig(CellType.parse(p[0]), 1, Integer.parseInt(p[1]), Integer.parseInt(p[2]), 1, Mode.SEQ2SEQ,
          LossType.MSE);
      int B = Integer.parseInt(p[3]);
      int T = Integer.parseInt(p[4]);
      List<String> engines = a.get("jvm").equals("1") ? List.of(device, "jvm") : List.of(device);
      for (String e : engines) {
        Map<String, Object> row;
        if ((System.nanoTime() - begun) / 1e9 > budgetSeconds) {
          row = shapeRow(config, B, T, e);
          row.put("error", "skipped: the run's budget of " + budgetSeconds + " s was spent");
          row.put("seq_per_s", 0.0);
          row.put("gflops", 0.0);
        } else {
          row = time(config, B, T, e, resolved, warmup, runs, maxSeconds, seed);
        }
        Double cudnn = yardstick.seqPerS().get(spec.trim());
        if (cudnn != null && !row.containsKey("error")) {
          row.put("cudnn_seq_per_s", cudnn);
          row.put("ratio_to_cudnn", (Double) row.get("seq_per_s") / cudnn);
        }
        rows.add(row);
        out.println("  " + line(row));
        // after every shape: a run cut short (the lent machine's minutes) keeps what it measured
        if (!save(outDir, report, rows, resolved, yardstick, out)) {
          return 1;
        }
      }
    }
    out.println();
    out.print(table(rows, resolved.info().describe(), yardstick.source()));
    return ok ? 0 : 1;
  }

  /** Writes gpu-check.json and gpu-check.md as they stand; false (and a message) when the folder cannot be written. */
  static boolean save(Path outDir, Map<String, Object> report, List<Map<String, Object>> rows, ResolvedDevice resolved,
      Yardstick yardstick, PrintStream out) {
    try {
      Files.createDirectories(outDir);
      write(outDir.resolve("gpu-check.json"), Json.writePretty(report) + "\n");
      write(outDir.resolve("gpu-check.md"), table(rows, resolved.info().describe(), yardstick.source()));
      return true;
    } catch (IOException e) {
      out.println("error: cannot write to " + outDir + ": " + e.getMessage());
      return false;
    }
  }

  /** Every cell × (seq2seq mse, seq2one cross_entropy) × (1, 2 layers) with uneven lengths, then one bench-size LSTM. */
  static List<Map<String, Object>> correctness(ResolvedDevice device, boolean big, long seed, PrintStream out) {
    List<Map<String, Object>> checks = new ArrayList<>();
    long s = seed;
    for (CellType cell : CellType.values()) {
      for (int layers : new int[] {1, 2}) {
        checks.add(check(device, new ModelConfig(cell, layers, 3, 24, 2, Mode.SEQ2SEQ, LossType.MSE), 5, 7, true, s++, out));
        checks.add(check(device, new ModelConfig(cell, layers, 3, 24, 4, Mode.SEQ2ONE, LossType.CROSS_ENTROPY), 5, 7, true, s++, out));
      }
    }
    if (big) {
      checks.add(check(device, new ModelConfig(CellType.LSTM, 1, 1, 256, 1, Mode.SEQ2SEQ, LossType.MSE), 64, 50, false, s, out));
    }
    return checks;
  }

  static Map<String, Object> check(ResolvedDevice device, ModelConfig config, int B, int T, boolean lengths, long seed, PrintStream out) {
    Map<String, Object> row = new LinkedHashMap<>();
    String name = String.format(Locale.ROOT, "%s L=%d F=%d H=%d O=%d %s %s B=%d T=%d%s", config.cell().id(), config.numLayers(),
        config.inputSize(), config.hiddenSize(), config.outputSize(), config.mode().id(), config.loss().id(), B, T,
        lengths ? " uneven lengths" : "");
    row.put("case", name);
    Params params = Params.initialize(config, seed);
    Batch batch = batch(config, B, T, lengths, seed + 1000);
    try (AparapiEngine engine = new AparapiEngine(device); ReferenceEngine reference = new ReferenceEngine()) {
      BpttResult got = engine.lossAndGradient(params, batch, null);
      BpttResult want = reference.lossAndGradient(params, batch, null);
      double lossErr = Math.abs(got.gradients().lossSum() - want.gradients().lossSum())
          / Math.max(Math.abs(want.gradients().lossSum()), NORM_FLOOR);
      double worst = 0;
      String worstName = "";
      double[] g = got.gradients().gradient();
      double[] w = want.gradients().gradient();
      for (ParamSpec spec : params.layout().specs()) {
        double err = relativeError(w, g, spec.offset(), spec.size());
        if (err > worst) {
          worst = err;
          worstName = spec.name();
        }
      }
      row.put("loss_rel_err", lossErr);
      row.put("grad_rel_err", worst);
      row.put("worst_param", worstName);
      row.put("ran_on", engine.executionReport());
      row.put("pass", lossErr <= REL_TOL && worst <= REL_TOL && engine.lastCallRanOnOpenCL());
    } catch (RuntimeException e) {
      row.put("error", e.toString());
      row.put("pass", false);
    }
    out.printf(Locale.ROOT, "  %-4s %s: loss %.1e, gradient %.1e (%s)%s%n", Boolean.TRUE.equals(row.get("pass")) ? "ok" : "FAIL", name,
        row.getOrDefault("loss_rel_err", Double.NaN), row.getOrDefault("grad_rel_err", Double.NaN), row.getOrDefault("worst_param", ""),
        row.containsKey("error") ? " " + row.get("error") : "");
    return row;
  }

  /** ‖want − got‖ / max(‖want‖, floor) over [off, off + n). */
  static double relativeError(double[] want, double[] got, int off, int n) {
    double d = 0;
    double w = 0;
    for (int i = off; i < off + n; i++) {
      d += (want[i] - got[i]) * (want[i] - got[i]);
      w += want[i] * want[i];
    }
    return Math.sqrt(d) / Math.max(Math.sqrt(w), NORM_FLOOR);
  }

  /** Inputs and targets ~ U(−1, 1) or uniform classes; with lengths, sequence b is valid for T − (b mod 3) steps, at least 1. */
  static Batch batch(ModelConfig config, int B, int T, boolean lengths, long seed) {
    Batch full = Batch.random(config, T, B, seed);
    if (!lengths) {
      return full;
    }
    int[] len = new int[B];
    for (int b = 0; b < B; b++) {
      len[b] = Math.max(1, T - b % 3);
    }
    SplittableRandom r = new SplittableRandom(seed + 1);
    if (r.nextInt(2) == 0) {
      len[0] = T; // the longest sequence needs not come first
    }
    return new Batch(T, B, config.inputSize(), full.x(), full.targets(), full.classes(), len);
  }

  static Map<String, Object> shapeRow(ModelConfig config, int B, int T, String device) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("cell", config.cell().id());
    row.put("hidden_size", config.hiddenSize());
    row.put("input_size", config.inputSize());
    row.put("batch", B);
    row.put("steps", T);
    row.put("device", device);
    row.put("mode", "kernel");
    return row;
  }

  /**
   * Warm-up calls (up to {@code warmup}, while they take less than half of {@code maxSeconds}; at
   * least one), then timed calls (up to {@code runs}, while the shape stays within
   * {@code maxSeconds}; at least one). The JVM engine warms for 2 s at least: its SIMD code runs
   * interpreted until C2 compiles it.
   */
  static Map<String, Object> time(ModelConfig config, int B, int T, String device, ResolvedDevice resolved, int warmup, int runs,
      double maxSeconds, long seed) {
    Map<String, Object> row = shapeRow(config, B, T, device);
    try (BpttEngine engine = device.equals("jvm") ? new JvmEngine() : new AparapiEngine(resolved)) {
      Params params = Params.initialize(config, seed);
      Batch batch = Batch.random(config, T, B, seed + 1);
      long start = System.nanoTime();
      int calls = 0;
      double minWarmSeconds = device.equals("jvm") ? 2.0 : 0;
      double perCall = 0;
      while (calls < 1 || (calls < warmup && (System.nanoTime() - start) / 1e9 < maxSeconds / 2)
          || (System.nanoTime() - start) / 1e9 < minWarmSeconds) {
        long t0 = System.nanoTime();
        engine.lossAndGradient(params, batch, null);
        perCall = (System.nanoTime() - t0) / 1e9;
        calls++;
      }
      double left = maxSeconds - (System.nanoTime() - start) / 1e9;
      int n = (int) Math.max(1, Math.min(runs, Math.floor(left / Math.max(perCall, 1e-9))));
      AparapiBench.Result r = AparapiBench.bench(engine, params, batch, n);
      row.put("engine", r.executionReport());
      row.put("runs", n);
      row.put("median_ms", r.medianSeconds() * 1e3);
      row.put("min_ms", r.minSeconds() * 1e3);
      row.put("seq_per_s", r.sequencesPerSecond());
      row.put("gflops", r.gflopPerSecond());
      if (engine instanceof AparapiEngine ap) {
        row.put("launches_per_step", r.launchesPerStep());
        row.put("transfer_bytes_per_step", r.transferBytesPerStep());
        row.put("tiling", ap.tiling());
        row.put("on_opencl", ap.lastCallRanOnOpenCL());
      }
      row.put("working_mb", engine.workingBytes() / 1e6);
    } catch (RuntimeException e) {
      row.put("error", e.toString());
      row.put("seq_per_s", 0.0);
      row.put("gflops", 0.0);
    }
    return row;
  }

  /** Sequences/s by shape (cell:F:H:B:T), and where the figures come from. */
  record Yardstick(Map<String, Double> seqPerS, String source) {}

  /**
   * A yardstick file: a JSON list of rows with "shape" (cell:F:H:B:T), "seq_per_s" and, optionally,
   * "source" (cudnn_bench.py writes its own measurement; bin/gpu/gpu-md-yardstick.json holds
   * shared/GPU.md's figures). Empty when none is named or it cannot be read.
   */
  static Yardstick readYardstick(String file, PrintStream out) {
    Map<String, Double> byShape = new LinkedHashMap<>();
    String source = "";
    if (file.isEmpty()) {
      return new Yardstick(byShape, "none");
    }
    try {
      Object parsed = Json.parse(Files.readString(Path.of(file), StandardCharsets.UTF_8));
      if (parsed instanceof List<?> list) {
        for (Object o : list) {
          if (o instanceof Map<?, ?> m && m.get("shape") instanceof String shape && m.get("seq_per_s") instanceof Number n) {
            byShape.put(shape, n.doubleValue());
            if (source.isEmpty() && m.get("source") instanceof String src) {
              source = src;
            }
          }
        }
      }
      source = source.isEmpty() ? file : source;
      out.println("yardstick: " + byShape.size() + " shapes, " + source);
    } catch (IOException | RuntimeException e) {
      out.println("yardstick: none (" + file + ": " + e.getMessage() + ")");
      source = "none";
    }
    return new Yardstick(byShape, source);
  }

  static String line(Map<String, Object> r) {
    if (r.containsKey("error")) {
      return String.format(Locale.ROOT, "%s F=%s H=%s B=%s T=%s on %s: ERROR %s", r.get("cell"), r.get("input_size"), r.get("hidden_size"),
          r.get("batch"), r.get("steps"), r.get("device"), r.get("error"));
    }
    return String.format(Locale.ROOT, "%s F=%s H=%s B=%s T=%s on %s: %.2f ms/step, %.0f seq/s, %.1f GFLOP/s (%s runs)%s", r.get("cell"),
        r.get("input_size"), r.get("hidden_size"), r.get("batch"), r.get("steps"), r.get("device"), (Double) r.get("median_ms"),
        (Double) r.get("seq_per_s"), (Double) r.get("gflops"), r.get("runs"),
        r.containsKey("ratio_to_cudnn") ? String.format(Locale.ROOT, ", %.2f× cuDNN", (Double) r.get("ratio_to_cudnn")) : "");
  }

  static String table(List<Map<String, Object>> rows, String device, String yardstickSource) {
    StringBuilder sb = new StringBuilder();
    sb.append("| cell | F | H | B | T | device | ms/step | seq/s | GFLOP/s | launches/step | host↔device kB/step | cuDNN seq/s | ratio |\n");
    sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Map<String, Object> r : rows) {
      boolean err = r.containsKey("error");
      sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.get("cell"),
          r.get("input_size"),
          r.get("hidden_size"), r.get("batch"), r.get("steps"), r.get("device"),
          err ? (String.valueOf(r.get("error")).startsWith("skipped") ? "skipped" : "error")
              : String.format(Locale.ROOT, "%.2f", (Double) r.get("median_ms")),
          err ? "" : String.format(Locale.ROOT, "%,.0f", (Double) r.get("seq_per_s")),
          err ? "" : String.format(Locale.ROOT, "%.1f", (Double) r.get("gflops")),
          r.containsKey("launches_per_step") ? r.get("launches_per_step") : "",
          r.containsKey("transfer_bytes_per_step")
              ? String.format(Locale.ROOT, "%.1f", ((Number) r.get("transfer_bytes_per_step")).longValue() / 1e3) : "",
          r.containsKey("cudnn_seq_per_s") ? String.format(Locale.ROOT, "%,.0f", (Double) r.get("cudnn_seq_per_s")) : "",
          r.containsKey("ratio_to_cudnn") ? String.format(Locale.ROOT, "%.2f×", (Double) r.get("ratio_to_cudnn")) : ""));
    }
    sb.append("\n").append(device).append("; yardstick: ").append(yardstickSource).append("\n");
    return sb.toString();
  }

  /** Written to a temporary name, then renamed: a run cut short leaves no half file. */
  private static void write(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
