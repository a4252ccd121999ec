package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.cli.Main;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.model.Checkpoints;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * docs/cluster.md's YARN example on a real YARN: a MiniYARNCluster (ResourceManager and one
 * NodeManager in the test JVM, each container its own JVM) over a MiniDFSCluster as the default
 * file system, everything on 127.0.0.1. spark-submit runs as a user's does: {@code --master yarn
 * --deploy-mode cluster --properties-file conf/spark-defaults.conf}, {@code
 * spark.yarn.maxAppAttempts}, {@code --resume true}, data and output on HDFS. The driver runs in
 * the ApplicationMaster's container; the test kills it ({@code kill -9}) after the second
 * checkpoint, YARN starts a second attempt, that attempt takes over the first attempt's lock and
 * resumes, and the model is byte-identical to an undisturbed run of the same job in local mode.
 *
 * <p>Spark's jars are on the node already ({@code spark.yarn.jars=local:…}, the cluster tests'
 * SPARK_HOME/jars), so nothing but the application jar and the configuration is uploaded.
 */
@Tag("cluster")
class YarnClusterTest {
  /** Enough steps that the killed attempt is far from done when the test finds its driver (it kills after step 4). */
  static final int STEPS = 30;
  static final Duration RUN_TIMEOUT = Duration.ofMinutes(5);
  static final String AM_MAIN = "org.apache.spark.deploy.yarn.ApplicationMaster";

  @Test
  void theDocsYarnCommandSurvivesAKilledDriverThroughASecondAttemptAndGivesTheUndisturbedModel() throws Exception {
    Path work = Path.of("target", "yarn-" + ProcessHandle.current().pid()).toAbsolutePath();
    Files.createDirectories(work);
    Path sparkHome = work.resolve("spark-home");
    Path appJar = work.resolve("spark-rnn-app.jar");
    StandaloneCluster.buildSparkHomeAndAppJar(sparkHome, appJar);
    // the YARN client's reports (application state, final status) are its INFO lines
    Path log4j = Files.writeString(work.resolve("log4j2.properties"), StandaloneCluster.LOG4J
        + "logger.yarnclient.name = org.apache.spark.deploy.yarn.Client\nlogger.yarnclient.level = info\n");

    try (LoopbackHdfs hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
        Yarn yarn = new Yarn(work, hdfs)) {
      String data = hdfs.uri("/datasets/sine");
      Prep.run(new SineSource(SineSource.Options.defaults(20, 8 * 16, 7)), new PrepOptions(URI.create(data), 16, 0.125, false, false),
          hdfs.conf());

      // the undisturbed run: the same job in local mode in this JVM
      String local = hdfs.uri("/runs/local");
      assertEquals(0, Main.run(train(data, local, "--master", "local[2]").toArray(String[]::new)), "local run");
      byte[] expected = hdfs.read(local + "/model.safetensors");

      String out = hdfs.uri("/runs/sine-1");
      List<String> submit = new ArrayList<>(List.of("--master", "yarn", "--deploy-mode", "cluster",
          "--properties-file", Path.of("..", "conf", "spark-defaults.conf").toAbsolutePath().normalize().toString(),
          "--conf", "spark.yarn.maxAppAttempts=2",
          "--num-executors", "2", "--executor-cores", "1", "--executor-memory", "512m", "--driver-memory", "512m"));
      for (Map.Entry<String, String> e : testConf(sparkHome, log4j).entrySet()) {
        submit.add("--conf");
        submit.add(e.getKey() + "=" + e.getValue());
      }
      submit.addAll(List.of("--class", "io.sparkrnn.cli.Main", appJar.toString()));
      submit.addAll(train(data, out, "--resume", "true"));
      Map<String, String> env = new LinkedHashMap<>();
      env.put("SPARK_HOME", sparkHome.toString());
      env.put("SPARK_SCALA_VERSION", "2.13");
      env.put("SPARK_LOCAL_IP", "127.0.0.1");
      env.put("HADOOP_CONF_DIR", yarn.confDir.toString()); // what Client ships to the containers; the classpath has it too
      try (ManagedProcess client = ManagedProcess.start("spark-submit", StandaloneCluster.javaCommand(sparkHome, List.of(yarn.confDir), log4j,
          "org.apache.spark.deploy.SparkSubmit", "256m", List.of(), submit), env, work.resolve("logs/spark-submit.log"))) {
        // kill -9 the first attempt's driver once its second checkpoint is on HDFS
        String second = out + "/" + Checkpoints.DIR + "/" + Checkpoints.fileName(2 * CHECKPOINT_EVERY);
        long deadline = System.nanoTime() + RUN_TIMEOUT.toNanos();
        while (!hdfs.exists(second)) {
          if (!client.process().isAlive() || System.nanoTime() > deadline) {
            fail("no checkpoint " + second + " from the first attempt\n" + client.tail(40) + yarn.containerLogs());
          }
          Thread.sleep(100);
        }
        ProcessHandle am = applicationMaster().orElseThrow(() -> new AssertionError("no " + AM_MAIN + " process"));
        assertTrue(StandaloneCluster.commandLine(am).contains("--class io.sparkrnn.cli.Main"), StandaloneCluster.commandLine(am));
        am.destroyForcibly();
        assertEquals(0, client.awaitExit(RUN_TIMEOUT), client.tail(40) + yarn.containerLogs());
        // the YARN client's last report: the application, not only its client, ended well
        assertTrue(client.output().contains("final status: SUCCEEDED"), client.tail(40));
      }
      String attempt2 = yarn.amLog(2);
      Matcher resumed = Pattern.compile("resumed from \\S+ at step (\\d+)").matcher(attempt2);
      assertTrue(resumed.find(), "the second attempt resumed\n" + attempt2);
      int step = Integer.parseInt(resumed.group(1));
      assertTrue(step >= 2 * CHECKPOINT_EVERY && step < STEPS, "resumed at step " + step);
      // the lock of attempt 1 is taken over as an earlier attempt's, the rule that also holds across hosts (RunLockYarnTest)
      assertTrue(Pattern.compile("which was attempt 1 of YARN application application_\\d+_\\d+, ended before YARN started this"
          + " attempt \\(2\\); taking the lock over").matcher(attempt2).find(), attempt2);
      assertTrue(attempt2.contains("done: " + STEPS + " steps"), attempt2);
      assertFalse(yarn.amLog(1).contains("done: "), "the first attempt was killed before its end");
      ClusterFaultTest.assertSameBytes(expected, hdfs.read(out + "/model.safetensors"),
          "model after YARN's second attempt resumed the killed driver's run");
      assertFalse(hdfs.exists(out + "/.spark-rnn.lock"), "the lock is removed at the end");
    }
  }

