package io.sparkrnn.kernel.aparapi;

import static io.sparkrnn.kernel.testing.EngineComparison.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.aparapi.device.JavaDevice;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The tiled products at shapes that do not fit the tiles: H not a multiple of the tile (several
 * tiles with a ragged edge, GH and T·B above the k block of the device), B = 1, uneven lengths,
 * both modes and losses, two layers, every cell; against the float64 reference with the same
 * tolerance as {@link AparapiEngineTest}. Plus the sizes' own invariants, bit-identical repeats and
 * the inputs that stay on the device.
 */
class TiledKernelTest {
  /** On PoCL a tile is 64 × 64 with TK = 128 (local memory 512 KiB): H = 67 gives 2 column tiles of h, GH = 268 > TK for LSTM and GRU. */
  static final int H = 67;
  static final int F = 5;

  /** A shape; the seed, uneven lengths and a random initial state come from {@link AparapiEngineTest.Case}. */
  record Case(CellType cell, int layers, Mode mode, LossType loss, int batch, int steps) {
    ModelConfig config() {
      return new ModelConfig(cell, layers, F, H, loss == LossType.CROSS_ENTROPY ? 3 : 2, mode, loss);
    }

    @Override
    public String toString() {
      return cell.id() + " L=" + layers + " " + mode.id() + " " + loss.id() + " B=" + batch + " T=" + steps;
    }
  }

