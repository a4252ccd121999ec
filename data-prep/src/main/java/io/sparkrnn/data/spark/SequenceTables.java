package io.sparkrnn.data.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.greatest;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.xxhash64;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.FeatureNames;
import io.sparkrnn.data.DatasetWriter;
import io.sparkrnn.data.ExactMoments;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Moments;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardCodec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.WindowCutter;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.sql.types.UserDefinedType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Any Spark table to a dataset (manifest + shards), distributed: the executors cut the windows
 * and write the shards; the driver receives counts, exact moments and shard descriptions, never
 * rows.
 *
 * <p>How, and why the output is byte-identical whatever the table's file layout, partition count
 * or executor count:
 * <ol>
 *   <li>Every series gets h = xxhash64(seed, key). The sequences of a split are ordered by
 *       (h, window start); shard i of a split holds its sequences i·B … i·B + B − 1. Nothing in
 *       that order depends on how Spark partitions the work. (Two keys with the same h would be
 *       ambiguous: they are refused, naming both keys, with a request for another seed.)
 *   <li>Rows are shuffled once, by a bucket that rises with h ({@code repartition(N, bucket)}),
 *       and sorted within partitions by (h, bucket, order). A key's rows are then contiguous and
 *       in time order in one task, and each bucket's windows come out in the global order.
 *   <li>Pass 1 cuts the windows and returns, per bucket, the number of windows of each split
 *       and (with {@code normalize}) the training windows' moments, summed exactly
 *       ({@link ExactMoments}) so that their merge order does not matter.
 *   <li>The driver turns the counts into each bucket's first global index, and the moments into
 *       the normalisation.
 *   <li>Pass 2 cuts the same windows (Spark reuses the shuffle's files) and gives each its global
 *       index. A shard whose sequences all lie in one bucket is assembled and written by that
 *       task; the few shards that straddle buckets are assembled after a small shuffle of just
 *       their windows. Shards are published through task-attempt-unique temporary names renamed
 *       into place, so retried tasks are harmless.
 *   <li>The driver checks every shard's size and writes manifest.json last, by rename.
 * </ol>
 * Memory: a task holds T + K rows per series and one shard per split, never a whole series, so a
 * table larger than every heap involved is fine. On any failure the output is removed.
 */
public final class SequenceTables {
  private static final Logger LOG = LoggerFactory.getLogger(SequenceTables.class);
  /** The task name in the manifest. */
  public static final String TASK = "table";
  private static final String H = "__sparkrnn_h";
  private static final String BUCKET = "__sparkrnn_bucket";
  private static final String VALIDATION = "__sparkrnn_validation";
  private static final String SERIES_ROWS = "__sparkrnn_series_rows";
  /** Salt of the by-key split's hash, so that it is independent of the ordering hash. */
  private static final long SPLIT_SALT = 0x9E3779B97F4A7C15L;
  /** The by-key split compares the hash modulo this with fraction · this. */
  private static final long SPLIT_RESOLUTION = 1L << 24;

  private SequenceTables() {}

  /**
   * Cuts {@code table} into sequences and writes a dataset to {@code outUri}.
   *
   * @param table long format (one row per key and time) or wide format (one row per sequence);
   *     filter it first ({@code where}) as you need
   * @return the manifest written
   * @throws IllegalArgumentException for bad options, columns or data, naming the column (and the
   *     key and order value); nothing is left at {@code outUri}
   */
  public static Manifest prep(Dataset<Row> table, TableSpec spec, String outUri) throws IOException {
    return prep(table, spec, outUri, false);
  }

  /** As {@link #prep(Dataset, TableSpec, String)}; {@code overwrite} replaces an existing dataset. */
  public static Manifest prep(Dataset<Row> table, TableSpec spec, String outUri, boolean overwrite) throws IOException {
    return prep(table, spec, outUri, overwrite, null);
  }

  /**
   * As {@link #prep(Dataset, TableSpec, String, boolean)}, with {@code normalizationFrom}: the
   * statistics to apply (with {@code spec.normalize()}) instead of the training split's, e.g. a
   * trained model's, so that new data matches it.
   */
  public static Manifest prep(Dataset<Row> table, TableSpec spec, String outUri, boolean overwrite,
      Normalization normalizationFrom) throws IOException {
    return prep(table, spec, outUri, overwrite, normalizationFrom, "--normalization-from");
  }

  /**
   * As {@link #prep(Dataset, TableSpec, String, boolean, Normalization)}; {@code normalizationSource}
   * names where the statistics came from in the error when they do not fit the table.
   */
  public static Manifest prep(Dataset<Row> table, TableSpec asGiven, String outUri, boolean overwrite,
      Normalization normalizationFrom, String normalizationSource) throws IOException {
    return prep(table, asGiven, outUri, overwrite, normalizationFrom, normalizationSource, PrepLog.PLAIN);
  }

  /**
   * How a prep's log lines read: {@code prefix} opens each (a fit's "RnnEstimator uid fit id: ", so
   * that the lines of parallel fits can be told apart), and {@code outName}, where not null, names
   * the output in place of its path (a fit's work directory, removed when the fit ends).
   */
  public record PrepLog(String prefix, String outName) {
    public static final PrepLog PLAIN = new PrepLog("", null);
  }

  /** As {@link #prep(Dataset, TableSpec, String, boolean, Normalization, String)}, its lines as {@code log} says. */
  public static Manifest prep(Dataset<Row> table, TableSpec asGiven, String outUri, boolean overwrite,
      Normalization normalizationFrom, String normalizationSource, PrepLog log) throws IOException {
    Layout layout = Layout.resolve(table, asGiven);
    // the default horizon follows the columns as Spark resolved them, not their names as written
    TableSpec spec = asGiven.horizon() < 0 && !asGiven.nextStepTargets() && !asGiven.wide()
        ? asGiven.withHorizon(layout.targetIsInput ? 1 : 0) : asGiven;
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(table.sparkSession().sparkContext());
    PrepOptions options = new PrepOptions(new Path(outUri).toUri(), spec.batch(), spec.validationFraction(),
        spec.normalize(), overwrite, normalizationFrom, normalizationSource);
    FileSystem fs = FileSystems.get(options.out(), sc.hadoopConfiguration());
    Path out = fs.makeQualified(new Path(options.out()));
    // fail before any job on an output that DatasetWriter.prepare would refuse later
    DatasetWriter.checkDirectory(fs, out, overwrite);

    int buckets = spec.partitions() > 0 ? spec.partitions()
        : Integer.parseInt(table.sparkSession().conf().get("spark.sql.shuffle.partitions"));
    TableRows cutter = layout.rows(spec);
    // the scope before toRdd: under adaptive execution toRdd runs the shuffle and sort job itself, which an
    // interrupt or a cancel of the fit left running untagged and uncancelled (a user audit: 11.6 s of a
    // long-lived session's cores after fit had returned)
    JobScope scope = JobScope.open(sc, "prep-table");
    scope.reportProgress(line -> LOG.info(log.prefix() + line));
    DatasetWriter.Output output = null;
    Path dir = out;
    try {
      scope.describe("prep table: pass 1 of 2, count windows" + (spec.normalize() ? " and moments" : ""));
      // pass 1 sorts the whole table, minutes on a large one: say so before it starts, and time it from here, since under
      // adaptive execution toRdd below runs the read and the sort's shuffle itself (a scale audit: the line came after
      // them, and "pass 1 in 18.4 s" left out 20 s of them)
      List<String> sortedBy = new ArrayList<>(spec.keyColumns());
      if (spec.orderColumn() != null) {
        sortedBy.add(spec.orderColumn());
      }
      LOG.info("{}prep table: pass 1 of 2: reading the table, sorting its rows{}{}, counting windows{}", log.prefix(),
          sortedBy.isEmpty() ? "" : " by " + String.join(", ", sortedBy),
          spec.keyColumns().isEmpty() ? " (one series, without --key)" : " into " + buckets + " buckets of keys",
          spec.normalize() ? " and moments" : "");
      long pass1Start = System.nanoTime();
      // Spark's internal rows: the same RDD object for both passes, so pass 2 reuses the shuffle's files
      JavaRDD<InternalRow> rows = sortedRows(table, spec, layout, buckets).queryExecution().toRdd().toJavaRDD();
      int normOutputs = spec.classes() > 0 ? 0 : layout.targetWidth;
      boolean normalize = spec.normalize() && normalizationFrom == null;
      int features = layout.features;
      int steps = spec.steps();
      boolean seq2one = spec.seq2one();
      List<byte[]> partials = rows.mapPartitions(it -> {
        PassOne p = new PassOne(normalize ? new ExactMoments(features, normOutputs) : null, steps, seq2one, buckets);
        cutter.cut(it, p, p.stats);
        return List.of(serialize(p)).iterator();
      }).collect();
      PassOne total = new PassOne(normalize ? new ExactMoments(features, normOutputs) : null, steps, seq2one, buckets);
      for (byte[] b : partials) {
        total.merge((PassOne) deserialize(b));
      }
      // after pass 1, so that bad data found there leaves nothing; with --overwrite the shards go to a
      // staging directory that replaces the old dataset at commit
      output = DatasetWriter.prepare(fs, out, overwrite);
      dir = output.writeDir();
      Plan plan = total.plan(spec, layout, buckets, dir.toString(), options);
      LOG.info("{}prep table: pass 1 in {} s: {} rows, {} series, {} train + {} validation windows", log.prefix(),
          String.format("%.1f", (System.nanoTime() - pass1Start) / 1e9), total.stats.rows, total.stats.series,
          plan.count[0], plan.count[1]);
      if (total.stats.seriesWithoutWindows > 0) {
        // not an error (the rest train), but left out without a word a short key would look scored
        LOG.warn("{}prep table: {} of {} series are too short for one window ({}) and are left out"
            + " (source.counts.series_without_windows in the manifest)", log.prefix(), total.stats.seriesWithoutWindows, total.stats.series,
            steps > 0 ? "T = " + steps + " steps, or --min-steps (setMinSteps)" : "--min-steps (setMinSteps)");
      }
      if (total.stats.seriesUneven > 0) {
        // windows take rows as they come: a missing row makes a window span a longer step than the model learns from
        LOG.warn("{}prep table: {} of {} series have uneven time steps (the largest over {} x their smallest; "
            + "source.counts.series_uneven in the manifest): a window spans rows as they come, so where rows are missing"
            + " (or the table was sampled at random, as the splits of Spark's CrossValidator and TrainValidationSplit"
            + " are) its steps are not the series' own. Fill the missing times first (a join with the full time range,"
            + " then --missing ffill or setMissing(\"ffill\")), if that is not intended; for model selection, give"
            + " CrossValidator folds of whole keys (setFoldCol; TrainValidationSplit cannot keep series whole: docs/ml.md"
            + " \"Model selection\")", log.prefix(), total.stats.seriesUneven, total.stats.series, TableRows.UNEVEN);
      }
      long pass2Start = System.nanoTime();
      Prep.checkBatch(plan.dataset, options);

      scope.describe("prep table: pass 2 of 2, write " + plan.shards() + " shards");
      SerializableConfiguration conf = new SerializableConfiguration(sc.hadoopConfiguration());
      JavaPairRDD<Long, byte[]> pieces = rows.mapPartitionsToPair(it -> {
        try (PassTwo p = new PassTwo(plan, conf)) {
          cutter.cut(it, p, new TableRows.Stats());
          return p.finish().iterator();
        }
      });
      int reducers = Math.max(1, Math.min(sc.defaultParallelism(), plan.shards()));
      List<byte[]> written = pieces.groupByKey(reducers).map(t -> assemble(plan, t._1(), t._2(), conf)).collect();
      ShardInfo[] shards = new ShardInfo[plan.shards()];
      for (byte[] b : written) {
        ByteBuffer buf = ByteBuffer.wrap(b);
        int index = buf.getInt();
        ShardInfo info = (ShardInfo) deserialize(Arrays.copyOfRange(b, 4, b.length));
        if (shards[index] != null) {
          throw new IllegalStateException("shard " + index + " assembled twice");
        }
        shards[index] = info;
      }
      for (int i = 0; i < shards.length; i++) {
        if (shards[i] == null) {
          throw new IllegalStateException("shard " + i + " was never written");
        }
        long len = fs.getFileStatus(new Path(dir, shards[i].file())).getLen();
        if (len != shards[i].bytes()) {
          throw new IOException(shards[i].file() + ": " + len + " bytes after the job, the task wrote " + shards[i].bytes());
        }
      }
      Manifest manifest = new Manifest(plan.dataset, List.of(shards), plan.normalization);
      output.commit(manifest);
      LOG.info("{}prep table: pass 2 in {} s: {} shards written to {}", log.prefix(),
          String.format("%.1f", (System.nanoTime() - pass2Start) / 1e9), shards.length, log.outName() != null ? log.outName() : out);
      return manifest;
    } catch (Exception e) {
      // Spark's SparkException is checked but not declared by collect(), hence Exception here. An interrupt
      // is cleared for the cancel's wait and set again for the caller (it came back cleared: a user audit)
      boolean interrupted = Thread.interrupted() | interruptedBy(e);
      try {
        scope.cancel();
        if (output != null) {
          output.abort();
        }
      } finally {
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
      throw unwrap(e);
    } finally {
      scope.close();
    }
  }

  private static boolean interruptedBy(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof InterruptedException) {
        return true;
      }
    }
    return false;
  }

  /**
   * A bad-data error from a task as it was thrown; anything else as it is, Spark's checked (and
   * undeclared) SparkException or InterruptedException too, as training lets them through: a notebook
   * that catches SparkException for a cancelled cell got an IllegalStateException here (a user audit).
   */
  private static RuntimeException unwrap(Exception e) throws IOException {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof TableDataException tde) {
        return new TableDataException(tde.getMessage(), e);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    if (e instanceof IOException io) {
      throw io;
    }
    if (e instanceof RuntimeException r) {
      return r;
    }
    throw SequenceTables.<RuntimeException>undeclared(e);
  }

  /** Throws {@code e} as it is, checked or not (the compiler takes it for a {@code T}). */
  @SuppressWarnings("unchecked")
  private static <T extends Exception> T undeclared(Exception e) throws T {
    throw (T) e;
  }

  /**
   * A number column, or an array (of arrays) of numbers, as doubles that TableRows rounds to the
   * shards' float32 once more without changing them. A long or decimal goes to float first, then
   * exactly to double: through double it was rounded twice, and a value just past a float32
   * halfway point landed one ulp off (a user audit: decimal 16777217.000000000000000001 gave
   * 16777216, not 16777218). Spark's casts round long and decimal to float correctly, as Java's
   * {@code (float) long} and {@code BigDecimal.floatValue()} do, which transform's rows use
   * ({@link TableNumbers#toFloat}); neither overflows float (|long| &lt; 2^63, a decimal &lt; 10^38).
   * A long goes through decimal(20, 0) (exact): Spark's optimizer folds a scalar
   * {@code cast(cast(l as float) as double)} into {@code cast(l as double)}, the double rounding
   * again, which it does not do through a decimal (a review: a table read from Parquet kept 2^54
   * where the float of 2^54 + 2^30 + 1 is 2^54 + 2^31). Other types cast to double exactly
   * (integers, float) or are doubles already.
   */
  static Column asDoubles(Column v, DataType type) {
    DataType leaf = type;
    while (leaf instanceof ArrayType a) {
      leaf = a.elementType();
    }
    Column c = v;
    if (leaf instanceof LongType) {
      c = c.cast(withLeaf(type, DataTypes.createDecimalType(20, 0)));
    }
    if (leaf instanceof LongType || leaf instanceof DecimalType) {
      c = c.cast(withLeaf(type, DataTypes.FloatType));
    }
    return c.cast(withLeaf(type, DataTypes.DoubleType));
  }

  /** {@code type} with its innermost element type (itself, for a scalar) replaced by {@code leaf}. */
  private static DataType withLeaf(DataType type, DataType leaf) {
    return type instanceof ArrayType a ? DataTypes.createArrayType(withLeaf(a.elementType(), leaf)) : leaf;
  }

  /** The projected rows, shuffled by bucket and sorted, in {@link TableRows}'s layout. */
  static Dataset<Row> sortedRows(Dataset<Row> table, TableSpec spec, Layout layout, int buckets) {
    List<Column> keys = new ArrayList<>();
    for (String k : layout.keyNames) {
      keys.add(quoted(k));
    }
    // wide: the sequence column as array<double> or array<array<double>>, as TableRows reads it
    Column series = spec.wide() ? asDoubles(quoted(layout.seriesColumn), table.schema().apply(layout.seriesColumn).dataType())
        .as(layout.seriesColumn) : quoted(layout.seriesColumn);
    // a wide row without keys is hashed by its contents as Spark's cast to doubles gives them, as before
    // the values were rounded to float in one step: the same table and seed keep their order and split
    Column[] hashInputs = keys.isEmpty()
        ? (spec.wide() ? new Column[] {lit(spec.seed()), quoted(layout.seriesColumn).cast(layout.seriesType)}
            : new Column[] {lit(spec.seed())})
        : concat(lit(spec.seed()), keys);
    boolean byKey = spec.effectiveSplit() == TableSpec.SplitMode.BY_KEY;
    Column validation = lit(false);
    if (byKey && spec.validationFraction() > 0) {
      Column[] splitInputs = hashInputs.clone();
      splitInputs[0] = lit(spec.seed() ^ SPLIT_SALT);
      validation = pmod(xxhash64(splitInputs), lit(SPLIT_RESOLUTION))
          .lt(lit(Math.round(spec.validationFraction() * SPLIT_RESOLUTION)));
    }
    List<Column> projection = new ArrayList<>();
    projection.add(xxhash64(hashInputs).as(H));
    projection.add(validation.as(VALIDATION));
    projection.addAll(keys);
    projection.add(series);
    for (TableRows.ValueColumn c : layout.values) {
      // TableRows reads numbers as doubles: scalars and arrays cast here, vectors are doubles already
      Column v = quoted(c.name());
      projection.add(c.kind() == TableRows.Kind.VECTOR ? v
          : asDoubles(v, table.schema().apply(c.name()).dataType()).as(c.name()));
    }
    Dataset<Row> p = table.select(projection.toArray(new Column[0]));
    // bucket = ⌊(h / 2^64 + 1/2) · N⌋: non-decreasing in h (each step is monotone), so each
    // bucket's rows are one contiguous run of the global (h, key, …) order
    Column bucket = least(greatest(floor(col(H).cast(DataTypes.DoubleType).divide(lit(18446744073709551616.0))
        .plus(lit(0.5)).multiply(lit(buckets))), lit(0L)), lit((long) buckets - 1)).cast(DataTypes.IntegerType);
    p = p.withColumn(BUCKET, bucket).repartition(buckets, col(BUCKET));
    Column seriesCol = quoted(layout.seriesColumn);
    // Sorted by (h, bucket, time): h first, so Spark's sort settles nearly every comparison on its
    // 64-bit prefix; the bucket (a function of h) changes nothing in the order but lets the
    // by-time window count below share this sort. Keys are not compared: a series is a run of
    // equal h, and two keys with the same h (probability about keys² / 2^65) are detected by
    // TableRows and refused with a message to pick another seed.
    List<Column> order = new ArrayList<>(List.of(col(H), col(BUCKET), seriesCol));
    if (!byKey && !spec.wide()) {
      // rows per series, for the by-time boundary. Partitioned by (h, bucket), which the shuffle
      // by bucket already satisfies, and ordered like the sort below, so Spark sorts once.
      p = p.withColumn(SERIES_ROWS, count(lit(1)).over(Window.partitionBy(col(H), col(BUCKET))
          .orderBy(seriesCol).rowsBetween(Window.unboundedPreceding(), Window.unboundedFollowing())));
    } else if (!byKey) {
      p = p.withColumn(SERIES_ROWS, size(seriesCol).cast(DataTypes.LongType));
    } else {
      p = p.withColumn(SERIES_ROWS, lit(-1L));
    }
    p = p.sortWithinPartitions(order.toArray(new Column[0]));
    List<Column> out = new ArrayList<>(List.of(col(H), col(BUCKET), col(VALIDATION), col(SERIES_ROWS)));
    out.addAll(keys);
    out.add(seriesCol);
    for (TableRows.ValueColumn c : layout.values) {
      out.add(quoted(c.name()));
    }
    return p.select(out.toArray(new Column[0]));
  }

  private static Column[] concat(Column first, List<Column> rest) {
    Column[] all = new Column[rest.size() + 1];
    all[0] = first;
    for (int i = 0; i < rest.size(); i++) {
      all[i + 1] = rest.get(i);
    }
    return all;
  }

  /** A column by its exact (resolved) name, dots and all. */
  public static Column quoted(String name) {
    return col(quotedName(name));
  }

  /**
   * {@code name} as Spark's column syntax takes it as one name, dots and all ({@code `t.s`}: unquoted,
   * {@code t.s} is the field s of a struct t), for {@link #quoted} and for {@code Dataset.col}.
   */
  public static String quotedName(String name) {
    return "`" + name.replace("`", "``") + "`";
  }

  /** The table's columns resolved against the spec: names as Spark resolves them, kinds, widths. */
  static final class Layout implements Serializable {
    private static final long serialVersionUID = 1L;
    final List<String> keyNames = new ArrayList<>();
    final List<DataType> keyTypes = new ArrayList<>();
    String seriesColumn;
    /** The order column's type (long format), or the type the sequence column is cast to (wide). */
    DataType seriesType;
    TableRows.ValueColumn[] values;
    int[] inputSlots;
    int[] targetSlots;
    int features;
    /** O as the window cutter sees it: target values per row (1 for a class id). */
    int targetWidth;
    /** Whether a target column is one of the input columns, as Spark resolves names (long format). */
    boolean targetIsInput;
    final Map<String, Object> columns = new LinkedHashMap<>();

    TableRows rows(TableSpec spec) {
      return new TableRows(spec, keyNames, keyTypes.toArray(new DataType[0]), seriesColumn, seriesType, values,
          inputSlots, targetSlots, features, targetWidth);
    }

    static Layout resolve(Dataset<Row> table, TableSpec spec) {
      Layout l = new Layout();
      for (String k : spec.keyColumns()) {
        StructField f = field(table, k, "--key");
        if (f.dataType() instanceof MapType) {
          throw new BadInputException("--key: column '" + f.name() + "' is " + f.dataType().simpleString()
              + "; a key must be comparable (a string, number, date, …)");
        }
        if (collated(f.dataType())) {
          // the sort and the cut take a key by its bytes (xxhash64, then byte equality), while Spark groups such
          // strings by their collation: "S0" and "s0" under UTF8_LCASE would be cut as two series (a check of
          // a user audit's angle), so the user chooses
          throw new BadInputException("--key: column '" + f.name() + "' is " + f.dataType().simpleString() + ", whose"
              + " collation calls different strings equal; prep table takes keys by their bytes: fold them first and"
              + " drop the collation, e.g. collate(lower(" + f.name() + "), 'UTF8_BINARY'), or collate(" + f.name()
              + ", 'UTF8_BINARY') to keep them apart");
        }
        l.keyNames.add(f.name());
        l.keyTypes.add(f.dataType());
      }
      if (spec.wide()) {
        resolveWide(l, table, spec);
      } else {
        resolveLong(l, table, spec);
      }
      if (l.features < 1) {
        throw new BadInputException("no input features");
      }
      return l;
    }

    private static void resolveLong(Layout l, Dataset<Row> table, TableSpec spec) {
      StructField order = field(table, spec.orderColumn(), "--order");
      DataType ot = order.dataType();
      if (!(ot instanceof NumericType || ot instanceof TimestampType || ot instanceof TimestampNTZType
          || ot instanceof DateType)) {
        throw new BadInputException("--order: column '" + order.name() + "' is " + ot.simpleString()
            + "; expected a timestamp, date, integer, floating or decimal column (cast it first, e.g. to_timestamp)");
      }
      if (l.keyNames.contains(order.name())) {
        // each row would be a series of its own, or rows sharing a time a duplicate pair (a user audit: fit failed
        // on "duplicate (key, order) pair" or "no training sequences: 160 rows in 160 series", far from the cause)
        throw new BadInputException("--key: column '" + order.name() + "' is also the --order column; a series' time is"
            + " not its key: name the entity columns in --key (none: the whole table is one series)");
      }
      l.seriesColumn = order.name();
      l.seriesType = ot;
      List<TableRows.ValueColumn> cols = new ArrayList<>();
      Map<String, TableRows.ValueColumn> byName = new HashMap<>();
      List<Integer> inputs = new ArrayList<>();
      Set<String> named = new HashSet<>();
      for (String name : spec.inputColumns()) {
        TableRows.ValueColumn c = valueColumn(table, name, "--inputs", l.keyNames.size(), cols, byName);
        checkValueColumn(l, c, "--inputs", named);
        for (int slot : slots(c)) {
          inputs.add(slot);
        }
      }
      List<Integer> targets = new ArrayList<>();
      if (spec.nextStepTargets()) {
        targets.addAll(inputs);
      } else {
        List<TableRows.ValueColumn> inputColumns = List.copyOf(cols);
        Set<String> targetNames = new HashSet<>();
        for (String name : spec.targetColumns()) {
          TableRows.ValueColumn c = valueColumn(table, name, "--targets", l.keyNames.size(), cols, byName);
          checkValueColumn(l, c, "--targets", targetNames);
          l.targetIsInput |= inputColumns.contains(c);
          if (spec.classes() > 0 && c.kind() != TableRows.Kind.SCALAR) {
            throw new BadInputException("--targets: column '" + c.name() + "' must hold one class id per row "
                + "for --classes, found an array");
          }
          for (int slot : slots(c)) {
            targets.add(slot);
          }
        }
      }
      l.values = cols.toArray(new TableRows.ValueColumn[0]);
      l.inputSlots = inputs.stream().mapToInt(Integer::intValue).toArray();
      l.targetSlots = targets.stream().mapToInt(Integer::intValue).toArray();
      l.features = l.inputSlots.length;
      l.targetWidth = l.targetSlots.length;
      l.columns.put("inputs", names(cols, spec.inputColumns(), byName));
      l.columns.put("targets", spec.nextStepTargets() ? "inputs" : names(cols, spec.targetColumns(), byName));
    }

    /** Whether {@code t} holds a string, at any depth, whose collation compares other than by bytes. */
    private static boolean collated(DataType t) {
      if (t instanceof StringType st) {
        return !st.supportsBinaryEquality();
      }
      if (t instanceof ArrayType a) {
        return collated(a.elementType());
      }
      if (t instanceof StructType st) {
        return Arrays.stream(st.fields()).anyMatch(x -> collated(x.dataType()));
      }
      return false;
    }

    /**
     * Refuses a value column named twice in one list (one column as two features: a user audit), or
     * that is the key or the order column: the sort selects those and the values side by side, and
     * Spark refused the twice-selected name as AMBIGUOUS_REFERENCE after a stack trace (a user audit).
     */
    private static void checkValueColumn(Layout l, TableRows.ValueColumn c, String option, Set<String> named) {
      if (!named.add(c.name())) {
        throw new BadInputException(option + ": names column '" + c.name() + "' twice; name each column once (to give a"
            + " column's values twice, copy it to a column of its own)");
      }
      if (l.keyNames.contains(c.name()) || c.name().equals(l.seriesColumn)) {
        throw new BadInputException(option + ": column '" + c.name() + "' is the " + (c.name().equals(l.seriesColumn)
            ? "--order" : "--key") + " column; a series' key and order are not values: copy it to a column of its own"
            + " (Dataset.withColumn, or SELECT ts AS ts_value, …) and name that");
      }
    }

    private static void resolveWide(Layout l, Dataset<Row> table, TableSpec spec) {
      StructField seq = field(table, spec.sequenceColumn(), "--sequence-column");
      l.seriesColumn = seq.name();
      DataType t = seq.dataType();
      String expected = "; expected array<array<number>> [T][F] or array<number> (F = 1)";
      if (!(t instanceof ArrayType outer)) {
        throw new BadInputException("--sequence-column: column '" + seq.name() + "' is " + t.simpleString() + expected);
      }
      if (outer.elementType() instanceof NumericType) {
        l.features = 1;
        l.seriesType = DataTypes.createArrayType(DataTypes.DoubleType);
      } else if (outer.elementType() instanceof ArrayType inner && inner.elementType() instanceof NumericType) {
        Column c = quoted(seq.name());
        List<Row> first = table.select(c).where(c.isNotNull().and(size(c).gt(0))).takeAsList(1);
        if (first.isEmpty()) {
          throw new BadInputException("--sequence-column: column '" + seq.name() + "' has no non-empty sequence "
              + "(is the selection empty?)");
        }
        Object step0 = TableRows.Sequences.element(first.get(0).get(0), 0);
        if (step0 == null) {
          throw new BadInputException("--sequence-column: the first step of column '" + seq.name()
              + "' is null; its width (F) cannot be known");
        }
        l.features = TableRows.Sequences.length(step0);
        l.seriesType = DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.DoubleType));
      } else {
        throw new BadInputException("--sequence-column: column '" + seq.name() + "' is " + t.simpleString() + expected);
      }
      List<TableRows.ValueColumn> cols = new ArrayList<>();
      Map<String, TableRows.ValueColumn> byName = new HashMap<>();
      if (spec.nextStepTargets()) {
        l.targetSlots = new int[0];
        l.targetWidth = l.features;
      } else {
        TableRows.ValueColumn c = valueColumn(table, spec.targetColumns().get(0), "--targets", l.keyNames.size(), cols, byName);
        if (spec.classes() > 0 && c.kind() != TableRows.Kind.SCALAR) {
          throw new BadInputException("--targets: column '" + c.name() + "' must hold one class id per row");
        }
        l.targetSlots = slots(c);
        l.targetWidth = c.width();
      }
      l.values = cols.toArray(new TableRows.ValueColumn[0]);
      l.inputSlots = new int[0];
      l.columns.put("sequence", seq.name());
      l.columns.put("targets", spec.nextStepTargets() ? "inputs" : names(cols, spec.targetColumns(), byName));
    }

    private static List<Object> names(List<TableRows.ValueColumn> cols, List<String> asked,
        Map<String, TableRows.ValueColumn> byName) {
      List<Object> out = new ArrayList<>();
      for (String a : asked) {
        out.add(byName.get(a).name());
      }
      return out;
    }

    private static int[] slots(TableRows.ValueColumn c) {
      int[] s = new int[c.width()];
      for (int i = 0; i < s.length; i++) {
        s[i] = c.offset() + i;
      }
      return s;
    }

    /** The value column named {@code name} (added to {@code cols} once, however often named). */
    private static TableRows.ValueColumn valueColumn(Dataset<Row> table, String name, String option, int keys,
        List<TableRows.ValueColumn> cols, Map<String, TableRows.ValueColumn> byName) {
      StructField f = field(table, name, option);
      for (TableRows.ValueColumn c : cols) {
        if (c.name().equals(f.name())) {
          byName.put(name, c);
          return c;
        }
      }
      DataType t = f.dataType();
      TableRows.Kind kind;
      int width;
      if (t instanceof NumericType) {
        kind = TableRows.Kind.SCALAR;
        width = 1;
      } else if (t instanceof ArrayType a && a.elementType() instanceof NumericType) {
        kind = TableRows.Kind.ARRAY;
        width = firstWidth(table, f, option, kind);
      } else if (t instanceof UserDefinedType<?> u && u.getClass().getName().endsWith(".VectorUDT")) {
        kind = TableRows.Kind.VECTOR;
        width = firstWidth(table, f, option, kind);
      } else {
        throw new BadInputException(option + ": column '" + f.name() + "' is " + t.simpleString()
            + "; expected a number, an array of numbers or an ML Vector");
      }
      int offset = 0;
      for (TableRows.ValueColumn c : cols) {
        offset += c.width();
      }
      // position in TableRows' layout: after the 4 fixed columns, the keys and the series column
      int position = TableRows.FIRST_KEY + keys + 1 + cols.size();
      TableRows.ValueColumn c = new TableRows.ValueColumn(f.name(), position, kind, width, offset);
      cols.add(c);
      byName.put(name, c);
      return c;
    }

    /** The width of the first non-null value of an array or vector column (every row must match it). */
    private static int firstWidth(Dataset<Row> table, StructField f, String option, TableRows.Kind kind) {
      Column c = quoted(f.name());
      // the whole row, so that a refusal below can show where it is (its key and time among its columns)
      List<Row> first = table.where(c.isNotNull()).takeAsList(1);
      if (first.isEmpty()) {
        throw new BadInputException(option + ": column '" + f.name() + "' has no non-null value (is the selection "
            + "empty?); its width cannot be known");
      }
      Row row = first.get(0);
      Object v = row.get(row.fieldIndex(f.name()));
      int width = kind == TableRows.Kind.VECTOR ? TableRows.Sequences.vectorValues(v).length : TableRows.Sequences.length(v);
      if (width < 1) {
        // the row's columns name its key and time (a user audit: "starts with an empty array" said neither, and the
        // value is the first read, in no particular order)
        StringBuilder at = new StringBuilder();
        for (StructField rf : row.schema().fields()) {
          Object cell = row.get(row.fieldIndex(rf.name()));
          at.append(at.length() == 0 ? "" : ", ").append(rf.name()).append('=')
              .append(cell instanceof scala.collection.Seq<?> seq ? seq.mkString("[", ", ", "]") : cell);
        }
        String shown = at.length() > 300 ? at.substring(0, 300) + "…" : at.toString();
        throw new BadInputException(option + ": column '" + f.name() + "' holds an empty " + (kind == TableRows.Kind.VECTOR
            ? "vector" : "array") + " in the row " + shown + "; an array or vector column's values each hold the same number"
            + " of numbers, at least 1 (the width its first non-null value gives)");
      }
      return width;
    }
  }

  /**
   * Whether {@code table}'s column {@code column} is the one {@code asked} names, as Spark resolves
   * names: in any case unless spark.sql.caseSensitive (then ts beside TS is another column).
   */
  public static boolean sameName(Dataset<Row> table, String column, String asked) {
    return Boolean.parseBoolean(table.sparkSession().conf().get("spark.sql.caseSensitive", "false"))
        ? column.equals(asked) : column.equalsIgnoreCase(asked);
  }

  /** A column as Spark resolves {@code name} (case per spark.sql.caseSensitive), or an error listing the columns. */
  static StructField field(Dataset<Row> table, String name, String option) {
    try {
      StructField resolved = table.select(quoted(name)).schema().fields()[0];
      // Spark names the selected column as the query wrote it ("A" for the column "a" when case
      // does not matter): take the table's own field, so that two spellings of one column are one
      // column here (as an input and a target they made two projections of one name, which Spark
      // then refused as an ambiguous reference)
      for (StructField f : table.schema().fields()) {
        if (sameName(table, f.name(), name)) {
          return f;
        }
      }
      return resolved;
    } catch (Exception e) {
      if (e instanceof AnalysisException) {
        throw new MissingColumnException(option, name, table.columns());
      }
      throw e;
    }
  }

  /** What pass 1 gathers in a task: windows per (split, bucket), training moments, counts. */
  static final class PassOne implements TableRows.Listener, Serializable {
    private static final long serialVersionUID = 1L;
    /** Windows per split and bucket: [2][N]. */
    final long[][] perBucket;
    final ExactMoments moments;
    final TableRows.Stats stats = new TableRows.Stats();
    private final int steps;
    private final boolean seq2one;

    /** @param moments where training windows' moments go, or null without normalisation */
    PassOne(ExactMoments moments, int steps, boolean seq2one, int buckets) {
      this.perBucket = new long[2][buckets];
      this.moments = moments;
      this.steps = steps;
      this.seq2one = seq2one;
    }

    @Override
    public void window(int bucket, Split split, WindowCutter.Window w) {
      perBucket[split.ordinal()][bucket]++;
      if (moments == null || split != Split.TRAIN) {
        return;
      }
      // the valid steps' inputs, and the targets of valid steps (seq2seq) or the one target (seq2one)
      int F = w.x().length / steps;
      int O = seq2one ? w.y().length : w.y().length / steps;
      for (int t = 0; t < w.length(); t++) {
        moments.addInput(w.x(), t * F);
        if (!seq2one) {
          moments.addTarget(w.y(), t * O);
        }
      }
      if (seq2one) {
        moments.addTarget(w.y(), 0);
      }
    }

    void merge(PassOne o) {
      for (int s = 0; s < 2; s++) {
        for (int b = 0; b < perBucket[s].length; b++) {
          perBucket[s][b] += o.perBucket[s][b];
        }
      }
      if (moments != null) {
        moments.merge(o.moments);
      }
      stats.merge(o.stats);
    }

    /**
     * The driver's plan for pass 2, or an error when the table gives nothing to train on.
     *
     * @param options with normalize: the statistics given (--normalization-from, checked against F
     *     and O), else the training windows' moments gathered here
     */
    Plan plan(TableSpec spec, Layout layout, int buckets, String dir, PrepOptions options) {
      if (stats.rows == 0) {
        throw new BadInputException("the table has no rows" + (spec.source().containsKey("where")
            ? " matching --where " + spec.source().get("where") : "") + " (an empty selection)");
      }
      if (stats.windows[0] == 0 && stats.windows[1] > 0) {
        // the windows are there, the split held them all out: --steps is not the cause (a user audit: one key, held out
        // by the by-key split's hash for some seeds, was told to lower the window length)
        boolean byKey = spec.effectiveSplit() == TableSpec.SplitMode.BY_KEY;
        throw new BadInputException("no training sequences: " + (stats.windows[1] == 1 ? "the 1 window" : "all "
            + stats.windows[1] + " windows") + " of " + stats.series + " series fell in the validation split ("
            + spec.effectiveSplit().id() + ", --validation-fraction=" + spec.validationFraction() + "); lower"
            + " --validation-fraction (0 trains on every window)" + (byKey ? ", or with few keys use --split=by-time"
            // by time, each series' training part is its first n - round(n x fraction) rows (a gap comes out of the
            // validation part): too few for one window of T (+ horizon)
            : ", or --steps, so that each series' first rows hold a training window"));
      }
      if (stats.windows[0] == 0) {
        // at --steps 1 no shorter window or padding helps: the series need more rows (a user audit: a one-row table was told
        // "1 rows" and to lower --steps, already 1)
        int needed = spec.effectiveMinSteps() + spec.effectiveHorizon();
        throw new BadInputException("no training sequences: " + stats.rows + (stats.rows == 1 ? " row" : " rows") + " in "
            + stats.series + " series gave no window of T=" + spec.steps() + (spec.steps() == 1 ? " step" : " steps")
            + " (+ horizon " + spec.effectiveHorizon() + ") in the training split" + (stats.rowsDropped > 0 ? " after dropping "
            + stats.rowsDropped + " rows with missing values" : "") + (spec.effectiveMinSteps() <= 1 ? ""
            : spec.minSteps() == 0 ? "; lower --steps, or set --min-steps to keep shorter series padded"
            : "; lower --min-steps (" + spec.minSteps() + "), the fewest rows a padded window keeps") + (spec.effectiveMinSteps() > 1
            ? "" : "; a series needs at least " + needed + (needed == 1 ? " row" : " rows") + " in the training split (a window of 1 step + horizon "
            + spec.effectiveHorizon() + ")"));
      }
      long[][] offsets = new long[2][buckets + 1];
      for (int s = 0; s < 2; s++) {
        for (int b = 0; b < buckets; b++) {
          offsets[s][b + 1] = offsets[s][b] + perBucket[s][b];
        }
      }
      Map<String, Object> source = new LinkedHashMap<>(spec.source());
      source.put("key", new ArrayList<Object>(layout.keyNames));
      if (!spec.wide()) {
        source.put("order", layout.seriesColumn);
      }
      source.putAll(layout.columns);
      if (spec.classes() > 0) {
        source.put("classes", (long) spec.classes());
      }
      source.put("steps", (long) spec.steps());
      source.put("stride", (long) spec.effectiveStride());
      source.put("horizon", (long) spec.effectiveHorizon());
      source.put("min_steps", (long) spec.effectiveMinSteps());
      source.put("split", spec.effectiveSplit().id());
      source.put("validation_fraction", spec.validationFraction());
      if (spec.gap() > 0) {
        source.put("gap", (long) spec.gap());
      }
      source.put("missing", spec.missing().name().toLowerCase(Locale.ROOT));
      source.put("seed", spec.seed());
      Map<String, Object> counts = new LinkedHashMap<>();
      counts.put("rows", stats.rows);
      counts.put("rows_dropped", stats.rowsDropped);
      counts.put("rows_filled", stats.rowsFilled);
      counts.put("series", stats.series);
      counts.put("series_without_windows", stats.seriesWithoutWindows);
      counts.put("series_uneven", stats.seriesUneven);
      counts.put("padded_windows", stats.padded);
      source.put("counts", counts);
      int outputs = spec.classes() > 0 ? spec.classes() : layout.targetWidth;
      DatasetSpec dataset = new DatasetSpec(TASK, layout.features, outputs, spec.steps(),
          spec.seq2one() ? Mode.SEQ2ONE : Mode.SEQ2SEQ, spec.classes() > 0 ? LossType.CROSS_ENTROPY : LossType.MSE,
          spec.variableLength(), null, source);
      Normalization normalization = options.normalization(dataset, () -> moments.toNormalization());
      FeatureNames names = new FeatureNames(labels(layout, layout.inputSlots, layout.features),
          spec.classes() > 0 ? null : labels(layout, layout.targetSlots, layout.targetWidth));
      return new Plan(dataset, normalization, spec.batch(), offsets, new long[] {offsets[0][buckets],
          offsets[1][buckets]}, dir, names);
    }

    /** Each slot's column, "column 'v'[2]" for an element of an array or vector column; null unless one per feature. */
    private static List<String> labels(Layout layout, int[] slots, int count) {
      if (slots == null || slots.length != count) {
        return null;
      }
      List<String> out = new ArrayList<>();
      for (int slot : slots) {
        String label = null;
        for (TableRows.ValueColumn c : layout.values) {
          if (slot >= c.offset() && slot < c.offset() + c.width()) {
            label = FeatureNames.label(c.name(), c.kind() == TableRows.Kind.SCALAR ? -1 : slot - c.offset());
          }
        }
        out.add(label);
      }
      return out;
    }
  }

  /**
   * What pass 2 needs: the dataset, the normalisation, B, each bucket's first global index per
   * split ({@code offsets[split][bucket]}, N + 1 entries) and the split sizes.
   */
  record Plan(DatasetSpec dataset, Normalization normalization, int batch, long[][] offsets, long[] count, String dir,
      FeatureNames names) implements Serializable {
    int shards(Split split) {
      return (int) ((count[split.ordinal()] + batch - 1) / batch);
    }

    int shards() {
      return shards(Split.TRAIN) + shards(Split.VALIDATION);
    }

    /** The file index of shard {@code i} of a split: training shards first. */
    int fileIndex(Split split, long i) {
      return (int) (split == Split.TRAIN ? i : shards(Split.TRAIN) + i);
    }

    int size(Split split, long shard) {
      return (int) Math.min(batch, count[split.ordinal()] - shard * batch);
    }

    /** The bucket holding global index g of a split: the last b with offsets[b] ≤ g. */
    int bucketOf(Split split, long g) {
      long[] o = offsets[split.ordinal()];
      int lo = 0;
      int hi = o.length - 2;
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        if (o[mid] <= g) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      return lo;
    }

    /** Whether a shard's sequences come from more than one bucket (then it is assembled after a shuffle). */
    boolean straddles(Split split, long shard) {
      long first = shard * batch;
      long last = first + size(split, shard) - 1;
      return bucketOf(split, first) != bucketOf(split, last);
    }
  }

  /** Pass 2 in a task: global indices, local shards written, straddling windows sent on. */
  static final class PassTwo implements TableRows.Listener, AutoCloseable {
    /** Shards encoded and written while the task cuts the next ones, at most this many waiting. */
    private static final int WRITES_IN_FLIGHT = 2;
    private final Plan plan;
    private final SerializableConfiguration conf;
    private final String attempt;
    private final int[] currentBucket = {-1, -1};
    private final long[] indexInBucket = new long[2];
    private final ShardBuilder[] open = new ShardBuilder[2];
    private final List<Tuple2<Long, byte[]>> out = new ArrayList<>();
    /**
     * One writer thread per task: a shard's write waits on the disk (about 1 ms under a running
     * job, against 0.15 ms alone), time in which the task thread can cut the next windows.
     */
    private final ExecutorService writer = Executors.newSingleThreadExecutor(
        r -> {
          Thread t = new Thread(r, "spark-rnn-shard-writer");
          t.setDaemon(true);
          return t;
        });
    private final ArrayDeque<Future<Tuple2<Long, byte[]>>> pending =
        new ArrayDeque<>();

    PassTwo(Plan plan, SerializableConfiguration conf) {
      this.plan = plan;
      this.conf = conf;
      this.attempt = attemptName();
    }

    @Override
    public void window(int bucket, Split split, WindowCutter.Window w) {
      int s = split.ordinal();
      if (bucket != currentBucket[s]) {
        currentBucket[s] = bucket;
        indexInBucket[s] = 0;
      }
      long g = plan.offsets()[s][bucket] + indexInBucket[s]++;
      long shard = g / plan.batch();
      int position = (int) (g % plan.batch());
      int file = plan.fileIndex(split, shard);
      if (plan.straddles(split, shard)) {
        out.add(new Tuple2<>((long) file, ShardBuilder.fragment(position, w)));
        return;
      }
      if (open[s] == null) {
        open[s] = new ShardBuilder(plan, split, file, plan.size(split, shard));
      } else if (open[s].file != file) {
        throw new IllegalStateException("shard " + open[s].file + " left incomplete before shard " + file);
      }
      open[s].add(position, w);
      if (open[s].full()) {
        ShardBuilder full = open[s];
        open[s] = null;
        if (pending.size() >= WRITES_IN_FLIGHT) {
          out.add(await(pending.removeFirst()));
        }
        pending.addLast(writer.submit(() -> new Tuple2<>((long) file, ShardBuilder.written(file, full.publish(conf,
            attempt)))));
      }
    }

    private static Tuple2<Long, byte[]> await(Future<Tuple2<Long, byte[]>> f) {
      try {
        return f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while writing shards", e);
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof IOException io) {
          throw new UncheckedIOException(io.getMessage(), io);
        }
        if (c instanceof RuntimeException r) {
          throw r;
        }
        throw new IllegalStateException(c);
      }
    }

    List<Tuple2<Long, byte[]>> finish() {
      for (ShardBuilder b : open) {
        if (b != null) {
          throw new IllegalStateException("shard " + b.file + " incomplete at the end of the partition: pass 2 saw "
              + "other windows than pass 1");
        }
      }
      while (!pending.isEmpty()) {
        out.add(await(pending.removeFirst()));
      }
      return out;
    }

    /** Stops the writer (after finish, or when the task failed: queued writes are dropped). */
    @Override
    public void close() {
      writer.shutdownNow();
    }
  }

  /** A name unique to this task attempt, for its temporary files. Call it in the task's thread. */
  private static String attemptName() {
    TaskContext task = TaskContext.get();
    return "attempt-" + task.stageId() + "-" + task.partitionId() + "-" + task.taskAttemptId();
  }

  /** After the shuffle: a shard already written passes through; a straddling one is assembled and written. */
  private static byte[] assemble(Plan plan, long file, Iterable<byte[]> pieces, SerializableConfiguration conf)
      throws IOException {
    ShardBuilder builder = null;
    for (byte[] p : pieces) {
      if (p[0] == ShardBuilder.WRITTEN) {
        if (builder != null) {
          throw new IllegalStateException("shard " + file + " both written and sent in pieces");
        }
        return Arrays.copyOfRange(p, 1, p.length);
      }
      if (builder == null) {
        Split split = file < plan.shards(Split.TRAIN) ? Split.TRAIN : Split.VALIDATION;
        long shard = split == Split.TRAIN ? file : file - plan.shards(Split.TRAIN);
        builder = new ShardBuilder(plan, split, (int) file, plan.size(split, shard));
      }
      builder.addFragment(p);
    }
    if (builder == null || !builder.full()) {
      throw new IllegalStateException("shard " + file + " incomplete after the shuffle");
    }
    return ShardBuilder.writtenPayload((int) file, builder.publish(conf, attemptName()));
  }

  /** One shard's arrays, filled by position, then normalised, encoded and published. */
  static final class ShardBuilder {
    static final byte WRITTEN = 0;
    static final byte FRAGMENT = 1;
    private final Plan plan;
    private final Split split;
    final int file;
    private final int size;
    private final int T;
    private final int F;
    /** Target values per step as the windows carry them (1 for a class id). */
    private final int width;
    private final boolean seq2one;
    private final boolean classes;
    /** x [T][B][F]; y float [T][B][O] or [B][O]; class ids [T][B] or [B]; lengths [B]. */
    private final float[] x;
    private final float[] y;
    private final int[] ids;
    private final int[] lengths;
    private final BitSet filled;

    ShardBuilder(Plan plan, Split split, int file, int size) {
      this.plan = plan;
      this.split = split;
      this.file = file;
      this.size = size;
      DatasetSpec d = plan.dataset();
      T = d.steps();
      F = d.features();
      classes = d.classTargets();
      width = classes ? 1 : d.outputs();
      seq2one = d.mode() == Mode.SEQ2ONE;
      x = new float[T * size * F];
      int yn = (seq2one ? 1 : T) * size * width;
      y = classes ? null : new float[yn];
      ids = classes ? new int[yn] : null;
      lengths = new int[size];
      filled = new BitSet(size);
    }

    void add(int b, WindowCutter.Window w) {
      put(b, w.length(), w.x(), w.y());
    }

    private void put(int b, int length, float[] wx, float[] wy) {
      if (b >= size || filled.get(b)) {
        throw new IllegalStateException("shard " + file + ": position " + b + " given twice or out of 0.." + (size - 1));
      }
      filled.set(b);
      lengths[b] = length;
      for (int t = 0; t < T; t++) {
        System.arraycopy(wx, t * F, x, (t * size + b) * F, F);
      }
      int steps = seq2one ? 1 : T;
      for (int t = 0; t < steps; t++) {
        int to = (t * size + b) * width;
        if (classes) {
          ids[to] = (int) wy[t];
        } else {
          System.arraycopy(wy, t * width, y, to, width);
        }
      }
    }

    boolean full() {
      return filled.cardinality() == size;
    }

    ShardInfo publish(SerializableConfiguration conf, String attempt) throws IOException {
      DatasetSpec d = plan.dataset();
      Batch batch = new Batch(T, size, F, x, y, ids, d.variableLength() ? lengths : null);
      if (plan.normalization() != null) {
        Moments.apply(batch, d.mode(), plan.normalization(), plan.names());
      }
      String name = ShardInfo.fileName(file);
      byte[] bytes = ShardCodec.encode(batch, d, name);
      Path dir = new Path(plan.dir());
      return DatasetWriter.publishShard(FileSystems.get(dir, conf.get()), dir, name, split, size, bytes, attempt);
    }

    /** A straddling window: tag, position, length, x [T·F], y. */
    static byte[] fragment(int position, WindowCutter.Window w) {
      ByteBuffer b = ByteBuffer.allocate(1 + 4 + 4 + 4 + 4 * (w.x().length + w.y().length));
      b.put(FRAGMENT).putInt(position).putInt(w.length()).putInt(w.y().length);
      for (float v : w.x()) {
        b.putFloat(v);
      }
      for (float v : w.y()) {
        b.putFloat(v);
      }
      return b.array();
    }

    void addFragment(byte[] p) {
      ByteBuffer b = ByteBuffer.wrap(p, 1, p.length - 1);
      int position = b.getInt();
      int length = b.getInt();
      float[] wy = new float[b.getInt()];
      float[] wx = new float[T * F];
      for (int i = 0; i < wx.length; i++) {
        wx[i] = b.getFloat();
      }
      for (int i = 0; i < wy.length; i++) {
        wy[i] = b.getFloat();
      }
      put(position, length, wx, wy);
    }

    static byte[] written(int file, ShardInfo info) {
      byte[] payload = writtenPayload(file, info);
      byte[] tagged = new byte[payload.length + 1];
      tagged[0] = WRITTEN;
      System.arraycopy(payload, 0, tagged, 1, payload.length);
      return tagged;
    }

    /** The shard's file index (4 bytes) and its Java-serialised ShardInfo, as the driver reads them. */
    static byte[] writtenPayload(int file, ShardInfo info) {
      byte[] s = serialize(info);
      return ByteBuffer.allocate(4 + s.length).putInt(file).put(s).array();
    }
  }

  /**
   * Task results travel as byte arrays of Java serialisation, so they need no Kryo registration
   * (a session may require it) and the records stay plain.
   */
  static byte[] serialize(Object o) {
    try (ByteArrayOutputStream bytes = new ByteArrayOutputStream(); ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Object deserialize(byte[] b) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
      return in.readObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }
}
