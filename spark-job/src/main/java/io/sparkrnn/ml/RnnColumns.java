package io.sparkrnn.ml;

import io.sparkrnn.data.OptionRule;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.IntegralType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import scala.Function1;
import scala.runtime.AbstractFunction1;

/**
 * The column params that {@link RnnEstimator} and {@link RnnModel} share (the same names, docs
 * and defaults on both, so that {@code copyValues} carries them from one to the other), and the
 * schema checks both run in {@code transformSchema}, before any Spark job.
 *
 * <p>Errors name the param, the column, what was expected and what was found, and list the
 * table's columns when one is absent.
 */
final class RnnColumns {
  private RnnColumns() {}

  static StringArrayParam keyCols(Params owner) {
    return new StringArrayParam(owner, "keyCols", "entity columns: each key's rows form one series (none: the whole table"
        + " is one series)", columns("keyCols", true));
  }

  static Param<String> orderCol(Params owner) {
    return new Param<>(owner, "orderCol", "time column (timestamp, date, integer, floating or decimal): the order of a key's rows",
        validator("orderCol", COLUMN));
  }

  static StringArrayParam inputCols(Params owner) {
    return new StringArrayParam(owner, "inputCols", "input columns, in order: numbers (one feature each), arrays of numbers"
        + " or ML Vectors (their values); together the F input features", columns("inputCols", false));
  }

  static StringArrayParam targetCols(Params owner) {
    return new StringArrayParam(owner, "targetCols", "target columns (none: the inputs themselves, as next-step targets);"
        + " with classes > 0 one integer column of class ids", columns("targetCols", true));
  }

  static IntParam horizon(Params owner) {
    return new IntParam(owner, "horizon", "K, rows from an input to its target; -1: 1 when the targets include an input,"
        + " else 0", validator("horizon", TableSpec.RULES.get("horizon")));
  }

  static Param<String> predictionCol(Params owner) {
    return new Param<>(owner, "predictionCol", "output column: array<double>, the model's output after the row's step"
        + " (the table's units; logits for classes)", validator("predictionCol", COLUMN));
  }

  static Param<String> probabilityCol(Params owner) {
    return new Param<>(owner, "probabilityCol", "output column for class models: array<double>, softmax of the logits",
        validator("probabilityCol", COLUMN));
  }

  static Param<String> predictedClassCol(Params owner) {
    return new Param<>(owner, "predictedClassCol", "output column for class models: int, the most probable class",
        validator("predictedClassCol", COLUMN));
  }

  static BooleanParam seq2one(Params owner) {
    return new BooleanParam(owner, "seq2one", "one target per window (from its last step); transform gives one row per window (stride S > 0) or per key (stride 0)");
  }

  static IntParam classes(Params owner) {
    return new IntParam(owner, "classes", "> 0: one integer target column of class ids in [0, classes), cross_entropy",
        validator("classes", TableSpec.RULES.get("classes")));
  }

  /**
   * Spark's {@code explainParam} ("name: doc (default: d, current: c)", or "(undefined)"), with an
   * array value as its elements, {@code [sensor, ts]}: Spark's own prints an array's identity
   * ({@code [Ljava.lang.String;@1a2b3c}), also for its StringArrayParam.
   */
  static String explainParam(Params owner, Param<?> param) {
    List<String> values = new ArrayList<>();
    if (owner.hasDefault(param)) {
      values.add("default: " + shown(owner.getDefault(param).get()));
    }
    if (owner.isSet(param)) {
      values.add("current: " + shown(owner.get(param).get()));
    }
    return param.name() + ": " + param.doc() + " " + (values.isEmpty() ? "(undefined)" : "(" + String.join(", ", values) + ")");
  }

  private static String shown(Object value) {
    return value instanceof Object[] a ? Arrays.toString(a) : String.valueOf(value);
  }

  /** A column name: not blank. */
  static final OptionRule COLUMN = OptionRule.nonBlank("a column name");

  /** The setter of a param: {@code setClipNorm} for {@code clipNorm}. */
  static String setter(String param) {
    return "set" + Character.toUpperCase(param.charAt(0)) + param.substring(1);
  }

