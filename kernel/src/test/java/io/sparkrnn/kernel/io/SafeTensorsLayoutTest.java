package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.testing.Refusals;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The reader is as strict about the data section as Python's {@code safetensors.load_file}: the
 * tensors' {@code data_offsets}, sorted, must tile the data section exactly, with no overlap, no
 * gap and no trailing byte.
 */
class SafeTensorsLayoutTest {

  /** A file with the given JSON header (unpadded) and {@code dataBytes} zero bytes of data. */
  static byte[] file(String header, int dataBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  static void refused(byte[] bytes, String... fragments) {
    Refusals.refused(() -> SafeTensors.read(bytes, "w.safetensors"), fragments);
  }

  @Test
  void tilingTensorsInAnyHeaderOrderAreRead() {
    // b is listed first but lies second; an empty tensor sits at the boundary
    byte[] ok = file("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16);
    assertEquals(3, SafeTensors.read(ok, "ok.safetensors").tensors().size());
  }

  @Test
  void overlappingTensorsAreRefused() {
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
        "w.safetensors", "'b'", "[4, 12]", "overlaps", "'a'");
  }

  @Test
  void aGapBetweenTensorsIsRefused() {
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
        "w.safetensors", "'b'", "starts at 8", "expected 4");
  }

  @Test
  void trailingBytesAreRefused() {
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8),
        "w.safetensors", "tensors end at byte 4", "8 data bytes");
  }

  @Test
  void writtenFilesTileExactly() {
    byte[] b = SafeTensors.toBytes(Map.of("k", "v"), List.of(Tensor.ofFloats("a", new int[] {3}, new float[] {1, 2, 3}),
        Tensor.ofInts("n", new int[] {2}, new int[] {4, 5})));
    assertEquals(2, SafeTensors.read(b, "t.safetensors").tensors().size());
  }
}
