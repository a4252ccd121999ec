package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import org.junit.jupiter.api.Test;

/** The accumulator without Spark: as its class comment says, later wins, per partition and per executor's counters. */
class ShardPlacementTest {
  static final String ONE = "executor_10.0.0.1_1";
  static final String TWO = "executor_10.0.0.2_2";
  /** One executor's counters, an early snapshot and a later one (every count at least the early one's). */
  static final ShardCache.Stats EARLY = new ShardCache.Stats(1, 0, 2, 0, 0, 0, 2_000, 10_000, 3_000);
  static final ShardCache.Stats LATE = new ShardCache.Stats(4, 1, 2, 1, 1, 0, 3_000, 10_000, 6_000);

  /** Counters of one JVM only grow: a snapshot reported late (taken early) must not replace a later one. */
  @Test
  void anExecutorsCountersAreTheLatestWhateverOrderTheTasksReportIn() {
    ShardPlacement acc = new ShardPlacement();
    acc.add(new ShardPlacement.Seen(0, ONE, LATE));
    acc.add(new ShardPlacement.Seen(1, ONE, EARLY));
    assertEquals(LATE, acc.value().executors().get(ONE));
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

  /** Within one task's adds too, later wins: partition 0 ran on ONE, then on TWO (add, without a merge). */
  @Test
  void aPartitionsLaterLocationReplacesItsEarlierOneOnAdd() {
    ShardCache.Stats s = new ShardCache.Stats(0, 0, 1, 0, 0, 0, 1_000, 10_000, 1_000);
    ShardPlacement acc = new ShardPlacement();
    acc.add(new ShardPlacement.Seen(0, ONE, s));
    acc.add(new ShardPlacement.Seen(0, TWO, s));
    assertEquals(TWO, acc.value().partitions().get(0));
  }

  /** On the driver's merge as on add: one executor's counters are the latest, whichever task's report arrives last. */
  @Test
  void anExecutorsCountersAreTheLatestWhateverOrderTheMergesComeIn() {
    ShardPlacement lateTask = new ShardPlacement();
    lateTask.add(new ShardPlacement.Seen(0, ONE, LATE));
    ShardPlacement earlyTask = new ShardPlacement();
    earlyTask.add(new ShardPlacement.Seen(1, ONE, EARLY));
    ShardPlacement driver = new ShardPlacement();
    driver.merge(lateTask);
    driver.merge(earlyTask);
    assertEquals(LATE, driver.value().executors().get(ONE));
  }

  /**
   * AccumulatorV2's contract (Spark asserts it when it ships the accumulator to tasks):
   * copyAndReset gives a zero value, copy keeps the values, and neither shares state with the
   * original. value() is a snapshot: the driver keeps the last placement it planned with and
   * compares the next value against it (Trainer), which an alias would always equal.
   */
  @Test
  void copiesAndValuesAreIndependentSnapshotsAndAResetCopyIsZero() {
    ShardCache.Stats s = new ShardCache.Stats(0, 0, 1, 0, 0, 0, 1_000, 10_000, 1_000);
    ShardPlacement acc = new ShardPlacement();
    assertTrue(acc.isZero(), "a new accumulator");
    acc.add(new ShardPlacement.Seen(0, ONE, s));
    assertFalse(acc.isZero());
    assertTrue(acc.copyAndReset().isZero(), "copyAndReset");
    ShardPlacement.Report before = acc.value();
    ShardPlacement copy = (ShardPlacement) acc.copy();
    assertEquals(Map.of(0, ONE), copy.value().partitions(), "the copy keeps the values");
    copy.add(new ShardPlacement.Seen(1, TWO, s));
    acc.add(new ShardPlacement.Seen(0, TWO, s));
    assertEquals(Map.of(0, ONE), before.partitions(), "an earlier value() is not changed by later adds");
    assertEquals(Map.of(0, TWO), acc.value().partitions(), "the copy's adds are its own");
    acc.reset();
    assertTrue(acc.isZero(), "reset");
  }

  /**
   * slots' javadoc: on a local master (one executor) the slots are plain, whatever placement is
   * known: P partitions, partition p holding the one element p, and no preferred location.
   */
  @Test
  void onALocalMasterTheSlotsArePlainOnePerPartition() {
    JavaSparkContext sc = new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName("slots test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1").set("spark.ui.enabled", "false"));
    try {
      JavaRDD<Integer> slots = ShardPlacement.slots(sc, 3, Map.of(0, ONE, 1, TWO, 2, ONE));
      assertEquals(List.of(List.of(0), List.of(1), List.of(2)), slots.glom().collect());
      for (var p : slots.rdd().partitions()) {
        assertTrue(slots.rdd().preferredLocations(p).isEmpty(), "partition " + p.index());
      }
    } finally {
      sc.stop();
    }
  }
}
