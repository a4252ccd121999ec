package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.BadInputException;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The task's answer as the driver reads it, and how many tasks share an executor's GPU. */
class AutoDeviceJobTest {
  @Test
  void aChoiceComesBackAndFailuresAreRethrownAsTheyWere() {
    assertEquals(new AutoDeviceJob.Picked("jvm", "--device auto: jvm (…)"), AutoDeviceJob.unpack(new String[] {"jvm", "--device auto: jvm (…)"}));
    BadInputException bad = assertThrows(BadInputException.class,
        () -> AutoDeviceJob.unpack(new String[] {null, "bad input", "-Dsparkrnn.auto.budgetSeconds: … (timed in executor 2)"}));
    assertEquals("-Dsparkrnn.auto.budgetSeconds: … (timed in executor 2)", bad.getMessage());
    IllegalStateException failed = assertThrows(IllegalStateException.class,
        () -> AutoDeviceJob.unpack(new String[] {null, "failure", "--device auto: no engine could run a step of … (timed in executor 2)"}));
    assertEquals("--device auto: no engine could run a step of … (timed in executor 2)", failed.getMessage());
  }

  @Test
  void taskSlotsAreTheExecutorsCoresOverTheTasksCpusWithSparksDefaults() {
    assertEquals(4, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "local[4]")));
    assertEquals(2, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "local[4]").set("spark.task.cpus", "2")));
    assertEquals(3, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "local-cluster[2, 3, 1024]")));
    assertEquals(4, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "spark://127.0.0.1:7077")
        .set("spark.executor.cores", "8").set("spark.task.cpus", "2")));
    // spark.executor.cores unset: Spark gives an executor 1 core on YARN and Kubernetes (its
    // documented default), all of the worker's (by default the host's) on a standalone master
    assertEquals(1, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "yarn")), "YARN's default");
    assertEquals(1, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "k8s://https://127.0.0.1:6443")), "Kubernetes'");
    assertEquals(Runtime.getRuntime().availableProcessors(),
        AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "spark://127.0.0.1:7077")), "standalone's: the host's");
    assertEquals(1, AutoDeviceJob.taskSlots(new SparkConf(false).set("spark.master", "yarn").set("spark.executor.cores", "1")
        .set("spark.task.cpus", "2")), "at least one");
  }

  /** 8 partitions on 4 executors run 2 at a time in each, whatever the executors' slots; unknown executors cap nothing. */
  @Test
  void tasksPerExecutorSpreadThePartitionsOverTheExecutors() {
    assertEquals(2, AutoDeviceJob.tasksPerExecutor(8, 4));
    assertEquals(3, AutoDeviceJob.tasksPerExecutor(9, 4));
    assertEquals(1, AutoDeviceJob.tasksPerExecutor(2, 4), "fewer partitions than executors: one each");
    assertEquals(8, AutoDeviceJob.tasksPerExecutor(8, 1));
    assertEquals(8, AutoDeviceJob.tasksPerExecutor(8, 0), "executors not known");
  }

  /** Where executors come from: the master's form, else those registered, else those asked for. */
  @Test
  void theExecutorsAreThoseRegisteredWhereAnyHas() {
    assertEquals(1, AutoDeviceJob.executors("local[4]", 0, 8), "a local master is one JVM");
    assertEquals(3, AutoDeviceJob.executors("local-cluster[3, 2, 1024]", 1, 0));
    assertEquals(4, AutoDeviceJob.executors("yarn", 4, 10), "YARN granted 4 of the 10 asked for");
    assertEquals(10, AutoDeviceJob.executors("k8s://https://127.0.0.1:6443", 0, 10), "none registered yet: those asked for");
    assertEquals(2, AutoDeviceJob.executors("spark://127.0.0.1:7077", 2, 0));
    assertEquals(0, AutoDeviceJob.executors("yarn", 0, 0), "not known");
  }

  /** The JVM that measured, as the log line names it: the driver's under a local master (no SparkEnv, or executor id "driver"). */
  @Test
  void theMeasuringJvmIsNamedTheDriversWithoutAnExecutor() {
    assertEquals("the driver's JVM (local master)", AutoDeviceJob.jvm(null));
  }
}
