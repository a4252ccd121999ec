package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every param of {@link RnnEstimator} and {@link RnnModel} refuses a bad value at once, by every
 * way in (its setter, {@code set(param, value)}, a {@code ParamMap} for {@code copy}), with a
 * message naming the setter, what is allowed and the value. No Spark session: params need none.
 */
class RnnParamsTest {

  /** Params no value of whose type is bad: booleans, and the seed (any long). */
  static final Set<String> ANY_VALUE = Set.of("seq2one", "normalize", "seed");

  /**
   * One bad value per param and what the message must say is allowed: the bounds and choices of
   * train's keys (TrainConfig) and prep table's options (TableSpec), which the params mirror.
   */
  static final Map<String, Object[]> ESTIMATOR = Map.ofEntries(
      Map.entry("keyCols", new Object[] {new String[] {"sensor", " "}, "expected a column name, found ' '"}),
      Map.entry("orderCol", new Object[] {"", "expected a column name, found ''"}),
      Map.entry("inputCols", new Object[] {new String[0], "expected at least one column name, found none"}),
      Map.entry("targetCols", new Object[] {new String[] {""}, "expected a column name, found ''"}),
      Map.entry("horizon", new Object[] {-2, "must be at least -1, found -2"}),
      Map.entry("predictionCol", new Object[] {"", "expected a column name"}),
      Map.entry("probabilityCol", new Object[] {" ", "expected a column name"}),
      Map.entry("predictedClassCol", new Object[] {"", "expected a column name"}),
      Map.entry("classes", new Object[] {1, "must be 0 (regression) or at least 2 classes, found 1"}),
      Map.entry("steps", new Object[] {0, "must be at least 1, found 0"}),
      Map.entry("stride", new Object[] {-1, "must be at least 0, found -1"}),
      Map.entry("optimizer", new Object[] {"rmsprop", "'rmsprop' is not one of adam, adamw, sgd"}),
      Map.entry("lrSchedule", new Object[] {"step", "'step' is not one of constant, cosine"}),
      Map.entry("lrMin", new Object[] {-0.5, "must be at least 0.0, found -0.5"}),
      Map.entry("clipNorm", new Object[] {-1.0, "must be at least 0.0, found -1.0"}),
      Map.entry("weightDecay", new Object[] {-1.0, "must be at least 0.0, found -1.0"}),
      Map.entry("device", new Object[] {"tpu", "'tpu' is not one of auto, gpu, cpu-opencl, jvm"}),
      Map.entry("validateEvery", new Object[] {-1L, "must be at least 0, found -1"}),
      Map.entry("momentum", new Object[] {-1.0, "must be in [0.0, 1.0], found -1.0"}),
      Map.entry("beta1", new Object[] {2.0, "must be in [0.0, 1.0), found 2.0"}),
      Map.entry("beta2", new Object[] {1.0, "must be in [0.0, 1.0), found 1.0"}),
      Map.entry("eps", new Object[] {-1.0, "must be > 0, found -1.0"}),
      Map.entry("tbptt", new Object[] {-1, "must be in [0, 16777216], found -1"}),
      Map.entry("engine", new Object[] {"fast", "'fast' is not one of kernel, reference"}),
      Map.entry("checkpointEvery", new Object[] {-1L, "must be at least 0, found -1"}),
      Map.entry("onNan", new Object[] {"ignore", "'ignore' is not one of stop, skip"}),
      Map.entry("logEvery", new Object[] {0L, "must be at least 1, found 0"}),
      Map.entry("sync", new Object[] {"async", "'async' is not one of barrier, job"}),
      Map.entry("shardCache", new Object[] {"lots", "expected a size such as 512m, 2g or 1048576 (bytes), or a share of"
          + " the executor heap such as 25%, found 'lots'"}),
      Map.entry("feedback", new Object[] {-1, "must be in [0, 16777216], found -1"}),
      Map.entry("minSteps", new Object[] {-1, "must be at least 0, found -1"}),
      Map.entry("split", new Object[] {"random", "'random' is not one of by-key, by-time, or auto"}),
      Map.entry("gap", new Object[] {-1, "must be at least 0, found -1"}),
      Map.entry("missing", new Object[] {"zero", "'zero' is not one of error, drop, ffill"}),
      Map.entry("validationFraction", new Object[] {1.0, "must be in [0.0, 1.0), found 1.0"}),
      Map.entry("cell", new Object[] {"transformer", "unknown cell 'transformer', expected one of rnn, lstm, gru"}),
      Map.entry("hiddenSize", new Object[] {70000, "must be in [1, 65536], found 70000"}),
      Map.entry("numLayers", new Object[] {0, "must be in [1, 64], found 0"}),
      Map.entry("maxSteps", new Object[] {-1L, "must be in [0, 4611686018427387903], found -1"}),
      Map.entry("epochs", new Object[] {-1, "must be in [0, 1073741824], found -1"}),
      Map.entry("batch", new Object[] {0, "must be in [1, 16777216], found 0"}),
      Map.entry("lr", new Object[] {0.0, "must be > 0, found 0.0"}),
      Map.entry("partitions", new Object[] {70000, "must be in [0, 65536], found 70000"}),
      Map.entry("virtualPartitions", new Object[] {-1, "must be in [0, 16777216], found -1"}),
      Map.entry("workDir", new Object[] {" ", "expected a Hadoop URI or path, found ' '"}),
      Map.entry("initialModel", new Object[] {"", "expected a model file or directory URI, found ''"}));

