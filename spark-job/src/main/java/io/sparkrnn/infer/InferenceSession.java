package io.sparkrnn.infer;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.State;

/**
 * A trained model stepped one time step at a time for B sequences side by side, with the
 * recurrent state kept between calls: the embedding API for a service. A thin layer over the
 * kernel's {@link StatefulSession} that adds the model's units (normalisation) and symbols.
 *
 * <pre>{@code
 * TrainedModel model = TrainedModel.load(Path.of("out/model.safetensors"));   // once; share freely
 * try (InferenceSession s = model.openSession(1, "kernel", "auto")) {          // one per thread / stream
 *   float[] y = s.step(new float[] {0.3f});       // [B,F] raw units in, [B,O] raw units (or logits) out
 *   s.reset();                                    // back to the zero state for a new stream
 * }
 * }</pre>
 *
 * <p>Call order: open → ({@link #step} | {@link #stepSymbols} | {@link #stepModelUnits} |
 * {@link #reset} | {@link #setState})* → {@link #close}.
 *
 * <p><b>Thread safety.</b> A session is <em>not</em> thread-safe: it holds mutable state and an
 * engine, and engines are not thread-safe (the Aparapi one holds compiled kernels and device
 * buffers). Use one session per thread or guard it; the {@link TrainedModel} itself is immutable
 * and may be shared by any number of sessions.
 *
 * <p><b>Cost.</b> Each step is one {@code engine.forward} of T = 1 over B rows: about
 * B·L·G·H·(F + H + 1)·2 + B·O·H·2 flops, plus, on the {@code kernel} engine, a handful of kernel
 * launches (tens of µs each on OpenCL) and the host↔device copies of one step's inputs, outputs and
 * state, so latency for small H is launch-bound: batch many streams into one session (larger B)
 * rather than stepping many sessions. Opening a session on a new {@code kernel} engine compiles
 * the kernels (seconds on first use in a JVM); reuse sessions, and {@link #reset} instead of
 * reopening. The {@code reference} engine (float64) needs no compilation but is slower per flop.
 */
public final class InferenceSession implements AutoCloseable {
  private final TrainedModel model;
  private final BpttEngine engine;
  private final boolean ownsEngine;
  private final StatefulSession session;

  InferenceSession(TrainedModel model, BpttEngine engine, boolean ownsEngine, int batchSize) {
    this.model = model;
    this.engine = engine;
    this.ownsEngine = ownsEngine;
    this.session = new StatefulSession(model.params(), engine, batchSize);
  }

  public ModelConfig config() {
    return model.config();
  }

  /** B */
  public int batchSize() {
    return session.batchSize();
  }

  /**
   * Advances every sequence one step, in raw units.
   *
   * @param x inputs [B][F] row-major, raw units (normalised here with the model's statistics)
   * @return outputs [B][O]: raw units for regression models, logits for class models
   * @throws BadInputException for an input past float32 once normalised, or an output past float32
   *     in raw units; either way the state is left as it was, so {@link #stepModelUnits} can take
   *     the same step
   */
  public float[] step(float[] x) {
    int F = model.config().inputSize();
    float[] in;
    try {
      in = model.inputsToModelUnits(x);
    } catch (Normalization.PastFloat32Exception e) {
      // advice for a model's input, as predict gives, not prep's (a review: "prep without --normalize")
      throw new BadInputException("InferenceSession.step: x[" + e.element() + "] (b=" + e.element() / F + ", f="
          + e.element() % F + "): " + e.fact() + "; the model cannot take such a value: leave it out of the input", e);
    }
    // kept to undo a refused step: the advice below is to take this step again with stepModelUnits, which
    // from the advanced state would give the next step's outputs (a review); a copy of B·H (LSTM 2·B·H) floats
    State before = model.normalization() != null && model.normalization().targetMean() != null ? session.state() : null;
    float[] y = session.step(in);
    float[] raw = model.outputsToRawUnits(y);
    try {
      Prediction.refusePastFloat32(model.normalization(), y, raw, "; stepModelUnits gives the outputs in the model's units,"
          + " which are finite", 1);
    } catch (Prediction.OutputPastFloat32Exception e) {
      session.setState(before);
      throw new BadInputException("InferenceSession.step: " + e.getMessage(), e);
    }
    return raw;
  }

  /** As {@link #step} with inputs and outputs in model units (no normalisation either way). */
  public float[] stepModelUnits(float[] x) {
    return session.step(x);
  }

  /**
   * Advances every sequence one step with one symbol each, fed one-hot (class models with F == O,
   * such as text).
   *
   * @param ids class ids [B], each in [0, F)
   * @return logits [B][O]
   */
  public float[] stepSymbols(int[] ids) {
    ModelConfig c = model.config();
    if (c.loss() != LossType.CROSS_ENTROPY || c.inputSize() != c.outputSize()) {
      throw new BadInputException("stepSymbols feeds class ids one-hot, which needs a cross_entropy model with F == O;"
          + " this model has F=" + c.inputSize() + ", O=" + c.outputSize() + ", loss " + c.loss().id());
    }
    int B = batchSize();
    int F = c.inputSize();
    if (ids.length != B) {
      throw new BadInputException("stepSymbols: " + ids.length + " ids, expected B=" + B);
    }
    float[] x = new float[B * F];
    for (int b = 0; b < B; b++) {
      if (ids[b] < 0 || ids[b] >= F) {
        throw new BadInputException("stepSymbols: id " + ids[b] + " at b=" + b + " is outside [0, " + F + ")");
      }
      x[b * F + ids[b]] = 1f;
    }
    return session.step(x);
  }

  /** The class id of {@code symbol} in the model's vocabulary (text models). */
  public int symbolId(String symbol) {
    if (model.vocabulary() == null) {
      throw new BadInputException(model.source() + ": the model has no vocabulary");
    }
    int id = model.vocabulary().indexOf(symbol);
    if (id < 0) {
      throw new BadInputException("symbol '" + symbol + "' is not in the model's vocabulary of "
          + model.vocabulary().size());
    }
    return id;
  }

  /** Back to the zero state (PyTorch's {@code h0 = None}). */
  public void reset() {
    session.reset();
  }

  /** A copy of the current state: h [L][B][H] (and c for LSTM). */
  public State state() {
    return session.state();
  }

  /** Replaces the state with a copy of {@code s} (from {@link #state()}, to resume a stream). */
  public void setState(State s) {
    session.setState(s);
  }

  /** Closes the engine if the session opened it. */
  @Override
  public void close() {
    if (ownsEngine) {
      engine.close();
    }
  }
}
