package io.sparkrnn.data.source;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A CSV table with a header row; every used cell must be a finite number (class-id targets: a
 * non-negative integer). Rows are time steps. Two ways to cut sequences:
 * <ul>
 *   <li><b>windows</b> (no sequence column): one long multivariate series. Sequence i starts at row
 *       s = i·stride; x_t = input columns of row s + t and, seq2seq, y_t = target columns of row
 *       s + t + horizon, t &lt; T; seq2one y = target columns of row s + T − 1 + horizon.
 *       N = ⌊(rows − T − horizon) / stride⌋ + 1.
 *   <li><b>sequences</b> (a sequence-id column): consecutive rows with the same id form one
 *       sequence (an id may not reappear later). A sequence of R rows has length L = R − horizon;
 *       x_t = row t, y_t = row t + horizon (seq2one: row L − 1 + horizon). T is the longest L
 *       unless given; shorter sequences are right-padded with lengths.
 * </ul>
 * horizon defaults to 1 in window mode (forecast the next step); in sequence mode to 1 when a
 * target column is also an input (the default targets are the inputs) and 0 otherwise (labels on
 * the same row), as prep table's. Lines are numbered from 1, the header being line 1.
 */
public final class CsvSource implements SequenceSource {
  private static final long serialVersionUID = 1L;

  /**
   * @param inputColumns column names for x; empty for every column except the sequence column and,
   *     with {@code classes}, the class-id column
   * @param targetColumns column names for y; empty for the same as the inputs
   * @param steps T; 0 in sequence mode for the longest sequence
   * @param stride rows between window starts (window mode); 0 for T
   * @param horizon rows between an input and its target; -1 for the mode's default
   * @param sequenceColumn the sequence-id column, or null for window mode
   * @param classes &gt; 0: a single target column of class ids in [0, classes), cross_entropy
   * @param header whether the first line (of each part file) is a header: true, false (columns
   *     are then named _c0, _c1, … as Spark names them), or null for "yes, unless every field of
   *     the first line is a number", which is refused as ambiguous
   */
  public record Options(String input, List<String> inputColumns, List<String> targetColumns, int steps, int stride,
      int horizon, boolean seq2one, String sequenceColumn, int classes, char delimiter, Boolean header)
      implements Serializable {
    /** Options with the default header rule. */
    public Options(String input, List<String> inputColumns, List<String> targetColumns, int steps, int stride,
        int horizon, boolean seq2one, String sequenceColumn, int classes, char delimiter) {
      this(input, inputColumns, targetColumns, steps, stride, horizon, seq2one, sequenceColumn, classes, delimiter, null);
    }

    public Options {
      inputColumns = inputColumns == null ? List.of() : List.copyOf(inputColumns);
      targetColumns = targetColumns == null ? List.of() : List.copyOf(targetColumns);
      if (input == null) {
        throw new BadInputException("csv: an input file is required");
      }
      if (sequenceColumn == null && steps < 1) {
        throw new BadInputException(steps == 0 ? "--steps T is required without --sequence-column (windows of T rows;"
            + " with --sequence-column each sequence is its rows)" : "--steps must be at least 1, found " + steps);
      }
      if (steps < 0 || stride < 0 || horizon < -1 || classes < 0) {
        throw new BadInputException("--steps, --stride, --horizon and --classes must not be negative");
      }
      if (classes == 1) {
        throw new BadInputException("--classes: must be 0 (regression) or at least 2 classes, found 1");   // as prep table says it
      }
    }
  }

  private final Options o;
  private final int horizon;
  private final int stride;
  /** [rows][F] input values, row-major. */
  private final float[] inputs;
  /** [rows][O] float targets, or null. */
  private final float[] targets;
  /** [rows] class ids, or null. */
  private final int[] classIds;
  private final int rows;
  /** Sequence mode: first row of each sequence, plus one entry for the end. Null in window mode. */
  private final int[] starts;
  private final DatasetSpec spec;

