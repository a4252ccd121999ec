package io.sparkrnn.kernel.io;

import io.sparkrnn.kernel.BadInputException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
 * JSON header ({@code {"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets"}}}), then
 * the raw little-endian data, offsets relative to the end of the header.
 *
 * <p>Readers validate everything before allocating: the header length against the file size and
 * {@link #MAX_HEADER_BYTES}; every tensor's dtype, shape and offsets against the bytes that
 * follow, so a header that claims 2^40 elements is refused without allocating them.
 *
 * <p>A file written with metadata (models, checkpoints, predictions; not dataset shards, whose
 * manifest holds each file's CRC32C) records the CRC32C of its data section in
 * {@code __metadata__} {@value #DATA_CRC32C}, and a reader checks it: a flipped bit in a weight
 * would otherwise load as a different model (local file systems are read without Hadoop's
 * {@code .crc} files).
 */
public final class SafeTensors {
  /** The reference implementation's limit on the JSON header. */
  public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
  /** Largest element count one Java array can hold. */
  public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  /** __metadata__ key: CRC32C of every byte after the header, 8 lower-case hex digits. */
  public static final String DATA_CRC32C = "data_crc32c";

  private SafeTensors() {}

  /** Reads a whole file from memory, checking its {@value #DATA_CRC32C} where it has one. */
  public static SafeTensorsFile read(byte[] bytes, String source) {
    return read(bytes, source, true);
  }

  /**
   * Reads a whole file from memory; {@code verify} false reads a file from another writer (import
   * of a PyTorch file) without the check: a tool that saves new tensors with our metadata copied
   * would carry a stale {@value #DATA_CRC32C}.
   */
  public static SafeTensorsFile read(byte[] bytes, String source, boolean verify) {
    if (bytes.length < 8) {
      throw new BadInputException(source + ": " + bytes.length + " bytes is too short for a safetensors file (8-byte header length missing)");
    }
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = buf.getLong(0);
    checkHeaderLength(headerLength, bytes.length, source);
    String headerText = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
    long dataStart = 8 + headerLength;
    Header header = parseHeader(headerText, bytes.length - dataStart, source);
    String recorded = header.metadata.get(DATA_CRC32C);
    if (verify && recorded != null) {
      CRC32C crc = new CRC32C();
      crc.update(bytes, (int) dataStart, (int) (bytes.length - dataStart));
      String found = hex(crc.getValue());
      if (!found.equals(recorded)) {
        // neither value is quoted, as for shards (Dataset): both come from a file that failed its check
        throw new BadInputException(source + ": the tensors' bytes do not match the CRC32C the file recorded (__metadata__ "
            + DATA_CRC32C + "): the file was damaged after it was written;"
            + " restore it from a copy, or write it again (a file another tool wrote with this metadata copied carries a"
            + " stale value: remove " + DATA_CRC32C + " from its metadata, or bring it in through spark-rnn import)");
      }
    }
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (Entry e : header.entries) {
      tensors.put(e.name, decode(e, buf, (int) (dataStart + e.begin), source));
    }
    return new SafeTensorsFile(source, header.metadata, tensors);
  }

  /**
   * Reads a file from a stream whose total size is known (from the file system), checking the
   * header against that size before reading the data.
   */
  public static SafeTensorsFile read(InputStream in, long fileSize, String source) throws IOException {
    if (fileSize < 8) {
      throw new BadInputException(source + ": " + fileSize + " bytes is too short for a safetensors file");
    }
    if (fileSize > MAX_ELEMENTS) {
      throw new BadInputException(source + ": " + fileSize + " bytes is larger than one file this reader holds in memory (2 GiB)");
    }
    byte[] bytes = new byte[(int) fileSize];
    readFully(in, bytes, 0, 8, source);
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    checkHeaderLength(headerLength, fileSize, source);
    readFully(in, bytes, 8, bytes.length - 8, source);
    return read(bytes, source);
  }

  public static SafeTensorsFile read(Path path) throws IOException {
    if (!Files.isRegularFile(path)) { // a FIFO would block the open for ever
      throw new IOException(path + (Files.isDirectory(path) ? ": is a directory" : Files.exists(path)
          ? ": not a regular file (a FIFO, socket or device)" : ": no such file") + ", expected a safetensors file");
    }
    long size = Files.size(path);
    try (InputStream in = Files.newInputStream(path)) {
      return read(in, size, path.toString());
    }
  }

  private static void readFully(InputStream in, byte[] b, int off, int len, String source) throws IOException {
    int done = 0;
    while (done < len) {
      int n = in.read(b, off + done, len - done);
      if (n < 0) {
        throw new EOFException(source + ": file ended after " + (off + done) + " bytes, expected " + (off + len)
            + " (truncated?)");
      }
      done += n;
    }
  }

  private static void checkHeaderLength(long headerLength, long fileSize, String source) {
    if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || headerLength > fileSize - 8) {
      // The value read is not printed: they are the file's first 8 bytes, whatever the file is.
      throw new BadInputException(source + ": the 8-byte header length is impossible for a file of "
          + fileSize + " bytes (expected 1.." + Math.min(MAX_HEADER_BYTES, Math.max(0, fileSize - 8)) + "); not a safetensors file or truncated");
    }
  }

  private record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

  private record Header(Map<String, String> metadata, List<Entry> entries) {}

  private static Header parseHeader(String text, long dataLength, String source) {
    Map<String, Object> json;
    try {
      json = Json.parseObject(text.strip());
    } catch (IllegalArgumentException e) {
      throw new BadInputException(source + ": header: " + e.getMessage(), e);
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<String, Object> kv : json.entrySet()) {
      String name = kv.getKey();
      if (name.equals("__metadata__")) {
        if (!(kv.getValue() instanceof Map<?, ?> m)) {
          throw new BadInputException(source + ": __metadata__ must be an object of strings");
        }
        for (Map.Entry<?, ?> me : m.entrySet()) {
          if (!(me.getValue() instanceof String s)) {
            throw new BadInputException(source + ": __metadata__ value of '" + me.getKey() + "' must be a string");
          }
          metadata.put((String) me.getKey(), s);
        }
        continue;
      }
      if (!(kv.getValue() instanceof Map<?, ?> info)) {
        throw new BadInputException(source + ": tensor '" + name + "' header entry is not an object");
      }
      Object dtypeName = info.get("dtype");
      DType dtype = dtypeName instanceof String s ? DType.fromHeader(s) : null;
      if (dtype == null) {
        throw new BadInputException(source + ": tensor '" + name + "' has dtype " + dtypeName
            + ", expected one of F32, F64, F16, BF16, I32, I64");
      }
      int[] shape = intList(info.get("shape"), source, name, "shape");
      long count = 1;
      for (int d : shape) {
        if (d < 0) {
          throw new BadInputException(source + ": tensor '" + name + "' has a negative dimension");
        }
        count *= d;
        if (count > MAX_ELEMENTS) {
          throw new BadInputException(source + ": tensor '" + name + "' claims more than " + MAX_ELEMENTS
              + " elements; refused before allocating");
        }
      }
      Object offsets = info.get("data_offsets");
      if (!(offsets instanceof List<?> ol) || ol.size() != 2 || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long e)) {
        throw new BadInputException(source + ": tensor '" + name + "' needs data_offsets [begin, end]");
      }
      long expectedBytes = count * dtype.bytes();
      if (b < 0 || e < b || e > dataLength) {
        throw new BadInputException(source + ": tensor '" + name + "' data_offsets [" + b + ", " + e
            + "] lie outside the " + dataLength + " data bytes (truncated file?)");
      }
      if (e - b != expectedBytes) {
        throw new BadInputException(source + ": tensor '" + name + "' shape " + Arrays.toString(shape)
            + " of " + dtype + " needs " + expectedBytes + " bytes, data_offsets give " + (e - b));
      }
      entries.add(new Entry(name, dtype, shape, b, e));
    }
    checkTiling(entries, dataLength, source);
    return new Header(metadata, entries);
  }

  /**
   * The tensors, sorted by offset, must cover the data section exactly: each starts where the one
   * before ends and the last ends at the end of the file. Python's {@code safetensors} refuses
   * overlaps, gaps and trailing bytes alike (overlapping tensors would alias one another's data;
   * unaccounted bytes are data no tensor owns), so a file we accept is one it accepts too.
   */
  private static void checkTiling(List<Entry> entries, long dataLength, String source) {
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long end = 0;
    Entry previous = null;
    for (Entry e : sorted) {
      if (e.begin < end) {
        throw new BadInputException(source + ": tensor '" + e.name + "' data_offsets [" + e.begin + ", " + e.end
            + "] overlaps tensor '" + previous.name + "' [" + previous.begin + ", " + previous.end + "]");
      }
      if (e.begin > end) {
        throw new BadInputException(source + ": tensor '" + e.name + "' starts at " + e.begin + ", expected " + end
            + (previous == null ? " (the start of the data)" : " (where '" + previous.name + "' ends)")
            + ": the data_offsets leave a gap");
      }
      end = e.end;
      previous = e;
    }
    if (end != dataLength) {
      throw new BadInputException(source + ": the tensors end at byte " + end + " of the " + dataLength
          + " data bytes, expected them to cover all of it (trailing bytes after the last tensor)");
    }
  }

  private static int[] intList(Object v, String source, String tensor, String field) {
    if (!(v instanceof List<?> list)) {
      throw new BadInputException(source + ": tensor '" + tensor + "' needs " + field + " as a list of integers");
    }
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(list.get(i) instanceof Long l) || l < 0 || l > Integer.MAX_VALUE) {
        throw new BadInputException(source + ": tensor '" + tensor + "' " + field + "[" + i + "] = " + list.get(i)
            + ", expected an integer in [0, 2^31)");
      }
      out[i] = (int) (long) l;
    }
    return out;
  }

  private static Tensor decode(Entry e, ByteBuffer buf, int start, String source) {
    int n = (int) ((e.end - e.begin) / e.dtype.bytes());
    switch (e.dtype) {
      case F32: {
        float[] f = new float[n];
        buf.slice(start, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return Tensor.ofFloats(e.name, DType.F32, e.shape, f);
      }
      case F64: {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
          f[i] = (float) buf.getDouble(start + 8 * i);
        }
        return Tensor.ofFloats(e.name, DType.F64, e.shape, f);
      }
      case BF16: {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
          // bfloat16 is the upper half of a float32.
          f[i] = Float.intBitsToFloat((buf.getShort(start + 2 * i) & 0xffff) << 16);
        }
        return Tensor.ofFloats(e.name, DType.BF16, e.shape, f);
      }
      case F16: {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
          f[i] = halfToFloat(buf.getShort(start + 2 * i));
        }
        return Tensor.ofFloats(e.name, DType.F16, e.shape, f);
      }
      case I32: {
        int[] v = new int[n];
        buf.slice(start, n * 4).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
        return Tensor.ofInts(e.name, DType.I32, e.shape, v);
      }
      case I64: {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          long l = buf.getLong(start + 8 * i);
          if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw new BadInputException(source + ": tensor '" + e.name + "' element " + i + " = " + l
                + " does not fit in int32");
          }
          v[i] = (int) l;
        }
        return Tensor.ofInts(e.name, DType.I64, e.shape, v);
      }
      default:
        throw new AssertionError(e.dtype);
    }
  }

  /**
   * Serialises tensors (written as F32 or I32) and metadata; the header is padded with spaces to 8
   * bytes. Non-empty metadata gets {@value #DATA_CRC32C} (replacing one copied from another file).
   */
  public static byte[] toBytes(Map<String, String> metadata, Collection<Tensor> tensors) {
    return toBytes(metadata, tensors, true);
  }

  /**
   * {@link #toBytes(Map, Collection)}; {@code checksum} false records no {@value #DATA_CRC32C} (and
   * drops a copied one): a file for other tools (export to PyTorch), which may save new tensors
   * under its metadata.
   */
  public static byte[] toBytes(Map<String, String> metadata, Collection<Tensor> tensors, boolean checksum) {
    Map<String, Object> header = new LinkedHashMap<>();
    if (metadata != null && !metadata.isEmpty()) {
      Map<String, String> meta = new LinkedHashMap<>(metadata);
      meta.remove(DATA_CRC32C);
      if (checksum) {
        meta.put(DATA_CRC32C, hex(dataCrc32c(tensors)));
      }
      header.put("__metadata__", meta);
    }
    long offset = 0;
    for (Tensor t : tensors) {
      long bytes = t.size() * 4;
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("dtype", t.isFloating() ? "F32" : "I32");
      info.put("shape", t.shape());
      info.put("data_offsets", new long[] {offset, offset + bytes});
      if (header.put(t.name(), info) != null) {
        throw new BadInputException("tensor name '" + t.name() + "' given twice");
      }
      offset += bytes;
    }
    byte[] headerBytes = Json.write(header).getBytes(StandardCharsets.UTF_8);
    int padded = (headerBytes.length + 7) / 8 * 8;
    long total = 8L + padded + offset;
    if (total > MAX_ELEMENTS) {
      throw new BadInputException("a safetensors file over 2 GiB cannot be written in one piece; use more, smaller shards");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded);
    out.put(headerBytes);
    for (int i = headerBytes.length; i < padded; i++) {
      out.put((byte) ' ');
    }
    for (Tensor t : tensors) {
      if (t.isFloating()) {
        out.asFloatBuffer().put(t.floats());
        out.position(out.position() + t.floats().length * 4);
      } else {
        out.asIntBuffer().put(t.ints());
        out.position(out.position() + t.ints().length * 4);
      }
    }
    return out.array();
  }

  /** CRC32C of the data section {@link #toBytes} writes: each tensor's values as little-endian 4-byte words, in order. */
  private static long dataCrc32c(Collection<Tensor> tensors) {
    CRC32C crc = new CRC32C();
    ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (Tensor t : tensors) {
      float[] f = t.isFloating() ? t.floats() : null;
      int[] v = f == null ? t.ints() : null;
      int n = f != null ? f.length : v.length;
      for (int i = 0; i < n; i++) {
        if (chunk.remaining() < 4) {
          crc.update(chunk.flip());
          chunk.clear();
        }
        if (f != null) {
          chunk.putFloat(f[i]);   // the raw bits, as asFloatBuffer().put writes them
        } else {
          chunk.putInt(v[i]);
        }
      }
    }
    crc.update(chunk.flip());
    return crc.getValue();
  }

  private static String hex(long crc32) {
    return String.format("%08x", crc32);
  }

  public static void write(OutputStream out, Map<String, String> metadata, Collection<Tensor> tensors) throws IOException {
    out.write(toBytes(metadata, tensors));
  }

  /** IEEE 754 binary16 to float32 (Java 17 has no Float.float16ToFloat). */
  static float halfToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      // subnormal or zero: mantissa * 2^-24
      float v = mantissa * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
}
