package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.GroupedResult;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fixed combine tree: any grouping of the V leaves into contiguous runs (tasks), sent as their
 * blocks in any order, gives the root's bits, on values where float64 addition order shows.
 */
class CombineTreeTest {
  /** Magnitudes from 1e-3 to 1e17 and both signs: (a + b) + c and a + (b + c) differ in the last bits or more. */
  static double[][] leafValues(int leaves, int size, long seed) {
    Random r = new Random(seed);
    double[][] v = new double[leaves][size];
    for (double[] leaf : v) {
      for (int i = 0; i < size; i++) {
        leaf[i] = (r.nextBoolean() ? 1 : -1) * Math.pow(10, -3 + 20 * r.nextDouble()) * (1 + r.nextDouble());
      }
    }
    return v;
  }

  static GradientSum[] sums(double[][] v, int from, int to) {
    GradientSum[] s = new GradientSum[to - from];
    for (int i = from; i < to; i++) {
      s[i - from] = new GradientSum(v[i][0], 1, v[i].clone());
    }
    return s;
  }

  /** The tree's definition, written out independently: node (k, j) = left + right, or left when the right covers no leaf. */
  static double node(double[][] v, int level, long index, int e) {
    if (level == 0) {
      return v[(int) index][e];
    }
    double left = node(v, level - 1, 2 * index, e);
    return (2 * index + 1) << (level - 1) >= v.length ? left : left + node(v, level - 1, 2 * index + 1, e);
  }

  @Test
  void anyGroupingOfTheLeavesAndAnyArrivalOrderGivesTheRootsBits() {
    Random r = new Random(7);
    for (int V : new int[] {1, 2, 3, 5, 7, 8, 13, 16, 31}) {
      int size = 64;
      double[][] v = leafValues(V, size, V);
      int K = CombineTree.depth(V);
      double[] expected = new double[size];
      for (int e = 0; e < size; e++) {
        expected[e] = node(v, K, 0, e);
      }
      boolean orderShows = false;
      for (int e = 0; e < size; e++) {
        double rightToLeft = 0;
        for (int i = V - 1; i >= 0; i--) {
          rightToLeft += v[i][e];
        }
        orderShows |= rightToLeft != expected[e];
      }
      assertTrue(V < 3 || orderShows, "V=" + V + ": the values must tell the tree from another summation order");
      for (int trial = 0; trial < 40; trial++) {
        // cut [0, V) into random contiguous runs, each sent as its blocks; shuffle every block
        List<CombineTree.Block> blocks = new ArrayList<>();
        int a = 0;
        while (a < V) {
          int b = trial == 0 ? V : a + 1 + r.nextInt(V - a);
          List<CombineTree.Block> run = CombineTree.blocks(V, a, sums(v, a, b));
          assertTrue(run.size() <= Math.max(1, 2 * K), "run [" + a + ", " + b + ") of " + V + ": " + run.size() + " blocks");
          blocks.addAll(run);
          a = b;
        }
        Collections.shuffle(blocks, r);
        CombineTree.Reducer reducer = new CombineTree.Reducer(V);
        blocks.forEach(reducer::add);
        GradientSum root = reducer.total();
        assertArrayEquals(expected, root.gradient(), "V=" + V + " trial " + trial);
        assertEquals(V, root.count(), "counts add exactly");
        assertEquals(expected[0], root.lossSum(), "the loss sums take the same tree");
      }
    }
  }

