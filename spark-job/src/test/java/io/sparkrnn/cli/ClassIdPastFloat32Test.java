package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 9da547b..4fe5f2f (40f1c3e, TableRows.fitsFloat): docs/data-format.md, prep table's missing
 * and bad values: "Always errors: ... a class id outside [0, N)". A class column read as double
 * holding 1e20 is refused so ("has class id 1.0E20, expected an integer in [0, 3)"), but one holding
 * 1e39, now a missing value, is dropped without a word under --missing drop.
 */
class ClassIdPastFloat32Test {
  @TempDir
  static Path tmp;

  @Test
  void aClassIdPastFloat32IsRefusedAsOutOfRangeNotDroppedAsMissing() throws IOException {
    StringBuilder csv = new StringBuilder("t,x,c\n");
    for (int i = 0; i < 30; i++) {
      csv.append(i).append(',').append(i % 4).append(',').append(i == 12 ? "1e39" : Integer.toString(i % 3)).append('\n');
    }
    Path src = Files.writeString(tmp.resolve("classes.csv"), csv.toString());
    assertFails(run("prep", "table", src.toString(), "--format", "csv", "--order", "t", "--inputs", "x", "--targets", "c",
        "--classes", "3", "--steps", "4", "--batch", "2", "--missing", "drop", "--out", tmp.resolve("out").toString(),
        "--master", "local[1]"), "column 'c' has class id", "expected an integer in [0, 3)");
  }
}
