package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
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
    assertRejected("lr-min", "0.5", "0.5 is above --lr, 0.01; the cosine schedule anneals from --lr down to --lr-min");
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

  /**
   * What a user writes in a job file (a user audit): Notepad's byte-order mark is skipped, one pair of
   * quotes around a value is taken off, an end-of-line comment is refused (it was kept in the value, so
   * out = DIR   # note trained into a folder named so), a Spark setting is pointed to where it goes,
   * and a near miss gets a "did you mean".
   */
  @Test
  void jobFilesAsPeopleWriteThem(@TempDir Path dir) throws Exception {
    // a quoted value keeps a " #" (a review: it was refused as a comment, with the stray quote in the message)
    Path conf = Files.writeString(dir.resolve("bom.conf"), "\uFEFFcell = gru\nout = \"/runs/a b #1\"\ndata='/data/x'\n"
        + "master = local#2\n");
    TrainConfig.JobFile job = TrainConfig.readJob(conf.toString(), new org.apache.hadoop.conf.Configuration());
    assertEquals(Map.of("cell", "gru", "out", "/runs/a b #1", "data", "/data/x", "master", "local#2"), job.values());
    assertEquals(conf + ":2", job.origins().get("out"));
    String[][] refused = {
        {"out = /runs/o21   # scratch\n", ":1: out = /runs/o21   # scratch: '# scratch' reads as a comment, but a value runs to the"
            + " end of its line; put comments on lines of their own (or quote the value to keep a '#' in it)"},
        // a value that is only a comment made a folder "# scratch, give --out" (a review)
        {"\nout =    # scratch, give --out\n", ":2: out = # scratch, give --out: '# scratch, give --out' reads as a comment"},
        {"out = \"/runs/a\" # note\n", ":1: out = \"/runs/a\" # note: '# note' reads as a comment"},
        {"# ok\nspark.executor.memory = 2g\n", ":2: unknown key 'spark.executor.memory'; a job file holds spark-rnn's keys, and Spark"
            + " settings go to spark-submit --conf spark.executor.memory=…, or to bin/spark-rnn as SPARK_RNN_JAVA_OPTS=\"-Dspark"
            + ".executor.memory=…\""},
        {"hiden-size = 8\n", ":1: unknown key 'hiden-size'; did you mean 'hidden-size'? (known keys: data, "}};
    for (String[] r : refused) {
      Path bad = Files.writeString(dir.resolve("bad.conf"), r[0]);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(bad));
      assertTrue(e.getMessage().startsWith(bad + r[1]), e.getMessage());
    }
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
    assertRejected("num-layers", "0", "must be in [1, 64]"); // at least one recurrent layer
    assertRejected("num-layers", "65", "must be in [1, 64]");
    assertRejected("log-every", "0", "must be at least 1,"); // a progress line every 0 steps means nothing
    assertRejected("checkpoint-every", "-1", "must be at least 0,");
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

  /**
   * The README's table of training options is the user's reference for the defaults: every key it
   * lists is a key, with the default it states ("(required)", "from the dataset" and "none" are no
   * default), and every key is listed. Numbers compare as numbers ("1e-8" is 1.0E-8).
   */
  @Test
  void theDefaultsAreTheOnesTheReadmeTableStates() throws Exception {
    List<String> lines = Files.readAllLines(Path.of("..", "README.md"));
    int head = lines.indexOf("| key | default | meaning |");
    assertTrue(head >= 0, "the README's table of training options");
    Map<String, String> documented = new LinkedHashMap<>();
    for (int i = head + 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
      String[] cells = lines.get(i).split("\\|");
      String[] keys = cells[1].replace("`", "").strip().split(",\\s*");
      String[] defaults = cells[2].strip().split(",\\s*");
      assertEquals(keys.length, defaults.length, lines.get(i));
      for (int k = 0; k < keys.length; k++) {
        String d = defaults[k];
        documented.put(keys[k], d.equals("(required)") || d.equals("from the dataset") || d.equals("none") ? null : d);
      }
    }
    assertEquals(TrainConfig.DEFAULTS.keySet(), documented.keySet(), "every key is in the README's table, and only those");
    for (Map.Entry<String, String> e : documented.entrySet()) {
      String code = TrainConfig.DEFAULTS.get(e.getKey());
      String doc = e.getValue();
      if (doc == null || code == null) {
        assertEquals(doc, code, e.getKey());
      } else if (doc.matches("-?[0-9.]+(e-?[0-9]+)?")) {
        assertEquals(Double.parseDouble(doc), Double.parseDouble(code), 0, e.getKey());
      } else {
        assertEquals(doc, code, e.getKey());
      }
    }
  }

  /**
   * Every key set to a value other than its default comes back from toMap (what checkpoints record
   * and --resume compares key by key) as that value, and parsing toMap gives the same config. The
   * values are distinct where two keys share a type, so a key written from another's field shows.
   */
  @Test
  void toMapGivesBackEveryKeyAsGivenAndParsesToTheSameConfig() {
    Map<String, String> given = new LinkedHashMap<>();
    given.put("data", "file:///tmp/d");
    given.put("out", "file:///tmp/o");
    given.put("cell", "gru");
    given.put("num-layers", "3");
    given.put("hidden-size", "7");
    given.put("mode", "seq2seq");
    given.put("loss", "cross_entropy");
    given.put("optimizer", "sgd");
    given.put("lr", "0.5");
    given.put("lr-schedule", "cosine");
    given.put("lr-min", "0.125");
    given.put("momentum", "0.25");
    given.put("beta1", "0.375");
    given.put("beta2", "0.75");
    given.put("eps", "0.001");
    given.put("weight-decay", "0.0625");
    given.put("clip-norm", "2.5");
    given.put("batch", "12");
    given.put("epochs", "3");
    given.put("steps", "9");
    given.put("tbptt", "4");
    given.put("engine", "reference");
    given.put("device", "jvm");
    given.put("seed", "5");
    given.put("partitions", "2");
    given.put("virtual-partitions", "6");
    given.put("checkpoint-every", "11");
    given.put("resume", "false");
    given.put("overwrite", "true");
    given.put("validate-every", "13");
    given.put("feedback", "2");
    given.put("master", "local[2]");
    given.put("on-nan", "skip");
    given.put("log-every", "17");
    given.put("sync", "job");
    given.put("init", "file:///tmp/init");
    given.put("shard-cache", "512m");
    assertEquals(TrainConfig.DEFAULTS.keySet(), given.keySet(), "every key set here");
    TrainConfig c = TrainConfig.parse(given, null);
    assertEquals(3, c.numLayers());
    assertEquals(7, c.hiddenSize());
    Map<String, String> m = c.toMap();
    assertEquals(given.keySet(), m.keySet());
    for (Map.Entry<String, String> e : given.entrySet()) {
      String want = e.getKey().equals("shard-cache") ? Long.toString(512L * 1024 * 1024) : e.getValue(); // 512m = 512·2^20 bytes
      String got = m.get(e.getKey());
      if (want.matches("[0-9.]+")) {
        assertEquals(Double.parseDouble(want), Double.parseDouble(got), 0, e.getKey());
      } else {
        assertEquals(want, got, e.getKey());
      }
    }
    assertEquals(c, TrainConfig.parse(m, null), "toMap parses back to the same config");
    // init unset is not written (null would read as a model path)
    assertFalse(TrainConfig.parse(base(), null).toMap().containsKey("init"));
    assertNull(TrainConfig.parse(base(), null).init());
  }

  @Test
  void limitsThemselvesAreAcceptedAndOneOptionAloneIsNoConflict() {
    Map<String, String> m = base();
    m.put("batch", "8");
    m.put("virtual-partitions", "8"); // V = B: one sequence per virtual partition, allowed
    assertEquals(8, TrainConfig.parse(m, null).virtualPartitions());
    Map<String, String> resume = base();
    resume.put("resume", "true");
    assertTrue(TrainConfig.parse(resume, null).resume());
    Map<String, String> overwrite = base();
    overwrite.put("overwrite", "true");
    assertTrue(TrainConfig.parse(overwrite, null).overwrite());
    Map<String, String> seq2one = base();
    seq2one.put("mode", "seq2one"); // full BPTT (tbptt 0) is fine for seq2one
    assertEquals(Mode.SEQ2ONE, TrainConfig.parse(seq2one, null).mode());
    Map<String, String> upper = base();
    upper.put("optimizer", "AdamW");
    upper.put("sync", " Job ");
    TrainConfig c = TrainConfig.parse(upper, null);
    assertEquals("adamw", c.optimizer(), "choices are read in lower case");
    assertEquals("job", c.sync());
  }

  @Test
  void modeAndLossUnsetComeFromTheDatasetAndGivenOnesWin() {
    TrainConfig.DatasetDefaults classify = new TrainConfig.DatasetDefaults(Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    TrainConfig fromData = TrainConfig.parse(base(), classify);
    assertEquals(Mode.SEQ2ONE, fromData.mode());
    assertEquals(LossType.CROSS_ENTROPY, fromData.loss());
    Map<String, String> m = base();
    m.put("mode", "seq2seq");
    m.put("loss", "mse");
    TrainConfig given = TrainConfig.parse(m, classify);
    assertEquals(Mode.SEQ2SEQ, given.mode());
    assertEquals(LossType.MSE, given.loss());
    TrainConfig none = TrainConfig.parse(base(), null);
    assertEquals(Mode.SEQ2SEQ, none.mode(), "before the dataset is read: seq2seq");
    assertEquals(LossType.MSE, none.loss(), "before the dataset is read: mse");
  }

  /** T = 0 (no steps to anneal over) is the constant lr, not cos(π·t/0) = NaN. */
  @Test
  void cosineOverARunOfNoStepsIsTheLearningRateItself() {
    Map<String, String> m = base();
    m.put("lr", "0.5");
    m.put("lr-min", "0.1");
    m.put("lr-schedule", "cosine");
    assertEquals(0.5, TrainConfig.parse(m, null).learningRate(0, 0), 0);
  }

  @Test
  void aKeyGivenTwiceInAJobFileIsRefusedNamingTheLine(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("job.conf");
    Files.writeString(conf, "lr = 0.1\n\n# the same key again\nlr = 0.2\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(conf));
    assertTrue(e.getMessage().contains(conf + ":4: key 'lr' given twice"), e.getMessage());
  }

  @Test
  void aJobFileOverOneMebibyteOrADirectoryIsRefusedBeforeReading(@TempDir Path dir) throws Exception {
    Path big = dir.resolve("big.conf");
    byte[] bytes = new byte[(1 << 20) + 1]; // 2^20 + 1 bytes: one more than a job file may have
    Arrays.fill(bytes, (byte) '#');
    Files.write(big, bytes);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(big));
    assertTrue(e.getMessage().contains("1048577 bytes, more than a job file"), e.getMessage());
    Path justUnder = dir.resolve("ok.conf");
    bytes = new byte[1 << 20];
    Arrays.fill(bytes, (byte) '#'); // one long comment line of exactly 2^20 bytes is allowed
    Files.write(justUnder, bytes);
    assertTrue(TrainConfig.readJobFile(justUnder).isEmpty());
    IOException d = assertThrows(IOException.class, () -> TrainConfig.readJobFile(dir));
    assertTrue(d.getMessage().contains("is a directory"), d.getMessage());
  }

  /** A tab before '#' is a comment too; mismatched quotes stay as written; two edits still get a suggestion (a mutation audit). */
  @Test
  void jobFileEdges(@TempDir Path dir) throws Exception {
    Path tab = Files.writeString(dir.resolve("tab.conf"), "out = /runs/o21\t# scratch\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(tab));
    assertTrue(e.getMessage().startsWith(tab + ":1: out = /runs/o21\t# scratch: '# scratch' reads as a comment"), e.getMessage());
    Path mixed = Files.writeString(dir.resolve("mixed.conf"), "out = \"/runs/a'\n");
    assertEquals("\"/runs/a'", TrainConfig.readJobFile(mixed).get("out"));
    Path two = Files.writeString(dir.resolve("two.conf"), "hiden-sise = 8\n");
    e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.readJobFile(two));
    assertTrue(e.getMessage().startsWith(two + ":1: unknown key 'hiden-sise'; did you mean 'hidden-size'?"), e.getMessage());
  }
}
