package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.cli.Main;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.model.Checkpoints;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * docs/cluster.md's standalone example as written: {@code spark-submit --deploy-mode cluster
 * --supervise --properties-file conf/spark-defaults.conf … train --conf hdfs:///jobs/sine.conf
 * --resume true}. The Master starts the driver on a Worker; the test kills that driver ({@code kill
 * -9}) after its second checkpoint, the Worker launches it again (--supervise), the new driver takes
 * over the dead one's lock and resumes, and the model is byte-identical to the same job in local
 * mode. The driver's JVM options come from the properties file alone (standalone's cluster mode
 * reads only spark.driver.extraJavaOptions), so this also shows that the file's driver line works
 * there.
 */
@Tag("cluster")
class StandaloneClusterModeTest {
  static final int STEPS = 30;
  static final Duration RUN_TIMEOUT = Duration.ofMinutes(5);

  @Test
  void theDocsStandaloneCommandRelaunchesAKilledDriverUnderSuperviseAndItResumesToTheUndisturbedModel() throws Exception {
    Path work = Path.of("target", "standalone-cluster-mode-" + ProcessHandle.current().pid()).toAbsolutePath();
    // two Workers of 2 cores: the driver takes one core of one Worker, the two executors one each
    try (LoopbackHdfs hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
        StandaloneCluster cluster = new StandaloneCluster(work, 2, 2, 1400)) {
      String data = hdfs.uri("/datasets/sine");
      Prep.run(new SineSource(SineSource.Options.defaults(20, 8 * 16, 7)), new PrepOptions(URI.create(data), 16, 0.125, false, false),
          hdfs.conf());
      // the job file on HDFS, where a driver on any Worker reads it: ClusterFaultTest's job, 30 steps
      String job = hdfs.uri("/jobs/sine.conf");
      hdfs.write(job, ("cell = gru\nhidden-size = 8\nbatch = 32\nsteps = " + STEPS + "\nlr = 0.02\nseed = 7\ncheckpoint-every = "
          + ClusterFaultTest.CHECKPOINT_EVERY + "\nlog-every = 1\n").getBytes(StandardCharsets.UTF_8));

      String local = hdfs.uri("/runs/local");
      assertEquals(0, Main.run("train", "--conf", job, "--data", data, "--out", local, "--partitions", "2", "--master", "local[2]"),
          "local run");
      byte[] expected = hdfs.read(local + "/model.safetensors");

      String out = hdfs.uri("/runs/sine-1");
      List<String> sparkArgs = new ArrayList<>(List.of("--supervise",
          "--properties-file", Path.of("..", "conf", "spark-defaults.conf").toAbsolutePath().normalize().toString(),
          "--driver-memory", "512m", "--executor-memory", "512m", "--executor-cores", "1", "--total-executor-cores", "2",
          "--conf", "spark.ui.enabled=false",
          // quick-starting executors (C1 only: the job is tiny); the driver keeps the file's options alone
          "--conf", "spark.executor.extraJavaOptions=-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"));
      ManagedProcess client = cluster.submitInClusterMode("sine-1", sparkArgs,
          List.of("train", "--conf", job, "--data", data, "--out", out, "--partitions", "2", "--resume", "true"));
      assertEquals(0, client.awaitExit(Duration.ofMinutes(2)), client.tail(40));

      String second = out + "/" + Checkpoints.DIR + "/" + Checkpoints.fileName(2 * ClusterFaultTest.CHECKPOINT_EVERY);
      long deadline = System.nanoTime() + RUN_TIMEOUT.toNanos();
      while (!hdfs.exists(second)) {
        if (System.nanoTime() > deadline) {
          fail("no checkpoint " + second + "\n" + driverOutput(cluster));
        }
        Thread.sleep(100);
      }
      List<ProcessHandle> drivers = cluster.clusterModeDrivers();
      assertEquals(1, drivers.size(), "one driver on the Workers: " + drivers);
      long killed = drivers.get(0).pid();
      drivers.get(0).destroyForcibly();

      // the Worker launches it again (after 1 s); the run ends with the model, and no driver runs
      deadline = System.nanoTime() + RUN_TIMEOUT.toNanos();
      while (!hdfs.exists(out + "/model.safetensors") || !cluster.clusterModeDrivers().isEmpty()) {
        if (System.nanoTime() > deadline) {
          fail("no model from the relaunched driver\n" + driverOutput(cluster));
        }
        Thread.sleep(200);
      }
      String said = driverOutput(cluster);
      assertTrue(said.contains("was left by pid " + killed + " on host") && said.contains("which is no longer running; taking the lock"
          + " over"), said);
      Matcher resumed = Pattern.compile("resumed from \\S+ at step (\\d+)").matcher(said);
      assertTrue(resumed.find(), said);
      int step = Integer.parseInt(resumed.group(1));
      assertTrue(step >= 2 * ClusterFaultTest.CHECKPOINT_EVERY && step < STEPS, "resumed at step " + step);
      assertTrue(said.contains("done: " + STEPS + " steps"), said);
      ClusterFaultTest.assertSameBytes(expected, hdfs.read(out + "/model.safetensors"),
          "model after the supervised driver was killed, relaunched and resumed");
    }
  }

  /** The stdout and stderr of every driver the Workers ran (a relaunch appends to its first run's files). */
  static String driverOutput(StandaloneCluster cluster) throws IOException {
    StringBuilder b = new StringBuilder();
    for (Path d : cluster.driverDirs()) {
      for (String f : List.of("stdout", "stderr")) {
        if (Files.exists(d.resolve(f))) {
          b.append("--- ").append(d.resolve(f)).append('\n').append(Files.readString(d.resolve(f)));
        }
      }
    }
    return b.toString();
  }
}
