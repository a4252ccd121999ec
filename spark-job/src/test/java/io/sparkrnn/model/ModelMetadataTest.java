package io.sparkrnn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
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
    // not JSON, and entries that are not strings (a number, null): the same, naming the file, the key and the entry
    String[][] cases = {{"[\"a\", ", "m.safetensors: __metadata__ vocabulary is not valid: "},
        {"[\"a\", 1]", "m.safetensors: __metadata__ vocabulary must be a JSON list of strings; entry 1 is 1"},
        {"[null, \"b\"]", "m.safetensors: __metadata__ vocabulary must be a JSON list of strings; entry 0 is null"}};
    for (String[] c : cases) {
      BadInputException bad = assertThrows(BadInputException.class,
          () -> ModelMetadata.vocabulary(Map.of(ModelMetadata.KEY_VOCABULARY, c[0]), "m.safetensors"), c[0]);
      assertTrue(bad.getMessage().startsWith(c[1]), bad.getMessage());
    }
  }

  /**
   * Every feature's and every output's statistic is written and read back, in order: F = 2 inputs
   * and O = 2 regression targets, values chosen by hand (a sine dataset has one of each, so it
   * cannot tell the first entry from the whole list).
   */
  @Test
  void everyFeaturesAndEveryOutputsStatisticsReadBackInOrder() {
    // T = 4, F = 2, O = 2, seq2seq mse; one shard of B = 1 holds 4 * (T*F + T*O) = 64 data bytes
    DatasetSpec spec = new DatasetSpec("npy", 2, 2, 4, Mode.SEQ2SEQ, LossType.MSE, false, null, null);
    Normalization n = new Normalization(new double[] {1.5, -2}, new double[] {0.5, 4},
        new double[] {10, 20}, new double[] {2, 3});
    Manifest m = new Manifest(spec, List.of(new ShardInfo("s0.safetensors", Split.TRAIN, 1, 64, "00000000")), n);
    Map<String, String> meta = ModelMetadata.fromManifest(m);
    Map<String, Object> j = Json.parseObject(meta.get(ModelMetadata.KEY_NORMALIZATION));
    assertEquals(List.of(1.5, -2.0), j.get("input_mean"));
    assertEquals(List.of(0.5, 4.0), j.get("input_std"));
    assertEquals(List.of(10.0, 20.0), j.get("target_mean"));
    assertEquals(List.of(2.0, 3.0), j.get("target_std"));
    Normalization back = ModelMetadata.normalization(meta, "m.safetensors");
    assertArrayEquals(new double[] {1.5, -2}, back.inputMean());
    assertArrayEquals(new double[] {0.5, 4}, back.inputStd());
    assertArrayEquals(new double[] {10, 20}, back.targetMean());
    assertArrayEquals(new double[] {2, 3}, back.targetStd());
  }

  /** A model whose dataset was not normalised carries no normalization key: its inputs are used as they are (null). */
  @Test
  void noNormalizationKeyMeansNoNormalisation() {
    Map<String, String> meta = Map.of(ModelMetadata.KEY_TASK, "sine");
    assertNull(ModelMetadata.normalization(meta, "m.safetensors"));
    assertNull(ModelMetadata.vocabulary(meta, "m.safetensors"));
  }

  /**
   * A malformed normalization (a statistic that is not a list, or a list with a non-number) is bad
   * input in the model file, not a bug: a BadInputException naming the file and the key, and what
   * is wrong, whatever the JSON reader or a cast threw underneath.
   */
  @Test
  void aMalformedNormalizationIsRefusedNamingTheFileAndTheKey() {
    String[] bad = {
        "{\"input_mean\": 0.5, \"input_std\": [1]}",
        "{\"input_mean\": [\"a\"], \"input_std\": [1]}",
        "{\"input_std\": [1]}",
        "[0.5]"};
    for (String s : bad) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> ModelMetadata.normalization(Map.of(ModelMetadata.KEY_NORMALIZATION, s), "m.safetensors"), s);
      assertTrue(e.getMessage().startsWith("m.safetensors: __metadata__ normalization is not valid"), e.getMessage());
    }
    BadInputException notList = assertThrows(BadInputException.class, () -> ModelMetadata.normalization(
        Map.of(ModelMetadata.KEY_NORMALIZATION, bad[0]), "m.safetensors"));
    assertTrue(notList.getMessage().endsWith("expected a list of numbers"), notList.getMessage());
  }
}
