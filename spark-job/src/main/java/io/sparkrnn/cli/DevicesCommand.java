package io.sparkrnn.cli;

import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code spark-rnn devices}: the OpenCL platforms and devices Aparapi sees, and what each --device choice resolves to. */
@Command(name = "devices", mixinStandardHelpOptions = true,
    description = "List OpenCL platforms and devices, and what --device auto picks.")
public final class DevicesCommand implements Callable<Integer> {

  @Override
  public Integer call() {
    System.out.println("Devices Aparapi can use on this machine:");
    for (DeviceInfo d : Devices.list()) {
      System.out.println("  " + d.tableRow());
    }
    System.out.println();
    for (DeviceChoice c : DeviceChoice.values()) {
      try {
        System.out.printf("  --device %-10s -> %s%n", c.id(), Engines.describeKernel(c.id()));
      } catch (RuntimeException e) {
        System.out.printf("  --device %-10s -> unavailable: %s%n", c.id(), e.getMessage());
      }
    }
    return 0;
  }
}
