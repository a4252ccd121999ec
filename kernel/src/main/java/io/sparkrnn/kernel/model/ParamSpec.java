package io.sparkrnn.kernel.model;

import java.util.Arrays;

/**
 * One named parameter inside the flat parameter array: PyTorch's state_dict name, its shape
 * (row-major), and where it starts.
 */
public record ParamSpec(String name, int[] shape, int offset) {

  public ParamSpec {
    shape = shape.clone();
  }

  /** Number of elements (the product of the shape). */
  public int size() {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParamSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape) && p.offset == offset;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape) + offset;
  }
}
