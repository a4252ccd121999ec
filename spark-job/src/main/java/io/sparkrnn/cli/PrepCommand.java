package io.sparkrnn.cli;

import io.sparkrnn.data.DatasetWriter;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.data.source.NpySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.data.spark.MissingColumnException;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.spark.SparkPrep;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.kernel.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkArithmeticException;
import org.apache.spark.SparkClassNotFoundException;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code spark-rnn prep <source> --out URI ...}: makes a dataset. Thin: options become a data-prep
 * source and {@link PrepOptions}; {@link Prep} runs it here, or {@link SparkPrep} when
 * {@code --master} is given.
 */
@Command(name = "prep", mixinStandardHelpOptions = true,
    description = "Make a dataset (manifest.json + safetensors shards) on any Hadoop file system.",
    subcommands = {PrepCommand.Sine.class, PrepCommand.Adding.class, PrepCommand.Copy.class, PrepCommand.Npy.class,
        PrepCommand.Csv.class, PrepCommand.Text.class, PrepCommand.Table.class})
public final class PrepCommand implements Runnable {
  @Override
  public void run() {
    throw new BadInputException("prep needs a source: sine, adding, copy, npy, csv, text or table (see prep --help)");
  }

  /**
   * A count the user typed, checked, or the source's "not given" value when the option is absent. The
   * sources take 0 (or -1 for the horizon) to mean "the default"; read from an int option, a typed
   * {@code --stride 0} or {@code --horizon -1} passed as that default without a word.
   */
  static int given(Integer value, String option, int least, int absent) {
    if (value == null) {
      return absent;
    }
    if (value < least) {
      throw new BadInputException(option + " must be at least " + least + ", found " + value);
    }
    return value;
  }

  /**
   * --delimiter: one character, or the two characters {@code \t} for a tab, as the hint for a
   * tab-separated file spells it (it was refused as "not a single character": a mutation audit) and
   * as Spark's csv reader takes {@code sep}; a literal tab works too.
   */
  static final class DelimiterConverter implements picocli.CommandLine.ITypeConverter<Character> {
    @Override
    public Character convert(String value) {
      if (value.equals("\\t")) {
        return '\t';
      }
      if (value.length() != 1) {
        throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not one character (\\t: a tab)");
      }
      return value.charAt(0);
    }
  }

  /** Options every source shares. */
  static final class Common {
    @Option(names = "--out", required = true, description = "Output dataset directory URI (file://, hdfs://, s3a://, or a path).")
    String out;

    @Option(names = "--batch", defaultValue = "64", description = "B, sequences per shard (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--validation-fraction", defaultValue = "0.1",
        description = "Share for validation (default ${DEFAULT-VALUE}): the last sequences; for prep table the keys"
            + " whose hash falls under it (--split by-key) or the last rows of each series (by-time).")
    double validationFraction;

    @Option(names = "--normalize", description = "Z-score inputs (and float targets) with training-split statistics (real-valued inputs: refused for copy and"
        + " text, whose inputs are one-hot).")
    boolean normalize;

    @Option(names = "--overwrite", description = "Replace --out if it holds a dataset and nothing else (once the new one is complete).")
    boolean overwrite;

    @Option(names = "--normalization-from", paramLabel = "MODEL|DATASET",
        description = "With --normalize: apply this model's (model.safetensors or its directory) or dataset's (its directory) statistics "
            + "instead of the training split's, so new data matches a trained model.")
    String normalizationFrom;

    /** The statistics of --normalization-from, or null. */
    Normalization givenNormalization() throws IOException {
      if (normalizationFrom == null) {
        return null;
      }
      Configuration conf = new Configuration();
      Path p = new Path(normalizationFrom);
      FileSystem fs = FileSystems.get(p, conf);
      Normalization n;
      String what;
      // a directory is a dataset, unless it is a model's (train's --out, a saved RnnModel), as --model takes it (a user audit)
      boolean modelDirectory = fs.exists(p) && fs.getFileStatus(p).isDirectory() && !fs.exists(new Path(p, Manifest.FILE_NAME))
          && fs.exists(new Path(p, "model.safetensors"));
      if (fs.exists(p) && fs.getFileStatus(p).isDirectory() && !modelDirectory) {
        n = io.sparkrnn.data.Dataset.open(normalizationFrom, conf).manifest().normalization();
        what = "dataset";
      } else {
        n = TrainedModel.load(normalizationFrom, conf).normalization();
        what = "model";
      }
      if (n == null) {
        throw new BadInputException("--normalization-from " + normalizationFrom + ": the " + what
            + " records no normalisation statistics (it was made without --normalize)");
      }
      return n.takenFrom(normalizationFrom);
    }

    @Option(names = "--master", description = "Run as a Spark job on this master (e.g. local[4], spark://host:7077, yarn).")
    String master;

    Manifest run(SequenceSource source) throws IOException {
      FileSystems.requireUsableOutput(out, new Configuration(), "--out", true);
      // the source names the file in errors: "--normalization-from runs/a/model.safetensors: its input statistics …"
      PrepOptions options = new PrepOptions(new Path(out).toUri(), batch, validationFraction, normalize, overwrite,
          givenNormalization(), normalizationFrom == null ? "--normalization-from" : "--normalization-from " + normalizationFrom);
      Manifest m;
      if (master == null) {
        m = Prep.run(source, options, new Configuration());
      } else {
        SparkSetup.requireKnownMaster(master);
        // a line before Spark starts (seconds, minutes on a busy cluster), as prep table's; the jobs report from then on
        System.out.println("prep " + source.spec().task() + ": starting Spark on " + master + " to write " + out);
        SparkConf conf = new SparkConf().setMaster(master).setAppName("spark-rnn prep " + source.spec().task());
        JavaSparkContext sc = SparkSetup.context(conf);
        try {
          m = SparkPrep.run(sc, source, options);
        } finally {
          SparkSetup.stopQuietly(sc::stop);
        }
      }
      report(m);
      return m;
    }

    void report(Manifest m) {
      System.out.printf("wrote %s: %s, T=%d F=%d O=%d, %d train + %d validation sequences in %d shards%n", out,
          m.spec().task(), m.spec().steps(), m.spec().features(), m.spec().outputs(), m.sequences(Split.TRAIN),
          m.sequences(Split.VALIDATION), m.shards().size());
    }
  }

  static URI uri(String s) {
    return new Path(s).toUri();
  }

