package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Mutation audit (mutAE): a refused fed-back output names its element in the outputs array, not
 * its feature, beyond the first row: generate's "(sequence i / O)" is read from it. Kills
 * N8 (outputPastFloat32's {@code o = i % O} as {@code o = i}: ArrayIndexOutOfBounds for any
 * sequence after the first) and N9 (feedBack's second refusal carrying {@code f} for {@code i}:
 * every sequence read as sequence 0).
 */
class FeedBackElementTest {
  /** B = 2, O = F = 1: sequence 1's output is 1e30 model units, 1e40 raw (target std 1e10): past float32. */
  @Test
  void anOutputPastFloat32InRawUnitsInTheSecondSequenceNamesItsElement() {
    Normalization n = new Normalization(new double[] {0}, new double[] {1}, new double[] {0}, new double[] {1e10});
    Normalization.PastFloat32Exception e = assertThrows(Normalization.PastFloat32Exception.class,
        () -> n.feedBack(new float[] {0f, 1e30f}));
    assertEquals(1, e.element());
    assertTrue(e.getMessage().startsWith("normalization: the model's output 0 ("), e.getMessage());
  }

  /** B = 2, F = O = 1: sequence 1's output fed back is 2e39 stds from an input mean of std 1e-39. */
  @Test
  void anOutputPastFloat32InTheInputsUnitsInTheSecondSequenceNamesItsElement() {
    Normalization n = new Normalization(new double[] {0}, new double[] {1e-39}, new double[] {0}, new double[] {1});
    Normalization.PastFloat32Exception e = assertThrows(Normalization.PastFloat32Exception.class,
        () -> n.feedBack(new float[] {0f, 2f}));
    assertEquals(1, e.element(), e.getMessage());
  }
}
