package io.sparkrnn.ml;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * The executor side of {@link RnnModel#transform}: called by Spark once per key with the key's
 * rows sorted by order ({@code groupBy(keys).as(..).flatMapSortedGroups(order)}); returns the same
 * rows with their predictions (and the key's forecast rows; for seq2one, one row per key or per
 * window), lazily.
 *
 * <p>Per task: the model is parsed once from the broadcast bytes on the task's first key, and one
 * {@link StatefulSession} (B = 1, on a single-threaded JVM engine) steps every key in turn, reset
 * between keys. A key's rows go through the engine in chunks of {@link #CHUNK} steps, each one
 * {@code forward} from the state the previous chunk left, so a task holds at most a chunk of rows,
 * never a whole series (the forecast's spacing aside: one long per row of the key, only when
 * forecasting). Seq2one models with a window length T score windows instead, each from a zero
 * state, up to {@link #WINDOW_BATCH} of a key side by side ({@code Windows}); a task then holds T
 * rows of inputs per pending window. A sequence's outputs do not depend on the other sequences of
 * its batch (JvmEngineBatchInvarianceTest), so no prediction depends on which keys share a task.
 *
 * <p>Units: inputs are z-scored with the model's recorded statistics, x = (raw − mean) / std,
 * in double, then rounded to float32; outputs are taken back, raw = y · std + mean, in double.
 * A row with a null, NaN or infinite input, or a null order value, gets a null prediction and
 * leaves the state as it was (as {@code missing drop} at fit time).
 */
final class SeriesScorer implements FlatMapGroupsFunction<Row, Row, Row> {
  private static final long serialVersionUID = 1L;
  /** Steps per engine call: long enough to amortise a call, short enough to bound a task's buffer. */
  static final int CHUNK = 2048;
  /** Seq2one windows per forward pass: B side by side fills the engine's matrix products. */
  static final int WINDOW_BATCH = 64;

  private final Broadcast<byte[]> model;
  private final int[] keyIdx;
  private final int orderIdx;
  private final int[] inputIdx;
  private final DataType[] inputTypes;
  private final DataType orderType;
  private final int inWidth;
  private final int outWidth;
  private final boolean seq2one;
  private final boolean classes;
  private final int forecastSteps;
  /** Seq2one: T, the rows of a window (0: the whole series), and S, rows between window starts (0: a key's last window only). */
  private final int windowSteps;
  private final int windowStride;
  /** The task whose keys {@link #scoring} steps: Spark deserialises the function for each task; this guards a reuse. */
  private transient TaskContext task;
  private transient Scoring scoring;

  SeriesScorer(Broadcast<byte[]> model, int[] keyIdx, int orderIdx, int[] inputIdx, DataType[] inputTypes, DataType orderType,
      int inWidth, int outWidth, boolean seq2one, boolean classes, int forecastSteps, int windowSteps, int windowStride) {
    this.model = model;
    this.keyIdx = keyIdx;
    this.orderIdx = orderIdx;
    this.inputIdx = inputIdx;
    this.inputTypes = inputTypes;
    this.orderType = orderType;
    this.inWidth = inWidth;
    this.outWidth = outWidth;
    this.seq2one = seq2one;
    this.classes = classes;
    this.forecastSteps = forecastSteps;
    this.windowSteps = windowSteps;
    this.windowStride = windowStride;
  }

  /** Scores one key's rows, sorted by order (the key's values are in every row; {@code key} is not read, and may be null). */
  @Override
  public Iterator<Row> call(Row key, Iterator<Row> rows) {
    TaskContext now = TaskContext.get();
    if (scoring == null || now != task) {
      TrainedModel trained = TrainedModel.fromBytes(model.value(), "RnnModel broadcast");
      BpttEngine engine = new JvmEngine(MathKernels.best(), 1);
      if (now != null) {
        now.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> engine.close());
      }
      task = now;
      scoring = new Scoring(trained, engine);
    }
    return scoring.key(rows);
  }

  /** One task's model, engine and session, and the state of the key being scored. */
  private final class Scoring {
    private final ModelConfig config;
    private final Normalization norm;
    private final StatefulSession session;
    private final ArrayDeque<Row> ready = new ArrayDeque<>();
    private final OrderSteps steps;
    /** The rows of the chunk being scored (reused). */
    private final List<Row> chunk = new ArrayList<>(CHUNK);
    /** The key's last output, model units [O], or null before its first valid row. */
    private float[] lastOutput;
    /** The key's last row with an order value (the template of forecast rows). */
    private Row lastRow;
    /** Seq2one with T &gt; 0: its windows; null otherwise. */
    private final Windows windows;
    /** Values per input column in the last row read: 1 for a number, the length of an array or vector. */
    private final int[] widths = new int[inputIdx.length];

    Scoring(TrainedModel trained, BpttEngine engine) {
      this.config = trained.config();
      this.norm = trained.normalization();
      this.session = new StatefulSession(trained.params(), engine, 1);
      this.steps = forecastSteps > 0 ? new OrderSteps(orderType) : null;
      this.windows = seq2one && windowSteps > 0 ? new Windows(trained, engine) : null;
    }

    /**
     * The key's output rows, its input read and scored a chunk at a time as they are asked for,
     * then its closing rows. Spark reads a key's iterator to its end before it calls for the next.
     */
    Iterator<Row> key(Iterator<Row> in) {
      return new Iterator<>() {
        private boolean finished;

        @Override
        public boolean hasNext() {
          while (ready.isEmpty() && !finished) {
            if (in.hasNext()) {
              chunk.clear();
              while (chunk.size() < CHUNK && in.hasNext()) {
                chunk.add(in.next());
              }
              scoreChunk(chunk);
            } else {
              finishKey();
              finished = true;
            }
          }
          return !ready.isEmpty();
        }

        @Override
        public Row next() {
          if (!hasNext()) {
            throw new NoSuchElementException();
          }
          return ready.poll();
        }
      };
    }

    private void scoreChunk(List<Row> chunk) {
      int F = config.inputSize();
      int O = config.outputSize();
      int[] step = new int[chunk.size()];                // index among the valid rows, or -1
      float[] x = new float[chunk.size() * F];           // [n][F] model units, n valid rows
      int n = 0;
      for (int r = 0; r < chunk.size(); r++) {
        Row row = chunk.get(r);
        step[r] = -1;
        if (row.isNullAt(orderIdx) || !toModelUnits(row, x, n * F)) {
          continue;
        }
        if (steps != null) {
          steps.add(row.get(orderIdx));
        }
        lastRow = row;
        step[r] = n++;
        if (windows != null) {
          windows.add(x, (n - 1) * F, row);
        }
      }
      if (windows != null) {
        return;                                          // windows are scored in batches of their own
      }
      float[] y = null;                                  // [n][1][O] seq2seq, [1][O] seq2one
      if (n > 0) {
        y = session.run(Arrays.copyOf(x, n * F), n).outputs();
        lastOutput = Arrays.copyOfRange(y, seq2one ? 0 : (n - 1) * O, seq2one ? O : n * O);
      }
      if (seq2one) {
        return;
      }
      for (int r = 0; r < chunk.size(); r++) {
        Row row = chunk.get(r);
        Object[] v = new Object[outWidth];
        for (int i = 0; i < inWidth; i++) {
          v[i] = row.get(i);
        }
        if (step[r] >= 0) {
          putOutputs(v, inWidth, y, step[r] * O);
        }
        if (forecastSteps > 0) {
          v[outWidth - 1] = false;
        }
        ready.add(RowFactory.create(v));
      }
    }

    /** The key's closing rows: its seq2one row or windows, or forecastSteps closed-loop rows; then a fresh state. */
    private void finishKey() {
      if (windows != null) {
        windows.endKey(lastRow);
        windows.flush();                                 // the key's rows go out before the next key's
      } else if (seq2one) {
        if (lastRow != null) {
          ready.add(seq2oneRow(lastRow, lastOutput));
        }
      } else if (forecastSteps > 0 && lastOutput != null) {
        forecast();
      }
      session.reset();
      lastOutput = null;
      lastRow = null;
      if (steps != null) {
        steps.clear();
      }
    }

    /**
     * Closed loop: forecast row i (at the last time + i spacings) takes as its inputs the previous
     * row's prediction, in raw units (and shows them in its input columns), and its prediction is
     * the model's output after that step.
     */
    private void forecast() {
      int F = config.inputSize();
      Object spacing = steps.spacing();
      if (spacing == null) {
        return;                                          // one row: no spacing to continue at
      }
      Object order = lastRow.get(orderIdx);
      float[] y = lastOutput;
      for (int i = 1; i <= forecastSteps; i++) {
        double[] raw = outputsToRaw(y, 0);               // the forecast for this row's time
        float[] x = new float[F];
        for (int f = 0; f < F; f++) {
          x[f] = (float) inputToModel(raw[f], f);
        }
        y = session.step(x);
        order = steps.next(order, spacing);
        Object[] v = new Object[outWidth];
        for (int k : keyIdx) {
          v[k] = lastRow.get(k);
        }
        v[orderIdx] = order;
        for (int c = 0, f = 0; c < inputIdx.length; f += widths[c], c++) {
          v[inputIdx[c]] = columnValue(raw, f, widths[c], inputTypes[c]);
        }
        putOutputs(v, inWidth, y, 0);
        v[outWidth - 1] = true;
        ready.add(RowFactory.create(v));
      }
    }

    /** A seq2one output row: the key columns, the order value of the last row read, and the outputs. */
    private Row seq2oneRow(Row last, float[] y) {
      Object[] v = new Object[outWidth];
      for (int i = 0; i < keyIdx.length; i++) {
        v[i] = last.get(keyIdx[i]);
      }
      v[keyIdx.length] = last.get(orderIdx);
      putOutputs(v, keyIdx.length + 1, y, 0);
      return RowFactory.create(v);
    }

    /**
     * Seq2one windows of T rows, each from a zero state, scored {@link #WINDOW_BATCH} at a time
     * in one forward pass (B windows side by side; a key shorter than T gives one window of
     * length n, zero-padded, its output read after its step n − 1). With stride S &gt; 0 a window
     * ends at each valid row i with i + 1 ≥ T and (i + 1 − T) mod S = 0, as training cut them;
     * with S = 0 one window per key, its last T rows.
     */
    private final class Windows {
      private final TrainedModel trained;
      private final BpttEngine engine;
      private final int T = windowSteps;
      private final int F = config.inputSize();
      /** The key's last T valid rows' inputs: valid row i at [i mod T][F]. */
      private final float[] ring = new float[T * F];
      private long seen;
      /** Pending windows: inputs [T][F] time-major (zero-padded), valid steps, and the row that ends each. */
      private final List<float[]> xs = new ArrayList<>();
      private final List<Integer> lengths = new ArrayList<>();
      private final List<Row> ends = new ArrayList<>();

      Windows(TrainedModel trained, BpttEngine engine) {
        this.trained = trained;
        this.engine = engine;
      }

      /** Valid row number {@code seen} of the key, its inputs at x[at..at+F). */
      void add(float[] x, int at, Row row) {
        System.arraycopy(x, at, ring, (int) (seen % T) * F, F);
        seen++;
        if (windowStride > 0 && seen >= T && (seen - T) % windowStride == 0) {
          take(T, row);
        }
      }

      /** The key's end: its one window when S = 0 or when it was shorter than T; then a fresh ring. */
      void endKey(Row last) {
        if (seen > 0 && (windowStride == 0 || seen < T)) {
          take((int) Math.min(seen, T), last);
        }
        seen = 0;
      }

      /** The window of the last {@code length} rows, oldest first. */
      private void take(int length, Row end) {
        float[] w = new float[T * F];
        for (int t = 0; t < length; t++) {
          long row = seen - length + t;
          System.arraycopy(ring, (int) (row % T) * F, w, t * F, F);
        }
        xs.add(w);
        lengths.add(length);
        ends.add(end);
        if (xs.size() == WINDOW_BATCH) {
          flush();
        }
      }

      /** One forward pass over the pending windows, x [T][B][F]; their rows go out in order. */
      void flush() {
        int B = xs.size();
        if (B == 0) {
          return;
        }
        float[] x = new float[T * B * F];
        int[] len = new int[B];
        boolean full = true;
        for (int b = 0; b < B; b++) {
          float[] w = xs.get(b);
          for (int t = 0; t < T; t++) {
            System.arraycopy(w, t * F, x, (t * B + b) * F, F);
          }
          len[b] = lengths.get(b);
          full &= len[b] == T;
        }
        float[] y = engine.forward(trained.params(), new Batch(T, B, F, x, null, null, full ? null : len), null).outputs();
        int O = config.outputSize();
        for (int b = 0; b < B; b++) {
          ready.add(seq2oneRow(ends.get(b), Arrays.copyOfRange(y, b * O, b * O + O)));
        }
        xs.clear();
        lengths.clear();
        ends.clear();
      }
    }

    /**
     * Writes the row's inputs in model units at x[offset..offset+F), the input columns expanded in
     * order (a number: one feature; an array or ML Vector: its values), and records each column's
     * width in {@link #widths}; false if one is null, NaN or infinite (a null array element too).
     *
     * @throws IllegalArgumentException the columns give other than F values (an array or vector
     *     of another width than training's), naming the columns, the key and the order value
     */
    private boolean toModelUnits(Row row, float[] x, int offset) {
      int F = config.inputSize();
      int f = 0;
      for (int c = 0; c < inputIdx.length; c++) {
        if (row.isNullAt(inputIdx[c])) {
          return false;
        }
        Object value = row.get(inputIdx[c]);
        double[] values = value instanceof Number ? null : arrayValues(value);
        int width = values == null ? 1 : values.length;
        if (f + width > F) {
          throw widthError(row, f + width);
        }
        for (int i = 0; i < width; i++) {
          double raw = values == null ? ((Number) value).doubleValue() : values[i];
          if (!Double.isFinite(raw)) {
            return false;
          }
          x[offset + f + i] = (float) inputToModel(raw, f + i);
        }
        widths[c] = width;
        f += width;
      }
      if (f != F) {
        throw widthError(row, f);
      }
      return true;
    }

    private IllegalArgumentException widthError(Row row, int found) {
      String[] shapes = new String[inputIdx.length];
      for (int c = 0; c < inputIdx.length; c++) {
        Object v = row.isNullAt(inputIdx[c]) ? null : row.get(inputIdx[c]);
        shapes[c] = row.schema().fields()[inputIdx[c]].name() + (v == null || v instanceof Number ? ""
            : "[" + arrayValues(v).length + "]");
      }
      return new BadInputException("RnnModel.transform: inputCols " + Arrays.toString(shapes) + " give "
          + (found > config.inputSize() ? "more than " + config.inputSize() : found) + " values at key "
          + Arrays.toString(keyOf(row)) + ", " + row.schema().fields()[orderIdx].name() + " " + row.get(orderIdx)
          + "; the model was trained on F=" + config.inputSize() + " features (arrays and vectors of the widths fit saw)");
    }

    /** x = (raw − mean_f) / std_f */
    private double inputToModel(double raw, int f) {
      return norm == null ? raw : (raw - norm.inputMean()[f]) / norm.inputStd()[f];
    }

    /** raw = y_o · std_o + mean_o for regression outputs, logits as they are; y_o at y[off + o], o &lt; O. */
    private double[] outputsToRaw(float[] y, int off) {
      double[] r = new double[config.outputSize()];
      boolean scale = norm != null && norm.targetMean() != null;
      for (int o = 0; o < r.length; o++) {
        r[o] = scale ? y[off + o] * norm.targetStd()[o] + norm.targetMean()[o] : y[off + o];
      }
      return r;
    }

    /** prediction (and probability, predictedClass) at v[at..], from the outputs at y[off..off+O). */
    private void putOutputs(Object[] v, int at, float[] y, int off) {
      double[] raw = outputsToRaw(y, off);
      v[at] = raw;
      if (classes) {
        v[at + 1] = softmax(raw);
        v[at + 2] = argmax(raw);
      }
    }

    private Object[] keyOf(Row row) {
      Object[] k = new Object[keyIdx.length];
      for (int i = 0; i < k.length; i++) {
        k[i] = row.get(keyIdx[i]);
      }
      return k;
    }
  }

  /** p_c = exp(z_c − max z) / Σ exp(z_j − max z) */
  static double[] softmax(double[] z) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : z) {
      max = Math.max(max, v);
    }
    double sum = 0;
    double[] p = new double[z.length];
    for (int c = 0; c < z.length; c++) {
      p[c] = Math.exp(z[c] - max);
      sum += p[c];
    }
    for (int c = 0; c < z.length; c++) {
      p[c] /= sum;
    }
    return p;
  }

  /** The first index of the largest value. */
  static int argmax(double[] z) {
    int best = 0;
    for (int c = 1; c < z.length; c++) {
      if (z[c] > z[best]) {
        best = c;
      }
    }
    return best;
  }

  /**
   * Forecast values raw[f..f+width) as the input column's type holds them: double and float
   * exactly (numbers, or arrays of them), an ML Vector as a dense vector; other types null.
   */
  static Object columnValue(double[] raw, int f, int width, DataType type) {
    if (type.equals(DataTypes.DoubleType)) {
      return raw[f];
    }
    if (type.equals(DataTypes.FloatType)) {
      return (float) raw[f];
    }
    if (type instanceof ArrayType a && a.elementType().equals(DataTypes.DoubleType)) {
      return Arrays.copyOfRange(raw, f, f + width);
    }
    if (type instanceof ArrayType a && a.elementType().equals(DataTypes.FloatType)) {
      float[] v = new float[width];
      for (int i = 0; i < width; i++) {
        v[i] = (float) raw[f + i];
      }
      return v;
    }
    if (type instanceof VectorUDT) {
      return Vectors.dense(Arrays.copyOfRange(raw, f, f + width));
    }
    return null;
  }

  /** The numbers of an array column's value (a Scala Seq of numbers) or of an ML Vector, as doubles; NaN for a null element. */
  static double[] arrayValues(Object value) {
    if (value instanceof Vector v) {
      return v.toArray();
    }
    List<?> list = scala.jdk.javaapi.CollectionConverters.asJava((scala.collection.Seq<?>) value);
    double[] out = new double[list.size()];
    for (int i = 0; i < out.length; i++) {
      Object e = list.get(i);
      out[i] = e == null ? Double.NaN : ((Number) e).doubleValue();
    }
    return out;
  }
}
