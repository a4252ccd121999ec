package io.sparkrnn.ml;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.infer.HadoopFiles;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
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
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
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
 *   <li>seq2one: one row per key: the key columns, the key's last order value and the outputs.
 * </ul>
 * How: {@code repartition(keys)}, {@code sortWithinPartitions(keys, order)}, then one
 * {@code mapPartitions} whose task parses the broadcast model once and steps one session over its
 * keys ({@link SeriesScorer}). Nothing is collected to the driver.
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
  public static final String MODEL_FILE = "model.safetensors";

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
        + " each key's last row (seq2seq models whose targets are their inputs)", ParamValidators.gtEq(0));
    this.forecastCol = new Param<>(this, "forecastCol", "output column (boolean) marking forecast"
        + " rows, when forecastSteps > 0");
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
    if (value < 0) {
      throw new IllegalArgumentException("setForecastSteps: expected k >= 0 rows per key, found " + value);
    }
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
    if (inputs.length != c.inputSize()) {
      throw new IllegalArgumentException("RnnModel: inputCols " + Arrays.toString(inputs) + " give " + inputs.length
          + " features; the model was trained on F=" + c.inputSize());
    }
    int k = getForecastSteps();
    if (k > 0) {
      String why = whyNoForecast(c);
      if (why != null) {
        throw new IllegalArgumentException("RnnModel: setForecastSteps(" + k + ") feeds each output back as the next step's "
            + "inputs, which " + why + "; use forecastSteps 0");
      }
    }
    boolean seq2one = c.mode() == Mode.SEQ2ONE;
    boolean classes = c.loss() == LossType.CROSS_ENTROPY;
    return RnnColumns.outputSchema("RnnModel", schema, getKeyCols(), getOrderCol(), inputs,
        new String[] {getPredictionCol(), getProbabilityCol(), getPredictedClassCol()}, getForecastCol(),
        new RnnColumns.Shape(seq2one, classes, k));
  }

  /** Why closed-loop forecasting does not apply to this model, or null when it does. */
  private String whyNoForecast(ModelConfig c) {
    if (c.mode() != Mode.SEQ2SEQ) {
      return "needs a seq2seq model (this one is seq2one: one output per key)";
    }
    if (c.loss() != LossType.MSE) {
      return "needs a regression model (this one predicts classes)";
    }
    String[] targets = getTargetCols();
    if (targets.length > 0 && !Arrays.equals(targets, getInputCols())) {
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
    StructType outSchema = transformSchema(dataset.schema(), true);
    ModelConfig c = trainedModel().config();
    Dataset<Row> table = dataset.toDF();
    StructType schema = table.schema();
    String[] keys = getKeyCols();
    Column[] keyColumns = new Column[keys.length];
    int[] keyIdx = new int[keys.length];
    for (int i = 0; i < keys.length; i++) {
      keyIdx[i] = RnnColumns.index(schema, keys[i]);
      keyColumns[i] = table.col(schema.fields()[keyIdx[i]].name());
    }
    int orderIdx = RnnColumns.index(schema, getOrderCol());
    String[] inputs = getInputCols();
    int[] inputIdx = new int[inputs.length];
    DataType[] inputTypes = new DataType[inputs.length];
    for (int f = 0; f < inputs.length; f++) {
      inputIdx[f] = RnnColumns.index(schema, inputs[f]);
      inputTypes[f] = schema.fields()[inputIdx[f]].dataType();
    }
    Column[] sortColumns = Arrays.copyOf(keyColumns, keys.length + 1);
    sortColumns[keys.length] = table.col(schema.fields()[orderIdx].name());
    Dataset<Row> sorted = (keys.length == 0 ? table.repartition(1) : table.repartition(keyColumns))
        .sortWithinPartitions(sortColumns);
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(table.sparkSession().sparkContext());
    Broadcast<byte[]> model = sc.broadcast(modelBytes);
    SeriesScorer scorer = new SeriesScorer(model, keyIdx, orderIdx, inputIdx, inputTypes, schema.fields()[orderIdx].dataType(),
        schema.length(), outSchema.length(), c.mode() == Mode.SEQ2ONE, c.loss() == LossType.CROSS_ENTROPY,
        getForecastSteps());
    return sorted.mapPartitions((MapPartitionsFunction<Row, Row>) scorer::score, Encoders.row(outSchema));
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
   *   <li>{@code rows}: the rows scored.
   * </ul>
   * The predictions are {@link #transform}'s (each key's rows in order, the state carried, from a
   * zero state at its first row); row t's prediction is compared with the target column's value
   * {@code horizon} rows later in the key's order (-1: 1 when the targets include an input, else
   * 0). A row counts when its prediction and that target are present and finite.
   *
   * @throws IllegalArgumentException a missing or mistyped column (before any job), or a seq2one model
   */
  public Dataset<Row> evaluate(Dataset<?> dataset) {
    ModelConfig c = trainedModel().config();
    if (c.mode() == Mode.SEQ2ONE) {
      throw new IllegalArgumentException("RnnModel.evaluate: seq2one models are not scored yet (one prediction per key; "
          + "use bin/spark-rnn evaluate on the prepared windows)");
    }
    boolean classes = c.loss() == LossType.CROSS_ENTROPY;
    String[] inputs = getInputCols();
    String[] targets = getTargetCols().length > 0 ? getTargetCols() : inputs;
    StructType schema = dataset.schema();
    for (String t : targets) {
      RnnColumns.checkTarget("RnnModel.evaluate", schema, t, classes);
    }
    int O = c.outputSize();
    if (classes ? targets.length != 1 : targets.length != O) {
      throw new IllegalArgumentException("RnnModel.evaluate: targetCols " + Arrays.toString(targets) + " give "
          + targets.length + " targets; the model has " + (classes ? "one class id column (O=" + O + " classes)" : "O=" + O
          + " outputs"));
    }
    int K = getHorizon() >= 0 ? getHorizon() : (Arrays.asList(inputs).stream().anyMatch(Arrays.asList(targets)::contains) ? 1 : 0);
    RnnModel scorer = copy(new ParamMap()).setForecastSteps(0);
    Dataset<Row> scored = scorer.transform(dataset);   // checks the input columns before any job
    Column[] keys = Arrays.stream(getKeyCols()).map(scored::col).toArray(Column[]::new);
    WindowSpec inOrder = Window.partitionBy(keys).orderBy(scored.col(getOrderCol()));
    // the predictions beside their targets, K rows later in the key's order (a window, before the aggregation)
    List<Column> paired = new ArrayList<>();
    paired.add(scored.col(getPredictionCol()).as("prediction"));
    if (classes) {
      paired.add(scored.col(getProbabilityCol()).as("probability"));
      paired.add(scored.col(getPredictedClassCol()).as("predictedClass"));
    }
    for (int i = 0; i < targets.length; i++) {
      Column t = scored.col(targets[i]);
      paired.add((K == 0 ? t : functions.lead(t, K).over(inOrder)).as("target" + i));
    }
    Dataset<Row> pairs = scored.select(paired.toArray(new Column[0]));
    Column prediction = pairs.col("prediction");
    Column[] truth = new Column[targets.length];
    Column valid = prediction.isNotNull();
    for (int i = 0; i < targets.length; i++) {
      truth[i] = pairs.col("target" + i);
      valid = valid.and(truth[i].isNotNull());
      if (!classes) {
        valid = valid.and(functions.not(functions.isnan(truth[i].cast("double"))));
      }
    }
    if (classes) {
      Column cls = truth[0].cast("int");
      valid = valid.and(cls.geq(0)).and(cls.lt(O));
      Column p = functions.element_at(pairs.col("probability"), cls.plus(1));
      Column hit = pairs.col("predictedClass").equalTo(cls).cast("double");
      Dataset<Row> sums = pairs.agg(functions.avg(functions.when(valid, functions.log(p).multiply(-1))).as("loss"),
          functions.avg(functions.when(valid, hit)).as("accuracy"),
          functions.count(functions.when(valid, functions.lit(1))).as("rows"));
      return sums.select(sums.col("loss"), sums.col("accuracy"), functions.exp(sums.col("loss")).as("perplexity"),
          sums.col("rows"));
    }
    List<Column> aggregates = new ArrayList<>();
    aggregates.add(functions.count(functions.when(valid, functions.lit(1))).as("rows"));
    for (int o = 0; o < O; o++) {
      Column error = functions.element_at(prediction, o + 1).minus(truth[o]);   // raw units
      aggregates.add(functions.sum(functions.when(valid, error.multiply(error))).as("sse" + o));
      aggregates.add(functions.sum(functions.when(valid, functions.abs(error))).as("sae" + o));
    }
    Dataset<Row> sums = pairs.agg(aggregates.get(0), aggregates.subList(1, aggregates.size()).toArray(new Column[0]));
    Normalization norm = trainedModel().normalization();
    Column n = sums.col("rows");
    Column scaledSum = functions.lit(0.0);               // Σ_o sse_o / std_o², model units
    List<Column> perTarget = new ArrayList<>();
    for (int o = 0; o < O; o++) {
      double std = norm == null || norm.targetStd() == null ? 1.0 : norm.targetStd()[o];
      Column sse = sums.col("sse" + o);
      scaledSum = scaledSum.plus(sse.divide(std * std));
      perTarget.add(functions.when(n.gt(0), functions.sqrt(sse.divide(n))).as("rmse_" + targets[o]));
      perTarget.add(functions.when(n.gt(0), sums.col("sae" + o).divide(n)).as("mae_" + targets[o]));
    }
    List<Column> out = new ArrayList<>();
    out.add(functions.when(n.gt(0), scaledSum.divide(n.multiply(O))).as("loss"));
    out.add(functions.lit(null).cast("double").as("accuracy"));
    out.add(functions.lit(null).cast("double").as("perplexity"));
    out.addAll(perTarget);
    out.add(n);
    return sums.select(out.toArray(new Column[0]));
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
      DefaultParamsReader.Metadata metadata = DefaultParamsReader.loadMetadata(path, sparkSession(), RnnModel.class.getName());
      String file = new Path(path, MODEL_FILE).toString();
      byte[] bytes;
      try {
        bytes = HadoopFiles.read(file, sc().hadoopConfiguration());
      } catch (IOException e) {
        throw new UncheckedIOException(file + ": cannot read the model: " + e.getMessage(), e);
      }
      RnnModel model = new RnnModel(metadata.uid(), bytes);
      metadata.getAndSetParams(model, scala.Option.empty());
      return model;
    }
  }
}
