package io.sparkrnn.kernel.io;

import io.sparkrnn.kernel.BadInputException;
import java.util.Arrays;

/**
 * A named dense array, row-major (C order), held as float32 ({@link #floats()}) or int32
 * ({@link #ints()}). {@link #dtype()} records the type it was stored as: F32, F64, F16 and BF16
 * files load into floats; I32 and I64 into ints. Writes use F32 or I32.
 */
public final class Tensor {
  private final String name;
  private final DType dtype;
  private final int[] shape;
  private final float[] floats;
  private final int[] ints;

  private Tensor(String name, DType dtype, int[] shape, float[] floats, int[] ints) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape.clone();
    this.floats = floats;
    this.ints = ints;
    long n = elementCount(shape);
    long have = floats != null ? floats.length : ints.length;
    if (n != have) {
      throw new BadInputException(name + ": shape " + Arrays.toString(shape) + " holds " + n
          + " elements, the data has " + have);
    }
  }

  public static Tensor ofFloats(String name, int[] shape, float[] data) {
    return new Tensor(name, DType.F32, shape, data, null);
  }

  /** A tensor read from a file whose stored type was {@code stored} (a float type), now held as float32. */
  public static Tensor ofFloats(String name, DType stored, int[] shape, float[] data) {
    return new Tensor(name, stored, shape, data, null);
  }

  public static Tensor ofInts(String name, int[] shape, int[] data) {
    return new Tensor(name, DType.I32, shape, null, data);
  }

  public static Tensor ofInts(String name, DType stored, int[] shape, int[] data) {
    return new Tensor(name, stored, shape, null, data);
  }

  /** The product of the dimensions (1 for a scalar of shape []). */
  public static long elementCount(int[] shape) {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  public String name() {
    return name;
  }

  /** The type it was stored as (F32 for tensors made in memory from floats, I32 from ints). */
  public DType dtype() {
    return dtype;
  }

  public boolean isFloating() {
    return floats != null;
  }

  public int[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public int dim(int i) {
    return shape[i];
  }

  public long size() {
    return elementCount(shape);
  }

  /** The float data, live; throws when the tensor holds integers. */
  public float[] floats() {
    if (floats == null) {
      throw new IllegalStateException(name + " holds integers (" + dtype + "), not floats");
    }
    return floats;
  }

  /** The int data, live; throws when the tensor holds floats. */
  public int[] ints() {
    if (ints == null) {
      throw new IllegalStateException(name + " holds floats (" + dtype + "), not integers");
    }
    return ints;
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype + " " + shapeString();
  }
}
