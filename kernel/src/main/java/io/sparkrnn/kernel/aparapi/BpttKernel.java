package io.sparkrnn.kernel.aparapi;

import com.aparapi.Kernel;

/**
 * Every float32 op of forward and backpropagation through time, as one Aparapi kernel whose
 * {@link #run()} dispatches on {@link #op}. One kernel holds every buffer, so weights, activations
 * and gradients stay on the device between launches (explicit buffer management); the host puts
 * inputs once per call and gets only outputs, the loss rows and the gradient.
 *
 * <p>The kernel only indexes and computes; {@link AparapiEngine} validates, sizes the buffers, sets
 * the scalar fields of each launch and checks which device ran it. Letters: F features, B batch,
 * T steps, H hidden, G gates, O outputs, L layers, GH = G·H rows of a layer's weight matrices.
 * Cells and gate order follow PyTorch (LSTM i,f,g,o; GRU r,z,n with
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))).
 *
 * <p>Only what Aparapi translates to OpenCL C is used here: int and float arithmetic, the kernel's
 * own {@code exp}, {@code log}, {@code tanh}, {@code max}, loops, branches and barriers. No
 * {@code Math.*}, no doubles, no objects, no break/continue.
 */
final class BpttKernel extends Kernel {
  // ---- ops -----------------------------------------------------------------------------------
  /** act[l][t][b][r] = b_ih[r] + Σ_k W_ih[r,k] in[t][b][k] for all T·B·GH at once (the hoisted input projection). */
  static final int OP_PROJ = 1;
  /** The recurrence of one layer over all T: one work-group per sequence, a barrier per step. */
  static final int OP_FWD = 2;
  /** out[row][o] = head.bias[o] + Σ_j head.weight[o,j] h_top[row][j]. */
  static final int OP_HEAD = 3;
  /** Loss per row and dLoss/dout (mse or fused log-softmax + NLL). */
  static final int OP_LOSS = 4;
  /** dh_top = head.weightᵀ dout, and the head's weight and bias gradients, in one launch. */
  static final int OP_HEAD_BACK = 5;
  /** The backward recurrence of one layer over all T, in reverse: one work-group per sequence. */
  static final int OP_BWD = 6;
  /** A layer's dW_ih, dW_hh, db_ih, db_hh (sums over T·B) and, above layer 0, dh of the layer below. */
  static final int OP_WGRAD = 7;
  /** wt = W_ih, W_hh of every layer transposed (once per call, after the parameters are put). */
  static final int OP_TRANSPOSE = 8;

  static final int CELL_RNN = 0;
  static final int CELL_LSTM = 1;
  static final int CELL_GRU = 2;

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
  /** 1 when the layer's input is x (layer 0), 0 when it is the layer below's hidden states. */
  int inIsX;
  /** Offset of the layer's weight_ih in {@link #w}; weight_hh, bias_ih, bias_hh follow contiguously. */
  int offW;
  /** Offset of head.weight in {@link #w}; head.bias follows. */
  int offHead;
  /** Offset of this layer's block in {@link #hs} and {@link #cs}: l·(T+1)·B·H. */
  int hsOff;
  /** Offset of the layer below's block in {@link #hs}. */
  int hsInOff;
  /** Offset of this layer's block in {@link #act}: l·T·B·GH. */
  int actOff;
  /** Offset of this layer's block in {@link #hnb}: l·T·B·H. */
  int hnOff;
  /** Offset of this layer in the state arrays {@link #h0}, {@link #c0}, {@link #hfin}, {@link #cfin}: l·B·H. */
  int stOff;

  // ---- buffers (lengths ≥ 1; the host grows them, never shrinks) -----------------------------
  /** Parameters, flat in ParamLayout order. */
  float[] w = new float[1];
  /** W_ih and W_hh of each layer transposed, at the offsets they have in w: W_ih[r,k] at offW + k·GH + r. Other entries unused. */
  float[] wt = new float[1];
  /** Per layer l: the offset of weight_ih in w, and the input width [L][2]. */
  int[] lw = new int[2];
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
  /** Gates [L][T][B][GH]: the input projection, then overwritten by the gate activations (LSTM i,f,g,o; GRU r,z,n; RNN h). */
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

