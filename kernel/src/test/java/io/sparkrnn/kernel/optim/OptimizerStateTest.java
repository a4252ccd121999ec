package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.NumericAssert.assertBitsEqual;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class OptimizerStateTest {
  static final int P = 7;
  static final int STEPS = 5;
  static final int SPLIT = 2;

  @Test
  void adamResumeFromSerialisedStateIsBitIdentical() {
    checkResume(() -> new Adam(0.01, 0.9, 0.999, 1e-8, 0.05, false), List.of("exp_avg", "exp_avg_sq"));
  }

  @Test
  void adamWResumeFromSerialisedStateIsBitIdentical() {
    checkResume(() -> Adam.adamW(0.01), List.of("exp_avg", "exp_avg_sq"));
  }

  @Test
  void sgdWithMomentumResumeFromSerialisedStateIsBitIdentical() {
    checkResume(() -> new Sgd(0.05, 0.9, 0, 0.01, true), List.of("momentum_buffer"));
  }

  @Test
  void plainSgdHasNoBuffersAndStillCountsSteps() {
    checkResume(() -> new Sgd(0.05), List.of());
  }

  /** Runs STEPS steps straight, and SPLIT steps → state → bytes → a new optimizer → the rest. */
  private static void checkResume(Supplier<Optimizer> make, List<String> bufferNames) {
    float[][] grads = new float[STEPS][P];
    SplittableRandom random = new SplittableRandom(7);
    for (float[] g : grads) {
      for (int i = 0; i < P; i++) {
        g[i] = (float) (random.nextDouble() * 2 - 1);
      }
    }
    float[] start = new float[P];
    for (int i = 0; i < P; i++) {
      start[i] = (float) (random.nextDouble() - 0.5);
    }

    Optimizer straight = make.get();
    float[] p1 = start.clone();
    for (float[] g : grads) {
      straight.step(p1, g);
    }

    Optimizer first = make.get();
    float[] p2 = start.clone();
    for (int t = 0; t < SPLIT; t++) {
      first.step(p2, grads[t]);
    }
    byte[] bytes = first.state().toBytes();
    OptimizerState restored = OptimizerState.fromBytes(bytes, "test.safetensors");
    assertEquals(SPLIT, restored.step());
    assertEquals(bufferNames, restored.bufferNames());
    assertArrayEquals(bytes, restored.toBytes(), "serialisation is deterministic");
    Optimizer resumed = make.get();
    resumed.load(restored);
    for (int t = SPLIT; t < STEPS; t++) {
      resumed.step(p2, grads[t]);
    }

    assertBitsEqual(p1, p2, first.kind() + " parameters after resume");
    assertEquals(STEPS, resumed.stepCount());
    OptimizerState a = straight.state();
    OptimizerState b = resumed.state();
    for (String name : bufferNames) {
      assertBitsEqual(a.buffer(name), b.buffer(name), first.kind() + " " + name);
    }
    assertArrayEquals(a.toBytes(), b.toBytes());
  }

  @Test
  void stateIsACopy() {
    Adam adam = Adam.adam(0.1);
    float[] p = {1f};
    adam.step(p, new float[] {1f});
    OptimizerState s = adam.state();
    adam.step(p, new float[] {1f});
    assertEquals(1, s.step());
    assertTrue(s.buffer("exp_avg")[0] != adam.state().buffer("exp_avg")[0]);
  }

  @Test
  void sgdMomentumBufferIsAbsentBeforeTheFirstStep() {
    Sgd sgd = new Sgd(0.1, 0.9, 0, 0, false);
    assertFalse(sgd.state().hasBuffer("momentum_buffer"));
    sgd.step(new float[1], new float[] {1f});
    assertTrue(sgd.state().hasBuffer("momentum_buffer"));
  }

  @Test
  void loadingAnotherKindIsRefused() {
    OptimizerState sgdState = new Sgd(0.1).state();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Adam.adam(0.1).load(sgdState));
    assertTrue(e.getMessage().contains("sgd"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Adam.adamW(0.1).load(Adam.adam(0.1).state()));
  }

  @Test
  void stepAfterLoadChecksTheParameterCount() {
    Adam a = Adam.adam(0.1);
    a.step(new float[3], new float[3]);
    Adam b = Adam.adam(0.1);
    b.load(a.state());
    assertThrows(IllegalArgumentException.class, () -> b.step(new float[4], new float[4]));
  }

  @Test
  void metadataCarriesKindStepAndHyperparameters() {
    Adam a = Adam.adam(0.1);
    a.step(new float[2], new float[] {1f, 2f});
    var m = a.state().toMetadata("optimizer");
    assertEquals("adam", m.get("optimizer.kind"));
    assertEquals("1", m.get("optimizer.step"));
    assertEquals("0.1", m.get("optimizer.lr"));
  }
}
