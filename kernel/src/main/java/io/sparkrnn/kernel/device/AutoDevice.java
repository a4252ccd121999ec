package io.sparkrnn.kernel.device;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code --device auto} by measurement: times a few warm training steps of the run's own shape on
 * each usable engine (an OpenCL GPU where there is one, and the JVM engine) and picks the faster.
 * A GPU is not faster by kind: a weak one, or an immature OpenCL driver, can lose to the JVM
 * engine on many cores. With no OpenCL GPU the JVM engine is the only candidate (PoCL's OpenCL on
 * the CPU is 20–100× slower than it, docs/PERFORMANCE.md) and nothing is timed.
 *
 * <p>Each candidate gets half the budget: 1 untimed call, then timed calls until its half is
 * spent (at least 1, at most {@link #MAX_TIMED}); its rate is B / the median timed call
 * ({@link #rate}). A candidate that
 * fails (an OpenCL build error, say) is reported with its error and not picked; if every candidate
 * fails, the first failure is thrown. The result is cached in this JVM per shape and host, so a
 * second run of the same shape (a Spark ML fit after another) does not time again.
 *
 * <p>The JIT compiles the JVM engine's SIMD code only after some calls, so within a second or two
 * its rate is a lower bound; the choice favours the GPU a little, never the other way round.
 *
 * <p>It times the devices of the JVM it runs in. {@code train}, and predict and evaluate over a
 * dataset, run it in an executor (a one-task Spark job, spark-job's AutoDeviceJob), since in a
 * cluster the GPUs are the executors' and the driver may have none.
 */
public final class AutoDevice {
  private static final Logger LOG = Logger.getLogger(AutoDevice.class.getName());
  /** Timed calls per candidate, at most. */
  static final int MAX_TIMED = 7;
  /** System property: the whole measurement's budget in seconds (default 2). */
  public static final String BUDGET_PROPERTY = "sparkrnn.auto.budgetSeconds";

  /** Per key, the first caller's measurement, which later callers (and callers at the same time) take. */
  private static final Map<String, CompletableFuture<Choice>> CACHE = new ConcurrentHashMap<>();

  private AutoDevice() {}

  /**
   * One candidate's measurement.
   *
   * @param device "gpu" or "jvm" (a {@link DeviceChoice} id)
   * @param seqPerS sequences per second of a training step (or forward pass) at the run's shape,
   *     for the JVM engine of all the tasks that run at once in an executor; NaN when it failed
   * @param error why it failed, or null
   * @param note how the rate was counted ("4 tasks × 625.0"), or null
   */
  public record Rate(String device, double seqPerS, String error, String note) {
    /** A rate as timed, with no note. */
    public Rate(String device, double seqPerS, String error) {
      this(device, seqPerS, error, null);
    }

    String describe() {
      return error != null ? device + " failed (" + error + ")"
          : String.format(Locale.ROOT, "%s %.1f seq/s", device, seqPerS) + (note == null ? "" : " (" + note + ")");
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
        return "--device auto: jvm (" + (Devices.openClRefused()
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
   * @param forwardOnly time forward passes (predict, evaluate) instead of training steps
   * @param jvmThreads the JVM engine's threads, as each task will have them (0: every core)
   * @param tasks the tasks that run at once in an executor: each has a JVM engine of its own, but
   *     they share the GPU, so the JVM engine's rate counts this many times (one task's, timed, × tasks)
   * @param budgetSeconds the whole measurement's budget ({@link #budgetSeconds()})
   * @param groups for a training step, the bounds of the groups (virtual partitions) of one task's
   *     batch as it passes them to {@code lossAndGradients} ([0, …, batchSize]; an engine may work
   *     per group, so the count changes its rate), or null for one group
   */
  public static Choice choose(ModelConfig config, int batchSize, int steps, long seed, boolean forwardOnly, int jvmThreads, int tasks,
      double budgetSeconds, int[] groups) {
    if (groups != null && (groups.length < 2 || groups[0] != 0 || groups[groups.length - 1] != batchSize)) {
      throw new IllegalArgumentException("groups " + Arrays.toString(groups) + " do not span a batch of " + batchSize);
    }
    boolean gpu = Devices.available().contains(DeviceChoice.GPU);
    List<DeviceChoice> candidates = gpu ? List.of(DeviceChoice.GPU, DeviceChoice.JVM) : List.of(DeviceChoice.JVM);
    int[] timedGroups = forwardOnly || groups == null || groups.length == 2 ? null : groups.clone();
    String key = (forwardOnly ? "forward: " : "") + key(config, batchSize, steps, jvmThreads, host())
        + (timedGroups != null ? ", " + (timedGroups.length - 1) + " virtual partitions a task" : "")
        + (tasks > 1 ? ", " + tasks + " tasks an executor" : "");
    return choose(key, candidates, d -> time(d, config, batchSize, steps, seed, budgetSeconds / 2, jvmThreads, forwardOnly, timedGroups),
        tasks);
  }

  /** This host's name, for the cache key and the log line. */
  static String host() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "unknown host";
    }
  }

  /** The cache key: the shape that is timed, the JVM engine's threads where named, and the host. */
  static String key(ModelConfig c, int batchSize, int steps, int jvmThreads, String host) {
    return c.cell().id() + " L=" + c.numLayers() + " F=" + c.inputSize() + " H=" + c.hiddenSize() + " O=" + c.outputSize() + " "
        + c.mode().id() + " B=" + batchSize + " T=" + steps + (jvmThreads > 0 ? ", " + jvmThreads + " JVM engine thread" + (jvmThreads == 1 ? "" : "s") : "")
        + " on " + host;
  }

  /** As {@link #choose(String, List, Timer, int)} for one task an executor. */
  static Choice choose(String key, List<DeviceChoice> candidates, Timer timer) {
    return choose(key, candidates, timer, 1);
  }

  /**
   * The choice among {@code candidates} (in order of preference on a tie) by {@code timer}, or the
   * cached one for {@code key}. One candidate: picked without timing. Callers of the same key at
   * once wait for one measurement (an executor starts its tasks together, and timing two at a time
   * would have them compete for the devices and, as timing is noisy, pick differently).
   *
   * @param jvmTasks tasks that run at once in an executor, each with its own JVM engine and all
   *     sharing the GPU: the JVM engine's rate, one task's timed, counts this many times
   * @throws BadInputException the first one, where every candidate failed with bad input (the
   *     input's fault, not the devices'); where only some did, it is that engine's failure
   * @throws IllegalStateException naming every failure when no candidate could be timed
   */
  static Choice choose(String key, List<DeviceChoice> candidates, Timer timer, int jvmTasks) {
    if (candidates.size() == 1) {
      return new Choice(candidates.get(0).id(), List.of(), false, key);
    }
    CompletableFuture<Choice> mine = new CompletableFuture<>();
    CompletableFuture<Choice> earlier = CACHE.putIfAbsent(key, mine);
    if (earlier != null) {
      Choice c = await(earlier);
      return new Choice(c.device, c.rates, true, key);
    }
    try {
      Choice c = measure(key, candidates, timer, jvmTasks);
      mine.complete(c);
      return c;
    } catch (RuntimeException | Error e) {
      CACHE.remove(key, mine); // the next caller measures again
      mine.completeExceptionally(e);
      throw e;
    }
  }

  /**
   * The first caller's choice, or its failure rethrown as it was. Interruptible: a Spark task that
   * is killed while it waits stops waiting (its interrupt flag kept set).
   */
  private static Choice await(CompletableFuture<Choice> first) {
    try {
      return first.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("--device auto: interrupted while waiting for another task's measurement", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause()); // measure throws nothing checked
    }
  }

  private static Choice measure(String key, List<DeviceChoice> candidates, Timer timer, int jvmTasks) {
    List<Rate> rates = new ArrayList<>();
    Rate best = null;
    BadInputException badInput = null;
    boolean onlyBadInput = true;
    for (DeviceChoice d : candidates) {
      Rate r;
      try {
        double rate = timer.seqPerS(d);
        boolean scaled = d == DeviceChoice.JVM && jvmTasks > 1;
        String note = scaled ? String.format(Locale.ROOT, "%d tasks × %.1f", jvmTasks, rate) : null;
        rate = scaled ? rate * jvmTasks : rate;
        r = new Rate(d.id(), rate, Double.isFinite(rate) && rate > 0 ? null : "no rate: " + rate, note);
        onlyBadInput = false;
      } catch (BadInputException e) {
        badInput = badInput == null ? e : badInput;
        r = new Rate(d.id(), Double.NaN, e.getClass().getSimpleName() + ": " + e.getMessage());
      } catch (RuntimeException e) {
        onlyBadInput = false;
        r = new Rate(d.id(), Double.NaN, e.getClass().getSimpleName() + ": " + e.getMessage());
        LOG.log(Level.WARNING, "--device auto: " + d.id() + " failed at " + key, e); // the line keeps the message, the log the trace
      }
      rates.add(r);
      if (r.error == null && (best == null || r.seqPerS > best.seqPerS)) {
        best = r;
      }
    }
    if (best == null) {
      if (onlyBadInput && badInput != null) {
        throw badInput;
      }
      StringBuilder s = new StringBuilder("--device auto: no engine could run a step of " + key + ":");
      for (Rate r : rates) {
        s.append(' ').append(r.describe()).append(';');
      }
      throw new IllegalStateException(s.append(" name one with --device").toString());
    }
    return new Choice(best.device, List.copyOf(rates), false, key);
  }

  /** Forgets the cached choices (tests). */
  static void clearCache() {
    CACHE.clear();
  }

  /**
   * Times one candidate at the run's shape: a training step ({@code lossAndGradients} over the
   * given groups where there are some, as a training task calls it) or a forward pass.
   */
  static double time(DeviceChoice device, ModelConfig config, int batchSize, int steps, long seed, double seconds, int jvmThreads,
      boolean forwardOnly, int[] groups) {
    Params params = Params.initialize(config, seed);
    Batch batch = Batch.random(config, steps, batchSize, seed + 1);
    try (BpttEngine engine = Engines.create("kernel", device.id(), jvmThreads)) {
      Runnable call = forwardOnly ? () -> engine.forward(params, batch, null)
          : groups != null ? () -> engine.lossAndGradients(params, batch, null, groups)
          : () -> engine.lossAndGradient(params, batch, null);
      return rate(call, batchSize, seconds);
    }
  }

  /**
   * Sequences per second of {@code call}, which computes {@code batchSize} sequences: one untimed
   * call (the JIT's, or the device's, first: buffers allocated and every input uploaded), then
   * timed calls until {@code seconds} have passed since the start, at least 1 and at most
   * {@link #MAX_TIMED}; B / the median timed call. A shape whose first call overruns the budget
   * costs two calls per engine; the first is never the measurement, since an engine's first call
   * can cost several of its later ones, and by a factor that differs between engines.
   */
  static double rate(Runnable call, int batchSize, double seconds) {
    long start = System.nanoTime();
    call.run();
    double[] timed = new double[MAX_TIMED];
    int n = 0;
    while (n < MAX_TIMED && (n == 0 || (System.nanoTime() - start) / 1e9 < seconds)) {
      long t0 = System.nanoTime();
      call.run();
      timed[n++] = (System.nanoTime() - t0) / 1e9;
    }
    return batchSize / median(Arrays.copyOf(timed, n));
  }

  /**
   * The median of the values (the mean of the middle two for an even count); sorts them in place.
   * The kernel's one median of timings: auto's rates and the bench's rows.
   */
  public static double median(double[] values) {
    Arrays.sort(values);
    int n = values.length;
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }
}
