package io.sparkrnn.job.executor;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.model.Batch;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Per-executor-JVM state: the shard cache ({@link ShardCache}) and BPTT engines, made once and reused by every task and
 * step that runs in this JVM. Never serialised.
 *
 * <p>Engines are not thread-safe, and an executor runs one task per core at once, so engines sit
 * in a pool: a task borrows one (creating it the first time, which compiles the kernels) and
 * returns it. The pool grows to the number of tasks that ran at once, then stays.
 */
public final class ExecutorRuntime {
  private static final Map<String, ConcurrentLinkedDeque<BpttEngine>> ENGINES = new ConcurrentHashMap<>();

  /**
   * The kernel logs through java.util.logging, whose level log4j2's configuration does not set: an
   * executor whose log4j2 has {@code io.sparkrnn} at DEBUG gets the kernel's FINE lines too (the
   * driver's {@code --verbose} reaches only the driver's JVM). Held: JUL keeps loggers weakly.
   */
  private static final Logger KERNEL_LOG = Logger.getLogger("io.sparkrnn");

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(ExecutorRuntime::closeAll, "spark-rnn-engine-close"));
    if (org.slf4j.LoggerFactory.getLogger("io.sparkrnn.kernel").isDebugEnabled() && !KERNEL_LOG.isLoggable(Level.FINE)) {
      KERNEL_LOG.setLevel(Level.FINE);
    }
  }

  private ExecutorRuntime() {}

  /**
   * The shard, from this JVM's {@link ShardCache} or read (with its checksum verified) now.
   *
   * @throws ShardDataException when the shard fails a check that a retry would fail again: missing,
   *     wrong size, wrong CRC32C, or bad dtypes, shapes or values
   * @throws UncheckedIOException for other I/O errors, which a retry may cure
   */
  public static Batch shard(Dataset dataset, int index) {
    return ShardCache.JVM.get(0, dataset, index);
  }

  /**
   * Sets this JVM's shard cache to {@code size} and reads every shard of the dataset into it (as far
   * as they fit): a fully cached start for benchmarks on a local master.
   */
  public static void preload(Dataset dataset, ShardCache.Size size) {
    ShardCache.JVM.configure(size);
    for (int i = 0; i < dataset.manifest().shards().size(); i++) {
      ShardCache.JVM.get(0, dataset, i);
    }
  }

  /** Runs {@code work} with an engine of this kind and device borrowed from the pool. */
  public static <T> T withEngine(String engine, String device, Function<BpttEngine, T> work) {
    return withEngine(engine, device, 0, work);
  }

  /**
   * Runs {@code work} with an engine of this kind, device and JVM engine thread count (0: every
   * core; see {@link Engines#create(String, String, int)}) borrowed from the pool.
   */
  public static <T> T withEngine(String engine, String device, int jvmThreads, Function<BpttEngine, T> work) {
    // the resolved count: -Dsparkrnn.jvm.threads set later in this JVM (tests) must not get an engine made before
    String key = engine + "/" + device + "/" + JvmEngine.threadsFor(jvmThreads);
    ConcurrentLinkedDeque<BpttEngine> pool = ENGINES.computeIfAbsent(key, k -> new ConcurrentLinkedDeque<>());
    BpttEngine e = pool.pollFirst();
    if (e == null) {
      e = Engines.create(engine, device, jvmThreads);
    }
    try {
      T result = work.apply(e);
      pool.addFirst(e);
      return result;
    } catch (RuntimeException | Error failure) {
      // an engine that failed mid-call may hold broken device state: drop it
      try {
        e.close();
      } catch (RuntimeException ignored) {
        // already failing; keep the original error
      }
      throw failure;
    }
  }

  /** Drops cached shards (tests, and a driver that reuses its JVM for another dataset). */
  public static void clearShards() {
    ShardCache.JVM.clear();
  }

  static void closeAll() {
    for (ConcurrentLinkedDeque<BpttEngine> pool : ENGINES.values()) {
      BpttEngine e;
      while ((e = pool.pollFirst()) != null) {
        try {
          e.close();
        } catch (RuntimeException ignored) {
          // closing at JVM exit: nothing left to report to
        }
      }
    }
  }

  /**
   * The JVM engine's threads in each task: the task's CPUs, {@code spark.task.cpus} (default 1;
   * set it to {@code spark.executor.cores} to run one task per executor on all its cores). On a
   * local master the P tasks share the JVM's N task threads: ⌊N / P⌋ each, at least
   * {@code spark.task.cpus}. Each executor caps it at its host's cores. The thread count never
   * changes the bits: slices follow the virtual partitions.
   */
  public static int engineThreads(SparkConf conf, String master, int partitions) {
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    int local = localThreads(master);
    return local > 0 ? Math.max(taskCpus, local / partitions) : taskCpus;
  }

  private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:,\\s*\\d+)?])?");

  /**
   * How long the executors' count must hold before {@link #defaultParallelism} takes it as all that
   * will come. 2 s was too short on a loaded host, where executors granted at once registered 2 and
   * 1 s apart (a user audit: predict took 2 partitions on 3 executors).
   */
  static final long SETTLE_MS = 5_000;

  /**
   * Spark's default parallelism once the cluster's executors have registered: on a cluster master
   * it waits until some executor has registered and the count has held for {@link #SETTLE_MS}, at
   * most {@code spark.scheduler.maxRegisteredResourcesWaitingTime} (30 s by default). Read at once,
   * it was 2 (Spark's floor before any executor) on a standalone cluster of 3 one-core executors
   * (a user audit). Not waited for: local masters, dynamic allocation (whose executors come only
   * once tasks wait for them), a set {@code spark.default.parallelism}, and a context waited for
   * before.
   */
  public static int defaultParallelism(JavaSparkContext sc) {
    SparkConf conf = sc.getConf();
    if (localThreads(sc.master()) > 0 || conf.getBoolean("spark.dynamicAllocation.enabled", false)
        || conf.contains("spark.default.parallelism") || !SETTLED.add(sc.sc().applicationId())) {
      return sc.defaultParallelism();       // nothing to wait for, or waited for once in this context (a notebook's next fit)
    }
    // the driver is listed among the executors too
    awaitSettled(() -> sc.sc().isStopped() ? Integer.MAX_VALUE : sc.sc().statusTracker().getExecutorInfos().length - 1, SETTLE_MS, 100,
        conf.getTimeAsMs("spark.scheduler.maxRegisteredResourcesWaitingTime", "30s"));
    return sc.defaultParallelism();
  }

  /** The applications (Spark contexts) whose executors {@link #defaultParallelism} has waited for. */
  private static final Set<String> SETTLED = ConcurrentHashMap.newKeySet();

  /**
   * Polls {@code count} every {@code pollMs} until it is above 0 and has held for {@code settleMs},
   * or {@code maxMs} have passed; returns the last count. {@link Integer#MAX_VALUE} ends the wait
   * (a stopped context).
   */
  static int awaitSettled(IntSupplier count, long settleMs, long pollMs, long maxMs) {
    long start = System.nanoTime();
    int last = count.getAsInt();
    long since = start;
    while (last != Integer.MAX_VALUE && System.nanoTime() - start < maxMs * 1_000_000) {
      if (last > 0 && System.nanoTime() - since >= settleMs * 1_000_000) {
        break;
      }
      try {
        Thread.sleep(pollMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      int now = count.getAsInt();
      if (now != last) {
        last = now;
        since = System.nanoTime();
      }
    }
    return last;
  }

  /** Task threads of a local master (local, local[N], local[*], local[N,F]); 0 when not local. */
  public static int localThreads(String master) {
    Matcher m = LOCAL.matcher(master.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      return 0;
    }
    if (m.group(1) == null) {
      return 1;
    }
    return m.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
  }
}
