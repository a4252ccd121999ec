package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.sparkrnn.kernel.testing.Refusals;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** requireFloat / requireInt: a tensor of another type or rank is refused naming file, tensor and both. */
class SafeTensorsFileTest {
  private static final SafeTensorsFile FILE = SafeTensors.read(SafeTensors.toBytes(Map.of(), List.of(
      Tensor.ofFloats("w", new int[] {3, 2, 1}, new float[] {1, 2, 3, 4, 5, 6}),
      Tensor.ofFloats("b", new int[] {2}, new float[] {7, 8}),
      Tensor.ofInts("ids", new int[] {2}, new int[] {4, 5}))), "m.safetensors");

  @Test
  void matchingTensorsAreReturned() {
    assertArrayEquals(new float[] {7, 8}, FILE.requireFloat("b", 2).floats(), 0f);
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, FILE.requireFloat("w", 3, -1, 1).floats(), 0f);
    assertArrayEquals(new int[] {4, 5}, FILE.requireInt("ids", -1).ints());
  }

  @Test
  void aTensorWithMoreOrFewerAxesIsRefused() {
    // [3, 2, 1] holds as many values as [3, 2], but it is not a [3, 2] tensor
    Refusals.refused(() -> FILE.requireFloat("w", 3, 2), "m.safetensors", "'w'", "[3, 2, 1]", "expected [3, 2]");
    Refusals.refused(() -> FILE.requireFloat("b", 2, 1), "m.safetensors", "'b'", "[2]", "expected [2, 1]");
  }

  @Test
  void aTensorOfTheOtherKindIsRefusedNamingItsDtype() {
    Refusals.refused(() -> FILE.requireFloat("ids", 2), "m.safetensors", "'ids'", "I32", "float");
    Refusals.refused(() -> FILE.requireInt("b", 2), "m.safetensors", "'b'", "F32", "expected I32");
  }
}
