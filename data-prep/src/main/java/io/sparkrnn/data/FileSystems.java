package io.sparkrnn.data;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The Hadoop file system for a dataset or input URI. For checksummed file systems ({@code file://}
 * is a {@link ChecksumFileSystem}) the raw one underneath is used: shards carry their own CRC32C in
 * the manifest, and Hadoop's hidden {@code .crc} side files would only clutter the dataset and turn
 * a shard edited by another tool into an opaque ChecksumException instead of our error.
 */
public final class FileSystems {
  private FileSystems() {}

  public static FileSystem get(URI uri, Configuration conf) throws IOException {
    FileSystem fs = FileSystem.get(uri, conf);
    return fs instanceof ChecksumFileSystem c ? c.getRawFileSystem() : fs;
  }

  public static FileSystem get(Path path, Configuration conf) throws IOException {
    return get(path.toUri(), conf);
  }

  /** Whether {@code fs} is the local disk, the one file system with FIFOs, devices and symbolic links to follow. */
  public static boolean isLocal(FileSystem fs) {
    return "file".equals(fs.getUri().getScheme()); // RawLocalFileSystem does not implement getScheme()
  }

  /**
   * Refuses a local file that is not a regular file (after following links), before anything opens
   * it: opening a FIFO for reading blocks until a writer comes (for ever), and a device such as
   * {@code /dev/zero} streams without end. Hadoop's local file system reports both as plain files
   * of length 0. Other file systems (HDFS, object stores) hold only files and directories.
   *
   * @param name how errors name the file
   * @throws FileNotFoundException when the file is missing (or a link to nothing)
   * @throws IOException naming the file when it is a directory, FIFO, socket or device
   */
  public static void requireRegularFile(FileSystem fs, Path p, String name) throws IOException {
    if (!isLocal(fs)) {
      return;
    }
    java.nio.file.Path local = local(fs, p);
    if (Files.isDirectory(local)) {
      throw new IOException(name + ": is a directory, expected a regular file");
    }
    if (!Files.isRegularFile(local)) {
      if (!Files.exists(local)) {
        throw new FileNotFoundException(name + ": no such file");
      }
      throw new IOException(name + ": not a regular file (a FIFO, socket or device); refused before opening it");
    }
  }

  /**
   * As {@link #requireRegularFile}, and the file must also lie in {@code dir} itself once links are
   * resolved: a dataset's manifest and shards are its own files, so a symbolic link that leaves
   * the directory (to {@code /etc/shadow}, say) is refused before the file is opened or even its
   * size is looked at. Links between the directory's own files are allowed.
   */
  public static void requireRegularFileIn(FileSystem fs, Path dir, Path p, String name) throws IOException {
    if (!isLocal(fs)) {
      return;
    }
    java.nio.file.Path local = local(fs, p);
    if (Files.isSymbolicLink(local)) {
      java.nio.file.Path real;
      java.nio.file.Path realDir;
      try {
        real = local.toRealPath();
        realDir = local(fs, dir).toRealPath();
      } catch (NoSuchFileException e) {
        throw new FileNotFoundException(name + ": a symbolic link to a missing file");
      }
      if (!realDir.equals(real.getParent())) {
        // the target is not named: the error must not reveal what lies outside the dataset
        throw new IOException(name + ": a symbolic link to a file outside the dataset directory; refused");
      }
    }
    requireRegularFile(fs, p, name);
  }

  private static java.nio.file.Path local(FileSystem fs, Path p) {
    return new File(fs.makeQualified(p).toUri()).toPath();
  }
}
