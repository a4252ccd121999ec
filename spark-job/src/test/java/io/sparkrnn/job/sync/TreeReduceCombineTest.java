package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.job.executor.CombineTree;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** A node of the reduction tree reports the first data error in partition order, as --sync job does. */
class TreeReduceCombineTest {
  static TreeReduce.Part part(int partition, String error) {
    return new TreeReduce.Part(partition, partition + 1, new CombineTree.Block[0], new int[0], null, null, new TreeSet<>(), 0,
        error == null ? -1 : partition, "exec-" + partition, error, false);
  }

  @Test
  void theLowestPartitionsErrorWinsWhereSeveralFailedTheSameStep() {
    TreeReduce.Part node = TreeReduce.combine(part(0, null), new TreeReduce.Part[] {part(1, "shard 1 bad"), part(2, "shard 2 bad")},
        3, 1, 2);
    assertEquals(1, node.errorPartition());
    assertEquals("shard 1 bad", node.dataError());
    assertEquals("exec-1", node.errorExecutor());
    assertEquals(0, node.first());
    assertEquals(3, node.end());

    TreeReduce.Part own = TreeReduce.combine(part(4, "shard 4 bad"), new TreeReduce.Part[] {part(5, "shard 5 bad")}, 8, 1, 2);
    assertEquals(4, own.errorPartition(), "the node's own (leftmost) part first");
    assertEquals("shard 4 bad", own.dataError());
  }
}