  static final int CHECKPOINT_EVERY = ClusterFaultTest.CHECKPOINT_EVERY;

  /** ClusterFaultTest's job (GRU, a checkpoint every 2 steps, two partitions), 30 steps. */
  static List<String> train(String data, String out, String... extra) {
    return ClusterFaultTest.train(STEPS, data, out, extra);
  }

  /**
   * What this test adds to the user's settings: Spark's jars from the node's disk, every JVM on
   * 127.0.0.1 with this JDK, and quick-starting executors (C1 only: the job is tiny).
   */
  static Map<String, String> testConf(Path sparkHome, Path log4j) {
    Map<String, String> c = new LinkedHashMap<>();
    c.put("spark.yarn.jars", "local:" + sparkHome.resolve("jars") + "/*");
    String javaHome = System.getProperty("java.home");
    for (String env : List.of("spark.yarn.appMasterEnv.", "spark.executorEnv.")) {
      c.put(env + "JAVA_HOME", javaHome);
      c.put(env + "SPARK_LOCAL_IP", "127.0.0.1");
      c.put(env + "SPARK_LOCAL_HOSTNAME", "127.0.0.1");
    }
    c.put("spark.ui.enabled", "false");
    c.put("spark.executor.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile=" + log4j.toUri());
    return c;
  }

  /** The ApplicationMaster JVM now running (the container's java, not the bash that launched it). */
  static Optional<ProcessHandle> applicationMaster() {
    return ProcessHandle.allProcesses().filter(p -> StandaloneCluster.isJvmOf(p, AM_MAIN)).findFirst();
  }

