package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.Main;
import io.sparkrnn.job.TrainConfig;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * train --conf on HDFS: in cluster deploy mode the driver runs on a worker, where a job file on the
 * submitting machine's disk is not (a user audit: docs/cluster.md's standalone example failed there
 * with "--conf sine.conf: no such file"). Errors name the URI as given.
 */
@Tag("cluster")
class JobFileOnHdfsTest {
  @TempDir Path tmp;

  @Test
  void aJobFileOnHdfsIsReadAndItsErrorsNameTheUri() throws IOException {
    try (LoopbackHdfs hdfs = new LoopbackHdfs(tmp.resolve("hdfs").toFile())) {
      String job = hdfs.uri("/jobs/sine.conf");
      hdfs.write(job, "# the quickstart's job\ncell = gru\nlr = 0.5\n".getBytes(StandardCharsets.UTF_8));
      assertEquals(Map.of("cell", "gru", "lr", "0.5"), TrainConfig.readJobFile(job, hdfs.conf()));

      String bad = hdfs.uri("/jobs/bad.conf");
      hdfs.write(bad, "cell = gru\nlearning-rate = 0.1\n".getBytes(StandardCharsets.UTF_8));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(bad, hdfs.conf()));
      assertTrue(e.getMessage().startsWith(bad + ":2: unknown key 'learning-rate'"), e.getMessage());
      // the command line reads it before any Spark work: the same error, exit 2
      assertEquals(2, Main.run("train", "--conf", bad, "--data", hdfs.uri("/none"), "--out", tmp.resolve("out").toString()));

      String missing = hdfs.uri("/jobs/none.conf");
      IOException m = assertThrows(FileNotFoundException.class, () -> TrainConfig.readJobFile(missing, hdfs.conf()));
      assertEquals("--conf " + missing + ": no such file", m.getMessage());
      IOException d = assertThrows(IOException.class, () -> TrainConfig.readJobFile(hdfs.uri("/jobs"), hdfs.conf()));
      assertTrue(d.getMessage().contains(": is a directory"), d.getMessage());
      String binary = hdfs.uri("/jobs/binary.conf");
      hdfs.write(binary, new byte[] {(byte) 0xff, (byte) 0xfe, 'x'});
      IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(binary, hdfs.conf()));
      assertTrue(b.getMessage().contains("not a UTF-8 text file"), b.getMessage());
    }
    // file: URIs and plain paths are the local file
    Path local = Files.writeString(tmp.resolve("local.conf"), "cell = lstm\n");
    assertEquals(Map.of("cell", "lstm"), TrainConfig.readJobFile(local.toUri().toString(), new Configuration()));
    assertEquals(Map.of("cell", "lstm"), TrainConfig.readJobFile(local.toString(), new Configuration()));
  }
}
