package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32C;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A dataset opened for reading: its validated {@link Manifest} and a reader that loads one shard
 * at a time into a kernel {@link Batch}.
 *
 * <p>Call order: {@link #open} (reads and validates manifest.json; fails if there is none) →
 * {@link #shards(Split)} → {@link #read(ShardInfo)} per shard, in any order, from any thread.
 * Every read checks, before allocating the data, that the file's size equals the manifest's; then
 * the CRC32C of the whole file, then each tensor's dtype and shape against the manifest, that
 * inputs are finite and class ids in range.
 *
 * <p>Serializable so that a Spark driver can ship it to executors: it carries the URI and the
 * manifest, not the Hadoop configuration; executors pass theirs to {@link #read(ShardInfo,
 * Configuration)} (or {@link #read(ShardInfo)} uses a default {@code new Configuration()}).
 */
public final class Dataset implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String uri;
  private final Manifest manifest;
  // found on first use, from any thread: a Spark broadcast gives an executor's tasks one Dataset
  // between them. Each is published whole through a volatile; two threads may both compute one, alike.
  private transient volatile Configuration conf;
  private transient volatile Set<ShardInfo> shardSet;
  /** The local directory ({@link #localDirectory}), empty where the dataset is not on the local disk; null until found. */
  private transient volatile Optional<java.nio.file.Path> localDir;

  private Dataset(String uri, Manifest manifest, Configuration conf) {
    this.uri = uri;
    this.manifest = manifest;
    this.conf = conf;
  }

  /**
   * What a directory without a manifest is, for the refusal: nothing at all, predict's --out, a
   * model's directory (train's --out, a saved RnnModel, an export: it holds model.safetensors), a run's checkpoints,
   * a run's --out without a model yet, an empty directory, or else what an unfinished prep leaves
   * (a user audit: inspect of a run's --out spoke of prep).
   */
  private static String whatItIs(FileSystem fs, Path dir) {
    try {
      if (!fs.exists(dir)) {
        // an --overwrite killed between its two renames leaves the only copy beside it as .NAME.old-UUID (DatasetWriter),
        // which the next prep names; so do the commands that read it (a kill audit: "no such directory" alone)
        Path parent = dir.getParent();
        FileStatus[] old = parent == null || !fs.exists(parent) ? new FileStatus[0]
            : fs.listStatus(parent, p -> p.getName().startsWith(DatasetWriter.besidePrefix(dir, DatasetWriter.REPLACED)));
        return "no such directory" + (old.length == 0 ? "" : "; beside it is " + old[0].getPath() + ", the dataset a prep"
            + " --overwrite moved aside and did not finish replacing: if it is the one wanted, rename it to " + dir.getName());
      }
      if (fs.getFileStatus(dir).isFile()) {
        return "a file, and a dataset is a directory";
      }
      if (fs.exists(new Path(dir, "predictions.json"))) {
        return "it holds predictions.json: predict's --out directory, not a dataset; predictions.json lists its files";
      }
      if (fs.exists(new Path(dir, "model.safetensors"))) {
        return "it holds model.safetensors: a model's directory (train's --out, a saved RnnModel, an export), not a dataset";
      }
      if (fs.listStatus(dir, p -> p.getName().startsWith("step-") && p.getName().endsWith(".safetensors")).length > 0) {
        return "it holds step-*.safetensors: a training run's checkpoints, not a dataset";
      }
      if (fs.exists(new Path(dir, "checkpoints"))) {
        return "it holds checkpoints/: a training run's --out (one stopped before its model was written), not a dataset";
      }
      if (fs.listStatus(dir).length == 0) {
        return "an empty directory";
      }
    } catch (IOException | RuntimeException e) {
      // a directory this user may not list: the general words below
    }
    return "missing, or a prep that did not finish";
  }

  /**
   * Opens the dataset directory {@code uri} ({@code file://}, {@code hdfs://}, {@code s3a://}, or a
   * plain path for the default file system) and validates its manifest.
   *
   * @throws FileNotFoundException when the directory has no manifest.json (not a dataset, or an
   *     interrupted prep)
   * @throws IllegalArgumentException when the manifest is invalid, naming the field
   */
  public static Dataset open(URI uri, Configuration conf) throws IOException {
    FileSystem fs = FileSystems.get(uri, conf);
    Path dir = fs.makeQualified(new Path(uri));
    Path manifestPath = new Path(dir, Manifest.FILE_NAME);
    FileStatus status;
    try {
      status = fs.getFileStatus(manifestPath);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(dir + ": not a dataset: no " + Manifest.FILE_NAME + " (" + whatItIs(fs, dir) + ")");
    }
    FileSystems.requireRegularFileIn(fs, dir, manifestPath, manifestPath.toString());
    if (status.getLen() > Manifest.MAX_BYTES) {
      throw new IOException(manifestPath + ": " + status.getLen() + " bytes, more than the " + Manifest.MAX_BYTES
          + " a manifest may have; refused before reading");
    }
    byte[] bytes = new byte[(int) status.getLen()];
    try (InputStream in = fs.open(manifestPath)) {
      readFully(in, bytes, manifestPath.toString());
    }
    Manifest manifest = Manifest.parse(new String(bytes, StandardCharsets.UTF_8), manifestPath.toString());
    return new Dataset(dir.toString(), manifest, conf);
  }

  /** Opens a dataset named by a URI string or a local path. */
  public static Dataset open(String uri, Configuration conf) throws IOException {
    return open(new Path(uri).toUri(), conf);
  }

  /**
   * The dataset directory, fully qualified. Through Hadoop's Path, which reads back its own
   * toString: URI.create refused a directory whose name has a space ("Illegal character in path").
   */
  public URI uri() {
    return new Path(uri).toUri();
  }

  /**
   * The dataset directory, fully qualified, as messages and files give it to people: Hadoop's path
   * string ({@code file:/data/sp ace/ds}, not {@code file:/data/sp%20ace/ds}), which {@code new
   * Path(String)} and every command read back.
   */
  public String location() {
    return new Path(uri).toString();   // as uri(): Dataset.open(URI) keeps a trailing slash, Path(String) drops it
  }

  public Manifest manifest() {
    return manifest;
  }

  /** The task, dims, mode and loss shared by every shard. */
  public DatasetSpec spec() {
    return manifest.spec();
  }

  /** The shards of one split, in index order. */
  public List<ShardInfo> shards(Split split) {
    return manifest.shards(split);
  }

  /** Reads one shard with the configuration given to {@link #open} (or a default one after deserialisation). */
  public Batch read(ShardInfo shard) throws IOException {
    Configuration c = conf;
    if (c == null) {
      c = new Configuration();
      conf = c;
    }
    return read(shard, c);
  }

  /**
   * Reads one shard into a batch of B = {@code shard.batch()} sequences: x [T,B,F], targets per
   * the spec, lengths when variable-length.
   *
   * @param shard an entry of this dataset's manifest
   * @throws IOException when the file is missing, truncated, larger than listed, or its checksum differs
   *     (the last three as {@link CorruptShardException}: they fail the same way on every retry)
   * @throws IllegalArgumentException when a tensor's dtype, shape or values do not match the manifest
   */
  public Batch read(ShardInfo shard, Configuration conf) throws IOException {
    Set<ShardInfo> listed = shardSet;
    if (listed == null) {
      listed = new HashSet<>(manifest.shards()); // a list scan per read is O(shards): slow for 10^5 shards
      shardSet = listed;
    }
    if (!listed.contains(shard)) {
      throw new BadInputException(shard.file() + ": not a shard of " + uri + " (or its entry differs from the manifest)");
    }
    byte[] bytes = readVerified(shard, conf);
    return ShardCodec.decode(bytes, manifest.spec(), shard.file(), shard.batch());
  }

  /**
   * One shard's bytes, checked as {@link #read(ShardInfo, Configuration)} checks them (size, then
   * CRC32C against the manifest) but not decoded: for a shard file named on its own whose
   * directory is a dataset listing it.
   */
  public byte[] readChecked(ShardInfo shard, Configuration conf) throws IOException {
    return readVerified(shard, conf);
  }

  /**
   * The dataset directory as a java.nio path when it is on the local disk, else null; found once.
   * On the local disk shards are read through java.nio: Hadoop's local file system spends about
   * 0.2 ms more per stat and open than reading a 50 kB shard takes, which a shard cache that
   * rereads shards every step pays often.
   */
  private java.nio.file.Path localDirectory(Configuration conf) throws IOException {
    Optional<java.nio.file.Path> found = localDir;
    if (found == null) {
      Path dir = new Path(uri);
      FileSystem fs = FileSystems.get(dir.toUri(), conf);
      found = Optional.ofNullable(FileSystems.isLocal(fs) ? FileSystems.local(fs, dir) : null);
      localDir = found;
    }
    return found.orElse(null);
  }

  /** The shard's path in the dataset, for errors: a job reads many datasets' shard-00001.safetensors. */
  private String inDataset(ShardInfo shard) {
    return (uri.endsWith("/") ? uri : uri + "/") + shard.file();
  }

  private byte[] readVerified(ShardInfo shard, Configuration conf) throws IOException {
    java.nio.file.Path localDir = localDirectory(conf);
    // shard.file() is a plain file name (ShardInfo checks it): resolving it stays in the directory
    java.nio.file.Path local = localDir == null ? null : localDir.resolve(shard.file());
    Path dir = local == null ? new Path(uri) : null;
    FileSystem fs = local == null ? FileSystems.get(dir.toUri(), conf) : null;
    Path p = local == null ? new Path(dir, shard.file()) : null;
    long length;
    try {
      length = local != null ? Files.size(local) : fs.getFileStatus(p).getLen();
    } catch (FileNotFoundException | NoSuchFileException e) {
      throw new FileNotFoundException(shard.file() + ": missing from " + uri + " (listed in " + Manifest.FILE_NAME + ")");
    }
    // Before the size is compared (and printed): a link out of the dataset or a FIFO is refused unread.
    if (local != null) {
      FileSystems.requireRegularLocalFileIn(localDir, local, shard.file());
    } else {
      FileSystems.requireRegularFileIn(fs, dir, p, shard.file());
    }
    if (length != shard.bytes()) {
      throw new CorruptShardException(inDataset(shard) + ": file has " + length + " bytes, the manifest says "
          + shard.bytes() + (length < shard.bytes() ? " (truncated)" : ""));
    }
    // Size checked against the manifest, whose sizes are bounded by the dims: safe to allocate.
    byte[] bytes = new byte[(int) shard.bytes()];
    try (InputStream in = local != null ? Files.newInputStream(local) : fs.open(p)) {
      readFully(in, bytes, shard.file());
    } catch (EOFException e) {
      throw new CorruptShardException(e.getMessage());
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length);
    String found = ShardCodec.hex(crc.getValue());
    if (!found.equals(shard.crc32c())) {
      // The found checksum is not printed: it is computed from bytes that failed their check.
      throw new CorruptShardException(inDataset(shard) + ": CRC32C does not match, the manifest says " + shard.crc32c()
          + " (corrupted or replaced)");
    }
    return bytes;
  }

  private static void readFully(InputStream in, byte[] b, String source) throws IOException {
    int done = 0;
    while (done < b.length) {
      int n = in.read(b, done, b.length - done);
      if (n < 0) {
        throw new EOFException(source + ": ended after " + done + " bytes, expected " + b.length + " (truncated)");
      }
      done += n;
    }
  }

  /** One shard's verification result: {@code error} is null when it passed. */
  public record ShardCheck(ShardInfo shard, String error) {
    public boolean ok() {
      return error == null;
    }
  }

  /** The result of {@link #inspect}: the manifest and every shard's check. */
  public record Inspection(URI uri, Manifest manifest, List<ShardCheck> checks) {
    /** Whether every shard passed. */
    public boolean ok() {
      return checks.stream().allMatch(ShardCheck::ok);
    }

    /** A human-readable summary: dims, splits, normalisation, vocabulary size, and each failure. */
    public String summary() {
      DatasetSpec s = manifest.spec();
      StringBuilder sb = new StringBuilder();
      // as the path is spelt (Hadoop's Path string, as location() gives it), not the URI's %20 for a space (a user audit)
      sb.append("dataset   ").append(new Path(uri)).append('\n');
      sb.append("task      ").append(s.task()).append(" (").append(s.mode().id()).append(", ").append(s.loss().id())
          .append(")\n");
      sb.append("dims      T=").append(s.steps()).append(" F=").append(s.features()).append(" O=").append(s.outputs())
          .append(s.variableLength() ? " variable-length" : "").append('\n');
      long bytes = 0;
      for (ShardInfo i : manifest.shards()) {
        bytes += i.bytes();
      }
      for (Split split : Split.values()) {
        int shards = manifest.shards(split).size();
        sb.append(String.format("%-11s%d sequences in %d %s%n", split.id(), manifest.sequences(split), shards,
            shards == 1 ? "shard" : "shards"));
      }
      sb.append("bytes     ").append(bytes).append('\n');
      sb.append("fingerprint ").append(manifest.fingerprint()).append('\n');   // what train --resume compares
      Normalization n = manifest.normalization();
      sb.append("normalized ").append(n == null ? "no"
          : n.from() == null ? "yes (z-score, training split)" : "yes (z-score, statistics of " + n.from() + ")").append('\n');
      if (s.vocabulary() != null) {
        sb.append("vocabulary ").append(s.vocabulary().size()).append(" characters\n");
      }
      if (!s.source().isEmpty()) {
        // where the data came from, one key a line (a table's format, path, where-clause, columns, counts)
        for (Map.Entry<String, Object> e : s.source().entrySet()) {
          sb.append(String.format("source    %s = %s%n", e.getKey(), e.getValue()));
        }
      }
      long failed = checks.stream().filter(c -> !c.ok()).count();
      sb.append("checksums ").append(checks.size() - failed).append(" of ").append(checks.size()).append(" shards verified");
      sb.append(failed == 0 ? " OK" : ", " + failed + " FAILED").append('\n');
      for (ShardCheck c : checks) {
        if (!c.ok()) {
          sb.append("  FAILED ").append(c.error()).append('\n');
        }
      }
      return sb.toString();
    }
  }

  /**
   * Opens the dataset and reads every shard fully (size, CRC32C, dtypes, shapes, values), collecting
   * each shard's failure instead of stopping at the first.
   */
  public static Inspection inspect(URI uri, Configuration conf) throws IOException {
    Dataset ds = open(uri, conf);
    List<ShardCheck> checks = new ArrayList<>();
    for (ShardInfo s : ds.manifest.shards()) {
      try {
        ds.read(s, conf);
        checks.add(new ShardCheck(s, null));
      } catch (IOException | IllegalArgumentException e) {
        checks.add(new ShardCheck(s, e.getMessage()));
      }
    }
    return new Inspection(ds.uri(), ds.manifest, checks);
  }
}
