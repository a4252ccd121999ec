package io.sparkrnn.data.spark;

import java.math.BigDecimal;

/** How a table's number becomes the float32 a model computes on, the same in prep and in transform. */
public final class TableNumbers {
  private TableNumbers() {}

  /**
   * {@code number} rounded to float once, as prep's shards hold it ({@link SequenceTables#asDoubles}):
   * a decimal by {@link BigDecimal#floatValue()} and a long by {@code (float)}, both correctly
   * rounded (through double they were rounded twice), anything else from its double value (exact
   * for integers up to 2^53 and for floats). Beyond float32's range: ±Inf.
   */
  public static float toFloat(Number number) {
    if (number instanceof BigDecimal d) {
      return d.floatValue();
    }
    if (number instanceof Long l) {
      return (float) l.longValue();
    }
    return (float) number.doubleValue();
  }
}
