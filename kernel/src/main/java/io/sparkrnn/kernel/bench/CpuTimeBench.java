package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The JVM engine on one thread, timed in that thread's CPU time rather than wall time: on a
 * shared machine another process's load stretches wall time, much less one thread's CPU time, so
 * two builds alternated in fresh JVMs can be compared where `bench` rows cannot. Not a substitute
 * for `bench` (two threads, wall clock): it leaves out the hand-off between threads.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp kernel/target/classes:… io.sparkrnn.kernel.bench.CpuTimeBench \
 *     cell=lstm H=64 B=64 T=50 mode=train seconds=8 warmup=3
 * </pre>
 * runs {@code lossAndGradient} (mode=train) or {@code forward} (mode=forward) in a loop for
 * warmup seconds and until the JIT has compiled nothing for {@code quiet} seconds (1; 0 for the
 * fixed warm-up alone), then for {@code seconds} more, and prints the sequences per second of CPU time
 * of the calls after the warm-up. One layer, F = O = 1, seq2seq, mse, full-length sequences
 * ({@link Batch#random}). mode=peak instead measures this core's ceiling for the engine's matrix
 * products: 16 independent chains of vector fused multiply-adds on registers, no memory traffic,
 * in GFLOP/s of CPU time (2 flops per lane per FMA; {@link HostCeiling}'s chains, which {@code bench}
 * runs on every engine thread at once in wall-clock time beside each row). mode=sigmoid times the engine's σ
 * ({@link MathKernels#sigmoid}: e^x, a divide and an add a lane) over 1,024 floats that stay in L1,
 * in nanoseconds of CPU time per vector of lanes: the activations' own cost, apart from the cells.
 * mode=head times the output head's product ({@link MathKernels#head}, O = 1) over the B·T rows
 * of H floats one thread's forward pass feeds it (B = 32, T = 50: 1,600 rows), in microseconds of
 * CPU time per call; {@code via=gemm} times the same product through gemm, the path before
 * {@code head} had one of its own.
 */
public final class CpuTimeBench {
  private CpuTimeBench() {}

  public static void main(String[] args) {
    Map<String, String> a = new LinkedHashMap<>(Map.of("cell", "lstm", "H", "64", "B", "64", "T", "50", "mode", "train",
        "seconds", "8", "warmup", "3", "quiet", "1", "via", "head"));
    AparapiBench.putKeyValues(args, a);
    String mode = a.get("mode");
    double quiet = Double.parseDouble(a.get("quiet"));
    if (!mode.equals("train") && !mode.equals("forward") && !mode.equals("peak") && !mode.equals("sigmoid") && !mode.equals("head")) {
      throw new BadInputException("mode must be train, forward, peak, sigmoid or head, found " + mode);
    }
    if (mode.equals("peak")) {
      peak(Double.parseDouble(a.get("warmup")), quiet, Double.parseDouble(a.get("seconds")));
      return;
    }
    if (mode.equals("sigmoid")) {
      sigmoid(Double.parseDouble(a.get("warmup")), quiet, Double.parseDouble(a.get("seconds")));
      return;
    }
    if (mode.equals("head")) {
      String via = a.get("via");
      if (!via.equals("head") && !via.equals("gemm")) {
        throw new BadInputException("via must be head or gemm, found " + via);
      }
      head(Integer.parseInt(a.get("B")) * Integer.parseInt(a.get("T")), Integer.parseInt(a.get("H")), via.equals("gemm"),
          Double.parseDouble(a.get("warmup")), quiet, Double.parseDouble(a.get("seconds")));
      return;
    }
    ModelConfig config = new ModelConfig(CellType.parse(a.get("cell")), 1, 1, Integer.parseInt(a.get("H")), 1, Mode.SEQ2SEQ,
        LossType.MSE);
    int batchSize = Integer.parseInt(a.get("B"));
    int steps = Integer.parseInt(a.get("T"));
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, steps, batchSize, 2);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 1)) {
      warmUp(Double.parseDouble(a.get("warmup")), quiet, () -> call(engine, mode, params, batch));
      long end = System.nanoTime() + (long) (Double.parseDouble(a.get("seconds")) * 1e9);
      long cpu0 = threads.getCurrentThreadCpuTime();
      int calls = 0;
      while (System.nanoTime() < end) {
        call(engine, mode, params, batch);
        calls++;
      }
      double cpuSeconds = (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
      System.out.printf(Locale.ROOT, "%s %s H=%d B=%d T=%d: %.0f seq/s of one thread's CPU time (%d calls, %.2f s CPU)%n", mode,
          config.cell().id(), config.hiddenSize(), batchSize, steps, calls * batchSize / cpuSeconds, calls, cpuSeconds);
    }
  }

  /**
   * Runs {@code call} untimed for {@code warmupSeconds}, then until the JIT has compiled nothing for
   * {@code quietSeconds} (key {@code quiet}, 1 s; 0: the fixed warm-up alone, no call at all for
   * warmup=0 quiet=0), at most 30 s more
   * ({@link WarmUp}, as bench's rows): at B = 8 a fixed 5 s left rarely called products compiling
   * into the timed window (JFR: the Vector API's Java fallbacks in its first second).
   */
  private static void warmUp(double warmupSeconds, double quietSeconds, Runnable call) {
    WarmUp w = WarmUp.of(warmupSeconds > 0 ? 1 : 0, warmupSeconds, warmupSeconds + 30, quietSeconds);
    for (int c = 0; w.more(c); c++) {
      call.run();
    }
  }

  /** Sixteen FMA chains (more than the FMA units' latency × ports needs), repeated; the result is printed so none is dead code. */
  private static void peak(double warmupSeconds, double quiet, double seconds) {
    if (!MathKernels.vectorApiAvailable()) {
      throw new BadInputException("mode=peak needs --add-modules=jdk.incubator.vector");
    }
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    float[] sink = new float[1];
    HostCeiling.Chains.run(1_000, sink);
    warmUp(warmupSeconds, quiet, () -> HostCeiling.Chains.run(1_000_000, sink));
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long cpu0 = threads.getCurrentThreadCpuTime();
    long rounds = 0;
    while (System.nanoTime() < end) {
      HostCeiling.Chains.run(1_000_000, sink);
      rounds += 1_000_000;
    }
    long cpuNanos = threads.getCurrentThreadCpuTime() - cpu0;
    int lanes = HostCeiling.Chains.lanes();
    System.out.printf(Locale.ROOT, "peak: %.1f GFLOP/s of one thread's CPU time (16 chains of %d-lane FMAs; checksum %s)%n",
        HostCeiling.gflops(rounds, lanes, cpuNanos), lanes, sink[0]);
  }

  /**
   * σ in place over 1,024 floats, restored from a copy before each pass so the inputs stay spread
   * over [−12, 12] (σ of σ would narrow them to (0, 1)); the copy is timed too (about 1/10 of a pass).
   */
  private static void sigmoid(double warmupSeconds, double quiet, double seconds) {
    MathKernels math = MathKernels.best();
    int n = 1024;
    float[] x = new float[n];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < n; i++) {
      x[i] = (float) (r.nextDouble() * 24 - 12);
    }
    float[] y = new float[n];
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    warmUp(warmupSeconds, quiet, () -> sigmoidPasses(math, x, y, 1_000));
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long cpu0 = threads.getCurrentThreadCpuTime();
    long passes = 0;
    while (System.nanoTime() < end) {
      sigmoidPasses(math, x, y, 1_000);
      passes += 1_000;
    }
    double cpuSeconds = (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
    int lanes = math.lanes(); // 1 under -Dsparkrnn.jvm.kernels=scalar, whatever the hardware has
    System.out.printf(Locale.ROOT, "sigmoid: %.2f ns of one thread's CPU time per %d lanes (%s; %d passes over %d floats; σ(x[0]) = %s)%n",
        cpuSeconds * 1e9 / passes / (n / (double) lanes), lanes, math.describe(), passes, n, y[0]);
  }

  /** The head's product y[r] += Σ_k h[r][k]·w[k] over {@code rows} rows of H, by {@link MathKernels#head} or by gemm. */
  private static void head(int rows, int H, boolean viaGemm, double warmupSeconds, double quiet, double seconds) {
    MathKernels math = MathKernels.best();
    SplittableRandom r = new SplittableRandom(1);
    float[] h = new float[rows * H];
    float[] w = new float[H];
    for (int i = 0; i < h.length; i++) {
      h[i] = (float) r.nextDouble(-1, 1);
    }
    for (int i = 0; i < H; i++) {
      w[i] = (float) r.nextDouble(-1, 1);
    }
    float[] y = new float[rows];
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    warmUp(warmupSeconds, quiet, () -> headCalls(math, rows, H, h, w, y, viaGemm, 100));
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long cpu0 = threads.getCurrentThreadCpuTime();
    long calls = 0;
    while (System.nanoTime() < end) {
      headCalls(math, rows, H, h, w, y, viaGemm, 100);
      calls += 100;
    }
    double cpuSeconds = (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
    System.out.printf(Locale.ROOT, "head via %s: %.2f µs of one thread's CPU time per call of %d rows × H=%d, O=1 (%s; %d calls; y[0] = %s)%n",
        viaGemm ? "gemm" : "head", cpuSeconds * 1e6 / calls, rows, H, math.describe(), calls, y[0]);
  }

  private static void headCalls(MathKernels math, int rows, int H, float[] h, float[] w, float[] y, boolean viaGemm, int calls) {
    for (int c = 0; c < calls; c++) {
      Arrays.fill(y, 0f);
      if (viaGemm) {
        math.gemm(rows, 1, H, h, 0, H, false, w, 0, 1, y, 0, 1);
      } else {
        math.head(rows, 1, H, h, 0, H, w, 0, H, w, 0, y, 0, 1);
      }
    }
  }

  private static void sigmoidPasses(MathKernels math, float[] x, float[] y, int passes) {
    for (int p = 0; p < passes; p++) {
      System.arraycopy(x, 0, y, 0, x.length);
      math.sigmoid(y, 0, y.length);
    }
  }

  private static void call(JvmEngine engine, String mode, Params params, Batch batch) {
    if (mode.equals("train")) {
      engine.lossAndGradient(params, batch, null);
    } else {
      engine.forward(params, batch, null);
    }
  }
}