  /** A MiniYARNCluster of one NodeManager on 127.0.0.1, HDFS its default file system, and its HADOOP_CONF_DIR. */
  static final class Yarn implements AutoCloseable {
    final MiniYARNCluster cluster;
    final Path confDir;

    Yarn(Path work, LoopbackHdfs hdfs) throws IOException, InterruptedException {
      YarnConfiguration conf = new YarnConfiguration();
      conf.set("fs.defaultFS", hdfs.uri("/"));
      conf.set(YarnConfiguration.RM_HOSTNAME, "127.0.0.1");
      conf.set("yarn.nodemanager.hostname", "127.0.0.1");
      conf.setInt(YarnConfiguration.NM_PMEM_MB, 6144);
      conf.setInt(YarnConfiguration.NM_VCORES, 4);
      conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
      conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
      conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
      conf.setInt(YarnConfiguration.RM_AM_MAX_ATTEMPTS, 2);
      conf.set("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "100.0");
      // hadoop-client-minicluster has no capacity-scheduler.xml: one queue, open to all
      conf.set("yarn.scheduler.capacity.root.queues", "default");
      conf.setInt("yarn.scheduler.capacity.root.default.capacity", 100);
      conf.setInt("yarn.scheduler.capacity.root.default.maximum-capacity", 100);
      conf.set("yarn.scheduler.capacity.root.default.state", "RUNNING");
      conf.set("yarn.scheduler.capacity.root.default.acl_submit_applications", "*");
      conf.setInt("yarn.scheduler.capacity.node-locality-delay", -1);
      String buildData = System.getProperty("test.build.data");
      System.setProperty("test.build.data", work.toString()); // MiniYARNCluster's folders, under target/
      cluster = new MiniYARNCluster("yarn", 1, 1, 1);
      if (buildData == null) {
        System.clearProperty("test.build.data");
      } else {
        System.setProperty("test.build.data", buildData);
      }
      cluster.init(conf);
      cluster.start();
      Configuration live = cluster.getConfig();
      // start() may return before the ResourceManager has written its port into the configuration
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (live.get(YarnConfiguration.RM_ADDRESS).endsWith(":0")) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the ResourceManager did not report its address: " + live.get(YarnConfiguration.RM_ADDRESS));
        }
        Thread.sleep(100);
      }
      confDir = Files.createDirectories(work.resolve("hadoop-conf"));
      try (OutputStream o = Files.newOutputStream(confDir.resolve("yarn-site.xml"))) {
        live.writeXml(o);
      }
    }

    /** Attempt {@code n}'s ApplicationMaster container's stdout and stderr (the driver's output in cluster mode). */
    String amLog(int n) throws IOException {
      StringBuilder b = new StringBuilder();
      for (Path f : logs(Pattern.compile("container_[0-9_]+_0" + n + "_000001/std(out|err)$"))) {
        b.append(Files.readString(f));
      }
      return b.toString();
    }

    /** Every container's stderr and stdout, tails, for a failure message. */
    String containerLogs() throws IOException {
      StringBuilder b = new StringBuilder();
      for (Path f : logs(Pattern.compile("container_[0-9_]+/std(out|err)$"))) {
        List<String> lines = Files.readAllLines(f);
        b.append("\n--- ").append(f).append('\n').append(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
      }
      return b.toString();
    }

    private List<Path> logs(Pattern name) throws IOException {
      List<Path> out = new ArrayList<>();
      for (int i = 0; i < 1; i++) { // one NodeManager
        for (String dir : cluster.getNodeManager(i).getConfig().getTrimmedStrings(YarnConfiguration.NM_LOG_DIRS)) {
          Path root = Path.of(URI.create(dir.startsWith("file:") ? dir : "file://" + dir));
          if (!Files.isDirectory(root)) {
            continue;
          }
          try (Stream<Path> files = Files.walk(root)) {
            files.filter(f -> name.matcher(f.toString()).find()).sorted().forEach(out::add);
          }
        }
      }
      return out;
    }

    @Override
    public void close() {
      cluster.stop();
    }
  }
}
