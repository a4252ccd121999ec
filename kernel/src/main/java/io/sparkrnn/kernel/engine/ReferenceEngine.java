package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;

/**
 * The float64 reference: forward and full BPTT written to be read, in the manner of
 * min-char-rnn. It is the oracle that the finite-difference tests check and that the Aparapi
 * engine is compared with; it is not the production path.
 *
 * <p>Per layer, forward caches the states by t; backward walks t down, carrying dhNext (and dcNext
 * for LSTM). Semantics are PyTorch's: LSTM gates i, f, g, o; GRU gates r, z, n with
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); separate b_ih and b_hh.
 *
 * <p>Stateless and thread-safe: every call allocates its own scratch.
 */
public final class ReferenceEngine implements BpttEngine {

  @Override
  public ForwardResult forward(Params params, Batch batch, State initial) {
    Pass pass = new Pass(params.config(), params.toDoubles(), batch, initial);
    pass.forward();
    return new ForwardResult(pass.outputsAsFloats(), pass.finalState());
  }

  @Override
  public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
    batch.validateFor(params.config(), true);
    Pass pass = new Pass(params.config(), params.toDoubles(), batch, initial);
    pass.forward();
    double[] grad = new double[params.layout().size()];
    double loss = pass.backward(grad);
    GradientSum sum = new GradientSum(loss, batch.lossCount(params.config()), grad);
    return new BpttResult(sum, pass.finalState());
  }

  /**
   * Loss sum and its gradient with parameters given in float64, for finite-difference checks.
   *
   * @param gradient receives the gradient of the loss sum (accumulated, so pass zeros)
   * @return the loss sum
   */
  public static double lossAndGradient(ModelConfig config, double[] params, Batch batch, State initial, double[] gradient) {
    batch.validateFor(config, true);
    Pass pass = new Pass(config, params, batch, initial);
    pass.forward();
    return pass.backward(gradient);
  }

  /** The loss sum alone with float64 parameters. */
  public static double loss(ModelConfig config, double[] params, Batch batch, State initial) {
    batch.validateFor(config, true);
    Pass pass = new Pass(config, params, batch, initial);
    pass.forward();
    return pass.loss(null);
  }

  @Override
  public String describe() {
    return "reference (float64, JVM)";
  }

  @Override
  public void close() {}

  /** One forward (and optional backward) pass over a batch, with its caches. */
  private static final class Pass {
    final ModelConfig config;
    final ParamLayout layout;
    final double[] p;
    final Batch batch;
    final int T, B, H, G, L, O;
    final CellType cell;

    /** Per layer: hidden states [T+1][B][H]; t = 0 holds the initial state. */
    final double[][] hs;
    /** Per layer (LSTM): cell states [T+1][B][H]. */
    final double[][] cs;
    /** Per layer: gate activations after their nonlinearity [T][B][G*H] (LSTM i,f,g,o; GRU r,z,n; RNN h'). */
    final double[][] acts;
    /** Per layer (GRU): W_hn h + b_hn, [T][B][H], needed by n's gradient. */
    final double[][] hn;
    /** Head outputs [T][B][O] (seq2seq) or [B][O] (seq2one). */
    double[] out;

    Pass(ModelConfig config, double[] params, Batch batch, State initial) {
      batch.validateFor(config, false);
      this.config = config;
      this.layout = new ParamLayout(config);
      if (params.length != layout.size()) {
        throw new IllegalArgumentException("expected " + layout.size() + " parameters, found " + params.length);
      }
      this.p = params;
      this.batch = batch;
      T = batch.steps();
      B = batch.batchSize();
      H = config.hiddenSize();
      G = config.gates();
      L = config.numLayers();
      O = config.outputSize();
      cell = config.cell();
      hs = new double[L][(T + 1) * B * H];
      cs = cell == CellType.LSTM ? new double[L][(T + 1) * B * H] : null;
      acts = new double[L][T * B * G * H];
      hn = cell == CellType.GRU ? new double[L][T * B * H] : null;
      if (initial != null) {
        initial.validateFor(config, B);
        for (int l = 0; l < L; l++) {
          for (int b = 0; b < B; b++) {
            for (int j = 0; j < H; j++) {
              hs[l][hAt(0, b, j)] = initial.h()[initial.at(l, b, j)];
              if (cs != null) {
                cs[l][hAt(0, b, j)] = initial.c()[initial.at(l, b, j)];
              }
            }
          }
        }
      }
    }

    int hAt(int t, int b, int j) {
      return (t * B + b) * H + j;
    }

    int gAt(int t, int b, int row) {
      return (t * B + b) * G * H + row;
    }

    /** The input of layer l at (t, b, i): x for l = 0, the layer below's h_{t+1} above. */
    double input(int l, int t, int b, int i) {
      return l == 0 ? batch.x()[batch.xAt(t, b, i)] : hs[l - 1][hAt(t + 1, b, i)];
    }

    void forward() {
      for (int l = 0; l < L; l++) {
        int in = config.layerInputSize(l);
        int wih = layout.weightIh(l), whh = layout.weightHh(l), bih = layout.biasIh(l), bhh = layout.biasHh(l);
        double[] gi = new double[G * H]; // W_ih x + b_ih
        double[] gh = new double[G * H]; // W_hh h + b_hh
        for (int t = 0; t < T; t++) {
          for (int b = 0; b < B; b++) {
            if (t >= batch.length(b)) {
              // padding: the state passes through unchanged
              for (int j = 0; j < H; j++) {
                hs[l][hAt(t + 1, b, j)] = hs[l][hAt(t, b, j)];
                if (cs != null) {
                  cs[l][hAt(t + 1, b, j)] = cs[l][hAt(t, b, j)];
                }
              }
              continue;
            }
            for (int r = 0; r < G * H; r++) {
              double a = p[bih + r];
              for (int i = 0; i < in; i++) {
                a += p[wih + r * in + i] * input(l, t, b, i);
              }
              gi[r] = a;
              double c = p[bhh + r];
              for (int k = 0; k < H; k++) {
                c += p[whh + r * H + k] * hs[l][hAt(t, b, k)];
              }
              gh[r] = c;
            }
            for (int j = 0; j < H; j++) {
              double hPrev = hs[l][hAt(t, b, j)];
              switch (cell) {
                case RNN -> {
                  double h = Math.tanh(gi[j] + gh[j]); // h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
                  acts[l][gAt(t, b, j)] = h;
                  hs[l][hAt(t + 1, b, j)] = h;
                }
                case LSTM -> {
                  double ig = sigmoid(gi[j] + gh[j]); // i = σ(·)
                  double fg = sigmoid(gi[H + j] + gh[H + j]); // f = σ(·)
                  double gg = Math.tanh(gi[2 * H + j] + gh[2 * H + j]); // g = tanh(·)
                  double og = sigmoid(gi[3 * H + j] + gh[3 * H + j]); // o = σ(·)
                  double c = fg * cs[l][hAt(t, b, j)] + ig * gg; // c' = f ⊙ c + i ⊙ g
                  acts[l][gAt(t, b, j)] = ig;
                  acts[l][gAt(t, b, H + j)] = fg;
                  acts[l][gAt(t, b, 2 * H + j)] = gg;
                  acts[l][gAt(t, b, 3 * H + j)] = og;
                  cs[l][hAt(t + 1, b, j)] = c;
                  hs[l][hAt(t + 1, b, j)] = og * Math.tanh(c); // h' = o ⊙ tanh(c')
                }
                case GRU -> {
                  double rg = sigmoid(gi[j] + gh[j]); // r = σ(W_ir x + b_ir + W_hr h + b_hr)
                  double zg = sigmoid(gi[H + j] + gh[H + j]); // z = σ(W_iz x + b_iz + W_hz h + b_hz)
                  double hnj = gh[2 * H + j]; // W_hn h + b_hn
                  double ng = Math.tanh(gi[2 * H + j] + rg * hnj); // n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                  acts[l][gAt(t, b, j)] = rg;
                  acts[l][gAt(t, b, H + j)] = zg;
                  acts[l][gAt(t, b, 2 * H + j)] = ng;
                  hn[l][hAt(t, b, j)] = hnj;
                  hs[l][hAt(t + 1, b, j)] = (1 - zg) * ng + zg * hPrev; // h' = (1 − z) ⊙ n + z ⊙ h
                }
              }
            }
          }
        }
      }
      head();
    }

    /** The top layer's state that the head reads for output row (t, b); seq2one reads t = lengths[b] − 1. */
    int headStateIndex(int t, int b) {
      return config.mode() == Mode.SEQ2SEQ ? t + 1 : batch.length(b);
    }

    void head() {
      int hw = layout.headWeight(), hb = layout.headBias();
      double[] top = hs[L - 1];
      boolean seq = config.mode() == Mode.SEQ2SEQ;
      int rows = seq ? T : 1;
      out = new double[rows * B * O];
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < B; b++) {
          if (seq && t >= batch.length(b)) {
            continue; // padded steps produce no output (left 0)
          }
          int s = headStateIndex(t, b);
          for (int o = 0; o < O; o++) {
            double y = p[hb + o];
            for (int j = 0; j < H; j++) {
              y += p[hw + o * H + j] * top[hAt(s, b, j)]; // y = W_head h + b_head
            }
            out[(t * B + b) * O + o] = y;
          }
        }
      }
    }

    /**
     * The loss sum; when {@code dOut} is given, also fills it with d(loss sum)/d(out).
     * mse: Σ (y − target)², d = 2 (y − target). cross_entropy: Σ −log softmax(y)[class],
     * d = softmax(y) − onehot(class).
     */
    double loss(double[] dOut) {
      boolean seq = config.mode() == Mode.SEQ2SEQ;
      int rows = seq ? T : 1;
      double sum = 0;
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < B; b++) {
          if (seq && t >= batch.length(b)) {
            continue;
          }
          int row = (t * B + b) * O;
          if (config.loss() == LossType.MSE) {
            for (int o = 0; o < O; o++) {
              double diff = out[row + o] - batch.targets()[row + o];
              sum += diff * diff;
              if (dOut != null) {
                dOut[row + o] = 2 * diff;
              }
            }
          } else {
            int cls = batch.classes()[t * B + b];
            double max = Double.NEGATIVE_INFINITY;
            for (int o = 0; o < O; o++) {
              max = Math.max(max, out[row + o]);
            }
            double z = 0;
            for (int o = 0; o < O; o++) {
              z += Math.exp(out[row + o] - max);
            }
            double logZ = max + Math.log(z); // log Σ exp(y), shifted for stability
            sum += logZ - out[row + cls];
            if (dOut != null) {
              for (int o = 0; o < O; o++) {
                dOut[row + o] = Math.exp(out[row + o] - logZ) - (o == cls ? 1 : 0);
              }
            }
          }
        }
      }
      return sum;
    }

    /** Accumulates the gradient of the loss sum into {@code grad}; returns the loss sum. */
    double backward(double[] grad) {
      double[] dOut = new double[out.length];
      double loss = loss(dOut);
      boolean seq = config.mode() == Mode.SEQ2SEQ;
      int rows = seq ? T : 1;
      int hw = layout.headWeight(), hb = layout.headBias();
      // dh[t][b][j]: gradient arriving at layer l's output h_{t+1} from above (head or layer l+1).
      double[] dh = new double[T * B * H];
      double[] top = hs[L - 1];
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < B; b++) {
          if (seq && t >= batch.length(b)) {
            continue;
          }
          int s = headStateIndex(t, b);
          for (int o = 0; o < O; o++) {
            double d = dOut[(t * B + b) * O + o];
            grad[hb + o] += d; // dHeadBias += dy
            for (int j = 0; j < H; j++) {
              grad[hw + o * H + j] += d * top[hAt(s, b, j)]; // dHeadWeight += dy ⊗ h
              dh[hAt(s - 1, b, j)] += p[hw + o * H + j] * d; // dh += W_headᵀ dy
            }
          }
        }
      }
      for (int l = L - 1; l >= 0; l--) {
        dh = backwardLayer(l, dh, grad);
      }
      return loss;
    }

    /**
     * BPTT through layer l. {@code dhAbove} [T][B][H] is the gradient into h_{t+1} from above.
     * Returns the gradient into this layer's inputs [T][B][in] (for the layer below; unused for l = 0).
     */
    double[] backwardLayer(int l, double[] dhAbove, double[] grad) {
      int in = config.layerInputSize(l);
      int wih = layout.weightIh(l), whh = layout.weightHh(l), bih = layout.biasIh(l), bhh = layout.biasHh(l);
      double[] dInput = new double[T * B * in];
      double[] dhNext = new double[B * H]; // d loss / d h_t carried from step t
      double[] dcNext = cell == CellType.LSTM ? new double[B * H] : null;
      double[] dgi = new double[G * H]; // d loss / d (W_ih x + b_ih)
      double[] dgh = new double[G * H]; // d loss / d (W_hh h + b_hh)
      double[] h = hs[l];
      for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
          if (t >= batch.length(b)) {
            // padding: h_{t+1} = h_t, so dh passes straight through (dhNext and dcNext unchanged),
            // plus whatever arrived from above (nothing from the head; zero from layers above too).
            for (int j = 0; j < H; j++) {
              dhNext[b * H + j] += dhAbove[hAt(t, b, j)];
            }
            continue;
          }
          for (int j = 0; j < H; j++) {
            double dhj = dhAbove[hAt(t, b, j)] + dhNext[b * H + j]; // total d loss / d h_{t+1}
            double hPrev = h[hAt(t, b, j)];
            switch (cell) {
              case RNN -> {
                double hNew = acts[l][gAt(t, b, j)];
                double da = (1 - hNew * hNew) * dhj; // da = (1 − h'²) dh   (back through tanh)
                dgi[j] = da;
                dgh[j] = da;
              }
              case LSTM -> {
                double ig = acts[l][gAt(t, b, j)];
                double fg = acts[l][gAt(t, b, H + j)];
                double gg = acts[l][gAt(t, b, 2 * H + j)];
                double og = acts[l][gAt(t, b, 3 * H + j)];
                double c = cs[l][hAt(t + 1, b, j)];
                double cPrev = cs[l][hAt(t, b, j)];
                double tc = Math.tanh(c);
                double dc = dcNext[b * H + j] + dhj * og * (1 - tc * tc); // dc = dcNext + dh ⊙ o ⊙ (1 − tanh²c)
                double di = dc * gg * ig * (1 - ig); // through i = σ
                double df = dc * cPrev * fg * (1 - fg); // through f = σ
                double dg = dc * ig * (1 - gg * gg); // through g = tanh
                double dO = dhj * tc * og * (1 - og); // through o = σ
                dcNext[b * H + j] = dc * fg; // dc_{t} = dc ⊙ f
                dgi[j] = di;
                dgi[H + j] = df;
                dgi[2 * H + j] = dg;
                dgi[3 * H + j] = dO;
                dgh[j] = di;
                dgh[H + j] = df;
                dgh[2 * H + j] = dg;
                dgh[3 * H + j] = dO;
              }
              case GRU -> {
                double rg = acts[l][gAt(t, b, j)];
                double zg = acts[l][gAt(t, b, H + j)];
                double ng = acts[l][gAt(t, b, 2 * H + j)];
                double hnj = hn[l][hAt(t, b, j)];
                double dn = dhj * (1 - zg) * (1 - ng * ng); // through h' = (1 − z) n + z h and n = tanh
                double dz = dhj * (hPrev - ng) * zg * (1 - zg); // through z = σ
                double dr = dn * hnj * rg * (1 - rg); // through r ⊙ (W_hn h + b_hn) and r = σ
                dgi[j] = dr;
                dgi[H + j] = dz;
                dgi[2 * H + j] = dn;
                dgh[j] = dr;
                dgh[H + j] = dz;
                dgh[2 * H + j] = dn * rg; // the hidden part of n is scaled by r
                dhNext[b * H + j] = dhj * zg; // direct path h → h' through z ⊙ h (W_hh part added below)
              }
            }
          }
          if (cell != CellType.GRU) {
            Arrays.fill(dhNext, b * H, (b + 1) * H, 0.0);
          }
          for (int r = 0; r < G * H; r++) {
            grad[bih + r] += dgi[r]; // db_ih += dgi
            grad[bhh + r] += dgh[r]; // db_hh += dgh
            for (int i = 0; i < in; i++) {
              grad[wih + r * in + i] += dgi[r] * input(l, t, b, i); // dW_ih += dgi ⊗ x_t
              dInput[(t * B + b) * in + i] += p[wih + r * in + i] * dgi[r]; // dx_t += W_ihᵀ dgi
            }
            for (int k = 0; k < H; k++) {
              grad[whh + r * H + k] += dgh[r] * h[hAt(t, b, k)]; // dW_hh += dgh ⊗ h_t
              dhNext[b * H + k] += p[whh + r * H + k] * dgh[r]; // dh_t += W_hhᵀ dgh
            }
          }
        }
      }
      // dhNext now holds d loss / d h_0: the initial state receives no gradient, so it is dropped.
      return dInput;
    }

    static double sigmoid(double a) {
      return 1.0 / (1.0 + Math.exp(-a));
    }

    float[] outputsAsFloats() {
      float[] f = new float[out.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) out[i];
      }
      return f;
    }

    State finalState() {
      float[] hf = new float[L * B * H];
      float[] cf = cs == null ? null : new float[L * B * H];
      for (int l = 0; l < L; l++) {
        for (int b = 0; b < B; b++) {
          for (int j = 0; j < H; j++) {
            // padding carries the state, so h_T is the state after the last valid step
            hf[(l * B + b) * H + j] = (float) hs[l][hAt(T, b, j)];
            if (cf != null) {
              cf[(l * B + b) * H + j] = (float) cs[l][hAt(T, b, j)];
            }
          }
        }
      }
      return new State(L, B, H, hf, cf);
    }
  }
}
