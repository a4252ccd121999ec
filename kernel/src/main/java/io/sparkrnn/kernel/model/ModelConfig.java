package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The model's shape and semantics: a stack of {@code numLayers} recurrent layers of one cell type
 * (PyTorch {@code nn.RNN/LSTM/GRU(input_size, hidden_size, num_layers)}) followed by a linear head
 * ({@code nn.Linear(hidden_size, output_size)}).
 *
 * <p>For {@link LossType#CROSS_ENTROPY} the head's outputs are logits over {@code outputSize}
 * classes. Immutable and validated at construction.
 *
 * @param inputSize F
 * @param hiddenSize H
 * @param outputSize O
 */
public record ModelConfig(
    CellType cell, int numLayers, int inputSize, int hiddenSize, int outputSize, Mode mode, LossType loss)
    implements Serializable {

  /** The metadata keys, named as PyTorch's constructor arguments. */
  public static final String KEY_CELL = "cell";
  public static final String KEY_NUM_LAYERS = "num_layers";
  public static final String KEY_INPUT_SIZE = "input_size";
  public static final String KEY_HIDDEN_SIZE = "hidden_size";
  public static final String KEY_OUTPUT_SIZE = "output_size";
  public static final String KEY_MODE = "mode";
  public static final String KEY_LOSS = "loss";
  /** Written by us; a reader refuses a version it does not know. Absent in files made elsewhere. */
  public static final String KEY_FORMAT_VERSION = "spark_rnn_format_version";
  public static final String FORMAT_VERSION = "1";

  /** Sizes above this are refused as hostile or mistaken (2^24 units per dimension). */
  public static final int MAX_DIMENSION = 1 << 24;

  public ModelConfig {
    if (cell == null || mode == null || loss == null) {
      throw new BadInputException("cell, mode and loss must be given");
    }
    requireRange("num_layers", numLayers, 1, 64);
    requireRange("input_size", inputSize, 1, MAX_DIMENSION);
    requireRange("hidden_size", hiddenSize, 1, MAX_DIMENSION);
    requireRange("output_size", outputSize, 1, MAX_DIMENSION);
    if (loss == LossType.CROSS_ENTROPY && outputSize < 2) {
      throw new BadInputException("output_size must be at least 2 classes for cross_entropy, found " + outputSize);
    }
  }

  private static void requireRange(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new BadInputException(key + " must be in [" + min + ", " + max + "], found " + value);
    }
  }

  /** G, the gate count of the cell. */
  public int gates() {
    return cell.gates();
  }

  /** The input width of layer k: F for k = 0, H above. */
  public int layerInputSize(int layer) {
    return layer == 0 ? inputSize : hiddenSize;
  }

  /** The configuration as safetensors {@code __metadata__} strings. */
  public Map<String, String> toMetadata() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(KEY_CELL, cell.id());
    m.put(KEY_NUM_LAYERS, Integer.toString(numLayers));
    m.put(KEY_INPUT_SIZE, Integer.toString(inputSize));
    m.put(KEY_HIDDEN_SIZE, Integer.toString(hiddenSize));
    m.put(KEY_OUTPUT_SIZE, Integer.toString(outputSize));
    m.put(KEY_MODE, mode.id());
    m.put(KEY_LOSS, loss.id());
    m.put(KEY_FORMAT_VERSION, FORMAT_VERSION);
    return m;
  }

  /**
   * Reads the configuration from safetensors metadata.
   *
   * @param source the file name, for error messages
   * @throws IllegalArgumentException naming the file and the key that is missing or bad
   */
  public static ModelConfig fromMetadata(Map<String, String> metadata, String source) {
    String version = metadata.get(KEY_FORMAT_VERSION);
    if (version != null && !version.equals(FORMAT_VERSION)) {
      throw new BadInputException(source + ": __metadata__ " + KEY_FORMAT_VERSION + " is '" + version
          + "', this build reads version " + FORMAT_VERSION);
    }
    try {
      return new ModelConfig(
          CellType.parse(required(metadata, KEY_CELL, source)),
          intValue(metadata, KEY_NUM_LAYERS, source),
          intValue(metadata, KEY_INPUT_SIZE, source),
          intValue(metadata, KEY_HIDDEN_SIZE, source),
          intValue(metadata, KEY_OUTPUT_SIZE, source),
          Mode.parse(required(metadata, KEY_MODE, source)),
          LossType.parse(required(metadata, KEY_LOSS, source)));
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith(source + ":")) {
        throw e;
      }
      throw new BadInputException(source + ": __metadata__: " + e.getMessage(), e);
    }
  }

  private static String required(Map<String, String> metadata, String key, String source) {
    String v = metadata.get(key);
    if (v == null) {
      throw new BadInputException(source + ": __metadata__ lacks the key '" + key
          + "' (expected keys: cell, num_layers, input_size, hidden_size, output_size, mode, loss)");
    }
    return v.trim();
  }

  private static int intValue(Map<String, String> metadata, String key, String source) {
    String v = required(metadata, key, source);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new BadInputException(source + ": __metadata__ " + key + " must be an integer, found '" + v + "'");
    }
  }
}