  @Command(name = "sine", mixinStandardHelpOptions = true,
      description = "Sine waves with random phase and frequency; next-step targets (seq2seq) or the next value (--seq2one).")
  static final class Sine implements Callable<Integer> {
    @Mixin Common common;
    @Option(names = "--steps", defaultValue = "50", description = "T (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--sequences", defaultValue = "1000", description = "N (default ${DEFAULT-VALUE}).") long sequences;
    @Option(names = "--seed", defaultValue = "42", description = "Seeds every sequence's generator, with its index"
        + " (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--seq2one", description = "One target per sequence: the value after the window.") boolean seq2one;
    @Option(names = "--min-frequency", defaultValue = "0.02", description = "Cycles per step (default ${DEFAULT-VALUE}).")
    double minFrequency;
    @Option(names = "--max-frequency", defaultValue = "0.1", description = "Cycles per step (default ${DEFAULT-VALUE}).")
    double maxFrequency;
    @Option(names = "--noise", defaultValue = "0", description = "Std of Gaussian noise (default ${DEFAULT-VALUE}).")
    double noise;
    @Option(names = "--min-steps", description = "Shortest length for variable-length sequences (default: T, fixed).")
    Integer minSteps;

    @Override
    public Integer call() throws IOException {
      common.run(new SineSource(new SineSource.Options(steps, sequences, seed, seq2one, minFrequency, maxFrequency, noise,
          minSteps == null ? steps : minSteps)));
      return 0;
    }
  }

  @Command(name = "adding", mixinStandardHelpOptions = true,
      description = "The adding problem: values and a two-hot marker; target = sum of the two marked values (seq2one).")
  static final class Adding implements Callable<Integer> {
    @Mixin Common common;
    @Option(names = "--steps", defaultValue = "50", description = "T (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--sequences", defaultValue = "10000", description = "N (default ${DEFAULT-VALUE}).") long sequences;
    @Option(names = "--seed", defaultValue = "42", description = "Seeds every sequence's generator, with its index"
        + " (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--min-steps", description = "Shortest length for variable-length sequences (default: T, fixed).")
    Integer minSteps;

    @Override
    public Integer call() throws IOException {
      common.run(new AddingSource(new AddingSource.Options(steps, sequences, seed, minSteps == null ? steps : minSteps)));
      return 0;
    }
  }

  @Command(name = "copy", mixinStandardHelpOptions = true,
      description = "Copy memory: 10 symbols, T-1 blanks, a marker, 10 blanks to recall them; sequences of T+20 steps.")
  static final class Copy implements Callable<Integer> {
    @Mixin Common common;
    @Option(names = "--steps", defaultValue = "100", description = "T, the delay (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--sequences", defaultValue = "10000", description = "N (default ${DEFAULT-VALUE}).") long sequences;
    @Option(names = "--seed", defaultValue = "42", description = "Seeds every sequence's generator, with its index"
        + " (default ${DEFAULT-VALUE}).") long seed;

    @Override
    public Integer call() throws IOException {
      common.run(new CopySource(new CopySource.Options(steps, sequences, seed)));
      return 0;
    }
  }

  @Command(name = "npy", mixinStandardHelpOptions = true,
      description = "A rank-3 float32/float64 .npy of inputs; targets from --targets or a next-step shift.")
  static final class Npy implements Callable<Integer> {
    @Mixin Common common;
    @Parameters(index = "0", paramLabel = "INPUT", description = "The inputs .npy (URI or path).") String input;
    @Option(names = "--layout", defaultValue = "NTF", description = "Axis order of INPUT: a permutation of N, T, F (default ${DEFAULT-VALUE}).")
    String layout;
    @Option(names = "--targets", description = "Targets .npy: float [N,T,O] or [N,O], int class ids [N,T] or [N]. Default: next-step shift.")
    String targets;
    @Option(names = "--target-layout", description = "Axis order of --targets (NTO permutation, NO/ON, NT/TN).")
    String targetLayout;
    @Option(names = "--seq2one", description = "With the next-step shift: one target, the value after the last step.")
    boolean seq2one;
    @Option(names = "--classes", defaultValue = "0", description = "Number of classes for int targets (default: largest id + 1).")
    int classes;

    @Override
    public Integer call() throws IOException {
      common.run(new NpySource(new NpySource.Options(input, layout, targets, targetLayout, seq2one, classes),
          new Configuration()));
      return 0;
    }
  }

  @Command(name = "csv", mixinStandardHelpOptions = true,
      description = "A CSV file, or a directory of part files as Spark writes them: one long series cut into windows, "
          + "or one row per step with --sequence-column. For large or keyed tables use prep table --format csv.")
  static final class Csv implements Callable<Integer> {
    @Mixin Common common;
    @Parameters(index = "0", paramLabel = "INPUT", description = "The CSV file (URI or path).") String input;
    @Option(names = "--inputs", split = ",", description = "Input columns (default: all but the sequence and class columns).")
    List<String> inputs = new ArrayList<>();
    @Option(names = "--targets", split = ",", description = "Target columns (default: the input columns).")
    List<String> targets = new ArrayList<>();
    @Option(names = "--steps", description = "T; required for windows, default the longest sequence.")
    Integer steps;
    @Option(names = "--stride", description = "Rows between window starts (default: T).") Integer stride;
    @Option(names = "--horizon",
        description = "Rows from an input to its target (default 1 for windows; with --sequence-column 1 when a target is"
            + " an input, else 0).")
    Integer horizon;
    @Option(names = "--seq2one", description = "One target per sequence (from its last step).") boolean seq2one;
    @Option(names = "--sequence-column", description = "Column whose value names the sequence of each row.")
    String sequenceColumn;
    @Option(names = "--classes", defaultValue = "0", description = "Targets are class ids in [0, classes) in one column (cross_entropy).")
    int classes;
    @Option(names = "--delimiter", defaultValue = ",", converter = DelimiterConverter.class,
        description = "Field separator: one character, or \\t for a tab (default '${DEFAULT-VALUE}').")
    char delimiter;
    @Option(names = "--header", arity = "1", paramLabel = "true|false",
        description = "Whether the first line (of each part file) names the columns. Default true, but a first line of "
            + "numbers only is refused as ambiguous; headerless columns are named _c0, _c1, ... as in Spark.")
    Boolean header;

    @Override
    public Integer call() throws IOException {
      common.run(new CsvSource(new CsvSource.Options(input, inputs, targets, given(steps, "--steps", 1, 0),
          given(stride, "--stride", 1, 0), given(horizon, "--horizon", 0, -1), seq2one,
          sequenceColumn, classes, delimiter, header), new Configuration()));
      return 0;
    }
  }

  @Command(name = "text", mixinStandardHelpOptions = true,
      description = "UTF-8 text for next-character prediction: sorted character vocabulary, one-hot inputs, cross_entropy.")
  static final class Text implements Callable<Integer> {
    @Mixin Common common;
    @Parameters(index = "0", paramLabel = "INPUT", description = "The text file (URI or path).") String input;
    @Option(names = "--steps", defaultValue = "100", description = "T (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--stride", description = "Characters between sequence starts (default: T).")
    Integer stride;