  @Test
  void float32LeavesGiveEachBlockTheTreesBitsInEveryRangeOfElements() {
    // The JVM engine hands its groups over as float32 (GroupedResult.ofFloat32); blocks reads them as
    // float64 a range at a time. Sizes below, at and across ranges, with a remainder; arrays longer
    // than the parameter count (a buffer of a larger model) whose tail must not be read.
    Random r = new Random(11);
    for (int V : new int[] {1, 3, 5, 13, 16}) {
      for (int size : new int[] {1, CombineTree.RANGE, 2 * CombineTree.RANGE + 17}) {
        float[][] f = new float[V][size + 5];
        double[][] v = new double[V][size];
        double[] loss = new double[V];
        long[] count = new long[V];
        for (int g = 0; g < V; g++) {
          for (int i = 0; i < size + 5; i++) {
            f[g][i] = i < size ? (float) ((r.nextBoolean() ? 1 : -1) * Math.pow(10, -3 + 20 * r.nextDouble()) * (1 + r.nextDouble())) : Float.NaN;
          }
          for (int i = 0; i < size; i++) {
            v[g][i] = f[g][i];
          }
          loss[g] = v[g][0] * 3;
          count[g] = 1 + r.nextInt(1000);
        }
        int a = V == 1 ? 0 : r.nextInt(V - 1);
        int b = a + 1 + r.nextInt(V - a);
        float[][] run = Arrays.copyOfRange(f, a, b);
        float[][][] givenBack = new float[1][][];
        GroupedResult result = GroupedResult.ofFloat32(Arrays.copyOfRange(loss, a, b),
            Arrays.copyOfRange(count, a, b), run, size, null, arrays -> givenBack[0] = arrays);
        List<CombineTree.Block> blocks = CombineTree.blocks(V, a, result);
        assertTrue(givenBack[0] == run, "blocks releases the result: its arrays go back to the engine");
        assertThrows(IllegalStateException.class, result::groups, "nothing is read after the release");
        double[][] lossLeaves = new double[V][1];
        for (int g = 0; g < V; g++) {
          lossLeaves[g][0] = loss[g];
        }
        for (CombineTree.Block block : blocks) {
          String what = "V=" + V + " size " + size + " run [" + a + ", " + b + ") block " + block.level() + "/" + block.index();
          double[] expected = new double[size];
          for (int e = 0; e < size; e++) {
            expected[e] = node(v, block.level(), block.index(), e);
          }
          assertArrayEquals(expected, block.sum().gradient(), what);
          assertEquals(node(lossLeaves, block.level(), block.index(), 0), block.sum().lossSum(), what + ": loss sum");
          long n = 0;
          for (long leaf = CombineTree.first(block.level(), block.index()); leaf < Math.min(CombineTree.first(block.level(), block.index() + 1), V); leaf++) {
            n += count[(int) leaf];
          }
          assertEquals(n, block.sum().count(), what + ": count");
        }
      }
    }
  }

  /**
   * What a whole tree's blocks call allocates, measured by the JVM's per-thread allocation counter:
   * the root's gradient, 17,217 float64s (LSTM H = 64), and five range buffers of 4,096 float64s at
   * V = 16 (depth 4): 137,736 + 163,840 bytes, plus a few small objects (lists, the block, its sum).
   */
  @Test
  void aWholeTreeAllocatesTheRootAndOneRangeBufferALevel() {
    int V = 16;
    int n = 17_217;
    assertEquals(8L * n + 5L * 4096 * 8, CombineTree.wholeTreeBytes(V, n));
    assertEquals(8L * 3 + 3L * 3 * 8, CombineTree.wholeTreeBytes(4, 3), "a gradient shorter than a range: buffers of n");
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    float[][] leaves = new float[V][n];
    long measured = Long.MAX_VALUE;
    for (int round = 0; round < 5; round++) { // the least of five: class loading and the first calls' own allocations aside
      GroupedResult r = GroupedResult.ofFloat32(new double[V], new long[V], leaves, n, null,
          arrays -> { });
      long before = threads.getCurrentThreadAllocatedBytes();
      CombineTree.blocks(V, 0, r);
      measured = Math.min(measured, threads.getCurrentThreadAllocatedBytes() - before);
    }
    long formula = CombineTree.wholeTreeBytes(V, n);
    assertTrue(measured >= formula && measured <= formula + 4096, "measured " + measured + " bytes, the formula " + formula);
  }

  @Test
  void aRunIsSentAsItsMaximalAlignedBlocks() {
    // V = 8 (K = 3): leaves [1, 7) are (0,1), (1,1), (1,2), (0,6)
    List<CombineTree.Block> run = CombineTree.blocks(8, 1, sums(leafValues(8, 1, 1), 1, 7));
    assertEquals(List.of("0/1", "1/1", "1/2", "0/6"), run.stream().map(b -> b.level() + "/" + b.index()).toList());
    // V = 5: leaf 4 alone is the node (2, 1), whose right half covers no leaf
    assertEquals(List.of("2/1"), CombineTree.blocks(5, 4, sums(leafValues(5, 1, 1), 4, 5)).stream()
        .map(b -> b.level() + "/" + b.index()).toList());
  }

