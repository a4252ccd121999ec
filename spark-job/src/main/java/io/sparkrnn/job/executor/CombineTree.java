package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.engine.GradientSum;
import java.io.Serializable;
import java.util.ArrayList;
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
   * formed by the tree's rule. Consumes {@code sums} (left children are added into).
   */
  public static List<Block> blocks(int leaves, int a, GradientSum[] sums) {
    int b = a + sums.length;
    if (a < 0 || b > leaves || a >= b) {
      throw new IllegalArgumentException("leaves [" + a + ", " + b + ") of " + leaves);
    }
    List<Block> out = new ArrayList<>();
    int K = depth(leaves);
    int at = a;
    while (at < b) {
      int level = 0;
      // grow while the node starting at `at` one level up is aligned there and ends inside [a, b)
      while (level < K && at % (2L << level) == 0 && Math.min(at + (2L << level), leaves) <= b) {
        level++;
      }
      int index = at >> level;
      out.add(new Block(level, index, node(leaves, level, index, sums, a)));
      at = (int) Math.min(first(level, index + 1), leaves);
    }
    return out;
  }

  /** The sum of node (level, index) from the leaves' sums (sums[i] is leaf a + i). */
  private static GradientSum node(int leaves, int level, int index, GradientSum[] sums, int a) {
    if (level == 0) {
      return sums[index - a];
    }
    GradientSum left = node(leaves, level - 1, 2 * index, sums, a);
    if (first(level - 1, 2 * index + 1) >= leaves) {
      return left;
    }
    return left.merge(node(leaves, level - 1, 2 * index + 1, sums, a));
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
      out.sort(java.util.Comparator.comparingLong(b -> first(b.level(), b.index())));
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
