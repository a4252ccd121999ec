package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * What docs/data-format.md makes a reader refuse: manifest counts that disagree with the shards, a
 * target_dtype that disagrees with the loss, a shard tensor beyond x, y and lengths ("No other
 * tensors are allowed"), class ids outside [0, O).
 */
class ManifestChecksTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  private static void refused(Executable action, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
    }
  }

  /** T=5, F=1, 4 sequences in two training shards of B=2, none for validation. */
  private Path sine() throws IOException {
    Path ds = tmp.resolve("ds");
    Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 1)), new PrepOptions(ds.toUri(), 2, 0, false, false), conf);
    return ds;
  }

  /** Replaces the first occurrence of one manifest text with another, which must be there. */
  private static void forgeManifest(Path ds, String text, String forgedText) throws IOException {
    String json = Files.readString(ds.resolve(Manifest.FILE_NAME));
    assertTrue(json.contains(text), json);
    Files.writeString(ds.resolve(Manifest.FILE_NAME), json.replaceFirst(java.util.regex.Pattern.quote(text),
        java.util.regex.Matcher.quoteReplacement(forgedText)));
  }

  @Test
  void sequenceCountsMustEqualTheShardsSums() throws IOException {
    Path ds = sine();
    forgeManifest(ds, "\"train\": 4", "\"train\": 5");
    refused(() -> Dataset.open(ds.toUri(), conf), Manifest.FILE_NAME, "sequences.train is 5, the shards hold 4");
  }

  @Test
  void targetDtypeMustAgreeWithTheLoss() throws IOException {
    Path ds = sine();
    forgeManifest(ds, "\"target_dtype\": \"F32\"", "\"target_dtype\": \"I32\"");
    refused(() -> Dataset.open(ds.toUri(), conf), "target_dtype is I32 but loss mse needs F32");
  }

  @Test
  void aShardWithAnExtraTensorIsRefused() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {5, 2, 1}, new float[10]),
        Tensor.ofFloats("y", new int[] {5, 2, 1}, new float[10]), Tensor.ofFloats("z", new int[] {1}, new float[1])));
    refused(() -> ShardCodec.decode(shard, spec, "extra.safetensors", 2), "extra.safetensors: unexpected tensor 'z'");
  }

  @Test
  void aClassIdEqualToOIsRefusedOnWriteAndOnRead() {
    // O = 3 classes: ids 0, 1, 2
    DatasetSpec spec = new DatasetSpec("t", 1, 3, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, false, null, null);
    Batch b = new Batch(2, 2, 1, new float[4], null, new int[] {0, 3}, null);
    refused(() -> ShardCodec.encode(b, spec, "c.safetensors"), "c.safetensors: y class id 3 at index 1 is outside [0, 3)");
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 2, 1}, new float[4]),
        Tensor.ofInts("y", new int[] {2}, new int[] {3, 0})));
    refused(() -> ShardCodec.decode(shard, spec, "d.safetensors", 2), "d.safetensors: y class id 3 at index 0 is outside [0, 3)");
  }

  @Test
  void aFixedLengthDatasetRefusesShorterSequences() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    Batch b = new Batch(5, 2, 1, new float[10], new float[10], null, new int[] {5, 3});
    refused(() -> ShardCodec.encode(b, spec, "f.safetensors"), "f.safetensors: sequence 1 has length 3 but the dataset is"
        + " fixed-length T=5");
  }

  @Test
  void aShardSmallerThanItsDataIsRefusedByTheManifest() {
    // T=5, B=2, F=O=1, seq2seq mse: x and y hold 10 floats each, 80 data bytes before any header
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    ShardInfo small = new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 79, "00000000");
    refused(() -> new Manifest(spec, List.of(small), null), "shard-00000.safetensors claims 79 bytes, expected 80 data bytes");
  }
}
