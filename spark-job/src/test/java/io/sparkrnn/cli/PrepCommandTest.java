package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepCommandTest {
  @TempDir Path tmp;

  @Test
  void prepThenInspectSucceed() {
    Path out = tmp.resolve("adding");
    assertEquals(0, Main.run("prep", "adding", "--out", out.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    assertEquals(0, Main.run("inspect", out.toString()));
  }

  @Test
  void badInputExitsWithTwoAndLeavesNothing() throws IOException {
    Path csv = tmp.resolve("bad.csv");
    Files.writeString(csv, "a,b\n1,2\n3,x\n");
    Path out = tmp.resolve("bad");
    assertEquals(2, Main.run("prep", "csv", csv.toString(), "--out", out.toString(), "--steps", "1"));
    assertFalse(Files.exists(out));
    assertEquals(2, Main.run("inspect", tmp.resolve("nothing").toString()));
  }
}
