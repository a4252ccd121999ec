package io.sparkrnn.kernel.jvm;

import java.util.logging.Logger;

/**
 * The few dense float32 primitives the JVM engine is built from: a register-blocked matrix product
 * and in-place gate nonlinearities. Two implementations: {@link VectorKernels} (the JDK's
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

  /** x ← σ(x) = 1 / (1 + e^−x) over n values from off. */
  public abstract void sigmoid(float[] x, int off, int n);

  /** dst ← tanh(src) over n values (src and dst may be the same range). */
  public abstract void tanh(float[] src, int srcOff, float[] dst, int dstOff, int n);

  /** "Vector API, 512-bit (16 floats)" or "scalar loops". */
  public abstract String describe();

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
      try {
        return (MathKernels) Class.forName("io.sparkrnn.kernel.jvm.VectorKernels").getDeclaredConstructor().newInstance();
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
