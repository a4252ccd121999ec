package io.sparkrnn.data.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.FeatureNames;
import io.sparkrnn.data.Split;
import org.junit.jupiter.api.Test;

/**
 * The pass-2 plan of {@link SequenceTables} without Spark, against its documented layout: shard i
 * of a split holds that split's sequences i·B … i·B + B − 1 (the last shard the rest), training
 * shards come first in the file numbering, and global index g lies in "the last bucket b with
 * offsets[b] ≤ g".
 *
 * <p>Fixture, by hand: B = 3; 7 training sequences in N = 2 buckets of 4 and 3 (offsets 0, 4, 7),
 * 4 validation sequences all in bucket 1 (bucket 0 empty: offsets 0, 0, 4).
 * Training shards: {0,1,2} {3,4,5} {6} = sizes 3, 3, 1, files 0, 1, 2.
 * Validation shards: {0,1,2} {3} = sizes 3, 1, files 3, 4.
 */
class ShardLayoutPlanTest {
  static final SequenceTables.Plan PLAN = new SequenceTables.Plan(null, null, 3,
      new long[][] {{0, 4, 7}, {0, 0, 4}}, new long[] {7, 4}, "unused", FeatureNames.NONE);

  @Test
  void shardCountsAndSizesAreTheCeilingOfCountOverBAndTheRemainder() {
    assertEquals(3, PLAN.shards(Split.TRAIN), "⌈7 / 3⌉");
    assertEquals(2, PLAN.shards(Split.VALIDATION), "⌈4 / 3⌉");
    assertEquals(5, PLAN.shards());
    assertEquals(3, PLAN.size(Split.TRAIN, 0));
    assertEquals(3, PLAN.size(Split.TRAIN, 1));
    assertEquals(1, PLAN.size(Split.TRAIN, 2), "7 − 2·3");
    assertEquals(3, PLAN.size(Split.VALIDATION, 0));
    assertEquals(1, PLAN.size(Split.VALIDATION, 1), "4 − 1·3");
  }

  @Test
  void trainingShardsAreNumberedFirstThenValidationShards() {
    assertEquals(0, PLAN.fileIndex(Split.TRAIN, 0));
    assertEquals(2, PLAN.fileIndex(Split.TRAIN, 2));
    assertEquals(3, PLAN.fileIndex(Split.VALIDATION, 0), "after the 3 training shards");
    assertEquals(4, PLAN.fileIndex(Split.VALIDATION, 1));
  }

  @Test
  void aGlobalIndexLiesInTheLastBucketWhoseOffsetIsAtMostIt() {
    assertEquals(0, PLAN.bucketOf(Split.TRAIN, 0));
    assertEquals(0, PLAN.bucketOf(Split.TRAIN, 3), "offsets 0, 4: index 3 is bucket 0's last");
    assertEquals(1, PLAN.bucketOf(Split.TRAIN, 4), "offset[1] = 4 ≤ 4: bucket 1's first");
    assertEquals(1, PLAN.bucketOf(Split.TRAIN, 6));
    assertEquals(1, PLAN.bucketOf(Split.VALIDATION, 0), "bucket 0 is empty (offsets 0, 0): index 0 is bucket 1's");
    assertEquals(1, PLAN.bucketOf(Split.VALIDATION, 3));
  }

  @Test
  void aShardStraddlesWhenItsFirstAndLastSequenceLieInDifferentBuckets() {
    assertFalse(PLAN.straddles(Split.TRAIN, 0), "sequences 0..2, all in bucket 0");
    assertTrue(PLAN.straddles(Split.TRAIN, 1), "sequences 3..5: 3 in bucket 0, 4 and 5 in bucket 1");
    assertFalse(PLAN.straddles(Split.TRAIN, 2), "sequence 6 alone");
    assertFalse(PLAN.straddles(Split.VALIDATION, 0), "sequences 0..2, all in bucket 1");
    assertFalse(PLAN.straddles(Split.VALIDATION, 1), "sequence 3 alone");
  }
}
