package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link GroupedResult} on its own, with sums written by hand: what a consumer (spark-job's
 * CombineTree) reads of each group, by index, over any range and at any offset of its buffer; the
 * checks on what an engine hands over; and release() handing the float32 arrays back exactly once.
 */
class GroupedResultTest {
  /** Three groups of 3 parameters; each array one longer (a buffer sized for a larger model: its 4th value is not a parameter). */
  private static float[][] leaves() {
    return new float[][] {{1.5f, -2f, 0.1f, 77f}, {0.25f, 8f, -1f, 77f}, {-3f, 0.5f, 6f, 77f}};
  }

  @Test
  void eachGroupIsReadAtItsOwnIndex() {
    GroupedResult r = GroupedResult.ofFloat32(new double[] {1.25, 2.5, 4.75}, new long[] {3, 5, 7}, leaves(), 3, null);
    assertEquals(3, r.size());
    assertEquals(3, r.parameterCount());
    assertArrayEquals(new double[] {1.25, 2.5, 4.75}, new double[] {r.lossSum(0), r.lossSum(1), r.lossSum(2)}, "loss sums by group");
    assertArrayEquals(new long[] {3, 5, 7}, new long[] {r.count(0), r.count(1), r.count(2)}, "counts by group");
    // dst[at + i − from] = gradient[i] for i in [from, to): group 2's [1, 3) lands at dst[2..3], the rest of dst untouched
    double[] dst = {9, 9, 9, 9, 9};
    r.widen(2, 1, 3, dst, 2);
    assertArrayEquals(new double[] {9, 9, 0.5, 6, 9}, dst);
    double[] one = new double[1];
    r.widen(0, 2, 3, one, 0);
    assertEquals((double) 0.1f, one[0], 0, "float32 read as float64 exactly (0.1f, not 0.1)");
    // groups(): the same values as float64, the first parameterCount of each array only
    GradientSum[] groups = r.groups();
    assertEquals(3, groups.length);
    assertArrayEquals(new double[] {0.25, 8, -1}, groups[1].gradient());
    assertArrayEquals(new double[] {-3, 0.5, 6}, groups[2].gradient());
    assertEquals(4.75, groups[2].lossSum());
    assertEquals(7, groups[2].count());
    assertSame(groups, r.groups(), "made once, then the same arrays");
  }

  @Test
  void float64GroupsAreReadAsGivenAndTheCallersArrayIsCopied() {
    GradientSum[] given = {new GradientSum(1.5, 2, new double[] {1, 2}), new GradientSum(-0.5, 4, new double[] {3, 4})};
    GroupedResult r = new GroupedResult(given, null);
    given[0] = new GradientSum(99, 99, new double[] {99, 99}); // the caller's array changed afterwards
    assertEquals(2, r.size());
    assertEquals(2, r.parameterCount());
    assertEquals(1.5, r.lossSum(0));
    assertEquals(4, r.count(1));
    double[] dst = new double[3];
    r.widen(1, 1, 2, dst, 1);
    assertArrayEquals(new double[] {0, 4, 0}, dst);
    r.release();
    assertEquals(-0.5, r.lossSum(1), "float64 sums stay readable after release");
  }

  /** One loss sum, one count and one gradient per group, each gradient at least parameterCount long: else the engine has a bug. */
  @Test
  void groupsOfMismatchedSumsAreRefused() {
    assertThrows(IllegalArgumentException.class,
        () -> GroupedResult.ofFloat32(new double[] {1, 2}, new long[] {1, 2, 3}, leaves(), 3, null), "2 loss sums for 3 groups");
    assertThrows(IllegalArgumentException.class,
        () -> GroupedResult.ofFloat32(new double[] {1, 2, 3}, new long[] {1, 2}, leaves(), 3, null), "2 counts for 3 groups");
    assertThrows(IllegalArgumentException.class,
        () -> GroupedResult.ofFloat32(new double[] {1, 2, 3}, new long[] {1, 2, 3}, leaves(), 5, null), "arrays of 4 for 5 parameters");
    GroupedResult.ofFloat32(new double[] {1, 2, 3}, new long[] {1, 2, 3}, leaves(), 4, null); // exactly as long: accepted
  }

  /**
   * release() hands the arrays back once: an engine that got them twice would give the same arrays
   * to two later calls, whose sums would then overwrite each other's. Reading them afterwards is refused.
   */
  @Test
  void releaseHandsTheArraysBackOnce() {
    float[][] arrays = leaves();
    List<float[][]> returned = new ArrayList<>();
    GroupedResult r = GroupedResult.ofFloat32(new double[] {1, 2, 3}, new long[] {1, 2, 3}, arrays, 3, null, returned::add);
    r.release();
    r.release();
    assertEquals(1, returned.size(), "handed back once");
    assertSame(arrays, returned.get(0));
    assertThrows(IllegalStateException.class, () -> r.widen(1, 0, 1, new double[1], 0));
    assertThrows(IllegalStateException.class, r::groups);
  }
}
