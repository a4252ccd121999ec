package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.nio.file.Path;
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
}
