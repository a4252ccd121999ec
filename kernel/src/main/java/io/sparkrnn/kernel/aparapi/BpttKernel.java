package io.sparkrnn.kernel.aparapi;

import com.aparapi.Kernel;
import com.aparapi.Range;
import java.lang.reflect.Array;
import java.util.List;

/**
 * Every float32 op of forward and backpropagation through time, as one Aparapi kernel whose
 * {@link #run()} dispatches on {@link #op}. One kernel holds every buffer, so weights, activations
 * and gradients stay on the device between launches (explicit buffer management); the host puts
 * inputs only when they changed and gets only outputs, the loss rows and the gradient.
 *
 * <p>Every matrix product is one op, {@link #OP_GEMM}: C(m,n) = [C(m,n) +] [bias(n) +] Σ_k A(m,k) B(k,n),
 * tiled for the device (see {@link #gemm()}). A, B and C are chosen among the kernel's buffers by a
 * selector and addressed through an offset and two strides, so one op covers the input projection
 * of all T steps, the recurrent product of one step (the whole batch, B × GH), the backward product
 * dh_{t−1} = dgates · W_hh, the weight gradients over all T·B rows and dh of the layer below. The
 * gate nonlinearities and the cell update run in the epilogue of a step's product (see
 * {@link #gemmEpilogue}): forward, the recurrent product of step t ends in the cell of step t;
 * backward, the product dh_t = dgh_{t+1} · W_hh ends in the cell's backward of step t. Only the
 * cell's backward of the last step is a pointwise op of its own ({@link #OP_CELL_BACK}).
 *
 * <p>The kernel only indexes and computes; {@link AparapiEngine} validates, sizes the buffers, sets
 * the scalar fields of each launch and checks which device ran it. Letters: F features, B batch,
 * T steps, H hidden, G gates, O outputs, L layers, GH = G·H rows of a layer's weight matrices.
 * Cells and gate order follow PyTorch (LSTM i,f,g,o; GRU r,z,n with
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))).
 *
 * <p>Only what Aparapi translates to OpenCL C is used here: int and float arithmetic, the kernel's
 * own {@code exp}, {@code log}, {@code tanh}, {@code max}, {@code min}, loops, branches and
 * barriers. No {@code Math.*}, no doubles, no objects, no break/continue.
 */
final class BpttKernel extends Kernel {
  // ---- ops -----------------------------------------------------------------------------------
  /** One tiled matrix product; the gemm* fields say which buffers, where and how large. */
  static final int OP_GEMM = 1;
  /** hs and cs slot 0 of a layer = the initial state (B·H items). */
  static final int OP_STATE_INIT = 2;
  /** out[row][o] = head.bias[o] + Σ_j head.weight[o,j] h_top[row][j]. */
  static final int OP_HEAD = 3;
  /** Loss per row and dLoss/dout (mse or fused log-softmax + NLL). */
  static final int OP_LOSS = 4;
  /** dh_top = head.weightᵀ dout, and the head's weight and bias gradients, in one launch. */
  static final int OP_HEAD_BACK = 5;
  /** The cell's backward at the last step T − 1 (dh, dc carried from above it are 0): B·H items. */
  static final int OP_CELL_BACK = 7;

  /** {@link #gemmEpilogue}: C = [C +] [bias +] the product. */
  static final int EPI_STORE = 0;
  /** The recurrent product of step {@link #step} (grouped by unit, see {@link #gemmGroups}), then the cell of that step; C is not written. */
  static final int EPI_CELL = 1;
  /** dhc += the product (dh_{t−1} from dgh_t, t = {@link #step}), then the cell's backward of step t − 1. */
  static final int EPI_CELL_BACK = 2;

  static final int CELL_RNN = 0;
  static final int CELL_LSTM = 1;
  static final int CELL_GRU = 2;

  /** Selectors of the product's operands ({@link #gemmA}, {@link #gemmB}, {@link #gemmC}). */
  static final int BUF_W = 0;
  static final int BUF_X = 1;
  static final int BUF_HS = 2;
  static final int BUF_DGI = 3;
  static final int BUF_DGH = 4;
  static final int BUF_ACT = 5;
  static final int BUF_DHC = 7;
  static final int BUF_DW = 8;
  static final int BUF_DHX = 9;
  /** A operand only: the constant 1 (A(m,k) = 1 turns the product into column sums of B, e.g. a bias gradient). */
  static final int BUF_ONE = 10;

  /** Outputs per work item of a product: a 4 × 8 block, rows 4·ty + i (i < 4), columns 8·tx + j (j < 8). */
  static final int MICRO_M = 4;
  static final int MICRO_N = 8;

