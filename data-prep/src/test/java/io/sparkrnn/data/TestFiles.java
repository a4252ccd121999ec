package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.function.Executable;

/** Helpers for tests: .npy writing, manifest surgery and refusals. */
final class TestFiles {
  private TestFiles() {}

  /** Bad input is refused naming what and where: {@code action} throws an IllegalArgumentException whose message holds every fragment. */
  static IllegalArgumentException refused(Executable action, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
    }
    return e;
  }

  static Configuration localConf() {
    Configuration conf = new Configuration(false);
    conf.set("fs.file.impl.disable.cache", "true");
    return conf;
  }

  /** Writes a version-1 .npy file of little-endian float32 ("<f4"), float64 ("<f8") or int64 ("<i8") values. */
  static Path writeNpy(Path p, String descr, boolean fortran, int[] shape, double[] values) throws IOException {
    String dims = Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(", "))
        + (shape.length == 1 ? "," : "");
    String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (" + dims + "), }";
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    int item = descr.endsWith("4") ? 4 : 8;
    ByteBuffer b = ByteBuffer.allocate(10 + header.length() + values.length * item).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    for (double v : values) {
      switch (descr) {
        case "<f4" -> b.putFloat((float) v);
        case "<f8" -> b.putDouble(v);
        case "<i4" -> b.putInt((int) v);
        case "<i8" -> b.putLong((long) v);
        default -> throw new IllegalArgumentException(descr);
      }
    }
    Files.write(p, b.array());
    return p;
  }

  /** Replaces a shard's bytes and rewrites the manifest with its new size and CRC, as a consistent forger would. */
  static void forgeShard(Path dir, String file, byte[] bytes) throws IOException {
    Files.write(dir.resolve(file), bytes);
    Manifest m = Manifest.parse(Files.readString(dir.resolve(Manifest.FILE_NAME)), "manifest");
    List<ShardInfo> shards = new ArrayList<>();
    for (ShardInfo s : m.shards()) {
      shards.add(s.file().equals(file) ? new ShardInfo(file, s.split(), s.batch(), bytes.length, ShardCodec.crc32c(bytes)) : s);
    }
    Files.writeString(dir.resolve(Manifest.FILE_NAME), new Manifest(m.spec(), shards, m.normalization()).toJson());
  }
}
