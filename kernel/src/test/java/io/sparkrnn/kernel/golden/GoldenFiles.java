package io.sparkrnn.kernel.golden;

import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the golden files {@code kernel/src/test/resources/golden/*.json}: for a fixed tiny model
 * and input per case, the outputs, the mean loss and the gradient of the mean loss.
 *
 * <p>The expectation has its own reason: the forward pass here is written afresh from PyTorch's
 * documented equations (torch.nn.RNN, LSTM, GRU, Linear, MSELoss, CrossEntropyLoss) in plain
 * float64 with {@link StrictMath} (reproducible on every JVM), sharing no code with the engines
 * (not ReferenceEngine, not ParamLayout), and the gradient is central finite differences of that
 * forward, not a second backward pass. A change in gate order, bias handling, padding or loss
 * averaging in an engine therefore cannot also change the expectation.
 *
 * <p>Regenerate (only when the math is meant to change, and say why in the commit):
 * <pre>
 * mvn -q -o -pl kernel test-compile
 * java -cp kernel/target/test-classes:kernel/target/classes io.sparkrnn.kernel.golden.GoldenFiles kernel/src/test/resources/golden
 * </pre>
 * {@code GoldenFileTest.filesAreWhatTheGeneratorWrites} fails when the files and this program disagree.
 */
public final class GoldenFiles {
  /** Central-difference step: truncation error ~ eps² · f''' ≈ 1e-12, rounding ~ 1e-16 / eps ≈ 1e-10. */
  static final double FD_STEP = 1e-6;

  /**
   * One case: a model and a batch. Lengths below T exercise padding (state carried, no loss).
   *
   * @param gates G (1 RNN, 4 LSTM i,f,g,o, 3 GRU r,z,n)
   */
  record Case(String name, String cell, int layers, int F, int H, int O, int T, int B, int[] lengths, boolean seq2seq,
      boolean crossEntropy) {
    int gates() {
      return switch (cell) {
        case "rnn" -> 1;
        case "lstm" -> 4;
        case "gru" -> 3;
        default -> throw new IllegalArgumentException(cell);
      };
    }
  }

  static final List<Case> CASES = List.of(
      new Case("rnn_seq2seq_mse", "rnn", 2, 3, 4, 2, 4, 2, new int[] {4, 3}, true, false),
      new Case("lstm_seq2seq_mse", "lstm", 2, 3, 4, 2, 4, 2, new int[] {4, 3}, true, false),
      new Case("gru_seq2seq_mse", "gru", 2, 3, 4, 2, 4, 2, new int[] {4, 3}, true, false),
      new Case("lstm_seq2one_ce", "lstm", 1, 2, 3, 3, 3, 3, new int[] {3, 1, 2}, false, true),
      new Case("gru_seq2one_ce", "gru", 1, 2, 3, 3, 3, 3, new int[] {3, 1, 2}, false, true),
      new Case("rnn_seq2seq_ce", "rnn", 1, 3, 3, 3, 3, 2, new int[] {3, 2}, true, true));

  /** A named tensor of the state dict: name, shape, values (row-major). */
  record Param(String name, int[] shape, double[] values) {}

  /** The state dict in PyTorch's order, filled with p_i = 0.5·sin(1.3 i + 0.4) rounded to float32 (i over all values in order). */
  static List<Param> params(Case c) {
    List<Param> ps = new ArrayList<>();
    int G = c.gates();
    for (int k = 0; k < c.layers; k++) {
      int in = k == 0 ? c.F : c.H;
      ps.add(new Param("rnn.weight_ih_l" + k, new int[] {G * c.H, in}, null));
      ps.add(new Param("rnn.weight_hh_l" + k, new int[] {G * c.H, c.H}, null));
      ps.add(new Param("rnn.bias_ih_l" + k, new int[] {G * c.H}, null));
      ps.add(new Param("rnn.bias_hh_l" + k, new int[] {G * c.H}, null));
    }
    ps.add(new Param("head.weight", new int[] {c.O, c.H}, null));
    ps.add(new Param("head.bias", new int[] {c.O}, null));
    List<Param> filled = new ArrayList<>();
    int i = 0;
    for (Param p : ps) {
      int n = 1;
      for (int d : p.shape) {
        n *= d;
      }
      double[] v = new double[n];
      for (int j = 0; j < n; j++, i++) {
        v[j] = (float) (0.5 * StrictMath.sin(1.3 * i + 0.4));
      }
      filled.add(new Param(p.name, p.shape, v));
    }
    return filled;
  }

  /** x [T][B][F]: sin(0.7 i) rounded to float32; padded steps 0. */
  static double[] inputs(Case c) {
    double[] x = new double[c.T * c.B * c.F];
    for (int t = 0; t < c.T; t++) {
      for (int b = 0; b < c.B; b++) {
        for (int f = 0; f < c.F; f++) {
          int i = (t * c.B + b) * c.F + f;
          x[i] = t < c.lengths[b] ? (float) StrictMath.sin(0.7 * i) : 0;
        }
      }
    }
    return x;
  }

  /** mse targets [T][B][O] or [B][O]: 0.5·cos(0.9 i) rounded to float32; padded steps 0. */
  static double[] targets(Case c) {
    int rows = c.seq2seq ? c.T : 1;
    double[] y = new double[rows * c.B * c.O];
    for (int t = 0; t < rows; t++) {
      for (int b = 0; b < c.B; b++) {
        for (int o = 0; o < c.O; o++) {
          int i = (t * c.B + b) * c.O + o;
          y[i] = !c.seq2seq || t < c.lengths[b] ? (float) (0.5 * StrictMath.cos(0.9 * i)) : 0;
        }
      }
    }
    return y;
  }

  /** Class ids [T][B] or [B]: (2t + b) mod O (on padded steps too; they carry no loss). */
  static int[] classes(Case c) {
    int rows = c.seq2seq ? c.T : 1;
    int[] y = new int[rows * c.B];
    for (int t = 0; t < rows; t++) {
      for (int b = 0; b < c.B; b++) {
        y[t * c.B + b] = (2 * t + b) % c.O;
      }
    }
    return y;
  }

  /** The forward result: head outputs ([T][B][O] or [B][O]; padded steps 0) and the mean loss. */
  record Forward(double[] output, double loss) {}

  /** PyTorch's equations, one sequence at a time, as a loop over packed (valid) steps. */
  static Forward forward(Case c, Map<String, double[]> p, double[] x, double[] targets, int[] classes) {
    int H = c.H, O = c.O, B = c.B, T = c.T;
    int rows = c.seq2seq ? T : 1;
    double[] out = new double[rows * B * O];
    for (int b = 0; b < B; b++) {
      int len = c.lengths[b];
      // layerIn[t][i]: the input sequence of the current layer for this sequence (valid steps only)
      double[][] layerIn = new double[len][];
      for (int t = 0; t < len; t++) {
        layerIn[t] = new double[c.F];
        for (int f = 0; f < c.F; f++) {
          layerIn[t][f] = x[(t * B + b) * c.F + f];
        }
      }
      for (int k = 0; k < c.layers; k++) {
        double[] wih = p.get("rnn.weight_ih_l" + k), whh = p.get("rnn.weight_hh_l" + k);
        double[] bih = p.get("rnn.bias_ih_l" + k), bhh = p.get("rnn.bias_hh_l" + k);
        int in = k == 0 ? c.F : H;
        double[] h = new double[H];                               // h_0 = 0
        double[] cell = new double[H];                            // c_0 = 0 (LSTM)
        double[][] layerOut = new double[len][];
        for (int t = 0; t < len; t++) {
          double[] gi = affine(wih, bih, layerIn[t], in);         // W_ih x_t + b_ih, rows of G·H
          double[] gh = affine(whh, bhh, h, H);                   // W_hh h_{t-1} + b_hh
          double[] hNew = new double[H];
          for (int j = 0; j < H; j++) {
            switch (c.cell) {
              case "rnn" -> hNew[j] = StrictMath.tanh(gi[j] + gh[j]);          // h_t = tanh(W_ih x + b_ih + W_hh h + b_hh)
              case "lstm" -> {
                double i = sigmoid(gi[j] + gh[j]);                              // i_t: rows [0, H)
                double f = sigmoid(gi[H + j] + gh[H + j]);                      // f_t: rows [H, 2H)
                double g = StrictMath.tanh(gi[2 * H + j] + gh[2 * H + j]);     // g_t: rows [2H, 3H)
                double o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);              // o_t: rows [3H, 4H)
                cell[j] = f * cell[j] + i * g;                                  // c_t = f ⊙ c_{t-1} + i ⊙ g
                hNew[j] = o * StrictMath.tanh(cell[j]);                         // h_t = o ⊙ tanh(c_t)
              }
              case "gru" -> {
                double r = sigmoid(gi[j] + gh[j]);                              // r_t: rows [0, H)
                double z = sigmoid(gi[H + j] + gh[H + j]);                      // z_t: rows [H, 2H)
                double n = StrictMath.tanh(gi[2 * H + j] + r * gh[2 * H + j]);  // n_t = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                hNew[j] = (1 - z) * n + z * h[j];                               // h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
              }
              default -> throw new IllegalArgumentException(c.cell);
            }
          }
          h = hNew;
          layerOut[t] = h;
        }
        layerIn = layerOut;
      }
      double[] hw = p.get("head.weight"), hb = p.get("head.bias");
      if (c.seq2seq) {
        for (int t = 0; t < len; t++) {
          double[] y = affine(hw, hb, layerIn[t], H);             // y_t = W h_t + b
          System.arraycopy(y, 0, out, (t * B + b) * O, O);
        }
      } else {
        double[] y = affine(hw, hb, layerIn[len - 1], H);         // seq2one: the last valid step
        System.arraycopy(y, 0, out, b * O, O);
      }
    }
    // Loss: mean over valid terms, as MSELoss() / CrossEntropyLoss() over the valid rows.
    double sum = 0;
    long count = 0;
    for (int t = 0; t < rows; t++) {
      for (int b = 0; b < B; b++) {
        if (c.seq2seq && t >= c.lengths[b]) {
          continue;
        }
        int row = (t * B + b) * O;
        if (!c.crossEntropy) {
          for (int o = 0; o < O; o++) {
            double d = out[row + o] - targets[row + o];
            sum += d * d;
            count++;
          }
        } else {
          double z = 0;
          for (int o = 0; o < O; o++) {
            z += StrictMath.exp(out[row + o]);
          }
          sum += StrictMath.log(z) - out[row + classes[t * B + b]];   // −log softmax(y)[class]
          count++;
        }
      }
    }
    return new Forward(out, sum / count);
  }

  /** W v + bias for W of shape [rows][n]. */
  static double[] affine(double[] w, double[] bias, double[] v, int n) {
    double[] r = new double[bias.length];
    for (int i = 0; i < r.length; i++) {
      double a = bias[i];
      for (int j = 0; j < n; j++) {
        a += w[i * n + j] * v[j];
      }
      r[i] = a;
    }
    return r;
  }

  static double sigmoid(double a) {
    return 1 / (1 + StrictMath.exp(-a));
  }

  /** The golden JSON text of one case. */
  static String generate(Case c) {
    List<Param> ps = params(c);
    Map<String, double[]> p = new LinkedHashMap<>();
    for (Param q : ps) {
      p.put(q.name, q.values.clone());
    }
    double[] x = inputs(c);
    double[] y = c.crossEntropy ? null : targets(c);
    int[] cls = c.crossEntropy ? classes(c) : null;
    Forward f = forward(c, p, x, y, cls);
    Map<String, Object> gradient = new LinkedHashMap<>();
    for (Param q : ps) {
      double[] v = p.get(q.name);
      double[] g = new double[v.length];
      for (int i = 0; i < v.length; i++) {
        double keep = v[i];
        v[i] = keep + FD_STEP;
        double plus = forward(c, p, x, y, cls).loss();
        v[i] = keep - FD_STEP;
        double minus = forward(c, p, x, y, cls).loss();
        v[i] = keep;
        g[i] = (plus - minus) / (2 * FD_STEP);                    // d(mean loss)/dp_i, central difference
      }
      gradient.put(q.name, list(g));
    }
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("generator", GoldenFiles.class.getName() + " (kernel test sources); PyTorch equations in float64, gradient by central differences");
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("cell", c.cell);
    config.put("num_layers", (long) c.layers);
    config.put("input_size", (long) c.F);
    config.put("hidden_size", (long) c.H);
    config.put("output_size", (long) c.O);
    config.put("mode", c.seq2seq ? "seq2seq" : "seq2one");
    config.put("loss", c.crossEntropy ? "cross_entropy" : "mse");
    j.put("config", config);
    j.put("steps", (long) c.T);
    j.put("batch", (long) c.B);
    j.put("lengths", c.lengths);
    j.put("x", list(x));
    if (y != null) {
      j.put("targets", list(y));
    } else {
      j.put("classes", cls);
    }
    Map<String, Object> params = new LinkedHashMap<>();
    for (Param q : ps) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("shape", q.shape);
      e.put("values", list(q.values));
      params.put(q.name, e);
    }
    j.put("params", params);
    j.put("output", list(f.output()));
    j.put("loss", f.loss());
    j.put("gradient", gradient);
    return Json.writePretty(j);
  }

  static List<Object> list(double[] v) {
    List<Object> l = new ArrayList<>();
    for (double d : v) {
      l.add(d);
    }
    return l;
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0] : "kernel/src/test/resources/golden");
    Files.createDirectories(dir);
    for (Case c : CASES) {
      Files.writeString(dir.resolve(c.name + ".json"), generate(c), StandardCharsets.UTF_8);
      System.out.println("wrote " + dir.resolve(c.name + ".json"));
    }
  }
}