    @Override
    public Integer call() throws IOException {
      common.run(new TextSource(new TextSource.Options(input, steps, given(stride, "--stride", 1, 0)), new Configuration()));
      return 0;
    }
  }

  @Command(name = "table", mixinStandardHelpOptions = true,
      description = {"Any Spark table (Parquet, ORC, JSON, CSV, a catalog table, JDBC, ...) in long format (one row "
          + "per key and time) or wide format (one row per sequence), cut into windows by the executors.",
          "Example: prep table data/sensors.parquet --key sensor --order ts --inputs temp,load --steps 48 --out data/ds"})
  static final class Table implements Callable<Integer> {
    @Mixin Common common;
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;
    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE",
        description = "A path (URI) read with --format, or a table name with --format table or jdbc (for jdbc it may "
            + "be left out when --option dbtable=... or query=... names what to read).") String source;
    @Option(names = "--format", defaultValue = "parquet",
        description = "parquet (default), orc, json, csv (header and schema inferred), jdbc, table (a catalog table) "
            + "or any format on the classpath.") String format;
    @Option(names = "--option", paramLabel = "KEY=VALUE", description = "A reader option (repeatable), e.g. "
        + "--option header=false, or --option url=jdbc:... for jdbc.") Map<String, String> readerOptions = new LinkedHashMap<>();
    @Option(names = "--where", paramLabel = "SQL", description = "Keep only rows matching this SQL expression.") String where;
    @Option(names = "--key", split = ",", paramLabel = "COL", description = "Entity columns (default: one series).")
    List<String> key = new ArrayList<>();
    @Option(names = "--order", paramLabel = "COL", description = "Time column: timestamp, date, integer, floating or decimal,"
        + " or (not csv, json) strings of ISO 8601 dates or times (long format).")
    String order;
    @Option(names = "--inputs", split = ",", paramLabel = "COL",
        description = "Input columns: numbers, arrays of numbers or ML Vectors, expanded into the features.")
    List<String> inputs = new ArrayList<>();
    @Option(names = "--targets", split = ",", paramLabel = "COL",
        description = "Target columns (default: the inputs, next-step forecasting).") List<String> targets = new ArrayList<>();
    @Option(names = "--classes", defaultValue = "0", description = "One integer target column of class ids in [0, N): cross_entropy.")
    int classes;
    @Option(names = "--seq2one", description = "One target per window: at its last step, shifted by --horizon.")
    boolean seq2one;
    @Option(names = "--steps", required = true, description = "T, steps per sequence.") int steps;
    @Option(names = "--stride", description = "Rows between window starts (default: T).") Integer stride;
    @Option(names = "--horizon",
        description = "Rows from an input to its target (default 1 when targets are inputs, else 0).") Integer horizon;
    @Option(names = "--min-steps",
        description = "Keep a series or tail shorter than T but at least this long, right-padded (default: T).")
    Integer minSteps;
    @Option(names = "--sequence-column", paramLabel = "COL",
        description = "Wide format: this array<array<number>> [T][F] (or array<number>) column holds each row's sequence.")
    String sequenceColumn;
    @Option(names = "--split", description = "by-key (default: whole entities to validation by a seeded hash) or "
        + "by-time (the last --validation-fraction of every series; default without --key).") String split;
    @Option(names = "--gap", defaultValue = "0", description = "With --split by-time: rows left out between the parts.")
    int gap;
    @Option(names = "--missing", defaultValue = "error",
        description = "Null, NaN, Inf or a number past float32's range in a used column: error (default), drop the row, or ffill"
            + " (repeat the last value).")
    String missing;
    @Option(names = "--seed", defaultValue = "42", description = "Seeds the sequence order and the by-key split (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--partitions",
        description = "Shuffle partitions for the sort (default spark.sql.shuffle.partitions); the output does not depend on it.")
    Integer partitions;

