package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * A file written with metadata (a model, a checkpoint) records the CRC32C of its data section, and
 * the reader checks it: a flipped bit in a weight loaded silently as another model, every
 * prediction different (a user audit: RnnModel.load, whose local file system reads without Hadoop's
 * .crc files).
 */
class SafeTensorsChecksumTest {
  private static final List<Tensor> TENSORS = List.of(
      Tensor.ofFloats("w", new int[] {2, 3}, new float[] {0.5f, -1.25f, 3f, Float.MIN_VALUE, -0f, 7.75f}),
      Tensor.ofInts("ids", DType.I32, new int[] {2}, new int[] {-3, 1 << 30}));

  /** The data section's offset: after the 8-byte header length and the header. */
  private static int dataStart(byte[] file) {
    return 8 + (int) ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }

  @Test
  void theRecordedChecksumIsTheDataSectionsCrc32c() {
    byte[] file = SafeTensors.toBytes(Map.of("format_version", "1"), TENSORS);
    CRC32C crc = new CRC32C();
    crc.update(file, dataStart(file), file.length - dataStart(file));
    assertEquals(String.format("%08x", crc.getValue()), SafeTensors.read(file, "m.safetensors").metadata().get("data_crc32c"));
    assertEquals(6 * 4 + 2 * 4, file.length - dataStart(file), "the data section holds the 8 values");
    // a stale value in the given metadata (copied from another file) is replaced
    byte[] again = SafeTensors.toBytes(Map.of("format_version", "1", "data_crc32c", "00000000"), TENSORS);
    assertEquals(SafeTensors.read(file, "m").metadata(), SafeTensors.read(again, "m").metadata());
  }

  @Test
  void aFlippedBitInTheDataIsRefusedNamingTheFile() {
    byte[] file = SafeTensors.toBytes(Map.of("format_version", "1"), TENSORS);
    for (int at : new int[] {dataStart(file), file.length - 1}) {
      byte[] damaged = file.clone();
      damaged[at] ^= 0x40;
      BadInputException e = assertThrows(BadInputException.class, () -> SafeTensors.read(damaged, "runs/a/model.safetensors"));
      assertTrue(e.getMessage().startsWith("runs/a/model.safetensors: the tensors' bytes do not match the CRC32C"), e.getMessage());
      assertTrue(e.getMessage().contains("__metadata__ data_crc32c"), e.getMessage());
      // docs/cluster.md: errors never quote what was read from a file that failed its checks, nor the CRC32C found
      String recorded = SafeTensors.read(file, "m").metadata().get("data_crc32c");
      CRC32C found = new CRC32C();
      found.update(damaged, dataStart(damaged), damaged.length - dataStart(damaged));
      assertFalse(e.getMessage().contains(recorded), e.getMessage());
      assertFalse(e.getMessage().contains(String.format("%08x", found.getValue())), e.getMessage());
      // a file from another writer (import) is read unchecked: a tool may save new tensors under copied metadata
      assertEquals(2, SafeTensors.read(damaged, "pt.safetensors", false).tensors().size());
    }
    // a file for other tools records none, and drops a copied one
    byte[] forTorch = SafeTensors.toBytes(Map.of("format", "pt", "data_crc32c", "00000000"), TENSORS, false);
    assertEquals(Map.of("format", "pt"), SafeTensors.read(forTorch, "pt.safetensors").metadata());
  }

  @Test
  void filesWithoutTheKeyAreReadAsBefore() {
    // a shard (no metadata: its manifest holds the file's CRC32C) records none
    byte[] shard = SafeTensors.toBytes(Map.of(), TENSORS);
    assertFalse(new String(shard, 0, dataStart(shard), StandardCharsets.UTF_8).contains("data_crc32c"));
    // a file with metadata but no checksum (PyTorch's, one written before the key) is read unchecked
    byte[] withCrc = SafeTensors.toBytes(Map.of("format", "pt"), TENSORS);
    String header = new String(withCrc, 8, dataStart(withCrc) - 8, StandardCharsets.UTF_8)
        .replaceFirst(",?\"data_crc32c\":\"[0-9a-f]{8}\"", "");
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer older = ByteBuffer.allocate(8 + h.length + withCrc.length - dataStart(withCrc)).order(ByteOrder.LITTLE_ENDIAN);
    older.putLong(h.length).put(h).put(withCrc, dataStart(withCrc), withCrc.length - dataStart(withCrc));
    byte[] damaged = older.array();
    damaged[damaged.length - 1] ^= 0x40;
    SafeTensorsFile read = SafeTensors.read(damaged, "pt.safetensors");
    assertEquals(Map.of("format", "pt"), read.metadata());
    assertEquals(-3, read.tensors().get("ids").ints()[0]);
  }
}
