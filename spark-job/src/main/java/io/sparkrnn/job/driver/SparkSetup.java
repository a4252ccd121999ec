package io.sparkrnn.job.driver;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.StepInput;
import io.sparkrnn.job.sync.BarrierTraining;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.LossStats;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.ExternalClusterManager;
import org.apache.spark.serializer.KryoRegistrator;
import org.apache.spark.sql.SparkSession;

/**
 * Creates the Spark context for a job: Kryo with our classes registered and registration
 * required (an unregistered class is an error, not a silent slow path), and, for local masters,
 * every socket on 127.0.0.1 and no web UI unless asked for.
 *
 * <p>Under {@code spark-submit} the master and settings given there win; {@code --master} only
 * fills in a master when none is set.
 */
public final class SparkSetup {
  private SparkSetup() {}

  /** The master URLs Spark itself parses (SparkContext.createTaskScheduler); others need a cluster manager plugin. */
  private static final Pattern SPARK_MASTERS = Pattern.compile(
      "local|local\\[([0-9]+|\\*)\\]|local\\[([0-9]+|\\*)\\s*,\\s*([0-9]+)\\]"
      + "|local-cluster\\[\\s*([0-9]+)\\s*,\\s*([0-9]+)\\s*,\\s*([0-9]+)\\s*]|spark://.+");

  /**
   * The most task threads (or local-cluster workers, or cores each) a local master may name: each
   * is a thread or a JVM on this one host, and the engine uses at most its cores.
   */
  static final int MAX_LOCAL_THREADS = 1024;

  /**
   * What each group of {@link #SPARK_MASTERS} counts: 1, 2 local[N] and local[N,F]'s threads, 3 F
   * (task failures allowed: Spark takes 0 as 1), 4, 5 local-cluster's workers and cores each, 6 its
   * MiB each.
   */
  private static final String[] LOCAL_COUNTS =
      {null, "task threads", "task threads", "task failures", "workers", "cores per worker", "MiB per worker"};

  /**
   * Refuses, before Spark starts, a master URL that neither Spark nor a cluster manager on the
   * class path (YARN, Kubernetes) accepts: Spark would log its own stack trace while failing; and
   * a standalone master that does not answer ({@link #requireReachableMaster}).
   */
  public static void requireKnownMaster(String master) {
    Matcher local = SPARK_MASTERS.matcher(master);
    if (local.matches()) {
      // Spark accepts local[0] (and then fails with a stack trace: "Asked to run locally with 0 threads") and
      // local[99999] (a task thread each, until the JVM cannot start more)
      for (int g = 1; g <= local.groupCount(); g++) {
        String n = local.group(g);
        if (n == null || n.equals("*")) {
          continue;
        }
        long min = g == 3 ? 0 : 1;
        long max = g == 3 || g == 6 ? Integer.MAX_VALUE : MAX_LOCAL_THREADS;
        long v = n.length() > 10 ? Long.MAX_VALUE : Long.parseLong(n);
        if (v < min || v > max) {
          throw new BadInputException("--master " + master + ": " + n + " " + LOCAL_COUNTS[g] + " is out of range; expected " + min + " to "
              + max + (g <= 2 ? " (local[*] runs one per core, " + Runtime.getRuntime().availableProcessors() + " here)" : ""));
        }
      }
      if (local.group(6) != null) {
        // Spark refuses it only once its context starts, with a stack trace: "Asked to launch cluster with 512 MiB/worker
        // but requested 1024 MiB/executor"
        long perWorker = Long.parseLong(local.group(6));
        long executorMb = new SparkConf().getSizeAsMb("spark.executor.memory", "1g");
        if (perWorker < executorMb) {
          throw new BadInputException("--master " + master + ": " + perWorker + " MiB per worker is less than an executor's "
              + executorMb + " MiB (spark.executor.memory, default 1g): give at least " + executorMb
              + ", or a smaller -Dspark.executor.memory in SPARK_RNN_JAVA_OPTS");
        }
      }
      requireReachableMaster(master);
      return;
    }
    for (ExternalClusterManager m
        : ServiceLoader.load(ExternalClusterManager.class)) {
      if (m.canCreate(master)) {
        return;
      }
    }
    throw new BadInputException("--master " + master + ": not a master URL Spark accepts (expected local, local[N], "
        + "local[*], local-cluster[N,C,M], spark://HOST:PORT, or yarn and k8s://https://HOST:PORT where their Spark modules are"
        + " on the class path)");
  }