  public CsvSource(Options options, Configuration conf) throws IOException {
    this.o = options;
    String file = o.input();
    boolean hasHeader = o.header() == null || o.header();
    // where each line came from, for a directory of part files: "…/part-00001.csv line 3"
    List<String> origins = new ArrayList<>();
    List<String> lines = readLines(file, conf, hasHeader, o.delimiter(), origins);
    int lineCount = lines.size();
    if (lineCount == 0) {
      throw new BadInputException(file + ": empty input (no header row)");
    }
    List<String> header;
    if (hasHeader) {
      header = split(lines.get(0), o.delimiter(), origins.isEmpty() ? file + " line 1" : origins.get(0));
      if (o.header() == null && allNumbers(header)) {
        throw new BadInputException(file + " line 1: every field is a number (" + String.join(",", header.subList(0,
            Math.min(3, header.size()))) + (header.size() > 3 ? ",..." : "") + "), so it looks like data, not a header "
            + "(Spark's df.write.csv writes none); pass --header false to read it as data (columns _c0, _c1, ...) or "
            + "--header true if it really is the header");
      }
    } else {
      // Spark's names for headerless CSV columns
      header = new ArrayList<>();
      int columns = split(lines.get(0), o.delimiter(), origins.isEmpty() ? file + " line 1" : origins.get(0)).size();
      for (int c = 0; c < columns; c++) {
        header.add("_c" + c);
      }
      lines.add(0, String.join(String.valueOf(o.delimiter()), header));
      if (!origins.isEmpty()) {
        origins.add(0, "");
      }
      lineCount++;
    }
    // messages number lines as in the file: the header (if any) is line 1; data row r is lines[r + 1]
    int lineOffset = hasHeader ? 2 : 1;
    IntFunction<String> at = r -> origins.isEmpty() ? file + " line " + (r + lineOffset) : origins.get(r + 1);
    Map<String, Integer> column = new LinkedHashMap<>();
    for (int c = 0; c < header.size(); c++) {
      if (column.put(header.get(c), c) != null) {
        throw new BadInputException(file + " line 1: column '" + header.get(c) + "' appears twice");
      }
    }
    Integer seqCol = o.sequenceColumn() == null ? null : find(file, column, o.sequenceColumn());
    List<String> targetNames = o.targetColumns();
    List<String> inputNames = new ArrayList<>(o.inputColumns());
    if (inputNames.isEmpty()) {
      for (String h : header) {
        boolean classColumn = o.classes() > 0 && targetNames.contains(h);
        if (!h.equals(o.sequenceColumn()) && !classColumn) {
          inputNames.add(h);
        }
      }
    }
    if (targetNames.isEmpty()) {
      if (o.classes() > 0) {
        throw new BadInputException("--classes needs one --target column of class ids");
      }
      targetNames = inputNames;
    }
    if (o.classes() > 0 && targetNames.size() != 1) {
      throw new BadInputException("--classes needs exactly one target column, found " + targetNames);
    }
    if (inputNames.isEmpty()) {
      throw new BadInputException(file + ": no input columns");
    }
    int[] inCols = inputNames.stream().mapToInt(n -> find(file, column, n)).toArray();
    int[] outCols = targetNames.stream().mapToInt(n -> find(file, column, n)).toArray();
    int F = inCols.length;
    int O = o.classes() > 0 ? o.classes() : outCols.length;
    rows = lineCount - 1;
    if (rows < 1) {
      throw new BadInputException(file + ": empty input (a header but no data rows)");
    }
    inputs = new float[Math.multiplyExact(rows, F)];
    targets = o.classes() > 0 ? null : new float[Math.multiplyExact(rows, outCols.length)];
    classIds = o.classes() > 0 ? new int[rows] : null;
    List<Integer> seqStarts = new ArrayList<>();
    Set<String> seenIds = new HashSet<>();
    String currentId = null;
    for (int r = 0; r < rows; r++) {
      List<String> cells = split(lines.get(r + 1), o.delimiter(), at.apply(r));
      if (cells.size() != header.size()) {
        throw new BadInputException(at.apply(r) + ": " + cells.size() + (cells.size() == 1 ? " field" : " fields") + ", the header"
            + " has " + header.size());
      }
      for (int k = 0; k < F; k++) {
        inputs[r * F + k] = number(at, r, header.get(inCols[k]), cells.get(inCols[k]));
      }
      if (classIds != null) {
        classIds[r] = classId(at, r, header.get(outCols[0]), cells.get(outCols[0]), o.classes());
      } else {
        for (int k = 0; k < outCols.length; k++) {
          targets[r * outCols.length + k] = number(at, r, header.get(outCols[k]), cells.get(outCols[k]));
        }
      }
      if (seqCol != null) {
        String id = cells.get(seqCol).strip();
        if (!id.equals(currentId)) {
          if (!seenIds.add(id)) {
            throw new BadInputException(at.apply(r) + ": sequence '" + id + "' appears again after"
                + " other sequences; rows of one sequence must be consecutive (sort by " + o.sequenceColumn() + ")");
          }
          seqStarts.add(r);
          currentId = id;
        }
      }
    }
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "csv");
    info.put("input", file);
    info.put("input_columns", new ArrayList<Object>(inputNames));
    info.put("target_columns", new ArrayList<Object>(targetNames));
    int T;
    boolean variable = false;
    if (seqCol == null) {
      horizon = o.horizon() < 0 ? 1 : o.horizon();
      stride = o.stride() == 0 ? o.steps() : o.stride();
      T = o.steps();
      starts = null;
      if (rows < T + horizon) {
        throw new BadInputException(file + ": " + rows + " data rows, one window needs T + horizon = "
            + (T + horizon));
      }
      info.put("stride", (long) stride);
    } else {
      // as prep table: 1 when a target is also an input (forecast the next row: with 0 the default
      // targets, the inputs themselves, would be y_t = x_t), else 0 (labels on the same row)
      boolean targetIsInput = false;
      for (String t : targetNames) {
        targetIsInput |= inputNames.contains(t);   // exact, as columns are found: "x" and "X" are two columns
      }
      horizon = o.horizon() < 0 ? (targetIsInput ? 1 : 0) : o.horizon();
      stride = 0;
      seqStarts.add(rows);
      starts = seqStarts.stream().mapToInt(Integer::intValue).toArray();
      int longest = 0;
      for (int i = 0; i + 1 < starts.length; i++) {
        int L = starts[i + 1] - starts[i] - horizon;
        if (L < 1) {
          throw new BadInputException(at.apply(starts[i]) + ": sequence of " + (starts[i + 1] - starts[i])
              + " rows is too short for horizon " + horizon);
        }
        if (o.steps() > 0 && L > o.steps()) {
          // steps, not rows: with horizon h a sequence of n rows gives n − h (input, target) steps (a user audit counted rows)
          throw new BadInputException(at.apply(starts[i]) + ": sequence has " + L + " steps (" + (starts[i + 1] - starts[i])
              + " rows less horizon " + horizon + "), more than --steps " + o.steps() + "; leave --steps out to take the"
              + " longest sequence's");
        }
        longest = Math.max(longest, L);
        variable |= i > 0 && L != starts[1] - starts[0] - horizon;
      }
      T = o.steps() > 0 ? o.steps() : longest;
      variable |= longest != T;
      info.put("sequence_column", o.sequenceColumn());
    }
    info.put("horizon", (long) horizon);
    spec = new DatasetSpec("csv", F, O, T, o.seq2one() ? Mode.SEQ2ONE : Mode.SEQ2SEQ,
        o.classes() > 0 ? LossType.CROSS_ENTROPY : LossType.MSE, variable, null, info);
  }

  private static int find(String file, Map<String, Integer> column, String name) {
    Integer c = column.get(name);
    if (c == null) {
      throw new BadInputException(file + ": no column '" + name + "' (columns: " + String.join(", ", column.keySet())
          + ")");
    }
    return c;
  }

  /**
   * The lines of one CSV file, or of a directory of part files as Spark writes them (every file
   * but {@code _SUCCESS}-like and hidden ones, in name order; with a header, each part starts with
   * the same header line, kept once). Trailing blank lines are dropped. For a directory,
   * {@code origins} gets each returned line's place ({@code PART line N}, as errors name it); for
   * one file it stays empty (a line's place is its index).
   */
  static List<String> readLines(String uri, Configuration conf, boolean header, char delimiter, List<String> origins)
      throws IOException {
    Path p = new Path(uri);
    FileSystem fs = FileSystems.get(p, conf);
    FileStatus status;
    try {
      status = fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(uri + ": input file not found");
    }
    if (!status.isDirectory()) {
      return new ArrayList<>(fileLines(uri, conf));
    }
    List<String> parts = new ArrayList<>();
    long total = 0;
    for (FileStatus child : fs.listStatus(p)) {
      String name = child.getPath().getName();
      if (child.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
        parts.add(child.getPath().toString());
        total += child.getLen();
      }
    }
    if (total > Inputs.MAX_IN_MEMORY_BYTES) {
      throw new BadInputException(uri + ": " + total + " bytes in its part files; this converter holds its input"
          + " in memory and takes at most " + Inputs.MAX_IN_MEMORY_BYTES + " (prep table --format csv has no such limit)");
    }
    Collections.sort(parts);
    List<String> lines = new ArrayList<>();
    String firstHeader = null;
    for (String part : parts) {
      if (fs.getFileStatus(new Path(part)).getLen() == 0) {
        continue; // Spark writes empty parts for empty partitions
      }
      List<String> partLines = fileLines(part, conf);
      if (partLines.isEmpty()) {
        continue;
      }
      if (header) {
        if (firstHeader == null) {
          firstHeader = partLines.get(0);
          lines.add(firstHeader);
          origins.add(part + " line 1");
        } else if (!partLines.get(0).equals(firstHeader)) {
          throw new BadInputException(part + " line 1: header '" + partLines.get(0) + "' differs from the first"
              + " part's '" + firstHeader + "'");
        }
        lines.addAll(partLines.subList(1, partLines.size()));
        for (int i = 2; i <= partLines.size(); i++) {
          origins.add(part + " line " + i);
        }
      } else {
        lines.addAll(partLines);
        for (int i = 1; i <= partLines.size(); i++) {
          origins.add(part + " line " + i);
        }
      }
    }
    if (lines.isEmpty()) {
      throw new BadInputException(uri + ": a directory with no data in its part files");
    }
    return lines;
  }

  private static List<String> fileLines(String uri, Configuration conf) throws IOException {
    String text = Inputs.withoutByteOrderMark(new String(Inputs.readAll(uri, conf), StandardCharsets.UTF_8));
    List<String> lines = new ArrayList<>(Arrays.asList(text.split("\\r?\\n", -1)));
    while (!lines.isEmpty() && lines.get(lines.size() - 1).isBlank()) {
      lines.remove(lines.size() - 1);
    }
    return lines;
  }

  private static boolean allNumbers(List<String> fields) {
    for (String f : fields) {
      try {
        Double.parseDouble(f.strip());
      } catch (NumberFormatException e) {
        return false;
      }
    }
    return !fields.isEmpty();
  }

  /**
   * Splits one line into fields, quoted as RFC 4180 and Spark's {@code df.write.csv} quote them: a
   * field in double quotes may hold the delimiter, and {@code ""} or {@code \"} stands for one quote inside it
   * (a header "name, with comma" was read as two fields: a user audit). Spaces around a field are
   * dropped; inside quotes they stay. A quoted field runs to its closing quote on the same line: a
   * line break inside quotes is refused, naming {@code where}.
   */
  public static List<String> split(String line, char delimiter, String where) {
    List<String> out = new ArrayList<>();
    int n = line.length();
    int i = 0;
    while (true) {
      int j = i;
      while (j < n && line.charAt(j) != delimiter && Character.isWhitespace(line.charAt(j))) {
        j++;
      }
      int end;
      if (j < n && line.charAt(j) == '"') {
        StringBuilder field = new StringBuilder();
        int k = j + 1;
        while (true) {
          if (k >= n) {
            throw new BadInputException(where + ": the quoted field that starts at character " + (j + 1) + " has no closing"
                + " quote on its line (a line break inside quotes is not supported)");
          }
          // a quote inside: "" (RFC 4180) or \" (Spark's df.write.csv, whose escape is a backslash: a review)
          if ((line.charAt(k) == '"' || line.charAt(k) == '\\') && k + 1 < n && line.charAt(k + 1) == '"') {
            field.append('"');
            k += 2;
            continue;
          }
          if (line.charAt(k) == '"') {
            k++;
            break;
          }
          field.append(line.charAt(k++));
        }
        while (k < n && line.charAt(k) != delimiter && Character.isWhitespace(line.charAt(k))) {
          k++;
        }
        if (k < n && line.charAt(k) != delimiter) {
          throw new BadInputException(where + ": text after the closing quote of the field that starts at character " + (j + 1)
              + " (a quote inside a quoted field is written \"\" or \\\")");
        }
        out.add(field.toString());
        end = k;
      } else {
        end = line.indexOf(delimiter, i);
        end = end < 0 ? n : end;
        out.add(line.substring(i, end).strip());
      }
      if (end >= n) {
        return out;
      }
      i = end + 1;
    }
  }

  /** A decimal number as CSV writers write one: Java's own suffixes and hex ("5d", "1.5f", "0x1p3") are no numbers in a CSV. */
  private static final java.util.regex.Pattern DECIMAL = java.util.regex.Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
  private static final java.util.regex.Pattern NON_FINITE = java.util.regex.Pattern.compile("[+-]?(nan|inf|infinity)",
      java.util.regex.Pattern.CASE_INSENSITIVE);

  private static float number(IntFunction<String> at, int r, String column, String cell) {
    String c = cell.strip();
    if (NON_FINITE.matcher(c).matches()) {
      throw new BadInputException(at.apply(r) + ", column '" + column + "': " + c + " is not finite (NaN or Inf are not allowed)");
    }
    if (!DECIMAL.matcher(c).matches()) {
      // a file of another separator read with ',' has every row in one column: "0.18;-0.52" (a user audit)
      String other = c.indexOf(';') >= 0 ? ";" : c.indexOf('\t') >= 0 ? "\\t" : c.indexOf('|') >= 0 ? "|" : null;
      throw new BadInputException(at.apply(r) + ", column '" + column + "': '" + cell + "' is not a number"
          + (other == null ? "" : " (a file whose fields are separated by '" + other + "' needs --delimiter '" + other + "')"));
    }
    float v = Float.parseFloat(c);
    if (!Float.isFinite(v)) {
      throw new BadInputException(at.apply(r) + ", column '" + column + "': " + c + " is beyond float32's range (about ±3.4e38)");
    }
    return v;
  }

  private static int classId(IntFunction<String> at, int r, String column, String cell, int classes) {
    int v;
    try {
      // a whole number in any spelling, 2 or 2.0 (pandas writes an int column holding a NaN so), as prep table takes a
      // floating column's whole values (a class-targets audit: 2.0 was refused here and taken there)
      v = new java.math.BigDecimal(cell.strip()).intValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw new BadInputException(at.apply(r) + ", column '" + column + "': '" + cell
          + "' is not an integer class id");
    }
    if (v < 0 || v >= classes) {
      throw new BadInputException(at.apply(r) + ", column '" + column + "': class id " + v
          + " is outside [0, " + classes + ")");
    }
    return v;
  }

  @Override
  public DatasetSpec spec() {
    return spec;
  }

  @Override
  public long count() {
    return starts == null ? (rows - spec.steps() - horizon) / stride + 1 : starts.length - 1;
  }

  @Override
  public Batch read(long first, int count, Configuration conf) {
    Seeds.checkRange(first, count, count());
    int T = spec.steps();
    int B = count;
    int F = spec.features();
    int Oy = targets == null ? 1 : spec.outputs();
    boolean seq2seq = spec.mode() == Mode.SEQ2SEQ;
    float[] x = new float[T * B * F];
    float[] y = targets == null ? null : new float[seq2seq ? T * B * Oy : B * Oy];
    int[] c = classIds == null ? null : new int[seq2seq ? T * B : B];
    int[] lengths = spec.variableLength() ? new int[B] : null;
    for (int b = 0; b < B; b++) {
      long i = first + b;
      int start = starts == null ? (int) (i * stride) : starts[(int) i];
      int L = starts == null ? T : starts[(int) i + 1] - start - horizon;
      for (int t = 0; t < L; t++) {
        System.arraycopy(inputs, (start + t) * F, x, (t * B + b) * F, F);
      }
      for (int t = seq2seq ? 0 : L - 1; t < L; t++) {
        int row = start + t + horizon;
        int at = seq2seq ? t * B + b : b;
        if (y != null) {
          System.arraycopy(targets, row * Oy, y, at * Oy, Oy);
        } else {
          c[at] = classIds[row];
        }
      }
      if (lengths != null) {
        lengths[b] = L;
      }
    }
    return new Batch(T, B, F, x, y, c, lengths);
  }

  /** The columns used, for messages. */
  @Override
  public String toString() {
    return "csv " + o.input() + " " + Arrays.asList(spec.source().get("input_columns"));
  }
}