  static final Map<String, Object[]> MODEL = Map.ofEntries(
      Map.entry("keyCols", ESTIMATOR.get("keyCols")),
      Map.entry("orderCol", ESTIMATOR.get("orderCol")),
      Map.entry("inputCols", ESTIMATOR.get("inputCols")),
      Map.entry("targetCols", ESTIMATOR.get("targetCols")),
      Map.entry("horizon", ESTIMATOR.get("horizon")),
      Map.entry("predictionCol", ESTIMATOR.get("predictionCol")),
      Map.entry("probabilityCol", ESTIMATOR.get("probabilityCol")),
      Map.entry("predictedClassCol", ESTIMATOR.get("predictedClassCol")),
      Map.entry("forecastSteps", new Object[] {-1, "must be at least 0, found -1"}),
      Map.entry("forecastCol", new Object[] {"", "expected a column name"}),
      Map.entry("steps", new Object[] {-1, "must be at least 0, found -1"}),
      Map.entry("stride", ESTIMATOR.get("stride")),
      Map.entry("feedback", ESTIMATOR.get("feedback")),
      Map.entry("missing", ESTIMATOR.get("missing")));

  static RnnModel model() {
    ModelConfig config = new ModelConfig(CellType.GRU, 1, 2, 4, 2, Mode.SEQ2SEQ, LossType.MSE);
    return new RnnModel(ModelFile.toBytes(Params.initialize(config, 1), Map.of()));
  }

  @Test
  void everyEstimatorParamRefusesABadValueByEveryWayInNamingTheSetter() throws Exception {
    assertEveryParamRefuses(new RnnEstimator(), ESTIMATOR);
  }

  @Test
  void everyModelParamRefusesABadValueByEveryWayInNamingTheSetter() throws Exception {
    assertEveryParamRefuses(model(), MODEL);
  }

  @Test
  void goodValuesAndTheDefaultsPass() {
    RnnEstimator e = new RnnEstimator().setSplit("AUTO").setSplit("by-time").setOptimizer("SGD").setShardCache("512m")
        .setHiddenSize(65536).setClasses(0).setClasses(2).setHorizon(-1).setBeta1(0).setMomentum(1).setLrMin(0);
    assertEquals("by-time", e.getSplit());
    assertEquals(65536, e.getHiddenSize());
    assertEquals(e.getCell(), e.copy(ParamMap.empty()).getCell());
  }

  /**
   * Choice values ignore case and surrounding spaces, as docs/ml.md says, the cell's too (a user
   * audit: setCell(" gru ") was refused while setSplit(" by-time ") passed): what reaches train is
   * the choice itself.
   */
  @Test
  void choicesIgnoreCaseAndSurroundingSpaces() {
    RnnEstimator e = new RnnEstimator().setSteps(10).setInputCols("temp").setOrderCol("ts").setCell(" GRU ").setOptimizer(" AdamW").setSplit("By-Time ").setMissing(" Drop");
    TrainConfig c = TrainConfig.parse(e.trainKeys("unused", "unused"), null);
    assertEquals(CellType.GRU, c.cell());
    assertEquals("adamw", c.optimizer());
    assertEquals(TableSpec.SplitMode.BY_TIME, e.tableSpec().split());
    assertEquals(TableSpec.Missing.DROP, e.tableSpec().missing());
  }