  /** The last spark:// master that accepted a connection. */
  private static volatile String reachable;

  /** How long {@link #requireReachableMaster} tries to connect to each master of a spark:// URL. */
  static final int MASTER_CONNECT_TIMEOUT_MS = 5_000;

  /**
   * Refuses a standalone master ({@code spark://HOST:PORT}, or several for high availability) at
   * which nothing accepts a connection, before the context starts: Spark retries for 60 s, logs
   * "All masters are unresponsive! Giving up." and stops the context under the caller, whose next
   * call then fails with a stack trace, or hung in a broadcast (a user audit).
   */
  static void requireReachableMaster(String master) {
    if (!master.startsWith("spark://") || master.equals(reachable)) {
      return;                              // checked already: a command checks before its lock, then the context again
    }
    List<String> failures = new ArrayList<>();
    for (String hostPort : master.substring("spark://".length()).split(",")) {
      int colon = hostPort.lastIndexOf(':');
      String host = (colon > 0 ? hostPort.substring(0, colon) : hostPort).replace("[", "").replace("]", "");
      int port;
      try {
        port = colon > 0 ? Integer.parseInt(hostPort.substring(colon + 1)) : 7077;
      } catch (NumberFormatException e) {
        throw new BadInputException("--master " + master + ": '" + hostPort + "' is not HOST:PORT");
      }
      InetSocketAddress address;
      try {
        address = new InetSocketAddress(host, port);
      } catch (IllegalArgumentException e) {
        failures.add(hostPort + " (" + e.getMessage() + ")");
        continue;
      }
      if (address.isUnresolved()) {
        failures.add(hostPort + " (unknown host)");
        continue;
      }
      try (Socket socket = new Socket()) {
        socket.connect(address, MASTER_CONNECT_TIMEOUT_MS);
        reachable = master;
        return;
      } catch (IOException e) {
        failures.add(hostPort + " (" + e.getMessage() + ")");
      }
    }
    throw new BadInputException("--master " + master + ": no Spark master accepts connections at " + String.join(", ", failures)
        + "; is it running? sbin/start-master.sh prints its URL (spark://HOST:7077 by default) in its log and web UI");
  }

  /**
   * The master a context started now gets: spark-submit's ({@code spark.master} among the system
   * properties), else {@code master} ({@code --master}).
   */
  public static String effectiveMaster(String master) {
    SparkConf conf = new SparkConf();
    return conf.contains("spark.master") ? conf.get("spark.master") : master;
  }

  /**
   * Refuses, before Spark starts, a {@code --device} that names no device, and on a local master
   * (whose tasks run on this machine) an OpenCL device this machine lacks, as {@link Devices}
   * resolves it: a Spark task would fail with the same message, but only after Spark's executor
   * had logged the failure's stack traces. On a cluster the executors may have a GPU the driver
   * lacks, so there the name alone is checked and each executor resolves its own device.
   *
   * @param engine kernel or reference (beside which only auto and jvm are accepted)
   * @param master {@code --master}; spark-submit's master wins ({@link #effectiveMaster})
   */
  public static void requireDevice(String engine, String device, String master) {
    DeviceChoice choice;
    try {
      choice = DeviceChoice.parse(device);
    } catch (BadInputException e) {
      throw new BadInputException("--device: " + e.getMessage(), e);
    }
    Engines.requireDeviceApplies(engine, device);
    boolean openCl = choice == DeviceChoice.GPU || choice == DeviceChoice.CPU_OPENCL;
    if (engine.equals("kernel") && openCl && effectiveMaster(master).startsWith("local")) {
      Devices.resolve(choice); // throws DeviceUnavailableException naming what is present
    }
  }

  public static JavaSparkContext start(String appName, String master) {
    SparkConf conf = conf(appName, master, true);
    requireHeap(conf);
    ExecutorWatch.graceMs(conf);   // a setting that does not parse: refused before the context starts
    JavaSparkContext sc;
    try {
      sc = new QuietStop(conf);
    } catch (Exception e) { // Spark's SparkException is checked, yet undeclared by Scala: catch it too
      throw masterError(conf, e);
    }
    ExecutorWatch.start(sc.sc());
    return sc;
  }

