package io.sparkrnn.kernel.io;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Model weights as safetensors: one F32 tensor per parameter under its PyTorch state_dict name and
 * shape ({@link ParamLayout}), the {@link ModelConfig} in {@code __metadata__}. Loads into
 * {@code torch.nn.RNN/LSTM/GRU} + {@code torch.nn.Linear} with {@code load_state_dict} after
 * splitting the {@code rnn.} and {@code head.} prefixes.
 */
public final class ModelFile {
  private ModelFile() {}

  /** The tensors to write for these parameters, in state_dict order. */
  public static List<Tensor> toTensors(Params params) {
    List<Tensor> list = new ArrayList<>();
    for (ParamSpec s : params.layout().specs()) {
      list.add(Tensor.ofFloats(s.name(), s.shape(), params.get(s.name())));
    }
    return list;
  }

  /** The file's bytes: tensors plus the configuration (and {@code extraMetadata}) in __metadata__. */
  public static byte[] toBytes(Params params, Map<String, String> extraMetadata) {
    Map<String, String> meta = new LinkedHashMap<>(params.config().toMetadata());
    if (extraMetadata != null) {
      meta.putAll(extraMetadata);
    }
    return SafeTensors.toBytes(meta, toTensors(params));
  }

  /**
   * Reads parameters, checking that every tensor the configuration needs is present with its exact
   * shape and a float dtype, and that no other tensor is present except those named in
   * {@code allowedExtra} (a checkpoint's optimizer state, for one).
   *
   * @throws IllegalArgumentException naming the file, the tensor, expected and found
   */
  public static Params read(SafeTensorsFile file, Set<String> allowedExtra) {
    // every file spark-rnn writes has it (ModelConfig.toMetadata); a file without it is not one of ours
    if (!file.metadata().containsKey(ModelConfig.KEY_FORMAT_VERSION)) {
      throw new BadInputException(file.source() + ": __metadata__ lacks " + ModelConfig.KEY_FORMAT_VERSION + " (every model file"
          + " spark-rnn writes has it; a PyTorch state_dict comes in through spark-rnn import)");
    }
    ModelConfig config = ModelConfig.fromMetadata(file.metadata(), file.source());
    ParamLayout layout = new ParamLayout(config);
    // Check every shape before allocating: metadata claiming hidden_size=20000 over small tensors
    // would otherwise allocate billions of floats. Once all shapes match, the parameters are no
    // larger than the tensors already read.
    List<Tensor> found = new ArrayList<>();
    for (ParamSpec s : layout.specs()) {
      found.add(file.requireFloat(s.name(), s.shape()));
    }
    float[] values = new float[layout.size()];
    for (int i = 0; i < found.size(); i++) {
      ParamSpec s = layout.specs().get(i);
      System.arraycopy(found.get(i).floats(), 0, values, s.offset(), s.size());
    }
    Set<String> unknown = new TreeSet<>();
    for (String name : file.tensors().keySet()) {
      if (layout.find(name) == null && !allowedExtra.contains(name) && !isAllowedPrefix(name, allowedExtra)) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new BadInputException(file.source() + ": unexpected tensors " + unknown + " for a " + config.cell().id()
          + " model with num_layers=" + config.numLayers() + " (expected " + layout.specs().stream().map(ParamSpec::name).toList() + ")");
    }
    return new Params(layout, values);
  }

  /** {@code allowedExtra} entries ending in '*' allow a prefix. */
  private static boolean isAllowedPrefix(String name, Set<String> allowedExtra) {
    for (String a : allowedExtra) {
      if (a.endsWith("*") && name.startsWith(a.substring(0, a.length() - 1))) {
        return true;
      }
    }
    return false;
  }

  public static Params read(SafeTensorsFile file) {
    return read(file, Set.of());
  }
}
