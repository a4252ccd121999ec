package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.BadInputException;

/**
 * Where the kernels should run, as named on the command line ({@code --device}).
 *
 * <p>{@link #AUTO}, for an engine ({@code Engines}): with an OpenCL GPU whose kernel compiles and
 * launches, the faster of it and the JVM engine, timed at the run's shape ({@code AutoDevice});
 * else the JVM engine. For an {@code AparapiEngine} built directly ({@code Devices.resolve}): the
 * first OpenCL GPU, else the first OpenCL CPU device, else Aparapi's Java thread pool. The other
 * three name one kind of device and fail when it is absent; parsing ignores case and surrounding
 * spaces.
 */
public enum DeviceChoice {
  AUTO("auto"),
  GPU("gpu"),
  CPU_OPENCL("cpu-opencl"),
  JVM("jvm");

  private final String id;

  DeviceChoice(String id) {
    this.id = id;
  }

  /** The name used on the command line. */
  public String id() {
    return id;
  }

  public static DeviceChoice parse(String s) {
    if (s != null) {
      for (DeviceChoice d : values()) {
        if (d.id.equalsIgnoreCase(s.trim())) {
          return d;
        }
      }
    }
    throw new BadInputException("unknown device '" + s + "', expected one of auto, gpu, cpu-opencl, jvm");
  }
}
