package io.sparkrnn.job.driver;

import io.sparkrnn.kernel.device.AutoDevice;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.List;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;

/**
 * {@code train --device auto}'s measurement ({@link AutoDevice}) as a one-task Spark job, so that
 * it times the devices of an executor, where the run's kernels will run: in a cluster the GPUs are
 * the executors', and the driver (an edge node in client mode, a pod without a GPU) may have none.
 * Under a local master the task runs in the driver's JVM, which is then the executor. One executor
 * measures for all; a cluster whose executors differ should name the device.
 */
final class AutoDeviceJob {
  private AutoDeviceJob() {}

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
   * @param jvmThreads the JVM engine's threads per task, as the training tasks get them
   * @throws IllegalStateException naming every engine's failure when none could run a step (not retried: the task reports it)
   */
  static Picked choose(JavaSparkContext sc, ModelConfig model, int batchSize, int steps, long seed, int jvmThreads) {
    double budget = AutoDevice.budgetSeconds(); // the driver's -D (where bin/spark-rnn and spark-submit put it), checked before the job
    sc.setJobDescription("spark-rnn train --device auto: timing the engines at the run's shape");
    try {
      String[] r = sc.parallelize(List.of(0), 1).map(new Measure(model, batchSize, steps, seed, jvmThreads, budget)).collect().get(0);
      if (r[0] == null) {
        throw new IllegalStateException(r[1]);
      }
      return new Picked(r[0], r[1]);
    } finally {
      sc.setJobDescription(null);
    }
  }

  /** The task: {device, line}, or {null, why} when no engine could run (returned, so that Spark does not retry it). */
  record Measure(ModelConfig model, int batchSize, int steps, long seed, int jvmThreads, double budget)
      implements Function<Integer, String[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public String[] call(Integer ignored) {
      try {
        AutoDevice.Choice c = AutoDevice.choose(model, batchSize, steps, seed, jvmThreads, budget);
        return new String[] {c.device(), c.describe(where())};
      } catch (IllegalStateException e) {
        return new String[] {null, e.getMessage() + " (" + where() + ")"};
      }
    }
  }

  /** The JVM this runs in, in words: "chosen in executor 3", or the driver's under a local master. */
  static String where() {
    SparkEnv env = SparkEnv.get();
    String id = env == null ? "driver" : env.executorId();
    return "driver".equals(id) ? "chosen in the driver's JVM (local master)" : "chosen in executor " + id;
  }
}
