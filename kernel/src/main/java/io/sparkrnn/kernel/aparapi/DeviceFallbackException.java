package io.sparkrnn.kernel.aparapi;

/**
 * Aparapi ran a kernel on another device than the one named explicitly (it falls back on its own
 * when OpenCL code generation, compilation or a launch fails).
 */
public final class DeviceFallbackException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public DeviceFallbackException(String message) {
    super(message);
  }
}
