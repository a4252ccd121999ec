package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Two builds of the JVM engine in one JVM, their calls alternated in short windows: an A/B for a
 * host whose speed drifts. On a shared VM one thread's rate moved by a third between JVMs and
 * within one (docs/PERFORMANCE.md, "Two speeds of the same code"), so builds timed in separate
 * JVMs, even alternated, compare host states as much as code. Here each build's classes (a copy of
 * {@code kernel/target/classes}) load in a class loader of their own, each with its own engine,
 * batch and JIT-compiled code, and every round times A then B or B then A for {@code window}
 * seconds each; the ratio B/A is taken per round, so a drift of the host between rounds cancels.
 *
 * <pre>
 * cp -r kernel/target/classes /tmp/a    # the build before the change
 * …change, mvn -o -q -pl kernel compile…
 * java --add-modules=jdk.incubator.vector -cp kernel/target/classes io.sparkrnn.kernel.bench.AbBench \
 *     a=/tmp/a b=kernel/target/classes cell=lstm H=64 B=32 T=50 mode=forward threads=1 rounds=40 window=0.25
 * </pre>
 * prints each build's median seq/s and the median and quartiles of B/A over the rounds; run it
 * again with a and b swapped (a class loaded first can compile in another order). {@code json=FILE}
 * also writes them. One layer, F inputs, O = 1, seq2seq, mse, full-length sequences
 * ({@link Batch#random}). Only the engine's classes come from a and b (this class from the class
 * path; the JDK and the Vector API module from the JVM's own loaders): run it with
 * {@code --add-modules=jdk.incubator.vector}, without which both builds run their scalar kernels.
 * {@code threads} is the engine's thread count as given (not capped at the cores).
 */
public final class AbBench {
  private AbBench() {}

  /** One build's engine, parameters and batch, in the class loader of that build; {@link #run} is one call. */
  public static final class Calls implements Runnable {
    private final JvmEngine engine;
    private final Params params;
    private final Batch batch;
    private final boolean forward;

    public Calls(Map<String, String> a) {
      ModelConfig config = new ModelConfig(CellType.parse(a.get("cell")), 1, Integer.parseInt(a.get("F")),
          Integer.parseInt(a.get("H")), 1, Mode.SEQ2SEQ, LossType.MSE);
      params = Params.initialize(config, 1);
      batch = Batch.random(config, Integer.parseInt(a.get("T")), Integer.parseInt(a.get("B")), 2);
      forward = a.get("mode").equals("forward");
      engine = new JvmEngine(MathKernels.best(), Integer.parseInt(a.get("threads")));
    }

    @Override
    public void run() {
      if (forward) {
        engine.forward(params, batch, null);
      } else {
        engine.lossAndGradient(params, batch, null);
      }
    }
  }

  /**
   * A {@link Calls} over the engine classes under {@code dir}, in a class loader of its own whose
   * parent is the platform class loader (so nothing of the engine comes from the class path).
   * {@link Calls} itself is defined there from this class path's copy, so a build from before this
   * class existed can be timed too, and both builds are driven by the same code.
   */
  static Runnable load(Path dir, Map<String, String> a) {
    if (!Files.isRegularFile(dir.resolve(JvmEngine.class.getName().replace('.', '/') + ".class"))) {
      throw new BadInputException(dir + ": not a build's classes (no " + JvmEngine.class.getName() + "; copy kernel/target/classes)");
    }
    String resource = Calls.class.getName().replace('.', '/') + ".class";
    try (InputStream in = AbBench.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(resource + " is not on the class path");
      }
      BuildLoader loader = new BuildLoader(dir.toUri().toURL(), in.readAllBytes());
      Class<?> calls = loader.loadClass(Calls.class.getName());
      return (Runnable) calls.getConstructor(Map.class).newInstance(a);
    } catch (IOException e) {
      throw new UncheckedIOException("loading the engine from " + dir + ": " + e.getMessage(), e);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("loading the engine from " + dir + ": " + e, e);
    }
  }

  /** One build's classes from its directory, and {@link Calls} from the bytes given. */
  private static final class BuildLoader extends URLClassLoader {
    private final byte[] calls;

    BuildLoader(URL dir, byte[] calls) {
      super(new URL[] {dir}, ClassLoader.getPlatformClassLoader());
      this.calls = calls;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      if (name.equals(Calls.class.getName())) {
        return defineClass(name, calls, 0, calls.length);
      }
      return super.findClass(name);
    }
  }

  /** Seq/s of each build per round, [2][rounds]: A then B in even rounds, B then A in odd ones. */
  static double[][] alternate(Runnable a, Runnable b, int batch, int rounds, double windowSeconds, double warmupSeconds) {
    Runnable[] builds = {a, b};
    long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
    while (System.nanoTime() < warmEnd) {
      a.run();
      b.run();
    }
    double[][] rates = new double[2][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int j = 0; j < 2; j++) {
        int i = r % 2 == 0 ? j : 1 - j;
        long start = System.nanoTime();
        long end = start + (long) (windowSeconds * 1e9);
        long now;
        int calls = 0;
        do {
          builds[i].run();
          calls++;
          now = System.nanoTime();
        } while (now < end);
        rates[i][r] = calls * (double) batch / ((now - start) / 1e9);
      }
    }
    return rates;
  }

  /** The q-quantile of sorted values, interpolated between the two nearest (so the median of an even count is the mean of the middle two). */
  public static double quantile(double[] sorted, double q) {
    double at = q * (sorted.length - 1);
    int lo = (int) Math.floor(at);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
  }

  public static void main(String[] args) {
    try {
      compare(args);
    } catch (BadInputException | NumberFormatException e) {
      System.err.println("AbBench: " + e.getMessage());
      System.exit(2);
    }
  }

  private static void compare(String[] args) {
    Map<String, String> a = new LinkedHashMap<>();
    for (String[] kv : new String[][] {{"a", ""}, {"b", ""}, {"cell", "lstm"}, {"F", "1"}, {"H", "64"}, {"B", "32"}, {"T", "50"},
        {"mode", "forward"}, {"threads", "1"}, {"rounds", "40"}, {"window", "0.25"}, {"warmup", "4"}, {"json", ""}}) {
      a.put(kv[0], kv[1]);
    }
    AparapiBench.putKeyValues(args, a);
    if (a.get("a").isEmpty() || a.get("b").isEmpty()) {
      throw new BadInputException("a=DIR and b=DIR are needed: two builds' kernel classes (copies of kernel/target/classes)");
    }
    if (!a.get("mode").equals("forward") && !a.get("mode").equals("train")) {
      throw new BadInputException("mode must be forward or train, found " + a.get("mode"));
    }
    // Every key checked here, with the class path's classes: a bad one thrown inside a build's own
    // class loader would come back as a reflective failure (exit 1), not as bad input (exit 2).
    Function<String, Integer> positive = key -> {
      int v;
      try {
        v = Integer.parseInt(a.get(key));
      } catch (NumberFormatException e) {
        throw new BadInputException(key + " must be a whole number, found '" + a.get(key) + "'");
      }
      if (v < 1) {
        throw new BadInputException(key + " must be at least 1, found " + v);
      }
      return v;
    };
    Function<String, Double> seconds = key -> {
      double v;
      try {
        v = Double.parseDouble(a.get(key));
      } catch (NumberFormatException e) {
        throw new BadInputException(key + " must be a number of seconds, found '" + a.get(key) + "'");
      }
      if (!(v >= 0) || Double.isInfinite(v)) {
        throw new BadInputException(key + " must be 0 or more seconds, found " + a.get(key));
      }
      return v;
    };
    int rounds = positive.apply("rounds");
    int batch = positive.apply("B");
    new ModelConfig(CellType.parse(a.get("cell")), 1, positive.apply("F"), positive.apply("H"), 1, Mode.SEQ2SEQ, LossType.MSE);
    positive.apply("T");
    positive.apply("threads");
    double window = seconds.apply("window");
    double warmup = seconds.apply("warmup");
    Path json = a.get("json").isEmpty() ? null : Path.of(a.get("json")).toAbsolutePath();
    if (json != null && !Files.isDirectory(json.getParent())) {
      throw new BadInputException("json=" + a.get("json") + ": its directory " + json.getParent() + " does not exist");
    }
    Runnable runA = load(Path.of(a.get("a")), a);
    Runnable runB = load(Path.of(a.get("b")), a);
    double[][] rates = alternate(runA, runB, batch, rounds, window, warmup);
    double[] ratio = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      ratio[r] = rates[1][r] / rates[0][r];
    }
    double[] sa = rates[0].clone();
    double[] sb = rates[1].clone();
    Arrays.sort(sa);
    Arrays.sort(sb);
    Arrays.sort(ratio);
    String shape = String.format(Locale.ROOT, "%s F=%s H=%s B=%s T=%s %s, %s thread(s), %d rounds of %s s", a.get("cell"), a.get("F"),
        a.get("H"), a.get("B"), a.get("T"), a.get("mode"), a.get("threads"), rounds, a.get("window"));
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("shape", shape);
    row.put("a", a.get("a"));
    row.put("b", a.get("b"));
    row.put("a_median_seq_per_s", quantile(sa, 0.5));
    row.put("b_median_seq_per_s", quantile(sb, 0.5));
    row.put("ratio_median", quantile(ratio, 0.5));
    row.put("ratio_q1", quantile(ratio, 0.25));
    row.put("ratio_q3", quantile(ratio, 0.75));
    System.out.printf(Locale.ROOT, "%s%n  A %s: median %.0f seq/s%n  B %s: median %.0f seq/s%n  B/A per round: median %.3f,"
        + " quartiles %.3f–%.3f%n", shape, a.get("a"), row.get("a_median_seq_per_s"), a.get("b"), row.get("b_median_seq_per_s"),
        row.get("ratio_median"), row.get("ratio_q1"), row.get("ratio_q3"));
    if (json != null) {
      try {
        Files.writeString(json, Json.writePretty(row) + "\n", StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("json=" + a.get("json") + ": " + e.getMessage(), e);
      }
    }
  }
}
