package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.kernel.model.Batch;
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
