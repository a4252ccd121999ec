package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 4fe5f2f..6d7e62d (78414de5): a CSV value column read as strings is refused naming "the
 * first value the reader's inference takes for no number", found by a plain-number pattern. The
 * reader's own spellings of NaN and Inf ("NaN", "Inf", "-Inf", and "Infinity", which Java's
 * parseDouble takes) are numbers to the reader's inference but not to that pattern: a column of
 * 1.0, NaN, ..., NA (made strings by the NA) is refused for its 'NaN', with advice to set
 * --option nanValue=NaN, the reader's default, which changes nothing; 'NA', the value that made it
 * strings, is not named.
 */
class CsvReaderSpellingsTest {
  @TempDir Path tmp;

  @Test
  void aNaNTheReaderReadsIsNotBlamedForAColumnMadeStringsByAnotherValue() throws Exception {
    StringBuilder sb = new StringBuilder("k,t,x\n");
    for (int t = 0; t < 8; t++) {
      sb.append("a,").append(t).append(',').append(t == 1 ? "NaN" : t == 5 ? "NA" : String.valueOf(t)).append('\n');
    }
    Path csv = Files.writeString(tmp.resolve("d.csv"), sb.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--steps", "4", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]",
        "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("it holds 'NA', which the reader took for no number") && r.err().contains("--option nullValue=NA"),
        "the value that made the column strings is 'NA' ('NaN' is the reader's own spelling of NaN): " + r.err());
  }

  /** The advised option is one shell word: a placeholder with spaces (" NA ") in quotes (a review). */
  @Test
  void theAdvisedOptionIsOneShellWord() {
    assertEquals("nullValue=NA", PrepCommand.Table.shellWord("nullValue=NA"));
    assertEquals("'nullValue= NA '", PrepCommand.Table.shellWord("nullValue= NA "));
    assertEquals("'nullValue=it'\\''s'", PrepCommand.Table.shellWord("nullValue=it's"));
  }
}
