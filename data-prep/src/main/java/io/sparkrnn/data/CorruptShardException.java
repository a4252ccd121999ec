package io.sparkrnn.data;

import java.io.IOException;

/**
 * A shard whose bytes fail the manifest's checks: wrong size, shorter than its size while being
 * read, or a CRC32C that differs. Unlike other I/O errors (a datanode that is down, a timeout)
 * this fails the same way on every retry, so a caller may stop at once instead of retrying.
 */
public final class CorruptShardException extends IOException {
  private static final long serialVersionUID = 1L;

  public CorruptShardException(String message) {
    super(message);
  }
}
