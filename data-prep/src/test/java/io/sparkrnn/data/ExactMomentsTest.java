package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ExactMomentsTest {
  /** Values spanning the float range: tiny, subnormal, huge, negative, zero, with cancellation. */
  private static float[] awkwardValues(int n, long seed) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      switch (i % 6) {
        case 0 -> v[i] = (float) r.nextGaussian() * 1e6f;
        case 1 -> v[i] = -v[i - 1] + 1e-3f; // cancels the previous term but for a small remainder
        case 2 -> v[i] = Float.MIN_VALUE * (1 + r.nextInt(1000)); // subnormal
        case 3 -> v[i] = (float) (r.nextDouble() * 1e30);
        case 4 -> v[i] = 0f;
        default -> v[i] = (float) r.nextGaussian();
      }
    }
    return v;
  }

  @Test
  void sumsAreExactAgainstBigDecimal() {
    float[] v = awkwardValues(5000, 1);
    ExactMoments.ExactSum sum = ExactMoments.ExactSum.forValues();
    ExactMoments.ExactSum sumSq = ExactMoments.ExactSum.forSquares();
    BigDecimal expected = BigDecimal.ZERO;
    BigDecimal expectedSq = BigDecimal.ZERO;
    for (float f : v) {
      sum.addFloat(f);
      sumSq.addSquare(f);
      BigDecimal b = new BigDecimal(f); // the float's exact binary value
      expected = expected.add(b);
      expectedSq = expectedSq.add(b.multiply(b));
    }
    BigDecimal exact = expected;
    assertEquals(0, exact.compareTo(sum.value()), () -> "sum " + sum.value() + " vs " + exact);
    assertEquals(0, expectedSq.compareTo(sumSq.value()), () -> "sum of squares " + sumSq.value());
  }

  @Test
  void carriesKeepSumsExactPastTheNormalisationInterval() {
    // 2^23 + 5 terms of the largest significand force at least two carry rounds
    ExactMoments.ExactSum sum = ExactMoments.ExactSum.forValues();
    int n = (1 << 23) + 5;
    float v = Math.nextDown(2f); // 2 − 2^−23: significand 2^24 − 1
    for (int i = 0; i < n; i++) {
      sum.addFloat(v);
    }
    assertEquals(0, new BigDecimal(v).multiply(BigDecimal.valueOf(n)).compareTo(sum.value()));
  }

  @Test
  void statisticsAreBitIdenticalForAnySplitAndMergeOrder() {
    int features = 3;
    int rows = 2000;
    float[] x = new float[rows * features];
    float[] a = awkwardValues(rows * features, 7);
    for (int i = 0; i < x.length; i++) {
      x[i] = i % features == 2 ? a[i] : (float) (i % 97) * 0.37f - 11f;
    }
    Normalization reference = null;
    Random r = new Random(3);
    for (int trial = 0; trial < 6; trial++) {
      // cut the rows into 1..12 random parts, fill each in a shuffled order, merge in a shuffled order
      int parts = 1 + r.nextInt(12);
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < rows; i++) {
        order.add(i);
      }
      Collections.shuffle(order, r);
      List<ExactMoments> partials = new ArrayList<>();
      for (int p = 0; p < parts; p++) {
        partials.add(new ExactMoments(features, 0));
      }
      for (int i = 0; i < rows; i++) {
        partials.get(r.nextInt(parts)).addInput(x, order.get(i) * features);
      }
      Collections.shuffle(partials, r);
      ExactMoments total = new ExactMoments(features, 0);
      for (ExactMoments m : partials) {
        total.merge(m);
      }
      Normalization n = total.toNormalization();
      if (reference == null) {
        reference = n;
      } else {
        assertArrayEquals(reference.inputMean(), n.inputMean(), "trial " + trial);
        assertArrayEquals(reference.inputStd(), n.inputStd(), "trial " + trial);
      }
    }
    // and the statistics are the correctly rounded mean and std of the data
    for (int f = 0; f < features; f++) {
      BigDecimal s = BigDecimal.ZERO;
      BigDecimal s2 = BigDecimal.ZERO;
      for (int i = 0; i < rows; i++) {
        BigDecimal b = new BigDecimal(x[i * features + f]);
        s = s.add(b);
        s2 = s2.add(b.multiply(b));
      }
      BigDecimal n = BigDecimal.valueOf(rows);
      assertEquals(s.divide(n, MathContext.DECIMAL128).doubleValue(), reference.inputMean()[f], "mean " + f);
      double var = n.multiply(s2).subtract(s.multiply(s)).divide(n.multiply(n), MathContext.DECIMAL128).doubleValue();
      assertEquals(Math.sqrt(var), reference.inputStd()[f], "std " + f);
    }
  }

  /**
   * Targets counted across a merge: one part holds targets 1 and 3 (inputs 2), the other 5 and 7
   * (inputs 4, 6, 8). Merged, by hand: target mean 16/4 = 4, variance (9 + 1 + 1 + 9)/4 = 5; input
   * mean 20/4 = 5, variance (9 + 1 + 1 + 9)/4 = 5. Had the merge dropped one part's target count,
   * the mean would be 16/2 = 8.
   */
  @Test
  void mergedPartsCountBothPartsTargets() {
    ExactMoments a = new ExactMoments(1, 1);
    ExactMoments b = new ExactMoments(1, 1);
    a.addInput(new float[] {2}, 0);
    a.addTarget(new float[] {1}, 0);
    a.addTarget(new float[] {3}, 0);
    for (float x : new float[] {4, 6, 8}) {
      b.addInput(new float[] {x}, 0);
    }
    b.addTarget(new float[] {5}, 0);
    b.addTarget(new float[] {7}, 0);
    Normalization n = a.merge(b).toNormalization();
    assertEquals(4.0, n.targetMean()[0]);
    assertEquals(Math.sqrt(5), n.targetStd()[0]);
    assertEquals(5.0, n.inputMean()[0]);
    assertEquals(Math.sqrt(5), n.inputStd()[0]);
  }

  @Test
  void constantFeatureGetsUnitStd() {
    ExactMoments m = new ExactMoments(1, 1);
    float[] x = {4.5f};
    for (int i = 0; i < 10; i++) {
      m.addInput(x, 0);
      m.addTarget(x, 0);
    }
    Normalization n = m.toNormalization();
    assertEquals(4.5, n.inputMean()[0]);
    assertEquals(1.0, n.inputStd()[0]);
    assertEquals(1.0, n.targetStd()[0]);
  }

  @Test
  void aTinyButNonZeroStdIsKept() {
    // Only an exactly constant feature gets std 1: a feature in small units (1e-9 and 3e-9, say
    // amperes) varies as much as any other once z-scored. Two values a < b have population std
    // (b − a) / 2; a floor at 1e-8 used to store 1, and the z-scored values were ±1e-9, i.e. nothing.
    ExactMoments m = new ExactMoments(1, 1);
    float a = 1e-9f;
    float b = 3e-9f;
    m.addInput(new float[] {a}, 0);
    m.addTarget(new float[] {a}, 0);
    m.addInput(new float[] {b}, 0);
    m.addTarget(new float[] {b}, 0);
    Normalization n = m.toNormalization();
    double std = ((double) b - a) / 2;
    assertEquals(std, n.inputStd()[0], Math.ulp(std));
    assertEquals(std, n.targetStd()[0], Math.ulp(std));
    // the smallest spread float32 has: 0 and the least subnormal, std 2^-150, still not constant
    ExactMoments least = new ExactMoments(1, 0);
    least.addInput(new float[] {0f}, 0);
    least.addInput(new float[] {Float.MIN_VALUE}, 0);
    assertEquals(Math.scalb(1.0, -150), least.toNormalization().inputStd()[0]);
  }

  @Test
  void classTargetsAreNotCountedNorNormalised() {
    // outputs = 0: targets are class ids, addTarget is a no-op and there are no target statistics
    ExactMoments m = new ExactMoments(1, 0);
    m.addInput(new float[] {2}, 0);
    m.addTarget(new float[] {3}, 0);
    Normalization n = m.toNormalization();
    assertNull(n.targetMean());
    assertNull(n.targetStd());
    assertEquals(2.0, n.inputMean()[0]);
  }
}
