package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import org.junit.jupiter.api.Test;

/**
 * A manifest's shard entry (ShardInfo's javadoc, docs/data-format.md): B at least 1, a size of at
 * least the 8-byte safetensors length prefix, a split, and a plain file name of at most 255
 * characters (the longest name a Linux file system allows).
 */
class ShardInfoTest {
  static final String FILE = "shard-00000.safetensors";
  static final String CRC = "0123abcd";

  @Test
  void anEntryNeedsABatchOfAtLeastOneSequence() {
    refused(() -> new ShardInfo(FILE, Split.TRAIN, 0, 100, CRC), FILE + ": batch must be at least 1, found 0");
    assertDoesNotThrow(() -> new ShardInfo(FILE, Split.TRAIN, 1, 100, CRC));
  }

  @Test
  void anEntryNeedsAtLeastTheEightBytesOfTheHeaderLength() {
    // a safetensors file starts with its header's length as an 8-byte little-endian integer
    refused(() -> new ShardInfo(FILE, Split.TRAIN, 1, 7, CRC), FILE + ": bytes must be at least 8, found 7");
    assertDoesNotThrow(() -> new ShardInfo(FILE, Split.TRAIN, 1, 8, CRC));
  }

  @Test
  void anEntryNeedsASplit() {
    refused(() -> new ShardInfo(FILE, null, 1, 100, CRC), FILE + ": split missing");
  }

  @Test
  void aFileNameLongerThan255CharactersIsRefused() {
    String ok = "s".repeat(255 - ".safetensors".length()) + ".safetensors"; // 255 characters
    assertDoesNotThrow(() -> new ShardInfo(ok, Split.TRAIN, 1, 100, CRC));
    String tooLong = "s" + ok; // 256
    refused(() -> new ShardInfo(tooLong, Split.TRAIN, 1, 100, CRC), "is not a plain shard name");
  }
}
