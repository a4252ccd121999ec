package io.sparkrnn.kernel.aparapi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.aparapi.Kernel;
import com.aparapi.Range;
import com.aparapi.device.OpenCLDevice;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Aparapi's own fallback (OpenCL code generation fails, Aparapi quietly re-runs the kernel on the
 * Java thread pool) is caught: an explicitly named device throws, auto records and warns.
 */
class FallbackDetectionTest {

  /** Uses a Java object in run(), which Aparapi cannot translate to OpenCL: it always falls back. */
  static final class UntranslatableKernel extends Kernel {
    final float[] values = new float[8];
    final Object notForOpenCl = new Object();

    @Override
    public void run() {
      int g = getGlobalId();
      values[g] = notForOpenCl.hashCode();
    }
  }

  /** Runs anywhere. */
  static final class PlainKernel extends Kernel {
    final float[] values = new float[8];

    @Override
    public void run() {
      int g = getGlobalId();
      values[g] = exp(0f) + g;
    }
  }

  private ResolvedDevice openClCpu;

  @BeforeEach
  void findOpenClCpu() {
    openClCpu = AparapiEngineTest.requireOpenClCpu("to check fallback detection on");
  }

  /** The same device as --device auto holds it: a fallback is recorded, and thrown only where the launch did not run. */
  private ResolvedDevice openClCpuUnderAuto() {
    return new ResolvedDevice(DeviceChoice.AUTO, openClCpu.device(), openClCpu.info(), "test");
  }

  @Test
  void fallbackFromAnExplicitDeviceThrowsNamingBothDevicesAndTheKernel() {
    ExecutionGuard guard = new ExecutionGuard(openClCpu);
    UntranslatableKernel kernel = new UntranslatableKernel();
    guard.pin(kernel);
    DeviceFallbackException e = assertThrows(DeviceFallbackException.class,
        () -> guard.execute(kernel, "untranslatable", Range.create(8, 4)));
    String m = e.getMessage();
    assertTrue(m.contains("UntranslatableKernel") && m.contains("--device cpu-opencl") && m.contains("JVM thread pool")
        && m.contains(openClCpu.info().name()), m);
  }

  @Test
  void fallbackUnderAutoIsRecordedNotThrown() {
    ResolvedDevice auto = openClCpuUnderAuto();
    ExecutionGuard guard = new ExecutionGuard(auto);
    UntranslatableKernel kernel = new UntranslatableKernel();
    guard.pin(kernel);
    guard.beginCall();
    guard.execute(kernel, "untranslatable", Range.create(8, 4));
    assertFalse(guard.allOpenCL(), guard.report());
    assertTrue(guard.fallbacks().containsKey("untranslatable"), guard.report());
    assertTrue(guard.report().contains("FALLBACKS"), guard.report());
  }

  /**
   * Under auto a launch that ran elsewhere is not thrown, so the log is where a user sees it: one
   * WARNING naming the kernel and op, once per op (the same fallback in the next call adds none).
   */
  @Test
  void aFallbackUnderAutoIsLoggedAsAWarningOncePerOp() {
    Logger log = Logger.getLogger(ExecutionGuard.class.getName());
    List<LogRecord> records = new ArrayList<>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord r) {
        records.add(r);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    ExecutionGuard guard = new ExecutionGuard(openClCpuUnderAuto());
    UntranslatableKernel kernel = new UntranslatableKernel();
    log.addHandler(capture);
    try {
      for (int call = 0; call < 2; call++) {
        guard.pin(kernel);
        guard.beginCall();
        guard.execute(kernel, "untranslatable", Range.create(8, 4));
      }
    } finally {
      log.removeHandler(capture);
    }
    List<LogRecord> warnings = records.stream()
        .filter(r -> r.getLevel() == Level.WARNING).toList();
    assertEquals(1, warnings.size(), records.stream().map(LogRecord::getMessage).toList().toString());
    assertTrue(warnings.get(0).getMessage().contains("UntranslatableKernel") && warnings.get(0).getMessage().contains("'untranslatable'"),
        warnings.get(0).getMessage());
  }

