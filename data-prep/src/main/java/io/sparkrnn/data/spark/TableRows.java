package io.sparkrnn.data.spark;

import io.sparkrnn.data.Split;
import io.sparkrnn.data.WindowCutter;
import java.io.Serializable;
import java.lang.reflect.Method;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Runs in a task: turns the rows of one sorted partition into windows. It reads Spark's internal
 * rows (no conversion to {@code Row} objects, which cost as much as the sort): scalar value
 * columns arrive cast to double, arrays to {@code array<double>}, ML Vectors as their UDT struct
 * (type, size, indices, values). Rows arrive sorted by
 * (hash, bucket, order) — long format — or (hash, bucket, sequence) — wide format — so
 * each series' rows are contiguous and in time order. Checks as it goes: null, NaN, ±Inf and
 * missing values (per {@link TableSpec.Missing}), null, NaN and duplicate order values, class ids, keys
 * that share a hash (rows are sorted by hash and time, so such keys would interleave),
 * and array widths; every error names the column, the key and the order value.
 *
 * <p>Layout of the projected row: {@link #HASH} long, {@link #BUCKET} int, {@link #VALIDATION}
 * boolean (by-key split), {@link #SERIES_ROWS} long (by-time split: rows in the series, else −1),
 * then the key columns, then the order column (long) or the sequence column (wide), then the
 * value columns of {@link #values}.
 */
final class TableRows implements Serializable {
  private static final long serialVersionUID = 1L;
  static final int HASH = 0;
  static final int BUCKET = 1;
  static final int VALIDATION = 2;
  static final int SERIES_ROWS = 3;
  static final int FIRST_KEY = 4;

  /** How a key or order value is read from an internal row without boxing (GENERIC: boxed, e.g. decimals). */
  enum Primitive {
    LONG,
    INT,
    SHORT,
    BYTE,
    DOUBLE,
    FLOAT,
    STRING,
    GENERIC;

    static Primitive of(DataType t) {
      if (t instanceof TimestampType || t instanceof TimestampNTZType || t instanceof LongType) {
        return LONG;
      }
      if (t instanceof DateType || t instanceof IntegerType) {
        return INT;
      }
      if (t instanceof ShortType) {
        return SHORT;
      }
      if (t instanceof ByteType) {
        return BYTE;
      }
      if (t instanceof DoubleType) {
        return DOUBLE;
      }
      if (t instanceof FloatType) {
        return FLOAT;
      }
      if (t instanceof StringType) {
        return STRING;
      }
      return GENERIC;
    }

    /** The number {@link #bits} holds, for the step between two order values. */
    double value(long bits) {
      return switch (this) {
        case DOUBLE -> Double.longBitsToDouble(bits);
        case FLOAT -> Float.intBitsToFloat((int) bits);
        default -> bits;
      };
    }

    /** The value's bits as a long (an order value's identity), for all but STRING and GENERIC. */
    long bits(InternalRow row, int p) {
      return switch (this) {
        case LONG -> row.getLong(p);
        case INT -> row.getInt(p);
        case SHORT -> row.getShort(p);
        case BYTE -> row.getByte(p);
        case DOUBLE -> Double.doubleToLongBits(row.getDouble(p));
        case FLOAT -> Float.floatToIntBits(row.getFloat(p));
        default -> throw new IllegalStateException(name());
      };
    }
  }

  /** How a value column holds its numbers. */
  enum Kind {
    SCALAR,
    ARRAY,
    VECTOR
  }

  /**
   * One value column of the projected row.
   *
   * @param offset where its {@code width} numbers start in the expanded value vector
   */
  record ValueColumn(String name, int position, Kind kind, int width, int offset) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** Receives the windows; {@code bucket} is the series' sort bucket. */
  interface Listener {
    void window(int bucket, Split split, WindowCutter.Window w);
  }

  /**
   * A series is uneven when its largest step between consecutive times exceeds this many times its
   * smallest: an hourly series missing one row has a 2-hour step; jitter of a few percent is not.
   */
  static final double UNEVEN = 1.5;

  /** Counts for the report and the manifest; merged on the driver. */
  static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    long rows;
    long rowsDropped;
    long rowsFilled;
    long series;
    long seriesWithoutWindows;
    /** Series whose largest time step is over 1.5 × their smallest: rows missing, or irregular sampling. */
    long seriesUneven;
    long padded;
    final long[] windows = new long[2];

    Stats merge(Stats o) {
      rows += o.rows;
      rowsDropped += o.rowsDropped;
      rowsFilled += o.rowsFilled;
      series += o.series;
      seriesWithoutWindows += o.seriesWithoutWindows;
      seriesUneven += o.seriesUneven;
      padded += o.padded;
      windows[0] += o.windows[0];
      windows[1] += o.windows[1];
      return this;
    }
  }

  private final TableSpec spec;
  private final List<String> keyNames;
  /** Spark's types of the key columns and of the order (or sequence) column, to read internal values. */
  private final DataType[] keyTypes;
  private final DataType seriesType;
  private final Primitive[] keyKinds;
  private final Primitive orderKind;
  /** The order column (long format) or the sequence column (wide format). */
  private final String seriesColumn;
  private final ValueColumn[] values;
  /** Expanded value slots of the inputs [F] and the targets [O] (long format; wide: target slots of the per-row column). */
  private final int[] inputSlots;
  private final int[] targetSlots;
  private final int features;
  private final int outputs;
  private final int valueWidth;

  TableRows(TableSpec spec, List<String> keyNames, DataType[] keyTypes, String seriesColumn, DataType seriesType,
      ValueColumn[] values, int[] inputSlots, int[] targetSlots, int features, int outputs) {
    this.spec = spec;
    this.keyNames = List.copyOf(keyNames);
    this.keyTypes = keyTypes.clone();
    this.seriesType = seriesType;
    this.keyKinds = new Primitive[keyTypes.length];
    for (int i = 0; i < keyTypes.length; i++) {
      keyKinds[i] = Primitive.of(keyTypes[i]);
    }
    this.orderKind = Primitive.of(seriesType);
    this.seriesColumn = seriesColumn;
    this.values = values.clone();
    this.inputSlots = inputSlots.clone();
    this.targetSlots = targetSlots.clone();
    this.features = features;
    this.outputs = outputs;
    int w = 0;
    for (ValueColumn c : values) {
      w = Math.max(w, c.offset() + c.width());
    }
    this.valueWidth = w;
  }

  private int seriesPosition() {
    return FIRST_KEY + keyNames.size();
  }

  /** The per-series state while its rows stream by. */
  private final class Series {
    final Listener listener;
    final Stats stats;
    final WindowCutter[] cutters = new WindowCutter[2];
    final boolean[] open = new boolean[2];
    final double[] vals = new double[valueWidth];
    final double[] last = new double[valueWidth];
    final boolean[] haveLast = new boolean[values.length];
    final float[] x = new float[features];
    final float[] y = new float[outputs];
    /** A copy of the series' first row (Spark reuses row buffers), for its key values. */
    InternalRow key;
    long hash;
    int bucket;
    boolean validationKey;
    long boundary = Long.MAX_VALUE;
    long index;
    Object previousOrder;
    /** The previous row's order value as bits (primitive order types), and whether there is one. */
    long previousBits;
    boolean havePrevious;
    /**
     * The series' smallest and largest step between consecutive kept rows of one split (what its
     * windows step over: a row dropped for a missing value leaves a gap too; the by-time split's
     * gap does not, as no window spans it), for numeric and time orders.
     */
    double minStep = Double.POSITIVE_INFINITY;
    double maxStep;
    final double[] lastTime = new double[2];
    final boolean[] haveTime = new boolean[2];
    /** The current row's order value, boxed only when a message needs it. */
    final OrderRef order = new OrderRef();
    boolean started;

    Series(Listener listener, Stats stats) {
      this.listener = listener;
      this.stats = stats;
      for (int s = 0; s < 2; s++) {
        cutters[s] = new WindowCutter(spec.steps(), spec.effectiveStride(), spec.effectiveHorizon(),
            spec.effectiveMinSteps(), spec.seq2one(), features, outputs);
      }
    }

    void begin(InternalRow row, long rowHash, long seriesRows) {
      finish();
      started = true;
      key = row.copy();
      hash = rowHash;
      bucket = row.getInt(BUCKET);
      validationKey = row.getBoolean(VALIDATION);
      boundary = Long.MAX_VALUE;
      if (spec.effectiveSplit() == TableSpec.SplitMode.BY_TIME) {
        // the last round(n · fraction) rows are validation; the gap's rows belong to neither part
        boundary = seriesRows - Math.round(seriesRows * spec.validationFraction());
      }
      index = 0;
      previousOrder = null;
      havePrevious = false;
      minStep = Double.POSITIVE_INFINITY;
      maxStep = 0;
      Arrays.fill(haveTime, false);
      Arrays.fill(haveLast, false);
      stats.series++;
    }

    /** Records a kept row's time (timestamps in µs, dates in days; rows arrive in time order). */
    void step(Split split, double time) {
      int s = split.ordinal();
      if (Double.isNaN(time)) {
        return;
      }
      if (haveTime[s]) {
        minStep = Math.min(minStep, time - lastTime[s]);
        maxStep = Math.max(maxStep, time - lastTime[s]);
      }
      lastTime[s] = time;
      haveTime[s] = true;
    }

    /** The split of row {@code i} of the series, or null for a row in the gap. */
    Split splitOf(long i) {
      if (spec.effectiveSplit() == TableSpec.SplitMode.BY_KEY) {
        return validationKey ? Split.VALIDATION : Split.TRAIN;
      }
      if (i < boundary) {
        return Split.TRAIN;
      }
      return i >= boundary + spec.gap() ? Split.VALIDATION : null;
    }

    void add(Split split) {
      int s = split.ordinal();
      if (!open[s]) {
        int b = bucket;
        cutters[s].begin(w -> {
          stats.windows[s]++;
          if (w.length() < spec.steps()) {
            stats.padded++;
          }
          listener.window(b, split, w);
        });
        open[s] = true;
      }
      cutters[s].add(x, 0, y, 0);
    }

    void finish() {
      if (!started) {
        return;
      }
      int windows = 0;
      for (int s = 0; s < 2; s++) {
        if (open[s]) {
          windows += cutters[s].end();
          open[s] = false;
        }
      }
      if (windows == 0) {
        stats.seriesWithoutWindows++;
      }
      if (maxStep > UNEVEN * minStep) {
        stats.seriesUneven++;
      }
      started = false;
    }
  }

  /** Cuts every series of the partition; windows go to {@code listener}, counts to {@code stats}. */
  void cut(Iterator<InternalRow> rows, Listener listener, Stats stats) {
    Series series = new Series(listener, stats);
    while (rows.hasNext()) {
      InternalRow row = rows.next();
      if (spec.wide()) {
        wideRow(row, series);
      } else {
        longRow(row, series);
      }
    }
    series.finish();
  }

  /** Whether {@code row} has the same key values as the series' first row (typed reads: no boxing per row). */
  private boolean sameKey(InternalRow row, InternalRow key) {
    for (int i = 0; i < keyTypes.length; i++) {
      int p = FIRST_KEY + i;
      boolean nullA = row.isNullAt(p);
      if (nullA != key.isNullAt(p)) {
        return false;
      }
      if (nullA) {
        continue;
      }
      // as Spark groups keys (and its hash takes them): binary by content, not identity (a user audit: every
      // binary key looked like a hash collision), and a float's -0.0 as 0.0 (their bits differ)
      boolean same = switch (keyKinds[i]) {
        case STRING -> row.getUTF8String(p).equals(key.getUTF8String(p));   // collated keys are refused (Layout.resolve)
        case GENERIC -> sameValue(row.get(p, keyTypes[i]), key.get(p, keyTypes[i]), keyTypes[i]);
        case DOUBLE -> Double.doubleToLongBits(row.getDouble(p) + 0.0) == Double.doubleToLongBits(key.getDouble(p) + 0.0);
        case FLOAT -> Float.floatToIntBits(row.getFloat(p) + 0.0f) == Float.floatToIntBits(key.getFloat(p) + 0.0f);
        default -> keyKinds[i].bits(row, p) == keyKinds[i].bits(key, p);
      };
      if (!same) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether two non-null internal values of type {@code t} are one key as Spark groups them: a float's
   * -0.0 as 0.0 also inside a struct or an array (Spark's hash and its grouping normalise them there
   * too, while an UnsafeRow's equals compares bytes, so such keys were reported as a hash collision),
   * binary by content, anything else by equals (UTF8String, Decimal, boxed numbers).
   */
  static boolean sameValue(Object a, Object b, DataType t) {
    if (t instanceof DoubleType) {
      return Double.doubleToLongBits((Double) a + 0.0) == Double.doubleToLongBits((Double) b + 0.0);
    }
    if (t instanceof FloatType) {
      return Float.floatToIntBits((Float) a + 0.0f) == Float.floatToIntBits((Float) b + 0.0f);
    }
    if (t instanceof StructType st) {
      InternalRow x = (InternalRow) a;
      InternalRow y = (InternalRow) b;
      StructField[] fields = st.fields();
      for (int i = 0; i < fields.length; i++) {
        int k = i;
        DataType f = fields[k].dataType();
        if (!sameNullable(x.isNullAt(k), y.isNullAt(k), () -> sameValue(x.get(k, f), y.get(k, f), f))) {
          return false;
        }
      }
      return true;
    }
    if (t instanceof ArrayType at) {
      ArrayData x = (ArrayData) a;
      ArrayData y = (ArrayData) b;
      if (x.numElements() != y.numElements()) {
        return false;
      }
      DataType e = at.elementType();
      for (int i = 0; i < x.numElements(); i++) {
        int k = i;
        if (!sameNullable(x.isNullAt(k), y.isNullAt(k), () -> sameValue(x.get(k, e), y.get(k, e), e))) {
          return false;
        }
      }
      return true;
    }
    return Objects.deepEquals(a, b);
  }

  private static boolean sameNullable(boolean nullA, boolean nullB, java.util.function.BooleanSupplier same) {
    return nullA || nullB ? nullA == nullB : same.getAsBoolean();
  }

  /** The order value of the row being read, boxed on demand for messages. */
  private final class OrderRef {
    InternalRow row;

    Object value() {
      return row.get(seriesPosition(), seriesType);
    }
  }

  private void longRow(InternalRow row, Series s) {
    long h = row.getLong(HASH);
    if (!s.started || h != s.hash) {
      s.begin(row, h, row.getLong(SERIES_ROWS));
    } else if (!sameKey(row, s.key)) {
      // rows are sorted by (h, time), not by key: two keys with one hash would interleave
      throw new TableDataException("keys" + at(s.key, null).replace(" at key", "") + " and" + at(row, null)
          .replace(" at key", "") + " have the same xxhash64 under --seed " + spec.seed() + " (a 64-bit collision, "
          + "about keys²/2^65 likely); run again with another --seed");
    }
    s.stats.rows++;
    int op = seriesPosition();
    if (row.isNullAt(op)) {
      throw new TableDataException("column '" + seriesColumn + "' (--order) has a null value" + at(s.key, null)
          + "; every row needs its time (--missing does not apply to it): filter such rows out first, --where \""
          + (seriesColumn.matches("[A-Za-z_][A-Za-z0-9_]*") ? seriesColumn : "`" + seriesColumn.replace("`", "``") + "`")
          + " IS NOT NULL\"");
    }
    s.order.row = row;
    // internal order values: long (timestamps: µs), int (dates: days), the number, or a Decimal (boxed)
    boolean duplicate;
    double time;   // the order value as a number, for the step between kept rows (NaN: not a number)
    if (orderKind == Primitive.GENERIC) {
      Object order = s.order.value();
      duplicate = order.equals(s.previousOrder);
      s.previousOrder = order;
      time = order instanceof Decimal d ? d.toDouble() : Double.NaN;
    } else {
      if ((orderKind == Primitive.DOUBLE && Double.isNaN(row.getDouble(op)))
          || (orderKind == Primitive.FLOAT && Float.isNaN(row.getFloat(op)))) {
        throw new TableDataException("column '" + seriesColumn + "' (--order) is NaN" + at(s.key, null));
      }
      long bits = orderKind.bits(row, op);
      duplicate = s.havePrevious && bits == s.previousBits;
      time = orderKind.value(bits);
      s.previousBits = bits;
      s.havePrevious = true;
    }
    Object order = s.order;
    if (duplicate) {
      throw new TableDataException("duplicate (key, order) pair" + at(s.key, order) + ": two rows for the same time; "
          + (keyNames.isEmpty() ? "without --key the whole table is one series: if it holds several, name the column(s) that"
              + " tell them apart with --key; else " : "")
          + "deduplicate the table first (e.g. --where, or a groupBy in Spark)");
    }
    Split split = s.splitOf(s.index++);
    if (split == null) {
      return;
    }
    if (!readValues(row, s, order)) {
      return;
    }
    s.step(split, time);
    for (int f = 0; f < features; f++) {
      s.x[f] = (float) s.vals[inputSlots[f]];
    }
    for (int o = 0; o < targetSlots.length; o++) {
      s.y[o] = (float) s.vals[targetSlots[o]];
    }
    checkClass(s, order);
    s.add(split);
  }

  /** Reads the value columns into s.vals; false when the row is dropped (missing values, drop policy). */
  private boolean readValues(InternalRow row, Series s, Object order) {
    boolean filled = false;
    for (int c = 0; c < values.length; c++) {
      ValueColumn col = values[c];
      boolean present = readColumn(row, col, s.vals, s.key, order);
      if (present) {
        System.arraycopy(s.vals, col.offset(), s.last, col.offset(), col.width());
        s.haveLast[c] = true;
        continue;
      }
      switch (spec.missing()) {
        case ERROR -> throw new TableDataException("column '" + col.name() + "' has a missing value (null, NaN, ±Inf, or a"
            + " number past float32's range, ±3.4e38)"
            + at(s.key, order) + "; choose --missing drop or ffill, or filter with --where");
        case DROP -> {
          s.stats.rowsDropped++;
          return false;
        }
        case FFILL -> {
          if (!s.haveLast[c]) {
            s.stats.rowsDropped++; // nothing earlier in this series to repeat
            return false;
          }
          System.arraycopy(s.last, col.offset(), s.vals, col.offset(), col.width());
          filled = true;
        }
        default -> throw new AssertionError(spec.missing());
      }
    }
    if (filled) {
      s.stats.rowsFilled++;
    }
    return true;
  }

  /**
   * Reads one column's numbers into vals[offset ..]; false if any is missing (null, NaN, ±Inf, past float32).
   * A wrong array width is an error, never "missing".
   */
  private boolean readColumn(InternalRow row, ValueColumn col, double[] vals, InternalRow key, Object order) {
    int p = col.position();
    if (row.isNullAt(p)) {
      return false;
    }
    switch (col.kind()) {
      case SCALAR -> {
        double d = row.getDouble(p);
        vals[col.offset()] = d;
        // a class id past float32 (1e39) is no missing value but an id outside [0, N), which checkClass refuses as it
        // refuses 1e20 (a review: --missing drop dropped it without a word)
        return fitsFloat(d) || Double.isFinite(d) && spec.classes() > 0 && col.offset() == targetSlots[0];
      }
      case ARRAY -> {
        return readArray(row.getArray(p), col, col.width(), vals, col.offset(), key, order, "holds", "values");
      }
      case VECTOR -> {
        // VectorUDT's struct: type (0 sparse, 1 dense), size (sparse), indices (sparse), values
        InternalRow v = row.getStruct(p, 4);
        if (v.getByte(0) == 1) {
          return readArray(v.getArray(3), col, col.width(), vals, col.offset(), key, order, "holds a vector of size",
              "");
        }
        int size = v.getInt(1);
        if (size != col.width()) {
          throw new TableDataException("column '" + col.name() + "' holds a vector of size " + size + at(key, order)
              + ", expected " + col.width() + " (the size of its first non-null vector)");
        }
        Arrays.fill(vals, col.offset(), col.offset() + size, 0.0);
        ArrayData indices = v.getArray(2);
        ArrayData values = v.getArray(3);
        boolean finite = true;
        for (int i = 0; i < indices.numElements(); i++) {
          double d = values.getDouble(i);
          vals[col.offset() + indices.getInt(i)] = d;
          finite &= fitsFloat(d);
        }
        return finite;
      }
      default -> throw new AssertionError(col.kind());
    }
  }

  /**
   * Whether a value read as double is one the shards can hold: finite as float32. A finite double
   * past float32's range (1e39, Double.MAX_VALUE as a placeholder) became Infinity in the shard, and
   * fit failed on "exact sum of a non-finite value Infinity" naming nothing, where transform took the
   * same row as missing (a user audit). So it is missing, under the --missing policy, as NaN is.
   */
  static boolean fitsFloat(double d) {
    return Float.isFinite((float) d);
  }

  /** Reads an array&lt;double&gt; of {@code width} values; false if any is null, NaN, ±Inf or past float32. */
  private boolean readArray(ArrayData a, ValueColumn col, int width, double[] vals, int offset, InternalRow key,
      Object order, String holds, String unit) {
    int n = a.numElements();
    if (n != width) {
      throw new TableDataException("column '" + col.name() + "' " + holds + " " + n + (unit.isEmpty() ? "" : " " + unit)
          + at(key, order) + ", expected " + width + " (the width of its first non-null value)");
    }
    boolean finite = true;
    for (int i = 0; i < n; i++) {
      double d = a.isNullAt(i) ? Double.NaN : a.getDouble(i);
      vals[offset + i] = d;
      finite &= fitsFloat(d);
    }
    return finite;
  }

  private void checkClass(Series s, Object order) {
    if (spec.classes() == 0) {
      return;
    }
    float c = s.y[0];
    if (c != Math.rint(c) || c < 0 || c >= spec.classes()) {
      double v = s.vals[targetSlots[0]];
      // as the table holds it: an int column's 2 is "2", not the double it was read into ("2.0")
      String shown = v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
      throw new TableDataException("column '" + spec.targetColumns().get(0) + "' has class id " + shown
          + at(s.key, order) + ", expected an integer in [0, " + spec.classes() + ") (--classes " + spec.classes() + ")");
    }
  }

  /** One row of a wide table: a whole series in the sequence column. */
  private void wideRow(InternalRow row, Series s) {
    s.begin(row, row.getLong(HASH), row.getLong(SERIES_ROWS));
    InternalRow key = s.key;
    s.stats.rows++;
    ArrayData seq = row.isNullAt(seriesPosition()) ? null : row.getArray(seriesPosition());
    if (seq == null) {
      if (spec.missing() == TableSpec.Missing.ERROR) {
        throw new TableDataException("column '" + seriesColumn + "' (--sequence-column) is null" + at(key, null));
      }
      s.stats.rowsDropped++;
      return;
    }
    if (!spec.nextStepTargets()) {
      // the per-row target: read once, repeated on every step (seq2one takes it from the last)
      if (!readColumn(row, values[0], s.vals, key, null)) {
        if (spec.missing() == TableSpec.Missing.ERROR) {
          throw new TableDataException("column '" + values[0].name() + "' has a missing value (null, NaN, ±Inf, or a number past"
              + " float32's range, ±3.4e38)"
              + at(key, null) + "; choose --missing drop, or filter with --where");
        }
        s.stats.rowsDropped++;
        return;
      }
      for (int o = 0; o < targetSlots.length; o++) {
        s.y[o] = (float) s.vals[targetSlots[o]];
      }
      checkClass(s, null);
    }
    int n = seq.numElements();
    boolean nested = features > 1 || !(seriesElementIsScalar());
    boolean haveLast = false;
    for (int i = 0; i < n; i++) {
      Split split = s.splitOf(s.index++);
      boolean present = readStep(seq, i, nested, s.x, key);
      if (!present) {
        if (spec.missing() == TableSpec.Missing.ERROR) {
          throw new TableDataException("column '" + seriesColumn + "' has a missing value (null, NaN, ±Inf, or a number past"
              + " float32's range, ±3.4e38)"
              + at(key, null) + " at step " + i + "; choose --missing drop or ffill");
        }
        if (spec.missing() == TableSpec.Missing.DROP || !haveLast) {
          s.stats.rowsDropped++;
          continue;
        }
        // ffill: s.x still holds the last valid step's values (readStep writes only on success)
        s.stats.rowsFilled++;
      } else {
        haveLast = true;
      }
      if (split == null) {
        continue;
      }
      if (spec.nextStepTargets()) {
        System.arraycopy(s.x, 0, s.y, 0, features);
      }
      s.add(split);
    }
  }

  /** Whether the sequence column is array&lt;double&gt; (F = 1) rather than array&lt;array&lt;double&gt;&gt;. */
  private boolean seriesElementIsScalar() {
    return seriesType instanceof ArrayType a
        && !(a.elementType() instanceof ArrayType);
  }

  /** Reads step i of a wide sequence into x; false if missing (x keeps its previous values). */
  private boolean readStep(ArrayData seq, int i, boolean nested, float[] x, InternalRow key) {
    if (seq.isNullAt(i)) {
      return false;
    }
    if (!nested) {
      double d = seq.getDouble(i);
      if (!fitsFloat(d)) {
        return false;
      }
      x[0] = (float) d;
      return true;
    }
    ArrayData step = seq.getArray(i);
    int n = step.numElements();
    if (n != features) {
      throw new TableDataException("column '" + seriesColumn + "' step " + i + at(key, null) + " has " + n
          + " features, expected " + features + " (the width of the first step)");
    }
    for (int f = 0; f < n; f++) {
      if (step.isNullAt(f) || !fitsFloat(step.getDouble(f))) {
        return false;
      }
    }
    for (int f = 0; f < n; f++) {
      x[f] = (float) step.getDouble(f);
    }
    return true;
  }

  /** " at key (k1=v1, k2=v2), order=o" for messages. */
  String at(InternalRow key, Object order) {
    StringBuilder b = new StringBuilder();
    if (key != null && !keyNames.isEmpty()) {
      b.append(" at key (");
      for (int i = 0; i < keyNames.size(); i++) {
        int p = FIRST_KEY + i;
        b.append(i > 0 ? ", " : "").append(keyNames.get(i)).append('=')
            .append(key.isNullAt(p) ? "null" : display(key.get(p, keyTypes[i]), keyTypes[i]));
      }
      b.append(')');
    }
    if (order != null) {
      b.append(b.length() > 0 ? ", " : " at ").append(seriesColumn).append('=').append(displayOrder(order));
    }
    return b.toString();
  }

  /** An internal order value as people write it (timestamps and dates as ISO text). */
  private Object displayOrder(Object order) {
    if (order instanceof OrderRef ref) {
      order = ref.value();
    }
    return order instanceof String ? order : display(order, seriesType);
  }

  private static String display(Object v, DataType t) {
    if (t instanceof TimestampType && v instanceof Long micros) {
      return Instant.EPOCH.plusNanos(micros * 1000).toString();
    }
    if (t instanceof TimestampNTZType && v instanceof Long micros) {
      return LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000), Math.floorMod(micros, 1_000_000) * 1000,
          ZoneOffset.UTC).toString();
    }
    if (t instanceof DateType && v instanceof Integer days) {
      return LocalDate.ofEpochDay(days).toString();
    }
    if (v instanceof UTF8String u) {
      return u.toString();
    }
    if (t instanceof StructType st && v instanceof InternalRow r) {   // as Dataset.show writes a struct: {s0, 1.0}
      StringBuilder out = new StringBuilder("{");
      for (int i = 0; i < st.fields().length; i++) {
        DataType f = st.fields()[i].dataType();
        out.append(i > 0 ? ", " : "").append(r.isNullAt(i) ? "null" : display(r.get(i, f), f));
      }
      return out.append('}').toString();
    }
    if (t instanceof ArrayType at && v instanceof ArrayData a) {   // and an array: [1.0, 2.0]
      StringBuilder out = new StringBuilder("[");
      for (int i = 0; i < a.numElements(); i++) {
        out.append(i > 0 ? ", " : "").append(a.isNullAt(i) ? "null" : display(a.get(i, at.elementType()), at.elementType()));
      }
      return out.append(']').toString();
    }
    if (v instanceof byte[] bytes) {   // as Dataset.show writes binary: [61 62 63]
      StringBuilder hex = new StringBuilder("[");
      for (int i = 0; i < bytes.length; i++) {
        hex.append(i > 0 ? " " : "").append(String.format(Locale.ROOT, "%02X", bytes[i] & 0xff));
      }
      return hex.append(']').toString();
    }
    return String.valueOf(v);
  }

  /** Access to the array values Spark hands to Java code (Scala Seq, java.util.List, ML Vector). */
  static final class Sequences {
    private Sequences() {}

    static int length(Object v) {
      if (v instanceof scala.collection.Seq<?> s) {
        return s.length();
      }
      if (v instanceof List<?> l) {
        return l.size();
      }
      throw new TableDataException("expected an array value, found " + v.getClass().getSimpleName());
    }

    static Object element(Object v, int i) {
      if (v instanceof scala.collection.Seq<?> s) {
        return s.apply(i);
      }
      return ((List<?>) v).get(i);
    }

    /**
     * The values of an {@code org.apache.spark.ml.linalg.Vector} (dense or sparse), through its
     * public {@code toArray()}, so that data-prep needs no compile-time dependency on Spark ML.
     */
    static double[] vectorValues(Object v) {
      try {
        Method toArray = v.getClass().getMethod("toArray");
        return (double[]) toArray.invoke(v);
      } catch (ReflectiveOperationException | ClassCastException e) {
        throw new TableDataException("expected an ML Vector, found " + v.getClass().getName(), e);
      }
    }
  }
}
