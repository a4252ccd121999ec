package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.SineSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** docs/data-format.md: "A reader checks, in order: the file size against `bytes` (before allocating), the CRC32C, …". */
class DatasetReadTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  @Test
  void aShardLongerThanTheManifestSaysIsRefused() throws IOException {
    // T = 6, 4 sequences, B = 2, no validation: two shards
    Prep.run(new SineSource(SineSource.Options.defaults(6, 4, 7)),
        new PrepOptions(tmp.resolve("ds").toUri(), 2, 0, false, false), conf);
    Dataset ds = Dataset.open(tmp.resolve("ds").toUri(), conf);
    ShardInfo shard = ds.shards(Split.TRAIN).get(0);
    // one byte appended: the listed prefix (and its CRC32C) is unchanged, only the size differs
    Files.write(tmp.resolve("ds").resolve(shard.file()), new byte[] {0}, StandardOpenOption.APPEND);
    CorruptShardException e = assertThrows(CorruptShardException.class, () -> ds.read(shard));
    assertTrue(e.getMessage().contains("file has " + (shard.bytes() + 1) + " bytes, the manifest says " + shard.bytes()),
        e.getMessage());
  }
}
