package io.sparkrnn.kernel.jvm;

/** {@link MathKernels} in plain loops (i-k-j order, so the inner loop runs along rows of B and C). */
class ScalarKernels extends MathKernels { // not final: a test subclass allocates in a cell (BoxedVectorsTest)

  @Override
  public void gemm(int M, int N, int K, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb,
      float[] c, int cOff, int ldc) {
    int ai = transA ? 1 : lda;
    int ak = transA ? lda : 1;
    for (int i = 0; i < M; i++) {
      int ci = cOff + i * ldc;
      for (int k = 0; k < K; k++) {
        float aik = a[aOff + i * ai + k * ak];
        int bk = bOff + k * ldb;
        for (int j = 0; j < N; j++) {
          c[ci + j] += aik * b[bk + j]; // C[i][j] += A[i][k] B[k][j]
        }
      }
    }
  }

  @Override
  public void sigmoid(float[] x, int off, int n) {
    for (int i = off; i < off + n; i++) {
      x[i] = (float) (1.0 / (1.0 + Math.exp(-x[i])));
    }
  }

  @Override
  public void tanh(float[] src, int srcOff, float[] dst, int dstOff, int n) {
    for (int i = 0; i < n; i++) {
      dst[dstOff + i] = (float) Math.tanh(src[srcOff + i]);
    }
  }

  @Override
  public String describe() {
    return "scalar loops";
  }

  @Override
  public int lanes() {
    return 1;
  }
}
