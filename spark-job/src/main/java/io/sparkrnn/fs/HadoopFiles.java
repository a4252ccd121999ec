package io.sparkrnn.fs;

import io.sparkrnn.data.FileSystems;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FSError;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * Single files on any Hadoop file system ({@code file://}, {@code hdfs://}, {@code s3a://} or a
 * plain local path): whole reads with a size limit, and atomic writes (temporary name in the same
 * directory, then rename with overwrite), so a failed command leaves no half-written output.
 */
public final class HadoopFiles {
  /**
   * The hidden name beside {@code name} that a write in progress takes, {@code .NAME.KIND-UUID}:
   * KIND {@code tmp} for a file or staging directory not yet renamed into place, {@code old} for an
   * earlier result moved aside ({@link StagedDirectory#publish}). {@link #UUID_REGEX} matches its UUID.
   */
  static String hiddenName(String name, String kind) {
    return "." + name + "." + kind + "-" + UUID.randomUUID();
  }

  /** The UUID of {@link #hiddenName}, as a regular expression. */
  static final String UUID_REGEX = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

  /** Models, shards and primers are read whole; anything larger is refused before allocating. */
  public static final long MAX_BYTES = Integer.MAX_VALUE - 8;

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HadoopFiles.class);

  private HadoopFiles() {}

  public static Path path(String uri) {
    return new Path(uri);
  }

  public static FileSystem fs(String uri, Configuration conf) throws IOException {
    return FileSystems.get(path(uri), conf);
  }

  public static boolean isDirectory(String uri, Configuration conf) throws IOException {
    try {
      return fs(uri, conf).getFileStatus(path(uri)).isDirectory();
    } catch (FileNotFoundException e) {
      return false;
    }
  }

  public static boolean exists(String uri, Configuration conf) throws IOException {
    return fs(uri, conf).exists(path(uri));
  }

  /** The whole file; a missing file is a FileNotFoundException naming it. */
  public static byte[] read(String uri, Configuration conf) throws IOException {
    FileSystem fs = fs(uri, conf);
    Path p = path(uri);
    FileStatus st;
    try {
      st = fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(uri + ": no such file");
    }
    if (st.isDirectory()) {
      throw new IOException(uri + ": is a directory, expected a file");
    }
    FileSystems.requireRegularFile(fs, p, uri); // a FIFO would block the open below for ever
    if (st.getLen() > MAX_BYTES) {
      throw new IOException(uri + ": " + st.getLen() + " bytes is more than one file read whole may have (2 GiB)");
    }
    MemoryBudget.require("reading " + uri + " whole (" + st.getLen() + " bytes)", st.getLen(), "use a smaller file");
    byte[] b = new byte[(int) st.getLen()];
    try (InputStream in = fs.open(p)) {
      int n = in.readNBytes(b, 0, b.length);
      if (n < b.length) {
        throw new EOFException(uri + ": ended after " + n + " of " + b.length + " bytes");
      }
    }
    return b;
  }

  /** The file's length in bytes, or an error naming it when it is missing. */
  public static long length(String uri, Configuration conf) throws IOException {
    try {
      return fs(uri, conf).getFileStatus(path(uri)).getLen();
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(uri + ": no such file");
    }
  }

  /** Writes the file atomically: a temporary name beside it, then a rename over it ({@link #write(FileSystem, Path, byte[], Runnable)}). */
  public static void write(String uri, byte[] bytes, Configuration conf) throws IOException {
    FileSystem fs = fs(uri, conf);
    write(fs, fs.makeQualified(path(uri)), bytes, null);
  }

  /**
   * The project's one atomic write to a Hadoop file system: the bytes go to a hidden temporary
   * file beside the target ({@code .NAME.tmp-UUID}, which {@code OutputDir.removeStaleTemporaries}
   * recognises after a crash) and are renamed over it ({@link FileContext#rename} with OVERWRITE:
   * atomic on HDFS and the local file system), so a reader sees the old file or the new one, never
   * part of one. The temporary file is removed on failure.
   *
   * @param midWrite null, or a test hook run after the first half of the bytes is written and
   *     flushed (a process killed there leaves a half-written temporary file)
   * @throws WriteException the file system refused the write (full, failing); names the target
   */
  public static void write(FileSystem fs, Path target, byte[] bytes, Runnable midWrite) throws IOException {
    if (fs.getClass() == RawLocalFileSystem.class) {   // FileSystems.get's local disk (not a subclass a test made)
      writeLocal(FileSystems.localPath(target), bytes, midWrite);
      return;
    }
    Path dir = target.getParent();
    if (dir != null) {
      fs.mkdirs(dir);
    }
    Path tmp = new Path(dir, hiddenName(target.getName(), "tmp"));
    if (fs instanceof ChecksumFileSystem checksummed) {
      // its rename is two renames, the file then its checksum ".NAME.crc": a kill between them left
      // the old file's checksum beside the new bytes, and every later read of the file (a resume's of
      // metrics.jsonl) failed with a ChecksumException (a user audit). Without it a file is read unchecked.
      checksummed.getRawFileSystem().delete(checksummed.getChecksumFile(target), false);
    }
    try {
      try (FSDataOutputStream out = fs.create(tmp, false)) {
        if (midWrite == null) {
          out.write(bytes);
        } else {
          out.write(bytes, 0, bytes.length / 2);
          out.hflush();
          midWrite.run();
          out.write(bytes, bytes.length / 2, bytes.length - bytes.length / 2);
        }
      }
      FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(tmp, target, Options.Rename.OVERWRITE);
    } catch (IOException | FSError e) {
      // Hadoop's local file system reports a full disk as FSError (an Error) without the file's name
      Throwable cause = e instanceof FSError && e.getCause() != null ? e.getCause() : e;
      throw new WriteException(target + ": could not be written (" + cause.getMessage() + "); " + target.getName()
          + " is unchanged", e);
    } finally {
      if (fs.exists(tmp)) {
        fs.delete(tmp, false);
      }
    }
  }

  /**
   * The same atomic write on the local disk through java.nio (same temporary name, same rename over
   * the target): Hadoop's local file system forks a {@code chmod} for each file it creates and a
   * {@code readlink} for each rename where its native library is missing, as it is on spark-rnn's
   * classpath: about 95 ms a file (a user audit: predict --out DIR of 7,689 shards took 12 minutes).
   * A checksum file of the target ({@code .NAME.crc}), which Hadoop's checksummed local file system
   * of another tool may have left, is removed before the rename: it would not match the new bytes.
   */
  private static void writeLocal(java.nio.file.Path target, byte[] bytes, Runnable midWrite) throws IOException {
    java.nio.file.Path dir = target.toAbsolutePath().getParent();
    java.nio.file.Path tmp = dir.resolve(hiddenName(target.getFileName().toString(), "tmp"));
    try {
      if (Files.isDirectory(target)) {   // a rename would replace an empty one
        throw new IOException("is a directory");
      }
      Files.createDirectories(dir);
      try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        if (midWrite == null) {
          out.write(bytes);
        } else {
          out.write(bytes, 0, bytes.length / 2);
          out.flush();
          midWrite.run();
          out.write(bytes, bytes.length / 2, bytes.length - bytes.length / 2);
        }
      }
      Files.deleteIfExists(dir.resolve("." + target.getFileName() + ".crc"));
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new WriteException(target + ": could not be written (" + reason(e) + "); " + target.getFileName() + " is unchanged", e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        LOG.debug("could not remove {}: {}", tmp, e.toString());
      }
    }
  }

  /**
   * Why java.nio failed, in words: its file-system exceptions' message is often the path alone
   * (an AccessDeniedException says "/d/.f.tmp-…", not "Permission denied", as Hadoop's did: a review).
   */
  static String reason(IOException e) {
    if (e instanceof FileSystemException f) {
      String why = f.getReason() != null ? f.getReason()
          : f instanceof AccessDeniedException ? "permission denied"
          : f instanceof NoSuchFileException ? "no such file or directory"
          : f instanceof FileAlreadyExistsException ? "already exists"
          : f instanceof NotDirectoryException ? "not a directory"
          : f instanceof DirectoryNotEmptyException ? "a directory that is not empty"
          : f.getClass().getSimpleName();
      return (f.getFile() != null ? f.getFile() + ": " : "") + why;
    }
    return String.valueOf(e.getMessage());
  }

  /** A file could not be written (a full or failing file system); the message names it. */
  public static final class WriteException extends IOException {
    private static final long serialVersionUID = 1L;

    public WriteException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The file name of a URI or path: its last component. */
  public static String name(String uri) {
    return path(uri).getName();
  }
}
