package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each source's own options reach the source from the command line (the sources' tests check the
 * sources themselves; a mutation audit found these options unchecked between the two). Counts come
 * from the window formulas in docs/data-format.md; --validation-fraction 0 keeps every sequence in
 * the training split so that the count is the source's.
 */
class PrepOptionWiringTest {
  @TempDir Path tmp;

  private Dataset prep(String... args) throws IOException {
    assertEquals(0, Main.run(args), String.join(" ", args));
    String out = null;
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals("--out")) {
        out = args[i + 1];
      }
    }
    return Dataset.open(out, new Configuration());
  }

  /** Sequence lengths over every shard of the dataset. */
  private static TreeSet<Integer> lengths(Dataset ds) throws IOException {
    TreeSet<Integer> seen = new TreeSet<>();
    for (ShardInfo s : ds.shards(Split.TRAIN)) {
      Batch b = ds.read(s);
      for (int l : b.lengths()) {
        seen.add(l);
      }
    }
    return seen;
  }

  /**
   * Text windows cover T + 1 characters: N = ⌊(len − T − 1) / stride⌋ + 1. 20 characters at T = 4:
   * --stride 2 gives ⌊15 / 2⌋ + 1 = 8, the default stride T gives ⌊15 / 4⌋ + 1 = 4.
   */
  @Test
  void textStrideSetsTheWindowCount() throws IOException {
    Path text = Files.writeString(tmp.resolve("t.txt"), "abcdefghijabcdefghij");
    Dataset strided = prep("prep", "text", text.toString(), "--steps", "4", "--stride", "2", "--validation-fraction", "0",
        "--out", tmp.resolve("strided").toString());
    assertEquals(8, strided.manifest().sequences(Split.TRAIN));
    Dataset plain = prep("prep", "text", text.toString(), "--steps", "4", "--validation-fraction", "0", "--out",
        tmp.resolve("plain").toString());
    assertEquals(4, plain.manifest().sequences(Split.TRAIN));
  }

  /**
   * CSV windows need T + horizon rows: N = ⌊(rows − T − horizon) / stride⌋ + 1. 20 rows at T = 4,
   * horizon 1: --stride 3 gives ⌊15 / 3⌋ + 1 = 6; --horizon 2 with the default stride T gives
   * ⌊14 / 4⌋ + 1 = 4, and its first target is the row two after the first input (x = 0, y = 2).
   */
  @Test
  void csvStrideAndHorizonSetTheWindows() throws IOException {
    StringBuilder csv = new StringBuilder("v\n");
    for (int i = 0; i < 20; i++) {
      csv.append(i).append('\n');
    }
    Path file = Files.writeString(tmp.resolve("s.csv"), csv);
    Dataset strided = prep("prep", "csv", file.toString(), "--steps", "4", "--stride", "3", "--validation-fraction", "0",
        "--out", tmp.resolve("strided").toString());
    assertEquals(6, strided.manifest().sequences(Split.TRAIN));
    Dataset far = prep("prep", "csv", file.toString(), "--steps", "4", "--horizon", "2", "--validation-fraction", "0",
        "--out", tmp.resolve("far").toString());
    assertEquals(4, far.manifest().sequences(Split.TRAIN));
    Batch first = far.read(far.shards(Split.TRAIN).get(0));
    assertEquals(0f, first.x()[0]);
    assertEquals(2f, first.targets()[0], "y_0 is the value 2 rows after x_0");
  }

  /**
   * prep table's absent --stride, --horizon and --min-steps are the defaults docs/data-format.md
   * gives (stride T, horizon 1 where the targets are the inputs, min-steps T), not a 1 or 0 that a
   * typed option would have been. 20 rows at T = 4: full windows need s + T + 1 ≤ 20, so s = 0, 4,
   * 8, 12 (4 windows; s = 16 has L = 3, dropped), and y_0 is the row after x_0. --min-steps 3
   * keeps that L = 3 tail right-padded: 5 windows.
   */
  @Test
  void tableDefaultsAreStrideTHorizonOneAndNoPadding() throws IOException {
    StringBuilder csv = new StringBuilder("t,v\n");
    for (int i = 0; i < 20; i++) {
      csv.append(i).append(',').append(i).append('\n');
    }
    Path file = Files.writeString(tmp.resolve("long.csv"), csv);
    Dataset plain = prep("prep", "table", file.toString(), "--format", "csv", "--order", "t", "--inputs", "v", "--steps", "4",
        "--validation-fraction", "0", "--master", "local[1]", "--out", tmp.resolve("table-plain").toString());
    assertEquals(4, plain.manifest().sequences(Split.TRAIN));
    assertFalse(plain.spec().variableLength(), "no tail kept without --min-steps");
    Batch first = plain.read(plain.shards(Split.TRAIN).get(0));
    assertEquals(0f, first.x()[0]);
    assertEquals(1f, first.targets()[0], "y_0 is the row after x_0");
    Dataset padded = prep("prep", "table", file.toString(), "--format", "csv", "--order", "t", "--inputs", "v", "--steps", "4",
        "--min-steps", "3", "--validation-fraction", "0", "--master", "local[1]", "--out", tmp.resolve("table-padded").toString());
    assertEquals(5, padded.manifest().sequences(Split.TRAIN));
    assertEquals(new TreeSet<>(List.of(3, 4)), lengths(padded));
  }

  /**
   * --classes 3 makes the one target column class ids: cross_entropy with O = 3, ids kept as
   * integers (the label column holds 0, 1, 2). Without it the same column is a float target (mse,
   * O = 1).
   */
  @Test
  void csvClassesMakesTheTargetClassIds() throws IOException {
    StringBuilder csv = new StringBuilder("x,label\n");
    for (int i = 0; i < 12; i++) {
      csv.append(i * 0.5).append(',').append(i % 3).append('\n');
    }
    Path file = Files.writeString(tmp.resolve("c.csv"), csv);
    Dataset ids = prep("prep", "csv", file.toString(), "--inputs", "x", "--targets", "label", "--classes", "3", "--steps",
        "4", "--horizon", "0", "--validation-fraction", "0", "--out", tmp.resolve("ids").toString());
    assertEquals(LossType.CROSS_ENTROPY, ids.spec().loss());
    assertEquals(3, ids.spec().outputs());
    int[] classes = ids.read(ids.shards(Split.TRAIN).get(0)).classes();
    // x_t and its label on the same row (horizon 0): rows 0..3 carry labels 0, 1, 2, 0
    assertEquals(0, classes[0]);
    Dataset floats = prep("prep", "csv", file.toString(), "--inputs", "x", "--targets", "label", "--steps", "4",
        "--horizon", "0", "--validation-fraction", "0", "--out", tmp.resolve("floats").toString());
    assertEquals(LossType.MSE, floats.spec().loss());
    assertEquals(1, floats.spec().outputs());
  }

  /**
   * --min-steps below T makes sequences of lengths uniform in [min-steps, T]: the dataset is
   * variable-length and, over 200 sequences, every length in [3, 6] shows up (each has chance 1/4
   * per sequence, so one missing has probability about 4 · 0.75^200) and none outside it. Without
   * the option the sequences are fixed at T and carry no lengths.
   */
  @Test
  void sineAndAddingMinStepsGiveVariableLengths() throws IOException {
    Dataset sine = prep("prep", "sine", "--steps", "6", "--min-steps", "3", "--sequences", "200", "--validation-fraction", "0",
        "--out", tmp.resolve("sine").toString());
    assertTrue(sine.spec().variableLength());
    assertEquals(new TreeSet<>(List.of(3, 4, 5, 6)), lengths(sine));
    Dataset adding = prep("prep", "adding", "--steps", "6", "--min-steps", "3", "--sequences", "200",
        "--validation-fraction", "0", "--out", tmp.resolve("adding").toString());
    assertTrue(adding.spec().variableLength());
    assertEquals(new TreeSet<>(List.of(3, 4, 5, 6)), lengths(adding));
    Dataset fixed = prep("prep", "sine", "--steps", "6", "--sequences", "20", "--validation-fraction", "0", "--out",
        tmp.resolve("fixed").toString());
    assertFalse(fixed.spec().variableLength());
    assertNull(fixed.read(fixed.shards(Split.TRAIN).get(0)).lengths());
  }
}
