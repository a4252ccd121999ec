package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.engine.GradientSum;
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
    assertNotNull(Main.userError(new io.sparkrnn.kernel.BadInputException("--batch must be ≥ 1, found 0")), "bad input: one line, exit 2");
    assertNotNull(Main.userError(new RuntimeException("Job aborted", new io.sparkrnn.job.executor.ShardDataException("shard 3: CRC"))),
        "bad data found in a Spark task: one line, exit 2");
  }

  @Test
  void anIllegalArgumentThatIsNotBadInputIsABug() {
    // a broken invariant in our own code (the combine tree asked for leaves it does not have) or a library's
    assertNull(Main.userError(new IllegalArgumentException("leaves [3, 2) of 4")), "printed with its stack trace, exit 1");
    assertNull(Main.userError(new NumberFormatException("For input string: \"x\"")), "a JDK parse error nobody wrapped is a bug");
  }
}
