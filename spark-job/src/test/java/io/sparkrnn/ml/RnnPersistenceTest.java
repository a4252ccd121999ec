package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.model.Mode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.Params;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * save/load and copy of RnnModel and RnnEstimator without a fit (docs/ml.md, "Save and load"): the
 * hand-weighted RNN of {@link HandWeightedModelTest} (h_t = tanh(z_t + 0.5 h_{t-1}), raw = 10 + 2 y),
 * every param set away from its default and compared after the round trip, the overwrite rule of
 * Spark's MLWriter, and the paths load refuses naming them.
 */
class RnnPersistenceTest {
  static final double FLOAT32_ABS_TOL = HandWeightedModelTest.FLOAT32_ABS_TOL;

  @TempDir
  static Path tmp;
  static SparkSession spark;

  @BeforeAll
  static void start() {
    HandWeightedModelTest.start();
    spark = HandWeightedModelTest.spark;
  }

  @AfterAll
  static void stop() {
    HandWeightedModelTest.stop();
  }

  /** Every param of {@code a} has the same value (set or default) and the same set-ness in {@code b}. */
  static void assertSameParams(Params a, Params b) {
    assertEquals(a.params().length, b.params().length);
    for (Param<?> p : a.params()) {
      Param<Object> pb = b.getParam(p.name());
      Object va = valueOf(a, p);
      Object vb = valueOf(b, pb);
      assertTrue(Objects.deepEquals(va, vb), p.name() + ": " + show(va) + " became " + show(vb));
      assertEquals(a.isSet(p), b.isSet(pb), p.name() + " set");
    }
  }

  /** The set value, else the default, else null (initialModel has none). */
  static Object valueOf(Params owner, Param<?> p) {
    return owner.isDefined(p) ? owner.getOrDefault(p) : null;
  }

  static String show(Object v) {
    return v instanceof Object[] ? Arrays.toString((Object[]) v) : String.valueOf(v);
  }

  /** The hand-weighted seq2seq RNN with every param of the model away from its default. */
  static RnnModel everyParamSet() {
    return HandWeightedModelTest.rnn(Mode.SEQ2SEQ).setKeyCols("k").setOrderCol("t").setInputCols("x").setTargetCols("x")
        .setHorizon(2).setPredictionCol("yhat").setProbabilityCol("p").setPredictedClassCol("cls").setForecastSteps(3)
        .setForecastCol("isForecast").setSteps(5).setStride(2).setFeedback(4).setMissing("ffill");
  }

  @Test
  void aSavedModelLoadsWithItsUidBytesAndEveryParamAndPredictsAsTheCellEquationSays() throws Exception {
    RnnModel m = everyParamSet();
    for (Param<?> p : m.params()) {
      assertTrue(m.isSet(p), p.name() + " is set here, so a param lost on load shows as a default");
    }
    String dir = tmp.resolve("every-param").toString();
    m.write().save(dir);
    RnnModel loaded = RnnModel.load(dir);
    assertEquals(m.uid(), loaded.uid());
    assertArrayEquals(m.modelBytes(), loaded.modelBytes(), "the weights and statistics, byte for byte");
    assertArrayEquals(m.modelBytes(), Files.readAllBytes(Path.of(dir, RnnModel.MODEL_FILE)));
    assertSameParams(m, loaded);

    // the loaded model predicts what the equation gives: x = 10, 12, 8 are z = 0, 1, −1
    RnnModel plain = RnnModel.load(dir).copy(new ParamMap()).setForecastSteps(0).setTargetCols().setHorizon(-1)
        .setFeedback(0).setPredictionCol("prediction");
    List<Row> out = HandWeightedModelTest.sorted(plain.transform(HandWeightedModelTest.table(DataTypes.DoubleType,
        HandWeightedModelTest.row("a", 1, 10.0), HandWeightedModelTest.row("a", 2, 12.0),
        HandWeightedModelTest.row("a", 3, 8.0))));
    double[] expected = HandWeightedModelTest.byHand(10, 12, 8);
    assertEquals(3, out.size());
    for (int t = 0; t < 3; t++) {
      assertEquals(expected[t], HandWeightedModelTest.prediction(out.get(t), 0), FLOAT32_ABS_TOL, "t=" + t);
    }
  }

