package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * PyTorch interop against PyTorch's documented equations (torch.nn.LSTM, torch.nn.GRU): a state
 * dict laid out as PyTorch lays it (weight_ih_l{k} = [W_i | W_f | W_g | W_o] for an LSTM,
 * [W_r | W_z | W_n] for a GRU, b_ih and b_hh kept apart, b_hn inside the reset gate's product),
 * imported, must step as those equations do, computed here by a float64 loop; an exported model's
 * tensors, fed to the same loop, must give what our engine gives. And the configuration JSON's
 * refusals: each setting whose weights or math spark-rnn does not have, named.
 */
class TorchInteropTest {
  /** The reference engine: float32 weights and inputs through float64 math as here; only the outputs' rounding differs. */
  static final double REFERENCE_TOL = 1e-6;
  /** The JVM engine (what transform and predict run): float32 sums over at most 2·H + F terms per gate, 5 steps. */
  static final double FLOAT32_TOL = 1e-5;
  static final int T = 5;

  /** A PyTorch-layout state dict: rnn.* of an nn.LSTM/GRU/RNN and head.* of an nn.Linear, values uniform in [-1, 1). */
  static Map<String, Tensor> torchStateDict(int gates, int layers, int F, int H, int O, long seed) {
    Random rnd = new Random(seed);
    Map<String, Tensor> sd = new LinkedHashMap<>();
    for (int l = 0; l < layers; l++) {
      int in = l == 0 ? F : H;
      sd.put("rnn.weight_ih_l" + l, tensor("rnn.weight_ih_l" + l, rnd, gates * H, in));
      sd.put("rnn.weight_hh_l" + l, tensor("rnn.weight_hh_l" + l, rnd, gates * H, H));
      sd.put("rnn.bias_ih_l" + l, tensor("rnn.bias_ih_l" + l, rnd, gates * H));
      sd.put("rnn.bias_hh_l" + l, tensor("rnn.bias_hh_l" + l, rnd, gates * H));
    }
    sd.put("head.weight", tensor("head.weight", rnd, O, H));
    sd.put("head.bias", tensor("head.bias", rnd, O));
    return sd;
  }

  static Tensor tensor(String name, Random rnd, int... shape) {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (2 * rnd.nextDouble() - 1);
    }
    return Tensor.ofFloats(name, shape, v);
  }

  /**
   * PyTorch's equations, float64, one sequence, outputs [T][O] of the head after each step.
   * LSTM: i, f, g, o = σ, σ, tanh, σ of (W_i* x + b_i* + W_h* h + b_h*); c' = f c + i g; h' = o tanh(c').
   * GRU: r, z = σ(W_i* x + b_i* + W_h* h + b_h*); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 − z) n + z h.
   * RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
   */
  static double[][] torchForward(CellType cell, Map<String, Tensor> sd, int layers, int H, double[][] x) {
    double[][] h = new double[layers][H];
    double[][] c = new double[layers][H];
    float[] hw = sd.get("head.weight").floats();
    float[] hb = sd.get("head.bias").floats();
    int O = hb.length;
    double[][] out = new double[x.length][O];
    for (int t = 0; t < x.length; t++) {
      double[] input = x[t];
      for (int l = 0; l < layers; l++) {
        float[] wih = sd.get("rnn.weight_ih_l" + l).floats();
        float[] whh = sd.get("rnn.weight_hh_l" + l).floats();
        float[] bih = sd.get("rnn.bias_ih_l" + l).floats();
        float[] bhh = sd.get("rnn.bias_hh_l" + l).floats();
        int in = input.length;
        int G = bih.length / H;
        double[] gi = new double[G * H];                    // W_ih x + b_ih, rows in PyTorch's gate order
        double[] gh = new double[G * H];                    // W_hh h + b_hh
        for (int r = 0; r < G * H; r++) {
          gi[r] = bih[r];
          for (int k = 0; k < in; k++) {
            gi[r] += wih[r * in + k] * input[k];
          }
          gh[r] = bhh[r];
          for (int k = 0; k < H; k++) {
            gh[r] += whh[r * H + k] * h[l][k];
          }
        }
        double[] hNew = new double[H];
        for (int j = 0; j < H; j++) {
          switch (cell) {
            case LSTM -> {
              double i = sigmoid(gi[j] + gh[j]);
              double f = sigmoid(gi[H + j] + gh[H + j]);
              double g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
              double o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
              c[l][j] = f * c[l][j] + i * g;
              hNew[j] = o * Math.tanh(c[l][j]);
            }
            case GRU -> {
              double r = sigmoid(gi[j] + gh[j]);
              double z = sigmoid(gi[H + j] + gh[H + j]);
              double n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
              hNew[j] = (1 - z) * n + z * h[l][j];
            }
            case RNN -> hNew[j] = Math.tanh(gi[j] + gh[j]);
          }
        }
        h[l] = hNew;
        input = hNew;
      }
      for (int o = 0; o < O; o++) {
        out[t][o] = hb[o];
        for (int j = 0; j < H; j++) {
          out[t][o] += hw[o * H + j] * h[layers - 1][j];
        }
      }
    }
    return out;
  }

  static double sigmoid(double v) {
    return 1 / (1 + Math.exp(-v));
  }

  static double[][] inputs(int F, long seed) {
    Random rnd = new Random(seed);
    double[][] x = new double[T][F];
    for (int t = 0; t < T; t++) {
      for (int f = 0; f < F; f++) {
        x[t][f] = (float) (2 * rnd.nextDouble() - 1);         // float32 values, as the engine takes them
      }
    }
    return x;
  }

  /** Our engine stepped over x from a zero state: [T][O]. */
  static double[][] ourForward(Params params, double[][] x, BpttEngine engine) {
    StatefulSession s = new StatefulSession(params, engine, 1);
    double[][] out = new double[x.length][];
    for (int t = 0; t < x.length; t++) {
      float[] xt = new float[x[t].length];
      for (int f = 0; f < xt.length; f++) {
        xt[f] = (float) x[t][f];
      }
      float[] y = s.step(xt);
      out[t] = new double[y.length];
      for (int o = 0; o < y.length; o++) {
        out[t][o] = y[o];
      }
    }
    return out;
  }

  /** Our forward, on the float64 reference engine and on the JVM engine, against PyTorch's equations. */
  static void assertStepsAs(double[][] want, Params params, double[][] x, String what) {
    assertClose(want, ourForward(params, x, new ReferenceEngine()), REFERENCE_TOL, what + ", reference engine");
    try (BpttEngine jvm = new JvmEngine(MathKernels.best(), 1)) {
      assertClose(want, ourForward(params, x, jvm), FLOAT32_TOL, what + ", JVM engine");
    }
  }

  static void assertClose(double[][] want, double[][] got, double tol, String what) {
    double worst = 0;
    String at = "";
    for (int t = 0; t < want.length; t++) {
      for (int o = 0; o < want[t].length; o++) {
        double d = Math.abs(want[t][o] - got[t][o]);
        if (d > worst) {
          worst = d;
          at = "t=" + t + ", o=" + o + ": PyTorch's equations " + want[t][o] + ", ours " + got[t][o];
        }
      }
    }
    assertTrue(worst <= tol, what + ": worst difference " + worst + " at " + at);
  }

  @Test
  void anImportedStateDictStepsAsPyTorchsEquationsSay() {
    Object[][] cases = {{CellType.LSTM, 4, 2}, {CellType.GRU, 3, 2}, {CellType.RNN, 1, 1}};
    int F = 2;
    int H = 3;
    int O = 2;
    for (Object[] k : cases) {
      CellType cell = (CellType) k[0];
      int gates = (Integer) k[1];
      int layers = (Integer) k[2];
      Map<String, Tensor> sd = torchStateDict(gates, layers, F, H, O, 17 + gates);
      byte[] file = SafeTensors.toBytes(Map.of(), new ArrayList<>(sd.values()));
      byte[] ours = TorchInterop.importModel(file, "torch.safetensors", null, null, "seq2seq", "mse");
      TrainedModel m = TrainedModel.fromBytes(ours, "imported");
      assertEquals(new ModelConfig(cell, layers, F, H, O, Mode.SEQ2SEQ, LossType.MSE), m.config(), cell + ": inferred");
      double[][] x = inputs(F, 5);
      assertStepsAs(torchForward(cell, sd, layers, H, x), m.params(), x, cell + " imported");
    }
  }

  @Test
  void anExportedModelsTensorsStepInPyTorchsEquationsAsOurEngineSteps() {
    int F = 2;
    int H = 3;
    int O = 2;
    for (CellType cell : CellType.values()) {
      ModelConfig config = new ModelConfig(cell, 2, F, H, O, Mode.SEQ2SEQ, LossType.MSE);
      Params params = Params.initialize(config, 9);
      TorchInterop.Exported e = TorchInterop.export(TrainedModel.of(params, Map.of()));
      SafeTensorsFile file = SafeTensors.read(e.safetensors(), "exported", false);
      Map<String, Tensor> sd = new LinkedHashMap<>(file.tensors());
      double[][] x = inputs(F, 6);
      assertStepsAs(torchForward(cell, sd, 2, H, x), params, x, cell + " exported");
    }
  }

  static String config(String extra) {
    return "{\"cell\": \"gru\", \"input_size\": 2, \"hidden_size\": 3, \"num_layers\": 1, \"output_size\": 2,"
        + " \"mode\": \"seq2seq\", \"loss\": \"mse\"" + extra + "}";
  }

  static byte[] gruFile() {
    return SafeTensors.toBytes(Map.of(), new ArrayList<>(torchStateDict(3, 1, 2, 3, 2, 1).values()));
  }

  @Test
  void theConfigurationsModeAndLossGiveWayToTheOptions() {
    byte[] file = gruFile();
    ModelConfig asGiven = TrainedModel.fromBytes(TorchInterop.importModel(file, "t", config(""), "c.json", null, null), "i").config();
    assertEquals(Mode.SEQ2SEQ, asGiven.mode());
    assertEquals(LossType.MSE, asGiven.loss());
    ModelConfig overridden = TrainedModel.fromBytes(TorchInterop.importModel(file, "t", config(""), "c.json", "seq2one",
        "mse"), "i").config();
    assertEquals(Mode.SEQ2ONE, overridden.mode(), "--mode wins over the configuration's");
    // likewise --loss: the configuration says mse, the option cross_entropy (O = 2 classes)
    ModelConfig classes = TrainedModel.fromBytes(TorchInterop.importModel(file, "t", config(""), "c.json", null,
        "cross_entropy"), "i").config();
    assertEquals(LossType.CROSS_ENTROPY, classes.loss(), "--loss wins over the configuration's");
  }

  @Test
  void theExportedConfigurationHasTheArgumentsOfThePyTorchConstructor() {
    // the class comment: rnn = nn.RNN|LSTM|GRU(input_size, hidden_size, num_layers), head = nn.Linear(hidden_size, output_size);
    // F = 2, H = 3, L = 2, O = 1 are all different, so a swapped field shows
    String[] torchClass = {"RNN", "LSTM", "GRU"};
    CellType[] cells = {CellType.RNN, CellType.LSTM, CellType.GRU};
    for (int k = 0; k < cells.length; k++) {
      ModelConfig c = new ModelConfig(cells[k], 2, 2, 3, 1, Mode.SEQ2ONE, LossType.MSE);
      Map<String, Object> j = Json.parseObject(TorchInterop.export(TrainedModel.of(Params.initialize(c, 1),
          Map.of())).configJson());
      assertEquals(torchClass[k], j.get("torch_class"), cells[k] + ": the torch.nn class");
      assertEquals(2L, ((Number) j.get("input_size")).longValue(), cells[k] + ": input_size");
      assertEquals(3L, ((Number) j.get("hidden_size")).longValue(), cells[k] + ": hidden_size");
      assertEquals(2L, ((Number) j.get("num_layers")).longValue(), cells[k] + ": num_layers");
      assertEquals(1L, ((Number) j.get("output_size")).longValue(), cells[k] + ": output_size");
      assertEquals("seq2one", j.get("mode"), cells[k] + ": mode");
      // the constructor's other arguments as PyTorch's defaults give them, the only ones our weights and math have:
      // bias=True, batch_first=False, bidirectional=False, and for nn.RNN nonlinearity='tanh' (nn.LSTM and nn.GRU take no
      // nonlinearity argument)
      assertEquals(Boolean.TRUE, j.get("bias"), cells[k] + ": bias");
      assertEquals(Boolean.FALSE, j.get("batch_first"), cells[k] + ": batch_first");
      assertEquals(Boolean.FALSE, j.get("bidirectional"), cells[k] + ": bidirectional");
      assertEquals(cells[k] == CellType.RNN ? "tanh" : null, j.get("nonlinearity"), cells[k] + ": nonlinearity");
    }
  }

  /** Statistics that change every value: (x − mean) / std and y · std + mean are the identity for none of them. */
  static final String NORMALIZATION = "{\"input_mean\": [1.0, 2.0], \"input_std\": [4.0, 8.0], \"target_mean\": [3.0],"
      + " \"target_std\": [0.5]}";

  @Test
  void anExportedFileImportedWithoutItsConfigurationKeepsModeLossNormalisationAndTask() {
    // the class comment: the exported file's __metadata__ holds "format: pt" and our configuration, so --infer (no config
    // JSON, no --mode/--loss) gets mode and loss from it, and the data's metadata travels too. F = 2, H = 3, O = 1 all
    // differ, so an O taken from another axis shows; seq2one is not the default of anything.
    ModelConfig c = new ModelConfig(CellType.LSTM, 1, 2, 3, 1, Mode.SEQ2ONE, LossType.MSE);
    TrainedModel original = TrainedModel.of(Params.initialize(c, 4), Map.of(
        ModelMetadata.KEY_NORMALIZATION, NORMALIZATION, ModelMetadata.KEY_TASK, "sine"));
    TorchInterop.Exported e = TorchInterop.export(original);
    assertEquals("pt", SafeTensors.read(e.safetensors(), "exported", false).metadata().get("format"));
    TrainedModel back = TrainedModel.fromBytes(TorchInterop.importModel(e.safetensors(), "t", null, null, null, null), "i");
    assertEquals(c, back.config(), "configuration from shapes and the file's metadata");
    assertEquals(original.normalization(), back.normalization(), "normalisation");
    assertEquals("sine", back.task(), "dataset task");
    // (x − mean) / std: (5 − 1) / 4 = 1, (10 − 2) / 8 = 1; y · std + mean: 2 · 0.5 + 3 = 4
    assertArrayEquals(new float[] {1f, 1f}, back.inputsToModelUnits(new float[] {5f, 10f}), 0f);
    assertArrayEquals(new float[] {4f}, back.outputsToRawUnits(new float[] {2f}), 0f);
  }

  @Test
  void aClassModelsVocabularyAndTaskTravelThroughExportAndImportEitherWay() {
    // a text model: F = O = 3 classes, one symbol each; import with the exported configuration JSON and with --infer
    ModelConfig c = new ModelConfig(CellType.GRU, 1, 3, 2, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    TrainedModel original = TrainedModel.of(Params.initialize(c, 5), Map.of(
        ModelMetadata.KEY_VOCABULARY, Json.write(List.of("a", "b", "c")),
        ModelMetadata.KEY_TASK, "text"));
    TorchInterop.Exported e = TorchInterop.export(original);
    Map<String, Object> j = Json.parseObject(e.configJson());
    assertEquals(List.of("a", "b", "c"), j.get("vocabulary"), "the configuration's vocabulary");
    assertEquals("text", j.get("dataset_task"), "the configuration's dataset task");
    TrainedModel viaConfig = TrainedModel.fromBytes(TorchInterop.importModel(e.safetensors(), "t", e.configJson(), "c.json",
        null, null), "i");
    TrainedModel viaInfer = TrainedModel.fromBytes(TorchInterop.importModel(e.safetensors(), "t", null, null, null, null), "i");
    for (TrainedModel m : new TrainedModel[] {viaConfig, viaInfer}) {
      assertEquals(c, m.config());
      assertEquals(List.of("a", "b", "c"), m.vocabulary());
      assertEquals("text", m.task());
    }
  }

  @Test
  void keysOfBidirectionalProjectedOrUnprefixedModulesAreRefusedByName() {
    // what PyTorch names them: weight_ih_l0_reverse (bidirectional=True), weight_hr_l0 (proj_size > 0), and a bare
    // nn.LSTM's state dict has no "rnn." prefix
    String[][] refused = {
        {"rnn.weight_ih_l0_reverse", "bidirectional"},
        {"rnn.weight_hr_l0", "proj_size"},
        {"weight_hr_l0", "proj_size"},
        {"weight_ih_l0", "expected 'rnn.weight_ih_l0'"}};
    for (String[] r : refused) {
      Map<String, Tensor> sd = torchStateDict(4, 1, 2, 3, 2, 1);
      sd.put(r[0], Tensor.ofFloats(r[0], new int[] {12, 2}, new float[24]));
      byte[] file = SafeTensors.toBytes(Map.of(), new ArrayList<>(sd.values()));
      BadInputException e = assertThrows(BadInputException.class,
          () -> TorchInterop.importModel(file, "t.safetensors", null, null, "seq2seq", "mse"), r[0]);
      assertTrue(e.getMessage().contains("'" + r[0] + "'") && e.getMessage().contains(r[1]), e.getMessage());
    }
  }

  /** --infer names the tensor at fault: a 1-D head.weight alone, and weight_hh's columns against head.weight's H. */
  @Test
  void inferNamesOnlyTheTensorAtFault() {
    Map<String, Tensor> flatHead = torchStateDict(4, 1, 2, 3, 2, 1);
    flatHead.put("head.weight", Tensor.ofFloats("head.weight", new int[] {6}, new float[6]));
    BadInputException e = assertThrows(BadInputException.class, () -> TorchInterop.importModel(
        SafeTensors.toBytes(Map.of(), new ArrayList<>(flatHead.values())), "t.safetensors", null, null, "seq2seq", "mse"));
    assertEquals("t.safetensors: head.weight has shape [6], expected a matrix ([O, H])", e.getMessage());

    Map<String, Tensor> narrow = torchStateDict(4, 1, 2, 3, 2, 1);   // LSTM, H = 3: weight_hh [12, 3]; given [12, 2]
    narrow.put("rnn.weight_hh_l0", Tensor.ofFloats("rnn.weight_hh_l0", new int[] {12, 2}, new float[24]));
    e = assertThrows(BadInputException.class, () -> TorchInterop.importModel(
        SafeTensors.toBytes(Map.of(), new ArrayList<>(narrow.values())), "t.safetensors", null, null, "seq2seq", "mse"));
    assertTrue(e.getMessage().startsWith("t.safetensors: rnn.weight_hh_l0 has shape [12, 2] (H = 2 columns) and head.weight"
        + " [2, 3] (H = 3 columns)"), e.getMessage());
  }

  /**
   * A 1-D weight_ih_l0 or weight_hh_l0 is named with the matrix PyTorch gives it: weight_ih_l0
   * (G·H, input_size), weight_hh_l0 (G·H, hidden_size), as nn.LSTM's documentation shapes them.
   */
  @Test
  void inferNamesTheMatrixAFlatRecurrentWeightShouldBe() {
    String[][] cases = {{"rnn.weight_ih_l0", "[G·H, F]"}, {"rnn.weight_hh_l0", "[G·H, H]"}};
    for (String[] c : cases) {
      Map<String, Tensor> flat = torchStateDict(4, 1, 2, 3, 2, 1);
      flat.put(c[0], Tensor.ofFloats(c[0], new int[] {24}, new float[24]));
      BadInputException e = assertThrows(BadInputException.class, () -> TorchInterop.importModel(
          SafeTensors.toBytes(Map.of(), new ArrayList<>(flat.values())), "t.safetensors", null, null, "seq2seq", "mse"));
      assertEquals("t.safetensors: " + c[0] + " has shape [24], expected a matrix (" + c[1] + ")", e.getMessage());
    }
  }

  @Test
  void aConfigurationNamingOnlyTheTorchClassGivesThatCell() {
    // {"torch_class": "GRU"} with no "cell": PyTorch's class name, upper case, names the cell
    String json = config("").replace("\"cell\": \"gru\"", "\"torch_class\": \"GRU\"");
    assertTrue(!json.contains("\"cell\""), json);
    ModelConfig c = TrainedModel.fromBytes(TorchInterop.importModel(gruFile(), "t", json, "c.json", null, null), "i").config();
    assertEquals(CellType.GRU, c.cell());
  }

  @Test
  void theConfigurationsNormalisationTravelsIntoTheModel() {
    // the configuration as export writes it may carry the data's statistics; the imported model must apply them
    String json = config(", \"normalization\": {\"input_mean\": [1.0, 2.0], \"input_std\": [4.0, 8.0],"
        + " \"target_mean\": [3.0, 5.0], \"target_std\": [0.5, 0.25]}");
    TrainedModel m = TrainedModel.fromBytes(TorchInterop.importModel(gruFile(), "t", json, "c.json", null, null), "i");
    assertTrue(m.normalizes(), "the normalisation was dropped");
    // (x − mean) / std: (5 − 1) / 4 = 1, (10 − 2) / 8 = 1
    assertArrayEquals(new float[] {1f, 1f}, m.inputsToModelUnits(new float[] {5f, 10f}), 0f);
    // y · std + mean: 2 · 0.5 + 3 = 4, 4 · 0.25 + 5 = 6
    assertArrayEquals(new float[] {4f, 6f}, m.outputsToRawUnits(new float[] {2f, 4f}), 0f);
  }

  @Test
  void settingsWhoseWeightsOrMathWeDoNotHaveAreRefusedByName() {
    byte[] file = gruFile();
    String[][] refused = {
        {", \"bias\": false", "c.json: bias = false"},
        {", \"nonlinearity\": \"relu\"", "c.json: nonlinearity = relu"},
        {", \"bidirectional\": true", "c.json: bidirectional = true"},
        {", \"proj_size\": 2", "c.json: proj_size = 2"},
        {", \"batch_size\": 4", "c.json: unknown keys [batch_size]"},
        {", \"spark_rnn_format_version\": \"99\"", "'99'"},
        {", \"vocabulary\": \"abc\"", "c.json: vocabulary must be a list of strings"}};
    for (String[] r : refused) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> TorchInterop.importModel(file, "t", config(r[0]), "c.json", null, null), r[0]);
      assertTrue(e.getMessage().contains(r[1]), "'" + r[1] + "' in: " + e.getMessage());
    }
    // the settings PyTorch's defaults give are accepted
    TorchInterop.importModel(file, "t", config(", \"bias\": true, \"nonlinearity\": \"tanh\", \"bidirectional\": false,"
        + " \"proj_size\": 0, \"batch_first\": false"), "c.json", null, null);
    // export writes the version as the string "1"; a configuration written by hand may give the number (docs/inference.md)
    for (String version : List.of("\"1\"", "1")) {
      TorchInterop.importModel(file, "t", config(", \"spark_rnn_format_version\": " + version), "c.json", null, null);
    }
    BadInputException noMode = assertThrows(BadInputException.class, () -> TorchInterop.importModel(file, "t",
        config("").replace(" \"mode\": \"seq2seq\",", ""), "c.json", null, null));
    assertTrue(noMode.getMessage().contains("missing key 'mode' (or give --mode)"), noMode.getMessage());
  }
}