  // ---- scalars, set by the host before each launch -------------------------------------------
  int op;
  /** Work items that do work in this launch (the global size is padded up to a multiple of the local size). */
  int n;
  int cell;
  int L;
  int G;
  int H;
  int B;
  int T;
  int O;
  /** Head rows: T·B for seq2seq, B for seq2one. */
  int rows;
  /** 1 for seq2one (the head reads step lengths[b] − 1), 0 for seq2seq. */
  int seq2one;
  /** 1 for cross_entropy, 0 for mse. */
  int crossEntropy;
  /** The layer's input width: F for layer 0, H above. */
  int inW;
  /** Offset of the layer's weight_ih in {@link #w}; weight_hh, bias_ih, bias_hh follow contiguously. */
  int offW;
  /** Offset of head.weight in {@link #w}; head.bias follows. */
  int offHead;
  /** Offset of this layer's block in {@link #hs} and {@link #cs}: l·(T+1)·B·H. */
  int hsOff;
  /** Offset of this layer's block in {@link #act}: l·T·B·GH. */
  int actOff;
  /** Offset of this layer's block in {@link #hnb}: l·T·B·H. */
  int hnOff;
  /** Offset of this layer in the state arrays {@link #h0}, {@link #c0}, {@link #hfin}, {@link #cfin}: l·B·H. */
  int stOff;
  /** The time step of {@link #EPI_CELL}, {@link #EPI_CELL_BACK} and {@link #OP_CELL_BACK}. */
  int step;

  // The product C(m,n) = [C(m,n) +] [w[gemmBias + n] +] Σ_k A(m,k) B(k,n), m < gemmM, n < gemmN, k < gemmK, with
  // A(m,k) = bufA[gemmAOff + m·gemmASm + k·gemmASk], B(k,n) = bufB[gemmBOff + k·gemmBSk + n·gemmBSn],
  // C(m,n) = bufC[gemmCOff + m·gemmCSm + n]; a transposed operand is the same buffer with its strides swapped.
  int gemmM;
  int gemmN;
  int gemmK;
  int gemmA;
  int gemmAOff;
  int gemmASm;
  int gemmASk;
  int gemmB;
  int gemmBOff;
  int gemmBSk;
  int gemmBSn;
  int gemmC;
  int gemmCOff;
  int gemmCSm;
  /** 1: C += the product; 0: C = the product. */
  int gemmAccumulate;
  /** Offset of a bias over n in {@link #w}, or −1 for none. */
  int gemmBias;
  /**
   * Columns grouped by unit: 1 for a plain product; G for the recurrent product with the cell in its
   * epilogue, whose tile must hold all G gate columns of each unit it covers. A tile of TN columns
   * then covers J = ⌊TN / G⌋ units j0 .. j0 + J − 1 (j0 = tile column · J): its column g·J + jj is C's
   * column g·{@link #gemmGroupW} + j0 + jj (g < G, jj < J; columns past G·J stay unused). One group:
   * J = TN and column nn is C's column n0 + nn, the plain product.
   */
  int gemmGroups;
  /** Columns per group: H for the recurrent product (GH = G·H columns), gemmN for a plain one. */
  int gemmGroupW;
  /** What the tile's sums become: {@link #EPI_STORE}, {@link #EPI_CELL} or {@link #EPI_CELL_BACK}. */
  int gemmEpilogue;
  /** Tile of a work-group: TM rows × TN columns of C, k in blocks of TK (per launch, from {@link KernelSizes#tileFor}). */
  int tileM;
  int tileN;
  int tileK;

  // ---- buffers (lengths ≥ 1; the host grows them, never shrinks) -----------------------------
  /** Parameters, flat in ParamLayout order. */
  float[] w = new float[1];
  /** Inputs [T][B][F]. */
  float[] x = new float[1];
  /** mse targets [T][B][O] (seq2seq) or [B][O] (seq2one). */
  float[] tgt = new float[1];
  /** cross_entropy class ids [T][B] (seq2seq) or [B] (seq2one). */
  int[] cls = new int[1];
  /** Valid steps per sequence [B]. */
  int[] len = new int[1];
  /** Initial states [L][B][H]. */
  float[] h0 = new float[1];
  float[] c0 = new float[1];
  /** Hidden states [L][T+1][B][H]; t = 0 holds the initial state, padded steps repeat the last valid one. */
  float[] hs = new float[1];
  /** LSTM cell states [L][T+1][B][H], laid out as {@link #hs}. */
  float[] cs = new float[1];
  /** Gates [L][T][B][GH]: the input projection W_ih x + b_ih, then overwritten by the gate activations (LSTM i,f,g,o; GRU r,z,n; RNN h). */
  float[] act = new float[1];
  /** GRU only: W_hn h + b_hn [L][T][B][H], needed for dr and dW_hn. */
  float[] hnb = new float[1];
  /** Head outputs [rows][O]; padded seq2seq rows hold 0. */
  float[] out = new float[1];
  /** dLoss/dout [rows][O]; 0 on padded rows. */
  float[] dout = new float[1];
  /** Loss per head row [rows]. */
  float[] lossRow = new float[1];
  /** dLoss/dh arriving from above (head or next layer) [T][B][H]. */
  float[] dhx = new float[1];
  /** dLoss/d(W_ih x + b_ih) per gate row [T][B][GH]; 0 on padded steps. */
  float[] dgi = new float[1];
  /** dLoss/d(W_hh h + b_hh) per gate row [T][B][GH]; equals dgi except the GRU n rows (times r). */
  float[] dgh = new float[1];
  /** Recurrent dh carried from step t to t − 1 [B][H]. */
  float[] dhc = new float[1];
  /** LSTM dc carried from step t to t − 1 [B][H]. */
  float[] dcc = new float[1];
  /** Final states [L][B][H]. */
  float[] hfin = new float[1];
  float[] cfin = new float[1];
  /** Gradient of the loss sum, flat in ParamLayout order. */
  float[] dw = new float[1];
  /**
   * A product's tiles in local memory, (TM + TN)·TK floats: A's tile [TK][TM] at 0 (k-major: a k row
   * of the tile is contiguous), B's tile [TK][TN] at TM·TK; at the end the C tile [TM][TN] at 0.
   */
  @Local float[] tileAB = new float[1];

