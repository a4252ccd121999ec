package io.sparkrnn.testing;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FsErrors;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * Tests only: the local disk under the scheme {@code full://}, which runs out of space once
 * {@link #BUDGET} bytes have been written, failing the way Hadoop's local file system does on a
 * full disk (an FSError wrapping "No space left on device"). Registered for the scheme in
 * the test resources' core-site.xml; never on the main class path.
 */
public class FullDiskFileSystem extends RawLocalFileSystem {
  /** Bytes that may still be written, by every instance together. */
  public static final AtomicLong BUDGET = new AtomicLong(Long.MAX_VALUE);

  /**
   * When set, listing a folder that holds a file of this name fails with an I/O error, as on a
   * failing disk or mount: e.g. {@code ".spark-rnn.lock"} fails only once a run has taken its lock.
   */
  public static volatile String failListingBeside;

  @Override
  public FileStatus[] listStatus(Path f) throws IOException {
    String beside = failListingBeside;
    if (beside != null && new File(pathToFile(f), beside).exists()) {
      throw new IOException(f + ": Input/output error");
    }
    return super.listStatus(f);
  }

  @Override
  public URI getUri() {
    return URI.create("full:///");
  }

  @Override
  public String getScheme() {
    return "full";
  }

  @Override
  public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize, short replication,
      long blockSize, Progressable progress) throws IOException {
    return budgeted(super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress));
  }

  @Override
  public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
      Progressable progress) throws IOException {
    return budgeted(super.create(f, overwrite, bufferSize, replication, blockSize, progress));
  }

  private static FSDataOutputStream budgeted(FSDataOutputStream real) throws IOException {
    return new FSDataOutputStream(new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        if (BUDGET.addAndGet(-len) < 0) {
          throw FsErrors.of(new IOException("No space left on device"));
        }
        real.write(b, off, len);
      }

      @Override
      public void flush() throws IOException {
        real.flush();
      }

      @Override
      public void close() throws IOException {
        real.close();
      }
    }, null);
  }

  /** The same for FileContext (which the output folder renames with). */
  public static final class Fs extends DelegateToFileSystem {
    public Fs(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(uri, new FullDiskFileSystem(), conf, "full", false);
    }
  }
}
