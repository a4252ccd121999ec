package io.sparkrnn.kernel.engine;

/**
 * One device the kernels can run on, as the {@code devices} command prints it.
 *
 * @param platform the OpenCL platform name ("Portable Computing Language"), or "JVM"
 * @param vendor the platform vendor, or the JVM vendor
 * @param name the device name ("pthread-skylake-avx512-AMD EPYC"), or "Java thread pool"
 * @param type GPU, CPU, ACC (OpenCL device types) or JVM
 * @param openCL whether the device runs OpenCL (false for the Java thread pool)
 * @param computeUnits OpenCL compute units, or the JVM's available processors
 * @param maxWorkGroupSize the largest work-group the device accepts
 * @param globalMemBytes device memory in bytes (the JVM's max heap for the thread pool)
 */
public record DeviceInfo(
    String platform, String vendor, String name, String type, boolean openCL, int computeUnits, int maxWorkGroupSize,
    long globalMemBytes) {

  /** One line, e.g. {@code OpenCL CPU 'pthread-skylake-avx512-AMD EPYC' (Portable Computing Language)}. */
  public String describe() {
    return openCL ? "OpenCL " + type + " '" + name + "' (" + platform + ")" : "JVM thread pool (" + computeUnits + " threads, not OpenCL)";
  }

  /** A row for a device table. */
  public String tableRow() {
    return String.format("%-4s %-40s %-32s cu=%-4d maxWG=%-5d mem=%d MiB", type, name, platform, computeUnits, maxWorkGroupSize,
        globalMemBytes >> 20);
  }
}
