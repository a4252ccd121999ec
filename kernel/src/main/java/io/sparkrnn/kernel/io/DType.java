package io.sparkrnn.kernel.io;

/** safetensors element types this project reads. In memory, float types widen or narrow to float32 and integers to int32. */
public enum DType {
  F32(4, true),
  F64(8, true),
  F16(2, true),
  BF16(2, true),
  I32(4, false),
  I64(8, false);

  private final int bytes;
  private final boolean floating;

  DType(int bytes, boolean floating) {
    this.bytes = bytes;
    this.floating = floating;
  }

  public int bytes() {
    return bytes;
  }

  public boolean isFloating() {
    return floating;
  }

  /** The type named in a safetensors header, or null when this project does not read it. */
  public static DType fromHeader(String name) {
    for (DType d : values()) {
      if (d.name().equals(name)) {
        return d;
      }
    }
    return null;
  }
}
