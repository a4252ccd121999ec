package io.sparkrnn.job.driver;

import io.sparkrnn.data.spark.JobScope;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.AutoDevice;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.List;
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
 * in the executor ({@code spark.executor.cores}, or the host's cores where unset, over
 * {@code spark.task.cpus}; a local master's task threads; at most the job's partitions): those
 * tasks each have a JVM engine of their own but share the GPU.
 */
public final class AutoDeviceJob {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AutoDeviceJob.class);

  private AutoDeviceJob() {}

  /**
   * The device a scoring job (predict or evaluate over a dataset) runs: {@code device}, or for
   * {@code kernel} with {@code auto} the one picked by timing forward passes at the dataset's shape
   * (its first shard's B, its T) in an executor, logged. Its tasks then all run that device, so the
   * outputs do not depend on which executor scored which shard.
   */
  public static String forScoring(JavaSparkContext sc, io.sparkrnn.data.Dataset dataset, ModelConfig config, String engine,
      String device, int partitions) {
    if (!"kernel".equals(engine) || !"auto".equals(device) || dataset.manifest().shards().isEmpty()) {
      return device;
    }
    int threads = ExecutorRuntime.engineThreads(sc.getConf(), sc.master(), partitions);
    Picked p = choose(sc, config, dataset.manifest().shards().get(0).batch(), dataset.spec().steps(), 1, true, threads, partitions);
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
   * @throws BadInputException where every engine failed on the input (the budget property, or the
   *     shape), naming the executor
   * @throws IllegalStateException naming every engine's failure when none could run (neither is
   *     retried: the task returns them)
   */
  static Picked choose(JavaSparkContext sc, ModelConfig model, int batchSize, int steps, long seed, boolean forwardOnly,
      int jvmThreads, int partitions) {
    double budget = AutoDevice.budgetSeconds(); // the driver's -D, where bin/spark-rnn and spark-submit put it
    String[] r;
    try (JobScope scope = JobScope.open(sc, "auto device")) {
      scope.describe("spark-rnn --device auto: timing the engines at the job's shape");
      r = sc.parallelize(List.of(0), 1).map(new Measure(model, batchSize, steps, seed, forwardOnly, jvmThreads, partitions, budget))
          .collect().get(0);
    }
    return unpack(r);
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
  record Measure(ModelConfig model, int batchSize, int steps, long seed, boolean forwardOnly, int jvmThreads, int partitions,
      double budget) implements Function<Integer, String[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public String[] call(Integer ignored) {
      SparkEnv env = SparkEnv.get();
      int tasks = Math.max(1, Math.min(partitions, taskSlots(env == null ? new SparkConf(false) : env.conf())));
      try {
        AutoDevice.Choice c = AutoDevice.choose(model, batchSize, steps, seed, forwardOnly, jvmThreads, tasks, budget);
        return new String[] {c.device(), c.describe("chosen in " + jvm(env))};
      } catch (BadInputException e) {
        return new String[] {null, "bad input", e.getMessage() + " (--device auto, timed in " + jvm(env) + ")"};
      } catch (IllegalStateException e) {
        return new String[] {null, "failure", e.getMessage() + " (timed in " + jvm(env) + ")"};
      }
    }
  }

  /** Tasks that run at once in this executor: its cores (a local master's task threads) over spark.task.cpus. */
  static int taskSlots(SparkConf conf) {
    int local = ExecutorRuntime.localThreads(conf.get("spark.master", "local"));
    int cores = local > 0 ? local : conf.getInt("spark.executor.cores", Runtime.getRuntime().availableProcessors());
    return Math.max(1, cores / Math.max(1, conf.getInt("spark.task.cpus", 1)));
  }

  /** The JVM this runs in, in words: "executor 3", or the driver's under a local master. */
  static String jvm(SparkEnv env) {
    String id = env == null ? "driver" : env.executorId();
    return "driver".equals(id) ? "the driver's JVM (local master)" : "executor " + id;
  }
}