    @Override
    public Integer call() throws IOException {
      format = format.toLowerCase(Locale.ROOT);   // as Spark matches a format's name: CSV is csv
      Map<String, String> stripped = new LinkedHashMap<>();   // ' sep=;' reached Spark as ' sep', which it ignored
      readerOptions.forEach((k, v) -> stripped.put(k.strip(), v));
      readerOptions = stripped;
      if (source == null && !(isJdbc() && (option("dbtable") != null || option("query") != null))) {
        throw new picocli.CommandLine.ParameterException(commandSpec.commandLine(), "Missing required parameter: 'SOURCE'"
            + " (a path read with --format, a table name with --format table, or for --format jdbc the table,"
            + " unless --option dbtable=... or query=... names what to read)");
      }
      if (source != null && isJdbc() && (option("query") != null || (option("dbtable") != null && !sameTable(source, option("dbtable"))))) {
        // Spark would read the option's table or query, and SOURCE would be dropped without a word (a user audit)
        throw new BadInputException("SOURCE " + source + " and --option " + (option("query") != null ? "query" : "dbtable=" + option("dbtable"))
            + " both name what to read from the database (--format jdbc); give one of them");
      }
      if (isJdbc() && option("url") == null) {   // Spark's "requirement failed: Option 'url' is required." came after its start
        throw new BadInputException("--format jdbc needs the database's address: --option url=jdbc:... (e.g."
            + " url=jdbc:postgresql://HOST:5432/DB; user= and password= as options too)");
      }
      ReaderOptions.check(format, readerOptions).forEach(w -> System.err.println("warning: " + w));
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("format", format);
      if (isJdbc()) {   // what was read, never the url, user or password
        String query = option("query");
        provenance.put(query != null ? "query" : "table", query != null ? query : jdbcTable());
      } else {
        // a path is qualified once Spark has started, on the session's Hadoop configuration (below)
        provenance.put(format.equals("table") ? "table" : "path", source);
      }
      if (where != null) {
        provenance.put("where", where);
      }
      putOptions(provenance);
      TableSpec spec = new TableSpec(key, order, inputs, targets, classes, seq2one, steps, given(stride, "--stride", 1, 0),
          given(horizon, "--horizon", 0, -1), given(minSteps, "--min-steps", 1, 0),
          sequenceColumn, split == null ? null : TableSpec.SplitMode.parse(split), common.validationFraction, gap,
          common.normalize, TableSpec.Missing.parse(missing), common.batch, seed, given(partitions, "--partitions", 1, 0), provenance);
      FileSystems.requireUsableOutput(common.out, new Configuration(), "--out", true);
      // an --out that prep would refuse (not empty, not a dataset to --overwrite), before Spark starts: tens of
      // seconds sooner (SequenceTables checks again, on the session's Hadoop configuration)
      Path outPath = new Path(common.out);
      FileSystem outFs = FileSystems.get(outPath, new Configuration());
      DatasetWriter.checkDirectory(outFs, outFs.makeQualified(outPath), common.overwrite);
      String master = common.master == null ? "local[*]" : common.master;
      SparkSetup.requireKnownMaster(SparkSetup.effectiveMaster(master));   // spark-submit's master wins
      // a line before Spark starts and reads the schema (tens of seconds on a busy machine, or a CSV
      // scanned to infer its types), after which the passes report their own progress
      System.out.println("prep table: starting Spark on " + SparkSetup.effectiveMaster(master) + " to read " + sourceLabel() + " (" + format + ")");
      SparkSession spark = SparkSetup.session("spark-rnn prep table", master, format);
      try {
        requireSourceExists(spark.sparkContext().hadoopConfiguration());
        if (provenance.containsKey("path")) {
          // as Spark reads it: an fs.defaultFS among the spark.hadoop.* settings names the file system a
          // relative path is on (a review: qualified on a bare Configuration, the manifest said file:)
          provenance.put("path", qualified(source, spark.sparkContext().hadoopConfiguration()));
          spec = spec.withSource(provenance);
        }
        // a string --order column is read as times before --where, so that a --where on it compares times, not
        // strings ('2024-01-05T08:00Z' >= '2024-01-05 10:00Z' as strings: 'T' sorts after ' ', a review); a boolean
        // column turns 0 and 1 after it, so that --where "active" still reads it as a boolean
        Dataset<Row> table = read(spark, t -> {
          Dataset<Row> named = nestedFieldsAsColumns(t);
          requireTimeNotText(named);
          return timeFromText(named);
        });
        requireValuesNotText(table);
        table = booleansAsNumbers(table);
        Manifest m;
        try {
          m = SequenceTables.prep(table, spec, common.out, common.overwrite, common.givenNormalization());
        } catch (MissingColumnException e) {
          if (format.equals("csv")) {
            List<String> columns = e.tableColumns();
            if (columns.size() == 1 && option("sep") == null && option("delimiter") == null) {
              // one column: the lines were not split, as a ';'- or tab-separated file read with ',' is not
              throw new BadInputException(e.getMessage() + " (--format csv read one column, '" + columns.get(0) + "': if the file's"
                  + " fields are separated by something other than a comma, name it: --option 'sep=;', --option 'sep=\\t')", e);
            }
            if (option("header") == null) {
              // the columns were named by the first line, which may have been data (a file without a header line)
              throw new BadInputException(e.getMessage() + " (--format csv took the first line for the header: if the file has"
                  + " none, --option header=false names the columns _c0, _c1, ...)", e);
            }
          }
          throw e;
        } catch (Exception e) {   // Delta's AnalysisException is a checked exception that Scala throws unchecked
          // Delta's refusals that come only when the rows are read (a change feed the table never recorded):
          // the table's, as they are when the schema is read, not a bug's stack trace
          Throwable delta = inCauses(e, t -> t.getClass().getName().startsWith("org.apache.spark.sql.delta."));
          if (delta != null) {
            throw new BadInputException(sourceLabel() + " (--format " + format + "): " + summary(delta), e);
          }
          // a --where whose cast fails on the rows under ANSI ("ts <> ''" once a string --order column is read as times,
          // a review: exit 1 with Spark's stack trace): the command line's, named with what --where sees
          Throwable cast = where == null ? null
              : inCauses(e, t -> t.getMessage() != null && t.getMessage().startsWith("[CAST_INVALID_INPUT]"));
          if (cast != null) {
            throw new BadInputException(sourceLabel() + " (--format " + format + ", --where " + where + "): " + summary(cast)
                + (orderReadAsTimes == null ? "" : "; --where sees the string --order column '" + orderReadAsTimes + "' as times"
                + " (it is read so before --where): compare it with a time, such as " + orderReadAsTimes
                + " >= '2024-01-05 10:00:00Z'"), e);
          }
          // a value Spark cannot hold as the column's type while it reads the rows (a database NUMERIC of 1e40
          // read as decimal(38, 0)): the table's, not a bug's stack trace (a user audit)
          Throwable arithmetic = inCauses(e, SparkArithmeticException.class::isInstance);
          if (arithmetic != null) {
            throw new BadInputException(sourceLabel() + " (--format " + format + (where == null ? "" : ", --where " + where)
                + "): " + summary(arithmetic) + (isOverflow((SparkArithmeticException) arithmetic) ? overflowHint(table) : ""), e);
          }
          throw e;
        }
        common.report(m);
        Object counts = m.spec().source().get("counts");
        System.out.println("rows and series: " + counts);
        if (spec.validationFraction() > 0 && m.sequences(Split.VALIDATION) == 0) {
          System.err.println("warning: " + noValidation(spec, m.spec().source()));
        }
      } finally {
        SparkSetup.stop(spark);
      }
      return 0;
    }

    /**
     * Why a split that asked for validation got none, and what to change. By time, a series of n
     * rows has round(n · fraction) − gap validation rows (the gap comes out of the validation part),
     * and a window needs min-steps + horizon of them (min-steps is T unless set). The counts and the
     * horizon are the manifest's, as prep resolved them on the table's columns.
     */
    static String noValidation(TableSpec spec, Map<String, Object> source) {
      Object counts = source.get("counts");
      String f = "--validation-fraction " + spec.validationFraction();
      if (spec.effectiveSplit() == TableSpec.SplitMode.BY_KEY) {
        return "--split by-key asked for validation (" + f + ") but got no validation sequence: no series whose key's"
            + " hash fell under the fraction had a window (" + counts + "); raise --validation-fraction, or use --split by-time."
            + " train --validate-every has nothing to score on this dataset";
      }
      long rows = counts instanceof Map<?, ?> c && c.get("rows") instanceof Number r ? r.longValue() : -1;
      long series = counts instanceof Map<?, ?> c && c.get("series") instanceof Number n ? n.longValue() : -1;
      String perSeries = "";
      if (rows > 0 && series > 0) {
        long n = rows / series;
        long v = Math.round(n * spec.validationFraction());
        perSeries = " (here about " + n + " rows per series: round(" + n + " x " + spec.validationFraction() + ") = " + v
            + ", less " + spec.gap() + ", leaves " + Math.max(0, v - spec.gap()) + ")";
      }
      long need = spec.effectiveMinSteps() + ((Number) source.get("horizon")).longValue();   // prep records it always
      return "--split by-time asked for validation (" + f + ") but got no validation sequence: the last"
          + " round(n x fraction) rows of a series of n, less the --gap " + spec.gap() + " rows left out before them, are its"
          + " validation rows" + perSeries + ", and a window needs " + need + " (--steps or --min-steps, plus --horizon);"
          + " raise --validation-fraction, lower --gap or --steps, or keep more rows (--where)."
          + " train --validate-every has nothing to score on this dataset";
    }

