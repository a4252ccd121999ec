package io.sparkrnn.kernel.aparapi;

/** An explicitly named device (gpu, cpu-opencl) does not exist on this machine. */
public final class DeviceUnavailableException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public DeviceUnavailableException(String message) {
    super(message);
  }
}
