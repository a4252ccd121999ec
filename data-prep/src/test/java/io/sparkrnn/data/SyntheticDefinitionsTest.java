package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * The synthetic sources against their documented definitions (docs/data-format.md "Sources" and
 * the class comments), checked on properties that hold for every draw rather than on values the
 * generators produced: marker halves, length ranges, the sinusoid's recurrence, symbol alphabets.
 * Sample sizes are large enough that a property which should show up does so with probability
 * above 1 − 2^−30; every seed is fixed, so each run sees the same draws.
 */
class SyntheticDefinitionsTest {
  /** float32 rounding of values in [−2, 2], then a few float64 operations on them. */
  static final double FLOAT32_TOL = 1e-5;
  final Configuration conf = TestFiles.localConf();

  /**
   * Adding problem, variable length: p1 in [0, ⌊L/2⌋), p2 in [⌊L/2⌋, L), nothing at t ≥ L, y =
   * u_{p1} + u_{p2}, and L takes every value in [minSteps, T] (both ends included).
   */
  @Test
  void addingMarkersLieInTheDocumentedHalvesOfEveryLength() {
    int T = 9;
    int N = 300;
    AddingSource source = new AddingSource(new AddingSource.Options(T, N, 5, 2));
    assertTrue(source.spec().variableLength());
    Batch b = source.read(0, N, conf);
    Set<Integer> lengthsSeen = new TreeSet<>();
    for (int n = 0; n < N; n++) {
      int L = b.lengths()[n];
      lengthsSeen.add(L);
      int half = L / 2; // ⌊L/2⌋
      int[] markers = new int[2];
      int count = 0;
      for (int t = 0; t < T; t++) {
        float u = b.x()[b.xAt(t, n, 0)];
        float m = b.x()[b.xAt(t, n, 1)];
        if (t >= L) {
          assertEquals(0f, u, "padding u at t=" + t + " n=" + n + " (L=" + L + ")");
          assertEquals(0f, m, "padding marker at t=" + t + " n=" + n + " (L=" + L + ")");
          continue;
        }
        assertTrue(u >= 0f && u < 1f, "u_t ~ U(0,1): " + u + " at t=" + t + " n=" + n);
        if (m == 1f) {
          assertTrue(count < 2, "a third marker at t=" + t + " n=" + n);
          markers[count++] = t;
        } else {
          assertEquals(0f, m, "marker channel is 0 or 1 at t=" + t + " n=" + n);
        }
      }
      assertEquals(2, count, "markers of sequence " + n);
      assertTrue(markers[0] < half, "p1=" + markers[0] + " must be < ⌊L/2⌋=" + half + " (L=" + L + ", n=" + n + ")");
      assertTrue(markers[1] >= half && markers[1] < L, "p2=" + markers[1] + " must be in [" + half + ", " + L + ") (n=" + n + ")");
      double sum = (double) b.x()[b.xAt(markers[0], n, 0)] + b.x()[b.xAt(markers[1], n, 0)];
      assertEquals(sum, b.targets()[n], FLOAT32_TOL, "y = u_p1 + u_p2 for n=" + n);
    }
    // 8 equally likely lengths: one is missing from 300 draws with probability 8·(7/8)^300 < 2^−55
    assertEquals(Set.of(2, 3, 4, 5, 6, 7, 8, 9), lengthsSeen, "L uniform in [minSteps=2, T=9]");
  }

  /**
   * Sine, seq2one, no noise: v_t = sin(ωt + φ) with ω = 2πf satisfies v_{t+1} + v_{t−1} = 2cos(ω)·v_t,
   * so cos ω follows from the inputs (least squares over t = 1..T−2) and the target must be
   * v_T = 2cos(ω)·x_{T−1} − x_{T−2}, the value after the window, with f in [0.02, 0.1).
   */
  @Test
  void sineSeq2oneTargetIsTheValueAfterTheWindowOnTheSameSinusoid() {
    int T = 16;
    int N = 32;
    SineSource source = new SineSource(new SineSource.Options(T, N, 3, true, 0.02, 0.1, 0, T));
    Batch b = source.read(0, N, conf);
    for (int n = 0; n < N; n++) {
      double[] x = new double[T];
      for (int t = 0; t < T; t++) {
        x[t] = b.x()[b.xAt(t, n, 0)];
      }
      double num = 0;
      double den = 0;
      for (int t = 1; t + 1 < T; t++) {
        num += x[t] * (x[t - 1] + x[t + 1]);
        den += 2 * x[t] * x[t];
      }
      double cosOmega = num / den;
      double f = Math.acos(cosOmega) / (2 * Math.PI);
      assertTrue(f > 0.02 - 1e-4 && f < 0.1 + 1e-4, "frequency " + f + " of n=" + n + " outside [0.02, 0.1)");
      double expected = 2 * cosOmega * x[T - 1] - x[T - 2];
      assertEquals(expected, b.targets()[n], 1e-4, "y = v_T for n=" + n);
    }
  }