  /** The names of {@link #buffers}, in its order. */
  static final List<String> BUFFER_NAMES = List.of("w", "x", "tgt", "cls", "len", "h0", "c0", "hs", "cs",
      "act", "hnb", "out", "dout", "lossRow", "dhx", "dgi", "dgh", "dhc", "dcc", "hfin", "cfin", "dw");

  /**
   * The global buffers above in a fixed order (the index {@link #setBuffer} takes); called from the
   * host, never translated.
   */
  Object[] buffers() {
    return new Object[] {w, x, tgt, cls, len, h0, c0, hs, cs, act, hnb, out, dout, lossRow, dhx, dgi, dgh, dhc, dcc, hfin,
        cfin, dw};
  }

  /**
   * Sets buffer i of {@link #buffers} to {@code a} (an array of the same type) and returns the one
   * it held. Called from the host, never translated.
   */
  Object setBuffer(int i, Object a) {
    Object old = buffers()[i];
    switch (i) {
      case 0 -> w = (float[]) a;
      case 1 -> x = (float[]) a;
      case 2 -> tgt = (float[]) a;
      case 3 -> cls = (int[]) a;
      case 4 -> len = (int[]) a;
      case 5 -> h0 = (float[]) a;
      case 6 -> c0 = (float[]) a;
      case 7 -> hs = (float[]) a;
      case 8 -> cs = (float[]) a;
      case 9 -> act = (float[]) a;
      case 10 -> hnb = (float[]) a;
      case 11 -> out = (float[]) a;
      case 12 -> dout = (float[]) a;
      case 13 -> lossRow = (float[]) a;
      case 14 -> dhx = (float[]) a;
      case 15 -> dgi = (float[]) a;
      case 16 -> dgh = (float[]) a;
      case 17 -> dhc = (float[]) a;
      case 18 -> dcc = (float[]) a;
      case 19 -> hfin = (float[]) a;
      case 20 -> cfin = (float[]) a;
      case 21 -> dw = (float[]) a;
      default -> throw new IllegalArgumentException("no buffer " + i);
    }
    return old;
  }

  /** Bytes of every global buffer above (float and int, 4 bytes each); called from the host, never translated. */
  long bufferBytes() {
    long values = 0;
    for (Object b : buffers()) {
      values += Array.getLength(b);
    }
    return 4 * values;
  }

  /**
   * True, with an alternative that does nothing ({@link #executeFallbackAlgorithm}): where the
   * OpenCL device fails a launch, Aparapi then runs this instead of its Java thread pool, which
   * runs the kernel 20–100× slower than the JVM engine and whose barrier can deadlock
   * (docs/PERFORMANCE.md, "What is left"). {@link ExecutionGuard} sees that the launch did not run
   * and throws; under {@code --device auto} the caller turns to the JVM engine. Host only.
   */
  @Override
  public boolean hasFallbackAlgorithm() {
    return true;
  }

  /** Nothing: see {@link #hasFallbackAlgorithm}. Host only. */
  @Override
  public void executeFallbackAlgorithm(Range range, int passId) {
    // the launch is left undone on purpose; ExecutionGuard reports it
  }

  @Override
  public void run() {
    if (op == OP_GEMM) {
      gemm();
    } else if (op == OP_CELL_BACK) {
      int gid = getGlobalId();
      if (gid < n) {
        cellBackwardAt(gid / H, gid % H, step);
      }
    } else if (op == OP_STATE_INIT) {
      initState();
    } else if (op == OP_HEAD) {
      head();
    } else if (op == OP_LOSS) {
      loss();
    } else if (op == OP_HEAD_BACK) {
      headBackward();
    }
  }

  private float sigmoid(float a) {
    return 1f / (1f + exp(-a));
  }

  // ---- the tiled product -----------------------------------------------------------------------

