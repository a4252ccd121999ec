package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Mode;
import org.junit.jupiter.api.Test;

/**
 * Moments against statistics worked out by hand, per docs/data-format.md: "computed over the valid
 * steps of the training split only; population std; a feature constant on the training split gets
 * std 1", applied to inputs and (mse) targets, padding left at 0.
 */
class MomentsTest {
  static final double EXACT = 1e-12; // a handful of small integers: double sums are exact up to the sqrt

  /**
   * T = 3, B = 2, F = 2, O = 1, seq2seq, lengths (3, 1): sequence 0 has steps 0..2, sequence 1
   * only step 0; padded steps are 0. x [T][B][F] at (t*B + b)*F + f, y [T][B][O] at t*B + b.
   * Feature 0 on valid steps: 1, 2, 3 (b = 0) and 6 (b = 1); feature 1 is the constant 5.
   * Targets on valid steps: 2, 4, 6 (b = 0) and 8 (b = 1).
   */
  private static Batch handBatch() {
    float[] x = {
        1, 5, 6, 5,   // t = 0: b = 0, b = 1
        2, 5, 0, 0,   // t = 1: b = 1 padded
        3, 5, 0, 0};  // t = 2: b = 1 padded
    float[] y = {2, 8, 4, 0, 6, 0};
    return new Batch(3, 2, 2, x, y, null, new int[] {3, 1});
  }

  @Test
  void statisticsArePopulationMomentsOfTheValidStepsOnly() {
    assertHandStatistics(new Moments(2, 1).add(handBatch(), Mode.SEQ2SEQ).toNormalization());
  }

  /** The statistics of handBatch's valid steps, by hand. */
  private static void assertHandStatistics(Normalization n) {
    // feature 0: mean (1+2+3+6)/4 = 3; deviations -2,-1,0,3 → Σ² = 14; population var 14/4 = 3.5
    //   (a sample variance would be 14/3; counting the padded zeros would give mean 2)
    // feature 1: constant 5 → variance exactly 0 → stored as 1
    assertArrayEquals(new double[] {3, 5}, n.inputMean(), EXACT);
    assertArrayEquals(new double[] {Math.sqrt(3.5), 1}, n.inputStd(), EXACT);
    // targets: mean (2+4+6+8)/4 = 5; deviations -3,-1,1,3 → Σ² = 20; population var 20/4 = 5
    assertArrayEquals(new double[] {5}, n.targetMean(), EXACT);
    assertArrayEquals(new double[] {Math.sqrt(5)}, n.targetStd(), EXACT);
  }

  @Test
  void mergingPerSequencePartialsGivesTheSameStatisticsAsOnePass() {
    // the same data as handBatch, one sequence per batch (T = 3, B = 1, F = 2)
    Batch first = new Batch(3, 1, 2, new float[] {1, 5, 2, 5, 3, 5}, new float[] {2, 4, 6}, null, new int[] {3});
    Batch second = new Batch(3, 1, 2, new float[] {6, 5, 0, 0, 0, 0}, new float[] {8, 0, 0}, null, new int[] {1});
    Normalization merged = new Moments(2, 1)
        .merge(new Moments(2, 1).add(first, Mode.SEQ2SEQ))
        .merge(new Moments(2, 1).add(second, Mode.SEQ2SEQ))
        .toNormalization();
    assertHandStatistics(merged);
  }

  @Test
  void applyZScoresValidStepsAndEachSeq2oneTargetOnce() {
    // T = 2, B = 2, F = 1, seq2one, lengths (2, 1): x [T][B] = (1, 3), (5, pad 0); y [B][O = 1] = (20, 0)
    Batch b = new Batch(2, 2, 1, new float[] {1, 3, 5, 0}, new float[] {20, 0}, null, new int[] {2, 1});
    // input mean 1, std 2; target mean 10, std 5
    Normalization n = new Normalization(new double[] {1}, new double[] {2}, new double[] {10}, new double[] {5});
    Moments.apply(b, Mode.SEQ2ONE, n);
    // x: (1−1)/2 = 0, (3−1)/2 = 1, (5−1)/2 = 2, padding stays 0
    assertArrayEquals(new float[] {0, 1, 2, 0}, b.x());
    // y: (20−10)/5 = 2, (0−10)/5 = −2: one target per sequence, z-scored once
    assertArrayEquals(new float[] {2, -2}, b.targets());
  }

