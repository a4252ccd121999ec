package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What docs/data-format.md makes a reader refuse: manifest counts that disagree with the shards, a
 * target_dtype that disagrees with the loss, a shard tensor beyond x, y and lengths ("No other
 * tensors are allowed"), class ids outside [0, O); unknown keys, another format name or version, a
 * split other than train or validation, a shard listed twice or with a size its data and header
 * cannot have, a CRC32C not in 8 lower-case hex digits; and the values ShardCodec refuses to write.
 */
class ManifestChecksTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

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
    Files.writeString(ds.resolve(Manifest.FILE_NAME), json.replaceFirst(Pattern.quote(text), Matcher.quoteReplacement(forgedText)));
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
    refused(() -> ShardCodec.encode(b, spec, "c.safetensors"), "c.safetensors: y class id 3 at (b=1) is outside [0, 3)");
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 2, 1}, new float[4]),
        Tensor.ofInts("y", new int[] {2}, new int[] {3, 0})));
    refused(() -> ShardCodec.decode(shard, spec, "d.safetensors", 2), "d.safetensors: y class id 3 at (b=0) is outside [0, 3)");
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

  /** The manifest with one text forged is refused naming every fragment; the original is put back. */
  private void forgedIsRefused(Path ds, String text, String forgedText, String... fragments) throws IOException {
    String json = Files.readString(ds.resolve(Manifest.FILE_NAME));
    forgeManifest(ds, text, forgedText);
    try {
      refused(() -> Dataset.open(ds.toUri(), conf), fragments);
    } finally {
      Files.writeString(ds.resolve(Manifest.FILE_NAME), json);
    }
  }

  @Test
  void formatVersionUnknownKeysAndSplitNamesAreChecked() throws IOException {
    Path ds = sine();
    forgedIsRefused(ds, "\"format\": \"spark-rnn-dataset\"", "\"format\": \"other\"", Manifest.FILE_NAME, "format is other");
    forgedIsRefused(ds, "\"format_version\": 1", "\"format_version\": 2", "format_version is 2, this reader knows 1");
    forgedIsRefused(ds, "\"steps\": 5", "\"steps\": 5, \"stpes\": 5", "unknown key 'stpes'");
    forgedIsRefused(ds, "\"batch\": 2", "\"batch\": 2, \"rows\": 2", "shards[0]: unknown key 'rows'");
    forgedIsRefused(ds, "\"split\": \"train\"", "\"split\": \"Train\"", "unknown split 'Train'");
  }

  @Test
  void aChecksumInUpperCaseIsRefused() throws IOException {
    Path ds = sine();
    String crc = Dataset.open(ds.toUri(), conf).manifest().shards().get(0).crc32c();
    String upper = "ABCDEF12";
    forgedIsRefused(ds, "\"crc32c\": \"" + crc + "\"", "\"crc32c\": \"" + upper + "\"", "crc32c must be 8 lower-case hex digits");
  }

  @Test
  void aShardListedTwiceIsRefused() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    ShardInfo s = new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 200, "00000000");
    refused(() -> new Manifest(spec, List.of(s, s), null), "shard-00000.safetensors is listed twice");
  }

  /**
   * T=5, B=2, F=O=1 seq2seq mse: 80 data bytes; a shard may add a header of at most 64 KiB, so
   * 80 + 65536 bytes is the most, and one more is refused. Variable-length adds lengths, 4·B = 8 bytes.
   */
  @Test
  void shardSizesMustFitTheirDataAndHeader() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    new Manifest(spec, List.of(new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 80 + 65536, "00000000")), null);
    refused(() -> new Manifest(spec, List.of(new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 80 + 65537, "00000000")),
        null), "claims 65617 bytes, expected 80 data bytes");
    DatasetSpec variable = new DatasetSpec("t", 1, 1, 5, Mode.SEQ2SEQ, LossType.MSE, true, null, null);
    refused(() -> new Manifest(variable, List.of(new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 80, "00000000")),
        null), "claims 80 bytes, expected 88 data bytes");
  }

  @Test
  void normalizationAndVocabularyMustMatchTheDimensions() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec(); // F = O = 1
    ShardInfo s = new ShardInfo("shard-00000.safetensors", Split.TRAIN, 2, 200, "00000000");
    Normalization two = new Normalization(new double[] {0, 0}, new double[] {1, 1}, new double[] {0}, new double[] {1});
    refused(() -> new Manifest(spec, List.of(s), two), "normalization.input_mean has 2 entries, expected F=1");
    DatasetSpec text = new DatasetSpec("text", 3, 3, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false, List.of("a", "b"), null);
    refused(() -> new Manifest(text, List.of(new ShardInfo("shard-00000.safetensors", Split.TRAIN, 1, 100, "00000000")), null),
        "vocabulary has 2 entries, expected O=3");
  }

  @Test
  void theWriterRefusesInfiniteTargetsAndNegativeClassIds() {
    DatasetSpec mse = new SineSource(SineSource.Options.defaults(2, 1, 1)).spec(); // T=2, F=O=1 seq2seq
    Batch inf = new Batch(2, 1, 1, new float[2], new float[] {0, Float.NEGATIVE_INFINITY}, null, null);
    refused(() -> ShardCodec.encode(inf, mse, "i.safetensors"), "i.safetensors: y has -Infinity at (t=1, b=0), expected");
    DatasetSpec ce = new DatasetSpec("t", 1, 3, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, false, null, null);
    Batch neg = new Batch(2, 2, 1, new float[4], null, new int[] {0, -1}, null);
    refused(() -> ShardCodec.encode(neg, ce, "n.safetensors"), "n.safetensors: y class id -1 at (b=1) is outside [0, 3)");
    // per step, [T,B]: element 2 is (t=1, b=0), a padded step of a length-1 sequence (a numerical audit: "at index 2")
    DatasetSpec steps = new DatasetSpec("t", 1, 3, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, true, null, null);
    Batch padded = new Batch(2, 2, 1, new float[4], null, new int[] {0, 1, 999, 2}, new int[] {1, 2});
    refused(() -> ShardCodec.encode(padded, steps, "p.safetensors"), "p.safetensors: y class id 999 at (t=1, b=0) is outside [0, 3);"
        + " it is a padded step (t >= lengths[b] = 1), which must hold 0");
  }

  /** A variable-length dataset's shard always carries lengths; a batch without them has T steps in every sequence. */
  @Test
  void aVariableLengthShardOfAFullBatchHasLengthsT() {
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 3, Mode.SEQ2ONE, LossType.MSE, true, null, null);
    Batch full = new Batch(3, 2, 1, new float[6], new float[2], null, null);
    byte[] bytes = ShardCodec.encode(full, spec, "v.safetensors");
    assertArrayEquals(new int[] {3, 3}, ShardCodec.decode(bytes, spec, "v.safetensors", 2).lengths());
    Batch empty = new Batch(3, 2, 1, new float[6], new float[2], null, new int[] {3, 0});
    refused(() -> ShardCodec.encode(empty, spec, "e.safetensors"), "e.safetensors: lengths[1] = 0, expected 1..3");
  }

  /** docs/data-format.md: `lengths` is there "exactly when `variable_length` is true"; "No other tensors are allowed". */
  @Test
  void aFixedLengthShardCarryingLengthsIsRefused() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec(); // T=5, F=O=1, fixed length
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {5, 2, 1}, new float[10]),
        Tensor.ofFloats("y", new int[] {5, 2, 1}, new float[10]), Tensor.ofInts("lengths", new int[] {2}, new int[] {5, 5})));
    refused(() -> ShardCodec.decode(shard, spec, "l.safetensors", 2), "l.safetensors: unexpected tensor 'lengths'");
  }

  /** x [T,B,F] with B = 3 where the manifest lists B = 2 is named as a B mismatch, as F is (BadInputTest). */
  @Test
  void anXWithAnotherBatchSizeThanListedNamesB() {
    DatasetSpec spec = new SineSource(SineSource.Options.defaults(5, 2, 1)).spec();
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {5, 3, 1}, new float[15]),
        Tensor.ofFloats("y", new int[] {5, 2, 1}, new float[10])));
    refused(() -> ShardCodec.decode(shard, spec, "b.safetensors", 2), "b.safetensors: x has B=3, the manifest says B=2");
  }

  /** A variable-length shard's lengths must be [B]: three lengths for B = 2 are refused by shape. */
  @Test
  void lengthsOfAnotherSizeThanBAreRefusedByShape() {
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 3, Mode.SEQ2ONE, LossType.MSE, true, null, null);
    byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 2, 1}, new float[6]),
        Tensor.ofFloats("y", new int[] {2, 1}, new float[2]), Tensor.ofInts("lengths", new int[] {3}, new int[] {3, 3, 3})));
    refused(() -> ShardCodec.decode(shard, spec, "s.safetensors", 2), "s.safetensors: lengths has shape [3], expected [2]");
  }

  /** x is [T,B,F] row-major: flat index i = (t*B + b)*F + f, so a NaN at i = 11 with B=2, F=3 is t=1, b=1, f=2. */
  @Test
  void aNonFiniteInputIsNamedByStepSequenceAndFeature() {
    DatasetSpec spec = new DatasetSpec("t", 3, 1, 2, Mode.SEQ2ONE, LossType.MSE, false, null, null);
    float[] x = new float[12];
    x[11] = Float.NaN;
    Batch b = new Batch(2, 2, 3, x, new float[2], null, null);
    refused(() -> ShardCodec.encode(b, spec, "x.safetensors"), "x.safetensors: x has NaN at (t=1, b=1, f=2)");
  }

  @Test
  void aNonFiniteTargetOfSeveralOutputsNamesItsStepSequenceAndOutput() {
    DatasetSpec two = new DatasetSpec("t", 1, 2, 2, Mode.SEQ2SEQ, LossType.MSE, false, null, null);   // F=1, O=2, T=2
    float[] y = new float[8];   // [T=2][B=2][O=2]
    y[2] = Float.NaN;           // (t=0, b=1, o=0)
    refused(() -> ShardCodec.encode(new Batch(2, 2, 1, new float[4], y, null, null), two, "o.safetensors"),
        "o.safetensors: y has NaN at (t=0, b=1, o=0), expected a finite number");
  }
}
