package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.CsvSource;
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
    String lanes = System.getProperty("sparkrnn.test.lanes"); // set by kernel/pom.xml's narrow-vector executions
    if (lanes != null) {
      // MaxVectorSize narrows, never widens: a host with 128-bit vectors runs the 256-bit execution at 4 lanes again.
      assertTrue(V <= Integer.parseInt(lanes), "-XX:MaxVectorSize narrows the preferred species to at most " + lanes + " floats, found " + V);
      if (V < Integer.parseInt(lanes)) {
        System.out.println("VectorKernelsTest: asked for " + lanes + " lanes, this host has " + V);
      }
    }
    vector = new VectorKernels();
    composed = new MathKernels() {
      @Override
      public void gemm(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb, float[] c,
          int cOff, int ldc) {
        vector.gemm(M, N, K, a, aOff, lda, transA, b, bOff, ldb, c, cOff, ldc);
      }

      @Override
      public int lanes() {
        return vector.lanes();
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

  /** The engine's choice: with the module loaded, these kernels, at the lane count the JVM prefers (once 8-lane hosts got the scalar loops). */
  @Test
  void theEngineUsesTheseKernels() {
    MathKernels best = MathKernels.best();
    assertTrue(best instanceof VectorKernels, best.describe());
    assertEquals(V, best.lanes());
  }

  /**
   * Past the clamps, e^x as float arithmetic has it: up to the largest finite result (e^88.72 ≈
   * 3.4e38) close to Math.exp, +∞ above it, e^−87 for everything below −87, NaN for NaN; in lanes and
   * in the scalar form alike.
   */
  @Test
  void expPastTheClamps() {
    // Four groups (top of the range, overflow, underflow, NaN), each in its own slot of whole vectors at least 6 long,
    // so that no group runs into the next whatever the lane count (V = 4 on NEON, 16 with AVX-512).
    int slot = (Math.max(V, 6) + V - 1) / V * V;
    float[] x = new float[4 * slot];
    float[] top = new float[V];
    for (int i = 0; i < V; i++) {
      top[i] = 88.3f + 0.42f * i / V; // k stops at 127 from 88.376 on, so r = x − 127·ln 2 grows past ln 2/2 (to 0.66 with 16 lanes)
    }
    float[] over = {88.73f, 89f, 100f, 1e30f, Float.MAX_VALUE, Float.POSITIVE_INFINITY};
    float[] under = {Math.nextDown(-87f), -87.5f, -100f, -1e30f, -Float.MAX_VALUE, Float.NEGATIVE_INFINITY};
    System.arraycopy(top, 0, x, 0, top.length);
    System.arraycopy(over, 0, x, slot, over.length);
    System.arraycopy(under, 0, x, 2 * slot, under.length);
    x[3 * slot] = Float.NaN;
    float[] lanes = new float[x.length];
    for (int i = 0; i < x.length; i += V) {
      VectorKernels.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, i)).intoArray(lanes, i);
    }
    float floor = VectorKernels.exp(-87f);
    assertEquals(Math.exp(-87), floor, 4e-7 * Math.exp(-87));
    for (int i = 0; i < x.length; i++) {
      float scalar = VectorKernels.exp(x[i]);
      if (i < top.length) {
        assertEquals(Math.exp(x[i]), lanes[i], 1.2e-6 * Math.exp(x[i]), "e^" + x[i]);
      } else if (i >= slot && i < slot + over.length) {
        assertEquals(Float.POSITIVE_INFINITY, lanes[i], "e^" + x[i]);
      } else if (i >= 2 * slot && i < 2 * slot + under.length) {
        assertEquals(floor, lanes[i], "e^" + x[i]);
      } else if (i == 3 * slot) {
        assertTrue(Float.isNaN(lanes[i]) && Float.isNaN(scalar), "e^NaN: lane " + lanes[i] + ", scalar " + scalar);
        continue;
      }
      assertEquals(Float.floatToRawIntBits(lanes[i]), Float.floatToRawIntBits(scalar), "e^" + x[i] + ": lane against scalar");
    }
  }

  @Test
  void scalarExpIsTheLaneFormula() {
    float[] x = inputs(64 * V, 1);
    // The clamps' edges: −87 (below it the low clamp), 88.376 (k stops at 127), 88.72284 (the last finite e^x) and
    // 88.72285 (the first +∞, the integer min on t's bits), then the specials.
    float[] beyond = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Math.nextDown(-87f), -87f, 88.376f,
        88.72284f, 88.72285f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE};
    System.arraycopy(beyond, 0, x, 3 * V, beyond.length);
    float[] lanes = new float[x.length];
    for (int i = 0; i < x.length; i += V) {
      VectorKernels.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, i)).intoArray(lanes, i);
    }
    for (int i = 0; i < x.length; i++) {
      assertEquals(Float.floatToRawIntBits(lanes[i]), Float.floatToRawIntBits(VectorKernels.exp(x[i])),
          "e^" + x[i] + ": lane " + lanes[i] + ", scalar " + VectorKernels.exp(x[i]));
    }
  }

  /**
   * n = 3V + t with a tail of t = min(5, V − 1) values (5 with 8 or 16 lanes, 3 with 4), which the
   * scalar tail computes; they must equal the same values computed in lanes.
   */
  @ParameterizedTest(name = "special values in the tail: {0}")
  @ValueSource(booleans = {false, true})
  void sigmoidAndTanhTailsGiveTheLaneBits(boolean specialsInTail) {
    int tail = Math.min(5, V - 1);
    int n = 3 * V + tail;
    float[] x = inputs(4 * V, 2);
    if (specialsInTail) {
      float[] special = {89f, -100f, 0f, -0f, 1e30f}; // the first `tail` of them in the tail
      System.arraycopy(special, 0, x, 3 * V, tail);
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

  /**
   * Hidden sizes for the cell tests: multiples of 8 and 16 (lanes only on 256-bit vectors, and at 16
   * and 64 on 512-bit ones), 40 (a tail of 8 on 512-bit vectors), 2V + 3 (lanes and a tail whatever
   * the vector width) and 5 (below V: tail only).
   */
  static IntStream hiddenSizes() {
    return IntStream.of(16, 40, 64, 2 * V + 3, 5);
  }

  @ParameterizedTest(name = "H = {0}")
  @MethodSource("hiddenSizes")
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
  @MethodSource("hiddenSizes")
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

  /** The vectorised LSTM backward cell against MathKernels' scalar loops, which define it: lanes, a tail, tail only. */
  @ParameterizedTest(name = "H = {0}")
  @MethodSource("hiddenSizes")
  void fusedLstmCellBackGivesTheBitsOfItsDefinition(int H) {
    int rows = 3;
    float[][] got = lstmBack(vector, rows, H);
    float[][] want = lstmBack(composed, rows, H);
    String[] names = {"dgates", "dh carry", "dc carry"};
    for (int k = 0; k < names.length; k++) {
      assertArrayEquals(want[k], got[k], names[k] + " at H = " + H);
    }
    for (float v : got[1]) {
      assertEquals(0f, v, "dh carry is zeroed for the caller's product");
    }
  }

  /**
   * dW_ih at F = 1 (gemmTransA with N = 1: vectors along M): every row is the fused multiply-add
   * chain s = fma(A[k][i], b[k], s) over k from 0, added to C, bit for bit, whether it falls in the
   * 4V-row blocks, a V-row block or the scalar tail (M = 5V + 3); and within float32 rounding of
   * the float64 sum.
   */
  @Test
  void columnWeightGradientIsTheFmaChainOfEachRow() {
    int M = 5 * V + 3;
    int K = 37;
    int lda = M + 2;
    int ldb = 3; // b is a column of a [K][3] matrix
    float[] a = inputs(K * lda + 1, 13);
    float[] b = inputs(K * ldb + 2, 14);
    float[] c = inputs(M + 4, 15);
    float[] got = c.clone();
    vector.gemmTransA(M, 1, K, a, 1, lda, b, 2, ldb, got, 4, 1, new float[vector.transAWorkSize(M)]);
    for (int i = 0; i < M; i++) {
      float s = 0f;
      double exact = 0;
      for (int k = 0; k < K; k++) {
        s = Math.fma(a[1 + k * lda + i], b[2 + k * ldb], s);
        exact += (double) a[1 + k * lda + i] * b[2 + k * ldb];
      }
      assertEquals(Float.floatToRawIntBits(c[4 + i] + s), Float.floatToRawIntBits(got[4 + i]), "row " + i);
      double scale = 0;
      for (int k = 0; k < K; k++) {
        scale += Math.abs((double) a[1 + k * lda + i] * b[2 + k * ldb]);
      }
      assertEquals(c[4 + i] + exact, got[4 + i], 1e-6 * (scale + Math.abs(c[4 + i])) + 1e-30, "row " + i + " against float64");
    }
    for (int i = 0; i < 4; i++) {
      assertEquals(c[i], got[i], "C before its offset is untouched");
    }
  }

  /**
   * The matrix product's rows: a row alone (M = 1, a B = 1 forward step) and each row of a tiled
   * M = 21 (two 8-row tiles, a 4-row tile and a lone row; in the tail columns two 8-row blocks and
   * five rows alone) are, bit for bit, the definition — element (i, j) of
   * a column in a full vector is the chain c = fma(A[i][k], B[k][j], c) over k from C's value, of a
   * tail column C + Σ_k A[i][k]·B[k][j] summed in float — for N with every kind of column strip
   * (8V, 2V, V and a scalar tail), A read plain and transposed.
   */
  @ParameterizedTest(name = "transA = {0}")
  @ValueSource(booleans = {false, true})
  void gemmRowsAloneAndInTilesAreTheFmaChainOfEachElement(boolean transA) {
    int M = 21;
    int N = 8 * V + 2 * V + V + 3;
    int K = 37;
    int lda = transA ? M + 1 : K + 2;
    int ldb = N + 5;
    int ldc = N + 1;
    float[] a = inputs((transA ? K : M) * lda, 16);
    float[] b = inputs(K * ldb, 17);
    float[] c = inputs(M * ldc, 18);
    float[] tiled = c.clone();
    vector.gemm(M, N, K, a, 0, lda, transA, b, 0, ldb, tiled, 0, ldc);
    for (int i = 0; i < M; i++) {
      float[] alone = c.clone();
      vector.gemm(1, N, K, a, transA ? i : i * lda, lda, transA, b, 0, ldb, alone, i * ldc, ldc);
      for (int j = 0; j < N; j++) {
        float want;
        if (j < N / V * V) {
          want = c[i * ldc + j];
          for (int k = 0; k < K; k++) {
            want = Math.fma(a[transA ? k * lda + i : i * lda + k], b[k * ldb + j], want);
          }
        } else {
          float s = 0f;
          for (int k = 0; k < K; k++) {
            s += a[transA ? k * lda + i : i * lda + k] * b[k * ldb + j];
          }
          want = c[i * ldc + j] + s;
        }
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(alone[i * ldc + j]), "row " + i + " alone, column " + j);
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(tiled[i * ldc + j]), "row " + i + " of " + M + ", column " + j);
      }
    }
  }

  /**
   * The packed product (B packed once, A's row blocks packed per call) is, bit for bit, gemm's
   * definition: element (i, j) of a column in a full vector is the chain c = fma(A[i][k], B[k][j],
   * c) over k from C's value, of a tail column C + Σ_k A[i][k]·B[k][j] summed in float per k block
   * of 256 — with packed 8-row blocks, rows 4 at a time in place (their strips in pairs, an odd
   * last strip from B in place) and rows past them, strips of 2V, a V-wide strip and a tail, and K
   * over one k block (300) and within one (37); narrow products (≤ 4 strips, one k block) take
   * every row 4 at a time. Below 16 lanes the rows go 6 at a time, then 4 at a time where that
   * leaves as few rows over as can be (M = 21: two of 6, two of 4, one past), in place over one packed strip
   * (gemmPackedNarrow), and the same comparison holds.
   */
  @ParameterizedTest(name = "K = {0}, M = {1}, {2} strips of 2V, tail {3}")
  @CsvSource({
      "37, 21, 2, true", // narrow: five 4-row groups, one row past them
      "300, 21, 2, true", // two k blocks: two packed 8-row blocks, a 4-row group, one row past
      "37, 6, 3, true", // narrow: a 4-row group, a pair of strips and an odd one; two rows past
      "300, 4, 1, true", // a 4-row group whose only strip is odd
      "300, 13, 3, true", // a packed 8-row block, a 4-row group, one row past
      "37, 21, 5, true", // one k block, 5 strips (not narrow): packed 8-row blocks, a 4-row group
      "37, 19, 6, false", // packed 8-row blocks and three rows past them, no tail columns
      "256, 8, 4, false", // narrow at exactly one k block, no tail columns
      "300, 3, 2, true"}) // fewer than 4 rows: gemm's tiles
  void gemmPackedIsTheFmaChainOfEachElement(int K, int M, int strips, boolean tail) {
    int N = strips * (2 * V) + (tail ? V + 3 : 0);
    int lda = K + 3;
    int ldb = N + 5;
    int ldc = N + 1;
    int ao = 1, bo = 2, co = 4; // offsets into each array, as the engine passes them
    float[] a = inputs(ao + M * lda, 31);
    float[] b = inputs(bo + K * ldb, 32);
    float[] c = inputs(co + M * ldc, 33);
    float[] packed = new float[vector.packedBSize(K, N)];
    vector.packB(K, N, b, bo, ldb, packed);
    float[] got = c.clone();
    vector.gemmPacked(M, N, K, a, ao, lda, b, bo, ldb, packed, got, co, ldc, new float[vector.packedWorkSize(M)]);
    for (int i = 0; i < M; i++) {
      for (int j = 0; j < ldc; j++) {
        float want = c[co + i * ldc + j];
        if (j < N / V * V) {
          for (int k = 0; k < K; k++) {
            want = Math.fma(a[ao + i * lda + k], b[bo + k * ldb + j], want);
          }
        } else if (j < N) {
          for (int k0 = 0; k0 < K; k0 += VectorKernels.KC) {
            float s = 0f;
            for (int k = k0; k < Math.min(K, k0 + VectorKernels.KC); k++) {
              s += a[ao + i * lda + k] * b[bo + k * ldb + j];
            }
            want += s;
          }
        }
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[co + i * ldc + j]), "row " + i + ", column " + j);
      }
    }
  }

  @ParameterizedTest(name = "M = {0}, N = {1}")
  @CsvSource({"1, 67", "3, 64", "8, 96", "13, 83", "64, 1024", "5, 7"}) // M < 4 takes gemm's row path; N past the vectors, its scalar tail
  void biasPlusOuterGivesTheBitsOfTheFillAndTheProduct(int M, int N) {
    int ldc = N + 3;
    int co = 2, bo = 1, xo = 3, wo = 5;
    float[] bias = inputs(bo + N, 41);
    float[] x = inputs(xo + M, 42);
    float[] w = inputs(wo + N, 43);
    float[] want = inputs(co + M * ldc, 44);
    float[] got = want.clone();
    for (int m = 0; m < M; m++) {
      System.arraycopy(bias, bo, want, co + m * ldc, N);
    }
    vector.gemm(M, N, 1, x, xo, 1, false, w, wo, N, want, co, ldc); // what the engine did before: fill, then the product
    vector.biasPlusOuter(M, N, bias, bo, x, xo, w, wo, got, co, ldc);
    for (int i = 0; i < want.length; i++) {
      assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i);
    }
  }

  @ParameterizedTest(name = "M = {0}, {1} strips, K = {2}, tail {3}")
  @CsvSource({
      "32, 8, 64, false", // fused: LSTM H = 64 at 32 sequences a slice
      "16, 32, 256, false", // fused: LSTM H = 256, one full k block
      "8, 5, 37, false", // fused: one 8-row block, the fewest strips that are not narrow
      "13, 8, 64, false", // rows past the 8-row blocks: the two steps
      "32, 4, 64, false", // narrow: the two steps
      "16, 8, 300, false", // two k blocks: the two steps
      "16, 8, 64, true"}) // columns past the strips: the two steps
  void gemmPackedBiasOuterGivesTheBitsOfBiasPlusOuterThenTheProduct(int M, int strips, int K, boolean tail) {
    int N = strips * (2 * V) + (tail ? V + 3 : 0);
    int lda = K + 3;
    int ldc = N + 1;
    int ao = 1, bo = 2, co = 4, biasOff = 3, xo = 5, wo = 6;
    float[] a = inputs(ao + M * lda, 61);
    float[] b = inputs(bo + K * N, 62);
    float[] bias = inputs(biasOff + N, 63);
    float[] x = inputs(xo + M, 64);
    float[] w = inputs(wo + N, 65);
    float[] packed = new float[vector.packedBSize(K, N)];
    vector.packB(K, N, b, bo, N, packed);
    float[] want = inputs(co + M * ldc, 66);
    float[] got = want.clone();
    vector.biasPlusOuter(M, N, bias, biasOff, x, xo, w, wo, want, co, ldc); // the two steps the engine took before
    vector.gemmPacked(M, N, K, a, ao, lda, b, bo, N, packed, want, co, ldc, new float[vector.packedWorkSize(M)]);
    vector.gemmPackedBiasOuter(M, N, K, a, ao, lda, b, bo, N, packed, bias, biasOff, x, xo, w, wo, got, co, ldc,
        new float[vector.packedWorkSize(M)]);
    for (int i = 0; i < want.length; i++) {
      assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i);
    }
    // and the comparison can fail: another bias in one column gives other bits
    float[] other = want.clone();
    bias[biasOff + N / 2] += 1000f;
    vector.gemmPackedBiasOuter(M, N, K, a, ao, lda, b, bo, N, packed, bias, biasOff, x, xo, w, wo, other, co, ldc,
        new float[vector.packedWorkSize(M)]);
    assertFalse(Arrays.equals(want, other), "a changed bias changed nothing");
  }

  @ParameterizedTest(name = "M = {0}, N1 = {1}, N2 = {2}")
  @CsvSource({"1024, 64, 256", "72, 40, 37", "64, 1, 64", "13, 64, 256", "520, 3, 33", "72, 3, 5"}) // A packed for both; A in place; N1 = 1; M below 64; tails; no full strip
  void gemmTransA2GivesTheBitsOfTwoProducts(int M, int N1, int N2) {
    int K = 300; // two k blocks
    int lda = M + 3;
    float[] a = inputs(1 + K * lda, 51);
    float[] b1 = inputs(2 + K * (N1 + 1), 52);
    float[] b2 = inputs(3 + K * (N2 + 2), 53);
    float[] c = inputs(M * N1 + M * N2 + 7, 54);
    float[] want = c.clone();
    float[] work = new float[vector.transAWorkSize(M)];
    vector.gemmTransA(M, N1, K, a, 1, lda, b1, 2, N1 + 1, want, 0, N1, work);
    vector.gemmTransA(M, N2, K, a, 1, lda, b2, 3, N2 + 2, want, M * N1 + 5, N2, work);
    float[] got = c.clone();
    vector.gemmTransA2(M, K, a, 1, lda, N1, b1, 2, N1 + 1, got, 0, N1, N2, b2, 3, N2 + 2, got, M * N1 + 5, N2, work);
    for (int i = 0; i < want.length; i++) {
      assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i);
    }
    if (N1 > 1) { // and both against gemm's own tiles, A read in place (N = 1 takes columnTransA's chain instead)
      float[] inPlace = c.clone();
      vector.gemm(M, N1, K, a, 1, lda, true, b1, 2, N1 + 1, inPlace, 0, N1);
      vector.gemm(M, N2, K, a, 1, lda, true, b2, 3, N2 + 2, inPlace, M * N1 + 5, N2);
      for (int i = 0; i < inPlace.length; i++) {
        assertEquals(Float.floatToRawIntBits(inPlace[i]), Float.floatToRawIntBits(got[i]), "element " + i + " against gemm");
      }
    }
  }

  /**
   * The weight-gradient product C += Aᵀ B (A stored [K][M]) with its scratch — A's row blocks and
   * B's 2V strips packed per k block, 77 rows (nine blocks of 8 and five past them; below 16 lanes
   * twelve blocks of 6, one of 4, always packed, and one row past them), A's blocks packed (more than 4 strips)
   * or read in place (4 or fewer), K over one k block — is, bit for bit, gemm's definition, as in
   * {@link #gemmPackedIsTheFmaChainOfEachElement}.
   */
  @ParameterizedTest(name = "{0} strips of 2V")
  @ValueSource(ints = {2, 5}) // A read in place (few strips), A packed (more than 4)
  void gemmTransAWithItsScratchIsTheFmaChainOfEachElement(int strips) {
    int M = 77;
    int N = strips * (2 * V) + V + 3;
    int K = 300;
    int lda = M + 3;
    int ldb = N + 5;
    int ldc = N + 1;
    float[] a = inputs(K * lda, 41);
    float[] b = inputs(K * ldb, 42);
    float[] c = inputs(M * ldc, 43);
    float[] got = c.clone();
    vector.gemmTransA(M, N, K, a, 0, lda, b, 0, ldb, got, 0, ldc, new float[vector.transAWorkSize(M)]);
    for (int i = 0; i < M; i++) {
      for (int j = 0; j < ldc; j++) {
        float want = c[i * ldc + j];
        if (j < N / V * V) {
          for (int k = 0; k < K; k++) {
            want = Math.fma(a[k * lda + i], b[k * ldb + j], want);
          }
        } else if (j < N) {
          for (int k0 = 0; k0 < K; k0 += VectorKernels.KC) {
            float s = 0f;
            for (int k = k0; k < Math.min(K, k0 + VectorKernels.KC); k++) {
              s += a[k * lda + i] * b[k * ldb + j];
            }
            want += s;
          }
        }
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i * ldc + j]), "row " + i + ", column " + j);
      }
    }
  }

  /**
   * The narrow head (N &lt; 8, K ≥ 16) gives every element dot16's bits, added to what C held, at
   * every M (rows in the vector blocks of four and past them), and is within float32 rounding of
   * the float64 product; N ≥ 8 and K &lt; 16 are gemm's. The tests also run at 8 and 4 lanes (the
   * pom's narrow executions: two vectors a row, and scalars): the same assertions, so the same bits.
   */
  @ParameterizedTest
  @CsvSource({"1, 1, 64", "7, 1, 64", "64, 1, 64", "9, 2, 13", "5, 7, 256", "7, 3, 37", "6, 3, 8", "8, 8, 64", "4, 1, 5", "5, 1, 16", "5, 2, 17"}) // K = 16: the tree alone; 17: one tail product
  void theNarrowHeadSumsInSixteenPartialSums(int M, int N, int K) {
    SplittableRandom r = new SplittableRandom(M * 31L + N * 7L + K);
    int lda = K + 3, ldw = K + 1, ldc = N + 2;
    float[] a = new float[M * lda + 5];
    float[] w = new float[N * ldw + 2];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) r.nextDouble(-1, 1);
    }
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) r.nextDouble(-1, 1);
    }
    float[] wT = new float[K * N];
    for (int j = 0; j < N; j++) {
      for (int k = 0; k < K; k++) {
        wT[k * N + j] = w[2 + j * ldw + k];
      }
    }
    float[] bias = new float[M * ldc + 1];
    for (int i = 0; i < bias.length; i++) {
      bias[i] = (float) r.nextDouble(-1, 1);
    }
    float[] c = bias.clone();
    vector.head(M, N, K, a, 5, lda, w, 2, ldw, wT, 0, c, 1, ldc);
    float[] viaGemm = bias.clone();
    vector.gemm(M, N, K, a, 5, lda, false, wT, 0, N, viaGemm, 1, ldc);
    for (int i = 0; i < M; i++) {
      for (int j = 0; j < N; j++) {
        int at = 1 + i * ldc + j;
        double exact = bias[at];
        for (int k = 0; k < K; k++) {
          exact += (double) a[5 + i * lda + k] * w[2 + j * ldw + k];
        }
        assertEquals(exact, c[at], 1e-5 * (1 + K), "row " + i + " output " + j + " against float64");
        float expected = N < 8 && K >= 16 ? bias[at] + VectorKernels.dot16(K, a, 5 + i * lda, w, 2 + j * ldw) : viaGemm[at];
        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(c[at]), "row " + i + " output " + j + ": " + expected + " vs " + c[at]);
      }
    }
    for (int i = 0; i < M; i++) { // the padding between C's rows is untouched
      for (int j = N; j < ldc && 1 + i * ldc + j < c.length; j++) {
        assertEquals(bias[1 + i * ldc + j], c[1 + i * ldc + j]);
      }
    }
  }

  /** dot16 is its formula: 16 partial sums in k order, their fixed tree, then the tail; worked by hand. */
  @Test
  void dot16IsSixteenPartialSumsThenTheTail() {
    float[] w = new float[18];
    Arrays.fill(w, 1f);
    // p0 = 1e8, p1 = 4, p2 = −1e8, p3 = 4, the rest 0: (1e8 + 4) + (−1e8 + 4) = 1e8 + −1e8 = 0 in float
    // (1e8 ± 4 is a tie between floats 8 apart, rounded to the even 1e8), where a sum in k order gives
    // ((1e8 + 4) − 1e8) + 4 = 4
    float[] a = new float[16];
    a[0] = 1e8f;
    a[1] = 4f;
    a[2] = -1e8f;
    a[3] = 4f;
    assertEquals(0f, VectorKernels.dot16(16, a, 0, w, 0));
    // K = 18: the tail adds a[16], a[17] one by one after the tree. p0 = 1e8, the tail 4 and 4:
    // (1e8 + 4) + 4 = 1e8 (each a tie, rounded to the even 1e8), where the tail summed first gives
    // 1e8 + (4 + 4) = 100000008
    float[] b = new float[18];
    b[0] = 1e8f;
    b[16] = 4f;
    b[17] = 4f;
    assertEquals(1e8f, VectorKernels.dot16(18, b, 0, w, 0));
    // T(p0..p7) + T(p8..p15): p0 = 1e8, p1 = 4, p8 = −1e8, p9 = 4 give 1e8 + −1e8 = 0, where k order
    // gives ((1e8 + 4) − 1e8) + 4 = 4 and pairs across the halves (p0 + p8) + (p1 + p9) give 8
    float[] h = new float[16];
    h[0] = 1e8f;
    h[1] = 4f;
    h[8] = -1e8f;
    h[9] = 4f;
    assertEquals(0f, VectorKernels.dot16(16, h, 0, w, 0));
    float[] ints = new float[20];
    for (int k = 0; k < 20; k++) {
      ints[k] = k + 1;
    }
    float[] ones = new float[20];
    Arrays.fill(ones, 1f);
    assertEquals(210f, VectorKernels.dot16(20, ints, 0, ones, 0)); // small integers: exact in any order
  }

  /**
   * The same comparisons 20,000 times, so that both sides also run as C2 compiles them (a single
   * call runs interpreted): the bits must not change with the JIT tier.
   */
  @Test
  void fusedCellsKeepTheirBitsOnceCompiled() {
    int rows = 3;
    int H = 2 * V + 3; // lanes and a tail whatever the vector width
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
      if (i % 1000 == 999 || !Arrays.deepEquals(lstmGot, lstmWant) || !Arrays.deepEquals(gruGot, gruWant)) {
        assertTrue(Arrays.deepEquals(lstmGot, lstmWant), "lstmCell changed bits at call " + i);
        assertTrue(Arrays.deepEquals(gruGot, gruWant), "gruCell changed bits at call " + i);
        assertTrue(Arrays.deepEquals(lstm(composed, a, c, rows, H), lstmWant), "the composition changed bits at call " + i);
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

  /** Inputs kept small (|x| ≤ 1 as activations are) except the raw draws; offsets 1 to 6 that the cell must honour. */
  private static float[][] lstmBack(MathKernels m, int rows, int H) {
    float[] a = inputs(rows * 4 * H + 1, 16);
    float[] c = inputs(rows * H + 2, 17);
    float[] tc = inputs(rows * H + 3, 18);
    float[] dhAbove = inputs(rows * H + 4, 19);
    float[] dhCarry = inputs(rows * H + 5, 20);
    float[] dcCarry = inputs(rows * H + 5, 21);
    float[] dg = new float[rows * 4 * H + 6];
    m.lstmCellBack(a, 1, c, 2, tc, 3, dhAbove, 4, dhCarry, dcCarry, 5, dg, 6, rows, H);
    return new float[][] {dg, Arrays.copyOfRange(dhCarry, 5, 5 + rows * H), dcCarry};
  }

  private static float[][] gru(MathKernels m, float[] a0, float[] gh, float[] h0, int rows, int H) {
    float[] a = a0.clone();
    float[] h = h0.clone();
    float[] hn = new float[rows * H + 1];
    m.gruCell(a, 0, gh, 0, hn, 1, h, 0, rows * H, rows, H);
    return new float[][] {a, hn, h};
  }
}
