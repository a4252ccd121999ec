package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user audit (userTab): `inspect` of a dataset written to "cli out/ds" prints its first line as
 * {@code dataset   file:/…/cli%20out/ds} (a URI's escape for the space), while its own
 * {@code source    path = file:/…/part dir/…} line, Dataset.location()'s contract ("as messages and files give it to
 * people: file:/data/sp ace/ds, not file:/data/sp%20ace/ds") and every other command spell the path as typed. A path
 * copied from that line does not name the directory.
 */
class InspectPathSpellingTest {
  @TempDir Path tmp;

  @Test
  void inspectNamesTheDatasetAsThePathIsSpelt() {
    Path out = tmp.resolve("cli out 日本").resolve("ds");
    assertEquals(0, Main.run("prep", "adding", "--out", out.toString(), "--steps", "5", "--sequences", "8", "--batch", "4"));
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", out.toString());
    assertEquals(0, r.code(), r.err());
    String first = r.out().lines().filter(l -> l.startsWith("dataset")).findFirst().orElse("");
    assertFalse(first.contains("%20"), "inspect's dataset line: " + first);
    assertTrue(first.contains("cli out 日本/ds"), "inspect's dataset line: " + first);
  }
}
