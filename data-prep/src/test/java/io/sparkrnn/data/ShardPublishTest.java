package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.attribute.BasicFileAttributes;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shard is written under a temporary name and renamed into place, on both of
 * {@link DatasetWriter#publishShard}'s paths: Hadoop's FileSystem API (HDFS, S3A, any scheme but
 * file) and java.nio (file://). A write that fails half way leaves no shard and keeps an earlier one.
 */
class ShardPublishTest {
  static final String FILE = "shard-00000.safetensors";

  @TempDir java.nio.file.Path tmp;

  /** The local disk under the scheme "faulty", so publishShard takes its Hadoop path; create()'s stream fails past {@link #limit} bytes. */
  static final class FaultyFs extends RawLocalFileSystem {
    long limit = Long.MAX_VALUE;

    @Override
    public String getScheme() {
      return "faulty";
    }

    @Override
    public URI getUri() {
      return URI.create("faulty:///");
    }

    // RawLocalFileSystem answers create(path, overwrite) through this overload, not the one with a permission
    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
        Progressable progress) throws IOException {
      return failing(super.create(f, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize, short replication,
        long blockSize, Progressable progress) throws IOException {
      return failing(super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress));
    }

    private FSDataOutputStream failing(FSDataOutputStream real) throws IOException {
      long allowed = limit;
      return new FSDataOutputStream(new OutputStream() {
        long written;

        @Override
        public void write(int b) throws IOException {
          if (++written > allowed) {
            throw new IOException("no space left on device (injected after " + allowed + " bytes)");
          }
          real.write(b);
        }

        @Override
        public void close() throws IOException {
          real.close();
        }
      }, null);
    }
  }

  static FaultyFs faulty() throws IOException {
    FaultyFs fs = new FaultyFs();
    fs.initialize(URI.create("faulty:///"), new Configuration());
    return fs;
  }

  static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + seed);
    }
    return b;
  }

  Path dir() {
    return new Path("faulty://" + tmp.toAbsolutePath());
  }

  @Test
  void hadoopPathPublishesWholeAndLeavesNoTemporaryFile() throws IOException {
    try (FaultyFs fs = faulty()) {
      byte[] b = bytes(1000, 1);
      ShardInfo info = DatasetWriter.publishShard(fs, dir(), FILE, Split.TRAIN, 4, b, "attempt-1");
      assertEquals(1000, info.bytes());
      assertArrayEquals(b, Files.readAllBytes(tmp.resolve(FILE)));
      assertFalse(Files.exists(tmp.resolve(DatasetWriter.TEMP_DIR).resolve("attempt-1")), "the attempt's folder is removed");
    }
  }

  @Test
  void hadoopPathWriteThatFailsHalfWayLeavesNoShardAndKeepsAnEarlierOne() throws IOException {
    try (FaultyFs fs = faulty()) {
      fs.limit = 500;
      IOException e = assertThrows(IOException.class,
          () -> DatasetWriter.publishShard(fs, dir(), FILE, Split.TRAIN, 4, bytes(1000, 1), "attempt-1"));
      assertTrue(e.getMessage().contains("injected"), e.getMessage());
      assertFalse(Files.exists(tmp.resolve(FILE)), "no half-written shard under the final name");

      byte[] good = bytes(800, 2);
      Files.write(tmp.resolve(FILE), good);
      assertThrows(IOException.class, () -> DatasetWriter.publishShard(fs, dir(), FILE, Split.TRAIN, 4, bytes(1000, 3), "attempt-2"));
      assertArrayEquals(good, Files.readAllBytes(tmp.resolve(FILE)), "the shard already there keeps its bytes");
    }
  }

  @Test
  void localPathReplacesAnEarlierShardWholeNeverRewritingItInPlace() throws IOException {
    // java.nio's path: the new bytes go to a new file renamed over the old one, so the shard's
    // inode changes (a reader holding the old file keeps reading the old bytes, never a mix)
    FileSystem local = FileSystem.getLocal(new Configuration());
    Path dir = new Path(tmp.toUri());
    DatasetWriter.publishShard(local, dir, FILE, Split.TRAIN, 4, bytes(1000, 1), "attempt-1");
    Object before = Files.readAttributes(tmp.resolve(FILE), BasicFileAttributes.class).fileKey();
    byte[] second = bytes(1000, 2);
    DatasetWriter.publishShard(local, dir, FILE, Split.TRAIN, 4, second, "attempt-2");
    assertArrayEquals(second, Files.readAllBytes(tmp.resolve(FILE)));
    Object after = Files.readAttributes(tmp.resolve(FILE), BasicFileAttributes.class).fileKey();
    assertTrue(before != null, "this file system reports file keys (inodes)");
    assertNotEquals(before, after, "the shard was rewritten in place instead of replaced by a rename");
  }

  /** The local disk under the scheme "norename", whose rename refuses an existing target, as HDFS's does. */
  static final class NoOverwriteFs extends RawLocalFileSystem {
    @Override
    public String getScheme() {
      return "norename";
    }

    @Override
    public URI getUri() {
      return URI.create("norename:///");
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
      return !exists(dst) && super.rename(src, dst);
    }
  }

  /**
   * publishShard's javadoc: a target that already exists "with the same size and checksum" is kept;
   * "if it differs, it is replaced". On a file system whose rename does not overwrite, a stale shard
   * of another size or content must not survive under the new shard's name.
   */
  @Test
  void hadoopPathReplacesADifferentShardAlreadyThereAndKeepsAnIdenticalOne() throws IOException {
    try (NoOverwriteFs fs = new NoOverwriteFs()) {
      fs.initialize(URI.create("norename:///"), new Configuration());
      Path dir = new Path("norename://" + tmp.toAbsolutePath());
      Files.write(tmp.resolve(FILE), bytes(1000, 1)); // same size, other bytes
      byte[] fresh = bytes(1000, 2);
      ShardInfo info = DatasetWriter.publishShard(fs, dir, FILE, Split.TRAIN, 4, fresh, "attempt-1");
      assertArrayEquals(fresh, Files.readAllBytes(tmp.resolve(FILE)), "the stale shard was kept");
      assertEquals(ShardCodec.crc32c(fresh), info.crc32c());
      DatasetWriter.publishShard(fs, dir, FILE, Split.TRAIN, 4, fresh, "attempt-2");
      assertArrayEquals(fresh, Files.readAllBytes(tmp.resolve(FILE)));
      assertFalse(Files.exists(tmp.resolve(DatasetWriter.TEMP_DIR).resolve("attempt-2")), "the attempt's folder is removed");
    }
  }
}