  /** Bytes of every buffer above (float and int, 4 bytes each); called from the host, never translated. */
  long bufferBytes() {
    long values = (long) w.length + wt.length + lw.length + x.length + tgt.length + cls.length + len.length + h0.length + c0.length
        + hs.length + cs.length + act.length + hnb.length + out.length + dout.length + lossRow.length + dhx.length + dgi.length
        + dgh.length + dhc.length + dcc.length + hfin.length + cfin.length + dw.length;
    return 4 * values;
  }

  @Override
  public void run() {
    if (op == OP_PROJ) {
      projectInputs();
    } else if (op == OP_FWD) {
      forwardRecurrence();
    } else if (op == OP_HEAD) {
      head();
    } else if (op == OP_LOSS) {
      loss();
    } else if (op == OP_HEAD_BACK) {
      headBackward();
    } else if (op == OP_BWD) {
      backwardRecurrence();
    } else if (op == OP_WGRAD) {
      layerGradients();
    } else if (op == OP_TRANSPOSE) {
      transposeWeights();
    }
  }

  private float sigmoid(float a) {
    return 1f / (1f + exp(-a));
  }

  /**
   * Σ_k W_hh[row, k] h[k], reading the transposed copy: wt[whh + k·GH + row], so that neighbouring
   * work items (neighbouring rows) read neighbouring addresses (coalesced on a GPU, vector loads on a CPU).
   */
  private float recurrentDot(int whh, int row, int hAt) {
    int gh = G * H;
    float s = 0f;
    for (int k = 0; k < H; k++) {
      s += wt[whh + k * gh + row] * hs[hAt + k];
    }
    return s;
  }

  /** wt = the transpose of every layer's W_ih and W_hh, at the same offsets as in w. Work item i is element i of each layer's [W_ih, W_hh] block. */
  private void transposeWeights() {
    int i = getGlobalId();
    if (i < n) {
      int gh = G * H;
      for (int l = 0; l < L; l++) {
        int off = lw[2 * l];
        int in = lw[2 * l + 1];
        int nIh = gh * in;
        if (i < nIh) {
          // W_ih[r, k] → wt[off + k·GH + r]
          wt[off + (i % in) * gh + i / in] = w[off + i];
        }
        if (i >= nIh && i < nIh + gh * H) {
          int i2 = i - nIh;
          // W_hh[r, k] → wt[off + GH·in + k·GH + r]
          wt[off + nIh + (i2 % H) * gh + i2 / H] = w[off + i];
        }
      }
    }
  }

  /** One work item per (t, b, r): act = b_ih + W_ih · in. */
  private void projectInputs() {
    int gid = getGlobalId();
    if (gid < n) {
      int gh = G * H;
      int r = gid % gh;
      int tb = gid / gh;
      int wCol = offW + r; // W_ih[r,k] = wt[offW + k·GH + r]
      // s = b_ih[r] + Σ_k W_ih[r,k] in[t,b,k]
      float s = w[offW + gh * inW + gh * H + r];
      if (inIsX == 1) {
        int xAt = tb * inW;
        for (int k = 0; k < inW; k++) {
          s += wt[wCol + k * gh] * x[xAt + k];
        }
      } else {
        // the layer below's h at step t is its slot t + 1: (t+1)·B + b = tb + B
        int hAt = hsInOff + (tb + B) * H;
        for (int k = 0; k < inW; k++) {
          s += wt[wCol + k * gh] * hs[hAt + k];
        }
      }
      act[actOff + gid] = s;
    }
  }

