package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The --sync job merge on the driver (also the reference the barrier tree must reproduce): the
 * first data error in partition order, the slowest compute, the devices that computed, and the
 * carried states put back at their batch positions, each against values written out by hand.
 */
class StepMergeTest {
  /** L = 2 layers, H = 2: a layer index that is not 0 tells [L][m][H] from [L][n][H]. */
  static final ModelConfig LSTM = new ModelConfig(CellType.LSTM, 2, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);

  static PartitionResult computed(int partition, int leaf, GradientSum sum, int[] positions, float[] h, float[] c, String device,
      long computeNanos) {
    CombineTree.Block[] blocks = CombineTree.blocks(2, leaf, new GradientSum[] {sum}).toArray(new CombineTree.Block[0]);
    return new PartitionResult(partition, blocks, positions, h, c, device, "exec-" + partition, computeNanos, null);
  }

  static float[] negated(float[] a) {
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = -a[i];
    }
    return out;
  }

  @Test
  void theLowestFailedPartitionIsReportedWhateverOrderTheResultsCameIn() {
    // results arrive as tasks finish: 2, 0, 1; partitions 1 and 2 both failed their shard checks
    List<PartitionResult> results = new ArrayList<>(List.of(PartitionResult.failed(2, "exec-2", "shard 9: bad CRC"),
        computed(0, 0, new GradientSum(1, 1, new double[] {1, 1}), new int[] {0}, null, null, "jvm", 1),
        PartitionResult.failed(1, "exec-1", "shard 4: bad CRC")));
    String error = StepMerge.sortAndFindDataError(results, 2);
    // "step N" is 1-based (step 2 completed, so the third), as every other step the driver prints
    assertTrue(error.startsWith("step 3, partition 1 on executor exec-1: shard 4: bad CRC. "), error);
    assertEquals(List.of(0, 1, 2), results.stream().map(PartitionResult::partition).toList(), "sorted by partition for the merge");
    assertNull(StepMerge.sortAndFindDataError(new ArrayList<>(List.of(results.get(0))), 2));
  }

  @Test
  void carriedStatesGoBackToTheirBatchPositionsInEveryLayer() {
    // batch n = 3 over 2 partitions: partition 0 holds the sequences at positions {2, 0}, partition 1 the one at {1}.
    // finalH is [L][m][H]: partition 0, layer 0: pos 2 → (1, 2), pos 0 → (3, 4); layer 1: pos 2 → (5, 6), pos 0 → (7, 8);
    // partition 1, layer 0: pos 1 → (9, 10); layer 1: pos 1 → (11, 12). c is −h throughout.
    float[] h0 = {1, 2, 3, 4, 5, 6, 7, 8};
    float[] h1 = {9, 10, 11, 12};
    List<PartitionResult> sorted = new ArrayList<>(List.of(
        computed(0, 0, new GradientSum(0.5, 2, new double[] {1, 2}), new int[] {2, 0}, h0, negated(h0), "jvm", 7000),
        computed(1, 1, new GradientSum(0.25, 1, new double[] {10, 20}), new int[] {1}, h1, negated(h1), "opencl:0", 3000),
        new PartitionResult(2, new CombineTree.Block[0], new int[0], new float[0], new float[0], "idle", "exec-2", 0, null)));
    Set<String> devices = new TreeSet<>();
    StepMerge merged = StepMerge.of(LSTM, sorted, 2, 3, true, devices);
    // [L][n][H]: layer 0 = pos 0 (3, 4), pos 1 (9, 10), pos 2 (1, 2); layer 1 = pos 0 (7, 8), pos 1 (11, 12), pos 2 (5, 6)
    float[] expectedH = {3, 4, 9, 10, 1, 2, 7, 8, 11, 12, 5, 6};
    assertArrayEquals(expectedH, merged.carriedH(), "h by batch position, both layers");
    assertArrayEquals(negated(expectedH), merged.carriedC(), "the LSTM's c from the partitions' c, not their h");
    // the two leaves added: loss 0.5 + 0.25, count 2 + 1, gradient (1 + 10, 2 + 20)
    assertEquals(0.75, merged.total().lossSum());
    assertEquals(3, merged.total().count());
    assertArrayEquals(new double[] {11, 22}, merged.total().gradient());
    assertEquals(7000, merged.computeNanos(), "the slowest partition's compute, not the last one's");
    assertEquals(Set.of("executor exec-0: jvm", "executor exec-1: opencl:0"), devices, "the idle partition computed nothing");
  }

  @Test
  void withoutCarryNoStatesAreAssembled() {
    List<PartitionResult> sorted = new ArrayList<>(List.of(
        computed(0, 0, new GradientSum(1, 1, new double[] {1, 2}), new int[] {0}, null, null, "jvm", 1),
        computed(1, 1, new GradientSum(1, 1, new double[] {3, 4}), new int[] {1}, null, null, "jvm", 2)));
    StepMerge merged = StepMerge.of(LSTM, sorted, 2, 2, false, new TreeSet<>());
    assertNull(merged.carriedH());
    assertNull(merged.carriedC());
    assertArrayEquals(new double[] {4, 6}, merged.total().gradient());
  }

  @Test
  void anRnnCarriesHiddenStatesOnlyNoCellStates() {
    // StepSync.State: carriedC holds "LSTM cell states likewise, or null": an RNN (and GRU) has no c to carry
    ModelConfig rnn = new ModelConfig(CellType.RNN, 2, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    float[] h = {1, 2, 3, 4};
    List<PartitionResult> sorted = new ArrayList<>(List.of(
        computed(0, 0, new GradientSum(1, 1, new double[] {1, 2}), new int[] {0}, h, null, "jvm", 1)));
    StepMerge merged = StepMerge.of(rnn, sorted, 1, 1, true, new TreeSet<>());
    assertArrayEquals(h, merged.carriedH(), "one sequence: [L][1][H] is already [L][n][H]");
    assertNull(merged.carriedC());
  }
}
