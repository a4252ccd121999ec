package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.junit.jupiter.api.Test;

/** Freeing a broadcast in a finally that may run after the context stopped. */
class BroadcastsTest {
  /**
   * On a running context the broadcast is destroyed (Spark refuses its value afterwards); after
   * the context has stopped, as Ctrl-C stops it during a step, destroying is left out instead of
   * throwing a NullPointerException over the job's own exception (Spark's destroy needs SparkEnv).
   */
  @Test
  void destroysOnARunningContextAndIsQuietOnAStoppedOne() {
    JavaSparkContext sc = new JavaSparkContext(new SparkConf().setMaster("local[1]").setAppName("broadcasts test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1").set("spark.ui.enabled", "false"));
    Broadcast<int[]> first;
    Broadcast<int[]> second;
    Broadcast<int[]> third;
    try {
      first = sc.broadcast(new int[] {1});
      second = sc.broadcast(new int[] {2});
      third = sc.broadcast(new int[] {3});
      Broadcasts.destroy(first);
      SparkException e = assertThrows(SparkException.class, first::value, "a destroyed broadcast's value");
      assertTrue(e.getMessage().contains("Attempted to use Broadcast(0) after it was destroyed"), e.getMessage());
      assertEquals(3, third.value()[0], "another broadcast still there");
    } finally {
      sc.stop();
    }
    assertThrows(NullPointerException.class, second::destroy, "Spark's own destroy on a stopped context");
    Broadcasts.destroy(third);
  }
}
