package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `spark-rnn --help` lists each command with the first line of its description: that line must be a whole sentence. */
class HelpTextTest {
  @Test
  void everyCommandsFirstDescriptionLineIsAWholeSentence() {
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand("train", TrainCommand.commandLine());
    List<String> cut = new ArrayList<>();
    check(cl, cut);
    assertTrue(cut.isEmpty(), "first description lines that stop mid-phrase: " + cut);
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
