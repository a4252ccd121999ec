package io.sparkrnn.infer;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PyTorch interop. A model is the state dict of a wrapper module with two attributes,
 * {@code rnn = nn.RNN|LSTM|GRU(input_size, hidden_size, num_layers)} and
 * {@code head = nn.Linear(hidden_size, output_size)}, so its keys are exactly ours
 * ({@code rnn.weight_ih_l0}, …, {@code head.bias}) and {@code load_state_dict} needs no renaming.
 *
 * <p>{@link #export} gives that file (F32, our names and shapes; {@code __metadata__} holds
 * {@code format: pt} and our configuration) and a JSON configuration for building the module.
 * {@link #importModel} reads such a state dict (F32, F64, F16 or BF16, all stored as F32), checks
 * every name and shape, and takes the configuration from a JSON file or infers it from shapes.
 */
public final class TorchInterop {
  private TorchInterop() {}

  /** Keys a configuration JSON may have; anything else is an error. */
  static final Set<String> CONFIG_KEYS = Set.of("cell", "torch_class", "input_size", "hidden_size", "num_layers",
      "output_size", "mode", "loss", "bias", "batch_first", "bidirectional", "proj_size", "nonlinearity", "dropout",
      "dataset_task", "normalization", "vocabulary", ModelConfig.KEY_FORMAT_VERSION);

  /** The exported weights and configuration. */
  public record Exported(byte[] safetensors, String configJson) {}

  public static Exported export(TrainedModel model) {
    ModelConfig c = model.config();
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.putAll(c.toMetadata());
    for (String k : List.of(ModelMetadata.KEY_TASK, ModelMetadata.KEY_NORMALIZATION, ModelMetadata.KEY_VOCABULARY)) {
      if (model.metadata().containsKey(k)) {
        meta.put(k, model.metadata().get(k));
      }
    }
    // no data_crc32c: PyTorch users re-save the weights, often with this metadata copied, and a stale value would make
    // the file look damaged to us
    byte[] bytes = SafeTensors.toBytes(meta, ModelFile.toTensors(model.params()), false);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("torch_class", switch (c.cell()) {
      case RNN -> "RNN";
      case LSTM -> "LSTM";
      case GRU -> "GRU";
    });
    json.put("cell", c.cell().id());
    json.put("input_size", (long) c.inputSize());
    json.put("hidden_size", (long) c.hiddenSize());
    json.put("num_layers", (long) c.numLayers());
    json.put("output_size", (long) c.outputSize());
    json.put("mode", c.mode().id());
    json.put("loss", c.loss().id());
    json.put("bias", true);
    json.put("batch_first", false);
    json.put("bidirectional", false);
    if (c.cell() == CellType.RNN) {
      json.put("nonlinearity", "tanh");
    }
    json.put(ModelConfig.KEY_FORMAT_VERSION, ModelConfig.FORMAT_VERSION);
    if (model.task() != null) {
      json.put("dataset_task", model.task());
    }
    if (model.metadata().containsKey(ModelMetadata.KEY_NORMALIZATION)) {
      json.put("normalization", Json.parse(model.metadata().get(ModelMetadata.KEY_NORMALIZATION)));
    }
    if (model.metadata().containsKey(ModelMetadata.KEY_VOCABULARY)) {
      json.put("vocabulary", Json.parse(model.metadata().get(ModelMetadata.KEY_VOCABULARY)));
    }
    return new Exported(bytes, Json.writePretty(json));
  }

  private static final Pattern LAYER_KEY = Pattern.compile("rnn\\.(weight|bias)_(ih|hh)_l(\\d+)");
  private static final Set<String> TORCH_BARE = Set.of("weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l");

  /**
   * Reads a PyTorch state dict saved with safetensors into our model file's bytes.
   *
   * @param configJson the configuration text (as {@link #export} writes it), or null to infer it from shapes
   * @param mode seq2seq | seq2one, or null (from the config, else the file's metadata)
   * @param loss mse | cross_entropy, or null (likewise)
   * @throws IllegalArgumentException naming the key (tensor or configuration field), expected and found
   */
  public static byte[] importModel(byte[] torchBytes, String source, String configJson, String configSource, String mode,
      String loss) {
    SafeTensorsFile file = SafeTensors.read(torchBytes, source, false);   // another writer's file: a copied data_crc32c is stale
    checkUnsupportedKeys(file);
    Map<String, String> dataMeta = new LinkedHashMap<>();
    ModelConfig config;
    if (configJson != null) {
      config = fromConfigJson(configJson, configSource, mode, loss, dataMeta);
    } else {
      config = infer(file, mode, loss);
      for (String k : List.of(ModelMetadata.KEY_TASK, ModelMetadata.KEY_NORMALIZATION, ModelMetadata.KEY_VOCABULARY)) {
        if (file.metadata().containsKey(k)) {
          dataMeta.put(k, file.metadata().get(k));
        }
      }
    }
    // Every expected name with its exact shape and a float dtype, and nothing else.
    Params params = ModelFile.read(new SafeTensorsFile(source, config.toMetadata(), file.tensors()));
    TrainedModel check;
    try {
      check = TrainedModel.of(params, dataMeta);                          // validates normalisation and vocabulary sizes
    } catch (BadInputException e) {
      // "(in memory): __metadata__ normalization…" named neither file: the values came from the config's keys,
      // or from the file's __metadata__ under --infer (a user audit)
      String prefix = TrainedModel.IN_MEMORY + ": __metadata__ ";
      if (e.getMessage() == null || !e.getMessage().startsWith(prefix)) {
        throw e;
      }
      String rest = e.getMessage().substring(prefix.length());
      throw new BadInputException(configJson != null ? configSource + ": key " + rest : source + ": __metadata__ " + rest, e);
    }
    return ModelFile.toBytes(check.params(), dataMeta);
  }

  /** Bidirectional and projected LSTMs have keys we refuse by name; bare PyTorch keys get a hint. */
  static void checkUnsupportedKeys(SafeTensorsFile file) {
    for (String key : file.tensors().keySet()) {
      if (key.contains("_reverse")) {
        throw new BadInputException(file.source() + ": key '" + key + "' belongs to a bidirectional RNN"
            + " (bidirectional=True), which spark-rnn does not support");
      }
      if (key.matches("(.*\\.)?weight_hr_l\\d+")) {
        throw new BadInputException(file.source() + ": key '" + key + "' belongs to an LSTM with proj_size > 0,"
            + " which spark-rnn does not support");
      }
      for (String bare : TORCH_BARE) {
        if (key.startsWith(bare)) {
          throw new BadInputException(file.source() + ": key '" + key + "' has no 'rnn.' prefix; expected 'rnn." + key
              + "': save the state_dict of a module whose attributes are rnn (the nn.RNN/LSTM/GRU) and head (the nn.Linear)");
        }
      }
    }
  }

  /** The configuration from shapes: L from the layer keys, H and G from weight_hh_l0, F from weight_ih_l0, O from head.weight. */
  static ModelConfig infer(SafeTensorsFile file, String mode, String loss) {
    String src = file.source();
    int layers = 0;
    for (String key : file.tensors().keySet()) {
      Matcher m = LAYER_KEY.matcher(key);
      if (m.matches()) {
        layers = Math.max(layers, Integer.parseInt(m.group(3)) + 1);
      }
    }
    if (layers == 0) {
      throw new BadInputException(src + ": no key 'rnn.weight_ih_l0' (found " + file.tensors().keySet()
          + "); cannot infer the configuration");
    }
    Tensor whh = file.require(ParamLayout.weightHhName(0));
    Tensor wih = file.require(ParamLayout.weightIhName(0));
    Tensor head = file.require(ParamLayout.HEAD_WEIGHT);
    // only the tensors at fault are named (a user audit: a 1-D head.weight named all three)
    for (Tensor t : List.of(whh, wih, head)) {
      if (t.rank() != 2) {
        throw new BadInputException(src + ": " + t.name() + " has shape " + t.shapeString() + ", expected a matrix ("
            + (t == head ? "[O, H]" : t == whh ? "[G·H, H]" : "[G·H, F]") + ")");
      }
    }
    int H = whh.dim(1);
    if (head.dim(1) != H) {   // a wrong column count read as "G = 6 gate blocks" (a user audit)
      throw new BadInputException(src + ": rnn.weight_hh_l0 has shape " + whh.shapeString() + " (H = " + H + " columns) and"
          + " head.weight " + head.shapeString() + " (H = " + head.dim(1) + " columns): both have H columns, so one of them is"
          + " not this model's");
    }
    if (H < 1 || whh.dim(0) % H != 0) {
      throw new BadInputException(src + ": rnn.weight_hh_l0 has shape " + whh.shapeString()
          + ", expected [G·H, H] with G = 1 (RNN), 3 (GRU) or 4 (LSTM)");
    }
    int G = whh.dim(0) / H;
    CellType cell = switch (G) {
      case 1 -> CellType.RNN;
      case 3 -> CellType.GRU;
      case 4 -> CellType.LSTM;
      default -> throw new BadInputException(src + ": rnn.weight_hh_l0 has shape " + whh.shapeString()
          + ": G = " + G + " gate blocks, expected 1 (RNN), 3 (GRU) or 4 (LSTM)");
    };
    String m = mode != null ? mode : file.metadata().get(ModelConfig.KEY_MODE);
    String l = loss != null ? loss : file.metadata().get(ModelConfig.KEY_LOSS);
    if (m == null || l == null) {
      throw new BadInputException(src + ": mode and loss cannot be inferred from shapes; give --mode seq2seq|seq2one"
          + " and --loss mse|cross_entropy (or --config FILE.json)");
    }
    try {
      return new ModelConfig(cell, layers, wih.dim(1), H, head.dim(0), Mode.parse(m), LossType.parse(l));
    } catch (BadInputException e) {
      // the sizes come from the shapes and mode and loss from the options or the metadata: say which (a user audit)
      throw new BadInputException(src + ": " + e.getMessage() + " (F, H and O inferred from the shapes, head.weight "
          + head.shapeString() + "; mode " + m + (mode != null ? " from --mode" : " from the file's metadata") + ", loss " + l
          + (loss != null ? " from --loss)" : " from the file's metadata)"), e);
    }
  }

  /** The configuration JSON as {@link #export} writes it; refuses settings whose weights or math we do not have. */
  static ModelConfig fromConfigJson(String text, String source, String mode, String loss, Map<String, String> dataMeta) {
    Map<String, Object> j;
    try {
      j = Json.parseObject(text);
    } catch (IllegalArgumentException e) {
      throw new BadInputException(source + ": " + e.getMessage(), e);
    }
    Set<String> unknown = new TreeSet<>(j.keySet());
    unknown.removeAll(CONFIG_KEYS);
    if (!unknown.isEmpty()) {
      throw new BadInputException(source + ": unknown keys " + unknown + " (expected some of " + new TreeSet<>(CONFIG_KEYS) + ")");
    }
    refuse(j, source, "bidirectional", Boolean.TRUE, "bidirectional RNNs are not supported");
    refuse(j, source, "bias", Boolean.FALSE, "models without biases are not supported (export with zero biases instead)");
    refuse(j, source, "nonlinearity", "relu", "only the tanh RNN is supported");
    if (j.get("proj_size") instanceof Number n && n.longValue() != 0) {
      throw new BadInputException(source + ": proj_size = " + n + ": LSTMs with projections are not supported");
    }
    Object version = j.get(ModelConfig.KEY_FORMAT_VERSION);
    if (version != null && !String.valueOf(version).equals(ModelConfig.FORMAT_VERSION)) {
      throw new BadInputException(source + ": " + ModelConfig.KEY_FORMAT_VERSION + " is '" + version
          + "', this build reads version " + ModelConfig.FORMAT_VERSION);
    }
    if (j.get("cell") instanceof String cell && j.get("torch_class") instanceof String cls && !cls.equalsIgnoreCase(cell)) {
      // export writes both; one edited without the other says two models (a user audit found it taken silently)
      throw new BadInputException(source + ": torch_class '" + cls + "' and cell '" + cell + "' name different cells;"
          + " expected torch_class " + cell.toUpperCase(Locale.ROOT) + " for cell " + cell + " (or give only one of them)");
    }
    Map<String, String> meta = new LinkedHashMap<>();
    for (String k : List.of("cell", "num_layers", "input_size", "hidden_size", "output_size", "mode", "loss")) {
      Object v = j.get(k);
      if (v == null && k.equals("cell") && j.get("torch_class") instanceof String cls) {
        v = cls.toLowerCase(Locale.ROOT);
      }
      if (v == null && k.equals("mode")) {
        v = mode;
      }
      if (v == null && k.equals("loss")) {
        v = loss;
      }
      if (v == null) {
        throw new BadInputException(source + ": missing key '" + k + "'" + (k.equals("mode") || k.equals("loss")
            ? " (or give --" + k + ")" : ""));
      }
      meta.put(k, String.valueOf(v));
    }
    if (mode != null) {
      meta.put("mode", mode);
    }
    if (loss != null) {
      meta.put("loss", loss);
    }
    if (j.get("dataset_task") instanceof String t) {
      dataMeta.put(ModelMetadata.KEY_TASK, t);
    }
    if (j.get("normalization") != null) {
      dataMeta.put(ModelMetadata.KEY_NORMALIZATION, Json.write(j.get("normalization")));
    }
    if (j.get("vocabulary") != null) {
      if (!(j.get("vocabulary") instanceof List<?>)) {
        throw new BadInputException(source + ": vocabulary must be a list of strings");
      }
      dataMeta.put(ModelMetadata.KEY_VOCABULARY, Json.write(new ArrayList<Object>((List<?>) j.get("vocabulary"))));
    }
    return ModelConfig.fromMetadata(meta, source);
  }

  private static void refuse(Map<String, Object> j, String source, String key, Object bad, String why) {
    if (bad.equals(j.get(key))) {
      throw new BadInputException(source + ": " + key + " = " + bad + ": " + why);
    }
  }
}