  @Test
  void aKernelThatTranslatesRunsOnTheNamedOpenClDevice() {
    ExecutionGuard guard = new ExecutionGuard(openClCpu);
    PlainKernel kernel = new PlainKernel();
    guard.pin(kernel);
    guard.beginCall();
    guard.execute(kernel, "plain", Range.create(8, 4));
    assertTrue(guard.allOpenCL(), guard.report());
    assertEquals(openClCpu.info().describe(), guard.ranOn().get("plain"));
    assertEquals(8f, kernel.values[7], 0f);
  }

  /** No launch yet, no launch on OpenCL: a report before a call's first launch does not claim one (nor list an empty map of ops). */
  @Test
  void beforeAnyLaunchNothingRanOnOpenCl() {
    ExecutionGuard guard = new ExecutionGuard(openClCpu);
    assertEquals(0, guard.launches());
    assertFalse(guard.allOpenCL(), "no launch yet: " + guard.report());
    guard.beginCall();
    assertFalse(guard.allOpenCL(), "a call begun, no launch yet: " + guard.report());
    assertTrue(guard.report().startsWith("0 launches") && guard.report().contains("no op launched yet")
        && !guard.report().contains("ran on"), guard.report());
  }

  /**
   * A launch that ran on another OpenCL device than the requested one (a machine with two GPUs, say)
   * is a fallback too: devices are told apart by their OpenCL device id, not by being OpenCL. Here
   * the request names a second device of the same platform (another id), and the kernel is pinned to
   * the real one, where Aparapi then runs it.
   */
  @Test
  void aLaunchOnAnotherOpenClDeviceThanTheRequestedOneIsAFallback() {
    OpenCLDevice real = (OpenCLDevice) openClCpu.device();
    OpenCLDevice other = new OpenCLDevice(real.getOpenCLPlatform(), real.getDeviceId() + 1,
        real.getType());
    DeviceInfo otherInfo = new DeviceInfo(openClCpu.info().platform(),
        openClCpu.info().vendor(), "second device", openClCpu.info().type(), true, 1, 8, 0);
    ExecutionGuard guard = new ExecutionGuard(new ResolvedDevice(DeviceChoice.CPU_OPENCL, other, otherInfo, "test"));
    PlainKernel kernel = new PlainKernel();
    ExecutionGuard.pin(kernel, openClCpu);
    guard.beginCall();
    DeviceFallbackException e = assertThrows(DeviceFallbackException.class, () -> guard.execute(kernel, "plain", Range.create(8, 4)));
    assertTrue(e.getMessage().contains("'second device'") && e.getMessage().contains(openClCpu.info().describe()), e.getMessage());
    assertTrue(guard.fallbacks().containsKey("plain"), guard.report());
  }

  /** A kernel with an alternative algorithm that does nothing, as BpttKernel has. */
  abstract static class WithAlternative extends Kernel {
    @Override
    public boolean hasFallbackAlgorithm() {
      return true;
    }

    @Override
    public void executeFallbackAlgorithm(Range range, int passId) {
      // nothing, as in BpttKernel
    }
  }

  /** As {@link UntranslatableKernel}, with the do-nothing alternative. */
  static final class UntranslatableWithAlternative extends WithAlternative {
    final float[] values = new float[8];
    final Object notForOpenCl = new Object();

    @Override
    public void run() {
      int g = getGlobalId();
      values[g] = 1 + notForOpenCl.hashCode() % 2;
    }
  }

