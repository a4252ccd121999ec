package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.testing.Refusals;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the writer promises about the files it makes and the tensors it takes. */
class SafeTensorsWriteTest {

  /**
   * toBytes' javadoc: "the header is padded with spaces to 8 bytes", as Python's safetensors pads it,
   * so the data section starts 8-byte aligned (a memory-mapping reader views F32 data in place).
   */
  @Test
  void theHeaderIsPaddedWithSpacesToAMultipleOfEightBytes() {
    for (String name : List.of("a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh")) {
      byte[] file = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats(name, new int[] {1}, new float[] {2f})));
      long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertEquals(0, n % 8, "header length " + n + " for tensor name " + name);
      assertEquals(8 + n + 4, file.length, "8-byte length, header, one F32");
      String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
      String json = header.stripTrailing();
      assertEquals(" ".repeat(header.length() - json.length()), header.substring(json.length()), "padding is spaces");
      assertEquals('}', json.charAt(json.length() - 1));
      assertArrayEquals(new float[] {2f}, SafeTensors.read(file, "w.safetensors").require(name).floats(), 0f);
    }
  }

  @Test
  void twoTensorsOfTheSameNameAreRefused() {
    // a header is a JSON object: the second "a" would replace the first and its data would be orphaned
    Refusals.refused(() -> SafeTensors.toBytes(Map.of(), List.of(
        Tensor.ofFloats("a", new int[] {1}, new float[] {1f}),
        Tensor.ofFloats("a", new int[] {2}, new float[] {2f, 3f}))), "'a'", "given twice");
  }

  @Test
  void aTensorWhoseDataDoesNotFillItsShapeIsRefused() {
    // [2, 3] holds 2·3 = 6 elements
    Refusals.refused(() -> Tensor.ofFloats("w", new int[] {2, 3}, new float[5]), "w", "[2, 3]", "6", "5");
    Refusals.refused(() -> Tensor.ofInts("n", new int[] {4}, new int[3]), "n", "[4]", "4", "3");
  }

  @Test
  void aTensorKeepsItsOwnCopyOfTheShape() {
    int[] shape = {2, 1};
    Tensor t = Tensor.ofFloats("w", shape, new float[] {1f, 2f});
    shape[0] = 7;
    assertArrayEquals(new int[] {2, 1}, t.shape());
  }
}
