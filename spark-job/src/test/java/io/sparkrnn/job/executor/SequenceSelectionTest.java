package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import org.junit.jupiter.api.Test;

/** Gathering a step's chosen sequences out of shards, cut to a truncated-BPTT window: values and lengths by hand. */
class SequenceSelectionTest {
  /**
   * A shard of T = 6, B = 3, F = 2, O = 1, x[t][b] = (100·shard + 10·b + t, −that), y[t][b] = 1000·shard + 10·b + t;
   * row lengths 6, 4 and 1.
   */
  static Batch shard(int id) {
    int T = 6, B = 3;
    float[] x = new float[T * B * 2];
    float[] y = new float[T * B];
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        x[(t * B + b) * 2] = 100 * id + 10 * b + t;
        x[(t * B + b) * 2 + 1] = -(100 * id + 10 * b + t);
        y[t * B + b] = 1000 * id + 10 * b + t;
      }
    }
    return new Batch(T, B, 2, x, y, null, new int[] {6, 4, 1});
  }

  @Test
  void aWindowTakesItsOwnTimeStepsAndEachSequencesLengthLessTheWindowsStart() {
    ModelConfig seq = new ModelConfig(CellType.GRU, 1, 2, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    // the batch: (shard 7, row 2), (shard 7, row 0), (shard 9, row 1); gather positions 2 and 0 over the window [3, 6)
    int[] shards = {7, 7, 9};
    int[] rows = {2, 0, 1};
    Batch b = SequenceSelection.gather(seq, SequenceSelectionTest::shard, shards, rows, new int[] {2, 0}, 3, 3);
    assertEquals(3, b.steps());
    assertEquals(2, b.batchSize());
    // lengths: shard 9 row 1 has 4 steps, 1 of them at t ≥ 3; shard 7 row 2 has 1 step, none in the window
    assertArrayEquals(new int[] {1, 0}, new int[] {b.length(0), b.length(1)});
    float[] x = {
        913, -913, 723, -723,   // t = 3: (shard 9, row 1), (shard 7, row 2)
        914, -914, 724, -724,   // t = 4
        915, -915, 725, -725};  // t = 5
    assertArrayEquals(x, b.x());
    assertArrayEquals(new float[] {9013, 7023, 9014, 7024, 9015, 7025}, b.targets());

    // the first window [0, 3): row 0 of shard 7 is full there, row 2 has 1 step
    Batch first = SequenceSelection.gather(seq, SequenceSelectionTest::shard, shards, rows, new int[] {0, 1}, 0, 3);
    assertArrayEquals(new int[] {1, 3}, new int[] {first.length(0), first.length(1)});
    assertArrayEquals(new float[] {7020, 7000, 7021, 7001, 7022, 7002}, first.targets());
  }

  @Test
  void aWindowWhereEverySequenceIsWholeHasNoLengthsAndSeq2oneTakesTheRowsTarget() {
    ModelConfig one = new ModelConfig(CellType.RNN, 1, 2, 4, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch shard = new Batch(4, 2, 2, new float[] {0, 0, 10, -10, 1, -1, 11, -11, 2, -2, 12, -12, 3, -3, 13, -13},
        new float[] {5, 6}, null, null);
    Batch b = SequenceSelection.gather(one, s -> shard, new int[] {0, 0}, new int[] {1, 0}, new int[] {0, 1}, 0, 4);
    assertNull(b.lengths(), "both whole");
    assertArrayEquals(new float[] {6, 5}, b.targets(), "row 1's target, then row 0's");
    assertArrayEquals(new float[] {10, -10, 0, 0, 11, -11, 1, -1, 12, -12, 2, -2, 13, -13, 3, -3}, b.x());
  }
}
