package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The step of {@code --sync barrier} split into compute, reduction, update and control against
 * the number of executors: 1, 2 and 4 one-core workers of a standalone cluster (separate JVMs,
 * executors reducing over TCP among themselves), one partition per executor, on the cluster and
 * HDFS of {@link ClusterFaultTest}, for a tiny model (communication shows) and an LSTM with
 * H = 256 (a 2.1 MB gradient). A measurement, not a check, so tagged "benchmark", which the build
 * leaves out unless asked for:
 * {@code mvn -B verify -pl spark-job -am -DexcludedGroups= -Dgroups=benchmark -Dtest=ClusterScaleTest}.
 * It prints one line per run from the run's report.md (docs/SCALING.md has the numbers).
 */
@Tag("benchmark")
class ClusterScaleTest {
  static final Pattern PARTS = Pattern.compile("compute \\(slowest partition\\), reduction, update, control \\| ([\\d.]+), ([\\d.]+), ([\\d.]+),"
      + " ([\\d.]+) ms");
  static final Pattern MEDIAN = Pattern.compile("median step time \\| ([\\d.]+) ms");

  @Test
  void stepPartsAgainstExecutors() throws IOException {
    Path work = Path.of("target", "cluster-scale-" + ProcessHandle.current().pid()).toAbsolutePath();
    try (LoopbackHdfs hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
        StandaloneCluster cluster = new StandaloneCluster(work, 4, 1, 600)) {
      // 64 shards of 16 sine sequences, T = 20
      String data = hdfs.uri("/data/scale");
      Prep.run(new SineSource(SineSource.Options.defaults(20, 64 * 16, 3)), new PrepOptions(URI.create(data), 16, 1.0 / 64, false, false),
          hdfs.conf());
      StringBuilder report = new StringBuilder();
      for (String[] shape : new String[][] {{"8", "16"}, {"256", "64"}}) {
        for (int executors : new int[] {1, 2, 4}) {
          String out = hdfs.uri("/runs/scale-" + shape[0] + "-" + executors + "-" + System.nanoTime());
          ManagedProcess d = cluster.submit("scale-" + executors, Map.of("spark.cores.max", Integer.toString(executors),
              StandaloneCluster.FULL_JIT, "true"),
              List.of("train", "--data", data, "--out", out, "--cell", "lstm", "--hidden-size", shape[0], "--batch", shape[1], "--steps",
                  "150", "--partitions", Integer.toString(executors), "--checkpoint-every", "0", "--validate-every", "0", "--log-every",
                  "25", "--seed", "1"));
          assertEquals(0, d.awaitExit(Duration.ofMinutes(5)), d.tail(40));
          String md = new String(hdfs.read(out + "/report.md"), StandardCharsets.UTF_8);
          Matcher parts = PARTS.matcher(md);
          Matcher median = MEDIAN.matcher(md);
          assertTrue(parts.find() && median.find(), md);
          report.append(String.format("LSTM H=%s B=%s, %d executor(s) x 1 core: median step %s ms; mean compute %s, reduction %s,"
              + " update %s, control %s ms%n", shape[0], shape[1], executors, median.group(1), parts.group(1), parts.group(2),
              parts.group(3), parts.group(4)));
        }
      }
      System.out.print("cluster scale (T=20, one partition per executor, --sync barrier):\n" + report);
    }
  }
}
