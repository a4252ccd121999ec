package io.sparkrnn.kernel.aparapi;

/**
 * Aparapi ran a kernel on another device than the one named explicitly (it falls back on its own
 * when OpenCL code generation, compilation or a launch fails), or a launch did not run at all: an
 * OpenCL engine's kernel has an alternative algorithm that does nothing, so that Aparapi's thread
 * pool never runs it ({@link ExecutionGuard}).
 */
public final class DeviceFallbackException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public DeviceFallbackException(String message) {
    super(message);
  }
}