  /**
   * A 2-D launch: one work-group per TM × TN tile of C (group (0) the tile column, group (1) the tile
   * row), TN/8 × TM/4 work items (tx, ty), each owning a 4 × 8 block: the 4
   * neighbouring rows 4·ty .. 4·ty + 3 (the items along dimension 0 read the same A elements: a
   * broadcast) and the 8 neighbouring columns 8·tx .. 8·tx + 7. Both runs are contiguous in local
   * memory, so a GPU loads them as 16-byte words and a CPU compiler as vector loads: the local
   * indices are masked with 0x0fffffff (they are far below 2^28), which lets LLVM prove that
   * index + i does not overflow; without the mask PoCL 3.1 made two gathers per k step of the 12
   * loads, with it the products ran 15–25% faster (same bits: each sum is unchanged). 32 sums per
   * item: 2.7 multiply-adds per local load, against 0.5 for a naive product. (A barrier every few k
   * steps, so that PoCL vectorises across work items, gave vector code but ran 2–3× slower: the
   * sums then go through memory at every barrier.)
   *
   * <p>Local memory {@link #tileAB}: per k block of TK, A's TM × TK tile as [TK][TM] at 0 and B's
   * TK × TN tile as [TK][TN] at TM·TK, staged by all items together (zeros past the product's
   * edges); then every item accumulates its 32 sums from local memory only. At the end the group writes its
   * C tile [TM][TN] to local memory and stores it row by row (neighbouring items, neighbouring
   * addresses), adding the bias or the old C. Each sum runs over k in ascending order, so a result
   * depends on the tile size and nothing else: bit-identical for a seed on a given device.
   */
  private void gemm() {
    int lx = tileN / MICRO_N;
    int ly = tileM / MICRO_M;
    int tx = getLocalId(0);
    int ty = getLocalId(1);
    int lid = ty * lx + tx;
    int ls = lx * ly;
    int m0 = getGroupId(1) * tileM;
    int n0 = getGroupId(0) * tileN;
    // units per group in this tile and the first one (one group: J = TN, j0 = n0)
    int jw = tileN / gemmGroups;
    int j0 = getGroupId(0) * jw;
    int bBase = tileM * tileK;
    float c00 = 0f;
    float c01 = 0f;
    float c02 = 0f;
    float c03 = 0f;
    float c04 = 0f;
    float c05 = 0f;
    float c06 = 0f;
    float c07 = 0f;
    float c10 = 0f;
    float c11 = 0f;
    float c12 = 0f;
    float c13 = 0f;
    float c14 = 0f;
    float c15 = 0f;
    float c16 = 0f;
    float c17 = 0f;
    float c20 = 0f;
    float c21 = 0f;
    float c22 = 0f;
    float c23 = 0f;
    float c24 = 0f;
    float c25 = 0f;
    float c26 = 0f;
    float c27 = 0f;
    float c30 = 0f;
    float c31 = 0f;
    float c32 = 0f;
    float c33 = 0f;
    float c34 = 0f;
    float c35 = 0f;
    float c36 = 0f;
    float c37 = 0f;
    for (int k0 = 0; k0 < gemmK; k0 += tileK) {
      int kn = min(tileK, gemmK - k0);
      // stage A(m0.., k0..) as [kk][mm] and B(k0.., n0..) as [kk][nn]; one loop per operand, not one shared
      // method: Aparapi passes no array to a method, so a shared one would branch on the operand per element
      // only the kn rows of this block (the compute loop reads no further)
      // element i = ka·TM + mm (and kb·TN + nn below), advanced by additions: a division per element costs more than its load
      int mm = lid % tileM;
      int ka = lid / tileM;
      for (int i = lid; i < tileM * kn; i += ls) {
        float v = 0f;
        if (m0 + mm < gemmM) {
          int at = gemmAOff + (m0 + mm) * gemmASm + (k0 + ka) * gemmASk;
          if (gemmA == BUF_X) {
            v = x[at];
          }
          if (gemmA == BUF_HS) {
            v = hs[at];
          }
          if (gemmA == BUF_DGI) {
            v = dgi[at];
          }
          if (gemmA == BUF_DGH) {
            v = dgh[at];
          }
          if (gemmA == BUF_ONE) {
            v = 1f;
          }
        }
        tileAB[i] = v;
        mm += ls;
        while (mm >= tileM) {
          mm -= tileM;
          ka++;
        }
      }
      int nn = lid % tileN;
      int kb = lid / tileN;
      for (int i = lid; i < tileN * kn; i += ls) {
        float v = 0f;
        // tile column nn = g·J + jj is C's column g·W + j0 + jj (see gemmGroups); at most G subtractions, no division
        int g = 0;
        int jj = nn;
        while (jj >= jw) {
          jj -= jw;
          g++;
        }
        if (g < gemmGroups && j0 + jj < gemmGroupW) {
          int at = gemmBOff + (k0 + kb) * gemmBSk + (g * gemmGroupW + j0 + jj) * gemmBSn;
          if (gemmB == BUF_W) {
            v = w[at];
          }
          if (gemmB == BUF_X) {
            v = x[at];
          }
          if (gemmB == BUF_HS) {
            v = hs[at];
          }
          if (gemmB == BUF_DGI) {
            v = dgi[at];
          }
          if (gemmB == BUF_DGH) {
            v = dgh[at];
          }
        }
        tileAB[bBase + i] = v;
        nn += ls;
        while (nn >= tileN) {
          nn -= tileN;
          kb++;
        }
      }
      localBarrier();
      for (int kk = 0; kk < kn; kk++) {
        int ar = (kk * tileM + MICRO_M * ty) & 0x0fffffff;
        int br = (bBase + kk * tileN + MICRO_N * tx) & 0x0fffffff;
        float a0 = tileAB[ar];
        float a1 = tileAB[ar + 1];
        float a2 = tileAB[ar + 2];
        float a3 = tileAB[ar + 3];
        float b0 = tileAB[br];
        float b1 = tileAB[br + 1];
        float b2 = tileAB[br + 2];
        float b3 = tileAB[br + 3];
        float b4 = tileAB[br + 4];
        float b5 = tileAB[br + 5];
        float b6 = tileAB[br + 6];
        float b7 = tileAB[br + 7];
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        c04 += a0 * b4;
        c05 += a0 * b5;
        c06 += a0 * b6;
        c07 += a0 * b7;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c12 += a1 * b2;
        c13 += a1 * b3;
        c14 += a1 * b4;
        c15 += a1 * b5;
        c16 += a1 * b6;
        c17 += a1 * b7;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c22 += a2 * b2;
        c23 += a2 * b3;
        c24 += a2 * b4;
        c25 += a2 * b5;
        c26 += a2 * b6;
        c27 += a2 * b7;
        c30 += a3 * b0;
        c31 += a3 * b1;
        c32 += a3 * b2;
        c33 += a3 * b3;
        c34 += a3 * b4;
        c35 += a3 * b5;
        c36 += a3 * b6;
        c37 += a3 * b7;
      }
      localBarrier();
    }
    // the C tile [TM][TN] into local memory (TM·TN ≤ (TM + TN)·TK, see KernelSizes), then out row by row
    int cr = MICRO_M * ty * tileN + MICRO_N * tx;
    int rowStep = tileN;
    tileAB[cr] = c00;
    tileAB[cr + 1] = c01;
    tileAB[cr + 2] = c02;
    tileAB[cr + 3] = c03;
    tileAB[cr + 4] = c04;
    tileAB[cr + 5] = c05;
    tileAB[cr + 6] = c06;
    tileAB[cr + 7] = c07;
    tileAB[cr + rowStep] = c10;
    tileAB[cr + rowStep + 1] = c11;
    tileAB[cr + rowStep + 2] = c12;
    tileAB[cr + rowStep + 3] = c13;
    tileAB[cr + rowStep + 4] = c14;
    tileAB[cr + rowStep + 5] = c15;
    tileAB[cr + rowStep + 6] = c16;
    tileAB[cr + rowStep + 7] = c17;
    tileAB[cr + 2 * rowStep] = c20;
    tileAB[cr + 2 * rowStep + 1] = c21;
    tileAB[cr + 2 * rowStep + 2] = c22;
    tileAB[cr + 2 * rowStep + 3] = c23;
    tileAB[cr + 2 * rowStep + 4] = c24;
    tileAB[cr + 2 * rowStep + 5] = c25;
    tileAB[cr + 2 * rowStep + 6] = c26;
    tileAB[cr + 2 * rowStep + 7] = c27;
    tileAB[cr + 3 * rowStep] = c30;
    tileAB[cr + 3 * rowStep + 1] = c31;
    tileAB[cr + 3 * rowStep + 2] = c32;
    tileAB[cr + 3 * rowStep + 3] = c33;
    tileAB[cr + 3 * rowStep + 4] = c34;
    tileAB[cr + 3 * rowStep + 5] = c35;
    tileAB[cr + 3 * rowStep + 6] = c36;
    tileAB[cr + 3 * rowStep + 7] = c37;
    localBarrier();
    if (gemmEpilogue == EPI_CELL) {
      // unit (b, j) = (m0 + mm, j0 + jj): its G gate sums sit at tile columns g·J + jj of row mm
      // element i = mm·J + jj, advanced by additions (an integer division per element costs more than the cell)
      int mm = lid / jw;
      int jj = lid % jw;
      for (int i = lid; i < tileM * jw; i += ls) {
        if (m0 + mm < gemmM && j0 + jj < gemmGroupW) {
          int r = mm * tileN + jj;
          // only the G groups this cell has are read (a one-group tile holds just TM·TN floats of sums)
          float r1 = G > 1 ? tileAB[r + jw] : 0f;
          float r2 = G > 2 ? tileAB[r + 2 * jw] : 0f;
          float r3 = G > 3 ? tileAB[r + 3 * jw] : 0f;
          cellForwardAt(m0 + mm, j0 + jj, tileAB[r], r1, r2, r3);
        }
        jj += ls;
        while (jj >= jw) {
          jj -= jw;
          mm++;
        }
      }
    }
    if (gemmEpilogue != EPI_CELL) {
      // element i = cm·TN + cn of the C tile, advanced by additions as in the staging loops
      int cm = lid / tileN;
      int cn = lid % tileN;
      for (int i = lid; i < tileM * tileN; i += ls) {
        int m = m0 + cm;
        int nn = n0 + cn;
        cn += ls;
        while (cn >= tileN) {
          cn -= tileN;
          cm++;
        }
        if (m < gemmM && nn < gemmN) {
          int at = gemmCOff + m * gemmCSm + nn;
          // C = [C +] [bias(n) +] Σ_k A(m,k) B(k,n)
          float v = tileAB[i];
          if (gemmBias >= 0) {
            v += w[gemmBias + nn];
          }
          if (gemmC == BUF_ACT) {
            act[at] = gemmAccumulate == 1 ? act[at] + v : v;
          }
          if (gemmC == BUF_DHC) {
            dhc[at] = gemmAccumulate == 1 ? dhc[at] + v : v;
          }
          if (gemmC == BUF_DW) {
            dw[at] = gemmAccumulate == 1 ? dw[at] + v : v;
          }
          if (gemmC == BUF_DHX) {
            dhx[at] = gemmAccumulate == 1 ? dhx[at] + v : v;
          }
          if (gemmEpilogue == EPI_CELL_BACK) {
            // dhc[b,j] now holds all of dLoss/dh_{t−1} but what comes from above: the cell's backward of step t − 1
            // (C is dhc [B][H] here, at = b·H + j, which cellBackwardAt addresses itself)
            cellBackwardAt(m, nn, step - 1);
          }
        }
      }
    }
    // No item leaves while others still read the C tile: on Aparapi's Java thread pool a thread runs its
    // item of every group in turn on one shared local array, and would stage the next group's tiles over it.
    localBarrier();
  }

