package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * README example 6 at full size: the quickstart's sine training ({@code conf/sine.conf}) through
 * SparkSubmit with the shaded jar against a standalone Master with two Workers (separate JVMs),
 * the dataset and the run on HDFS (MiniDFSCluster). A measurement for the README (minutes), so
 * tagged "benchmark": {@code mvn -B verify -pl spark-job -am -DexcludedGroups= -Dgroups=benchmark
 * -Dtest=ClusterExampleTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("benchmark")
class ClusterExampleTest {
  static final Pattern LAST = Pattern.compile("^step 400/400 .*? val ([\\d.e-]+) .*?closed-loop ([\\d.e-]+)");

  @Test
  void sineExampleOnAStandaloneClusterWithHdfs() throws IOException {
    Path work = Path.of("target", "cluster-example-" + ProcessHandle.current().pid()).toAbsolutePath();
    try (LoopbackHdfs hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
        StandaloneCluster cluster = new StandaloneCluster(work, 2, 1, 700)) {
      // bin/spark-rnn prep sine --out hdfs:///datasets/sine --steps 100 --sequences 2000 --batch 50
      //   --min-frequency 0.05 --max-frequency 0.05   (prep's defaults: seed 42, 10% validation)
      String data = hdfs.uri("/datasets/sine");
      Prep.run(new SineSource(new SineSource.Options(100, 2000, 42, false, 0.05, 0.05, 0, 100)),
          new PrepOptions(URI.create(data), 50, 0.1, false, false), hdfs.conf());
      String out = hdfs.uri("/runs/sine");
      String conf = Path.of("..", "conf", "sine.conf").toAbsolutePath().normalize().toString();
      long t0 = System.nanoTime();
      ManagedProcess d = cluster.submit("example-6", Map.of(StandaloneCluster.FULL_JIT, "true"), List.of("train", "--conf", conf,
          "--data", data, "--out", out, "--partitions", "2", "--resume", "true"));
      assertEquals(0, d.awaitExit(Duration.ofMinutes(10)), d.tail(40));
      double seconds = (System.nanoTime() - t0) / 1e9;
      Matcher m = null;
      for (String line : d.lines()) {
        Matcher x = LAST.matcher(line);
        if (x.find()) {
          m = x;
        }
      }
      assertTrue(m != null, "a last progress line with validation\n" + d.tail(40));
      double val = Double.parseDouble(m.group(1));
      double closed = Double.parseDouble(m.group(2));
      System.out.printf("README example 6 on 2 workers x 1 core + HDFS: validation MSE %.5g, closed-loop MSE (last 50 steps) %.5g,"
          + " %.0f s from spark-submit to exit%n%s%n", val, closed, seconds, d.tail(6));
      // the sine signal's variance is 0.5; the quickstart's target for closed loop is < 0.05
      assertTrue(closed < 0.05, "closed-loop MSE " + closed);
    }
  }
}
