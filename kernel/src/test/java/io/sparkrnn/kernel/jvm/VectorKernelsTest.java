package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The Vector API kernels' nonlinearities give the same bits wherever a value falls: in a vector
 * lane or in the scalar tail of a loop (so results do not depend on the vector width or on H mod
 * V), and the fused LSTM and GRU cells give the bits of their definition in {@link MathKernels}
 * (the composition of σ, tanh and the cell equations, row by row).
 */
class VectorKernelsTest {
  static final int V = FloatVector.SPECIES_PREFERRED.length();
  static VectorKernels vector;
  /** The same σ and tanh, with MathKernels' own (composed) lstmCell and gruCell. */
  static MathKernels composed;

  @BeforeAll
  static void kernels() {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    vector = new VectorKernels();
    composed = new MathKernels() {
      @Override
      public void gemm(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb, float[] c,
          int cOff, int ldc) {
        vector.gemm(M, N, K, a, aOff, lda, transA, b, bOff, ldb, c, cOff, ldc);
      }

      @Override
      public void sigmoid(float[] x, int off, int n) {
        vector.sigmoid(x, off, n);
      }

      @Override
      public void tanh(float[] src, int srcOff, float[] dst, int dstOff, int n) {
        vector.tanh(src, srcOff, dst, dstOff, n);
      }

      @Override
      public String describe() {
        return "composed";
      }
    };
  }

  /** Inputs across the whole range, the clamps and the special values. */
  static float[] inputs(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    float[] special = {0f, -0f, 1e-30f, -1e-30f, 87f, -87f, 88f, 89f, -100f, 100f, 1e30f, -1e30f};
    for (int i = 0; i < n; i++) {
      x[i] = i < special.length ? special[i] : (float) (r.nextDouble() * 24 - 12) * (i % 7 == 0 ? 8 : 1);
    }
    return x;
  }