  static List<Case> cases() {
    List<Case> list = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      // B = 1; two layers, seq2one with cross-entropy; T·B = 320 > TK = 128 for the weight gradients. T stays
      // short: these random RNNs are chaotic, so float32 error grows with T (at H = 67, B = 15, T = 20 the
      // JVM engine and this one both reach 2e-5 against the reference, some seeds 3e-4), whatever the kernel.
      list.add(new Case(cell, 1, Mode.SEQ2SEQ, LossType.MSE, 1, 5));
      list.add(new Case(cell, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, 3, 4));
      list.add(new Case(cell, 1, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, 40, 8));
      // T = 1: the last step's cell backward alone, no product with the cell's backward in its epilogue
      list.add(new Case(cell, 2, Mode.SEQ2SEQ, LossType.MSE, 3, 1));
    }
    return list;
  }

  @TestFactory
  Stream<DynamicTest> oddShapesMatchFloat64Reference() {
    List<DeviceChoice> devices = AparapiEngineTest.matrixDevices();
    if (devices.isEmpty()) {
      fail("SPARKRNN_REQUIRE_OPENCL=1 but Aparapi finds no OpenCL device: " + Devices.list());
    }
    List<DynamicTest> tests = new ArrayList<>();
    for (DeviceChoice device : devices) {
      for (Case c : cases()) {
        tests.add(DynamicTest.dynamicTest(device.id() + ": " + c, () -> AparapiEngineTest.checkAgainstReference(
            AparapiEngineTest.engine(device), new AparapiEngineTest.Case(c.cell(), c.layers(), c.mode(), c.loss(), true, true),
            c.config(), c.steps(), c.batch())));
      }
    }
    return tests.stream();
  }

  /** The same call twice gives the same bits, and so does a second engine on the same device (a fixed order of every sum). */
  @Test
  void repeatedCallsAndEnginesAreBitIdentical() {
    DeviceChoice device = firstDevice();
    ModelConfig config = new ModelConfig(CellType.LSTM, 2, F, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 11)));
    Batch batch = Fixtures.randomBatch(config, 9, 6, true, 12);
    AparapiEngine shared = AparapiEngineTest.engine(device);
    BpttResult first = shared.lossAndGradient(params, batch, null);
    BpttResult again = shared.lossAndGradient(params, batch, null);
    try (AparapiEngine other = new AparapiEngine(Devices.resolve(device))) {
      BpttResult fresh = other.lossAndGradient(params, batch, null);
      for (BpttResult r : List.of(again, fresh)) {
        assertArrayEquals(first.gradients().gradient(), r.gradients().gradient(), "gradient");
        assertEquals(first.gradients().lossSum(), r.gradients().lossSum(), "loss sum");
        assertArrayEquals(first.finalState().h(), r.finalState().h(), "final h");
      }
    }
  }

  /**
   * On Aparapi's Java thread pool (always there, also under SPARKRNN_REQUIRE_OPENCL=1, so that CI
   * runs it) each thread runs its item of every work-group in turn, all groups sharing one local
   * array: without a barrier at the end of a product, a fast item staged the next group's tiles
   * over sums that slower items were still reading. GRU's cell epilogue reads other items' slots
   * (J = ⌊32/3⌋ = 10 units per 8 × 32 tile is not a multiple of its 8 items), so with many groups
   * (B·H = 12 × 67) the gate sums were overwritten by h values: results off the float64 reference,
   * and different from call to call.
   */
  @Test
  @org.junit.jupiter.api.Timeout(value = AparapiEngineTest.THREAD_POOL_TIMEOUT_S, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void threadPoolProductsDoNotOverwriteTilesStillBeingRead() {
    AparapiEngine pool = AparapiEngineTest.engine(DeviceChoice.JVM);
    AparapiEngineTest.Case c = new AparapiEngineTest.Case(CellType.GRU, 1, Mode.SEQ2SEQ, LossType.MSE, true, true);
    ModelConfig config = new ModelConfig(CellType.GRU, 1, F, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    for (int i = 0; i < 3; i++) {
      AparapiEngineTest.checkAgainstReference(pool, c, config, 6, 12);
    }
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, F, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    AparapiEngineTest.checkAgainstReference(pool, new AparapiEngineTest.Case(CellType.LSTM, 1, Mode.SEQ2SEQ, LossType.MSE, true,
        true), lstm, 6, 12);
  }

  /** At FINE (what spark-rnn --verbose turns on) each call logs what ran where: the launches by op and their time. */
  @Test
  void eachCallLogsItsExecutionReportAtFine() {
    Logger log = Logger.getLogger(AparapiEngine.class.getName());
    List<String> lines = new ArrayList<>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord r) {
        lines.add(r.getMessage());
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    ModelConfig config = new ModelConfig(CellType.RNN, 1, F, 8, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 3)));
    Batch batch = Fixtures.randomBatch(config, 3, 2, false, 4);
    AparapiEngine engine = AparapiEngineTest.engine(firstDevice());
    log.addHandler(capture);
    try {
      engine.lossAndGradient(params, batch, null);
      assertTrue(lines.isEmpty(), "nothing at INFO: " + lines);
      log.setLevel(Level.FINE);
      engine.lossAndGradient(params, batch, null);
      assertEquals(1, lines.size(), String.valueOf(lines));
      assertTrue(lines.get(0).startsWith("lossAndGradient: ") && lines.get(0).contains("ms by op"), lines.get(0));
    } finally {
      log.removeHandler(capture);
      log.setLevel(null);
    }
  }

  /**
   * Inputs stay on the device: a repeated call puts nothing; new parameters put the parameter
   * buffer alone (its whole length); the device's copy then serves the next call, whose result
   * equals a fresh engine's.
   */
  @Test
  void unchangedInputsAreNotPutAgain() {
    DeviceChoice device = firstDevice();
    ModelConfig config = new ModelConfig(CellType.GRU, 1, F, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    int size = new ParamLayout(config).size();
    Params p1 = new Params(config, toFloats(Fixtures.randomParams(size, 21)));
    Params p2 = new Params(config, toFloats(Fixtures.randomParams(size, 22)));
    Batch batch = Fixtures.randomBatch(config, 7, 4, true, 23);
    State initial = Fixtures.randomState(config, 4, 24);
    try (AparapiEngine engine = new AparapiEngine(Devices.resolve(device))) {
      engine.lossAndGradient(p1, batch, initial);
      assertTrue(engine.lastCallPutBytes() >= 4L * size, "the first call puts the parameters: " + engine.executionReport());
      engine.lossAndGradient(p1, batch, initial);
      assertEquals(0, engine.lastCallPutBytes(), "nothing changed, nothing put: " + engine.executionReport());
      BpttResult withP2 = engine.lossAndGradient(p2, batch, initial);
      assertEquals(4L * size, engine.lastCallPutBytes(), "only the parameters changed: " + engine.executionReport());
      try (AparapiEngine fresh = new AparapiEngine(Devices.resolve(device))) {
        assertArrayEquals(fresh.lossAndGradient(p2, batch, initial).gradients().gradient(), withP2.gradients().gradient());
      }
    }
  }

  /**
   * Each call gets back from the device what the engine's comment lists, once: forward the outputs
   * and the final states (h, and c for LSTM), lossAndGradient the loss rows, the gradient and the
   * final states. A fresh engine's buffers have exactly the call's sizes, so for LSTM, L = 2, T = 3,
   * B = 2, H = 5, O = 2, seq2seq: forward 4·(T·B·O + 2·L·B·H) = 4·(12 + 40) bytes, lossAndGradient
   * 4·(T·B + P + 2·L·B·H) with P parameters. (On PoCL the host arrays are the device buffers, so a
   * final c left unread would still look right there; on a GPU it would be the previous call's.)
   * A call run again after a garbage collection moved a buffer gets them again (reruns).
   */
  @Test
  void eachCallGetsItsResultsAndEveryFinalStateOnce() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 2, F, 5, 2, Mode.SEQ2SEQ, LossType.MSE);
    int size = new ParamLayout(config).size();
    Params params = new Params(config, toFloats(Fixtures.randomParams(size, 61)));
    Batch batch = Fixtures.randomBatch(config, 3, 2, true, 62);
    State initial = Fixtures.randomState(config, 2, 63);
    try (AparapiEngine engine = new AparapiEngine(Devices.resolve(firstDevice()))) {
      long runs = 1 - engine.reruns();
      engine.forward(params, batch, initial);
      runs += engine.reruns();
      assertEquals(runs * 4L * (3 * 2 * 2 + 2 * 2 * 2 * 5), engine.lastCallTransferBytes() - engine.lastCallPutBytes(),
          "forward: outputs, final h and c: " + engine.executionReport());
      runs = 1 - engine.reruns();
      engine.lossAndGradient(params, batch, initial);
      runs += engine.reruns();
      assertEquals(runs * 4L * (3 * 2 + size + 2 * 2 * 2 * 5), engine.lastCallTransferBytes() - engine.lastCallPutBytes(),
          "lossAndGradient: loss rows, gradient, final h and c: " + engine.executionReport());
    }
  }

  @Test
  void skinnyTilesKeepTheWorkGroupAndCoverTheProduct() {
    KernelSizes sizes = new KernelSizes(64, 64, 64, 256, 0);
    for (int[] mn : new int[][] {{1, 1024}, {1024, 1}, {3, 5}, {64, 64}, {3200, 1024}, {7, 300}}) {
      KernelSizes.Tile t = sizes.tileFor(mn[0], mn[1]);
      String what = "M=" + mn[0] + " N=" + mn[1] + ": " + t;
      assertTrue(t.m() * t.n() <= 64 * 64, what + ": no more work items per group");
      assertTrue(t.m() >= Math.min(mn[0], 64) && t.n() >= Math.min(mn[1], 64) || t.m() * t.n() == 64 * 64, what + ": covers it");
      assertTrue((long) (t.m() + t.n()) * t.k() <= sizes.localFloats(), what + ": within the local tile array");
      assertEquals(0, t.m() % BpttKernel.MICRO_M, what);
      assertEquals(0, t.n() % BpttKernel.MICRO_N, what);
      assertTrue(t.k() >= 1, what);
    }
    // (64 + 64)·256 = 32768 floats of local memory in every case: TK = 32768 / (TM + TN), down to a multiple of 8
    assertEquals(new KernelSizes.Tile(4, 256, 120), sizes.tileFor(1, 1024), "a row vector gets 4-row tiles, 4 of them");
    assertEquals(new KernelSizes.Tile(256, 8, 120), sizes.tileFor(1024, 1), "a column vector gets 8-column tiles, 4 of them");
    assertEquals(new KernelSizes.Tile(4, 64, 480), sizes.tileFor(1, 256), "a quarter of the side, but not narrower than the square tile");
    assertEquals(new KernelSizes.Tile(4, 32, 904), sizes.tileFor(2, 20), "no wider than the product");
    for (int[] mn : new int[][] {{1, 1024}, {1024, 1}, {3, 5}, {7, 300}, {64, 64}}) {
      assertEquals(0, sizes.tileFor(mn[0], mn[1]).k() % 8, "TK a multiple of 8 (aligned rows of B's tile) at M=" + mn[0] + " N=" + mn[1]);
    }
    assertThrows(IllegalArgumentException.class, () -> new KernelSizes(64, 6, 64, 256, 0));
    assertThrows(IllegalArgumentException.class, () -> new KernelSizes(64, 64, 64, 4, 0), "the C tile must fit");
  }

  /** The sizes of every device here fit its limits: items within the maximum work-group size, tiles within its local memory. */
  @Test
  void sizesFitEachDevicesLimits() {
    for (DeviceChoice choice : Devices.available()) {
      ResolvedDevice d = Devices.resolve(choice);
      KernelSizes sizes = KernelSizes.forDevice(d.device());
      assertTrue(sizes.gemmLocal() <= Math.max(KernelSizes.JVM_MAX_LOCAL, d.info().maxWorkGroupSize()), d.info() + ": " + sizes);
      assertTrue(sizes.elementwise() <= Math.max(KernelSizes.JVM_MAX_LOCAL, d.info().maxWorkGroupSize()), d.info() + ": " + sizes);
      if (d.isOpenCL()) {
        assertTrue(4L * sizes.localFloats() <= sizes.localMemBytes(), d.info() + ": " + sizes);
        assertTrue(sizes.gemmLocal() % 8 == 0 || d.info().maxWorkGroupSize() < 8, "a multiple of the preferred 8: " + sizes);
      }
    }
  }

  /**
   * Whatever maximum work-group size a driver reports, the groups stay within it: a product's items
   * (TM/4)·(TN/8) and the pointwise ops'. A device that allowed fewer items than the usual tile
   * (32 on a CPU, 16 on a GPU) got it anyway and failed its first launch. At the usual limits the
   * tiles are the ones the class comment gives.
   */
  @Test
  void sizesFitAnyLimitADriverReports() {
    for (boolean gpu : new boolean[] {true, false}) {
      for (int max : new int[] {1, 2, 3, 4, 6, 8, 12, 16, 24, 31, 32, 48, 64, 100, 128, 256, 1024, 4096}) {
        // local memory as reported: 48 KiB on NVIDIA GPUs, 512 KiB on PoCL
        KernelSizes sizes = KernelSizes.forOpenCl(gpu, max, (gpu ? 48 : 512) * 1024);
        String what = (gpu ? "GPU" : "CPU") + " maxWG=" + max + ": " + sizes.describe();
        assertTrue(sizes.gemmLocal() <= max && sizes.elementwise() <= max, what);
        assertTrue(sizes.gemmLocal() * 4 >= Math.min(max, 256), what + ": no smaller than a quarter of the limit");
        for (int[] mn : new int[][] {{1, 1024}, {1024, 1}, {3, 5}, {64, 64}, {3200, 1024}}) {
          KernelSizes.Tile t = sizes.tileFor(mn[0], mn[1]);
          assertTrue(t.m() / BpttKernel.MICRO_M * (t.n() / BpttKernel.MICRO_N) <= max, what + ", M=" + mn[0] + " N=" + mn[1] + ": " + t);
        }
      }
    }
    // a GPU: (32 + 64)·32 floats = 12 KiB, a quarter of 48 KiB; PoCL: (64 + 64)·128 floats = 64 KiB, an eighth of 512 KiB
    assertEquals("tiles 32x64 k 32 (64 items), pointwise 128 items, local memory 48 KiB",
        KernelSizes.forOpenCl(true, 1024, 48 * 1024).describe(), "a GPU");
    assertEquals("tiles 64x64 k 128 (128 items), pointwise 64 items, local memory 512 KiB",
        KernelSizes.forOpenCl(false, 4096, 512 * 1024).describe(), "PoCL");
  }

  /**
   * The sizes the class comment gives at the usual limits: an OpenCL CPU device that allows 128
   * items per group (its tile's (64/4)·(64/8) = 128) gets the full 64 × 64 tile; a GPU's TK is at
   * most 32, however much local memory it has (1 MiB: (32 + 64)·32·4 = 12 KiB, far below a quarter);
   * the Java thread pool 8 × 32 tiles ((8/4)·(32/8) = 8 items) with TK = 64.
   */
  @Test
  void theUsualTilesAtTheDocumentedLimits() {
    assertEquals("tiles 64x64 k 128 (128 items), pointwise 64 items, local memory 512 KiB",
        KernelSizes.forOpenCl(false, 128, 512 * 1024).describe(), "a CPU device allowing exactly 128 items");
    assertEquals("tiles 32x64 k 32 (64 items), pointwise 128 items, local memory 1024 KiB",
        KernelSizes.forOpenCl(true, 1024, 1024 * 1024).describe(), "a GPU with 1 MiB of local memory");
    assertEquals("tiles 8x32 k 64 (8 items), pointwise 8 items", KernelSizes.forDevice(JavaDevice.THREAD_POOL)
        .describe(), "the Java thread pool");
  }

  /**
   * A pointwise launch of n items is padded up to a whole number of groups, never down: ⌈n / local⌉
   * groups. n = 65 with groups of 64 needs two (128 items); one (64) would leave item 64 undone.
   */
  @Test
  void pointwiseLaunchesCoverEveryItem() {
    assertEquals(64, KernelSizes.roundUp(1, 64));
    assertEquals(64, KernelSizes.roundUp(64, 64));
    assertEquals(128, KernelSizes.roundUp(65, 64));
    assertEquals(128, KernelSizes.roundUp(127, 64));
    assertEquals(136, KernelSizes.roundUp(129, 8));
  }

  /**
   * Sizes one past a tile or a group: H = 65 with B = 1, so the state's B·H = 65 items are one more
   * than PoCL's pointwise group of 64, and the products with N = H = 65 columns (dh of each step)
   * one column more than their 64-wide tile. The last unit must be computed like every other.
   */
  @TestFactory
  Stream<DynamicTest> oneItemPastAGroupOrATileMatchesFloat64Reference() {
    DeviceChoice device = firstDevice();
    List<DynamicTest> tests = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      for (int layers : new int[] {1, 2}) {
        ModelConfig config = new ModelConfig(cell, layers, F, 65, 2, Mode.SEQ2SEQ, LossType.MSE);
        tests.add(DynamicTest.dynamicTest(cell.id() + " L=" + layers + " H=65 B=1 T=3", () -> AparapiEngineTest.checkAgainstReference(
            AparapiEngineTest.engine(device), new AparapiEngineTest.Case(cell, layers, Mode.SEQ2SEQ, LossType.MSE, false, true),
            config, 3, 1)));
      }
    }
    return tests.stream();
  }

  /**
   * The class comment's rules where they bite: a GPU's TK is the largest of 32, 16, 8 whose tiles
   * fit a quarter of its local memory, and below the usual group size the tile halves its wider
   * side first.
   */
  @Test
  void tileKFitsAQuarterOfAGpusLocalMemoryAndTheWiderSideHalvesFirst() {
    // a GPU allowing 32 items: the 16 × 32 tile ((16/4)·(32/8) = 16 items). 16 KiB of local memory, a
    // quarter 4096 bytes: (16 + 32)·TK floats = 192·TK bytes fit for TK = 16 (3072), not 32 (6144)
    KernelSizes small = KernelSizes.forOpenCl(true, 32, 16 * 1024);
    assertEquals(16, small.tileM(), small.describe());
    assertEquals(32, small.tileN(), small.describe());
    assertEquals(16, small.tileK(), small.describe());
    // a GPU allowing 8 items: the 16 × 32 tile has 16; its wider side, the 32 columns, halves first:
    // 16 × 16, (16/4)·(16/8) = 8 items
    KernelSizes eight = KernelSizes.forOpenCl(true, 8, 48 * 1024);
    assertEquals(16, eight.tileM(), eight.describe());
    assertEquals(16, eight.tileN(), eight.describe());
  }

  /**
   * A device with less local memory than the usual tiles were sized for. A 32 × 64 tile needs
   * TK ≥ 32·64 / (32 + 64) ≈ 21.3 for its C tile (so 32) and a 64 × 64 one TK ≥ 32; the "quarter"
   * (GPU) and "eighth" (CPU) shares of 32 KiB (ARM Mali, Adreno; Intel's CPU runtime) would give 16
   * and 8, which the constructor refused (an audit found it: every such device got no sizes at all).
   * The least TK's tiles fit the whole 32 KiB: 96·32·4 = 12 KiB and 128·32·4 = 16 KiB. With 8 KiB the
   * GPU's 32 × 64 tile does not fit, so its wider side halves: 32 × 32 needs TK ≥ 16, 64·16·4 = 4 KiB.
   * 100 bytes hold no tile at all (4 × 8 × 8: 12·8·4 = 384 bytes): refused naming the local memory.
   */
  @Test
  void aDeviceWithLessLocalMemoryGetsTilesThatFitIt() {
    assertEquals("tiles 32x64 k 32 (64 items), pointwise 128 items, local memory 32 KiB",
        KernelSizes.forOpenCl(true, 1024, 32 * 1024).describe(), "a GPU with 32 KiB");
    assertEquals("tiles 64x64 k 32 (128 items), pointwise 64 items, local memory 32 KiB",
        KernelSizes.forOpenCl(false, 4096, 32 * 1024).describe(), "a CPU device with 32 KiB");
    assertEquals("tiles 32x32 k 16 (32 items), pointwise 128 items, local memory 8 KiB",
        KernelSizes.forOpenCl(true, 1024, 8 * 1024).describe(), "a GPU with 8 KiB");
    for (long local : new long[] {32 * 1024, 8 * 1024, 2 * 1024, 384}) {
      for (boolean gpu : new boolean[] {true, false}) {
        KernelSizes sizes = KernelSizes.forOpenCl(gpu, gpu ? 1024 : 4096, local);
        assertTrue(sizes.localFloats() * 4L <= local, sizes.describe());
      }
    }
    BadInputException e = assertThrows(BadInputException.class, () -> KernelSizes.forOpenCl(true, 1024, 100));
    assertTrue(e.getMessage().contains("reports 100 bytes of local memory") && e.getMessage().contains("--device jvm"), e.getMessage());
  }

  /**
   * The kernels on a device that allows 8 items per group (PoCL told so by POCL_MAX_WORK_GROUP_SIZE,
   * in a child JVM: the setting is read when OpenCL starts) match the float64 reference, every launch
   * on OpenCL. Before, the first product launch failed there ("local size 32 exceeds maximum 8").
   */
  @Test
  void aDeviceWithSmallWorkGroupsComputesTheSameGradients() throws Exception {
    AparapiEngineTest.requireOpenClCpu("");
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), SmallWorkGroups.class.getName()));
    Path out = Files.createTempFile("small-work-groups", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().put("POCL_MAX_WORK_GROUP_SIZE", "8");
      Process p = pb.start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("the child JVM did not finish in 120 s: " + Files.readString(out));
      }
      String text = Files.readString(out);
      assertEquals(0, p.exitValue(), text);
      assertTrue(text.contains("maxWG=8") && text.contains("(8 items)") && text.contains("matched: 4 cases"), text);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Run in a child JVM by {@link #aDeviceWithSmallWorkGroupsComputesTheSameGradients}. */
  public static final class SmallWorkGroups {
    private SmallWorkGroups() {}

    public static void main(String[] args) {
      ResolvedDevice cpu = Devices.resolve(DeviceChoice.CPU_OPENCL);
      System.out.println("maxWG=" + cpu.info().maxWorkGroupSize());
      try (AparapiEngine engine = new AparapiEngine(cpu)) {
        System.out.println(engine.describe());
        List<Case> cases = List.of(new Case(CellType.LSTM, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, 3, 4),
            new Case(CellType.GRU, 1, Mode.SEQ2SEQ, LossType.MSE, 40, 8), new Case(CellType.RNN, 1, Mode.SEQ2SEQ, LossType.MSE, 1, 5),
            new Case(CellType.LSTM, 1, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, 40, 8));
        for (Case c : cases) {
          AparapiEngineTest.checkAgainstReference(engine, new AparapiEngineTest.Case(c.cell(), c.layers(), c.mode(), c.loss(), true,
              true), c.config(), c.steps(), c.batch());
        }
        System.out.println("matched: " + cases.size() + " cases");
      }
    }
  }

  private static DeviceChoice firstDevice() {
    List<DeviceChoice> devices = AparapiEngineTest.matrixDevices();
    if (devices.isEmpty()) {
      fail("SPARKRNN_REQUIRE_OPENCL=1 but Aparapi finds no OpenCL device: " + Devices.list());
    }
    return devices.get(0);
  }
}
