package io.sparkrnn.fs;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * An output directory published whole or not at all, as Spark's output committers and
 * {@code prep} do: files are written into a hidden staging directory beside the target
 * ({@code .NAME.tmp-UUID}, on the same file system, so the final rename is atomic on HDFS and
 * local disks), which {@link #publish} renames into place. A run that fails before
 * {@link #publish} leaves nothing in the target and nothing beside it ({@link #close} deletes the
 * staging directory).
 *
 * <p>An existing target is replaced only when it is empty or holds an earlier result: its
 * {@code marker} file, or only files this run writes too (an earlier run that failed after its
 * marker was removed). The marker is deleted when the run starts, so an earlier result never
 * makes a failed run look complete; the earlier files are replaced at {@link #publish}.
 *
 * <p>Call order: {@link #begin} → write under {@link #uri()} → {@link #publish} → {@link #close}.
 */
public final class StagedDirectory implements AutoCloseable {
  private final FileSystem fs;
  private final Path target;
  private final Path staging;
  private boolean published;

  private StagedDirectory(FileSystem fs, Path target, Path staging) {
    this.fs = fs;
    this.target = target;
    this.staging = staging;
  }

  /**
   * Checks the target and creates the staging directory.
   *
   * @param marker the file every complete result holds (e.g. predictions.json)
   * @param names the names of the other files a result holds
   * @param log where the removal of an earlier result's marker is told
   * @param warnings where what a killed run left beside the target is named
   * @throws IllegalArgumentException when the target holds other files and no marker (not ours to replace)
   */
  public static StagedDirectory begin(String uri, Configuration conf, String marker, Set<String> names, PrintStream log,
      PrintStream warnings) throws IOException {
    FileSystem fs = FileSystems.get(new Path(uri), conf);
    Path target = fs.makeQualified(new Path(uri));
    if (target.getParent() == null) {
      throw new BadInputException("--out " + uri + ": the root directory cannot be replaced; choose a directory below it");
    }
    if (fs.exists(target)) {
      FileStatus[] children = fs.listStatus(target);
      Path earlier = new Path(target, marker);
      boolean onlyOurs = Arrays.stream(children).allMatch(c -> names.contains(c.getPath().getName()));
      if (children.length > 0 && !fs.exists(earlier) && !onlyOurs) {
        throw new BadInputException("--out " + uri + ": holds " + children.length + (children.length == 1 ? " entry" : " entries")
            + " but no " + marker
            + ", so it is not an earlier result; refusing to replace it. Choose a new or empty directory");
      }
      if (fs.exists(earlier)) {
        fs.delete(earlier, false);
        log.println("--out " + uri + ": removed the " + marker + " of an earlier run; its files are replaced when this run completes");
      }
    }
    warnOfLeftovers(fs, target, uri, warnings);
    Path staging = new Path(target.getParent(), HadoopFiles.hiddenName(target.getName(), "tmp"));
    if (!fs.mkdirs(staging)) {
      throw new IOException(staging + ": could not create the staging directory");
    }
    return new StagedDirectory(fs, target, staging);
  }

  /**
   * Names what a run killed before {@link #close} left beside the target: a staging directory
   * ({@code .NAME.tmp-UUID}) and, killed within {@link #publish}, the earlier result moved aside
   * ({@code .NAME.old-UUID}). Not removed: another run may be writing to the same target now.
   */
  private static void warnOfLeftovers(FileSystem fs, Path target, String uri, PrintStream log) throws IOException {
    if (!fs.exists(target.getParent())) {
      return;   // a parent this run creates (with its staging directory) holds nothing of an earlier one
    }
    Pattern left = Pattern.compile(Pattern.quote("." + target.getName()) + "\\.(tmp|old)-" + HadoopFiles.UUID_REGEX);
    FileStatus[] siblings = fs.listStatus(target.getParent(), p -> left.matcher(p.getName()).matches());
    for (FileStatus f : siblings) {
      boolean old = f.getPath().getName().startsWith("." + target.getName() + ".old-");
      log.println("warning: --out " + uri + ": " + f.getPath() + (old
          ? " holds an earlier result, moved aside by a run that stopped while publishing its own; keep or remove it"
          : " was left by a run that did not finish (killed?); remove it once no run writes --out " + uri));
    }
  }

  /** Where to write: the staging directory, fully qualified. */
  public String uri() {
    return staging.toString();
  }

  /** The target, fully qualified. */
  public String target() {
    return target.toString();
  }

  /** Renames the staging directory into place, replacing an earlier result. */
  public void publish() throws IOException {
    Path old = null;
    if (fs.exists(target)) {
      old = new Path(target.getParent(), HadoopFiles.hiddenName(target.getName(), "old"));
      if (!fs.rename(target, old)) {
        throw new IOException(target + ": could not move the earlier result aside to publish this one");
      }
    }
    if (!fs.rename(staging, target)) {
      if (old != null) {
        fs.rename(old, target);
      }
      throw new IOException(target + ": could not rename " + staging + " into place");
    }
    published = true;
    if (old != null) {
      fs.delete(old, true);
    }
  }

  /** Deletes the staging directory unless it was published. */
  @Override
  public void close() throws IOException {
    if (!published) {
      fs.delete(staging, true);
    }
  }
}
