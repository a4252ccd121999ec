package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;

/** Which part of a dataset a shard belongs to. A shard holds sequences of one split only. */
public enum Split {
  TRAIN("train"),
  VALIDATION("validation");

  private final String id;

  Split(String id) {
    this.id = id;
  }

  /** The name used in manifest.json. */
  public String id() {
    return id;
  }

  public static Split parse(String s) {
    for (Split v : values()) {
      if (v.id.equals(s)) {
        return v;
      }
    }
    throw new BadInputException("unknown split '" + s + "', expected train or validation");
  }
}
