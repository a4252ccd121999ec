package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Partial sums from two partitions merge into the sums of the whole; means divide by the merged term count. */
class GradientSumTest {

  @Test
  void mergedSumsAndMeansAreThoseOfTheWholeBatch() {
    // partition A: 2 loss terms summing to 3, gradient sum (4, −2); partition B: 6 terms summing to 5, gradient (4, 10)
    GradientSum a = new GradientSum(3, 2, new double[] {4, -2});
    GradientSum b = new GradientSum(5, 6, new double[] {4, 10});
    a.merge(b);
    assertEquals(8, a.lossSum(), 0);
    assertEquals(8, a.count());
    assertEquals(1.0, a.meanLoss(), 0); // (3 + 5) / (2 + 6)
    assertArrayEquals(new float[] {1f, 1f}, a.meanGradient(), 0f); // (8, 8) / 8
  }

  @Test
  void addLossCountsItsTerms() {
    GradientSum s = new GradientSum(1);
    s.addLoss(2, 4);
    s.addLoss(4, 2);
    assertEquals(1.0, s.meanLoss(), 0); // (2 + 4) / (4 + 2)
  }

  @Test
  void gradientsOfDifferentModelsDoNotMerge() {
    assertThrows(IllegalStateException.class, () -> new GradientSum(2).merge(new GradientSum(3)));
  }

  @Test
  void aMeanOverNoTermsIsRefused() {
    assertThrows(IllegalStateException.class, () -> new GradientSum(2).meanGradient());
  }
}