  /** The local executor's logger, whose heartbeat warning {@link QuietStop} keeps out of a stop. */
  static final String EXECUTOR_LOGGER = "org.apache.spark.executor.Executor";

  /**
   * A context whose stop leaves out the local executor's warnings: a heartbeat sent while the
   * context stops finds the driver's HeartbeatReceiver gone, and the executor logged "Issue
   * communicating with driver in heartbeater" with a 25-line trace between bench's rows, after a
   * run that went well (a docs audit). During a stop that says nothing about the run; while the
   * context runs the warning stays, for a driver that executors cannot reach. Executors of a
   * cluster are other JVMs, with their own logging.
   */
  private static final class QuietStop extends JavaSparkContext {
    QuietStop(SparkConf conf) {
      super(conf);
    }

    @Override
    public void stop() {
      stopQuietly(super::stop);
    }

    @Override
    public void close() {
      stop();
    }
  }

  /** Stops a session as {@link QuietStop} stops a context: the local executor's warnings left out. */
  public static void stop(SparkSession session) {
    stopQuietly(session::stop);
  }

  /**
   * Runs {@code stop} with the executor's logger at ERROR, then gives it back the level it had of
   * its own (none: it inherits again, so a later root level reaches it), unless something set
   * another meanwhile (on SIGTERM, Main.quietSparkAfterStop turns Spark's loggers off). Where
   * log4j-core is not the binding (spark-submit with another), the stop runs as it is.
   */
  public static void stopQuietly(Runnable stop) {
    Runnable restore;
    try {
      restore = quietExecutor();
    } catch (LinkageError | RuntimeException otherBinding) {
      restore = () -> { };
    }
    try {
      stop.run();
    } finally {
      try {
        restore.run();
      } catch (LinkageError | RuntimeException otherBinding) {
        // the level stays at ERROR: warnings of a context that stopped
      }
    }
  }

  /** Sets the executor's logger to ERROR; the runnable returned puts back what was there. */
  private static Runnable quietExecutor() {
    LoggerContext context = LoggerContext.getContext(false);
    LoggerConfig own = context.getConfiguration().getLoggers().get(EXECUTOR_LOGGER);
    Level explicit = own == null ? null : own.getExplicitLevel();
    if (LogManager.getLogger(EXECUTOR_LOGGER).getLevel().isMoreSpecificThan(Level.ERROR)) {
      return () -> { };   // already ERROR or quieter
    }
    Configurator.setLevel(EXECUTOR_LOGGER, Level.ERROR);
    return () -> {
      LoggerConfig now = context.getConfiguration().getLoggers().get(EXECUTOR_LOGGER);
      if (now == null || now.getExplicitLevel() != Level.ERROR) {
        return;
      }
      if (own == null) {
        context.getConfiguration().removeLogger(EXECUTOR_LOGGER);
      } else {
        now.setLevel(explicit);
      }
      context.updateLoggers();
    };
  }

  /**
   * A SparkSession with the same settings, for the commands that read tables. Kryo registration
   * is not required there: Spark SQL's own task results (file commit messages, say) are not
   * registered classes.
   */
  public static SparkSession session(String appName, String master) {
    return session(appName, master, null);
  }

