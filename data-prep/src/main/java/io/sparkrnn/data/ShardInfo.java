package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.regex.Pattern;

/**
 * One shard as the manifest lists it.
 *
 * @param file the file name inside the dataset directory: a plain name such as
 *     {@code shard-00017.safetensors}, never a path (no {@code /}, {@code \}, {@code ..}, scheme or
 *     leading dot)
 * @param split the split its sequences belong to
 * @param batch B, the number of sequences in this shard (the last shard of a split may be smaller)
 * @param bytes the file's exact size in bytes
 * @param crc32c the CRC32C (Castagnoli) of the whole file, 8 lower-case hex digits
 */
public record ShardInfo(String file, Split split, int batch, long bytes, String crc32c) implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*\\.safetensors");
  private static final Pattern HEX8 = Pattern.compile("[0-9a-f]{8}");

  public ShardInfo {
    checkFileName(file);
    if (split == null) {
      throw new BadInputException(file + ": split missing");
    }
    if (batch < 1) {
      throw new BadInputException(file + ": batch must be at least 1, found " + batch);
    }
    if (bytes < 8) {
      throw new BadInputException(file + ": bytes must be at least 8, found " + bytes);
    }
    if (crc32c == null || !HEX8.matcher(crc32c).matches()) {
      throw new BadInputException(file + ": crc32c must be 8 lower-case hex digits, found " + crc32c);
    }
  }

  /** The name of shard {@code index}: {@code shard-NNNNN.safetensors}, at least five digits. */
  public static String fileName(int index) {
    return String.format("shard-%05d.safetensors", index);
  }

  /**
   * Refuses anything but a plain file name, so a manifest cannot point a reader outside its
   * directory ({@code ../x}, {@code /etc/x}, {@code hdfs://other/x}).
   */
  public static void checkFileName(String file) {
    if (file == null || file.length() > 255 || file.contains("..") || !SAFE_NAME.matcher(file).matches()) {
      throw new BadInputException("manifest shard file " + (file == null ? "null" : "'" + file + "'")
          + " is not a plain shard name inside the dataset directory (expected like shard-00000.safetensors;"
          + " paths, '..', schemes and hidden names are refused)");
    }
  }
}
