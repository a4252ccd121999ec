package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.job.executor.CombineTree;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A node of the reduction tree reports the first data error in partition order, as --sync job does,
 * and lays its sources' carried states side by side in every layer.
 */
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

  @Test
  void aNodesCarriedStatesAreItsSourcesSideBySideInEveryLayer() {
    // L = 2 layers, H = 2. Own part: 2 sequences (positions 4, 1), its finalH [L][2][H] = layer 0: (1, 2), (3, 4); layer 1:
    // (5, 6), (7, 8). Right source: 1 sequence (position 0), layer 0: (9, 10); layer 1: (11, 12). c is −h.
    // The node's states are [L][3][H]: each layer holds the own part's sequences, then the right source's.
    float[] h0 = {1, 2, 3, 4, 5, 6, 7, 8};
    float[] h1 = {9, 10, 11, 12};
    TreeReduce.Part own = new TreeReduce.Part(0, 1, new CombineTree.Block[0], new int[] {4, 1}, h0, StepMergeTest.negated(h0), new TreeSet<>(), 0, -1,
        null, null, false);
    TreeReduce.Part right = new TreeReduce.Part(1, 2, new CombineTree.Block[0], new int[] {0}, h1, StepMergeTest.negated(h1), new TreeSet<>(), 0, -1,
        null, null, false);
    TreeReduce.Part node = TreeReduce.combine(own, new TreeReduce.Part[] {right}, 2, 2, 2);
    float[] expected = {1, 2, 3, 4, 9, 10, 5, 6, 7, 8, 11, 12};
    assertArrayEquals(new int[] {4, 1, 0}, node.positions(), "positions in partition order, as the states");
    assertArrayEquals(expected, node.finalH(), "h: layer 0 of all three sequences, then layer 1");
    assertArrayEquals(StepMergeTest.negated(expected), node.finalC(), "c likewise, from the sources' c");
  }
}
