package io.sparkrnn.kernel.aparapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.aparapi.Kernel;
import com.aparapi.Range;
import io.sparkrnn.kernel.engine.DeviceChoice;
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
    ResolvedDevice auto = new ResolvedDevice(DeviceChoice.AUTO, openClCpu.device(), openClCpu.info(), "test");
    ExecutionGuard guard = new ExecutionGuard(auto);
    UntranslatableKernel kernel = new UntranslatableKernel();
    guard.pin(kernel);
    guard.beginCall();
    guard.execute(kernel, "untranslatable", Range.create(8, 4));
    assertFalse(guard.allOpenCL(), guard.report());
    assertTrue(guard.fallbacks().containsKey("untranslatable"), guard.report());
    assertTrue(guard.report().contains("FALLBACKS"), guard.report());
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
}
