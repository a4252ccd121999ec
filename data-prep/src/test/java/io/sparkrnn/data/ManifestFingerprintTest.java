package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Manifest#fingerprint}, which {@code train --resume} compares with its checkpoint's: the
 * same for the same data wherever it lies and whatever prep was told for provenance, another as
 * soon as a shard's bytes, its split, the statistics or the dimensions differ.
 */
class ManifestFingerprintTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  /** T=5, F=1, 6 sequences from {@code seed} in shards of B=2, one of them validation (fraction 0.34). */
  private Manifest sine(String dir, long seed) throws IOException {
    Path ds = tmp.resolve(dir);
    Prep.run(new SineSource(SineSource.Options.defaults(5, 6, seed)), new PrepOptions(ds.toUri(), 2, 0.34, false, false), conf);
    return Dataset.open(ds.toUri(), conf).manifest();
  }

  @Test
  void theSameDataPreparedTwiceInTwoPlacesHasOneFingerprint() throws IOException {
    Manifest a = sine("a", 7);
    Manifest b = sine("b", 7);
    assertTrue(a.fingerprint().matches("[0-9a-f]{16}"), a.fingerprint());
    assertEquals(a.fingerprint(), b.fingerprint());
    assertNotEquals(a.fingerprint(), sine("c", 8).fingerprint(), "another seed draws other sequences, other shard bytes");
  }

  /**
   * docs/data-format.md's definition, worked from manifest.json on disk (a normalised dataset): the
   * first 8 bytes of the SHA-256 of the lines "spark-rnn-dataset-fingerprint 1", "dims F O T mode
   * loss target_dtype variable_length", "shard file split batch bytes crc32c" for each shard, then
   * each statistic's name and its values' IEEE 754 bits in 16 hex digits.
   */
  @Test
  void itIsTheDocumentedDigestOfTheManifestFile() throws IOException, NoSuchAlgorithmException {
    Path ds = tmp.resolve("normalized");
    Prep.run(new SineSource(SineSource.Options.defaults(5, 6, 7)), new PrepOptions(ds.toUri(), 2, 0.34, true, false), conf);
    Map<String, Object> json = Json.parseObject(Files.readString(ds.resolve(Manifest.FILE_NAME)));
    StringBuilder text = new StringBuilder("spark-rnn-dataset-fingerprint 1\n");
    text.append("dims ").append(json.get("features")).append(' ').append(json.get("outputs")).append(' ').append(json.get("steps"))
        .append(' ').append(json.get("mode")).append(' ').append(json.get("loss")).append(' ').append(json.get("target_dtype"))
        .append(' ').append(json.get("variable_length")).append('\n');
    for (Object o : (List<?>) json.get("shards")) {
      Map<?, ?> e = (Map<?, ?>) o;
      text.append("shard ").append(e.get("file")).append(' ').append(e.get("split")).append(' ').append(e.get("batch")).append(' ')
          .append(e.get("bytes")).append(' ').append(e.get("crc32c")).append('\n');
    }
    Map<?, ?> stats = (Map<?, ?>) json.get("normalization");
    for (String name : new String[] {"input_mean", "input_std", "target_mean", "target_std"}) {
      text.append(name);
      for (Object v : (List<?>) stats.get(name)) {
        text.append(' ').append(String.format("%016x", Double.doubleToLongBits(((Number) v).doubleValue())));
      }
      text.append('\n');
    }
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.toString().getBytes(StandardCharsets.UTF_8));
    StringBuilder hex = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      hex.append(String.format("%02x", digest[i] & 0xff));
    }
    assertEquals(text.toString(), Dataset.open(ds.toUri(), conf).manifest().fingerprintText());
    assertEquals(hex.toString(), Dataset.open(ds.toUri(), conf).manifest().fingerprint());
    assertTrue(Dataset.inspect(ds.toUri(), conf).summary().lines().toList().contains("fingerprint " + hex), "inspect prints it");
  }

  /**
   * A statistic of about 1.7e18 (the mean of a nanosecond-timestamp feature) enters by its bits:
   * its decimal text differs between Java versions (1.70730609460287846E18 on 17, 1.7073060946028785E18
   * from 19 on: a review), and a dataset must keep its fingerprint when the JVM changes.
   */
  @Test
  void statisticsEnterByTheirBitsNotTheirDecimalText() throws IOException {
    Manifest m = sine("a", 7);
    double big = 1.70730609460287846E18;
    Manifest stats = new Manifest(m.spec(), m.shards(), new Normalization(new double[] {big}, new double[] {1}, new double[] {0},
        new double[] {1}));
    assertTrue(stats.fingerprintText().contains("input_mean " + Long.toHexString(Double.doubleToLongBits(big)) + "\n"),
        stats.fingerprintText());
    assertFalse(stats.fingerprintText().contains("E18"), stats.fingerprintText());
  }

  @Test
  void provenanceIsNotPartOfIt() throws IOException {
    Manifest m = sine("a", 7);
    DatasetSpec s = m.spec();
    DatasetSpec otherSource = new DatasetSpec(s.task(), s.features(), s.outputs(), s.steps(), s.mode(), s.loss(),
        s.variableLength(), s.vocabulary(), Map.of("input", "/somewhere/else.csv"));
    assertEquals(m.fingerprint(), new Manifest(otherSource, m.shards(), m.normalization()).fingerprint());
    // nor where the statistics came from, spelled as the user gave it (a review: "base" and "./base/" were two datasets)
    Normalization n = new Normalization(new double[] {0.5}, new double[] {2}, new double[] {0.5}, new double[] {2});
    assertEquals(new Manifest(m.spec(), m.shards(), n.takenFrom("base")).fingerprint(),
        new Manifest(m.spec(), m.shards(), n.takenFrom("./base/")).fingerprint());
    assertEquals(new Manifest(m.spec(), m.shards(), n).fingerprint(), new Manifest(m.spec(), m.shards(), n.takenFrom("base")).fingerprint());
    // nor the task's name
    DatasetSpec otherTask = new DatasetSpec("csv", s.features(), s.outputs(), s.steps(), s.mode(), s.loss(),
        s.variableLength(), s.vocabulary(), s.source());
    assertEquals(m.fingerprint(), new Manifest(otherTask, m.shards(), m.normalization()).fingerprint());
  }

  /** A vocabulary's symbols are part of it: another symbol for one class is another dataset. */
  @Test
  void theVocabularyChangesIt() throws IOException {
    Path text = Files.writeString(tmp.resolve("in.txt"), "abcab cab abc");
    Path ds = tmp.resolve("text");
    Prep.run(new TextSource(new TextSource.Options(text.toString(), 4, 1), conf), new PrepOptions(ds.toUri(), 2, 0, false, false),
        conf);
    Manifest m = Dataset.open(ds.toUri(), conf).manifest();
    List<String> other = new ArrayList<>(m.spec().vocabulary());
    other.set(0, other.get(0).equals("é") ? "e" : "é");
    DatasetSpec s = m.spec();
    DatasetSpec renamed = new DatasetSpec(s.task(), s.features(), s.outputs(), s.steps(), s.mode(), s.loss(), s.variableLength(),
        other, s.source());
    assertNotEquals(m.fingerprint(), new Manifest(renamed, m.shards(), m.normalization()).fingerprint());
  }

  @Test
  void aShardsChecksumSplitOrSizeChangesIt() throws IOException {
    Manifest m = sine("a", 7);
    ShardInfo first = m.shards().get(0);
    String crc = first.crc32c().equals("00000000") ? "00000001" : "00000000";
    assertNotEquals(m.fingerprint(), withFirst(m, new ShardInfo(first.file(), first.split(), first.batch(), first.bytes(), crc)));
    Split other = first.split() == Split.TRAIN ? Split.VALIDATION : Split.TRAIN;
    assertNotEquals(m.fingerprint(), withFirst(m, new ShardInfo(first.file(), other, first.batch(), first.bytes(), first.crc32c())));
    assertNotEquals(m.fingerprint(), withFirst(m, new ShardInfo(first.file(), first.split(), first.batch(), first.bytes() + 1,
        first.crc32c())));
  }

  @Test
  void theStatisticsAndTheSpecChangeIt() throws IOException {
    Manifest m = sine("a", 7);
    Normalization n = new Normalization(new double[] {0.5}, new double[] {2}, new double[] {0.5}, new double[] {2});
    Normalization shifted = new Normalization(new double[] {0.25}, new double[] {2}, new double[] {0.5}, new double[] {2});
    String withStats = new Manifest(m.spec(), m.shards(), n).fingerprint();
    assertNotEquals(m.fingerprint(), withStats);
    assertNotEquals(withStats, new Manifest(m.spec(), m.shards(), shifted).fingerprint());
    DatasetSpec s = m.spec();
    DatasetSpec otherT = new DatasetSpec(s.task(), s.features(), s.outputs(), s.steps(), s.mode(), s.loss(), true,
        s.vocabulary(), s.source());
    assertNotEquals(m.fingerprint(), new Manifest(otherT, m.shards(), null).fingerprint(), "variable_length differs");
  }

  private static String withFirst(Manifest m, ShardInfo first) {
    List<ShardInfo> shards = new ArrayList<>(m.shards());
    shards.set(0, first);
    return new Manifest(m.spec(), shards, m.normalization()).fingerprint();
  }
}
