package io.sparkrnn.ml;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.OptionRule;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.physical.HashPartitioning;
import org.apache.spark.sql.execution.FileSourceScanExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A trained RNN, LSTM or GRU as a Spark ML {@code Model}: {@link #transform} scores a long-format
 * table (one row per key and time) on the executors, each key's rows in time order with the
 * recurrent state carried from row to row.
 *
 * <p>What {@code transform} returns:
 * <ul>
 *   <li>seq2seq: every input row, plus {@code prediction} (array&lt;double&gt;, O values: the
 *       model's output after that row's step, given the key's rows up to and including it, in the
 *       table's units) and, for class models, {@code probability} and {@code predictedClass};
 *       with {@link #setForecastSteps} k &gt; 0, also k forecast rows per key after its last row
 *       and a {@code forecast} flag (see {@link #setForecastSteps}).
 *   <li>seq2one: one row per window ({@code stride} S &gt; 0: every S rows) or per key (stride 0:
 *       its last T rows): the window's last row (every column of the table) and the outputs.
 * </ul>
 * How: Spark shuffles the rows by key and sorts them by (key, order) unless the table already is
 * so ({@link #clusteredByKey}: then neither runs), and each task parses the broadcast model once
 * and steps its partition's keys, up to 8 side by side ({@link SeriesScorer}). Nothing is
 * collected to the driver.
 *
 * <p>Saved ({@link #write}) as a directory: Spark ML's {@code metadata/} (params, uid) and
 * {@code model.safetensors}, the file {@code bin/spark-rnn train} writes (PyTorch names, the
 * configuration and the training data's normalisation in its metadata), which
 * {@code bin/spark-rnn evaluate|predict|generate|export --model DIR/model.safetensors} take as
 * it is.
 */
public class RnnModel extends Model<RnnModel> implements MLWritable {
  private static final long serialVersionUID = 1L;
  /** The model file inside a saved directory. */
  public static final String MODEL_FILE = TrainedModel.MODEL_FILE;

  private final String uid;
  /** The bytes of model.safetensors: the single source of the weights and normalisation. */
  private final byte[] modelBytes;
  private transient TrainedModel trained;

  private final StringArrayParam keyCols;
  private final Param<String> orderCol;
  private final StringArrayParam inputCols;
  private final StringArrayParam targetCols;
  private final IntParam horizon;
  private final Param<String> predictionCol;
  private final Param<String> probabilityCol;
  private final Param<String> predictedClassCol;
  private final IntParam forecastSteps;
  private final Param<String> forecastCol;
  private final IntParam steps;
  private final IntParam stride;
  private final IntParam feedback;
  private final Param<String> missing;

  /**
   * @param modelBytes a model file's bytes (model.safetensors), checked here
   */
  public RnnModel(String uid, byte[] modelBytes) {
    this.uid = uid;
    this.modelBytes = modelBytes.clone();
    this.trained = TrainedModel.fromBytes(this.modelBytes, "RnnModel " + uid);
    // params after uid: a Param records its parent's uid when it is made
    this.keyCols = RnnColumns.keyCols(this);
    this.orderCol = RnnColumns.orderCol(this);
    this.inputCols = RnnColumns.inputCols(this);
    this.targetCols = RnnColumns.targetCols(this);
    this.horizon = RnnColumns.horizon(this);
    this.predictionCol = RnnColumns.predictionCol(this);
    this.probabilityCol = RnnColumns.probabilityCol(this);
    this.predictedClassCol = RnnColumns.predictedClassCol(this);
    this.forecastSteps = new IntParam(this, "forecastSteps", "k: closed-loop forecast rows appended after"
        + " each key's last row (seq2seq models whose targets are their inputs)",
        RnnColumns.validator("forecastSteps", OptionRule.atLeast(0)));
    this.forecastCol = new Param<>(this, "forecastCol", "output column (boolean) marking forecast"
        + " rows, when forecastSteps > 0", RnnColumns.validator("forecastCol", RnnColumns.COLUMN));
    // steps, stride and feedback share the estimator's names, so fit copies what the model was trained with
    this.steps = new IntParam(this, "steps", "T, rows per window of a seq2one model (the estimator's steps; 0: unknown,"
        + " the whole series)", RnnColumns.validator("steps", OptionRule.atLeast(0)));
    this.stride = new IntParam(this, "stride", "seq2one models: S > 0 scores a window of T rows every S rows of a key;"
        + " 0 one row per key, from its last T rows", RnnColumns.validator("stride", TableSpec.RULES.get("stride")));
    this.feedback = new IntParam(this, "feedback", "evaluate: the closed-loop loss over each key's last K rows, forecast"
        + " from K inputs that are the model's own outputs, as train's --feedback (seq2seq models whose targets are their"
        + " inputs); 0 none",
        RnnColumns.validator("feedback", TrainConfig.RULES.get("feedback")));
    // the estimator's name, so fit copies how the table's missing values were handled: a model fit with ffill
    // scores a hole as fit filled it (a user audit: the rows after a hole scored as if it were dropped)
    this.missing = new Param<>(this, "missing", "a null, NaN, Inf or number past float32's range in an input column: ffill"
        + " repeats the key's last valid value of that column and scores the row, as fit with ffill trained on it; error"
        + " and drop (the estimator's others) give the row a null prediction and leave the state as it was",
        RnnColumns.validator("missing", TableSpec.RULES.get("missing")));
    setDefault(missing, "drop");
    setDefault(steps, 0);
    setDefault(stride, 0);
    setDefault(feedback, 0);
    setDefault(keyCols, new String[0]);
    setDefault(targetCols, new String[0]);
    setDefault(horizon, -1);
    setDefault(predictionCol, "prediction");
    setDefault(probabilityCol, "probability");
    setDefault(predictedClassCol, "predictedClass");
    setDefault(forecastSteps, 0);
    setDefault(forecastCol, "forecast");
  }

  /** A model of {@code model.safetensors} bytes with a fresh uid; set its columns before {@link #transform}. */
  public RnnModel(byte[] modelBytes) {
    this(Identifiable.randomUID("rnnModel"), modelBytes);
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

  // ---- params: the columns (copied from the estimator) and the outputs ----

  public StringArrayParam keyCols() {
    return keyCols;
  }

  public String[] getKeyCols() {
    return getOrDefault(keyCols);
  }

  public RnnModel setKeyCols(String... value) {
    return (RnnModel) set(keyCols, value);
  }

  public Param<String> orderCol() {
    return orderCol;
  }

  public String getOrderCol() {
    return isDefined(orderCol) ? getOrDefault(orderCol) : null;
  }

  public RnnModel setOrderCol(String value) {
    return (RnnModel) set(orderCol, value);
  }

  public StringArrayParam inputCols() {
    return inputCols;
  }

  public String[] getInputCols() {
    return isDefined(inputCols) ? getOrDefault(inputCols) : new String[0];
  }

  public RnnModel setInputCols(String... value) {
    return (RnnModel) set(inputCols, value);
  }

  public StringArrayParam targetCols() {
    return targetCols;
  }

  public String[] getTargetCols() {
    return getOrDefault(targetCols);
  }

  public RnnModel setTargetCols(String... value) {
    return (RnnModel) set(targetCols, value);
  }

  public IntParam horizon() {
    return horizon;
  }

  public int getHorizon() {
    return (Integer) getOrDefault(horizon);
  }

  public RnnModel setHorizon(int value) {
    return (RnnModel) set(horizon, value);
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public String getPredictionCol() {
    return getOrDefault(predictionCol);
  }

  public RnnModel setPredictionCol(String value) {
    return (RnnModel) set(predictionCol, value);
  }

  public Param<String> probabilityCol() {
    return probabilityCol;
  }

  public String getProbabilityCol() {
    return getOrDefault(probabilityCol);
  }

  public RnnModel setProbabilityCol(String value) {
    return (RnnModel) set(probabilityCol, value);
  }

  public Param<String> predictedClassCol() {
    return predictedClassCol;
  }

  public String getPredictedClassCol() {
    return getOrDefault(predictedClassCol);
  }

  public RnnModel setPredictedClassCol(String value) {
    return (RnnModel) set(predictedClassCol, value);
  }

  public IntParam forecastSteps() {
    return forecastSteps;
  }

  public int getForecastSteps() {
    return (Integer) getOrDefault(forecastSteps);
  }

  /**
   * k &gt; 0: after each key's last row, k rows forecast closed loop. Forecast row i sits at the
   * last order value + i spacings (integers: + i; timestamps, dates, floating: the key's median
   * spacing); its input columns hold the values forecast for its time (the previous row's
   * prediction, fed back as the model's input) and its prediction is the model's output after
   * that step, as for every row. Needs a seq2seq regression model whose targets are its inputs
   * one step ahead; otherwise {@link #transform} refuses, saying why.
   */
  public RnnModel setForecastSteps(int value) {
    return (RnnModel) set(forecastSteps, value);
  }

  public Param<String> forecastCol() {
    return forecastCol;
  }

  public String getForecastCol() {
    return getOrDefault(forecastCol);
  }

  public RnnModel setForecastCol(String value) {
    return (RnnModel) set(forecastCol, value);
  }

  public IntParam steps() {
    return steps;
  }

  public int getSteps() {
    return (Integer) getOrDefault(steps);
  }

  /** T, the rows of one window of a seq2one model ({@link #setStride}); fit sets it to the estimator's steps. */
  public RnnModel setSteps(int value) {
    return (RnnModel) set(steps, value);
  }

  public IntParam stride() {
    return stride;
  }

  public int getStride() {
    return (Integer) getOrDefault(stride);
  }

  /**
   * Seq2one models: S &gt; 0 gives one row per window of {@link #getSteps T} rows, windows starting
   * at a key's rows 0, S, 2S, … (as training cut them; a key shorter than T gets one window of its
   * rows); 0 gives one row per key, the prediction after its last T rows (all its rows when T is 0).
   * Each window starts from a zero state. Seq2seq models ignore it.
   */
  public RnnModel setStride(int value) {
    return (RnnModel) set(stride, value);
  }

  public IntParam feedback() {
    return feedback;
  }

  public int getFeedback() {
    return (Integer) getOrDefault(feedback);
  }

  /**
   * K &gt; 0: {@link #evaluate} also reports the closed-loop loss as train's {@code --feedback K}
   * does: each key's rows but its last K + 1 drive the model, which then forecasts those rows on
   * its own outputs ({@link #setForecastSteps}); the forecasts of held-out rows 2 … K + 1 (the
   * predictions at forecast rows 1 … K, each from a fed-back input) are compared with the key's
   * last K rows.
   */
  public RnnModel setFeedback(int value) {
    return (RnnModel) set(feedback, value);
  }

  public Param<String> missing() {
    return missing;
  }

  public String getMissing() {
    return getOrDefault(missing);
  }

  /**
   * How {@link #transform} takes a missing input value (null, NaN, ±Inf, past float32's range):
   * {@code ffill} repeats the key's last valid value of that column and scores the row (a key's
   * leading missing rows, with nothing to repeat, get a null prediction); {@code error} and
   * {@code drop} give the row a null prediction and leave the state as it was. fit copies the
   * estimator's; a model saved before this param scores as drop.
   */
  public RnnModel setMissing(String value) {
    return (RnnModel) set(missing, value);
  }

  // ---- the model ----

  /** The parsed model file (weights, configuration, normalisation); shared, read only. */
  public TrainedModel trainedModel() {
    if (trained == null) {
      trained = TrainedModel.fromBytes(modelBytes, "RnnModel " + uid);
    }
    return trained;
  }

  /** A copy of the model file's bytes, as {@code bin/spark-rnn} reads them. */
  public byte[] modelBytes() {
    return modelBytes.clone();
  }

  // ---- transform ----

  @Override
  public StructType transformSchema(StructType schema) {
    ModelConfig c = trainedModel().config();
    String[] inputs = getInputCols();
    int scalars = 0;
    int arrays = 0;                                       // arrays and vectors: at least one value each, checked per row
    for (String in : inputs) {
      int width = RnnColumns.inputWidth("RnnModel", RnnColumns.field("RnnModel", schema, in, "inputCols"));
      scalars += width;
      arrays += width == 0 ? 1 : 0;
    }
    if (arrays == 0 ? scalars != c.inputSize() : scalars + arrays > c.inputSize()) {
      throw new BadInputException("RnnModel: inputCols " + Arrays.toString(inputs) + " give "
          + (arrays == 0 ? scalars : "at least " + (scalars + arrays)) + " features; the model was trained on F=" + c.inputSize()
          + (inputs.length == 0 ? ": name its input columns with setInputCols" : ""));
    }
    int k = getForecastSteps();
    if (k > 0) {
      String why = whyNoForecast(c);
      if (why != null) {
        throw new BadInputException("RnnModel: setForecastSteps(" + k + ") feeds each output back as the next step's "
            + "inputs, which " + why + "; use forecastSteps 0");
      }
    }
    boolean seq2one = c.mode() == Mode.SEQ2ONE;
    if (seq2one && getStride() > 0 && getSteps() == 0) {
      throw new BadInputException("RnnModel: setStride(" + getStride() + ") scores windows of T rows; set T with"
          + " setSteps (fit sets it to the estimator's steps)");
    }
    boolean classes = c.loss() == LossType.CROSS_ENTROPY;
    return RnnColumns.outputSchema("RnnModel", schema, getKeyCols(), getOrderCol(), inputs,
        new String[] {getPredictionCol(), getProbabilityCol(), getPredictedClassCol()}, getForecastCol(),
        new RnnColumns.Shape(seq2one, classes, k));
  }

  /** Why closed-loop forecasting does not apply to this model, or null when it does. */
  private String whyNoForecast(ModelConfig c) {
    if (c.mode() != Mode.SEQ2SEQ) {
      return "needs a seq2seq model (this one is seq2one: one output per window)";
    }
    if (c.loss() != LossType.MSE) {
      return "needs a regression model (this one predicts classes)";
    }
    String[] targets = getTargetCols();
    String[] inputs = getInputCols();
    // compared as the session resolves names: "TEMP" and "temp" are one column unless spark.sql.caseSensitive (a mutation audit)
    boolean same = targets.length == inputs.length;
    for (int i = 0; same && i < targets.length; i++) {
      same = RnnColumns.sameColumn(targets[i], inputs[i]);
    }
    if (targets.length > 0 && !same) {
      return "needs the targets to be the inputs (targetCols " + Arrays.toString(targets) + " differ from inputCols "
          + Arrays.toString(getInputCols()) + ")";
    }
    if (getHorizon() != -1 && getHorizon() != 1) {
      return "needs the targets one step ahead (horizon " + getHorizon() + ")";
    }
    if (c.inputSize() != c.outputSize()) {
      return "needs as many outputs as inputs (F=" + c.inputSize() + ", O=" + c.outputSize() + ")";
    }
    return null;
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    return transform(dataset, SeriesScorer.Limits.DEFAULT);
  }

  /** {@link #transform(Dataset)} with other {@link SeriesScorer.Limits} (tests: every path of the scorer on a small table). */
  Dataset<Row> transform(Dataset<?> dataset, SeriesScorer.Limits limits) {
    return RnnColumns.resolvingAs(dataset, () -> transformResolved(dataset, limits));
  }

  private Dataset<Row> transformResolved(Dataset<?> dataset, SeriesScorer.Limits limits) {
    if (dataset.isStreaming()) {
      // each key's state runs over all its rows in order; a micro-batch holds some of them, in no order across batches
      throw new BadInputException("RnnModel.transform: the table is a streaming DataFrame; transform scores each key's whole"
          + " series in order and takes a batch table (read the stream's sink as a table, or score each micro-batch's"
          + " complete series in foreachBatch)");
    }
    StructType outSchema = transformSchema(dataset.schema(), true);
    ModelConfig c = trainedModel().config();
    Dataset<Row> table = dataset.toDF();
    StructType schema = table.schema();
    String[] keys = getKeyCols();
    int[] keyIdx = new int[keys.length];
    String[] keyNames = new String[keys.length];
    for (int i = 0; i < keys.length; i++) {
      keyIdx[i] = RnnColumns.index(schema, keys[i]);
      keyNames[i] = schema.fields()[keyIdx[i]].name();
    }
    int orderIdx = RnnColumns.index(schema, getOrderCol());
    String[] inputs = getInputCols();
    int[] inputIdx = new int[inputs.length];
    DataType[] inputTypes = new DataType[inputs.length];
    for (int f = 0; f < inputs.length; f++) {
      inputIdx[f] = RnnColumns.index(schema, inputs[f]);
      inputTypes[f] = schema.fields()[inputIdx[f]].dataType();
    }
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(table.sparkSession().sparkContext());
    Broadcast<byte[]> model = sc.broadcast(modelBytes);
    SeriesScorer scorer = new SeriesScorer(model, keyIdx, orderIdx, inputIdx, inputTypes, schema.fields()[orderIdx].dataType(),
        schema.length(), outSchema.length(), c.mode() == Mode.SEQ2ONE, c.loss() == LossType.CROSS_ENTROPY,
        getForecastSteps(), getSteps(), getStride(), limits,
        Arrays.stream(keyIdx).mapToObj(k -> schema.fields()[k].dataType()).toArray(DataType[]::new),
        TableSpec.Missing.parse(getMissing()) == TableSpec.Missing.FFILL);
    Column order = SequenceTables.quoted(schema.fields()[orderIdx].name());
    Dataset<Row> sorted = keys.length == 0
        ? table.repartition(1).sortWithinPartitions(order)    // the whole table is one series: one task, its rows in order
        : clusteredByKey(table, keyNames, order);
    return withTypes(sorted.mapPartitions(scorer, Encoders.row(outSchema)), outSchema);
  }

  /**
   * {@code scored} with the column types of {@code outSchema}: Spark's Row encoder gives a collated
   * string column back without its collation, so such columns are cast to the type transformSchema
   * promises, addressed by position (names may hold dots); the same Dataset where nothing differs.
   */
  private static Dataset<Row> withTypes(Dataset<Row> scored, StructType outSchema) {
    StructField[] got = scored.schema().fields();
    boolean differ = false;
    for (int i = 0; i < got.length; i++) {
      differ |= !got[i].dataType().equals(outSchema.fields()[i].dataType());
    }
    if (!differ) {
      return scored;
    }
    String[] slots = IntStream.range(0, got.length).mapToObj(i -> "_c" + i).toArray(String[]::new);
    Dataset<Row> positional = scored.toDF(slots);
    Column[] typed = new Column[got.length];
    for (int i = 0; i < typed.length; i++) {
      StructField want = outSchema.fields()[i];
      typed[i] = positional.col(slots[i]).cast(want.dataType()).as(want.name(), want.metadata());
    }
    return positional.select(typed);
  }

  /**
   * The table with each key's rows in one partition, sorted by (keys, order): a shuffle by the keys
   * and a sort within partitions, both dropped by Spark where the table already has them. A table
   * whose physical plan is hash-partitioned into n partitions by exactly the key columns, in their
   * order (a user's {@code repartition(n, keys)}, cached or not), is repartitioned into the same n,
   * which Spark's planner drops as a repartition its input already has, and a sort its input
   * already has is dropped likewise; any other table (a bucketed one included: see below) is
   * repartitioned by the keys into {@code spark.sql.shuffle.partitions} (coalesced by adaptive
   * execution) and sorted.
   */
  static Dataset<Row> clusteredByKey(Dataset<Row> table, String[] keyNames, Column order) {
    int n = hashPartitionsOn(table, keyNames);
    Column[] keys = Arrays.stream(keyNames).map(SequenceTables::quoted).toArray(Column[]::new);
    Column[] sort = Arrays.copyOf(keys, keys.length + 1);
    sort[keys.length] = order;
    // Otherwise by the hash of struct(keys), which puts a key's rows together as the keys' own hash
    // would but which no partitioning Spark finds in a table equals: a table bucketed by the keys
    // into as many buckets as shuffle partitions would see repartition(keys) dropped and then be
    // read unbucketed (nothing would require the buckets any more), a key's rows in several splits
    return (n > 0 ? table.repartition(n, keys) : table.repartition(functions.struct(keys))).sortWithinPartitions(sort);
  }

  /**
   * Whether the plan reads a bucketed table as buckets: its partitioning may then be the buckets',
   * which Spark stops reading as such (DisableUnnecessaryBucketedScan) once nothing above the scan
   * requires it — as after it drops a repartition the buckets satisfy.
   */
  private static boolean readsBuckets(SparkPlan plan) {
    if (plan instanceof FileSourceScanExec scan && scan.bucketedScan()) {
      return true;
    }
    for (SparkPlan child : scala.jdk.javaapi.CollectionConverters.asJava(plan.children())) {
      if (readsBuckets(child)) {
        return true;
      }
    }
    return false;
  }

  /**
   * n when the table's physical plan is hash-partitioned into n partitions by exactly these
   * columns, in this order, and reads no bucketed table as buckets; else 0. Planning only (no job
   * runs, but for the file listing Spark may do to prune a partitioned table).
   */
  static int hashPartitionsOn(Dataset<Row> table, String[] columns) {
    SparkPlan plan = table.queryExecution().executedPlan();
    if (plan instanceof AdaptiveSparkPlanExec adaptive) {
      plan = adaptive.inputPlan();
    }
    if (!(plan.outputPartitioning() instanceof HashPartitioning hash)
        || readsBuckets(plan)) {
      return 0;
    }
    List<Expression> on = scala.jdk.javaapi.CollectionConverters.asJava(hash.expressions());
    if (on.size() != columns.length) {
      return 0;
    }
    for (int i = 0; i < columns.length; i++) {
      if (!(on.get(i) instanceof Attribute a) || !a.name().equals(columns[i])) {
        return 0;
      }
    }
    return hash.numPartitions();
  }

  // ---- evaluate ----

  /**
   * Scores the model on a table with its targets, as {@code bin/spark-rnn evaluate} scores a
   * dataset, and returns one row of metrics (a DataFrame, computed on the executors when it is
   * read; nothing is collected here):
   * <ul>
   *   <li>{@code loss}: the teacher-forced mean loss in model units, the training loss's mean
   *       (mse: Σ_o Σ_rows ((ŷ_o − y_o) / std_o)² / (rows · O); cross_entropy: mean −log p(class));
   *   <li>{@code accuracy}, {@code perplexity} = e^loss: class models (null otherwise);
   *   <li>{@code rmse_<target>}, {@code mae_<target>}: regression models, per target column, in the
   *       table's own units (the recorded normalisation undone);
   *   <li>{@code rows}: the predictions scored;
   *   <li>{@code closed_loop_loss} (mse, model units) and, for regression models,
   *       {@code closed_loop_rmse_<target>} (table units), with {@link #setFeedback K} &gt; 0: each
   *       key's rows but its last K + 1 drive the model; the last driven row's prediction (of the
   *       first held-out row, from real inputs) is not scored, and {@link #setForecastSteps K}
   *       forecasts the other K, each from a fed-back input (as train's {@code --feedback K}),
   *       compared with the key's last K rows (keys with fewer than K + 3 rows give none, K + 2 with
   *       an integer order column, which needs no spacing); null when K = 0;
   *       {@code closed_loop_rows}: the forecasts scored.
   * </ul>
   * Seq2seq: the predictions are {@link #transform}'s (each key's rows in order, the state
   * carried, from a zero state at its first row); row t's prediction is compared with the target
   * column's value {@code horizon} rows later in the key's order (-1: 1 when the targets include
   * an input, else 0). Seq2one: one prediction per window of {@link #setSteps T} rows, windows
   * every {@link #setStride S} rows (S = 0: every T rows, as training cuts them), compared with
   * the target {@code horizon} rows after the window's last row. A prediction counts when it and
   * its target are present and finite.
   *
   * @throws IllegalArgumentException a missing or mistyped column, a seq2one model without T, or
   *     feedback on a model that cannot forecast (before any job)
   */
  public Dataset<Row> evaluate(Dataset<?> dataset) {
    return RnnColumns.resolvingAs(dataset, () -> evaluateResolved(dataset));
  }

  private Dataset<Row> evaluateResolved(Dataset<?> dataset) {
    ModelConfig c = trainedModel().config();
    boolean seq2one = c.mode() == Mode.SEQ2ONE;
    boolean classes = c.loss() == LossType.CROSS_ENTROPY;
    String[] inputs = getInputCols();
    StructType schema = dataset.schema();
    String[] named = getTargetCols().length > 0 ? getTargetCols() : inputs;
    // the table's own names, as transform's output keeps them: the metric columns are rmse_<the table's name>
    // whatever case the params spell it in (a user audit), and a column named twice is refused (its metric
    // columns would clash)
    String[] targets = new String[named.length];
    for (int i = 0; i < named.length; i++) {
      RnnColumns.checkTarget("RnnModel.evaluate", schema, named[i], classes);
      targets[i] = RnnColumns.nameIn(schema, named[i]);
      for (int j = 0; j < i; j++) {
        if (targets[j].equals(targets[i])) {
          throw new BadInputException("RnnModel.evaluate: " + (getTargetCols().length > 0 ? "targetCols" : "inputCols (the targets)")
              + " names column '" + targets[i] + "' twice; name each target column once");
        }
      }
    }
    int O = c.outputSize();
    if (classes ? targets.length != 1 : targets.length != O) {
      throw new BadInputException("RnnModel.evaluate: targetCols " + Arrays.toString(targets) + " give "
          + targets.length + " targets; the model has " + (classes ? "one class id column (O=" + O + " classes)" : "O=" + O
          + " outputs"));
    }
    if (seq2one && getSteps() == 0) {
      throw new BadInputException("RnnModel.evaluate: a seq2one model is scored on windows of T rows; set T with"
          + " setSteps (fit sets it to the estimator's steps)");
    }
    int feedbackRows = getFeedback();
    if (feedbackRows > 0) {
      String why = whyNoForecast(c);
      if (why != null) {
        throw new BadInputException("RnnModel.evaluate: setFeedback(" + feedbackRows + ") forecasts each key's last"
            + " rows from the model's own outputs, which " + why + "; use feedback 0");
      }
      RnnColumns.checkNoKeyAmongInputs("RnnModel.evaluate", schema, getKeyCols(), getOrderCol(), inputs,
          "setFeedback(" + feedbackRows + ")");
      // the closed loop runs transform's forecast rows, whose refusal of a decimal order named forecastSteps,
      // a param the caller never set (a docs audit)
      String orderName = RnnColumns.nameIn(schema, getOrderCol());   // the table's spelling, as transform's refusals
      DataType order = schema.apply(orderName).dataType();
      if (order instanceof DecimalType) {
        throw new BadInputException("RnnModel.evaluate: setFeedback(" + feedbackRows + ") forecasts past each key's last"
            + " driven row, which needs orderCol '" + orderName + "' to be a timestamp, date, integer or floating column,"
            + " found " + order.simpleString() + " (cast it to double); use feedback 0");
      }
    }
    // the default horizon, as fit's (TableSpec.effectiveHorizon): 1 where a target is an input, names compared
    // as the session resolves them (compared as strings, "TEMP" against "temp" scored each row against itself)
    int K = getHorizon() >= 0 ? getHorizon()
        : Arrays.stream(inputs).anyMatch(i -> Arrays.stream(targets).anyMatch(t -> RnnColumns.sameColumn(i, t))) ? 1 : 0;
    Dataset<Row> used = usedColumns(dataset, targets);
    Dataset<Row> pairs = seq2one ? windowPairs(used, targets, K, classes) : rowPairs(used, targets, K, classes);
    Column prediction = pairs.col("prediction");
    Column[] truth = new Column[targets.length];
    Column valid = prediction.isNotNull();
    for (int i = 0; i < targets.length; i++) {
      truth[i] = pairs.col("target" + i);
      valid = valid.and(classes ? truth[i].isNotNull() : finite(truth[i]));
    }
    if (classes) {
      // a class id outside [0, O) is bad input, as fit has it, not a row to leave out unsaid
      Column cls = functions.when(truth[0].isNotNull().and(truth[0].lt(0).or(truth[0].geq(O))),
          functions.raise_error(functions.concat(functions.lit("RnnModel.evaluate: targetCols column '" + targets[0]
              + "' holds class id "), truth[0].cast("string"), functions.lit(", expected an integer in [0, " + O + ")"
              + " (the model's classes)")))).otherwise(truth[0]).cast("int");
      Column p = functions.element_at(pairs.col("probability"), cls.plus(1));
      Column hit = pairs.col("predictedClass").equalTo(cls).cast("double");
      Dataset<Row> sums = pairs.agg(functions.avg(functions.when(valid, functions.log(p).multiply(-1))).as("loss"),
          functions.avg(functions.when(valid, hit)).as("accuracy"),
          functions.count(functions.when(valid, functions.lit(1))).as("rows"));
      return sums.select(sums.col("loss"), sums.col("accuracy"), functions.exp(sums.col("loss")).as("perplexity"),
          sums.col("rows"), functions.lit(null).cast("double").as("closed_loop_loss"),
          functions.lit(0L).as("closed_loop_rows"));
    }
    Regression teacherForced = regression(pairs, valid, targets, "");
    List<Column> out = new ArrayList<>();
    out.add(teacherForced.loss().as("loss"));
    out.add(functions.lit(null).cast("double").as("accuracy"));
    out.add(functions.lit(null).cast("double").as("perplexity"));
    out.addAll(teacherForced.perTarget(true));
    out.add(teacherForced.rows().as("rows"));
    Dataset<Row> metrics = teacherForced.sums();
    if (feedbackRows > 0) {
      Regression closed = closedLoop(used, targets, feedbackRows);
      metrics = metrics.crossJoin(closed.sums());
      out.add(closed.loss().as("closed_loop_loss"));
      out.addAll(closed.perTarget(false));
      out.add(closed.rows().as("closed_loop_rows"));
    } else {
      out.add(functions.lit(null).cast("double").as("closed_loop_loss"));
      for (String t : targets) {
        out.add(functions.lit(null).cast("double").as("closed_loop_rmse_" + t));
      }
      out.add(functions.lit(0L).as("closed_loop_rows"));
    }
    return metrics.select(out.toArray(new Column[0]));
  }

  /** Seq2seq: transform's prediction of each row beside its targets K rows later in the key's order. */
  private Dataset<Row> rowPairs(Dataset<?> dataset, String[] targets, int K, boolean classes) {
    RnnModel scorer = copy(new ParamMap()).setForecastSteps(0);
    Dataset<Row> scored = scorer.transform(dataset);   // checks the input columns before any job
    WindowSpec inOrder = inKeyOrder(scored, named(scored, getOrderCol()));
    List<Column> paired = predictionColumns(scored, classes);
    for (int i = 0; i < targets.length; i++) {
      Column t = named(scored, targets[i]);
      paired.add((K == 0 ? t : functions.lead(t, K).over(inOrder)).as("target" + i));
    }
    return scored.select(paired.toArray(new Column[0]));
  }

  /**
   * Seq2one: one prediction per window (transform with stride S, or T when S = 0), joined on
   * (key, the window's last order value) with the targets K rows after that row.
   */
  private Dataset<Row> windowPairs(Dataset<?> dataset, String[] targets, int K, boolean classes) {
    RnnModel scorer = copy(new ParamMap()).setForecastSteps(0).setStride(getStride() > 0 ? getStride() : getSteps());
    Dataset<Row> scored = scorer.transform(dataset);   // checks the input columns before any job
    Dataset<Row> table = dataset.toDF();
    String[] keys = getKeyCols();
    WindowSpec inOrder = inKeyOrder(table, named(table, getOrderCol()));
    List<Column> ahead = new ArrayList<>();
    for (int i = 0; i < keys.length; i++) {
      ahead.add(named(table, keys[i]).as("__key" + i));
    }
    ahead.add(named(table, getOrderCol()).as("__order"));
    for (int i = 0; i < targets.length; i++) {
      Column t = named(table, targets[i]);
      ahead.add((K == 0 ? t : functions.lead(t, K).over(inOrder)).as("target" + i));
    }
    Dataset<Row> future = table.select(ahead.toArray(new Column[0]));
    Column on = named(scored, getOrderCol()).equalTo(future.col("__order"));
    for (int i = 0; i < keys.length; i++) {
      on = on.and(named(scored, keys[i]).eqNullSafe(future.col("__key" + i)));
    }
    Dataset<Row> joined = scored.join(future, on);
    List<Column> paired = predictionColumns(scored, classes);
    for (int i = 0; i < targets.length; i++) {
      paired.add(future.col("target" + i));
    }
    return joined.select(paired.toArray(new Column[0]));
  }

  /**
   * Closed loop as train's {@code --feedback K} (a T-step window whose last K inputs are the
   * model's outputs, scored at those K steps): the rows of each key but its last K + 1 go through
   * transform with K forecast rows. Forecast row j's input is the forecast of held-out row j, and
   * its prediction, from fed-back inputs only, forecasts held-out row j + 1, the key's j-th of its
   * last K rows (j = 1..K). The last driven row's prediction (of held-out row 1, from real inputs)
   * is not scored, as train does not score the step before its first fed-back input (before
   * 2026-12-07 it was, and K meant K − 1 fed-back steps: a cross-path audit). In the transformed
   * key, ranked from its end (forecast row K is 1), forecast row j is K + 1 − j. Keys whose
   * transform made no forecast rows (no driven row, or one where the order column is not an integer:
   * no spacing) give none.
   */
  private Regression closedLoop(Dataset<?> dataset, String[] targets, int K) {
    Dataset<Row> table = dataset.toDF();
    Dataset<Row> ranked = table.withColumn("__fromEnd",
        functions.row_number().over(inKeyOrder(table, named(table, getOrderCol()).desc())));
    Dataset<Row> head = ranked.filter(ranked.col("__fromEnd").gt(K + 1)).drop("__fromEnd");
    Dataset<Row> tail = ranked.filter(ranked.col("__fromEnd").leq(K));
    Dataset<Row> transformed = copy(new ParamMap()).setForecastSteps(K).transform(head);
    Column forecasts = functions.sum(functions.when(named(transformed, getForecastCol()), 1).otherwise(0))
        .over(Window.partitionBy(Arrays.stream(getKeyCols()).map(k -> named(transformed, k)).toArray(Column[]::new)));
    Dataset<Row> scored = transformed.withColumn("__forecasts", forecasts)
        .withColumn("__fromEnd", functions.row_number().over(inKeyOrder(transformed, named(transformed, getOrderCol()).desc())));
    Dataset<Row> predicted = scored.filter(scored.col("__forecasts").equalTo(K)
        .and(scored.col("__fromEnd").between(1, K)))
        .withColumn("__i", functions.lit(K + 1).minus(scored.col("__fromEnd")));
    String[] keys = getKeyCols();
    List<Column> actual = new ArrayList<>();
    for (int i = 0; i < keys.length; i++) {
      actual.add(named(tail, keys[i]).as("__key" + i));
    }
    actual.add(functions.lit(K + 1).minus(tail.col("__fromEnd")).as("__i"));
    for (int i = 0; i < targets.length; i++) {
      actual.add(named(tail, targets[i]).as("target" + i));
    }
    Dataset<Row> truth = tail.select(actual.toArray(new Column[0]));
    Column on = predicted.col("__i").equalTo(truth.col("__i"));
    for (int i = 0; i < keys.length; i++) {
      on = on.and(named(predicted, keys[i]).eqNullSafe(truth.col("__key" + i)));
    }
    List<Column> paired = new ArrayList<>();
    paired.add(named(predicted, getPredictionCol()).as("prediction"));
    for (int i = 0; i < targets.length; i++) {
      paired.add(truth.col("target" + i));
    }
    Dataset<Row> pairs = predicted.join(truth, on).select(paired.toArray(new Column[0]));
    Column valid = pairs.col("prediction").isNotNull();
    for (int i = 0; i < targets.length; i++) {
      Column t = pairs.col("target" + i);
      valid = valid.and(finite(t));
    }
    return regression(pairs, valid, targets, "cl_");
  }

  /**
   * The table's key, order, input and target columns, each once: what evaluate scores. Another
   * column named as an output (an earlier model's prediction, a feature called probability) would
   * be refused by transform as a clash, and a seq2one window's row carries every column (a review).
   */
  private Dataset<Row> usedColumns(Dataset<?> dataset, String[] targets) {
    Dataset<Row> table = dataset.toDF();
    StructType schema = table.schema();
    Set<String> names = new LinkedHashSet<>();
    for (String[] group : new String[][] {getKeyCols(), {getOrderCol()}, getInputCols(), targets}) {
      for (String n : group) {
        names.add(RnnColumns.nameIn(schema, n));
      }
    }
    return table.select(names.stream().map(n -> named(table, n)).toArray(Column[]::new));
  }

  /**
   * The user's column {@code name} of {@code table}, taken as one name even with dots in it (as
   * fit and transform take it): {@code table.col("t.s")} would look for a field s of a struct t.
   * Bound to {@code table}, unlike {@link SequenceTables#quoted}, for the self-joins below.
   */
  private static Column named(Dataset<?> table, String name) {
    return table.col(SequenceTables.quotedName(name));
  }

  /**
   * Present and finite as float32: not null, NaN, ±Infinity or past float32's range, as fit and
   * prep take a value (TableRows.fitsFloat; a review: evaluate scored a 1e39 target that fit left
   * out, loss 1.25e77). A double rounds to a finite float below Float.MAX_VALUE + half its ulp.
   */
  private static Column finite(Column value) {
    Column d = value.cast("double");
    return d.isNotNull().and(functions.not(functions.isnan(d))).and(functions.abs(d).lt(FLOAT32_LIMIT));
  }

  /** The least double that rounds to float Infinity: Float.MAX_VALUE + ulp/2 (MAX_VALUE's significand is odd: ties go up). */
  static final double FLOAT32_LIMIT = (double) Float.MAX_VALUE + Math.ulp(Float.MAX_VALUE) / 2.0;

  /** The key columns' window in the given order (the whole table as one key when there are no key columns). */
  private WindowSpec inKeyOrder(Dataset<Row> table, Column order) {
    Column[] keys = Arrays.stream(getKeyCols()).map(k -> named(table, k)).toArray(Column[]::new);
    return Window.partitionBy(keys).orderBy(order);
  }

  /** prediction, and for class models probability and predictedClass, under those names. */
  private List<Column> predictionColumns(Dataset<Row> scored, boolean classes) {
    List<Column> paired = new ArrayList<>();
    paired.add(named(scored, getPredictionCol()).as("prediction"));
    if (classes) {
      paired.add(named(scored, getProbabilityCol()).as("probability"));
      paired.add(named(scored, getPredictedClassCol()).as("predictedClass"));
    }
    return paired;
  }

  /**
   * A regression's sums over (prediction, target0..) pairs, one row: the count of valid pairs
   * and per output o the sums of squared and absolute raw errors; from them the loss in model
   * units, Σ_o sse_o / std_o² / (n · O), and per target RMSE and MAE in the table's units.
   */
  private Regression regression(Dataset<Row> pairs, Column valid, String[] targets, String prefix) {
    int O = targets.length;
    List<Column> aggregates = new ArrayList<>();
    for (int o = 0; o < O; o++) {
      Column error = functions.element_at(pairs.col("prediction"), o + 1).minus(pairs.col("target" + o));   // raw units
      aggregates.add(functions.sum(functions.when(valid, error.multiply(error))).as(prefix + "sse" + o));
      aggregates.add(functions.sum(functions.when(valid, functions.abs(error))).as(prefix + "sae" + o));
    }
    Dataset<Row> sums = pairs.agg(functions.count(functions.when(valid, functions.lit(1))).as(prefix + "rows"),
        aggregates.toArray(new Column[0]));
    return new Regression(sums, prefix, targets, trainedModel().normalization());
  }

  /** One row of regression sums (columns under a prefix) and the metrics over it. */
  private record Regression(Dataset<Row> sums, String prefix, String[] targets, Normalization norm) {
    Column rows() {
      return functions.col(prefix + "rows");
    }

    Column loss() {
      Column scaledSum = functions.lit(0.0);             // Σ_o sse_o / std_o², model units
      for (int o = 0; o < targets.length; o++) {
        double std = norm == null || norm.targetStd() == null ? 1.0 : norm.targetStd()[o];
        scaledSum = scaledSum.plus(functions.col(prefix + "sse" + o).divide(std * std));
      }
      return functions.when(rows().gt(0), scaledSum.divide(rows().multiply(targets.length)));
    }

    /** rmse_ (closed loop: closed_loop_rmse_) per target, and with {@code mae} the mae_ columns. */
    List<Column> perTarget(boolean mae) {
      String name = prefix.isEmpty() ? "" : "closed_loop_";
      List<Column> out = new ArrayList<>();
      for (int o = 0; o < targets.length; o++) {
        out.add(functions.when(rows().gt(0), functions.sqrt(functions.col(prefix + "sse" + o).divide(rows())))
            .as(name + "rmse_" + targets[o]));
        if (mae) {
          out.add(functions.when(rows().gt(0), functions.col(prefix + "sae" + o).divide(rows())).as(name + "mae_" + targets[o]));
        }
      }
      return out;
    }
  }

  @Override
  public RnnModel copy(ParamMap extra) {
    RnnModel copied = copyValues(new RnnModel(uid, modelBytes), extra);
    return copied.setParent(parent());
  }

  // ---- persistence ----

  @Override
  public MLWriter write() {
    return new Writer(this);
  }

  public static MLReader<RnnModel> read() {
    return new Reader();
  }

  public static RnnModel load(String path) {
    return read().load(path);
  }

  /** Spark ML's metadata/ (params) and model.safetensors. */
  static final class Writer extends MLWriter {
    private final RnnModel instance;

    Writer(RnnModel instance) {
      this.instance = instance;
    }

    @Override
    public void saveImpl(String path) {
      DefaultParamsWriter.saveMetadata(instance, path, sparkSession());
      Path file = new Path(path, MODEL_FILE);
      try {
        FileSystem fs = file.getFileSystem(sc().hadoopConfiguration());
        try (OutputStream out = fs.create(file, true)) {
          out.write(instance.modelBytes);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(file + ": cannot write the model: " + e.getMessage(), e);
      }
    }
  }

  static final class Reader extends MLReader<RnnModel> {
    @Override
    public RnnModel load(String path) {
      requireSavedModel(path);
      DefaultParamsReader.Metadata metadata = DefaultParamsReader.loadMetadata(path, sparkSession(), RnnModel.class.getName());
      String file = new Path(path, MODEL_FILE).toString();
      byte[] bytes;
      try {
        bytes = HadoopFiles.read(file, sc().hadoopConfiguration());
      } catch (IOException e) {
        throw new UncheckedIOException(file + ": cannot read the model: " + e.getMessage(), e);
      }
      RnnModel model;
      try {
        model = new RnnModel(metadata.uid(), bytes);
      } catch (BadInputException e) {   // the file's problem (damaged, a tensor's shape): name the file
        throw new BadInputException(file + ": " + e.getMessage(), e);
      }
      metadata.getAndSetParams(model, scala.Option.empty());
      return model;
    }

    /**
     * A path that is not a saved RnnModel's directory (its metadata/) is refused saying what load
     * takes: Spark's own error was "[PATH_NOT_FOUND] …/metadata" for a model file or train's --out
     * (a user audit), with no word of {@code new RnnModel(bytes)}, which reads those.
     */
    private void requireSavedModel(String path) {
      Path dir = new Path(path);
      try {
        FileSystem fs = dir.getFileSystem(sc().hadoopConfiguration());
        if (fs.exists(new Path(dir, "metadata"))) {
          return;
        }
        String what = !fs.exists(dir) ? "does not exist"
            : fs.getFileStatus(dir).isFile() ? "is a file"
            : fs.exists(new Path(dir, MODEL_FILE)) ? "holds " + MODEL_FILE + " but no metadata/ (train's --out, say)"
            : "holds no metadata/";
        throw new BadInputException("RnnModel.load: " + path + " " + what + "; load takes the directory RnnModel.save wrote"
            + " (metadata/ and " + MODEL_FILE + "). A model file alone (train's, or import's) is read with new RnnModel(bytes)"
            + " and the column setters (docs/ml.md)");
      } catch (IOException e) {
        throw new UncheckedIOException(path + ": cannot look for the saved model: " + e.getMessage(), e);
      }
    }
  }
}
