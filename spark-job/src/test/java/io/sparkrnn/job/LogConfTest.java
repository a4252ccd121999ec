package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.Filter;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.ConfigurationSource;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.properties.PropertiesConfigurationFactory;
import org.apache.logging.log4j.core.impl.Log4jLogEvent;
import org.apache.logging.log4j.message.SimpleMessage;
import org.junit.jupiter.api.Test;

/**
 * conf/log4j2.properties (bin/spark-rnn's logging): a task that fails on bad input is not logged
 * again with its stack trace, while any other task failure still is.
 */
class LogConfTest {
  private static final Path CONF = Path.of("..", "conf", "log4j2.properties");

  /** Whether the file's configuration lets an event of {@code logger} at {@code level} with {@code text} through. */
  private static boolean logged(Configuration conf, String logger, Level level, String text) {
    LoggerConfig lc = conf.getLoggerConfig(logger);
    LogEvent e = Log4jLogEvent.newBuilder().setLoggerName(logger).setLevel(level).setMessage(new SimpleMessage(text)).build();
    if (!lc.getLevel().isLessSpecificThan(level)) { // the logger's level lets fewer through than the event's
      return false;
    }
    Filter f = lc.getFilter();
    return f == null || f.filter(e) != Filter.Result.DENY;
  }

