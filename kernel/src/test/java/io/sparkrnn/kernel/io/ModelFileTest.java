package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.testing.Refusals;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Model files: PyTorch's tensor names and shapes for {@code nn.RNN(2, 3) + nn.Linear(3, 1)}, and
 * files that do not fit the model their metadata describes are refused naming file, tensor and shape.
 */
class ModelFileTest {
  static final ModelConfig CONFIG = new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
  /** weight_ih [3,2], weight_hh [3,3], bias_ih [3], bias_hh [3], head.weight [1,3], head.bias [1]. */
  static final int P = 6 + 9 + 3 + 3 + 3 + 1;

  static Params ramp() {
    float[] v = new float[P];
    for (int i = 0; i < P; i++) {
      v[i] = i;
    }
    return new Params(CONFIG, v);
  }

  static IllegalArgumentException refused(Map<String, String> metadata, List<Tensor> tensors, String... fragments) {
    SafeTensorsFile file = SafeTensors.read(SafeTensors.toBytes(metadata, tensors), "m.safetensors");
    return Refusals.refused(() -> ModelFile.read(file), fragments);
  }

  @Test
  void tensorsCarryPyTorchNamesShapesAndValuesAndReadBack() {
    SafeTensorsFile file = SafeTensors.read(ModelFile.toBytes(ramp(), null), "m.safetensors");
    // PyTorch's state_dict order: weight_ih (6 values) first, then weight_hh: values 6..14, shape [3, 3]
    Tensor whh = file.requireFloat("rnn.weight_hh_l0", 3, 3);
    assertArrayEquals(new float[] {6, 7, 8, 9, 10, 11, 12, 13, 14}, whh.floats(), 0f);
    assertArrayEquals(new float[] {24}, file.requireFloat("head.bias", 1).floats(), 0f);
    assertArrayEquals(ramp().values(), ModelFile.read(file).values(), 0f);
  }

  @Test
  void aTransposedTensorOfTheRightSizeIsRefused() {
    // [2, 3] holds as many values as [3, 2]: only the shape check can tell them apart
    List<Tensor> tensors = new ArrayList<>(ModelFile.toTensors(ramp()));
    tensors.set(0, Tensor.ofFloats("rnn.weight_ih_l0", new int[] {2, 3}, tensors.get(0).floats()));
    refused(CONFIG.toMetadata(), tensors, "m.safetensors", "'rnn.weight_ih_l0'", "[2, 3]", "expected [3, 2]");
  }

  @Test
  void aTensorTheModelDoesNotHaveIsRefusedUnlessAllowed() {
    List<Tensor> tensors = new ArrayList<>(ModelFile.toTensors(ramp()));
    tensors.add(Tensor.ofFloats("rnn.weight_ih_l1", new int[] {1}, new float[] {0}));
    refused(CONFIG.toMetadata(), tensors, "m.safetensors", "rnn.weight_ih_l1", "num_layers=1");

    List<Tensor> withOptimizer = new ArrayList<>(ModelFile.toTensors(ramp()));
    withOptimizer.add(Tensor.ofFloats("optimizer.exp_avg", new int[] {P}, new float[P]));
    SafeTensorsFile file = SafeTensors.read(SafeTensors.toBytes(CONFIG.toMetadata(), withOptimizer), "m.safetensors");
    assertArrayEquals(ramp().values(), ModelFile.read(file, Set.of("optimizer.*")).values(), 0f);
  }

  @Test
  void aFileWithoutTheFormatVersionIsRefused() {
    Map<String, String> metadata = new LinkedHashMap<>(CONFIG.toMetadata());
    metadata.remove(ModelConfig.KEY_FORMAT_VERSION);
    refused(metadata, ModelFile.toTensors(ramp()), "m.safetensors", ModelConfig.KEY_FORMAT_VERSION);
  }

  /**
   * allowedExtra (ModelFile.read's javadoc): a name allows exactly that tensor, a name ending in '*'
   * allows a prefix; a name without '*' is no prefix, so "optimizer.step" does not allow "optimizer.stex".
   */
  @Test
  void anAllowedExtraNameWithoutAStarAllowsExactlyThatTensor() {
    List<Tensor> withStep = new ArrayList<>(ModelFile.toTensors(ramp()));
    withStep.add(Tensor.ofFloats("optimizer.step", new int[] {1}, new float[] {3}));
    SafeTensorsFile file = SafeTensors.read(SafeTensors.toBytes(CONFIG.toMetadata(), withStep), "m.safetensors");
    assertArrayEquals(ramp().values(), ModelFile.read(file, Set.of("optimizer.step")).values(), 0f);

    List<Tensor> withOther = new ArrayList<>(ModelFile.toTensors(ramp()));
    withOther.add(Tensor.ofFloats("optimizer.stex", new int[] {1}, new float[] {3}));
    SafeTensorsFile other = SafeTensors.read(SafeTensors.toBytes(CONFIG.toMetadata(), withOther), "m.safetensors");
    Refusals.refused(() -> ModelFile.read(other, Set.of("optimizer.step")), "m.safetensors", "optimizer.stex");
  }

  @Test
  void extraMetadataIsWrittenBesideTheConfiguration() {
    SafeTensorsFile file = SafeTensors.read(ModelFile.toBytes(ramp(), Map.of("trained_on", "runs/a")), "m.safetensors");
    assertEquals("runs/a", file.metadata().get("trained_on"));
    CONFIG.toMetadata().forEach((k, v) -> assertEquals(v, file.metadata().get(k), k));
  }
}
