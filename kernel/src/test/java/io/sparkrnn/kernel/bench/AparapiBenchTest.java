package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;

/**
 * The bench's GFLOP/s rest on {@link AparapiBench#trainingStepFlops}: here its count against one
 * made by hand, product by product, from the multiply-adds of each cell's forward and backward pass
 * (a multiply-add is 2 flops), and the result's rates against the documented B / median and
 * flops / median / 1e9 (no assertion on any time itself).
 */
class AparapiBenchTest {

  /**
   * LSTM, L = 1, F = 3, H = 2, O = 1, B = 3, T = 2, seq2seq: G = 4, GH = 8. Multiply-adds per (t, b):
   * forward x·W_ihᵀ 3·8 = 24, h·W_hhᵀ 2·8 = 16; backward dW_ih = dgatesᵀ x 8·3 = 24, dW_hh = dgatesᵀ h
   * 8·2 = 16, dh_{t−1} = dgates·W_hh 8·2 = 16 (no dx below layer 0); head y = h·wᵀ 2, dw 2, dh 2.
   * 24 + 16 + 24 + 16 + 16 + 6 = 102 multiply-adds = 204 flops, × T·B = 6: 1,224.
   */
  @Test
  void anLstmStepCountsEveryProductOfForwardAndBackward() {
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, 3, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    assertEquals(1_224, AparapiBench.trainingStepFlops(lstm, 3, 2));
  }

  /**
   * GRU, L = 2, F = 1, H = 2, O = 3, B = 2, T = 3, seq2seq: G = 3, GH = 6. Per (t, b):
   * layer 0 (input 1): forward 6·1 + 6·2 = 18, backward dW_ih 6, dW_hh 12, dh_{t−1} 12: 48;
   * layer 1 (input H = 2): forward 6·2 + 6·2 = 24, backward dW_ih 12, dW_hh 12, dh_{t−1} 12 and
   * the layer below's dh = dgates·W_ih 6·2 = 12: 72; head (O·H = 6 each) y, dW, dh: 18.
   * 48 + 72 + 18 = 138 multiply-adds = 276 flops, × T·B = 6: 1,656.
   */
  @Test
  void aStackedGruCountsTheGradientIntoTheLayerBelow() {
    ModelConfig gru = new ModelConfig(CellType.GRU, 2, 1, 2, 3, Mode.SEQ2SEQ, LossType.MSE);
    assertEquals(1_656, AparapiBench.trainingStepFlops(gru, 2, 3));
  }

  /**
   * RNN, L = 1, F = 1, H = 4, O = 2, B = 5, T = 7, seq2one: G = 1, GH = 4. The cell per (t, b):
   * forward 4·1 + 4·4 = 20, backward 4 + 16 + 16 = 36: 56 × T·B = 35 → 1,960; the head runs on
   * the last step only, B = 5 rows of 3 products of O·H = 8: 120. 2,080 multiply-adds = 4,160 flops.
   */
  @Test
  void aSeqToOneHeadCountsOneRowPerSequence() {
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 4, 2, Mode.SEQ2ONE, LossType.MSE);
    assertEquals(4_160, AparapiBench.trainingStepFlops(rnn, 5, 7));
  }

  /** Result's documented rates: sequencesPerSecond = B / median, gflopPerSecond = flops / median / 1e9. */
  @Test
  void ratesAreTheBatchAndTheFlopsOverTheMedianCall() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, 3, 5, 2);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 1)) {
      AparapiBench.Result one = AparapiBench.bench(engine, params, batch, 1);
      assertEquals(one.minSeconds(), one.medianSeconds(), 0, "one run: the median is that run, as is the fastest");
      for (int runs : new int[] {1, 4, 5}) {
        AparapiBench.Result r = AparapiBench.bench(engine, params, batch, runs);
        double median = r.medianSeconds();
        assertTrue(median > 0 && r.minSeconds() <= median, "runs=" + runs + ": min " + r.minSeconds() + ", median " + median);
        assertEquals(runs, r.runs());
        assertEquals(AparapiBench.trainingStepFlops(config, 5, 3), r.flopsPerStep());
        assertEquals(5 / median, r.sequencesPerSecond(), 1e-9 * r.sequencesPerSecond(), "B = 5 over the median call");
        assertEquals(r.flopsPerStep() / median / 1e9, r.gflopPerSecond(), 1e-9 * r.gflopPerSecond(), "GFLOP/s");
      }
    }
  }

  /** The mean of the threads' rates: (100 + 300 + 200) / 3 = 200 GFLOP/s. */
  @Test
  void theCeilingIsTheMeanOfItsThreads() {
    assertEquals(200, new HostCeiling.Result(3, 8, new double[] {100, 300, 200}, false).mean(), 1e-12);
  }

  /**
   * window = 0 and warm-up = 0: no untimed calls, one call per window, and the order the class
   * comment gives: A then B in even rounds, B then A in odd ones.
   */
  @Test
  void roundsAlternateTheOrderOfTheBuilds() {
    StringBuilder order = new StringBuilder();
    double[][] rates = AbBench.alternate(() -> order.append('A'), () -> order.append('B'), 4, 4, 0, 0);
    assertEquals("ABBAABBA", order.toString());
    assertEquals(2, rates.length);
    assertEquals(4, rates[0].length);
  }

  /** Interpolated quartiles of 10, 20, 30, 40, 50: q = 0.25 sits at index 1 (20), q = 0.75 at 3 (40); of 1..4 q3 = 3.25. */
  @Test
  void quartilesOfAnOddAndAnEvenCount() {
    double[] five = {10, 20, 30, 40, 50};
    assertEquals(20, AbBench.quantile(five, 0.25), 0);
    assertEquals(40, AbBench.quantile(five, 0.75), 0);
    assertEquals(3.25, AbBench.quantile(new double[] {1, 2, 3, 4}, 0.75), 1e-12, "index 2.25: 3 + 0.25·(4 − 3)");
    assertEquals(4, AbBench.quantile(new double[] {1, 2, 3, 4}, 1), 0, "the top");
  }
}
