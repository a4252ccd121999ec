package io.sparkrnn.cli;

import io.sparkrnn.fs.JvmShutdown;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.DeviceFallbackException;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.fs.FSError;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.SparkConf;
import scala.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

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

  @CommandLine.Spec
  private CommandLine.Model.CommandSpec spec;

  /** The command main() runs, until it returns; the shutdown hook's message names it. */
  private static volatile String running;
  /** How long the shutdown hook waits for a command stopped by a signal to clean up. */
  private static final long STOP_GRACE_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** The "stopped:" line is printed once, by the hook or by reportError, whichever comes first. */
  private static final AtomicBoolean STOP_REPORTED = new AtomicBoolean();

  public static void main(String[] args) {
    running = commandName(args);
    // Hadoop's hook manager registers its JVM hook when its class loads, which the first file system
    // does: loaded under a signal that failed ("Failed to add the ShutdownHook", 25 lines of stack
    // trace after the stopped line; a user audit's SIGTERM in the first seconds). Loaded now, it is not.
    org.apache.hadoop.util.ShutdownHookManager.get();
    // a signal (SIGTERM, Ctrl-C) starts the JVM's shutdown while the command runs: say so at once,
    // since the JVM may halt before the command's own failure (Spark's hook stops its context) surfaces
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      String command = running;
      if (command != null) {
        reportStop(new PrintWriter(System.err, true), command);
        quietSparkAfterStop();
        // the JVM halts when the hooks end: give the command, whose Spark context the hooks stop under
        // it, a few seconds to fail and clean up (train writes the steps since its last checkpoint to
        // metrics.jsonl and releases its lock)
        long deadline = System.nanoTime() + STOP_GRACE_NANOS;
        while (running != null && System.nanoTime() < deadline) {
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }, "spark-rnn-stop"));
    int code;
    try {
      code = run(args);
    } finally {
      running = null;   // a normal end (or an Error thrown out of run) is not a signal
    }
    if (inYarnApplicationMaster()) {
      // YARN cluster mode: the ApplicationMaster calls main in its "Driver" thread and reports the
      // application's final status when main returns (SUCCEEDED) or throws (FAILED, the exception its
      // diagnostics). A System.exit, even exit(0), ends the JVM before that report: YARN then records
      // FAILED ("Shutdown hook called before final status was reported") and starts the run again
      // as long as spark.yarn.maxAppAttempts allows (YarnClusterTest found it).
      if (code != 0) {
        throw new CommandFailedException("spark-rnn " + commandName(args), code);
      }
      return;
    }
    System.exit(code);
  }

  /** Whether main runs in Spark's YARN ApplicationMaster (cluster deploy mode), which sets these two properties first. */
  static boolean inYarnApplicationMaster() {
    return System.getProperty("spark.yarn.app.id") != null && "cluster".equals(System.getProperty("spark.submit.deployMode"));
  }

  /** A command that ended with a non-zero exit code where main must not exit the JVM (see {@link #main}). */
  static final class CommandFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CommandFailedException(String command, int code) {
      super(command + " ended with exit code " + code + (code == 2
          ? " (bad input: the message above in the driver's stderr)" : " (the error and its stack trace above in the driver's stderr)"));
    }
  }

  /** The first argument that is not an option: the subcommand. */
  static String commandName(String[] args) {
    for (String a : args) {
      if (!a.startsWith("-")) {
        return a;
      }
    }
    return "spark-rnn";
  }

  /**
   * After the "stopped:" line, what Spark prints while its context is stopped under a running job is
   * not the user's: "Asked to remove block broadcast_N, which does not exist" (log4j) and stack
   * traces of futures rejected by pools already shutting down (Scala's default reporter prints them
   * to System.err). Spark's and Hadoop's loggers go off and System.err is dropped; our own lines
   * still show: the command's messages go to the picocli writer made at start ({@link #run}), and
   * log4j's console appender holds the stderr it was configured with.
   */
  private static void quietSparkAfterStop() {
    try {
      // setAllLevels: conf/log4j2.properties sets org.apache.spark.scheduler and others itself, which setLevel leaves
      Configurator.setAllLevels("org.apache.spark", Level.OFF);
      Configurator.setAllLevels("org.apache.hadoop", Level.OFF);
    } catch (LinkageError e) {
      // a Spark build without log4j2's core (spark-submit with another binding): its lines stay
    }
    System.setErr(new PrintStream(OutputStream.nullOutputStream()));
  }

  private static void reportStop(PrintWriter err, String command) {
    if (STOP_REPORTED.compareAndSet(false, true)) {
      err.println("stopped: the JVM is shutting down (Ctrl-C or a signal such as SIGTERM) while " + command + " ran"
          + ("train".equals(command) ? "; it checkpoints the step it reached if it can, and --resume true continues from the newest"
          + " checkpoint (or starts afresh without one)" : ""));
      err.flush();
    }
  }

  private static void giveVersion(CommandLine cl) {
    for (CommandLine sub : cl.getSubcommands().values()) {
      sub.getCommandSpec().versionProvider(new Version());
      giveVersion(sub);
    }
  }

  /** Runs the command line and returns the exit code (for tests). */
  public static int run(String... args) {
    // numbers as scripts read them whatever the user's locale: under de_DE the progress lines said
    // "loss 0,44954" and report.md "107,04, 0,06 ms" (a user audit); files written by Java code with its
    // own Locale.ROOT were already so
    Locale.setDefault(Locale.Category.FORMAT, Locale.ROOT);
    FROM_FILES.clear();
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand("train", TrainCommand.commandLine());
    // made now, on this stderr, for every subcommand (picocli would make it on first use): the stop
    // hook drops System.err later, and the command's own messages must still show
    cl.setErr(cl.getErr());
    // every subcommand's --version (from mixinStandardHelpOptions) prints what the top level's does;
    // without a provider of their own, `train --version` printed nothing
    giveVersion(cl);
    cl.setExecutionExceptionHandler(Main::reportError);
    cl.setParameterExceptionHandler(Main::reportParameterError);
    cl.setExecutionStrategy(parsed -> {
      refuseEmptyValues(parsed);
      warnOfUnexpandedHome(parsed, cl.getErr());
      return new CommandLine.RunLast().execute(parsed);
    });
    try {
      return cl.execute(args);
    } catch (FSError e) {
      // a full or failing local disk, reported by Hadoop as an Error where no writer of ours named the file
      cl.getErr().println("error: a file could not be written: " + (e.getCause() != null ? e.getCause().getMessage()
          : e.getMessage()) + " (is the disk full?)");
      return 2;
    }
  }

  /**
   * An empty value ({@code --model ""}, {@code inspect ""}: a shell variable that was never set) is
   * bad input for every option and parameter: none means anything empty, and a path would reach
   * Hadoop's {@code new Path("")}, whose IllegalArgumentException would read as a bug (exit 1).
   * Refused here, naming the option, as picocli's own parse errors are (exit 2).
   */
  static void refuseEmptyValues(CommandLine.ParseResult parsed) {
    for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
      // picocli lets --help and --version pass words it could not place (a user audit: `--version extra`, exit 0)
      if (!r.unmatched().isEmpty() || !r.errors().isEmpty()) {
        throw new CommandLine.ParameterException(r.commandSpec().commandLine(), !r.unmatched().isEmpty()
            ? "Unmatched argument" + (r.unmatched().size() > 1 ? "s" : "") + ": " + String.join(" ", r.unmatched())
            : r.errors().get(0).getMessage());
      }
      for (CommandLine.Model.ArgSpec arg : r.matchedArgs()) {
        if (arg.originalStringValues().contains("")) {
          String name = arg instanceof CommandLine.Model.OptionSpec o ? o.longestName() : arg.paramLabel();
          throw new CommandLine.ParameterException(r.commandSpec().commandLine(), name + ": expected a value, found an empty string");
        }
      }
    }
  }

  /**
   * A value that starts with "~/" (or is "~") reached us as written: the shell expands ~ only
   * unquoted and at a word's start, so '--out "~/runs/a"' names a folder "~" in the working
   * directory. Said once a value, not refused: such a folder may be meant (a user audit found every
   * command agreeing on it without a word).
   */
  static void warnOfUnexpandedHome(CommandLine.ParseResult parsed, PrintWriter err) {
    for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
      for (CommandLine.Model.ArgSpec arg : r.matchedArgs()) {
        for (String v : arg.originalStringValues()) {
          if (v.equals("~") || v.startsWith("~/")) {
            String name = arg instanceof CommandLine.Model.OptionSpec o ? o.longestName() : arg.paramLabel();
            err.println("warning: " + name + " " + v + ": ~ was not expanded (the shell does that only unquoted), so this names"
                + " a folder called ~ in " + Path.of("").toAbsolutePath() + "; write $HOME/" + v.substring(Math.min(2, v.length()))
                + " for your home");
          }
        }
      }
    }
  }

  /**
   * Bad input (a bad value, a missing or corrupt file, an unavailable device, a non-finite loss)
   * is the user's to fix: print its message alone and exit 2, also when it comes back from a
   * Spark task wrapped in a SparkException. Anything else is a bug: print the stack trace, exit 1.
   */
  static int reportError(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
    if (JvmShutdown.inProgress()) {
      // Ctrl-C or SIGTERM: Spark's shutdown hook stopped the context under the command, which then
      // fails on it ("Cannot call methods on a stopped SparkContext"): not a bug, so no stack trace
      reportStop(cl.getErr(), parsed.subcommand() == null ? "spark-rnn" : parsed.subcommand().commandSpec().name());
      return 2;
    }
    Throwable user = userError(e);
    if (user == null) {
      user = pathError(e, parsed);
    }
    if (user != null) {
      cl.getErr().println("error: " + whoseUri(user, parsed) + user.getMessage());
      return 2;
    }
    e.printStackTrace(cl.getErr());
    return 1;
  }

  /**
   * Hadoop's refusals of a path the user wrote, as bad input naming the option: a relative name
   * whose first part holds ':' (Hadoop reads "run-03:45" as scheme "run-03"; a user audit: exit 1 and
   * a stack trace for a cron job's --out "run-$(date +%H:%M)"), and a URI whose file system's module
   * is not on the classpath (s3a:// without hadoop-aws). Null for anything else.
   */
  static UserError pathError(Throwable e, CommandLine.ParseResult parsed) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (io.sparkrnn.data.OptionRule.isColonInRelativeName(t)) {
        String input = ((URISyntaxException) t).getInput();
        // the option that gave this path, else the one it lies nearest below ("--data x:1 --out x:1/run"
        // failing on x:1/run is --out's); none: a path the code made, a bug, not the user's
        // compared as Hadoop spells it: "run:1/" fails as "run:1", "run:a b" as "run:a%20b" (a review)
        String[] option = optionsGiving(parsed, v -> {
          String spelled = hadoopSpelling(v);
          return input.equals(v) || input.equals(spelled) || input.startsWith(v + "/") || input.startsWith(spelled + "/");
        }).stream().max(java.util.Comparator.comparingInt(o -> o[1].length())).orElse(null);
        if (option == null) {
          return null;
        }
        // the value as the user wrote it, whose ./ form is the way out (Hadoop's "run:a%20b" is not)
        return new UserError(option[0] + " " + option[1] + ": " + io.sparkrnn.data.OptionRule.colonInRelativeName(option[1]), e);
      }
      String m = t.getMessage();
      if (t instanceof ClassNotFoundException && m != null && m.startsWith("Class org.apache.hadoop.fs.") && m.endsWith(" not found")) {
        String cls = m.substring("Class ".length(), m.length() - " not found".length());
        // which URIs asked for it: those whose scheme Hadoop maps to this class (fs.SCHEME.impl)
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        String named = named(optionsGiving(parsed, v -> v.indexOf("://") > 0 && cls.equals(conf.get("fs." + v.substring(0,
            v.indexOf("://")) + ".impl"))));
        return new UserError(named + "the file system " + cls + " is not on the classpath (a URI scheme whose Hadoop module is"
            + " missing: s3a:// needs hadoop-aws, abfs:// hadoop-azure, gs:// the GCS connector); add its jars: SPARK_RNN_CLASSPATH"
            + " for bin/spark-rnn, --jars or --packages for spark-submit", e);
      }
    }
    return null;
  }

  /**
   * "--option VALUE: " for Hadoop's errors that name no option: a scheme without a file system ("No
   * FileSystem for scheme "foo"") and a file system that cannot be reached ("Call From h to nn:8020
   * failed on connection exception"): which of the command's URIs was it (a user audit)? "" otherwise.
   */
  static String whoseUri(Throwable t, CommandLine.ParseResult parsed) {
    String m = String.valueOf(t.getMessage());
    java.util.regex.Matcher scheme = java.util.regex.Pattern.compile("No FileSystem for scheme \"([^\"]+)\"").matcher(m);
    // Hadoop names the host as it resolved it ("localhost" for 127.0.0.1): the URIs of its host and port,
    // else (a host written otherwise) those of its port
    java.util.regex.Matcher host = java.util.regex.Pattern.compile("Call From \\S+ to (\\S+):(\\d+) failed").matcher(m);
    if (scheme.find()) {
      // every option that could have given it: the error does not say which one Hadoop opened first
      return named(optionsGiving(parsed, v -> v.startsWith(scheme.group(1) + ":") && !m.contains(v)));
    }
    if (!host.find()) {
      return "";
    }
    String uri = "[A-Za-z][-+.A-Za-z0-9]*://";
    String port = ":" + host.group(2) + "(/.*)?";
    List<String[]> exact = optionsGiving(parsed, v -> v.matches(uri + java.util.regex.Pattern.quote(host.group(1)) + port));
    return named(!exact.isEmpty() ? exact : optionsGiving(parsed, v -> v.matches(uri + "[^/]*" + port)));
  }

  /** {@code value} as Hadoop's Path error quotes it (normalised, escaped), or as Path writes it when it is one. */
  private static String hadoopSpelling(String value) {
    try {
      return new org.apache.hadoop.fs.Path(value).toString();
    } catch (IllegalArgumentException e) {
      return e.getCause() instanceof URISyntaxException u ? u.getInput() : value;
    }
  }

  /**
   * Values a job file gave ({@code train --conf}), named by their FILE:LINE and key where Hadoop's
   * errors name no option: they are no options picocli matched (a review: a job file's s3a:// out
   * was named by nothing). Filled by the command that reads the file; cleared by each {@link #run}.
   */
  private static final List<String[]> FROM_FILES = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** For {@code train --conf}: {@code key = value} at {@code where} (FILE:LINE). */
  static void givenInAFile(String where, String key, String value) {
    FROM_FILES.add(new String[] {where + ": " + key, value});
  }

  /** "--a VALUE, --b VALUE: ", or "" for none. */
  private static String named(List<String[]> options) {
    return options.isEmpty() ? "" : options.stream().map(o -> o[0] + " " + o[1]).collect(java.util.stream.Collectors.joining(", "))
        + ": ";
  }

  /**
   * The matched options (and positionals) whose value passes {@code test}, in command-line order,
   * then a job file's values ({@link #givenInAFile}): {"--name", value} each.
   */
  private static List<String[]> optionsGiving(CommandLine.ParseResult parsed, java.util.function.Predicate<String> test) {
    List<String[]> found = new java.util.ArrayList<>();
    for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
      for (CommandLine.Model.ArgSpec arg : r.matchedArgs()) {
        for (String v : arg.originalStringValues()) {
          if (test.test(v)) {
            found.add(new String[] {arg instanceof CommandLine.Model.OptionSpec o ? o.longestName() : arg.paramLabel(), v});
          }
        }
      }
    }
    for (String[] given : FROM_FILES) {
      if (test.test(given[1])) {
        found.add(given);
      }
    }
    return found;
  }

  /**
   * An option picocli cannot parse (unknown, repeated, missing its value, a required one absent):
   * one line naming it, picocli's "did you mean" where it has one, and where the help is; exit 2.
   * Picocli's default printed the whole usage (114 lines for train) under it.
   */
  private static int reportParameterError(CommandLine.ParameterException e, String[] args) {
    CommandLine cl = e.getCommandLine();
    PrintWriter err = cl.getErr();
    String command = cl.getCommandSpec().qualifiedName();
    String hint = "";
    if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
      hint = "; did you mean " + String.join(" or ", u.getSuggestions()) + "?";
    }
    err.println("error: " + command + ": " + e.getMessage() + hint + " (" + command + " --help says what it takes)");
    err.flush();
    return 2;
  }


  /** The first exception in the cause chain that reports bad input, or null. */
  static Throwable userError(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BadInputException || t instanceof IOException || t instanceof UserError
          || t instanceof UncheckedIOException || t instanceof Trainer.NonFiniteException
          || t instanceof DeviceUnavailableException
          || t instanceof DeviceFallbackException
          || t instanceof SQLException) {   // a database's refusal while its rows are read (prep table --format jdbc)
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
    // no command: an error, as `prep` without a source is (a script's typo must not pass as exit 0)
    throw new BadInputException("spark-rnn needs a command: " + String.join(", ", spec.subcommands().keySet())
        + " (see spark-rnn --help)");
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

  /**
   * What a bug report needs: spark-rnn's version (its jar's Implementation-Version; none when run
   * from target/classes), and the Spark, Scala and Java it runs on.
   */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      String spark = SparkConf.class.getPackage().getImplementationVersion();
      return new String[] {"spark-rnn " + (v == null ? "development build (classes, not a jar)" : v),
          "Spark " + (spark == null ? "(version unknown)" : spark) + ", Scala " + Properties.versionNumberString()
              + ", Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
    }
  }
}
