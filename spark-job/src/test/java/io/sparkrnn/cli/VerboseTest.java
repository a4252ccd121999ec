package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --verbose}, before or after the subcommand, turns on the debug lines of spark-rnn's own
 * loggers: SLF4J's (the Spark job) and java.util.logging's (the kernel), both into log4j2.
 */
class VerboseTest {
  @AfterEach
  void quietAgain() {
    Verbose.disable();
  }

  @Test
  void verboseAfterTheSubcommandTurnsOnDebugLinesOfBothLoggers() {
    assertFalse(org.slf4j.LoggerFactory.getLogger("io.sparkrnn.job.driver.Trainer").isDebugEnabled(), "no debug lines by default");
    assertFalse(Logger.getLogger("io.sparkrnn.kernel.aparapi.AparapiEngine").isLoggable(Level.FINE), "no kernel debug lines by default");
    assertEquals(0, Main.run("devices", "--verbose"));
    assertTrue(Verbose.enabled());
    assertTrue(org.slf4j.LoggerFactory.getLogger("io.sparkrnn.job.driver.Trainer").isDebugEnabled(), "the job's debug lines");
    assertTrue(Logger.getLogger("io.sparkrnn.kernel.aparapi.AparapiEngine").isLoggable(Level.FINE), "the kernel's debug lines");
    assertFalse(org.slf4j.LoggerFactory.getLogger("org.apache.spark.SparkContext").isDebugEnabled(), "not Spark's own");
  }

  /** train is added to the command line apart (TrainCommand.commandLine()); it inherits the option all the same. */
  @Test
  void trainTakesItToo() {
    assertEquals(2, Main.run("train", "--verbose", "--data", "/nonexistent/spark-rnn-dataset", "--out", "/nonexistent/out"));
    assertTrue(Verbose.enabled());
  }

  @Test
  void verboseBeforeTheSubcommandIsTheSameOption() {
    assertEquals(0, Main.run("--verbose", "devices"));
    assertTrue(org.slf4j.LoggerFactory.getLogger("io.sparkrnn.fs.RunLock").isDebugEnabled());
  }
}
