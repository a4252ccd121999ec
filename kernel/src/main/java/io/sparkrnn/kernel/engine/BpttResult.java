package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.State;

/**
 * What one backward pass returns: the raw sums, and the final states, which truncated BPTT carries
 * into the next window (no gradient flows back through them).
 */
public record BpttResult(GradientSum gradients, State finalState) {}
