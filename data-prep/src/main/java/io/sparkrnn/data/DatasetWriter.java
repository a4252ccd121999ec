package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a dataset directory on any Hadoop {@link FileSystem}: shards first, each to a temporary
 * name under {@code _temporary/} and then renamed into place, and {@code manifest.json} last, the
 * same way. A directory without a manifest is not a dataset, so a crash at any point leaves nothing
 * a reader would accept.
 *
 * <p>Call order: {@link #create} → {@link #write}* → {@link #commit} (or {@link #abort}, which
 * {@link #close} does when commit was not reached). Not thread-safe. On abort what was written is
 * deleted, and the directory too when this writer created it ({@link Output#abort}).
 *
 * <p>The static helpers ({@link #prepare}, {@link #publishShard}, {@link #commitManifest},
 * {@link #deleteQuietly}) are the same steps for the Spark job, where tasks write shards and the
 * driver commits.
 */
public final class DatasetWriter implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(DatasetWriter.class);

  /** Folder inside the dataset for files not yet renamed into place; removed on commit. */
  public static final String TEMP_DIR = "_temporary";

  private final FileSystem fs;
  private final Output output;
  /** Where the shards go: the dataset directory, or the staging one that replaces it at commit. */
  private final Path dir;
  private final DatasetSpec spec;
  private final TreeMap<Integer, ShardInfo> written = new TreeMap<>();
  private boolean finished;

  private DatasetWriter(FileSystem fs, Output output, DatasetSpec spec) {
    this.fs = fs;
    this.output = output;
    this.dir = output.writeDir();
    this.spec = spec;
  }

  /**
   * Prepares {@code out} for a new dataset: it must not exist, or be an empty directory, or (with
   * {@code overwrite}) be an existing dataset, which the new one replaces at commit ({@link #prepare}).
   */
  public static DatasetWriter create(URI out, Configuration conf, DatasetSpec spec, boolean overwrite) throws IOException {
    FileSystem fs = FileSystems.get(out, conf);
    Path dir = fs.makeQualified(new Path(out));
    return new DatasetWriter(fs, prepare(fs, dir, overwrite), spec);
  }

  /**
   * Encodes and writes shard {@code index} ({@code shard-NNNNN.safetensors}) and returns its
   * manifest entry. The batch is checked against the spec first (shapes, finite values, class ids).
   */
  public ShardInfo write(int index, Split split, Batch batch) throws IOException {
    if (finished) {
      throw new IllegalStateException("dataset writer already committed or aborted");
    }
    if (written.containsKey(index)) {
      throw new BadInputException(ShardInfo.fileName(index) + " written twice");
    }
    String file = ShardInfo.fileName(index);
    byte[] bytes = ShardCodec.encode(batch, spec, file);
    ShardInfo info = publishShard(fs, dir, file, split, batch.batchSize(), bytes, "local-" + ProcessHandle.current().pid());
    written.put(index, info);
    return info;
  }

  /**
   * Writes the manifest for the shards written, in index order, and makes the dataset visible.
   *
   * @param normalization the statistics already applied to the shards, or null
   */
  public Manifest commit(Normalization normalization) throws IOException {
    if (finished) {
      throw new IllegalStateException("dataset writer already committed or aborted");
    }
    List<ShardInfo> shards = new ArrayList<>(written.values());
    Manifest manifest = new Manifest(spec, shards, normalization);
    output.commit(manifest);
    finished = true;
    return manifest;
  }

  /** Deletes everything written (the directory too if this writer made it; never an old dataset). Idempotent. */
  public void abort() {
    if (finished) {
      return;
    }
    finished = true;
    output.abort();
  }

  @Override
  public void close() {
    abort();
  }

  /**
   * Checks the output directory and makes the one the shards are written to: {@code dir} itself
   * when it is new (created here) or an empty directory, and for {@code --overwrite} of an existing
   * dataset a hidden staging directory beside it ({@code .NAME.tmp-UUID}), so that the old dataset
   * stays whole until the new one is complete: a prep that fails on bad input (a NaN in row 10^6)
   * loses nothing. {@link Output#commit} writes the manifest and, when replacing, moves the old
   * dataset aside ({@code .NAME.old-UUID}), renames the new one into place and deletes the old.
   */
  public static Output prepare(FileSystem fs, Path given, boolean overwrite) throws IOException {
    // "…/ds/" (a URI with its trailing slash) has the name "" and the parent ds: the directory is ds
    Path dir = given.getName().isEmpty() && given.getParent() != null ? given.getParent() : given;
    OutputState state = checkDirectory(fs, dir, overwrite);
    warnOfLeftovers(fs, dir);
    if (state == OutputState.EMPTY) {
      return new Output(fs, dir, dir, false);
    }
    Path writeDir = dir;
    if (state == OutputState.DATASET) {
      if (dir.getParent() != null) {
        writeDir = besideDataset(dir, STAGING);
      } else if (!fs.delete(dir, true)) {   // the root: nowhere beside it to stage
        throw new IOException(dir + ": could not delete the old dataset");
      }
    }
    if (!fs.mkdirs(writeDir)) {
      throw new IOException(writeDir + ": could not create the dataset directory");
    }
    return new Output(fs, dir, writeDir, true);
  }

  /** The kinds of hidden directory an overwrite makes beside the dataset: the new one being written, the old one replaced. */
  private static final String STAGING = "tmp";
  static final String REPLACED = "old";

  /** {@code .NAME.KIND-}: how the hidden directories of that kind beside {@code dir} begin. */
  static String besidePrefix(Path dir, String kind) {
    return "." + dir.getName() + "." + kind + "-";
  }

  /** A new hidden directory of that kind beside {@code dir}: {@code .NAME.KIND-UUID}. */
  private static Path besideDataset(Path dir, String kind) {
    return new Path(dir.getParent(), besidePrefix(dir, kind) + UUID.randomUUID());
  }

  /**
   * Names, in a warning, what interrupted preps of {@code dir} left beside it: a staging copy
   * ({@code .NAME.tmp-UUID}, an unfinished new dataset) or, after a kill between an overwrite's
   * two renames, the dataset it replaced ({@code .NAME.old-UUID}). Hidden and as large as a
   * dataset, so worth a line; never deleted here: another prep may be writing one now, and an
   * {@code .old-} one may be the only copy of a dataset.
   */
  private static void warnOfLeftovers(FileSystem fs, Path dir) {
    if (dir.getParent() == null) {
      return;
    }
    List<String> found = new ArrayList<>();
    try {
      for (FileStatus s : fs.listStatus(dir.getParent(),
          p -> p.getName().startsWith(besidePrefix(dir, STAGING)) || p.getName().startsWith(besidePrefix(dir, REPLACED)))) {
        found.add(s.getPath().toUri().getPath());
      }
    } catch (IOException | RuntimeException e) {
      // a parent this user may not list (an object store's policy), or none yet: no warning, and no failed prep
      LOG.debug("could not list {} for leftovers of interrupted preps: {}", dir.getParent(), e.toString());
      return;
    }
    if (!found.isEmpty()) {
      Collections.sort(found);
      LOG.warn("{}: interrupted preps left {} beside it (.tmp-: an unfinished new dataset; .old-: the dataset an --overwrite"
          + " was replacing, the only copy if {} is gone); not deleted, as another prep may be writing one: remove them"
          + " once none is", dir, String.join(", ", found), dir.getName());
    }
  }

  /**
   * A dataset being written: into {@link #writeDir} (the dataset directory, or the staging one that
   * replaces an old dataset at {@link #commit}).
   */
  public static final class Output {
    private final FileSystem fs;
    private final Path dir;
    private final Path writeDir;
    private final boolean created;

    Output(FileSystem fs, Path dir, Path writeDir, boolean created) {
      this.fs = fs;
      this.dir = dir;
      this.writeDir = writeDir;
      this.created = created;
    }

    /** Where shards are written (fully qualified). */
    public Path writeDir() {
      return writeDir;
    }

    /** Whether {@link #writeDir} was made here, so that a failed prep deletes it whole. */
    public boolean created() {
      return created;
    }

    /** Commits the manifest in {@link #writeDir}, then puts the dataset in place of an old one if any. */
    public void commit(Manifest manifest) throws IOException {
      commitManifest(fs, writeDir, manifest);
      if (writeDir.equals(dir)) {
        return;
      }
      Path old = besideDataset(dir, REPLACED);
      if (!fs.rename(dir, old)) {
        throw new IOException(dir + ": could not move the old dataset aside to " + old + "; the new one is complete in "
            + writeDir);
      }
      if (!fs.rename(writeDir, dir)) {
        boolean back = fs.rename(old, dir);
        throw new IOException(dir + ": could not rename the new dataset " + writeDir + " into place; the old one "
            + (back ? "is back" : "is in " + old));
      }
      deleteQuietly(fs, old);
    }

    /**
     * Deletes what a failed prep wrote: the directory when it was made here, else (an empty
     * directory given as --out) everything now in it: shards, {@code _temporary}. An old dataset is
     * never touched. The one cleanup of the local, Spark and table preps.
     */
    public void abort() {
      if (created) {
        deleteQuietly(fs, writeDir);
        return;
      }
      try {
        for (FileStatus child : fs.listStatus(writeDir)) {
          deleteQuietly(fs, child.getPath());
        }
      } catch (IOException e) {
        // best effort, as deleteQuietly: the failure being reported matters more
      }
    }
  }

  /** What {@link #checkDirectory} found at the output. */
  public enum OutputState {
    /** Nothing there yet. */
    ABSENT,
    /** An empty directory. */
    EMPTY,
    /** A dataset that --overwrite allows to replace. */
    DATASET
  }

  /**
   * Checks, without changing anything, that {@code dir} can receive a new dataset: absent, an
   * empty directory, or (with {@code overwrite}) a dataset; a file or a non-empty directory that
   * is not a dataset is refused.
   */
  public static OutputState checkDirectory(FileSystem fs, Path dir, boolean overwrite) throws IOException {
    FileStatus status;
    try {
      status = fs.getFileStatus(dir);
    } catch (FileNotFoundException e) {
      return OutputState.ABSENT;
    }
    if (!status.isDirectory()) {
      throw new IOException(dir + ": exists and is a file, expected a new or empty directory for the dataset");
    }
    FileStatus[] children = fs.listStatus(dir);
    if (children.length == 0) {
      return OutputState.EMPTY;
    }
    boolean isDataset = fs.exists(new Path(dir, Manifest.FILE_NAME));
    if (!isDataset && fs.exists(new Path(dir, TEMP_DIR))) {
      // a prep killed before its manifest (the manifest is written last): nothing here is a dataset, and
      // what it holds is ours, but removing a folder the user named is theirs to do (a user audit: the
      // message gave no way on, and --overwrite only replaces a dataset)
      throw new IOException(dir + ": exists and is not empty (" + children.length + (children.length == 1 ? " entry," : " entries,")
          + (children.length == 1 ? "" : " among them") + " the " + TEMP_DIR + "/ of a prep that did not finish, with no "
          + Manifest.FILE_NAME + "); remove the directory and run prep again");
    }
    if (!overwrite || !isDataset) {
      throw new IOException(dir + ": exists and is not empty (" + children.length + (children.length == 1 ? " entry" : " entries")
          + (isDataset ? ", a dataset; pass --overwrite to replace it" : ", not a dataset; refusing to touch it") + ")");
    }
    requireOnlyDatasetEntries(fs, dir, children);
    return OutputState.DATASET;
  }

  /**
   * --overwrite replaces the directory whole, so it must hold a spark-rnn dataset and nothing else:
   * a manifest.json of another kind (a web app's) made any folder a dataset, and files beside the
   * shards (notes, results) were deleted with it (a user audit). Refused, naming them.
   */
  private static void requireOnlyDatasetEntries(FileSystem fs, Path dir, FileStatus[] children) throws IOException {
    Path manifestPath = new Path(dir, Manifest.FILE_NAME);
    Manifest manifest;
    try (InputStream in = fs.open(manifestPath)) {
      byte[] bytes = in.readNBytes((int) Manifest.MAX_BYTES + 1);
      if (bytes.length > Manifest.MAX_BYTES) {
        throw new BadInputException("larger than the " + Manifest.MAX_BYTES + " bytes a manifest may have");
      }
      String text = new String(bytes, StandardCharsets.UTF_8);
      Object format = io.sparkrnn.kernel.io.Json.parseObject(text).get("format");
      if (!Manifest.FORMAT.equals(format)) {
        throw new BadInputException(format == null ? "no \"format\": \"" + Manifest.FORMAT + "\" in it"
            : "its \"format\" is " + io.sparkrnn.kernel.io.Json.write(format) + ", not \"" + Manifest.FORMAT + "\"");
      }
      manifest = Manifest.parse(text, manifestPath.toString());
    } catch (IllegalArgumentException e) {   // BadInputException included: not a dataset's manifest, or not one this version reads
      boolean ourFormat = e.getMessage() != null && e.getMessage().startsWith(manifestPath.toString());   // Manifest.parse's own
      throw new IOException(dir + ": holds " + (ourFormat ? "a spark-rnn dataset this version cannot read" : "a " + Manifest.FILE_NAME
          + " that is not a spark-rnn dataset's") + " (" + e.getMessage() + "); --overwrite replaces only a dataset it reads, so"
          + " refusing to touch it");
    }
    java.util.Set<String> ours = new java.util.HashSet<>(List.of(Manifest.FILE_NAME, TEMP_DIR));
    manifest.shards().forEach(sh -> ours.add(sh.file()));
    List<String> foreign = new ArrayList<>();
    for (FileStatus c : children) {
      String name = c.getPath().getName();
      // a checksum ".NAME.crc" of one of them (Hadoop's local file system) is the dataset's too
      boolean checksum = name.startsWith(".") && name.endsWith(".crc") && ours.contains(name.substring(1, name.length() - 4));
      if (!ours.contains(name) && !checksum) {
        foreign.add(name + (c.isDirectory() ? "/" : ""));
      }
    }
    if (!foreign.isEmpty()) {
      Collections.sort(foreign);
      throw new IOException(dir + ": --overwrite replaces the dataset directory whole, and it also holds " + foreign.size()
          + (foreign.size() == 1 ? " entry" : " entries") + " that " + (foreign.size() == 1 ? "is" : "are") + " not the dataset's ("
          + String.join(", ", foreign.subList(0, Math.min(5, foreign.size()))) + (foreign.size() > 5 ? ", …" : "")
          + "); move " + (foreign.size() == 1 ? "it" : "them") + " out of it, or choose another --out");
    }
  }

  /**
   * Writes {@code bytes} to {@code _temporary/<attempt>/<file>} and renames it to {@code dir/file}.
   * Idempotent: if the target already exists with the same size and checksum (an earlier attempt of
   * the same deterministic task), the temporary copy is dropped; if it differs, it is replaced.
   * Either way no partial or duplicate shard remains.
   *
   * @param attempt unique per writer or Spark task attempt, so concurrent attempts never share a temp file
   */
  public static ShardInfo publishShard(FileSystem fs, Path dir, String file, Split split, int batch, byte[] bytes,
      String attempt) throws IOException {
    ShardInfo.checkFileName(file);
    String crc = ShardCodec.crc32c(bytes);
    if ("file".equals(fs.getUri().getScheme())) {
      publishLocal(FileSystems.localPath(fs.makeQualified(dir)), file, bytes, attempt);
      return new ShardInfo(file, split, batch, bytes.length, crc);
    }
    Path attemptDir = new Path(new Path(dir, TEMP_DIR), attempt);
    Path tmp = new Path(attemptDir, file);
    Path target = new Path(dir, file);
    try (FSDataOutputStream out = fs.create(tmp, true)) {
      out.write(bytes);
    }
    try {
      if (!fs.rename(tmp, target)) {
        if (fs.exists(target) && sameContent(fs, target, bytes.length, crc)) {
          // another attempt of this deterministic task published identical bytes
        } else {
          fs.delete(target, false);
          if (!fs.rename(tmp, target)) {
            throw new IOException(target + ": could not rename " + tmp + " into place");
          }
        }
      }
    } finally {
      deleteQuietly(fs, tmp);
      deleteQuietly(fs, attemptDir);
    }
    return new ShardInfo(file, split, batch, bytes.length, crc);
  }

  /**
   * {@link #publishShard} on the local file system, through java.nio: the temporary file under
   * {@code _temporary/<attempt>/}, then an atomic rename that replaces any earlier attempt's copy.
   * Two file-system calls a shard: the attempt's folder stays until the manifest's commit (or the
   * failed job's cleanup) removes {@code _temporary}. Hadoop's local file system would give the
   * same result at several milliseconds a shard, because without Hadoop's native library its
   * mkdirs and create run chmod (measured: 2.75 ms each), and under a running job every extra
   * metadata call (mkdir, rmdir, unlink) costs about 0.2 ms more.
   */
  private static void publishLocal(java.nio.file.Path dir, String file, byte[] bytes, String attempt) throws IOException {
    java.nio.file.Path attemptDir = dir.resolve(TEMP_DIR).resolve(attempt);
    java.nio.file.Path tmp = attemptDir.resolve(file);
    try {
      Files.write(tmp, bytes);
    } catch (NoSuchFileException e) {
      Files.createDirectories(attemptDir); // the attempt's first shard
      Files.write(tmp, bytes);
    }
    Files.move(tmp, dir.resolve(file), StandardCopyOption.ATOMIC_MOVE);
  }

  private static boolean sameContent(FileSystem fs, Path p, long length, String crc) throws IOException {
    if (fs.getFileStatus(p).getLen() != length) {
      return false;
    }
    try (InputStream in = fs.open(p)) {
      return ShardCodec.crc32c(in.readAllBytes()).equals(crc);
    }
  }

  /** Writes the manifest under a temporary name, renames it into place, and removes {@code _temporary}. */
  public static void commitManifest(FileSystem fs, Path dir, Manifest manifest) throws IOException {
    Path tmpDir = new Path(dir, TEMP_DIR);
    Path tmp = new Path(tmpDir, Manifest.FILE_NAME + ".tmp");
    Path target = new Path(dir, Manifest.FILE_NAME);
    try (FSDataOutputStream out = fs.create(tmp, true)) {
      out.write(manifest.toJson().getBytes(StandardCharsets.UTF_8));
    }
    if (fs.exists(target)) {
      fs.delete(target, false);
    }
    if (!fs.rename(tmp, target)) {
      throw new IOException(target + ": could not rename " + tmp + " into place");
    }
    deleteQuietly(fs, tmpDir);
  }

  /** Deletes a path recursively, ignoring failures (cleanup after an error must not hide it). */
  public static void deleteQuietly(FileSystem fs, Path p) {
    try {
      fs.delete(p, true);
    } catch (IOException | RuntimeException ignored) {
      // best effort
    }
  }
}
