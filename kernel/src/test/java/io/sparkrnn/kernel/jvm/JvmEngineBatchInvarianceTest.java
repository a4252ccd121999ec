package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A sequence's forward outputs and final state must not depend on which other sequences share its
 * batch: {@code RnnModel.transform} scores the keys a task happens to hold, and its predictions
 * must not depend on the partitioning. The engine's kernels give this by construction — the
 * matrix product sums each row over k in the same order whatever M is, and the activations are
 * lane by lane with a tail that rounds as the vector lanes do — and this test holds them to it:
 * each sequence run alone (B = 1, from its own initial state) gives the same bits as inside a
 * batch of B = 13 (unequal lengths, nonzero initial states), for both kernel sets, at a hidden
 * size that is not a multiple of the vector width (the scalar tails run).
 */
class JvmEngineBatchInvarianceTest {
  static final int B = 13;
  static final int T = 9;

  @ParameterizedTest
  @EnumSource(CellType.class)
  void aSequenceAloneGivesTheSameBitsAsInsideABatchOfOthers(CellType cell) {
    for (Mode mode : Mode.values()) {
      for (MathKernels math : new MathKernels[] {MathKernels.best(), MathKernels.scalar()}) {
        check(new ModelConfig(cell, 2, 3, 21, 2, mode, LossType.MSE), math);
      }
    }
  }

  private static void check(ModelConfig config, MathKernels math) {
    int F = config.inputSize();
    int O = config.outputSize();
    Params params = Params.initialize(config, 3);
    SplittableRandom rnd = new SplittableRandom(17);
    float[] x = new float[T * B * F];                    // [T][B][F]
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    int[] lengths = new int[B];
    for (int b = 0; b < B; b++) {
      lengths[b] = 1 + rnd.nextInt(T);
    }
    lengths[B / 2] = T;
    State initial = State.zeros(config, B);
    for (float[] s : new float[][] {initial.h(), initial.c()}) {
      for (int i = 0; s != null && i < s.length; i++) {
        s[i] = (float) (0.5 * rnd.nextGaussian());
      }
    }
    String what = config.cell() + " " + config.mode() + " " + math.describe();
    try (JvmEngine engine = new JvmEngine(math, 1)) {
      ForwardResult all = engine.forward(params, new Batch(T, B, F, x, null, null, lengths), initial);
      float[] allOut = all.outputs().clone();
      State allFinal = all.finalState().copy();
      for (int b = 0; b < B; b++) {
        int n = lengths[b];
        float[] xb = new float[n * F];
        for (int t = 0; t < n; t++) {
          System.arraycopy(x, (t * B + b) * F, xb, t * F, F);
        }
        ForwardResult alone = engine.forward(params, Batch.inputsOnly(n, 1, F, xb), initial.sequences(b, b + 1));
        float[] want = new float[config.mode() == Mode.SEQ2SEQ ? n * O : O];
        for (int t = 0; t < want.length / O; t++) {
          int row = config.mode() == Mode.SEQ2SEQ ? t * B + b : b;
          System.arraycopy(allOut, row * O, want, t * O, O);
        }
        assertArrayEquals(want, alone.outputs(), what + ": outputs of sequence " + b + " (length " + n + ")");
        State mine = allFinal.sequences(b, b + 1);
        assertArrayEquals(mine.h(), alone.finalState().h(), what + ": final h of sequence " + b);
        assertArrayEquals(mine.c(), alone.finalState().c(), what + ": final c of sequence " + b);
      }
    }
  }
}
