package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.LogCapture;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.spark.TableSpec;
import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fit side of RnnEstimator, param by param against docs/ml.md's table: each table param reaches
 * its own field of prep table's spec, each train param its own key of train, and one small fit on
 * Spark local[1] whose normalisation statistics come from the training split only.
 */
class RnnEstimatorFitTest {
  @TempDir
  Path tmp;

  @Test
  void everyTableParamReachesItsOwnFieldOfPrepTablesSpec() {
    // each value differs from its default and from the others, so a swapped or dropped argument shows
    RnnEstimator e = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("a", "b").setTargetCols("y")
        .setSeq2one(true).setSteps(6).setStride(3).setHorizon(2).setMinSteps(4).setSplit("by-time")
        .setValidationFraction(0.25).setGap(1).setNormalize(false).setMissing("drop").setBatch(5).setSeed(17);
    TableSpec spec = e.tableSpec();
    assertEquals(List.of("k"), spec.keyColumns());
    assertEquals("t", spec.orderColumn());
    assertEquals(List.of("a", "b"), spec.inputColumns());
    assertEquals(List.of("y"), spec.targetColumns());
    assertEquals(0, spec.classes());
    assertTrue(spec.seq2one());
    assertEquals(6, spec.steps(), "steps is prep table's --steps, T");
    assertEquals(3, spec.stride());
    assertEquals(2, spec.horizon());
    assertEquals(4, spec.minSteps());
    assertNull(spec.sequenceColumn(), "the estimator reads long tables only");
    assertEquals(TableSpec.SplitMode.BY_TIME, spec.split());
    assertEquals(0.25, spec.validationFraction(), 0.0);
    assertEquals(1, spec.gap());
    assertEquals(false, spec.normalize());
    assertEquals(TableSpec.Missing.DROP, spec.missing());
    assertEquals(5, spec.batch(), "batch is --batch of both prep and train");
    assertEquals(17, spec.seed(), "seed: the by-key split's too (docs/ml.md)");
    // classes is the one left at a non-default above only when targets are class ids
    assertEquals(3, new RnnEstimator().setOrderCol("t").setInputCols("a").setTargetCols("y").setClasses(3).setSteps(6)
        .tableSpec().classes());
  }