    /** Spark's file formats, whose SOURCE is a path (or a glob); jdbc, table and other sources name something else. */
    static final Set<String> FILE_FORMATS = Set.of("parquet", "orc", "json", "csv", "text", "avro");

    /**
     * A file source's path must exist (a glob must match something) before Spark reads it: Spark
     * logs a WARN with the FileNotFoundException's stack trace (80 lines) before failing itself.
     * Checked with the session's Hadoop configuration, which resolves the path as Spark would.
     */
    private void requireSourceExists(Configuration hadoop) throws IOException {
      if (!FILE_FORMATS.contains(format)) {   // lower case since call()'s start
        return;
      }
      Path p = new Path(source);
      FileStatus[] found = FileSystems.get(p, hadoop).globStatus(p);
      if (found == null || found.length == 0) {
        throw new FileNotFoundException(source + " (--format " + format + "): no such file or directory");
      }
      if (found.length == 1 && found[0].isDirectory()) {
        // a table whose writing Spark job was killed: its part files still under _temporary/, which Spark never lists,
        // so it answered UNABLE_TO_INFER_SCHEMA ("specified manually"), an option prep table has not (a kill audit)
        FileSystem fs = FileSystems.get(p, hadoop);
        FileStatus[] inside = fs.listStatus(found[0].getPath());
        boolean temporary = Arrays.stream(inside).anyMatch(f -> f.getPath().getName().equals("_temporary"));
        boolean data = Arrays.stream(inside).anyMatch(f -> !f.getPath().getName().startsWith("_")
            && !f.getPath().getName().startsWith("."));
        if (temporary && !data) {
          throw new BadInputException(source + " (--format " + format + "): holds only _temporary/, the part files of a"
              + " write that did not finish (the Spark job writing the table was killed or failed: there is no _SUCCESS);"
              + " write the table again");
        }
      }
    }

    /**
     * A time column that a text format's reader left as strings: the library's message says to cast
     * it, which a command line cannot; the reader can, when asked (a user audit). Spark's JSON
     * reader infers timestamps only with inferTimestamp=true; JSON and CSV recognise ISO 8601
     * unless timestampFormat gives the pattern.
     */
    private void requireTimeNotText(Dataset<Row> table) {
      if (order == null || !(format.equals("json") || format.equals("csv"))) {
        return;
      }
      for (StructField f : table.schema().fields()) {
        if (SequenceTables.sameName(table, f.name(), order) && f.dataType() instanceof StringType) {
          throw new BadInputException("--order: column '" + f.name() + "' of " + source + " (--format " + format
              + ") was read as strings; expected timestamps, dates or numbers. Ask the reader to infer timestamps: "
              + (format.equals("json") && "true".equalsIgnoreCase(option("primitivesAsString"))
                  ? "--option primitivesAsString=true reads every value as a string: leave it out, and "
                  : "")
              + (format.equals("json") ? "--option inferTimestamp=true, and "
                  : "false".equalsIgnoreCase(option("inferSchema")) ? "--option inferSchema=true (it is false), and " : "")
              + (option("timestampFormat") != null && inferring()
                  ? "--option timestampFormat=" + option("timestampFormat") + " was given, and its values do not match it: give"
                      + " the pattern they are written in (Spark's datetime pattern, e.g. --option 'timestampFormat=dd/MM/yyyy HH:mm')"
                  : "--option timestampFormat=PATTERN when they are not ISO 8601 (Spark's datetime pattern, e.g."
                      + " --option 'timestampFormat=dd/MM/yyyy HH:mm')"));
        }
      }
    }

    /** A time of day followed by a zone or offset: "10:00Z", "10:00:00.5 +02:00", "10:00:00 UTC", "10:00 Europe/Paris". */
    private static final String ZONED = "[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}([.][0-9]*)?)?\\s*(Z|z|[+-][0-9]{1,2}(:?[0-9]{2})?|[A-Za-z].*)$";

    /** The string --order column that {@link #timeFromText} read as times, or null. */
    private String orderReadAsTimes;

    /**
     * A string --order column of a source without a reader that infers types (Parquet, ORC, a catalog
     * table, JDBC) read as times: ISO 8601 dates and times ("2024-01-05", "2024-01-05 10:00") as
     * TIMESTAMP_NTZ, wall-clock times that no time zone or daylight-saving change can reorder, or, where
     * any value carries a zone or offset ("…T10:00:00Z"), all as TIMESTAMP instants (values without one
     * then in spark.sql.session.timeZone). A value that is
     * neither is refused, naming the file and the value. The command line has no way to cast a column,
     * so "cast it first, e.g. to_timestamp" was advice it could not follow (a user audit). CSV and JSON
     * were refused before this (requireTimeNotText): their readers infer times, given the pattern.
     */
    private Dataset<Row> timeFromText(Dataset<Row> table) {
      if (order == null || format.equals("json") || format.equals("csv")) {
        return table;
      }
      for (StructField f : table.schema().fields()) {
        if (!SequenceTables.sameName(table, f.name(), order) || !(f.dataType() instanceof StringType)) {
          continue;
        }
        String quoted = "`" + f.name().replace("`", "``") + "`";
        Column text = org.apache.spark.sql.functions.col(quoted);
        Column ntz = org.apache.spark.sql.functions.expr("try_cast(" + quoted + " AS TIMESTAMP_NTZ)");
        Column instant = org.apache.spark.sql.functions.expr("try_cast(" + quoted + " AS TIMESTAMP)");
        // one pass over the column: whether any value carries a zone or offset, and each cast's first value it cannot read.
        // A cast to TIMESTAMP_NTZ drops a zone or offset ("…T10:00+02:00" became 10:00), which would misorder values of
        // different offsets: a value that carries one (after a time of day) makes the column instants
        // A time without a date ("10:00:00") casts to TIMESTAMP as today's: the shards would depend on the day prep ran
        // (a review); it is refused as the other unreadable values are
        Column timeOnly = text.rlike("^\\s*T?[0-9]{1,2}:");
        Row seen = table.agg(org.apache.spark.sql.functions.max(text.rlike(ZONED)),
            org.apache.spark.sql.functions.first(org.apache.spark.sql.functions.when(text.isNotNull().and(ntz.isNull().or(timeOnly)),
                text), true),
            org.apache.spark.sql.functions.first(org.apache.spark.sql.functions.when(text.isNotNull().and(instant.isNull()
                .or(timeOnly)), text), true)).first();
        boolean zoned = !seen.isNullAt(0) && seen.getBoolean(0);
        int badAt = zoned ? 2 : 1;
        if (!seen.isNullAt(badAt)) {
          throw new BadInputException("--order: column '" + f.name() + "' of " + sourceLabel() + " (--format " + format + ")"
              + " holds strings, read as times where they are ISO 8601 dates or times (2024-01-05, 2024-01-05 10:00:00,"
              + " 2024-01-05T10:00:00Z); it holds '" + seen.getString(badAt) + "', which is neither: write the table"
              + " again with the column as a timestamp, a date or a number");
        }
        orderReadAsTimes = f.name();
        return table.withColumn(f.name(), zoned ? instant : ntz);
      }
      return table;
    }

