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
 * A user audit (userTab), small tables' refusals:
 * <ul>
 *   <li>a one-row table at --steps 1 is told "no training sequences: 1 rows in 1 series gave no window of T=1 steps
 *       (+ horizon 1) …; lower --steps, or set --min-steps to keep shorter series padded": "1 rows", and neither advice
 *       can help (--steps and --min-steps are at their least, 1): the series needs T + horizon = 2 rows;</li>
 *   <li>an array input column whose first value is an empty array is refused as "--inputs: column 'arr' starts with an
 *       empty array", naming no key or time (docs/data-format.md: "Each message names the column and, where there is
 *       one, the key and time").</li>
 * </ul>
 */
class ShortTableAdviceTest {
  @TempDir Path tmp;

  @Test
  void aOneRowTableIsNotToldToLowerStepsAlreadyAtOne() throws IOException {
    Path csv = Files.writeString(tmp.resolve("one.csv"), "k,t,x\na,0,1.5\n");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--steps", "1", "--validation-fraction", "0", "--master", "local[1]", "--out",
        tmp.resolve("ds").toString());
    assertEquals(2, r.code(), r.err());
    assertFalse(r.err().contains("1 rows"), r.err());
    assertFalse(r.err().contains("lower --steps"), "--steps is 1 already: " + r.err());
    assertTrue(r.err().contains("no training sequences: 1 row in 1 series gave no window of T=1 step (+ horizon 1) in the training"
        + " split; a series needs at least 2 rows in the training split (a window of 1 step + horizon 1)"), r.err());
  }

  /**
   * One window, held out: "the 1 window", not "all 1 windows" (mutation audit survivor S2). Five rows
   * split by time at 0.6: the last round(3) validate, and T = 2 + horizon 1 takes all 3 of them
   * (one window), while the first 2 rows hold none.
   */
  @Test
  void theOneWindowHeldOutIsSingular() throws IOException {
    Path csv = Files.writeString(tmp.resolve("five.csv"), "t,x\n0,1\n1,2\n2,3\n3,4\n4,5\n");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--order", "t",
        "--inputs", "x", "--steps", "2", "--validation-fraction", "0.6", "--master", "local[1]", "--out",
        tmp.resolve("ds3").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("no training sequences: the 1 window of 1 series fell in the validation split (by-time,"
        + " --validation-fraction=0.6)"), r.err());
  }

  @Test
  void anEmptyFirstArrayIsRefusedNamingItsKeyAndTime() throws IOException {
    StringBuilder json = new StringBuilder("{\"k\":\"a\",\"t\":0,\"arr\":[]}\n");
    for (int t = 1; t < 20; t++) {
      json.append("{\"k\":\"a\",\"t\":").append(t).append(",\"arr\":[").append(t).append(".5,").append(t).append(".25]}\n");
    }
    Path file = Files.writeString(tmp.resolve("arr.json"), json.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", file.toString(), "--format", "json", "--key", "k",
        "--order", "t", "--inputs", "arr", "--steps", "4", "--validation-fraction", "0", "--master", "local[1]", "--out",
        tmp.resolve("ds2").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("column 'arr'"), r.err());
    assertTrue(r.err().contains("k=a") && r.err().contains("t=0"), "the refusal should name the key and time: " + r.err());
  }
}
