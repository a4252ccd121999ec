package io.sparkrnn.kernel.aparapi;

import com.aparapi.device.Device;
import com.aparapi.device.JavaDevice;
import com.aparapi.device.OpenCLDevice;
import com.aparapi.internal.opencl.OpenCLPlatform;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Lists the devices Aparapi can reach and resolves a {@link DeviceChoice} to one of them.
 *
 * <p>{@code auto} picks the first OpenCL GPU (in platform order), else the first OpenCL CPU
 * device, else the JVM thread pool. {@code gpu} and {@code cpu-opencl} fail with
 * {@link DeviceUnavailableException} when no such device exists; they never substitute another.
 */
public final class Devices {
  private Devices() {}

  /** Every OpenCL device of every platform, then the JVM thread pool (always present). */
  public static List<DeviceInfo> list() {
    List<DeviceInfo> out = new ArrayList<>();
    for (OpenCLDevice d : openClDevices()) {
      out.add(info(d));
    }
    out.add(info(JavaDevice.THREAD_POOL));
    return out;
  }

  /** Parses a command-line name ({@code auto|gpu|cpu-opencl|jvm}) and resolves it. */
  public static ResolvedDevice resolve(String choice) {
    return resolve(DeviceChoice.parse(choice));
  }

  /**
   * The device the choice names.
   *
   * @throws DeviceUnavailableException for gpu or cpu-opencl when no such OpenCL device exists, or
   *     when this JVM may not start OpenCL ({@link SignalChaining})
   */
  public static ResolvedDevice resolve(DeviceChoice choice) {
    if ((choice == DeviceChoice.GPU || choice == DeviceChoice.CPU_OPENCL) && openClRefused()) {
      throw new DeviceUnavailableException("--device " + choice.id() + ": " + SignalChaining.refusal());
    }
    List<OpenCLDevice> all = openClDevices();
    OpenCLDevice gpu = first(all, Device.TYPE.GPU);
    OpenCLDevice cpu = first(all, Device.TYPE.CPU);
    switch (choice) {
      case GPU:
        if (gpu == null) {
          throw new DeviceUnavailableException("--device gpu: no OpenCL GPU found; OpenCL devices present: " + listing(all)
              + ". Use --device auto, cpu-opencl or jvm, or register the GPU's OpenCL driver in /etc/OpenCL/vendors/");
        }
        return new ResolvedDevice(choice, gpu, info(gpu), "gpu: first OpenCL GPU");
      case CPU_OPENCL:
        if (cpu == null) {
          throw new DeviceUnavailableException("--device cpu-opencl: no OpenCL CPU device found; OpenCL devices present: "
              + listing(all) + ". Install PoCL (pocl-opencl-icd) or use --device jvm");
        }
        return new ResolvedDevice(choice, cpu, info(cpu), "cpu-opencl: first OpenCL CPU device");
      case JVM:
        return new ResolvedDevice(choice, JavaDevice.THREAD_POOL, info(JavaDevice.THREAD_POOL), "jvm: Java thread pool");
      case AUTO:
      default:
        if (gpu != null) {
          return new ResolvedDevice(choice, gpu, info(gpu), "auto: picked the first OpenCL GPU");
        }
        if (cpu != null) {
          return new ResolvedDevice(choice, cpu, info(cpu), "auto: no OpenCL GPU, picked the first OpenCL CPU device");
        }
        return new ResolvedDevice(choice, JavaDevice.THREAD_POOL, info(JavaDevice.THREAD_POOL),
            "auto: no OpenCL device, picked the JVM thread pool (slow)");
    }
  }

  /** The choices that resolve on this machine: jvm always, cpu-opencl and gpu when present. */
  public static List<DeviceChoice> available() {
    List<DeviceChoice> out = new ArrayList<>();
    List<OpenCLDevice> all = openClDevices();
    if (first(all, Device.TYPE.GPU) != null) {
      out.add(DeviceChoice.GPU);
    }
    if (first(all, Device.TYPE.CPU) != null) {
      out.add(DeviceChoice.CPU_OPENCL);
    }
    out.add(DeviceChoice.JVM);
    return out;
  }

