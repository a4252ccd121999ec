package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Compatibility#check}: "with targets, also mode and loss". The copy task's dataset is
 * seq2seq, cross_entropy with F = 10, O = 9 (CopySource's class comment); a model of the same F, O
 * and mode but mse loss agrees on everything except the loss.
 */
class CompatibilityTest {
  @TempDir Path tmp;

  @Test
  void withTargetsALossThatDiffersIsRefusedNamingBothLosses() throws IOException {
    Configuration conf = new Configuration();
    Path dir = tmp.resolve("copy");
    Prep.run(new CopySource(new CopySource.Options(1, 4, 3)), new PrepOptions(dir.toUri(), 4, 0, false, false), conf);
    Dataset copy = Dataset.open(dir.toUri(), conf);
    TrainedModel mse = TrainedModel.of(Params.zeros(new ModelConfig(CellType.RNN, 1, 10, 2, 9, Mode.SEQ2SEQ, LossType.MSE)), null);
    BadInputException e = assertThrows(BadInputException.class, () -> Compatibility.check(mse, copy, true));
    assertTrue(e.getMessage().contains("cross_entropy") && e.getMessage().contains("mse"), e.getMessage());
    // without targets (predict) only F, O and the normalisation matter
    assertDoesNotThrow(() -> Compatibility.check(mse, copy, false));
    TrainedModel same = TrainedModel.of(Params.zeros(new ModelConfig(CellType.RNN, 1, 10, 2, 9, Mode.SEQ2SEQ,
        LossType.CROSS_ENTROPY)), null);
    assertDoesNotThrow(() -> Compatibility.check(same, copy, true));
  }

  static TrainedModel model(int F, int O, Mode mode, Map<String, String> data) {
    return TrainedModel.of(Params.zeros(new ModelConfig(CellType.RNN, 1, F, 2, O, mode, LossType.CROSS_ENTROPY)), data);
  }

  @Test
  void anotherFOrOOrModeOrNormalisationIsRefusedNamingTheDatasetAndBothValues() throws IOException {
    // the copy dataset: seq2seq, cross_entropy, F = 10, O = 9, prepared without --normalize (raw units)
    Configuration conf = new Configuration();
    Path dir = tmp.resolve("copy");
    Prep.run(new CopySource(new CopySource.Options(1, 4, 3)), new PrepOptions(dir.toUri(), 4, 0, false, false), conf);
    Dataset copy = Dataset.open(dir.toUri(), conf);
    String where = copy.uri() + ": ";
    BadInputException f = assertThrows(BadInputException.class, () -> Compatibility.check(model(9, 9, Mode.SEQ2SEQ, null), copy,
        false));
    assertTrue(f.getMessage().startsWith(where) && f.getMessage().contains("F=10") && f.getMessage().contains("F=9"),
        f.getMessage());
    BadInputException o = assertThrows(BadInputException.class, () -> Compatibility.check(model(10, 8, Mode.SEQ2SEQ, null), copy,
        false));
    assertTrue(o.getMessage().startsWith(where) && o.getMessage().contains("O=9") && o.getMessage().contains("O=8"),
        o.getMessage());
    // with targets (evaluate, grad) a seq2one model of the same F, O and loss does not score seq2seq targets
    BadInputException mode = assertThrows(BadInputException.class, () -> Compatibility.check(model(10, 9, Mode.SEQ2ONE, null),
        copy, true));
    assertTrue(mode.getMessage().contains("the dataset is seq2seq, cross_entropy; the model is seq2one, cross_entropy"),
        mode.getMessage());
    // the shards hold raw inputs, the model expects z-scored ones: its own statistics must be those of the shards
    TrainedModel normalised = model(10, 9, Mode.SEQ2SEQ, Map.of(ModelMetadata.KEY_NORMALIZATION,
        Json.write(Map.of("input_mean", Collections.nCopies(10, 0.5),
            "input_std", Collections.nCopies(10, 2.0)))));
    BadInputException units = assertThrows(BadInputException.class, () -> Compatibility.check(normalised, copy, false));
    assertTrue(units.getMessage().startsWith(where) && units.getMessage().contains("normalised with nothing (raw units)"),
        units.getMessage());
  }
}
