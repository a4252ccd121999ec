package io.sparkrnn.kernel.io;

import io.sparkrnn.kernel.BadInputException;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The contents of one safetensors file: the {@code __metadata__} strings and the tensors by name,
 * in header order. {@link #source()} names the file in every error.
 */
public record SafeTensorsFile(String source, Map<String, String> metadata, Map<String, Tensor> tensors) {

  public SafeTensorsFile {
    metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
  }

  public boolean has(String name) {
    return tensors.containsKey(name);
  }

  /** The tensor, or an error naming the file and the missing tensor. */
  public Tensor require(String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new BadInputException(source + ": no tensor '" + name + "' (found " + tensors.keySet() + ")");
    }
    return t;
  }

  /**
   * A float tensor of the given shape; -1 in {@code shape} accepts any size on that axis.
   *
   * @throws IllegalArgumentException naming file, tensor, expected and found
   */
  public Tensor requireFloat(String name, int... shape) {
    Tensor t = require(name);
    if (!t.isFloating()) {
      throw new BadInputException(source + ": tensor '" + name + "' has dtype " + t.dtype()
          + ", expected a float type (F32)");
    }
    checkShape(t, shape);
    return t;
  }

  /** An integer tensor of the given shape; -1 accepts any size on that axis. */
  public Tensor requireInt(String name, int... shape) {
    Tensor t = require(name);
    if (t.isFloating()) {
      throw new BadInputException(source + ": tensor '" + name + "' has dtype " + t.dtype()
          + ", expected I32");
    }
    checkShape(t, shape);
    return t;
  }

  private void checkShape(Tensor t, int[] shape) {
    boolean ok = t.rank() == shape.length;
    for (int i = 0; ok && i < shape.length; i++) {
      ok = shape[i] < 0 || shape[i] == t.dim(i);
    }
    if (!ok) {
      throw new BadInputException(source + ": tensor '" + t.name() + "' has shape " + t.shapeString()
          + ", expected " + Arrays.toString(shape).replace("-1", "*"));
    }
  }
}
