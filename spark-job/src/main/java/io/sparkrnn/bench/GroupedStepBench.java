package io.sparkrnn.bench;

import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A training step as {@code train} runs it against the step {@code bench} times, in one JVM, in
 * alternating windows: {@code bench}'s row is {@code lossAndGradient} on P = threads slices;
 * {@code train}'s task calls {@code lossAndGradients} over the step's V virtual partitions (groups of
 * about B/V sequences, 4 at the defaults B = 64, V = 16) and adds them up the fixed tree
 * ({@link GradientTask#wholeBatchStep}). Prints each one's median ms per step
 * and the median per-round ratio (the host's drift cancels within a round):
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp spark-job/target/classes:kernel/target/classes:$(cat spark-job/target/classpath.txt) \
 *     io.sparkrnn.bench.GroupedStepBench cell=lstm H=256 B=64 T=50 V=16 threads=2 rounds=12 window=0.4
 * </pre>
 */
public final class GroupedStepBench {
  private GroupedStepBench() {}

  static final Map<String, String> DEFAULTS = Map.of("cell", "lstm", "F", "1", "H", "64", "B", "64", "T", "50", "V", "16", "threads", "2",
      "rounds", "12", "window", "0.4");

  public static void main(String[] args) {
    Map<String, String> a = new LinkedHashMap<>(DEFAULTS);
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq < 1 || !DEFAULTS.containsKey(arg.substring(0, eq))) {
        throw new BadInputException("GroupedStepBench: expected key=value with a key of " + DEFAULTS.keySet() + ", found " + arg);
      }
      a.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    System.out.println(run(a));
  }

  /** The report: both medians and the ratio, one line each. */
  static String run(Map<String, String> a) {
    int B = Integer.parseInt(a.get("B"));
    int V = Integer.parseInt(a.get("V"));
    int rounds = Integer.parseInt(a.get("rounds"));
    long window = (long) (Double.parseDouble(a.get("window")) * 1e9);
    ModelConfig config = new ModelConfig(CellType.parse(a.get("cell")), 1, Integer.parseInt(a.get("F")), Integer.parseInt(a.get("H")), 1,
        Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, Integer.parseInt(a.get("T")), B, 2);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), Integer.parseInt(a.get("threads")))) {
      Runnable bench = () -> engine.lossAndGradient(params, batch, null);
      Runnable train = GradientTask.wholeBatchStep(engine, params, batch, V);
      Runnable[] calls = {bench, train};
      for (int w = 0; w < 2; w++) { // warm-up: both compiled before the first timed window
        for (Runnable c : calls) {
          time(c, window);
        }
      }
      double[][] ms = new double[2][rounds];
      double[] ratio = new double[rounds];
      for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < 2; k++) {
          int i = (round % 2 == 0) ? k : 1 - k; // both orders
          ms[i][round] = time(calls[i], window);
        }
        ratio[round] = ms[1][round] / ms[0][round];
      }
      String shape = String.format(Locale.ROOT, "%s F=%s H=%s B=%d T=%s, %s threads", a.get("cell"), a.get("F"), a.get("H"), B, a.get("T"),
          a.get("threads"));
      return String.format(Locale.ROOT, "%s%n  bench's step (lossAndGradient, one slice per thread): median %.3f ms%n"
          + "  train's step (lossAndGradients over V=%d groups, then the combine tree): median %.3f ms%n"
          + "  train / bench per round: median %.3f, quartiles %.3f–%.3f over %d rounds",
          shape, TrainingMetrics.median(ms[0]), V, TrainingMetrics.median(ms[1]), TrainingMetrics.median(ratio), quantile(ratio, 0.25), quantile(ratio, 0.75), rounds);
    }
  }

  /** Mean ms per call over calls made for at least {@code nanos}. */
  static double time(Runnable call, long nanos) {
    int n = 0;
    long start = System.nanoTime();
    long now;
    do {
      call.run();
      n++;
      now = System.nanoTime();
    } while (now - start < nanos);
    return (now - start) / 1e6 / n;
  }

  /** The value at rank round(q·(n − 1)) of the sorted values: the quartiles' rough bounds. */
  static double quantile(double[] v, double q) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[(int) Math.round(q * (s.length - 1))];
  }
}
