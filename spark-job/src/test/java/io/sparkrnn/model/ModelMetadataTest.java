package io.sparkrnn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data metadata a trained model carries (ModelMetadata's class javadoc): {@code dataset_task};
 * {@code normalization} with input_mean, input_std and, for regression targets, target_mean and
 * target_std; {@code vocabulary}, the text model's symbols (docs/data-format.md: one code point per
 * class id, sorted by code point).
 */
class ModelMetadataTest {
  @TempDir
  Path tmp;

  @Test
  void aTextDatasetsModelRecordsItsTaskAndItsVocabularySortedByCodePoint() throws IOException {
    Configuration conf = new Configuration();
    Path text = Files.writeString(tmp.resolve("text.txt"), "cabbage bag", StandardCharsets.UTF_8);
    Manifest m = Prep.run(new TextSource(new TextSource.Options(text.toString(), 3, 0), conf),
        new PrepOptions(tmp.resolve("text-ds").toUri(), 2, 0, false, false), conf);
    Map<String, String> meta = ModelMetadata.fromManifest(m);
    assertEquals("text", meta.get(ModelMetadata.KEY_TASK));
    // the distinct code points of "cabbage bag": ' ' (32), a, b, c, e, g
    List<String> symbols = List.of(" ", "a", "b", "c", "e", "g");
    assertEquals(symbols, Json.parse(meta.get(ModelMetadata.KEY_VOCABULARY)), meta.toString());
    assertEquals(symbols, ModelMetadata.vocabulary(meta, "m.safetensors"));
    assertFalse(meta.containsKey(ModelMetadata.KEY_NORMALIZATION), "text is not normalised: " + meta);
  }

  @Test
  void aNormalisedRegressionDatasetsModelRecordsInputAndTargetStatisticsThatReadBack() throws IOException {
    Configuration conf = new Configuration();
    Manifest m = Prep.run(new SineSource(SineSource.Options.defaults(6, 10, 3)),
        new PrepOptions(tmp.resolve("sine").toUri(), 4, 0, true, false), conf);
    Map<String, String> meta = ModelMetadata.fromManifest(m);
    Map<String, Object> n = Json.parseObject(meta.get(ModelMetadata.KEY_NORMALIZATION));
    assertEquals(List.of("input_mean", "input_std", "target_mean", "target_std"), List.copyOf(n.keySet()));
    Normalization expected = m.normalization();
    Normalization back = ModelMetadata.normalization(meta, "m.safetensors");
    assertEquals(expected.inputMean()[0], back.inputMean()[0]);
    assertEquals(expected.inputStd()[0], back.inputStd()[0]);
    assertEquals(expected.targetMean()[0], back.targetMean()[0]);
    assertEquals(expected.targetStd()[0], back.targetStd()[0]);
    assertNull(ModelMetadata.vocabulary(meta, "m.safetensors"), "no vocabulary for sine");
  }

  /** Bad input in a model file (not a bug): a BadInputException naming the file and the key. */
  @Test
  void aVocabularyThatIsNotAListIsRefusedNamingTheFile() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> ModelMetadata.vocabulary(Map.of(ModelMetadata.KEY_VOCABULARY, "\"abc\""), "m.safetensors"));
    assertTrue(e.getMessage().contains("m.safetensors") && e.getMessage().contains("vocabulary"), e.getMessage());
  }
}
