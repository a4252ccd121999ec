package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The accumulator without Spark: as its class comment says, later wins, per partition and per executor's counters. */
class ShardPlacementTest {
  static final String ONE = "executor_10.0.0.1_1";
  static final String TWO = "executor_10.0.0.2_2";

  /** Counters of one JVM only grow: a snapshot reported late (taken early) must not replace a later one. */
  @Test
  void anExecutorsCountersAreTheLatestWhateverOrderTheTasksReportIn() {
    ShardCache.Stats early = new ShardCache.Stats(1, 0, 2, 0, 0, 0, 2_000, 10_000, 3_000);
    ShardCache.Stats late = new ShardCache.Stats(4, 1, 2, 1, 1, 0, 3_000, 10_000, 6_000);
    ShardPlacement acc = new ShardPlacement();
    acc.add(new ShardPlacement.Seen(0, ONE, late));
    acc.add(new ShardPlacement.Seen(1, ONE, early));
    assertEquals(late, acc.value().executors().get(ONE));
    assertEquals(ONE, acc.value().partitions().get(1));
  }

  /** Merges come in task completion order: partition 0 ran on ONE, then on TWO; the next step prefers TWO. */
  @Test
  void aPartitionsLaterLocationReplacesItsEarlierOneOnMerge() {
    ShardCache.Stats s = new ShardCache.Stats(0, 0, 1, 0, 0, 0, 1_000, 10_000, 1_000);
    ShardPlacement driver = new ShardPlacement();
    ShardPlacement first = new ShardPlacement();
    first.add(new ShardPlacement.Seen(0, ONE, s));
    ShardPlacement second = new ShardPlacement();
    second.add(new ShardPlacement.Seen(0, TWO, s));
    driver.merge(first);
    driver.merge(second);
    assertEquals(TWO, driver.value().partitions().get(0));
    assertEquals(2, driver.value().executors().size(), "both executors' counters are kept");
  }
}
