package io.sparkrnn.kernel.aparapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.engine.DeviceChoice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * OpenCL and the JVM's signal handlers ({@link SignalChaining}). Without libjsig preloaded, on
 * PoCL: an engine made while another thread allocated (and a third asked for collections) failed
 * to compile in 2 of 2 runs here (7 of 8 in a review's), and after a kernel had run 115,756 of
 * 200,000 integer divisions by zero returned a value instead of throwing.
 */
class SignalChainingTest {
  /** Divides by a value the compiler cannot see is zero. */
  private static volatile int zero;

  @Test
  void theTestJvmHasItsSignalHandlersChained() {
    assertTrue(SignalChaining.chained(), "the pom's surefire configuration should preload libjsig: " + SignalChaining.advice());
  }

  @Test
  void divisionByZeroStillThrowsAfterOpenClHasStarted() {
    AparapiEngineTest.requireOpenClCpu("");
    // an engine compiled and launched: PoCL's devices and compiler have started
    try (AparapiEngine engine = new AparapiEngine(Devices.resolve(DeviceChoice.CPU_OPENCL))) {
      assertTrue(engine.device().isOpenCL(), engine.describe());
    }
    assertEquals(0, wrongDivisions(200_000), "integer divisions by zero that did not throw, with OpenCL started");
  }

  /** Of n divisions by zero (enough for the JIT to compile the loop, whose checks are SIGFPE traps), those that returned. */
  static int wrongDivisions(int n) {
    int wrong = 0;
    for (int i = 0; i < n; i++) {
      try {
        if ((i + 1) / zero != Integer.MIN_VALUE) {
          wrong++;
        }
      } catch (ArithmeticException expected) {
        // what Java promises
      }
    }
    return wrong;
  }

  @Test
  void enginesCompileWhileAnotherThreadAllocates() throws InterruptedException {
    AparapiEngineTest.requireOpenClCpu("");
    AtomicBoolean stop = new AtomicBoolean();
    // garbage, a tenth kept a while: young collections by the hundred during a compile
    Thread churn = new Thread(() -> BufferMoveStress.allocate(false, stop), "allocating");
    churn.setDaemon(true);
    // collections asked for from another thread: the allocating thread, in compiled code, stops at a safepoint poll
    Thread collector = new Thread(() -> {
      do {
        System.gc();
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          return;
        }
      } while (!stop.get());
    }, "collecting");
    collector.setDaemon(true);
    churn.start();
    collector.start();
    try {
      for (int i = 0; i < 3; i++) {
        // a named device: a compile failure throws DeviceFallbackException rather than falling back
        try (AparapiEngine engine = new AparapiEngine(Devices.resolve(DeviceChoice.CPU_OPENCL))) {
          assertTrue(engine.device().isOpenCL(), engine.describe());
        }
      }
    } finally {
      stop.set(true);
      churn.join();
      collector.join();
    }
    // (where this JVM compiled the kernel before, the builds are quick: three took 79 ms in one CI run)
  }

  /**
   * A JVM started without the preload (a child of this one, LD_PRELOAD removed) does not start
   * OpenCL: auto has the JVM engine, a named OpenCL device is an error that says why and how, and
   * division by zero throws; the message is a warning where a GPU's driver is registered; with
   * {@code -Dsparkrnn.opencl.unchained=allow} OpenCL starts.
   */
  @Test
  void aJvmWithoutLibjsigLeavesOpenClAloneAndSaysWhy(@TempDir Path vendors) throws IOException, InterruptedException {
    AparapiEngineTest.requireOpenClCpu("");
    String refused = runChild(Map.of());
    assertTrue(refused.contains("available=[JVM]"), refused);
    assertTrue(refused.contains("cpu-opencl: DeviceUnavailableException: --device cpu-opencl: OpenCL was not initialised")
        && refused.contains("LD_PRELOAD=" + SignalChaining.library()), refused);
    assertTrue(refused.contains("wrong divisions=0"), refused);
    // not through Aparapi's thread pool either, whose KernelManager lists every OpenCL device as it loads
    assertTrue(refused.contains("thread-pool engine: DeviceUnavailableException: the Aparapi engine"), refused);
    assertTrue(refused.contains("pocl mapped=false"), refused);

    // with PoCL alone registered the JVM engine is what auto takes anyway: INFO; with a GPU's driver: a WARNING
    boolean poclOnly = !SignalChaining.gpuDriverRegistered();
    assertTrue(refused.contains("logged " + (poclOnly ? "INFO" : "WARNING") + ": OpenCL was not initialised"), refused);
    Files.writeString(vendors.resolve("nvidia.icd"), "libnvidia-opencl.so.1\n");
    String withGpuDriver = runChild(Map.of("OCL_ICD_VENDORS", vendors.toString()));
    assertTrue(withGpuDriver.contains("logged WARNING: OpenCL was not initialised"), withGpuDriver);

    String allowed = runChild(Map.of(), "-D" + SignalChaining.ALLOW_PROPERTY + "=allow");
    assertTrue(allowed.contains("CPU_OPENCL") && allowed.contains("cpu-opencl: resolved"), allowed);
    assertTrue(allowed.contains("OpenCL starts without chained signal handlers"), allowed);
    // and what each engine describes (report.md's device lines) says so too, not only the log
    assertTrue(allowed.contains("(OpenCL without chained signal handlers, -Dsparkrnn.opencl.unchained=allow)"), allowed);
  }

  /**
   * Only {@code -Dsparkrnn.opencl.unchained=allow} lets OpenCL start unchained (SignalChaining's
   * class comment), not any value; and a driver list ($OCL_ICD_FILENAMES) naming only PoCL is no
   * GPU's driver (gpuDriverRegistered's javadoc), so the refusal is logged at INFO, not WARNING.
   */
  @Test
  void anotherValueThanAllowDoesNotStartOpenClAndAPoclOnlyDriverListIsNoGpu() throws IOException, InterruptedException {
    String refused = runChild(Map.of("OCL_ICD_FILENAMES", "libpocl.so.2"), "-D" + SignalChaining.ALLOW_PROPERTY + "=yes");
    assertTrue(refused.contains("available=[JVM]"), refused);
    assertTrue(refused.contains("logged INFO: OpenCL was not initialised"), refused);
  }

  /** The child's output (stdout and stderr): what {@link Child} printed and the warnings it logged. */
  private static String runChild(Map<String, String> env, String... jvmOptions) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of(jvmOptions));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName()));
    Path out = Files.createTempFile("signal-chaining-child", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().remove("LD_PRELOAD");
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("the child JVM did not finish in 60 s: " + Files.readString(out));
      }
      String text = Files.readString(out, StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), text);
      return text;
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Run in a child JVM by {@link #aJvmWithoutLibjsigLeavesOpenClAloneAndSaysWhy}. */
  public static final class Child {
    private Child() {}

    public static void main(String[] args) throws IOException {
      // what Devices logs, with the level's own name (the console's format and language vary)
      Logger devicesLog = Logger.getLogger(Devices.class.getName());
      devicesLog.addHandler(new Handler() {
        @Override
        public void publish(LogRecord r) {
          System.out.println("logged " + r.getLevel().getName() + ": " + r.getMessage());
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      });
      System.out.println("available=" + Devices.available());
      try {
        System.out.println("cpu-opencl: resolved " + Devices.resolve(DeviceChoice.CPU_OPENCL).info().describe());
      } catch (DeviceUnavailableException e) {
        System.out.println("cpu-opencl: DeviceUnavailableException: " + e.getMessage());
      }
      if (!SignalChaining.openClAllowed()) {
        try {
          new AparapiEngine(Devices.resolve(DeviceChoice.JVM)).close();
          System.out.println("thread-pool engine: made");
        } catch (DeviceUnavailableException e) {
          System.out.println("thread-pool engine: DeviceUnavailableException: " + e.getMessage());
        }
        System.out.println("wrong divisions=" + wrongDivisions(200_000));
        System.out.println("pocl mapped=" + Files.readString(Path.of("/proc/self/maps")).contains("libpocl"));
      } else {
        try (AparapiEngine engine = new AparapiEngine(Devices.resolve(DeviceChoice.CPU_OPENCL))) {
          System.out.println("engine: " + engine.describe());
        }
      }
    }
  }

}
