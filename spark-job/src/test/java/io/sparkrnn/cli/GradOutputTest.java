package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code grad} writes, checked against sources outside the engines: a loss and gradient worked
 * out by hand, the {@code __metadata__} keys docs/inference.md names ({@code loss_mean} in full
 * precision, {@code loss_terms}, {@code engine}), and central finite differences of grad's own loss.
 */
class GradOutputTest {
  /** loss_mean is the float64 reference engine's sum of two squares over 2: a few ulps of 1.4. */
  static final double FLOAT64_TOL = 1e-12;
  /**
   * Central differences with eps = 2^-10 on a tanh/sigmoid network of O(1) weights: truncation
   * error ~ eps² · |f'''| / 6 ≈ 1e-7; the gradient is stored as F32 (relative 6e-8).
   */
  static final double FINITE_DIFFERENCE_TOL = 2e-5;
  static final float EPS = 1f / 1024;

  @TempDir
  Path tmp;

  static Path shard(Path file, int steps, int batch, float[] x, float[] y) throws IOException {
    Files.write(file, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {steps, batch, 1}, x),
        Tensor.ofFloats("y", new int[] {steps, batch, 1}, y))));
    return file;
  }

  static InferenceCommandsTest.Run grad(Path weights, Path data, Path out) {
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("grad", "--weights", weights.toString(), "--data", data.toString(),
        "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    return r;
  }

  /**
   * RNN, F = H = O = 1, every weight 0 but head.bias = 0.5: h_t = tanh(0) = 0, so ŷ_t = 0.5 at both
   * steps. y = (1, 2.1f) with T = 2, B = 1:
   *   loss  = mean over T·B·O = 2 terms of (ŷ − y)² = ((0.5 − 1)² + (0.5 − 2.1f)²) / 2   (docs/ml.md: mse)
   *   d loss / d head.bias   = (2(0.5 − 1) + 2(0.5 − 2.1f)) / 2 = 0.5 − 1 + 0.5 − 2.1f = −2.1f
   *   d loss / d head.weight = mean of 2(ŷ − y) · h_t = 0 (h_t = 0); everything under it gets
   *   dh = head.weight · (…) = 0.
   * 2.1f is not a float-exact decimal, so a loss_mean rounded to float32 differs by ~1e-8.
   */
  @Test
  void gradOfAHandWorkedModelGivesTheLossGradientAndTheDocumentedMetadata() throws IOException {
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params p = Params.zeros(rnn);
    p.set(ParamLayout.HEAD_BIAS, new float[] {0.5f});
    Path model = Files.write(tmp.resolve("hand.safetensors"), ModelFile.toBytes(p, Map.of()));
    double y1 = 2.1f;
    Path data = shard(tmp.resolve("hand-shard.safetensors"), 2, 1, new float[] {0.3f, -0.7f}, new float[] {1f, 2.1f});
    Path out = tmp.resolve("hand-grad.safetensors");
    grad(model, data, out);

    SafeTensorsFile g = SafeTensors.read(out);
    double loss = ((0.5 - 1) * (0.5 - 1) + (0.5 - y1) * (0.5 - y1)) / 2;
    assertEquals(loss, Double.parseDouble(g.metadata().get("loss_mean")), FLOAT64_TOL, "loss_mean, full precision");
    assertEquals("2", g.metadata().get("loss_terms"), "T·B·O = 2·1·1 terms");
    assertEquals(true, g.metadata().containsKey("engine"), "engine: " + g.metadata());
    assertEquals((float) loss, g.require("loss").floats()[0], "loss [1], F32");
    assertArrayEquals(new float[] {(float) (0.5 - 1 + 0.5 - y1)}, g.require(ParamLayout.HEAD_BIAS).floats(), 1e-6f,
        "d loss / d head.bias");
    for (ParamSpec s : p.layout().specs()) {
      if (!s.name().equals(ParamLayout.HEAD_BIAS)) {
        assertArrayEquals(new float[s.size()], g.require(s.name()).floats(), s.name() + ": zero, since h = 0 and head.weight = 0");
      }
    }
  }

  /** d loss / d w_i ≈ (L(w + eps e_i) − L(w − eps e_i)) / (2 eps), L read back from grad's own loss_mean. */
  @Test
  void gradsGradientMatchesCentralDifferencesOfItsOwnLoss() throws IOException {
    ModelConfig gru = new ModelConfig(CellType.GRU, 1, 1, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params p = Params.initialize(gru, 7);
    Random rng = new Random(11);
    int steps = 3;
    int batch = 2;
    float[] x = new float[steps * batch];
    float[] y = new float[steps * batch];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
      y[i] = (float) rng.nextGaussian();
    }
    Path data = shard(tmp.resolve("fd-shard.safetensors"), steps, batch, x, y);
    Path model = Files.write(tmp.resolve("fd.safetensors"), ModelFile.toBytes(p, Map.of()));
    Path out = tmp.resolve("fd-grad.safetensors");
    grad(model, data, out);
    SafeTensorsFile g = SafeTensors.read(out);

    for (String name : List.of("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_hh_l0", ParamLayout.HEAD_WEIGHT,
        ParamLayout.HEAD_BIAS)) {
      int i = p.get(name).length - 1;   // the last entry of each tensor (for GRU weights: the n gate's)
      double[] lossAt = new double[2];
      double[] w = new double[2];
      for (int side = 0; side < 2; side++) {
        Params moved = p.copy();
        float[] t = moved.get(name);
        t[i] += side == 0 ? EPS : -EPS;
        w[side] = t[i];
        moved.set(name, t);
        Path m = Files.write(tmp.resolve("fd-" + name + "-" + side + ".safetensors"), ModelFile.toBytes(moved, Map.of()));
        Path o = tmp.resolve("fd-grad-" + name + "-" + side + ".safetensors");
        grad(m, data, o);
        lossAt[side] = Double.parseDouble(SafeTensors.read(o).metadata().get("loss_mean"));
      }
      double central = (lossAt[0] - lossAt[1]) / (w[0] - w[1]);
      assertEquals(central, g.require(name).floats()[i], FINITE_DIFFERENCE_TOL, name + "[" + i + "]");
    }
  }

  /** The mean of no terms is undefined (docs/inference.md: the MEAN loss): a shard of B = 0 sequences is bad input, nothing written. */
  @Test
  void aShardWithoutSequencesIsRefusedAndNothingIsWritten() throws IOException {
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE);
    Path model = Files.write(tmp.resolve("empty-model.safetensors"), ModelFile.toBytes(Params.initialize(rnn, 3), Map.of()));
    Path data = shard(tmp.resolve("empty-shard.safetensors"), 2, 0, new float[0], new float[0]);
    Path out = tmp.resolve("empty-grad.safetensors");
    InferenceCommandsTest.assertFails(InferenceCommandsTest.run("grad", "--weights", model.toString(), "--data", data.toString(),
        "--out", out.toString()), "empty-shard.safetensors");
    assertEquals(false, Files.exists(out), "nothing written");
  }

  /**
   * grad prints "loss L (mean over N terms, ENGINE); gradients of K tensors written to OUT": for the
   * one-layer RNN of the hand-worked test K = 6 (rnn.weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
   * head.weight, head.bias), N = T·B·O = 2; and a shard without targets y is refused: the loss needs them.
   */
  @Test
  void gradPrintsTheTermAndTensorCountsAndRefusesAShardWithoutTargets() throws IOException {
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE);
    Path model = Files.write(tmp.resolve("count.safetensors"), ModelFile.toBytes(Params.zeros(rnn), Map.of()));
    Path data = shard(tmp.resolve("count-shard.safetensors"), 2, 1, new float[] {0.3f, -0.7f}, new float[] {1f, 2f});
    Path out = tmp.resolve("count-grad.safetensors");
    InferenceCommandsTest.Run r = grad(model, data, out);
    assertTrue(r.out().contains("(mean over 2 terms, "), r.out());
    assertTrue(r.out().contains("; gradients of 6 tensors written to " + out), r.out());
    Path noY = Files.write(tmp.resolve("no-y.safetensors"), SafeTensors.toBytes(Map.of(),
        List.of(Tensor.ofFloats("x", new int[] {2, 1, 1}, new float[] {0.3f, -0.7f}))));
    Path out2 = tmp.resolve("no-y-grad.safetensors");
    InferenceCommandsTest.assertFails(InferenceCommandsTest.run("grad", "--weights", model.toString(), "--data", noY.toString(),
        "--out", out2.toString()), "no-y.safetensors", "no tensor 'y'");
    assertFalse(Files.exists(out2), "nothing written");
  }
}
