package io.sparkrnn.kernel.aparapi;

import com.aparapi.Kernel;
import com.aparapi.Range;
import com.aparapi.device.Device;
import com.aparapi.device.JavaDevice;
import com.aparapi.device.OpenCLDevice;
import com.aparapi.internal.kernel.KernelDeviceProfile;
import com.aparapi.internal.kernel.KernelManager;
import com.aparapi.internal.kernel.KernelProfile;
import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Runs kernels on one requested device and checks, after every launch, which device actually ran.
 *
 * <p>Aparapi 3.0.2 falls back on its own: when code generation, compilation or a launch fails on
 * an OpenCL device it marks the device failed and re-runs the kernel on the next preferred device,
 * ending at the Java thread pool, with only a log line. That pool is slow (20–100× the JVM engine)
 * and its local barrier can deadlock (docs/PERFORMANCE.md, "What is left"), so no OpenCL engine
 * may end there. This guard (1) pins the kernel class's preferred devices to the requested one and
 * then Aparapi's {@link JavaDevice#ALTERNATIVE_ALGORITHM} ({@link #pin}), so there is no other
 * OpenCL device to slip to, and a kernel with an alternative algorithm that does nothing
 * ({@link BpttKernel#hasFallbackAlgorithm}) is not run at all where its device fails; and (2)
 * after each launch reads the device Aparapi recorded for that run (the last
 * {@link KernelDeviceProfile} of the kernel class, which Aparapi starts just before running on a
 * device), cross-checked with {@link Kernel#getTargetDevice()} (null once every preferred device
 * failed) and the preferences' failed-device list. A mismatch is recorded and throws
 * {@link DeviceFallbackException} when the device was named explicitly or when the launch did not
 * run (the alternative algorithm); under {@code auto} a launch that ran elsewhere all the same (a
 * kernel without an alternative algorithm, on the thread pool) is logged and recorded.
 *
 * <p>Not thread-safe; Aparapi's preferences are per kernel class, so two engines of the same kernel
 * class on different devices must not launch concurrently in one JVM.
 */
final class ExecutionGuard {
  private static final Logger LOG = Logger.getLogger(ExecutionGuard.class.getName());
  private static final Field PROFILE_DEVICE = profileDeviceField();

  private final ResolvedDevice requested;
  /** Device description by op name, for the current call. */
  private final Map<String, String> ranOn = new LinkedHashMap<>();
  /** Launch count by op name, for the current call. */
  private final Map<String, Integer> launchesByOp = new LinkedHashMap<>();
  /** Wall time by op name, for the current call, in nanoseconds (launch to return, so including transfers Aparapi makes). */
  private final Map<String, Long> nanosByOp = new LinkedHashMap<>();
  private final Map<String, String> fallbacks = new LinkedHashMap<>();
  private boolean allOpenCL = true;
  private int launches;

  ExecutionGuard(ResolvedDevice requested) {
    this.requested = requested;
  }

  ResolvedDevice requested() {
    return requested;
  }

  /** Makes the requested device the kernel class's only preferred device and clears its failed devices. */
  void pin(Kernel kernel) {
    pin(kernel, requested);
  }

  /**
   * Makes {@code device} the kernel class's preferred device (before compiling for it, too), and
   * for an OpenCL device the alternative algorithm after it: where the device fails, Aparapi runs
   * the kernel's {@link Kernel#executeFallbackAlgorithm} instead of its thread pool (a kernel
   * without one still ends at the pool: Aparapi passes over the alternative it does not have).
   */
  static void pin(Kernel kernel, ResolvedDevice device) {
    List<Device> devices = device.isOpenCL() ? List.of(device.device(), JavaDevice.ALTERNATIVE_ALGORITHM) : List.of(device.device());
    KernelManager.instance().setPreferredDevices(kernel, new LinkedHashSet<>(devices));
  }

  /** Starts a new call's report. */
  void beginCall() {
    ranOn.clear();
    launchesByOp.clear();
    nanosByOp.clear();
    launches = 0;
    allOpenCL = true;
  }

  /** Executes one launch and checks where it ran. */
  void execute(Kernel kernel, String op, Range range) {
    long t0 = System.nanoTime();
    kernel.execute(range);
    nanosByOp.merge(op, System.nanoTime() - t0, Long::sum);
    check(kernel, op);
  }

  /**
   * Checks that the last launch of {@code kernel} ran on the requested device.
   *
   * @throws DeviceFallbackException when it did not and the device was named explicitly
   */
  void check(Kernel kernel, String op) {
    Device actual = actualDevice(kernel);
    launches++;
    launchesByOp.merge(op, 1, Integer::sum);
    boolean skipped = actual == JavaDevice.ALTERNATIVE_ALGORITHM;
    String where = skipped ? "no device (Aparapi's alternative algorithm, which does nothing for this kernel)"
        : Devices.info(actual).describe();
    ranOn.put(op, where);
    if (!(actual instanceof OpenCLDevice)) {
      allOpenCL = false;
    }
    if (!sameDevice(actual, requested.device())) {
      String message = (skipped ? "kernel " + kernel.getClass().getSimpleName() + " op '" + op + "' did not run: it failed on "
              + requested.info().describe() + " (--device " + requested.choice().id() + ") and Aparapi's thread pool, where"
              + " Aparapi would run it instead, is never used for an OpenCL engine (slow, and its barrier can deadlock)"
          : "Aparapi ran kernel " + kernel.getClass().getSimpleName() + " op '" + op + "' on " + where
              + ", but the requested device (--device " + requested.choice().id() + ") is " + requested.info().describe()
              + "; Aparapi fell back on its own")
          + " (failed devices: "
          + KernelManager.instance().getPreferences(kernel).getFailedDevices().stream().map(d -> Devices.info(d).describe()).toList()
          + "; run with -Dcom.aparapi.enableShowGeneratedOpenCL=true and see the log above for the cause)";
      boolean first = fallbacks.putIfAbsent(op, message) == null;
      if (requested.explicit() || skipped) {
        // skipped: the launch's results are not there, so the call cannot go on (auto's callers turn to the JVM engine)
        throw new DeviceFallbackException(message + (requested.explicit() ? "; --device jvm runs the JVM engine instead" : ""));
      }
      if (first) {
        LOG.warning(message);
      }
    }
  }

  /** The device that ran the kernel's last launch. */
  static Device actualDevice(Kernel kernel) {
    Device fromProfile = null;
    KernelProfile profile = KernelManager.instance().getProfile(kernel.getClass());
    KernelDeviceProfile last = profile == null ? null : profile.getLastDeviceProfile();
    if (last != null && PROFILE_DEVICE != null) {
      try {
        fromProfile = (Device) PROFILE_DEVICE.get(last);
      } catch (IllegalAccessException e) {
        fromProfile = null;
      }
    }
    Device target = kernel.getTargetDevice();
    boolean anyFailed = !KernelManager.instance().getPreferences(kernel).getFailedDevices().isEmpty();
    if (fromProfile != null) {
      return fromProfile;
    }
    // Without the profile: no preferred device left, or a failed one, means the thread pool ran it.
    return target == null || anyFailed ? JavaDevice.THREAD_POOL : target;
  }

  private static boolean sameDevice(Device a, Device b) {
    if (a == null || b == null) {
      return a == b;
    }
    if (a instanceof OpenCLDevice ca && b instanceof OpenCLDevice cb) {
      return ca.getDeviceId() == cb.getDeviceId();
    }
    return a == b;
  }

  private static Field profileDeviceField() {
    try {
      Field f = KernelDeviceProfile.class.getDeclaredField("device");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warning("cannot read KernelDeviceProfile.device (" + e + "); device checks fall back to getTargetDevice()");
      return null;
    }
  }

  /** Launches in the current call. */
  int launches() {
    return launches;
  }

  /** Whether every launch of the current call ran on an OpenCL device. */
  boolean allOpenCL() {
    return launches > 0 && allOpenCL;
  }

  Map<String, String> ranOn() {
    return Map.copyOf(ranOn);
  }

  Map<String, String> fallbacks() {
    return Map.copyOf(fallbacks);
  }

  /** e.g. "7 launches (proj 1, fwd 1, ...); every op on OpenCL CPU 'pthread-...' (...)". */
  String report() {
    StringBuilder s = new StringBuilder();
    s.append(launches).append(" launches ").append(launchesByOp.toString().replace('=', ' ').replace('{', '(').replace('}', ')'));
    LinkedHashSet<String> devices = new LinkedHashSet<>(ranOn.values());
    if (devices.isEmpty()) {
      s.append("; no op launched yet");
    } else if (devices.size() == 1) {
      s.append("; every op on ").append(devices.iterator().next());
    } else {
      s.append("; ops ran on ").append(ranOn);
    }
    StringBuilder times = new StringBuilder();
    for (Map.Entry<String, Long> e : nanosByOp.entrySet()) {
      times.append(times.length() == 0 ? "" : ", ").append(e.getKey()).append(String.format(" %.3f", e.getValue() / 1e6));
    }
    s.append("; ms by op: ").append(times);
    if (!fallbacks.isEmpty()) {
      s.append("; FALLBACKS: ").append(fallbacks.values());
    }
    return s.toString();
  }
}
