package io.sparkrnn.kernel;

/**
 * Input the user must fix: a bad option or configuration value, a missing, unreadable or corrupt
 * file, a table column of the wrong type. Its message names what and where, and what was expected;
 * the command line prints it alone and exits with status 2. Everything else that ends a command
 * (an {@link IllegalArgumentException} or {@link IllegalStateException} from a broken invariant,
 * in our code or a library's) is a bug: printed with its stack trace, exit status 1.
 *
 * <p>It extends {@link IllegalArgumentException} so that code and tests that expect a refused
 * argument keep working; the command line tells the two apart by this type alone.
 */
public class BadInputException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public BadInputException(String message) {
    super(message);
  }

  public BadInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
