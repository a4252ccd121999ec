package io.sparkrnn.infer;

import io.sparkrnn.kernel.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Writes a float32 array as a NumPy {@code .npy} file (format 1.0, {@code <f4}, C order). */
public final class NpyWriter {
  private NpyWriter() {}

  /** The file's bytes for {@code data} of {@code shape}, row-major. */
  public static byte[] toBytes(int[] shape, float[] data) {
    long n = 1;
    StringBuilder dims = new StringBuilder();
    for (int d : shape) {
      n *= d;
      dims.append(d).append(", ");
    }
    if (n != data.length) {
      throw new BadInputException("shape " + Arrays.toString(shape) + " holds " + n + " values, found " + data.length);
    }
    String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + dims.substring(0, Math.max(0, dims.length() - 2)) + ")";
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText + ", }";
    int unpadded = 10 + dict.length() + 1;                        // magic(6) version(2) length(2) dict '\n'
    int pad = (64 - unpadded % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer out = ByteBuffer.allocate(10 + h.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    out.putShort((short) h.length);
    out.put(h);
    out.asFloatBuffer().put(data);
    return out.array();
  }
}
