package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link InputFiles}, per its class comment: a {@code .npy} is raw units, [T,B,F] or [T,F] (B = 1),
 * normalised here with the model's statistics; its F must be the model's. Expected values by hand.
 */
class InputFilesTest {
  @TempDir Path tmp;

  /** F = 2, input_mean [1, −2], input_std [2, 0.5]: (x − mean) / std. */
  static TrainedModel model() {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
    return TrainedModel.of(Params.zeros(c), Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(Map.of(
        "input_mean", List.of(1.0, -2.0), "input_std", List.of(2.0, 0.5)))));
  }

  String npy(String name, int[] shape, float[] data) throws IOException {
    Path p = tmp.resolve(name);
    Files.write(p, NpyWriter.toBytes(shape, data));
    return p.toString();
  }

  @Test
  void aTwoDimensionalNpyIsOneSequenceOfTStepsNormalisedWithTheModelsStatistics() throws IOException {
    // [T=3, F=2]: B = 1; (x0 − 1) / 2 and (x1 + 2) / 0.5 per row
    String f = npy("primer.npy", new int[] {3, 2}, new float[] {3, -2, 1, -1, 5, 0});
    Batch b = InputFiles.read(f, model(), new Configuration());
    assertEquals(3, b.steps());
    assertEquals(1, b.batchSize());
    assertArrayEquals(new float[] {1, 0, 0, 2, 2, 4}, b.x(), 0f);
  }

  @Test
  void aThreeDimensionalNpyIsTStepsOfBSequencesAndTheSuffixIsReadInAnyCase() throws IOException {
    // [T=1, B=2, F=2], named .NPY: still raw units to normalise, not a shard
    String f = npy("PRIMER.NPY", new int[] {1, 2, 2}, new float[] {3, -2, 1, -1});
    Batch b = InputFiles.read(f, model(), new Configuration());
    assertEquals(1, b.steps());
    assertEquals(2, b.batchSize());
    assertArrayEquals(new float[] {1, 0, 0, 2}, b.x(), 0f);
  }

  @Test
  void anNpyWhoseLastAxisIsNotTheModelsFIsRefusedNamingBoth() throws IOException {
    String f = npy("three.npy", new int[] {2, 3}, new float[6]);
    BadInputException e = assertThrows(BadInputException.class, () -> InputFiles.read(f, model(), new Configuration()));
    assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains("F=3") && e.getMessage().contains("F=2"),
        e.getMessage());
    String flat = npy("flat.npy", new int[] {4}, new float[4]);
    BadInputException rank = assertThrows(BadInputException.class, () -> InputFiles.read(flat, model(), new Configuration()));
    assertTrue(rank.getMessage().contains("expected [T,B,F] or [T,F]"), rank.getMessage());
  }
}
