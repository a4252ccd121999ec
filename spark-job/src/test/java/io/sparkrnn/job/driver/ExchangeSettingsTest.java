package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.sync.GradientExchange;
import io.sparkrnn.kernel.BadInputException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * The --sync barrier exchange's Spark settings (docs/cluster.md), checked before the run as bad
 * input naming the setting (a user audit: a port out of range, a word for a port or a time, and a
 * port already taken each ended in a stack trace and exit 1, or a message naming nothing).
 */
class ExchangeSettingsTest {
  private static SparkConf with(String key, String value) {
    return new SparkConf(false).set(key, value);
  }

  @Test
  void thePortIsANumberFrom0To65535() {
    assertEquals(0, Trainer.exchangePort(new SparkConf(false)), "unset: any free port");
    assertEquals(7078, Trainer.exchangePort(with(Trainer.EXCHANGE_PORT, " 7078 ")));
    assertEquals(65535, Trainer.exchangePort(with(Trainer.EXCHANGE_PORT, "65535")));
    for (String bad : new String[] {"65536", "99999", "-1", "abc", ""}) {
      BadInputException e = assertThrows(BadInputException.class, () -> Trainer.exchangePort(with(Trainer.EXCHANGE_PORT, bad)));
      assertEquals("spark.sparkrnn.exchange.port: expected a port in [0, 65535] (0: any free port), found '" + bad.strip() + "'",
          e.getMessage());
    }
  }

  @Test
  void theStepTimeoutIsATimeOfAtLeastASecond() {
    assertEquals(GradientExchange.DEFAULT_STEP_TIMEOUT_SECONDS, Trainer.stepTimeoutSeconds(new SparkConf(false)));
    assertEquals(600, Trainer.stepTimeoutSeconds(with(GradientExchange.STEP_TIMEOUT, "10min")));
    assertEquals(5, Trainer.stepTimeoutSeconds(with(GradientExchange.STEP_TIMEOUT, "5")), "seconds without a unit, as Spark reads it");
    BadInputException e = assertThrows(BadInputException.class, () -> Trainer.stepTimeoutSeconds(with(GradientExchange.STEP_TIMEOUT, "abc")));
    assertEquals("spark.sparkrnn.exchange.stepTimeout: expected a time such as 600s or 10min, found 'abc'", e.getMessage());
    e = assertThrows(BadInputException.class, () -> Trainer.stepTimeoutSeconds(with(GradientExchange.STEP_TIMEOUT, "0s")));
    assertEquals("spark.sparkrnn.exchange.stepTimeout: expected at least 1 second, found 0", e.getMessage());
  }

  /**
   * What train checks before its lock (Trainer.checkExchangeSettings): both settings, so that a
   * step timeout no run can use is refused before --out is made, as a bad port is.
   */
  @Test
  void theCheckBeforeTheLockRefusesABadStepTimeoutAsWellAsABadPort() {
    Trainer.checkExchangeSettings(new SparkConf(false));
    BadInputException e = assertThrows(BadInputException.class,
        () -> Trainer.checkExchangeSettings(with(GradientExchange.STEP_TIMEOUT, "ten minutes")));
    assertEquals("spark.sparkrnn.exchange.stepTimeout: expected a time such as 600s or 10min, found 'ten minutes'", e.getMessage());
    e = assertThrows(BadInputException.class, () -> Trainer.checkExchangeSettings(with(GradientExchange.STEP_TIMEOUT, "0s")));
    assertEquals("spark.sparkrnn.exchange.stepTimeout: expected at least 1 second, found 0", e.getMessage());
    e = assertThrows(BadInputException.class, () -> Trainer.checkExchangeSettings(with(Trainer.EXCHANGE_PORT, "70000")));
    assertTrue(e.getMessage().startsWith("spark.sparkrnn.exchange.port: "), e.getMessage());
  }

  @Test
  void aPortAlreadyTakenIsRefusedNamingTheSetting() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
      int port = taken.getLocalPort();
      BadInputException e = assertThrows(BadInputException.class,
          () -> Trainer.openExchange("127.0.0.1", "127.0.0.1", port, null, 1000).close());
      assertTrue(e.getMessage().startsWith("the --sync barrier gradient exchange cannot listen on 127.0.0.1:" + port + " ("), e.getMessage());
      assertTrue(e.getMessage().contains("set spark.sparkrnn.exchange.port to a free port, or 0 for any"), e.getMessage());
    }
  }
}