  @Test
  void copyKeepsUidParentAndWeightsAppliesTheExtraParamsAndLeavesTheOriginal() {
    RnnEstimator parent = new RnnEstimator();
    RnnModel m = HandWeightedModelTest.rnn(Mode.SEQ2SEQ).setParent(parent).setStride(3);
    RnnModel c = m.copy(new ParamMap().put(m.getParam("forecastSteps").w(2)));
    assertEquals(m.uid(), c.uid());
    assertSame(parent, c.parent(), "Spark's Model.copy contract: the copy has the same parent");
    assertArrayEquals(m.modelBytes(), c.modelBytes());
    assertEquals(2, c.getForecastSteps());
    assertEquals(0, m.getForecastSteps(), "the original keeps its value");
    assertEquals(3, c.getStride(), "set params are copied");
    assertArrayEquals(new String[] {"x"}, c.getInputCols());
    c.setStride(5);
    assertEquals(3, m.getStride(), "and the copy's setters leave the original alone");
  }

  @Test
  void saveRefusesAnExistingPathUnlessOverwriteAndOverwriteReplacesTheModel() throws Exception {
    String dir = tmp.resolve("overwrite").toString();
    RnnModel first = HandWeightedModelTest.rnn(Mode.SEQ2SEQ);
    first.write().save(dir);
    RnnModel second = HandWeightedModelTest.classes(0.25f, -0.75f);
    // Spark's MLWriter: "Path ... already exists. To overwrite it, please use write.overwrite().save(path)"
    Exception e = assertThrows(Exception.class, () -> second.write().save(dir));
    assertTrue(e.getMessage().contains(dir) && e.getMessage().contains("overwrite"), e.getMessage());
    assertArrayEquals(first.modelBytes(), RnnModel.load(dir).modelBytes(), "the refused save left the first model");
    second.write().overwrite().save(dir);
    RnnModel loaded = RnnModel.load(dir);
    assertEquals(second.uid(), loaded.uid());
    assertArrayEquals(second.modelBytes(), loaded.modelBytes());
  }

  @Test
  void loadRefusesADamagedForeignOrIncompleteDirectoryNamingThePath() throws Exception {
    String damaged = tmp.resolve("damaged").toString();
    HandWeightedModelTest.rnn(Mode.SEQ2SEQ).write().save(damaged);
    Path weights = Path.of(damaged, RnnModel.MODEL_FILE);
    byte[] b = Files.readAllBytes(weights);
    b[b.length - 1] ^= 0x01;                                       // the last weight's lowest bit
    Files.write(weights, b);
    Files.deleteIfExists(Path.of(damaged, "." + RnnModel.MODEL_FILE + ".crc"));
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> RnnModel.load(damaged));
    assertTrue(bad.getMessage().contains(damaged + "/" + RnnModel.MODEL_FILE), "the damaged file's whole path: " + bad.getMessage());

