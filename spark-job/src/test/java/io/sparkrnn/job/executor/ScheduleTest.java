package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The schedule's contract (its class comment): sequences numbered in manifest order, epoch e in
 * the Fisher–Yates permutation of SplittableRandom(seed + e), batch k the permuted positions
 * [kB, (k+1)B), the last partial batch dropped, the W windows of a batch on the same sequences.
 */
class ScheduleTest {
  /** Training shards 3, 5 and 6 of a manifest, holding 5, 3 and 5 sequences: 13 in all. */
  static final int[] SHARDS = {3, 5, 6};
  static final int[] ROWS = {5, 3, 5};

  /** Sequence id k as (shard, row), by hand: 0..4 shard 3, 5..7 shard 5, 8..12 shard 6. */
  static long id(int shard, int row) {
    return switch (shard) {
      case 3 -> row;
      case 5 -> 5 + row;
      case 6 -> 8 + row;
      default -> throw new AssertionError("shard " + shard + " is not a training shard");
    };
  }

  /** The epoch's permutation as the class comment defines it, written out here. */
  static int[] fisherYates(int n, long seed) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = n - 1; i >= 1; i--) {
      int j = r.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  static long[] ids(Schedule.Chosen c) {
    long[] out = new long[c.shards().length];
    for (int i = 0; i < out.length; i++) {
      out[i] = id(c.shards()[i], c.rows()[i]);
    }
    return out;
  }

  @Test
  void eachEpochVisitsEverySequenceOnceInTheSeededOrderAndDropsThePartialBatch() {
    long seed = 1234;
    Schedule s = new Schedule(SHARDS, ROWS, 4, seed, 20, 0);
    assertEquals(3, s.stepsPerEpoch(), "⌊13 / 4⌋ full batches, the 13th sequence left out");
    for (int epoch = 0; epoch < 3; epoch++) {
      int[] perm = fisherYates(13, seed + epoch);
      boolean[] seen = new boolean[13];
      for (int k = 0; k < 3; k++) {
        long step = 3L * epoch + k;
        assertEquals(epoch, s.epochOf(step));
        long[] expected = new long[4];
        for (int i = 0; i < 4; i++) {
          expected[i] = perm[4 * k + i];
        }
        Arrays.sort(expected); // a batch lists its sequences in manifest order
        long[] got = ids(s.sequences(step));
        assertArrayEquals(expected, got, "epoch " + epoch + ", batch " + k);
        for (long g : got) {
          assertFalse(seen[(int) g], "sequence " + g + " twice in epoch " + epoch);
          seen[(int) g] = true;
        }
      }
      int unseen = 0;
      for (boolean b : seen) {
        unseen += b ? 0 : 1;
      }
      assertEquals(1, unseen, "epoch " + epoch + ": all but the dropped sequence");
      assertEquals(perm[12], indexOfFalse(seen), "the dropped one is the permutation's last");
    }
  }

  static int indexOfFalse(boolean[] b) {
    for (int i = 0; i < b.length; i++) {
      if (!b[i]) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void theSeedAndTheEpochBothChangeTheOrder() {
    Schedule a = new Schedule(SHARDS, ROWS, 4, 7, 20, 0);
    Schedule b = new Schedule(SHARDS, ROWS, 4, 8, 20, 0);
    // SplittableRandom(7 + 1) is epoch 1 of seed 7 and epoch 0 of seed 8: the same batches, by the contract
    assertArrayEquals(ids(a.sequences(3)), ids(b.sequences(0)));
    boolean epochsDiffer = false, seedsDiffer = false;
    for (int k = 0; k < 3; k++) {
      epochsDiffer |= !Arrays.equals(ids(a.sequences(k)), ids(a.sequences(3 + k)));
      seedsDiffer |= !Arrays.equals(ids(a.sequences(k)), ids(b.sequences(k)));
    }
    assertTrue(epochsDiffer, "epoch 1 is another order than epoch 0");
    assertTrue(seedsDiffer, "seed 8 is another order than seed 7");
  }

  @Test
  void theWindowsOfABatchTrainTheSameSequencesOneAfterTheOther() {
    // T = 10 in windows of k = 4: [0, 4), [4, 8), [8, 10); W = 3 steps per batch, 3 batches per epoch
    Schedule s = new Schedule(SHARDS, ROWS, 4, 99, 10, 4);
    assertEquals(3, s.windowsPerBatch());
    assertEquals(9, s.stepsPerEpoch());
    int[] starts = {0, 4, 8};
    int[] lengths = {4, 4, 2};
    int[] perm = fisherYates(13, 99);
    for (long step = 0; step < 12; step++) {
      int w = (int) (step % 3);
      assertEquals(starts[w], s.windowStart(step), "step " + step);
      assertEquals(lengths[w], s.windowLength(step), "step " + step);
      assertEquals(w == 0, s.startsBatch(step), "step " + step);
      long batch = step / 3;
      long[] expected = new long[4];
      for (int i = 0; i < 4; i++) {
        expected[i] = batch < 3 ? perm[(int) (4 * batch + i)] : fisherYates(13, 100)[i];
      }
      Arrays.sort(expected);
      assertArrayEquals(expected, ids(s.sequences(step)), "step " + step);
    }
  }

  @Test
  void withBatchOneTheStepsFollowThePermutationItself() {
    // B = 1: no sorting inside a batch hides the order; step k trains the k-th sequence of the permutation
    for (long seed = 0; seed < 8; seed++) { // every swap of the shuffle shows, its last (positions 0 and 1) in about half the seeds
      Schedule s = new Schedule(SHARDS, ROWS, 1, seed, 20, 0);
      assertEquals(13, s.stepsPerEpoch());
      for (int epoch = 0; epoch < 2; epoch++) {
        int[] perm = fisherYates(13, seed + epoch);
        for (int k = 0; k < 13; k++) {
          assertArrayEquals(new long[] {perm[k]}, ids(s.sequences(13L * epoch + k)), "seed " + seed + ", epoch " + epoch + ", step " + k);
        }
      }
    }
  }

  @Test
  void aBatchLargerThanTheTrainingSplitIsRefusedNamingBatch() {
    // 13 training sequences: B = 13 is one batch an epoch, B = 14 cannot fill one
    assertEquals(1, new Schedule(SHARDS, ROWS, 13, 1, 20, 0).stepsPerEpoch());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Schedule(SHARDS, ROWS, 14, 1, 20, 0));
    assertTrue(e.getMessage().startsWith("batch: 14") && e.getMessage().contains("only 13"), e.getMessage());
  }

  /**
   * Shards that hold no training sequence (a shard of the validation split listed with 0 rows) take
   * no sequence id: ids follow the non-empty shards in manifest order, each shard's rows in order.
   * Expected by expanding the shards into one (shard, row) list by hand.
   */
  @Test
  void emptyShardsTakeNoSequenceIds() {
    int[] shards = {0, 1, 2, 3, 4, 5};
    int[] rows = {0, 2, 0, 0, 3, 1};
    int[][] byId = {{1, 0}, {1, 1}, {4, 0}, {4, 1}, {4, 2}, {5, 0}};
    Schedule s = new Schedule(shards, rows, 1, 5, 20, 0);
    int[] perm = fisherYates(6, 5);
    for (int k = 0; k < 6; k++) {
      Schedule.Chosen c = s.sequences(k);
      assertArrayEquals(byId[perm[k]], new int[] {c.shards()[0], c.rows()[0]}, "step " + k + ", sequence " + perm[k]);
    }
  }

  /**
   * What a barrier segment's broadcast ships of the schedule grows with the shards, not the
   * sequences (docs/SCALING.md): it held two int arrays, 8 bytes a training sequence (8 MB for a
   * million), re-sent with every segment. The epoch's permutation is drawn where it is used, never
   * shipped, also after a step has drawn it.
   */
  @Test
  void theSerializedScheduleGrowsWithTheShardsNotTheSequences() throws Exception {
    Schedule s = new Schedule(new int[] {0, 1}, new int[] {500_000, 500_000}, 64, 1, 20, 0);
    s.sequences(0);   // draws epoch 0's permutation (4 MB), which stays on this side
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream o = new java.io.ObjectOutputStream(bytes)) {
      o.writeObject(s);
    }
    assertTrue(bytes.size() < 2_000, bytes.size() + " bytes for 2 shards of a million sequences");
    Schedule back;
    try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
      back = (Schedule) in.readObject();
    }
    for (long step : new long[] {0, 1, 15_624, 15_625, 40_000}) {
      assertEquals(Arrays.toString(s.sequences(step).shards()) + Arrays.toString(s.sequences(step).rows()),
          Arrays.toString(back.sequences(step).shards()) + Arrays.toString(back.sequences(step).rows()), "step " + step);
    }
  }

  /** More training sequences than an int array holds is refused by count, before any allocation (the cast wrapped). */
  @Test
  void aSplitPastAnArraysSizeIsRefusedNamingTheCount() {
    long total = (long) Integer.MAX_VALUE + 3;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Schedule(new int[] {0, 1}, new int[] {Integer.MAX_VALUE, 3}, 64, 1, 20, 0));
    assertTrue(e.getMessage().startsWith("data: the training split holds " + total + " sequences"), e.getMessage());
  }

  /**
   * The limit is docs/SCALING.md's: a split of more than 2^31 − 9 sequences is refused, so one of
   * 2^31 − 8 (within an int, below the array limit the guard is for) is refused by count too, before
   * any allocation.
   */
  @Test
  void aSplitOneSequencePastTheLimitIsRefused() {
    long total = (1L << 31) - 8;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Schedule(new int[] {0}, new int[] {(int) total}, 64, 1, 20, 0));
    assertTrue(e.getMessage().startsWith("data: the training split holds " + total + " sequences"), e.getMessage());
  }
}
