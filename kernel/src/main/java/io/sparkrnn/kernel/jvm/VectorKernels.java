package io.sparkrnn.kernel.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link MathKernels} with the Vector API. The matrix product is register-blocked: a micro-kernel
 * keeps an 8 × 2V (AVX-512) or 4 × 2V tile of C in registers (V = floats per vector: 16 with AVX-512, 8 with AVX2;
 * below 16 lanes the packed products take 6 × 2V tiles first) and
 * runs k through it with one broadcast of A and two vector loads of B per four pairs of fused
 * multiply-adds. Column strips of B (K × 2V floats) are walked by all row blocks in turn, so a strip
 * is read from L2 once and then served from L1. Loaded only when {@code jdk.incubator.vector} is
 * present (see {@link MathKernels#best()}).
 */
final class VectorKernels extends MathKernels {
  static {
    VectorInlining.install(); // before C2 compiles any of this class's methods (see VectorInlining)
  }

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int V = S.length();
  /**
   * 8-row tiles (16 accumulators) and A's rows packed in blocks of 8 from 16 lanes on (AVX-512, 32
   * registers); 6- and 4-row tiles below (AVX2 has 16 registers; NEON has 32 but was never measured
   * with the wide tiles). B is packed in strips of 2V at every width.
   */
  private static final boolean WIDE = V >= 16;

  /** Depth of a k block: a B strip of KC × 2V floats (32 KiB with AVX-512) stays in L1 while every row block walks it. */
  static final int KC = 256;

  @Override
  public void gemm(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc) {
    product(M, N, K, a, aOff, lda, transA, b, bOff, ldb, c, cOff, ldc);
  }

  /** {@link #gemm}: C += op(A) B, k block by k block through gemm's tiles, A and B read in place. */
  private static void product(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) {
      return;
    }
    int ai = transA ? 1 : lda; // step between rows of op(A)
    int ak = transA ? lda : 1; // step along k
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      block(M, N, kc, a, aOff + k0 * ak, ai, ak, b, bOff + k0 * ldb, ldb, c, cOff, ldc);
    }
  }

  // Packed products. Read in place, a tile's k step computes eight row offsets (A's rows lda
  // apart, k at a variable stride) and a B offset (ldb apart), each with its bounds check: C2 can
  // hoist a check out of the loop only for an index of constant stride in k, and it spilled the
  // row offsets to the stack. About 70 instructions for 16 fused multiply-adds (C2's code, read
  // with hsdis), so the 8 × 2V tile ran at 64% of the core's FMA peak. Packed, B's strip [kc][2V]
  // and A's row block [kc][8] are contiguous, every index is base + constant · k, and the checks
  // leave the loop: M=64 N=256 K=64 133 against 106–110 GFLOP/s, M=32 N=1024 K=256 154 against
  // 112–124 (one thread's CPU time, best of 7, A packed in the timing). Each element is the same
  // fma chain over k from C's value, so the same bits.

  /**
   * One pass, where filling the rows and then {@link #gemm} at K = 1 wrote C twice (its tiles load
   * C, add one product and store it): each element as gemm makes it, fma(x, w, bias) in the columns
   * its vector tiles take (j &lt; N rounded down to V) and bias + (0 + x·w) in its scalar tail
   * ({@link #tailColumns}). LSTM F = 1: the fill and the product were 2–4% of a training step.
   */
  @Override
  public void biasPlusOuter(int M, int N, float[] bias, int biasOff, float[] x, int xOff, float[] w, int wOff, float[] c, int cOff,
      int ldc) {
    int nv = N / V * V;
    for (int m = 0; m < M; m++) {
      float xm = x[xOff + m];
      FloatVector s = FloatVector.broadcast(S, xm);
      int row = cOff + m * ldc;
      for (int j = 0; j < nv; j += V) {
        s.fma(FloatVector.fromArray(S, w, wOff + j), FloatVector.fromArray(S, bias, biasOff + j)).intoArray(c, row + j);
      }
      for (int j = nv; j < N; j++) {
        float product = 0f;
        product += xm * w[wOff + j];
        c[row + j] = bias[biasOff + j] + product;
      }
    }
  }

  /**
   * A head of fewer than 8 outputs (a regression's O of 1 or 2) sums each output along k in 16
   * partial sums ({@link #dot16}'s order), four rows at a time: A's rows and W's rows are read
   * contiguously. gemm sums columns past its last vector across rows in scalars
   * ({@link #tailColumns}): LSTM H = 64, O = 1 spent 8.5% of a forward pass there. The 16 sums
   * are one vector with AVX-512, two with AVX2 and four with 128-bit vectors, so a head's bits are
   * the same on all; the
   * vectors are the preferred species': a second species (8 lanes at every width was tried) puts
   * two vector classes into the Vector API's shared type profiles, and C2 then left the engine's
   * vectors boxed in 3 JVMs of 4 (11 MB a training call at LSTM H = 64 against 171 kB). Wider
   * heads (classification over a vocabulary) take gemm's tiles; K &lt; 16 too.
   */
  @Override
  public void head(int M, int N, int K, float[] a, int aOff, int lda, float[] w, int wOff, int ldw, float[] wT, int wTOff, float[] c,
      int cOff, int ldc) {
    if (N >= 8 || K < 16) {
      super.head(M, N, K, a, aOff, lda, w, wOff, ldw, wT, wTOff, c, cOff, ldc);
      return;
    }
    for (int j = 0; j < N; j++) {
      int wj = wOff + j * ldw;
      int i = 0;
      if (V == 16) {
        for (; i + 4 <= M; i += 4) {
          dot16x4Wide(K, a, aOff + i * lda, lda, w, wj, c, cOff + i * ldc + j, ldc);
        }
      } else if (V == 8) {
        for (; i + 4 <= M; i += 4) {
          dot16x4Avx2(K, a, aOff + i * lda, lda, w, wj, c, cOff + i * ldc + j, ldc);
        }
      } else if (V == 4) {
        for (; i + 2 <= M; i += 2) {
          dot16x2Sse(K, a, aOff + i * lda, lda, w, wj, c, cOff + i * ldc + j, ldc);
        }
      }
      for (; i < M; i++) { // the rows past the last blocks, and every row at other widths
        c[cOff + i * ldc + j] += dot16(K, a, aOff + i * lda, w, wj);
      }
    }
  }

  /**
   * Four rows of {@link #dot16} with 16-lane vectors, added to c[c0 + r·ldc]: lane l of row r's
   * vector is Σ a[r][k]·w[k] over k ≡ l (mod 16), k &lt; ⌊K/16⌋·16, in k order from 0, each
   * product rounded and then added (a multiply and an add, not a fused multiply-add), then dot16's
   * tree and tail (lo + hi: partial sums 0–7 and 8–15). The tree is written out here: a vector
   * passed to a method that C2 does not inline is boxed.
   */
  private static void dot16x4Wide(int K, float[] a, int a0, int lda, float[] w, int w0, float[] c, int c0, int ldc) {
    FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
    int k16 = K & ~15;
    for (int k = 0; k < k16; k += 16) {
      FloatVector wk = FloatVector.fromArray(S, w, w0 + k);
      s0 = s0.add(FloatVector.fromArray(S, a, a0 + k).mul(wk));
      s1 = s1.add(FloatVector.fromArray(S, a, a0 + lda + k).mul(wk));
      s2 = s2.add(FloatVector.fromArray(S, a, a0 + 2 * lda + k).mul(wk));
      s3 = s3.add(FloatVector.fromArray(S, a, a0 + 3 * lda + k).mul(wk));
    }
    float lo0 = ((s0.lane(0) + s0.lane(1)) + (s0.lane(2) + s0.lane(3))) + ((s0.lane(4) + s0.lane(5)) + (s0.lane(6) + s0.lane(7)));
    float hi0 = ((s0.lane(8) + s0.lane(9)) + (s0.lane(10) + s0.lane(11))) + ((s0.lane(12) + s0.lane(13)) + (s0.lane(14) + s0.lane(15)));
    c[c0] += tail16(K, a, a0, w, w0, lo0 + hi0);
    float lo1 = ((s1.lane(0) + s1.lane(1)) + (s1.lane(2) + s1.lane(3))) + ((s1.lane(4) + s1.lane(5)) + (s1.lane(6) + s1.lane(7)));
    float hi1 = ((s1.lane(8) + s1.lane(9)) + (s1.lane(10) + s1.lane(11))) + ((s1.lane(12) + s1.lane(13)) + (s1.lane(14) + s1.lane(15)));
    c[c0 + ldc] += tail16(K, a, a0 + lda, w, w0, lo1 + hi1);
    float lo2 = ((s2.lane(0) + s2.lane(1)) + (s2.lane(2) + s2.lane(3))) + ((s2.lane(4) + s2.lane(5)) + (s2.lane(6) + s2.lane(7)));
    float hi2 = ((s2.lane(8) + s2.lane(9)) + (s2.lane(10) + s2.lane(11))) + ((s2.lane(12) + s2.lane(13)) + (s2.lane(14) + s2.lane(15)));
    c[c0 + 2 * ldc] += tail16(K, a, a0 + 2 * lda, w, w0, lo2 + hi2);
    float lo3 = ((s3.lane(0) + s3.lane(1)) + (s3.lane(2) + s3.lane(3))) + ((s3.lane(4) + s3.lane(5)) + (s3.lane(6) + s3.lane(7)));
    float hi3 = ((s3.lane(8) + s3.lane(9)) + (s3.lane(10) + s3.lane(11))) + ((s3.lane(12) + s3.lane(13)) + (s3.lane(14) + s3.lane(15)));
    c[c0 + 3 * ldc] += tail16(K, a, a0 + 3 * lda, w, w0, lo3 + hi3);
  }

  /** {@link #dot16x4Wide} with 8-lane vectors: partial sums 0–7 in l, 8–15 in h, the same bits. */
  private static void dot16x4Avx2(int K, float[] a, int a0, int lda, float[] w, int w0, float[] c, int c0, int ldc) {
    FloatVector l0 = FloatVector.zero(S), l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
    int k16 = K & ~15;
    for (int k = 0; k < k16; k += 16) {
      FloatVector wl = FloatVector.fromArray(S, w, w0 + k);
      FloatVector wh = FloatVector.fromArray(S, w, w0 + k + 8);
      l0 = l0.add(FloatVector.fromArray(S, a, a0 + k).mul(wl));
      h0 = h0.add(FloatVector.fromArray(S, a, a0 + k + 8).mul(wh));
      l1 = l1.add(FloatVector.fromArray(S, a, a0 + lda + k).mul(wl));
      h1 = h1.add(FloatVector.fromArray(S, a, a0 + lda + k + 8).mul(wh));
      l2 = l2.add(FloatVector.fromArray(S, a, a0 + 2 * lda + k).mul(wl));
      h2 = h2.add(FloatVector.fromArray(S, a, a0 + 2 * lda + k + 8).mul(wh));
      l3 = l3.add(FloatVector.fromArray(S, a, a0 + 3 * lda + k).mul(wl));
      h3 = h3.add(FloatVector.fromArray(S, a, a0 + 3 * lda + k + 8).mul(wh));
    }
    float lo0 = ((l0.lane(0) + l0.lane(1)) + (l0.lane(2) + l0.lane(3))) + ((l0.lane(4) + l0.lane(5)) + (l0.lane(6) + l0.lane(7)));
    float hi0 = ((h0.lane(0) + h0.lane(1)) + (h0.lane(2) + h0.lane(3))) + ((h0.lane(4) + h0.lane(5)) + (h0.lane(6) + h0.lane(7)));
    c[c0] += tail16(K, a, a0, w, w0, lo0 + hi0);
    float lo1 = ((l1.lane(0) + l1.lane(1)) + (l1.lane(2) + l1.lane(3))) + ((l1.lane(4) + l1.lane(5)) + (l1.lane(6) + l1.lane(7)));
    float hi1 = ((h1.lane(0) + h1.lane(1)) + (h1.lane(2) + h1.lane(3))) + ((h1.lane(4) + h1.lane(5)) + (h1.lane(6) + h1.lane(7)));
    c[c0 + ldc] += tail16(K, a, a0 + lda, w, w0, lo1 + hi1);
    float lo2 = ((l2.lane(0) + l2.lane(1)) + (l2.lane(2) + l2.lane(3))) + ((l2.lane(4) + l2.lane(5)) + (l2.lane(6) + l2.lane(7)));
    float hi2 = ((h2.lane(0) + h2.lane(1)) + (h2.lane(2) + h2.lane(3))) + ((h2.lane(4) + h2.lane(5)) + (h2.lane(6) + h2.lane(7)));
    c[c0 + 2 * ldc] += tail16(K, a, a0 + 2 * lda, w, w0, lo2 + hi2);
    float lo3 = ((l3.lane(0) + l3.lane(1)) + (l3.lane(2) + l3.lane(3))) + ((l3.lane(4) + l3.lane(5)) + (l3.lane(6) + l3.lane(7)));
    float hi3 = ((h3.lane(0) + h3.lane(1)) + (h3.lane(2) + h3.lane(3))) + ((h3.lane(4) + h3.lane(5)) + (h3.lane(6) + h3.lane(7)));
    c[c0 + 3 * ldc] += tail16(K, a, a0 + 3 * lda, w, w0, lo3 + hi3);
  }

  /**
   * {@link #dot16x4Wide} with 4-lane vectors (SSE, NEON), two rows at a time: partial sums 0–3,
   * 4–7, 8–11 and 12–15 in four vectors a row (eight accumulators, within x86's 16 vector
   * registers), the same bits. Scalar dot16 took 33 µs where gemm's tail columns took 22.6–22.8 µs at
   * 1,600 rows × 64 with 128-bit vectors.
   */
  private static void dot16x2Sse(int K, float[] a, int a0, int lda, float[] w, int w0, float[] c, int c0, int ldc) {
    FloatVector q0 = FloatVector.zero(S), q1 = q0, q2 = q0, q3 = q0, r0 = q0, r1 = q0, r2 = q0, r3 = q0;
    int k16 = K & ~15;
    int a1 = a0 + lda;
    for (int k = 0; k < k16; k += 16) {
      FloatVector w0v = FloatVector.fromArray(S, w, w0 + k);
      FloatVector w1v = FloatVector.fromArray(S, w, w0 + k + 4);
      FloatVector w2v = FloatVector.fromArray(S, w, w0 + k + 8);
      FloatVector w3v = FloatVector.fromArray(S, w, w0 + k + 12);
      q0 = q0.add(FloatVector.fromArray(S, a, a0 + k).mul(w0v));
      q1 = q1.add(FloatVector.fromArray(S, a, a0 + k + 4).mul(w1v));
      q2 = q2.add(FloatVector.fromArray(S, a, a0 + k + 8).mul(w2v));
      q3 = q3.add(FloatVector.fromArray(S, a, a0 + k + 12).mul(w3v));
      r0 = r0.add(FloatVector.fromArray(S, a, a1 + k).mul(w0v));
      r1 = r1.add(FloatVector.fromArray(S, a, a1 + k + 4).mul(w1v));
      r2 = r2.add(FloatVector.fromArray(S, a, a1 + k + 8).mul(w2v));
      r3 = r3.add(FloatVector.fromArray(S, a, a1 + k + 12).mul(w3v));
    }
    float lo0 = ((q0.lane(0) + q0.lane(1)) + (q0.lane(2) + q0.lane(3))) + ((q1.lane(0) + q1.lane(1)) + (q1.lane(2) + q1.lane(3)));
    float hi0 = ((q2.lane(0) + q2.lane(1)) + (q2.lane(2) + q2.lane(3))) + ((q3.lane(0) + q3.lane(1)) + (q3.lane(2) + q3.lane(3)));
    c[c0] += tail16(K, a, a0, w, w0, lo0 + hi0);
    float lo1 = ((r0.lane(0) + r0.lane(1)) + (r0.lane(2) + r0.lane(3))) + ((r1.lane(0) + r1.lane(1)) + (r1.lane(2) + r1.lane(3)));
    float hi1 = ((r2.lane(0) + r2.lane(1)) + (r2.lane(2) + r2.lane(3))) + ((r3.lane(0) + r3.lane(1)) + (r3.lane(2) + r3.lane(3)));
    c[c0 + ldc] += tail16(K, a, a1, w, w0, lo1 + hi1);
  }

  /** {@link #dot16}'s last part: s (the 16 partial sums' tree) plus the products past ⌊K/16⌋·16, one by one. */
  private static float tail16(int K, float[] a, int aRow, float[] w, int w0, float s) {
    for (int k = K & ~15; k < K; k++) {
      s += a[aRow + k] * w[w0 + k];
    }
    return s;
  }

  /**
   * The definition of {@link #head}'s sums, in scalars: Σ_k a[k]·w[k] as 16 partial sums p_l over
   * k ≡ l (mod 16), k &lt; ⌊K/16⌋·16, each from 0 in k order (multiply, then add), added as the
   * tree T(p0..p7) + T(p8..p15) with T(q0..q7) = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7)),
   * then the last K mod 16 products in k order.
   */
  static float dot16(int K, float[] a, int a0, float[] w, int w0) {
    float p0 = 0f, p1 = 0f, p2 = 0f, p3 = 0f, p4 = 0f, p5 = 0f, p6 = 0f, p7 = 0f;
    float p8 = 0f, p9 = 0f, p10 = 0f, p11 = 0f, p12 = 0f, p13 = 0f, p14 = 0f, p15 = 0f;
    int k16 = K & ~15;
    for (int k = 0; k < k16; k += 16) {
      p0 += a[a0 + k] * w[w0 + k];
      p1 += a[a0 + k + 1] * w[w0 + k + 1];
      p2 += a[a0 + k + 2] * w[w0 + k + 2];
      p3 += a[a0 + k + 3] * w[w0 + k + 3];
      p4 += a[a0 + k + 4] * w[w0 + k + 4];
      p5 += a[a0 + k + 5] * w[w0 + k + 5];
      p6 += a[a0 + k + 6] * w[w0 + k + 6];
      p7 += a[a0 + k + 7] * w[w0 + k + 7];
      p8 += a[a0 + k + 8] * w[w0 + k + 8];
      p9 += a[a0 + k + 9] * w[w0 + k + 9];
      p10 += a[a0 + k + 10] * w[w0 + k + 10];
      p11 += a[a0 + k + 11] * w[w0 + k + 11];
      p12 += a[a0 + k + 12] * w[w0 + k + 12];
      p13 += a[a0 + k + 13] * w[w0 + k + 13];
      p14 += a[a0 + k + 14] * w[w0 + k + 14];
      p15 += a[a0 + k + 15] * w[w0 + k + 15];
    }
    float s = (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))) + (((p8 + p9) + (p10 + p11)) + ((p12 + p13) + (p14 + p15)));
    return tail16(K, a, a0, w, w0, s);
  }

  /**
   * Runs every kernel once on small inputs when the class is made, before the JIT compiles any of
   * them, so that the Vector API's classes, masks and per-operation lambdas are loaded and
   * initialised by the time C2 compiles a kernel; first {@link #primeOperatorProfile}.
   */
  VectorKernels() {
    primeOperatorProfile();
    int H = 2 * V + 3; // vector lanes and a scalar tail
    int n = 4 * H * Math.max(16, H); // the largest operand below: gemm's B [H][H], the cells' 4H gates of 16 rows
    float[] a = new float[n];
    float[] b = new float[n];
    float[] c = new float[n];
    for (int i = 0; i < a.length; i++) {
      a[i] = (i % 7 - 3) * 0.25f;
      b[i] = (i % 5 - 2) * 0.5f;
    }
    float[] work = new float[Math.max(packedWorkSize(16), transAWorkSize(64)) + 16];
    gemm(9, H, H, a, 0, H, false, b, 0, H, c, 0, H);
    gemm(9, H, 9, a, 0, H, true, b, 0, H, c, 0, H);
    float[] packed = new float[packedBSize(H, 4 * V)];
    packB(H, 4 * V, b, 0, 4 * V, packed);
    gemmPacked(16, 4 * V, H, a, 0, H, b, 0, 4 * V, packed, c, 0, 4 * V, work);
    biasPlusOuter(3, H, b, 0, a, 0, b, H, c, 0, H);
    float[] wide = new float[H * 10 * V];
    float[] widePacked = new float[packedBSize(H, 10 * V)];
    packB(H, 10 * V, wide, 0, 10 * V, widePacked);
    gemmPackedBiasOuter(8, 10 * V, H, a, 0, H, wide, 0, 10 * V, widePacked, wide, 0, a, 0, wide, 10 * V, new float[8 * 10 * V], 0,
        10 * V, work);
    // the weight-gradient products (M = 64: their packed path; N = 1: columnTransA), two and five strips
    int n1 = 4 * V + 3;
    int n2 = 6 * V + 3;
    float[] tb = new float[H * n2];
    float[] tc = new float[64 * (n1 + n2)];
    gemmTransA(64, n1, H, a, 0, 64, tb, 0, n1, tc, 0, n1, work);
    gemmTransA2(64, H, a, 0, 64, n1, tb, 0, n1, tc, 0, n1, n2, tb, 0, n2, tc, 64 * n1, n2, work);
    gemmTransA(64, 1, H, a, 0, 64, tb, 0, 1, tc, 0, 1, work);
    int kHead = Math.max(H, 19); // the narrow head's vectors and its tail at every width
    head(9, 1, kHead, a, 0, kHead, b, 0, kHead, b, 0, c, 0, 1);
    sigmoid(c, 0, H);
    tanh(a, 0, c, 0, H);
    lstmCell(a.clone(), 0, c, 0, H, new float[H], 0, new float[H], 0, 1, H);
    lstmCellBack(a, 0, b, 0, c, 0, a, 0, new float[H], new float[H], 0, new float[4 * H], 0, 1, H);
    gruCell(a.clone(), 0, b, 0, new float[H], 0, c.clone(), 0, H, 1, H);
  }

  /** Rounds of {@link #primeOperatorProfile}: a few thousand calls, enough for C1 to compile their paths with profiling; 100–200 ms once per JVM on 2 cores. */
  static final int PRIME_ROUNDS = 4000;

  /**
   * Runs the kernels' own lanewise operations, of four operator classes (associative, binary,
   * ternary, comparison), in turn, the operators read from arrays so that no compiler folds them,
   * so that the type profile of {@code VectorOperators.opCode}'s cast holds several classes before
   * C2 compiles any Vector API method. The kernels' operators only: the first use of an operator
   * fills the Vector API's per-class cache of implementations ({@code ImplCache.find}, inlined 26
   * times into lstmCell), and a first use after C2 has compiled that lookup can trap there, which
   * adds up the same way. Every value stays a normal float (a denormal can be slow); returns one
   * lane of the sums, so that a compiler cannot drop the work as dead.
   *
   * <p>Why. Every vector operation reaches {@code VectorOperators.opCode}, whose first bytecode
   * casts the operator to its implementation class. Where that cast's profile had seen one class
   * only (in a boxed JVM's log FMA's {@code TernaryImpl}, opCode itself compiled by C1 without
   * profiling), C2 compiled {@code FloatVector.opCode} on its own guarded for that class, and the
   * next operator of another class trapped there (class_check) three or four times. C2 adds an
   * inlined method's trap counts to the compilation's running count at every inlined copy, and
   * lstmCell inlines opCode 27 times: past PerMethodTrapLimit (100; the log's {@code ccount='108'})
   * C2 stopped trusting type profiles for the rest of the method, the vector stores after e^x got a
   * species read from memory instead of a constant, their intrinsic failed ("missing constant:
   * vclass=DecodeN") and every vector of the loop became a Java object (7.4 MB a call at LSTM
   * H = 64, 2–3× slower). Without this, 6 JVMs of 32 trapped at opCode and those 6, no others, came
   * out boxed (docs/PERFORMANCE.md, "Boxed vectors in lstmCell").
   */
  static float primeOperatorProfile() {
    VectorOperators.Binary[] floatOps = {VectorOperators.ADD, VectorOperators.SUB, VectorOperators.MUL, VectorOperators.DIV};
    VectorOperators.Ternary[] ternary = {VectorOperators.FMA};
    VectorOperators.Comparison[] comparison = {VectorOperators.LT};
    VectorOperators.Binary[] intOps = {VectorOperators.MIN, VectorOperators.SUB};
    FloatVector x = FloatVector.broadcast(S, 0.75f);
    FloatVector y = FloatVector.broadcast(S, 1.5f);
    IntVector p = IntVector.broadcast(S.withLanes(int.class), 3);
    IntVector q = IntVector.broadcast(S.withLanes(int.class), 5);
    FloatVector sum = FloatVector.zero(S);
    IntVector intSum = p.sub(p);
    for (int i = 0; i < PRIME_ROUNDS; i++) { // the same inputs every round: each value between -1 and 5, the sums a few thousand
      FloatVector v = x.lanewise(floatOps[i & 3], y);
      FloatVector w = v.lanewise(ternary[0], y, x);
      // as e^x: a blend on a compare, the bits as ints and back, a float added
      sum = sum.add(w.blend(x, w.compare(comparison[0], y)).reinterpretAsInts().reinterpretAsFloats().lanewise(floatOps[3], y)).add(0.25f);
      intSum = intSum.add(p.lanewise(intOps[i & 1], q).lanewise(VectorOperators.LSHL, 1));
    }
    return sum.lane(0) + intSum.lane(0);
  }

  /** B packed for {@link #gemmPacked}: per k block of KC, per strip of 2V columns, [kc][2V]; the columns past the last strip are not packed. */
  @Override
  public int packedBSize(int K, int N) {
    int strips = N / (2 * V);
    return K > 0 ? K * strips * 2 * V : 0;
  }

  /** Packs nothing where {@link #packedBSize} is 0 (K = 0, or N below one strip of 2V), which gemmPacked then reads in place. */
  @Override
  public void packB(int K, int N, float[] b, int bOff, int ldb, float[] into) {
    if (packedBSize(K, N) == 0) {
      return;
    }
    int strips = N / (2 * V);
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      for (int s = 0; s < strips; s++) {
        packStrip(b, bOff + k0 * ldb + s * 2 * V, ldb, kc, into, packedStrip(k0, kc, s, strips));
      }
    }
  }

  /** into[at + k·2V + c] = B[k][c] for k &lt; kc, c &lt; 2V, B's rows ldb apart from {@code from}: one strip of a k block. */
  private static void packStrip(float[] b, int from, int ldb, int kc, float[] into, int at) {
    for (int k = 0; k < kc; k++) {
      System.arraycopy(b, from + k * ldb, into, at + k * 2 * V, 2 * V);
    }
  }

  /** Where strip s of the k block starting at k0 (kc deep) begins in a packed B of {@code strips} strips. */
  private static int packedStrip(int k0, int kc, int s, int strips) {
    return k0 * strips * 2 * V + s * kc * 2 * V;
  }

  @Override
  public int packedWorkSize(int M) {
    return WIDE ? M / 8 * 8 * KC : 0;
  }

  @Override
  public int packedMinRows() {
    return 4;
  }

  /**
   * Rows in blocks of 8, packed as [kc][8] into {@code work} for the 8 × 2V tile; the rows past
   * them, 4 at a time, read in place by a 4 × 4V tile over two packed strips (sixteen accumulators,
   * as the 8 × 2V tile: four row offsets are few enough that C2 keeps them in registers and hoists
   * their checks). A narrow product (N ≤ 4 strips, one k block) takes all its rows 4 at a time,
   * nothing of A packed: packing costs M·kc copies whatever N is, so the narrower the product, the
   * larger its share. One thread's CPU time, product alone, A's packing included (GFLOP/s, packed
   * 8-row blocks against in-place 4-row ones): M=32 N=64 K=256 (dgates W_hh at H = 64) 91 against
   * 108, N=128 K=32 (h W_hhᵀ at H = 32) 102–114 against 121, M=8 N=128 K=32 100 against 120; but
   * N=256 K=64 130 against 121, N=128 K=512 114 against 107, N=1024 K=256 143 against 106 (two
   * strips of a full k block, 64 KiB, overflow L1). A slice of 4–7 sequences, as two threads cut a
   * batch of 8, took the strided 4 × 2V tile before (LSTM H = 64, B = 4 forward: 19,100–21,600
   * sequences/s of one thread's CPU time against 30,600 at B = 8).
   */
  @Override
  public void gemmPacked(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] packedB,
      float[] c, int cOff, int ldc, float[] work) {
    int strips = N / (2 * V);
    boolean narrow = narrow(strips, K);
    int m8 = narrow ? 0 : M / 8 * 8;
    int m4 = M / 4 * 4;
    if (packedB == null || m4 == 0 || strips == 0 || (WIDE && m8 > 0 && (work == null || work.length < m8 * Math.min(K, KC)))
        || packedB.length != packedBSize(K, N)) {
      gemm(M, N, K, a, aOff, lda, false, b, bOff, ldb, c, cOff, ldc);
      return;
    }
    if (!WIDE) {
      gemmPackedNarrow(M, N, K, a, aOff, lda, b, bOff, ldb, packedB, c, cOff, ldc);
      return;
    }
    int n2 = strips * 2 * V;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      packRows8(m8, kc, a, aOff + k0, lda, work);
      for (int s = 0; s < strips; s++) {
        int pb = packedStrip(k0, kc, s, strips);
        for (int i = 0; i < m8; i += 8) {
          tile8x2Packed(kc, work, i * kc, packedB, pb, c, cOff + i * ldc + s * 2 * V, ldc);
        }
      }
      for (int i = m8; i < m4; i += 4) {
        int s = 0;
        for (; s + 2 <= strips; s += 2) { // strips s and s + 1 lie side by side, kc·2V apart
          tile4x4(kc, a, aOff + i * lda + k0, lda, packedB, packedStrip(k0, kc, s, strips), c, cOff + i * ldc + s * 2 * V, ldc);
        }
        if (s < strips) { // an odd last strip: B in place
          block(4, 2 * V, kc, a, aOff + i * lda + k0, lda, 1, b, bOff + k0 * ldb + s * 2 * V, ldb, c, cOff + i * ldc + s * 2 * V, ldc);
        }
      }
      if (n2 < N) { // the columns past the last strip, rows of the blocks: as gemm takes them
        block(m4, N - n2, kc, a, aOff + k0, lda, 1, b, bOff + k0 * ldb + n2, ldb, c, cOff + n2, ldc);
      }
      if (m4 < M) { // the rows past the last block, every column
        block(M - m4, N, kc, a, aOff + m4 * lda + k0, lda, 1, b, bOff + k0 * ldb, ldb, c, cOff + m4 * ldc, ldc);
      }
    }
  }

  /**
   * {@link #gemmPacked} below 16 lanes (AVX2's 16 registers): A's rows 6 at a time in place
   * ({@link #tile6x2Packed}, 12 accumulators, 2 B vectors and a broadcast: 15 of the 16), then 4 at
   * a time ({@link #tile4x2Packed}; {@link #sixRowTiles} splits the rows), each over a packed strip of B
   * [kc][2V], every index of constant stride in k; the rows past them and the columns past the last
   * strip as gemm takes them. The same fma chain per element as every tile, so the same bits. One
   * thread, -XX:UseAVX=2 on the AMD host (peak 104 GFLOP/s): M = 32, N = 1024, K = 256 87 → 100
   * GFLOP/s, N = 256, K = 64 76 → 102, against 4-row tiles alone; with 6-row tiles and two rows left
   * to gemm's tiles, no gain.
   */
  private static void gemmPackedNarrow(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float[] packedB, float[] c, int cOff, int ldc) {
    int strips = N / (2 * V);
    int n2 = strips * 2 * V;
    int m6 = sixRowTiles(M);
    int m4 = m6 + (M - m6) / 4 * 4;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      for (int s = 0; s < strips; s++) {
        int pb = packedStrip(k0, kc, s, strips);
        int i = 0;
        for (; i < m6; i += 6) {
          tile6x2Packed(kc, a, aOff + i * lda + k0, lda, packedB, pb, c, cOff + i * ldc + s * 2 * V, ldc);
        }
        for (; i < m4; i += 4) {
          tile4x2Packed(kc, a, aOff + i * lda + k0, lda, packedB, pb, c, cOff + i * ldc + s * 2 * V, ldc);
        }
      }
      if (n2 < N) {
        block(m4, N - n2, kc, a, aOff + k0, lda, 1, b, bOff + k0 * ldb + n2, ldb, c, cOff + n2, ldc);
      }
      if (m4 < M) {
        block(M - m4, N, kc, a, aOff + m4 * lda + k0, lda, 1, b, bOff + k0 * ldb, ldb, c, cOff + m4 * ldc, ldc);
      }
    }
  }

  /**
   * Rows of M that 6-row tiles take below 16 lanes, a multiple of 6, the 4-row tiles after them
   * leaving as few rows over to gemm's tiles as can be (rows left there took the 6-row tiles' gain
   * away): ⌊M/6⌋·6, or one tile fewer where that leaves fewer rows over (the rows over alternate
   * between two values as tiles of 6 go, 6 ≡ 2 mod 4). M = 32: four of 6, two of 4; M = 21: two of 6,
   * two of 4, one row over; M = 14: one of 6, two of 4.
   */
  private static int sixRowTiles(int M) {
    int m6 = M / 6 * 6;
    if (m6 >= 6 && (M - m6 + 6) % 4 < (M - m6) % 4) {
      m6 -= 6;
    }
    return m6;
  }

  /** C[0..6)[0..2V) += A B: A's six rows in place, lda apart from a0 (k at stride 1), B's packed strip [K][2V] at b0 (12 accumulators). */
  private static void tile6x2Packed(int K, float[] a, int a0, int lda, float[] b, int b0, float[] c, int c0, int ldc) {
    int r1 = a0 + lda;
    int r2 = r1 + lda;
    int r3 = r2 + lda;
    int r4 = r3 + lda;
    int r5 = r4 + lda;
    FloatVector x00 = FloatVector.fromArray(S, c, c0);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c0 + ldc);
    FloatVector x11 = FloatVector.fromArray(S, c, c0 + ldc + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c0 + 2 * ldc);
    FloatVector x21 = FloatVector.fromArray(S, c, c0 + 2 * ldc + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c0 + 3 * ldc);
    FloatVector x31 = FloatVector.fromArray(S, c, c0 + 3 * ldc + V);
    FloatVector x40 = FloatVector.fromArray(S, c, c0 + 4 * ldc);
    FloatVector x41 = FloatVector.fromArray(S, c, c0 + 4 * ldc + V);
    FloatVector x50 = FloatVector.fromArray(S, c, c0 + 5 * ldc);
    FloatVector x51 = FloatVector.fromArray(S, c, c0 + 5 * ldc + V);
    for (int k = 0; k < K; k++) {
      int pb = b0 + k * 2 * V;
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[a0 + k]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[r1 + k]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[r2 + k]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[r3 + k]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
      FloatVector s4 = FloatVector.broadcast(S, a[r4 + k]);
      x40 = s4.fma(bl, x40);
      x41 = s4.fma(bh, x41);
      FloatVector s5 = FloatVector.broadcast(S, a[r5 + k]);
      x50 = s5.fma(bl, x50);
      x51 = s5.fma(bh, x51);
    }
    x00.intoArray(c, c0);
    x01.intoArray(c, c0 + V);
    x10.intoArray(c, c0 + ldc);
    x11.intoArray(c, c0 + ldc + V);
    x20.intoArray(c, c0 + 2 * ldc);
    x21.intoArray(c, c0 + 2 * ldc + V);
    x30.intoArray(c, c0 + 3 * ldc);
    x31.intoArray(c, c0 + 3 * ldc + V);
    x40.intoArray(c, c0 + 4 * ldc);
    x41.intoArray(c, c0 + 4 * ldc + V);
    x50.intoArray(c, c0 + 5 * ldc);
    x51.intoArray(c, c0 + 5 * ldc + V);
  }

  /** C[0..4)[0..2V) += A B: A's four rows in place, lda apart from a0 (k at stride 1), B's packed strip [K][2V] at b0. */
  private static void tile4x2Packed(int K, float[] a, int a0, int lda, float[] b, int b0, float[] c, int c0, int ldc) {
    int r1 = a0 + lda;
    int r2 = r1 + lda;
    int r3 = r2 + lda;
    int c1 = c0 + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    FloatVector x00 = FloatVector.fromArray(S, c, c0);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c1);
    FloatVector x11 = FloatVector.fromArray(S, c, c1 + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c2);
    FloatVector x21 = FloatVector.fromArray(S, c, c2 + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c3);
    FloatVector x31 = FloatVector.fromArray(S, c, c3 + V);
    for (int k = 0; k < K; k++) {
      int pb = b0 + k * 2 * V;
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[a0 + k]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[r1 + k]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[r2 + k]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[r3 + k]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
    }
    x00.intoArray(c, c0);
    x01.intoArray(c, c0 + V);
    x10.intoArray(c, c1);
    x11.intoArray(c, c1 + V);
    x20.intoArray(c, c2);
    x21.intoArray(c, c2 + V);
    x30.intoArray(c, c3);
    x31.intoArray(c, c3 + V);
  }

  /**
   * Whether {@link #gemmPacked} takes a product of this many strips of 2V columns whole in 4-row
   * tiles with A in place instead of packing A's 8-row blocks (packing costs M·kc copies whatever N
   * is, so the narrower the product the larger its share; docs/PERFORMANCE.md).
   */
  private static boolean narrow(int strips, int K) {
    return strips <= 4 && K <= KC;
  }

  /** A's first m8 rows (a multiple of 8), kc of k from aOff on, into work as blocks of 8 rows: work[i/8][k][r] = A[i + r][k]. */
  private static void packRows8(int m8, int kc, float[] a, int aOff, int lda, float[] work) {
    for (int i = 0; i < m8; i += 8) {
      int dst = i * kc;
      int s0 = aOff + i * lda;
      int s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda, s6 = s5 + lda, s7 = s6 + lda;
      for (int k = 0; k < kc; k++) { // the 8 rows' k side by side: work written in order, each row read in order
        int d = dst + k * 8;
        work[d] = a[s0 + k];
        work[d + 1] = a[s1 + k];
        work[d + 2] = a[s2 + k];
        work[d + 3] = a[s3 + k];
        work[d + 4] = a[s4 + k];
        work[d + 5] = a[s5 + k];
        work[d + 6] = a[s6 + k];
        work[d + 7] = a[s7 + k];
      }
    }
  }

  /**
   * The fused form where every row falls in a block of 8, every column in a strip and K in one k
   * block (LSTM H = 64 and 256 at 8 sequences a slice and up): each tile's 8 × 2V of C are set to
   * bias + x · w (biasPlusOuter's vector lanes: fma(x, w, bias)) just before the tile reads them, so
   * they come from the store buffer and L1 rather than from a pass over all of C before the
   * product. biasPlusOuter's separate pass cost 6–11% of an LSTM H = 64 forward call (AbBench with
   * the pass left out: B/A 1.110 and, swapped, 0.938). Elsewhere the two steps, as the default.
   */
  @Override
  public void gemmPackedBiasOuter(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] packedB,
      float[] bias, int biasOff, float[] x, int xOff, float[] w, int wOff, float[] c, int cOff, int ldc, float[] work) {
    int strips = N / (2 * V);
    if (!WIDE || M == 0 || M % 8 != 0 || N != strips * 2 * V || K < 1 || K > KC || narrow(strips, K) || packedB == null
        || packedB.length != packedBSize(K, N) || work == null || work.length < M * K) {
      super.gemmPackedBiasOuter(M, N, K, a, aOff, lda, b, bOff, ldb, packedB, bias, biasOff, x, xOff, w, wOff, c, cOff, ldc, work);
      return;
    }
    packRows8(M, K, a, aOff, lda, work);
    for (int s = 0; s < strips; s++) {
      int pb = packedStrip(0, K, s, strips);
      int j = s * 2 * V;
      FloatVector wl = FloatVector.fromArray(S, w, wOff + j);
      FloatVector wh = FloatVector.fromArray(S, w, wOff + j + V);
      FloatVector bl = FloatVector.fromArray(S, bias, biasOff + j);
      FloatVector bh = FloatVector.fromArray(S, bias, biasOff + j + V);
      for (int i = 0; i < M; i += 8) {
        int c0 = cOff + i * ldc + j;
        for (int r = 0; r < 8; r++) {
          FloatVector xr = FloatVector.broadcast(S, x[xOff + i + r]);
          xr.fma(wl, bl).intoArray(c, c0 + r * ldc);
          xr.fma(wh, bh).intoArray(c, c0 + r * ldc + V);
        }
        tile8x2Packed(K, work, i * K, packedB, pb, c, c0, ldc);
      }
    }
  }

  /** {@link #tile8x2} on packed operands: A's block [K][8] at a0, B's strip [K][2V] at b0, every index base + constant · k. */
  private static void tile8x2Packed(int K, float[] a, int a0, float[] b, int b0, float[] c, int c0, int ldc) {
    FloatVector x00 = FloatVector.fromArray(S, c, c0 + 0 * ldc);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + 0 * ldc + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c0 + 1 * ldc);
    FloatVector x11 = FloatVector.fromArray(S, c, c0 + 1 * ldc + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c0 + 2 * ldc);
    FloatVector x21 = FloatVector.fromArray(S, c, c0 + 2 * ldc + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c0 + 3 * ldc);
    FloatVector x31 = FloatVector.fromArray(S, c, c0 + 3 * ldc + V);
    FloatVector x40 = FloatVector.fromArray(S, c, c0 + 4 * ldc);
    FloatVector x41 = FloatVector.fromArray(S, c, c0 + 4 * ldc + V);
    FloatVector x50 = FloatVector.fromArray(S, c, c0 + 5 * ldc);
    FloatVector x51 = FloatVector.fromArray(S, c, c0 + 5 * ldc + V);
    FloatVector x60 = FloatVector.fromArray(S, c, c0 + 6 * ldc);
    FloatVector x61 = FloatVector.fromArray(S, c, c0 + 6 * ldc + V);
    FloatVector x70 = FloatVector.fromArray(S, c, c0 + 7 * ldc);
    FloatVector x71 = FloatVector.fromArray(S, c, c0 + 7 * ldc + V);
    for (int k = 0; k < K; k++) {
      int pa = a0 + k * 8;
      int pb = b0 + k * 2 * V;
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[pa]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[pa + 1]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[pa + 2]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[pa + 3]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
      FloatVector s4 = FloatVector.broadcast(S, a[pa + 4]);
      x40 = s4.fma(bl, x40);
      x41 = s4.fma(bh, x41);
      FloatVector s5 = FloatVector.broadcast(S, a[pa + 5]);
      x50 = s5.fma(bl, x50);
      x51 = s5.fma(bh, x51);
      FloatVector s6 = FloatVector.broadcast(S, a[pa + 6]);
      x60 = s6.fma(bl, x60);
      x61 = s6.fma(bh, x61);
      FloatVector s7 = FloatVector.broadcast(S, a[pa + 7]);
      x70 = s7.fma(bl, x70);
      x71 = s7.fma(bh, x71);
    }
    x00.intoArray(c, c0 + 0 * ldc);
    x01.intoArray(c, c0 + 0 * ldc + V);
    x10.intoArray(c, c0 + 1 * ldc);
    x11.intoArray(c, c0 + 1 * ldc + V);
    x20.intoArray(c, c0 + 2 * ldc);
    x21.intoArray(c, c0 + 2 * ldc + V);
    x30.intoArray(c, c0 + 3 * ldc);
    x31.intoArray(c, c0 + 3 * ldc + V);
    x40.intoArray(c, c0 + 4 * ldc);
    x41.intoArray(c, c0 + 4 * ldc + V);
    x50.intoArray(c, c0 + 5 * ldc);
    x51.intoArray(c, c0 + 5 * ldc + V);
    x60.intoArray(c, c0 + 6 * ldc);
    x61.intoArray(c, c0 + 6 * ldc + V);
    x70.intoArray(c, c0 + 7 * ldc);
    x71.intoArray(c, c0 + 7 * ldc + V);
  }

  /**
   * C[0..4)[0..4V) += A B: A's four rows in place, lda apart from a0 (k at stride 1), B's two packed
   * strips side by side, [K][2V] at b0 and at b0 + K·2V; each element the same fma chain over k as
   * in {@link #tile8x2}.
   */
  private static void tile4x4(int K, float[] a, int a0, int lda, float[] b, int b0, float[] c, int c0, int ldc) {
    int b1 = b0 + K * 2 * V;
    int r1 = a0 + lda;
    int r2 = r1 + lda;
    int r3 = r2 + lda;
    FloatVector x00 = FloatVector.fromArray(S, c, c0 + 0 * ldc);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + 0 * ldc + V);
    FloatVector x02 = FloatVector.fromArray(S, c, c0 + 0 * ldc + 2 * V);
    FloatVector x03 = FloatVector.fromArray(S, c, c0 + 0 * ldc + 3 * V);
    FloatVector x10 = FloatVector.fromArray(S, c, c0 + 1 * ldc);
    FloatVector x11 = FloatVector.fromArray(S, c, c0 + 1 * ldc + V);
    FloatVector x12 = FloatVector.fromArray(S, c, c0 + 1 * ldc + 2 * V);
    FloatVector x13 = FloatVector.fromArray(S, c, c0 + 1 * ldc + 3 * V);
    FloatVector x20 = FloatVector.fromArray(S, c, c0 + 2 * ldc);
    FloatVector x21 = FloatVector.fromArray(S, c, c0 + 2 * ldc + V);
    FloatVector x22 = FloatVector.fromArray(S, c, c0 + 2 * ldc + 2 * V);
    FloatVector x23 = FloatVector.fromArray(S, c, c0 + 2 * ldc + 3 * V);
    FloatVector x30 = FloatVector.fromArray(S, c, c0 + 3 * ldc);
    FloatVector x31 = FloatVector.fromArray(S, c, c0 + 3 * ldc + V);
    FloatVector x32 = FloatVector.fromArray(S, c, c0 + 3 * ldc + 2 * V);
    FloatVector x33 = FloatVector.fromArray(S, c, c0 + 3 * ldc + 3 * V);
    for (int k = 0; k < K; k++) {
      int pb = b0 + k * 2 * V;
      int pq = b1 + k * 2 * V;
      FloatVector y0 = FloatVector.fromArray(S, b, pb);
      FloatVector y1 = FloatVector.fromArray(S, b, pb + V);
      FloatVector y2 = FloatVector.fromArray(S, b, pq);
      FloatVector y3 = FloatVector.fromArray(S, b, pq + V);
      FloatVector s0 = FloatVector.broadcast(S, a[a0 + k]);
      x00 = s0.fma(y0, x00);
      x01 = s0.fma(y1, x01);
      x02 = s0.fma(y2, x02);
      x03 = s0.fma(y3, x03);
      FloatVector s1 = FloatVector.broadcast(S, a[r1 + k]);
      x10 = s1.fma(y0, x10);
      x11 = s1.fma(y1, x11);
      x12 = s1.fma(y2, x12);
      x13 = s1.fma(y3, x13);
      FloatVector s2 = FloatVector.broadcast(S, a[r2 + k]);
      x20 = s2.fma(y0, x20);
      x21 = s2.fma(y1, x21);
      x22 = s2.fma(y2, x22);
      x23 = s2.fma(y3, x23);
      FloatVector s3 = FloatVector.broadcast(S, a[r3 + k]);
      x30 = s3.fma(y0, x30);
      x31 = s3.fma(y1, x31);
      x32 = s3.fma(y2, x32);
      x33 = s3.fma(y3, x33);
    }
    x00.intoArray(c, c0 + 0 * ldc);
    x01.intoArray(c, c0 + 0 * ldc + V);
    x02.intoArray(c, c0 + 0 * ldc + 2 * V);
    x03.intoArray(c, c0 + 0 * ldc + 3 * V);
    x10.intoArray(c, c0 + 1 * ldc);
    x11.intoArray(c, c0 + 1 * ldc + V);
    x12.intoArray(c, c0 + 1 * ldc + 2 * V);
    x13.intoArray(c, c0 + 1 * ldc + 3 * V);
    x20.intoArray(c, c0 + 2 * ldc);
    x21.intoArray(c, c0 + 2 * ldc + V);
    x22.intoArray(c, c0 + 2 * ldc + 2 * V);
    x23.intoArray(c, c0 + 2 * ldc + 3 * V);
    x30.intoArray(c, c0 + 3 * ldc);
    x31.intoArray(c, c0 + 3 * ldc + V);
    x32.intoArray(c, c0 + 3 * ldc + 2 * V);
    x33.intoArray(c, c0 + 3 * ldc + 3 * V);
  }

  /** A's row blocks [M/8][KC][8] (below 16 lanes blocks of 6 and 4 rows, at most M·KC), then one strip of B [KC][2V] (see {@link #gemmPackedTransA}); none below 64 rows. */
  @Override
  public int transAWorkSize(int M) {
    return M < 64 ? 0 : (WIDE ? M / 8 * 8 : M) * KC + KC * 2 * V;
  }

  @Override
  public void gemmTransA(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
      int ldc, float[] work) {
    if (N == 1 && ldc == 1 && M >= V && K > 0) {
      columnTransA(M, K, a, aOff, lda, b, bOff, ldb, c, cOff);
      return;
    }
    int need = transAWorkSize(M);
    if (need > 0 && work != null && work.length >= need && N > 0 && K > 0) {
      gemmPackedTransA(M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, work);
    } else {
      gemm(M, N, K, a, aOff, lda, true, b, bOff, ldb, c, cOff, ldc);
    }
  }

  /**
   * c[M] += Aᵀ b with A stored [K][M] and b a column [K] at stride ldb, C a column at stride 1
   * (dW_ih at input width F = 1). The tiles run their vectors along N, which at N = 1 left a scalar
   * loop down strided A: 13% of an LSTM H = 64 step for 1/64 of dW_hh's products. Here the
   * vectors run along M instead, down A's contiguous rows, 4V rows of c summed over k in registers:
   * c[i] += Σ_k A[k][i]·b[k]. The sums start from {@code FloatVector.zero}, not from a static
   * constant vector: a loop-carried vector that merges a constant object was boxed by C2, 24 kB
   * allocated per time step (JvmEngineMemoryTest caught it).
   */
  private static void columnTransA(int M, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff) {
    int i = 0;
    for (; i + 4 * V <= M; i += 4 * V) {
      FloatVector s0 = FloatVector.zero(S);
      FloatVector s1 = FloatVector.zero(S);
      FloatVector s2 = FloatVector.zero(S);
      FloatVector s3 = FloatVector.zero(S);
      int pa = aOff + i;
      int pb = bOff;
      for (int k = 0; k < K; k++, pa += lda, pb += ldb) {
        FloatVector bk = FloatVector.broadcast(S, b[pb]);
        s0 = FloatVector.fromArray(S, a, pa).fma(bk, s0);
        s1 = FloatVector.fromArray(S, a, pa + V).fma(bk, s1);
        s2 = FloatVector.fromArray(S, a, pa + 2 * V).fma(bk, s2);
        s3 = FloatVector.fromArray(S, a, pa + 3 * V).fma(bk, s3);
      }
      int at = cOff + i;
      FloatVector.fromArray(S, c, at).add(s0).intoArray(c, at);
      FloatVector.fromArray(S, c, at + V).add(s1).intoArray(c, at + V);
      FloatVector.fromArray(S, c, at + 2 * V).add(s2).intoArray(c, at + 2 * V);
      FloatVector.fromArray(S, c, at + 3 * V).add(s3).intoArray(c, at + 3 * V);
    }
    for (; i + V <= M; i += V) {
      FloatVector s0 = FloatVector.zero(S);
      int pa = aOff + i;
      int pb = bOff;
      for (int k = 0; k < K; k++, pa += lda, pb += ldb) {
        s0 = FloatVector.fromArray(S, a, pa).fma(FloatVector.broadcast(S, b[pb]), s0);
      }
      FloatVector.fromArray(S, c, cOff + i).add(s0).intoArray(c, cOff + i);
    }
    for (; i < M; i++) {
      float s0 = 0f;
      int pa = aOff + i;
      int pb = bOff;
      for (int k = 0; k < K; k++, pa += lda, pb += ldb) {
        s0 = Math.fma(a[pa], b[pb], s0); // as a lane above: the same bits for a row whichever loop takes it
      }
      c[cOff + i] += s0;
    }
  }

  /**
   * C += Aᵀ B with A stored [K][M] (the weight gradients: A = dgates over T·B rows). Read in place,
   * the 8 values of a tile's k step sit lda floats after the previous 8: with lda a multiple of
   * 1 KiB they all fall in one L1 set and miss. Packing each k block first, into the caller's
   * {@code pack} as [M/8][kc][8], makes them contiguous; and each 2V-column strip of B's k block,
   * packed after them as [kc][2V], lets the tiles run {@link #tile8x2Packed} with every index of
   * constant stride in k (the bounds checks leave the loop; see "Packed products" above).
   */
  private static void gemmPackedTransA(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc, float[] pack) {
    gemmPackedTransA2(M, K, a, aOff, lda, N, b, bOff, ldb, c, cOff, ldc, 0, null, 0, 0, null, 0, 0, pack);
  }

  /**
   * C1 += Aᵀ B1 and, for N2 &gt; 0, C2 += Aᵀ B2, A's k block packed once for both: dW_ih's product
   * (N1 = F) alone packs A only over many strips of B (below), and read A in place down rows
   * lda = 4H apart instead, L1's set for every k step; dW_hh's (N2 = H) packs it anyway. LSTM
   * F = 64, H = 256: dW_ih took 42% of dW_hh's time for a quarter of its products.
   */
  private static void gemmPackedTransA2(int M, int K, float[] a, int aOff, int lda, int N1, float[] b1, int b1Off, int ldb1,
      float[] c1, int c1Off, int ldc1, int N2, float[] b2, int b2Off, int ldb2, float[] c2, int c2Off, int ldc2, float[] pack) {
    if (!WIDE) {
      narrowTransA2(M, K, a, aOff, lda, N1, b1, b1Off, ldb1, c1, c1Off, ldc1, N2, b2, b2Off, ldb2, c2, c2Off, ldc2, pack);
      return;
    }
    int m8 = M / 8 * 8;
    // A's 8 rows of op(A) lie side by side in A's row k, so the strided tile reads them in place
    // with one offset advancing by lda; packing them pays off only over many strips of B. One
    // thread's CPU time, GFLOP/s packed against in place: M=256 N=64 K=256 (dW_hh at H = 64)
    // 83–85 against 126, M=512 N=128 K=256 109–124 against 123–124, M=1024 N=256 K=256 119–123
    // against 107.
    boolean packA = N1 / (2 * V) + N2 / (2 * V) > 4;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      for (int i = 0; packA && i < m8; i += 8) {
        int dst = i * kc;
        for (int k = 0; k < kc; k++) {
          System.arraycopy(a, aOff + (k0 + k) * lda + i, pack, dst + k * 8, 8); // pack[i/8][k][r] = A[k0+k][i+r]
        }
      }
      transABlock(M, m8, kc, k0, a, aOff, lda, packA, N1, b1, b1Off, ldb1, c1, c1Off, ldc1, pack);
      if (N2 > 0) {
        transABlock(M, m8, kc, k0, a, aOff, lda, packA, N2, b2, b2Off, ldb2, c2, c2Off, ldc2, pack);
      }
    }
  }

  /**
   * {@link #gemmPackedTransA2} below 16 lanes: each k block of A packed once in blocks of 6 rows,
   * then of 4 ({@link #sixRowTiles}), a block of r rows from row i as [kc][r] at i·kc (A's r values
   * of a k step lie side by side in its row k, lda apart from the next k's), each 2V strip of B
   * after them as [kc][2V], and {@link #tile6x2PackedA} and {@link #tile4x2PackedA} over both, every
   * index of constant stride in k. The strided 4-row tile read A down rows lda = GH apart and B in place.
   */
  private static void narrowTransA2(int M, int K, float[] a, int aOff, int lda, int N1, float[] b1, int b1Off, int ldb1,
      float[] c1, int c1Off, int ldc1, int N2, float[] b2, int b2Off, int ldb2, float[] c2, int c2Off, int ldc2, float[] pack) {
    if (N1 / (2 * V) + N2 / (2 * V) == 0) { // no strip would read packed A (GRU's dW_ih at 2 ≤ F < 2V): gemm's tiles, A in place
      product(M, N1, K, a, aOff, lda, true, b1, b1Off, ldb1, c1, c1Off, ldc1);
      product(M, N2, K, a, aOff, lda, true, b2, b2Off, ldb2, c2, c2Off, ldc2); // nothing where N2 = 0
      return;
    }
    int m6 = sixRowTiles(M);
    int m4 = m6 + (M - m6) / 4 * 4;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = Math.min(KC, K - k0);
      // a block of r rows from row i at pack[i·kc ..], as [kc][r]: pack[i·kc + k·r + q] = A[k0+k][i+q]
      for (int i = 0; i < m4; i += i < m6 ? 6 : 4) {
        int r = i < m6 ? 6 : 4;
        int dst = i * kc;
        for (int k = 0; k < kc; k++) {
          System.arraycopy(a, aOff + (k0 + k) * lda + i, pack, dst + k * r, r);
        }
      }
      narrowTransABlock(M, m6, m4, kc, k0, a, aOff, lda, N1, b1, b1Off, ldb1, c1, c1Off, ldc1, pack);
      if (N2 > 0) {
        narrowTransABlock(M, m6, m4, kc, k0, a, aOff, lda, N2, b2, b2Off, ldb2, c2, c2Off, ldc2, pack);
      }
    }
  }

  /** One k block of {@link #narrowTransA2}'s product C += Aᵀ B, A's 6- and 4-row blocks packed in {@code pack}. */
  private static void narrowTransABlock(int M, int m6, int m4, int kc, int k0, float[] a, int aOff, int lda, int N, float[] b, int bOff,
      int ldb, float[] c, int cOff, int ldc, float[] pack) {
    int strip = m4 * KC;
    int j = 0;
    for (; j + 2 * V <= N; j += 2 * V) {
      packStrip(b, bOff + k0 * ldb + j, ldb, kc, pack, strip);
      int i = 0;
      for (; i < m6; i += 6) {
        tile6x2PackedA(kc, pack, i * kc, pack, strip, c, cOff + i * ldc + j, ldc);
      }
      for (; i < m4; i += 4) {
        tile4x2PackedA(kc, pack, i * kc, pack, strip, c, cOff + i * ldc + j, ldc);
      }
    }
    if (j < N) {
      block(m4, N - j, kc, a, aOff + k0 * lda, 1, lda, b, bOff + k0 * ldb + j, ldb, c, cOff + j, ldc);
    }
    if (m4 < M) {
      block(M - m4, N, kc, a, aOff + k0 * lda + m4, 1, lda, b, bOff + k0 * ldb, ldb, c, cOff + m4 * ldc, ldc);
    }
  }

  /**
   * C[0..6)[0..2V) += A B on packed operands: A's block [K][6] at a0, B's strip [K][2V] at b0 (12
   * accumulators). {@link #tile6x2Packed} with A packed as rows [6][K] (lda = K) would serve instead,
   * but packing A's k block that way is a transpose, and training ran 11–15% slower (AbBench, LSTM and
   * GRU H = 256, -XX:UseAVX=2, both orders); hence this tile and {@link #tile4x2PackedA}.
   */
  private static void tile6x2PackedA(int K, float[] a, int a0, float[] b, int b0, float[] c, int c0, int ldc) {
    FloatVector x00 = FloatVector.fromArray(S, c, c0);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c0 + ldc);
    FloatVector x11 = FloatVector.fromArray(S, c, c0 + ldc + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c0 + 2 * ldc);
    FloatVector x21 = FloatVector.fromArray(S, c, c0 + 2 * ldc + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c0 + 3 * ldc);
    FloatVector x31 = FloatVector.fromArray(S, c, c0 + 3 * ldc + V);
    FloatVector x40 = FloatVector.fromArray(S, c, c0 + 4 * ldc);
    FloatVector x41 = FloatVector.fromArray(S, c, c0 + 4 * ldc + V);
    FloatVector x50 = FloatVector.fromArray(S, c, c0 + 5 * ldc);
    FloatVector x51 = FloatVector.fromArray(S, c, c0 + 5 * ldc + V);
    for (int k = 0; k < K; k++) {
      int pa = a0 + k * 6;
      int pb = b0 + k * 2 * V;
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[pa]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[pa + 1]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[pa + 2]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[pa + 3]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
      FloatVector s4 = FloatVector.broadcast(S, a[pa + 4]);
      x40 = s4.fma(bl, x40);
      x41 = s4.fma(bh, x41);
      FloatVector s5 = FloatVector.broadcast(S, a[pa + 5]);
      x50 = s5.fma(bl, x50);
      x51 = s5.fma(bh, x51);
    }
    x00.intoArray(c, c0);
    x01.intoArray(c, c0 + V);
    x10.intoArray(c, c0 + ldc);
    x11.intoArray(c, c0 + ldc + V);
    x20.intoArray(c, c0 + 2 * ldc);
    x21.intoArray(c, c0 + 2 * ldc + V);
    x30.intoArray(c, c0 + 3 * ldc);
    x31.intoArray(c, c0 + 3 * ldc + V);
    x40.intoArray(c, c0 + 4 * ldc);
    x41.intoArray(c, c0 + 4 * ldc + V);
    x50.intoArray(c, c0 + 5 * ldc);
    x51.intoArray(c, c0 + 5 * ldc + V);
  }

  /** C[0..4)[0..2V) += A B on packed operands: A's block [K][4] at a0, B's strip [K][2V] at b0. */
  private static void tile4x2PackedA(int K, float[] a, int a0, float[] b, int b0, float[] c, int c0, int ldc) {
    int c1 = c0 + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    FloatVector x00 = FloatVector.fromArray(S, c, c0);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c1);
    FloatVector x11 = FloatVector.fromArray(S, c, c1 + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c2);
    FloatVector x21 = FloatVector.fromArray(S, c, c2 + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c3);
    FloatVector x31 = FloatVector.fromArray(S, c, c3 + V);
    for (int k = 0; k < K; k++) {
      int pa = a0 + k * 4;
      int pb = b0 + k * 2 * V;
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[pa]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[pa + 1]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[pa + 2]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[pa + 3]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
    }
    x00.intoArray(c, c0);
    x01.intoArray(c, c0 + V);
    x10.intoArray(c, c1);
    x11.intoArray(c, c1 + V);
    x20.intoArray(c, c2);
    x21.intoArray(c, c2 + V);
    x30.intoArray(c, c3);
    x31.intoArray(c, c3 + V);
  }

  /** One k block of C += Aᵀ B, A's blocks packed in {@code pack} when {@code packA}; each 2V strip of B packed after them as [kc][2V] (one strip at a time: it serves all M/8 row blocks). */
  private static void transABlock(int M, int m8, int kc, int k0, float[] a, int aOff, int lda, boolean packA, int N, float[] b,
      int bOff, int ldb, float[] c, int cOff, int ldc, float[] pack) {
    int strip = m8 * KC;
    int j = 0;
    for (; j + 2 * V <= N; j += 2 * V) {
      packStrip(b, bOff + k0 * ldb + j, ldb, kc, pack, strip); // pack[strip][k][·] = B[k0+k][j..j+2V)
      for (int i = 0; i < m8; i += 8) {
        if (packA) {
          tile8x2Packed(kc, pack, i * kc, pack, strip, c, cOff + i * ldc + j, ldc);
        } else {
          tile8x2(kc, a, aOff + k0 * lda + i, 1, lda, pack, strip, 2 * V, c, cOff + i * ldc + j, ldc);
        }
      }
    }
    if (j < N) {
      block(m8, N - j, kc, a, aOff + k0 * lda, 1, lda, b, bOff + k0 * ldb + j, ldb, c, cOff + j, ldc);
    }
    if (m8 < M) {
      block(M - m8, N, kc, a, aOff + k0 * lda + m8, 1, lda, b, bOff + k0 * ldb, ldb, c, cOff + m8 * ldc, ldc);
    }
  }

  @Override
  public void gemmTransA2(int M, int K, float[] a, int aOff, int lda, int N1, float[] b1, int b1Off, int ldb1, float[] c1, int c1Off,
      int ldc1, int N2, float[] b2, int b2Off, int ldb2, float[] c2, int c2Off, int ldc2, float[] work) {
    int need = transAWorkSize(M);
    if (N1 < 2 || N2 < 2 || K <= 0 || need == 0 || work == null || work.length < need) { // N = 1: columnTransA's own path
      super.gemmTransA2(M, K, a, aOff, lda, N1, b1, b1Off, ldb1, c1, c1Off, ldc1, N2, b2, b2Off, ldb2, c2, c2Off, ldc2, work);
      return;
    }
    gemmPackedTransA2(M, K, a, aOff, lda, N1, b1, b1Off, ldb1, c1, c1Off, ldc1, N2, b2, b2Off, ldb2, c2, c2Off, ldc2, work);
  }

  /** One k block: C += op(A)[M][kc] B[kc][N]. */
  private static void block(int M, int N, int K, float[] a, int aOff, int ai, int ak, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc) {
    if (M < 4) {
      for (int i = 0; i < M; i++) {
        row(N, K, a, aOff + i * ai, ak, b, bOff, ldb, c, cOff + i * ldc);
      }
      return;
    }
    int j = 0;
    for (; j + 2 * V <= N; j += 2 * V) {
      int i = 0;
      if (WIDE) {
        for (; i + 8 <= M; i += 8) {
          tile8x2(K, a, aOff + i * ai, ai, ak, b, bOff + j, ldb, c, cOff + i * ldc + j, ldc);
        }
      }
      for (; i + 4 <= M; i += 4) {
        tile4x2(K, a, aOff + i * ai, ai, ak, b, bOff + j, ldb, c, cOff + i * ldc + j, ldc);
      }
      for (; i < M; i++) {
        tile1x2(K, a, aOff + i * ai, ak, b, bOff + j, ldb, c, cOff + i * ldc + j);
      }
    }
    for (; j + V <= N; j += V) {
      for (int i = 0; i < M; i++) {
        tile1x1(K, a, aOff + i * ai, ak, b, bOff + j, ldb, c, cOff + i * ldc + j);
      }
    }
    tailColumns(M, j, N, K, a, aOff, ai, ak, b, bOff, ldb, c, cOff, ldc);
  }

  /**
   * Columns [j0, N) of C, past the last full vector, in scalar sums: C[i][j] += Σ_k A[i][k]·B[k][j],
   * summed in float from 0 in k order. One sum is a chain of dependent adds (4 cycles each), so
   * eight rows are summed side by side, eight independent chains, each element still the same
   * chain: the same bits as one row alone. The output head (N = O, often 1 or 2 columns, over T·B
   * rows) runs here whole: summed a row at a time it took 0.8× the recurrent product's time in
   * transform's H = 32, O = 2 forward pass (JFR: 181 samples against 226).
   */
  private static void tailColumns(int M, int j0, int N, int K, float[] a, int aOff, int ai, int ak, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc) {
    for (int j = j0; j < N; j++) {
      int i = 0;
      for (; i + 8 <= M; i += 8) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        int pa = aOff + i * ai;
        int pb = bOff + j;
        for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
          float bk = b[pb];
          s0 += a[pa] * bk;
          s1 += a[pa + ai] * bk;
          s2 += a[pa + 2 * ai] * bk;
          s3 += a[pa + 3 * ai] * bk;
          s4 += a[pa + 4 * ai] * bk;
          s5 += a[pa + 5 * ai] * bk;
          s6 += a[pa + 6 * ai] * bk;
          s7 += a[pa + 7 * ai] * bk;
        }
        int pc = cOff + i * ldc + j;
        c[pc] += s0;
        c[pc + ldc] += s1;
        c[pc + 2 * ldc] += s2;
        c[pc + 3 * ldc] += s3;
        c[pc + 4 * ldc] += s4;
        c[pc + 5 * ldc] += s5;
        c[pc + 6 * ldc] += s6;
        c[pc + 7 * ldc] += s7;
      }
      for (; i < M; i++) {
        float s = 0f;
        int pa = aOff + i * ai;
        int pb = bOff + j;
        for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
          s += a[pa] * b[pb];
        }
        c[cOff + i * ldc + j] += s;
      }
    }
  }

  /**
   * One row of C alone, C[0..N) += A[·] B[·][0..N): a matrix-vector product, as a B = 1 forward
   * step runs (a key stepped alone by transform, predict, generate). Strips of 8V columns keep
   * eight independent fused multiply-add chains in flight, where {@link #tile1x2}'s two waited on
   * each other's latency: at H = 32 (128 gate columns on AVX-512) one strip is the whole row. Each
   * element is still the chain c = fma(a_k, b_kj, c) over k from 0, as in every tile, and the
   * columns past the last full vector take {@link #tailColumns} as in {@link #block}: the same
   * bits as the row gets inside a larger M.
   */
  private static void row(int N, int K, float[] a, int a0, int ak, float[] b, int b0, int ldb, float[] c, int c0) {
    int j = 0;
    for (; j + 8 * V <= N; j += 8 * V) {
      tile1x8(K, a, a0, ak, b, b0 + j, ldb, c, c0 + j);
    }
    for (; j + 2 * V <= N; j += 2 * V) {
      tile1x2(K, a, a0, ak, b, b0 + j, ldb, c, c0 + j);
    }
    for (; j + V <= N; j += V) {
      tile1x1(K, a, a0, ak, b, b0 + j, ldb, c, c0 + j);
    }
    tailColumns(1, j, N, K, a, a0, 0, ak, b, b0, ldb, c, c0, 0);
  }

  /** C[0][0..8V) += A[0][·] B[·][0..8V), C held in eight vector registers. */
  private static void tile1x8(int K, float[] a, int a0, int ak, float[] b, int b0, int ldb, float[] c, int c0) {
    FloatVector x0 = FloatVector.fromArray(S, c, c0);
    FloatVector x1 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x2 = FloatVector.fromArray(S, c, c0 + 2 * V);
    FloatVector x3 = FloatVector.fromArray(S, c, c0 + 3 * V);
    FloatVector x4 = FloatVector.fromArray(S, c, c0 + 4 * V);
    FloatVector x5 = FloatVector.fromArray(S, c, c0 + 5 * V);
    FloatVector x6 = FloatVector.fromArray(S, c, c0 + 6 * V);
    FloatVector x7 = FloatVector.fromArray(S, c, c0 + 7 * V);
    int pa = a0;
    int pb = b0;
    for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
      FloatVector s = FloatVector.broadcast(S, a[pa]);
      x0 = s.fma(FloatVector.fromArray(S, b, pb), x0);
      x1 = s.fma(FloatVector.fromArray(S, b, pb + V), x1);
      x2 = s.fma(FloatVector.fromArray(S, b, pb + 2 * V), x2);
      x3 = s.fma(FloatVector.fromArray(S, b, pb + 3 * V), x3);
      x4 = s.fma(FloatVector.fromArray(S, b, pb + 4 * V), x4);
      x5 = s.fma(FloatVector.fromArray(S, b, pb + 5 * V), x5);
      x6 = s.fma(FloatVector.fromArray(S, b, pb + 6 * V), x6);
      x7 = s.fma(FloatVector.fromArray(S, b, pb + 7 * V), x7);
    }
    x0.intoArray(c, c0);
    x1.intoArray(c, c0 + V);
    x2.intoArray(c, c0 + 2 * V);
    x3.intoArray(c, c0 + 3 * V);
    x4.intoArray(c, c0 + 4 * V);
    x5.intoArray(c, c0 + 5 * V);
    x6.intoArray(c, c0 + 6 * V);
    x7.intoArray(c, c0 + 7 * V);
  }

  /** C[0..8)[0..2V) += op(A)[0..8)[·] B[·][0..2V), C held in sixteen vector registers (AVX-512 has 32). */
  private static void tile8x2(int K, float[] a, int a0, int ai, int ak, float[] b, int b0, int ldb, float[] c, int c0, int ldc) {
    FloatVector x00 = FloatVector.fromArray(S, c, c0 + 0 * ldc);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + 0 * ldc + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c0 + 1 * ldc);
    FloatVector x11 = FloatVector.fromArray(S, c, c0 + 1 * ldc + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c0 + 2 * ldc);
    FloatVector x21 = FloatVector.fromArray(S, c, c0 + 2 * ldc + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c0 + 3 * ldc);
    FloatVector x31 = FloatVector.fromArray(S, c, c0 + 3 * ldc + V);
    FloatVector x40 = FloatVector.fromArray(S, c, c0 + 4 * ldc);
    FloatVector x41 = FloatVector.fromArray(S, c, c0 + 4 * ldc + V);
    FloatVector x50 = FloatVector.fromArray(S, c, c0 + 5 * ldc);
    FloatVector x51 = FloatVector.fromArray(S, c, c0 + 5 * ldc + V);
    FloatVector x60 = FloatVector.fromArray(S, c, c0 + 6 * ldc);
    FloatVector x61 = FloatVector.fromArray(S, c, c0 + 6 * ldc + V);
    FloatVector x70 = FloatVector.fromArray(S, c, c0 + 7 * ldc);
    FloatVector x71 = FloatVector.fromArray(S, c, c0 + 7 * ldc + V);
    int pa = a0;
    int pb = b0;
    for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s0 = FloatVector.broadcast(S, a[pa + 0 * ai]);
      x00 = s0.fma(bl, x00);
      x01 = s0.fma(bh, x01);
      FloatVector s1 = FloatVector.broadcast(S, a[pa + 1 * ai]);
      x10 = s1.fma(bl, x10);
      x11 = s1.fma(bh, x11);
      FloatVector s2 = FloatVector.broadcast(S, a[pa + 2 * ai]);
      x20 = s2.fma(bl, x20);
      x21 = s2.fma(bh, x21);
      FloatVector s3 = FloatVector.broadcast(S, a[pa + 3 * ai]);
      x30 = s3.fma(bl, x30);
      x31 = s3.fma(bh, x31);
      FloatVector s4 = FloatVector.broadcast(S, a[pa + 4 * ai]);
      x40 = s4.fma(bl, x40);
      x41 = s4.fma(bh, x41);
      FloatVector s5 = FloatVector.broadcast(S, a[pa + 5 * ai]);
      x50 = s5.fma(bl, x50);
      x51 = s5.fma(bh, x51);
      FloatVector s6 = FloatVector.broadcast(S, a[pa + 6 * ai]);
      x60 = s6.fma(bl, x60);
      x61 = s6.fma(bh, x61);
      FloatVector s7 = FloatVector.broadcast(S, a[pa + 7 * ai]);
      x70 = s7.fma(bl, x70);
      x71 = s7.fma(bh, x71);
    }
    x00.intoArray(c, c0 + 0 * ldc);
    x01.intoArray(c, c0 + 0 * ldc + V);
    x10.intoArray(c, c0 + 1 * ldc);
    x11.intoArray(c, c0 + 1 * ldc + V);
    x20.intoArray(c, c0 + 2 * ldc);
    x21.intoArray(c, c0 + 2 * ldc + V);
    x30.intoArray(c, c0 + 3 * ldc);
    x31.intoArray(c, c0 + 3 * ldc + V);
    x40.intoArray(c, c0 + 4 * ldc);
    x41.intoArray(c, c0 + 4 * ldc + V);
    x50.intoArray(c, c0 + 5 * ldc);
    x51.intoArray(c, c0 + 5 * ldc + V);
    x60.intoArray(c, c0 + 6 * ldc);
    x61.intoArray(c, c0 + 6 * ldc + V);
    x70.intoArray(c, c0 + 7 * ldc);
    x71.intoArray(c, c0 + 7 * ldc + V);
  }

  /** C[0..4)[0..2V) += op(A)[0..4)[·] B[·][0..2V), C held in eight vector registers. */
  private static void tile4x2(int K, float[] a, int a0, int ai, int ak, float[] b, int b0, int ldb, float[] c, int c0, int ldc) {
    int c1 = c0 + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    FloatVector x00 = FloatVector.fromArray(S, c, c0);
    FloatVector x01 = FloatVector.fromArray(S, c, c0 + V);
    FloatVector x10 = FloatVector.fromArray(S, c, c1);
    FloatVector x11 = FloatVector.fromArray(S, c, c1 + V);
    FloatVector x20 = FloatVector.fromArray(S, c, c2);
    FloatVector x21 = FloatVector.fromArray(S, c, c2 + V);
    FloatVector x30 = FloatVector.fromArray(S, c, c3);
    FloatVector x31 = FloatVector.fromArray(S, c, c3 + V);
    int pa = a0;
    int pb = b0;
    for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
      FloatVector bl = FloatVector.fromArray(S, b, pb);
      FloatVector bh = FloatVector.fromArray(S, b, pb + V);
      FloatVector s = FloatVector.broadcast(S, a[pa]);
      x00 = s.fma(bl, x00);
      x01 = s.fma(bh, x01);
      s = FloatVector.broadcast(S, a[pa + ai]);
      x10 = s.fma(bl, x10);
      x11 = s.fma(bh, x11);
      s = FloatVector.broadcast(S, a[pa + 2 * ai]);
      x20 = s.fma(bl, x20);
      x21 = s.fma(bh, x21);
      s = FloatVector.broadcast(S, a[pa + 3 * ai]);
      x30 = s.fma(bl, x30);
      x31 = s.fma(bh, x31);
    }
    x00.intoArray(c, c0);
    x01.intoArray(c, c0 + V);
    x10.intoArray(c, c1);
    x11.intoArray(c, c1 + V);
    x20.intoArray(c, c2);
    x21.intoArray(c, c2 + V);
    x30.intoArray(c, c3);
    x31.intoArray(c, c3 + V);
  }

  private static void tile1x2(int K, float[] a, int a0, int ak, float[] b, int b0, int ldb, float[] c, int c0) {
    FloatVector x0 = FloatVector.fromArray(S, c, c0);
    FloatVector x1 = FloatVector.fromArray(S, c, c0 + V);
    int pa = a0;
    int pb = b0;
    for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
      FloatVector s = FloatVector.broadcast(S, a[pa]);
      x0 = s.fma(FloatVector.fromArray(S, b, pb), x0);
      x1 = s.fma(FloatVector.fromArray(S, b, pb + V), x1);
    }
    x0.intoArray(c, c0);
    x1.intoArray(c, c0 + V);
  }

  private static void tile1x1(int K, float[] a, int a0, int ak, float[] b, int b0, int ldb, float[] c, int c0) {
    FloatVector x0 = FloatVector.fromArray(S, c, c0);
    int pa = a0;
    int pb = b0;
    for (int k = 0; k < K; k++, pa += ak, pb += ldb) {
      x0 = FloatVector.broadcast(S, a[pa]).fma(FloatVector.fromArray(S, b, pb), x0);
    }
    x0.intoArray(c, c0);
  }

  // σ and tanh share one form, y = α / (e^{βx} + 1) + γ: σ with (α, β, γ) = (1, −1, 0), tanh with
  // (−2, 2, 1). Each is bit for bit the textbook form, 1 / (1 + e^−x) and 1 − 2 / (e^{2x} + 1): −1·x
  // and 2·x are exact, and α / (e + 1) + γ rounds as those do. The shared form lets a loop over gates
  // hold one copy of e^x, which matters to the JIT (see the fused cells below).
  private static final float SIG_A = 1f;
  private static final float SIG_B = -1f;
  private static final float SIG_C = 0f;
  private static final float TANH_A = -2f;
  private static final float TANH_B = 2f;
  private static final float TANH_C = 1f;

  @Override
  public void sigmoid(float[] x, int off, int n) {
    activation(x, off, x, off, n, SIG_A, SIG_B, SIG_C);
  }

  @Override
  public void tanh(float[] src, int srcOff, float[] dst, int dstOff, int n) {
    activation(src, srcOff, dst, dstOff, n, TANH_A, TANH_B, TANH_C);
  }

  private static void activation(float[] src, int srcOff, float[] dst, int dstOff, int n, float a, float b, float c) {
    int i = 0;
    for (; i + V <= n; i += V) {
      activation(FloatVector.fromArray(S, src, srcOff + i), a, b, c).intoArray(dst, dstOff + i);
    }
    for (; i < n; i++) {
      dst[dstOff + i] = activation(src[srcOff + i], a, b, c);
    }
  }

  // The fused cells exist for the JIT as much as for the arithmetic. Called row by row from the
  // engine's step loop, σ and tanh were inlined into it until C2's inlining node budget
  // (NodeCountInliningCutoff) ran out part way through the Vector API's layers: the remaining
  // operations ran as Java code on boxed vectors, 2.6 MB allocated per LSTM H = 64 training step.
  // Each fused cell is one call per step and layer, larger than C2 inlines at a hot call site (325
  // bytes of bytecode), so it is compiled as a method of its own; and it calls the vector
  // activation from one place only (a loop over the gates), as one inlined copy of e^x is about
  // what that budget holds with every vector operation intrinsified (a second copy was not inlined). JvmEngineMemoryTest checks that a compiled step allocates nothing per time step.

  @Override
  public void lstmCell(float[] a, int aOff, float[] c, int cp, int cq, float[] tc, int tcOff, float[] h, int hq, int rows, int H) {
    int hv = H / V * V;
    for (int r = 0; r < rows; r++) {
      int g = aOff + r * 4 * H;
      int pr = cp + r * H;
      int cr = cq + r * H;
      int tr = tcOff + r * H;
      int hr = hq + r * H;
      // Five activations, one call site (see above): q = 0..3 the gates i, f, g, o in place
      // (σ, σ, tanh, σ); q = 4 tanh c' into tc, after c' = f ⊙ c + i ⊙ g is stored. Vectors do
      // not cross the branches, so C2 needs no box to merge them. The gate is the outer loop: the
      // vectors of one pass are independent, so the core overlaps their e^x chains (each about 45
      // cycles of dependent operations); with j outer, c' and tanh c' waited on their j's gates.
      for (int q = 0; q < 5; q++) {
        boolean isTanh = q >= 2 && q != 3;
        float fa = isTanh ? TANH_A : SIG_A;
        float fb = isTanh ? TANH_B : SIG_B;
        float fc = isTanh ? TANH_C : SIG_C;
        for (int j = 0; j < hv; j += V) {
          if (q == 4) {
            FloatVector i = FloatVector.fromArray(S, a, g + j);
            FloatVector f = FloatVector.fromArray(S, a, g + H + j);
            FloatVector u = FloatVector.fromArray(S, a, g + 2 * H + j);
            f.mul(FloatVector.fromArray(S, c, pr + j)).add(i.mul(u)).intoArray(c, cr + j); // c' = f ⊙ c + i ⊙ g
          }
          float[] src = q < 4 ? a : c;
          int from = q < 4 ? g + q * H + j : cr + j;
          activation(FloatVector.fromArray(S, src, from), fa, fb, fc).intoArray(q < 4 ? a : tc, q < 4 ? from : tr + j);
        }
      }
      for (int j = 0; j < hv; j += V) {
        FloatVector.fromArray(S, a, g + 3 * H + j).mul(FloatVector.fromArray(S, tc, tr + j)).intoArray(h, hr + j); // h' = o ⊙ tanh c'
      }
      for (int j = hv; j < H; j++) {
        float i = activation(a[g + j], SIG_A, SIG_B, SIG_C);
        float f = activation(a[g + H + j], SIG_A, SIG_B, SIG_C);
        float u = activation(a[g + 2 * H + j], TANH_A, TANH_B, TANH_C);
        float o = activation(a[g + 3 * H + j], SIG_A, SIG_B, SIG_C);
        a[g + j] = i;
        a[g + H + j] = f;
        a[g + 2 * H + j] = u;
        a[g + 3 * H + j] = o;
        float cNew = f * c[pr + j] + i * u;
        c[cr + j] = cNew;
        float t = activation(cNew, TANH_A, TANH_B, TANH_C);
        tc[tr + j] = t;
        h[hr + j] = o * t;
      }
    }
  }

  @Override
  public void lstmCellBack(float[] a, int aOff, float[] c, int cOff, float[] tc, int tcOff, float[] dhAbove, int dhOff,
      float[] dhCarry, float[] dcCarry, int carryOff, float[] dg, int dgOff, int rows, int H) {
    int hv = H / V * V;
    for (int r = 0; r < rows; r++) {
      int g = aOff + r * 4 * H;
      int d = dgOff + r * 4 * H;
      int cr = cOff + r * H;
      int tr = tcOff + r * H;
      int hr = dhOff + r * H;
      int cb = carryOff + r * H;
      // MathKernels.lstmCellBack's operations lane by lane, in its order: the same bits
      for (int j = 0; j < hv; j += V) {
        FloatVector dh = FloatVector.fromArray(S, dhAbove, hr + j).add(FloatVector.fromArray(S, dhCarry, cb + j));
        FloatVector ig = FloatVector.fromArray(S, a, g + j);
        FloatVector fg = FloatVector.fromArray(S, a, g + H + j);
        FloatVector gg = FloatVector.fromArray(S, a, g + 2 * H + j);
        FloatVector og = FloatVector.fromArray(S, a, g + 3 * H + j);
        FloatVector tcj = FloatVector.fromArray(S, tc, tr + j);
        FloatVector dc = FloatVector.fromArray(S, dcCarry, cb + j).add(dh.mul(og).mul(f(V_ONE).sub(tcj.mul(tcj))));
        dc.mul(gg).mul(ig).mul(f(V_ONE).sub(ig)).intoArray(dg, d + j);
        dc.mul(FloatVector.fromArray(S, c, cr + j)).mul(fg).mul(f(V_ONE).sub(fg)).intoArray(dg, d + H + j);
        dc.mul(ig).mul(f(V_ONE).sub(gg.mul(gg))).intoArray(dg, d + 2 * H + j);
        dh.mul(tcj).mul(og).mul(f(V_ONE).sub(og)).intoArray(dg, d + 3 * H + j);
        dc.mul(fg).intoArray(dcCarry, cb + j);
        f(V_ZERO).intoArray(dhCarry, cb + j);
      }
      lstmCellBackRow(a, g, c, cr, tc, tr, dhAbove, hr, dhCarry, dcCarry, cb, dg, d, H, hv, H); // the tail lanes
    }
  }

  @Override
  public void gruCell(float[] a, int aOff, float[] gh, int ghOff, float[] hn, int hnOff, float[] h, int hp, int hq, int rows, int H) {
    int hv = H / V * V;
    for (int row = 0; row < rows; row++) {
      int g = aOff + row * 3 * H;
      int s = ghOff + row * 3 * H;
      int nr = hnOff + row * H;
      int pr = hp + row * H;
      int qr = hq + row * H;
      // Three activations, one call site (see above): q = 0, 1 r and z = σ(W_i x + b_i + W_h h + b_h);
      // q = 2 n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)). Each pre-activation is stored first.
      // Gates outside, vectors inside, as in lstmCell: a pass's e^x chains are independent.
      for (int q = 0; q < 3; q++) {
        boolean isTanh = q == 2;
        float fa = isTanh ? TANH_A : SIG_A;
        float fb = isTanh ? TANH_B : SIG_B;
        float fc = isTanh ? TANH_C : SIG_C;
        for (int j = 0; j < hv; j += V) {
          int at = g + q * H + j;
          FloatVector gate = FloatVector.fromArray(S, a, at);
          FloatVector hidden = FloatVector.fromArray(S, gh, s + q * H + j);
          if (q < 2) {
            gate.add(hidden).intoArray(a, at);
          } else {
            hidden.intoArray(hn, nr + j);
            gate.add(FloatVector.fromArray(S, a, g + j).mul(hidden)).intoArray(a, at);
          }
          activation(FloatVector.fromArray(S, a, at), fa, fb, fc).intoArray(a, at);
        }
      }
      for (int j = 0; j < hv; j += V) {
        FloatVector z = FloatVector.fromArray(S, a, g + H + j);
        FloatVector n = FloatVector.fromArray(S, a, g + 2 * H + j);
        // h' = (1 − z) ⊙ n + z ⊙ h
        f(V_ONE).sub(z).mul(n).add(z.mul(FloatVector.fromArray(S, h, pr + j))).intoArray(h, qr + j);
      }
      for (int j = hv; j < H; j++) {
        float r = activation(a[g + j] + gh[s + j], SIG_A, SIG_B, SIG_C);
        float z = activation(a[g + H + j] + gh[s + H + j], SIG_A, SIG_B, SIG_C);
        float hnj = gh[s + 2 * H + j];
        float n = activation(a[g + 2 * H + j] + r * hnj, TANH_A, TANH_B, TANH_C);
        a[g + j] = r;
        a[g + H + j] = z;
        a[g + 2 * H + j] = n;
        hn[nr + j] = hnj;
        h[qr + j] = (1 - z) * n + z * h[pr + j];
      }
    }
  }

  /** α / (e^{βx} + 1) + γ, lane by lane. */
  private static FloatVector activation(FloatVector x, float a, float b, float c) {
    return FloatVector.broadcast(S, a).div(exp(x.mul(b)).add(1f)).add(c);
  }

  /** The lane formula of {@link #activation(FloatVector, float, float, float)} on one float: the same operations, so the same bits whatever V is. */
  static float activation(float x, float a, float b, float c) {
    return a / (exp(x * b) + 1f) + c;
  }

  // e^x from IEEE basic operations alone. The JDK's lanewise EXP and TANH are intrinsics (SVML)
  // once C2 compiles the loop but Java code before that, and the two differ in the last bit: the
  // same call gave other gradients after about a hundred calls, which broke bit-identical training.
  // Adds, multiplies, divides and fused multiply-adds round the same in every tier (a fused one is
  // correctly rounded by definition, in the interpreter's Math.fma as in the instruction).
  private static final float EXP_MIN = -87f; // e^−87 ≈ 1.6e−38, still a normal float
  /** t's bits for k = 127, the largest exponent of a finite float: e^x's top clamp (see exp). */
  private static final int T_MAX_BITS = 0x4B400000 + 127;
  private static final float LOG2E = 1.44269504088896341f;
  /** ln 2 split so that k · LN2_HI is exact for |k| ≤ 2^11 (Cody–Waite; Cephes' constants). */
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  /** 1.5 · 2^23: adding it rounds a float below 2^22 in magnitude to the nearest integer. */
  private static final float ROUND = 12582912f;
  // The constants as vectors: an operation with a vector argument inlines to fewer of C2's nodes than
  // one with a float (which broadcasts it first), and C2's node budget is what limits the fused cells.
  // Held as the int bits of the float vectors, read through f(): a FloatVector's payload is a
  // float[], which C2 reloads after every store to a float[] in the loop (they may alias) — in
  // lstmCell's compiled loop (hsdis) ten of them per vector, each a 64-bit address and a 512-bit
  // load, where an int[] payload stays in a register from before the loop; the values, so the
  // bits of every result, are the same.
  private static final IntVector V_EXP_MIN = bits(EXP_MIN);
  private static final IntVector V_T_MAX = IntVector.broadcast(S.withLanes(int.class), T_MAX_BITS);
  private static final IntVector V_LOG2E = bits(LOG2E);
  private static final IntVector V_ROUND = bits(ROUND);
  private static final IntVector V_NEG_LN2_HI = bits(-LN2_HI);
  private static final IntVector V_NEG_LN2_LO = bits(-LN2_LO);
  private static final IntVector V_C7 = bits(1f / 5040f);
  private static final IntVector V_C6 = bits(1f / 720f);
  private static final IntVector V_C5 = bits(1f / 120f);
  private static final IntVector V_C4 = bits(1f / 24f);
  private static final IntVector V_C3 = bits(1f / 6f);
  private static final IntVector V_C2 = bits(0.5f);
  private static final IntVector V_ONE = bits(1f);
  private static final IntVector V_ZERO = bits(0f);
  private static final IntVector V_BIAS = IntVector.broadcast(S.withLanes(int.class), 0x4B400000 - 127);

  /** The bits of a vector of x in every lane (see the constants above). */
  private static IntVector bits(float x) {
    return FloatVector.broadcast(S, x).reinterpretAsInts();
  }

  /** The float vector whose bits {@link #bits} holds. */
  private static FloatVector f(IntVector bits) {
    return bits.reinterpretAsFloats();
  }

  /**
   * e^x lane by lane: x = k ln 2 + r with k = round(x log2 e), e^r by its Taylor polynomial to
   * degree 7, and 2^k by writing k + 127 into the exponent bits. Below 88.376 |r| ≤ ln 2 / 2 and the
   * truncation is about 7e−9 relative at most: within a few ulp of e^x on [−87, 88.3] (1.8 ulp at most,
   * checked on every float there). From 88.376 on k stops at 127 and r grows to 0.69, still within
   * 1e−6 relative up to 88.72284, the largest x with a finite result; from 88.72285 on it gives +∞.
   * Below −87 it gives e^−87; NaN gives NaN.
   *
   * <p>Why it is written this way (each the same bits in the scalar form below, which a tail lane
   * takes): every multiply-add is fused (one rounding, one instruction); forward-only at LSTM
   * H = 64 ran 25–31% faster with them. The chain of dependent operations is what limits it (some
   * 60 cycles a vector with the old clamp and Horner's form, about 45 now): the core overlaps only
   * so many vectors, so shortening the chain is what pays (one thread, 1,024 floats in L1; docs/PERFORMANCE.md): the low clamp is one compare and
   * blend on x (a compare gives false for NaN, which passes through) and the high one a single
   * integer min on t's bits (k ≤ 127; NaN stays NaN through r, which reads the unclamped c), where
   * two compares and blends took about a third of the time (on JDK 17 each blend is four instructions:
   * the mask goes through a vector and back); and the polynomial in Estrin's form (r², r⁴ and four
   * independent pairs) instead of Horner's seven dependent multiply-adds. Together 10–20% less time
   * for e^x (3.27 → 2.93 ns a vector in the AMD host's fast state, 4.21 → 3.37 in its slow one).
   */
  static FloatVector exp(FloatVector x) {
    FloatVector c = x.blend(f(V_EXP_MIN), x.lt(f(V_EXP_MIN)));
    // For |c log2 e| < 2^22, t = 1.5·2^23 + k exactly, so bits(t) = 0x4B400000 + k. Above that, and
    // for c = +∞ or NaN, t's bits are larger still (t ≥ 2^24, +∞ or NaN), so the integer min with
    // the bits of k = 127 makes k = 127 there too; r then grows with c (or is +∞ or NaN, read from
    // c), and p·2^127 overflows to +∞ from c = 88.72285 on, or stays NaN.
    FloatVector t = f(c.fma(f(V_LOG2E), f(V_ROUND)).reinterpretAsInts().min(V_T_MAX));
    FloatVector k = t.sub(f(V_ROUND));
    FloatVector r = k.fma(f(V_NEG_LN2_HI), c).add(k.mul(f(V_NEG_LN2_LO))); // c − k ln2_hi (exact) − k ln2_lo
    // Estrin: (1 + r) + r²(1/2 + r/6) + r⁴((1/24 + r/120) + r²(1/720 + r/5040))
    FloatVector r2 = r.mul(r);
    FloatVector p01 = r.add(f(V_ONE));
    FloatVector p23 = r.fma(f(V_C3), f(V_C2));
    FloatVector p45 = r.fma(f(V_C5), f(V_C4));
    FloatVector p67 = r.fma(f(V_C7), f(V_C6));
    FloatVector r4 = r2.mul(r2);
    FloatVector p = p67.fma(r2, p45).fma(r4, p23.fma(r2, p01));
    // 2^k: (k + 127) << 23, with k read from t's bits. A reinterpretation, not convert(F2I, …),
    // which this JDK's C2 leaves as a Java loop (it showed as ~40% of a small RNN's profile).
    IntVector bits = t.reinterpretAsInts().sub(V_BIAS).lanewise(VectorOperators.LSHL, 23);
    return p.mul(bits.reinterpretAsFloats());
  }

  /** {@link #exp(FloatVector)} on one float, operation for operation ({@link Math#fma} where it fuses), so a tail lane gets the same bits as a vector lane. */
  static float exp(float x) {
    float c = x < EXP_MIN ? EXP_MIN : x;
    float t = Float.intBitsToFloat(Math.min(Float.floatToRawIntBits(Math.fma(c, LOG2E, ROUND)), T_MAX_BITS));
    float k = t - ROUND;
    float r = Math.fma(k, -LN2_HI, c) + k * -LN2_LO;
    float r2 = r * r;
    float p01 = r + 1f;
    float p23 = Math.fma(r, 1f / 6f, 0.5f);
    float p45 = Math.fma(r, 1f / 120f, 1f / 24f);
    float p67 = Math.fma(r, 1f / 5040f, 1f / 720f);
    float r4 = r2 * r2;
    float p = Math.fma(Math.fma(p67, r2, p45), r4, Math.fma(p23, r2, p01));
    return p * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (0x4B400000 - 127)) << 23);
  }

  @Override
  public int lanes() {
    return V;
  }

  @Override
  public String describe() {
    return "Vector API, " + S.vectorBitSize() + "-bit (" + V + " floats)";
  }
}