  /**
   * A param validator that checks {@code rule} on the value as text ({@link Object#toString}: what
   * the command line would be given) and refuses a bad value with a {@link BadInputException}
   * naming the setter, what is allowed and the value. Spark calls it on every way in: the setter,
   * {@code set(param, value)}, {@code ParamMap.put} (so {@code copy(extra)}) and {@code load}.
   */
  static <T> Function1<T, Object> validator(String param, OptionRule rule) {
    return new Validator<T>(setter(param), (setter, value) -> rule.check(setter, value.toString()));
  }

  /** A validator of column names: each not blank, and at least one unless {@code mayBeEmpty}. */
  static Function1<String[], Object> columns(String param, boolean mayBeEmpty) {
    return new Validator<String[]>(setter(param), (setter, value) -> {
      if (!mayBeEmpty && value.length == 0) {
        throw new BadInputException(setter + ": expected at least one column name, found none");
      }
      for (String v : value) {
        COLUMN.check(setter, v);
      }
    });
  }

  /** A check of a param's value that names the setter. */
  @FunctionalInterface
  private interface Check<T> extends Serializable {
    void check(String setter, T value);
  }

  /** Spark's validator type, serialisable (params are part of a serialised stage); null is refused. */
  private static final class Validator<T> extends AbstractFunction1<T, Object> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String setter;
    private final Check<T> check;

    Validator(String setter, Check<T> check) {
      this.setter = setter;
      this.check = check;
    }