  @Test
  void messagesOfPrepAndTrainNameTheSettersOfTheirPhase() {
    assertEquals("setMaxSteps: must be in [0, 4], found 9 (setMaxSteps; setBatch)",
        RnnEstimator.inSetterWords("steps: must be in [0, 4], found 9 (--steps; --batch)", RnnEstimator.TRAIN_KEYS));
    assertEquals("--min-steps-ish setSteps; setMinSteps, setKeyCols and data: kept",
        RnnEstimator.inSetterWords("--min-steps-ish --steps; --min-steps, --key and data: kept", RnnEstimator.TABLE_OPTIONS));
    // a prep's errors in a fit name the seed's setter too (prep table's --seed is fit's setSeed)
    assertEquals("keys (k=[61]) and (k=[62]) have the same xxhash64 under setSeed 5; run again with another setSeed",
        RnnEstimator.inSetterWords("keys (k=[61]) and (k=[62]) have the same xxhash64 under --seed 5; run again with another --seed",
            RnnEstimator.PREP_WORDS));
    // a device the executors lack comes back inside a SparkException: bad input, in setter words
    BadInputException e = RnnEstimator.inSetterWords(new SparkException("Job aborted due to stage failure",
        new DeviceUnavailableException("--device gpu: no OpenCL GPU found")), RnnEstimator.TRAIN_KEYS);
    assertEquals("RnnEstimator: setDevice gpu: no OpenCL GPU found", e.getMessage());
    // anything else is a bug, rethrown as it is
    assertEquals(null, RnnEstimator.inSetterWords(new IllegalStateException("--steps broke"), RnnEstimator.TRAIN_KEYS));
  }

  /** The trainer's warnings, as Trainer writes them (without "warning: "), reach the fit's log naming setters. */
  @Test
  void trainerLinesNameTheSetters() {
    assertEquals("setTbptt(12) is not shorter than the sequences (T = 12)",
        RnnEstimator.trainerLineInSetterWords("tbptt 12 is not shorter than the sequences (T = 12)"));
    assertEquals("setValidateEvery(5): the dataset /w has no validation sequences (setValidationFraction; longer than setGap plus a window)",
        RnnEstimator.trainerLineInSetterWords(
            "validate-every 5: the dataset /w has no validation sequences (--validation-fraction; longer than --gap plus a window)"));
    assertEquals("setFeedback(2): and setValidateEvery is 0; setValidateEvery(N) runs it",
        RnnEstimator.trainerLineInSetterWords("feedback 2: and --validate-every is 0; --validate-every=N runs it"));
    assertEquals("full BPTT, as setTbptt(0); (setEngine(kernel) setDevice(cpu-opencl) computes as it did), --nothing=1",
        RnnEstimator.trainerLineInSetterWords(
            "full BPTT, as --tbptt=0; (--engine=kernel --device=cpu-opencl computes as it did), --nothing=1"));
    // steps is both train's (the number of updates) and prep table's (T): the trainer means train's
    assertEquals("setMaxSteps(3) of setBatch 4", RnnEstimator.trainerLineInSetterWords("steps 3 of --batch 4"));
    // an opening word that is no option, and an option's name with no value after it, stay
    assertEquals("spark.authenticate is off: the setSync(barrier) exchange", RnnEstimator.trainerLineInSetterWords(
        "spark.authenticate is off: the --sync=barrier exchange"));
    assertEquals("resume: a.ckpt was computed", RnnEstimator.trainerLineInSetterWords("resume: a.ckpt was computed"));
    assertEquals("hidden 3 stays", RnnEstimator.trainerLineInSetterWords("hidden 3 stays"));
    assertEquals("setOptimizer(adamw): setWeightDecay is 0, so no weight decays (pass setWeightDecay(0.01) for it)",
        RnnEstimator.trainerLineInSetterWords("optimizer adamw: --weight-decay is 0, so no weight decays (pass --weight-decay=0.01 for it)"));
    assertEquals("setMomentum(0.5): setOptimizer(adam) does not use it (setMomentum is sgd's; adam's counterpart is setBeta1)",
        RnnEstimator.trainerLineInSetterWords(
            "momentum 0.5: --optimizer=adam does not use it (--momentum is sgd's; adam's counterpart is --beta1)"));
    assertEquals("setBeta2(0.99): setOptimizer(sgd) does not use it (setBeta1, setBeta2 and setEps are adam's and adamw's)",
        RnnEstimator.trainerLineInSetterWords(
            "beta2 0.99: --optimizer=sgd does not use it (--beta1, --beta2 and --eps are adam's and adamw's)"));
    // progress lines: an opening "--option value:" too, and a word that is no option opening it stays
    assertEquals("setDevice(auto): jvm (no OpenCL GPU; nothing to time)",
        RnnEstimator.trainerLineInSetterWords("--device auto: jvm (no OpenCL GPU; nothing to time)"));
    assertEquals("step 3: not finite; skipping the update (setOnNan(skip))",
        RnnEstimator.trainerLineInSetterWords("step 3: not finite; skipping the update (--on-nan=skip)"));
    assertEquals("training lstm 1x8: 40 steps", RnnEstimator.trainerLineInSetterWords("training lstm 1x8: 40 steps"));
    assertEquals("--nothing 3: stays", RnnEstimator.trainerLineInSetterWords("--nothing 3: stays"));
    // the closed-loop warning's advice, as Trainer writes it (a review: "--feedback 0" read "setFeedback 0")
    assertTrue(RnnEstimator.trainerLineInSetterWords("step 2: the closed-loop loss is not measured: …. Training goes on;"
        + " metrics.jsonl has no closed_loop_loss at validations where this happens (--feedback=0 leaves the closed loop out)")
        .endsWith("(setFeedback(0) leaves the closed loop out)"));
  }