  /** φ uniform in [0, 2π): x_0 = sin φ is negative for about half the sequences (none would be for φ in [0, π)). */
  @Test
  void sinePhaseCoversTheWholeCircle() {
    int N = 64;
    Batch b = new SineSource(SineSource.Options.defaults(4, N, 9)).read(0, N, conf);
    int negative = 0;
    for (int n = 0; n < N; n++) {
      if (b.x()[b.xAt(0, n, 0)] < 0) {
        negative++;
      }
    }
    // P(no negative start in 64 draws) = 2^−64
    assertTrue(negative > 0 && negative < N, negative + " of " + N + " sequences start below 0");
  }

  /**
   * "Sequence i (its own generator from seed and i)": a sequence's values depend on its index
   * alone, not on the range read with it, so prep's shards (each a read from its own first index)
   * hold N different sequences rather than one batch repeated.
   */
  @Test
  void sineSequenceIDrawsTheSameWhicheverRangeReadsIt() {
    int T = 5;
    int N = 6;
    SineSource source = new SineSource(new SineSource.Options(T, N, 11, false, 0.02, 0.1, 0.05, 2));
    Batch all = source.read(0, N, conf);
    for (int first = 0; first < N; first++) {
      Batch part = source.read(first, N - first, conf);
      for (int n = first; n < N; n++) {
        assertEquals(all.length(n), part.length(n - first), "L of sequence " + n);
        for (int t = 0; t < T; t++) {
          assertEquals(all.x()[all.xAt(t, n, 0)], part.x()[part.xAt(t, n - first, 0)], "x_" + t + " of sequence " + n + " read from " + first);
          assertEquals(all.targets()[t * N + n], part.targets()[t * (N - first) + n - first], "y_" + t + " of sequence " + n);
        }
      }
    }
    for (int n = 1; n < N; n++) { // x_0 = sin φ + noise: equal for two sequences only by a coincidence of p ≈ 0
      assertTrue(all.x()[all.xAt(0, n, 0)] != all.x()[all.xAt(0, 0, 0)], "sequence " + n + " repeats sequence 0");
    }
  }

  /**
   * Variable length, seq2seq: L uniform in [minSteps, T] takes both ends (T included: P(a value of
   * 4 never drawn in 200 draws) = (3/4)^200 < 2^−80); x_t = v_t and y_t = v_{t+1} for t < L, and 0
   * for t ≥ L; the last target is the value after the window on the same sinusoid, v_L =
   * 2cos(ω)·v_{L−1} − v_{L−2} (the recurrence of sineSeq2oneTargetIsTheValueAfterTheWindowOnTheSameSinusoid,
   * cos ω read from y_{L−3} = v_{L−2}: (v_{L−1} + v_{L−3}) / (2 v_{L−2})).
   */
  @Test
  void sineVariableLengthsCoverMinStepsToTAndTargetsAreTheNextValue() {
    int T = 8;
    int minSteps = 5;
    int N = 200;
    SineSource source = new SineSource(new SineSource.Options(T, N, 4, false, 0.02, 0.1, 0, minSteps));
    assertTrue(source.spec().variableLength());
    Batch b = source.read(0, N, conf);
    Set<Integer> lengthsSeen = new TreeSet<>();
    int checkedLast = 0;
    for (int n = 0; n < N; n++) {
      int L = b.lengths()[n];
      lengthsSeen.add(L);
      for (int t = 0; t < T; t++) {
        float x = b.x()[b.xAt(t, n, 0)];
        float y = b.targets()[t * N + n];
        if (t >= L) {
          assertEquals(0f, x, "padding x at t=" + t + " n=" + n);
          assertEquals(0f, y, "padding y at t=" + t + " n=" + n);
        } else if (t + 1 < L) {
          assertEquals(b.x()[b.xAt(t + 1, n, 0)], y, "y_t = v_{t+1} = x_{t+1} at t=" + t + " n=" + n);
        }
      }
      double v1 = b.x()[b.xAt(L - 1, n, 0)];
      double v2 = b.x()[b.xAt(L - 2, n, 0)];
      double v3 = b.x()[b.xAt(L - 3, n, 0)];
      if (Math.abs(v2) > 0.2) { // cos ω from a ratio: only where its denominator is not near 0
        double cosOmega = (v1 + v3) / (2 * v2);
        assertEquals(2 * cosOmega * v1 - v2, b.targets()[(L - 1) * N + n], 1e-3, "y_{L-1} = v_L for n=" + n);
        checkedLast++;
      }
    }
    assertEquals(Set.of(5, 6, 7, 8), lengthsSeen, "lengths uniform in [minSteps, T]");
    assertTrue(checkedLast > N / 2, checkedLast + " last targets checked");
  }

