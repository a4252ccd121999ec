package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.model.Mode;
import org.junit.jupiter.api.Test;

/**
 * What `predict --out FILE.npy` over a dataset checks against the driver's heap before Spark starts
 * (a user audit: 189 MB of outputs died at -Xmx512m after the forward passes): three copies of the
 * gathered predictions (the tasks' results, the driver's, the file's), each 4 bytes an output value
 * and at most 8 bytes a step of class ids and lengths.
 */
class PredictGatherTest {
  @Test
  void theEstimateIsThreeCopiesOfTheOutputsAndTheirIdsAndLengths() {
    // the audit's dataset: T = 48, 492,000 sequences, O = 2, seq2seq: 48·492000·(2·4 + 8) bytes = 377,856,000, three times
    assertEquals(3L * 48 * 492_000 * (2 * 4 + 8), PredictCommand.gatheredBytes(Mode.SEQ2SEQ, 48, 492_000, 2));
    // seq2one: one output row a sequence whatever T
    assertEquals(3L * 1000 * (3 * 4 + 8), PredictCommand.gatheredBytes(Mode.SEQ2ONE, 48, 1000, 3));
    // no int overflow: 2^31 sequences of T = 100
    assertEquals(3L * 100 * (1L << 31) * (4 + 8), PredictCommand.gatheredBytes(Mode.SEQ2SEQ, 100, 1L << 31, 1));
  }
}