  @Test
  void explainParamsShowsArrayValuesAsTheirElements() {
    String estimator = new RnnEstimator().setKeyCols("sensor", "site").setInputCols("temp").explainParams();
    assertTrue(estimator.contains("keyCols: entity columns: each key's rows form one series (none: the whole table is one series)"
        + " (default: [], current: [sensor, site])"), estimator);
    assertTrue(estimator.contains(" (current: [temp])"), estimator);
    assertTrue(estimator.contains("targetCols: ") && estimator.contains(" (default: [])"), estimator);
    assertTrue(estimator.contains("orderCol: time column (timestamp, date, integer, floating or decimal): the order of a key's rows"
        + " (undefined)"), estimator);
    assertTrue(estimator.contains("hiddenSize: H, units per layer (default: 32)"), estimator);
    String m = model().setInputCols("temp", "load").explainParams();
    assertTrue(m.contains("(current: [temp, load])"), m);
    for (String explained : new String[] {estimator, m}) {
      assertTrue(!explained.contains("[Ljava"), explained);
    }
  }

  static void assertEveryParamRefuses(org.apache.spark.ml.param.Params owner, Map<String, Object[]> bad) throws Exception {
    Set<String> names = new TreeSet<>();
    for (Param<?> p : owner.params()) {
      names.add(p.name());
    }
    names.removeAll(ANY_VALUE);
    assertEquals(names, new TreeSet<>(bad.keySet()), "every param that can be given a bad value has one here");
    for (String name : names) {
      Param<Object> p = owner.getParam(name);
      Object value = bad.get(name)[0];
      String allowed = (String) bad.get(name)[1];
      String setter = RnnColumns.setter(name);
      Method m = Arrays.stream(owner.getClass().getMethods())
          .filter(x -> x.getName().equals(setter) && x.getParameterCount() == 1).findFirst().orElseThrow();
      assertRefused(setter, allowed, () -> {
        try {
          m.invoke(owner, value);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
      });
      assertRefused(setter, allowed, () -> owner.set(p, value));
      assertRefused(setter, allowed, () -> owner.copy(new ParamMap().put(p, value)));
    }
  }

  static void assertRefused(String setter, String allowed, Executable way) {
    BadInputException e = assertThrows(BadInputException.class, way, setter);
    assertTrue(e.getMessage().startsWith(setter + ": "), "names the setter: " + e.getMessage());
    assertTrue(e.getMessage().contains(allowed), "'" + allowed + "' in: " + e.getMessage());
  }

  /** A Kryo session needs spark-rnn's registrator (docs/ml.md); without it fit is refused before any job, naming the setting. */
  @Test
  void aKryoSessionWithoutTheRegistratorIsRefused() {
    String ours = "io.sparkrnn.job.driver.SparkSetup$Registrator";
    String kryo = "org.apache.spark.serializer.KryoSerializer";
    RnnEstimator.requireKryoRegistrator(new SparkConf(false));
    RnnEstimator.requireKryoRegistrator(new SparkConf(false).set("spark.serializer", kryo).set("spark.kryo.registrator", ours));
    RnnEstimator.requireKryoRegistrator(new SparkConf(false).set("spark.serializer", kryo)
        .set("spark.kryo.registrator", "com.example.Mine, " + ours));
    BadInputException none = assertThrows(BadInputException.class,
        () -> RnnEstimator.requireKryoRegistrator(new SparkConf(false).set("spark.serializer", kryo)));
    assertTrue(none.getMessage().contains("start the session with spark.kryo.registrator=" + ours + ", or with Spark's"
        + " default serializer"), none.getMessage());
    BadInputException other = assertThrows(BadInputException.class, () -> RnnEstimator.requireKryoRegistrator(
        new SparkConf(false).set("spark.serializer", kryo).set("spark.kryo.registrator", "com.example.Mine")));
    assertTrue(other.getMessage().contains("spark.kryo.registrator=" + ours + ",com.example.Mine (yours after it"),
        other.getMessage());
  }
}