  @Test
  void badInputInATaskIsOneLineAndABugKeepsItsTrace() throws Exception {
    Configuration conf;
    try (LoggerContext context = new LoggerContext("log-conf-test")) {
      conf = new PropertiesConfigurationFactory().getConfiguration(context, ConfigurationSource.fromUri(CONF.toUri()));
      conf.initialize();
    }
    String tsm = "org.apache.spark.scheduler.TaskSetManager";
    String lostBadInput = "Lost task 0.0 in stage 6.0 (TID 203) (localhost executor driver): io.sparkrnn.data.spark."
        + "TableDataException: duplicate (key, order) pair at ts=2024-01-01T00:00:00Z: two rows for the same time\n"
        + "\tat io.sparkrnn.data.spark.TableRows.add(TableRows.java:366)\n";
    assertEquals(false, logged(conf, tsm, Level.WARN, lostBadInput));
    for (String kind : new String[] {"kernel.BadInputException", "job.executor.ShardDataException",
        "kernel.aparapi.DeviceFallbackException", "kernel.aparapi.DeviceUnavailableException"}) {
      assertEquals(false, logged(conf, tsm, Level.WARN, lostBadInput.replace("data.spark.TableDataException", kind)), kind);
    }
    // the tasks killed beside it when the stage is cancelled repeat the failure inside their own line (a user audit)
    String killedBeside = "Lost task 115.0 in stage 3.0 (TID 200) (localhost executor driver): TaskKilled (Stage cancelled: Job"
        + " aborted due to stage failure: Task 0 in stage 3.0 failed 1 times, most recent failure: " + lostBadInput
        + "\nDriver stacktrace:)";
    assertEquals(false, logged(conf, tsm, Level.WARN, killedBeside));
    assertEquals(true, logged(conf, tsm, Level.WARN, killedBeside.replace("io.sparkrnn.data.spark.TableDataException",
        "java.lang.IllegalStateException")), "a bug's stays");
    // a bug, or a bad-input class named only further down the trace: the scheduler's line and its trace stay
    String lostBug = "Lost task 0.0 in stage 6.0 (TID 203) (localhost executor driver): java.lang.IllegalStateException: x\n"
        + "\tat io.sparkrnn.data.spark.TableRows.add(TableRows.java:366)\nCaused by: io.sparkrnn.kernel.BadInputException: y\n";
    assertEquals(true, logged(conf, tsm, Level.WARN, lostBug));
    assertEquals(true, logged(conf, tsm, Level.WARN, "Lost executor 1 on 127.0.0.1: Remote RPC client disassociated"));
    // a CSV read as Parquet: prep table says so in one line (path, --format); the schema job's 40-line trace is left out (a user
    // audit), directly or wrapped as Spark 3.5 logs it; another SparkException keeps its trace
    String footer = "[FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER] Encountered error while reading file file:/t.csv/part-0.csv."
        + " Could not read footer.\n\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFooterForFileError(x)\n";
    String lostTask = "Lost task 0.0 in stage 0.0 (TID 0) (localhost executor driver): org.apache.spark.SparkException: ";
    assertEquals(false, logged(conf, tsm, Level.WARN, lostTask + "Exception thrown in awaitResult: \n\tat org.apache.spark.util"
        + ".SparkThreadUtils$.awaitResult(x)\nCaused by: org.apache.spark.SparkException: " + footer));
    assertEquals(false, logged(conf, tsm, Level.WARN, lostTask + footer));
    assertEquals(true, logged(conf, tsm, Level.WARN, lostTask + "Exception thrown in awaitResult: \n\tat x(y)\nCaused by:"
        + " java.io.IOException: Connection reset\n"));
    // a value the column's type cannot hold (a database NUMERIC of 1e40 as decimal(38, 0)): prep table names it in one line,
    // and the tasks killed beside it, whose reason in Spark 4 is the error message itself (a review), are left out too
    String overflow = "[NUMERIC_VALUE_OUT_OF_RANGE.WITHOUT_SUGGESTION]  The 1E+40 rounded half up from 1E+40 cannot be represented"
        + " as Decimal(38, 0). SQLSTATE: 22003";
    assertEquals(false, logged(conf, tsm, Level.WARN, "Lost task 0.0 in stage 0.0 (TID 0) (localhost executor driver):"
        + " org.apache.spark.SparkArithmeticException: " + overflow + "\n\tat org.apache.spark.sql.errors.x(y)\n"));
    assertEquals(false, logged(conf, tsm, Level.WARN, "Lost task 2.0 in stage 0.0 (TID 2) (localhost executor driver): TaskKilled"
        + " (Stage cancelled: " + overflow + ")"));
    assertEquals(true, logged(conf, tsm, Level.WARN, "Lost task 2.0 in stage 0.0 (TID 2) (localhost executor driver): TaskKilled"
        + " (Stage cancelled: [INTERNAL_ERROR] x)"), "another cancellation's stays");
    // every arithmetic error prep table names in one line, a --where's division by zero too (a review), both lines
    String byZero = "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0. SQLSTATE: 22012";
    assertEquals(false, logged(conf, tsm, Level.WARN, "Lost task 0.0 in stage 0.0 (TID 0) (localhost executor driver):"
        + " org.apache.spark.SparkArithmeticException: " + byZero + "\n\tat org.apache.spark.sql.errors.x(y)\n"));
    assertEquals(false, logged(conf, tsm, Level.WARN, "Lost task 2.0 in stage 0.0 (TID 2) (localhost executor driver): TaskKilled"
        + " (Stage cancelled: " + byZero + ")"));
    assertEquals(false, logged(conf, tsm, Level.WARN, "Lost task 2.0 in stage 0.0 (TID 2) (localhost executor driver): TaskKilled"
        + " (Stage cancelled: [CAST_OVERFLOW] The value 1e40 of the type \"DOUBLE\" cannot be cast to \"INT\")"));
    // the temporary shuffle files such a task never wrote; another file's failed delete stays
    String writer = "org.apache.spark.storage.DiskBlockObjectWriter";
    assertEquals(false, logged(conf, writer, Level.WARN, "Error deleting /tmp/blockmgr-95e9/28/temp_shuffle_2500a402-5f71"));
    assertEquals(true, logged(conf, writer, Level.WARN, "Error deleting /tmp/blockmgr-95e9/28/shuffle_0_1_0.data"));
    assertEquals(false, logged(conf, tsm, Level.ERROR, "Task 0 in stage 6.0 failed 1 times; aborting job"));
    // the executor's copy of every task failure (the scheduler's line repeats it); its other errors stay
    String executor = "org.apache.spark.executor.Executor";
    assertEquals(false, logged(conf, executor, Level.ERROR, "Exception in task 0.0 in stage 6.0 (TID 203)"));
    assertEquals(true, logged(conf, executor, Level.ERROR, "Managed memory leak detected; size = 1 bytes, task 0.0"));
    assertEquals(false, logged(conf, "org.apache.spark.sql.execution.window.WindowExec", Level.WARN,
        "No Partition Defined for Window operation! Moving all data to a single partition"));
    assertEquals(true, logged(conf, "io.sparkrnn.job.driver.Trainer", Level.INFO, "step 1/400"));
    // a glob's "no metadata directory" (with an 80-line trace) and the Hive client's retry (270 lines) are left out
    assertEquals(false, logged(conf, "org.apache.spark.sql.execution.streaming.FileStreamSink", Level.WARN,
        "Assume no metadata directory. Error while looking for metadata directory in the path: data/*.parquet."));
    String hive = "org.apache.spark.sql.hive.client.HiveClientImpl";
    assertEquals(false, logged(conf, hive, Level.WARN, "HiveClient got thrift exception, destroying client and retrying 1 times"));
    assertEquals(true, logged(conf, hive, Level.WARN, "Deadline exceeded"));
  }
}
