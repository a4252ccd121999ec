package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileStatus;
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

  /**
   * The java.nio path of a path on the local disk. Not {@code Paths.get(path.toUri())}: Hadoop's URI
   * keeps non-ASCII characters raw, which the JDK's file URI reader refuses ("Bad escape": prep
   * --out /data/é-ds failed with exit 1); the decoded path is what the disk has.
   */
  public static java.nio.file.Path localPath(Path path) {
    return java.nio.file.Path.of(path.toUri().getPath());
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
    requireRegularLocalFile(local(fs, p), name);
  }

  /** {@link #requireRegularFile} for a path on the local disk. */
  static void requireRegularLocalFile(java.nio.file.Path local, String name) throws IOException {
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
    requireRegularLocalFileIn(local(fs, dir), local(fs, p), name);
  }

  /** {@link #requireRegularFileIn} for paths on the local disk. */
  static void requireRegularLocalFileIn(java.nio.file.Path dir, java.nio.file.Path local, String name) throws IOException {
    if (Files.isSymbolicLink(local)) {
      java.nio.file.Path real;
      java.nio.file.Path realDir;
      try {
        real = local.toRealPath();
        realDir = dir.toRealPath();
      } catch (NoSuchFileException e) {
        throw new FileNotFoundException(name + ": a symbolic link to a missing file");
      }
      if (!realDir.equals(real.getParent())) {
        // the target is not named: the error must not reveal what lies outside the dataset
        throw new IOException(name + ": a symbolic link to a file outside the dataset directory; refused");
      }
    }
    requireRegularLocalFile(local, name);
  }

  /** The java.nio path of a file on the local disk ({@link #isLocal}). */
  static java.nio.file.Path local(FileSystem fs, Path p) {
    return new File(fs.makeQualified(p).toUri()).toPath();
  }

  /** Local directories no command may write into: devices and the kernel's views. */
  static final List<String> SYSTEM_DIRECTORIES = List.of("/dev", "/proc", "/sys");

  /**
   * Refuses an output file that is one of the command's inputs, however spelled (a relative path,
   * {@code ./}, a link, a directory's model file): predict, evaluate and generate wrote over their own
   * --model or --data without a word, and the model was gone (a user audit).
   *
   * @param inputs pairs of an option and the file it read ({@code "--model", m.source()}); null files are skipped
   * @throws BadInputException naming both options and the file
   */
  public static void requireNotAnInput(String uri, Configuration conf, String option, String... inputs) throws IOException {
    String self = identity(uri, conf);
    for (int i = 0; i + 1 < inputs.length; i += 2) {
      if (inputs[i + 1] == null) {
        continue;
      }
      String input = identity(inputs[i + 1], conf);
      if (self.equals(input.replaceAll("/+$", ""))) {
        throw new BadInputException(option + " " + uri + ": the file " + inputs[i] + " reads (" + inputs[i + 1] + "); writing "
            + option + " there would destroy it, so name another file");
      }
      if (within(self, input)) {   // evaluate --json DATASET/manifest.json replaced the manifest (a review)
        throw new BadInputException(option + " " + uri + ": inside the directory " + inputs[i] + " reads (" + inputs[i + 1] + ");"
            + " writing " + option + " there could replace its files, so name a path outside it");
      }
    }
  }

  /** Refuses two output options naming one file (generate's --plot and --out: the plot overwrote the continuation). */
  public static void requireDistinctOutputs(Configuration conf, String option, String uri, String otherOption, String other)
      throws IOException {
    if (uri != null && other != null && identity(uri, conf).equals(identity(other, conf))) {
      throw new BadInputException(option + " " + uri + ": the same file as " + otherOption + " " + other + "; name two files");
    }
  }

  /** Whether {@code inner} names the directory {@code outer} or a path below it, however each is spelled. */
  public static boolean sameOrInside(String inner, String outer, Configuration conf) throws IOException {
    String in = identity(inner, conf);
    String out = identity(outer, conf);
    return in.equals(out.replaceAll("/+$", "")) || within(in, out);
  }

  /** Whether the identity {@code inner} lies below the directory identity {@code outer} ({@link #identity}). */
  private static boolean within(String inner, String outer) {
    return inner.startsWith(outer.replaceAll("/+$", "") + "/");
  }

  /**
   * What two spellings of one file share: on a local disk the real path (links followed) of its
   * nearest existing ancestor, with the rest of its absolute normalised path after it; elsewhere its
   * qualified URI. The ancestor's links count: a new --out under a link to the dataset lies inside
   * the dataset (a review: {@code --out dslink/run} with dslink -> ds trained into ds/run).
   */
  private static String identity(String uri, Configuration conf) throws IOException {
    Path p = new Path(uri);
    FileSystem fs = get(p, conf);
    if (!isLocal(fs)) {
      return fs.makeQualified(p).toString();
    }
    java.nio.file.Path l = local(fs, p).toAbsolutePath().normalize();
    for (java.nio.file.Path existing = l; existing != null; existing = existing.getParent()) {
      try {
        return existing.toRealPath().resolve(existing.relativize(l)).toString();
      } catch (IOException e) {   // absent (or unreadable): try its parent
      }
    }
    return l.toString();
  }

  /**
   * Checks, before any work, that a command can write its output at {@code uri}: a directory
   * ({@code directory} true) that exists or can be created, or a file whose directory exists or can
   * be created. Refused, with one line naming the option, the path and what is wrong: an existing
   * regular file where a directory is wanted (or a directory where a file is), a path below a
   * regular file, one on the local disk that this user cannot write, one under /dev, /proc or
   * /sys (also through a link) and, for a file, a FIFO or device in its place. Without this a run
   * would compute for hours and fail at its first write.
   *
   * <p>On other file systems (HDFS, object stores) only files and directories are told apart:
   * their permissions are checked by the first write.
   *
   * @param option the option's name for messages, e.g. {@code --out}
   * @throws IllegalArgumentException naming the option, the path and the problem
   */
  public static void requireUsableOutput(String uri, Configuration conf, String option, boolean directory) throws IOException {
    Path p = new Path(uri);
    FileSystem fs = get(p, conf);
    String what = option + " " + uri + ": ";
    String wanted = directory ? "expected a directory (new or existing)" : "expected a file name";
    if (isLocal(fs)) {
      requireUsableLocalOutput(local(fs, p).normalize(), what, wanted, directory);
      return;
    }
    Path q = fs.makeQualified(p);
    FileStatus status = statusOrNull(fs, q);
    if (status != null) {
      if (directory != status.isDirectory()) {
        throw new BadInputException(what + (status.isDirectory() ? "is a directory" : "is a regular file") + ", " + wanted);
      }
      return;
    }
    for (Path a = q.getParent(); a != null; a = a.getParent()) {
      FileStatus s = statusOrNull(fs, a);
      if (s != null) {
        if (!s.isDirectory()) {
          throw new BadInputException(what + "cannot be created: " + a + " is a regular file, not a directory");
        }
        return;
      }
    }
  }

  /** Whether {@code p} lies on a file system mounted read-only (root cannot write there either: "this user" misled). */
  private static boolean readOnly(java.nio.file.Path p) {
    try {
      return Files.getFileStore(p).isReadOnly();
    } catch (IOException e) {
      return false;
    }
  }

  private static void requireUsableLocalOutput(java.nio.file.Path path, String what, String wanted, boolean directory) {
    java.nio.file.Path existing = path;
    while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
      existing = existing.getParent();
    }
    java.nio.file.Path real;
    try {
      real = existing == null ? null : existing.toRealPath();
    } catch (IOException e) { // a dangling link: its target's directory decides, as a write would follow it
      real = null;
    }
    for (String system : SYSTEM_DIRECTORIES) {
      java.nio.file.Path sys = java.nio.file.Path.of(system);
      if (path.startsWith(sys) || (real != null && real.startsWith(sys))) {
        throw new BadInputException(what + "lies under " + system + (path.startsWith(sys) ? "" : " (through a link)")
            + ", a system directory, not storage; " + wanted + " on a disk");
      }
    }
    if (existing == null) {
      return;
    }
    if (real == null && Files.isSymbolicLink(existing)) {
      // it read "is a regular file, not a directory" (a review)
      throw new BadInputException(what + (existing.equals(path) ? "is" : "cannot be created: " + existing + " is")
          + " a link that leads nowhere (its target is missing, or links loop)");
    }
    if (existing.equals(path)) {
      if (Files.isDirectory(path)) {
        if (!directory) {
          throw new BadInputException(what + "is a directory, " + wanted);
        }
        if (!Files.isWritable(path)) {
          throw new BadInputException(what + (readOnly(path) ? "is on a read-only file system" : "is a directory this user"
              + " cannot write to"));
        }
        return;
      }
      if (directory || !Files.isRegularFile(path)) {
        throw new BadInputException(what + (Files.isRegularFile(path) ? "is a regular file"
            : "is not a regular file (a FIFO, socket or device)") + ", " + wanted);
      }
      java.nio.file.Path parent = path.toAbsolutePath().getParent();
      if (parent != null && !Files.isWritable(parent)) {
        throw new BadInputException(what + "cannot be replaced: " + parent + (readOnly(parent) ? " is on a read-only file system"
            : " is not writable by this user"));
      }
      return;
    }
    if (!Files.isDirectory(existing)) {
      throw new BadInputException(what + "cannot be created: " + existing + " is a regular file, not a directory");
    }
    if (!Files.isWritable(existing)) {
      throw new BadInputException(what + "cannot be created: " + existing + (readOnly(existing) ? " is on a read-only file system"
          : " is not writable by this user"));
    }
  }

  private static FileStatus statusOrNull(FileSystem fs, Path p) throws IOException {
    try {
      return fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      return null;
    }
  }
}