  @Test
  void aKernelWithAnAlternativeNeverRunsOnTheThreadPoolNamedOrAuto() {
    ResolvedDevice auto = openClCpuUnderAuto();
    for (ResolvedDevice requested : new ResolvedDevice[] {openClCpu, auto}) {
      ExecutionGuard guard = new ExecutionGuard(requested);
      UntranslatableWithAlternative kernel = new UntranslatableWithAlternative();
      guard.pin(kernel);
      guard.beginCall();
      DeviceFallbackException e = assertThrows(DeviceFallbackException.class,
          () -> guard.execute(kernel, "untranslatable", Range.create(8, 4)));
      // the thread pool would have written 1 or 2 into every element
      assertArrayEquals(new float[8], kernel.values, "the kernel ran somewhere: " + guard.report());
      assertTrue(e.getMessage().contains("did not run") && e.getMessage().contains(openClCpu.info().name())
          && e.getMessage().contains("--device " + requested.choice().id()), e.getMessage());
      assertEquals(requested.explicit(), e.getMessage().endsWith("; --device jvm runs the JVM engine instead"), e.getMessage());
      assertTrue(guard.fallbacks().containsKey("untranslatable"), guard.report());
      assertTrue(guard.report().contains("alternative algorithm"), guard.report());
    }
  }

  @Test
  void aLaunchTheDeviceRefusesDoesNotRunOnTheThreadPool() {
    // translates and compiles, but no OpenCL device takes a work-group of 2^20 items: the enqueue fails
    ResolvedDevice auto = openClCpuUnderAuto();
    ExecutionGuard guard = new ExecutionGuard(auto);
    PlainWithAlternative kernel = new PlainWithAlternative();
    guard.pin(kernel);
    guard.beginCall();
    guard.execute(kernel, "plain", Range.create(8, 4));
    assertEquals(8f, kernel.values[7], 0f, guard.report());
    Arrays.fill(kernel.values, -1f);
    assertThrows(DeviceFallbackException.class, () -> guard.execute(kernel, "refused", Range.create(1 << 20, 1 << 20)));
    assertEquals(-1f, kernel.values[7], 0f, "the kernel ran somewhere: " + guard.report());
    // the next call pins the device again: it runs there
    guard.pin(kernel);
    guard.beginCall();
    guard.execute(kernel, "plain", Range.create(8, 4));
    assertTrue(guard.allOpenCL(), guard.report());
    assertEquals(8f, kernel.values[7], 0f, guard.report());
  }

  /** {@link PlainKernel} with the do-nothing alternative; writes past 8 items are dropped. */
  static final class PlainWithAlternative extends WithAlternative {
    final float[] values = new float[8];

    @Override
    public void run() {
      int g = getGlobalId();
      if (g < 8) {
        values[g] = exp(0f) + g;
      }
    }
  }

  @Test
  void anEngineCallWithALaunchTheDeviceRefusesThrowsNamedOrAutoAndTheNextCallRunsThere() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 2, 8, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 3);
    Batch batch = Batch.random(config, 6, 4, 5);
    ResolvedDevice auto = openClCpuUnderAuto();
    for (ResolvedDevice requested : new ResolvedDevice[] {openClCpu, auto}) {
      try (AparapiEngine engine = new AparapiEngine(requested)) {
        float[] first = engine.forward(params, batch, null).outputs();
        engine.afterLaunches = () -> engine.launchRefusedByTheDevice("refused");
        DeviceFallbackException e = assertThrows(DeviceFallbackException.class, () -> engine.lossAndGradient(params, batch, null));
        assertTrue(e.getMessage().contains("op 'refused' did not run"), e.getMessage());
        assertTrue(engine.describe().contains("FELL BACK: some ops of the last call did not run on the device"), engine.describe());
        assertTrue(engine.executionReport().contains("refused") && engine.executionReport().contains("alternative algorithm"),
            engine.executionReport());
        engine.afterLaunches = null;
        assertArrayEquals(first, engine.forward(params, batch, null).outputs(), "the next call runs on the device again");
        assertTrue(engine.lastCallRanOnOpenCL(), engine.executionReport());
        assertFalse(engine.describe().contains("FELL BACK"), engine.describe());
      }
    }
  }
}
