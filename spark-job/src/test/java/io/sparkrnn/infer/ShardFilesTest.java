package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Input-only files (x and lengths, no y: what predict and generate read): each length must lie in
 * 1..T, and the refusal names the file, the element and the range, as prep's shards do.
 */
class ShardFilesTest {
  static final ModelConfig MODEL = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
  /** x of T = 3 steps, B = 2 sequences, F = 1, laid out [T][B][F]. */
  static final float[] X = {1, 2, 3, 4, 5, 6};

  static byte[] inputs(int... lengths) {
    return SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 2, 1}, X),
        Tensor.ofInts("lengths", new int[] {2}, lengths)));
  }

  @Test
  void lengthsWithinOneToTAreRead() {
    Batch b = ShardFiles.read(inputs(3, 2), "in.safetensors", MODEL, false);
    assertEquals(3, b.length(0));
    assertEquals(2, b.length(1));
    assertArrayEquals(X, b.x(), 0f);
  }

  @Test
  void aLengthOfTPlusOneOrZeroIsRefusedNamingFileAndElement() {
    BadInputException longer = assertThrows(BadInputException.class, () -> ShardFiles.read(inputs(3, 4), "in.safetensors", MODEL, false));
    assertEquals("in.safetensors: lengths[1] = 4, expected 1..3", longer.getMessage());
    BadInputException empty = assertThrows(BadInputException.class, () -> ShardFiles.read(inputs(0, 3), "in.safetensors", MODEL, false));
    assertEquals("in.safetensors: lengths[0] = 0, expected 1..3", empty.getMessage());
  }

  @Test
  void aTensorOtherThanXAndLengthsIsRefusedByName() {
    // the class comment: "no other tensors" besides x, y and lengths
    byte[] file = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 2, 1}, X),
        Tensor.ofFloats("mask", new int[] {3, 2}, new float[6])));
    BadInputException e = assertThrows(BadInputException.class, () -> ShardFiles.read(file, "in.safetensors", MODEL, false));
    assertEquals("in.safetensors: unexpected tensor 'mask', expected only [x, y, lengths]", e.getMessage());
  }

  @Test
  void anInfiniteInputIsRefusedNamingItsStepSequenceAndFeature() {
    // F = 2: x [T=2][B=2][F=2] row-major, so element (t, b, f) is at (t·B + b)·F + f; (t=1, b=0, f=1) is at (1·2 + 0)·2 + 1 = 5
    ModelConfig f2 = new ModelConfig(CellType.RNN, 1, 2, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    float[] x = new float[8];
    x[5] = Float.NEGATIVE_INFINITY;
    byte[] file = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 2, 2}, x)));
    BadInputException e = assertThrows(BadInputException.class, () -> ShardFiles.read(file, "in.safetensors", f2, false));
    assertEquals("in.safetensors: x has -Infinity at (t=1, b=0, f=1), expected a finite number", e.getMessage());
  }
}