  @Test
  void applyUsesEachFeaturesOwnStatistics() {
    // T = 1, B = 1, F = 2, seq2seq: x = (3, 10) with input mean (1, 2), std (2, 4) gives
    // ((3 − 1)/2, (10 − 2)/4) = (1, 2); feature 1 z-scored with feature 0's statistics would give 4.5.
    Batch b = new Batch(1, 1, 2, new float[] {3, 10}, new float[] {7}, null, null);
    Normalization n = new Normalization(new double[] {1, 2}, new double[] {2, 4}, new double[] {5}, new double[] {2});
    Moments.apply(b, Mode.SEQ2SEQ, n);
    assertArrayEquals(new float[] {1, 2}, b.x());
    assertArrayEquals(new float[] {1}, b.targets()); // (7 − 5) / 2
  }

  /**
   * A feature whose spread is small against its size: float32 values 1e6 + k/16 (k = 0 … 19,999 cycling
   * through 0 … 7, spacing 1/16 = the float's own at 1e6), whose population std is that of 0 … 7
   * times 1/16: √(Σ(k − 3.5)²/8)/16 = √5.25/16 ≈ 0.1432. With sums in double (before 2026-12-07),
   * E[v²] − E[v]² lost it to cancellation and the feature was stored as constant (std 1).
   */
  @Test
  void aSmallSpreadOnALargeValueKeepsItsVariance() {
    int n = 20_000;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = 1e6f + (i % 8) / 16f;   // exact in float32: 1e6 < 2^20, spacing 2^-4
    }
    Batch b = new Batch(n, 1, 1, x, null, null, null);
    Normalization s = new Moments(1, 0).add(b, Mode.SEQ2SEQ).toNormalization();
    assertEquals(1e6 + 3.5 / 16, s.inputMean()[0], 0);
    assertEquals(Math.sqrt(5.25) / 16, s.inputStd()[0], Math.ulp(Math.sqrt(5.25) / 16));
  }

  @Test
  void aTinyButNonZeroStdIsKept() {
    // docs/data-format.md: "a feature constant on the training split gets std 1", only that one.
    // Values 1e-9 and 3e-9: mean (a + b) / 2, population std (b − a) / 2, scaled like any other.
    float lo = 1e-9f;
    float hi = 3e-9f;
    Batch b = new Batch(2, 1, 1, new float[] {lo, hi}, null, null, null);
    Normalization n = new Moments(1, 0).add(b, Mode.SEQ2SEQ).toNormalization();
    double std = ((double) hi - lo) / 2;
    assertEquals(std, n.inputStd()[0], Math.ulp(std));
    Moments.apply(b, Mode.SEQ2SEQ, n);
    assertArrayEquals(new float[] {-1f, 1f}, b.x(), 1e-6f);
  }

  /**
   * apply refuses a target that normalising puts past float32's range, naming the target, as it
   * does an input (Moments.apply's javadoc; prep's validation split of a target that barely varied
   * in training): not Infinity written to a shard that prep's own check then calls "y has Infinity".
   */
  @Test
  void applyRefusesATargetPastFloat32NamingIt() {
    Batch b = new Batch(1, 1, 1, new float[] {0}, new float[] {1}, null, null);
    Normalization n = new Normalization(new double[] {0}, new double[] {1}, new double[] {0}, new double[] {1e-39});
    BadInputException e = assertThrows(BadInputException.class, () -> Moments.apply(b, Mode.SEQ2SEQ, n));
    assertTrue(e.getMessage().startsWith("normalization: target 0: the value 1.0 is 1.00e+39 training standard deviations"),
        e.getMessage());
  }
}
