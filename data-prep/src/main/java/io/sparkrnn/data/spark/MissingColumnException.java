package io.sparkrnn.data.spark;

import io.sparkrnn.kernel.BadInputException;
import java.util.Arrays;
import java.util.List;

/**
 * A column named by an option (--key, --order, --inputs, ...) that the table does not have. It
 * carries the option, the name and the table's columns, so that a caller that knows how the
 * table was read (a CSV's header line, its separator) can add why the columns may not be the
 * ones the user expected, without matching the message's text.
 */
public final class MissingColumnException extends BadInputException {
  private static final long serialVersionUID = 1L;

  private final String option;
  private final String column;
  private final List<String> tableColumns;

  public MissingColumnException(String option, String column, String[] tableColumns) {
    super(option + ": column '" + column + "' not found; the table has " + Arrays.toString(tableColumns));
    this.option = option;
    this.column = column;
    this.tableColumns = List.of(tableColumns);
  }

  /** The option that named the column, e.g. "--key". */
  public String option() {
    return option;
  }

  /** The column as the option named it. */
  public String column() {
    return column;
  }

  /** The table's columns, in the table's order. */
  public List<String> tableColumns() {
    return tableColumns;
  }
}