    /**
     * A named column that is a field of a struct column ("reading.temp", in nested JSON or Parquet),
     * given as a top-level column of that name, as Spark resolves it: it was refused as "not found",
     * and the command line has no way to select it (a user audit). A name that is a top-level column
     * keeps that column.
     */
    private Dataset<Row> nestedFieldsAsColumns(Dataset<Row> read) {
      Dataset<Row> table = read;
      List<String> named = new ArrayList<>(key);
      if (order != null) {
        named.add(order);
      }
      named.addAll(inputs);
      named.addAll(targets);
      for (String name : named) {
        if (!name.contains(".") || Arrays.stream(table.columns()).anyMatch(c -> SequenceTables.sameName(read, c, name))) {
          continue;
        }
        String[] parts = name.split("\\.", -1);
        StructField top = Arrays.stream(table.schema().fields()).filter(f -> SequenceTables.sameName(read, f.name(), parts[0])).findFirst()
            .orElse(null);
        if (top == null || !(top.dataType() instanceof org.apache.spark.sql.types.StructType)) {
          continue;   // not a struct's field: SequenceTables names the missing column
        }
        Column field = org.apache.spark.sql.functions.col(Arrays.stream(parts).map(p -> "`" + p.replace("`", "``") + "`")
            .collect(java.util.stream.Collectors.joining(".")));
        try {
          table = table.withColumn(name, field);
        } catch (Exception e) {   // AnalysisException (checked, thrown by Scala undeclared): no such field in the struct
          if (!(e instanceof AnalysisException)) {   // the refusal that follows names the table's columns
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
          }
        }
      }
      return table;
    }

    /**
     * A boolean --inputs or --targets column (a flag, as warehouses export them) read as 0 and 1: it was
     * refused as "boolean; expected a number", and the command line has no way to cast it (a user audit).
     */
    private Dataset<Row> booleansAsNumbers(Dataset<Row> read) {
      Dataset<Row> table = read;
      List<String> asked = new ArrayList<>(inputs);
      asked.addAll(targets);
      for (StructField f : table.schema().fields()) {
        if (f.dataType() instanceof org.apache.spark.sql.types.BooleanType
            && asked.stream().anyMatch(a -> SequenceTables.sameName(read, f.name(), a))) {
          table = table.withColumn(f.name(), org.apache.spark.sql.functions.col("`" + f.name().replace("`", "``") + "`").cast("int"));
        }
      }
      return table;
    }

    /**
     * Refuses an --inputs or --targets column that a CSV or JSON reader read as strings, naming the file,
     * the first value that is no number and the reader option that fixes it: one "NA" placeholder makes
     * the whole column strings, which the generic refusal ("column 'temp' is string; expected a number")
     * named without the file or a way out (a user audit). Runs a job only when there is such a column.
     */
    private void requireValuesNotText(Dataset<Row> table) {
      if (!(format.equals("json") || format.equals("csv"))) {
        return;
      }
      List<String> asked = new ArrayList<>(inputs);
      asked.addAll(targets);
      for (String name : asked) {
        for (StructField f : table.schema().fields()) {
          if (!SequenceTables.sameName(table, f.name(), name) || !(f.dataType() instanceof StringType)) {
            continue;
          }
          String quoted = "`" + f.name().replace("`", "``") + "`";
          // the first value that is no number to the reader: try_cast took 'inf', which the CSV reader does not (a review);
          // the reader's own spellings of NaN and infinity are numbers to it, so a 'NaN' before the 'NA' that made the
          // column strings was named, with advice (--option nanValue=NaN) that changed nothing (a review)
          Column text = org.apache.spark.sql.functions.col(quoted);
          Column number = text.rlike(format.equals("csv") ? CSV_NUMBER : JSON_NUMBER);
          if (format.equals("csv")) {
            for (String[] spelling : new String[][] {{"nanValue", "NaN"}, {"positiveInf", "Inf"}, {"negativeInf", "-Inf"}}) {
              String given = option(spelling[0]);
              number = number.or(text.equalTo(given == null ? spelling[1] : given));
            }
          }
          List<Row> bad = table.where(text.isNotNull().and(org.apache.spark.sql.functions.not(number))).select(quoted).takeAsList(1);
          String option = inputs.contains(name) ? "--inputs" : "--targets";
          String head = option + ": column '" + f.name() + "' of " + source + " (--format " + format + ") was read as strings;"
              + " expected numbers";
          if (bad.isEmpty()) {   // every value a number in quotes, or the reader told to keep strings
            throw new BadInputException(head + (format.equals("csv") ? ("false".equalsIgnoreCase(option("inferSchema"))
                ? ": --option inferSchema=false keeps every column strings: leave it out"
                : ": each value is a number to Spark's cast, not to the reader's inference (spaces around the numbers, for one:"
                    + " --option ignoreLeadingWhiteSpace=true --option ignoreTrailingWhiteSpace=true)")
                : ": its values are numbers in quotes"
                + (("true".equalsIgnoreCase(option("primitivesAsString"))) ? ", or --option primitivesAsString=true read them"
                + " so: leave it out" : "; JSON keeps a quoted value a string: write the numbers unquoted")));
          }
          String value = bad.get(0).getString(0);
          String special = value.strip().toLowerCase(java.util.Locale.ROOT).replaceFirst("^\\+", "");
          String spelled = special.equals("nan") ? "nanValue" : special.matches("inf(inity)?") ? "positiveInf"
              : special.matches("-inf(inity)?") ? "negativeInf" : null;
          throw new BadInputException(head + ": it holds '" + value + "', which the reader took for no number. "
              + (format.equals("csv") && spelled != null
              ? "The CSV reader spells it NaN, Inf or -Inf: --option " + spelled + "=" + value.strip() + " reads this spelling"
                  + " (then --missing decides its row)"
              : format.equals("csv")
              ? "If '" + value + "' marks a missing value, --option " + shellWord("nullValue=" + value) + " reads it as null (then"
                  + " --missing decides its row)"
              : "JSON keeps a field a string where any row holds a string: write a missing value as null (then --missing decides"
                  + " its row)"));
        }
      }
    }

