package io.sparkrnn.kernel.model;

import static io.sparkrnn.kernel.testing.Refusals.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The flat layout against PyTorch's state_dict of {@code nn.LSTM/GRU(F, H, L)} + {@code nn.Linear(H, O)}
 * (names, shapes and order as PyTorch lists them), offsets worked out by hand; and Params' seeded
 * initialisation against the documented U(−1/√H, 1/√H).
 */
class ParamLayoutTest {

  @Test
  void aTwoLayerLstmHasPyTorchsNamesShapesAndOffsets() {
    // LSTM, L = 2, F = 3, H = 2, O = 1: G·H = 8.
    // layer 0: weight_ih [8, 3] = 24 at 0, weight_hh [8, 2] = 16 at 24, bias_ih [8] at 40, bias_hh [8] at 48
    // layer 1: weight_ih [8, 2] = 16 at 56 (its input is H, not F), weight_hh 16 at 72, biases at 88 and 96
    // head.weight [1, 2] at 104, head.bias [1] at 106; size 107
    // (PyTorch's count: 4H(F + H + 2) + 4H(H + H + 2) + O·H + O = 56 + 48 + 3 = 107)
    ParamLayout layout = new ParamLayout(new ModelConfig(CellType.LSTM, 2, 3, 2, 1, Mode.SEQ2SEQ, LossType.MSE));
    List<ParamSpec> expected = List.of(
        new ParamSpec("rnn.weight_ih_l0", new int[] {8, 3}, 0),
        new ParamSpec("rnn.weight_hh_l0", new int[] {8, 2}, 24),
        new ParamSpec("rnn.bias_ih_l0", new int[] {8}, 40),
        new ParamSpec("rnn.bias_hh_l0", new int[] {8}, 48),
        new ParamSpec("rnn.weight_ih_l1", new int[] {8, 2}, 56),
        new ParamSpec("rnn.weight_hh_l1", new int[] {8, 2}, 72),
        new ParamSpec("rnn.bias_ih_l1", new int[] {8}, 88),
        new ParamSpec("rnn.bias_hh_l1", new int[] {8}, 96),
        new ParamSpec("head.weight", new int[] {1, 2}, 104),
        new ParamSpec("head.bias", new int[] {1}, 106));
    assertEquals(expected, layout.specs());
    assertEquals(107, layout.size());
    assertEquals(List.of(0, 24, 40, 48), List.of(layout.weightIh(0), layout.weightHh(0), layout.biasIh(0),
        layout.biasHh(0)));
    assertEquals(List.of(56, 72, 88, 96), List.of(layout.weightIh(1), layout.weightHh(1), layout.biasIh(1),
        layout.biasHh(1)));
    assertEquals(104, layout.headWeight());
    assertEquals(106, layout.headBias());
    assertArrayEquals(new int[] {8, 2}, layout.get("rnn.weight_ih_l1").shape());
    assertEquals(16, layout.get("rnn.weight_ih_l1").size());
  }

  @Test
  void aGruAndAnRnnHaveThreeAndOneGates() {
    // GRU, L = 1, F = 1, H = 3, O = 2: G·H = 9: weight_ih [9, 1] at 0, weight_hh [9, 3] at 9, bias_ih at 36,
    // bias_hh at 45, head.weight [2, 3] at 54, head.bias [2] at 60; size 62
    ParamLayout gru = new ParamLayout(new ModelConfig(CellType.GRU, 1, 1, 3, 2, Mode.SEQ2SEQ, LossType.MSE));
    assertEquals(62, gru.size());
    assertEquals(List.of(0, 9, 36, 45, 54, 60), List.of(gru.weightIh(0), gru.weightHh(0), gru.biasIh(0),
        gru.biasHh(0), gru.headWeight(), gru.headBias()));
    // RNN, L = 1, F = 2, H = 3, O = 1: weight_ih [3, 2], weight_hh [3, 3], two biases [3], head [1, 3] + [1]
    // = 6 + 9 + 3 + 3 + 3 + 1 = 25
    ParamLayout rnn = new ParamLayout(new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE));
    assertEquals(25, rnn.size());
    assertArrayEquals(new int[] {3, 3}, rnn.get("rnn.weight_hh_l0").shape());
  }

  @Test
  void anUnknownNameIsNullForFindAndRefusedForGet() {
    ParamLayout layout = new ParamLayout(new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE));
    assertEquals(null, layout.find("rnn.weight_ih_l1"));
    refused(() -> layout.get("rnn.weight_ih_l1"), "rnn.weight_ih_l1");
  }

  @Test
  void initialisationIsUniformWithinOneOverRootHAndSeeded() {
    // H = 16: bound 1/√16 = 0.25; F = 64 would give 0.125, so the bound must come from H alone.
    // LSTM L = 1, F = 64, H = 16, O = 3: 64·(64 + 16 + 2) + 3·16 + 3 = 5299 draws
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 64, 16, 3, Mode.SEQ2SEQ, LossType.MSE);
    Params p = Params.initialize(config, 42);
    float[] v = p.values();
    assertEquals(5299, v.length);
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    for (float x : v) {
      assertTrue(Math.abs(x) <= 0.25f, "outside U(-0.25, 0.25): " + x);
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
    }
    // 5299 uniform draws: the extremes come within 0.01 of ±0.25 unless P ≈ (1 − 0.02)^5299 ≈ 1e-46
    assertTrue(min < -0.24 && max > 0.24, "range [" + min + ", " + max + "]");
    // the mean of U(−b, b) is 0 with standard error b/√3/√n ≈ 0.002; 0.02 is ten of them
    assertEquals(0.0, sum / v.length, 0.02);
    // every parameter is drawn, the head's too (a zero would be left by a skipped one)
    for (String name : List.of("rnn.bias_hh_l0", "head.weight", "head.bias")) {
      for (float x : p.get(name)) {
        assertNotEquals(0f, x, name);
      }
    }

    assertArrayEquals(v, Params.initialize(config, 42).values(), "same seed, same parameters");
    assertNotEquals(v[0], Params.initialize(config, 43).values()[0], "another seed, other parameters");
  }

  @Test
  void setAndGetAddressOneParameterAndRefuseAWrongLength() {
    // RNN, F = 2, H = 3, O = 1: head.bias is the last value (offset 24 of 25), head.weight [1, 3] at 21
    Params p = Params.zeros(new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE));
    p.set("head.weight", new float[] {1, 2, 3});
    p.set("head.bias", new float[] {4});
    float[] expected = new float[25];
    expected[21] = 1;
    expected[22] = 2;
    expected[23] = 3;
    expected[24] = 4;
    assertArrayEquals(expected, p.values());
    assertArrayEquals(new float[] {1, 2, 3}, p.get("head.weight"));
    refused(() -> p.set("head.weight", new float[] {1, 2}), "head.weight", "expected 3", "found 2");
    refused(() -> new Params(p.config(), new float[24]), "expected 25", "found 24");
  }

  @Test
  void aCopyIsIndependentOfTheOriginal() {
    // copy() is what is shared across threads (the class comment): the optimizer updating one leaves the other
    Params p = Params.zeros(new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE));
    Params c = p.copy();
    c.values()[0] = 5f;
    c.set("head.bias", new float[] {7f});
    assertEquals(0f, p.values()[0]);
    assertArrayEquals(new float[] {0f}, p.get("head.bias"));
    assertEquals(p.layout(), c.layout());
  }
}
