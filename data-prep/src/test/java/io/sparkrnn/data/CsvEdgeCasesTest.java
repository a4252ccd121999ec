package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CsvSource against its class comment: quoted fields, the row-shape and sequence-id rules, class ids
 * in [0, classes), seq2one targets at row L − 1 + horizon, and right padding with lengths when
 * sequences are shorter than --steps. Lines are numbered from 1, the header being line 1.
 */
class CsvEdgeCasesTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  private Path csv(String name, String text) throws IOException {
    return Files.writeString(tmp.resolve(name), text);
  }

  /** Options for sequence mode on column "id" with the given targets and classes. */
  private static CsvSource.Options bySequence(Path p, List<String> targets, int steps, boolean seq2one, int classes) {
    return new CsvSource.Options(p.toString(), List.of(), targets, steps, 0, -1, seq2one, "id", classes, ',');
  }

  @Test
  void doubleQuotedHeaderNamesAndCellsAreUnwrapped() throws IOException {
    Path p = csv("quoted.csv", "\"a\",\"b\"\n\"1.5\",\"-2\"\n\"3\",4\n5.5,6\n");
    // windows of T = 2, horizon 1: rows 3 give N = (3 − 2 − 1) / 2 + 1 = 1
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 2, 0, -1, false, null, 0, ','), conf);
    assertEquals(List.of("a", "b"), s.spec().source().get("input_columns"));
    Batch b = s.read(0, 1, conf);
    assertEquals(1.5f, b.x()[b.xAt(0, 0, 0)]);
    assertEquals(-2f, b.x()[b.xAt(0, 0, 1)]);
    assertEquals(3f, b.targets()[0], "y_0 = row 1's a");
    assertEquals(6f, b.targets()[3], "y_1 = row 2's b");
  }

  /**
   * Columns are found by their exact names, so "x" and "X" are two columns: target X beside input x
   * is not "a target that is also an input", and the default horizon in sequence mode is 0 (labels
   * on the same row): y_0 = 10, the first row's X, and L = 3 rows. (Compared without case, the
   * default was 1: y_0 = 20 and L = 2.)
   */
  @Test
  void aTargetNamedLikeAnInputButForCaseIsNotThatInput() throws IOException {
    Path p = csv("case.csv", "id,x,X\n1,1,10\n1,2,20\n1,3,30\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of("x"), List.of("X"), 0, 0, -1, false, "id", 0, ','),
        conf);
    Batch b = s.read(0, 1, conf);
    assertEquals(3, b.steps(), "L = 3 rows, horizon 0");
    assertEquals(10f, b.targets()[0], "y_0 = row 1's X");
  }

  /**
   * RFC 4180 quoting, as Spark's df.write.csv writes it: a quoted field holds the delimiter and ""
   * for a quote (a user audit: "name, with comma" split the header into three fields, and a quoted
   * text column's comma shifted every number after it). A quote left open, or text after a closing
   * quote, is refused naming the line.
   */
  @Test
  void quotedFieldsMayHoldTheDelimiterAndDoubledQuotes() throws IOException {
    Path p = csv("rfc.csv", "\"temp, °C\",note,load\n1.5,\"warm, \"\"dry\"\"\",2\n3,\" \",4\n5, \"x\" ,6\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of("temp, °C", "load"), List.of(), 2, 0, -1, false, null, 0,
        ','), conf);
    assertEquals(List.of("temp, °C", "load"), s.spec().source().get("input_columns"));
    Batch b = s.read(0, 1, conf);
    assertEquals(1.5f, b.x()[b.xAt(0, 0, 0)]);
    assertEquals(2f, b.x()[b.xAt(0, 0, 1)], "load after the quoted note with a comma and quotes");
    assertEquals(4f, b.x()[b.xAt(1, 0, 1)]);
    assertEquals(List.of("warm, \"dry\"", "x", ""), List.of(CsvSource.split("\"warm, \"\"dry\"\"\"", ',', "w").get(0),
        CsvSource.split(" \"x\" ", ',', "w").get(0), CsvSource.split("a,", ',', "w").get(1)));
    assertEquals(List.of(""), CsvSource.split("", ',', "w"));
    // Spark's df.write.csv escapes a quote with a backslash: "a\"b" (a review)
    assertEquals(List.of("a\"b", "1"), CsvSource.split("\"a\\\"b\",1", ',', "w"));
    Path open = csv("open.csv", "a,b\n1,\"2\n");
    refused(() -> new CsvSource(windows(open, 1, 1), conf),
        "open.csv line 2: the quoted field that starts at character 3 has no closing quote on its line");
    Path after = csv("after.csv", "a,b\n1,\"2\"x\n");
    refused(() -> new CsvSource(windows(after, 1, 1), conf),
        "after.csv line 2: text after the closing quote of the field that starts at character 3");
  }

  /**
   * Cells are decimal numbers as CSV writers write them: Java's float syntax ("5d", "1.5f", "0x1p3")
   * was read as 5, 1.5 and 8 (a user audit). NaN is not finite, and a ';' file read with ',' gets
   * the --delimiter hint.
   */
  @Test
  void cellsAreDecimalNumbers() throws IOException {
    Path ok = csv("forms.csv", "a\n+1.\n.5\n-2E-3\n 7 \n");
    Batch b = new CsvSource(new CsvSource.Options(ok.toString(), List.of(), List.of(), 3, 0, 0, false, null, 0, ','), conf)
        .read(0, 1, conf);
    assertArrayEquals(new float[] {1f, 0.5f, -2e-3f}, b.x());
    String[][] refusedCells = {{"5d", "'5d' is not a number"}, {"1.5f", "'1.5f' is not a number"}, {"0x1p3", "'0x1p3' is not a number"},
        {"NaN", "NaN is not finite"},
        {"0.1;0.2", "'0.1;0.2' is not a number (a file whose fields are separated by ';' needs --delimiter ';')"}};
    for (String[] c : refusedCells) {
      Path p = csv("cell.csv", "a\n1\n" + c[0] + "\n3\n");
      refused(() -> new CsvSource(windows(p, 1, 1), conf),
          "cell.csv line 3, column 'a': " + c[1]);
    }
  }

  @Test
  void aRowWithAnotherFieldCountNamesItsLine() throws IOException {
    Path p = csv("wide.csv", "a,b\n1,2\n3,4,5\n6,7\n");
    refused(() -> new CsvSource(windows(p, 1, 1), conf),
        "wide.csv line 3: 3 fields, the header has 2");
  }

  @Test
  void anEmptyCellIsNotANumber() throws IOException {
    Path p = csv("gap.csv", "a,b\n1,2\n3,\n");
    refused(() -> new CsvSource(windows(p, 1, 1), conf),
        "gap.csv line 3, column 'b': '' is not a number");
  }

  @Test
  void aSequenceIdThatReappearsAfterAnotherIsRefused() throws IOException {
    Path p = csv("resumed.csv", "id,a\ns1,1\ns1,2\ns2,3\ns2,4\ns1,5\ns1,6\n");
    refused(() -> new CsvSource(bySequence(p, List.of(), 0, false, 0), conf),
        "resumed.csv line 6: sequence 's1' appears again", "sort by id");
  }

  @Test
  void aClassIdEqualToTheClassCountIsRefused() throws IOException {
    Path p = csv("labels.csv", "id,a,label\ns1,1,0\ns1,2,2\n");
    refused(() -> new CsvSource(bySequence(p, List.of("label"), 0, false, 2), conf),
        "labels.csv line 3, column 'label': class id 2 is outside [0, 2)");
  }

  /** A whole number in any spelling is a class id (2.0, as pandas writes an int column holding a NaN), as prep table takes it. */
  @Test
  void aWholeNumberWrittenWithADecimalPointIsAClassIdAndAFractionIsNot() throws IOException {
    Path p = csv("whole.csv", "id,a,label\ns1,1,0\ns1,2,1.0\ns1,3,1e0\n");
    org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 1, 1},   // labels on their own rows (horizon 0)
        new CsvSource(bySequence(p, List.of("label"), 0, false, 2), conf).read(0, 1, conf).classes());
    Path half = csv("half.csv", "id,a,label\ns1,1,0\ns1,2,1.5\n");
    refused(() -> new CsvSource(bySequence(half, List.of("label"), 0, false, 2), conf),
        "half.csv line 3, column 'label': '1.5' is not an integer class id");
  }

  /** Targets are the inputs, so the horizon is 1 and y = row L − 1 + 1, the row after the last input. */
  @Test
  void seq2oneSequenceTargetIsTheRowAfterTheLastInput() throws IOException {
    Path p = csv("next.csv", "id,a\ns1,0\ns1,1\ns1,2\ns2,10\ns2,11\n");
    CsvSource s = new CsvSource(bySequence(p, List.of(), 0, true, 0), conf);
    assertEquals(Mode.SEQ2ONE, s.spec().mode());
    assertEquals(2, s.spec().steps(), "s1: 3 rows − horizon 1");
    Batch b = s.read(0, 2, conf);
    assertArrayEquals(new int[] {2, 1}, b.lengths());
    assertArrayEquals(new float[] {2f, 11f}, b.targets(), "y = a of each sequence's last row");
    assertEquals(1f, b.x()[b.xAt(1, 0, 0)]);
    assertEquals(10f, b.x()[b.xAt(0, 1, 0)]);
  }

  /** "T is the longest L unless given; shorter sequences are right-padded with lengths": all of them, when all are shorter. */
  @Test
  void sequencesAllShorterThanTheGivenStepsCarryLengths() throws IOException {
    Path p = csv("short.csv", "id,a,label\ns1,1,0\ns1,2,1\ns2,3,1\ns2,4,0\n");
    CsvSource s = new CsvSource(bySequence(p, List.of("label"), 4, false, 2), conf);
    assertEquals(4, s.spec().steps());
    assertTrue(s.spec().variableLength(), "two steps of four: padded, so the shards need lengths");
    Batch b = s.read(0, 2, conf);
    assertArrayEquals(new int[] {2, 2}, b.lengths());
    assertEquals(0f, b.x()[b.xAt(2, 0, 0)], "padding");
  }

  @Test
  void aFirstLineOfNumbersIsRefusedAsAHeaderUnlessHeaderIsFalse() throws IOException {
    Path p = csv("headless.csv", "1,2\n3,4\n5,6\n");
    refused(() -> new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 1, 0, -1, false, null, 0, ','), conf),
        "headless.csv line 1: every field is a number", "--header false");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 1, 0, -1, false, null, 0, ',', false),
        conf);
    assertEquals(List.of("_c0", "_c1"), s.spec().source().get("input_columns"));
    assertEquals(2, s.count(), "3 data rows, T = 1, horizon 1: (3 − 1 − 1) / 1 + 1");
  }

  @Test
  void partFilesWithDifferentHeadersAreRefused() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("parts"));
    Files.writeString(dir.resolve("part-00000.csv"), "a,b\n1,2\n");
    Files.writeString(dir.resolve("part-00001.csv"), "a,c\n3,4\n");
    refused(() -> new CsvSource(new CsvSource.Options(dir.toString(), List.of(), List.of(), 1, 0, -1, false, null, 0, ','), conf),
        "part-00001.csv line 1: header 'a,c' differs from the first part's 'a,b'");
  }

  /**
   * A UTF-8 file that starts with a byte-order mark, as Excel's "CSV UTF-8" and pandas'
   * {@code encoding="utf-8-sig"} write it: the mark is not part of the text (Unicode FAQ "UTF-8,
   * UTF-16, UTF-32 &amp; BOM"). Kept, it named the first column "\uFEFFa", and {@code --inputs a} was
   * refused with "no column 'a' (columns: a, b)", a list that seemed to hold it (an audit found it).
   */
  @Test
  void aByteOrderMarkIsNotPartOfTheFirstColumnsName() throws IOException {
    byte[] text = "a,b\n1,2\n3,4\n".getBytes(StandardCharsets.UTF_8);
    byte[] withMark = new byte[text.length + 3];
    withMark[0] = (byte) 0xEF;
    withMark[1] = (byte) 0xBB;
    withMark[2] = (byte) 0xBF;
    System.arraycopy(text, 0, withMark, 3, text.length);
    Path p = Files.write(tmp.resolve("excel.csv"), withMark);
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of("a"), List.of("b"), 1, 0, -1, false, null, 0, ','),
        conf);
    Batch b = s.read(0, 1, conf);
    assertEquals(1f, b.x()[b.xAt(0, 0, 0)], "x_0 = row 1's a");
    assertEquals(4f, b.targets()[0], "y_0 = row 2's b (horizon 1)");
  }

  private static CsvSource.Options windows(Path p, int steps, int stride) {
    return new CsvSource.Options(p.toString(), List.of(), List.of(), steps, stride, -1, false, null, 0, ',');
  }

  /** Stride 0 means T: 10 rows, T = 3, horizon 1 give N = (10 − 3 − 1) / 3 + 1 = 3, window 1 starting at row 3. */
  @Test
  void theDefaultStrideIsT() throws IOException {
    StringBuilder sb = new StringBuilder("a\n");
    for (int r = 0; r < 10; r++) {
      sb.append(r).append('\n');
    }
    CsvSource s = new CsvSource(windows(csv("ten.csv", sb.toString()), 3, 0), conf);
    assertEquals(3, s.count());
    Batch b = s.read(1, 1, conf);
    assertEquals(3f, b.x()[b.xAt(0, 0, 0)], "window 1 starts at row 1 · T = 3");
    assertEquals(6f, b.targets()[2], "y_2 = row 3 + 2 + 1");
  }

  /** One window needs T + horizon rows: 3 rows with T = 3 and horizon 1 are one too few. */
  @Test
  void exactlyTRowsAreTooFewForAForecastWindow() throws IOException {
    Path p = csv("three.csv", "a\n1\n2\n3\n");
    refused(() -> new CsvSource(windows(p, 3, 0), conf), "three.csv: 3 data rows, one window needs T + horizon = 4");
  }

  /** A sequence of R rows has L = R − horizon steps: s2's single row leaves none for horizon 1. */
  @Test
  void aSequenceWithNoStepLeftAfterTheHorizonIsRefused() throws IOException {
    Path p = csv("tiny.csv", "id,a\ns1,1\ns1,2\ns2,3\n");
    refused(() -> new CsvSource(bySequence(p, List.of(), 0, false, 0), conf),
        "tiny.csv line 4: sequence of 1 rows is too short for horizon 1");
  }

  /** s1 has 4 rows, so L = 4 − 1 = 3 steps, more than --steps 2. */
  @Test
  void aSequenceLongerThanTheGivenStepsIsRefused() throws IOException {
    Path p = csv("long.csv", "id,a\ns1,1\ns1,2\ns1,3\ns1,4\n");
    refused(() -> new CsvSource(bySequence(p, List.of(), 2, false, 0), conf),
        "long.csv line 2: sequence has 3 steps (4 rows less horizon 1), more than --steps 2");
  }

  /** Infinity is not finite; 1e39 (finite as a double) is beyond float32's largest, 3.4028235e38. */
  @Test
  void infinityAndFloat32OverflowAreRefused() throws IOException {
    Path inf = csv("inf.csv", "a,b\n1,2\n3,Infinity\n");
    refused(() -> new CsvSource(windows(inf, 1, 1), conf), "inf.csv line 3, column 'b'", "not finite");
    Path big = csv("big.csv", "a,b\n1,2\n1e39,4\n");
    refused(() -> new CsvSource(windows(big, 1, 1), conf), "big.csv line 3, column 'a': 1e39 is beyond float32's range");
  }

  @Test
  void aNegativeClassIdIsRefused() throws IOException {
    Path p = csv("neg.csv", "id,a,label\ns1,1,0\ns1,2,-1\n");
    refused(() -> new CsvSource(bySequence(p, List.of("label"), 0, false, 2), conf),
        "neg.csv line 3, column 'label': class id -1 is outside [0, 2)");
  }

  @Test
  void aColumnNamedTwiceIsRefused() throws IOException {
    Path p = csv("twice.csv", "a,b,a\n1,2,3\n4,5,6\n");
    refused(() -> new CsvSource(windows(p, 1, 1), conf), "twice.csv line 1: column 'a' appears twice");
  }

  /** Spaces around names and cells are not part of them: "temp" is found in "time, temp". */
  @Test
  void spacesAroundHeaderNamesAreIgnored() throws IOException {
    Path p = csv("spaced.csv", "time, temp\n0, 1.5\n1, 2.5\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of("temp"), List.of(), 1, 1, -1, false, null, 0, ','),
        conf);
    Batch b = s.read(0, 1, conf);
    assertEquals(1.5f, b.x()[b.xAt(0, 0, 0)]);
    assertEquals(2.5f, b.targets()[0]);
  }

  /**
   * Part files are read in name order, whatever order the directory lists them in; files whose
   * names start with "_" (Spark's _SUCCESS, Databricks' _committed_…, which hold JSON) are not
   * data, and an empty part (an empty partition) is skipped.
   */
  @Test
  void partFilesAreReadInNameOrderSkippingSideFilesAndEmptyParts() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("ordered"));
    int parts = 12;
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < parts; i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(7));
    for (int i : order) {
      Files.writeString(dir.resolve(String.format("part-%05d.csv", i)), "a\n" + i + "\n");
    }
    Files.writeString(dir.resolve("part-00099.csv"), "");
    Files.writeString(dir.resolve("_committed_123"), "{\"added\":[\"part-00000.csv\"]}\n");
    // T = parts − 1, horizon 1: one window over all rows, x_t = t and y_t = t + 1 in part order
    CsvSource s = new CsvSource(windows(dir, parts - 1, 0), conf);
    assertEquals(1, s.count());
    Batch b = s.read(0, 1, conf);
    for (int t = 0; t < parts - 1; t++) {
      assertEquals((float) t, b.x()[b.xAt(t, 0, 0)], "row " + t + " comes from part " + t);
      assertEquals((float) (t + 1), b.targets()[t]);
    }
  }

  /** Without --classes the inputs are every column but the sequence column, the float target included. */
  @Test
  void aFloatTargetColumnIsAlsoAnInputByDefault() throws IOException {
    Path p = csv("both.csv", "a,b\n1,2\n3,4\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of("b"), 1, 1, -1, false, null, 0, ','),
        conf);
    assertEquals(List.of("a", "b"), s.spec().source().get("input_columns"));
    assertEquals(2, s.spec().features());
  }

  @Test
  void classesNeedExactlyOneTargetColumn() throws IOException {
    Path p = csv("two.csv", "id,a,b\ns1,0,1\n");
    refused(() -> new CsvSource(bySequence(p, List.of("a", "b"), 0, false, 2), conf),
        "--classes needs exactly one target column");
  }

  @Test
  void anExponentWithAPlusSignIsANumberAsNumpySavetxtWritesIt() throws IOException {
    Path sci = csv("sci.csv", "a\n1.500000000000000000e+00\n-2e+1\n3E+0\n4\n");
    assertArrayEquals(new float[] {1.5f, -20f, 3f}, new CsvSource(new CsvSource.Options(sci.toString(), List.of(), List.of(), 3, 0, 0,
        false, null, 0, ','), conf).read(0, 1, conf).x());
  }

  @Test
  void aPipeSeparatedFileGetsTheDelimiterHint() throws IOException {
    Path pipe = csv("pipe.csv", "a\n1\n0.1|0.2\n3\n");
    refused(() -> new CsvSource(windows(pipe, 1, 1), conf), "'0.1|0.2' is not a number (a file whose fields are separated by '|' needs"
        + " --delimiter '|')");
  }

  @Test
  void aTabSeparatedFileGetsTheDelimiterHint() throws IOException {
    Path tab = csv("tab.csv", "a\n1\n0.1\t0.2\n3\n");
    refused(() -> new CsvSource(windows(tab, 1, 1), conf), "separated by '\\t' needs --delimiter '\\t')");
  }
}
