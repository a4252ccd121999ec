package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.SineSource;
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
   * docs/data-format.md's definition, worked from the file on disk: the first 8 bytes of the SHA-256
   * of manifest.json with its (flat) source object emptied to {}, as 16 hex digits.
   */
  @Test
  void itIsTheDocumentedDigestOfTheManifestFile() throws IOException, NoSuchAlgorithmException {
    Manifest m = sine("a", 7);
    String json = Files.readString(tmp.resolve("a").resolve(Manifest.FILE_NAME));
    String emptied = json.replaceFirst("\"source\": \\{[^{}]*\\}", "\"source\": {}");
    assertNotEquals(json, emptied, "sine records its options in source");
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(emptied.getBytes(StandardCharsets.UTF_8));
    StringBuilder hex = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      hex.append(String.format("%02x", digest[i] & 0xff));
    }
    assertEquals(hex.toString(), m.fingerprint());
    assertTrue(Dataset.inspect(tmp.resolve("a").toUri(), conf).summary().lines().toList().contains("fingerprint " + hex),
        "inspect prints it");
  }

  @Test
  void provenanceIsNotPartOfIt() throws IOException {
    Manifest m = sine("a", 7);
    DatasetSpec s = m.spec();
    DatasetSpec otherSource = new DatasetSpec(s.task(), s.features(), s.outputs(), s.steps(), s.mode(), s.loss(),
        s.variableLength(), s.vocabulary(), Map.of("input", "/somewhere/else.csv"));
    assertEquals(m.fingerprint(), new Manifest(otherSource, m.shards(), m.normalization()).fingerprint());
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
