package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;

/** Which steps the head reads. */
public enum Mode {
  /** The head runs on every valid step; targets are [T,B,O] or class ids [T,B]. */
  SEQ2SEQ("seq2seq"),
  /** The head runs on the last valid step of each sequence (t = lengths[b] - 1); targets are [B,O] or [B]. */
  SEQ2ONE("seq2one");

  private final String id;

  Mode(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  /** The mode named {@code s}, in any case, surrounding spaces ignored. */
  public static Mode parse(String s) {
    for (Mode m : values()) {
      if (s != null && m.id.equalsIgnoreCase(s.strip())) {
        return m;
      }
    }
    throw new BadInputException("unknown mode '" + s + "', expected seq2seq or seq2one");
  }
}
