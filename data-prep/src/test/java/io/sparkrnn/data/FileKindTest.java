package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.data.source.SineSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On the local file system a dataset's files must be regular files inside the dataset directory:
 * a shard linked to a file elsewhere is refused without quoting anything read from that file, and
 * a FIFO (whose open would block for ever) is refused before it is opened.
 */
class FileKindTest {
  /** Far longer than any check takes; a FIFO opened for reading blocks until killed. */
  static final Duration NO_HANG = Duration.ofSeconds(20);
  static final String SHARD0 = "shard-00000.safetensors";

  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();
  Path ds;

  @BeforeEach
  void writeDataset() throws IOException {
    ds = tmp.resolve("ds");
    Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 1)), new PrepOptions(ds.toUri(), 2, 0, false, false), conf);
  }

  static void mkfifo(Path p) throws IOException, InterruptedException {
    Process mk;
    try {
      mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
    } catch (IOException e) {
      mk = null;
    }
    // coreutils' mkfifo is on every Linux this runs on (.ci/run's Debian): fail rather than skip without it
    assertTrue(mk != null && mk.waitFor() == 0, "mkfifo " + p + " failed");
  }

  @Test
  void aShardLinkedOutOfTheDatasetIsRefusedWithoutQuotingTheTarget() throws IOException {
    // A "secret" whose first 8 bytes would be printed as an impossible header length; the forger
    // also copies its size and CRC32C into the manifest, so only the link check stands in the way.
    byte[] secret = "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n".repeat(4).getBytes(StandardCharsets.US_ASCII);
    TestFiles.forgeShard(ds, SHARD0, secret);
    Path outside = Files.move(ds.resolve(SHARD0), tmp.resolve("shadow"));
    Files.createSymbolicLink(ds.resolve(SHARD0), outside);
    String leaked = Long.toString(ByteBuffer.wrap(secret, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());

    Dataset.Inspection inspection = Dataset.inspect(ds.toUri(), conf);
    assertFalse(inspection.ok());
    String error = inspection.checks().get(0).error();
    assertTrue(error.contains(SHARD0) && error.contains("symbolic link") && error.contains("outside the dataset directory"), error);
    for (String secretFact : List.of(leaked, ShardCodec.crc32c(secret), "root", outside.toString())) {
      assertFalse(inspection.summary().contains(secretFact), "the summary quotes '" + secretFact + "': " + inspection.summary());
    }
  }

  @Test
  void aShardLinkedToAnotherFileInsideTheDatasetIsRead() throws IOException {
    Path real = Files.move(ds.resolve(SHARD0), ds.resolve("kept-here.bin"));
    Files.createSymbolicLink(ds.resolve(SHARD0), real.getFileName());
    assertTrue(Dataset.inspect(ds.toUri(), conf).ok());
  }

  @Test
  void aFifoNamedManifestIsRefusedWithoutOpeningIt() throws Exception {
    Files.delete(ds.resolve(Manifest.FILE_NAME));
    mkfifo(ds.resolve(Manifest.FILE_NAME));
    IOException e = assertTimeoutPreemptively(NO_HANG, () -> assertThrows(IOException.class, () -> Dataset.open(ds.toUri(), conf)));
    assertTrue(e.getMessage().contains(Manifest.FILE_NAME) && e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void aFifoShardIsRefusedWithoutOpeningIt() throws Exception {
    Files.delete(ds.resolve(SHARD0));
    mkfifo(ds.resolve(SHARD0));
    Dataset d = Dataset.open(ds.toUri(), conf);
    IOException e = assertTimeoutPreemptively(NO_HANG,
        () -> assertThrows(IOException.class, () -> d.read(d.manifest().shard(SHARD0))));
    assertTrue(e.getMessage().contains(SHARD0) && e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void aFifoInputIsRefusedWithoutOpeningIt() throws Exception {
    Path fifo = tmp.resolve("in.csv");
    mkfifo(fifo);
    IOException e = assertTimeoutPreemptively(NO_HANG, () -> assertThrows(IOException.class,
        () -> new CsvSource(new CsvSource.Options(fifo.toString(), List.of(), List.of(), 2, 1, -1, false, null, 0, ','), conf)));
    assertTrue(e.getMessage().contains("in.csv") && e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void aChecksumFailureDoesNotQuoteTheChecksumOfWhatWasRead() throws IOException {
    byte[] b = Files.readAllBytes(ds.resolve(SHARD0));
    b[b.length - 1] ^= 1;
    Files.write(ds.resolve(SHARD0), b);
    String expected = Dataset.open(ds.toUri(), conf).manifest().shard(SHARD0).crc32c();
    String error = Dataset.inspect(ds.toUri(), conf).checks().get(0).error();
    assertTrue(error.contains(SHARD0) && error.contains("CRC32C") && error.contains(expected), error);
    assertFalse(error.contains(ShardCodec.crc32c(b)), "the error quotes the CRC32C of the bytes read: " + error);
    assertEquals(1, Dataset.inspect(ds.toUri(), conf).checks().stream().filter(c -> !c.ok()).count());
  }
}
