package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;

/**
 * Recurrent state of every layer for a batch: {@code h} [L][B][H], and {@code c} [L][B][H] for
 * LSTM (null otherwise). Element (l, b, j) sits at {@code (l * B + b) * H + j}. As in PyTorch's
 * {@code (h_0, c_0)}.
 */
public record State(int layers, int batchSize, int hiddenSize, float[] h, float[] c) implements Serializable {

  public State {
    long n = (long) layers * batchSize * hiddenSize;
    if (h.length != n || (c != null && c.length != n)) {
      throw new BadInputException("state arrays must hold L*B*H = " + n + " values");
    }
  }

  public static State zeros(ModelConfig config, int batchSize) {
    int n = config.numLayers() * batchSize * config.hiddenSize();
    return new State(config.numLayers(), batchSize, config.hiddenSize(), new float[n],
        config.cell().hasCellState() ? new float[n] : null);
  }

  public int at(int layer, int b, int j) {
    return (layer * batchSize + b) * hiddenSize + j;
  }

  /** Checks that this state fits the model and batch size. */
  public void validateFor(ModelConfig config, int batch) {
    if (layers != config.numLayers() || batchSize != batch || hiddenSize != config.hiddenSize()) {
      throw new BadInputException("initial state is [L=" + layers + ", B=" + batchSize + ", H=" + hiddenSize
          + "], expected [" + config.numLayers() + ", " + batch + ", " + config.hiddenSize() + "]");
    }
    if (config.cell().hasCellState() != (c != null)) {
      throw new BadInputException("initial state " + (c == null ? "lacks" : "has") + " a cell state c; the model is " + config.cell().id());
    }
  }

  /** The states of sequences [from, to) as a state of to − from sequences (copies). */
  public State sequences(int from, int to) {
    int n = to - from;
    float[] subH = new float[layers * n * hiddenSize];
    float[] subC = c == null ? null : new float[subH.length];
    for (int l = 0; l < layers; l++) {
      System.arraycopy(h, at(l, from, 0), subH, l * n * hiddenSize, n * hiddenSize);
      if (c != null) {
        System.arraycopy(c, at(l, from, 0), subC, l * n * hiddenSize, n * hiddenSize);
      }
    }
    return new State(layers, n, hiddenSize, subH, subC);
  }

  /** Copies {@code part} (same L and H) into sequences [from, from + part.batchSize()) of this state. */
  public void put(int from, State part) {
    int n = part.batchSize;
    for (int l = 0; l < layers; l++) {
      System.arraycopy(part.h, l * n * hiddenSize, h, at(l, from, 0), n * hiddenSize);
      if (c != null) {
        System.arraycopy(part.c, l * n * hiddenSize, c, at(l, from, 0), n * hiddenSize);
      }
    }
  }

  public State copy() {
    return new State(layers, batchSize, hiddenSize, h.clone(), c == null ? null : c.clone());
  }
}