  /**
   * As {@link #session(String, String)}, for reading a table of {@code format} (prep table's
   * {@code --format}), where the user's configuration has not set what that format needs, fixed
   * once a session starts:
   * <ul>
   *   <li>{@code delta} with Delta on the classpath: Delta's session extension and catalog (Delta
   *       refuses to read without both: DELTA_CONFIGURE_SPARK_SESSION_WITH_EXTENSION_AND_CATALOG);</li>
   *   <li>{@code table} (a catalog table) with Spark's Hive support on the classpath: Hive's catalog
   *       ({@code spark.sql.catalogImplementation=hive}, what {@code enableHiveSupport()} sets), so
   *       that a Hive metastore's tables are found as spark-shell finds them.</li>
   * </ul>
   */
  public static SparkSession session(String appName, String master, String format) {
    SparkConf conf = conf(appName, master, false);
    if ("table".equalsIgnoreCase(format) && onClasspath(HIVE_SESSION_STATE) && onClasspath("org.apache.hadoop.hive.conf.HiveConf")) {
      conf.setIfMissing("spark.sql.catalogImplementation", "hive");
    }
    if ("delta".equalsIgnoreCase(format) && onClasspath(DELTA_EXTENSION)) {
      if (!onClasspath("io.delta.storage.LogStore")) {
        // else the read fails with NoClassDefFoundError and 340 lines (a user audit)
        throw new BadInputException("--format delta: Delta (delta-spark) is on the classpath without delta-storage, which it"
            + " needs (io.delta.storage.LogStore): add delta-storage-4.0.0.jar beside it (spark-submit --packages"
            + " io.delta:delta-spark_2.13:4.0.0 brings both)");
      }
      String extensions = conf.get("spark.sql.extensions", "").strip();
      if (Arrays.stream(extensions.split(",")).map(String::strip).noneMatch(DELTA_EXTENSION::equals)) {
        conf.set("spark.sql.extensions", extensions.isEmpty() ? DELTA_EXTENSION : extensions + "," + DELTA_EXTENSION);
      }
      conf.setIfMissing("spark.sql.catalog.spark_catalog", DELTA_CATALOG);
    }
    requireHeap(conf);
    ExecutorWatch.graceMs(conf);   // a setting that does not parse: refused before the context starts
    SparkSession session;
    try {
      session = SparkSession.builder().config(conf).getOrCreate();
    } catch (Exception e) {
      throw masterError(conf, e);
    }
    ExecutorWatch.start(session.sparkContext());
    return session;
  }

  /**
   * Spark's minimum driver heap: 1.5 × the 300 MB it reserves (UnifiedMemoryManager; its message
   * "System memory 402653184 must be at least 471859200").
   */
  static final long MIN_HEAP = 471_859_200L;

  /**
   * Refuses a heap under Spark's minimum before the context starts: Spark logs its own refusal at
   * ERROR with a trace and the advice of a --driver-memory that bin/spark-rnn lacks before
   * masterError can say what to do (a review). Spark's test setting of the memory it sees wins.
   */
  static void requireHeap(SparkConf conf) {
    // as UnifiedMemoryManager computes it: under spark.testing nothing is reserved unless set
    long reserved = conf.getLong("spark.testing.reservedMemory", conf.contains("spark.testing") ? 0 : MIN_HEAP * 2 / 3);
    long minimum = reserved * 3 / 2;
    long heap = conf.contains("spark.testing.memory") ? conf.getLong("spark.testing.memory", 0) : Runtime.getRuntime().maxMemory();
    if (heap < minimum) {
      throw masterError(conf, new IllegalArgumentException("System memory " + heap + " must be at least " + minimum));
    }
  }

  /** Spark's refusal of a small driver heap: "System memory 402653184 must be at least 471859200. …" */
  private static final Pattern SMALL_HEAP = Pattern.compile("System memory (\\d+) must be at least (\\d+)");

  /** A context for {@code conf}, with {@link #start}'s refusals in the user's words (not its quiet stop: stop it with {@link #stopQuietly}). */
  public static JavaSparkContext context(SparkConf conf) {
    requireHeap(conf);
    ExecutorWatch.graceMs(conf);   // a setting that does not parse: refused before the context starts
    JavaSparkContext sc;
    try {
      sc = new JavaSparkContext(conf);
    } catch (Exception e) { // Spark's SparkException is checked, yet undeclared by Scala: catch it too
      throw masterError(conf, e);
    }
    ExecutorWatch.start(sc.sc());
    return sc;
  }

  private static final String DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension";
  private static final String DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog";
  private static final String HIVE_SESSION_STATE = "org.apache.spark.sql.hive.HiveSessionStateBuilder";

