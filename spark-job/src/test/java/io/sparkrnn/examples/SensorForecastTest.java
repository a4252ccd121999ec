package io.sparkrnn.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** README example 8's Java source, run small: it must compile, run, and forecast better than repeating the last value. */
class SensorForecastTest {
  @Test
  void theExampleForecastsTheLastDayBetterThanRepeatingTheLastValue(@TempDir Path dir) {
    SparkSession spark = SparkSession.builder().master("local[2]").appName("SensorForecastTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    try {
      SensorForecast.Result r = SensorForecast.run(spark, 8, 240, 150, 24, 12, dir.resolve("model").toString(), System.out);
      assertEquals(8 * (240 - 12) + 8 * 12, r.rows(), "history rows plus 12 forecast rows per sensor");
      assertTrue(r.reloadedIdentical(), "the loaded model scores the same bits");
      // a daily cycle of amplitude 3-8 deg C: holding the last value for 12 hours is off by several degrees
      assertTrue(r.forecastRmse() < r.persistenceRmse(), "model " + r.forecastRmse() + " vs last value " + r.persistenceRmse());
    } finally {
      spark.stop();
    }
  }

  @Test
  void badArgumentsExitTwoWithOneLineBeforeSparkStarts() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String[][] cases = {{"0", "SENSORS (argument 1): expected a whole number ≥ 1, found '0'"},
        {"abc", "SENSORS (argument 1): expected a whole number ≥ 1, found 'abc'"}};
    for (String[] c : cases) {
      Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), SensorForecast.class.getName(), c[0])
          .redirectErrorStream(true).start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the example did not exit");
      assertEquals(2, p.exitValue(), output);
      assertEquals("error: " + c[1], output.strip(), "one line, no stack trace");
    }
  }
}
