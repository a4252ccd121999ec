package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.aparapi.AparapiEngine;

/** Creates the engine a job names: {@code kernel} (Aparapi, float32) on a device, or {@code reference} (float64). */
public final class Engines {
  private Engines() {}

  /**
   * @param engine "kernel" or "reference"
   * @param device auto | gpu | cpu-opencl | jvm (ignored by the reference)
   * @throws IllegalArgumentException for an unknown engine, or a named device that is not available
   */
  public static BpttEngine create(String engine, String device) {
    return switch (engine) {
      case "kernel" -> new AparapiEngine(device);
      case "reference" -> new ReferenceEngine();
      default -> throw new IllegalArgumentException("engine: '" + engine + "' is not one of kernel, reference");
    };
  }
}