  /** Whether the class loads as Spark would load it (spark-submit --packages puts jars on the context loader). */
  private static boolean onClasspath(String className) {
    try {
      Class.forName(className, false, Thread.currentThread().getContextClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /** A master URL Spark cannot parse is the user's typo, not a bug: one line, exit 2; anything else as it was. */
  static RuntimeException masterError(SparkConf conf, Exception e) {
    String m = String.valueOf(e.getMessage());
    if (m.startsWith("Could not parse Master URL")) {
      return new BadInputException("--master " + conf.get("spark.master") + ": Spark cannot parse this master URL "
          + "(expected local, local[N], local[*], spark://HOST:PORT, yarn or k8s://https://HOST:PORT)", e);
    }
    Matcher small = SMALL_HEAP.matcher(m);
    if (small.find()) {
      // Spark's advice (--driver-memory, spark.driver.memory) does not reach a JVM already running, as
      // bin/spark-rnn's is: say what does (a user audit: -Xmx384m gave a 50-line trace, exit 1)
      long mb = (Long.parseLong(small.group(2)) + (1 << 20) - 1) / (1 << 20);   // rounded up
      return new BadInputException("the driver's JVM has " + Long.parseLong(small.group(1)) / (1 << 20) + " MB of heap, and Spark"
          + " needs at least " + mb + " MB: raise it, for bin/spark-rnn with SPARK_RNN_JAVA_OPTS=-Xmx1g (spark-submit:"
          + " --driver-memory 1g)", e);
    }
    return e instanceof RuntimeException r ? r : new IllegalStateException(e);
  }

  private static SparkConf conf(String appName, String master, boolean registrationRequired) {
    String effective = effectiveMaster(master);
    SparkConf conf = new SparkConf().setAppName(appName).setMaster(effective);
    requireKnownMaster(effective);
    if (effective.startsWith("local")) {
      conf.setIfMissing("spark.driver.host", "127.0.0.1");
      conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
      conf.setIfMissing("spark.ui.enabled", "false");
    }
    conf.set("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
    conf.set("spark.kryo.registrator", Registrator.class.getName());
    conf.setIfMissing("spark.kryo.registrationRequired", Boolean.toString(registrationRequired));
    conf.setIfMissing("spark.kryoserializer.buffer.max", "1g");
    // A partition's result holds a float64 gradient sum (8 bytes per parameter: 2 MB for an
    // LSTM with H = 256). Above spark.task.maxDirectResultSize (1 MB by default) Spark parks the
    // result in the executor's block manager and the driver fetches it in a second round trip,
    // every step; send results up to 64 MB with the task status instead.
    conf.setIfMissing("spark.task.maxDirectResultSize", "64m");
    // --sync barrier needs every partition's task running at once. Spark checks the free slots
    // when the job is submitted and, by default, retries 40 times 15 s apart (10 minutes) before
    // failing; check every second for two minutes instead, long enough for executors to register.
    conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "120");
    return conf;
  }

  /**
   * Registers what crosses the wire. Records go through Java serialisation inside Kryo (Kryo 4
   * cannot set a record's final fields); their payload is primitive arrays, which Java
   * serialisation writes in bulk.
   */
  public static final class Registrator implements KryoRegistrator {
    @Override
    public void registerClasses(Kryo kryo) {
      JavaSerializer java = new JavaSerializer();
      kryo.register(StepInput.class, java);
      kryo.register(Dataset.class, java);   // a run's broadcast (DatasetRef): its manifest, and its lazy caches left out (transient)
      kryo.register(PartitionResult.class, java);
      kryo.register(PartitionResult[].class);
      kryo.register(BarrierTraining.SegmentInput.class, java);
      kryo.register(BarrierTraining.SegmentResult.class, java);
      kryo.register(BarrierTraining.SegmentResult[].class);
      kryo.register(Validation.Input.class, java);
      kryo.register(Validation.Result.class, java);
      kryo.register(Validation.Result[].class);
      kryo.register(PredictJob.Input.class, java);
      kryo.register(PredictJob.ShardResult.class, java);
      kryo.register(PredictJob.ShardResult[].class);
      kryo.register(GradientSum.class, java);
      kryo.register(LossStats.class, java);
      kryo.register(float[].class);
      kryo.register(double[].class);
      kryo.register(int[].class);
      kryo.register(long[].class);
      kryo.register(byte[].class);
      kryo.register(String[].class);
      kryo.register(Object[].class);
      kryo.register(Integer[].class);
    }
  }
}
