package io.sparkrnn.kernel.optim;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.DType;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An optimizer's checkpointable state: its kind, the number of steps taken, its hyperparameters
 * (for information), and named float32 buffers, each [P] in the {@code ParamLayout} order of the
 * parameters (e.g. Adam's {@code exp_avg}, {@code exp_avg_sq}; SGD's {@code momentum_buffer}).
 * Buffers are absent before they exist (SGD with momentum before its first step, as in PyTorch).
 *
 * <p>Serialised as safetensors: tensors {@code <prefix>.<buffer>} F32 [P] in name order, and
 * metadata {@code <prefix>.kind}, {@code <prefix>.step}, {@code <prefix>.<hyperparameter>}. The
 * same state always gives the same bytes. Immutable: the constructor and accessors copy.
 */
public final class OptimizerState {
  /** The default prefix of tensor and metadata names in a checkpoint. */
  public static final String PREFIX = "optimizer";

  private final String kind;
  private final long step;
  private final Map<String, String> hyperparameters;
  private final Map<String, float[]> buffers;

  /**
   * @param hyperparameters name → value as written in the metadata (PyTorch's argument names)
   * @param buffers name → [P]; all of one length
   */
  public OptimizerState(String kind, long step, Map<String, String> hyperparameters, Map<String, float[]> buffers) {
    if (kind == null || kind.isEmpty()) {
      throw new BadInputException("optimizer state needs a kind");
    }
    if (step < 0) {
      throw new BadInputException("optimizer step must be ≥ 0, found " + step);
    }
    Map<String, float[]> copied = new TreeMap<>();
    int length = -1;
    for (Map.Entry<String, float[]> e : buffers.entrySet()) {
      checkName(e.getKey());
      float[] v = e.getValue();
      if (length >= 0 && v.length != length) {
        throw new BadInputException("optimizer buffer " + e.getKey() + " has " + v.length
            + " values, the others have " + length);
      }
      length = v.length;
      copied.put(e.getKey(), v.clone());
    }
    Map<String, String> hp = new TreeMap<>();
    for (Map.Entry<String, String> e : hyperparameters.entrySet()) {
      checkName(e.getKey());
      if (e.getKey().equals("kind") || e.getKey().equals("step")) {
        throw new BadInputException("hyperparameter name '" + e.getKey() + "' is reserved");
      }
      hp.put(e.getKey(), e.getValue());
    }
    this.kind = kind;
    this.step = step;
    this.hyperparameters = Collections.unmodifiableMap(hp);
    this.buffers = copied;
  }

  private static void checkName(String name) {
    if (name == null || name.isEmpty() || name.contains(".")) {
      throw new BadInputException("optimizer state names must be non-empty and free of '.', found '" + name + "'");
    }
  }

  public String kind() {
    return kind;
  }

  /** The number of completed steps. */
  public long step() {
    return step;
  }

  /** Name → value, sorted by name. */
  public Map<String, String> hyperparameters() {
    return hyperparameters;
  }

  /** The buffer names, sorted. */
  public List<String> bufferNames() {
    return List.copyOf(buffers.keySet());
  }

  public boolean hasBuffer(String name) {
    return buffers.containsKey(name);
  }

  /** A copy of the buffer [P], or null when absent. */
  public float[] buffer(String name) {
    float[] v = buffers.get(name);
    return v == null ? null : v.clone();
  }

  /** P, or -1 when there are no buffers. */
  public int parameterCount() {
    return buffers.isEmpty() ? -1 : buffers.values().iterator().next().length;
  }

  /** Metadata strings for a checkpoint, names prefixed with {@code prefix + "."}. */
  public Map<String, String> toMetadata(String prefix) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(prefix + ".kind", kind);
    m.put(prefix + ".step", Long.toString(step));
    for (Map.Entry<String, String> e : hyperparameters.entrySet()) {
      m.put(prefix + "." + e.getKey(), e.getValue());
    }
    return m;
  }

  /** The buffers as F32 [P] tensors named {@code prefix.name}, in name order. */
  public List<Tensor> toTensors(String prefix) {
    List<Tensor> list = new ArrayList<>();
    for (Map.Entry<String, float[]> e : buffers.entrySet()) {
      list.add(Tensor.ofFloats(prefix + "." + e.getKey(), new int[] {e.getValue().length}, e.getValue().clone()));
    }
    return list;
  }

  /** A standalone safetensors file holding this state under {@link #PREFIX}; deterministic. */
  public byte[] toBytes() {
    return SafeTensors.toBytes(toMetadata(PREFIX), toTensors(PREFIX));
  }

  /** Reads what {@link #toBytes()} wrote. */
  public static OptimizerState fromBytes(byte[] bytes, String source) {
    return read(SafeTensors.read(bytes, source), PREFIX);
  }

  /**
   * Reads the state stored under {@code prefix} in a checkpoint (other tensors and metadata are
   * ignored).
   *
   * @throws IllegalArgumentException naming the file when kind or step is missing or bad
   */
  public static OptimizerState read(SafeTensorsFile file, String prefix) {
    String p = prefix + ".";
    String kind = file.metadata().get(p + "kind");
    String stepText = file.metadata().get(p + "step");
    if (kind == null || stepText == null) {
      throw new BadInputException(file.source() + ": __metadata__ lacks " + p + "kind or " + p + "step;"
          + " the file holds no optimizer state");
    }
    long step;
    try {
      step = Long.parseLong(stepText.trim());
    } catch (NumberFormatException e) {
      throw new BadInputException(file.source() + ": __metadata__ " + p + "step must be an integer, found '" + stepText + "'");
    }
    Map<String, String> hp = new TreeMap<>();
    for (Map.Entry<String, String> e : file.metadata().entrySet()) {
      String k = e.getKey();
      if (k.startsWith(p) && !k.equals(p + "kind") && !k.equals(p + "step")) {
        hp.put(k.substring(p.length()), e.getValue());
      }
    }
    Map<String, float[]> buffers = new TreeMap<>();
    for (Map.Entry<String, Tensor> e : file.tensors().entrySet()) {
      if (e.getKey().startsWith(p)) {
        Tensor t = file.requireFloat(e.getKey(), -1);
        if (t.dtype() != DType.F32) {
          throw new BadInputException(file.source() + ": optimizer buffer " + e.getKey() + " is " + t.dtype()
              + ", expected F32 (a bit-identical resume needs the float32 values as written)");
        }
        buffers.put(e.getKey().substring(p.length()), t.floats());
      }
    }
    try {
      return new OptimizerState(kind, step, hp, buffers);
    } catch (IllegalArgumentException e) {
      throw new BadInputException(file.source() + ": " + e.getMessage(), e);
    }
  }

  /** Refuses a state of another optimizer kind; used by {@link Optimizer#load}. */
  void requireKind(String expected) {
    if (!kind.equals(expected)) {
      throw new BadInputException("optimizer state is for '" + kind + "', this optimizer is '" + expected + "'");
    }
  }
}
