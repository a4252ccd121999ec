package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A mutation audit of Generation's refusals of an output past float32: they name the sequence whose
 * output it is, "(sequence b)" for element i = b·O + o. The tests covered one sequence only (B = 1,
 * O = 1), where any index reads "sequence 0", so a refusal naming the wrong sequence passed them.
 * Here B = 2 and only sequence 1's output is refused: statistics are set around the shared scalar
 * RNN's two outputs after a one-step primer.
 */
class GenerationRefusalSequenceTest {
  /** Primer T = 1, B = 2, in an order where sequence 1's first output (model units) is the larger. */
  private static Batch primer(Params p) {
    float[] x = {-1f, 1f};
    float[] y = new ReferenceEngine().forward(p, new Batch(1, 2, 1, x, null, null, null), null).outputs();
    assertTrue(Math.abs(y[0] - y[1]) > 0.01, "the primer tells the sequences apart: " + y[0] + ", " + y[1]);
    return new Batch(1, 2, 1, y[1] > y[0] ? x : new float[] {x[1], x[0]}, null, null, null);
  }

  private static float[] firstOutputs(Params p, Batch primer) {
    return new ReferenceEngine().forward(p, primer, null).outputs();
  }

  private static TrainedModel withStatistics(Params p, double inputMean, double inputStd, double targetMean, double targetStd) {
    return TrainedModel.of(p, Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(Map.of("input_mean", List.of(inputMean),
        "input_std", List.of(inputStd), "target_mean", List.of(targetMean), "target_std", List.of(targetStd)))));
  }

  /** Targets around float32's top: sequence 0's first output is finite in raw units, sequence 1's is past float32. */
  @Test
  void anOutputPastFloat32InRawUnitsNamesItsSequence() {
    Params p = PredictionAndGenerationTest.scalarRnn().params();
    Batch primer = primer(p);
    float[] y = firstOutputs(p, primer);
    double mid = (y[0] + (double) y[1]) / 2;
    TrainedModel model = withStatistics(p, 0, 1, 3.4e38 - 1e38 * mid, 1e38);
    BadInputException e = assertThrows(BadInputException.class,
        () -> Generation.run(model, new ReferenceEngine(), primer, 2, Sampler.identity()));
    assertTrue(e.getMessage().startsWith("generate: step 1 of 2's output cannot be written or fed back (sequence 1): "),
        e.getMessage());
  }

  /** Inputs that barely varied around sequence 0's output: only sequence 1's output, fed back, is past float32. */
  @Test
  void anOutputThatCannotBeFedBackNamesItsSequence() {
    Params p = PredictionAndGenerationTest.scalarRnn().params();
    Batch primer = primer(p);
    float[] y = firstOutputs(p, primer);
    TrainedModel model = withStatistics(p, y[0], 1e-42, 0, 1);
    BadInputException e = assertThrows(BadInputException.class,
        () -> Generation.run(model, new ReferenceEngine(), primer, 2, Sampler.identity()));
    assertTrue(e.getMessage().startsWith("generate: step 1 of 2's output cannot be fed back (sequence 1): "), e.getMessage());
  }
}
