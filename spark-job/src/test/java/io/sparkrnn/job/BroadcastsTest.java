package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.spark.SparkConf;
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
    } finally {
      sc.stop();
    }
    assertThrows(Exception.class, first::value, "a destroyed broadcast's value");
    assertThrows(NullPointerException.class, second::destroy, "Spark's own destroy on a stopped context");
    Broadcasts.destroy(third);
  }
}