  // ---- forward, pointwise ----------------------------------------------------------------------

  /** hs, cs slot 0 of the layer = h0, c0 (item b·H + j). */
  private void initState() {
    int gid = getGlobalId();
    if (gid < n) {
      hs[hsOff + gid] = h0[stOff + gid];
      if (cell == CELL_LSTM) {
        cs[hsOff + gid] = c0[stOff + gid];
      }
    }
  }

  /**
   * Step t ({@link #step}) of unit j of sequence b, in the epilogue of the step's recurrent product:
   * the gates from act[t] (the input projection) + r_g (the recurrent sums W_hh h_{t−1} of gate g,
   * from the product's tile) + b_hh, written back into act as activations; h_t into hs slot t + 1;
   * past the sequence's length the state passes through. The last step also writes the final state.
   */
  private void cellForwardAt(int b, int j, float r0, float r1, float r2, float r3) {
    int t = step;
    int gh = G * H;
    int bhh = offW + gh * inW + gh * H + gh;
    int hp = hsOff + (t * B + b) * H; // h_{t-1} lives in slot t
    int hn = hp + B * H; // h_t goes to slot t + 1
    int a = actOff + (t * B + b) * gh;
    // sequential ifs, not else-if chains: Aparapi 3.0.2 cannot fold a nested else-if here ("goto" CodeGenException)
    if (t < len[b]) {
      if (cell == CELL_RNN) {
        rnnStep(a, j, bhh, hn, r0);
      }
      if (cell == CELL_LSTM) {
        lstmStep(a, j, bhh, hp, hn, r0, r1, r2, r3);
      }
      if (cell == CELL_GRU) {
        gruStep(a, j, bhh, hp, hn, hnOff + (t * B + b) * H, r0, r1, r2);
      }
    }
    if (t >= len[b]) {
      // padding: the state passes through unchanged
      hs[hn + j] = hs[hp + j];
      if (cell == CELL_LSTM) {
        cs[hn + j] = cs[hp + j];
      }
    }
    if (t == T - 1) {
      hfin[stOff + b * H + j] = hs[hn + j];
      if (cell == CELL_LSTM) {
        cfin[stOff + b * H + j] = cs[hn + j];
      }
    }
  }