    /**
     * A number as the CSV reader's inference takes one (Java's Double.parseDouble: digits, a point, an
     * exponent, a d or f suffix, NaN and Infinity with a sign, spaces around), besides its nanValue,
     * positiveInf and negativeInf spellings; Spark's cast takes more ('inf').
     */
    private static final String CSV_NUMBER =
        "^\\s*[+-]?(NaN|Infinity|([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?[dDfF]?)\\s*$";
    /** A number as the JSON reader takes one unquoted (allowNonNumericNumbers: NaN, INF, Infinity with a sign). */
    private static final String JSON_NUMBER = "^\\s*[+-]?(NaN|INF|Infinity|([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?)\\s*$";

    /** {@code s} as one shell word: bare when it is plain, else in single quotes (a value with spaces, " NA "). */
    static String shellWord(String s) {
      return s.matches("[A-Za-z0-9_./:=+,@%-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    /** Whether the reader inferred types, so that a timestampFormat given was tried on the values. */
    private boolean inferring() {
      return format.equals("json") ? "true".equalsIgnoreCase(option("inferTimestamp")) && !"true".equalsIgnoreCase(option("primitivesAsString"))
          : !"false".equalsIgnoreCase(option("inferSchema"));
    }

    private static boolean allNumbers(String[] names) {
      for (String n : names) {
        try {
          Double.parseDouble(n.strip());
        } catch (NumberFormatException e) {
          return false;
        }
      }
      return names.length > 0;
    }

    /**
     * The table, {@code beforeWhere} applied, filtered; Spark's analysis errors (no such path, format or
     * column) as bad input.
     */
    private Dataset<Row> read(SparkSession spark, java.util.function.UnaryOperator<Dataset<Row>> beforeWhere) {
      try {
        Dataset<Row> table;
        if (format.equals("table")) {
          table = spark.read().options(readerOptions).table(source);   // a Delta table's versionAsOf, say
        } else {
          DataFrameReader reader = spark.read().format(format);
          if (format.equals("csv")) {
            reader = reader.option("header", "true").option("inferSchema", "true");
          }
          if (isJdbc()) {
            // SOURCE names the table unless an option does; no path option, which a driver would get as a property
            Map<String, String> options = new LinkedHashMap<>(readerOptions);
            if (option("dbtable") == null && option("query") == null) {
              options.put("dbtable", source);
            }
            table = reader.options(options).load();
          } else {
            table = reader.options(readerOptions).load(source);
          }
          if (format.equals("csv") && !readerOptions.containsKey("header") && allNumbers(table.columns())) {
            // as prep csv: Spark's df.write.csv writes no header, and its first row would name the columns
            throw new BadInputException(source + " (--format csv): the first line's fields are all numbers ("
                + String.join(",", Arrays.asList(table.columns()).subList(0, Math.min(3, table.columns().length)))
                + (table.columns().length > 3 ? ",..." : "") + "), so it looks like data, not a header (Spark's"
                + " df.write.csv writes none); pass --option header=false to read it as data (columns _c0, _c1, ...),"
                + " or --option header=true if it really is the header");
          }
        }
        table = beforeWhere.apply(table);
        return where == null ? table : table.where(where);
      } catch (BadInputException e) {   // beforeWhere's refusals, already naming what and where
        throw e;
      } catch (Exception e) {
        // the database's refusals (no driver for the URL, no such table, a bad password) and Spark's
        // checks of the JDBC options (dbtable and query both given) are the user's to fix
        boolean fromDatabase = isJdbc() && inCauses(e, SQLException.class::isInstance) != null;
        // a file Spark cannot read as --format says (a CSV read as the default parquet), and a reader
        // option's bad value (versionAsOf=abc, dbtable with query): the user's to fix, not a bug
        Throwable unreadable = inCauses(e, t -> t.getMessage() != null && t.getMessage().startsWith("[FAILED_READ_FILE"));
        // a Hive metastore that cannot be reached: its MetaException says so, under three wrappers whose
        // messages do not ("Unable to instantiate SessionHiveMetaStoreClient")
        Throwable metastore = format.equals("table")
            ? inCauses(e, t -> t.getClass().getName().equals("org.apache.hadoop.hive.metastore.api.MetaException")) : null;
        if (e instanceof AnalysisException || e instanceof ClassNotFoundException
            || e instanceof SparkClassNotFoundException || fromDatabase || unreadable != null
            || e instanceof IllegalArgumentException || metastore != null) {
          String why = summary(unreadable != null ? unreadable : metastore != null ? metastore : e);
          if (metastore != null) {
            String uris = spark.sparkContext().hadoopConfiguration().get("hive.metastore.uris", "");
            why += " (the Hive metastore: " + (uris.isBlank() ? "no hive.metastore.uris set, so an embedded one"
                : "hive.metastore.uris=" + uris) + "; it is named in hive-site.xml or by spark.hadoop.hive.metastore.uris)";
          }
          if (unreadable != null && FILE_FORMATS.contains(format)) {
            why += "; if the files are of another format, name it with --format (parquet is the default; csv, orc, json)";
          }
          if (why.contains("TABLE_OR_VIEW_NOT_FOUND") && format.equals("table")
              && "in-memory".equals(spark.conf().get("spark.sql.catalogImplementation", "in-memory"))) {
            why += " (this session's catalog is Spark's in-memory one, which holds no tables of earlier sessions: a Hive"
                + " metastore's tables need Spark's Hive support on the classpath, as in Spark's distributions built with Hive)";
          }
          if (isJdbc() && e instanceof ClassNotFoundException && e.getMessage() != null && e.getMessage().equals(option("driver"))) {
            // the message is the class name alone
            why = "the JDBC driver class " + option("driver") + " (--option driver) is not on the classpath: put the database's"
                + " driver jar there (" + DRIVER_JAR_HINT + ")";
          } else if (fromDatabase && why.contains("No suitable driver")) {
            // the scheme only: a url may hold a user and password
            why += " for " + jdbcScheme(option("url")) + " URLs: put the database's JDBC driver jar on the classpath ("
                + DRIVER_JAR_HINT + ")";
          } else if (why.contains("DATA_SOURCE_NOT_FOUND") || why.contains("Failed to find data source")) {   // the second: avro
            why += " (a format from a package, such as delta, or avro from org.apache.spark:spark-avro_2.13:4.0.1, needs its jars on"
                + " the classpath: " + CLASSPATH_HINT + ")";
          }
          throw new BadInputException(sourceLabel() + " (--format " + format + (where == null ? "" : ", --where " + where)
              + "): " + why, e);
        }
        throw e;
      }
    }

    private static final String CLASSPATH_HINT = "bin/spark-rnn: SPARK_RNN_CLASSPATH=a.jar:b.jar; spark-submit: --jars or --packages";
    private static final String DRIVER_JAR_HINT = "bin/spark-rnn: SPARK_RNN_CLASSPATH=driver.jar; spark-submit: --driver-class-path"
        + " driver.jar --jars driver.jar, or --jars with --option driver=ITS.DRIVER.CLASS";

    private boolean isJdbc() {
      return format.equals("jdbc");
    }

    /** Option keys the manifest never records, by name: they may carry credentials (a url can hold a password). */
    private static final Pattern SECRET_OPTION =
        Pattern.compile("(?i).*(password|secret|token|credential|key|url|user|auth).*");

    /**
     * The reader options into the manifest's source ("options", e.g. Delta's versionAsOf: which
     * version was read), but a key that may carry credentials only by name ("options_withheld").
     */
    private void putOptions(Map<String, Object> provenance) {
      Map<String, String> recorded = new TreeMap<>();
      List<String> withheld = new ArrayList<>();
      readerOptions.forEach((k, v) -> {
        if (SECRET_OPTION.matcher(k).matches()) {
          withheld.add(k);
        } else {
          recorded.put(k, v);
        }
      });
      if (!recorded.isEmpty()) {
        provenance.put("options", recorded);
      }
      if (!withheld.isEmpty()) {
        Collections.sort(withheld);
        provenance.put("options_withheld", withheld);
      }
    }

    /**
     * Whether the error is a decimal value past its precision (NUMERIC_VALUE_OUT_OF_RANGE, what a
     * database NUMERIC of 1e40 read as decimal(38, 0) gives), which the decimal(38) hint is about; a
     * --where that divides by zero or overflows an integer is not (reviews: both were sent to the
     * table's decimal columns).
     */
    static boolean isOverflow(SparkArithmeticException e) {
      String condition = e.getCondition();
      return condition != null && condition.startsWith("NUMERIC_VALUE_OUT_OF_RANGE");
    }

    /**
     * Where a value too large for Spark's decimal(38) came from: the table's decimal columns of
     * precision 38 (Spark's widest, what a database's unbounded NUMERIC becomes), and for jdbc how
     * to read one as a double instead.
     */
    private String overflowHint(Dataset<Row> table) {
      List<String> widest = new ArrayList<>();
      for (StructField f : table.schema().fields()) {
        if (f.dataType() instanceof DecimalType d && d.precision() == 38) {
          widest.add(f.name());
        }
      }
      if (widest.isEmpty()) {
        return "";
      }
      return " (the table's decimal(38) columns: " + String.join(", ", widest) + (isJdbc()
          ? "; read such a column as a double: --option 'customSchema=" + widest.get(0) + " DOUBLE'"
          : "; cast such a column to double where the table is written") + ")";
    }

    /**
     * A path without a scheme as the full URI it names (file:/…, or {@code conf}'s default file
     * system's), as the manifest records --out: a relative one named no place once read from another directory (a
     * user audit: 'sensors.orc'). A path with a scheme is kept as given.
     */
    static String qualified(String path, Configuration conf) throws IOException {
      Path p = new Path(path);
      return p.toUri().getScheme() != null ? path : FileSystems.get(p, conf).makeQualified(p).toString();
    }

    /** What errors name as the source: SOURCE, or for jdbc the table or query read. */
    private String sourceLabel() {
      return !isJdbc() ? source : option("query") != null ? "--option query" : jdbcTable();
    }

    /** "jdbc:postgresql:" of a JDBC url, without its host, user or password. */
    static String jdbcScheme(String url) {
      if (url == null) {
        return "the url option's";
      }
      int second = url.indexOf(':', url.indexOf(':') + 1);
      return second > 0 ? url.substring(0, second + 1) : "the url option's";
    }

    /**
     * Whether SOURCE and dbtable name one table: equal in any case, or one the other's schema-qualified
     * name ({@code series} and {@code public.series}).
     */
    static boolean sameTable(String source, String dbtable) {
      String a = source.strip().toLowerCase(Locale.ROOT);
      String b = dbtable.strip().toLowerCase(Locale.ROOT);
      return a.equals(b) || (!a.contains(".") && b.endsWith("." + a)) || (!b.contains(".") && a.endsWith("." + b));
    }

    /** The JDBC table read: --option dbtable, else SOURCE. */
    private String jdbcTable() {
      return Objects.requireNonNullElse(option("dbtable"), source);
    }

    /** A reader option's value, its key matched as Spark matches it (case-insensitively), or null. */
    private String option(String key) {
      for (Map.Entry<String, String> e : readerOptions.entrySet()) {
        if (e.getKey().equalsIgnoreCase(key)) {
          return e.getValue();
        }
      }
      return null;
    }


    /**
     * An exception's message in one line: its first, with the next joined where the first ends in a
     * colon ("requirement failed: " alone said nothing) or the next goes on with the sentence (starts
     * in lower case: Delta breaks "… the earliest version available to this" / "table (…). Please use
     * a timestamp after …"), without H2's trailing "; SQL statement:".
     */
    static String summary(Throwable e) {
      String m = e.getMessage() == null ? e.getClass().getName() : e.getMessage().strip();
      String[] lines = m.split("\\R");
      String line = lines[0].strip();
      for (int i = 1; i < lines.length && (line.endsWith(":") || line.isEmpty() || startsLowerCase(lines[i])); i++) {
        if (line.endsWith("; SQL statement:")) {
          break;
        }
        line = (line + " " + lines[i].strip()).strip();
      }
      line = line.replaceFirst(";\\s*SQL statement:$", "");
      if (line.endsWith(":") && e.getCause() != null && e.getCause() != e) {
        line += " " + summary(e.getCause());
      }
      return line.length() > 600 ? line.substring(0, 600) + "…" : line;
    }

    /** A line that goes on with the sentence: in lower case, and not a stack frame ("at org.apache…(") in the message. */
    private static boolean startsLowerCase(String line) {
      String t = line.strip();
      return !t.isEmpty() && Character.isLowerCase(t.charAt(0)) && !STACK_FRAME.matcher(t).lookingAt();
    }

    private static final Pattern STACK_FRAME = Pattern.compile("at [\\w$.<>/]+\\(");

    /** The first exception in {@code e}'s cause chain (itself included) that {@code matches}, or null. */
    private static Throwable inCauses(Throwable e, Predicate<Throwable> matches) {
      for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
        if (matches.test(t)) {
          return t;
        }
      }
      return null;
    }
  }
}
