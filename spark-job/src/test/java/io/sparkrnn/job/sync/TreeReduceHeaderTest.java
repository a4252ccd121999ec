package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The checks on a part's header as a host or the driver reads it (TreeReduce.wrongPart, decodePart)
 * and the frame limits of a segment: a lying header is refused, the largest honest one fits.
 */
class TreeReduceHeaderTest {
  static final ModelConfig RNN = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);

  static CombineTree.Block block(int level, int index) {
    return new CombineTree.Block(level, index, new GradientSum(1, 1, new double[0]));
  }

  static TreeReduce.Part part(int first, int end, int[] positions, CombineTree.Block... blocks) {
    return new TreeReduce.Part(first, end, blocks, positions, null, null, new TreeSet<>(), 0, -1, null, null, false);
  }

  @Test
  void aSourceIsRefusedForAnotherRangeForBlocksOutsideItsLeavesOrMoreSequencesThanTheBatch() {
    // P = 2 over V = 4, batch 4: partition 0 computes the leaves [0, 2), partition 1 [2, 4) (⌊pV/P⌋); node (level l, index i)
    // covers the leaves [i·2^l, (i+1)·2^l); the tree over 4 leaves has depth 2, so at most 2·2 = 4 blocks from one source
    GradientExchange.Segment s = new GradientExchange.Segment(RNN, 2, 1, 4, 4, false);
    assertNull(TreeReduce.wrongPart(part(1, 2, new int[] {2, 3}, block(1, 1)), 1, 2, s), "partition 1's own block, leaves [2, 4)");
    assertEquals("the part of partitions [1, 3); expected [1, 2)", TreeReduce.wrongPart(part(1, 3, new int[] {2, 3}, block(1, 1)), 1, 2, s));
    assertEquals("the part of partitions [0, 2); expected [1, 2)", TreeReduce.wrongPart(part(0, 2, new int[] {2, 3}, block(1, 1)), 1, 2, s));
    // partition 1 sending partition 0's leaves [0, 2): its gradient would be added twice
    assertEquals("a gradient block (level 1, index 0) outside its virtual partitions [2, 4)",
        TreeReduce.wrongPart(part(1, 2, new int[] {2, 3}, block(1, 0)), 1, 2, s));
    // a level above the tree's root (depth 2) is no node of it, though its leaves [0, 8) start inside
    assertTrue(TreeReduce.wrongPart(part(0, 2, new int[] {0, 1, 2, 3}, block(3, 0)), 0, 2, s).startsWith("a gradient block (level 3"));
    assertEquals("5 gradient blocks; at most 4 for V=4",
        TreeReduce.wrongPart(part(1, 2, new int[] {2, 3}, block(0, 2), block(0, 3), block(0, 2), block(0, 3), block(0, 2)), 1, 2, s));
    assertEquals("5 sequences in a batch of 4", TreeReduce.wrongPart(part(0, 2, new int[] {0, 1, 2, 3, 0}, block(2, 0)), 0, 2, s));
  }

  @Test
  void aHeaderClaimingMoreBlocksThanAnyTreeHasIsRefusedBeforeAnythingIsAllocated() {
    // at most 2·⌈log2 V⌉ blocks for V < 2^31, so never more than 64: a claim of 2^31 − 1 is refused by its count
    // (allocating first fails with an OutOfMemoryError, which the driver's serve loop does not catch)
    byte[] lying = GradientExchange.Codec.writer(64).putInt(0).putInt(1).putInt(Integer.MAX_VALUE).bytes();
    Throwable thrown = null;
    try {
      TreeReduce.decodePart(lying);
    } catch (Throwable t) {
      thrown = t;
    }
    assertTrue(thrown instanceof IllegalArgumentException, "expected an IllegalArgumentException, got " + thrown);
    assertEquals("partitions [0, 1) sent 2147483647 gradient blocks", thrown.getMessage());
  }

  /** The root's part of a whole batch: one block, every position, h (and c) of every sequence, a device line per partition. */
  static TreeReduce.Part wholeBatch(GradientExchange.Segment s) {
    int B = s.batch();
    int states = s.model().numLayers() * B * s.model().hiddenSize();
    float[] h = s.carry() ? new float[states] : null;
    float[] c = s.carry() && s.model().cell().hasCellState() ? new float[states] : null;
    TreeSet<String> devices = new TreeSet<>();
    for (int p = 0; p < s.partitions(); p++) {
      devices.add("executor " + p + ": opencl:0 (NVIDIA H100 80GB HBM3)");
    }
    return new TreeReduce.Part(0, s.partitions(), new CombineTree.Block[] {block(CombineTree.depth(s.virtualPartitions()), 0)},
        IntStream.range(0, B).toArray(), h, c, devices, 123, -1, null, null, true);
  }

  @Test
  void theLargestHonestHeadersFitTheSegmentsFrameLimits() {
    // a part's header carries 4 bytes per position and per float32 of h and c ([L][B][H] each); the step total's header
    // the batch's h and c. An LSTM with L = 2, H = 64 and B = 512: h and c are 256 KiB each. Without carry, B = 32768
    // sequences: 128 KiB of positions alone. Both are ordinary runs; a limit below them fails every step of the segment.
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 2, 1, 64, 1, Mode.SEQ2SEQ, LossType.MSE);
    GradientExchange.Segment[] segments = {new GradientExchange.Segment(lstm, 4, 1000, 8, 512, true),
        new GradientExchange.Segment(RNN, 8, 1000, 16, 32768, false)};
    for (GradientExchange.Segment s : segments) {
      TreeReduce.Part root = wholeBatch(s);
      assertNull(TreeReduce.wrongPart(root, 0, s.partitions(), s), "the fixture is an honest root part");
      long header = TreeReduce.encode(root).length;
      assertTrue(header <= s.maxMessageBytes(), s + ": a header of " + header + " bytes, limit " + s.maxMessageBytes());
      TreeReduce.Down down = new TreeReduce.Down(true, 1, 1, 123, root.finalH(), root.finalC(), root.devices(), null, true);
      long total = TreeReduce.encode(down).length;
      assertTrue(total <= s.maxTotalBytes(), s + ": a total header of " + total + " bytes, limit " + s.maxTotalBytes());
    }
  }
}
