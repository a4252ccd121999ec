package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad configuration fails before Spark starts, with a message naming the key. */
class TrainConfigTest {

  static Map<String, String> base() {
    Map<String, String> m = new HashMap<>();
    m.put("data", "file:///tmp/none");
    m.put("out", "file:///tmp/out");
    return m;
  }

  static void assertRejected(String key, String value, String expectedInMessage) {
    Map<String, String> m = base();
    m.put(key, value);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(m, null));
    assertTrue(e.getMessage().startsWith(key + ":"), "message names the key: " + e.getMessage());
    assertTrue(e.getMessage().contains(expectedInMessage), e.getMessage());
  }

  @Test
  void negativeLearningRateIsRejectedNamingTheKey() {
    assertRejected("lr", "-0.1", "must be > 0");
  }

  @Test
  void cosineAnnealingRunsFromLrToLrMinOverTheRun() {
    // lr_t = lr_min + ½ (lr − lr_min)(1 + cos(π t / T)) with lr 0.5, lr_min 0.1, T 4:
    // 0.1 + 0.2·(1 + {1, √½, 0, −√½}) = 0.5, 0.44142136, 0.3, 0.15857864
    Map<String, String> m = base();
    m.put("lr", "0.5");
    m.put("lr-min", "0.1");
    m.put("lr-schedule", "cosine");
    TrainConfig c = TrainConfig.parse(m, null);
    double[] expected = {0.5, 0.44142136, 0.3, 0.15857864};
    for (int t = 0; t < 4; t++) {
      assertEquals(expected[t], c.learningRate(t, 4), 1e-8, "step " + t);
    }
    m.put("lr-schedule", "constant");
    assertEquals(0.5, TrainConfig.parse(m, null).learningRate(3, 4), 0, "constant ignores lr-min");
  }

  @Test
  void unknownCellIsRejectedNamingTheKey() {
    assertRejected("cell", "transformer", "unknown cell 'transformer'");
  }

  @Test
  void zeroHiddenSizeIsRejectedNamingTheKey() {
    assertRejected("hidden-size", "0", "must be in [1,");
  }

  @Test
  void nonNumericValuesAreRejectedNamingTheKey() {
    assertRejected("batch", "many", "expected an integer");
    assertRejected("clip-norm", "NaN", "finite number");
    assertRejected("on-nan", "ignore", "not one of stop, skip");
  }

  @Test
  void virtualPartitionsAreAtMostTheBatchAndDefaultToSixteenOrTheBatch() {
    assertRejected("virtual-partitions", "65", "must be at most batch = 64");
    assertRejected("virtual-partitions", "-1", "must be in [0,");
    assertEquals(16, TrainConfig.parse(base(), null).virtualPartitions());
    Map<String, String> small = base();
    small.put("batch", "6");
    assertEquals(6, TrainConfig.parse(small, null).virtualPartitions(), "0: min(batch, 16)");
    small.put("virtual-partitions", "4");
    assertEquals("4", TrainConfig.parse(small, null).toMap().get("virtual-partitions"));
  }

  @Test
  void learningRateScheduleIsValidatedNamingTheKey() {
    assertRejected("lr-schedule", "step", "not one of constant, cosine");
    assertRejected("lr-min", "0.5", "must be in [0.0, 0.01]"); // above the default lr
  }

  @Test
  void truncatedBpttNeedsSeq2seq() {
    Map<String, String> m = base();
    m.put("tbptt", "10");
    m.put("mode", "seq2one");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(m, null));
    assertTrue(e.getMessage().startsWith("tbptt:"), e.getMessage());
  }

  @Test
  void unknownKeyInJobFileIsRejectedNamingFileLineAndKey(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("job.conf");
    Files.writeString(conf, "# a job\ncell = gru\nlearning-rate = 0.1\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(conf));
    assertTrue(e.getMessage().contains(conf + ":3: unknown key 'learning-rate'"), e.getMessage());
  }

  @Test
  void commandLineOverridesJobFileAndDefaultsFillTheRest(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("job.conf");
    Files.writeString(conf, "cell = gru\nlr = 0.5\n");
    Map<String, String> given = new HashMap<>(TrainConfig.readJobFile(conf));
    given.putAll(base());
    given.put("lr", "0.25");
    TrainConfig c = TrainConfig.parse(given, null);
    assertEquals("gru", c.cell().id());
    assertEquals(0.25, c.lr());
    assertEquals(Integer.parseInt(TrainConfig.DEFAULTS.get("batch")), c.batch());
  }

  @Test
  void missingDataIsRejected() {
    Map<String, String> m = base();
    m.remove("data");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(m, null));
    assertTrue(e.getMessage().startsWith("data:"), e.getMessage());
  }

  @Test
  void optimizerValuesOutsideTheirRangesAreRejectedNamingTheKey() {
    assertRejected("beta1", "1", "must be in [0.0, 1.0), found 1"); // β1 = 1 never forgets: Adam's bias correction divides by 0
    assertRejected("beta2", "1.5", "must be in [0.0, 1.0), found 1.5");
    assertRejected("momentum", "1.01", "must be in [0.0, 1.0], found 1.01");
    assertRejected("eps", "0", "must be > 0");
    assertRejected("weight-decay", "-0.1", "must be at least 0.0");
    assertRejected("clip-norm", "-1", "must be at least 0.0");
    assertRejected("tbptt", "-1", "must be in [0,");
    assertRejected("epochs", "-1", "must be in [0,");
  }

  @Test
  void contradictoryOrEmptyRunLengthsAndMorePartitionsThanVirtualOnesAreRejected() {
    Map<String, String> m = base();
    m.put("epochs", "0");
    m.put("steps", "0");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(m, null));
    assertTrue(e.getMessage().contains("--epochs and --steps are both 0"), e.getMessage());
    m.put("steps", "3");
    assertEquals(3, TrainConfig.parse(m, null).steps(), "epochs 0 with steps 3 is a run of 3 steps");

    Map<String, String> both = base();
    both.put("resume", "true");
    both.put("overwrite", "true");
    e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(both, null));
    assertTrue(e.getMessage().startsWith("resume and overwrite: choose one"), e.getMessage());

    // batch 64 gives 16 virtual partitions by default: 17 tasks cannot each compute one
    assertRejected("partitions", "17", "partitions: 17 tasks but virtual-partitions is 16");
    Map<String, String> ok = base();
    ok.put("partitions", "16");
    assertEquals(16, TrainConfig.parse(ok, null).partitions());
  }
}