  /** One work-group per sequence b; each work item owns units j = lid, lid + L, ... for all T steps. */
  private void forwardRecurrence() {
    int b = getGroupId();
    int lid = getLocalId();
    int ls = getLocalSize();
    int gh = G * H;
    int whh = offW + gh * inW;
    int bhh = whh + gh * H + gh;
    int st = stOff + b * H;
    for (int j = lid; j < H; j += ls) {
      hs[hsOff + b * H + j] = h0[st + j];
      if (cell == CELL_LSTM) {
        cs[hsOff + b * H + j] = c0[st + j];
      }
    }
    globalBarrier();
    int lenb = len[b];
    for (int t = 0; t < T; t++) {
      int hp = hsOff + (t * B + b) * H; // h_{t-1} lives in slot t
      int hn = hp + B * H; // h_t goes to slot t + 1
      int a = actOff + (t * B + b) * gh;
      for (int j = lid; j < H; j += ls) {
        // sequential ifs, not else-if chains: Aparapi 3.0.2 cannot fold a nested else-if here ("goto" CodeGenException)
        if (t < lenb) {
          if (cell == CELL_RNN) {
            rnnStep(a, j, whh, bhh, hp, hn);
          }
          if (cell == CELL_LSTM) {
            lstmStep(a, j, whh, bhh, hp, hn);
          }
          if (cell == CELL_GRU) {
            gruStep(a, j, whh, bhh, hp, hn, hnOff + (t * B + b) * H);
          }
        }
        if (t >= lenb) {
          // padding: the state passes through unchanged
          hs[hn + j] = hs[hp + j];
          if (cell == CELL_LSTM) {
            cs[hn + j] = cs[hp + j];
          }
        }
      }
      globalBarrier();
    }
    int last = hsOff + (T * B + b) * H;
    for (int j = lid; j < H; j += ls) {
      hfin[st + j] = hs[last + j];
      if (cell == CELL_LSTM) {
        cfin[st + j] = cs[last + j];
      }
    }
  }

  /** RNN unit j: h = tanh(W_ih x + b_ih + W_hh h_prev + b_hh). a: gates of (t,b) in act; hp, hn: slots t and t+1 in hs. */
  private void rnnStep(int a, int j, int whh, int bhh, int hp, int hn) {
    float h = tanh(act[a + j] + w[bhh + j] + recurrentDot(whh, j, hp));
    act[a + j] = h;
    hs[hn + j] = h;
  }

