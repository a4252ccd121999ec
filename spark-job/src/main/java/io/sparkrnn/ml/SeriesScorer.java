package io.sparkrnn.ml;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.spark.TableNumbers;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.State;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.stream.IntStream;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.catalyst.util.CollationFactory;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The executor side of {@link RnnModel#transform}: called by Spark once per partition with its
 * rows clustered by key and sorted by (key, order) ({@link RnnModel#clusteredByKey}); returns the
 * same rows with their predictions (and each key's forecast rows; for seq2one, one row per key or
 * per window), lazily, each key's rows together and in order.
 *
 * <p>Per task: the model is parsed once from the broadcast bytes and one single-threaded JVM
 * engine steps the partition's keys up to {@link #KEY_BATCH} side by side: the rows of whole keys
 * are read until the batch holds {@link #KEY_BATCH} keys or {@link #BATCH_ROWS} rows, then the
 * keys run as one batch of B sequences (each its own length, the engine's {@code lengths}) in
 * forward calls of up to {@link #CHUNK} steps from the state the previous call left, each call
 * over the keys that still have steps, longest first. Side by side, a
 * step's matrix products read the weights once for B keys, not once per key. A key longer than
 * {@link #BATCH_ROWS} rows is stepped alone, {@link #CHUNK} rows at a time, so a task holds at
 * most a batch of rows, never a long series (the forecast's spacing aside: one long per row of
 * the key, only when forecasting). A sequence's outputs do not depend on the other sequences of
 * its batch, its length or its batch's (JvmEngineBatchInvarianceTest), so no prediction depends on
 * which keys share a batch, a task or a partition. Seq2one models with a window length T score
 * windows instead, each from a zero state, up to {@link #WINDOW_BATCH} side by side, of one key or
 * of several ({@code Windows}); a task then holds T rows of inputs per pending window.
 *
 * <p>Units: inputs are z-scored with the model's recorded statistics, x = (raw − mean) / std,
 * in double, then rounded to float32; outputs are taken back, raw = y · std + mean, in double.
 * A row with a null, NaN or infinite input, or a null order value, gets a null prediction and
 * leaves the state as it was (as {@code missing drop} at fit time); with {@code ffill} (the model
 * fit so) a missing input value takes the key's last valid value of that column, model units, and
 * the row is scored, as prep filled the training rows.
 */
final class SeriesScorer implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;
  /** Steps per engine call: long enough to amortise a call, short enough to bound its buffers. */
  static final int CHUNK = 2048;
  /** Keys stepped side by side. */
  static final int KEY_BATCH = 8;
  /** The most rows read ahead for a batch of keys; a key longer than this is stepped alone. */
  static final int BATCH_ROWS = 65536;
  /** Seq2one windows per forward pass: B side by side fills the engine's matrix products. */
  static final int WINDOW_BATCH = 64;

  /**
   * Steps per engine call, keys side by side and rows read ahead for them: the defaults above;
   * tests shrink them to reach every path on small tables (a key stepped alone, several calls per
   * key, a batch cut short by its rows). The predictions do not depend on them.
   */
  record Limits(int chunk, int keyBatch, int batchRows) implements Serializable {
    static final Limits DEFAULT = new Limits(CHUNK, KEY_BATCH, BATCH_ROWS);

    Limits {
      if (chunk < 1 || keyBatch < 1 || batchRows < 1) {
        throw new IllegalArgumentException("limits must be positive: " + chunk + ", " + keyBatch + ", " + batchRows);
      }
    }
  }

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
  private final Limits limits;
  /** The key columns' types: how {@link #comparable} reads their values. */
  private final DataType[] keyTypes;
  /** missing ffill: a missing input value repeats the key's last valid one of its column. */
  private final boolean ffill;

  SeriesScorer(Broadcast<byte[]> model, int[] keyIdx, int orderIdx, int[] inputIdx, DataType[] inputTypes, DataType orderType,
      int inWidth, int outWidth, boolean seq2one, boolean classes, int forecastSteps, int windowSteps, int windowStride,
      Limits limits, DataType[] keyTypes, boolean ffill) {
    this.ffill = ffill;
    this.limits = limits;
    this.keyTypes = keyTypes;
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

  /** Scores one partition's rows, clustered by key and sorted by (key, order) (one series when there are no key columns). */
  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    if (!rows.hasNext()) {
      return Collections.emptyIterator();      // an empty partition parses no model
    }
    TrainedModel trained = TrainedModel.fromBytes(model.value(), "RnnModel broadcast");
    BpttEngine engine = new JvmEngine(MathKernels.best(), 1);
    TaskContext task = TaskContext.get();
    if (task != null) {
      task.addTaskCompletionListener((TaskCompletionListener) ctx -> engine.close());
    }
    return new Scoring(trained, engine, rows);
  }

  /**
   * One key's rows as read, their inputs in model units taken as each row is read (the row is
   * then still in cache; a batch's rows are megabytes, cold by the time it is scored), and what
   * its closing rows need.
   */
  private final class KeyRun {
    /** The key values as the first row holds them, and as {@link #comparable} makes them. */
    final Object[] raw;
    final Object[] key;
    /** The rows read and not yet scored. */
    List<Row> rows = new ArrayList<>();
    /** Per row of {@code rows}: its index among their valid rows, or −1 (a null order value or input). */
    int[] step = new int[64];
    /** The valid rows' inputs in model units, [valid][F]. */
    float[] xs;
    /** Valid rows among {@code rows}. */
    int valid;
    private final int inputSize;
    /** The key's last output, model units [O], or null before its first valid row. */
    float[] lastOutput;
    /** The key's last valid row (the template of forecast and seq2one rows). */
    Row lastRow;
    /** The order value of the key's last row that has one, valid or not: forecast rows continue after it. */
    Object lastOrder;
    /** {@link #lastOrder} as {@link #comparable} makes it: rows come sorted by order, so a duplicate equals it. */
    private Object lastOrderKey;
    /** Forecasting: the spacing of the key's order values. */
    final OrderSteps steps = forecastSteps > 0 ? new OrderSteps(orderType) : null;
    /** Values per input column in the last row read: 1 for a number, the length of an array or vector. */
    final int[] widths = new int[inputIdx.length];
    /** ffill: the key's last valid inputs, model units [F], and per input column whether it has had one. */
    final float[] lastX;
    final boolean[] haveLast = new boolean[inputIdx.length];

    KeyRun(Object[] raw, Object[] key, int inputSize) {
      this.raw = raw;
      this.key = key;
      this.inputSize = inputSize;
      this.xs = new float[64 * inputSize];
      this.lastX = ffill ? new float[inputSize] : null;
    }

    /** Adds a row read, its inputs converted now; a row without a valid order value or inputs gets step −1. */
    void add(Row row, Scoring scoring) {
      int r = rows.size();
      int F = inputSize;
      if (r == step.length) {
        step = Arrays.copyOf(step, 2 * r);
      }
      if ((valid + 1) * F > xs.length) {
        xs = Arrays.copyOf(xs, 2 * xs.length);
      }
      rows.add(row);
      if (row.isNullAt(orderIdx)) {
        step[r] = -1;
        return;
      }
      Object order = row.get(orderIdx);
      Object orderKey = comparable(order, orderType);
      if (orderKey instanceof Double d && d.isNaN() || orderKey instanceof Float f && f.isNaN()) {
        throw scoring.badOrder(row, "is NaN; expected a number (filter NaN out, or replace it)");
      }
      if (orderKey.equals(lastOrderKey)) {
        throw scoring.badOrder(row, "repeats the previous row's: two rows for the same time of one key; deduplicate the table"
            + " first (e.g. dropDuplicates on the key and order columns, or a groupBy)");
      }
      lastOrderKey = orderKey;
      lastOrder = order;
      if (steps != null) {
        steps.add(order);
      }
      if (!scoring.toModelUnits(row, this, xs, valid * F)) {
        step[r] = -1;
        return;
      }
      lastRow = row;
      step[r] = valid++;
    }

    /** Starts empty: the rows read and their steps now belong to an output segment ({@link Scored}); xs is reused. */
    void clear() {
      rows = new ArrayList<>();
      step = new int[64];
      valid = 0;
    }
  }

  /**
   * A run's scored rows, turned into output rows one at a time as Spark asks for them, so that
   * each is built and serialised while in cache: the rows, their steps ({@link KeyRun#step}) and
   * the outputs of the valid ones [valid][O].
   */
  private record Scored(List<Row> rows, int[] step, float[] ys) {}

  /** One task's model and engine, reading its partition a batch of keys at a time; the output rows as an iterator. */
  private final class Scoring implements Iterator<Row> {
    private final ModelConfig config;
    private final Normalization norm;
    private final TrainedModel trained;
    private final BpttEngine engine;
    private final Iterator<Row> in;
    /** Output ready to go: rows made, and {@link Scored} runs whose rows are made as they go out. */
    private final ArrayDeque<Object> ready = new ArrayDeque<>();
    /** The next row of the {@link Scored} run at the head of {@code ready}. */
    private int cursor;
    /** Complete keys read for the next batch, and their rows. */
    private final List<KeyRun> batch = new ArrayList<>();
    private int held;
    /** The key being read, or null. */
    private KeyRun current;
    /** The first row of the next key, read ahead, or null. */
    private Row pending;
    /** A key longer than the batch's rows, stepped alone (its rows read and not yet scored in its {@code rows}), or null. */
    private KeyRun alone;
    /** Its state between calls [L][1][H]. */
    private State aloneState;
    /** Seq2one with T &gt; 0: its windows; null otherwise. */
    private final Windows windows;
    private boolean finished;

    Scoring(TrainedModel trained, BpttEngine engine, Iterator<Row> in) {
      this.trained = trained;
      this.config = trained.config();
      this.norm = trained.normalization();
      this.engine = engine;
      this.in = in;
      this.windows = seq2one && windowSteps > 0 ? new Windows(trained, engine) : null;
    }

    @Override
    public boolean hasNext() {
      while (ready.isEmpty() && !finished) {
        fill();
      }
      return !ready.isEmpty();
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      if (ready.peek() instanceof Scored run) {
        Row out = outputRow(run, cursor++);
        if (cursor == run.rows().size()) {
          ready.poll();
          cursor = 0;
        }
        return out;
      }
      return (Row) ready.poll();
    }

    /** Row r of a scored run: its columns, then its prediction (null for a row that was not a step). */
    private Row outputRow(Scored run, int r) {
      Row row = run.rows().get(r);
      Object[] v = new Object[outWidth];
      for (int i = 0; i < inWidth; i++) {
        v[i] = row.get(i);
      }
      int step = run.step()[r];
      if (step >= 0) {
        putOutputs(v, inWidth, run.ys(), step * config.outputSize());
      }
      if (forecastSteps > 0) {
        v[outWidth - 1] = false;
      }
      return RowFactory.create(v);
    }

    /** Reads and scores until some rows are ready or the partition is done. */
    private void fill() {
      if (alone != null) {
        stepAlone();
        return;
      }
      while (true) {
        if (current == null) {
          if (batch.size() == limits.keyBatch() || pending == null && !in.hasNext()) {
            flushBatch();
            return;
          }
          Row first = pending != null ? pending : in.next();
          pending = null;
          current = newRun(first);
          current.add(first, this);
        }
        while (true) {
          if (!in.hasNext()) {
            endRead();
            break;
          }
          if (held + current.rows.size() >= limits.batchRows()) {
            if (!batch.isEmpty()) {
              flushBatch();                              // the batch goes first; this key is read on with the whole budget
              return;
            }
            alone = current;                             // longer than a batch: stepped alone
            current = null;
            aloneState = State.zeros(config, 1);
            stepAlone();
            return;
          }
          Row r = in.next();
          if (!sameKey(r, current)) {
            pending = r;
            endRead();
            break;
          }
          current.add(r, this);
        }
      }
    }

    private void endRead() {
      batch.add(current);
      held += current.rows.size();
      current = null;
    }

    /** Scores the batch's keys side by side, their rows out key by key; the partition is done when there was nothing left. */
    private void flushBatch() {
      if (batch.isEmpty()) {
        if (windows != null) {
          windows.flush();
        }
        finished = current == null && pending == null && !in.hasNext();
        return;
      }
      score(batch, State.zeros(config, batch.size()), true);
      batch.clear();
      held = 0;
    }

    /** The long key's next rows (those read, then up to a chunk more), scored from its state; its closing rows at its end. */
    private void stepAlone() {
      boolean ended = false;
      while (alone.rows.size() < limits.chunk()) {
        if (!in.hasNext()) {
          ended = true;
          break;
        }
        Row r = in.next();
        if (!sameKey(r, alone)) {
          pending = r;
          ended = true;
          break;
        }
        alone.add(r, this);
      }
      score(List.of(alone), aloneState, ended);
      if (ended) {
        alone = null;
        aloneState = null;
      }
    }

    /**
     * Scores the runs' rows side by side from their states (sequence b of {@code state} = run b,
     * updated in place): each run's valid rows, compacted, are its steps, in forward calls of up to
     * {@code limits.chunk()} steps. A call takes only the runs that still have steps, the longest
     * first, so none runs with zero steps (a seq2one batch must not) and a long run does not drag
     * finished ones through the products; runs of fewer steps than the call's are padded (the
     * engine's lengths). Output goes out run by run (each run's rows as a {@link Scored}, made
     * into rows as Spark reads them); with {@code ended}, each run's closing rows after its own.
     * The runs are left empty ({@link KeyRun#clear}).
     */
    private void score(List<KeyRun> runs, State state, boolean ended) {
      int B = runs.size();
      int F = config.inputSize();
      int O = config.outputSize();
      int[] n = new int[B];                              // valid rows (steps) per run
      for (int b = 0; b < B; b++) {
        n[b] = runs.get(b).valid;
      }
      if (windows != null) {                             // windows are scored in batches of their own
        for (KeyRun run : runs) {
          for (int r = 0; r < run.rows.size(); r++) {
            if (run.step[r] >= 0) {
              windows.add(run.xs, run.step[r] * F, run.rows.get(r));
            }
          }
          if (ended) {
            windows.endKey(run.lastRow);                 // its windows wait for others, of this key or the next ones
          }
          run.clear();
        }
        return;
      }
      // the runs by length, longest first (ties in run order): the runs with steps left are a prefix
      int[] byLength = IntStream.range(0, B).boxed()
          .sorted(Comparator.comparingInt((Integer b) -> -n[b])).mapToInt(Integer::intValue).toArray();
      State sorted = gather(state, byLength);
      float[][] ys = new float[B][];                     // seq2seq: [n_b][O]
      for (int b = 0; b < B; b++) {
        ys[b] = seq2one ? null : new float[n[b] * O];
      }
      int T = B == 0 ? 0 : n[byLength[0]];
      for (int t0 = 0; t0 < T; t0 += limits.chunk()) {
        int Tc = Math.min(limits.chunk(), T - t0);
        int A = 0;                                       // runs with steps in [t0, t0 + Tc)
        while (A < B && n[byLength[A]] > t0) {
          A++;
        }
        float[] x = new float[Tc * A * F];               // [Tc][A][F]
        int[] lengths = new int[A];
        boolean full = true;
        for (int a = 0; a < A; a++) {
          int b = byLength[a];
          float[] xs = runs.get(b).xs;
          lengths[a] = Math.min(Tc, n[b] - t0);
          full &= lengths[a] == Tc;
          for (int t = 0; t < lengths[a]; t++) {
            for (int f = 0, from = (t0 + t) * F, to = (t * A + a) * F; f < F; f++) {
              x[to + f] = xs[from + f];
            }
          }
        }
        ForwardResult result = engine.forward(trained.params(), new Batch(Tc, A, F, x, null, null, full ? null : lengths),
            sorted.sequences(0, A));
        sorted.put(0, result.finalState());              // copied: the engine reuses its buffers
        float[] y = result.outputs();
        for (int a = 0; a < A; a++) {
          int b = byLength[a];
          if (seq2one) {                                 // [A][O]: after the run's last valid step
            runs.get(b).lastOutput = Arrays.copyOfRange(y, a * O, a * O + O);
          } else {                                       // [Tc][A][O]
            for (int t = 0; t < lengths[a]; t++) {
              for (int o = 0, from = (t * A + a) * O, to = (t0 + t) * O; o < O; o++) {
                ys[b][to + o] = y[from + o];
              }
            }
            runs.get(b).lastOutput = Arrays.copyOfRange(ys[b], (t0 + lengths[a] - 1) * O, (t0 + lengths[a]) * O);
          }
        }
      }
      scatter(sorted, byLength, state);
      List<List<Row>> closing = ended ? closingRows(runs, state) : null;
      for (int b = 0; b < B; b++) {
        KeyRun run = runs.get(b);
        if (!seq2one && !run.rows.isEmpty()) {
          ready.add(new Scored(run.rows, run.step, ys[b]));
        }
        run.clear();
        if (closing != null) {
          ready.addAll(closing.get(b));
        }
      }
    }

    /**
     * Each run's closing rows, its series having ended: its seq2one row, or forecastSteps
     * closed-loop rows (all runs stepped side by side from their final states).
     */
    private List<List<Row>> closingRows(List<KeyRun> runs, State state) {
      List<List<Row>> out = new ArrayList<>();
      for (int b = 0; b < runs.size(); b++) {
        out.add(new ArrayList<>());
      }
      if (seq2one) {
        for (int b = 0; b < runs.size(); b++) {
          KeyRun run = runs.get(b);
          if (run.lastRow != null) {
            out.get(b).add(seq2oneRow(run.lastRow, run.lastOutput));
          }
        }
      } else if (forecastSteps > 0) {
        forecast(runs, state, out);
      }
      return out;
    }

    /**
     * Closed loop: forecast row i (at the last time + i spacings) takes as its inputs the previous
     * row's prediction, in raw units (and shows them in its input columns), and its prediction is
     * the model's output after that step. Runs without a valid row or a spacing (one row) get
     * none; they step along with zero inputs, their outputs unread.
     */
    private void forecast(List<KeyRun> runs, State state, List<List<Row>> out) {
      int F = config.inputSize();
      int O = config.outputSize();
      List<Integer> going = new ArrayList<>();          // the runs that forecast: a valid row and a spacing
      List<Object> spacing = new ArrayList<>();
      for (int b = 0; b < runs.size(); b++) {
        KeyRun run = runs.get(b);
        Object s = run.lastOutput == null ? null : run.steps.spacing();
        if (s != null) {
          going.add(b);
          spacing.add(s);
        }
      }
      int A = going.size();
      if (A == 0) {
        return;
      }
      int[] idx = going.stream().mapToInt(Integer::intValue).toArray();
      StatefulSession session = new StatefulSession(trained.params(), engine, A);
      session.setState(gather(state, idx));
      Object[] order = new Object[A];
      float[][] y = new float[A][];
      for (int a = 0; a < A; a++) {
        order[a] = runs.get(idx[a]).lastOrder;         // after the key's last row, also when its inputs are missing
        y[a] = runs.get(idx[a]).lastOutput;
      }
      // a key whose fed-back forecast falls past float32 once normalised (far from the mean of an input that barely
      // varied in training) cannot go on: that forecast row and the key's later ones get a null prediction (a review:
      // the model was fed Infinity and every later row read NaN)
      boolean[] lost = new boolean[A];
      for (int i = 1; i <= forecastSteps; i++) {
        float[] x = new float[A * F];
        double[][] raw = new double[A][];
        for (int a = 0; a < A; a++) {
          if (lost[a]) {
            continue;                                   // zero inputs, its outputs unread
          }
          raw[a] = outputsToRaw(y[a], 0);               // the forecast for this row's time
          boolean past = false;
          for (int f = 0; f < F; f++) {
            float z = (float) inputToModel(raw[a][f], f);
            past |= Float.isInfinite(z);
            x[a * F + f] = z;
          }
          if (past) {
            lost[a] = true;
            Arrays.fill(x, a * F, a * F + F, 0f);
          }
        }
        float[] yA = session.step(x);
        for (int a = 0; a < A; a++) {
          KeyRun run = runs.get(idx[a]);
          try {
            order[a] = run.steps.next(order[a], spacing.get(a));
          } catch (ArithmeticException e) {
            throw badOrder(run.lastRow, "leaves no room for forecast row " + i + " (" + e.getMessage() + ", "
                + orderType.simpleString() + "): cast the column to a wider type (int, bigint) first, or lower setForecastSteps");
          }
          Object[] v = new Object[outWidth];
          for (int k : keyIdx) {
            v[k] = run.lastRow.get(k);
          }
          v[orderIdx] = order[a];
          if (raw[a] != null) {                         // the value fed back; none once the key's forecast is lost
            for (int c = 0, f = 0; c < inputIdx.length; f += run.widths[c], c++) {
              v[inputIdx[c]] = columnValue(raw[a], f, run.widths[c], inputTypes[c]);
            }
          }
          if (!lost[a]) {
            y[a] = Arrays.copyOfRange(yA, a * O, a * O + O);
            putOutputs(v, inWidth, y[a], 0);
          }
          v[outWidth - 1] = true;
          out.get(idx[a]).add(RowFactory.create(v));
        }
      }
    }

    /** A seq2one output row: the window's last row, every column, then the outputs. */
    private Row seq2oneRow(Row last, float[] y) {
      Object[] v = new Object[outWidth];
      for (int i = 0; i < inWidth; i++) {
        v[i] = last.get(i);
      }
      putOutputs(v, inWidth, y, 0);
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
     * width in the run's {@code widths}; false if one is null, NaN or infinite (a null array element too), or
     * lies past float32's range in model units (far from the mean of a feature that barely varied in training).
     *
     * @throws IllegalArgumentException the columns give other than F values (an array or vector
     *     of another width than training's), naming the columns, the key and the order value
     */
    private boolean toModelUnits(Row row, KeyRun run, float[] x, int offset) {
      int F = config.inputSize();
      int f = 0;
      for (int c = 0; c < inputIdx.length; c++) {
        boolean missing = row.isNullAt(inputIdx[c]);
        int width = 0;
        if (!missing) {
          Object value = row.get(inputIdx[c]);
          double[] values = value instanceof Number ? null : arrayValues(value);
          width = values == null ? 1 : values.length;
          if (f + width > F) {
            throw widthError(row, f + width);
          }
          for (int i = 0; i < width && !missing; i++) {
            // rounded to float32 first, as prep rounded training's values: a column whose spread is below float32's
            // resolution at its size was constant in training, and its raw double would meet the model as a huge z-score
            // (a user audit: a decimal of ~1.2e19 + row gave every row the same saturated prediction)
            double raw = values == null ? TableNumbers.toFloat((Number) value) : (float) values[i];
            missing = !Double.isFinite(raw);   // null element, NaN, ±Inf, past float32: missing, as prep reads it
            float z = (float) inputToModel(raw, f + i);
            if (!missing && Float.isInfinite(z)) {   // past float32 once normalised: no value the model can take, nor fill
              return false;
            }
            x[offset + f + i] = z;
          }
        }
        if (missing) {
          if (!ffill || !run.haveLast[c]) {   // leading missing rows: nothing to repeat (prep dropped them)
            return false;
          }
          if (width > 0 && width != run.widths[c]) {
            // an array of another width with a null element ([null] for 2 values): refused for its width, as prep
            // refuses it and as [1.0] is, not filled with the last row's values (a review)
            throw widthError(row, F - run.widths[c] + width);
          }
          width = run.widths[c];
          System.arraycopy(run.lastX, f, x, offset + f, width);
        } else {
          if (ffill) {
            System.arraycopy(x, offset + f, run.lastX, f, width);
            run.haveLast[c] = true;
          }
          run.widths[c] = width;
        }
        f += width;
      }
      if (f != F) {
        throw widthError(row, f);
      }
      return true;
    }

    /** The row's key values as its errors name them, [v1, v2]. */
    private String keyText(Row row) {
      return Arrays.toString(Arrays.stream(keyIdx).mapToObj(row::get).toArray());
    }

    /** The row's order value is not one transform can place: names the column, the key and the value. */
    private IllegalArgumentException badOrder(Row row, String what) {
      return new BadInputException("RnnModel.transform: orderCol column '" + row.schema().fields()[orderIdx].name() + "' at key "
          + keyText(row) + ", value " + row.get(orderIdx) + ", " + what);
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
          + keyText(row) + ", " + row.schema().fields()[orderIdx].name() + " " + row.get(orderIdx)
          + "; the model was trained on F=" + config.inputSize() + " features (arrays and vectors of the widths fit saw)");
    }

    /** x = (raw − mean_f) / std_f */
    private double inputToModel(double raw, int f) {
      return norm == null ? raw : norm.inputToModel(raw, f);
    }

    /** raw = y_o · std_o + mean_o for regression outputs, logits as they are; y_o at y[off + o], o &lt; O. */
    private double[] outputsToRaw(float[] y, int off) {
      double[] r = new double[config.outputSize()];
      boolean scale = norm != null && norm.targetMean() != null;
      for (int o = 0; o < r.length; o++) {
        r[o] = scale ? norm.outputToRaw(y[off + o], o) : y[off + o];
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

    private KeyRun newRun(Row first) {
      Object[] raw = new Object[keyIdx.length];
      for (int i = 0; i < raw.length; i++) {
        raw[i] = first.get(keyIdx[i]);
      }
      return new KeyRun(raw, keyOf(first), config.inputSize());
    }

    /**
     * Whether the row's key is the run's: equal values as the rows hold them (a String, a Long:
     * the usual keys, compared without a copy), else equal as {@link #comparable} makes them.
     * Equal values are equal keys for every type (a NaN Double equals itself); unequal ones may
     * still be one key (−0.0 and 0.0, collations, arrays).
     */
    private boolean sameKey(Row row, KeyRun run) {
      for (int i = 0; i < keyIdx.length; i++) {
        if (!Objects.equals(row.get(keyIdx[i]), run.raw[i])) {
          return Arrays.deepEquals(keyOf(row), run.key);
        }
      }
      return true;
    }

    /** The row's key values as {@link #comparable} makes them, for {@link Arrays#deepEquals}. */
    private Object[] keyOf(Row row) {
      Object[] k = new Object[keyIdx.length];
      for (int i = 0; i < k.length; i++) {
        k[i] = comparable(row.get(keyIdx[i]), keyTypes[i]);
      }
      return k;
    }
  }

  /**
   * A key value (of type {@code t}) as {@link Arrays#deepEquals} must compare it for two values to
   * be equal exactly where Spark's grouping, hashing and sorting call them equal, at every depth:
   * −0.0 as 0.0 (NaN already equals NaN under Double.equals), a string of a collation under which
   * different strings are equal (UTF8_LCASE, say) as its collation key, arrays (Scala sequences)
   * and structs (Rows) as Java arrays of their converted values (Scala's == on boxed doubles says
   * NaN ≠ NaN); binary values are byte[], which deepEquals compares by content.
   */
  static Object comparable(Object v, DataType t) {
    if (v == null) {
      return null;
    }
    if (v instanceof Double d) {
      return d == 0.0 ? 0.0 : d;
    }
    if (v instanceof Float f) {
      return f == 0.0f ? 0.0f : f;
    }
    if (v instanceof String text && t instanceof StringType st && !st.supportsBinaryEquality()) {
      return CollationFactory.getCollationKeyBytes(UTF8String.fromString(text), st.collationId());
    }
    if (v instanceof scala.collection.Seq<?> seq && t instanceof ArrayType a) {
      return scala.jdk.javaapi.CollectionConverters.asJava(seq).stream().map(e -> comparable(e, a.elementType())).toArray();
    }
    if (v instanceof Row r && t instanceof StructType st) {
      Object[] fields = new Object[r.length()];
      for (int i = 0; i < fields.length; i++) {
        fields[i] = comparable(r.get(i), st.fields()[i].dataType());
      }
      return fields;
    }
    return v;
  }

  /** Sequences idx[0], idx[1], … of {@code s} as a state of idx.length sequences, in that order (copies). */
  static State gather(State s, int[] idx) {
    State out = new State(s.layers(), idx.length, s.hiddenSize(), new float[s.layers() * idx.length * s.hiddenSize()],
        s.c() == null ? null : new float[s.layers() * idx.length * s.hiddenSize()]);
    for (int a = 0; a < idx.length; a++) {
      out.put(a, s.sequences(idx[a], idx[a] + 1));
    }
    return out;
  }

  /** The inverse of {@link #gather}: sequence a of {@code part} into sequence idx[a] of {@code into}. */
  static void scatter(State part, int[] idx, State into) {
    for (int a = 0; a < idx.length; a++) {
      into.put(idx[a], part.sequences(a, a + 1));
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
      out[i] = e == null ? Double.NaN : TableNumbers.toFloat((Number) e);   // as prep rounds an array's numbers
    }
    return out;
  }
}
