package io.sparkrnn.cli;

import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code spark-rnn devices}: the OpenCL platforms and devices Aparapi sees, and what each --device choice resolves to. */
@Command(name = "devices", mixinStandardHelpOptions = true,
    description = "List OpenCL platforms and devices, and what --device auto picks.")
public final class DevicesCommand implements Callable<Integer> {

  @Override
  public Integer call() {
    // Aparapi's Java thread pool is left out: spark-rnn never runs a kernel there (a fallback to it is
    // refused or warned of, never silent), and --device jvm is the JVM engine, not that pool
    List<DeviceInfo> openCl = Devices.list().stream().filter(DeviceInfo::openCL).toList();
    System.out.println("OpenCL devices on this machine (for --device gpu and cpu-opencl):");
    for (DeviceInfo d : openCl) {
      System.out.println("  " + d.tableRow());
    }
    if (openCl.isEmpty()) {
      System.out.println("  none: no OpenCL driver is registered in /etc/OpenCL/vendors/ (a CPU one: apt-get install pocl-opencl-icd)");
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