    // train's --out: a model file and no metadata/
    Path trainOut = tmp.resolve("train-out");
    Files.createDirectories(trainOut);
    Files.write(trainOut.resolve(RnnModel.MODEL_FILE), HandWeightedModelTest.rnn(Mode.SEQ2SEQ).modelBytes());
    IllegalArgumentException noMeta = assertThrows(IllegalArgumentException.class, () -> RnnModel.load(trainOut.toString()));
    assertTrue(noMeta.getMessage().contains(trainOut + " holds " + RnnModel.MODEL_FILE + " but no metadata/"), noMeta.getMessage());
    Path empty = tmp.resolve("empty");
    Files.createDirectories(empty);
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> RnnModel.load(empty.toString()));
    assertTrue(none.getMessage().contains(empty + " holds no metadata/"), none.getMessage());

    // a saved estimator is not a model: Spark's metadata check names both classes
    String estimator = tmp.resolve("an-estimator").toString();
    new RnnEstimator().write().save(estimator);
    Exception foreign = assertThrows(IllegalArgumentException.class, () -> RnnModel.load(estimator));
    assertTrue(foreign.getMessage().contains(RnnModel.class.getName()) && foreign.getMessage().contains(RnnEstimator.class.getName()),
        foreign.getMessage());
  }

  /** A valid value away from the default for every estimator param. */
  static final Map<String, Object> ESTIMATOR_VALUES = Map.ofEntries(
      Map.entry("keyCols", new String[] {"site", "unit"}), Map.entry("orderCol", "ts"),
      Map.entry("inputCols", new String[] {"temp", "load"}), Map.entry("targetCols", new String[] {"load"}),
      Map.entry("horizon", 3), Map.entry("predictionCol", "yhat"), Map.entry("probabilityCol", "p"),
      Map.entry("predictedClassCol", "cls"), Map.entry("seq2one", true), Map.entry("classes", 3), Map.entry("steps", 7),
      Map.entry("stride", 2), Map.entry("optimizer", "sgd"), Map.entry("lrSchedule", "cosine"), Map.entry("lrMin", 0.001),
      Map.entry("clipNorm", 2.5), Map.entry("weightDecay", 0.01), Map.entry("device", "jvm"), Map.entry("validateEvery", 9L),
      Map.entry("momentum", 0.8), Map.entry("beta1", 0.85), Map.entry("beta2", 0.95), Map.entry("eps", 1e-7),
      Map.entry("tbptt", 5), Map.entry("engine", "reference"), Map.entry("checkpointEvery", 11L), Map.entry("onNan", "skip"),
      Map.entry("logEvery", 13L), Map.entry("sync", "job"), Map.entry("shardCache", "64m"), Map.entry("feedback", 2),
      Map.entry("minSteps", 4), Map.entry("split", "by-time"), Map.entry("gap", 1), Map.entry("missing", "ffill"),
      Map.entry("normalize", false), Map.entry("validationFraction", 0.3), Map.entry("cell", "gru"),
      Map.entry("hiddenSize", 6), Map.entry("numLayers", 2), Map.entry("maxSteps", 17L), Map.entry("epochs", 3),
      Map.entry("batch", 5), Map.entry("lr", 0.003), Map.entry("seed", -8L), Map.entry("partitions", 3),
      Map.entry("virtualPartitions", 4), Map.entry("workDir", "file:/tmp/somewhere"),
      Map.entry("initialModel", "file:/tmp/initial/model.safetensors"));

  @Test
  void aSavedEstimatorLoadsWithEveryParam() throws Exception {
    RnnEstimator e = new RnnEstimator();
    assertEquals(e.params().length, ESTIMATOR_VALUES.size(), "a value for every param");
    for (Param<?> p : e.params()) {
      Object v = ESTIMATOR_VALUES.get(p.name());
      assertTrue(v != null, p.name());
      assertNotEquals(show(valueOf(e, p)), show(v), p.name() + ": the value differs from the default");
      e.set(e.getParam(p.name()), v);
    }
    String dir = tmp.resolve("estimator").toString();
    e.write().save(dir);
    RnnEstimator loaded = RnnEstimator.load(dir);
    assertEquals(e.uid(), loaded.uid());
    assertSameParams(e, loaded);
    // and an unset estimator loads with its params unset (defaults, not values frozen in)
    String plain = tmp.resolve("plain-estimator").toString();
    RnnEstimator fresh = new RnnEstimator();
    fresh.write().save(plain);
    assertSameParams(fresh, RnnEstimator.load(plain));
  }
}
