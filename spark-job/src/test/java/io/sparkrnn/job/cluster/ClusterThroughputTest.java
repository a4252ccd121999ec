package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Throughput with one worker against two (one core each) on the same data, model and
 * partitioning, on the standalone cluster and HDFS of {@link ClusterFaultTest}. A measurement,
 * not a check, so tagged "benchmark", which the build leaves out unless asked for:
 * {@code mvn -B verify -pl spark-job -am -DexcludedGroups= -Dgroups=benchmark}. It prints the sequences per
 * second of each run (the median of the per-step rates after two warm-up steps, and the whole
 * run's rate including executor start-up).
 */
@Tag("benchmark")
class ClusterThroughputTest {
  static final Pattern STEP = Pattern.compile("^step (\\d+)/\\d+ .*?([\\d,]+) seq/s");
  static final Pattern DONE = Pattern.compile("^done: .*?([\\d.]+) sequences/s");

  @Test
  void oneWorkerAgainstTwo() throws IOException {
    Path work = Path.of("target", "cluster-bench-" + ProcessHandle.current().pid()).toAbsolutePath();
    try (LoopbackHdfs hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
        StandaloneCluster cluster = new StandaloneCluster(work, 2, 1, 700)) {
      // 64 shards of 32 sine sequences, T = 50
      String data = hdfs.uri("/data/bench");
      Prep.run(new SineSource(SineSource.Options.defaults(50, 64 * 32, 3)), new PrepOptions(URI.create(data), 32, 1.0 / 64, false, false),
          hdfs.conf());
      StringBuilder report = new StringBuilder();
      for (int workers : new int[] {1, 2, 1, 2}) {
        String out = hdfs.uri("/runs/bench-" + workers + "-" + System.nanoTime());
        ManagedProcess d = cluster.submit("bench-" + workers, Map.of("spark.cores.max", Integer.toString(workers),
            StandaloneCluster.FULL_JIT, "true"),
            List.of("train", "--data", data, "--out", out, "--cell", "lstm", "--hidden-size", "32", "--batch", "256", "--steps", "30",
                // one partition per worker: a barrier stage needs a task slot for every partition
                "--partitions", Integer.toString(workers), "--checkpoint-every", "0", "--log-every", "1", "--seed", "1"));
        assertEquals(0, d.awaitExit(Duration.ofMinutes(5)), d.tail(40));
        List<Double> rates = new ArrayList<>();
        double overall = 0;
        for (String line : d.lines()) {
          Matcher m = STEP.matcher(line);
          if (m.find() && Integer.parseInt(m.group(1)) > 2) {
            rates.add(Double.parseDouble(m.group(2).replace(",", "")));
          }
          Matcher done = DONE.matcher(line);
          if (done.find()) {
            overall = Double.parseDouble(done.group(1));
          }
        }
        rates.sort(null);
        report.append(String.format("%d worker(s) x 1 core: median step %.0f seq/s (steps 3-30), whole run %.1f seq/s%n", workers,
            rates.get(rates.size() / 2), overall));
      }
      System.out.print("cluster throughput (LSTM H=32, T=50, batch 256, one partition per worker):\n" + report);
    }
  }
}