  @Test
  void scalarExpIsTheLaneFormula() {
    float[] x = inputs(64 * V, 1);
    float[] lanes = new float[x.length];
    for (int i = 0; i < x.length; i += V) {
      VectorKernels.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, i)).intoArray(lanes, i);
    }
    for (int i = 0; i < x.length; i++) {
      assertEquals(Float.floatToRawIntBits(lanes[i]), Float.floatToRawIntBits(VectorKernels.exp(x[i])),
          "e^" + x[i] + ": lane " + lanes[i] + ", scalar " + VectorKernels.exp(x[i]));
    }
  }

  /** n = 3V + 5: the last 5 values go through the scalar tail; they must equal the same values computed in lanes. */
  @ParameterizedTest(name = "special values in the tail: {0}")
  @ValueSource(booleans = {false, true})
  void sigmoidAndTanhTailsGiveTheLaneBits(boolean specialsInTail) {
    int n = 3 * V + 5;
    float[] x = inputs(4 * V, 2);
    if (specialsInTail) {
      float[] special = {0f, -0f, 1e30f, -100f, 89f};
      System.arraycopy(special, 0, x, 3 * V, special.length); // the 5 values the tail computes
    }
    float[] sigAll = x.clone();
    vector.sigmoid(sigAll, 0, 4 * V); // every value in a lane
    float[] sigTail = x.clone();
    vector.sigmoid(sigTail, 0, n);
    float[] tanhAll = new float[4 * V];
    vector.tanh(x, 0, tanhAll, 0, 4 * V);
    float[] tanhTail = new float[4 * V];
    vector.tanh(x, 0, tanhTail, 0, n);
    for (int i = 0; i < n; i++) {
      assertEquals(Float.floatToRawIntBits(sigAll[i]), Float.floatToRawIntBits(sigTail[i]), "σ(" + x[i] + ") at " + i);
      assertEquals(Float.floatToRawIntBits(tanhAll[i]), Float.floatToRawIntBits(tanhTail[i]), "tanh(" + x[i] + ") at " + i);
    }
    for (int i = 0; i < n; i++) {
      if (Math.abs(x[i]) < 80) {
        assertEquals(1 / (1 + Math.exp(-x[i])), sigAll[i], 1e-6, "σ(" + x[i] + ")");
        assertEquals(Math.tanh(x[i]), tanhAll[i], 1e-6, "tanh(" + x[i] + ")");
      }
    }
  }

  /** H = V·k (lanes only), H with a tail, and H below V (tail only). */
  @ParameterizedTest(name = "H = {0}")
  @ValueSource(ints = {16, 40, 64, 5})
  void fusedLstmCellGivesTheBitsOfItsDefinition(int H) {
    int rows = 3;
    float[] a = inputs(rows * 4 * H, 3);
    float[] c = inputs(2 * rows * H, 4); // c_t in the first rows·H values, c_{t+1} written after them
    float[][] got = lstm(vector, a, c, rows, H);
    float[][] want = lstm(composed, a, c, rows, H);
    String[] names = {"gates", "c", "tanh c", "h"};
    for (int k = 0; k < names.length; k++) {
      assertArrayEquals(want[k], got[k], names[k] + " at H = " + H);
    }
  }

  @ParameterizedTest(name = "H = {0}")
  @ValueSource(ints = {16, 40, 64, 5})
  void fusedGruCellGivesTheBitsOfItsDefinition(int H) {
    int rows = 3;
    float[] a = inputs(rows * 3 * H, 5);
    float[] gh = inputs(rows * 3 * H, 6);
    float[] h = inputs(2 * rows * H, 7);
    float[][] got = gru(vector, a, gh, h, rows, H);
    float[][] want = gru(composed, a, gh, h, rows, H);
    String[] names = {"gates", "W_hn h + b_hn", "h"};
    for (int k = 0; k < names.length; k++) {
      assertArrayEquals(want[k], got[k], names[k] + " at H = " + H);
    }
  }

  /**
   * The same comparisons 20,000 times, so that both sides also run as C2 compiles them (a single
   * call runs interpreted): the bits must not change with the JIT tier.
   */
  @Test
  void fusedCellsKeepTheirBitsOnceCompiled() {
    int rows = 3;
    int H = 40; // lanes and a tail on 512- and 256-bit vectors
    float[] a = inputs(rows * 4 * H, 8);
    float[] c = inputs(2 * rows * H, 9);
    float[] ag = inputs(rows * 3 * H, 10);
    float[] gh = inputs(rows * 3 * H, 11);
    float[] h = inputs(2 * rows * H, 12);
    float[][] lstmWant = lstm(composed, a, c, rows, H);
    float[][] gruWant = gru(composed, ag, gh, h, rows, H);
    for (int i = 0; i < 20_000; i++) {
      float[][] lstmGot = lstm(vector, a, c, rows, H);
      float[][] gruGot = gru(vector, ag, gh, h, rows, H);
      if (i % 1000 == 999 || !java.util.Arrays.deepEquals(lstmGot, lstmWant) || !java.util.Arrays.deepEquals(gruGot, gruWant)) {
        assertTrue(java.util.Arrays.deepEquals(lstmGot, lstmWant), "lstmCell changed bits at call " + i);
        assertTrue(java.util.Arrays.deepEquals(gruGot, gruWant), "gruCell changed bits at call " + i);
        assertTrue(java.util.Arrays.deepEquals(lstm(composed, a, c, rows, H), lstmWant), "the composition changed bits at call " + i);
      }
    }
  }

  private static float[][] lstm(MathKernels m, float[] a0, float[] c0, int rows, int H) {
    float[] a = a0.clone();
    float[] c = c0.clone();
    float[] tc = new float[rows * H + 2]; // offsets 1 and 2 below: the cell must honour them
    float[] h = new float[rows * H + 2];
    m.lstmCell(a, 0, c, 0, rows * H, tc, 1, h, 2, rows, H);
    return new float[][] {a, c, tc, h};
  }

  private static float[][] gru(MathKernels m, float[] a0, float[] gh, float[] h0, int rows, int H) {
    float[] a = a0.clone();
    float[] h = h0.clone();
    float[] hn = new float[rows * H + 1];
    m.gruCell(a, 0, gh, 0, hn, 1, h, 0, rows * H, rows, H);
    return new float[][] {a, hn, h};
  }
}
