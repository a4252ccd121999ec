package io.sparkrnn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Adam;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint is read as a model (predict, export, init): it records what model.safetensors
 * records of its data, so a checkpoint of a normalised dataset predicts in raw units as the model
 * does. One of an earlier version, which recorded neither, is refused as a model (a user audit: its
 * outputs came out in normalised units, silently, and init compared the data's statistics with none).
 */
class CheckpointAsModelTest {
  @TempDir Path tmp;
  final Configuration conf = new Configuration();

  private Manifest prep(String dir, boolean normalize, Object source) throws IOException {
    Path ds = tmp.resolve(dir);
    if (source instanceof SineSource sine) {
      Prep.run(sine, new PrepOptions(ds.toUri(), 4, 0, normalize, false), conf);
    } else {
      Prep.run((TextSource) source, new PrepOptions(ds.toUri(), 4, 0, normalize, false), conf);
    }
    return Dataset.open(ds.toUri(), conf).manifest();
  }

  private String checkpoint(String dir, ModelConfig model, Function<OutputDir, Checkpoints> make) throws IOException {
    OutputDir out = new OutputDir(tmp.resolve(dir).toUri().toString(), conf);
    make.apply(out).save(2, Params.initialize(model, 5), new Adam(0.01, 0.9, 0.999, 1e-8, 0, false).state(), null, null,
        Map.of("seed", "5"));
    return out.path(Checkpoints.DIR + "/" + Checkpoints.fileName(2)).toString();
  }

  @Test
  void aCheckpointOfANormalisedDatasetCarriesItsStatistics() throws IOException {
    Manifest m = prep("sine", true, new SineSource(SineSource.Options.defaults(6, 8, 3)));
    Normalization n = m.normalization();
    assertNotNull(n, "prep --normalize records the statistics");
    ModelConfig model = new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    String file = checkpoint("run", model, out -> new Checkpoints(out, ModelMetadata.fromManifest(m)));
    TrainedModel loaded = TrainedModel.load(file, conf);
    assertTrue(loaded.normalizes(), "predict converts to and from the dataset's units");
    assertArrayEquals(n.inputMean(), loaded.normalization().inputMean());
    assertArrayEquals(n.inputStd(), loaded.normalization().inputStd());
    assertArrayEquals(n.targetMean(), loaded.normalization().targetMean());
    assertArrayEquals(n.targetStd(), loaded.normalization().targetStd());
    // and still resumes: the newest checkpoint with its step
    assertEquals(2, new Checkpoints(new OutputDir(tmp.resolve("run").toUri().toString(), conf)).loadLatest().completedSteps());
  }

  @Test
  void aCheckpointOfATextDatasetCarriesItsVocabulary() throws IOException {
    Path text = Files.writeString(tmp.resolve("in.txt"), "abcab cab abc");
    Manifest m = prep("text", false, new TextSource(new TextSource.Options(text.toString(), 4, 1), conf));
    int v = m.spec().features();   // a, b, c and the space
    assertEquals(4, v);
    ModelConfig model = new ModelConfig(CellType.RNN, 1, v, 4, v, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    String file = checkpoint("text-run", model, out -> new Checkpoints(out, ModelMetadata.fromManifest(m)));
    assertEquals(m.spec().vocabulary(), TrainedModel.load(file, conf).vocabulary());
  }

  @Test
  void aCheckpointThatRecordsNoDataIsRefusedAsAModel() throws IOException {
    ModelConfig model = new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    String file = checkpoint("old", model, Checkpoints::new);
    BadInputException e = assertThrows(BadInputException.class, () -> TrainedModel.load(file, conf));
    assertTrue(e.getMessage().startsWith(file + ": a checkpoint written before 2026-12-06, which does not record its dataset's"
        + " normalisation statistics"), e.getMessage());
    assertTrue(e.getMessage().contains("use the run's model.safetensors"), e.getMessage());
  }
}