  /** RNN unit j: h = tanh(W_ih x + b_ih + W_hh h_prev + b_hh). a: gates of (t,b) in act; hn: slot t+1 in hs; r0: (W_hh h_prev)_j. */
  private void rnnStep(int a, int j, int bhh, int hn, float r0) {
    float h = tanh(act[a + j] + w[bhh + j] + r0);
    act[a + j] = h;
    hs[hn + j] = h;
  }

  /** LSTM unit j: gates i, f, g, o (recurrent sums r0..r3); c = f ⊙ c_prev + i ⊙ g; h = o ⊙ tanh(c). */
  private void lstmStep(int a, int j, int bhh, int hp, int hn, float r0, float r1, float r2, float r3) {
    float ig = sigmoid(act[a + j] + w[bhh + j] + r0);
    float fg = sigmoid(act[a + H + j] + w[bhh + H + j] + r1);
    float gg = tanh(act[a + 2 * H + j] + w[bhh + 2 * H + j] + r2);
    float og = sigmoid(act[a + 3 * H + j] + w[bhh + 3 * H + j] + r3);
    float c = fg * cs[hp + j] + ig * gg;
    act[a + j] = ig;
    act[a + H + j] = fg;
    act[a + 2 * H + j] = gg;
    act[a + 3 * H + j] = og;
    cs[hn + j] = c;
    hs[hn + j] = og * tanh(c);
  }

