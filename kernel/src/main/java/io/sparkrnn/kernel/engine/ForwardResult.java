package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.State;

/**
 * The head's outputs and the final states of a forward pass.
 *
 * @param outputs [T][B][O] (seq2seq; padded steps hold 0) or [B][O] (seq2one); logits for cross_entropy
 * @param finalState the state after each sequence's last valid step
 */
public record ForwardResult(float[] outputs, State finalState) {}
