package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --sync barrier on two partitions with {@code spark.authenticate} on: the executors derive the
 * exchange's keys from Spark's secret (nothing secret in the segment's broadcast), training runs,
 * and the weights are those of the same run without authentication, byte for byte. Without
 * authentication the run's log warns.
 */
class ExchangeAuthenticationTest {
  @TempDir
  static Path tmp;

  @Test
  void barrierTrainingWithSparkAuthenticationGivesTheSameWeightsAsWithout() throws IOException {
    String data = tmp.resolve("sine").toUri().toString();
    Prep.run(new SineSource(SineSource.Options.defaults(20, 4 * 16, 7)), new PrepOptions(tmp.resolve("sine").toUri(), 16, 0.25,
        false, false), new Configuration());
    ByteArrayOutputStream plainLog = new ByteArrayOutputStream();
    byte[] plain = train(data, "plain", false, plainLog);
    ByteArrayOutputStream authLog = new ByteArrayOutputStream();
    byte[] authenticated = train(data, "authenticated", true, authLog);
    assertArrayEquals(plain, authenticated, "the same weights with and without authentication");
    assertTrue(plainLog.toString(StandardCharsets.UTF_8).contains("warning: spark.authenticate is off"), plainLog.toString());
    assertFalse(authLog.toString(StandardCharsets.UTF_8).contains("spark.authenticate is off"), authLog.toString());
  }

  /** Trains 6 steps on 2 barrier partitions in a fresh local[2] context; the model file's bytes. */
  static byte[] train(String data, String name, boolean authenticate, ByteArrayOutputStream log) throws IOException {
    if (authenticate) {
      // SparkConf reads spark.* system properties: the context below authenticates with this secret
      System.setProperty("spark.authenticate", "true");
      System.setProperty("spark.authenticate.secret", "a test secret");
    }
    JavaSparkContext sc = SparkSetup.start("spark-rnn exchange authentication", "local[2]");
    try {
      Path out = tmp.resolve(name);
      Map<String, String> m = SparkTrainingTest.sineConfig(out.toUri().toString());
      m.put("data", data);
      m.put("partitions", "2");
      m.put("sync", "barrier");
      Trainer.prepare(m, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc);
      return Files.readAllBytes(out.resolve("model.safetensors"));
    } finally {
      sc.close();
      System.clearProperty("spark.authenticate");
      System.clearProperty("spark.authenticate.secret");
    }
  }
}
