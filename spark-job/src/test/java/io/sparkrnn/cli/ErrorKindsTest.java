package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.engine.GradientSum;
import org.junit.jupiter.api.Test;

/**
 * Bugs told from bad input (issue 16): the CLI prints bad input as one line with exit 2 and a bug
 * with its stack trace, exit 1 ({@link Main#userError} decides). An internal failure must not be
 * reported as the user's: merging the sums of two different models can only be a bug.
 */
class ErrorKindsTest {
  @Test
  void aMergeOfSumsOfDifferentSizesIsABugNotBadInput() {
    IllegalStateException merge = assertThrows(IllegalStateException.class, () -> new GradientSum(2).merge(new GradientSum(3)));
    assertNull(Main.userError(merge), "printed with its stack trace, exit 1");
    assertNull(Main.userError(new RuntimeException("Job aborted", merge)), "also when it comes back from a Spark task");
    assertNotNull(Main.userError(new IllegalArgumentException("--batch must be ≥ 1, found 0")), "bad input: one line, exit 2");
  }
}
