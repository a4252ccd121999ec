package io.sparkrnn.kernel.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
  static final int DRAWS = 20_000;
  /** Five standard deviations of a frequency over DRAWS draws with p near 1/2: 5·√(0.25/20000) ≈ 0.018. */
  static final double FREQUENCY_TOL = 0.018;

  @Test
  void argmaxPicksTheFirstLargestLogit() {
    assertEquals(1, Sampler.argmax().pick(new float[] {0f, 2f, 2f, -1f}, 0, 4));
    assertEquals(1, Sampler.argmax().pick(new float[] {9f, 9f, -1f, 0f, -3f}, 2, 3), "offset is honoured: reads -1, 0, -3");
    assertEquals(0, Sampler.argmax().pick(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 0, 2));
  }

  @Test
  void nanLogitsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Sampler.argmax().pick(new float[] {0f, Float.NaN}, 0, 2));
    assertThrows(IllegalArgumentException.class, () -> Sampler.softmax(1, 1).pick(new float[] {Float.NaN, 0f}, 0, 2));
  }

  @Test
  void softmaxFrequenciesFollowTheTemperedDistribution() {
    float[] logits = {0f, (float) Math.log(3)};
    // T = 1: p1 = 3 / (1 + 3) = 0.75.  T = 2: p1 = √3 / (1 + √3) ≈ 0.634.  T = 0.5: p1 = 9/10.
    double[][] cases = {{1, 0.75}, {2, Math.sqrt(3) / (1 + Math.sqrt(3))}, {0.5, 0.9}};
    for (double[] c : cases) {
      ClassSampler s = Sampler.softmax(c[0], 123);
      int ones = 0;
      for (int i = 0; i < DRAWS; i++) {
        ones += s.pick(logits, 0, 2);
      }
      assertEquals(c[1], ones / (double) DRAWS, FREQUENCY_TOL, "P(class 1) at temperature " + c[0]);
    }
  }

  @Test
  void infiniteLogitTakesAllTheMass() {
    ClassSampler s = Sampler.softmax(1, 3);
    for (int i = 0; i < 100; i++) {
      assertEquals(2, s.pick(new float[] {5f, 1e30f, Float.POSITIVE_INFINITY}, 0, 3));
    }
  }

  /**
   * softmax is unchanged by adding a constant to every logit (the class comment's
   * exp((z_k − max z)/T) form): logits 1000 and 1000 + ln 3 draw class 1 with p = 3 / (1 + 3) = 0.75,
   * as 0 and ln 3 do, where exp(1000) alone overflows a double.
   */
  @Test
  void softmaxOfLargeLogitsIsShiftInvariant() {
    float[] logits = {1000f, 1000f + (float) Math.log(3)};         // float32 spacing at 1000 is 6e-5: the gap is ln 3 ± 1e-4
    ClassSampler s = Sampler.softmax(1, 123);
    int ones = 0;
    for (int i = 0; i < DRAWS; i++) {
      ones += s.pick(logits, 0, 2);
    }
    assertEquals(0.75, ones / (double) DRAWS, FREQUENCY_TOL, "P(class 1) at logits near 1000");
  }

  @Test
  void invalidTemperaturesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Sampler.softmax(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.softmax(Double.NaN, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.softmax(Double.POSITIVE_INFINITY, 1));
  }

  /**
   * The draw the class comment defines, worked in float64 here: w_k = exp((z_k − max z)/T), one
   * u = nextDouble()·Σw from a SplittableRandom seeded with the seed, and the first k whose running
   * sum of w exceeds u. So a seed names one sequence of picks, the same in every version.
   */
  @Test
  void eachPickInvertsTheCumulativeWeightsAtOneSeededUniformDraw() {
    float[] logits = {0.5f, -1f, 2f, 0f, 1.25f};
    double temperature = 0.7;
    long seed = 42;
    ClassSampler s = Sampler.softmax(temperature, seed);
    SplittableRandom random = new SplittableRandom(seed);
    double max = 2.0;
    int[] counts = new int[logits.length];
    for (int draw = 0; draw < 500; draw++) {
      double[] w = new double[logits.length];
      double sum = 0;
      for (int k = 0; k < w.length; k++) {
        w[k] = Math.exp((logits[k] - max) / temperature);
        sum += w[k];
      }
      double u = random.nextDouble() * sum;
      int expected = -1;
      double cumulative = 0;
      for (int k = 0; k < w.length && expected < 0; k++) {
        cumulative += w[k];
        if (u < cumulative) {
          expected = k;
        }
      }
      int got = s.pick(logits, 0, logits.length);
      assertEquals(expected, got, "draw " + draw);
      counts[got]++;
    }
    for (int k = 0; k < counts.length; k++) {
      org.junit.jupiter.api.Assertions.assertTrue(counts[k] > 0, "500 draws reach every class, class " + k);
    }
  }

  /**
   * Sampler.softmax's javadoc: a temperature ≤ 1e-6 "is treated as the limit temperature → 0, which
   * is argmax", and argmax takes the first of tied logits: a tie is not broken at random.
   */
  @Test
  void atTheArgmaxTemperatureTiedLogitsGiveTheFirst() {
    float[] logits = {-2f, 1f, 1f, 0f};
    for (double temperature : new double[] {0, 1e-9, SoftmaxSampler.ARGMAX_TEMPERATURE}) {
      ClassSampler s = Sampler.softmax(temperature, 9);
      for (int i = 0; i < 200; i++) {
        assertEquals(1, s.pick(logits, 0, 4), "temperature " + temperature + ", draw " + i);
      }
    }
  }
}
