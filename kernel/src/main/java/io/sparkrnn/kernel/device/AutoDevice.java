package io.sparkrnn.kernel.device;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code --device auto} by measurement: times a few warm training steps of the run's own shape on
 * each usable engine (an OpenCL GPU where there is one, and the JVM engine) and picks the faster.
 * A GPU is not faster by kind: a weak one, or an immature OpenCL driver, can lose to the JVM
 * engine on many cores. With no OpenCL GPU the JVM engine is the only candidate (PoCL's OpenCL on
 * the CPU is 20–100× slower than it, docs/PERFORMANCE.md) and nothing is timed.
 *
 * <p>Each candidate gets half the budget: 2 untimed calls, then timed calls until its half is
 * spent (at least 1, at most {@link #MAX_TIMED}); its rate is B / the median call. A candidate that
 * fails (an OpenCL build error, say) is reported with its error and not picked; if every candidate
 * fails, the first failure is thrown. The result is cached in this JVM per shape and host, so a
 * second run of the same shape (a Spark ML fit after another) does not time again.
 *
 * <p>The JIT compiles the JVM engine's SIMD code only after some calls, so within a second or two
 * its rate is a lower bound; the choice favours the GPU a little, never the other way round.
 *
 * <p>It times the devices of the JVM it runs in. {@code train} runs it in an executor (a one-task
 * Spark job), since in a cluster the GPUs are the executors' and the driver may have none.
 */
public final class AutoDevice {
  /** Timed calls per candidate, at most. */
  static final int MAX_TIMED = 7;
  /** System property: the whole measurement's budget in seconds (default 2). */
  public static final String BUDGET_PROPERTY = "sparkrnn.auto.budgetSeconds";

  private static final Map<String, Choice> CACHE = new ConcurrentHashMap<>();

  private AutoDevice() {}

  /**
   * One candidate's measurement.
   *
   * @param device "gpu" or "jvm" (a {@link DeviceChoice} id)
   * @param seqPerS sequences per second of a training step at the run's shape; NaN when it failed
   * @param error why it failed, or null
   */
  public record Rate(String device, double seqPerS, String error) {
    String describe() {
      return error != null ? device + " failed (" + error + ")" : String.format(Locale.ROOT, "%s %.1f seq/s", device, seqPerS);
    }
  }

  /**
   * What auto picked.
   *
   * @param device the {@link DeviceChoice} id to run on: "gpu" or "jvm"
   * @param rates every candidate's rate, in the order timed (empty when only one was usable)
   * @param cached whether the rates come from an earlier measurement of the same shape and host in this JVM
   * @param shape the key of the cache: shape and host
   */
  public record Choice(String device, List<Rate> rates, boolean cached, String shape) {
    /** One line for the log and the train report. */
    public String describe() {
      return describe(null);
    }

    /**
     * One line for the log and the train report, saying where it was timed.
     *
     * @param where the JVM that measured ("timed in executor 3"), or null
     */
    public String describe(String where) {
      String at = where == null ? "" : "; " + where;
      if (rates.isEmpty()) {
        return "--device auto: jvm (" + (io.sparkrnn.kernel.aparapi.Devices.openClRefused()
            ? "OpenCL not started: libjsig is not preloaded" : "no OpenCL GPU") + "; nothing to time" + at + ")";
      }
      StringBuilder s = new StringBuilder("--device auto: " + device + " (");
      for (int i = 0; i < rates.size(); i++) {
        s.append(i > 0 ? ", " : "").append(rates.get(i).describe());
      }
      return s.append(cached ? "; measured earlier in this JVM" : "").append("; ").append(shape).append(at).append(")").toString();
    }
  }

  /** Times one candidate: sequences/s of a training step at the run's shape. May throw; a failure is recorded, not hidden. */
  public interface Timer {
    double seqPerS(DeviceChoice device);
  }

  /**
   * The measurement's budget in seconds: {@value #BUDGET_PROPERTY}, default 2.
   *
   * @throws BadInputException naming the property when it is not a positive number of seconds
   */
  public static double budgetSeconds() {
    String value = System.getProperty(BUDGET_PROPERTY, "2");
    double budget;
    try {
      budget = Double.parseDouble(value.trim());
    } catch (NumberFormatException e) {
      budget = Double.NaN;
    }
    if (!(budget > 0) || Double.isInfinite(budget)) {
      throw new BadInputException("-D" + BUDGET_PROPERTY + ": expected a positive number of seconds, found '" + value + "'");
    }
    return budget;
  }

  /**
   * Measures (or finds in the cache) and picks, on the devices of the JVM it runs in.
   *
   * @param seed the seed of the random parameters and batch that are timed
   * @param jvmThreads the JVM engine's threads, as the run's tasks will have them (0: every core)
   * @param budgetSeconds the whole measurement's budget ({@link #budgetSeconds()})
   */
  public static Choice choose(ModelConfig config, int batchSize, int steps, long seed, int jvmThreads, double budgetSeconds) {
    boolean gpu = Devices.available().contains(DeviceChoice.GPU);
    String host = host();
    List<DeviceChoice> candidates = gpu ? List.of(DeviceChoice.GPU, DeviceChoice.JVM) : List.of(DeviceChoice.JVM);
    return choose(key(config, batchSize, steps, jvmThreads, host), candidates,
        d -> time(d, config, batchSize, steps, seed, budgetSeconds / 2, jvmThreads));
  }

  /** This host's name, for the cache key and the log line. */
  static String host() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "unknown host";
    }
  }

  /** The cache key: the shape that is timed, the JVM engine's threads where named, and the host. */
  static String key(ModelConfig c, int batchSize, int steps, int jvmThreads, String host) {
    return c.cell().id() + " L=" + c.numLayers() + " F=" + c.inputSize() + " H=" + c.hiddenSize() + " O=" + c.outputSize() + " "
        + c.mode().id() + " B=" + batchSize + " T=" + steps + (jvmThreads > 0 ? ", " + jvmThreads + " JVM engine threads" : "")
        + " on " + host;
  }

  /**
   * The choice among {@code candidates} (in order of preference on a tie) by {@code timer}, or the
   * cached one for {@code key}. One candidate: picked without timing.
   *
   * @throws IllegalStateException naming every failure when no candidate could be timed
   */
  static Choice choose(String key, List<DeviceChoice> candidates, Timer timer) {
    if (candidates.size() == 1) {
      return new Choice(candidates.get(0).id(), List.of(), false, key);
    }
    Choice earlier = CACHE.get(key);
    if (earlier != null) {
      return new Choice(earlier.device, earlier.rates, true, key);
    }
    List<Rate> rates = new ArrayList<>();
    Rate best = null;
    for (DeviceChoice d : candidates) {
      Rate r;
      try {
        double rate = timer.seqPerS(d);
        r = new Rate(d.id(), rate, Double.isFinite(rate) && rate > 0 ? null : "no rate: " + rate);
      } catch (BadInputException e) {
        throw e; // the input's fault, which every engine would meet: reported as such, not as a device failing
      } catch (RuntimeException e) {
        r = new Rate(d.id(), Double.NaN, e.getClass().getSimpleName() + ": " + e.getMessage());
      }
      rates.add(r);
      if (r.error == null && (best == null || r.seqPerS > best.seqPerS)) {
        best = r;
      }
    }
    if (best == null) {
      StringBuilder s = new StringBuilder("--device auto: no engine could run a step of " + key + ":");
      for (Rate r : rates) {
        s.append(' ').append(r.describe()).append(';');
      }
      throw new IllegalStateException(s.append(" name one with --device").toString());
    }
    Choice c = new Choice(best.device, List.copyOf(rates), false, key);
    CACHE.put(key, c);
    return c;
  }

  /** Forgets the cached choices (tests). */
  static void clearCache() {
    CACHE.clear();
  }

  /** 2 untimed calls, then timed calls for about {@code seconds} (1 to {@link #MAX_TIMED}); B / the median. */
  static double time(DeviceChoice device, ModelConfig config, int batchSize, int steps, long seed, double seconds, int jvmThreads) {
    Params params = Params.initialize(config, seed);
    Batch batch = Batch.random(config, steps, batchSize, seed + 1);
    try (BpttEngine engine = Engines.create("kernel", device.id(), jvmThreads)) {
      long start = System.nanoTime();
      for (int i = 0; i < 2; i++) {
        engine.lossAndGradient(params, batch, null);
      }
      double[] timed = new double[MAX_TIMED];
      int n = 0;
      while (n < MAX_TIMED && (n == 0 || (System.nanoTime() - start) / 1e9 < seconds)) {
        long t0 = System.nanoTime();
        engine.lossAndGradient(params, batch, null);
        timed[n++] = (System.nanoTime() - t0) / 1e9;
      }
      double[] sorted = java.util.Arrays.copyOf(timed, n);
      java.util.Arrays.sort(sorted);
      double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      return batchSize / median;
    }
  }
}
