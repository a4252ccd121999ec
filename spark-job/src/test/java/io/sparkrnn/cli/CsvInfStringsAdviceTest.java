package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (reviewCH) of fe39358 (requireValuesNotText): a CSV value column holding "inf" (lower case) is
 * inferred as strings by Spark's CSV reader (it knows "Inf" only), yet try_cast('inf' AS DOUBLE) is
 * Infinity, so the refusal says "every value reads as a number, so the reader kept strings as asked:
 * leave out --option inferSchema=false" where no such option was given.
 */
class CsvInfStringsAdviceTest {
  @TempDir Path tmp;

  @Test
  void aLowercaseInfIsNotToldToLeaveOutAnOptionNeverGiven() throws Exception {
    StringBuilder sb = new StringBuilder("k,t,x\n");
    for (int t = 0; t < 8; t++) {
      sb.append("a,").append(t).append(',').append(t == 3 ? "inf" : String.valueOf(t)).append('\n');
    }
    Path csv = tmp.resolve("d.csv");
    Files.writeString(csv, sb.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--steps", "4", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]",
        "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertFalse(r.err().contains("inferSchema=false"), r.err());
    assertTrue(r.err().contains("it holds 'inf', which the reader took for no number. The CSV reader spells it NaN, Inf or -Inf:"
        + " --option positiveInf=inf reads this spelling"), r.err());
  }
}
