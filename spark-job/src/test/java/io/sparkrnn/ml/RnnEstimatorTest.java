package io.sparkrnn.ml;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.cli.Main;
import io.sparkrnn.data.LogCapture;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.source.NpyFiles;
import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.testing.ChildJvm;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.RegressionEvaluator;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RnnEstimator and RnnModel on Spark local[2]: a small sensors table (6 sensors × 240 hours),
 * one shared fit of an LSTM(2→8) for 40 steps, and the properties of transform, forecasting,
 * persistence, pipelines and bad input.
 */
class RnnEstimatorTest {
  /** The float32 JVM engine against the float64 reference over up to 240 steps of an LSTM with H = 8, in model units. */
  static final double FLOAT32_ABS_TOL = 1e-4;
  static final int SENSORS = 6;
  static final int HOURS = 240;
  static final int FORECAST = 5;

  @TempDir
  static Path tmp;
  static SparkSession spark;
  static Dataset<Row> table;
  static RnnModel model;

  @BeforeAll
  static void fitOnce() {
    spark = SparkSession.builder().master("local[2]").appName("RnnEstimatorTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    table = ExampleTables.sensors(spark, SENSORS, HOURS, 7).cache();
    model = estimator().setWorkDir(tmp.resolve("work").toUri().toString()).fit(table);
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  static RnnEstimator estimator() {
    return new RnnEstimator().setKeyCols("sensor").setOrderCol("ts").setInputCols("temp", "load").setSteps(24).setStride(12)
        .setHiddenSize(8).setMaxSteps(40).setBatch(16).setLr(0.02).setSeed(3);
  }

  /** The table's rows of one sensor, in time order. */
  static List<Row> rowsOf(String sensor) {
    List<Row> rows = new ArrayList<>(table.where(col("sensor").equalTo(sensor)).collectAsList());
    rows.sort(Comparator.comparing(r -> r.getTimestamp(1)));
    return rows;
  }

  static double[] prediction(Row r) {
    List<Double> l = r.getList(r.fieldIndex("prediction"));
    return l.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * transform rounds a row's numbers to float32 as prep rounded training's, before normalising: a
   * decimal of about 1.2e19 plus the hour varies below float32's spacing there (2^40), so in
   * training it was one constant value; a table holding that constant instead must score the same.
   * Before 2026-12-07 transform normalised the raw double, (raw − mean) / 1, about −5e11, and every
   * row got the same saturated prediction (a user audit).
   */
  @Test
  void transformRoundsANumberToFloat32AsTrainingDidBeforeNormalising() {
    BigDecimal base = new BigDecimal("12345678901234567890");
    float seen = io.sparkrnn.data.spark.TableNumbers.toFloat(base);
    assertEquals(seen, io.sparkrnn.data.spark.TableNumbers.toFloat(base.add(BigDecimal.valueOf(HOURS))), "one float for every row");
    Dataset<Row> varying = table.withColumn("big", org.apache.spark.sql.functions.expr(
        "CAST('" + base + "' AS DECIMAL(38,18)) + CAST(hour(ts) AS DECIMAL(38,18))"));
    Dataset<Row> constant = table.withColumn("big", org.apache.spark.sql.functions.lit(new BigDecimal((double) seen))
        .cast("decimal(38,18)"));
    RnnModel m = estimator().setInputCols("temp", "load", "big").setTargetCols("temp", "load").setMaxSteps(5).fit(varying);
    List<Row> a = m.transform(varying).orderBy("sensor", "ts").collectAsList();
    List<Row> b = m.transform(constant).orderBy("sensor", "ts").collectAsList();
    assertEquals(b.size(), a.size());
    Set<List<Double>> distinct = new HashSet<>();
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(prediction(b.get(i)), prediction(a.get(i)), "row " + i + ": " + a.get(i));
      distinct.add(a.get(i).getList(a.get(i).fieldIndex("prediction")));
    }
    assertTrue(distinct.size() > a.size() / 2, "predictions follow temp and load: " + distinct.size() + " distinct");
  }

  @Test
  void transformGivesEveryRowAPredictionAndEachKeyItsForecastRows() {
    List<Row> out = model.copy(new ParamMap()).setForecastSteps(FORECAST).transform(table).collectAsList();
    assertEquals(SENSORS * HOURS + SENSORS * FORECAST, out.size());
    Map<String, Integer> forecastsPerKey = new HashMap<>();
    for (Row r : out) {
      double[] p = prediction(r);
      assertEquals(2, p.length, "O = 2 outputs (temp, load) in " + r);
      for (double v : p) {
        assertTrue(Double.isFinite(v), "finite prediction in " + r);
      }
      if (r.getBoolean(r.fieldIndex("forecast"))) {
        forecastsPerKey.merge(r.getString(0), 1, Integer::sum);
      }
    }
    assertEquals(SENSORS, forecastsPerKey.size());
    forecastsPerKey.forEach((k, n) -> assertEquals(FORECAST, n, "forecast rows of " + k));
  }

  @Test
  void predictionsAreTheReferenceEngineSteppedOverTheKeysNormalisedRows() {
    TrainedModel trained = model.trainedModel();
    Normalization n = trained.normalization();
    assertNotNull(n, "normalize defaults to true: the model records the statistics");
    String sensor = "sensor-00002";
    List<Row> rows = rowsOf(sensor);
    List<Row> scored = new ArrayList<>(model.copy(new ParamMap()).setForecastSteps(FORECAST).transform(table)
        .where(col("sensor").equalTo(sensor)).collectAsList());
    scored.sort(Comparator.comparing(r -> r.getTimestamp(1)));
    assertEquals(HOURS + FORECAST, scored.size());

    // independent: the float64 reference engine, one step per row, units converted here
    StatefulSession reference = new StatefulSession(trained.params(), new ReferenceEngine(), 1);
    double worst = 0;
    int worstAt = -1;
    double[] expected = null;
    for (int t = 0; t < HOURS + FORECAST; t++) {
      double[] raw = t < HOURS ? new double[] {rows.get(t).getDouble(2), rows.get(t).getDouble(3)} : expected;
      float[] x = new float[2];
      for (int f = 0; f < 2; f++) {
        x[f] = (float) ((raw[f] - n.inputMean()[f]) / n.inputStd()[f]);
      }
      float[] y = reference.step(x);
      expected = new double[2];
      for (int o = 0; o < 2; o++) {
        expected[o] = y[o] * n.targetStd()[o] + n.targetMean()[o];
      }
      double[] got = prediction(scored.get(t));
      for (int o = 0; o < 2; o++) {
        double err = Math.abs(got[o] - expected[o]) / n.targetStd()[o];
        if (err > worst) {
          worst = err;
          worstAt = t * 2 + o;
        }
      }
      if (t >= HOURS) {
        // a forecast row shows, as its inputs, what the row before it predicted; an hour later (the table is hourly)
        Row r = scored.get(t);
        assertTrue(r.getBoolean(r.fieldIndex("forecast")));
        assertEquals(rows.get(HOURS - 1).getTimestamp(1).getTime() + (t - HOURS + 1) * 3_600_000L, r.getTimestamp(1).getTime());
        double[] before = prediction(scored.get(t - 1));
        assertEquals(before[0], r.getDouble(2), 0.0, "temp of forecast row " + (t - HOURS + 1));
        assertEquals(before[1], r.getDouble(3), 0.0, "load of forecast row " + (t - HOURS + 1));
      }
    }
    assertTrue(worst < FLOAT32_ABS_TOL, "worst difference " + worst + " (model units) at step " + worstAt / 2 + ", output "
        + worstAt % 2);
  }

  @Test
  void evaluateGivesRmseAndMaeInTheTablesUnitsAndTheLossInModelUnits() throws Exception {
    TrainedModel trained = model.trainedModel();
    Normalization n = trained.normalization();
    AtomicReference<Dataset<Row>> built = new AtomicReference<>();
    assertEquals(0, jobsDuring(() -> built.set(model.evaluate(table))), "evaluate builds a DataFrame; no job (no collect) until it is read");
    Dataset<Row> metrics = built.get();
    List<Row> got = metrics.collectAsList();
    assertEquals(1, got.size(), "one row of metrics");
    Row m = got.get(0);

    // independent: the float64 reference engine stepped over every sensor's rows; row t's prediction, taken back to
    // the table's units, against row t + 1's values (targets = inputs, horizon 1)
    String[] names = {"temp", "load"};
    double[] squared = new double[2];
    double[] absolute = new double[2];
    double scaled = 0;
    long rows = 0;
    for (int s = 0; s < SENSORS; s++) {
      List<Row> series = rowsOf(String.format("sensor-%05d", s));
      assertEquals(HOURS, series.size(), "sensor-" + s + " rows (the key format)");
      StatefulSession reference = new StatefulSession(trained.params(), new ReferenceEngine(), 1);
      for (int t = 0; t + 1 < HOURS; t++) {
        float[] x = new float[2];
        for (int f = 0; f < 2; f++) {
          x[f] = (float) ((series.get(t).getDouble(2 + f) - n.inputMean()[f]) / n.inputStd()[f]);
        }
        float[] y = reference.step(x);
        rows++;
        for (int o = 0; o < 2; o++) {
          double predicted = y[o] * n.targetStd()[o] + n.targetMean()[o];
          double error = predicted - series.get(t + 1).getDouble(2 + o);
          squared[o] += error * error;
          absolute[o] += Math.abs(error);
          scaled += (error / n.targetStd()[o]) * (error / n.targetStd()[o]);
        }
      }
    }
    assertEquals(rows, m.getLong(m.fieldIndex("rows")), "rows scored: every row but each key's last");
    for (int o = 0; o < 2; o++) {
      // |rmse(a) − rmse(b)| ≤ max |a − b| (triangle inequality), and the engines agree to FLOAT32_ABS_TOL in model units
      double tol = FLOAT32_ABS_TOL * n.targetStd()[o];
      assertEquals(Math.sqrt(squared[o] / rows), m.getDouble(m.fieldIndex("rmse_" + names[o])), tol, "rmse_" + names[o]);
      assertEquals(absolute[o] / rows, m.getDouble(m.fieldIndex("mae_" + names[o])), tol, "mae_" + names[o]);
    }
    double loss = scaled / (rows * 2);
    assertEquals(loss, m.getDouble(m.fieldIndex("loss")), 2 * Math.sqrt(loss) * FLOAT32_ABS_TOL + 1e-8, "loss, model units");
    assertTrue(m.isNullAt(m.fieldIndex("accuracy")), "no accuracy for a regression model");
  }

  @Test
  void theModelPredictsTheNextHourBetterThanRepeatingTheLastOne() {
    // teacher-forced next-hour temp error against the naive "same as this hour" forecast, over every sensor
    List<Row> out = model.transform(table).collectAsList();
    Map<String, List<Row>> byKey = new HashMap<>();
    for (Row r : out) {
      byKey.computeIfAbsent(r.getString(0), k -> new ArrayList<>()).add(r);
    }
    double model2 = 0;
    double naive2 = 0;
    for (List<Row> rows : byKey.values()) {
      rows.sort(Comparator.comparing(r -> r.getTimestamp(1)));
      for (int t = 24; t < rows.size() - 1; t++) {
        double next = rows.get(t + 1).getDouble(2);
        model2 += Math.pow(prediction(rows.get(t))[0] - next, 2);
        naive2 += Math.pow(rows.get(t).getDouble(2) - next, 2);
      }
    }
    // a daily sine of amplitude 3–8 °C changes by up to ~2 °C an hour; 40 steps of an LSTM(8) must already beat that
    assertTrue(model2 < naive2, "model squared error " + model2 + " vs naive " + naive2);
  }

  @Test
  void savedAndLoadedModelGivesBitIdenticalPredictionsAndAFileTheCliReads() throws Exception {
    String dir = tmp.resolve("saved-model").toString();
    model.write().overwrite().save(dir);
    RnnModel loaded = RnnModel.load(dir);
    assertEquals(model.uid(), loaded.uid());
    assertArrayEquals(model.getInputCols(), loaded.getInputCols());
    assertArrayEquals(model.modelBytes(), Files.readAllBytes(Path.of(dir, RnnModel.MODEL_FILE)));
    assertSamePredictions(model.transform(table), loaded.transform(table));

    // the CLI takes the saved file as it is: generate from one sensor's whole series as the primer (raw units,
    // normalised by the CLI with the file's statistics); its first output is the prediction after the last row
    String sensor = "sensor-00003";
    List<Row> rows = rowsOf(sensor);
    float[] primer = new float[HOURS * 2];
    for (int t = 0; t < HOURS; t++) {
      primer[t * 2] = (float) rows.get(t).getDouble(2);
      primer[t * 2 + 1] = (float) rows.get(t).getDouble(3);
    }
    Path primerFile = tmp.resolve("primer.npy");
    Files.write(primerFile, NpyWriter.toBytes(new int[] {HOURS, 2}, primer));
    Path future = tmp.resolve("future.npy");
    assertEquals(0, Main.run("generate", "--model", Path.of(dir, RnnModel.MODEL_FILE).toString(), "--primer",
        primerFile.toString(), "--steps", "3", "--out", future.toString()));
    NpyFiles.FloatArray generated = NpyFiles.readFloats(future.toString(), new Configuration());
    assertArrayEquals(new int[] {3, 1, 2}, generated.shape(), "[N, B, O]");
    List<Row> scored = loaded.transform(table.where(col("sensor").equalTo(sensor))).orderBy("ts").collectAsList();
    double[] last = prediction(scored.get(HOURS - 1));
    Normalization n = model.trainedModel().normalization();
    for (int o = 0; o < 2; o++) {
      // the CLI rounds the raw primer to float32 before normalising: the same float32 tolerance, in model units
      assertEquals(last[o], generated.data()[o], FLOAT32_ABS_TOL * n.targetStd()[o], "output " + o);
    }

    // what load does not take, said so (it was Spark's "[PATH_NOT_FOUND] .../metadata"), and a damaged weight refused
    // (it loaded, every prediction different: a user audit)
    assertMessage(() -> RnnModel.load(Path.of(dir, RnnModel.MODEL_FILE).toString()), "RnnModel.load: ", "is a file",
        "new RnnModel(bytes)");
    assertMessage(() -> RnnModel.load(tmp.resolve("no-such-model").toString()), "does not exist");
    String damaged = tmp.resolve("damaged-model").toString();
    model.write().overwrite().save(damaged);
    Path weights = Path.of(damaged, RnnModel.MODEL_FILE);
    byte[] b = Files.readAllBytes(weights);
    b[b.length - 5] ^= 0x40;
    Files.write(weights, b);
    Files.deleteIfExists(Path.of(damaged, "." + RnnModel.MODEL_FILE + ".crc"));   // as a copy without Hadoop's .crc would be
    assertMessage(() -> RnnModel.load(damaged), weights.getFileName().toString(), "do not match the CRC32C", "damaged");
  }

  static void assertSamePredictions(Dataset<Row> a, Dataset<Row> b) {
    List<Row> x = a.orderBy("sensor", "ts").collectAsList();
    List<Row> y = b.orderBy("sensor", "ts").collectAsList();
    assertEquals(x.size(), y.size());
    for (int i = 0; i < x.size(); i++) {
      assertArrayEquals(prediction(x.get(i)), prediction(y.get(i)), 0.0, "row " + i + ": " + x.get(i));
    }
  }

  @Test
  void fitWithAnInitialModelStartsFromItsWeights() throws IOException {
    Path saved = tmp.resolve("warm-start-model");
    model.write().overwrite().save(saved.toString());
    // one Adam step moves each weight by about lr: with lr 1e-9 the fit returns the given weights to float32 rounding
    float[] given = model.trainedModel().params().values();
    float[] warm = estimator().setInitialModel(saved.toString()).setMaxSteps(1).setLr(1e-9).fit(table).trainedModel().params()
        .values();
    float[] cold = estimator().setMaxSteps(1).setLr(1e-9).fit(table).trainedModel().params().values();
    double warmWorst = 0;
    double coldWorst = 0;
    for (int i = 0; i < given.length; i++) {
      warmWorst = Math.max(warmWorst, Math.abs(warm[i] - given[i]));
      coldWorst = Math.max(coldWorst, Math.abs(cold[i] - given[i]));
    }
    assertTrue(warmWorst < 1e-6, "warm start: worst |w − given| " + warmWorst);
    assertTrue(coldWorst > 1e-2, "and without it the weights are the seed's, worst |w − given| " + coldWorst);
    // fine-tuning on other data (other sensors) preps it with the initial model's statistics, which
    // its weights expect, instead of refusing the other data's own
    Dataset<Row> other = ExampleTables.sensors(spark, SENSORS, HOURS, 99);
    RnnModel tuned = estimator().setInitialModel(saved.toString()).setMaxSteps(1).setLr(1e-9).fit(other);
    assertEquals(model.trainedModel().normalization(), tuned.trainedModel().normalization());
    assertNotEquals(model.trainedModel().normalization(), estimator().setMaxSteps(1).fit(other).trainedModel().normalization(),
        "the other data's own statistics differ (so the comparison above can fail)");
    // another hidden size cannot start from it: refused naming the field
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> estimator().setHiddenSize(4).setInitialModel(saved.resolve("model.safetensors").toString()).setMaxSteps(1).fit(table));
    assertTrue(e.getMessage().contains("has hiddenSize 8, this estimator asks for 4 (setHiddenSize)"), e.getMessage());
  }

  @Test
  void anInitialModelThatCannotStartTheFitIsRefusedBeforeAnyJobNamingItAndWhatTheEstimatorAsks() throws Exception {
    String regression = tmp.resolve("init-checks/regression").toString();   // lstm, H=8, F=O=2 (temp, load), normalised
    model.write().overwrite().save(regression);
    String classes = tmp.resolve("init-checks/classes").toString();         // seq2one, 2 classes
    seq2oneModel().write().overwrite().save(classes);
    String missing = tmp.resolve("init-checks/nothing-here").toString();
    String file = regression + "/model.safetensors";
    String is = "setInitialModel: the initial model ";
    int jobs = jobsDuring(() -> {
      assertMessage(() -> estimator().setInitialModel(missing).fit(table), is + missing + " does not exist");
      assertMessage(() -> estimator().setInitialModel(classes).fit(labelled()),
          is + classes + "/model.safetensors has mode seq2one, this estimator asks for seq2seq (setSeq2one)");
      assertMessage(() -> estimator().setSeq2one(true).setTargetCols("morning").setInitialModel(classes).fit(labelled()),
          "has loss cross_entropy, this estimator asks for mse (setClasses)");
      assertMessage(() -> estimator().setInputCols("temp").setInitialModel(regression).fit(table),
          is + file + " has F = 2 input features, this estimator asks for 1 (setInputCols [temp])");
      assertMessage(() -> estimator().setTargetCols("temp").setInitialModel(regression).fit(table),
          is + file + " has O = 2 outputs, this estimator asks for 1 (setTargetCols [temp])");
      assertMessage(() -> estimator().setCell("gru").setInitialModel(regression).fit(table),
          is + file + " has cell lstm, this estimator asks for gru (setCell)");
      assertMessage(() -> estimator().setNumLayers(2).setInitialModel(regression).fit(table),
          is + file + " has numLayers 1, this estimator asks for 2 (setNumLayers)");
      assertMessage(() -> estimator().setNormalize(false).setInitialModel(regression).fit(table),
          is + file + " records the normalisation its weights were trained with", "setNormalize(true)");
    });
    assertEquals(0, jobs, "Spark jobs started by the refused fits");
    // an array column's width is known from its rows only: the check after prep's first pass names the initial model too
    Dataset<Row> arrays = table.withColumn("t", org.apache.spark.sql.functions.array(col("temp")));
    assertMessage(() -> estimator().setInputCols("t").setInitialModel(regression).fit(arrays),
        "setInitialModel: the statistics of the initial model " + file + ": its input statistics have 2 features, this"
            + " dataset has F=1");
  }

  @Test
  void fitsErrorsNameTheSettersNotTheCommandLinesOptions() {
    // prep table's code on the executors: a missing value, and a class id out of range
    Dataset<Row> hole = table.withColumn("temp",
        org.apache.spark.sql.functions.expr("CASE WHEN sensor = 'sensor-00002' AND hour(ts) = 5 THEN NULL ELSE temp END"));
    assertSetterWords(() -> estimator().fit(hole), "choose setMissing drop or ffill, or filter the table before fit (Dataset.where)");
    Dataset<Row> badClass = labelled().withColumn("morning",
        org.apache.spark.sql.functions.expr("CASE WHEN sensor = 'sensor-00001' THEN 5 ELSE morning END"));
    assertSetterWords(() -> estimator().setTargetCols("morning").setClasses(2).setSeq2one(true).fit(badClass), "(setClasses 2)");
    // as the int column holds it (it said "5.0")
    assertSetterWords(() -> estimator().setTargetCols("morning").setClasses(2).setSeq2one(true).fit(badClass), "has class id 5 ");
    // prep's options that no param mirrors: the wide tables' --sequence-column, and --where (a user audit)
    assertSetterWords(() -> new RnnEstimator().setKeyCols("sensor").setInputCols("temp").setSteps(24).fit(table),
        "setOrderCol: a long-format table needs its time column");
    assertSetterWords(() -> estimator().fit(table.union(table.limit(1))), "Dataset.where");
    // train's --epochs and --steps are setEpochs and setMaxSteps
    assertSetterWords(() -> estimator().setMaxSteps(0).setEpochs(0).fit(table), "setEpochs and setMaxSteps are both 0");
    // prep's --steps is setSteps (not train's --steps, setMaxSteps)
    assertSetterWords(() -> estimator().setSteps(HOURS + 1).fit(table), "lower setSteps, or set setMinSteps");
    // the table options' combinations, and train's keys before any job and on the driver after prep
    assertSetterWords(() -> estimator().setClasses(2).fit(table), "setClasses needs exactly one setTargetCols column");
    assertSetterWords(() -> estimator().setLr(0.001).setLrMin(0.5).fit(table), "RnnEstimator: setLrMin: 0.5 is above setLr, 0.001;"
        + " the cosine schedule anneals from setLr down to setLrMin");
    assertSetterWords(() -> estimator().setBatch(5000).fit(table), "RnnEstimator: setBatch: 5000 sequences per step, but the training split holds only");
  }

  static void assertSetterWords(Runnable fit, String part) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, fit::run);
    assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    assertFalse(e.getMessage().contains("--"), "no command-line option in: " + e.getMessage());
  }

  @Test
  void anInitialModelWithoutStatisticsFitWithNormalizeLogsAWarningSayingWhatToDo() throws Exception {
    // as import writes a PyTorch state dict whose config has no "normalization"
    ModelConfig config = new ModelConfig(CellType.LSTM,
        1, 2, 8, 2, Mode.SEQ2SEQ, LossType.MSE);
    Path file = tmp.resolve("init-raw.safetensors");
    Files.write(file, ModelFile.toBytes(Params.initialize(config, 5), Map.of()));
    List<String> warnings;
    try (LogCapture log = LogCapture.warnings(RnnEstimator.class)) {
      estimator().setInitialModel(file.toString()).setMaxSteps(1).fit(table);
      warnings = log.messages();
    }
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("the initial model " + file + " records no normalisation statistics"), warnings.get(0));
    // whose: the fit's prefix, as its other lines have it (docs/ml.md "What fit logs")
    assertTrue(warnings.get(0).matches("RnnEstimator rnnEstimator_[0-9a-f]+ fit [0-9a-f]{8}: the initial model .*"), warnings.get(0));
    assertTrue(warnings.get(0).contains("setNormalize(false)"), warnings.get(0));
    try (LogCapture log = LogCapture.warnings(RnnEstimator.class)) {
      estimator().setInitialModel(file.toString()).setNormalize(false).setMaxSteps(1).fit(table);
      warnings = log.messages();
    }
    assertEquals(List.of(), warnings, "no warning when the fit does not normalise either");
  }

  @Test
  void everyTableOptionAndTrainKeyIsAParamThatReachesPrepAndTrain() {
    RnnEstimator e = estimator().setSplit("by-time").setGap(6).setMinSteps(12).setMissing("ffill").setOptimizer("sgd")
        .setLrSchedule("cosine").setLrMin(0.001).setClipNorm(2.5).setWeightDecay(0.01).setDevice("jvm").setValidateEvery(10)
        .setFeedback(4);
    TableSpec spec = e.tableSpec();
    assertEquals(TableSpec.SplitMode.BY_TIME, spec.effectiveSplit());
    assertEquals(6, spec.gap());
    assertEquals(12, spec.effectiveMinSteps());
    assertEquals(TableSpec.Missing.FFILL, spec.missing());
    Map<String, String> keys = e.trainKeys("d", "o");
    assertEquals("sgd", keys.get("optimizer"));
    assertEquals("cosine", keys.get("lr-schedule"));
    assertEquals("2.5", keys.get("clip-norm"));
    assertEquals("jvm", keys.get("device"));
    assertEquals("10", keys.get("validate-every"));
    assertEquals("4", keys.get("feedback"));
    // defaults are train's, and a bad value is refused naming it, before any job
    assertEquals(TrainConfig.DEFAULTS.get("optimizer"), estimator().getOptimizer());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> estimator().setOptimizer("rmsprop").transformSchema(table.schema()));
    assertTrue(bad.getMessage().startsWith("setOptimizer: 'rmsprop' is not one of adam"), bad.getMessage());
    IllegalArgumentException split = assertThrows(IllegalArgumentException.class,
        () -> estimator().setSplit("random").transformSchema(table.schema()));
    assertTrue(split.getMessage().startsWith("setSplit: 'random' is not one of by-key, by-time"), split.getMessage());
    assertTrue(estimator().explainParams().contains("clipNorm"), "explainParams lists the new params");
    // every key of train is a param, except those fit decides itself (the files, the run's lifecycle, the model's kind from
    // the table) and the warm start, which is the initialModel param
    Set<String> byFit = Set.of("data", "out", "mode", "loss", "resume", "overwrite", "master", "init");
    // an optimizer's constants reach train only where set (so that it warns of one the optimizer does not use),
    // and train then applies its own defaults, which are the params' defaults
    Set<String> onlyWhereSet = Set.of("momentum", "beta1", "beta2", "eps");
    for (String key : onlyWhereSet) {
      assertFalse(keys.containsKey(key), key + " not set, not passed");
      assertEquals(normal(TrainConfig.DEFAULTS.get(key)), normal(String.valueOf(e.getOrDefault(e.getParam(key)))),
          "the default of " + key + " is train's");
    }
    for (String key : TrainConfig.DEFAULTS.keySet()) {
      if (!byFit.contains(key) && !onlyWhereSet.contains(key)) {
        assertTrue(keys.containsKey(key), "train's key " + key + " is a param of RnnEstimator");
        assertEquals(TrainConfig.DEFAULTS.get(key) == null ? null : normal(TrainConfig.DEFAULTS.get(key)),
            normal(new RnnEstimator().trainKeys("d", "o").get(key)), "the default of " + key + " is train's");
      }
    }
    Map<String, String> more = estimator().setMomentum(0.5).setBeta1(0.8).setBeta2(0.95).setEps(1e-6).setTbptt(8)
        .setEngine("reference").setCheckpointEvery(7).setOnNan("skip").setLogEvery(3).setSync("job").trainKeys("d", "o");
    Map<String, String> expected = Map.of("momentum", "0.5", "beta1", "0.8", "beta2", "0.95", "eps", "1.0E-6",
        "tbptt", "8", "engine", "reference", "checkpoint-every", "7", "on-nan", "skip", "log-every", "3", "sync", "job");
    expected.forEach((key, value) -> assertEquals(value, more.get(key), key));
  }

  /** A key's value as train parses it: numbers compared as numbers ("0.9" and "0.90" alike). */
  static Object normal(String value) {
    try {
      return new BigDecimal(value).stripTrailingZeros();
    } catch (NumberFormatException notANumber) {
      return value;
    }
  }

  @Test
  void aSavedModelLoadedInAFreshJvmGivesTheSamePredictionsBitForBit() throws Exception {
    Path dir = tmp.resolve("fresh-jvm");
    String saved = dir.resolve("model").toString();
    String input = dir.resolve("table.parquet").toString();
    String output = dir.resolve("predictions.parquet").toString();
    model.write().overwrite().save(saved);
    table.write().parquet(input);
    ChildJvm.Result child = ChildJvm.run("1g", 5,
        "io.sparkrnn.ml.FreshJvmTransform", saved, input, output);
    assertEquals(0, child.code(), child.output());
    Comparator<Row> byKeyAndTime = Comparator.comparing((Row r) -> r.getString(0)).thenComparing(r -> r.getTimestamp(1));
    List<Row> here = new ArrayList<>(model.transform(spark.read().parquet(input)).select("sensor", "ts", "prediction")
        .collectAsList());
    List<Row> there = new ArrayList<>(spark.read().parquet(output).collectAsList());
    here.sort(byKeyAndTime);
    there.sort(byKeyAndTime);
    assertEquals(here.size(), there.size());
    for (int i = 0; i < here.size(); i++) {
      List<Double> a = here.get(i).getList(2);
      List<Double> b = there.get(i).getList(2);
      for (int o = 0; o < a.size(); o++) {
        assertEquals(Double.doubleToRawLongBits(a.get(o)), Double.doubleToRawLongBits(b.get(o)),
            "row " + here.get(i) + " output " + o + ": " + a.get(o) + " here, " + b.get(o) + " in the fresh JVM");
      }
    }
  }

  @Test
  void fittingTwiceGivesByteIdenticalWeights() {
    RnnModel again = estimator().fit(table);
    assertArrayEquals(model.modelBytes(), again.modelBytes());
    // and a different seed does not (the comparison can fail)
    assertFalse(Arrays.equals(model.modelBytes(), estimator().setSeed(4).setMaxSteps(2).fit(table).modelBytes()));
  }

  /**
   * docs/ml.md "What fit logs": the trainer's INFO lines carry the estimator's uid and the fit's id
   * (a CrossValidator's fits are copies with one uid, and interleave under parallelism), name setters where train's options were ("--device auto:"),
   * and do not point at a model file in the work directory that fit removes when it ends.
   */
  @Test
  void aFitsInfoLinesCarryItsUidNameSettersAndNoFileItRemoves() {
    RnnEstimator e = estimator().setMaxSteps(2).setLogEvery(1);
    List<String> infos;
    List<String> prepLines;
    try (LogCapture log = LogCapture.infos(RnnEstimator.class); LogCapture prep = LogCapture.infos(SequenceTables.class)) {
      e.fit(table);
      infos = log.messages();
      prepLines = prep.messages();
    }
    // "RnnEstimator <uid> fit <the first 8 characters of the work directory's id>: "
    Matcher who = Pattern.compile("RnnEstimator " + e.uid() + " fit ([0-9a-f]{8}): working in .*/rnn-fit-(\\1[-0-9a-f]{28})"
        + " \\(removed when done\\)").matcher(infos.get(0));
    assertTrue(who.matches(), infos.get(0));
    String prefix = "RnnEstimator " + e.uid() + " fit " + who.group(1) + ": ";
    assertTrue(infos.size() >= 6 && infos.stream().allMatch(l -> l.startsWith(prefix)), "every line the fit's: " + infos);
    String workDir = infos.get(0).substring((prefix + "working in ").length(), infos.get(0).length() - " (removed when done)".length());
    assertTrue(infos.stream().skip(1).noneMatch(l -> l.contains(workDir) || l.contains("--")), "no removed path, no option: " + infos);
    assertTrue(infos.stream().anyMatch(l -> l.startsWith(prefix + "setDevice(auto): ")), "the device line: " + infos);
    assertTrue(infos.stream().anyMatch(l -> l.startsWith(prefix + "step 2/2 ")), "progress: " + infos);
    // the run's first line says the update in force (a tuning grid's fits differ there): setLr(0.02), adam by default
    assertTrue(infos.stream().anyMatch(l -> l.startsWith(prefix + "training lstm 1x8 ") && l.contains(", batch 16, adam lr 0.02, ")),
        "the training line: " + infos);
    // the prep's own lines (its logger) say whose too, and name no removed path
    assertTrue(prepLines.size() >= 2 && prepLines.stream().allMatch(l -> l.startsWith(prefix + "prep table: ")), "prep: " + prepLines);
    assertTrue(prepLines.stream().noneMatch(l -> l.contains(workDir)), "prep: " + prepLines);
    assertTrue(prepLines.get(prepLines.size() - 1).endsWith(" shards written to the fit's work directory"), prepLines.toString());
    String done = infos.get(infos.size() - 1);
    assertTrue(done.startsWith(prefix + "done: 2 steps, loss ") && done.endsWith("; the model is the RnnModel fit returns"), done);
  }

  /**
   * docs/ml.md "Model selection": CrossValidator with a fold column of whole keys, an SQLTransformer
   * that takes prediction[0] for RegressionEvaluator. Each map's average metric is, by Spark's
   * definition, the mean over folds of the evaluator on fold i's rows of the model fitted on the
   * other folds' rows: computed here by hand for the first map, fit by fit, it must be the same
   * number (the fits are deterministic for a seed), which holds only if each fold trains on whole
   * series of the other keys.
   */
  @Test
  void crossValidatorWithFoldsOfWholeKeysScoresAsTheDocsSay() {
    Dataset<Row> folded = table
        .withColumn("next_temp", org.apache.spark.sql.functions.expr("lead(temp) OVER (PARTITION BY sensor ORDER BY ts)"))
        .withColumn("fold", org.apache.spark.sql.functions.expr("pmod(hash(sensor), 2)")).cache();
    RnnEstimator rnn = estimator().setMaxSteps(5).setValidationFraction(0);
    SQLTransformer first = new SQLTransformer().setStatement("SELECT *, prediction[0] AS pred_temp FROM __THIS__"
        + " WHERE prediction IS NOT NULL AND next_temp IS NOT NULL");
    Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {rnn, first});
    ParamMap[] grid = new ParamGridBuilder().addGrid(rnn.hiddenSize(), new int[] {4, 8}).build();
    RegressionEvaluator rmse = new RegressionEvaluator().setLabelCol("next_temp").setPredictionCol("pred_temp");
    CrossValidatorModel cv = new CrossValidator().setEstimator(pipeline).setEstimatorParamMaps(grid).setEvaluator(rmse)
        .setFoldCol("fold").setNumFolds(2).fit(folded);
    assertEquals(2, cv.avgMetrics().length);
    double byHand = 0;
    for (int fold = 0; fold < 2; fold++) {
      Column held = col("fold").equalTo(fold);
      PipelineModel m = pipeline.fit(folded.where(held.unary_$bang()), grid[0]);
      byHand += rmse.evaluate(m.transform(folded.where(held))) / 2;
    }
    assertEquals(byHand, cv.avgMetrics()[0], 1e-12 * byHand, "map 0's mean over the folds");
    RnnModel best = (RnnModel) ((PipelineModel) cv.bestModel()).stages()[0];
    int bestH = cv.avgMetrics()[0] <= cv.avgMetrics()[1] ? 4 : 8;   // the smaller rmse
    assertEquals(bestH, best.trainedModel().config().hiddenSize());
    folded.unpersist();
  }

  @Test
  void aPipelineWithAnSqlStageFitsSavesLoadsAndTransformsIdentically() throws IOException {
    SQLTransformer celsiusOffset = new SQLTransformer()
        .setStatement("SELECT sensor, ts, temp - 15 AS temp_offset, load FROM __THIS__");
    RnnEstimator rnn = estimator().setInputCols("temp_offset", "load").setMaxSteps(10);
    Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {celsiusOffset, rnn});
    PipelineModel fitted = pipeline.fit(table);
    Dataset<Row> before = fitted.transform(table);
    assertTrue(List.of(before.columns()).contains("temp_offset"), "the SQL stage ran first");

    String dir = tmp.resolve("saved-pipeline").toString();
    fitted.write().overwrite().save(dir);
    PipelineModel loaded = PipelineModel.load(dir);
    assertSamePredictions(before, loaded.transform(table));

    // the unfitted pipeline (with the estimator's params) saves and loads too
    String pdir = tmp.resolve("saved-estimator-pipeline").toString();
    pipeline.write().overwrite().save(pdir);
    RnnEstimator reloaded = (RnnEstimator) Pipeline.load(pdir).getStages()[1];
    assertEquals(rnn.uid(), reloaded.uid());
    assertArrayEquals(new String[] {"temp_offset", "load"}, reloaded.getInputCols());
    assertEquals(10L, reloaded.getMaxSteps());

    // alone, and a saved model's directory named as the class it holds (it was NoSuchMethodException: a user audit)
    String edir = tmp.resolve("saved-estimator").toString();
    rnn.write().overwrite().save(edir);
    assertEquals(10L, RnnEstimator.load(edir).getMaxSteps());
    String mdir = tmp.resolve("saved-model-not-estimator").toString();
    model.write().overwrite().save(mdir);
    assertMessage(() -> RnnEstimator.load(mdir), "Expected class name io.sparkrnn.ml.RnnEstimator", "io.sparkrnn.ml.RnnModel");
    // a subclass loads as itself, as Spark's reader made it (a review)
    String sdir = tmp.resolve("saved-subclass").toString();
    new TunedEstimator("tuned-1").setMaxSteps(7).write().overwrite().save(sdir);
    RnnEstimator sub = RnnEstimator.load(sdir);
    assertEquals(TunedEstimator.class, sub.getClass());
    assertEquals(7L, sub.getMaxSteps());
  }

  /** A user's subclass of the estimator, as Spark ML allows. */
  public static final class TunedEstimator extends RnnEstimator {
    public TunedEstimator(String uid) {
      super(uid);
    }
  }

  @Test
  void paramsCopyExplainAndRefuseBadValuesNamingTheSetter() {
    RnnEstimator e = estimator();
    RnnEstimator c = e.copy(new ParamMap().put(e.hiddenSize().w(4)));
    assertEquals(4, c.getHiddenSize());
    assertEquals(8, e.getHiddenSize());
    assertEquals(e.uid(), c.uid());
    String explained = e.explainParams();
    for (String p : new String[] {"keyCols", "orderCol", "inputCols", "steps", "hiddenSize", "maxSteps", "workDir", "lr"}) {
      assertTrue(explained.contains(p + ":"), p + " in explainParams:\n" + explained);
    }
    assertEquals("lstm", new RnnEstimator().getCell());
    assertEquals(32, new RnnEstimator().getHiddenSize());
    assertTrue(new RnnEstimator().getNormalize());
    assertMessage(() -> e.setHiddenSize(0), "setHiddenSize", "[1, 65536]", "found 0");
    assertMessage(() -> e.setCell("transformer"), "transformer");
    assertMessage(() -> e.setValidationFraction(1.0), "setValidationFraction", "[0.0, 1.0)");
    // a key named twice (also as another case of the same column) is refused where the schema is checked, before any job
    assertMessage(() -> estimator().setKeyCols("sensor", "SENSOR").transformSchema(table.schema()), "RnnEstimator",
        "keyCols names column 'sensor' twice");
    assertMessage(() -> model.copy(new ParamMap()).setKeyCols("sensor", "sensor").transformSchema(table.schema()), "RnnModel",
        "keyCols names column 'sensor' twice");
    // refused when set, not by fit after the table's prep
    assertMessage(() -> e.setWorkDir("::bad uri"), "setWorkDir", "expected a Hadoop URI or path", "'::bad uri'");
    assertMessage(() -> new RnnEstimator().setOrderCol("ts").setInputCols("temp").fit(table), "steps", "setSteps");
  }

  @Test
  void theFittedModelHasTheEstimatorsUidAndTheEstimatorAsItsParent() {
    // Spark ML: a Model's parent() is the Estimator that fit it (docs/ml.md: "parent(), the estimator with its learning
    // rate and steps, is not saved"), and a fitted model takes its estimator's uid, as Spark's own estimators give it
    assertNotNull(model.parent(), "parent");
    assertEquals(model.parent().uid(), model.uid());
    assertEquals(0.02, ((RnnEstimator) model.parent()).getLr(), 0.0, "estimator() above sets lr 0.02");
  }

  @Test
  void aMissingOrMistypedColumnIsRefusedBeforeAnyJob() throws Exception {
    int jobs = jobsDuring(() -> {
      assertMessage(() -> model.transform(table.drop("load")), "inputCols", "'load'", "not in the table", "[sensor, ts, temp]");
      assertMessage(() -> model.transform(table.withColumn("temp", col("temp").cast("string"))), "inputCols", "'temp'",
          "string", "expected a number, an array of numbers or an ML Vector");
      assertMessage(() -> model.transform(table.withColumn("ts", col("ts").cast("string"))), "orderCol", "'ts'", "string",
          "timestamp");
      assertMessage(() -> model.transform(table.withColumnRenamed("sensor", "id")), "keyCols", "'sensor'");
      assertMessage(() -> model.copy(new ParamMap()).setInputCols("temp").transform(table), "F=2");
      assertMessage(() -> model.copy(new ParamMap()).setPredictionCol("load").transform(table), "predictionCol", "'load'");
      assertMessage(() -> estimator().fit(table.drop("temp")), "inputCols", "'temp'");
      assertMessage(() -> estimator().setTargetCols("load").fit(table.drop("load").withColumn("x", col("temp"))),
          "'load'");
      // one column named twice as inputs, or a key or order column among the inputs (a user audit: one column made
      // two features; forecast rows had model outputs for keys, and closed loop then scored nothing; fit failed
      // with Spark's AMBIGUOUS_REFERENCE)
      assertMessage(() -> model.copy(new ParamMap()).setInputCols("temp", "TEMP").transform(table), "inputCols names column"
          + " 'temp' twice");
      assertMessage(() -> estimator().setInputCols("temp", "temp").fit(table), "inputCols names column 'temp' twice");
      assertMessage(() -> model.copy(new ParamMap()).setTargetCols("temp", "TEMP").evaluate(table), "RnnModel.evaluate: targetCols"
          + " names column 'temp' twice");
      Dataset<Row> keyed = table.withColumn("kd", col("load"));
      assertMessage(() -> model.copy(new ParamMap()).setKeyCols("kd").setInputCols("temp", "kd").setForecastSteps(2).transform(keyed),
          "setForecastSteps(2) feeds each output back", "inputCols column 'kd' is the keyCols column");
      assertMessage(() -> model.copy(new ParamMap()).setOrderCol("load").setInputCols("temp", "LOAD").setFeedback(2).evaluate(table),
          "RnnModel.evaluate: setFeedback(2) feeds", "inputCols column 'load' is the orderCol column");
      // a decimal order: named as the closed loop's need, not as forecastSteps, a param the caller never set (a docs audit)
      // (and in the table's spelling, as transform's refusals: TSD names column tsd)
      assertMessage(() -> model.copy(new ParamMap()).setOrderCol("TSD").setFeedback(2).evaluate(table.withColumn("tsd",
          org.apache.spark.sql.functions.expr("CAST(unix_timestamp(ts) AS DECIMAL(20,0))"))),
          "RnnModel.evaluate: setFeedback(2) forecasts past each key's last driven row, which needs orderCol 'tsd' to be",
          "found decimal(20,0)");
      assertMessage(() -> estimator().setKeyCols("kd").setInputCols("temp", "kd").fit(keyed), "setInputCols: column 'kd' is"
          + " the setKeyCols column");
      assertMessage(() -> estimator().setOrderCol("load").setInputCols("temp", "load").fit(table), "setInputCols: column 'load'"
          + " is the setOrderCol column");
    });
    assertEquals(0, jobs, "Spark jobs started by the refused calls");
  }

  /**
   * A notebook runs a cell's jobs in a job group and cancels the cell with cancelJobGroup: every
   * job of a fit (prep, training, validation) must stay in the caller's group, and the fit must
   * stop when its job is cancelled, not run the cancelled barrier segment again from its start (as
   * after a task failure). The listener cancels the group once, as the first segment starts; a
   * fit whose jobs left the group, or that retried, would go on and finish its steps. Afterwards
   * the thread's job description is the caller's again.
   */
  @Test
  void cancellingTheCallersJobGroupStopsAFit() throws Exception {
    AtomicInteger segments = new AtomicInteger();
    List<String> groups = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    spark.sparkContext().setJobGroup("notebook-cell", "a cell", true);
    spark.sparkContext().setJobDescription("the cell's own description");
    try {
      listening(new SparkListener() {
        @Override
        public void onJobStart(SparkListenerJobStart jobStart) {
          groups.add(jobStart.properties().getProperty("spark.jobGroup.id"));
          String what = String.valueOf(jobStart.properties().getProperty("spark.job.description"));
          if (what.contains("barrier segment") && segments.incrementAndGet() == 1) {
            spark.sparkContext().cancelJobGroup("notebook-cell", "the cell's interrupt");
          }
        }
      }, () -> failure.set(assertThrows(Exception.class, () -> estimator().setSync("barrier").setMaxSteps(200).fit(table))));
      assertEquals("the cell's own description", spark.sparkContext().getLocalProperty("spark.job.description"));
      assertEquals("notebook-cell", spark.sparkContext().getLocalProperty("spark.jobGroup.id"));
    } finally {
      spark.sparkContext().clearJobGroup();
      spark.sparkContext().setJobDescription(null);
    }
    assertEquals(1, segments.get(), "barrier segments started: the cancelled one only");
    assertTrue(groups.size() > 1 && groups.stream().allMatch("notebook-cell"::equals), "every job in the caller's group: " + groups);
    StringBuilder messages = new StringBuilder();
    for (Throwable t = failure.get(); t != null; t = t.getCause()) {
      messages.append(t.getMessage()).append('\n');
    }
    assertTrue(messages.toString().contains("the cell's interrupt"), messages.toString());
  }

  /**
   * A notebook may interrupt the thread that runs the fit instead: Spark's runJob then throws an
   * InterruptedException with the thread's flag cleared and leaves the job running. The fit must
   * stop (not run the segment again), cancel the job it broke off from, and leave the thread
   * interrupted. (Found by a review: the fit retried and trained its 3000 steps.)
   */
  @Test
  void interruptingTheFittingThreadStopsTheFitAndItsJob() throws Exception {
    AtomicInteger segments = new AtomicInteger();
    Thread fitting = Thread.currentThread();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean stillInterrupted = new AtomicBoolean();
    listening(new SparkListener() {
      @Override
      public void onJobStart(SparkListenerJobStart jobStart) {
        String what = String.valueOf(jobStart.properties().getProperty("spark.job.description"));
        if (what.contains("barrier segment") && segments.incrementAndGet() == 1) {
          new Thread(() -> {
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            fitting.interrupt();
          }).start();
        }
      }
    }, () -> {
      failure.set(assertThrows(Throwable.class,
          () -> estimator().setSync("barrier").setMaxSteps(3000).setCheckpointEvery(0).setLogEvery(1000).fit(table)));
      stillInterrupted.set(Thread.interrupted());   // read and cleared, so that the listener bus can be drained
    });
    assertEquals(1, segments.get(), "barrier segments started: the interrupted one only");
    assertTrue(stillInterrupted.get(), "the thread's interrupt is kept for its caller: " + failure.get());
    assertTrue(String.valueOf(failure.get().getMessage()).matches("RnnEstimator \\S+ fit \\S+: interrupted .*"),
        "the failure says whose fit and what happened: " + failure.get());
    long deadline = System.currentTimeMillis() + 30_000;
    while (spark.sparkContext().statusTracker().getActiveJobIds().length > 0 && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
    }
    assertEquals(0, spark.sparkContext().statusTracker().getActiveJobIds().length, "the segment job was cancelled");
  }

  /**
   * The same while the table is prepared (a user audit): the shuffle and sort job that toRdd starts
   * under adaptive execution ran before the fit's job scope, untagged, so an interrupt left it
   * running; the thread's interrupt came back cleared, and a cancel as an IllegalStateException. A
   * table slowed by 5 ms a row holds the job long enough for the interrupt to land in it.
   */
  @Test
  void interruptingTheFitWhileItPreparesTheTableCancelsThatJobAndKeepsTheInterrupt() throws Exception {
    Dataset<Row> slow = table.withColumn("sensor", org.apache.spark.sql.functions.expr(
        "concat(sensor, coalesce(reflect('java.lang.Thread', 'sleep', cast(5 AS bigint)), ''))"));
    Thread fitting = Thread.currentThread();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean stillInterrupted = new AtomicBoolean();
    AtomicInteger prepJob = new AtomicInteger(-1);
    AtomicReference<String> tags = new AtomicReference<>();
    AtomicReference<String> result = new AtomicReference<>();
    listening(new SparkListener() {
      @Override
      public void onJobStart(SparkListenerJobStart jobStart) {
        String what = String.valueOf(jobStart.properties().getProperty("spark.job.description"));
        if (what.contains("prep table") && prepJob.compareAndSet(-1, jobStart.jobId())) {
          tags.set(jobStart.properties().getProperty("spark.job.tags"));
          new Thread(() -> {
            try {
              Thread.sleep(300);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            fitting.interrupt();
          }).start();
        }
      }

      @Override
      public void onJobEnd(org.apache.spark.scheduler.SparkListenerJobEnd jobEnd) {
        if (jobEnd.jobId() == prepJob.get()) {
          result.set(jobEnd.jobResult().toString());
        }
      }
    }, () -> {
      failure.set(assertThrows(Throwable.class, () -> estimator().setMaxSteps(5).fit(slow)));
      stillInterrupted.set(Thread.interrupted());   // read and cleared, so that the listener bus can be drained
      // the scheduler posts the cancelled job's end a moment after its tasks stop (a CI run read it as absent)
      long deadline = System.currentTimeMillis() + 30_000;
      while (result.get() == null && System.currentTimeMillis() < deadline) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    });
    assertTrue(stillInterrupted.get(), "the thread's interrupt is kept for its caller: " + failure.get());
    assertFalse(failure.get() instanceof IllegalStateException, "Spark's own exception, as in training: " + failure.get());
    if (failure.get() instanceof InterruptedException) {
      assertTrue(failure.get().getMessage().matches("RnnEstimator \\S+ fit \\S+: interrupted while preparing the table .*"),
          failure.get().getMessage());
    }
    assertTrue(String.valueOf(tags.get()).contains("spark-rnn"), "the table's first job is the fit's: tags " + tags.get());
    assertTrue(String.valueOf(result.get()).startsWith("JobFailed"), "the table's job was cancelled, not left to finish: " + result.get());
  }

  /**
   * setFeedback's closed-loop validation, where train would refuse it, is refused before fit's
   * table job (train's refusal came after the table had been cut into windows): a seq2one model
   * (nothing to feed back), K ≥ T (no input-driven step left), and windows that setMinSteps lets be
   * shorter than T when validation runs. The same min-steps fit without validation (train's default
   * validate-every 0) or without a validation split passes the check.
   */
  @Test
  void closedLoopValidationThatCannotRunIsRefusedBeforeAnyJob() throws Exception {
    assertEquals(0, jobsDuring(() -> assertMessage(() -> estimator().setMinSteps(12).setFeedback(4).setValidateEvery(10).fit(table),
        "RnnEstimator: setFeedback(4)", "windows of all T=24 steps", "setMinSteps(12)")));
    assertEquals(0, jobsDuring(() -> assertMessage(() -> estimator().setFeedback(24).fit(table), "setFeedback(24)",
        "no input-driven step in setSteps(24)")));
    assertEquals(0, jobsDuring(() -> assertMessage(() -> estimator().setTargetCols("temp").setSeq2one(true).setFeedback(2)
        .fit(table), "setFeedback(2)", "seq2one")));
    StructType schema = table.schema();
    estimator().setMinSteps(12).setFeedback(4).transformSchema(schema);
    estimator().setMinSteps(12).setFeedback(4).setValidateEvery(10).setValidationFraction(0).transformSchema(schema);
    estimator().setMinSteps(24).setFeedback(4).setValidateEvery(10).transformSchema(schema);   // M = T: all windows whole
    estimator().setFeedback(23).setValidateEvery(10).transformSchema(schema);
  }

  @Test
  void aStreamingTableIsRefusedSayingWhy() throws Exception {
    Dataset<Row> stream = spark.readStream().format("rate").load()
        .selectExpr("'sensor-00000' AS sensor", "timestamp AS ts", "CAST(value AS DOUBLE) AS temp", "CAST(value AS DOUBLE) AS load");
    assertTrue(stream.isStreaming());
    assertMessage(() -> model.transform(stream), "RnnModel.transform", "streaming DataFrame", "foreachBatch");
    // fit too, before any job (Spark's own refusal came from inside the first one: a user audit)
    assertEquals(0, jobsDuring(() -> assertMessage(() -> estimator().fit(stream), "RnnEstimator.fit", "streaming DataFrame")));
  }

  /**
   * A fit that asked for validation and got no validation window says so at WARN, as prep table
   * does (it was one INFO line of counts: a user audit). Six keys, a 1% fraction by key: the seeded
   * hash of none falls under it. By time, 5% of each sensor's 240 hours is round(12) rows, fewer
   * than T = 24: the advice is then the fraction and the gap, not setSplit("by-time") (a user audit
   * found that advice given to a fit already split by time). The trainer's warnings reach the fit's
   * log at WARN naming setters (they came at INFO naming train's options: a user audit), as does
   * its warning of an optimizer constant the optimizer does not use.
   */
  @Test
  void aFitWhoseSplitGivesNoValidationWarns() {
    List<String> warnings;
    try (LogCapture log = LogCapture.warnings(RnnEstimator.class)) {
      estimator().setValidationFraction(0.01).setValidateEvery(5).setMaxSteps(2).fit(table);
      estimator().setValidationFraction(0.5).setValidateEvery(5).setMaxSteps(2).fit(table);
      estimator().setSplit("by-time").setValidationFraction(0.05).setValidateEvery(5).setMaxSteps(2).fit(table);
      // validateEvery 0: nothing validates, so the advice is to hold out nothing, not more
      estimator().setValidationFraction(0.01).setValidateEvery(0).setMaxSteps(2).fit(table);
      // no validation asked for, but validateEvery 5: the trainer's warning, in setter words; and sgd's
      // momentum set for adam (the default optimizer), which does nothing
      estimator().setValidationFraction(0).setValidateEvery(5).setMaxSteps(2).setMomentum(0.5).fit(table);
      warnings = log.messages();
    }
    // the trainer's own "no validation sequences" is not repeated under the fit's warnings
    assertEquals(5, warnings.size(), "one warning each for the 1% fits by key and the 5% fit by time, and the trainer's two: "
        + warnings);
    assertTrue(warnings.get(3).endsWith("setMomentum(0.5): setOptimizer(adam) does not use it (setMomentum is sgd's; adam's"
        + " counterpart is setBeta1)"), warnings.get(3));
    // fit's dataset is in a work directory removed when fit ends: the warning names "the table", not its path
    assertTrue(warnings.get(4).contains("setValidateEvery(5): the table has no validation sequences")
        && warnings.get(4).contains("(setValidationFraction;") && !warnings.get(4).contains("--"), warnings.get(4));
    assertTrue(warnings.get(2).contains("setValidationFraction(0.01) gave no validation window")
        && warnings.get(2).endsWith("With validateEvery 0 this fit validates on nothing anyway; setValidationFraction(0) trains on"
        + " every key"), warnings.get(2));
    assertTrue(warnings.get(0).contains("setValidationFraction(0.01) gave no validation window")
        && warnings.get(0).contains("setSplit(\"by-time\")"), warnings.get(0));
    assertTrue(warnings.get(1).contains("setValidationFraction(0.05) gave no validation window")
        && warnings.get(1).contains("setGap") && !warnings.get(1).contains("setSplit"), warnings.get(1));
  }

  /**
   * Column names resolve as the session resolves them: ignoring case by default (two names equal
   * ignoring case are ambiguous, as for Spark), with case under spark.sql.caseSensitive=true (where
   * transform scored an upper-cased table and took a PREDICTION column for a clash: a user audit).
   */
  @Test
  void columnNamesResolveAsTheSessionsCaseSensitivitySays() {
    Dataset<Row> upper = table.selectExpr("sensor AS SENSOR", "ts AS TS", "temp AS TEMP", "load AS LOAD");
    assertEquals(table.count(), model.transform(upper).count(), "ignoring case, the upper-cased names are the model's");
    assertMessage(() -> model.transform(table.selectExpr("*", "temp AS TEMP")), "RnnModel", "'temp' is ambiguous",
        "[temp, TEMP]");
    spark.conf().set("spark.sql.caseSensitive", "true");
    try {
      assertMessage(() -> model.transform(upper), "is not in the table", "spark.sql.caseSensitive is true");
      Dataset<Row> both = table.withColumn("TEMP", org.apache.spark.sql.functions.lit(1e9));
      assertEquals(model.transform(table).where(col("sensor").equalTo("sensor-00000")).orderBy("ts").select("prediction")
          .collectAsList(), model.transform(both).where(col("sensor").equalTo("sensor-00000")).orderBy("ts").select("prediction")
          .collectAsList(), "with case, TEMP is another column than the model's temp");
      assertEquals(table.count(), model.transform(table.withColumn("PREDICTION", org.apache.spark.sql.functions.lit(0))).count(),
          "PREDICTION is not prediction");
    } finally {
      spark.conf().set("spark.sql.caseSensitive", "false");
    }
    // the dataset's session decides, not the one active on this thread (a review)
    SparkSession withCase = spark.newSession();
    withCase.conf().set("spark.sql.caseSensitive", "true");
    Dataset<Row> upperWithCase = withCase.createDataFrame(upper.collectAsList(), upper.schema());
    assertMessage(() -> model.transform(upperWithCase), "is not in the table", "spark.sql.caseSensitive is true");
    assertEquals(table.count(), model.transform(upper).count(), "this session still ignores case");
  }

  /** The Spark jobs started while {@code work} runs. */
  static int jobsDuring(Runnable work) throws TimeoutException {
    AtomicInteger jobs = new AtomicInteger();
    listening(new SparkListener() {
      @Override
      public void onJobStart(SparkListenerJobStart jobStart) {
        jobs.incrementAndGet();
      }
    }, work);
    return jobs.get();
  }

  /** The shuffle bytes the tasks that end while {@code work} runs wrote. */
  static long shuffleBytesDuring(Runnable work) throws TimeoutException {
    AtomicLong bytes = new AtomicLong();
    listening(new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
        if (taskEnd.taskMetrics() != null) {
          bytes.addAndGet(taskEnd.taskMetrics().shuffleWriteMetrics().bytesWritten());
        }
      }
    }, work);
    return bytes.get();
  }

  /** Runs {@code work} with {@code listener} on the listener bus, the bus drained before and after. */
  static void listening(SparkListener listener, Runnable work) throws TimeoutException {
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.sparkContext().addSparkListener(listener);
    try {
      work.run();
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.sparkContext().removeSparkListener(listener);
    }
  }

  @Test
  void forecastingAModelWhoseTargetsAreNotItsInputsIsRefusedSayingWhy() {
    RnnModel m = model.copy(new ParamMap()).setTargetCols("load").setForecastSteps(3);
    assertMessage(() -> m.transform(table), "forecastSteps", "targets to be the inputs");
    // targets K rows ahead: the forecast fed back would stand K rows later than the row it is fed into
    RnnModel twoAhead = model.copy(new ParamMap()).setHorizon(2).setForecastSteps(3);
    assertMessage(() -> twoAhead.transform(table), "forecastSteps", "one step ahead (horizon 2)");
    model.copy(new ParamMap()).setHorizon(1).setForecastSteps(3).transformSchema(table.schema());   // one ahead: accepted
  }

  @Test
  void aTimestampSeriesWithAGapContinuesAtItsMedianSpacing() {
    // hours 0..9 then 12: gaps are 1 h nine times and 3 h once; the median is 1 h
    Dataset<Row> gapped = table.where(col("sensor").equalTo("sensor-00000"))
        .where("(unix_seconds(ts) - 1704067200) / 3600 < 10 OR (unix_seconds(ts) - 1704067200) / 3600 = 12");
    List<Row> out = new ArrayList<>(model.copy(new ParamMap()).setForecastSteps(2).transform(gapped).collectAsList());
    out.sort(Comparator.comparing(r -> r.getTimestamp(1)));
    assertEquals(13, out.size(), "11 rows and 2 forecast rows: " + out);
    Timestamp last = out.get(10).getTimestamp(1);
    assertEquals(last.getTime() + 3_600_000L, out.get(11).getTimestamp(1).getTime());
    assertEquals(last.getTime() + 7_200_000L, out.get(12).getTimestamp(1).getTime());
  }

  @Test
  void aRowWithAMissingInputGetsNoPredictionAndLeavesTheStateAlone() {
    String sensor = "sensor-00001";
    Dataset<Row> one = table.where(col("sensor").equalTo(sensor));
    Dataset<Row> holed = one.withColumn("temp", org.apache.spark.sql.functions.when(col("ts").equalTo(
        org.apache.spark.sql.functions.lit(rowsOf(sensor).get(100).getTimestamp(1))), null).otherwise(col("temp")));
    List<Row> a = new ArrayList<>(model.transform(one).collectAsList());
    List<Row> b = new ArrayList<>(model.transform(holed).collectAsList());
    a.sort(Comparator.comparing(r -> r.getTimestamp(1)));
    b.sort(Comparator.comparing(r -> r.getTimestamp(1)));
    assertNull(b.get(100).get(b.get(100).fieldIndex("prediction")));
    assertArrayEquals(prediction(a.get(99)), prediction(b.get(99)), 0.0, "before the hole: the same");
    assertFalse(Arrays.equals(prediction(a.get(101)), prediction(b.get(101))), "after the hole: row 100 was skipped");
  }

  @Test
  void aTableAlreadyClusteredByKeyIsScoredWithoutAShuffleToTheSameBits() throws Exception {
    RnnModel m = model.copy(new ParamMap()).setForecastSteps(FORECAST);
    // as a bucketed table or the user's own repartition leaves it: clustered by the key (3
    // partitions, not the session's 4) and sorted by (key, time) within its partitions
    Dataset<Row> clustered = table.repartition(3, col("sensor")).sortWithinPartitions("sensor", "ts").cache();
    clustered.count();
    assertEquals(0, jobsDuring(() -> m.transform(table)), "transform plans the scoring; no job runs until it is read");
    assertEquals(0, jobsDuring(() -> m.transform(clustered)), "nor for a clustered table");
    assertTrue(shuffleBytesDuring(() -> m.transform(table).collectAsList()) > 0, "the table as generated is shuffled by key");
    assertEquals(0, shuffleBytesDuring(() -> m.transform(clustered).collectAsList()), "shuffle bytes of the clustered table");
    // a key's predictions depend on its rows alone, not on how the table was partitioned or ordered
    assertSamePredictions(m.transform(table), m.transform(clustered));
    assertSamePredictions(m.transform(table), m.transform(table.repartition(5).sortWithinPartitions(col("temp"))));
    clustered.unpersist();
  }

  /**
   * How the scorer batches keys changes no output bit: with keys 4 side by side and 3 steps per
   * engine call; with a batch cut short by its rows (600 of the 6 × 240: two keys, then the
   * third goes first into the next batch); with each key stepped alone, as a key longer than a
   * batch's rows is (100 rows: every key here), 7 rows per call; and one key per batch; all against
   * each key alone in one call. A seq2seq model with holes and forecast rows, the seq2one model
   * over windows and whole series, and both on keys of unequal lengths with a key of no valid row.
   */
  @Test
  void howTheScorerBatchesKeysChangesNoOutputBit() {
    Dataset<Row> holed = table.withColumn("temp", org.apache.spark.sql.functions.when(
        org.apache.spark.sql.functions.hash(col("ts"), col("sensor")).mod(13).equalTo(0), null).otherwise(col("temp")));
    SeriesScorer.Limits[] limits = {new SeriesScorer.Limits(3, 4, 100_000), new SeriesScorer.Limits(2048, 16, 600),
        new SeriesScorer.Limits(7, 16, 100), new SeriesScorer.Limits(2048, 1, 100_000)};
    // keys of unequal lengths, one without a valid row: a batch's keys end in different calls
    Dataset<Row> uneven = labelled().where(col("sensor").notEqual("sensor-00001").or(col("ts").lt(
        org.apache.spark.sql.functions.lit(Timestamp.valueOf("2024-01-03 00:00:00")))))
        .withColumn("temp", org.apache.spark.sql.functions.when(col("sensor").equalTo("sensor-00002"), null).otherwise(col("temp")));
    RnnModel seq2seq = model.copy(new ParamMap()).setForecastSteps(FORECAST);
    RnnModel seq2one = seq2oneModel();
    RnnModel wholeSeries = seq2one.copy(new ParamMap()).setStride(0).setSteps(0);
    RnnModel[] models = {seq2seq, seq2one, wholeSeries, wholeSeries, seq2seq};
    List<Dataset<Row>> tables = List.of(holed, labelled(), labelled(), uneven, uneven.drop("morning"));
    for (int m = 0; m < models.length; m++) {
      // each key alone, in one call per key: how transform stepped keys before it batched them
      List<Row> want = models[m].transform(tables.get(m), new SeriesScorer.Limits(100_000, 1, 100_000)).orderBy("sensor", "ts")
          .collectAsList();
      assertTrue(want.size() >= SENSORS - 1, "rows out");
      assertEquals(want, models[m].transform(tables.get(m)).orderBy("sensor", "ts").collectAsList(), "model " + m + ", default limits");
      for (SeriesScorer.Limits l : limits) {
        List<Row> got = models[m].transform(tables.get(m), l).orderBy("sensor", "ts").collectAsList();
        assertEquals(want.size(), got.size(), l + ": rows");
        for (int i = 0; i < want.size(); i++) {
          assertEquals(want.get(i), got.get(i), "model " + m + ", " + l + ", row " + i);
        }
      }
    }
  }

  /**
   * The order the scorer promises, read where Spark keeps it: without an orderBy, collect gives
   * each partition's rows as its task emitted them. A key's rows must come together, in order, then
   * its forecast rows, in order after them — with keys batched two at a time and cut short by a
   * 10-row budget (each key, 240 rows, then stepped alone, 3 rows a call), three at a time in
   * 5-step calls, and the defaults; rows with a missing input (no prediction) included. Every
   * other test sorts its output, so a scorer that emitted a key's rows backwards, or its forecast
   * rows before its own, would pass them.
   */
  @Test
  void eachKeysRowsComeOutTogetherAndInOrderThenItsForecastRows() {
    Dataset<Row> holed = table.withColumn("temp", org.apache.spark.sql.functions.when(
        org.apache.spark.sql.functions.hash(col("ts"), col("sensor")).mod(13).equalTo(0), null).otherwise(col("temp")));
    RnnModel seq2seq = model.copy(new ParamMap()).setForecastSteps(FORECAST);
    for (SeriesScorer.Limits l : new SeriesScorer.Limits[] {new SeriesScorer.Limits(3, 2, 10), new SeriesScorer.Limits(5, 3, 100_000),
        SeriesScorer.Limits.DEFAULT}) {
      List<Row> out = seq2seq.transform(holed, l).collectAsList();
      assertEquals(SENSORS * (HOURS + FORECAST), out.size(), l + ": rows");
      Map<String, List<Integer>> at = new TreeMap<>();
      for (int i = 0; i < out.size(); i++) {
        at.computeIfAbsent(out.get(i).getAs("sensor"), k -> new ArrayList<>()).add(i);
      }
      assertEquals(SENSORS, at.size(), l + ": keys");
      at.forEach((key, positions) -> {
        int first = positions.get(0);
        assertEquals(HOURS + FORECAST, positions.size(), l + ", " + key + ": rows");
        assertEquals(first + positions.size() - 1, (int) positions.get(positions.size() - 1), l + ", " + key + ": rows together");
        for (int r = 0; r < positions.size(); r++) {
          Row row = out.get(first + r);
          assertEquals(r >= HOURS, row.getAs("forecast"), l + ", " + key + ", row " + r + ": the key's rows, then its forecast");
          if (r > 0) {
            assertTrue(((Timestamp) row.getAs("ts")).after(out.get(first + r - 1).getAs("ts")), l + ", " + key + ", row " + r + ": in order");
          }
        }
      });
    }
  }

  /**
   * A table bucketed by the key, several files per bucket, as many buckets as shuffle partitions:
   * Spark may drop a repartition the bucketed scan already satisfies and then read the files
   * unbucketed, so a key's rows would come in several partitions; transform must still see each
   * key's rows as one series.
   */
  @Test
  void aTableBucketedByTheKeyIsScoredAsOneSeriesPerKey() {
    String name = "sensors_bucketed";
    table.repartition(3).write().mode("overwrite").bucketBy(4, "sensor").option("path", tmp.resolve(name).toString())
        .saveAsTable(name);
    try {
      RnnModel m = model.copy(new ParamMap()).setForecastSteps(FORECAST);
      assertSamePredictions(m.transform(table), m.transform(spark.table(name)));
      // joined to a broadcast table: planned adaptively, the scan still reads buckets in the table's plan
      Dataset<Row> sensors = table.select("sensor").distinct();
      assertSamePredictions(m.transform(table), m.transform(spark.table(name).join(org.apache.spark.sql.functions.broadcast(sensors),
          "sensor")));
    } finally {
      spark.sql("DROP TABLE IF EXISTS " + name);
    }
  }

  /**
   * Keys are told apart as Spark's grouping tells them: a floating key's −0.0 and 0.0 are one key
   * (half of a sensor's rows under each), as are arrays with a NaN element, and strings a key
   * column's collation calls equal, at the top level or nested in structs and arrays; column names
   * with dots go through.
   */
  @Test
  void keysAreOneSeriesWhereSparkGroupsThemAsOne() throws Exception {
    RnnModel m = model.copy(new ParamMap()).setForecastSteps(FORECAST);
    Column number = org.apache.spark.sql.functions.expr("CAST(substring(sensor, 8) AS DOUBLE)");
    Dataset<Row> plain = table.withColumn("id", number);
    Dataset<Row> signed = table.withColumn("id", org.apache.spark.sql.functions.when(
        number.equalTo(0).and(org.apache.spark.sql.functions.hash(col("ts")).mod(2).equalTo(0)), -0.0).otherwise(number));
    long negativeZeros = signed.where("CAST(id AS STRING) = '-0.0'").count();
    assertTrue(negativeZeros > 0 && negativeZeros < HOURS, "some of sensor 0's rows have id −0.0: " + negativeZeros);
    RnnModel byId = m.copy(new ParamMap()).setKeyCols("id");
    assertSamePredictions(byId.transform(plain), byId.transform(signed));
    Dataset<Row> arrays = table.withColumn("id", org.apache.spark.sql.functions.array(number,
        org.apache.spark.sql.functions.lit(Double.NaN)));
    assertSamePredictions(byId.transform(plain), byId.transform(arrays));
    // under UTF8_LCASE "SENSOR-00000" is "sensor-00000": half of that sensor's rows upper-cased stay one series
    Dataset<Row> collated = table.withColumn("sensor", org.apache.spark.sql.functions.expr(
        "collate(CASE WHEN sensor = 'sensor-00000' AND hash(ts) % 2 = 0 THEN upper(sensor) ELSE sensor END, 'UTF8_LCASE')"));
    assertTrue(collated.where("CAST(sensor AS STRING COLLATE UTF8_BINARY) = 'SENSOR-00000'").count() > 0, "upper-cased rows");
    Dataset<Row> out = m.transform(collated);
    assertEquals(collated.schema().apply("sensor").dataType(), out.schema().apply("sensor").dataType(), "the key keeps its collation");
    assertSamePredictions(m.transform(table), out);
    // nested: a struct key with −0.0 and 0.0 in a field, an array key of collated strings
    Dataset<Row> nested = signed.withColumn("id", org.apache.spark.sql.functions.struct(col("id").as("x"),
        org.apache.spark.sql.functions.lit(1.0).as("y")));
    assertSamePredictions(byId.transform(plain), byId.transform(nested));
    Dataset<Row> collatedArrays = collated.withColumn("id", org.apache.spark.sql.functions.array(col("sensor")));
    assertSamePredictions(byId.transform(plain), byId.transform(collatedArrays));
    // column names with dots, through the cast that gives the collation back
    Dataset<Row> dotted = collated.withColumnRenamed("load", "lo.ad").withColumnRenamed("ts", "t.s");
    Dataset<Row> dottedOut = m.copy(new ParamMap()).setInputCols("temp", "lo.ad").setOrderCol("t.s").transform(dotted)
        .withColumnRenamed("t.s", "ts");
    assertSamePredictions(m.transform(table), dottedOut);
  }

  /** evaluate takes dotted names as one name, as fit and transform do: the same metrics as under plain names. */
  @Test
  void evaluateTakesColumnNamesWithDotsAsTransformDoes() {
    Dataset<Row> dotted = table.withColumnRenamed("sensor", "sen.sor").withColumnRenamed("load", "lo.ad")
        .withColumnRenamed("ts", "t.s");
    RnnModel plain = model.copy(new ParamMap()).setFeedback(3);
    RnnModel renamed = plain.copy(new ParamMap()).setKeyCols("sen.sor").setInputCols("temp", "lo.ad").setOrderCol("t.s")
        .setPredictionCol("pre.diction");
    Row a = plain.evaluate(table).collectAsList().get(0);
    // and a column named as an output is no clash: evaluate scores the columns it uses only (a review)
    assertSameMetrics(a, plain.evaluate(table.withColumn("prediction", org.apache.spark.sql.functions.lit(0.5))).collectAsList().get(0));
    Row b = renamed.evaluate(dotted).collectAsList().get(0);
    assertTrue(b.schema().fieldNames()[5].equals("rmse_lo.ad"), Arrays.toString(b.schema().fieldNames()));
    assertSameValues(a, b);
    RnnModel m = seq2oneModel();
    Dataset<Row> labelledDotted = labelled().withColumnRenamed("ts", "t.s").withColumnRenamed("morning", "mor.ning");
    Row c = m.evaluate(labelled()).collectAsList().get(0);
    Row d = m.copy(new ParamMap()).setOrderCol("t.s").setTargetCols("mor.ning").evaluate(labelledDotted).collectAsList().get(0);
    assertEquals(c.getLong(c.fieldIndex("rows")), d.getLong(d.fieldIndex("rows")), "seq2one windows scored");
    assertEquals(c.getDouble(c.fieldIndex("loss")), d.getDouble(d.fieldIndex("loss")), 1e-12, "seq2one loss");
    // names in other cases are the same columns (spark.sql.caseSensitive is false): targets that are the inputs
    // still forecast one row ahead, and closed loop still runs (a mutation audit: compared as strings,
    // the horizon fell to 0 and each row was scored against itself, and feedback was refused)
    Row cased = plain.copy(new ParamMap()).setInputCols("TEMP", "LOAD").setTargetCols("temp", "LOAD").evaluate(table)
        .collectAsList().get(0);
    assertEquals(a.getLong(a.fieldIndex("rows")), cased.getLong(cased.fieldIndex("rows")), "rows scored");
    // and its metric columns are named as the table names the targets (rmse_temp, not rmse_LOAD's spelling)
    assertEquals(Arrays.asList(a.schema().fieldNames()), Arrays.asList(cased.schema().fieldNames()), "metric columns");
    assertEquals(a.getDouble(a.fieldIndex("loss")), cased.getDouble(cased.fieldIndex("loss")), 1e-12, "loss");
    model.copy(new ParamMap()).setInputCols("TEMP", "load").setTargetCols("temp", "LOAD").setForecastSteps(3)
        .transformSchema(table.schema());
  }

  /**
   * Two rows of one key at the same time, or a NaN time, have no order to carry a state through:
   * refused when the rows are read (transform is lazy), naming the column, the key and the value,
   * as fit refuses them.
   */
  @Test
  void aRepeatedOrNanOrderValueFailsTheQueryNamingTheKey() {
    Row first = rowsOf("sensor-00002").get(5);
    Dataset<Row> again = table.union(table.where(col("sensor").equalTo("sensor-00002").and(col("ts").equalTo(first.getTimestamp(1))))
        .withColumn("temp", col("temp").plus(5)));
    assertQueryFails(() -> model.transform(again).count(), "orderCol column 'ts'", "sensor-00002", "repeats the previous row's",
        "deduplicate");
    assertQueryFails(() -> model.evaluate(again).collectAsList(), "repeats the previous row's");
    Dataset<Row> byHour = table.withColumn("h", org.apache.spark.sql.functions.expr(
        "CASE WHEN sensor = 'sensor-00001' AND hour(ts) = 7 THEN double('NaN') ELSE CAST(unix_seconds(ts) / 3600 AS DOUBLE) END"));
    assertQueryFails(() -> model.copy(new ParamMap()).setOrderCol("h").transform(byHour).count(), "orderCol column 'h'",
        "sensor-00001", "is NaN");
  }

  /** A key whose last row has a missing input still gets its forecast rows after that row, not at its time again. */
  @Test
  void forecastRowsFollowTheKeysLastRowAlsoWhenItsInputsAreMissing() {
    List<Row> series = rowsOf("sensor-00001");
    Timestamp last = series.get(HOURS - 1).getTimestamp(1);
    Dataset<Row> holed = table.withColumn("temp", org.apache.spark.sql.functions.when(
        col("sensor").equalTo("sensor-00001").and(col("ts").equalTo(last)), null).otherwise(col("temp")));
    List<Row> out = model.copy(new ParamMap()).setForecastSteps(2).transform(holed.where(col("sensor").equalTo("sensor-00001")))
        .collectAsList();
    assertEquals(HOURS + 2, out.size());
    Row lastOut = out.get(HOURS - 1);
    assertEquals(last, lastOut.getTimestamp(1));
    assertTrue(lastOut.isNullAt(lastOut.fieldIndex("prediction")), "the row with a missing input: no prediction");
    for (int i = 1; i <= 2; i++) {
      Row f = out.get(HOURS - 1 + i);
      assertTrue(f.getBoolean(f.fieldIndex("forecast")));
      assertEquals(last.getTime() + i * 3_600_000L, f.getTimestamp(1).getTime(), "forecast row " + i + " an hour apart, after the last row");
    }
  }

  /** A target that is ±Infinity does not count (present and finite only); a class id out of range fails the query, as in fit. */
  @Test
  void evaluateLeavesInfiniteTargetsOutAndRefusesClassIdsOutOfRange() {
    Row base = model.evaluate(table).collectAsList().get(0);
    Timestamp at = rowsOf("sensor-00003").get(10).getTimestamp(1);
    Dataset<Row> infinite = table.withColumn("temp", org.apache.spark.sql.functions.when(
        col("sensor").equalTo("sensor-00003").and(col("ts").equalTo(at)), Double.POSITIVE_INFINITY).otherwise(col("temp")));
    Row m = model.evaluate(infinite).collectAsList().get(0);
    // row 10's input is infinite (no prediction) and row 9's target is: two fewer pairs
    assertEquals(base.getLong(base.fieldIndex("rows")) - 2, m.getLong(m.fieldIndex("rows")));
    assertTrue(Double.isFinite(m.getDouble(m.fieldIndex("loss"))), "loss " + m);
    assertTrue(Double.isFinite(m.getDouble(m.fieldIndex("rmse_temp"))), "rmse_temp " + m);
    Dataset<Row> badClass = labelled().withColumn("morning", org.apache.spark.sql.functions.when(
        col("sensor").equalTo("sensor-00000").and(col("ts").equalTo(rowsOf("sensor-00000").get(24).getTimestamp(1))), 5)
        .otherwise(col("morning")));
    assertQueryFails(() -> seq2oneModel().evaluate(badClass).collectAsList(), "targetCols column 'morning'", "class id 5",
        "[0, 2)");
  }

  /** A query that fails on the executors: the cause chain's messages contain every part. */
  static void assertQueryFails(Runnable query, String... parts) {
    Exception e = assertThrows(Exception.class, query::run);
    StringBuilder messages = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      messages.append(t.getMessage()).append('\n');
    }
    for (String part : parts) {
      assertTrue(messages.toString().contains(part), "'" + part + "' in: " + messages);
    }
  }


  /**
   * Two key columns: each (site, unit) pair is one series, though units repeat across sites and
   * sites across units, and seq2one rows carry both key values, each in its own column (with the
   * rest of the window's last row). The six
   * sensors keyed as site = k mod 2, unit = k div 2 (sensor k) must score exactly as keyed by
   * sensor, whose predictions the reference-engine tests above pin.
   */
  @Test
  void twoKeyColumnsMakeOneSeriesPerPairAndSeq2oneRowsCarryBoth() {
    Column k = org.apache.spark.sql.functions.expr("CAST(substring(sensor, 8) AS INT)");
    Dataset<Row> seq = table.withColumn("site", k.mod(2)).withColumn("unit", org.apache.spark.sql.functions.floor(k.divide(2)));
    RnnModel bySensor = model.copy(new ParamMap());   // no forecast rows: their sensor column (not a key here) is null
    assertSamePredictions(bySensor.transform(seq), bySensor.copy(new ParamMap()).setKeyCols("site", "unit").transform(seq));

    RnnModel seq2oneBySensor = seq2oneModel().copy(new ParamMap());
    Dataset<Row> labelledPairs = labelled().withColumn("site", k.mod(2)).withColumn("unit",
        org.apache.spark.sql.functions.floor(k.divide(2)));
    Map<String, double[]> want = new HashMap<>();
    for (Row r : seq2oneBySensor.transform(labelledPairs).collectAsList()) {
      want.put(r.getString(0) + " " + r.getTimestamp(1), prediction(r));
    }
    Dataset<Row> out = seq2oneBySensor.copy(new ParamMap()).setKeyCols("site", "unit").transform(labelledPairs);
    // the window's last row, every column: the sensor too, though it is no key here
    assertArrayEquals(new String[] {"sensor", "ts", "temp", "load", "morning", "site", "unit", "prediction", "probability",
        "predictedClass"}, out.columns());
    List<Row> rows = out.collectAsList();
    assertEquals(want.size(), rows.size(), "one row per window, keyed either way");
    for (Row r : rows) {
      String sensor = String.format("sensor-%05d", r.getLong(6) * 2 + r.getInt(5));   // k = 2 unit + site
      assertEquals(sensor, r.getString(0), "the row's own sensor column: " + r);
      double[] expected = want.get(sensor + " " + r.getTimestamp(1));
      assertNotNull(expected, "no window of " + sensor + " ends at " + r.getTimestamp(1) + ": " + r);
      assertArrayEquals(expected, prediction(r), 0.0, "the window of " + sensor + " at " + r.getTimestamp(1));
    }
  }

  @Test
  void withoutKeyColsTheWholeTableIsOneSeries() {
    Dataset<Row> one = table.where(col("sensor").equalTo("sensor-00003"));
    assertSamePredictions(model.transform(one), model.copy(new ParamMap()).setKeyCols().transform(one.repartition(3)));
  }

  /** A seq2one class model: whether the hour after a window of 24 falls in the first half of the day (a property of ts alone). */
  static Dataset<Row> labelled() {
    return table.withColumn("morning",
        org.apache.spark.sql.functions.expr("CAST(pmod((unix_seconds(ts) - 1704067200) / 3600, 24) < 12 AS INT)"));
  }

  private static RnnModel seq2one;

  /** Fitted once, for the tests that score it. */
  static synchronized RnnModel seq2oneModel() {
    if (seq2one == null) {
      seq2one = estimator().setTargetCols("morning").setClasses(2).setSeq2one(true).setHorizon(1).setStride(24)
          .setMaxSteps(5).fit(labelled());
    }
    return seq2one;
  }

  /** Independent: the float64 reference engine over rows [from, to) of a series from a zero state; the last step's outputs. */
  static float[] referenceOutputs(TrainedModel trained, List<Row> series, int from, int to) {
    Normalization n = trained.normalization();
    StatefulSession reference = new StatefulSession(trained.params(), new ReferenceEngine(), 1);
    float[] y = null;
    for (Row s : series.subList(from, to)) {
      float[] x = {(float) ((s.getDouble(2) - n.inputMean()[0]) / n.inputStd()[0]),
          (float) ((s.getDouble(3) - n.inputMean()[1]) / n.inputStd()[1])};
      y = reference.step(x);
    }
    return y;
  }

  @Test
  void aSeq2oneClassModelGivesOneRowPerWindowWithItsLogitsProbabilitiesAndClass() {
    RnnModel m = seq2oneModel();
    assertEquals(24, m.getSteps(), "fit copies the estimator's steps");
    assertEquals(24, m.getStride(), "and its stride");
    Dataset<Row> out = m.transform(labelled());
    // docs/ml.md: the window's last row, every column (the label for an evaluator too), then the outputs
    assertArrayEquals(new String[] {"sensor", "ts", "temp", "load", "morning", "prediction", "probability", "predictedClass"},
        out.columns());
    List<Row> rows = out.collectAsList();
    int windows = (HOURS - 24) / 24 + 1;
    assertEquals(SENSORS * windows, rows.size(), "one row per window of 24 rows, 24 rows apart");
    TrainedModel trained = m.trainedModel();
    for (Row r : rows) {
      List<Row> series = rowsOf(r.getString(0));
      int end = series.indexOf(series.stream().filter(s -> s.getTimestamp(1).equals(r.getTimestamp(1))).findFirst().orElseThrow());
      assertEquals(23, end % 24, "a window ends at row 24·i + 23 of its key: " + r);
      assertEquals(series.get(end).getDouble(2), r.getDouble(r.fieldIndex("temp")), "temp of the window's last row: " + r);
      assertEquals(series.get(end).getDouble(3), r.getDouble(r.fieldIndex("load")), "load of the window's last row: " + r);
      long hour = Math.floorMod((r.getTimestamp(1).getTime() / 1000 - 1704067200) / 3600, 24);   // labelled()'s hours are whole
      assertEquals(hour < 12 ? 1 : 0, r.getInt(r.fieldIndex("morning")), "the label column of the window's last row: " + r);
      // class outputs are logits, not rescaled
      float[] y = referenceOutputs(trained, series, end - 23, end + 1);
      double[] logits = prediction(r);
      List<Double> p = r.getList(r.fieldIndex("probability"));
      for (int c = 0; c < 2; c++) {
        assertEquals(y[c], logits[c], FLOAT32_ABS_TOL, "logit " + c + " of " + r);
      }
      assertEquals(1.0, p.get(0) + p.get(1), 1e-12, "probabilities sum to 1");
      assertEquals(logits[1] > logits[0] ? 1 : 0, r.getInt(r.fieldIndex("predictedClass")));
      assertEquals(1 / (1 + Math.exp(logits[0] - logits[1])), p.get(1), 1e-12, "softmax of two logits");
    }
  }

  @Test
  void aSeq2oneModelWithoutStrideScoresEachKeysLastWindowOrWithoutStepsItsWholeSeries() {
    RnnModel m = seq2oneModel();
    TrainedModel trained = m.trainedModel();
    List<Row> last = m.copy(new ParamMap()).setStride(0).transform(labelled()).collectAsList();
    List<Row> whole = m.copy(new ParamMap()).setStride(0).setSteps(0).transform(labelled()).collectAsList();
    assertEquals(SENSORS, last.size());
    assertEquals(SENSORS, whole.size());
    for (int k = 0; k < SENSORS; k++) {
      List<Row> series = rowsOf(last.get(k).getString(0));
      assertEquals(series.get(HOURS - 1).getTimestamp(1), last.get(k).getTimestamp(1), "the key's last time");
      assertArrayEquals(toDouble(referenceOutputs(trained, series, HOURS - 24, HOURS)), prediction(last.get(k)), FLOAT32_ABS_TOL,
          "the key's last 24 rows");
      assertEquals(last.get(k).getString(0), whole.get(k).getString(0));
      assertArrayEquals(toDouble(referenceOutputs(trained, series, 0, HOURS)), prediction(whole.get(k)), FLOAT32_ABS_TOL,
          "the key's whole series");
    }
    // a key shorter than T: one window of its rows
    Dataset<Row> shortKeys = labelled().where(col("ts").lt(new Timestamp(rowsOf("sensor-00000").get(9).getTimestamp(1).getTime())));
    List<Row> shortOut = m.transform(shortKeys).collectAsList();
    assertEquals(SENSORS, shortOut.size(), "9 rows per key < T = 24: one window each");
    for (Row r : shortOut) {
      assertArrayEquals(toDouble(referenceOutputs(trained, rowsOf(r.getString(0)), 0, 9)), prediction(r), FLOAT32_ABS_TOL,
          "the short key's 9 rows");
    }
    assertMessage(() -> m.copy(new ParamMap()).setSteps(0).transform(labelled()), "setStride(24)", "setSteps");
  }

  @Test
  void evaluateOfASeq2oneModelScoresEachWindowAgainstTheLabelAfterIt() {
    RnnModel m = seq2oneModel();
    TrainedModel trained = m.trainedModel();
    Row metrics = m.evaluate(labelled()).collectAsList().get(0);
    // independent: the reference engine's logits per window, against the label of the row after the window
    double loss = 0;
    long hits = 0;
    long n = 0;
    List<Row> labelledRows = labelled().collectAsList();
    for (int k = 0; k < SENSORS; k++) {
      String sensor = String.format("sensor-%05d", k);
      List<Row> series = new ArrayList<>(labelledRows.stream().filter(r -> r.getString(0).equals(sensor)).toList());
      series.sort(Comparator.comparing(r -> r.getTimestamp(1)));
      for (int end = 23; end + 1 < HOURS; end += 24) {
        float[] z = referenceOutputs(trained, series, end - 23, end + 1);
        int label = series.get(end + 1).getInt(series.get(end + 1).fieldIndex("morning"));
        double logSum = Math.log(Math.exp(z[0]) + Math.exp(z[1]));
        loss += logSum - z[label];
        hits += (z[1] > z[0] ? 1 : 0) == label ? 1 : 0;
        n++;
      }
    }
    assertEquals(SENSORS * 9, n, "9 of a key's 10 windows have a row after them");
    assertEquals(n, metrics.getLong(metrics.fieldIndex("rows")));
    assertEquals(loss / n, metrics.getDouble(metrics.fieldIndex("loss")), 2 * FLOAT32_ABS_TOL, "mean cross-entropy");
    assertEquals((double) hits / n, metrics.getDouble(metrics.fieldIndex("accuracy")), 0.0, "accuracy");
    assertEquals(Math.exp(loss / n), metrics.getDouble(metrics.fieldIndex("perplexity")), 1e-3);
    assertMessage(() -> m.copy(new ParamMap()).setFeedback(3).evaluate(labelled()), "setFeedback(3)", "seq2one");
    // a column named as an output (an earlier model's, a feature) is no clash for evaluate, which scores
    // the key, order, input and target columns only (a review: the window rows carrying every column refused it)
    Row withOthers = m.evaluate(labelled().withColumn("probability", org.apache.spark.sql.functions.lit(1.0))
        .withColumn("prediction", org.apache.spark.sql.functions.lit("x"))).collectAsList().get(0);
    assertSameMetrics(metrics, withOthers);
    // stride 0 (the estimator's default): windows every T rows, as training cuts them
    assertSameMetrics(metrics, m.copy(new ParamMap()).setStride(0).evaluate(labelled()).collectAsList().get(0));
  }

  /** Two rows of evaluate's metrics alike: the same names, and {@link #assertSameValues}. */
  private static void assertSameMetrics(Row a, Row b) {
    assertArrayEquals(a.schema().fieldNames(), b.schema().fieldNames());
    assertSameValues(a, b);
  }

  /** The same number of values and nulls, doubles to 1e-12 relative (a shuffle's sums may differ in order), the rest equal. */
  private static void assertSameValues(Row a, Row b) {
    assertEquals(a.length(), b.length());
    for (int i = 0; i < a.length(); i++) {
      assertEquals(a.get(i) == null, b.get(i) == null, a.schema().fieldNames()[i]);
      if (a.get(i) instanceof Double x) {
        assertEquals(x, b.getDouble(i), 1e-12 * Math.abs(x), a.schema().fieldNames()[i]);
      } else {
        assertEquals(a.get(i), b.get(i), a.schema().fieldNames()[i]);
      }
    }
  }

  /**
   * setFeedback's Javadoc: keys with fewer than K + 3 rows give no closed-loop forecast. A key of
   * K + 2 rows has one driven row, no spacing and so no forecast rows: it adds no scored row, and
   * the closed-loop loss is that of the other keys alone.
   */
  @Test
  void aKeyTooShortForTheClosedLoopAddsNoForecast() {
    int K = 4;
    Dataset<Row> shortKey = spark.createDataFrame(rowsOf("sensor-00000").subList(0, K + 2), table.schema())
        .withColumn("sensor", org.apache.spark.sql.functions.lit("short"));
    Row with = model.copy(new ParamMap()).setFeedback(K).evaluate(table.unionByName(shortKey)).collectAsList().get(0);
    Row without = model.copy(new ParamMap()).setFeedback(K).evaluate(table).collectAsList().get(0);
    assertEquals((long) SENSORS * K, with.getLong(with.fieldIndex("closed_loop_rows")), "the short key scored a forecast");
    assertEquals(without.getDouble(without.fieldIndex("closed_loop_loss")), with.getDouble(with.fieldIndex("closed_loop_loss")),
        1e-9 * without.getDouble(without.fieldIndex("closed_loop_loss")));
  }

  @Test
  void evaluateWithFeedbackForecastsEachKeysLastRowsFromItsOwnOutputs() {
    int K = 4;
    TrainedModel trained = model.trainedModel();
    Normalization n = trained.normalization();
    Row m = model.copy(new ParamMap()).setFeedback(K).evaluate(table).collectAsList().get(0);
    // independent, train's --feedback K (docs/sequences.md §4): the reference engine driven by rows [0, HOURS − K − 1), then K
    // steps whose inputs are its own outputs, each scored: the fed-back forecast of row HOURS − K − 1 is its first input (that
    // forecast, from real inputs, is not scored), and step i's output forecasts row HOURS − K + i
    double scaled = 0;
    double[] squared = new double[2];
    for (int s = 0; s < SENSORS; s++) {
      List<Row> series = rowsOf(String.format("sensor-%05d", s));
      StatefulSession reference = new StatefulSession(trained.params(), new ReferenceEngine(), 1);
      float[] y = null;
      for (int t = 0; t < HOURS - K - 1; t++) {
        float[] x = new float[2];
        for (int f = 0; f < 2; f++) {
          x[f] = (float) ((series.get(t).getDouble(2 + f) - n.inputMean()[f]) / n.inputStd()[f]);
        }
        y = reference.step(x);
      }
      for (int i = -1; i < K; i++) {
        float[] x = new float[2];
        for (int o = 0; o < 2; o++) {
          double forecast = y[o] * n.targetStd()[o] + n.targetMean()[o];
          if (i >= 0) {
            double error = forecast - series.get(HOURS - K + i).getDouble(2 + o);
            squared[o] += error * error;
            scaled += (error / n.targetStd()[o]) * (error / n.targetStd()[o]);
          }
          x[o] = (float) ((forecast - n.inputMean()[o]) / n.inputStd()[o]);
        }
        y = reference.step(x);
      }
    }
    long rows = (long) SENSORS * K;
    assertEquals(rows, m.getLong(m.fieldIndex("closed_loop_rows")));
    double loss = scaled / (rows * 2);
    assertEquals(loss, m.getDouble(m.fieldIndex("closed_loop_loss")), 2 * Math.sqrt(loss) * FLOAT32_ABS_TOL * K + 1e-8,
        "closed-loop loss, model units");
    String[] names = {"temp", "load"};
    for (int o = 0; o < 2; o++) {
      assertEquals(Math.sqrt(squared[o] / rows), m.getDouble(m.fieldIndex("closed_loop_rmse_" + names[o])),
          FLOAT32_ABS_TOL * K * n.targetStd()[o], "closed_loop_rmse_" + names[o]);
    }
    // the forecast column under another name (setForecastCol) scores the same closed loop
    Row renamed = model.copy(new ParamMap()).setFeedback(K).setForecastCol("isForecast").evaluate(table).collectAsList().get(0);
    assertEquals(rows, renamed.getLong(renamed.fieldIndex("closed_loop_rows")), "setForecastCol(\"isForecast\")");
    assertEquals(m.getDouble(m.fieldIndex("closed_loop_loss")), renamed.getDouble(renamed.fieldIndex("closed_loop_loss")));
    Row without = model.evaluate(table).collectAsList().get(0);
    assertTrue(without.isNullAt(without.fieldIndex("closed_loop_loss")), "no feedback: no closed-loop loss");
    assertEquals(m.getDouble(m.fieldIndex("loss")), without.getDouble(without.fieldIndex("loss")), 0.0,
        "the teacher-forced loss does not change with feedback");
  }

  @Test
  void arrayAndVectorInputColumnsAreTheirValuesInOrderForFitTransformAndForecast() {
    Dataset<Row> arrays = table.withColumn("readings", org.apache.spark.sql.functions.array(col("temp"), col("load")));
    Dataset<Row> vectors = new VectorAssembler().setInputCols(new String[] {"temp", "load"})
        .setOutputCol("features").transform(table);
    // fit on a vector column: the same windows as on the two numbers, so byte-identical weights (fitting is deterministic)
    RnnModel fromVectors = estimator().setInputCols("features").setWorkDir(tmp.resolve("work-vectors").toUri().toString())
        .fit(vectors);
    assertArrayEquals(model.modelBytes(), fromVectors.modelBytes(), "a Vector of (temp, load) trains the model (temp, load) does");

    List<Row> scalar = model.copy(new ParamMap()).setForecastSteps(FORECAST).transform(table).orderBy("sensor", "ts")
        .collectAsList();
    List<Row> byArray = model.copy(new ParamMap()).setInputCols("readings").setForecastSteps(FORECAST).transform(arrays)
        .orderBy("sensor", "ts").collectAsList();
    List<Row> byVector = fromVectors.copy(new ParamMap()).setForecastSteps(FORECAST).transform(vectors).orderBy("sensor", "ts")
        .collectAsList();
    assertEquals(scalar.size(), byArray.size());
    assertEquals(scalar.size(), byVector.size());
    for (int i = 0; i < scalar.size(); i++) {
      assertArrayEquals(prediction(scalar.get(i)), prediction(byArray.get(i)), 0.0, "array input, row " + i);
      assertArrayEquals(prediction(scalar.get(i)), prediction(byVector.get(i)), 0.0, "vector input, row " + i);
      Row r = byArray.get(i);
      if (r.getBoolean(r.fieldIndex("forecast"))) {
        // a forecast row's input column holds the values fed back: the previous row's prediction, as the column's type
        List<Double> fed = r.getList(r.fieldIndex("readings"));
        assertArrayEquals(prediction(byArray.get(i - 1)), fed.stream().mapToDouble(Double::doubleValue).toArray(), 0.0);
        Vector v = byVector.get(i).getAs("features");
        assertArrayEquals(prediction(byVector.get(i - 1)), v.toArray(), 0.0);
      }
    }

    Dataset<Row> three = table.withColumn("readings", org.apache.spark.sql.functions.array(col("temp"), col("load"), col("load")));
    Exception e = assertThrows(Exception.class,
        () -> model.copy(new ParamMap()).setInputCols("readings").transform(three).collectAsList());
    String messages = "";
    for (Throwable t = e; t != null; t = t.getCause()) {
      messages += t.getMessage() + "\n";
    }
    assertTrue(messages.contains("inputCols [readings[3]] give more than 2 values at key [sensor-"), messages);
    assertTrue(messages.contains("the model was trained on F=2"), messages);
  }

  static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  static void assertMessage(Runnable r, String... parts) {
    try {
      r.run();
    } catch (IllegalArgumentException e) {
      for (String p : parts) {
        assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
      }
      return;
    }
    fail("expected an IllegalArgumentException mentioning " + List.of(parts));
  }
}
