package io.sparkrnn.kernel.aparapi;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.engine.DeviceChoice;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The OpenCL compile under garbage collection ({@link SignalChaining}): without libjsig preloaded
 * an engine made while another thread allocated (and a third asked for collections) failed to
 * compile in 2 of 2 runs on PoCL.
 */
class SignalChainingTest {
  @Test
  void theTestJvmHasItsSignalHandlersChained() {
    assertTrue(SignalChaining.chained(), "the pom's surefire configuration should preload libjsig: " + SignalChaining.advice());
  }

  @Test
  void enginesCompileWhileAnotherThreadAllocates() throws InterruptedException {
    if (!Devices.available().contains(DeviceChoice.CPU_OPENCL)) {
      if (AparapiEngineTest.REQUIRE_OPENCL) {
        fail("SPARKRNN_REQUIRE_OPENCL=1 but there is no OpenCL CPU device: " + Devices.list());
      }
      org.junit.jupiter.api.Assumptions.abort("no OpenCL CPU device (PoCL) here");
    }
    AtomicBoolean stop = new AtomicBoolean();
    // garbage, a tenth kept a while: young collections by the hundred during a compile
    Thread churn = new Thread(() -> BufferMoveStress.allocate(false, stop), "allocating");
    churn.setDaemon(true);
    // collections asked for from another thread: the allocating thread, in compiled code, stops at a safepoint poll
    Thread collector = new Thread(() -> {
      while (!stop.get()) {
        System.gc();
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          return;
        }
      }
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
  }
}
