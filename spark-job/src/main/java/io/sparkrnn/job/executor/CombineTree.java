package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.GroupedResult;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The fixed tree that adds the V virtual partitions' sums of a step: a complete binary tree over
 * the leaves [0, 2^K), K = ⌈log2 V⌉. Node (level k, index j) covers the leaves
 * [j·2^k, min((j+1)·2^k, V)); its sum is left + right in float64 (children (k−1, 2j) and
 * (k−1, 2j+1)), or the left child's sum itself when the right one covers no leaf. Every node's bits
 * are fixed by the leaves' alone, so the root, the step's total, is the same whoever computed
 * which leaves and in what order the parts met. The count is a long, exact in any order.
 *
 * <p>A task that computed the leaves [a, b) sends the maximal nodes inside that run
 * ({@link #blocks}: at most 2·K, usually 1–3), each tagged (level, index); a {@link Reducer}
 * takes blocks from anyone in any order and merges sibling pairs as they meet. A reduction among
 * the tasks themselves can forward the same blocks up a tree of tasks.
 */
public final class CombineTree {
  private CombineTree() {}

  /** One node's sum, tagged with its place in the tree. */
  public record Block(int level, int index, GradientSum sum) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** K = ⌈log2 V⌉: the root's level. */
  public static int depth(int leaves) {
    return 32 - Integer.numberOfLeadingZeros(leaves - 1);
  }

  /** The first leaf under node (level, index). */
  public static long first(int level, int index) {
    return (long) index << level;
  }

  /**
   * The maximal nodes covering exactly the leaves [a, a + sums.length) of V, with their sums
   * formed by the tree's rule.
   */
  public static List<Block> blocks(int leaves, int a, GradientSum[] sums) {
    return blocks(leaves, a, new GroupedResult(sums, null));
  }

  /**
   * The maximal nodes covering exactly the leaves [a, a + r.size()) of V (leaf a + g is group g of
   * r), with their sums formed by the tree's rule. Each node's gradient is made a range of
   * {@link #RANGE} elements at a time, its subtree added in buffers of that range (in cache), so
   * each leaf is read once and only the blocks are written, whatever the depth; the bits are those
   * of adding whole arrays node by node, since every element's additions are the same, in the same
   * order. Consumes r: once its sums are in the blocks it is released ({@link GroupedResult#release}),
   * so that the engine that made it reuses its arrays.
   */
  public static List<Block> blocks(int leaves, int a, GroupedResult r) {
    int b = a + r.size();
    if (a < 0 || b > leaves || a >= b) {
      throw new IllegalArgumentException("leaves [" + a + ", " + b + ") of " + leaves);
    }
    List<Block> out = new ArrayList<>();
    int K = depth(leaves);
    Sums sums = new Sums(leaves, a, r, K);
    int at = a;
    while (at < b) {
      int level = 0;
      // grow while the node starting at `at` one level up is aligned there and ends inside [a, b)
      while (level < K && at % (2L << level) == 0 && Math.min(at + (2L << level), leaves) <= b) {
        level++;
      }
      int index = at >> level;
      out.add(new Block(level, index, sums.node(level, index)));
      at = (int) Math.min(first(level, index + 1), leaves);
    }
    r.release();
    return out;
  }

  /**
   * At most the bytes of arrays that a {@link #blocks} call over all {@code leaves} leaves allocates
   * for a gradient of {@code parameterCount} elements: the root's float64 gradient (8·n) and the
   * float64 range buffers, one for the node being made and one for each level's right child,
   * (depth + 1)·min(RANGE, n)·8; objects of a few dozen bytes aside. 301,576 bytes at V = 16 and
   * n = 17,217 (LSTM H = 64): what {@code bench --virtual-partitions} allows a call beyond the
   * engine's results before it suspects boxed vectors.
   */
  public static long wholeTreeBytes(int leaves, long parameterCount) {
    return 8L * parameterCount + 8L * (depth(leaves) + 1) * Math.min(RANGE, Math.max(1, parameterCount));
  }

  /** Elements of a gradient added at a time in {@link #blocks}: a 32 KiB float64 buffer per tree level (160 KiB at V = 16: in L2). */
  static final int RANGE = 4096;

  /** The sums of a task's nodes, from its leaves (group g of r is leaf a + g). */
  private static final class Sums {
    private final int leaves;
    private final int a;
    private final GroupedResult r;
    /** [level][RANGE]: the right child's range at each level while its parent adds it. */
    private final double[][] right;

    Sums(int leaves, int a, GroupedResult r, int depth) {
      this.leaves = leaves;
      this.a = a;
      this.r = r;
      this.right = new double[depth + 1][];
    }

    GradientSum node(int level, int index) {
      int n = r.parameterCount();
      double[] gradient = new double[n];
      double[] range = new double[Math.min(RANGE, Math.max(1, n))];
      for (int from = 0; from < n; from += RANGE) {
        int to = Math.min(n, from + RANGE);
        add(level, index, from, to, range);
        System.arraycopy(range, 0, gradient, from, to - from);
      }
      return new GradientSum(loss(level, index), count(level, index), gradient);
    }

    /** dst[i − from] = node (level, index)'s gradient[i] for i in [from, to): left + right, recursively. */
    private void add(int level, int index, int from, int to, double[] dst) {
      if (level == 0) {
        r.widen(index - a, from, to, dst, 0);
        return;
      }
      add(level - 1, 2 * index, from, to, dst);
      if (first(level - 1, 2 * index + 1) >= leaves) { // a right child covering no leaf: the node is its left child
        return;
      }
      if (right[level - 1] == null) {
        right[level - 1] = new double[dst.length];
      }
      double[] other = right[level - 1];
      add(level - 1, 2 * index + 1, from, to, other);
      for (int i = 0, m = to - from; i < m; i++) {
        dst[i] += other[i];
      }
    }

    /** The node's loss sum: left + right in the tree's order, as {@link GradientSum#merge} adds them. */
    private double loss(int level, int index) {
      if (level == 0) {
        return r.lossSum(index - a);
      }
      double left = loss(level - 1, 2 * index);
      return first(level - 1, 2 * index + 1) >= leaves ? left : left + loss(level - 1, 2 * index + 1);
    }

    /** The node's count of loss terms (a long: exact in any order). */
    private long count(int level, int index) {
      long n = 0;
      for (long leaf = first(level, index), end = Math.min(first(level, index + 1), leaves); leaf < end; leaf++) {
        n += r.count((int) leaf - a);
      }
      return n;
    }
  }

  /** Adds blocks as they come; the root's sum once they cover the V leaves exactly once. */
  public static final class Reducer {
    private final int leaves;
    private final int depth;
    private final Map<Long, Block> waiting = new HashMap<>();
    private GradientSum root;

    public Reducer(int leaves) {
      if (leaves < 1) {
        throw new IllegalArgumentException("virtual partitions: " + leaves);
      }
      this.leaves = leaves;
      this.depth = depth(leaves);
    }

    /** Adds a block (consumed: sums are added into left children), merging it up while its sibling is here. */
    public void add(Block block) {
      if (block.level() < 0 || block.level() > depth || block.index() < 0 || first(block.level(), block.index()) >= leaves) {
        throw new IllegalArgumentException("block (level " + block.level() + ", index " + block.index() + ") is not a node of the tree over "
            + leaves + " virtual partitions");
      }
      Block b = block;
      while (b.level() < depth) {
        int sibling = b.index() ^ 1;
        if (first(b.level(), sibling) >= leaves) { // a right child covering no leaf: the parent is the left child
          b = new Block(b.level() + 1, b.index() >> 1, b.sum());
          continue;
        }
        Block other = waiting.remove(key(b.level(), sibling));
        if (other == null) {
          if (waiting.putIfAbsent(key(b.level(), b.index()), b) != null) {
            throw new IllegalStateException("virtual partitions " + range(b) + " arrived twice");
          }
          return;
        }
        Block left = (b.index() & 1) == 0 ? b : other;
        Block right = left == b ? other : b;
        b = new Block(b.level() + 1, b.index() >> 1, left.sum().merge(right.sum()));
      }
      if (root != null) {
        throw new IllegalStateException("virtual partitions " + range(b) + " arrived twice");
      }
      root = b.sum();
    }

    /**
     * What the blocks added so far reduce to: the root alone once every leaf is in, else the
     * blocks still waiting for a sibling, by first leaf. A task of the reduction tree forwards
     * these for its subtree (a contiguous run of leaves: at most 2·K blocks).
     */
    public List<Block> pending() {
      if (root != null) {
        return List.of(new Block(depth, 0, root));
      }
      List<Block> out = new ArrayList<>(waiting.values());
      out.sort(Comparator.comparingLong(b -> first(b.level(), b.index())));
      return out;
    }

    /** The root's sum; refuses blocks that left a leaf uncovered or covered twice. */
    public GradientSum total() {
      if (root == null || !waiting.isEmpty()) {
        List<String> parts = new ArrayList<>();
        for (Block b : waiting.values()) {
          parts.add(range(b));
        }
        throw new IllegalStateException("the blocks of a step do not cover its " + leaves + " virtual partitions exactly once"
            + (root != null ? " (the root is complete, yet " : " (waiting: ") + String.join(", ", parts) + ")");
      }
      return root;
    }

    private String range(Block b) {
      return "[" + first(b.level(), b.index()) + ", " + Math.min(first(b.level(), b.index() + 1), leaves) + ")";
    }

    private static long key(int level, int index) {
      return ((long) level << 32) | index;
    }
  }
}
