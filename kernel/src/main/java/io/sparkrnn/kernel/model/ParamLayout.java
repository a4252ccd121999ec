package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every parameter of a {@link ModelConfig} sits in one flat array, in PyTorch's state_dict
 * order: for each layer k, {@code rnn.weight_ih_l{k}} (G·H, in), {@code rnn.weight_hh_l{k}} (G·H, H),
 * {@code rnn.bias_ih_l{k}} (G·H), {@code rnn.bias_hh_l{k}} (G·H); then {@code head.weight} (O, H)
 * and {@code head.bias} (O). Matrices are row-major, so element (r, c) of weight_ih_l{k} sits at
 * {@code weightIh(k) + r * in + c}. Gate g of unit j is row {@code g * H + j}.
 */
public final class ParamLayout {
  private final ModelConfig config;
  private final List<ParamSpec> specs;
  private final Map<String, ParamSpec> byName;
  private final int size;

  public ParamLayout(ModelConfig config) {
    this.config = config;
    int gh = config.gates() * config.hiddenSize();
    List<ParamSpec> list = new ArrayList<>();
    long offset = 0;
    for (int k = 0; k < config.numLayers(); k++) {
      int in = config.layerInputSize(k);
      offset = add(list, weightIhName(k), new int[] {gh, in}, offset);
      offset = add(list, weightHhName(k), new int[] {gh, config.hiddenSize()}, offset);
      offset = add(list, biasIhName(k), new int[] {gh}, offset);
      offset = add(list, biasHhName(k), new int[] {gh}, offset);
    }
    offset = add(list, HEAD_WEIGHT, new int[] {config.outputSize(), config.hiddenSize()}, offset);
    offset = add(list, HEAD_BIAS, new int[] {config.outputSize()}, offset);
    this.specs = Collections.unmodifiableList(list);
    Map<String, ParamSpec> m = new LinkedHashMap<>();
    for (ParamSpec s : list) {
      m.put(s.name(), s);
    }
    this.byName = Collections.unmodifiableMap(m);
    this.size = (int) offset;
  }

  public static final String HEAD_WEIGHT = "head.weight";
  public static final String HEAD_BIAS = "head.bias";

  public static String weightIhName(int layer) {
    return "rnn.weight_ih_l" + layer;
  }

  public static String weightHhName(int layer) {
    return "rnn.weight_hh_l" + layer;
  }

  public static String biasIhName(int layer) {
    return "rnn.bias_ih_l" + layer;
  }

  public static String biasHhName(int layer) {
    return "rnn.bias_hh_l" + layer;
  }

  private static long add(List<ParamSpec> list, String name, int[] shape, long offset) {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    if (offset + n > Integer.MAX_VALUE - 8) {
      throw new BadInputException("the model has more than 2^31 parameters; reduce hidden_size or num_layers");
    }
    list.add(new ParamSpec(name, shape, (int) offset));
    return offset + n;
  }

  public ModelConfig config() {
    return config;
  }

  /** Total number of parameters. */
  public int size() {
    return size;
  }

  /** All parameters in state_dict order. */
  public List<ParamSpec> specs() {
    return specs;
  }

  /** The parameter of that name, or null. */
  public ParamSpec find(String name) {
    return byName.get(name);
  }

  public ParamSpec get(String name) {
    ParamSpec s = byName.get(name);
    if (s == null) {
      throw new BadInputException("no parameter named " + name);
    }
    return s;
  }

  public int weightIh(int layer) {
    return specs.get(4 * layer).offset();
  }

  public int weightHh(int layer) {
    return specs.get(4 * layer + 1).offset();
  }

  public int biasIh(int layer) {
    return specs.get(4 * layer + 2).offset();
  }

  public int biasHh(int layer) {
    return specs.get(4 * layer + 3).offset();
  }

  public int headWeight() {
    return specs.get(4 * config.numLayers()).offset();
  }

  public int headBias() {
    return specs.get(4 * config.numLayers() + 1).offset();
  }
}
