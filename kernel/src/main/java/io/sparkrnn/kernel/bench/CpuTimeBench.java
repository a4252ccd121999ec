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
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

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
 * warmup seconds, then for {@code seconds} more, and prints the sequences per second of CPU time
 * of the calls after the warm-up. One layer, F = O = 1, seq2seq, mse, full-length sequences
 * ({@link Batch#random}).
 */
public final class CpuTimeBench {
  private CpuTimeBench() {}

  public static void main(String[] args) {
    Map<String, String> a = new LinkedHashMap<>(Map.of("cell", "lstm", "H", "64", "B", "64", "T", "50", "mode", "train",
        "seconds", "8", "warmup", "3"));
    AparapiBench.putKeyValues(args, a);
    String mode = a.get("mode");
    if (!mode.equals("train") && !mode.equals("forward")) {
      throw new BadInputException("mode must be train or forward, found " + mode);
    }
    ModelConfig config = new ModelConfig(CellType.parse(a.get("cell")), 1, 1, Integer.parseInt(a.get("H")), 1, Mode.SEQ2SEQ,
        LossType.MSE);
    int batchSize = Integer.parseInt(a.get("B"));
    int steps = Integer.parseInt(a.get("T"));
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, steps, batchSize, 2);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 1)) {
      long warmEnd = System.nanoTime() + (long) (Double.parseDouble(a.get("warmup")) * 1e9);
      while (System.nanoTime() < warmEnd) {
        call(engine, mode, params, batch);
      }
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

  private static void call(JvmEngine engine, String mode, Params params, Batch batch) {
    if (mode.equals("train")) {
      engine.lossAndGradient(params, batch, null);
    } else {
      engine.forward(params, batch, null);
    }
  }
}