  /**
   * GRU unit j: hn = W_hn h_prev + b_hn; n = tanh(W_in x + b_in + r ⊙ hn); h = (1 − z) ⊙ n + z ⊙ h_prev.
   * hnAt: where hn of (t, b) goes in hnb; r0..r2: the recurrent sums of r, z, n.
   */
  private void gruStep(int a, int j, int bhh, int hp, int hn, int hnAt, float r0, float r1, float r2) {
    float rg = sigmoid(act[a + j] + w[bhh + j] + r0);
    float zg = sigmoid(act[a + H + j] + w[bhh + H + j] + r1);
    float hnv = w[bhh + 2 * H + j] + r2;
    float ng = tanh(act[a + 2 * H + j] + rg * hnv);
    act[a + j] = rg;
    act[a + H + j] = zg;
    act[a + 2 * H + j] = ng;
    hnb[hnAt + j] = hnv;
    hs[hn + j] = (1f - zg) * ng + zg * hs[hp + j];
  }

  /** The head's step for a row: t of (row) in seq2seq, lengths[b] − 1 in seq2one. */
  private int rowStep(int row) {
    int t = row / B;
    if (seq2one == 1) {
      t = len[row] - 1;
    }
    return t;
  }

  private int rowSequence(int row) {
    int b = row % B;
    if (seq2one == 1) {
      b = row;
    }
    return b;
  }

  /** One work item per (row, o). hsOff is the top layer's block. */
  private void head() {
    int gid = getGlobalId();
    if (gid < n) {
      int row = gid / O;
      int o = gid % O;
      int b = rowSequence(row);
      int t = rowStep(row);
      float s = 0f;
      if (t < len[b]) {
        // out = head.bias[o] + Σ_j head.weight[o,j] h_t[j]
        int hAt = hsOff + ((t + 1) * B + b) * H;
        int wRow = offHead + o * H;
        s = w[offHead + O * H + o];
        for (int k = 0; k < H; k++) {
          s += w[wRow + k] * hs[hAt + k];
        }
      }
      out[gid] = s;
    }
  }

  /** One work item per row: the row's loss and dLoss/dout. */
  private void loss() {
    int row = getGlobalId();
    if (row < n) {
      int b = rowSequence(row);
      int t = rowStep(row);
      int base = row * O;
      float l = 0f;
      int valid = t < len[b] ? 1 : 0;
      if (valid == 1 && crossEntropy == 1) {
        l = crossEntropyRow(base, cls[row]);
      }
      if (valid == 1 && crossEntropy == 0) {
        l = mseRow(base);
      }
      if (valid == 0) {
        for (int o = 0; o < O; o++) {
          dout[base + o] = 0f;
        }
      }
      lossRow[row] = l;
    }
  }

  /** loss = logsumexp(out) − out[c]; dout = softmax(out) − onehot(c). Returns the loss. */
  private float crossEntropyRow(int base, int c) {
    float m = out[base];
    for (int o = 1; o < O; o++) {
      m = max(m, out[base + o]);
    }
    float s = 0f;
    for (int o = 0; o < O; o++) {
      s += exp(out[base + o] - m);
    }
    float lse = m + log(s);
    for (int o = 0; o < O; o++) {
      dout[base + o] = exp(out[base + o] - lse);
    }
    dout[base + c] = dout[base + c] - 1f;
    return lse - out[base + c];
  }

  /** loss = Σ_o (out − y)²; dout = 2 (out − y). Returns the loss. */
  private float mseRow(int base) {
    float l = 0f;
    for (int o = 0; o < O; o++) {
      float d = out[base + o] - tgt[base + o];
      l += d * d;
      dout[base + o] = 2f * d;
    }
    return l;
  }

  /**
   * Work items [0, T·B·H): dh_top[t,b,j] = Σ_o head.weight[o,j] dout[row,o]; then O·H items for
   * d head.weight[o,j] = Σ_rows dout[row,o] h[row,j]; then O items for d head.bias[o] = Σ_rows dout[row,o].
   */
  private void headBackward() {
    int gid = getGlobalId();
    int nd = T * B * H;
    int nw = O * H;
    if (gid < nd) {
      // seq2seq: row t·B + b = gid / H; seq2one also needs t and b (divisions cost more than the rest of the item)
      int tb = gid / H;
      int j = gid - tb * H;
      int row = tb;
      int on = 1;
      if (seq2one == 1) {
        int t = tb / B;
        int b = tb - t * B;
        row = b;
        on = t == len[b] - 1 ? 1 : 0;
      }
      float s = 0f;
      if (on == 1) {
        for (int o = 0; o < O; o++) {
          s += w[offHead + o * H + j] * dout[row * O + o];
        }
      }
      dhx[gid] = s;
    } else if (gid < nd + nw) {
      int i = gid - nd;
      int o = i / H;
      int j = i % H;
      float s = 0f;
      if (seq2one == 1) {
        for (int row = 0; row < rows; row++) {
          s += dout[row * O + o] * hs[hsOff + (len[row] * B + row) * H + j]; // slot lengths[b] holds h at step lengths[b] − 1
        }
      } else {
        for (int row = 0; row < rows; row++) {
          s += dout[row * O + o] * hs[hsOff + (row + B) * H + j]; // row t·B + b: h_t is slot t + 1
        }
      }
      dw[offHead + i] = s;
    } else if (gid < n) {
      int o = gid - nd - nw;
      float s = 0f;
      for (int row = 0; row < rows; row++) {
        s += dout[row * O + o];
      }
      dw[offHead + nw + o] = s;
    }
  }

