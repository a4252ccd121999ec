package io.sparkrnn.data.source;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.kernel.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Reading input files through Hadoop, with the errors every converter gives. */
final class Inputs {
  /** Inputs read whole into memory (CSV, text) are limited to this. */
  static final long MAX_IN_MEMORY_BYTES = 1L << 30;

  private Inputs() {}

  static FileStatus status(String uri, Configuration conf) throws IOException {
    Path p = new Path(uri);
    FileSystem fs = FileSystems.get(p, conf);
    try {
      FileStatus s = fs.getFileStatus(p);
      if (s.isDirectory()) {
        throw new IOException(uri + ": is a directory, expected a file");
      }
      FileSystems.requireRegularFile(fs, p, uri);
      return s;
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(uri + ": input file not found");
    }
  }

  /**
   * The text without a leading UTF-8 byte-order mark (Excel's "CSV UTF-8", Notepad, pandas'
   * utf-8-sig): the mark is not text; left in, it becomes an invisible first character (of a CSV's
   * first column name, which --inputs then misses, or a symbol a text model learns).
   */
  static String withoutByteOrderMark(String text) {
    return text.startsWith("\uFEFF") ? text.substring(1) : text;
  }

  /** The whole file; refuses an empty file and one over {@link #MAX_IN_MEMORY_BYTES}. */
  static byte[] readAll(String uri, Configuration conf) throws IOException {
    FileStatus s = status(uri, conf);
    if (s.getLen() == 0) {
      throw new BadInputException(uri + ": the input file is empty");
    }
    if (s.getLen() > MAX_IN_MEMORY_BYTES) {
      throw new BadInputException(uri + ": " + s.getLen() + " bytes; this converter holds its input in memory"
          + " and takes at most " + MAX_IN_MEMORY_BYTES);
    }
    byte[] bytes = new byte[(int) s.getLen()];
    Path p = new Path(uri);
    try (InputStream in = FileSystems.get(p, conf).open(p)) {
      int done = 0;
      while (done < bytes.length) {
        int n = in.read(bytes, done, bytes.length - done);
        if (n < 0) {
          throw new IOException(uri + ": ended after " + done + " bytes, expected " + bytes.length);
        }
        done += n;
      }
    }
    return bytes;
  }
}
