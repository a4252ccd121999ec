package io.sparkrnn.kernel.jvm;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * The few dense float32 primitives the JVM engine is built from: a register-blocked matrix product,
 * in-place gate nonlinearities, and the pointwise part of an LSTM or GRU step. Two implementations: {@link VectorKernels} (the JDK's
 * {@code jdk.incubator.vector} API: explicit SIMD with fused multiply-add, 512-bit on AVX-512
 * machines) and {@link ScalarKernels} (plain loops that C2 may auto-vectorise; used when the JVM
 * was started without {@code --add-modules jdk.incubator.vector}).
 *
 * <p>Matrices are row-major slices of flat arrays: element (i, k) of A sits at
 * {@code aOff + i * lda + k}, or at {@code aOff + k * lda + i} when A is read transposed.
 * Stateless and thread-safe.
 */
public abstract class MathKernels {
  private static final Logger LOG = Logger.getLogger(MathKernels.class.getName());
  /** System property: "scalar" forces {@link ScalarKernels} even when the Vector API is there. */
  public static final String PROPERTY = "sparkrnn.jvm.kernels";
  private static volatile MathKernels best;

  /**
   * C[M][N] += op(A)[M][K] · B[K][N], with op(A) = A ([M][K] at lda) or Aᵀ (A stored [K][M] at lda).
   * Accumulates into C; the caller zeroes or pre-fills it (with a bias, say).
   */
  public abstract void gemm(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc);

  /**
   * C[M][N] += Aᵀ[M][K] · B[K][N] with A stored [K][M] at lda (the weight gradients: A = dgates
   * over the rows of a chunk), using {@code work} as scratch when it holds at least
   * {@link #transAWorkSize}(M) floats. The caller owns the scratch (a slice keeps one), so no
   * thread-local lookup sits in the hot loop. The default is {@link #gemm} with transA.
   */
  public void gemmTransA(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
      int ldc, float[] work) {
    gemm(M, N, K, a, aOff, lda, true, b, bOff, ldb, c, cOff, ldc);
  }

  /**
   * C1 += Aᵀ B1 and C2 += Aᵀ B2, one A [K][M] for both (dW_ih and dW_hh from one chunk of dgates):
   * the bits of two {@link #gemmTransA} calls, which the default makes; a kernel may pack A once
   * for both, and interleave the two products by k block, so C1 and C2 must not overlap each other
   * or A, B1, B2.
   */
  public void gemmTransA2(int M, int K, float[] a, int aOff, int lda, int N1, float[] b1, int b1Off, int ldb1, float[] c1, int c1Off,
      int ldc1, int N2, float[] b2, int b2Off, int ldb2, float[] c2, int c2Off, int ldc2, float[] work) {
    gemmTransA(M, N1, K, a, aOff, lda, b1, b1Off, ldb1, c1, c1Off, ldc1, work);
    gemmTransA(M, N2, K, a, aOff, lda, b2, b2Off, ldb2, c2, c2Off, ldc2, work);
  }

  /**
   * The output head's product, C[M][N] += A[M][K] · Wᵀ: W [N][K] at {@code ldw} (each output's
   * weights along k, as the model stores them) and the same weights transposed, wT [K][N] (gemm's
   * B). By default {@link #gemm} with wT; a kernel may take W's rows instead where N is narrow (a
   * regression's O of 1 or 2), and must then give each element the same bits at every M.
   */
  public void head(int M, int N, int K, float[] a, int aOff, int lda, float[] w, int wOff, int ldw, float[] wT, int wTOff, float[] c,
      int cOff, int ldc) {
    gemm(M, N, K, a, aOff, lda, false, wT, wTOff, N, c, cOff, ldc);
  }

  /**
   * Floats of B [K][N] in the layout {@link #gemmPacked} reads, or 0 where this kernel has none
   * (then gemmPacked is {@link #gemm}). For a matrix used by many products, the weights of a call:
   * packed once ({@link #packB}), read every time step.
   */
  public int packedBSize(int K, int N) {
    return 0;
  }

