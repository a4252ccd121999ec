package io.sparkrnn.data.spark;

import io.sparkrnn.kernel.BadInputException;

/**
 * Bad data found in a table while it is cut into sequences (a missing value, a duplicate or null
 * time, a class id out of range, a wrong array width): the message names the column and, where
 * there is one, the key and order value. Thrown in Spark tasks; {@link SequenceTables} unwraps it
 * from Spark's job failure so callers see it as it was thrown.
 */
public final class TableDataException extends BadInputException {
  private static final long serialVersionUID = 1L;

  public TableDataException(String message) {
    super(message);
  }

  public TableDataException(String message, Throwable cause) {
    super(message, cause);
  }
}
