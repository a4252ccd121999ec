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

  static final ModelConfig SEQ2ONE_MSE = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
  static final ModelConfig SEQ2ONE_CLASSES = new ModelConfig(CellType.RNN, 1, 1, 2, 3, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);

  static byte[] withTargets(Tensor y) {
    return SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 2, 1}, X), y));
  }

  @Test
  void aSeq2oneModelsTargetsAreOneRowPerSequence() {
    // seq2one: y F32 [B,O] (mse) or I32 [B] class ids (cross_entropy), one target per sequence, not per step
    Batch mse = ShardFiles.read(withTargets(Tensor.ofFloats("y", new int[] {2, 1}, new float[] {0.5f, -1f})), "s", SEQ2ONE_MSE, true);
    assertArrayEquals(new float[] {0.5f, -1f}, mse.targets(), 0f);
    Batch classes = ShardFiles.read(withTargets(Tensor.ofInts("y", new int[] {2}, new int[] {2, 0})), "s", SEQ2ONE_CLASSES, true);
    assertArrayEquals(new int[] {2, 0}, classes.classes());
    BadInputException perStep = assertThrows(BadInputException.class, () -> ShardFiles.read(withTargets(Tensor.ofFloats("y",
        new int[] {3, 2, 1}, new float[6])), "s", SEQ2ONE_MSE, true));
    assertEquals("s: y is F32 [3, 2, 1], expected F32 [B,O] = [2, 1] (the model is seq2one, mse, O=1)", perStep.getMessage());
    BadInputException classesPerStep = assertThrows(BadInputException.class, () -> ShardFiles.read(withTargets(Tensor.ofInts("y",
        new int[] {3, 2}, new int[6])), "s", SEQ2ONE_CLASSES, true));
    assertEquals("s: y is I32 [3, 2], expected I32 class ids [B] = [2] (the model is seq2one, cross_entropy, O=3)",
        classesPerStep.getMessage());
  }

  @Test
  void whereTargetsAreRequiredAFileWithoutYIsRefusedSayingWhatTheyMustBe() {
    // grad and evaluate need y; predict and generate (requireTargets false) read the same file
    BadInputException e = assertThrows(BadInputException.class, () -> ShardFiles.read(inputs(3, 2), "in.safetensors", MODEL, true));
    assertEquals("in.safetensors: no tensor 'y' (found [x, lengths]); targets F32 [T,B,O] = [3, 2, 1] (the model is seq2seq,"
        + " mse, O=1) are needed here", e.getMessage());
  }

  @Test
  void inputsOtherThanFloat32OrLengthsOfAnotherBAreRefused() {
    // the class comment: x F32 [T,B,F], lengths I32 [B]
    byte[] intX = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofInts("x", new int[] {3, 2, 1}, new int[6])));
    BadInputException dtype = assertThrows(BadInputException.class, () -> ShardFiles.read(intX, "in.safetensors", MODEL, false));
    assertEquals("in.safetensors: x has dtype I32, expected F32", dtype.getMessage());
    byte[] threeLengths = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 2, 1}, X),
        Tensor.ofInts("lengths", new int[] {3}, new int[] {3, 3, 3})));
    BadInputException b = assertThrows(BadInputException.class, () -> ShardFiles.read(threeLengths, "in.safetensors", MODEL, false));
    assertEquals("in.safetensors: lengths is I32 [3], expected I32 [2]", b.getMessage());
  }
}
