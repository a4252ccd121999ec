package io.sparkrnn.kernel.device;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.aparapi.ResolvedDevice;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Creates the engine a job names: {@code kernel} (float32) on a device, or {@code reference} (float64).
 *
 * <p>{@code kernel} with {@code --device}:
 * <ul>
 *   <li>{@code gpu}, {@code cpu-opencl}: the Aparapi OpenCL kernels on that device ({@link AparapiEngine});
 *   <li>{@code jvm}: the multi-threaded Java engine with SIMD matrix products ({@link JvmEngine});
 *   <li>{@code auto}: with an OpenCL GPU whose kernel compiles and launches there, the faster of
 *       the GPU and the Java engine, timed on the first call ({@link MeasuredEngine}); else the
 *       Java engine. Without a GPU the Java engine beats the tiled OpenCL kernels on PoCL by
 *       12–21× on a 2-core CPU (docs/PERFORMANCE.md), so auto does not time PoCL; name
 *       {@code cpu-opencl} to run there. The choice is logged. {@code train}, and predict and
 *       evaluate over a dataset, do not come here with auto: they time both at their own shape in
 *       an executor before their job ({@link AutoDevice}) and name the faster.
 * </ul>
 */
public final class Engines {
  private static final Logger LOG = Logger.getLogger(Engines.class.getName());

  private Engines() {}

  /**
   * @param engine "kernel" or "reference"
   * @param device auto | gpu | cpu-opencl | jvm (ignored by the reference)
   * @throws IllegalArgumentException for an unknown engine, or a named device that is not available
   */
  public static BpttEngine create(String engine, String device) {
    return create(engine, device, 0);
  }

  /**
   * @param jvmThreads the JVM engine's thread count (a Spark task's CPUs; capped at the host's
   *     cores), or 0 for every core; {@code -Dsparkrnn.jvm.threads} overrides either
   */
  public static BpttEngine create(String engine, String device, int jvmThreads) {
    requireDeviceApplies(engine, device);
    return switch (engine) {
      case "kernel" -> kernel(DeviceChoice.parse(device), jvmThreads);
      case "reference" -> new ReferenceEngine();
      default -> throw new BadInputException("engine: '" + engine + "' is not one of kernel, reference");
    };
  }

  /**
   * A device names where {@code --engine kernel} runs; {@code --engine reference} computes in
   * float64 on the JVM wherever it is asked to, so a device other than auto or jvm beside it would be
   * ignored without a word (grad's default engine is reference: {@code grad --device gpu} ran on the
   * JVM): refused instead.
   */
  public static void requireDeviceApplies(String engine, String device) {
    if ("reference".equals(engine) && device != null && !device.equalsIgnoreCase("auto") && !device.equalsIgnoreCase("jvm")) {
      throw new BadInputException("--device " + device + " applies to --engine kernel; --engine reference computes in float64"
          + " on the JVM: pass --engine kernel to run on " + device + ", or leave --device out");
    }
  }

  private static BpttEngine kernel(DeviceChoice device, int jvmThreads) {
    switch (device) {
      case JVM:
        return new JvmEngine(jvmThreads);
      case AUTO:
        if (Devices.available().contains(DeviceChoice.GPU) && gpuUnusable == null) {
          double budget = AutoDevice.budgetSeconds(); // bad input: before anything is compiled
          AparapiEngine gpu = new AparapiEngine(Devices.resolve(DeviceChoice.AUTO));
          // the next engines in this JVM (one per task) do not try again, for the life of the JVM
          gpuUnusable = whyUnusable(gpu);
          BpttEngine usable = gpuOrJvm(gpu, jvmThreads);
          return usable != gpu ? usable : new MeasuredEngine(gpu, () -> new JvmEngine(jvmThreads), jvmThreads, AutoDevice.host(), budget);
        }
        JvmEngine jvm = new JvmEngine(jvmThreads);
        logOnce(gpuUnusable != null ? "--device auto: " + gpuUnusable + "; picked the JVM engine instead: " + jvm.describe()
            : Devices.openClRefused() ? "--device auto: OpenCL not started (libjsig is not preloaded), picked the JVM engine: "
                + jvm.describe()
            : "--device auto: no OpenCL GPU, picked the JVM engine: " + jvm.describe()
                + " (faster than the OpenCL kernels on PoCL; --device cpu-opencl runs those)");
        return jvm;
      default:
        return new AparapiEngine(Devices.resolve(device));
    }
  }

