package io.sparkrnn.infer;

import io.sparkrnn.data.FileSystems;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * Single files on any Hadoop file system ({@code file://}, {@code hdfs://}, {@code s3a://} or a
 * plain local path): whole reads with a size limit, and atomic writes (temporary name in the same
 * directory, then rename with overwrite), so a failed command leaves no half-written output.
 */
public final class HadoopFiles {
  /** Models, shards and primers are read whole; anything larger is refused before allocating. */
  public static final long MAX_BYTES = Integer.MAX_VALUE - 8;

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
      int off = 0;
      while (off < b.length) {
        int n = in.read(b, off, b.length - off);
        if (n < 0) {
          throw new EOFException(uri + ": ended after " + off + " of " + b.length + " bytes");
        }
        off += n;
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

  /** Writes the file atomically: a temporary name beside it, then a rename over it. */
  public static void write(String uri, byte[] bytes, Configuration conf) throws IOException {
    FileSystem fs = fs(uri, conf);
    Path target = fs.makeQualified(path(uri));
    Path dir = target.getParent();
    if (dir != null) {
      fs.mkdirs(dir);
    }
    Path tmp = new Path(dir, "." + target.getName() + ".tmp-" + UUID.randomUUID());
    try {
      try (OutputStream out = fs.create(tmp, false)) {
        out.write(bytes);
      }
      FileContext.getFileContext(fs.getUri(), conf).rename(tmp, target, Options.Rename.OVERWRITE);
    } finally {
      if (fs.exists(tmp)) {
        fs.delete(tmp, false);
      }
    }
  }

  /** The file name of a URI or path: its last component. */
  public static String name(String uri) {
    return path(uri).getName();
  }
}
