package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.State;

/**
 * What {@link BpttEngine#lossAndGradients} returns: one raw sum per group of sequences, in group
 * order, and the final states of the whole batch (truncated BPTT carries them on).
 */
public record GroupedResult(GradientSum[] groups, State finalState) {}
