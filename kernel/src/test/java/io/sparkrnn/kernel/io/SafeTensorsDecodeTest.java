package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Files written by other tools (PyTorch's {@code save_file} in half precision, NumPy's float64 and
 * int64): each stored type decodes to the value its bits mean. Expected values are the IEEE 754 /
 * bfloat16 / two's-complement meanings of the bit patterns, worked out by hand.
 */
class SafeTensorsDecodeTest {

  /** A file with one tensor {@code a} of the given dtype and shape over {@code data} (little-endian). */
  static byte[] oneTensor(String dtype, int n, byte[] data) {
    String header = "{\"a\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + n + "],\"data_offsets\":[0," + data.length + "]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(h.length).put(h).put(data).array();
  }

  static byte[] shorts(int... v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int s : v) {
      b.putShort((short) s);
    }
    return b.array();
  }

  static byte[] longs(long... v) {
    ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (long l : v) {
      b.putLong(l);
    }
    return b.array();
  }

  static float[] floatsOf(byte[] file) {
    return SafeTensors.read(file, "w.safetensors").require("a").floats();
  }

  @Test
  void halfPrecisionBitsDecodeToTheirIeeeValues() {
    float[] got = floatsOf(oneTensor("F16", 8, shorts(
        0x3C00,   // sign 0, exponent 15, mantissa 0: 2^0 = 1
        0xC000,   // sign 1, exponent 16: −2^1 = −2
        0x3555,   // exponent 13, mantissa 341: 2^−2 · (1 + 341/1024) = 0.333251953125
        0x7BFF,   // largest finite: 2^15 · (1 + 1023/1024) = 65504
        0x8400,   // smallest normal, negative: −2^−14
        0x0001,   // smallest subnormal: 1 · 2^−24
        0x7C00,   // exponent all ones, mantissa 0: +∞
        0x0000)));
    float[] expected = {1f, -2f, 0.333251953125f, 65504f, -0x1p-14f, 0x1p-24f, Float.POSITIVE_INFINITY, 0f};
    assertArrayEquals(expected, got, 0f);
    assertTrue(Float.isNaN(floatsOf(oneTensor("F16", 1, shorts(0x7E00)))[0]), "exponent all ones, mantissa ≠ 0: NaN");
  }

  @Test
  void bfloat16BitsAreTheUpperHalfOfAFloat32() {
    // 0x3F80 → 0x3F800000 = 1; 0xC040 → 0xC0400000 = −3; 0x4049 → 0x40490000 = 2 · (1 + 0x49/128) = 3.140625
    assertArrayEquals(new float[] {1f, -3f, 3.140625f}, floatsOf(oneTensor("BF16", 3, shorts(0x3F80, 0xC040, 0x4049))), 0f);
  }

  @Test
  void float64ValuesAreRoundedToFloat32() {
    byte[] data = longs(Double.doubleToLongBits(1.5), Double.doubleToLongBits(-0.1), Double.doubleToLongBits(1e-50));
    assertArrayEquals(new float[] {1.5f, -0.1f, 0f}, floatsOf(oneTensor("F64", 3, data)), 0f);
  }

  @Test
  void int64ValuesWithinInt32AreRead() {
    int[] got = SafeTensors.read(oneTensor("I64", 3, longs(7, -3, Integer.MIN_VALUE)), "w.safetensors").require("a").ints();
    assertArrayEquals(new int[] {7, -3, Integer.MIN_VALUE}, got);
  }

  @Test
  void anInt64BeyondInt32IsRefusedNamingFileTensorAndElement() {
    SafeTensorsLayoutTest.refused(oneTensor("I64", 2, longs(1, 1L << 31)), "w.safetensors", "'a'", "element 1", "2147483648");
  }

  @Test
  void dataOffsetsThatDisagreeWithTheShapeAreRefusedNamingBoth() {
    // shape [2] of F32 is 8 bytes; the offsets give 12
    byte[] file = oneTensor("F32", 2, new byte[12]);
    SafeTensorsLayoutTest.refused(file, "w.safetensors", "'a'", "[2]", "needs 8 bytes", "give 12");
  }

  @Test
  void anUnknownDtypeIsRefusedNamingFileTensorAndTheKnownOnes() {
    SafeTensorsLayoutTest.refused(oneTensor("F8", 1, new byte[1]), "w.safetensors", "'a'", "F8", "F32");
  }

  @Test
  void aTensorNamedTwiceInTheHeaderIsRefused() {
    // JSON parsers differ on repeated keys (first or last wins); the reader takes neither.
    String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    byte[] file = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).array();
    SafeTensorsLayoutTest.refused(file, "w.safetensors", "duplicate key 'a'");
  }
}
