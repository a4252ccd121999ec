package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The float64 reference's analytic BPTT gradient against central finite differences. */
class ReferenceGradientTest {
  /**
   * Step of the five-point central difference f'(x) ≈ (8[f(x+h) − f(x−h)] − [f(x+2h) − f(x−2h)]) / 12h.
   * Its truncation error is O(h⁴) ≈ 1e-12 and its rounding error about 1e-16·|loss|/h ≈ 1e-12; the
   * plain two-point difference (error O(h²)) could not resolve gradients near 1e-4 to 1e-6.
   */
  static final double EPS = 1e-3;
  /** The issue's bound for float64 analytic vs numeric gradients. */
  static final double REL_TOL = 1e-6;
  /** Below this magnitude both values are treated as zero and compared absolutely (against REL_TOL·ABS_FLOOR). */
  static final double ABS_FLOOR = 1e-4;

  static Stream<Arguments> cases() {
    List<Arguments> list = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      for (int layers : new int[] {1, 2}) {
        for (Mode mode : Mode.values()) {
          for (LossType loss : LossType.values()) {
            for (boolean lengths : new boolean[] {false, true}) {
              list.add(Arguments.of(cell, layers, mode, loss, lengths, false));
            }
          }
        }
      }
      // truncated-BPTT windows: a given initial state, seq2seq, both losses
      list.add(Arguments.of(cell, 2, Mode.SEQ2SEQ, LossType.MSE, true, true));
      list.add(Arguments.of(cell, 1, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false, true));
    }
    return list.stream();
  }

  @ParameterizedTest(name = "{0} layers={1} {2} {3} lengths={4} initialState={5}")
  @MethodSource("cases")
  void analyticGradientMatchesFiniteDifferences(
      CellType cell, int layers, Mode mode, LossType loss, boolean lengths, boolean initialState) {
    int outputs = loss == LossType.CROSS_ENTROPY ? 4 : 2;
    ModelConfig config = new ModelConfig(cell, layers, 3, 4, outputs, mode, loss);
    Batch batch = Fixtures.randomBatch(config, 5, 3, lengths, 11);
    State initial = initialState ? Fixtures.randomState(config, 3, 12) : null;
    double[] p = Fixtures.randomParams(new ParamLayout(config).size(), 13);

    double[] analytic = new double[p.length];
    double lossSum = ReferenceEngine.lossAndGradient(config, p, batch, initial, analytic);
    assertTrue(Double.isFinite(lossSum) && lossSum > 0, "loss sum " + lossSum);

    double[] numeric = new double[p.length];
    for (int i = 0; i < p.length; i++) {
      double saved = p[i];
      double plus1 = lossAt(config, p, i, saved + EPS, batch, initial);
      double minus1 = lossAt(config, p, i, saved - EPS, batch, initial);
      double plus2 = lossAt(config, p, i, saved + 2 * EPS, batch, initial);
      double minus2 = lossAt(config, p, i, saved - 2 * EPS, batch, initial);
      p[i] = saved;
      numeric[i] = (8 * (plus1 - minus1) - (plus2 - minus2)) / (12 * EPS);
    }
    assertGradientsClose(new ParamLayout(config), analytic, numeric);
  }

  private static double lossAt(ModelConfig config, double[] p, int i, double value, Batch batch, State initial) {
    p[i] = value;
    return ReferenceEngine.loss(config, p, batch, initial);
  }

  static void assertGradientsClose(ParamLayout layout, double[] analytic, double[] numeric) {
    double worst = 0;
    int worstIndex = -1;
    for (int i = 0; i < analytic.length; i++) {
      double scale = Math.max(Math.max(Math.abs(analytic[i]), Math.abs(numeric[i])), ABS_FLOOR);
      double rel = Math.abs(analytic[i] - numeric[i]) / scale;
      if (rel > worst) {
        worst = rel;
        worstIndex = i;
      }
    }
    if (worst > REL_TOL) {
      fail("worst relative error " + worst + " at " + name(layout, worstIndex) + ": analytic " + analytic[worstIndex]
          + ", finite difference " + numeric[worstIndex]);
    }
  }

  static String name(ParamLayout layout, int index) {
    for (ParamSpec s : layout.specs()) {
      if (index >= s.offset() && index < s.offset() + s.size()) {
        return s.name() + "[" + (index - s.offset()) + "]";
      }
    }
    return "#" + index;
  }

  @Test
  void paddedStepsAddNothingAndCarryTheState() {
    // A batch whose sequence 1 has 2 valid steps out of 4 gives the same loss and gradient as the
    // same sequence alone with T = 2 (seq2one reads its step 2; seq2seq sums its steps 0 and 1).
    for (Mode mode : Mode.values()) {
      ModelConfig config = new ModelConfig(CellType.LSTM, 2, 2, 3, 2, mode, LossType.MSE);
      Batch padded = Fixtures.randomBatch(config, 4, 2, false, 5);
      int[] lengths = {4, 2};
      Batch withLengths = new Batch(4, 2, 2, padded.x(), padded.targets(), null, lengths);
      float[] x2 = new float[2 * 2];
      for (int t = 0; t < 2; t++) {
        for (int f = 0; f < 2; f++) {
          x2[t * 2 + f] = padded.x()[padded.xAt(t, 1, f)];
        }
      }
      float[] y2;
      if (mode == Mode.SEQ2SEQ) {
        y2 = new float[] {padded.targets()[(0 * 2 + 1) * 2], padded.targets()[(0 * 2 + 1) * 2 + 1],
            padded.targets()[(1 * 2 + 1) * 2], padded.targets()[(1 * 2 + 1) * 2 + 1]};
      } else {
        y2 = new float[] {padded.targets()[2], padded.targets()[3]};
      }
      Batch alone = new Batch(2, 1, 2, x2, y2, null, null);
      Batch firstAlone = sliceSequence0(padded, mode);
      double[] p = Fixtures.randomParams(new ParamLayout(config).size(), 6);
      double[] gBoth = new double[p.length];
      double[] gAlone = new double[p.length];
      double[] gFirst = new double[p.length];
      double lBoth = ReferenceEngine.lossAndGradient(config, p, withLengths, null, gBoth);
      double lAlone = ReferenceEngine.lossAndGradient(config, p, alone, null, gAlone);
      double lFirst = ReferenceEngine.lossAndGradient(config, p, firstAlone, null, gFirst);
      assertEquals(lFirst + lAlone, lBoth, 1e-12, mode + ": loss of the padded batch");
      for (int i = 0; i < p.length; i++) {
        assertEquals(gFirst[i] + gAlone[i], gBoth[i], 1e-12, mode + ": gradient " + i);
      }
      assertEquals(mode == Mode.SEQ2SEQ ? (4 + 2) * 2 : 2 * 2, withLengths.lossCount(config));
      // the final state of the padded sequence equals the state after its last valid step
      State both = new ReferenceEngine().forward(new Params(config, toFloats(p)), withLengths, null).finalState();
      State one = new ReferenceEngine().forward(new Params(config, toFloats(p)), alone, null).finalState();
      for (int l = 0; l < 2; l++) {
        for (int j = 0; j < 3; j++) {
          assertEquals(one.h()[one.at(l, 0, j)], both.h()[both.at(l, 1, j)], 0f, "h of layer " + l);
          assertEquals(one.c()[one.at(l, 0, j)], both.c()[both.at(l, 1, j)], 0f, "c of layer " + l);
        }
      }
    }
  }

  private static Batch sliceSequence0(Batch batch, Mode mode) {
    int T = batch.steps(), F = batch.features(), B = batch.batchSize();
    float[] x = new float[T * F];
    for (int t = 0; t < T; t++) {
      for (int f = 0; f < F; f++) {
        x[t * F + f] = batch.x()[batch.xAt(t, 0, f)];
      }
    }
    int O = 2;
    int rows = mode == Mode.SEQ2SEQ ? T : 1;
    float[] y = new float[rows * O];
    for (int t = 0; t < rows; t++) {
      for (int o = 0; o < O; o++) {
        y[t * O + o] = batch.targets()[(t * B) * O + o];
      }
    }
    return new Batch(T, 1, F, x, y, null, null);
  }

  static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }
}
