package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;
import java.util.Map;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * What {@code transformSchema} promises before any job, per docs/ml.md ("What transform returns",
 * "Forecasting", "Bad input", the params tables): the output columns and their types, and the
 * refusals that name the param, the column and what was expected. No Spark session: schemas and
 * params need none.
 */
class RnnSchemaTest {
  static final DataType PREDICTION = DataTypes.createArrayType(DataTypes.DoubleType, false);

  static RnnModel model(int features, int outputs, Mode mode, LossType loss) {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, features, 2, outputs, mode, loss);
    return new RnnModel(ModelFile.toBytes(Params.initialize(config, 5), Map.of()));
  }

  /** key k (string, not null), time t, input x, a label column and a site name carried through. */
  static StructType table(DataType time) {
    return new StructType(new StructField[] {
        DataTypes.createStructField("k", DataTypes.StringType, false),
        DataTypes.createStructField("t", time, false),
        DataTypes.createStructField("x", DataTypes.DoubleType, false),
        DataTypes.createStructField("site", DataTypes.StringType, false)});
  }

  static RnnModel regression() {
    return model(1, 1, Mode.SEQ2SEQ, LossType.MSE).setKeyCols("k").setOrderCol("t").setInputCols("x");
  }

  @Test
  void seq2seqOutputIsTheTableThenPredictionArraysAndForClassesTheProbabilityAndAnIntClass() {
    StructType out = model(1, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY).setKeyCols("k").setOrderCol("t").setInputCols("x")
        .transformSchema(table(DataTypes.LongType));
    // docs/ml.md: prediction array<double> (logits), probability array<double>, predictedClass an int
    assertEquals("[k, t, x, site, prediction, probability, predictedClass]", Arrays.toString(out.fieldNames()));
    assertEquals(PREDICTION, out.apply("prediction").dataType());
    assertEquals(PREDICTION, out.apply("probability").dataType());
    assertEquals(DataTypes.IntegerType, out.apply("predictedClass").dataType());
  }

  @Test
  void seq2oneOutputIsTheWindowsLastRowAndTheOutputs() {
    StructType out = model(1, 1, Mode.SEQ2ONE, LossType.MSE).setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3)
        .transformSchema(table(DataTypes.LongType));
    assertEquals("[k, t, x, site, prediction]", Arrays.toString(out.fieldNames()), "docs/ml.md: every column of the table, outputs");
    assertFalse(out.apply("site").nullable(), "a window's last row is a row of the table: its columns keep their nullability");
  }

  @Test
  void withForecastRowsEveryColumnButTheKeysAndTheOrderIsNullableAndAForecastFlagFollows() {
    // docs/ml.md, Forecasting: on forecast rows "every other column of the table (... a label, a site name) is null", the
    // key and order columns are filled; the table's columns here are all non-nullable
    StructType out = regression().setForecastSteps(2).transformSchema(table(DataTypes.LongType));
    assertFalse(out.apply("k").nullable(), "the key is filled on forecast rows");
    assertFalse(out.apply("t").nullable(), "the order value is filled on forecast rows");
    assertTrue(out.apply("x").nullable(), "input: null where its type cannot hold the forecast");
    assertTrue(out.apply("site").nullable(), "a column nothing forecasts is null on forecast rows");
    assertEquals(DataTypes.BooleanType, out.apply("forecast").dataType());
    assertEquals("[k, t, x, site, prediction, forecast]", Arrays.toString(out.fieldNames()));
  }

  @Test
  void orderColumnsOfEveryDocumentedTypeAreAcceptedAndAForecastNeedsOneItCanStep() {
    // docs/ml.md: orderCol is a timestamp, date, integer, floating or decimal column
    for (DataType t : new DataType[] {DataTypes.TimestampType, DataTypes.TimestampNTZType, DataTypes.DateType,
        DataTypes.IntegerType, DataTypes.LongType, DataTypes.DoubleType}) {
      regression().transformSchema(table(t));
      regression().setForecastSteps(1).transformSchema(table(t));
    }
    // forecast rows step integers by 1 and timestamps, dates and floating columns by the median spacing: a decimal is none
    StructType decimal = table(DataTypes.createDecimalType(10, 0));
    regression().transformSchema(decimal);
    assertRefused(() -> regression().setForecastSteps(1).transformSchema(decimal), "RnnModel: forecastSteps", "orderCol 't'",
        "decimal(10,0)");
    assertRefused(() -> regression().transformSchema(table(DataTypes.StringType)), "orderCol column 't' is string",
        "expected a timestamp, date, integer, floating or decimal column");
  }

  @Test
  void anInputArrayOfNonNumbersIsRefusedAndAnUnsetOrderColIsNamed() {
    // docs/ml.md: inputCols are numbers, arrays of numbers or ML Vectors; an array of strings is none of them
    StructType words = table(DataTypes.LongType).add("w", DataTypes.createArrayType(DataTypes.StringType));
    assertRefused(() -> regression().setInputCols("w").transformSchema(words), "inputCols column 'w' is array<string>",
        "expected a number, an array of numbers or an ML Vector");
    StructType numbers = table(DataTypes.LongType).add("v", DataTypes.createArrayType(DataTypes.IntegerType));
    regression().setInputCols("v").transformSchema(numbers);   // an array of any numbers is accepted
    // orderCol has no default: a model without it says to set it, not that a column 'null' is missing
    assertRefused(() -> model(1, 1, Mode.SEQ2SEQ, LossType.MSE).setKeyCols("k").setInputCols("x")
        .transformSchema(table(DataTypes.LongType)), "orderCol is not set", "setOrderCol");
    // a model made from its bytes has no input columns yet: the message names the setter (a user audit)
    assertRefused(() -> model(1, 1, Mode.SEQ2SEQ, LossType.MSE).setKeyCols("k").setOrderCol("t")
        .transformSchema(table(DataTypes.LongType)), "RnnModel: inputCols [] give 0 features; the model was trained on F=1:"
        + " name its input columns with setInputCols");
  }

  @Test
  void theEstimatorRefusesANonNumericRegressionTargetNamingIt() {
    // docs/ml.md: regression targets are numeric columns; a string target is refused before any job
    StructType schema = table(DataTypes.LongType).add("y", DataTypes.StringType);
    assertRefused(() -> new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3).setTargetCols("y")
        .transformSchema(schema), "RnnEstimator: targetCols column 'y' is string", "a numeric column");
  }

  @Test
  void aMapKeyColumnIsRefusedNamingItSinceSparkCannotGroupByIt() {
    StructType schema = table(DataTypes.LongType).add("tags", DataTypes.createMapType(DataTypes.StringType, DataTypes.IntegerType));
    assertRefused(() -> regression().setKeyCols("tags").transformSchema(schema), "RnnModel: keyCols column 'tags'",
        "map<string,int>");
  }

  @Test
  void twoOutputColumnsOfTheSameNameAreRefused() {
    RnnModel classes = model(1, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY).setKeyCols("k").setOrderCol("t").setInputCols("x");
    StructType schema = table(DataTypes.LongType);
    assertRefused(() -> classes.copy(new ParamMap()).setProbabilityCol("prediction").transformSchema(schema),
        "probabilityCol 'prediction' is already a column of the output", "setProbabilityCol");
    assertRefused(() -> classes.copy(new ParamMap()).setPredictedClassCol("Probability").transformSchema(schema),
        "predictedClassCol 'Probability' is already a column of the output");   // names compare without case by default
    assertRefused(() -> regression().setForecastSteps(1).setForecastCol("prediction").transformSchema(schema),
        "forecastCol 'prediction' is already a column of the output");
  }

  @Test
  void forecastingIsRefusedForEveryModelThatCannotFeedItsOutputsBack() {
    // docs/ml.md: only a seq2seq regression model whose targets are its inputs one step ahead (horizon 1, F = O) can
    StructType schema = table(DataTypes.LongType).add("y", DataTypes.DoubleType);
    regression().setForecastSteps(3).transformSchema(schema);
    regression().setHorizon(1).setForecastSteps(3).transformSchema(schema);
    assertRefused(() -> regression().setHorizon(0).setForecastSteps(3).transformSchema(schema), "setForecastSteps(3)",
        "one step ahead (horizon 0)");
    assertRefused(() -> model(1, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY).setKeyCols("k").setOrderCol("t").setInputCols("x")
        .setForecastSteps(3).transformSchema(schema), "setForecastSteps(3)", "regression");
    assertRefused(() -> model(1, 1, Mode.SEQ2ONE, LossType.MSE).setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3)
        .setForecastSteps(3).transformSchema(schema), "setForecastSteps(3)", "seq2seq");
    // a model file with O = 2 outputs for F = 1 input (imported, say): two outputs cannot be fed into one input
    assertRefused(() -> model(1, 2, Mode.SEQ2SEQ, LossType.MSE).setKeyCols("k").setOrderCol("t").setInputCols("x")
        .setForecastSteps(3).transformSchema(schema), "setForecastSteps(3)", "F=1, O=2");
    assertRefused(() -> regression().setTargetCols("y").setForecastSteps(3).transformSchema(schema), "setForecastSteps(3)",
        "targetCols [y] differ from inputCols [x]");
  }

  /** A struct's field ("reading.temp") is not a column the estimator reads: the refusal says so and how to select it (a user audit). */
  @Test
  void aStructFieldIsRefusedSayingHowToSelectIt() {
    StructType schema = table(DataTypes.LongType).add("reading", new StructType().add("temp", DataTypes.DoubleType));
    assertRefused(() -> new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("reading.temp").setSteps(3)
        .transformSchema(schema), "inputCols column 'reading.temp' is not in the table", "'reading.temp' is a field of the struct"
        + " column 'reading', and the estimator reads top-level columns: select it as one first, e.g."
        + " withColumn(\"reading_temp\", col(\"reading.temp\"))");
  }

  @Test
  void theEstimatorRefusesANonIntegerClassColumnNamingIt() {
    // docs/ml.md: classes > 0 takes one integer target column of class ids
    StructType schema = table(DataTypes.LongType).add("label", DataTypes.DoubleType).add("id", DataTypes.ShortType);
    RnnEstimator e = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3).setClasses(2);
    e.copy(new ParamMap()).setTargetCols("id").transformSchema(schema);
    assertRefused(() -> e.copy(new ParamMap()).setTargetCols("label").transformSchema(schema),
        "RnnEstimator: targetCols column 'label' is double", "integer column of class ids (StringIndexer's output is double:"
        + " cast it, e.g. a SQLTransformer \"SELECT *, CAST(label AS INT) AS label_id FROM __THIS__\" and"
        + " setTargetCols(\"label_id\"))");
    // labels not yet indexed: a cast of strings to INT gives no class ids, so the indexer first (a review)
    StructType strings = table(DataTypes.LongType).add("name", DataTypes.StringType);
    assertRefused(() -> e.copy(new ParamMap()).setTargetCols("name").transformSchema(strings),
        "RnnEstimator: targetCols column 'name' is string; expected an integer column of class ids (labels: index them with"
        + " StringIndexer, then cast its double output");
    new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3).setTargetCols("label")
        .transformSchema(schema);   // a regression target may be any number
  }

  @Test
  void copyKeepsTheUidAndParentAndAppliesTheExtraParamsToTheCopyOnly() {
    // Spark's Params.copy: "a copy of this instance with the same UID and some extra params"; Model.copy keeps the parent
    RnnEstimator parent = new RnnEstimator();
    RnnModel m = regression();
    m.setParent(parent);
    RnnModel c = m.copy(new ParamMap().put(m.forecastSteps().w(4)).put(m.predictionCol().w("next")));
    assertNotSame(m, c);
    assertEquals(m.uid(), c.uid());
    assertSame(parent, c.parent());
    assertEquals(4, c.getForecastSteps());
    assertEquals("next", c.getPredictionCol());
    assertEquals(0, m.getForecastSteps(), "the original is unchanged");
    assertEquals("prediction", m.getPredictionCol());
    assertEquals("x", c.getInputCols()[0], "set params are copied");
  }

  static void assertRefused(Executable call, String... parts) {
    BadInputException e = assertThrows(BadInputException.class, call);
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
    }
  }
}
