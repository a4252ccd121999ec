package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `spark-rnn --help` lists each command with the first line of its description: that line must be a whole sentence. */
class HelpTextTest {
  @Test
  void everyCommandsFirstDescriptionLineIsAWholeSentence() {
    List<String> cut = new ArrayList<>();
    check(commandLine(), cut);
    assertTrue(cut.isEmpty(), "first description lines that stop mid-phrase: " + cut);
  }

  /**
   * picocli renders every description line with {@code String.format}; a line it cannot format (a
   * bare {@code %} as in "25%)") is printed raw after a "[picocli WARN] Could not format" line.
   * picocli's tracer writes to the System.err of its class initialisation, so the test points the
   * tracer's stream at a buffer, then asks every command for its help and makes a usage error.
   */
  @Test
  void noHelpOrUsageErrorPrintsAPicocliWarning() throws Exception {
    Field stream = CommandLine.tracer().getClass().getDeclaredField("stream");
    stream.setAccessible(true);
    Object old = stream.get(CommandLine.tracer());
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    stream.set(CommandLine.tracer(), new PrintStream(warnings, true, StandardCharsets.UTF_8));
    List<String> warned = new ArrayList<>();
    try {
      List<List<String>> commands = new ArrayList<>();
      paths(commandLine(), new ArrayList<>(), commands);
      assertTrue(commands.size() > 10, "every subcommand: " + commands);
      for (List<String> command : commands) {
        for (String last : new String[] {"--help", "--no-such-option"}) {
          List<String> args = new ArrayList<>(command);
          args.add(last);
          InferenceCommandsTest.Run r = InferenceCommandsTest.run(args.toArray(new String[0]));
          String all = warnings.toString(StandardCharsets.UTF_8) + r.out() + r.err();
          if (all.contains("picocli WARN")) {
            warned.add(args + ": " + all.lines().filter(l -> l.contains("picocli WARN")).findFirst().orElseThrow());
          }
          warnings.reset();
        }
      }
    } finally {
      stream.set(CommandLine.tracer(), old);
    }
    assertTrue(warned.isEmpty(), "picocli warnings (escape % in help text as %%): " + warned);
  }

  /** The subcommand paths below {@code cl} (e.g. [prep, sine]). */
  private static void paths(CommandLine cl, List<String> prefix, List<List<String>> out) {
    for (var e : cl.getSubcommands().entrySet()) {
      List<String> p = new ArrayList<>(prefix);
      p.add(e.getKey());
      out.add(p);
      paths(e.getValue(), p, out);
    }
  }

  /**
   * picocli prints each description element on its own lines, wrapping one longer than the usage
   * width (80): an element that runs past it and whose sentence goes on in the next element leaves
   * a short line in the middle of the sentence ("seed); continuous" / "models feed ...").
   */
  @Test
  void noDescriptionBreaksASentenceAfterAWrappedLine() {
    List<String> broken = new ArrayList<>();
    List<CommandLine> all = new ArrayList<>();
    all.add(commandLine());
    for (int i = 0; i < all.size(); i++) {
      CommandLine cl = all.get(i);
      all.addAll(cl.getSubcommands().values());
      String[] d = cl.getCommandSpec().usageMessage().description();
      int width = cl.getCommandSpec().usageMessage().width();
      for (int k = 0; k + 1 < d.length; k++) {
        boolean continues = !d[k + 1].isEmpty() && Character.isLowerCase(d[k + 1].charAt(0));
        if (d[k].length() > width && continues) {
          broken.add(cl.getCommandSpec().qualifiedName() + ": '" + d[k] + "' / '" + d[k + 1] + "'");
        }
      }
    }
    assertTrue(broken.isEmpty(), "description elements wrapped mid-sentence (join them into one element): " + broken);
  }

  /**
   * --version gives what a bug report needs: spark-rnn's version (run from target/classes here, with
   * no jar manifest: it says so), then the Spark 4 of Scala 2.13 and the Java 17 this project is built
   * for, with their own version numbers.
   */
  @Test
  void versionNamesTheBuildAndTheSparkScalaAndJavaItRunsOn() {
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("--version");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(2, lines.length, r.out());
    assertTrue(lines[0].equals("spark-rnn development build (classes, not a jar)") || lines[0].matches("spark-rnn \\d+\\.\\d+\\.\\d+.*"),
        lines[0]);
    assertTrue(lines[1].matches("Spark 4\\.\\d+\\.\\d+, Scala 2\\.13\\.\\d+, Java \\d+[.0-9]* \\(.+\\)"), lines[1]);
    // a subcommand's --version (picocli's standard options) says the same; it printed nothing
    for (String[] sub : new String[][] {{"train", "--version"}, {"prep", "sine", "--version"}}) {
      InferenceCommandsTest.Run s = InferenceCommandsTest.run(sub);
      assertEquals(0, s.code(), s.err());
      assertEquals(r.out(), s.out(), String.join(" ", sub));
    }
    // no command at all is bad input, as `prep` without a source is: it printed the usage, exit 0
    InferenceCommandsTest.Run none = InferenceCommandsTest.run();
    assertEquals(2, none.code(), none.out() + none.err());
    assertEquals("", none.out());
    assertTrue(none.err().contains("spark-rnn needs a command: ") && none.err().contains("train") && none.err().contains("prep")
        && none.err().contains(" (see spark-rnn --help)"),
        none.err());
    // a word after it is not ignored (a user audit: `--version extra` printed the version, exit 0)
    InferenceCommandsTest.Run extra = InferenceCommandsTest.run("--version", "extra");
    assertEquals(2, extra.code(), extra.out() + extra.err());
    assertTrue(extra.err().contains("extra"), extra.err());
  }

  /**
   * A quoted ~ reaches the command as written and names a folder "~" in the working directory: one
   * warning a value, naming the option and the folder meant; the command goes on (here inspect finds
   * no dataset there, exit 2). A ~ inside a name is no home and gets none.
   */
  @Test
  void anUnexpandedHomeIsWarnedOf() {
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", "~/no-such-dataset-here");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("warning: URI ~/no-such-dataset-here: ~ was not expanded (the shell does that only unquoted),"
        + " so this names a folder called ~ in " + Path.of("").toAbsolutePath() + "; write $HOME/no-such-dataset-here"
        + " for your home"), r.err());
    r = InferenceCommandsTest.run("inspect", "no~such");
    assertFalse(r.err().contains("warning"), r.err());
  }

  @Test
  void theShardCacheDefaultReadsAsAPercentage() {
    String help = commandLine().getSubcommands().get("train").getUsageMessage();
    assertTrue(help.contains("share of its heap (25%)"), help);
    assertEquals(-1, help.indexOf("%%"), "an escaped % shown as %%");
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand("train", TrainCommand.commandLine());
    return cl;
  }

  private static void check(CommandLine cl, List<String> cut) {
    for (CommandLine sub : cl.getSubcommands().values()) {
      String[] d = sub.getCommandSpec().usageMessage().description();
      String first = d.length == 0 ? "" : d[0].strip();
      if (!first.endsWith(".")) {
        cut.add(sub.getCommandSpec().qualifiedName() + ": '" + first + "'");
      }
      check(sub, cut);
    }
  }
}