  @Test
  void aMissingOrRepeatedLeafIsRefused() {
    double[][] v = leafValues(4, 2, 3);
    CombineTree.Reducer missing = new CombineTree.Reducer(4);
    CombineTree.blocks(4, 0, sums(v, 0, 3)).forEach(missing::add);
    IllegalStateException e = assertThrows(IllegalStateException.class, missing::total);
    assertTrue(e.getMessage().contains("do not cover its 4 virtual partitions exactly once"), e.getMessage());

    CombineTree.Reducer twice = new CombineTree.Reducer(4);
    CombineTree.blocks(4, 0, sums(v, 0, 4)).forEach(twice::add);
    CombineTree.blocks(4, 3, sums(v, 3, 4)).forEach(twice::add);
    assertThrows(IllegalStateException.class, twice::total);
    CombineTree.Reducer sameLeaf = new CombineTree.Reducer(4);
    sameLeaf.add(new CombineTree.Block(0, 2, new GradientSum(2)));
    assertThrows(IllegalStateException.class, () -> sameLeaf.add(new CombineTree.Block(0, 2, new GradientSum(2))));

    // the root's block itself twice (a task of the reduction tree forwarding its whole subtree again)
    CombineTree.Reducer rootTwice = new CombineTree.Reducer(4);
    rootTwice.add(new CombineTree.Block(2, 0, new GradientSum(2)));
    assertThrows(IllegalStateException.class, () -> rootTwice.add(new CombineTree.Block(2, 0, new GradientSum(2))));

    CombineTree.Reducer outside = new CombineTree.Reducer(4);
    assertThrows(IllegalArgumentException.class, () -> outside.add(new CombineTree.Block(0, 4, new GradientSum(2))));
  }

  @Test
  void aTreeOfNoLeavesABlockAboveTheRootAndAnEmptyRunAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new CombineTree.Reducer(0));
    // V = 4: depth 2, the root is (2, 0); (3, 0) would start at leaf 0 but is no node of the tree
    CombineTree.Reducer r = new CombineTree.Reducer(4);
    assertThrows(IllegalArgumentException.class, () -> r.add(new CombineTree.Block(3, 0, new GradientSum(1))));
    assertThrows(IllegalArgumentException.class, () -> CombineTree.blocks(4, 2, new GradientSum[0]), "the run [2, 2) holds no leaf");
  }

  /**
   * What a task of the reduction tree forwards: the blocks still waiting, by first leaf, and once
   * every leaf is in the root alone as the node (K, 0).
   */
  @Test
  void pendingIsTheWaitingBlocksByFirstLeafThenTheRootAlone() {
    double[][] v = leafValues(8, 1, 5);
    CombineTree.Reducer r = new CombineTree.Reducer(8);
    CombineTree.blocks(8, 6, sums(v, 6, 8)).forEach(r::add); // (1, 3): leaves 6, 7
    CombineTree.blocks(8, 0, sums(v, 0, 2)).forEach(r::add); // (1, 0): leaves 0, 1
    CombineTree.blocks(8, 4, sums(v, 4, 5)).forEach(r::add); // (0, 4): leaf 4
    assertEquals(List.of("1/0", "0/4", "1/3"), r.pending().stream().map(b -> b.level() + "/" + b.index()).toList());
    CombineTree.blocks(8, 2, sums(v, 2, 4)).forEach(r::add);
    CombineTree.blocks(8, 5, sums(v, 5, 6)).forEach(r::add);
    List<CombineTree.Block> done = r.pending();
    assertEquals(1, done.size());
    assertEquals(3, done.get(0).level());
    assertEquals(0, done.get(0).index());
    assertEquals(node(v, 3, 0, 0), done.get(0).sum().gradient()[0], "the root's sum");
    assertEquals(8, done.get(0).sum().count());
  }

  /** Virtual partitions go up to 2^24: a leaf at index 65,536 is not the node (1, 0) covering leaves 0 and 1. */
  @Test
  void nodesOfLargeIndexAreTheirOwnInTheReducer() {
    int V = 65_538;
    CombineTree.Reducer r = new CombineTree.Reducer(V);
    r.add(new CombineTree.Block(1, 0, new GradientSum(1.0, 2, new double[] {1})));
    r.add(new CombineTree.Block(0, 65_536, new GradientSum(1.0, 1, new double[] {1})));
    assertEquals(List.of("1/0", "0/65536"), r.pending().stream().map(b -> b.level() + "/" + b.index()).toList());
  }
}
