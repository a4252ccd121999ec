package io.sparkrnn.ml;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * The executor side of {@link RnnModel#transform}: one task's rows, sorted by (key, order), in;
 * the same rows with their predictions (and each key's forecast rows, or one row per key for
 * seq2one) out, lazily.
 *
 * <p>Per task: the model is parsed once from the broadcast bytes and one {@link StatefulSession}
 * (B = 1, on a single-threaded JVM engine) steps every key in turn, reset between keys. A key's
 * rows go through the engine in chunks of {@link #CHUNK} steps, each one {@code forward} from the
 * state the previous chunk left, so a task holds at most a chunk of rows, never a whole series
 * (the forecast's spacing aside: one long per row of the key, only when forecasting).
 *
 * <p>Units: inputs are z-scored with the model's recorded statistics, x = (raw − mean) / std,
 * in double, then rounded to float32; outputs are taken back, raw = y · std + mean, in double.
 * A row with a null, NaN or infinite input, or a null order value, gets a null prediction and
 * leaves the state as it was (as {@code missing drop} at fit time).
 */
final class SeriesScorer implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Steps per engine call: long enough to amortise a call, short enough to bound a task's buffer. */
  static final int CHUNK = 512;

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

  SeriesScorer(Broadcast<byte[]> model, int[] keyIdx, int orderIdx, int[] inputIdx, DataType[] inputTypes, DataType orderType,
      int inWidth, int outWidth, boolean seq2one, boolean classes, int forecastSteps) {
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
  }

  /** Scores one task's rows, which must be sorted by (key, order). */
  Iterator<Row> score(Iterator<Row> rows) {
    TrainedModel trained = TrainedModel.fromBytes(model.value(), "RnnModel broadcast");
    BpttEngine engine = new JvmEngine(MathKernels.best(), 1);
    TaskContext task = TaskContext.get();
    if (task != null) {
      task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> engine.close());
    }
    return new Scoring(rows, trained, new StatefulSession(trained.params(), engine, 1));
  }

  /** The state of one task's pass: the current key, its pending rows and its forecast spacing. */
  private final class Scoring implements Iterator<Row> {
    private final Iterator<Row> in;
    private final ModelConfig config;
    private final Normalization norm;
    private final StatefulSession session;
    private final ArrayDeque<Row> ready = new ArrayDeque<>();
    private final OrderSteps steps;
    /** The first row of the next chunk, read ahead to see where a key ends. */
    private Row pending;
    private Object[] key;
    /** The key's last output, model units [O], or null before its first valid row. */
    private float[] lastOutput;
    /** The key's last row with an order value (the template of forecast rows). */
    private Row lastRow;

    Scoring(Iterator<Row> in, TrainedModel trained, StatefulSession session) {
      this.in = in;
      this.config = trained.config();
      this.norm = trained.normalization();
      this.session = session;
      this.steps = forecastSteps > 0 ? new OrderSteps(orderType) : null;
    }

    @Override
    public boolean hasNext() {
      while (ready.isEmpty() && (pending != null || in.hasNext())) {
        advance();
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

    /** Reads and scores one chunk of the current key; at the key's end, adds its forecast or seq2one row. */
    private void advance() {
      if (pending == null) {
        pending = in.next();
      }
      key = keyOf(pending);
      List<Row> chunk = new ArrayList<>();
      boolean keyEnds = false;
      while (chunk.size() < CHUNK) {
        chunk.add(pending);
        pending = in.hasNext() ? in.next() : null;
        if (pending == null || !Arrays.deepEquals(key, keyOf(pending))) {
          keyEnds = true;
          break;
        }
      }
      scoreChunk(chunk);
      if (keyEnds) {
        finishKey();
      }
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
        Object[] v = Arrays.copyOf(values(chunk.get(r)), outWidth);
        if (step[r] >= 0) {
          putOutputs(v, inWidth, Arrays.copyOfRange(y, step[r] * O, step[r] * O + O));
        }
        if (forecastSteps > 0) {
          v[outWidth - 1] = false;
        }
        ready.add(RowFactory.create(v));
      }
    }

    /** The key's closing rows: seq2one's single row, or forecastSteps closed-loop rows; then a fresh state. */
    private void finishKey() {
      if (seq2one) {
        if (lastRow != null) {
          Object[] v = new Object[outWidth];
          for (int i = 0; i < keyIdx.length; i++) {
            v[i] = lastRow.get(keyIdx[i]);
          }
          v[keyIdx.length] = lastRow.get(orderIdx);
          putOutputs(v, keyIdx.length + 1, lastOutput);
          ready.add(RowFactory.create(v));
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
        double[] raw = outputsToRaw(y);                  // the forecast for this row's time
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
        for (int f = 0; f < F; f++) {
          v[inputIdx[f]] = columnValue(raw[f], inputTypes[f]);
        }
        putOutputs(v, inWidth, y);
        v[outWidth - 1] = true;
        ready.add(RowFactory.create(v));
      }
    }

    /** Writes the row's inputs in model units at x[offset..offset+F); false if one is missing. */
    private boolean toModelUnits(Row row, float[] x, int offset) {
      for (int f = 0; f < inputIdx.length; f++) {
        if (row.isNullAt(inputIdx[f])) {
          return false;
        }
        double raw = ((Number) row.get(inputIdx[f])).doubleValue();
        if (!Double.isFinite(raw)) {
          return false;
        }
        x[offset + f] = (float) inputToModel(raw, f);
      }
      return true;
    }

    /** x = (raw − mean_f) / std_f */
    private double inputToModel(double raw, int f) {
      return norm == null ? raw : (raw - norm.inputMean()[f]) / norm.inputStd()[f];
    }

    /** raw = y_o · std_o + mean_o for regression outputs; logits as they are. */
    private double[] outputsToRaw(float[] y) {
      double[] r = new double[y.length];
      boolean scale = norm != null && norm.targetMean() != null;
      for (int o = 0; o < y.length; o++) {
        r[o] = scale ? y[o] * norm.targetStd()[o] + norm.targetMean()[o] : y[o];
      }
      return r;
    }

    /** prediction (and probability, predictedClass) at v[at..]. */
    private void putOutputs(Object[] v, int at, float[] y) {
      double[] raw = outputsToRaw(y);
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

    private Object[] values(Row row) {
      Object[] v = new Object[inWidth];
      for (int i = 0; i < inWidth; i++) {
        v[i] = row.get(i);
      }
      return v;
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

  /** A forecast value as the input column's type holds it: double and float exactly, other types null. */
  static Object columnValue(double raw, DataType type) {
    if (type.equals(DataTypes.DoubleType)) {
      return raw;
    }
    if (type.equals(DataTypes.FloatType)) {
      return (float) raw;
    }
    return null;
  }
}