  // ---- backward, pointwise ---------------------------------------------------------------------

  /**
   * Step t of unit j of sequence b, walking t down: dh = dhx[t] (from above) + dhc (from step t + 1;
   * 0 at the last step, as dc) becomes the gate gradients dgi, dgh of step t (0 on padding) and
   * dhc keeps only the direct path to h_{t−1} (0 for RNN and LSTM, dh ⊙ z for GRU), to which the
   * next product adds W_hhᵀ dgh. On padding dh and dc pass through to the step before unchanged.
   * Runs as {@link #OP_CELL_BACK} for t = T − 1 and in the epilogue of the product that completes
   * dhc for the steps below.
   */
  private void cellBackwardAt(int b, int j, int t) {
    int gh = G * H;
    int hp = hsOff + (t * B + b) * H;
    int hn = hp + B * H;
    int a = actOff + (t * B + b) * gh;
    int d = (t * B + b) * gh;
    int cb = b * H + j;
    // nothing is carried into the last step: read 0 there instead of clearing dhc and dcc in a launch of their own
    float dhIn = t == T - 1 ? 0f : dhc[cb];
    float dcIn = t == T - 1 ? 0f : dcc[cb];
    if (t < len[b]) {
      // dh = dLoss/dh_t from above + from step t + 1
      float dh = dhx[(t * B + b) * H + j] + dhIn;
      if (cell == CELL_RNN) {
        float h = hs[hn + j];
        // da = (1 − h²) dh   (back through tanh)
        float da = (1f - h * h) * dh;
        dgi[d + j] = da;
        dgh[d + j] = da;
        dhc[cb] = 0f;
      } else if (cell == CELL_LSTM) {
        float ig = act[a + j];
        float fg = act[a + H + j];
        float gg = act[a + 2 * H + j];
        float og = act[a + 3 * H + j];
        float tc = tanh(cs[hn + j]);
        // dc = dc_next + dh ⊙ o ⊙ (1 − tanh²(c))
        float dc = dcIn + dh * og * (1f - tc * tc);
        float dai = dc * gg * ig * (1f - ig);
        float daf = dc * cs[hp + j] * fg * (1f - fg);
        float dag = dc * ig * (1f - gg * gg);
        float dao = dh * tc * og * (1f - og);
        dgi[d + j] = dai;
        dgi[d + H + j] = daf;
        dgi[d + 2 * H + j] = dag;
        dgi[d + 3 * H + j] = dao;
        dgh[d + j] = dai;
        dgh[d + H + j] = daf;
        dgh[d + 2 * H + j] = dag;
        dgh[d + 3 * H + j] = dao;
        // dc_prev = dc ⊙ f
        dcc[cb] = dc * fg;
        dhc[cb] = 0f;
      } else {
        float rg = act[a + j];
        float zg = act[a + H + j];
        float ng = act[a + 2 * H + j];
        float hnv = hnb[hnOff + (t * B + b) * H + j];
        float hprev = hs[hp + j];
        // dan = dh (1 − z)(1 − n²);  daz = dh (h_prev − n) z (1 − z);  dar = dan hn r (1 − r)
        float dan = dh * (1f - zg) * (1f - ng * ng);
        float daz = dh * (hprev - ng) * zg * (1f - zg);
        float dar = dan * hnv * rg * (1f - rg);
        dgi[d + j] = dar;
        dgi[d + H + j] = daz;
        dgi[d + 2 * H + j] = dan;
        dgh[d + j] = dar;
        dgh[d + H + j] = daz;
        // d(W_hn h + b_hn) = dan ⊙ r
        dgh[d + 2 * H + j] = dan * rg;
        // direct path: dh_prev = dh ⊙ z
        dhc[cb] = dh * zg;
      }
    } else {
      // padding: no gate gradient (so the product adds nothing); dh and dc pass through unchanged
      for (int g = 0; g < G; g++) {
        dgi[d + g * H + j] = 0f;
        dgh[d + g * H + j] = 0f;
      }
      dhc[cb] = dhIn;
      dcc[cb] = dcIn;
    }
  }
}
