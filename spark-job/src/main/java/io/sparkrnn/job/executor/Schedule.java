package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Which sequences each step trains on: a pure function of (seed, step), so a restarted driver or
 * a retried task sees exactly the same batch.
 *
 * <p>The training sequences are numbered in manifest order (shard by shard, row by row). Epoch e
 * visits them in a Fisher–Yates permutation drawn from {@code SplittableRandom(seed + e)}; its
 * k-th batch takes permuted positions [k·B, (k+1)·B). The last partial batch of an epoch is
 * dropped, so every step has exactly B sequences. With truncated BPTT each batch is trained in
 * W = ⌈T / k⌉ consecutive steps, one per window; otherwise W = 1.
 */
public final class Schedule implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The training shards' manifest indices, in manifest order. */
  private final int[] trainShards;
  /**
   * firstSequence[s]: the id of training shard s's row 0, the prefix sum of the shards' sizes
   * (firstSequence[0] = 0; an empty shard has its successor's). Sequence k is row
   * k − firstSequence[s] of the last shard s with firstSequence[s] ≤ k: O(shards) to ship and to
   * hold, where two arrays of a shard and a row per sequence took 8 bytes a sequence, re-broadcast
   * with every barrier segment (docs/SCALING.md).
   */
  private final int[] firstSequence;
  /** The training sequences, all shards together. */
  private final int sequenceCount;
  private final int batch;
  private final long seed;
  private final int windowsPerBatch;
  private final int windowSteps;
  private final int steps;
  // a cache of the last two epochs' permutations (a task looking a few steps ahead straddles an
  // epoch's end); not shipped (barrier tasks rebuild it)
  private transient int cachedEpoch;
  private transient int[] cachedPermutation;
  private transient int otherEpoch;
  private transient int[] otherPermutation;

  /**
   * @param trainShards manifest indices of the training shards
   * @param shardBatch the number of sequences of each of those shards
   * @param tbptt window length k, or 0 for full BPTT
   */
  public Schedule(int[] trainShards, int[] shardBatch, int batch, long seed, int steps, int tbptt) {
    long total = 0;
    for (int b : shardBatch) {
      total += b;
    }
    if (total < batch) {
      throw new BadInputException("batch: " + batch + " sequences per step, but the training split holds only " + total);
    }
    if (total > Integer.MAX_VALUE - 8) {   // a Java array's most entries; the cast below would wrap (docs/SCALING.md)
      throw new BadInputException("data: the training split holds " + total + " sequences; training's schedule indexes at most "
          + (Integer.MAX_VALUE - 8) + " (its epoch's permutation, 4 bytes each, on the driver under --sync job, on every executor under --sync"
          + " barrier): prep longer sequences (--steps), or"
          + " train on a part");
    }
    this.trainShards = trainShards.clone();
    this.firstSequence = new int[shardBatch.length];
    int k = 0;
    for (int s = 0; s < shardBatch.length; s++) {
      firstSequence[s] = k;
      k += shardBatch[s];
    }
    this.sequenceCount = (int) total;
    this.batch = batch;
    this.seed = seed;
    this.steps = steps;
    this.windowSteps = tbptt > 0 ? Math.min(tbptt, steps) : steps;
    this.windowsPerBatch = (steps + windowSteps - 1) / windowSteps;
  }

  /** Optimizer steps in one epoch: ⌊sequences / B⌋ batches × W windows. */
  public long stepsPerEpoch() {
    return (long) (sequenceCount / batch) * windowsPerBatch;
  }

  /** B: sequences in every step's batch. */
  public int batch() {
    return batch;
  }

  public int windowsPerBatch() {
    return windowsPerBatch;
  }

  /** The epoch (0-based) that global step {@code step} belongs to. */
  public int epochOf(long step) {
    return (int) (step / stepsPerEpoch());
  }

  /** First time step of step's window. */
  public int windowStart(long step) {
    return (int) (step % windowsPerBatch) * windowSteps;
  }

  /** Length of step's window (the last window of a batch may be shorter). */
  public int windowLength(long step) {
    return Math.min(windowSteps, steps - windowStart(step));
  }

  /** True when step starts a new batch (its carried state starts at zero). */
  public boolean startsBatch(long step) {
    return step % windowsPerBatch == 0;
  }

  /** The sequences of one step's batch, in batch order: manifest shard index and row of each. */
  public record Chosen(int[] shards, int[] rows) {}

  /**
   * The B sequences of this step's batch. The epoch's permutation picks which B; the batch lists
   * them in shard order (sequence ids follow the shards), so that the contiguous runs of virtual
   * partitions each task computes cover contiguous bands of shards: a task reads few of the
   * step's shards, mostly the same ones from step to step, which keeps its executor's shard cache
   * and prefetch useful. The order decides only how the batch's sequences are grouped, not which
   * train together.
   */
  public Chosen sequences(long step) {
    int epoch = epochOf(step);
    long batchInEpoch = (step % stepsPerEpoch()) / windowsPerBatch;
    int[] perm = permutation(epoch);
    int first = (int) (batchInEpoch * batch);
    int[] seqs = Arrays.copyOfRange(perm, first, first + batch);
    Arrays.sort(seqs);
    int[] shards = new int[batch];
    int[] rows = new int[batch];
    int s = 0;
    for (int i = 0; i < batch; i++) {   // seqs ascending: the shard only moves forward
      s = shardOf(seqs[i], s);
      shards[i] = trainShards[s];
      rows[i] = seqs[i] - firstSequence[s];
    }
    return new Chosen(shards, rows);
  }

  /** The last training shard s ≥ {@code from} with firstSequence[s] ≤ k (binary search): the one that holds sequence k. */
  private int shardOf(int k, int from) {
    int lo = from;
    int hi = firstSequence.length - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (firstSequence[mid] <= k) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  // synchronized: on a local master the barrier tasks share the driver's broadcast object
  private synchronized int[] permutation(int epoch) {
    if (otherPermutation != null && epoch == otherEpoch) {
      int[] p = otherPermutation;
      otherPermutation = cachedPermutation;
      otherEpoch = cachedEpoch;
      cachedPermutation = p;
      cachedEpoch = epoch;
    }
    if (cachedPermutation == null || epoch != cachedEpoch) {
      int n = sequenceCount;
      int[] p = new int[n];
      for (int i = 0; i < n; i++) {
        p[i] = i;
      }
      SplittableRandom r = new SplittableRandom(seed + epoch);
      for (int i = n - 1; i > 0; i--) {
        int j = r.nextInt(i + 1);
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
      }
      otherPermutation = cachedPermutation;
      otherEpoch = cachedEpoch;
      cachedPermutation = p;
      cachedEpoch = epoch;
    }
    return cachedPermutation;
  }
}
