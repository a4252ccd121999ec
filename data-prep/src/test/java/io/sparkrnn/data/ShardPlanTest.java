package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.ShardPlan.Entry;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ShardPlan against docs/data-format.md "Splits": the last V = round(N · fraction) sequences (at
 * least 1 when the fraction is positive and N ≥ 2) are validation, the rest training; each split is
 * cut into shards of B, the last one smaller; training shards are numbered first.
 */
class ShardPlanTest {
  @Test
  void validationIsTheRoundedShareTakenFromTheEnd() {
    // N = 9, fraction 0.3: V = round(2.7) = 3, training 6 = one shard of 4 and the remainder 2
    assertEquals(List.of(new Entry(0, Split.TRAIN, 0, 4), new Entry(1, Split.TRAIN, 4, 2),
        new Entry(2, Split.VALIDATION, 6, 3)), ShardPlan.plan(9, 4, 0.3));
  }

  @Test
  void eachSplitEndsWithItsOwnSmallerShard() {
    // N = 11, fraction 0.4: V = round(4.4) = 4, training 7 = 3 + 3 + 1, validation 4 = 3 + 1
    assertEquals(List.of(new Entry(0, Split.TRAIN, 0, 3), new Entry(1, Split.TRAIN, 3, 3), new Entry(2, Split.TRAIN, 6, 1),
        new Entry(3, Split.VALIDATION, 7, 3), new Entry(4, Split.VALIDATION, 10, 1)), ShardPlan.plan(11, 3, 0.4));
  }

  @Test
  void aPositiveFractionGivesAtLeastOneValidationSequenceFromTwoOn() {
    // round(2 · 0.1) = 0, raised to 1
    assertEquals(List.of(new Entry(0, Split.TRAIN, 0, 1), new Entry(1, Split.VALIDATION, 1, 1)), ShardPlan.plan(2, 4, 0.1));
    // one sequence stays for training
    assertEquals(List.of(new Entry(0, Split.TRAIN, 0, 1)), ShardPlan.plan(1, 4, 0.1));
  }

  @Test
  void aFractionThatLeavesNoTrainingIsRefused() {
    // round(3 · 0.9) = 3 = N
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardPlan.plan(3, 2, 0.9));
    assertTrue(e.getMessage().contains("leaves no training sequences of 3"), e.getMessage());
  }
}
