package io.sparkrnn.kernel.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.function.Executable;

/** Bad input is refused with a message that says what and where: each fragment must appear in it. */
public final class Refusals {
  private Refusals() {}

  /** {@code action} throws an IllegalArgumentException (BadInputException is one) whose message holds every fragment. */
  public static IllegalArgumentException refused(Executable action, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
    }
    return e;
  }
}
