package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;

/** The cut of a step's batch into virtual partitions and of those into tasks: what docs/cluster.md promises. */
class VirtualPartitionsTest {

  @Test
  void aWorkedExample() {
    // B = 10, V = 4: ⌊i·10/4⌋ = 0, 2, 5, 7, 10; P = 2 takes leaves [0, 2) and [2, 4)
    VirtualPartitions v = new VirtualPartitions(10, 4);
    assertArrayEquals(new int[] {0, 2, 5, 7, 10}, new int[] {v.start(0), v.start(1), v.start(2), v.start(3), v.start(4)});
    assertEquals(2, v.firstLeaf(1, 2));
    assertEquals(5, v.start(v.firstLeaf(1, 2)), "task 1 of 2 starts at sequence 5");
    // the tasks' groups, from their own first sequence: leaves 0, 1 = [0, 2), [2, 5); leaves 2, 3 = [5, 7), [7, 10)
    assertArrayEquals(new int[] {0, 2, 5}, v.bounds(0, 2));
    assertArrayEquals(new int[] {0, 2, 5}, v.bounds(1, 2));
    assertArrayEquals(new int[] {0, 2, 5, 7, 10}, v.bounds(0, 1));
    // P = 3 takes leaves [0, 1), [1, 2), [2, 4)
    assertArrayEquals(new int[] {0, 3}, v.bounds(1, 3));
    assertArrayEquals(new int[] {0, 2, 5}, v.bounds(2, 3));
  }

  /** Every B ≤ 150, V ≤ B, P ≤ V: the cut tiles the batch, and the stated balance holds. */
  @Test
  void tasksAreBalancedToOneSequenceWhenPDividesVAndToOneLeafAlways() {
    for (int B = 1; B <= 150; B++) {
      for (int V = 1; V <= B; V++) {
        VirtualPartitions v = new VirtualPartitions(B, V);
        for (int i = 0; i < V; i++) {
          int size = v.start(i + 1) - v.start(i);
          if (size != B / V && size != (B + V - 1) / V) {
            fail("B=" + B + " V=" + V + ": leaf " + i + " holds " + size);
          }
        }
        for (int P = 1; P <= V; P++) {
          int minSeq = Integer.MAX_VALUE, maxSeq = 0, minLeaves = Integer.MAX_VALUE, maxLeaves = 0;
          assertEquals(0, v.firstLeaf(0, P));
          assertEquals(V, v.firstLeaf(P, P));
          for (int p = 0; p < P; p++) {
            int a = v.firstLeaf(p, P), b = v.firstLeaf(p + 1, P);
            int seq = v.start(b) - v.start(a);
            minSeq = Math.min(minSeq, seq);
            maxSeq = Math.max(maxSeq, seq);
            minLeaves = Math.min(minLeaves, b - a);
            maxLeaves = Math.max(maxLeaves, b - a);
          }
          String what = "B=" + B + " V=" + V + " P=" + P;
          assertTrue(minLeaves >= 1 && maxLeaves - minLeaves <= 1, what + ": leaves per task " + minLeaves + ".." + maxLeaves);
          int bound = V % P == 0 ? 1 : (B + V - 1) / V + 1;
          if (maxSeq - minSeq > bound) {
            fail(what + ": sequences per task " + minSeq + ".." + maxSeq + ", more apart than " + bound);
          }
        }
      }
    }
  }

  @Test
  void moreTasksThanVirtualPartitionsAndMoreVirtualPartitionsThanSequencesAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VirtualPartitions(8, 4).requireTasks(5));
    assertTrue(e.getMessage().startsWith("partitions: 5 tasks but virtual-partitions is 4"), e.getMessage());
    new VirtualPartitions(8, 4).requireTasks(4); // as many tasks as virtual partitions: one each
    VirtualPartitions.requireTasks(8, 8, 8);
    e = assertThrows(IllegalArgumentException.class, () -> new VirtualPartitions(8, 9));
    assertTrue(e.getMessage().startsWith("virtual-partitions: must be in [1, batch = 8], found 9"), e.getMessage());
  }
}
