package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user audit (userTab): an exported CSV writes a missing reading as "NA", so Spark's inference reads the whole
 * numeric column as strings, and prep table says only "--inputs: column 'x' is string; expected a number, an array
 * of numbers or an ML Vector". A command-line user cannot cast; the way out is the reader's option
 * ({@code --option nullValue=NA}), which the refusal of an --order column read as strings names for its case
 * (timestampFormat, inferSchema) but this one does not. Nor does it name the file, as the --order refusal does.
 */
class CsvPlaceholderStringsTest {
  @TempDir Path tmp;

  @Test
  void aNumericCsvColumnReadAsStringsNamesTheFileAndTheNullValueOption() throws IOException {
    StringBuilder csv = new StringBuilder("sensor,ts,temp\n");
    for (int h = 0; h < 30; h++) {
      csv.append("s1,2024-01-01T").append(String.format("%02d", h % 24)).append(h < 24 ? ":00:00Z" : ":30:00Z").append(',')
          .append(h == 7 ? "NA" : Double.toString(20 + h / 10.0)).append('\n');
    }
    Path file = Files.writeString(tmp.resolve("readings.csv"), csv.toString());
    Path out = tmp.resolve("ds");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", file.toString(), "--format", "csv", "--key", "sensor",
        "--order", "ts", "--inputs", "temp", "--steps", "4", "--batch", "4", "--validation-fraction", "0", "--master", "local[1]",
        "--out", out.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("column 'temp'"), r.err());
    // what a user needs: which file, and the reader option that turns the placeholder into a missing value
    assertTrue(r.err().contains(file.toString()), "the refusal should name the file: " + r.err());
    assertTrue(r.err().contains("nullValue"), "the refusal should name --option nullValue=…: " + r.err());
    assertTrue(r.err().contains("--inputs: column 'temp' of " + file + " (--format csv) was read as strings; expected numbers:"
        + " it holds 'NA', which the reader took for no number. If 'NA' marks a missing value, --option nullValue=NA reads it as null"), r.err());
    // and that option is indeed the way out: then the "NA" is a missing value, which --missing drop leaves out
    InferenceCommandsTest.Run ok = InferenceCommandsTest.run("prep", "table", file.toString(), "--format", "csv", "--option",
        "nullValue=NA", "--key", "sensor", "--order", "ts", "--inputs", "temp", "--steps", "4", "--batch", "4",
        "--validation-fraction", "0", "--missing", "drop", "--master", "local[1]", "--out", out.toString());
    assertEquals(0, ok.code(), ok.err());
  }

  /**
   * A lower-case "inf", which Spark's CSV reader does not take for a number (it knows "Inf") while
   * try_cast does, is named with the option for its spelling; the refusal had blamed an
   * inferSchema=false never given (a review).
   */
  @Test
  void aLowercaseInfIsNamedWithTheOptionForItsSpelling() throws Exception {
    StringBuilder sb = new StringBuilder("k,t,x\n");
    for (int t = 0; t < 8; t++) {
      sb.append("a,").append(t).append(',').append(t == 3 ? "inf" : String.valueOf(t)).append('\n');
    }
    Path csv = Files.writeString(tmp.resolve("d.csv"), sb.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--steps", "4", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]",
        "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertFalse(r.err().contains("inferSchema=false"), r.err());
    assertTrue(r.err().contains("it holds 'inf', which the reader took for no number. The CSV reader spells it NaN, Inf or -Inf:"
        + " --option positiveInf=inf reads this spelling"), r.err());
  }
}
