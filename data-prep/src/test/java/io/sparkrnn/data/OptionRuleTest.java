package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.BadInputException;
import org.junit.jupiter.api.Test;

/**
 * The value forms OptionRule's javadoc promises on the text of a command line or job file, and its
 * refusal "{@code <name>: <what is allowed>, found <value>}".
 */
class OptionRuleTest {

  /** longIn's javadoc: "_" may group digits, so 1_000 is the integer 1000 (as in Java source). */
  @Test
  void underscoresGroupDigitsOfAnInteger() {
    OptionRule steps = OptionRule.longIn(1, 1000);
    assertDoesNotThrow(() -> steps.check("steps", "1_000"));
    assertEquals(1_000_000L, OptionRule.parseLong("steps", "1_000_000"));
    // 1_001 is 1001, one past the maximum: refused with the number it read
    BadInputException e = assertThrows(BadInputException.class, () -> steps.check("steps", "1_001"));
    assertEquals("steps: must be in [1, 1000], found 1001", e.getMessage());
  }

  /** A value from a job file or a quoted shell word may carry spaces around it: " 7 " is 7. */
  @Test
  void spacesAroundAnIntegerAreIgnored() {
    assertEquals(7L, OptionRule.parseLong("batch", " 7 "));
    assertDoesNotThrow(() -> OptionRule.atLeast(1).check("batch", "\t7\n"));
  }

  /** What is not an integer is refused naming the option and quoting the value as written. */
  @Test
  void aValueThatIsNotAnIntegerIsQuotedAsWritten() {
    BadInputException e = assertThrows(BadInputException.class, () -> OptionRule.atLeast(1).check("--steps", "ten"));
    assertEquals("--steps: expected an integer, found 'ten'", e.getMessage());
    BadInputException none = assertThrows(BadInputException.class, () -> OptionRule.parseLong("--steps", null));
    assertEquals("--steps: expected an integer, found 'null'", none.getMessage());
  }

  /** nonBlank: blank text and no value at all are both refused, the latter said as "none". */
  @Test
  void aBlankOrMissingValueIsRefusedSayingWhatWasExpected() {
    OptionRule rule = OptionRule.nonBlank("a column name");
    assertDoesNotThrow(() -> rule.check("--key", "id"));
    assertEquals("--key: expected a column name, found '  '",
        assertThrows(BadInputException.class, () -> rule.check("--key", "  ")).getMessage());
    assertEquals("--key: expected a column name, found none",
        assertThrows(BadInputException.class, () -> rule.check("--key", null)).getMessage());
  }
}
