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

  @Test
  void exampleTableThenPrepTableThenInspect() {
    Path table = tmp.resolve("sensors.parquet");
    assertEquals(0, Main.run("example-table", "sensors", "--out", table.toString(), "--sensors", "6", "--hours", "60",
        "--master", "local[2]"));
    Path out = tmp.resolve("sensors-ds");
    assertEquals(0, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs",
        "temp,load", "--steps", "12", "--stride", "6", "--normalize", "--batch", "16", "--out", out.toString(),
        "--master", "local[2]"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    assertEquals(0, Main.run("inspect", out.toString()));
    // bad input: a --where that does not parse, a column that is not there, a path that does not exist: exit 2, nothing written
    Path bad = tmp.resolve("bad-ds");
    assertEquals(2, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs", "temp",
        "--steps", "12", "--where", "temp >>> 3", "--out", bad.toString(), "--master", "local[2]"));
    assertEquals(2, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs", "tmp",
        "--steps", "12", "--out", bad.toString(), "--master", "local[2]"));
    assertEquals(2, Main.run("prep", "table", tmp.resolve("absent").toString(), "--order", "ts", "--inputs", "temp",
        "--steps", "12", "--out", bad.toString(), "--master", "local[2]"));
    assertFalse(Files.exists(bad));
  }
}
