package io.sparkrnn.data;

import java.io.IOException;
import java.net.URI;
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
}