    @Override
    public Object apply(T value) {
      if (value == null) {
        throw new BadInputException(setter + ": expected a value, found null");
      }
      check.check(setter, value);
      return Boolean.TRUE;
    }
  }

  /** What a schema check needs to know of the model (from the params or the trained model). */
  record Shape(boolean seq2one, boolean classes, int forecastSteps) {}

  /**
   * Checks every used column of {@code schema} and returns the output schema: for seq2seq the input
   * columns plus prediction (and probability, predictedClass), plus the forecast flag when
   * forecastSteps > 0; for seq2one every column of the table (a window's last row) and the outputs.
   *
   * @param who the class name for messages ({@code RnnModel} or {@code RnnEstimator})
   */
  static StructType outputSchema(String who, StructType schema, String[] keys, String order, String[] inputs,
      String[] outputs, String forecastCol, Shape shape) {
    List<StructField> keyFields = new ArrayList<>();
    for (String k : keys) {
      StructField f = field(who, schema, k, "keyCols");
      if (f.dataType() instanceof MapType) {
        throw new BadInputException(who + ": keyCols column '" + f.name() + "' is " + f.dataType().simpleString()
            + "; expected a comparable type (string, number, date, ...)");
      }
      if (keyFields.contains(f)) {   // a seq2one output would hold the column twice (accepted silently: a user audit)
        throw new BadInputException(who + ": keyCols names column '" + f.name() + "' twice; name each key column once");
      }
      keyFields.add(f);
    }
    StructField orderField = orderField(who, schema, order);
    if (keyFields.contains(orderField)) {
      // each row a series of its own, scored from the zero state (a review: fit refused it, transform scored it)
      throw new BadInputException(who + ": keyCols column '" + orderField.name() + "' is also the orderCol column; a series'"
          + " time is not its key: name the entity columns in setKeyCols (none: the whole table is one series)");
    }
    if (shape.forecastSteps() > 0 && orderField.dataType() instanceof DecimalType) {
      throw new BadInputException(who + ": forecastSteps needs orderCol '" + orderField.name() + "' to be a timestamp,"
          + " date, integer or floating column, found " + orderField.dataType().simpleString() + " (cast it to double)");
    }
    List<StructField> inputFields = new ArrayList<>();
    for (String in : inputs) {
      StructField f = field(who, schema, in, "inputCols");
      inputWidth(who, f);
      if (inputFields.contains(f)) {   // one column as two features (fit trained on F=2 from it: a user audit)
        throw new BadInputException(who + ": inputCols names column '" + f.name() + "' twice; name each input column once"
            + " (to give a column's values twice, copy it to a column of its own)");
      }
      inputFields.add(f);
    }
    if (shape.forecastSteps() > 0 && !shape.seq2one()) {
      checkNoKeyAmongInputs(who, schema, keys, order, inputs, "setForecastSteps(" + shape.forecastSteps() + ")");
    }
    // seq2one: a window's output row is its last row, every column carried (a label column too, so an
    // evaluator needs no join back: a user audit); seq2seq: each row, nullable on forecast rows
    List<StructField> out = new ArrayList<>();
    for (StructField f : schema.fields()) {
      boolean forecastFills = shape.forecastSteps() > 0 && !shape.seq2one() && !keyFields.contains(f) && f != orderField;
      out.add(forecastFills ? f.copy(f.name(), f.dataType(), true, f.metadata()) : f);
    }
    List<String> names = new ArrayList<>();
    for (StructField f : out) {
      names.add(f.name());
    }
    String[] params = {"predictionCol", "probabilityCol", "predictedClassCol", "forecastCol"};
    DataType[] types = {DataTypes.createArrayType(DataTypes.DoubleType, false),
        DataTypes.createArrayType(DataTypes.DoubleType, false), DataTypes.IntegerType, DataTypes.BooleanType};
    String[] wanted = {outputs[0], shape.classes() ? outputs[1] : null, shape.classes() ? outputs[2] : null,
        shape.forecastSteps() > 0 && !shape.seq2one() ? forecastCol : null};
    for (int i = 0; i < wanted.length; i++) {
      if (wanted[i] == null) {
        continue;
      }
      if (wanted[i].isBlank()) {
        throw new BadInputException(who + ": " + params[i] + " is empty; name the output column");
      }
      String w = wanted[i];
      if (names.stream().anyMatch(n -> sameColumn(n, w))) {
        throw new BadInputException(who + ": " + params[i] + " '" + wanted[i] + "' is already a column of the output; choose another name with set"
            + Character.toUpperCase(params[i].charAt(0)) + params[i].substring(1));
      }
      names.add(wanted[i]);
      out.add(DataTypes.createStructField(wanted[i], types[i], true));
    }
    return DataTypes.createStructType(out);
  }

  /**
   * Refuses a key or order column among the inputs where outputs are fed back ({@code what}): a
   * forecast row keeps its series' key and continues its order, and the input written there would
   * overwrite them (a user audit: forecast rows' keys became model outputs, and closed-loop
   * evaluation then scored nothing).
   */
  static void checkNoKeyAmongInputs(String who, StructType schema, String[] keys, String order, String[] inputs, String what) {
    List<StructField> keyFields = new ArrayList<>();
    for (String k : keys) {
      keyFields.add(field(who, schema, k, "keyCols"));
    }
    StructField orderField = orderField(who, schema, order);
    for (String in : inputs) {
      StructField f = field(who, schema, in, "inputCols");
      if (keyFields.contains(f) || f.equals(orderField)) {
        throw new BadInputException(who + ": " + what + " feeds each output back as the next row's inputs, and inputCols"
            + " column '" + f.name() + "' is the " + (f.equals(orderField) ? "orderCol" : "keyCols") + " column, which that"
            + " row keeps; copy it to a column of its own for the model (Dataset.withColumn), or feed nothing back");
      }
    }
  }

  /**
   * The features an input column gives: 1 for a number; 0 (known per row) for an array of numbers
   * or an ML Vector, whose values are features in order, as {@code prep table} expands them.
   */
  static int inputWidth(String who, StructField f) {
    DataType t = f.dataType();
    if (t instanceof NumericType) {
      return 1;
    }
    if (t instanceof ArrayType a && a.elementType() instanceof NumericType || t instanceof VectorUDT) {
      return 0;
    }
    // a boolean (a flag, as warehouses export them): the cast that makes it 0 and 1, which prep table makes itself
    // (a user audit: the estimator's refusal gave no way on)
    boolean flag = t instanceof org.apache.spark.sql.types.BooleanType;
    throw new BadInputException(who + ": inputCols column '" + f.name() + "' is " + t.simpleString()
        + "; expected a number, an array of numbers or an ML Vector" + (flag ? ": cast it to 0 and 1 first, e.g. withColumn("
        + javaString(f.name()) + ", col(" + javaString(sqlName(f.name())) + ").cast(\"int\"))" : ""));
  }

  /** {@code s} as a Java string literal. */
  private static String javaString(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** The order column, which must be a timestamp, date or number. */
  static StructField orderField(String who, StructType schema, String order) {
    if (order == null || order.isBlank()) {
      throw new BadInputException(who + ": orderCol is not set; name the time column with setOrderCol");
    }
    StructField f = field(who, schema, order, "orderCol");
    DataType t = f.dataType();
    if (!(t instanceof NumericType || t instanceof TimestampType || t instanceof TimestampNTZType || t instanceof DateType)) {
      throw new BadInputException(who + ": orderCol column '" + f.name() + "' is " + t.simpleString()
          + "; expected a timestamp, date, integer, floating or decimal column (cast it first, e.g. to_timestamp)");
    }
    return f;
  }

  /** A target column for the estimator: numeric, or integral for classes. */
  static void checkTarget(String who, StructType schema, String name, boolean classes) {
    StructField f = field(who, schema, name, "targetCols");
    DataType t = f.dataType();
    if (classes ? !(t instanceof IntegralType) : !(t instanceof NumericType)) {
      // StringIndexer, the stage that makes class ids from labels, writes doubles: the cast that fits (a user audit);
      // labels not yet indexed (strings) need the indexer first, since a cast to INT gives no ids (a review)
      // concatenated, not String.format: a column's name may hold '%' (a review: "rate%" threw UnknownFormatConversionException)
      String id = f.name() + "_id";
      String setter = " AS " + sqlName(id) + " FROM __THIS__\" and setTargetCols(\"" + id + "\")";
      throw new BadInputException(who + ": targetCols column '" + f.name() + "' is " + t.simpleString() + "; expected "
          + (!classes ? "a numeric column" : t instanceof NumericType
          ? "an integer column of class ids (StringIndexer's output is double: cast it, e.g. a SQLTransformer \"SELECT *,"
              + " CAST(" + sqlName(f.name()) + " AS INT)" + setter + ")"
          : "an integer column of class ids (labels: index them with StringIndexer, then cast its double output, e.g. a"
              + " SQLTransformer \"SELECT *, CAST(<its outputCol> AS INT)" + setter + ")"));
    }
  }

  /**
   * A column's name as Spark SQL reads it: bare where it is a plain identifier, else in backticks,
   * a backtick doubled ("class label" → `class label`; a bare name with a space or a dot does not parse).
   */
  static String sqlName(String name) {
    // true, false and null bare are literals, not the column (CAST(true AS INT) is 1: a review)
    return name.matches("[A-Za-z_][A-Za-z0-9_]*") && !name.matches("(?i)true|false|null") ? name
        : "`" + name.replace("`", "``") + "`";
  }

  /** spark.sql.caseSensitive of the dataset being fit, transformed or evaluated on this thread; null outside those. */
  private static final ThreadLocal<Boolean> DATASET_CASE_SENSITIVE = new ThreadLocal<>();

  /**
   * Runs {@code body} with column names resolved as {@code dataset}'s session resolves them (its
   * spark.sql.caseSensitive), whichever session is active on this thread (a review: two sessions
   * with different settings, one thread).
   */
  static <T> T resolvingAs(Dataset<?> dataset, Supplier<T> body) {
    Boolean before = DATASET_CASE_SENSITIVE.get();
    DATASET_CASE_SENSITIVE.set(Boolean.parseBoolean(dataset.sparkSession().conf().get("spark.sql.caseSensitive", "false")));
    try {
      return body.get();
    } finally {
      if (before == null) {
        DATASET_CASE_SENSITIVE.remove();
      } else {
        DATASET_CASE_SENSITIVE.set(before);
      }
    }
  }

  /**
   * Whether column names resolve with case (spark.sql.caseSensitive, false by default): the
   * dataset's session inside {@link #resolvingAs}, else the active session's (transformSchema,
   * which has no dataset).
   */
  static boolean caseSensitive() {
    Boolean given = DATASET_CASE_SENSITIVE.get();
    return given != null ? given : SQLConf.get().caseSensitiveAnalysis();
  }

  /**
   * The column of {@code schema} named {@code name}, resolved as Spark resolves it: with
   * {@code spark.sql.caseSensitive} the exact name only; without (the default) the one column
   * whose name equals it ignoring case, two such columns being ambiguous (as Spark's
   * AMBIGUOUS_REFERENCE; fit fails so, and transform took the exact one silently: a user audit).
   */
  static StructField field(String who, StructType schema, String name, String param) {
    boolean withCase = caseSensitive();
    List<StructField> matches = new ArrayList<>();
    for (StructField f : schema.fields()) {
      if (withCase ? f.name().equals(name) : f.name().equalsIgnoreCase(name)) {
        matches.add(f);
      }
    }
    if (matches.isEmpty()) {
      // "s.a", a field of a struct column: the estimator reads top-level columns only; say so, and how (a user audit)
      int dot = name.indexOf('.');
      String struct = dot > 0 ? name.substring(0, dot) : null;
      boolean nested = struct != null && Arrays.stream(schema.fields()).anyMatch(f -> (withCase ? f.name().equals(struct)
          : f.name().equalsIgnoreCase(struct)) && f.dataType() instanceof StructType);
      throw new BadInputException(who + ": " + param + " column '" + name + "' is not in the table; its columns are "
          + Arrays.toString(schema.fieldNames()) + (withCase ? " (spark.sql.caseSensitive is true: names match with case)" : "")
          + (nested ? structFieldAdvice(schema, name) : ""));
    }
    if (matches.size() > 1) {
      throw new BadInputException(who + ": " + param + " column '" + name + "' is ambiguous: the table has "
          + matches.stream().map(StructField::name).toList() + ", the same name ignoring case (spark.sql.caseSensitive is"
          + " false); rename one, or set spark.sql.caseSensitive=true");
    }
    return matches.get(0);
  }

  /**
   * For a dotted name whose first part is a struct column: that the estimator reads top-level columns
   * and the withColumn that selects the field, where the struct holds it; else the field the struct
   * lacks and the fields it has (a misspelt field was called "a field of the struct", and the advised
   * col("reading.tmp") failed in turn, a review).
   */
  private static String structFieldAdvice(StructType schema, String name) {
    String[] parts = name.split("\\.", -1);
    StructType at = schema;
    String path = "";
    for (int i = 0; i < parts.length; i++) {
      String part = parts[i];
      StructField found = Arrays.stream(at.fields()).filter(f -> sameColumn(f.name(), part)).findFirst().orElse(null);
      if (found == null) {
        return "; the struct column '" + path + "' has no field '" + part + "'; its fields are " + Arrays.toString(at.fieldNames());
      }
      path = path.isEmpty() ? found.name() : path + "." + found.name();
      if (i + 1 < parts.length) {
        if (!(found.dataType() instanceof StructType inner)) {
          return "; '" + path + "' is a " + found.dataType().simpleString() + ", not a struct with field '" + parts[i + 1] + "'";
        }
        at = inner;
      }
    }
    return "; '" + name + "' is a field of the struct column '" + parts[0] + "', and the estimator reads top-level"
        + " columns: select it as one first, e.g. withColumn(\"" + name.replace('.', '_') + "\", col(\"" + name + "\"))";
  }

  /** Whether two names name one column as the session resolves them (ignoring case unless spark.sql.caseSensitive). */
  static boolean sameColumn(String a, String b) {
    return caseSensitive() ? a.equals(b) : a.equalsIgnoreCase(b);   // as field() resolves: one rule (a user audit)
  }

  /** The position of the column {@code name} resolves to. */
  static int index(StructType schema, String name) {
    return schema.fieldIndex(nameIn(schema, name));
  }

  /** The table's own spelling of the column {@code name} resolves to (the user's may differ in case). */
  static String nameIn(StructType schema, String name) {
    return field("table", schema, name, "column").name();
  }

  /** Whether a data type is an integral number (order values then continue by +1). */
  static boolean integral(DataType t) {
    return t instanceof IntegralType;
  }
}