  /** All OpenCL devices, platform by platform; empty when OpenCL (or Aparapi's native library) is missing. */
  static synchronized List<OpenCLDevice> openClDevices() {
    // Enumerated once per JVM, under a lock: Aparapi's native getPlatforms() is not thread-safe
    // (two Spark tasks resolving devices at once crashed the JVM in libc), and the platforms do
    // not change while the JVM runs. The same OpenCLDevice objects then serve every engine.
    if (openClDevices == null) {
      if (openClRefused()) {
        // a warning where a GPU driver is registered (a GPU may go unused); with PoCL alone auto runs the JVM engine anyway
        LOG.log(SignalChaining.gpuDriverRegistered() ? Level.WARNING : Level.INFO,
            SignalChaining.refusal() + " (--device auto runs the JVM engine)");
        openClDevices = List.of();
        return openClDevices;
      }
      if (!SignalChaining.chained()) {
        LOG.warning(SignalChaining.unchainedWarning());
      }
      List<OpenCLDevice> out = new ArrayList<>();
      // Aparapi's loader logs a SEVERE "Check your environment" on every JVM without OpenCL; that
      // is no error here (the JVM engine runs then), so it is silenced while the loader starts
      // and one INFO line below says what it means.
      Level before = APARAPI_LOG.getLevel();
      APARAPI_LOG.setLevel(Level.OFF);
      try {
        for (OpenCLPlatform p : new OpenCLPlatform().getOpenCLPlatforms()) {
          out.addAll(p.getOpenCLDevices());
        }
      } catch (RuntimeException | LinkageError e) {
        // No ICD loader or no native library: there is no OpenCL device, which list() then shows.
      } finally {
        APARAPI_LOG.setLevel(before);
      }
      if (!com.aparapi.internal.opencl.OpenCLLoader.isOpenCLAvailable()) {
        LOG.info("OpenCL: no OpenCL library could be loaded (libOpenCL.so.1, an ICD such as pocl-opencl-icd or a GPU "
            + "driver's), so no OpenCL device; the JVM engine runs the kernels");
      }
      openClDevices = List.copyOf(out);
    }
    return openClDevices;
  }

  private static final Logger LOG = Logger.getLogger(Devices.class.getName());
  /** Aparapi's own logger, held here so that the level set on it stays (JUL keeps loggers weakly). */
  private static final Logger APARAPI_LOG =
      Logger.getLogger(com.aparapi.Config.getLoggerName());

  private static List<OpenCLDevice> openClDevices;

  /** Whether this JVM does not start OpenCL because its signal handlers are not chained ({@link SignalChaining}). */
  public static boolean openClRefused() {
    return !SignalChaining.openClAllowed();
  }

  private static OpenCLDevice first(List<OpenCLDevice> all, Device.TYPE type) {
    for (OpenCLDevice d : all) {
      if (d.getType() == type) {
        return d;
      }
    }
    return null;
  }

  private static String listing(List<OpenCLDevice> all) {
    if (all.isEmpty()) {
      return "none";
    }
    List<String> names = new ArrayList<>();
    for (OpenCLDevice d : all) {
      names.add(info(d).describe());
    }
    return String.join(", ", names);
  }

  /** The tile and work-group sizes the Aparapi engine uses on the device, e.g. "tiles 64x64 k 256 (128 items), ...". */
  public static String tiling(ResolvedDevice device) {
    return KernelSizes.forDevice(device.device()).describe();
  }

  /** The record for one Aparapi device. */
  public static DeviceInfo info(Device d) {
    if (d instanceof OpenCLDevice cl) {
      OpenCLPlatform p = cl.getOpenCLPlatform();
      return new DeviceInfo(p.getName(), p.getVendor(), cl.getName(), cl.getType().name(), true, cl.getMaxComputeUnits(),
          cl.getMaxWorkGroupSize(), cl.getGlobalMemSize());
    }
    if (d == null) {
      return new DeviceInfo("none", "none", "no device", "NONE", false, 0, 0, 0);
    }
    return new DeviceInfo("JVM", System.getProperty("java.vendor"), d.getShortDescription(), "JVM", false,
        Runtime.getRuntime().availableProcessors(), KernelSizes.JVM_MAX_LOCAL, Runtime.getRuntime().maxMemory());
  }
}