  /**
   * noise · N(0, 1) on every sample: the draws before the noise (L, f, φ) are the same with and
   * without it, so (noisy − clean) / noise are the Gaussian draws: over 64 × 16 inputs and targets their
   * mean is within 0.2 of 0 (6 standard errors of 1/√1024 ≈ 0.031), their variance within 0.25 of 1
   * (5.6 standard errors of √(2/1023) ≈ 0.044), and about half are negative (uniform [0, 1) draws
   * would give mean 0.5, variance 1/12, none negative).
   */
  @Test
  void sineNoiseIsGaussianWithTheGivenStandardDeviation() {
    int T = 16;
    int N = 64;
    double noise = 0.1;
    Batch clean = new SineSource(new SineSource.Options(T, N, 21, false, 0.02, 0.1, 0, T)).read(0, N, conf);
    Batch noisy = new SineSource(new SineSource.Options(T, N, 21, false, 0.02, 0.1, noise, T)).read(0, N, conf);
    double sum = 0;
    double sumSq = 0;
    int negative = 0;
    int count = 0;
    for (int n = 0; n < N; n++) {
      for (int t = 0; t < T; t++) {
        // x_t holds v_t (t < T) and y_{T−1} holds v_T: every sample once
        double[] pairs = {noisy.x()[noisy.xAt(t, n, 0)] - (double) clean.x()[clean.xAt(t, n, 0)],
            t == T - 1 ? noisy.targets()[t * N + n] - (double) clean.targets()[t * N + n] : Double.NaN};
        for (double d : pairs) {
          if (Double.isNaN(d)) {
            continue;
          }
          double z = d / noise;
          sum += z;
          sumSq += z * z;
          negative += z < 0 ? 1 : 0;
          count++;
        }
      }
    }
    double mean = sum / count;
    double variance = (sumSq - count * mean * mean) / (count - 1);
    assertEquals(0, mean, 0.2, "mean of the noise draws");
    assertEquals(1, variance, 0.25, "variance of the noise draws / noise²");
    assertTrue(negative > count / 4 && negative < 3 * count / 4, negative + " of " + count + " draws below 0");
  }

  /**
   * The options' documented ranges: 0 < min-frequency ≤ max-frequency ≤ 0.5 cycles per step (0.5,
   * the Nyquist frequency, included), noise ≥ 0, min-steps in [1, T]; and the spec (docs/data-format.md,
   * "Sources"): task sine or sine-seq2one, F = O = 1, mse, variable length only where min-steps < T.
   */
  @Test
  void sineOptionsTakeTheirDocumentedRangesAndTheSpecFollowsThem() {
    new SineSource.Options(4, 1, 0, false, 0.5, 0.5, 0, 4);
    new SineSource.Options(4, 1, 0, false, 0.1, 0.1, 0, 1);
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0.2, 0.5000001, 0, 4));
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0, 0.1, 0, 4));
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0.2, 0.1, 0, 4));
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0.02, 0.1, -0.1, 4));
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0.02, 0.1, 0, 0));
    assertThrows(BadInputException.class, () -> new SineSource.Options(4, 1, 0, false, 0.02, 0.1, 0, 5));
    SineSource fixed = new SineSource(SineSource.Options.defaults(4, 3, 1));
    assertEquals("sine", fixed.spec().task());
    assertEquals(1, fixed.spec().features());
    assertEquals(1, fixed.spec().outputs());
    assertEquals(4, fixed.spec().steps());
    assertEquals(Mode.SEQ2SEQ, fixed.spec().mode());
    assertEquals(LossType.MSE, fixed.spec().loss());
    assertFalse(fixed.spec().variableLength());
    assertNull(fixed.read(0, 3, conf).lengths(), "fixed length: no lengths");
    assertEquals(3, fixed.count());
    SineSource one = new SineSource(new SineSource.Options(4, 3, 1, true, 0.02, 0.1, 0, 3));
    assertEquals("sine-seq2one", one.spec().task());
    assertEquals(Mode.SEQ2ONE, one.spec().mode());
    assertTrue(one.spec().variableLength());
    assertEquals(3, one.read(0, 3, conf).targets().length, "seq2one: one target per sequence");
  }

  /** Copy task: the s_k are uniform in 1..8, so 400 draws show all eight data symbols (a missing one: p < 8·(7/8)^400). */
  @Test
  void copySymbolsUseAllEightDataSymbols() {
    int delay = 3;
    int N = 40;
    CopySource source = new CopySource(new CopySource.Options(delay, N, 2));
    Batch b = source.read(0, N, conf);
    int T = delay + 20;
    Set<Integer> recalled = new TreeSet<>();
    for (int n = 0; n < N; n++) {
      for (int t = T - 10; t < T; t++) {
        recalled.add(b.classes()[t * N + n]);
      }
    }
    assertEquals(Set.of(1, 2, 3, 4, 5, 6, 7, 8), recalled);
  }
}
