package io.sparkrnn.kernel.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.aparapi.device.JavaDevice;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.AparapiEngineTest;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.aparapi.ResolvedDevice;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;

/**
 * {@code --device auto} on a GPU host keeps the GPU's engine only where its kernel compiled for an
 * OpenCL device; and an Aparapi engine closed before its first call does not crash the JVM.
 */
class EnginesTest {
  private static final ModelConfig CONFIG = new ModelConfig(CellType.LSTM, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);

  @Test
  void autoTakesTheJvmEngineWhereTheKernelFellToAparapisThreadPool() {
    // what AparapiEngine resolves to under auto when the kernel does not compile for the GPU
    ResolvedDevice pool = new ResolvedDevice(DeviceChoice.AUTO, JavaDevice.THREAD_POOL, Devices.info(JavaDevice.THREAD_POOL),
        "auto: the first OpenCL GPU, but the BPTT kernel did not compile for it");
    try (BpttEngine engine = Engines.gpuOrJvm(new AparapiEngine(pool), 1)) {
      assertInstanceOf(JvmEngine.class, engine, engine.describe());
    }
  }

  @Test
  void autoKeepsAnEngineWhoseKernelCompiledForOpenCl() {
    ResolvedDevice cpu = openClCpu();
    // the same device as auto holds it on a GPU host (auto is not explicit: a fallback is logged, not thrown)
    AparapiEngine opencl = new AparapiEngine(new ResolvedDevice(DeviceChoice.AUTO, cpu.device(), cpu.info(), "test"));
    try (BpttEngine engine = Engines.gpuOrJvm(opencl, 1)) {
      assertSame(opencl, engine);
      engine.forward(Params.initialize(CONFIG, 1), Batch.random(CONFIG, 3, 2, 1), null);
      assertFalse(engine.describe().contains("FELL BACK"), engine.describe());
    }
  }

  @Test
  void anEngineClosedBeforeItsFirstCallSurvivesAGarbageCollection() {
    // Aparapi 3.0.2 aborted the JVM here when close() disposed a compiled, never launched kernel;
    // the engine's warm-up launch makes every compiled kernel a launched one
    AparapiEngine engine = new AparapiEngine(openClCpu());
    System.gc();
    engine.close();
    AparapiEngine pool = new AparapiEngine(new ResolvedDevice(DeviceChoice.AUTO, JavaDevice.THREAD_POOL,
        Devices.info(JavaDevice.THREAD_POOL), "test")); // never compiled, never launched
    System.gc();
    pool.close();
    try (AparapiEngine next = new AparapiEngine(openClCpu())) { // and the kernel class still compiles and runs
      next.forward(Params.initialize(CONFIG, 1), Batch.random(CONFIG, 3, 2, 1), null);
      System.gc();
    }
  }

  /** What a resumed auto run asks of the device its checkpoint records: the JVM engine always runs; an OpenCL device where its kernel compiles and launches. */
  @Test
  void aDeviceIsUsableWhereItsKernelCompilesAndLaunches() {
    assertNull(Engines.whyNotUsable(DeviceChoice.JVM));
    openClCpu();
    assertNull(Engines.whyNotUsable(DeviceChoice.CPU_OPENCL), "PoCL compiles and runs the kernel");
    if (!Devices.available().contains(DeviceChoice.GPU)) {
      assertEquals("no gpu device", Engines.whyNotUsable(DeviceChoice.GPU));
    }
  }

  /**
   * describeKernel says what a kernel engine resolves to (class comment): jvm is the JVM engine;
   * auto is the JVM engine where there is no OpenCL GPU, and the timed pick of the GPU's engine
   * and the JVM engine where there is one.
   */
  @Test
  void describeKernelSaysWhatAutoResolvesToOnThisHost() {
    assertTrue(Engines.describeKernel("jvm").startsWith("JVM engine"), Engines.describeKernel("jvm"));
    String auto = Engines.describeKernel("auto");
    if (Devices.available().contains(DeviceChoice.GPU)) {
      assertTrue(auto.startsWith("the faster of aparapi on "), auto);
    } else {
      assertTrue(auto.startsWith("JVM engine"), auto);
    }
  }

