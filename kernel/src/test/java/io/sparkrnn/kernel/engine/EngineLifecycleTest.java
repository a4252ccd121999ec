package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Engines of every device created, used on shapes that grow and shrink their buffers, and closed,
 * many times over in one JVM, with two alive at once and the garbage collector run between rounds
 * (so cleaners of released native buffers run while other engines work) — the life of engines in
 * {@code bench} and in a long-lived executor. Issue 16, item 10: {@code bench} once died with
 * SIGSEGV between one shape's last engine and the next shape's first; a crash here fails the
 * whole test JVM. Every round must also give the first round's bits on each device.
 */
class EngineLifecycleTest {
  static final boolean REQUIRE_OPENCL = "1".equals(System.getenv("SPARKRNN_REQUIRE_OPENCL"));
  static final int ROUNDS = 25;

  /** (engine, device) pairs: the reference, the JVM engine, and the kernels on every OpenCL device found. */
  static List<String[]> kinds() {
    List<String[]> kinds = new ArrayList<>();
    kinds.add(new String[] {"reference", "jvm"});
    kinds.add(new String[] {"kernel", "jvm"});
    for (DeviceChoice d : Devices.available()) {
      if (d != DeviceChoice.JVM) {
        kinds.add(new String[] {"kernel", d.id()});
      }
    }
    return kinds;
  }

  @Test
  void enginesOfEveryDeviceSurviveManyCreateUseCloseCyclesAndGiveTheSameBits() {
    List<String[]> kinds = kinds();
    if (REQUIRE_OPENCL) {
      assertFalse(kinds.size() == 2, "SPARKRNN_REQUIRE_OPENCL=1 but Aparapi finds no OpenCL device: " + Devices.list());
    }
    // a small RNN, then a larger LSTM (buffers grow), then the RNN again (buffers reused)
    ModelConfig[] shapes = {new ModelConfig(CellType.RNN, 1, 2, 8, 1, Mode.SEQ2SEQ, LossType.MSE),
        new ModelConfig(CellType.LSTM, 2, 3, 16, 2, Mode.SEQ2SEQ, LossType.MSE)};
    Map<String, double[]> first = new HashMap<>();
    for (int round = 0; round < ROUNDS; round++) {
      for (int k = 0; k < kinds.size(); k++) {
        String[] kind = kinds.get(k);
        String[] next = kinds.get((k + 1) % kinds.size());
        // two engines alive at once: this kind's and the next kind's, closed in the order they were opened
        try (BpttEngine engine = Engines.create(kind[0], kind[1]); BpttEngine other = Engines.create(next[0], next[1])) {
          for (int s : new int[] {0, 1, 0}) {
            String name = kind[0] + "/" + kind[1] + " " + shapes[s].cell().id();
            check(first, name, run(engine, shapes[s], s));
            check(first, next[0] + "/" + next[1] + " " + shapes[s].cell().id(), run(other, shapes[s], s));
          }
        }
      }
      System.gc();                                       // cleaners of the closed engines' buffers run now
    }
    assertEquals(2 * kinds.size(), first.size(), "every (device, shape) ran: " + first.keySet());
  }

  /** The loss and the gradient of a seeded batch, as float64 values. */
  static double[] run(BpttEngine engine, ModelConfig config, int seed) {
    Params params = Params.initialize(config, 7 + seed);
    Batch batch = Fixtures.randomBatch(config, 5, 3, true, 11 + seed);
    GradientSum r = engine.lossAndGradient(params, batch, null).gradients();
    double[] g = r.gradient();
    double[] out = new double[g.length + 1];
    out[0] = r.lossSum();
    System.arraycopy(g, 0, out, 1, g.length);
    return out;
  }

  static void check(Map<String, double[]> first, String name, double[] got) {
    double[] before = first.putIfAbsent(name, got);
    if (before != null) {
      assertArrayEquals(before, got, 0.0, name + ": the same bits in every round");
    }
  }
}
