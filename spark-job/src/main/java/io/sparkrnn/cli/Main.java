package io.sparkrnn.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The one launcher: {@code bin/spark-rnn <subcommand>}. Each subcommand is its own class in this
 * package; add new ones to {@code subcommands} below.
 */
@Command(
    name = "spark-rnn",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Train and use RNN, LSTM and GRU models data-parallel on Apache Spark.",
    subcommands = {
        PrepCommand.class,
        InspectCommand.class,
    })
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (for tests). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(Main::reportError);
    return cl.execute(args);
  }

  /**
   * Bad input (IllegalArgumentException, IOException) is the user's to fix: print the message
   * alone, exit 2. Anything else is a bug: print the stack trace, exit 1.
   */
  private static int reportError(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
    if (e instanceof IllegalArgumentException || e instanceof java.io.IOException || e instanceof UserError) {
      cl.getErr().println("error: " + e.getMessage());
      return 2;
    }
    e.printStackTrace(cl.getErr());
    return 1;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  /** An error caused by the user's input or environment, reported as its message alone. */
  public static final class UserError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserError(String message) {
      super(message);
    }

    public UserError(String message, Throwable cause) {
      super(message, cause);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"spark-rnn " + (v == null ? "development build" : v)};
    }
  }
}
