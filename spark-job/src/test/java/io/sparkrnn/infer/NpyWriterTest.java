package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@link NpyWriter} against the NPY format 1.0 as NumPy documents it (numpy.lib.format): the
 * magic {@code \x93NUMPY}, version 1.0, a little-endian uint16 header length, an ASCII dict
 * padded with spaces and ended by a newline so that magic + version + length + header is a
 * multiple of 64 bytes, then the data, here little-endian float32 in C order. Expected bytes by hand.
 */
class NpyWriterTest {
  static final int ALIGNMENT = 64;   // numpy.lib.format: "evenly divisible by 64 for alignment purposes"

  @Test
  void aMatrixIsTheDocumentedHeaderThenItsFloatsLittleEndianRowMajor() {
    float[] data = {1f, 2f, 3f, -4.5f, 0f, 1e-3f};
    byte[] b = NpyWriter.toBytes(new int[] {2, 3}, data);
    assertEquals((byte) 0x93, b[0]);
    assertEquals("NUMPY", new String(b, 1, 5, StandardCharsets.ISO_8859_1));
    assertEquals(1, b[6], "major version");
    assertEquals(0, b[7], "minor version");
    int headerLength = (b[8] & 0xff) | (b[9] & 0xff) << 8;
    assertEquals(0, (10 + headerLength) % ALIGNMENT, "data starts at a multiple of 64: " + (10 + headerLength));
    String header = new String(b, 10, headerLength, StandardCharsets.ISO_8859_1);
    assertTrue(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header);
    assertTrue(header.endsWith("\n"), "ends with a newline");
    assertEquals("", header.substring(header.indexOf('}') + 1, header.length() - 1).strip(), "padded with spaces only");
    assertEquals(10 + headerLength + 4 * data.length, b.length, "nothing after the data");
    ByteBuffer values = ByteBuffer.wrap(b, 10 + headerLength, 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < data.length; i++) {
      assertEquals(Float.floatToRawIntBits(data[i]), Float.floatToRawIntBits(values.getFloat()), "element " + i);
    }
    assertEquals(0x3f800000, ByteBuffer.wrap(b, 10 + headerLength, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(), "1.0f, little-endian");
  }

  @Test
  void aVectorsShapeIsAOneElementTupleAndAThreeDimensionalOneIsAllItsAxes() {
    String vector = header(NpyWriter.toBytes(new int[] {3}, new float[3]));
    assertTrue(vector.contains("'shape': (3,), }"), "a Python 1-tuple needs its comma: " + vector);
    String cube = header(NpyWriter.toBytes(new int[] {4, 1, 2}, new float[8]));
    assertTrue(cube.contains("'shape': (4, 1, 2), }"), cube);
  }

  @Test
  void aShapeThatDoesNotHoldTheDataIsRefusedSayingBoth() {
    BadInputException e = assertThrows(BadInputException.class, () -> NpyWriter.toBytes(new int[] {2, 3}, new float[5]));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("6") && e.getMessage().contains("5"), e.getMessage());
  }

  static String header(byte[] b) {
    int headerLength = (b[8] & 0xff) | (b[9] & 0xff) << 8;
    assertEquals(0, (10 + headerLength) % ALIGNMENT);
    return new String(b, 10, headerLength, StandardCharsets.ISO_8859_1);
  }
}
