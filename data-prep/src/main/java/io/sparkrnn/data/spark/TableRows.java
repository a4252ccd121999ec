package io.sparkrnn.data.spark;

import io.sparkrnn.data.Split;
import io.sparkrnn.data.WindowCutter;
import java.io.Serializable;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Row;

/**
 * Runs in a task: turns the rows of one sorted partition into windows. Rows arrive sorted by
 * (bucket, hash, key, order) — long format — or (bucket, hash, key, sequence) — wide format — so
 * each series' rows are contiguous and in time order. Checks as it goes: null, NaN, ±Inf and
 * missing values (per {@link TableSpec.Missing}), null, NaN and duplicate order values, class ids
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

  /** Counts for the report and the manifest; merged on the driver. */
  static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    long rows;
    long rowsDropped;
    long rowsFilled;
    long series;
    long seriesWithoutWindows;
    long padded;
    final long[] windows = new long[2];

    Stats merge(Stats o) {
      rows += o.rows;
      rowsDropped += o.rowsDropped;
      rowsFilled += o.rowsFilled;
      series += o.series;
      seriesWithoutWindows += o.seriesWithoutWindows;
      padded += o.padded;
      windows[0] += o.windows[0];
      windows[1] += o.windows[1];
      return this;
    }
  }

  private final TableSpec spec;
  private final List<String> keyNames;
  /** The order column (long format) or the sequence column (wide format). */
  private final String seriesColumn;
  private final ValueColumn[] values;
  /** Expanded value slots of the inputs [F] and the targets [O] (long format; wide: target slots of the per-row column). */
  private final int[] inputSlots;
  private final int[] targetSlots;
  private final int features;
  private final int outputs;
  private final int valueWidth;

  TableRows(TableSpec spec, List<String> keyNames, String seriesColumn, ValueColumn[] values, int[] inputSlots,
      int[] targetSlots, int features, int outputs) {
    this.spec = spec;
    this.keyNames = List.copyOf(keyNames);
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
    Object[] key;
    long hash;
    int bucket;
    boolean validationKey;
    long boundary = Long.MAX_VALUE;
    long index;
    Object previousOrder;
    boolean started;

    Series(Listener listener, Stats stats) {
      this.listener = listener;
      this.stats = stats;
      for (int s = 0; s < 2; s++) {
        cutters[s] = new WindowCutter(spec.steps(), spec.effectiveStride(), spec.effectiveHorizon(),
            spec.effectiveMinSteps(), spec.seq2one(), features, outputs);
      }
    }

    void begin(Row row, Object[] rowKey, long rowHash, long seriesRows) {
      finish();
      started = true;
      key = rowKey;
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
      Arrays.fill(haveLast, false);
      stats.series++;
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
      started = false;
    }
  }

  /** Cuts every series of the partition; windows go to {@code listener}, counts to {@code stats}. */
  void cut(Iterator<Row> rows, Listener listener, Stats stats) {
    Series series = new Series(listener, stats);
    while (rows.hasNext()) {
      Row row = rows.next();
      if (spec.wide()) {
        wideRow(row, series);
      } else {
        longRow(row, series);
      }
    }
    series.finish();
  }

  private Object[] keyOf(Row row) {
    Object[] k = new Object[keyNames.size()];
    for (int i = 0; i < k.length; i++) {
      k[i] = row.get(FIRST_KEY + i);
    }
    return k;
  }

  private void longRow(Row row, Series s) {
    long h = row.getLong(HASH);
    Object[] key = keyOf(row);
    if (!s.started || h != s.hash || !Arrays.equals(key, s.key)) {
      s.begin(row, key, h, row.getLong(SERIES_ROWS));
    }
    s.stats.rows++;
    Object order = row.get(seriesPosition());
    if (order == null) {
      throw new TableDataException("column '" + seriesColumn + "' (--order) has a null value" + at(s.key, null)
          + "; every row needs its time");
    }
    if ((order instanceof Double d && d.isNaN()) || (order instanceof Float f && f.isNaN())) {
      throw new TableDataException("column '" + seriesColumn + "' (--order) is NaN" + at(s.key, null));
    }
    if (order.equals(s.previousOrder)) {
      throw new TableDataException("duplicate (key, order) pair" + at(s.key, order) + ": two rows for the same time; "
          + "deduplicate the table first (e.g. --where, or a groupBy in Spark)");
    }
    s.previousOrder = order;
    Split split = s.splitOf(s.index++);
    if (split == null) {
      return;
    }
    if (!readValues(row, s, order)) {
      return;
    }
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
  private boolean readValues(Row row, Series s, Object order) {
    boolean filled = false;
    for (int c = 0; c < values.length; c++) {
      ValueColumn col = values[c];
      boolean present = readColumn(row.get(col.position()), col, s.vals, s.key, order);
      if (present) {
        System.arraycopy(s.vals, col.offset(), s.last, col.offset(), col.width());
        s.haveLast[c] = true;
        continue;
      }
      switch (spec.missing()) {
        case ERROR -> throw new TableDataException("column '" + col.name() + "' has a missing value (null, NaN or ±Inf)"
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
   * Reads one column's numbers into vals[offset ..]; false if any is missing (null, NaN, ±Inf).
   * A wrong array width is an error, never "missing".
   */
  private boolean readColumn(Object v, ValueColumn col, double[] vals, Object[] key, Object order) {
    if (v == null) {
      return false;
    }
    switch (col.kind()) {
      case SCALAR -> {
        double d = ((Number) v).doubleValue();
        vals[col.offset()] = d;
        return Double.isFinite(d);
      }
      case ARRAY -> {
        int n = Sequences.length(v);
        if (n != col.width()) {
          throw new TableDataException("column '" + col.name() + "' holds " + n + " values" + at(key, order)
              + ", expected " + col.width() + " (the width of its first non-null value)");
        }
        boolean finite = true;
        for (int i = 0; i < n; i++) {
          Object e = Sequences.element(v, i);
          double d = e == null ? Double.NaN : ((Number) e).doubleValue();
          vals[col.offset() + i] = d;
          finite &= Double.isFinite(d);
        }
        return finite;
      }
      case VECTOR -> {
        double[] a = Sequences.vectorValues(v);
        if (a.length != col.width()) {
          throw new TableDataException("column '" + col.name() + "' holds a vector of size " + a.length + at(key, order)
              + ", expected " + col.width() + " (the size of its first non-null vector)");
        }
        boolean finite = true;
        for (int i = 0; i < a.length; i++) {
          vals[col.offset() + i] = a[i];
          finite &= Double.isFinite(a[i]);
        }
        return finite;
      }
      default -> throw new AssertionError(col.kind());
    }
  }

  private void checkClass(Series s, Object order) {
    if (spec.classes() == 0) {
      return;
    }
    float c = s.y[0];
    if (c != Math.rint(c) || c < 0 || c >= spec.classes()) {
      throw new TableDataException("column '" + spec.targetColumns().get(0) + "' has class id " + s.vals[targetSlots[0]]
          + at(s.key, order) + ", expected an integer in [0, " + spec.classes() + ") (--classes " + spec.classes() + ")");
    }
  }

  /** One row of a wide table: a whole series in the sequence column. */
  private void wideRow(Row row, Series s) {
    Object[] key = keyOf(row);
    Object seq = row.get(seriesPosition());
    s.begin(row, key, row.getLong(HASH), row.getLong(SERIES_ROWS));
    s.stats.rows++;
    if (seq == null) {
      if (spec.missing() == TableSpec.Missing.ERROR) {
        throw new TableDataException("column '" + seriesColumn + "' (--sequence-column) is null" + at(key, null));
      }
      s.stats.rowsDropped++;
      return;
    }
    if (!spec.nextStepTargets()) {
      // the per-row target: read once, repeated on every step (seq2one takes it from the last)
      if (!readColumn(row.get(values[0].position()), values[0], s.vals, key, null)) {
        if (spec.missing() == TableSpec.Missing.ERROR) {
          throw new TableDataException("column '" + values[0].name() + "' has a missing value (null, NaN or ±Inf)"
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
    int n = Sequences.length(seq);
    boolean haveLast = false;
    for (int i = 0; i < n; i++) {
      Split split = s.splitOf(s.index++);
      boolean present = readStep(Sequences.element(seq, i), s.x, key, i);
      if (!present) {
        if (spec.missing() == TableSpec.Missing.ERROR) {
          throw new TableDataException("column '" + seriesColumn + "' has a missing value (null, NaN or ±Inf)"
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

  /** Reads one step of a wide sequence into x; false if missing (x keeps its previous values). */
  private boolean readStep(Object step, float[] x, Object[] key, int i) {
    if (step == null) {
      return false;
    }
    if (step instanceof Number num) {
      if (features != 1) {
        throw new TableDataException("column '" + seriesColumn + "' step " + i + at(key, null)
            + " is a single number, expected " + features + " features");
      }
      double d = num.doubleValue();
      if (!Double.isFinite(d)) {
        return false;
      }
      x[0] = (float) d;
      return true;
    }
    int n = Sequences.length(step);
    if (n != features) {
      throw new TableDataException("column '" + seriesColumn + "' step " + i + at(key, null) + " has " + n
          + " features, expected " + features + " (the width of the first step)");
    }
    float[] tmp = new float[n];
    for (int f = 0; f < n; f++) {
      Object e = Sequences.element(step, f);
      double d = e == null ? Double.NaN : ((Number) e).doubleValue();
      if (!Double.isFinite(d)) {
        return false;
      }
      tmp[f] = (float) d;
    }
    System.arraycopy(tmp, 0, x, 0, n);
    return true;
  }

  /** " at key (k1=v1, k2=v2), order=o" for messages. */
  String at(Object[] key, Object order) {
    StringBuilder b = new StringBuilder();
    if (key != null && key.length > 0) {
      b.append(" at key (");
      for (int i = 0; i < key.length; i++) {
        b.append(i > 0 ? ", " : "").append(keyNames.get(i)).append('=').append(key[i]);
      }
      b.append(')');
    }
    if (order != null) {
      b.append(b.length() > 0 ? ", " : " at ").append(seriesColumn).append('=').append(order);
    }
    return b.toString();
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