  /** The reference engine goes with auto, jvm or no device; any other device beside it is refused, naming it. */
  @Test
  void onlyAutoOrJvmGoWithTheReferenceEngine() {
    for (String device : new String[] {null, "auto", "jvm", "JVM"}) {
      Engines.requireDeviceApplies("reference", device);
    }
    for (String device : new String[] {"gpu", "cpu-opencl"}) {
      BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
          BadInputException.class, () -> Engines.requireDeviceApplies("reference", device));
      assertTrue(e.getMessage().startsWith("--device " + device + " applies to --engine kernel"), e.getMessage());
    }
    Engines.requireDeviceApplies("kernel", "gpu");
  }

  /**
   * What create makes of each name (class comment): kernel with jvm is the JVM engine; kernel with
   * auto where there is no OpenCL GPU is the JVM engine too, never a timed pick against PoCL's CPU
   * ("auto does not time PoCL"); reference is the float64 engine, with auto or jvm only (the check
   * of onlyAutoOrJvmGoWithTheReferenceEngine, made by create itself); an unknown engine is refused.
   */
  @Test
  void createMakesTheEngineEachNameStandsFor() {
    try (BpttEngine engine = Engines.create("kernel", "jvm", 1)) {
      assertInstanceOf(JvmEngine.class, engine, engine.describe());
    }
    try (BpttEngine engine = Engines.create("kernel", "auto", 1)) {
      if (!Devices.available().contains(DeviceChoice.GPU)) {
        assertInstanceOf(JvmEngine.class, engine, engine.describe());
      } else {
        assertTrue(engine instanceof MeasuredEngine || engine instanceof JvmEngine, engine.describe());
      }
    }
    for (String device : new String[] {"auto", "jvm"}) {
      try (BpttEngine engine = Engines.create("reference", device, 1)) {
        assertInstanceOf(ReferenceEngine.class, engine, engine.describe());
      }
    }
    BadInputException gpu = assertThrows(BadInputException.class, () -> Engines.create("reference", "gpu", 1));
    assertTrue(gpu.getMessage().startsWith("--device gpu applies to --engine kernel"), gpu.getMessage());
    BadInputException unknown = assertThrows(BadInputException.class, () -> Engines.create("float16", "jvm", 1));
    assertTrue(unknown.getMessage().contains("'float16' is not one of kernel, reference"), unknown.getMessage());
  }

  /**
   * A named OpenCL device runs there or is refused (DeviceChoice: "the other three name one kind of
   * device and fail when it is absent"); it never becomes auto's pick, which would run --device gpu
   * on PoCL's CPU where there is no GPU, and log instead of throw a fallback (an explicit device
   * throws, FallbackDetectionTest).
   */
  @Test
  void aNamedOpenClDeviceIsThatDeviceAsNamedOrRefused() {
    ResolvedDevice cpu = openClCpu();
    try (BpttEngine engine = Engines.create("kernel", "cpu-opencl", 1)) {
      AparapiEngine aparapi = assertInstanceOf(AparapiEngine.class, engine, engine.describe());
      assertEquals(DeviceChoice.CPU_OPENCL, aparapi.device().choice(), "held as named, not as auto");
      assertEquals(cpu.info(), aparapi.device().info());
    }
    if (!Devices.available().contains(DeviceChoice.GPU)) {
      DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> Engines.create("kernel", "gpu", 1));
      assertTrue(e.getMessage().startsWith("--device gpu: no OpenCL GPU found"), e.getMessage());
    } else {
      try (BpttEngine engine = Engines.create("kernel", "gpu", 1)) {
        AparapiEngine aparapi = assertInstanceOf(AparapiEngine.class, engine, engine.describe());
        assertEquals(DeviceChoice.GPU, aparapi.device().choice());
        assertEquals("GPU", aparapi.device().info().type());
      }
    }
  }

  private static ResolvedDevice openClCpu() {
    return AparapiEngineTest.requireOpenClCpu("");
  }
}
