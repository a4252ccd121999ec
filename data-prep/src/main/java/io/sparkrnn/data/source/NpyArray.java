package io.sparkrnn.data.source;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * The header of a NumPy {@code .npy} file (format versions 1, 2 and 3) and positional reads of its
 * elements through Hadoop, without loading the whole array.
 *
 * <p>Supported dtypes: float32 and float64 ({@code <f4 >f4 <f8 >f8}), int32 and int64
 * ({@code <i4 >i4 <i8 >i8}). C and Fortran order. Object arrays (what NumPy writes for ragged
 * lists), strings, structured dtypes and the like are refused. The file size must equal header +
 * elements × item size, so a truncated file is refused before any data is read.
 */
final class NpyArray implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int MAX_HEADER = 1 << 20;
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  final String uri;
  final int[] shape;
  final boolean floating;
  final int itemSize;
  final boolean bigEndian;
  /** Element strides (in elements) of each axis of {@link #shape}. */
  final long[] strides;
  final long dataOffset;
  /** Fortran order: the first axis varies fastest in the file. */
  final boolean fortran;

  private NpyArray(String uri, int[] shape, boolean floating, int itemSize, boolean bigEndian, boolean fortran,
      long dataOffset) {
    this.uri = uri;
    this.shape = shape;
    this.floating = floating;
    this.itemSize = itemSize;
    this.bigEndian = bigEndian;
    this.dataOffset = dataOffset;
    this.fortran = fortran;
    strides = new long[shape.length];
    long s = 1;
    for (int k = 0; k < shape.length; k++) {
      int axis = fortran ? k : shape.length - 1 - k;
      strides[axis] = s;
      s *= shape[axis];
    }
  }

  /** Whether axis {@code k} is stored outside (varies slower than) axis {@code axis}. */
  boolean outside(int k, int axis) {
    return fortran ? k > axis : k < axis;
  }

  long elements() {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  static NpyArray open(String uri, Configuration conf) throws IOException {
    FileStatus status = Inputs.status(uri, conf);
    if (status.getLen() == 0) {
      throw new BadInputException(uri + ": the input file is empty");
    }
    Path p = new Path(uri);
    try (FSDataInputStream in = FileSystems.get(p, conf).open(p)) {
      byte[] start = new byte[12];
      int got = in.read(0, start, 0, (int) Math.min(12, status.getLen()));
      if (got < 10 || !Arrays.equals(Arrays.copyOf(start, 6), MAGIC)) {
        throw new BadInputException(uri + ": not a .npy file (magic \\x93NUMPY missing)");
      }
      int major = start[6];
      ByteBuffer lb = ByteBuffer.wrap(start).order(ByteOrder.LITTLE_ENDIAN);
      long headerLength = major == 1 ? lb.getShort(8) & 0xffff : lb.getInt(8) & 0xffffffffL;
      long headerStart = major == 1 ? 10 : 12;
      if (major < 1 || major > 3) {
        throw new BadInputException(uri + ": .npy format version " + major + " is not supported (expected 1, 2 or 3)");
      }
      if (headerStart + headerLength > status.getLen()) {
        // the value read is not printed: a failed file's bytes are not quoted
        throw new BadInputException(uri + ": the header length field is impossible for a file of "
            + status.getLen() + " bytes (truncated or not a .npy file)");
      }
      if (headerLength > MAX_HEADER) {
        // numpy itself refuses headers over 10,000 bytes unless told (max_header_size): a valid file, but
        // not one this reader takes (it said "truncated or not a .npy file": a user audit)
        throw new BadInputException(uri + ": a header of " + headerLength + " bytes, more than this reader takes ("
            + MAX_HEADER + "); save the array with a plain dtype and shape (np.save writes headers of under 100 bytes)");
      }
      byte[] header = new byte[(int) headerLength];
      in.readFully(headerStart, header);
      String h = new String(header, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      return parse(uri, h, headerStart + headerLength, status.getLen());
    }
  }

  private static NpyArray parse(String uri, String h, long dataOffset, long fileSize) {
    Matcher d = DESCR.matcher(h);
    Matcher f = FORTRAN.matcher(h);
    Matcher s = SHAPE.matcher(h);
    if (!d.find() || !f.find() || !s.find()) {
      throw new BadInputException(uri + ": unreadable .npy header " + h.strip());
    }
    String descr = d.group(1);
    if (descr.contains("O")) {
      throw new BadInputException(uri + ": dtype '" + descr + "' is an object array (ragged sequences?);"
          + " expected a dense numeric array: pad the sequences to one length first");
    }
    boolean floating;
    int item;
    switch (descr.substring(Math.min(1, descr.length()))) {
      case "f4" -> { floating = true; item = 4; }
      case "f8" -> { floating = true; item = 8; }
      case "i4" -> { floating = false; item = 4; }
      case "i8" -> { floating = false; item = 8; }
      default -> throw new BadInputException(uri + ": dtype '" + descr + "' is not supported (expected float32,"
          + " float64, int32 or int64)");
    }
    char order = descr.charAt(0);
    if (order != '<' && order != '>' && order != '|' && order != '=') {
      throw new BadInputException(uri + ": dtype '" + descr + "' has an unknown byte order");
    }
    String dims = s.group(1).strip();
    int[] shape;
    if (dims.isEmpty()) {
      shape = new int[0];
    } else {
      String[] parts = dims.split(",");
      int n = parts[parts.length - 1].isBlank() ? parts.length - 1 : parts.length;
      shape = new int[n];
      for (int i = 0; i < n; i++) {
        try {
          long v = Long.parseLong(parts[i].strip());
          if (v < 0 || v > Integer.MAX_VALUE) {
            throw new NumberFormatException();
          }
          shape[i] = (int) v;
        } catch (NumberFormatException e) {
          throw new BadInputException(uri + ": shape (" + dims + ") is not a tuple of sizes below 2^31");
        }
      }
    }
    NpyArray a = new NpyArray(uri, shape, floating, item, order == '>', f.group(1).equals("True"), dataOffset);
    long need;
    try {
      need = Math.multiplyExact(a.elements(), item);
    } catch (ArithmeticException e) {
      need = Long.MAX_VALUE;
    }
    long have = fileSize - dataOffset;
    if (have != need) {
      throw new BadInputException(uri + ": shape " + Arrays.toString(shape) + " of " + descr + " needs " + need
          + " data bytes, the file has " + have + (have < need ? " (truncated)" : " (trailing bytes)"));
    }
    return a;
  }

  /** The index, one entry per axis of {@link #shape}, of the element at flat storage position {@code flat}. */
  String indexOf(long flat) {
    long[] index = new long[shape.length];
    for (int axis = 0; axis < shape.length; axis++) {
      index[axis] = flat / strides[axis] % shape[axis];
    }
    return Arrays.toString(index);
  }

  /**
   * Reads {@code count} elements starting at flat element index {@code start} (in storage order) as
   * doubles.
   */
  void readRun(FSDataInputStream in, long start, int count, double[] out, int outOffset) throws IOException {
    byte[] buf = new byte[count * itemSize];
    in.readFully(dataOffset + start * itemSize, buf);
    ByteBuffer bb = ByteBuffer.wrap(buf).order(bigEndian ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      out[outOffset + i] = switch (itemSize * (floating ? 1 : -1)) {
        case 4 -> bb.getFloat(4 * i);
        case 8 -> bb.getDouble(8 * i);
        case -4 -> bb.getInt(4 * i);
        default -> (double) bb.getLong(8 * i);
      };
    }
  }

  FSDataInputStream openData(Configuration conf) throws IOException {
    Path p = new Path(uri);
    return FileSystems.get(p, conf).open(p);
  }
}
