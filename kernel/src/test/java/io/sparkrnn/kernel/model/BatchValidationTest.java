package io.sparkrnn.kernel.model;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static io.sparkrnn.kernel.testing.Refusals.refused;

import org.junit.jupiter.api.Test;

/** Batches and model configurations that cannot be trained on are refused, naming the field, what was expected and what was found. */
class BatchValidationTest {
  static final ModelConfig CE3 = new ModelConfig(CellType.GRU, 1, 1, 2, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);

  @Test
  void aClassIdEqualToTheClassCountIsRefused() {
    // O = 3 classes: ids 0, 1, 2. Id 3 would read the logit of the next row.
    int[] classes = {0, 2, 3, 1}; // (t, b) = t * 2 + b, T = 2, B = 2: id 3 at (t=1, b=0)
    Batch b = new Batch(2, 2, 1, new float[4], null, classes, null);
    refused(() -> b.validateFor(CE3, true), "class id 3", "(t=1, b=0)", "[0, 3)");
    Batch ok = new Batch(2, 2, 1, new float[4], null, new int[] {0, 2, 2, 1}, null);
    assertDoesNotThrow(() -> ok.validateFor(CE3, true));
  }

  @Test
  void aNegativeClassIdIsRefused() {
    Batch b = new Batch(2, 2, 1, new float[4], null, new int[] {0, -1, 2, 1}, null);
    refused(() -> b.validateFor(CE3, true), "class id -1", "(t=0, b=1)");
  }

  @Test
  void aLengthLongerThanTheBatchIsRefused() {
    refused(() -> new Batch(3, 2, 1, new float[6], null, null, new int[] {3, 4}), "lengths[1] = 4", "0..3");
    assertDoesNotThrow(() -> new Batch(3, 2, 1, new float[6], null, null, new int[] {3, 0}));
  }

  @Test
  void aSeq2oneSequenceWithoutStepsIsRefused() {
    // seq2one reads the state after the last valid step; with no step there is none
    ModelConfig seq2one = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(3, 2, 1, new float[6], new float[2], null, new int[] {3, 0});
    refused(() -> b.validateFor(seq2one, true), "lengths[1] = 0", "seq2one");
  }

  @Test
  void targetsOfTheWrongShapeAreRefused() {
    ModelConfig mse2 = new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2SEQ, LossType.MSE);
    Batch b = new Batch(3, 2, 1, new float[6], new float[10], null, null);
    refused(() -> b.validateFor(mse2, true), "y holds 10 values", "[T,B,O] = [3,2,2]");
  }

  @Test
  void crossEntropyWithASingleClassIsRefused() {
    refused(() -> new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY),
        "output_size", "cross_entropy", "found 1");
    assertDoesNotThrow(() -> new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY));
  }

  @Test
  void theConstructorRefusesShapesThatDoNotAddUp() {
    // x is [T][B][F]: T·B·F values, each of T, B and F at least 1
    refused(() -> new Batch(0, 2, 1, new float[0], null, null, null), "T=0");
    refused(() -> new Batch(2, 0, 1, new float[0], null, null, null), "B=0");
    refused(() -> new Batch(2, 2, 0, new float[0], null, null, null), "F=0");
    refused(() -> new Batch(2, 2, 1, new float[5], null, null, null), "x holds 5 values", "2*2*1");
    refused(() -> new Batch(2, 2, 1, new float[4], new float[4], new int[4], null), "not both");
    refused(() -> new Batch(2, 2, 1, new float[4], null, null, new int[] {2}), "lengths has 1 entries", "B = 2");
    refused(() -> new Batch(2, 2, 1, new float[4], null, null, new int[] {2, -1}), "lengths[1] = -1", "0..2");
    assertDoesNotThrow(() -> new Batch(2, 2, 1, new float[4], null, null, new int[] {2, 0}));
  }

  @Test
  void validateForRefusesABatchOfAnotherInputSizeOrTargetKind() {
    ModelConfig mse1 = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    refused(() -> new Batch(2, 2, 2, new float[8], new float[4], null, null).validateFor(mse1, true), "F=2", "input_size is 1");
    refused(() -> new Batch(2, 2, 1, new float[4], null, new int[4], null).validateFor(mse1, true), "class ids", "mse");
    refused(() -> new Batch(2, 2, 1, new float[4], new float[4], null, null).validateFor(CE3, true), "floats", "cross_entropy");
    // cross_entropy seq2seq: [T,B] = [2,2] ids
    refused(() -> new Batch(2, 2, 1, new float[4], null, new int[3], null).validateFor(CE3, true), "3 class ids", "[T,B] = [2,2]");
    // no targets: refused for training, accepted for predict
    Batch inputs = Batch.inputsOnly(2, 2, 1, new float[4]);
    refused(() -> inputs.validateFor(mse1, true), "no targets");
    assertDoesNotThrow(() -> inputs.validateFor(mse1, false));
  }

  @Test
  void classIdsOnPaddingStepsAreNotChecked() {
    // T = 2, B = 2, lengths {2, 1}: (t=1, b=1) is padding, adds no loss and may hold any id (−1, say)
    Batch b = new Batch(2, 2, 1, new float[4], null, new int[] {0, 1, 2, -1}, new int[] {2, 1});
    assertDoesNotThrow(() -> b.validateFor(CE3, true));
  }
}
