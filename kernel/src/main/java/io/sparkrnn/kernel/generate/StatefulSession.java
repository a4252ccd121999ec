package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;

/**
 * A model run one step (or one chunk) at a time for B sequences, carrying the recurrent state
 * between calls, as Flux's stateful {@code Recur} or a PyTorch loop passing {@code (h, c)} back in.
 *
 * <p>Call order: create → ({@link #step} | {@link #run} | {@link #setState} | {@link #reset})*.
 * Each call is one {@code engine.forward} with the kept state as the initial state, and keeps the
 * final state it returns. Not thread-safe; the engine is borrowed, not closed.
 *
 * <p>What {@link #step} returns: for a seq2seq model, the head's output at this step; for a
 * seq2one model, the head applied to the state after this step (the same numbers, since a
 * one-step seq2one forward reads its only step). Cross-entropy models return logits.
 */
public final class StatefulSession {
  private final Params params;
  private final BpttEngine engine;
  private final int batchSize;
  private State state;

  /**
   * @param batchSize B, the number of sequences carried side by side
   */
  public StatefulSession(Params params, BpttEngine engine, int batchSize) {
    if (batchSize < 1) {
      throw new BadInputException("batch size B must be positive, found " + batchSize);
    }
    this.params = params;
    this.engine = engine;
    this.batchSize = batchSize;
    this.state = State.zeros(params.config(), batchSize);
  }

  public ModelConfig config() {
    return params.config();
  }

  /** B */
  public int batchSize() {
    return batchSize;
  }

  /**
   * Advances every sequence by one step.
   *
   * @param xB the inputs [B][F], row-major
   * @return the head's outputs [B][O] (logits for cross_entropy)
   */
  public float[] step(float[] xB) {
    int F = params.config().inputSize();
    if (xB.length != batchSize * F) {
      throw new BadInputException("step input holds " + xB.length + " values, expected [B,F] = ["
          + batchSize + "," + F + "]");
    }
    return run(xB, 1).outputs();
  }

  /**
   * Advances every sequence by {@code steps} steps in one forward call, all of full length.
   *
   * @param x the inputs [T][B][F], T = steps
   * @return the engine's result: outputs [T][B][O] (seq2seq) or [B][O] (seq2one) and the final state
   */
  public ForwardResult run(float[] x, int steps) {
    Batch batch = Batch.inputsOnly(steps, batchSize, params.config().inputSize(), x);
    batch.validateFor(params.config(), false);
    ForwardResult result = engine.forward(params, batch, state);
    state = result.finalState().copy();                    // the engine may reuse its buffers
    return result;
  }

  /**
   * Runs a whole batch (which may have lengths) from the kept state; keeps the final state, each
   * sequence's after its last valid step (a sequence of length 0 keeps its state).
   */
  public ForwardResult run(Batch batch) {
    if (batch.batchSize() != batchSize) {
      throw new BadInputException("batch has B=" + batch.batchSize() + ", this session carries B=" + batchSize);
    }
    batch.validateFor(params.config(), false);
    ForwardResult result = engine.forward(params, batch, state);
    state = result.finalState().copy();                    // the engine may reuse its buffers
    return result;
  }

  /** Back to the zero state. */
  public void reset() {
    state = State.zeros(params.config(), batchSize);
  }

  /** A copy of the current state. */
  public State state() {
    return state.copy();
  }

  /** Replaces the current state with a copy of {@code s}. */
  public void setState(State s) {
    s.validateFor(params.config(), batchSize);
    state = s.copy();
  }
}
