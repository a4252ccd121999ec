package io.sparkrnn.job.driver;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.spark.JobScope;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.AutoDevice;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;

/**
 * {@code --device auto}'s measurement ({@link AutoDevice}) for a Spark job (train, and predict and
 * evaluate over a dataset) as a one-task Spark job, so that it times the devices of an executor,
 * where the job's kernels will run: in a cluster the GPUs are the executors', and the driver (an
 * edge node in client mode, a pod without a GPU) may have none. Under a local master the task runs
 * in the driver's JVM, which is then the executor. One executor measures for all, and every task
 * of the job runs the device it picked, so every partition computes with the same kernels; a
 * cluster whose executors differ should name the device.
 *
 * <p>The JVM engine is timed with one task's threads and counted once per task that runs at once
 * in the executor: those tasks each have a JVM engine of their own but share the GPU. That count
 * is the executor's task slots ({@link #taskSlots}) and at most the job's partitions spread over
 * its executors ({@link #tasksPerExecutor}).
 */
public final class AutoDeviceJob {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AutoDeviceJob.class);

  private AutoDeviceJob() {}

  /**
   * The device a scoring job (predict or evaluate over a dataset) runs: {@code device}, or for
   * {@code kernel} with {@code auto} the one picked by timing forward passes at the shape of the
   * first shard it scores (its B, the dataset's T) in an executor, logged. Its tasks then all run
   * that device, so the outputs do not depend on which executor scored which shard.
   *
   * @param shards the shards the job scores, in the manifest's numbering
   */
  public static String forScoring(JavaSparkContext sc, Dataset dataset, int[] shards, ModelConfig config,
      String engine, String device, int partitions) {
    if (!"kernel".equals(engine) || !"auto".equals(device) || shards.length == 0) {
      return device;
    }
    int threads = ExecutorRuntime.engineThreads(sc.getConf(), sc.master(), partitions);
    Picked p = choose(sc, config, dataset.manifest().shards().get(shards[0]).batch(), dataset.spec().steps(), 1, true, threads,
        partitions, null);
    LOG.info(p.line());
    return p.device();
  }

  /**
   * What auto picked.
   *
   * @param device the device id every task runs
   * @param line the log and report line: rates, shape, host and the JVM that measured
   */
  record Picked(String device, String line) {}

  /**
   * Runs the measurement in one task and returns its choice.
   *
   * @param forwardOnly time forward passes (predict, evaluate) instead of training steps
   * @param jvmThreads the JVM engine's threads per task, as the job's tasks get them
   * @param partitions the job's partitions: at most this many tasks run at once
   * @param groups for a training step, one task's virtual partitions as bounds within its batch of
   *     {@code batchSize} ({@code VirtualPartitions#bounds}), or null
   * @throws BadInputException where every engine failed on the input (the budget property, or the
   *     shape), naming the executor
   * @throws IllegalStateException naming every engine's failure when none could run (neither is
   *     retried: the task returns them)
   */
  static Picked choose(JavaSparkContext sc, ModelConfig model, int batchSize, int steps, long seed, boolean forwardOnly,
      int jvmThreads, int partitions, int[] groups) {
    double budget = AutoDevice.budgetSeconds(); // the driver's -D, where bin/spark-rnn and spark-submit put it
    int perExecutor = tasksPerExecutor(partitions, executors(sc));
    String[] r;
    try (JobScope scope = JobScope.open(sc, "auto device")) {
      scope.describe("spark-rnn --device auto: timing the engines at the job's shape");
      r = sc.parallelize(List.of(0), 1)
          .map(new Measure(model, batchSize, steps, seed, forwardOnly, jvmThreads, perExecutor, budget, groups)).collect().get(0);
    }
    return unpack(r);
  }

  /**
   * Where {@code device} is one of the devices of the JVM the job's tasks run in (an executor, or
   * the driver's under a local master) and the kernels run on it, null; else that JVM, in words
   * ("executor 3", with why where the device is there but its kernel does not run). For a resumed
   * run that goes on with the device its checkpoint records: asked in an executor, as the GPUs are
   * the executors'. The JVM engine is everywhere and is not asked.
   */
  static String missingIn(JavaSparkContext sc, String device) {
    DeviceChoice choice = DeviceChoice.parse(device);
    if (choice == DeviceChoice.JVM) {
      return null;
    }
    try (JobScope scope = JobScope.open(sc, "auto device")) {
      scope.describe("spark-rnn --device auto: is the checkpoint's " + device + " here?");
      return sc.parallelize(List.of(0), 1).map(new Present(choice)).collect().get(0);
    }
  }

  /**
   * The task of {@link #missingIn}: null where the device is there and runs the kernels
   * ({@link io.sparkrnn.kernel.device.Engines#whyNotUsable}), else the JVM it runs in, and why
   * where the device is listed but unusable.
   */
  record Present(DeviceChoice device) implements Function<Integer, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String call(Integer ignored) {
      if (!Devices.available().contains(device)) {
        return jvm(SparkEnv.get());
      }
      String why = Engines.whyNotUsable(device);
      return why == null ? null : jvm(SparkEnv.get()) + " (there: " + why + ")";
    }
  }

  /** The task's answer: {device, line}, or {null, "bad input" | "failure", why}. */
  static Picked unpack(String[] r) {
    if (r[0] != null) {
      return new Picked(r[0], r[1]);
    }
    if (r[1].equals("bad input")) {
      throw new BadInputException(r[2]);
    }
    throw new IllegalStateException(r[2]);
  }

  /** The task: returns failures instead of throwing them, so that Spark does not retry what would fail again. */
  record Measure(ModelConfig model, int batchSize, int steps, long seed, boolean forwardOnly, int jvmThreads, int perExecutor,
      double budget, int[] groups) implements Function<Integer, String[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public String[] call(Integer ignored) {
      SparkEnv env = SparkEnv.get();
      int tasks = Math.max(1, Math.min(perExecutor, taskSlots(env == null ? new SparkConf(false) : env.conf())));
      try {
        AutoDevice.Choice c = AutoDevice.choose(model, batchSize, steps, seed, forwardOnly, jvmThreads, tasks, budget, groups);
        return new String[] {c.device(), c.describe("chosen in " + jvm(env))};
      } catch (BadInputException e) {
        return new String[] {null, "bad input", e.getMessage() + " (--device auto, timed in " + jvm(env) + ")"};
      } catch (IllegalStateException e) {
        return new String[] {null, "failure", e.getMessage() + " (timed in " + jvm(env) + ")"};
      }
    }
  }

  private static final Pattern LOCAL_CLUSTER =
      Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,\\s*\\d+\\s*]");

  /**
   * Task slots of an executor, as its own conf tells them, over {@code spark.task.cpus}: a local
   * master's task threads; local-cluster[N, C, M]'s C; {@code spark.executor.cores} where set;
   * else Spark's default, 1 on YARN and Kubernetes and the host's cores on a standalone master (an
   * executor there takes all of its worker's cores, by default the host's).
   */
  static int taskSlots(SparkConf conf) {
    String master = conf.get("spark.master", "local").trim();
    int local = ExecutorRuntime.localThreads(master);
    Matcher cluster = LOCAL_CLUSTER.matcher(master);
    int cores = local > 0 ? local
        : cluster.matches() ? Integer.parseInt(cluster.group(2))
        : conf.contains("spark.executor.cores") ? conf.getInt("spark.executor.cores", 1)
        : master.startsWith("yarn") || master.startsWith("k8s://") ? 1
        : Runtime.getRuntime().availableProcessors();
    return Math.max(1, cores / Math.max(1, conf.getInt("spark.task.cpus", 1)));
  }

  /**
   * The most of a job's {@code partitions} tasks that one executor runs at once where the
   * scheduler spreads them over {@code executors} (⌈P / E⌉), or P where the executors are not
   * known (0). An executor's task slots cap it too ({@link #taskSlots}).
   */
  static int tasksPerExecutor(int partitions, int executors) {
    return executors <= 0 ? Math.max(1, partitions) : Math.max(1, (partitions + executors - 1) / executors);
  }

  /**
   * The job's executors as the driver knows them ({@link #executors(String, int, int)}), from the
   * executors registered now (the status tracker lists the driver too).
   */
  static int executors(JavaSparkContext sc) {
    int registered = sc.sc().statusTracker().getExecutorInfos().length - 1;
    return executors(sc.master(), registered, sc.getConf().getInt("spark.executor.instances", 0));
  }

  /**
   * The job's executors: 1 under a local master (its own JVM), N of local-cluster[N, C, M], else
   * those {@code registered} now, or where none has yet {@code spark.executor.instances}; 0 where
   * neither says (dynamic allocation before the first executor), which {@link #tasksPerExecutor}
   * takes as not known. The registered count wins over the instances asked for: YARN and
   * Kubernetes may grant fewer, and their schedulers wait at the context's start until 80% of
   * those asked for have registered ({@code spark.scheduler.minRegisteredResourcesRatio}), so the
   * count is near whole when a run starts. A standalone master does not wait: soon after start
   * some executors may be missing and the count low (too many tasks per executor assumed, which
   * the executor's task slots still cap); it is also seldom given {@code spark.executor.instances}.
   */
  static int executors(String master, int registered, int instances) {
    String m = master.trim();
    if (ExecutorRuntime.localThreads(m) > 0) {
      return 1;
    }
    Matcher cluster = LOCAL_CLUSTER.matcher(m);
    if (cluster.matches()) {
      return Integer.parseInt(cluster.group(1));
    }
    return registered > 0 ? registered : Math.max(0, instances);
  }

  /** The JVM this runs in, in words: "executor 3", or the driver's under a local master. */
  static String jvm(SparkEnv env) {
    String id = env == null ? "driver" : env.executorId();
    return "driver".equals(id) ? "the driver's JVM (local master)" : "executor " + id;
  }
}
