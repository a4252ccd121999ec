package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;

/**
 * Cuts one series of rows, streamed in order, into fixed-length training windows, holding only
 * the last T + K rows (memory O((T + K)·(F + O)) however long the series).
 *
 * <p>With T steps, stride S, horizon K and minimum length M, a series of n rows yields windows
 * starting at s = 0, S, 2S, … For each, L = min(T, n − s − K) steps have both an input and a
 * target: x_t = inputs of row s + t and, seq2seq, y_t = targets of row s + t + K (t &lt; L);
 * seq2one y = targets of row s + L − 1 + K. Every window with L = T is emitted; after the last
 * of them, the next start's shorter window is emitted right-padded when M ≤ L &lt; T (a series or
 * tail shorter than T). A series with no window at all counts as too short.
 *
 * <p>Call order: {@link #begin} → {@link #add}* → {@link #end}, per series; not thread-safe.
 */
public final class WindowCutter {
  /** One cut window. Arrays are fresh per window. */
  public record Window(
      /** The row index (within the series) of step 0. */
      long start,
      /** L, the valid steps; steps L..T-1 of x and y are 0. */
      int length,
      /** Inputs [T][F], row-major. */
      float[] x,
      /** Targets [T][O] (seq2seq) or [O] (seq2one), row-major; class ids as exact floats. */
      float[] y) {}

  /** Receives each window as it is cut. */
  @FunctionalInterface
  public interface Sink {
    void accept(Window w);
  }

  private final int steps;
  private final int stride;
  private final int horizon;
  private final int minSteps;
  private final boolean seq2one;
  private final int features;
  private final int outputs;
  private final int capacity;
  /** Ring of the last {@link #capacity} rows' inputs [capacity][F] and targets [capacity][O]. */
  private final float[] ringX;
  private final float[] ringY;

  private Sink sink;
  private long rows;
  private long nextStart;
  private int windows;

  /**
   * @param steps T ≥ 1
   * @param stride S ≥ 1, rows between window starts
   * @param horizon K ≥ 0, rows from an input to its target
   * @param minSteps M in 1..T: the shortest padded window; T for fixed-length windows only
   * @param outputs O, target values per row (1 for a class id)
   */
  public WindowCutter(int steps, int stride, int horizon, int minSteps, boolean seq2one, int features, int outputs) {
    if (steps < 1 || stride < 1 || horizon < 0 || minSteps < 1 || minSteps > steps || features < 1 || outputs < 1) {
      throw new BadInputException("window cutter: T=" + steps + " S=" + stride + " K=" + horizon + " M="
          + minSteps + " F=" + features + " O=" + outputs);
    }
    this.steps = steps;
    this.stride = stride;
    this.horizon = horizon;
    this.minSteps = minSteps;
    this.seq2one = seq2one;
    this.features = features;
    this.outputs = outputs;
    this.capacity = steps + horizon;
    this.ringX = new float[Math.multiplyExact(capacity, features)];
    this.ringY = new float[Math.multiplyExact(capacity, outputs)];
  }

  /** Starts a new series whose windows go to {@code sink}. */
  public void begin(Sink sink) {
    this.sink = sink;
    rows = 0;
    nextStart = 0;
    windows = 0;
  }

  /** Appends the next row: inputs x[xOff .. xOff+F), targets y[yOff .. yOff+O). */
  public void add(float[] x, int xOff, float[] y, int yOff) {
    int slot = (int) (rows % capacity);
    System.arraycopy(x, xOff, ringX, slot * features, features);
    System.arraycopy(y, yOff, ringY, slot * outputs, outputs);
    // the window starting at nextStart is complete once its last target row, s + T − 1 + K, is in
    if (rows == nextStart + steps - 1 + horizon) {
      emit(nextStart, steps);
      nextStart += stride;
    }
    rows++;
  }

  /**
   * Ends the series: emits the padded tail window if it is long enough.
   *
   * @return the number of windows this series gave (0: too short)
   */
  public int end() {
    long length = rows - nextStart - horizon;
    if (length >= minSteps && length < steps && nextStart < rows) {
      emit(nextStart, (int) length);
    }
    sink = null;
    return windows;
  }

  /** Rows added to the current series so far. */
  public long rows() {
    return rows;
  }

  private void emit(long start, int length) {
    float[] x = new float[steps * features];
    float[] y = new float[seq2one ? outputs : steps * outputs];
    for (int t = 0; t < length; t++) {
      System.arraycopy(ringX, slot(start + t) * features, x, t * features, features);
      if (!seq2one) {
        System.arraycopy(ringY, slot(start + t + horizon) * outputs, y, t * outputs, outputs);
      }
    }
    if (seq2one) {
      System.arraycopy(ringY, slot(start + length - 1 + horizon) * outputs, y, 0, outputs);
    }
    windows++;
    sink.accept(new Window(start, length, x, y));
  }

  private int slot(long row) {
    return (int) (row % capacity);
  }
}
