package io.sparkrnn.ml;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.OptionRule;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.DeviceFallbackException;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Function1;

/**
 * Trains an RNN, LSTM or GRU on a long-format Spark table (one row per key and time) as a Spark
 * ML {@code Estimator}: {@link #fit} cuts the table into windows with {@link SequenceTables#prep}
 * and trains with the same {@link Trainer} as {@code bin/spark-rnn train}, on the caller's
 * SparkSession (which it never stops), and returns an {@link RnnModel}.
 *
 * <pre>{@code
 * RnnModel model = new RnnEstimator()
 *     .setKeyCols("sensor").setOrderCol("ts").setInputCols("temp", "load")
 *     .setSteps(48).setStride(24).setHiddenSize(32).setMaxSteps(1500)
 *     .fit(table);
 * model.setForecastSteps(24).transform(table).show();
 * }</pre>
 *
 * <p>Params: the table options of {@code prep table} (keyCols, orderCol, inputCols, targetCols,
 * classes, seq2one, steps, stride, horizon, validationFraction, normalize — default true here: a
 * table's units are arbitrary) and the main keys of {@code train} (cell, hiddenSize, numLayers,
 * maxSteps — {@code train}'s {@code steps}, optimizer steps —, epochs, batch, lr, seed,
 * partitions), with {@code train}'s defaults. The window length {@code steps}, orderCol and
 * inputCols have no default. Input columns are numbers (one feature each), arrays of numbers or ML
 * Vectors (their values, in order, as {@code prep table} expands them).
 *
 * <p>Where the work goes: {@code workDir} (a Hadoop URI every executor reaches) gets a fresh
 * {@code rnn-fit-<uuid>/} per fit, holding {@code data/} (the shards) and {@code train/} (the
 * checkpoints, metrics and report of {@code train}); it is kept. Unset, the fit works under the
 * SparkContext's checkpoint directory, else (local masters only) under {@code spark.local.dir}
 * or {@code java.io.tmpdir}, and removes its directory when done.
 *
 * <p>Determinism: as {@code train}, the same table, params and partition count give
 * byte-identical weights.
 */
