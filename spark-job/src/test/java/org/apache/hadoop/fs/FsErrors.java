package org.apache.hadoop.fs;

/**
 * Tests only: FSError's constructor is package-private; Hadoop's local file system raises it from
 * this package when the disk is full, and so does the test file system through this helper.
 */
public final class FsErrors {
  private FsErrors() {}

  public static FSError of(Throwable cause) {
    return new FSError(cause);
  }
}
