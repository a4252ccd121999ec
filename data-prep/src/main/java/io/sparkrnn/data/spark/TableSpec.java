package io.sparkrnn.data.spark;

import io.sparkrnn.data.OptionRule;
import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How a Spark table becomes sequences: which columns, how series are cut into windows, how they
 * are split and cleaned. One immutable, validated record; the CLI ({@code prep table}), the Java
 * API ({@link SequenceTables#prep}) and the ML estimator fill it the same way.
 *
 * <p>Long format (no {@code sequenceColumn}): one row per (key, order); a series is the rows of
 * one key in order. Wide format ({@code sequenceColumn} set): one row per series, its steps in an
 * {@code array<array<number>>} [T][F] or {@code array<number>} (F = 1) column.
 *
 * @param keyColumns the entity columns; empty for one series (long format) or for rows
 *     identified by their content (wide format)
 * @param orderColumn the time column (timestamp, date, integer, floating or decimal); required in long
 *     format, unused in wide format
 * @param inputColumns numeric, {@code array<number>} or ML {@code Vector} columns, expanded in
 *     order into the F input features; in wide format empty (the sequence column gives them)
 * @param targetColumns columns for the O targets; empty for the inputs themselves (next-step
 *     targets), in wide format empty for next-step targets or one per-row column (seq2one)
 * @param classes &gt; 0: one integer target column of class ids in [0, classes), cross_entropy
 * @param seq2one one target per window, from its last valid step shifted by the horizon
 * @param steps T
 * @param stride S, rows between window starts; 0 for T
 * @param horizon K, rows from an input to its target; -1 for the default: 1 when a target column
 *     is also an input (or targets are the inputs), else 0
 * @param minSteps M: a series or tail of at least M (and fewer than T) steps becomes one
 *     right-padded window; 0 for T (fixed-length windows only)
 * @param split {@code BY_KEY} (whole entities to validation by a seeded hash) or {@code BY_TIME}
 *     (the last fraction of every series); null for the default (by key, or by time without keys)
 * @param validationFraction the share of keys (by key) or of each series' rows (by time)
 * @param gap G rows left out between the training and the validation part of a series (by time)
 * @param missing what to do with a null, NaN, ±Inf or number past float32's range in a used column
 * @param partitions the number of shuffle partitions (buckets) for the sort; 0 for
 *     {@code spark.sql.shuffle.partitions}. The output does not depend on it.
 * @param source where the table came from (format, path or table, where-clause), recorded in the
 *     manifest for provenance
 */
public record TableSpec(
    List<String> keyColumns, String orderColumn, List<String> inputColumns, List<String> targetColumns, int classes,
    boolean seq2one, int steps, int stride, int horizon, int minSteps, String sequenceColumn, SplitMode split,
    double validationFraction, int gap, boolean normalize, Missing missing, int batch, long seed, int partitions,
    Map<String, Object> source) implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * What each option of {@code prep table} here must be on its own, by its name without dashes
   * (the constructor checks them, then their combinations); the Spark ML params that mirror them
   * check the same rules.
   */
  public static final Map<String, OptionRule> RULES = Map.ofEntries(
      Map.entry("steps", OptionRule.atLeast(1)),
      Map.entry("stride", OptionRule.atLeast(0)),
      Map.entry("horizon", OptionRule.atLeast(-1)),
      Map.entry("min-steps", OptionRule.atLeast(0)),
      Map.entry("gap", OptionRule.atLeast(0)),
      Map.entry("partitions", OptionRule.atLeast(0)),
      Map.entry("batch", OptionRule.atLeast(1)),
      Map.entry("validation-fraction", OptionRule.doubleIn(0, 1, true)),
      Map.entry("classes", (OptionRule) (name, value) -> {
        long n = OptionRule.parseLong(name, value);
        if (n < 0 || n == 1) {
          throw new BadInputException(name + ": must be 0 (regression) or at least 2 classes, found " + n);
        }
      }),
      Map.entry("split", OptionRule.oneOf("by-key", "by-time")),
      Map.entry("missing", OptionRule.oneOf("error", "drop", "ffill")));

  /** Checks {@code value} against the rule of {@code option} (a name without dashes), naming {@code --option}. */
  private static void check(String option, Object value) {
    RULES.get(option).check("--" + option, String.valueOf(value));
  }

  /** How rows are divided between training and validation. */
  public enum SplitMode {
    BY_KEY("by-key"),
    BY_TIME("by-time");

    private final String id;

    SplitMode(String id) {
      this.id = id;
    }

    public String id() {
      return id;
    }

    public static SplitMode parse(String s) {
      check("split", s);
      for (SplitMode m : values()) {
        if (m.id.equalsIgnoreCase(s.strip())) {
          return m;
        }
      }
      throw new IllegalStateException("split " + s + " passed its rule but is no SplitMode");
    }
  }

  /** What a null, NaN, ±Inf or number past float32's range in a used column does. */
  public enum Missing {
    /** Stop with an error naming the column, key and order value. */
    ERROR,
    /** Leave the row out (the series closes up around it). */
    DROP,
    /** Repeat the key's last valid value of that column; leading missing rows are dropped. */
    FFILL;

    public static Missing parse(String s) {
      check("missing", s);
      return valueOf(s.strip().toUpperCase(Locale.ROOT));
    }
  }

  public TableSpec {
    keyColumns = keyColumns == null ? List.of() : List.copyOf(keyColumns);
    inputColumns = inputColumns == null ? List.of() : List.copyOf(inputColumns);
    targetColumns = targetColumns == null ? List.of() : List.copyOf(targetColumns);
    source = source == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(source));
    missing = missing == null ? Missing.ERROR : missing;
    boolean wide = sequenceColumn != null;
    check("steps", steps);
    check("stride", stride);
    check("horizon", horizon);
    check("min-steps", minSteps);
    check("gap", gap);
    check("partitions", partitions);
    if (minSteps > steps) {
      throw new BadInputException("--min-steps " + minSteps + " is more than --steps " + steps);
    }
    check("batch", batch);
    check("validation-fraction", validationFraction);
    check("classes", classes);
    if (!wide && (orderColumn == null || orderColumn.isBlank())) {
      throw new BadInputException("--order: a long-format table needs its time column (or --sequence-column "
          + "for one row per sequence)");
    }
    if (!wide && inputColumns.isEmpty()) {
      throw new BadInputException("--inputs: name the input columns");
    }
    if (wide && !inputColumns.isEmpty()) {
      throw new BadInputException("--inputs does not apply with --sequence-column (its arrays are the inputs)");
    }
    if (wide && targetColumns.size() > 1) {
      throw new BadInputException("--targets with --sequence-column: at most one per-row column, found "
          + targetColumns);
    }
    if (wide && !targetColumns.isEmpty() && !seq2one) {
      throw new BadInputException("--targets with --sequence-column names one per-row target: add --seq2one");
    }
    if (classes > 0 && targetColumns.size() != 1) {
      throw new BadInputException("--classes needs exactly one --targets column of class ids, found "
          + (targetColumns.isEmpty() ? "none" : targetColumns));
    }
    if (split == SplitMode.BY_KEY && keyColumns.isEmpty() && !wide) {
      throw new BadInputException("--split by-key needs --key columns (one series can only be split by time)");
    }
    boolean byTime = split == SplitMode.BY_TIME || (split == null && keyColumns.isEmpty() && !wide);
    if (gap > 0 && !byTime) {
      throw new BadInputException("--gap applies to --split by-time");
    }
  }

  /** Whether rows hold whole sequences (wide format). */
  public boolean wide() {
    return sequenceColumn != null;
  }

  /** The split in force: as given, else by time for one unkeyed long series, else by key. */
  public SplitMode effectiveSplit() {
    if (split != null) {
      return split;
    }
    return keyColumns.isEmpty() && !wide() ? SplitMode.BY_TIME : SplitMode.BY_KEY;
  }

  /** S, with 0 resolved to T. */
  public int effectiveStride() {
    return stride == 0 ? steps : stride;
  }

  /** M, with 0 resolved to T. */
  public int effectiveMinSteps() {
    return minSteps == 0 ? steps : minSteps;
  }

  /** Whether the targets are the inputs themselves (no target column named). */
  public boolean nextStepTargets() {
    return targetColumns.isEmpty();
  }

  /** This spec with {@code source} as its provenance. */
  public TableSpec withSource(Map<String, Object> source) {
    return new TableSpec(keyColumns, orderColumn, inputColumns, targetColumns, classes, seq2one, steps, stride, horizon, minSteps,
        sequenceColumn, split, validationFraction, gap, normalize, missing, batch, seed, partitions, source);
  }

  /** This spec with horizon K = {@code horizon}. */
  public TableSpec withHorizon(int horizon) {
    return new TableSpec(keyColumns, orderColumn, inputColumns, targetColumns, classes, seq2one, steps, stride, horizon, minSteps,
        sequenceColumn, split, validationFraction, gap, normalize, missing, batch, seed, partitions, source);
  }

  /**
   * K: as given, else 1 when any target is also an input (forecasting), else 0 (labels on the row).
   * Names are compared as Spark does by default, ignoring case; {@link SequenceTables#prep} decides
   * on the table's resolved columns instead (with spark.sql.caseSensitive, "x" and "X" are two).
   */
  public int effectiveHorizon() {
    if (horizon >= 0) {
      return horizon;
    }
    if (nextStepTargets()) {
      return 1;
    }
    if (wide()) {
      return 0;
    }
    for (String t : targetColumns) {
      for (String i : inputColumns) {
        if (t.equalsIgnoreCase(i)) {
          return 1;
        }
      }
    }
    return 0;
  }

  /** Whether windows may be shorter than T (the dataset then carries lengths). */
  public boolean variableLength() {
    return effectiveMinSteps() < steps;
  }
}