  /** LSTM unit j: gates i, f, g, o; c = f ⊙ c_prev + i ⊙ g; h = o ⊙ tanh(c). */
  private void lstmStep(int a, int j, int whh, int bhh, int hp, int hn) {
    float ig = sigmoid(act[a + j] + w[bhh + j] + recurrentDot(whh, j, hp));
    float fg = sigmoid(act[a + H + j] + w[bhh + H + j] + recurrentDot(whh, H + j, hp));
    float gg = tanh(act[a + 2 * H + j] + w[bhh + 2 * H + j] + recurrentDot(whh, 2 * H + j, hp));
    float og = sigmoid(act[a + 3 * H + j] + w[bhh + 3 * H + j] + recurrentDot(whh, 3 * H + j, hp));
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
   * hnAt: where hn of (t, b) goes in hnb.
   */
  private void gruStep(int a, int j, int whh, int bhh, int hp, int hn, int hnAt) {
    float rg = sigmoid(act[a + j] + w[bhh + j] + recurrentDot(whh, j, hp));
    float zg = sigmoid(act[a + H + j] + w[bhh + H + j] + recurrentDot(whh, H + j, hp));
    float hnv = w[bhh + 2 * H + j] + recurrentDot(whh, 2 * H + j, hp);
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
      int tb = gid / H;
      int j = gid % H;
      int t = tb / B;
      int b = tb % B;
      int row = tb;
      int on = 1;
      if (seq2one == 1) {
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
      for (int row = 0; row < rows; row++) {
        int hAt = hsOff + ((rowStep(row) + 1) * B + rowSequence(row)) * H;
        s += dout[row * O + o] * hs[hAt + j];
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

  /**
   * One work-group per sequence b, walking t from T − 1 down to 0 and carrying dh (and dc) to the
   * step before. Writes the pre-activation gradients dgi, dgh of every step (0 on padding).
   */
  private void backwardRecurrence() {
    int b = getGroupId();
    int lid = getLocalId();
    int ls = getLocalSize();
    int gh = G * H;
    int whh = offW + gh * inW;
    int cb = b * H;
    for (int j = lid; j < H; j += ls) {
      dhc[cb + j] = 0f;
      dcc[cb + j] = 0f;
    }
    int lenb = len[b];
    for (int step = 0; step < T; step++) {
      int t = T - 1 - step;
      int hp = hsOff + (t * B + b) * H;
      int hn = hp + B * H;
      int a = actOff + (t * B + b) * gh;
      int d = (t * B + b) * gh;
      // phase A: each item turns dh of its units into gate gradients; dhc[j] keeps the direct path only
      for (int j = lid; j < H; j += ls) {
        if (t < lenb) {
          // dh = dLoss/dh_t from above + from step t + 1
          float dh = dhx[(t * B + b) * H + j] + dhc[cb + j];
          if (cell == CELL_RNN) {
            float h = hs[hn + j];
            // da = (1 − h²) dh   (back through tanh)
            float da = (1f - h * h) * dh;
            dgi[d + j] = da;
            dgh[d + j] = da;
            dhc[cb + j] = 0f;
          } else if (cell == CELL_LSTM) {
            float ig = act[a + j];
            float fg = act[a + H + j];
            float gg = act[a + 2 * H + j];
            float og = act[a + 3 * H + j];
            float tc = tanh(cs[hn + j]);
            // dc = dc_next + dh ⊙ o ⊙ (1 − tanh²(c))
            float dc = dcc[cb + j] + dh * og * (1f - tc * tc);
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
            dcc[cb + j] = dc * fg;
            dhc[cb + j] = 0f;
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
            // direct path: dh_prev += dh ⊙ z
            dhc[cb + j] = dh * zg;
          }
        } else {
          // padding: no gate gradient; dh and dc pass through to the step before unchanged
          for (int g = 0; g < G; g++) {
            dgi[d + g * H + j] = 0f;
            dgh[d + g * H + j] = 0f;
          }
        }
      }
      globalBarrier();
      // phase B: dh_prev[k] = direct[k] + Σ_r W_hh[r,k] dgh[r]   (same unit ownership as phase A)
      if (t < lenb) {
        for (int k = lid; k < H; k += ls) {
          float s = dhc[cb + k];
          for (int r = 0; r < gh; r++) {
            s += w[whh + r * H + k] * dgh[d + r];
          }
          dhc[cb + k] = s;
        }
      }
    }
  }

  /**
   * Work items [0, GH·in): dW_ih; [.., +GH·H): dW_hh; [.., +GH): db_ih; [.., +GH): db_hh, each a sum
   * over T·B; then, when the layer has a layer below, T·B·H items for dh_below = W_ihᵀ dgi.
   */
  private void layerGradients() {
    int gid = getGlobalId();
    int gh = G * H;
    int nIh = gh * inW;
    int nHh = gh * H;
    int nParams = nIh + nHh + 2 * gh;
    int tbN = T * B;
    if (gid < nIh) {
      int r = gid / inW;
      int k = gid % inW;
      float s = 0f;
      // dW_ih[r,k] = Σ_{t,b} dgi[t,b,r] in[t,b,k]
      if (inIsX == 1) {
        for (int tb = 0; tb < tbN; tb++) {
          s += dgi[tb * gh + r] * x[tb * inW + k];
        }
      } else {
        for (int tb = 0; tb < tbN; tb++) {
          s += dgi[tb * gh + r] * hs[hsInOff + (tb + B) * H + k];
        }
      }
      dw[offW + gid] = s;
    } else if (gid < nIh + nHh) {
      int i = gid - nIh;
      int r = i / H;
      int k = i % H;
      float s = 0f;
      // dW_hh[r,k] = Σ_{t,b} dgh[t,b,r] h_{t-1}[b,k]   (h_{t-1} is slot t)
      for (int tb = 0; tb < tbN; tb++) {
        s += dgh[tb * gh + r] * hs[hsOff + tb * H + k];
      }
      dw[offW + gid] = s;
    } else if (gid < nIh + nHh + gh) {
      int r = gid - nIh - nHh;
      float s = 0f;
      for (int tb = 0; tb < tbN; tb++) {
        s += dgi[tb * gh + r];
      }
      dw[offW + gid] = s;
    } else if (gid < nParams) {
      int r = gid - nIh - nHh - gh;
      float s = 0f;
      for (int tb = 0; tb < tbN; tb++) {
        s += dgh[tb * gh + r];
      }
      dw[offW + gid] = s;
    } else if (gid < n) {
      int i = gid - nParams;
      int tb = i / H;
      int k = i % H;
      float s = 0f;
      // dh_below[t,b,k] = Σ_r W_ih[r,k] dgi[t,b,r]
      for (int r = 0; r < gh; r++) {
        s += w[offW + r * inW + k] * dgi[tb * gh + r];
      }
      dhx[i] = s;
    }
  }
}
