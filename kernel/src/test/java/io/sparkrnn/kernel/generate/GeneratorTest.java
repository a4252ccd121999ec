package io.sparkrnn.kernel.generate;

import static io.sparkrnn.kernel.testing.NumericAssert.assertBitsEqual;
import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static io.sparkrnn.kernel.testing.NumericAssert.assertIntsEqual;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GeneratorTest {
  static final int V = 4;
  /**
   * Outputs are float32 roundings of a float64 forward pass, fed back for up to 10 steps through a
   * map whose gain |W A (1 − h²)| + |C| stays below 2: each rounding (≤ 6e-8 relative) grows at most
   * 2^10-fold, and the values are of order 1.
   */
  static final double FEEDBACK_TOL = 1e-4;

  private final BpttEngine engine = new ReferenceEngine();

  /** One-hot primer [T][B][V] from symbols[b][t]. */
  private static float[] oneHot(int[][] symbols, int T) {
    int B = symbols.length;
    float[] x = new float[T * B * V];
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < symbols[b].length; t++) {
        x[(t * B + b) * V + symbols[b][t]] = 1f;
      }
    }
    return x;
  }

  @Test
  void argmaxGenerationFollowsTheSuccessorCycle() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    float[] primer = oneHot(new int[][] {{0, 1}, {3, 3}}, 2);
    Generation g = Generator.generate(params, engine, primer, 2, 2, 5, Sampler.argmax());
    // Sequence 0 ends on 1, so it continues 2, 3, 0, 1, 2; sequence 1 ends on 3: 0, 1, 2, 3, 0.
    int[] expected = new int[5 * 2];
    for (int n = 0; n < 5; n++) {
      expected[n * 2] = (2 + n) % V;
      expected[n * 2 + 1] = n % V;
    }
    assertIntsEqual(expected, g.ids(), "generated ids [N,B]");
    assertEquals(5, g.steps());
    assertEquals(5 * 2 * V, g.outputs().length);
    double top = Math.tanh(TinyModels.INPUT_GAIN);
    for (int n = 0; n < 5; n++) {
      for (int b = 0; b < 2; b++) {
        for (int o = 0; o < V; o++) {
          double want = o == g.id(n, b) ? top : 0;                 // logit of the successor is tanh(3), others 0
          assertEquals(want, g.outputs()[g.outputAt(n, b, o)], 1e-6, "logit (n=" + n + ", b=" + b + ", o=" + o + ")");
        }
      }
    }
    Generation again = Generator.generate(params, engine, primer, 2, 2, 5, Sampler.argmax());
    assertBitsEqual(g.outputs(), again.outputs(), "argmax generation is deterministic");
  }

  @Test
  void primerLengthsStartEachSequenceFromItsOwnLastStep() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    float[] x = oneHot(new int[][] {{0, 1, 2}, {2}}, 3);
    Batch primer = new Batch(3, 2, V, x, null, null, new int[] {3, 1});
    Generation g = Generator.generate(params, engine, primer, 3, Sampler.argmax());
    assertIntsEqual(new int[] {3, 3, 0, 0, 1, 1}, g.ids(), "ids after primers of lengths 3 and 1");
  }

  @Test
  void softmaxWithASeedIsReproducible() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);      // logit gap ≈ 1: a spread distribution
    float[] primer = oneHot(new int[][] {{0}, {1}, {2}}, 1);
    Generation a = Generator.generate(params, engine, primer, 1, 3, 20, Sampler.softmax(1.0, 11));
    Generation b = Generator.generate(params, engine, primer, 1, 3, 20, Sampler.softmax(1.0, 11));
    Generation c = Generator.generate(params, engine, primer, 1, 3, 20, Sampler.softmax(1.0, 12));
    assertIntsEqual(a.ids(), b.ids(), "same seed, same ids");
    assertBitsEqual(a.outputs(), b.outputs(), "same seed, same outputs");
    assertFalse(Arrays.equals(a.ids(), c.ids()), "another seed gives another sequence (60 draws)");
    Generation argmax = Generator.generate(params, engine, primer, 1, 3, 20, Sampler.argmax());
    assertFalse(Arrays.equals(a.ids(), argmax.ids()), "at temperature 1 the draws leave the argmax cycle");
  }

  @Test
  void softmaxAsTemperatureGoesToZeroEqualsArgmax() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    float[] primer = oneHot(new int[][] {{0}, {1}, {2}}, 1);
    int[] argmax = Generator.generate(params, engine, primer, 1, 3, 12, Sampler.argmax()).ids();
    for (double temperature : new double[] {0, 1e-9, SoftmaxSampler.ARGMAX_TEMPERATURE, 1e-3}) {
      int[] ids = Generator.generate(params, engine, primer, 1, 3, 12, Sampler.softmax(temperature, 5)).ids();
      assertIntsEqual(argmax, ids, "softmax at temperature " + temperature);
    }
    assertTrue(((SoftmaxSampler) Sampler.softmax(1e-6, 1)).isArgmax());
    assertFalse(((SoftmaxSampler) Sampler.softmax(1e-5, 1)).isArgmax());
  }

  @Test
  void identityFeedbackReproducesTheAnalyticRecurrence() {
    Params params = TinyModels.scalar();
    float[] primer = {0.3f, -0.7f, -0.4f, 0.9f};                   // [T=2][B=2][F=1]
    int N = 10;
    Generation g = Generator.generate(params, engine, primer, 2, 2, N, Sampler.identity());
    assertNull(g.ids());
    double[] expected = new double[N * 2];
    for (int b = 0; b < 2; b++) {
      double h = 0;
      double y = 0;
      for (int t = 0; t < 2; t++) {                                // the primer
        double[] s = TinyModels.scalarStep(primer[t * 2 + b], h);
        h = s[0];
        y = s[1];
      }
      for (int n = 0; n < N; n++) {                                // x_{n+1} = y_n
        expected[n * 2 + b] = y;
        double[] s = TinyModels.scalarStep(y, h);
        h = s[0];
        y = s[1];
      }
    }
    assertClose(expected, g.outputs(), FEEDBACK_TOL, "identity generation");
  }

  @Test
  void closedLoopFeedsBackAfterTheTeacherForcedSteps() {
    Params params = TinyModels.scalar();
    int T = 6, B = 2, n = 3, K = 3;
    float[] x = new float[T * B];
    float[] y = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(0.7 * i);
      y[i] = (float) Math.cos(0.3 * i);
    }
    Batch batch = new Batch(T, B, 1, x, y, null, null);
    ClosedLoop loop = Generator.closedLoop(params, engine, batch, n, K, Sampler.identity());
    double[] expected = new double[K * B];
    for (int b = 0; b < B; b++) {
      double h = 0;
      double out = 0;
      for (int t = 0; t < n + K; t++) {
        double input = t < n ? x[t * B + b] : out;                 // true x for t < n, then the last output
        double[] s = TinyModels.scalarStep(input, h);
        h = s[0];
        out = s[1];
        if (t >= n) {
          expected[(t - n) * B + b] = out;
        }
      }
    }
    assertClose(expected, loop.outputs(), FEEDBACK_TOL, "closed-loop outputs");
    assertBitsEqual(Arrays.copyOfRange(y, n * B, (n + K) * B), loop.targets(), "targets at the feedback steps");
    assertEquals(n, loop.firstStep());

    // The same as generating from the teacher-forced prefix: generation's steps 1..K.
    Generation g = Generator.generate(params, engine, Arrays.copyOf(x, n * B), n, B, K + 1, Sampler.identity());
    assertBitsEqual(Arrays.copyOfRange(g.outputs(), B, (K + 1) * B), loop.outputs(), "closed loop vs generation");
  }

  @Test
  void closedLoopWithClassesSlicesTheClassTargets() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    int T = 4, B = 1;
    float[] x = oneHot(new int[][] {{0, 1, 2, 3}}, T);
    int[] classes = {1, 2, 3, 0};
    Batch batch = new Batch(T, B, V, x, null, classes, null);
    ClosedLoop loop = Generator.closedLoop(params, engine, batch, 2, 2, Sampler.argmax());
    assertIntsEqual(new int[] {3, 0}, loop.classes(), "class targets at steps 2, 3");
    for (int k = 0; k < 2; k++) {
      int predicted = ClassSampler.argmaxOf(loop.outputs(), loop.outputAt(k, 0, 0), V);
      assertEquals(loop.classes()[k], predicted, "the successor model predicts its own feedback perfectly at k=" + k);
    }
  }

  @Test
  void samplersThatDoNotFitTheModelAreRefused() {
    Params classes = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    Params scalar = TinyModels.scalar();
    float[] onePrimer = oneHot(new int[][] {{0}}, 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(classes, engine, onePrimer, 1, 1, 2, Sampler.identity()));
    assertTrue(e.getMessage().contains("logits"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(scalar, engine, new float[] {0f}, 1, 1, 2, Sampler.argmax()));
    assertTrue(e.getMessage().contains("mse"), e.getMessage());

    ModelConfig wide = new ModelConfig(CellType.RNN, 1, 2, 3, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(Params.zeros(wide), engine, new float[2], 1, 1, 2, Sampler.argmax()));
    assertTrue(e.getMessage().contains("F == O"), e.getMessage());
    ModelConfig regression = new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
    e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(Params.zeros(regression), engine, new float[2], 1, 1, 2, Sampler.identity()));
    assertTrue(e.getMessage().contains("O == F"), e.getMessage());

    Params seq2one = TinyModels.successor(V, 1f, Mode.SEQ2ONE);
    e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(seq2one, engine, onePrimer, 1, 1, 2, Sampler.argmax()));
    assertTrue(e.getMessage().contains("seq2seq"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(classes, engine, onePrimer, 1, 1, 0, Sampler.argmax()));
  }

  /** A finite output that a change of units takes to ±Inf is refused, not fed back (a review). */
  @Test
  void aFeedbackMapThatOverflowsIsRefused() {
    Params params = TinyModels.scalar();
    Batch batch = new Batch(4, 1, 1, new float[] {0.1f, 0.2f, 0.3f, 0.4f}, new float[4], null, null);
    Sampler overflow = Sampler.continuous(y -> new float[] {(float) (y[0] * 1e39 + 1e39)}, "x1e39");   // over Float.MAX_VALUE
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Generator.closedLoop(params, engine, batch, 2, 2, overflow));
    assertTrue(e.getMessage().contains("becomes the input") && e.getMessage().contains("x1e39"), e.getMessage());
  }

  /** A primer sequence of length 0 has no last step to start from: refused naming it (generate's javadoc: lengths ≥ 1). */
  @Test
  void aPrimerSequenceOfLengthZeroIsRefused() {
    Params params = TinyModels.successor(V, 1f, Mode.SEQ2SEQ);
    Batch primer = new Batch(2, 2, V, oneHot(new int[][] {{0, 1}, {}}, 2), null, null, new int[] {2, 0});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Generator.generate(params, engine, primer, 2, Sampler.argmax()));
    assertTrue(e.getMessage().contains("primer sequence 1 has length 0"), e.getMessage());
  }

  @Test
  void closedLoopNeedsEnoughSteps() {
    Params scalar = TinyModels.scalar();
    Batch batch = new Batch(4, 1, 1, new float[4], new float[4], null, null);
    assertThrows(IllegalArgumentException.class, () -> Generator.closedLoop(scalar, engine, batch, 2, 3, Sampler.identity()));
    assertThrows(IllegalArgumentException.class, () -> Generator.closedLoop(scalar, engine, batch, 0, 2, Sampler.identity()));
    Batch shortRow = new Batch(4, 1, 1, new float[4], new float[4], null, new int[] {3});
    assertThrows(IllegalArgumentException.class, () -> Generator.closedLoop(scalar, engine, shortRow, 2, 2, Sampler.identity()));
  }

  /** closedLoop's javadoc: K ≥ 1; K = 0 would return an empty loop whose loss is 0/0. */
  @Test
  void closedLoopNeedsAtLeastOneFeedbackStep() {
    Batch batch = new Batch(4, 1, 1, new float[4], new float[4], null, null);
    assertThrows(IllegalArgumentException.class, () -> Generator.closedLoop(TinyModels.scalar(), engine, batch, 2, 0, Sampler.identity()));
  }

  /** ClosedLoop.outputAt(k, b, o) indexes [K][B][O]: checked against the float64 recurrence with B = 2, O = 1. */
  @Test
  void closedLoopOutputAtIndexesStepThenSequence() {
    Params params = TinyModels.scalar();
    int T = 5, B = 2, n = 2, K = 3;
    float[] x = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(1.3 * i + 0.2);
    }
    ClosedLoop loop = Generator.closedLoop(params, engine, new Batch(T, B, 1, x, new float[T * B], null, null), n, K,
        Sampler.identity());
    for (int b = 0; b < B; b++) {
      double h = 0;
      double out = 0;
      for (int t = 0; t < n + K; t++) {
        double[] s = TinyModels.scalarStep(t < n ? x[t * B + b] : out, h);   // true x for t < n, then the last output
        h = s[0];
        out = s[1];
        if (t >= n) {
          assertEquals(out, loop.outputs()[loop.outputAt(t - n, b, 0)], FEEDBACK_TOL, "k=" + (t - n) + ", b=" + b);
        }
      }
    }
  }
}
