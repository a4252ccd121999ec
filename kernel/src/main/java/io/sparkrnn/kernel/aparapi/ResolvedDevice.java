package io.sparkrnn.kernel.aparapi;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;

/**
 * A {@link DeviceChoice} resolved on this machine.
 *
 * @param choice what was asked for
 * @param device the Aparapi device (an {@link OpenCLDevice}, or the Java thread pool)
 * @param info the device as {@code devices} prints it
 * @param reason why this device, e.g. "auto: no OpenCL GPU, picked the first OpenCL CPU device"
 */
public record ResolvedDevice(DeviceChoice choice, Device device, DeviceInfo info, String reason) {

  public boolean isOpenCL() {
    return device instanceof OpenCLDevice;
  }

  /** Whether the choice named the device kind explicitly (gpu, cpu-opencl, jvm), so a fallback is an error. */
  public boolean explicit() {
    return choice != DeviceChoice.AUTO;
  }
}
