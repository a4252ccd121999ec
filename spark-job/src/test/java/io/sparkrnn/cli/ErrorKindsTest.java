package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.ShardDataException;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.GradientSum;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * Bugs told from bad input (issue 16): the CLI prints bad input ({@code BadInputException}, also
 * inside a Spark failure) as one line with exit 2 and a bug with its stack trace, exit 1
 * ({@link Main#userError} decides). An internal failure must not be reported as the user's:
 * merging the sums of two different models, or a plain IllegalArgumentException, is a bug.
 */
class ErrorKindsTest {
  @Test
  void aMergeOfSumsOfDifferentSizesIsABugNotBadInput() {
    IllegalStateException merge = assertThrows(IllegalStateException.class, () -> new GradientSum(2).merge(new GradientSum(3)));
    assertNull(Main.userError(merge), "printed with its stack trace, exit 1");
    assertNull(Main.userError(new RuntimeException("Job aborted", merge)), "also when it comes back from a Spark task");
    assertNotNull(Main.userError(new BadInputException("--batch must be ≥ 1, found 0")), "bad input: one line, exit 2");
    assertNotNull(Main.userError(new RuntimeException("Job aborted", new ShardDataException("shard 3: CRC"))),
        "bad data found in a Spark task: one line, exit 2");
  }

  /** What each kind prints: a bug its stack trace and exit 1; bad input "error: " and its message alone, exit 2. */
  @Test
  void aBugIsPrintedWithItsStackTraceAndBadInputAsOneLine() {
    for (boolean bug : new boolean[] {true, false}) {
      StringWriter err = new StringWriter();
      picocli.CommandLine cl = new picocli.CommandLine(new Main());
      cl.setErr(new PrintWriter(err, true));
      Exception e = bug ? new IllegalStateException("leaves [3, 2) of 4")
          : new RuntimeException("Job aborted", new BadInputException("--batch must be ≥ 1, found 0"));
      int code = Main.reportError(e, cl, cl.parseArgs());
      String printed = err.toString();
      if (bug) {
        assertEquals(1, code);
        assertTrue(printed.startsWith("java.lang.IllegalStateException: leaves [3, 2) of 4"), printed);
        assertTrue(printed.contains("\tat io.sparkrnn.cli.ErrorKindsTest"), "the stack trace, down to where it was thrown: " + printed);
      } else {
        assertEquals(2, code);
        assertEquals("error: --batch must be ≥ 1, found 0" + System.lineSeparator(), printed, "the bad input's own message, one line");
      }
    }
  }

  @Test
  void anIllegalArgumentThatIsNotBadInputIsABug() {
    // a broken invariant in our own code (the combine tree asked for leaves it does not have) or a library's
    assertNull(Main.userError(new IllegalArgumentException("leaves [3, 2) of 4")), "printed with its stack trace, exit 1");
    assertNull(Main.userError(new NumberFormatException("For input string: \"x\"")), "a JDK parse error nobody wrapped is a bug");
  }

  /**
   * In YARN's ApplicationMaster (cluster deploy mode) main returns or throws instead of exiting: YARN
   * takes main's return as success and its exception as failure, while a System.exit (even 0) reads
   * as FAILED and starts the run again (YarnClusterTest runs the real thing). Here main runs in this
   * JVM, which it would otherwise exit.
   */
  @Test
  void underYarnsApplicationMasterMainReturnsOnSuccessAndThrowsNamingTheExitCode() {
    String[] keys = {"spark.yarn.app.id", "spark.submit.deployMode"};
    String[] before = {System.getProperty(keys[0]), System.getProperty(keys[1])};
    System.setProperty(keys[0], "application_1_0001");
    System.setProperty(keys[1], "cluster");
    try {
      assertTrue(Main.inYarnApplicationMaster());
      Main.main(new String[] {"--version"});   // returns: the test goes on
      RuntimeException bad = assertThrows(RuntimeException.class, () -> Main.main(new String[] {"train", "--batch", "zero"}));
      assertEquals("spark-rnn train ended with exit code 2 (bad input: the message above in the driver's stderr)", bad.getMessage());
    } finally {
      for (int i = 0; i < keys.length; i++) {
        if (before[i] == null) {
          System.clearProperty(keys[i]);
        } else {
          System.setProperty(keys[i], before[i]);
        }
      }
    }
    assertFalse(Main.inYarnApplicationMaster(), "client mode, local mode and the CLI exit with the code");
  }

  /** prep table --format jdbc: a database's refusal while its rows are read (java.sql.SQLException) is bad input, exit 2. */
  @Test
  void aDatabasesRefusalIsBadInput() {
    java.sql.SQLException refused = new java.sql.SQLException("no such table: sensors");
    assertEquals(refused, Main.userError(new RuntimeException("Job aborted", refused)));
  }

  /** The subcommand named in "stopped:" and in YARN's "spark-rnn <command> ended with": the first word that is not an option. */
  @Test
  void theCommandNameIsTheFirstWordThatIsNotAnOption() {
    assertEquals("train", Main.commandName(new String[] {"--verbose", "train", "--steps", "5"}));
    assertEquals("spark-rnn", Main.commandName(new String[] {"--version"}));
  }
}
