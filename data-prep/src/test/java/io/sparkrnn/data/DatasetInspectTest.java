package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dataset.inspect and its summary (what {@code spark-rnn inspect} prints), and the reader's checks
 * on what it is given: a shard entry of another dataset, a manifest too large to be one.
 */
class DatasetInspectTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  /** Sine, T=6, 10 sequences, B=3, validation 0.2: 8 train (3+3+2) and 2 validation (one shard of 2). */
  private Path sine(String name) throws IOException {
    Path ds = tmp.resolve(name);
    Prep.run(new SineSource(SineSource.Options.defaults(6, 10, 7)), new PrepOptions(ds.toUri(), 3, 0.2, false, false), conf);
    return ds;
  }

  @Test
  void theSummaryCountsSequencesShardsAndBytesOfEachSplit() throws IOException {
    Path ds = sine("ds");
    // independent of the manifest: the sizes of the shard files on disk
    long bytes = 0;
    try (var files = Files.list(ds)) {
      for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList()) {
        bytes += Files.size(p);
      }
    }
    String summary = Dataset.inspect(ds.toUri(), conf).summary();
    List<String> lines = summary.lines().toList();
    assertTrue(lines.contains("train      8 sequences in 3 shards"), summary);
    assertTrue(lines.contains("validation 2 sequences in 1 shard"), summary);
    assertTrue(lines.contains("bytes     " + bytes), "bytes " + bytes + " on disk:\n" + summary);
    assertTrue(lines.contains("dims      T=6 F=1 O=1"), summary);
    assertTrue(lines.contains("normalized no"), summary);
    assertTrue(lines.contains("checksums 4 of 4 shards verified OK"), summary);
  }

  @Test
  void theSummaryOfATextDatasetGivesItsVocabularySize() throws IOException {
    // "abcab cab": the characters a, b, c and the space: 4 symbols (F = O = 4 as one-hot)
    Path text = Files.writeString(tmp.resolve("in.txt"), "abcab cab");
    Path ds = tmp.resolve("text");
    Prep.run(new TextSource(new TextSource.Options(text.toUri().toString(), 3, 0), conf),
        new PrepOptions(ds.toUri(), 2, 0, false, false), conf);
    String summary = Dataset.inspect(ds.toUri(), conf).summary();
    assertTrue(summary.lines().toList().contains("vocabulary 4 characters"), summary);
  }

  /** inspect "collects each shard's failure instead of stopping at the first": a shape failure too, not only an I/O one. */
  @Test
  void aShardOfTheWrongShapeIsOneFailedCheckNotAnException() throws IOException {
    Path ds = sine("ds");
    // shard 0 (B=3, T=6, F=1) forged consistently (size and CRC in the manifest) with F=2
    byte[] forged = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {6, 3, 2}, new float[36]),
        Tensor.ofFloats("y", new int[] {6, 3, 1}, new float[18])));
    TestFiles.forgeShard(ds, "shard-00000.safetensors", forged);
    Dataset.Inspection inspection = Dataset.inspect(ds.toUri(), conf);
    assertFalse(inspection.ok());
    assertEquals(4, inspection.checks().size(), "every shard checked");
    assertTrue(inspection.checks().get(0).error().contains("x has F=2, the manifest says F=1"), inspection.checks().get(0).error());
    for (int i = 1; i < 4; i++) {
      assertNull(inspection.checks().get(i).error(), "shard " + i);
    }
    assertTrue(inspection.summary().contains("checksums 3 of 4 shards verified, 1 FAILED"), inspection.summary());
  }

  /** read(shard) takes only entries of this dataset's manifest: another dataset's entry for the same file name is refused. */
  @Test
  void aShardEntryOfAnotherDatasetIsRefused() throws IOException {
    Dataset a = Dataset.open(sine("a").toUri(), conf);
    Path b = tmp.resolve("b");
    Prep.run(new SineSource(SineSource.Options.defaults(6, 10, 8)), new PrepOptions(b.toUri(), 3, 0.2, false, false), conf);
    Dataset other = Dataset.open(b.toUri(), conf);
    ShardInfo foreign = other.shards(Split.TRAIN).get(0);
    assertEquals(foreign.file(), a.shards(Split.TRAIN).get(0).file());
    refused(() -> a.read(foreign), "shard-00000.safetensors: not a shard of");
  }

  /** A manifest larger than Manifest.MAX_BYTES (256 MiB) is refused from its size, before it is read. */
  @Test
  void aManifestLargerThanAManifestMayBeIsRefusedUnread() throws IOException {
    Path ds = Files.createDirectories(tmp.resolve("huge"));
    try (RandomAccessFile f = new RandomAccessFile(ds.resolve(Manifest.FILE_NAME).toFile(), "rw")) {
      f.setLength(256L * 1024 * 1024 + 1); // sparse: no disk used
    }
    IOException e = assertThrows(IOException.class, () -> Dataset.open(ds.toUri(), conf));
    assertTrue(e.getMessage().contains((256L * 1024 * 1024 + 1) + " bytes, more than the " + 256L * 1024 * 1024), e.getMessage());
  }
}