public class RnnEstimator extends Estimator<RnnModel> implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(RnnEstimator.class);

  private final String uid;
  private final StringArrayParam keyCols;
  private final Param<String> orderCol;
  private final StringArrayParam inputCols;
  private final StringArrayParam targetCols;
  private final IntParam horizon;
  private final Param<String> predictionCol;
  private final Param<String> probabilityCol;
  private final Param<String> predictedClassCol;
  private final BooleanParam seq2one;
  private final IntParam classes;
  private final IntParam steps;
  private final IntParam stride;
  private final Param<String> optimizer;
  private final Param<String> lrSchedule;
  private final DoubleParam lrMin;
  private final DoubleParam clipNorm;
  private final DoubleParam weightDecay;
  private final Param<String> device;
  private final LongParam validateEvery;
  private final DoubleParam momentum;
  private final DoubleParam beta1;
  private final DoubleParam beta2;
  private final DoubleParam eps;
  private final IntParam tbptt;
  private final Param<String> engine;
  private final LongParam checkpointEvery;
  private final Param<String> onNan;
  private final LongParam logEvery;
  private final Param<String> sync;
  private final Param<String> shardCache;
  private final IntParam feedback;
  private final IntParam minSteps;
  private final Param<String> split;
  private final IntParam gap;
  private final Param<String> missing;
  private final BooleanParam normalize;
  private final DoubleParam validationFraction;
  private final Param<String> cell;
  private final IntParam hiddenSize;
  private final IntParam numLayers;
  private final LongParam maxSteps;
  private final IntParam epochs;
  private final IntParam batch;
  private final DoubleParam lr;
  private final LongParam seed;
  private final IntParam partitions;
  private final IntParam virtualPartitions;
  private final Param<String> workDir;
  private final Param<String> initialModel;

  /**
   * The params that are keys of {@code train} ({@link TrainConfig#KEYS}): param name → key. Their
   * validators check the key's rule and {@link #trainKeys} passes their values on under the key.
   */
  static final Map<String, String> TRAIN_KEYS = orderedPairs("cell", "cell", "hiddenSize", "hidden-size", "numLayers",
      "num-layers", "maxSteps", "steps", "epochs", "epochs", "batch", "batch", "lr", "lr", "seed", "seed", "partitions",
      "partitions", "virtualPartitions", "virtual-partitions", "initialModel", "init", "optimizer", "optimizer", "lrSchedule",
      "lr-schedule", "lrMin", "lr-min", "clipNorm", "clip-norm", "weightDecay", "weight-decay", "device", "device",
      "validateEvery", "validate-every", "feedback", "feedback", "momentum", "momentum", "beta1", "beta1", "beta2", "beta2",
      "eps", "eps", "tbptt", "tbptt", "engine", "engine", "checkpointEvery", "checkpoint-every", "onNan", "on-nan", "logEvery",
      "log-every", "sync", "sync", "shardCache", "shard-cache");

  /**
   * The params that are options of {@code prep table}: param name → option (without dashes). Those
   * not in {@link #TRAIN_KEYS} check the option's rule ({@link TableSpec#RULES}).
   */
  static final Map<String, String> TABLE_OPTIONS = orderedPairs("keyCols", "key", "orderCol", "order", "inputCols", "inputs",
      "targetCols", "targets", "classes", "classes", "seq2one", "seq2one", "steps", "steps", "stride", "stride", "horizon",
      "horizon", "minSteps", "min-steps", "split", "split", "validationFraction", "validation-fraction", "gap", "gap",
      "normalize", "normalize", "missing", "missing", "batch", "batch");

  /**
   * The options a prep's errors name, with their params: the table's, and the seed, which prep table
   * takes as --seed and fit from setSeed (a hash collision's message said "--seed" to a fit: a user audit).
   */
  static final Map<String, String> PREP_WORDS;

  static {
    Map<String, String> words = new LinkedHashMap<>(TABLE_OPTIONS);
    words.put("seed", "seed");
    PREP_WORDS = Collections.unmodifiableMap(words);
  }

  /** {@code prep table}'s split, or auto: by key with keyCols, else by time (the option left out). */
  private static final OptionRule SPLIT = (name, value) -> {
    if (!value.strip().equalsIgnoreCase("auto")) {
      try {
        TableSpec.RULES.get("split").check(name, value);
      } catch (BadInputException e) {
        throw new BadInputException(e.getMessage() + ", or auto (by key with keyCols, else by time)");
      }
    }
  };

  private static Map<String, String> orderedPairs(String... pairs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put(pairs[i], pairs[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }

  /** The validator of a param that is an option of train or prep table: that option's rule (train's where both have it). */
  private static <T> Function1<T, Object> rule(String param) {
    OptionRule r = TRAIN_KEYS.containsKey(param) ? TrainConfig.RULES.get(TRAIN_KEYS.get(param))
        : TableSpec.RULES.get(TABLE_OPTIONS.get(param));
    if (r == null) {
      throw new IllegalStateException("no rule for param " + param);
    }
    return RnnColumns.validator(param, r);
  }

  public RnnEstimator(String uid) {
    this.uid = uid;
    // params after uid: a Param records its parent's uid when it is made
    keyCols = RnnColumns.keyCols(this);
    orderCol = RnnColumns.orderCol(this);
    inputCols = RnnColumns.inputCols(this);
    targetCols = RnnColumns.targetCols(this);
    horizon = RnnColumns.horizon(this);
    predictionCol = RnnColumns.predictionCol(this);
    probabilityCol = RnnColumns.probabilityCol(this);
    predictedClassCol = RnnColumns.predictedClassCol(this);
    seq2one = RnnColumns.seq2one(this);
    classes = RnnColumns.classes(this);
    steps = new IntParam(this, "steps", "T, time steps per training window (prep table's --steps; required)", rule("steps"));
    optimizer = new Param<>(this, "optimizer", "the optimizer: adam, adamw or sgd (train's optimizer)", rule("optimizer"));
    lrSchedule = new Param<>(this, "lrSchedule", "constant, or cosine from lr to lrMin over the run (train's lr-schedule)",
        rule("lrSchedule"));
    lrMin = new DoubleParam(this, "lrMin", "the learning rate the cosine schedule ends at (train's lr-min)", rule("lrMin"));
    clipNorm = new DoubleParam(this, "clipNorm", "clip the gradient's global L2 norm to this; 0 for none (train's clip-norm)",
        rule("clipNorm"));
    weightDecay = new DoubleParam(this, "weightDecay", "L2 penalty (adam, sgd) or decoupled decay (adamw) (train's weight-decay)",
        rule("weightDecay"));
    device = new Param<>(this, "device", "where the kernels run: auto, gpu, cpu-opencl or jvm (train's device)",
        rule("device"));
    validateEvery = new LongParam(this, "validateEvery", "validate every N steps and at the end; 0 for never (train's validate-every)",
        rule("validateEvery"));
    momentum = new DoubleParam(this, "momentum", "SGD's momentum (train's momentum)", rule("momentum"));
    beta1 = new DoubleParam(this, "beta1", "Adam's first-moment decay (train's beta1)", rule("beta1"));
    beta2 = new DoubleParam(this, "beta2", "Adam's second-moment decay (train's beta2)", rule("beta2"));
    eps = new DoubleParam(this, "eps", "Adam's epsilon (train's eps)", rule("eps"));
    tbptt = new IntParam(this, "tbptt", "truncated BPTT: steps per backward window, 0 for full BPTT (train's tbptt)",
        rule("tbptt"));
    engine = new Param<>(this, "engine", "kernel (float32 on the device) or reference (float64) (train's engine)",
        rule("engine"));
    checkpointEvery = new LongParam(this, "checkpointEvery", "write a checkpoint every N steps into workDir; 0 for one at the end only (train's checkpoint-every)",
        rule("checkpointEvery"));
    onNan = new Param<>(this, "onNan", "a non-finite loss or gradient: stop or skip the step (train's on-nan)",
        rule("onNan"));
    logEvery = new LongParam(this, "logEvery", "log the loss every N steps (train's log-every)", rule("logEvery"));
    sync = new Param<>(this, "sync", "barrier (tasks exchange each step's sums) or job (one Spark job per step) (train's sync)",
        rule("sync"));
    shardCache = new Param<>(this, "shardCache", "each executor's bound on cached shards: 512m, 2g, bytes, 0 or a share of the heap such as 25% (train's shard-cache)",
        rule("shardCache"));
    feedback = new IntParam(this, "feedback", "closed-loop validation: the last K steps driven by the model's outputs (train's feedback)",
        rule("feedback"));
    minSteps = new IntParam(this, "minSteps", "M: keep a series or tail shorter than T but at least M long, right-padded; 0 for T",
        rule("minSteps"));
    split = new Param<>(this, "split", "auto (by key with keyCols, else by time), by-key or by-time",
        RnnColumns.validator("split", SPLIT));
    gap = new IntParam(this, "gap", "with split by-time: rows left out between the training and validation parts",
        rule("gap"));
    missing = new Param<>(this, "missing", "a null, NaN, Inf or number past float32's range in a used column: error, drop (the row) or ffill (repeat the last value)",
        rule("missing"));
    stride = new IntParam(this, "stride", "S, rows between window starts; 0 for T", rule("stride"));
    normalize = new BooleanParam(this, "normalize", "z-score inputs (and regression targets) with the training split's"
        + " statistics; transform applies them and undoes them on the outputs");
    validationFraction = new DoubleParam(this, "validationFraction", "share of keys held out for validation (by key; by"
        + " time without keys)", rule("validationFraction"));
    cell = new Param<>(this, "cell", "rnn | lstm | gru", rule("cell"));
    hiddenSize = new IntParam(this, "hiddenSize", "H, units per layer", rule("hiddenSize"));
    numLayers = new IntParam(this, "numLayers", "stacked recurrent layers", rule("numLayers"));
    maxSteps = new LongParam(this, "maxSteps", "optimizer steps to train (train's --steps); 0: use epochs",
        rule("maxSteps"));
    epochs = new IntParam(this, "epochs", "passes over the training windows (when maxSteps is 0)", rule("epochs"));
    batch = new IntParam(this, "batch", "B, windows per optimizer step (and per shard)", rule("batch"));
    lr = new DoubleParam(this, "lr", "learning rate of the optimizer, adam, adamw or sgd (train's lr)", rule("lr"));
    seed = new LongParam(this, "seed", "seed of the initialisation, the data order and the by-key split", rule("seed"));
    partitions = new IntParam(this, "partitions", "Spark partitions of a training step (0: 1 on a local master, else the"
        + " default parallelism)", rule("partitions"));
    virtualPartitions = new IntParam(this, "virtualPartitions", "V fixed groups of each step's batch whose sums are added in a"
        + " fixed tree: the same weights for any partition count (train's --virtual-partitions; 0: min(batch, 16))",
            rule("virtualPartitions"));
    workDir = new Param<>(this, "workDir", "Hadoop URI under which each fit makes rnn-fit-<uuid>/ (shards, checkpoints,"
        + " report), kept; unset: the checkpoint dir, else spark.local.dir or java.io.tmpdir in local mode, removed after",
            RnnColumns.validator("workDir", OptionRule.hadoopPath("a Hadoop URI or path")));   // refused here, not after prep
    initialModel = new Param<>(this, "initialModel", "warm start: Hadoop URI of a model file (model.safetensors of train,"
        + " import or a saved RnnModel directory) whose weights training starts from (train's --init); unset: a seeded"
        + " random initialisation", rule("initialModel"));
    setDefault(keyCols, new String[0]);
    setDefault(targetCols, new String[0]);
    setDefault(horizon, -1);
    setDefault(predictionCol, "prediction");
    setDefault(probabilityCol, "probability");
    setDefault(predictedClassCol, "predictedClass");
    setDefault(seq2one, false);
    setDefault(classes, 0);
    setDefault(stride, 0);
    setDefault(normalize, true);
    setDefault(validationFraction, 0.1);
    Map<String, String> train = TrainConfig.DEFAULTS;
    setDefault(cell, train.get("cell"));
    setDefault(hiddenSize, Integer.parseInt(train.get("hidden-size")));
    setDefault(numLayers, Integer.parseInt(train.get("num-layers")));
    setDefault(maxSteps, Long.parseLong(train.get("steps")));
    setDefault(epochs, Integer.parseInt(train.get("epochs")));
    setDefault(batch, Integer.parseInt(train.get("batch")));
    setDefault(lr, Double.parseDouble(train.get("lr")));
    setDefault(seed, Long.parseLong(train.get("seed")));
    setDefault(partitions, Integer.parseInt(train.get("partitions")));
    setDefault(virtualPartitions, Integer.parseInt(train.get("virtual-partitions")));
    setDefault(optimizer, train.get("optimizer"));
    setDefault(lrSchedule, train.get("lr-schedule"));
    setDefault(lrMin, Double.parseDouble(train.get("lr-min")));
    setDefault(clipNorm, Double.parseDouble(train.get("clip-norm")));
    setDefault(weightDecay, Double.parseDouble(train.get("weight-decay")));
    setDefault(device, train.get("device"));
    setDefault(validateEvery, Long.parseLong(train.get("validate-every")));
    setDefault(momentum, Double.parseDouble(train.get("momentum")));
    setDefault(beta1, Double.parseDouble(train.get("beta1")));
    setDefault(beta2, Double.parseDouble(train.get("beta2")));
    setDefault(eps, Double.parseDouble(train.get("eps")));
    setDefault(tbptt, Integer.parseInt(train.get("tbptt")));
    setDefault(engine, train.get("engine"));
    setDefault(checkpointEvery, Long.parseLong(train.get("checkpoint-every")));
    setDefault(onNan, train.get("on-nan"));
    setDefault(logEvery, Long.parseLong(train.get("log-every")));
    setDefault(sync, train.get("sync"));
    setDefault(shardCache, train.get("shard-cache"));
    setDefault(feedback, Integer.parseInt(train.get("feedback")));
    setDefault(minSteps, 0);
    setDefault(split, "auto");
    setDefault(gap, 0);
    setDefault(missing, "error");
  }

  public RnnEstimator() {
    this(Identifiable.randomUID("rnnEstimator"));
  }

  @Override
  public String uid() {
    return uid;
  }

  /** Spark's, with array values as their elements (see {@link RnnColumns#explainParam}). */
  @Override
  public String explainParam(Param<?> param) {
    return RnnColumns.explainParam(this, param);
  }

  // ---- params: columns ----

  public StringArrayParam keyCols() {
    return keyCols;
  }

  public String[] getKeyCols() {
    return getOrDefault(keyCols);
  }

  public RnnEstimator setKeyCols(String... value) {
    return (RnnEstimator) set(keyCols, copy(value));
  }

  public Param<String> orderCol() {
    return orderCol;
  }

  public String getOrderCol() {
    return isDefined(orderCol) ? getOrDefault(orderCol) : null;
  }

  public RnnEstimator setOrderCol(String value) {
    return (RnnEstimator) set(orderCol, value);
  }

  public StringArrayParam inputCols() {
    return inputCols;
  }

  public String[] getInputCols() {
    return isDefined(inputCols) ? getOrDefault(inputCols) : new String[0];
  }

  public RnnEstimator setInputCols(String... value) {
    return (RnnEstimator) set(inputCols, copy(value));
  }

  public StringArrayParam targetCols() {
    return targetCols;
  }

  public String[] getTargetCols() {
    return getOrDefault(targetCols);
  }

  public RnnEstimator setTargetCols(String... value) {
    return (RnnEstimator) set(targetCols, copy(value));
  }

  public IntParam horizon() {
    return horizon;
  }

  public int getHorizon() {
    return (Integer) getOrDefault(horizon);
  }

  public RnnEstimator setHorizon(int value) {
    return (RnnEstimator) set(horizon, value);
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public String getPredictionCol() {
    return getOrDefault(predictionCol);
  }

  public RnnEstimator setPredictionCol(String value) {
    return (RnnEstimator) set(predictionCol, value);
  }

  public Param<String> probabilityCol() {
    return probabilityCol;
  }

  public String getProbabilityCol() {
    return getOrDefault(probabilityCol);
  }

  public RnnEstimator setProbabilityCol(String value) {
    return (RnnEstimator) set(probabilityCol, value);
  }

  public Param<String> predictedClassCol() {
    return predictedClassCol;
  }

  public String getPredictedClassCol() {
    return getOrDefault(predictedClassCol);
  }

  public RnnEstimator setPredictedClassCol(String value) {
    return (RnnEstimator) set(predictedClassCol, value);
  }

  // ---- params: windows ----

  public BooleanParam seq2one() {
    return seq2one;
  }

  public boolean getSeq2one() {
    return (Boolean) getOrDefault(seq2one);
  }

  public RnnEstimator setSeq2one(boolean value) {
    return (RnnEstimator) set(seq2one, value);
  }

  public IntParam classes() {
    return classes;
  }

  public int getClasses() {
    return (Integer) getOrDefault(classes);
  }

  public RnnEstimator setClasses(int value) {
    return (RnnEstimator) set(classes, value);
  }

  public IntParam steps() {
    return steps;
  }

  public int getSteps() {
    return isDefined(steps) ? (Integer) getOrDefault(steps) : 0;
  }

  /** T, the training window's length in rows (not the optimizer's steps: see {@link #setMaxSteps}). */
  public RnnEstimator setSteps(int value) {
    return (RnnEstimator) set(steps, value);
  }

  public IntParam stride() {
    return stride;
  }

  public int getStride() {
    return (Integer) getOrDefault(stride);
  }

  public RnnEstimator setStride(int value) {
    return (RnnEstimator) set(stride, value);
  }

  public BooleanParam normalize() {
    return normalize;
  }

  public boolean getNormalize() {
    return (Boolean) getOrDefault(normalize);
  }

  public RnnEstimator setNormalize(boolean value) {
    return (RnnEstimator) set(normalize, value);
  }

  public DoubleParam validationFraction() {
    return validationFraction;
  }

  public double getValidationFraction() {
    return (Double) getOrDefault(validationFraction);
  }

  public RnnEstimator setValidationFraction(double value) {
    return (RnnEstimator) set(validationFraction, value);
  }

  // ---- params: training ----

  public Param<String> cell() {
    return cell;
  }

  public String getCell() {
    return getOrDefault(cell);
  }

  public RnnEstimator setCell(String value) {
    return (RnnEstimator) set(cell, value == null ? null : value.toLowerCase(Locale.ROOT));
  }

  public IntParam hiddenSize() {
    return hiddenSize;
  }

  public int getHiddenSize() {
    return (Integer) getOrDefault(hiddenSize);
  }

  public RnnEstimator setHiddenSize(int value) {
    return (RnnEstimator) set(hiddenSize, value);
  }

  public IntParam numLayers() {
    return numLayers;
  }

  public int getNumLayers() {
    return (Integer) getOrDefault(numLayers);
  }

  public RnnEstimator setNumLayers(int value) {
    return (RnnEstimator) set(numLayers, value);
  }

  public LongParam maxSteps() {
    return maxSteps;
  }

  public long getMaxSteps() {
    return (Long) getOrDefault(maxSteps);
  }

  /** Optimizer steps to train ({@code train --steps}); 0 trains {@link #setEpochs} epochs instead. */
  public RnnEstimator setMaxSteps(long value) {
    return (RnnEstimator) set(maxSteps, value);
  }

  public IntParam epochs() {
    return epochs;
  }

  public int getEpochs() {
    return (Integer) getOrDefault(epochs);
  }

  public RnnEstimator setEpochs(int value) {
    return (RnnEstimator) set(epochs, value);
  }

  public IntParam batch() {
    return batch;
  }

  public int getBatch() {
    return (Integer) getOrDefault(batch);
  }

  public RnnEstimator setBatch(int value) {
    return (RnnEstimator) set(batch, value);
  }

  public DoubleParam lr() {
    return lr;
  }

  public double getLr() {
    return (Double) getOrDefault(lr);
  }

  public RnnEstimator setLr(double value) {
    return (RnnEstimator) set(lr, value);
  }

  public LongParam seed() {
    return seed;
  }

  public long getSeed() {
    return (Long) getOrDefault(seed);
  }

  public RnnEstimator setSeed(long value) {
    return (RnnEstimator) set(seed, value);
  }

  public IntParam partitions() {
    return partitions;
  }

  public int getPartitions() {
    return (Integer) getOrDefault(partitions);
  }

  public RnnEstimator setPartitions(int value) {
    return (RnnEstimator) set(partitions, value);
  }

  public IntParam virtualPartitions() {
    return virtualPartitions;
  }

  public int getVirtualPartitions() {
    return (Integer) getOrDefault(virtualPartitions);
  }

  public RnnEstimator setVirtualPartitions(int value) {
    return (RnnEstimator) set(virtualPartitions, value);
  }

  public Param<String> workDir() {
    return workDir;
  }

  public String getWorkDir() {
    return isDefined(workDir) ? getOrDefault(workDir) : null;
  }

  public RnnEstimator setWorkDir(String value) {
    return (RnnEstimator) set(workDir, value);
  }

  public Param<String> initialModel() {
    return initialModel;
  }

  public String getInitialModel() {
    return isDefined(initialModel) ? getOrDefault(initialModel) : null;
  }

  /**
   * Warm start ({@code train --init}): training starts from the weights of this model file — a
   * {@code model.safetensors} written by {@code train}, {@code import} (PyTorch) or an
   * {@link RnnModel} saved directory — instead of a seeded initialisation; the optimizer starts
   * fresh. With {@code normalize} the table is prepped with the statistics the file records (its
   * weights expect inputs in those units). {@code fit} refuses, before any job, a missing file and
   * one whose cell, layers, H, mode, loss, F or O differ from what this estimator and the table's
   * columns ask (see {@link #checkInitialModel}).
   */
  public RnnEstimator setInitialModel(String value) {
    return (RnnEstimator) set(initialModel, value);
  }

  private static String[] copy(String[] value) {
    return value == null ? null : value.clone();
  }

  // ---- fit ----

  /**
   * The table options as prep table's record, validated. Its messages name prep table's options
   * (--steps …); they are translated to this class's setters here.
   */
  public Param<String> optimizer() {
    return optimizer;
  }

  public String getOptimizer() {
    return getOrDefault(optimizer);
  }

  /** The optimizer: adam, adamw or sgd (train's optimizer). */
  public RnnEstimator setOptimizer(String value) {
    return (RnnEstimator) set(optimizer, value);
  }

  public Param<String> lrSchedule() {
    return lrSchedule;
  }

  public String getLrSchedule() {
    return getOrDefault(lrSchedule);
  }

  /** Constant, or cosine from lr to lrMin over the run (train's lr-schedule). */
  public RnnEstimator setLrSchedule(String value) {
    return (RnnEstimator) set(lrSchedule, value);
  }

  public DoubleParam lrMin() {
    return lrMin;
  }

  public double getLrMin() {
    return (Double) getOrDefault(lrMin);
  }

  /** The learning rate the cosine schedule ends at (train's lr-min). */
  public RnnEstimator setLrMin(double value) {
    return (RnnEstimator) set(lrMin, value);
  }

  public DoubleParam clipNorm() {
    return clipNorm;
  }

  public double getClipNorm() {
    return (Double) getOrDefault(clipNorm);
  }

  /** Clip the gradient's global L2 norm to this; 0 for none (train's clip-norm). */
  public RnnEstimator setClipNorm(double value) {
    return (RnnEstimator) set(clipNorm, value);
  }

  public DoubleParam weightDecay() {
    return weightDecay;
  }

  public double getWeightDecay() {
    return (Double) getOrDefault(weightDecay);
  }

  /** L2 penalty (adam, sgd) or decoupled decay (adamw) (train's weight-decay). */
  public RnnEstimator setWeightDecay(double value) {
    return (RnnEstimator) set(weightDecay, value);
  }

  public Param<String> device() {
    return device;
  }

  public String getDevice() {
    return getOrDefault(device);
  }

  /** Where the kernels run: auto, gpu, cpu-opencl or jvm (train's device). */
  public RnnEstimator setDevice(String value) {
    return (RnnEstimator) set(device, value);
  }

  public LongParam validateEvery() {
    return validateEvery;
  }

  public long getValidateEvery() {
    return (Long) getOrDefault(validateEvery);
  }

  /** Validate every N steps and at the end; 0 for never (train's validate-every). */
  public RnnEstimator setValidateEvery(long value) {
    return (RnnEstimator) set(validateEvery, value);
  }

  public DoubleParam momentum() {
    return momentum;
  }

  public double getMomentum() {
    return (Double) getOrDefault(momentum);
  }

  /** SGD's momentum (train's momentum). */
  public RnnEstimator setMomentum(double value) {
    return (RnnEstimator) set(momentum, value);
  }

  public DoubleParam beta1() {
    return beta1;
  }

  public double getBeta1() {
    return (Double) getOrDefault(beta1);
  }

  /** Adam's first-moment decay (train's beta1). */
  public RnnEstimator setBeta1(double value) {
    return (RnnEstimator) set(beta1, value);
  }

  public DoubleParam beta2() {
    return beta2;
  }

  public double getBeta2() {
    return (Double) getOrDefault(beta2);
  }

  /** Adam's second-moment decay (train's beta2). */
  public RnnEstimator setBeta2(double value) {
    return (RnnEstimator) set(beta2, value);
  }

  public DoubleParam eps() {
    return eps;
  }

  public double getEps() {
    return (Double) getOrDefault(eps);
  }

  /** Adam's epsilon (train's eps). */
  public RnnEstimator setEps(double value) {
    return (RnnEstimator) set(eps, value);
  }

  public IntParam tbptt() {
    return tbptt;
  }

  public int getTbptt() {
    return (Integer) getOrDefault(tbptt);
  }

  /** Truncated BPTT: steps per backward window, 0 for full BPTT (train's tbptt). */
  public RnnEstimator setTbptt(int value) {
    return (RnnEstimator) set(tbptt, value);
  }

  public Param<String> engine() {
    return engine;
  }

  public String getEngine() {
    return getOrDefault(engine);
  }

  /** Kernel (float32 on the device) or reference (float64) (train's engine). */
  public RnnEstimator setEngine(String value) {
    return (RnnEstimator) set(engine, value);
  }

  public LongParam checkpointEvery() {
    return checkpointEvery;
  }

  public long getCheckpointEvery() {
    return (Long) getOrDefault(checkpointEvery);
  }

  /** Write a checkpoint every N steps into workDir; 0 for one at the end only (train's checkpoint-every). */
  public RnnEstimator setCheckpointEvery(long value) {
    return (RnnEstimator) set(checkpointEvery, value);
  }

  public Param<String> onNan() {
    return onNan;
  }

  public String getOnNan() {
    return getOrDefault(onNan);
  }

  /** A non-finite loss or gradient: stop or skip the step (train's on-nan). */
  public RnnEstimator setOnNan(String value) {
    return (RnnEstimator) set(onNan, value);
  }

  public LongParam logEvery() {
    return logEvery;
  }

  public long getLogEvery() {
    return (Long) getOrDefault(logEvery);
  }

  /** Log the loss every N steps (train's log-every). */
  public RnnEstimator setLogEvery(long value) {
    return (RnnEstimator) set(logEvery, value);
  }

  public Param<String> sync() {
    return sync;
  }

  public String getSync() {
    return getOrDefault(sync);
  }

  /** Barrier (tasks exchange each step's sums) or job (one Spark job per step) (train's sync). */
  public RnnEstimator setSync(String value) {
    return (RnnEstimator) set(sync, value);
  }

  public Param<String> shardCache() {
    return shardCache;
  }

  public String getShardCache() {
    return getOrDefault(shardCache);
  }

  /** Each executor's bound on cached shards: 512m, 2g, bytes, 0 or a share of the heap such as 25% (train's shard-cache). */
  public RnnEstimator setShardCache(String value) {
    return (RnnEstimator) set(shardCache, value);
  }

  public IntParam feedback() {
    return feedback;
  }

  public int getFeedback() {
    return (Integer) getOrDefault(feedback);
  }

  /** Closed-loop validation: the last K steps driven by the model's outputs (train's feedback). */
  public RnnEstimator setFeedback(int value) {
    return (RnnEstimator) set(feedback, value);
  }

  public IntParam minSteps() {
    return minSteps;
  }

  public int getMinSteps() {
    return (Integer) getOrDefault(minSteps);
  }

  /** M: keep a series or tail shorter than T but at least M long, right-padded; 0 for T. */
  public RnnEstimator setMinSteps(int value) {
    return (RnnEstimator) set(minSteps, value);
  }

  public Param<String> split() {
    return split;
  }

  public String getSplit() {
    return getOrDefault(split);
  }

  /** Auto (by key with keyCols, else by time), by-key or by-time. */
  public RnnEstimator setSplit(String value) {
    return (RnnEstimator) set(split, value);
  }

  public IntParam gap() {
    return gap;
  }

  public int getGap() {
    return (Integer) getOrDefault(gap);
  }

  /** With split by-time: rows left out between the training and validation parts. */
  public RnnEstimator setGap(int value) {
    return (RnnEstimator) set(gap, value);
  }

  public Param<String> missing() {
    return missing;
  }

  public String getMissing() {
    return getOrDefault(missing);
  }

  /** A null, NaN, Inf or number past float32's range in a used column: error, drop (the row) or ffill (repeat the last value). */
  public RnnEstimator setMissing(String value) {
    return (RnnEstimator) set(missing, value);
  }

  TableSpec tableSpec() {
    if (!isDefined(steps)) {
      throw new BadInputException("RnnEstimator: steps (T, the window length) is not set; call setSteps");
    }
    if (getInputCols().length == 0) {
      throw new BadInputException("RnnEstimator: inputCols is not set; call setInputCols");
    }
    Map<String, Object> source = new LinkedHashMap<>();
    source.put("api", "RnnEstimator " + uid);
    try {
      return new TableSpec(List.of(getKeyCols()), getOrderCol(), List.of(getInputCols()), List.of(getTargetCols()),
          getClasses(), getSeq2one(), getSteps(), getStride(), getHorizon(), getMinSteps(), null,
          getSplit().strip().equalsIgnoreCase("auto") ? null : TableSpec.SplitMode.parse(getSplit()), getValidationFraction(), getGap(),
          getNormalize(), TableSpec.Missing.parse(getMissing()), getBatch(), getSeed(), 0, source);
    } catch (IllegalArgumentException e) {
      throw new BadInputException("RnnEstimator: " + inSetterWords(e.getMessage(), TABLE_OPTIONS), e);
    }
  }

  /** "--option" anywhere (group 1), or "key:" opening a message (group 2), as train's and prep table's messages name options. */
  private static final Pattern OPTION = Pattern.compile("(?<![\\w-])--([a-z][a-z0-9-]*)(?![\\w-])|^([a-z][a-z0-9-]*):");

  /**
   * A message of {@code prep table}'s code ({@code options}: {@link #TABLE_OPTIONS}) or of
   * {@code train}'s ({@link #TRAIN_KEYS}) in this class's words: each option that a param mirrors,
   * as {@code --option} or as the {@code key:} that opens train's messages, becomes the param's
   * setter; prep's "filter with --where" and "--where", an option the estimator has not, become a
   * filter on the table, and the wide tables' {@code --sequence-column} is left out. One table per phase, because {@code --steps} is prep's window length ({@code setSteps})
   * but train's optimizer steps ({@code setMaxSteps}).
   */
  static String inSetterWords(String message, Map<String, String> options) {
    if (message == null) {
      return null;
    }
    Map<String, String> setterOf = new HashMap<>();
    options.forEach((param, option) -> setterOf.put(option, RnnColumns.setter(param)));
    // "--option=value" within a sentence: the setter with its value, setSplit(by-time) (a review: "setSplit by-time")
    Matcher v = OPTION_VALUE.matcher(message);
    StringBuilder valued = new StringBuilder();
    while (v.find()) {
      String setter = setterOf.get(v.group(1));
      v.appendReplacement(valued, Matcher.quoteReplacement(setter == null ? v.group() : setter + "(" + v.group(2) + ")"));
    }
    // prep's options the estimator has not: --where is a filter on the table; --sequence-column
    // (wide tables) has no param, the estimator reads long tables only; and fit runs its own prep
    // ("prep without --normalize" read "prep without setNormalize": a review)
    Matcher m = OPTION.matcher(v.appendTail(valued).toString().replace("filter with --where",
        "filter the table before fit (Dataset.where)").replace("--where", "Dataset.where")
        .replace(" (or --sequence-column for one row per sequence)", "").replace("prep without --normalize", "setNormalize(false)"));
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String setter = setterOf.get(m.group(1) != null ? m.group(1) : m.group(2));
      m.appendReplacement(out, Matcher.quoteReplacement(setter == null ? m.group() : m.group(1) != null ? setter : setter + ":"));
    }
    return m.appendTail(out).toString();
  }

  /** Train's options (train's meaning wins where prep table has one of the same name: steps, batch) and prep table's. */
  private static final Map<String, String> TRAINER_OPTIONS;

  static {
    Map<String, String> both = new LinkedHashMap<>(TABLE_OPTIONS);
    both.putAll(TRAIN_KEYS);
    TRAINER_OPTIONS = Collections.unmodifiableMap(both);
  }

  /**
   * An option and its value opening a line, as the trainer writes them: "tbptt 50 is ...", "feedback 3: ...",
   * "--device auto: jvm (...)".
   */
  private static final Pattern OPENING_VALUE = Pattern.compile("^(?:--)?([a-z][a-z0-9-]*) ([^\\s:]+)");
  /** An option with its value, as the trainer's warnings write them within a sentence: "--weight-decay=0.01". */
  private static final Pattern OPTION_VALUE = Pattern.compile("(?<![\\w-])--([a-z][a-z0-9-]*)=([^\\s,;:()]+)");

  /**
   * A trainer's line (a warning without its "warning: ", or a progress line) in the estimator's
   * words: an opening "option value" or "--option value" and any "--option=value" become
   * {@code setOption(value)}, and any other "--option" the setter ({@link #inSetterWords}).
   */
  static String trainerLineInSetterWords(String line) {
    Matcher m = OPENING_VALUE.matcher(line);
    String param = m.lookingAt() ? paramOf(m.group(1)) : null;
    String opened = param == null ? line : RnnColumns.setter(param) + "(" + m.group(2) + ")" + line.substring(m.end());
    return inSetterWords(opened, TRAINER_OPTIONS);   // and "--option=value" within it
  }

  /** The param whose option is {@code option} in {@link #TRAINER_OPTIONS}, or null. */
  private static String paramOf(String option) {
    String found = null;
    for (Map.Entry<String, String> e : TRAINER_OPTIONS.entrySet()) {
      if (e.getValue().equals(option)) {
        found = e.getKey();   // the last: train's where both name it, as in inSetterWords
      }
    }
    return found;
  }

  /**
   * The bad input in {@code e}'s cause chain (a bad value, or a device that {@code setDevice} asks
   * for and the executors lack), also when it comes back from a Spark task inside a
   * SparkException, as a {@link BadInputException} in this class's words ({@link #inSetterWords});
   * null when there is none (the caller rethrows {@code e}: a bug keeps its type and trace).
   */
  static BadInputException inSetterWords(Throwable e, Map<String, String> options) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof BadInputException || t instanceof DeviceUnavailableException
          || t instanceof DeviceFallbackException) {   // the user errors BarrierTraining knows
        return new BadInputException("RnnEstimator: " + inSetterWords(t.getMessage(), options), e);
      }
    }
    return null;
  }

  /**
   * The closed-loop validation {@code setFeedback} asks for, refused here as train refuses it (the
   * same reasons), but before fit's table job rather than after it: a seq2one model has no outputs
   * to feed back, K steps need an input-driven step before them, and windows that setMinSteps lets
   * be shorter than T cannot be driven for their last K steps when validation runs. F == O is left
   * to train: the width of array input columns is known only from the data.
   */
  private void checkClosedLoop(TableSpec spec) {
    int k = getFeedback();
    if (k == 0) {
      return;
    }
    if (spec.seq2one()) {
      throw new BadInputException("RnnEstimator: setFeedback(" + k + "): closed-loop validation needs a seq2seq model, and"
          + " setSeq2one(true) makes it seq2one");
    }
    if (k >= spec.steps()) {
      throw new BadInputException("RnnEstimator: setFeedback(" + k + "): " + k + " self-driven steps leave no input-driven step"
          + " in setSteps(" + spec.steps() + ")");
    }
    if (spec.variableLength() && getValidateEvery() > 0 && getValidationFraction() > 0) {
      throw new BadInputException("RnnEstimator: setFeedback(" + k + "): closed-loop validation needs windows of all T="
          + spec.steps() + " steps, and setMinSteps(" + getMinSteps() + ") lets them be shorter; drop setMinSteps, or"
          + " validate without feedback (setFeedback(0))");
    }
  }

  /** The params of one optimizer and not the other: sgd's momentum, adam's and adamw's beta1, beta2, eps. */
  private static final Set<String> OPTIMIZER_CONSTANTS = Set.of("momentum", "beta1", "beta2", "eps");

  /** The keys of {@code bin/spark-rnn train} this estimator sets. */
  Map<String, String> trainKeys(String data, String out) {
    Map<String, String> k = new LinkedHashMap<>();
    k.put("data", data);
    k.put("out", out);
    for (Map.Entry<String, String> e : TRAIN_KEYS.entrySet()) {
      Param<Object> p = getParam(e.getKey());
      // an optimizer's constants go only where set, so that train warns of one the optimizer does not use
      // (setMomentum with adam); their defaults are train's, which it applies itself
      if (OPTIMIZER_CONSTANTS.contains(e.getKey()) ? isSet(p) : isDefined(p)) {
        k.put(e.getValue(), getOrDefault(p).toString());
      }
    }
    return k;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    TableSpec spec = tableSpec();
    try {
      TrainConfig.parse(trainKeys("unused", "unused"), null);
    } catch (IllegalArgumentException e) {
      throw new BadInputException("RnnEstimator: " + inSetterWords(e.getMessage(), TRAIN_KEYS), e);
    }
    checkClosedLoop(spec);
    for (String t : spec.targetColumns()) {
      // fit's prep refuses it too, but after transformSchema, where docs/ml.md says refusals come (a user audit)
      boolean order = RnnColumns.sameColumn(t, getOrderCol());
      if (order || Arrays.stream(getKeyCols()).anyMatch(k -> RnnColumns.sameColumn(t, k))) {
        throw new BadInputException("RnnEstimator: targetCols column '" + t + "' is the " + (order ? "orderCol" : "keyCols")
            + " column; a series' key and order are not values: copy it to a column of its own (Dataset.withColumn) and"
            + " name that");
      }
      RnnColumns.checkTarget("RnnEstimator", schema, t, spec.classes() > 0);
    }
    return RnnColumns.outputSchema("RnnEstimator", schema, getKeyCols(), getOrderCol(), getInputCols(),
        new String[] {getPredictionCol(), getProbabilityCol(), getPredictedClassCol()}, "forecast",
        new RnnColumns.Shape(getSeq2one(), getClasses() > 0, 0));
  }

  /**
   * Preps {@code dataset} into windows and trains on its SparkSession. Every param and column is
   * checked before the first job; the session is left running.
   *
   * @throws IllegalArgumentException a bad param, column or value (naming it)
   * @throws UncheckedIOException the work directory cannot be written
   */
  @Override
  public RnnModel fit(Dataset<?> dataset) {
    return RnnColumns.resolvingAs(dataset, () -> fitResolved(dataset));
  }

  private RnnModel fitResolved(Dataset<?> dataset) {
    if (dataset.isStreaming()) {
      // Spark's own refusal comes from deep in the first job ("Queries with streaming sources must be executed with
      // writeStream.start()"), after the work directory is made
      throw new BadInputException("RnnEstimator.fit: the table is a streaming DataFrame; fit cuts each key's whole series"
          + " into windows and takes a batch table (read the stream's sink as a table, e.g. spark.read() on its files)");
    }
    transformSchema(dataset.schema(), true);
    TableSpec spec = tableSpec();
    SparkSession spark = dataset.sparkSession();
    SparkContext sc = spark.sparkContext();
    requireKryoRegistrator(sc.getConf());
    // every line of this fit's says whose: the uid, and the fit's id (its work directory's), since the
    // fits of a CrossValidator's folds and maps are copies of one estimator with one uid, and interleave
    // their lines under setParallelism
    String fitId = UUID.randomUUID().toString();
    String who = "RnnEstimator " + uid + " fit " + fitId.substring(0, 8);
    try {
      // the initial model, checked against the params and the schema before any job or directory
      String init = getInitialModel();
      TrainedModel initial = null;
      if (init != null) {
        initial = Trainer.loadInitial(init, sc.hadoopConfiguration(), "setInitialModel");   // a file, or a directory holding one
        init = TrainedModel.modelFile(init, sc.hadoopConfiguration());                        // the file read, for the messages
        checkInitialModel(initial, init, dataset.schema(), who);
      }
      boolean given = getWorkDir() != null;
      Path dir = new Path(given ? getWorkDir() : defaultParent(sc), "rnn-fit-" + fitId);
      String data = new Path(dir, "data").toString();
      String out = new Path(dir, "train").toString();
      LOG.info("{}: working in {}{}", who, dir, given ? "" : " (removed when done)");
      try {
        // the initial weights expect inputs in the units they were trained in: prep with its statistics
        Normalization fixed = initial != null && spec.normalize() && initial.normalization() != null
            ? initial.normalization().takenFrom(init) : null;
        Manifest manifest;
        try {
          manifest = SequenceTables.prep(dataset.toDF(), spec, data, false, fixed,
              "setInitialModel: the statistics of the initial model " + init,
              new SequenceTables.PrepLog(who + ": ", given ? null : "the fit's work directory"));
        } catch (Exception e) {   // also a SparkException from a task, which Scala throws unchecked
          BadInputException user = inSetterWords(e, PREP_WORDS);
          if (user != null) {
            throw user;
          }
          throwIfInterrupted(e, who, "preparing the table");
          throw e;
        }
        LOG.info("{}: {} training and {} validation windows of T={}, F={}", who,
            manifest.sequences(Split.TRAIN), manifest.sequences(Split.VALIDATION),
            manifest.spec().steps(), manifest.spec().features());
        boolean noValidation = manifest.sequences(Split.VALIDATION) == 0;
        if (spec.validationFraction() > 0 && noValidation) {
          // as prep table warns: a fit that asked for validation and silently got none scores nothing (a user audit)
          // the advice follows the split in force: setSplit("by-time") is no advice to a fit already split by time (a user audit)
          boolean byKey = spec.effectiveSplit() == TableSpec.SplitMode.BY_KEY;
          LOG.warn("{}: setValidationFraction({}) gave no validation window ({}): {}; the fit validates on"
              + " nothing. {}", who, spec.validationFraction(), manifest.spec().source().get("counts"), byKey
                  ? "no key whose seeded hash fell under the fraction had a window"
                  : "no series kept round(rows x fraction) - gap rows for one window",
              getValidateEvery() == 0
                  // nothing would validate anyway: more held out would only train on less (a user audit)
                  ? "With validateEvery 0 this fit validates on nothing anyway; setValidationFraction(0) trains on every key"
                  : byKey ? "Raise setValidationFraction, or with few keys use setSplit(\"by-time\")"
                  : "Raise setValidationFraction or lower setGap, so that round(rows x fraction) - gap rows hold setSteps");
        }
        // the trainer's warnings name train's and prep table's options: here they name the setters (a user audit)
        // (the trainer's "no validation sequences" is dropped where the warning above said it in fit's terms)
        boolean saidNoValidation = spec.validationFraction() > 0 && noValidation;
        // the dataset is fit's own, in a work directory removed when fit ends: "the table" names it
        // so is its --init warning of an initial model without statistics, which fit gives in its words under the same condition
        // and where fit removes its directory (no workDir), its shard files and metrics.jsonl are no place to point at
        // either (a review: the closed-loop warning named both)
        String metricsPath = new Path(out, TrainingMetrics.FILE).toString();
        UnaryOperator<String> warningWords = line -> (saidNoValidation && line.contains(Trainer.NO_VALIDATION_SEQUENCES))
            || line.contains(Trainer.INIT_WITHOUT_STATISTICS) ? null
            : who + ": " + trainerLineInSetterWords(keptFiles(line.replace("the dataset " + data, "the table"), given, data,
                metricsPath));
        // progress lines too say whose (above) and name setters ("setDevice(auto): jvm ..."); a model file that fit removes when it ends is
        // no place to point a user at: the model is what fit returns
        String modelFile = new Path(out, RnnModel.MODEL_FILE).toString();
        UnaryOperator<String> infoWords = line -> who + ": " + trainerLineInSetterWords(
            given ? line : line.replace("; model " + modelFile, "; the model is the RnnModel fit returns"));
        try (PrintStream log = new PrintStream(new LogLines(LOG, infoWords, warningWords), true, StandardCharsets.UTF_8)) {
          Map<String, String> keys = trainKeys(data, out);
          if (init != null) {
            keys.put("init", init);
          }
          try {
            Trainer.prepare(keys, sc.hadoopConfiguration(), log, initial)   // initial: read once, above
                .checkpointWords(checkpoint -> checkpointWords(checkpoint, given))
                .run(JavaSparkContext.fromSparkContext(sc));
          } catch (Exception e) {
            BadInputException user = inSetterWords(e, TRAIN_KEYS);
            if (user != null) {
              throw user;
            }
            if (e instanceof Trainer.NonFiniteException) {   // train's options and run files, in fit's words (a review)
              String metricsFile = new Path(out, TrainingMetrics.FILE).toString();
              throw new Trainer.NonFiniteException(who + ": " + trainerLineInSetterWords(e.getMessage()
                  .replace("--on-nan skip", "--on-nan=skip")
                  .replace("; " + TrainingMetrics.FILE + " has", given ? "; " + metricsFile + " has" : "; its metrics had")));
            }
            throwIfInterrupted(e, who, "training");
            throw e;
          }
        }
        byte[] bytes = HadoopFiles.read(new Path(out, RnnModel.MODEL_FILE).toString(), sc.hadoopConfiguration());
        RnnModel model = copyValues(new RnnModel(uid, bytes), ParamMap.empty());
        return model.setParent(this);
      } finally {
        if (!given) {
          removeQuietly(dir, sc, who);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("RnnEstimator: " + e.getMessage(), e);
    }
  }

  /**
   * Refuses, before any job, a session that serialises with Kryo without spark-rnn's registrator:
   * training broadcasts records (the manifest, the step's input) that Kryo's default field
   * serializer cannot build, and the fit failed only after both prep passes, with Kryo's "Unable to
   * create serializer ... for class: io.sparkrnn.data.Manifest" (a user audit; docs/ml.md).
   */
  static void requireKryoRegistrator(SparkConf conf) {
    if (!KRYO.equals(conf.get("spark.serializer", "").trim())) {
      return;
    }
    String registrators = conf.get("spark.kryo.registrator", "");
    for (String r : registrators.split(",")) {
      if (r.trim().equals(SparkSetup.Registrator.class.getName())) {
        return;
      }
    }
    throw new BadInputException("RnnEstimator: the session serialises with Kryo (spark.serializer=" + KRYO + ") without"
        + " spark-rnn's registrator, and Kryo cannot serialise the records training broadcasts; start the session with"
        + " spark.kryo.registrator=" + SparkSetup.Registrator.class.getName() + (registrators.isBlank() ? ""
        : "," + registrators.trim() + " (yours after it, comma-separated)") + ", or with Spark's default serializer");
  }

  private static final String KRYO = "org.apache.spark.serializer.KryoSerializer";

  /**
   * A trainer's line with its work files named as fit keeps them: their paths where workDir keeps
   * them, else the table's validation shard for a shard of {@code data} and "the fit's metrics" for
   * metrics.jsonl, both removed when fit ends.
   */
  static String keptFiles(String line, boolean kept, String data, String metricsPath) {
    if (kept) {
      return line.replace("; " + TrainingMetrics.FILE + " has", "; " + metricsPath + " has");
    }
    return line.replaceAll(Pattern.quote(data + "/") + "shard-\\d+\\.safetensors", "a validation shard of the table")
        .replace("; " + TrainingMetrics.FILE + " has", "; the fit's metrics have");
  }

  /**
   * What a failed fit says of its checkpoints (the newest one's path, or null): fit has no resume,
   * and without workDir it removes its directory, checkpoints too, when it ends; train's "--resume
   * true continues from it" named an option fit lacks and a file it removed (a review). A checkpoint
   * is a model file, so setInitialModel warm-starts a new fit from its weights.
   */
  static String checkpointWords(String checkpoint, boolean kept) {
    if (!kept) {
      return "fit removes its work directory when it ends, checkpoints too; with setWorkDir they are kept, and"
          + " setInitialModel(one of them) warm-starts a new fit from its weights";
    }
    return checkpoint == null ? "No checkpoint was written yet" : "The last checkpoint, " + checkpoint + ", is kept:"
        + " setInitialModel(\"" + checkpoint + "\") warm-starts a new fit from its weights (the optimizer and the step count"
        + " start again)";
  }

  /**
   * Where {@code e} is the bare InterruptedException that Spark's runJob throws (undeclared, with no
   * message) when the thread running fit is interrupted, throws one of the same type that says whose
   * fit and in what phase, the original its cause; else returns. Still an InterruptedException,
   * thrown undeclared as Spark throws it: a caller catching that type (a notebook's cancel) still does.
   */
  static void throwIfInterrupted(Exception e, String who, String phase) {
    if (e instanceof InterruptedException && e.getMessage() == null) {
      InterruptedException named = new InterruptedException(who + ": interrupted while " + phase + " (the thread running fit"
          + " was interrupted; the fit's Spark jobs are cancelled and the thread's interrupt is kept)");
      named.initCause(e);
      RnnEstimator.<RuntimeException>throwUndeclared(named);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> void throwUndeclared(Throwable t) throws T {
    throw (T) t;
  }

  /**
   * Refuses, before any job, an initial model that cannot start this fit: its cell, layers, H,
   * mode (seq2one) and loss (classes) against the params, its F against the input columns when
   * they are numbers (one feature each), its O against the targets (the classes, the target
   * columns, or the inputs themselves), and recorded statistics without {@code normalize}. Warns
   * when it records none but the fit normalises: its weights then meet the table's z-scores
   * ({@code fit}: the prefix of this fit's log lines).
   */
  void checkInitialModel(TrainedModel initial, String path, StructType schema, String fit) {
    ModelConfig c = initial.config();
    String who = "setInitialModel: the initial model " + path;
    int features = 0;
    for (String in : getInputCols()) {
      int w = RnnColumns.inputWidth("RnnEstimator", RnnColumns.field("RnnEstimator", schema, in, "inputCols"));
      features = w == 0 || features < 0 ? -1 : features + w;   // an array or Vector: its width is known per row
    }
    int outputs = getClasses() > 0 ? getClasses() : getTargetCols().length > 0 ? getTargetCols().length : features;
    String[][] fields = {
        {"cell", c.cell().id(), getCell(), "setCell"},
        {"numLayers", Integer.toString(c.numLayers()), Integer.toString(getNumLayers()), "setNumLayers"},
        {"hiddenSize", Integer.toString(c.hiddenSize()), Integer.toString(getHiddenSize()), "setHiddenSize"},
        {"mode", c.mode().id(), (getSeq2one() ? Mode.SEQ2ONE : Mode.SEQ2SEQ).id(), "setSeq2one"},
        {"loss", c.loss().id(), (getClasses() > 0 ? LossType.CROSS_ENTROPY : LossType.MSE).id(), "setClasses"},
        {"F = " + c.inputSize() + " input features", Integer.toString(c.inputSize()), Integer.toString(features),
            "setInputCols " + Arrays.toString(getInputCols())},
        {"O = " + c.outputSize() + " outputs", Integer.toString(c.outputSize()), Integer.toString(outputs),
            getClasses() > 0 ? "setClasses" : getTargetCols().length > 0 ? "setTargetCols " + Arrays.toString(getTargetCols())
                : "the targets are the inputs, setInputCols " + Arrays.toString(getInputCols())}};
    for (String[] f : fields) {
      if (!f[2].equals("-1") && !f[1].equals(f[2])) {
        throw new BadInputException(who + " has " + (f[0].contains(" = ") ? f[0] : f[0] + " " + f[1]) + ", this estimator"
            + " asks for " + f[2] + " (" + f[3] + ")");
      }
    }
    if (initial.normalization() != null && !getNormalize()) {
      throw new BadInputException(who + " records the normalisation its weights were trained with, and normalize is"
          + " false: the table would reach them in other units. setNormalize(true) preps it with the model's statistics");
    }
    if (initial.normalization() == null && getNormalize()) {
      LOG.warn("{}: the initial model {} records no normalisation statistics (a PyTorch import without"
          + " \"normalization\" in its config, say), so nothing says which units its weights were trained on; this fit"
          + " z-scores the table with its training split's statistics and records those. If the weights were trained on"
          + " raw values, setNormalize(false); if on z-scores, import the model again with its \"normalization\" in the"
          + " --config JSON (as export writes it)", fit, path);
    }
  }

  /** Removes the default work directory; a failure to is logged, not thrown over the fit's own outcome. */
  private static void removeQuietly(Path dir, SparkContext sc, String fit) {
    try {
      dir.getFileSystem(sc.hadoopConfiguration()).delete(dir, true);
    } catch (IOException e) {
      LOG.warn("{}: could not remove the work directory {}: {}", fit, dir, e.getMessage());
    }
  }

  /** The checkpoint directory, else (local masters) spark.local.dir's first entry or java.io.tmpdir. */
  private static String defaultParent(SparkContext sc) {
    if (sc.getCheckpointDir().isDefined()) {
      return sc.getCheckpointDir().get();
    }
    if (!sc.isLocal()) {
      throw new BadInputException("RnnEstimator: on master " + sc.master() + " the executors need a directory they all"
          + " reach for the shards: call setWorkDir(\"hdfs://...\") or sparkContext.setCheckpointDir(...)");
    }
    String first = sc.getConf().get("spark.local.dir", System.getProperty("java.io.tmpdir")).split(",")[0].strip();
    // a plain path means the local file system here, whatever fs.defaultFS says
    return new Path(first).toUri().getScheme() == null ? new File(first).toURI().toString() : first;
  }

  @Override
  public RnnEstimator copy(ParamMap extra) {
    return defaultCopy(extra);
  }

  public static MLReader<RnnEstimator> read() {
    return new Reader();
  }

  public static RnnEstimator load(String path) {
    return read().load(path);
  }

  /**
   * Spark's DefaultParamsReader with the class checked first: it made whatever class the metadata
   * names, and a saved RnnModel's directory failed as "NoSuchMethodException: RnnModel.&lt;init&gt;(String)"
   * (a user audit). The class saved may be a subclass (made through its (String uid) constructor,
   * as DefaultParamsReader makes it); anything else is refused naming both classes.
   */
  static final class Reader extends MLReader<RnnEstimator> {
    @Override
    public RnnEstimator load(String path) {
      DefaultParamsReader.Metadata metadata = DefaultParamsReader.loadMetadata(path, sparkSession(), "");
      Class<?> saved;
      try {
        saved = Class.forName(metadata.className(), true, Thread.currentThread().getContextClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalArgumentException(path + ": the saved class " + metadata.className() + " is not on the classpath", e);
      }
      if (!RnnEstimator.class.isAssignableFrom(saved)) {
        throw new IllegalArgumentException(path + ": Expected class name " + RnnEstimator.class.getName() + " (or a subclass)"
            + " but found class name " + metadata.className());
      }
      RnnEstimator estimator;
      try {
        estimator = (RnnEstimator) saved.getConstructor(String.class).newInstance(metadata.uid());
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(metadata.className() + " needs a public (String uid) constructor to be loaded", e);
      }
      metadata.getAndSetParams(estimator, scala.Option.empty());
      return estimator;
    }
  }
}