  /** B [K][N] at ldb copied into {@code into} ({@link #packedBSize} floats) in the layout {@link #gemmPacked} reads. */
  public void packB(int K, int N, float[] b, int bOff, int ldb, float[] into) {
    if (packedBSize(K, N) != 0) {
      throw new IllegalStateException(getClass().getSimpleName() + " declares a packed layout and must pack it");
    }
  }

  /**
   * C[M][N] += A[M][K] · B[K][N], as {@link #gemm} (A not transposed) and to the same bits, reading
   * B from {@code packedB} ({@link #packB} of the same B; null or empty: none) where the kernel can, and A's row blocks
   * packed into {@code work} ({@link #packedWorkSize} floats). B itself serves the rows and columns
   * the packed layout leaves out. The default is {@link #gemm}.
   */
  public void gemmPacked(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] packedB,
      float[] c, int cOff, int ldc, float[] work) {
    gemm(M, N, K, a, aOff, lda, false, b, bOff, ldb, c, cOff, ldc);
  }

  /**
   * C[m][·] = bias + x[m] · w for m &lt; M, over N columns (rows ldc apart): a product with K = 1,
   * as the input projection of an F = 1 layer. The same bits as filling each row with the bias and
   * then {@link #gemm}(M, N, 1, x, …, w, …); the default does exactly that, a kernel may do it in
   * one pass.
   */
  public void biasPlusOuter(int M, int N, float[] bias, int biasOff, float[] x, int xOff, float[] w, int wOff, float[] c, int cOff,
      int ldc) {
    for (int m = 0; m < M; m++) {
      System.arraycopy(bias, biasOff, c, cOff + m * ldc, N);
    }
    gemm(M, N, 1, x, xOff, 1, false, w, wOff, N, c, cOff, ldc);
  }

  /**
   * C = bias + x ⊗ w + A·B: {@link #biasPlusOuter} then {@link #gemmPacked} (the gates of an F = 1
   * layer before its cell), with their bits. The default does exactly that; a kernel may start
   * its product's accumulators from bias + x · w instead of writing them to C and reading them back.
   */
  public void gemmPackedBiasOuter(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] packedB,
      float[] bias, int biasOff, float[] x, int xOff, float[] w, int wOff, float[] c, int cOff, int ldc, float[] work) {
    biasPlusOuter(M, N, bias, biasOff, x, xOff, w, wOff, c, cOff, ldc);
    gemmPacked(M, N, K, a, aOff, lda, b, bOff, ldb, packedB, c, cOff, ldc, work);
  }

  /** The scratch {@link #gemmPacked} uses for an M-row product, in floats (0: none). */
  public int packedWorkSize(int M) {
    return 0;
  }

  /** The fewest rows of A for which {@link #gemmPacked} reads the packed B ({@code Integer.MAX_VALUE}: never). */
  public int packedMinRows() {
    return Integer.MAX_VALUE;
  }

  /** The scratch {@link #gemmTransA} uses for an M-row product, in floats (0: none). */
  public int transAWorkSize(int M) {
    return 0;
  }

  /** x ← σ(x) = 1 / (1 + e^−x) over n values from off. */
  public abstract void sigmoid(float[] x, int off, int n);

  /** dst ← tanh(src) over n values (src and dst may be the same range). */
  public abstract void tanh(float[] src, int srcOff, float[] dst, int dstOff, int n);

  /**
   * The pointwise part of an LSTM step over {@code rows} consecutive sequences r (PyTorch's
   * equations): gate pre-activations (i, f, g, o) at {@code a[aOff + r·4H + gate·H + j]} in, their
   * activations (σ, σ, tanh, σ) out in place, and
   * <pre>
   *   c[cq + r·H + j]    = f·c[cp + r·H + j] + i·g        (c' = f ⊙ c + i ⊙ g)
   *   tc[tcOff + r·H + j] = tanh(c')
   *   h[hq + r·H + j]    = o·tanh(c')                    (h' = o ⊙ tanh c')
   * </pre>
   * This composition of {@link #sigmoid} and {@link #tanh} row by row is the definition; an
   * override must give the same bits.
   */
  public void lstmCell(float[] a, int aOff, float[] c, int cp, int cq, float[] tc, int tcOff, float[] h, int hq, int rows, int H) {
    for (int r = 0; r < rows; r++) {
      int g = aOff + r * 4 * H;
      int cr = cq + r * H;
      int pr = cp + r * H;
      int tr = tcOff + r * H;
      sigmoid(a, g, 2 * H); // i, f
      tanh(a, g + 2 * H, a, g + 2 * H, H); // g
      sigmoid(a, g + 3 * H, H); // o
      for (int j = 0; j < H; j++) {
        c[cr + j] = a[g + H + j] * c[pr + j] + a[g + j] * a[g + 2 * H + j];
      }
      tanh(c, cr, tc, tr, H);
      for (int j = 0; j < H; j++) {
        h[hq + r * H + j] = a[g + 3 * H + j] * tc[tr + j];
      }
    }
  }

  /**
   * The pointwise backward of an LSTM step over {@code rows} consecutive sequences r, from what
   * {@link #lstmCell} kept: gate activations (i, f, g, o) at {@code a[aOff + r·4H + gate·H + j]},
   * c_t at {@code c[cOff + r·H + j]}, tanh c_{t+1} at {@code tc[tcOff + r·H + j]}. With
   * dh = dhAbove + dhCarry (d loss / d h_{t+1}) and the carried dc:
   * <pre>
   *   dc        = dcCarry + dh·o·(1 − tanh²c')
   *   dg[i]     = dc·g·i·(1 − i)        dg[f] = dc·c_t·f·(1 − f)
   *   dg[g]     = dc·i·(1 − g²)         dg[o] = dh·tanh c'·o·(1 − o)
   *   dcCarry   = dc·f                  dhCarry = 0 (the caller adds dgates W_hh)
   * </pre>
   * dg at {@code dg[dgOff + r·4H + gate·H + j]}, the carries at {@code [carryOff + r·H + j]}. These
   * loops, in this order of operations (no fused multiply-add), are the definition; an override
   * must give the same bits.
   */
  public void lstmCellBack(float[] a, int aOff, float[] c, int cOff, float[] tc, int tcOff, float[] dhAbove, int dhOff,
      float[] dhCarry, float[] dcCarry, int carryOff, float[] dg, int dgOff, int rows, int H) {
    for (int r = 0; r < rows; r++) {
      lstmCellBackRow(a, aOff + r * 4 * H, c, cOff + r * H, tc, tcOff + r * H, dhAbove, dhOff + r * H, dhCarry, dcCarry, carryOff + r * H,
          dg, dgOff + r * 4 * H, H, 0, H);
    }
  }

  /** {@link #lstmCellBack} of one row (offsets at the row's start), for j in [from, to). */
  static void lstmCellBackRow(float[] a, int g, float[] c, int cr, float[] tc, int tr, float[] dhAbove, int hr, float[] dhCarry,
      float[] dcCarry, int cb, float[] dg, int d, int H, int from, int to) {
    for (int j = from; j < to; j++) {
      float dh = dhAbove[hr + j] + dhCarry[cb + j];
      float ig = a[g + j];
      float fg = a[g + H + j];
      float gg = a[g + 2 * H + j];
      float og = a[g + 3 * H + j];
      float tcj = tc[tr + j];
      float dc = dcCarry[cb + j] + dh * og * (1 - tcj * tcj); // dc = dcNext + dh ⊙ o ⊙ (1 − tanh²c)
      dg[d + j] = dc * gg * ig * (1 - ig); // through i = σ
      dg[d + H + j] = dc * c[cr + j] * fg * (1 - fg); // through f = σ
      dg[d + 2 * H + j] = dc * ig * (1 - gg * gg); // through g = tanh
      dg[d + 3 * H + j] = dh * tcj * og * (1 - og); // through o = σ
      dcCarry[cb + j] = dc * fg; // dc_t = dc ⊙ f
      dhCarry[cb + j] = 0; // refilled by dgates W_hh
    }
  }

  /**
   * The pointwise part of a GRU step over {@code rows} consecutive sequences r (PyTorch's
   * equations). In: {@code a[aOff + r·3H + ·]} = W_i x + b_i for the gates (r, z, n), and
   * {@code gh[ghOff + r·3H + ·]} = W_h h + b_h. Out:
   * <pre>
   *   a[r, z] = σ(a[r, z] + gh[r, z])
   *   hn[hnOff + r·H + j] = gh[n]                        (W_hn h + b_hn, kept for the backward pass)
   *   a[n] = tanh(a[n] + r ⊙ gh[n])
   *   h[hq + r·H + j] = (1 − z)·n + z·h[hp + r·H + j]
   * </pre>
   * This composition is the definition; an override must give the same bits.
   */
  public void gruCell(float[] a, int aOff, float[] gh, int ghOff, float[] hn, int hnOff, float[] h, int hp, int hq, int rows, int H) {
    for (int row = 0; row < rows; row++) {
      int g = aOff + row * 3 * H;
      int s = ghOff + row * 3 * H;
      for (int j = 0; j < 2 * H; j++) {
        a[g + j] += gh[s + j];
      }
      sigmoid(a, g, 2 * H);
      for (int j = 0; j < H; j++) {
        hn[hnOff + row * H + j] = gh[s + 2 * H + j];
        a[g + 2 * H + j] += a[g + j] * gh[s + 2 * H + j];
      }
      tanh(a, g + 2 * H, a, g + 2 * H, H);
      for (int j = 0; j < H; j++) {
        float z = a[g + H + j];
        h[hq + row * H + j] = (1 - z) * a[g + 2 * H + j] + z * h[hp + row * H + j];
      }
    }
  }

  /** "Vector API, 512-bit (16 floats)" or "scalar loops". */
  public abstract String describe();

  /** Floats one operation handles: the vector's lane count, or 1 for the scalar loops. */
  public abstract int lanes();

  /** Plain Java loops; always available. */
  public static MathKernels scalar() {
    return new ScalarKernels();
  }

  /**
   * The Vector API kernels when the JVM runs with {@code --add-modules jdk.incubator.vector}, else
   * the scalar ones (logged once, since they are several times slower). {@code -Dsparkrnn.jvm.kernels=scalar}
   * forces the scalar ones.
   */
  public static MathKernels best() {
    MathKernels k = best;
    if (k == null) {
      k = choose();
      best = k;
    }
    return k;
  }

  /**
   * The milliseconds this JVM's JIT has spent compiling so far ({@code CompilationMXBean}), read
   * anew at each call, or null where the JVM does not report them: what tells a warm-up or a
   * window that C2 was still at work (bench's warm-ups, {@link BoxedVectors}).
   */
  public static LongSupplier jitCompileMillis() {
    try {
      CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
      if (jit != null && jit.isCompilationTimeMonitoringSupported()) {
        return jit::getTotalCompilationTime;
      }
    } catch (RuntimeException | LinkageError e) {
      // not reported: null, as where it is unsupported
    }
    return null;
  }

  /** Whether HotSpot compiles Math.fma and the vectors' fma to FMA instructions (UseFMA); true where the flag cannot be read. */
  static boolean hardwareFma() {
    try {
      return Boolean.parseBoolean(ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
          .getVMOption("UseFMA").getValue());
    } catch (RuntimeException e) {
      return true;
    }
  }

  /** The JVM options that keep C2's loop strip mining on under every collector (G1, ZGC and Shenandoah have it by default). */
  public static final String STRIP_MINING_OPTIONS = "-XX:+UseCountedLoopSafepoints -XX:LoopStripMiningIter=1000";

  /**
   * Whether C2 strip-mines counted loops here (UseCountedLoopSafepoints, LoopStripMiningIter &gt; 1);
   * true where the flags cannot be read. Without it (the default of ParallelGC and SerialGC) C2
   * allocated the 8 × 2V tile's loop worse: its counter moved through a vector register, B's bounds
   * taken from the stack, and the tile ran at 80–107 GFLOP/s against 141–146 (LSTM H = 256
   * training 1,966–1,986 against 2,386–2,517 seq/s, bench, 2026-12-02).
   */
  static boolean loopStripMining() {
    try {
      com.sun.management.HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(
          com.sun.management.HotSpotDiagnosticMXBean.class);
      return Boolean.parseBoolean(vm.getVMOption("UseCountedLoopSafepoints").getValue())
          && Long.parseLong(vm.getVMOption("LoopStripMiningIter").getValue()) > 1; // C2 strip-mines only above 1 (loopnode.cpp)
    } catch (RuntimeException e) {
      return true;
    }
  }

  /** Whether {@code jdk.incubator.vector} is in the boot layer of this JVM. */
  public static boolean vectorApiAvailable() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  private static MathKernels choose() {
    if ("scalar".equals(System.getProperty(PROPERTY))) {
      LOG.info("JVM engine: scalar kernels (-D" + PROPERTY + "=scalar)");
      return scalar();
    }
    if (vectorApiAvailable()) {
      if (!hardwareFma()) {
        LOG.warning("JVM engine: this JVM runs without fused multiply-add instructions (-XX:-UseFMA or a CPU without FMA); "
            + "the Vector API kernels' e^x then rounds its multiply-adds in software (the same bits), many times slower");
      }
      if (!loopStripMining()) {
        LOG.warning("JVM engine: this JVM does not strip-mine counted loops (ParallelGC's or SerialGC's default), and the "
            + "Vector API kernels' matrix products run about a fifth slower; add " + STRIP_MINING_OPTIONS + " to the JVM's "
            + "options (bin/spark-rnn and conf/spark-defaults.conf do; for spark-submit, spark.driver.extraJavaOptions and "
            + "spark.executor.extraJavaOptions)");
      }
      try {
        return (MathKernels) Class.forName("io.sparkrnn.kernel.jvm.VectorKernels").getDeclaredConstructor().newInstance();
      } catch (InvocationTargetException e) {
        // The constructor runs every kernel once (its warm-up): an exception there is a bug in the kernels, not a JVM
        // without the Vector API, and once sent every 8-lane host to the scalar loops with only a warning. An Error
        // (out of memory, a class that failed to initialise) stays what it is.
        if (e.getCause() instanceof Error) {
          throw (Error) e.getCause();
        }
        throw new IllegalStateException("JVM engine: the Vector API kernels failed their warm-up (a bug; " + System.getProperty("os.arch")
            + ", " + System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version") + "); -D" + PROPERTY
            + "=scalar runs the scalar loops instead", e.getCause());
      } catch (ReflectiveOperationException | LinkageError e) {
        LOG.warning("JVM engine: the Vector API kernels failed to load (" + e + "); using scalar loops, several times slower");
        return scalar();
      }
    }
    LOG.warning("JVM engine: jdk.incubator.vector is not loaded; using scalar loops, several times slower. "
        + "Start the JVM with --add-modules=jdk.incubator.vector (bin/spark-rnn does; for spark-submit add it to "
        + "spark.driver.extraJavaOptions and spark.executor.extraJavaOptions)");
    return scalar();
  }
}
