package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;

/**
 * How a step's global batch of B sequences (in the schedule's order) is cut into V virtual
 * partitions, and which of them each of P tasks computes. The cut depends on B and V only, never
 * on P, so each virtual partition holds the same sequences on any cluster; its gradient is then
 * the same bits wherever it is computed ({@code BpttEngine#lossAndGradients}) and
 * {@link CombineTree} adds the V gradients in one fixed order.
 *
 * <p>Virtual partition i holds the sequences [⌊i·B / V⌋, ⌊(i+1)·B / V⌋): sizes ⌊B/V⌋ or ⌈B/V⌉,
 * the larger ones spread evenly. Task p of P computes the virtual partitions
 * [⌊p·V / P⌋, ⌊(p+1)·V / P⌋), a contiguous run of ⌊V/P⌋ or ⌈V/P⌉ of them.
 *
 * <p>Balance (checked for every B ≤ 200, V ≤ B, P ≤ V by {@code VirtualPartitionsTest}): the
 * tasks' sequence counts differ by at most 1 when P divides V (task p then holds
 * [⌊p·B / P⌋, ⌊(p+1)·B / P⌋)), and by at most ⌈B/V⌉ + 1 otherwise. V = B balances every P to
 * ±1, at the cost of one-sequence slices in the JVM engine.
 *
 * @param batch B, sequences per step
 * @param leaves V, 1 ≤ V ≤ B
 */
public record VirtualPartitions(int batch, int leaves) implements Serializable {
  private static final long serialVersionUID = 1L;

  public VirtualPartitions {
    if (leaves < 1 || leaves > batch) {
      throw new BadInputException("virtual-partitions: must be in [1, batch = " + batch + "], found " + leaves);
    }
  }

  /** The first sequence of virtual partition i (i = V gives B). */
  public int start(int leaf) {
    return (int) ((long) leaf * batch / leaves);
  }

  /** The first virtual partition of task p of P (p = P gives V). */
  public int firstLeaf(int task, int tasks) {
    return (int) ((long) task * leaves / tasks);
  }

  /**
   * Task p of P's virtual partitions as groups of its own gathered batch: bounds[i] is the first
   * sequence of its i-th virtual partition counted from the task's first, and the last entry is
   * the task's sequence count ({@code BpttEngine#lossAndGradients}' bounds).
   */
  public int[] bounds(int task, int tasks) {
    int firstLeaf = firstLeaf(task, tasks);
    int[] bounds = new int[firstLeaf(task + 1, tasks) - firstLeaf + 1];
    for (int i = 0; i < bounds.length; i++) {
      bounds[i] = start(firstLeaf + i) - start(firstLeaf);
    }
    return bounds;
  }

  /**
   * Refuses more tasks than virtual partitions: each task computes at least one.
   */
  public void requireTasks(int tasks) {
    requireTasks(tasks, leaves, batch);
  }

  /** As {@link #requireTasks(int)}, before the partitions exist: train's configuration checks it before Spark starts. */
  public static void requireTasks(int tasks, int leaves, int batch) {
    if (tasks > leaves) {
      throw new BadInputException("partitions: " + tasks + " tasks but virtual-partitions is " + leaves
          + "; each task computes at least one virtual partition: raise virtual-partitions (at most batch = " + batch
          + ") or lower partitions");
    }
  }
}
