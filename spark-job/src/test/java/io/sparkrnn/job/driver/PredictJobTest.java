package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.sparkrnn.infer.Prediction;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * PredictJob.concatenate's contract: shard predictions joined along B in shard order, [T, N, O];
 * lengths concatenated too, all T for a shard that has none.
 */
class PredictJobTest {

  @Test
  void shardsJoinAlongTheBatchAndAShardWithoutLengthsCountsAllTSteps() {
    int T = 2;
    // shard 3: B = 1, every step valid (no lengths); output [T][B][O=1] = t0: 1 | t1: 2, ids [T][B] = t0: 0 | t1: 1
    Prediction a = new Prediction(new int[] {T, 1, 1}, new float[] {1, 2}, new int[] {0, 1}, null, null);
    // shard 5: B = 2, lengths {2, 1}; output t0: 3, 4 | t1: 5, 0 (padded), ids t0: 2, 0 | t1: 1, 2
    Prediction b = new Prediction(new int[] {T, 2, 1}, new float[] {3, 4, 5, 0}, new int[] {2, 0, 1, 2}, new int[] {2, 1}, null);
    Prediction all = PredictJob.concatenate(List.of(new PredictJob.ShardResult(3, 1, T, a), new PredictJob.ShardResult(5, 2, T, b)));
    // N = 3, [T][N]: step 0 holds shard 3's row then shard 5's two rows, step 1 likewise
    assertArrayEquals(new int[] {T, 3, 1}, all.shape());
    assertArrayEquals(new float[] {1, 3, 4, 2, 5, 0}, all.output(), 0f, "output [T][N][O]");
    assertArrayEquals(new int[] {0, 2, 0, 1, 1, 2}, all.ids(), "ids [T][N]");
    assertArrayEquals(new int[] {T, 2, 1}, all.lengths(), "shard 3 has no lengths: its row has all T steps");
    assertNull(all.text());
  }

  /**
   * For seq2one a Prediction's lengths are the input sequences' lengths [B] (Prediction: "the
   * batch's lengths [B], or null when every sequence has all T steps"), and its [B,O] shape does not
   * say T: a shard without lengths must count the input steps its ShardResult carries. Two shards of
   * T = 5 input steps: shard 0 full (no lengths), shard 1 lengths {5, 3} → {5, 5, 3} (it used to
   * fill 1, the T of the output's shape).
   */
  @Test
  void seq2oneLengthsOfAShardWithoutThemAreTheInputsT() {
    int inputT = 5;
    Prediction full = new Prediction(new int[] {1, 1}, new float[] {0.5f}, null, null, null);
    Prediction padded = new Prediction(new int[] {2, 1}, new float[] {0.25f, 0.75f}, null, new int[] {inputT, 3}, null);
    Prediction all = PredictJob.concatenate(List.of(new PredictJob.ShardResult(0, 1, inputT, full), new PredictJob.ShardResult(1, 2, inputT, padded)));
    assertArrayEquals(new int[] {3, 1}, all.shape());
    assertArrayEquals(new float[] {0.5f, 0.25f, 0.75f}, all.output(), 0f, "output [N][O]");
    assertArrayEquals(new int[] {inputT, inputT, 3}, all.lengths(), "shard 0's sequence has all T = 5 input steps");
  }

  /** A text prediction's file is named as its shard, .safetensors replaced by .txt (textName's javadoc). */
  @Test
  void aShardsTextFileIsNamedAsTheShard() {
    assertEquals("shard-00003.txt", PredictJob.textName("shard-00003.safetensors"));
    assertEquals("part.safetensors.v2.txt", PredictJob.textName("part.safetensors.v2"), "only a trailing .safetensors goes");
  }
}
