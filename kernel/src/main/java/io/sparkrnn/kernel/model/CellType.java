package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;

/** The recurrent cell, with PyTorch's gate count G and gate order. */
public enum CellType {
  /** h' = tanh(W_ih x + b_ih + W_hh h + b_hh); G = 1. */
  RNN("rnn", 1),
  /** Gates in order i, f, g, o (PyTorch); G = 4. */
  LSTM("lstm", 4),
  /** Gates in order r, z, n with n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) (PyTorch); G = 3. */
  GRU("gru", 3);

  private final String id;
  private final int gates;

  CellType(String id, int gates) {
    this.id = id;
    this.gates = gates;
  }

  /** The name used on the command line and in weight metadata. */
  public String id() {
    return id;
  }

  /** G, the number of gate blocks stacked in weight_ih and weight_hh. */
  public int gates() {
    return gates;
  }

  /** True when the cell carries a memory cell c beside h (LSTM). */
  public boolean hasCellState() {
    return this == LSTM;
  }

  /** The cell named {@code s}, in any case, surrounding spaces ignored (as every choice of the CLI and RnnEstimator). */
  public static CellType parse(String s) {
    for (CellType c : values()) {
      if (s != null && c.id.equalsIgnoreCase(s.strip())) {
        return c;
      }
    }
    throw new BadInputException("unknown cell '" + s + "', expected one of rnn, lstm, gru");
  }
}