  @Test
  void stepsAndInputColsAreRequiredAndTheirAbsenceNamesTheSetter() {
    // docs/ml.md: steps and inputCols are "required"; a bad param is an IllegalArgumentException naming the setter
    IllegalArgumentException noSteps = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new RnnEstimator().setOrderCol("t").setInputCols("a").tableSpec());
    assertTrue(noSteps.getMessage().contains("setSteps"), noSteps.getMessage());
    IllegalArgumentException noInputs = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new RnnEstimator().setOrderCol("t").setSteps(4).tableSpec());
    assertTrue(noInputs.getMessage().contains("setInputCols"), noInputs.getMessage());
  }

  @Test
  void autoSplitInAnyCaseIsByKeyWithKeyColsElseByTime() {
    // docs/ml.md: split auto = by key with keyCols, else by time. The setter takes "AUTO" (RnnParamsTest sets it), so fit
    // must read it as auto too rather than refuse a value its own setter let in (it passed "AUTO" to SplitMode.parse)
    RnnEstimator keyed = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("a").setSteps(6);
    assertNull(keyed.setSplit("auto").tableSpec().split());
    assertEquals(TableSpec.SplitMode.BY_KEY, keyed.tableSpec().effectiveSplit());
    assertEquals(TableSpec.SplitMode.BY_KEY, keyed.setSplit("AUTO").tableSpec().effectiveSplit());
    RnnEstimator unkeyed = new RnnEstimator().setOrderCol("t").setInputCols("a").setSteps(6).setSplit("Auto");
    assertEquals(TableSpec.SplitMode.BY_TIME, unkeyed.tableSpec().effectiveSplit());
  }

  @Test
  void everyTrainParamReachesTrainUnderItsOwnKey() {
    // param → key from docs/ml.md's params table (the CLI equivalent column); each value differs from the others
    RnnEstimator e = new RnnEstimator().setCell("gru").setHiddenSize(7).setNumLayers(3).setMaxSteps(11).setEpochs(4)
        .setBatch(5).setLr(0.03).setSeed(19).setPartitions(2).setVirtualPartitions(6).setInitialModel("file:/m.safetensors")
        .setOptimizer("adamw").setLrSchedule("cosine").setLrMin(0.002).setClipNorm(1.5).setWeightDecay(0.04)
        .setDevice("jvm").setValidateEvery(13).setFeedback(2).setMomentum(0.6).setBeta1(0.7).setBeta2(0.97).setEps(1e-7)
        .setTbptt(9).setEngine("reference").setCheckpointEvery(23).setOnNan("skip").setLogEvery(29).setSync("job")
        .setShardCache("512m");
    Map<String, String> expected = new LinkedHashMap<>();
    String[] pairs = {"data", "d", "out", "o", "cell", "gru", "hidden-size", "7", "num-layers", "3", "steps", "11",
        "epochs", "4", "batch", "5", "lr", "0.03", "seed", "19", "partitions", "2", "virtual-partitions", "6",
        "init", "file:/m.safetensors", "optimizer", "adamw", "lr-schedule", "cosine", "lr-min", "0.002", "clip-norm", "1.5",
        "weight-decay", "0.04", "device", "jvm", "validate-every", "13", "feedback", "2", "momentum", "0.6", "beta1", "0.7",
        "beta2", "0.97", "eps", "1.0E-7", "tbptt", "9", "engine", "reference", "checkpoint-every", "23", "on-nan", "skip",
        "log-every", "29", "sync", "job", "shard-cache", "512m"};
    for (int i = 0; i < pairs.length; i += 2) {
      expected.put(pairs[i], pairs[i + 1]);
    }
    assertEquals(expected, e.trainKeys("d", "o"));
  }

  /**
   * docs/ml.md: every param is checked before the first job. transformSchema (which fit calls first) refuses, on a
   * schema alone (no session, no table), train's combinations of keys in the setters' words, and the closed-loop
   * validations that cannot run: K = setFeedback self-driven steps need at least one input-driven step before them
   * (K <= T - 1), a seq2one model has no outputs to feed back, and setMinSteps windows shorter than T cannot be driven for
   * their last K steps when validation runs (it does not without a validation split or with validateEvery 0).
   */
  @Test
  void transformSchemaRefusesTrainsCombinationsAndClosedLoopsThatCannotRunFromTheSchemaAlone() {
    StructType schema = new StructType().add("t", DataTypes.TimestampType).add("a", DataTypes.DoubleType)
        .add("y", DataTypes.DoubleType);
    java.util.function.Supplier<RnnEstimator> e = () -> new RnnEstimator().setOrderCol("t").setInputCols("a").setSteps(6);
    assertRefused(() -> e.get().setMaxSteps(0).setEpochs(0).transformSchema(schema), "setEpochs and setMaxSteps are both 0");
    assertRefused(() -> e.get().setLr(0.001).setLrMin(0.5).transformSchema(schema), "setLrMin: 0.5 is above setLr, 0.001; the cosine schedule"
        + " anneals from setLr down to setLrMin");
    assertRefused(() -> e.get().setBatch(4).setVirtualPartitions(8).transformSchema(schema), "setVirtualPartitions", "batch = 4");
    // T = 6: K = 6 leaves no input-driven step, K = 5 leaves one
    assertRefused(() -> e.get().setFeedback(6).transformSchema(schema), "setFeedback(6)", "no input-driven step in setSteps(6)");
    e.get().setFeedback(5).setValidateEvery(10).transformSchema(schema);
    assertRefused(() -> e.get().setTargetCols("y").setSeq2one(true).setFeedback(2).transformSchema(schema), "setFeedback(2)",
        "seq2one");
    assertRefused(() -> e.get().setMinSteps(3).setFeedback(2).setValidateEvery(10).transformSchema(schema), "setFeedback(2)",
        "windows of all T=6 steps", "setMinSteps(3)");
    e.get().setMinSteps(3).setFeedback(2).setValidateEvery(10).setValidationFraction(0).transformSchema(schema);
    e.get().setMinSteps(3).setFeedback(2).setValidateEvery(0).transformSchema(schema);
  }

  static void assertRefused(Runnable r, String... parts) {
    IllegalArgumentException x = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, r::run);
    for (String part : parts) {
      assertTrue(x.getMessage().contains(part), "'" + part + "' in: " + x.getMessage());
    }
    assertTrue(x.getMessage().startsWith("RnnEstimator: "), x.getMessage());
    assertTrue(!x.getMessage().contains("--"), "no command-line option in: " + x.getMessage());
  }

  /**
   * One series of 40 hourly rows, by time (no keyCols) with validationFraction 0.5: the training part is the first
   * round(40 × 0.5) = 20 rows (docs/ml.md: by-time holds out "the last share of every series"). Column a alternates 1, 2
   * over rows 0..29 and is 100 from row 30 on, so every window of the training part (T = 4 consecutive rows, its targets
   * the next 4, horizon 1) sees two 1s and two 2s: by hand, mean = (1 + 2) / 2 = 1.5 and population
   * std = sqrt(((1 - 1.5)^2 + (2 - 1.5)^2) / 2) = 0.5, for inputs and targets alike (docs/data-format.md: "computed over
   * the valid steps of the training split only; population std"). A statistic that took in validation rows would see
   * the 100s (rows 30..39, ten rows away from the split) and be far above 1.5.
   */
  @Test
  void aFitsStatisticsComeFromTheTrainingSplitOnlyAndTheModelCarriesTheParams() throws Exception {
    SparkSession spark = localSpark();
    try {
      StructType schema = new StructType().add("t", DataTypes.LongType).add("a", DataTypes.DoubleType);
      List<Row> rows = new ArrayList<>();
      for (long t = 0; t < 40; t++) {
        rows.add(RowFactory.create(t, t < 30 ? 1.0 + t % 2 : 100.0));
      }
      Dataset<Row> table = spark.createDataFrame(rows, schema);
      Path checkpoints = Files.createDirectories(tmp.resolve("checkpoints"));
      spark.sparkContext().setCheckpointDir(checkpoints.toUri().toString());
      RnnEstimator e = new RnnEstimator().setOrderCol("t").setInputCols("a").setSteps(4).setValidationFraction(0.5)
          .setHiddenSize(2).setMaxSteps(1).setBatch(2).setPredictionCol("p");
      RnnModel model = e.fit(table);

      Normalization n = model.trainedModel().normalization();
      assertNotNull(n, "normalize defaults to true");
      assertArrayEquals(new double[] {1.5}, n.inputMean(), 1e-12, "input mean of the training split");
      assertArrayEquals(new double[] {0.5}, n.inputStd(), 1e-12, "input std of the training split");
      assertArrayEquals(new double[] {1.5}, n.targetMean(), 1e-12, "target mean of the training split");
      assertArrayEquals(new double[] {0.5}, n.targetStd(), 1e-12, "target std of the training split");

      // the fitted model: the estimator's uid, the estimator as parent, its params copied (docs/ml.md: "copied to the model")
      assertEquals(e.uid(), model.uid());
      assertSame(e, model.parent());
      assertEquals("p", model.getPredictionCol());
      assertEquals("t", model.getOrderCol());
      assertArrayEquals(new String[] {"a"}, model.getInputCols());
      assertEquals(4, model.getSteps());
      // no workDir: the fit worked under the checkpoint directory (Spark's <dir>/<uuid>/) and removed its rnn-fit-<uuid>/
      File sparkCheckpoints = new File(URI.create(spark.sparkContext().getCheckpointDir().get()));
      String[] left = sparkCheckpoints.list();
      assertArrayEquals(new String[0], left, "left under the checkpoint directory");

      // with a workDir: rnn-fit-<uuid>/data and /train are kept (docs/ml.md, workDir). validationFraction 0 asks for no
      // validation, so getting none is no reason to warn (the warning is for "a fit that asked for validation")
      Path work = tmp.resolve("work");
      List<String> warnings;
      try (LogCapture log = LogCapture.warnings(RnnEstimator.class)) {
        e.setWorkDir(work.toUri().toString()).setValidationFraction(0).fit(table);
        warnings = log.messages();
      }
      assertEquals(List.of(), warnings, "no validation asked for, none warned of");
      File[] fits = work.toFile().listFiles();
      assertEquals(1, fits.length);
      assertTrue(fits[0].getName().matches("rnn-fit-[0-9a-f-]{36}"), fits[0].getName());
      assertTrue(new File(fits[0], "data").isDirectory(), "data/ kept");
      assertTrue(new File(fits[0], "train").isDirectory(), "train/ kept");
    } finally {
      spark.stop();
    }
  }

  /**
   * A fit that stops (here a loss past double's range at lr 1e300) says what its user can do with the
   * checkpoints: fit has no --resume, and without workDir it removes them (a review: train's
   * "--resume true continues from it" named an option fit lacks and a file it had removed).
   */
  @Test
  void aStoppedFitSaysWhatItsCheckpointsAreGoodFor() throws Exception {
    SparkSession spark = localSpark();
    try {
      StructType schema = new StructType().add("t", DataTypes.LongType).add("a", DataTypes.DoubleType);
      List<Row> rows = new ArrayList<>();
      for (long t = 0; t < 40; t++) {
        rows.add(RowFactory.create(t, Math.sin(t)));
      }
      Dataset<Row> table = spark.createDataFrame(rows, schema);
      Path work = tmp.resolve("work-nan");
      RnnEstimator e = new RnnEstimator().setOrderCol("t").setInputCols("a").setSteps(4).setValidationFraction(0)
          .setHiddenSize(2).setMaxSteps(4).setBatch(2).setLr(1e300).setCheckpointEvery(1).setEngine("reference")
          .setWorkDir(work.toUri().toString());
      Exception kept = assertThrows(Exception.class, () -> e.fit(table));
      String m = kept.getMessage();
      assertTrue(m.contains("; stopping. The last checkpoint, ") && m.contains("/checkpoints/step-"), m);
      assertTrue(m.contains(".safetensors, is kept: setInitialModel(\"") && m.contains("warm-starts a new fit"), m);
      assertFalse(m.contains("--"), "no train option: " + m);
      assertTrue(m.contains("(use setOnNan(skip) to skip such steps, or lower setLr); file:" + work + "/rnn-fit-"), m);
      assertTrue(m.contains("/train/metrics.jsonl has the steps up to this one"), m);
      Exception removed = assertThrows(Exception.class, () -> ((RnnEstimator) e.clear(e.workDir())).fit(table));
      assertTrue(removed.getMessage().contains("; stopping. fit removes its work directory when it ends, checkpoints too; with"
          + " setWorkDir they are kept"), removed.getMessage());
      assertFalse(removed.getMessage().contains("--") || removed.getMessage().contains("is intact")
          || removed.getMessage().contains("metrics.jsonl"), removed.getMessage());
    } finally {
      spark.stop();
    }
  }

  static SparkSession localSpark() {
    return SparkSession.builder().master("local[1]").appName("RnnEstimatorFitTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }
}