  /**
   * auto on a GPU host: the GPU's engine, or the JVM engine where the kernel did not compile for
   * the GPU ({@link AparapiEngine} then resolves to Aparapi's Java thread pool, logged) or its
   * first launch did not run there (no OpenCL engine lets Aparapi's pool run it instead): the pool
   * runs the kernels 20–100× slower than the JVM engine, and its barrier can deadlock
   * (docs/PERFORMANCE.md, "What is left").
   */
  static BpttEngine gpuOrJvm(AparapiEngine gpu, int jvmThreads) {
    String why = whyUnusable(gpu);
    if (why == null) {
      logOnce("--device auto: the kernel compiled and launched on " + gpu.describe() + " [" + gpu.device().reason()
          + "]; it and the JVM engine are timed at the first call of each shape (once per shape in this JVM)");
      return gpu;
    }
    gpu.close();
    JvmEngine jvm = new JvmEngine(jvmThreads);
    LOG.warning("--device auto: " + why + "; picked the JVM engine instead: " + jvm.describe());
    return jvm;
  }

  /**
   * Null where the kernels can run on {@code device} in this JVM: the JVM engine always; an OpenCL
   * device where it is listed, the kernel compiles for it and a first launch runs there (an engine
   * is made and closed to find out: seconds); else why not, in words. What a resumed {@code auto}
   * run asks before it goes on, untimed, with the device its checkpoint records: a GPU there whose
   * kernel does not compile would fail every task, where {@code auto} picks the JVM engine.
   */
  public static String whyNotUsable(DeviceChoice device) {
    if (device == DeviceChoice.JVM) {
      return null;
    }
    if (device == DeviceChoice.AUTO || !Devices.available().contains(device)) {
      return "no " + device.id() + " device";
    }
    ResolvedDevice named = Devices.resolve(device);
    // held as auto holds a GPU: a kernel that does not compile falls back, logged, instead of throwing, and whyUnusable says why
    ResolvedDevice asAuto = new ResolvedDevice(DeviceChoice.AUTO, named.device(), named.info(), named.reason());
    try (AparapiEngine engine = new AparapiEngine(asAuto)) {
      return whyUnusable(engine);
    } catch (RuntimeException | LinkageError e) { // whatever fails here, the answer is the same: not usable, and why
      return e.toString();
    }
  }

  /** Null where the engine compiled for OpenCL and its first launch ran there; else why not. */
  private static String whyUnusable(AparapiEngine gpu) {
    if (gpu.device().isOpenCL() && gpu.fallbacks().isEmpty()) {
      return null;
    }
    return gpu.device().reason() + (gpu.fallbacks().isEmpty() ? "" : "; " + gpu.fallbacks().values());
  }

  /** Why the GPU engine is not used in this JVM (its kernel did not compile, its first launch or a later one failed there), or null. */
  private static volatile String gpuUnusable;

  /** A launch failed on the GPU in a call of an engine that had picked it: the next engines of this JVM take the JVM engine. */
  static void gpuFailed(String why) {
    gpuUnusable = why;
  }

  /** Why the next engines of this JVM under auto take the JVM engine without trying the GPU, or null. */
  static String gpuUnusable() {
    return gpuUnusable;
  }

  /** The choices already logged in this JVM: the driver and local-mode tasks share it, and one line each is enough. */
  private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

  static void logOnce(String message) {
    if (LOGGED.add(message)) {
      LOG.info(message);
    }
  }

  /** What {@code kernel} with this device resolves to, in words, without compiling anything. */
  public static String describeKernel(String device) {
    DeviceChoice d = DeviceChoice.parse(device);
    if (d == DeviceChoice.JVM || (d == DeviceChoice.AUTO && !Devices.available().contains(DeviceChoice.GPU))) {
      return "JVM engine (float32 Java, " + MathKernels.best().describe() + ")";
    }
    ResolvedDevice resolved = Devices.resolve(d);
    String aparapi = "aparapi on " + resolved.info().describe() + "; " + Devices.tiling(resolved);
    return d == DeviceChoice.AUTO ? "the faster of " + aparapi + " and the JVM engine, timed at the run's shape (train) or at the"
        + " first call's (elsewhere)" : aparapi;
  }
}
