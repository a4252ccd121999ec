package io.sparkrnn.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine;

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
      QuickstartCommand.class,
      PrepCommand.class,
      ExampleTableCommand.class,
      InspectCommand.class,
      DevicesCommand.class,
      GradCommand.class,
      PredictCommand.class,
      GenerateCommand.class,
      EvaluateCommand.class,
      ExportCommand.class,
      ImportCommand.class,
      BenchCommand.class,
    })
public final class Main implements Runnable {

  /** Every subcommand takes it (inherited), before or after the subcommand's name. */
  @Option(names = "--verbose", scope = ScopeType.INHERIT,
      description = "Print debug lines of spark-rnn's own code (steps' timings, shard reads, device launches, "
          + "reduction links) on this JVM; executors of a cluster keep their log4j2 configuration.")
  void setVerbose(boolean verbose) {
    if (verbose) {
      Verbose.enable();
    }
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (for tests). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand("train", TrainCommand.commandLine());
    cl.setExecutionExceptionHandler(Main::reportError);
    try {
      return cl.execute(args);
    } catch (org.apache.hadoop.fs.FSError e) {
      // a full or failing local disk, reported by Hadoop as an Error where no writer of ours named the file
      cl.getErr().println("error: a file could not be written: " + (e.getCause() != null ? e.getCause().getMessage()
          : e.getMessage()) + " (is the disk full?)");
      return 2;
    }
  }

  /**
   * Bad input (a bad value, a missing or corrupt file, an unavailable device, a non-finite loss)
   * is the user's to fix: print its message alone and exit 2, also when it comes back from a
   * Spark task wrapped in a SparkException. Anything else is a bug: print the stack trace, exit 1.
   */
  private static int reportError(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
    Throwable user = userError(e);
    if (user != null) {
      cl.getErr().println("error: " + user.getMessage());
      return 2;
    }
    e.printStackTrace(cl.getErr());
    return 1;
  }

  /** The first exception in the cause chain that reports bad input, or null. */
  static Throwable userError(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.sparkrnn.kernel.BadInputException || t instanceof java.io.IOException || t instanceof UserError
          || t instanceof java.io.UncheckedIOException || t instanceof io.sparkrnn.job.driver.Trainer.NonFiniteException
          || t instanceof io.sparkrnn.kernel.aparapi.DeviceUnavailableException
          || t instanceof io.sparkrnn.kernel.aparapi.DeviceFallbackException) {
        return t;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
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
