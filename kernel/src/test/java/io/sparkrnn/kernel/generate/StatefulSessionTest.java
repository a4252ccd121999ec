package io.sparkrnn.kernel.generate;

import static io.sparkrnn.kernel.testing.NumericAssert.assertBitsEqual;
import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class StatefulSessionTest {
  /**
   * Stepping stores the state as float32 between calls while one T-step forward keeps it in float64:
   * a rounding of ≤ 6e-8 per step, through 2 layers and 5 steps of contracting tanh/sigmoid cells.
   */
  static final double STATE_ROUNDING_TOL = 1e-6;

  private final BpttEngine engine = new ReferenceEngine();

  @Test
  void steppingEqualsOneForwardOverTheWholeSequence() {
    for (CellType cell : CellType.values()) {
      ModelConfig config = new ModelConfig(cell, 2, 3, 4, 2, Mode.SEQ2SEQ, LossType.MSE);
      Params params = Params.initialize(config, 17);
      int T = 5, B = 2, F = 3, O = 2;
      Batch batch = Fixtures.randomBatch(config, T, B, false, 99);
      float[] whole = engine.forward(params, Batch.inputsOnly(T, B, F, batch.x()), null).outputs();
      StatefulSession session = new StatefulSession(params, engine, B);
      float[] stepped = new float[T * B * O];
      for (int t = 0; t < T; t++) {
        float[] y = session.step(Arrays.copyOfRange(batch.x(), t * B * F, (t + 1) * B * F));
        System.arraycopy(y, 0, stepped, t * B * O, B * O);
      }
      assertClose(whole, stepped, STATE_ROUNDING_TOL, cell.id() + " stepped vs whole");
    }
  }

  @Test
  void resetAndSetStateRestartTheSequence() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 3);
    StatefulSession session = new StatefulSession(params, engine, 1);
    float[] x0 = {0.5f, -0.25f};
    float[] x1 = {-1f, 0.75f};
    float[] first = session.step(x0);
    State afterFirst = session.state();
    float[] second = session.step(x1);
    session.reset();
    assertBitsEqual(first, session.step(x0), "after reset");
    session.setState(afterFirst);
    assertBitsEqual(second, session.step(x1), "after setState");
  }

  @Test
  void seq2oneStepIsTheHeadOnTheCurrentState() {
    ModelConfig seq2seq = new ModelConfig(CellType.GRU, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    ModelConfig seq2one = new ModelConfig(CellType.GRU, 1, 2, 3, 2, Mode.SEQ2ONE, LossType.MSE);
    Params a = Params.initialize(seq2seq, 5);
    Params b = new Params(seq2one, a.values().clone());
    StatefulSession sa = new StatefulSession(a, engine, 1);
    StatefulSession sb = new StatefulSession(b, engine, 1);
    for (float[] x : new float[][] {{0.1f, 0.2f}, {-0.3f, 0.4f}, {0.5f, -0.6f}}) {
      assertBitsEqual(sa.step(x), sb.step(x), "seq2one step vs seq2seq step");
    }
  }

  /** run(Batch) carries h and c between calls too: two chunks of 2 and 3 steps equal one 5-step forward. */
  @Test
  void runningABatchInChunksCarriesTheStateBetweenThem() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 2, 3, 4, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 21);
    int T = 5, B = 2, F = 3, O = 2, first = 2;
    Batch batch = Fixtures.randomBatch(config, T, B, false, 7);
    float[] whole = engine.forward(params, Batch.inputsOnly(T, B, F, batch.x()), null).outputs();
    StatefulSession session = new StatefulSession(params, engine, B);
    session.run(Batch.inputsOnly(first, B, F, Arrays.copyOf(batch.x(), first * B * F)));
    float[] rest = session.run(Batch.inputsOnly(T - first, B, F, Arrays.copyOfRange(batch.x(), first * B * F, T * B * F))).outputs();
    assertClose(Arrays.copyOfRange(whole, first * B * O, T * B * O), rest, STATE_ROUNDING_TOL, "steps 2..4 of the chunked run");
  }

  /** state() hands out a copy and setState keeps one (their javadoc): the caller's array is not the session's. */
  @Test
  void theStateHandedOutAndTakenInIsACopy() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 3);
    float[] x0 = {0.5f, -0.25f};
    float[] x1 = {-1f, 0.75f};
    StatefulSession untouched = new StatefulSession(params, engine, 1);
    untouched.step(x0);
    State afterX0 = untouched.state();
    float[] expected = untouched.step(x1);

    StatefulSession session = new StatefulSession(params, engine, 1);
    session.step(x0);
    State handedOut = session.state();
    Arrays.fill(handedOut.h(), 9f);                                // the caller scribbles on its copy
    Arrays.fill(handedOut.c(), 9f);
    assertBitsEqual(expected, session.step(x1), "after the caller changed the state it was handed");

    State given = afterX0.copy();
    session.setState(given);
    Arrays.fill(given.h(), -9f);                                   // and on the state it gave
    Arrays.fill(given.c(), -9f);
    assertBitsEqual(expected, session.step(x1), "after the caller changed the state it set");
  }

  @Test
  void aBatchOfAnotherSizeIsRefusedNamingBoth() {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    StatefulSession session = new StatefulSession(Params.zeros(config), engine, 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> session.run(Batch.inputsOnly(1, 3, 2, new float[6])));
    org.junit.jupiter.api.Assertions.assertEquals("batch has B=3, this session carries B=2", e.getMessage());
  }

  @Test
  void wrongShapesAreRefused() {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    StatefulSession session = new StatefulSession(Params.zeros(config), engine, 2);
    assertThrows(IllegalArgumentException.class, () -> session.step(new float[3]));
    assertThrows(IllegalArgumentException.class, () -> session.setState(State.zeros(config, 3)));
  }

  @Test
  void aBatchSizeBelowOneIsRefused() {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 2, 3, 2, Mode.SEQ2SEQ, LossType.MSE);
    assertThrows(IllegalArgumentException.class, () -> new StatefulSession(Params.zeros(config), engine, 0));
  }
}
