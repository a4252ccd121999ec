package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor side of a step without Spark: which sequences a partition computes, which shards it reads, its carried states. */
class GradientTaskTest {
  /**
   * B = 10 in V = 4 virtual partitions starts at ⌊iB/V⌋ = 0, 2, 5, 7 (10 at i = V). Task p of P
   * computes the leaves [⌊pV/P⌋, ⌊(p+1)V/P⌋): for P = 2, [0, 2) and [2, 4), sequences 0..4 and
   * 5..9; for P = 3, [0, 1), [1, 2), [2, 4), sequences 0..1, 2..4 and 5..9.
   */
  @Test
  void eachPartitionComputesTheSequencesOfItsRunOfVirtualPartitions() {
    VirtualPartitions cut = new VirtualPartitions(10, 4);
    assertArrayEquals(new int[] {0, 1, 2, 3, 4}, GradientTask.positionsOf(cut, 0, 2));
    assertArrayEquals(new int[] {5, 6, 7, 8, 9}, GradientTask.positionsOf(cut, 1, 2));
    assertArrayEquals(new int[] {0, 1}, GradientTask.positionsOf(cut, 0, 3));
    assertArrayEquals(new int[] {2, 3, 4}, GradientTask.positionsOf(cut, 1, 3));
    assertArrayEquals(new int[] {5, 6, 7, 8, 9}, GradientTask.positionsOf(cut, 2, 3));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, GradientTask.positionsOf(cut, 0, 1));
  }

  @Test
  void theShardsReadAreTheDistinctShardsOfThePositionsInFirstUseOrder() {
    StepInput in = new StepInput(0, null, null, new int[] {4, 4, 7, 2, 7}, new int[] {0, 1, 0, 3, 1}, 0, 0, null, null, false);
    assertArrayEquals(new int[] {4, 7, 2}, GradientTask.shardsRead(in, new int[] {1, 2, 3, 4}));
    assertArrayEquals(new int[] {7}, GradientTask.shardsRead(in, new int[] {2, 4}));
    assertArrayEquals(new int[0], GradientTask.shardsRead(in, new int[0]));
  }

  /**
   * Carried states [L][n][H] of the whole batch, picked at the partition's positions into
   * [L][m][H]: value 100·l + 10·b + j at (layer l, sequence b, unit j), c the same plus 1000.
   */
  @Test
  void carriedStatesArePickedAtThePartitionsPositionsInEveryLayer() {
    int L = 2, n = 3, H = 2;
    ModelConfig config = new ModelConfig(CellType.LSTM, L, 1, H, 1, Mode.SEQ2SEQ, LossType.MSE);
    float[] h0 = new float[L * n * H];
    float[] c0 = new float[L * n * H];
    for (int l = 0; l < L; l++) {
      for (int b = 0; b < n; b++) {
        for (int j = 0; j < H; j++) {
          h0[(l * n + b) * H + j] = 100 * l + 10 * b + j;
          c0[(l * n + b) * H + j] = 1000 + 100 * l + 10 * b + j;
        }
      }
    }
    State s = GradientTask.select(config, h0, c0, n, new int[] {1, 2});
    assertEquals(2, s.batchSize());
    // layer 0: sequences 1, 2; layer 1: sequences 1, 2
    assertArrayEquals(new float[] {10, 11, 20, 21, 110, 111, 120, 121}, s.h());
    assertArrayEquals(new float[] {1010, 1011, 1020, 1021, 1110, 1111, 1120, 1121}, s.c());
    State gru = GradientTask.select(config, h0, null, n, new int[] {0});
    assertArrayEquals(new float[] {0, 1, 100, 101}, gru.h());
    assertNull(gru.c(), "no cell state to pick (rnn, gru)");
  }

  /**
   * Partition 1 of 2 (V = 4) over a batch of 8 sequences, two from each of shards 0..3: it computes
   * the leaves [2, 4), positions 4..7 (shards 2 and 3), reads those two shards and no others, sends
   * its leaves as the one node (1, 1), bounds the JVM's cache as the run says, and prefetches its own part of the next step (shards 6 and 7 of a next batch over shards
   * 4..7), not partition 0's (4 and 5).
   */
  @Test
  void aPartitionReadsItsOwnShardsAndPrefetchesItsOwnPartOfTheNextStep(@TempDir Path tmp) throws Exception {
    Configuration hadoop = new Configuration();
    Path dir = tmp.resolve("d");
    Prep.run(new SineSource(SineSource.Options.defaults(10, 32, 1)), new PrepOptions(dir.toUri(), 4, 0, false, false), hadoop);
    Dataset ds = Dataset.open(dir.toUri(), hadoop);
    var spec = ds.manifest().spec();
    ModelConfig config = new ModelConfig(CellType.RNN, 1, spec.features(), 2, spec.outputs(), Mode.SEQ2SEQ, LossType.MSE);
    float[] params = Params.initialize(config, 3).values();
    int[] rows = {0, 1, 0, 1, 0, 1, 0, 1};
    StepInput in = new StepInput(0, config, params, new int[] {0, 0, 1, 1, 2, 2, 3, 3}, rows, 0, spec.steps(), null, null, false);
    StepInput next = new StepInput(1, config, null, new int[] {4, 4, 5, 5, 6, 6, 7, 7}, rows, 0, 0, null, null, false);
    long run = 0x6d7e5a1L; // a run of its own in the JVM's cache
    ShardCache.JVM.clear();
    GradientTask.Context context = new GradientTask.Context(ds, "reference", "auto", 2, 4, 1,
        new ShardCache.Use(new ShardCache.Size(1 << 20, 0), run, null));
    PartitionResult r = GradientTask.compute(context, in, List.of(next), 1, "test");
    assertArrayEquals(new int[] {4, 5, 6, 7}, r.positions());
    assertEquals(1, r.blocks().length);
    assertEquals(1, r.blocks()[0].level());
    assertEquals(1, r.blocks()[0].index());
    assertEquals(1 << 20, ShardCache.JVM.capacity(), "the run's shard-cache size");
    ShardCache.Stats st = ShardCache.JVM.stats(run);
    assertEquals(2, st.misses(), "shards 2 and 3, each read once");
    assertEquals(0, st.hits() + st.waits());
    ShardCacheTest.drainPrefetches(ShardCache.JVM);
    assertEquals(2, ShardCache.JVM.stats(run).prefetches(), "shards 6 and 7, read in the background");
    ShardCache.JVM.get(run, ds, 6);
    ShardCache.JVM.get(run, ds, 7);
    assertEquals(2, ShardCache.JVM.stats(run).hits(), "6 and 7 were held");
    ShardCache.JVM.get(run, ds, 4);
    assertEquals(3, ShardCache.JVM.stats(run).misses(), "shard 4, partition 0's part of the next step, was not prefetched");
    ShardCache.JVM.clear();
  }
}
