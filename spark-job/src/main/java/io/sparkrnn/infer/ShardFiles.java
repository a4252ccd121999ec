package io.sparkrnn.infer;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.ShardCodec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.DType;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * One shard file read on its own (not as part of a dataset), checked against a model: {@code x} F32 [T,B,F],
 * {@code y} per the model's mode and loss, optional {@code lengths} I32 [B]. The shapes are
 * checked here against the model, with the model named in the message; the rest (dtypes,
 * finiteness, class ids in range, lengths in 1..T, no other tensors) is data-prep's
 * {@link ShardCodec#decode}, given a spec made from the model and the shard's own T and B.
 */
public final class ShardFiles {
  private ShardFiles() {}

  /**
   * The bytes of a shard file named on its own ({@code grad --data}, {@code evaluate --data},
   * {@code predict --data} with one file). Where its directory is a dataset whose manifest lists it,
   * its size and CRC32C are checked against that entry first, as training reads it: a flipped byte in
   * a value passes every check of the file alone. A file outside a dataset (or in a directory whose
   * manifest cannot be read) has only its own checks.
   */
  public static byte[] readFile(String uri, Configuration conf) throws IOException {
    return bytes(listed(uri, conf), uri, conf);
  }

  /**
   * A shard file named on its own for a trained model ({@code predict}, {@code generate},
   * {@code evaluate}): {@link #readFile}, and where its dataset's manifest lists it, that dataset's
   * F, O, normalisation and vocabulary (with {@code requireTargets}, also mode and loss) must be the
   * model's, as {@link Compatibility#check} requires of the directory. The shard holds values in its
   * dataset's units; without this, a model of other units gave numbers in the wrong units, exit 0.
   */
  public static Batch readFor(String uri, TrainedModel model, Configuration conf, boolean requireTargets) throws IOException {
    Listed listed = listed(uri, conf);
    if (listed != null) {
      Compatibility.checkShard(model, listed.dataset(), uri, requireTargets);
    }
    return read(bytes(listed, uri, conf), uri, model.config(), requireTargets);
  }

  /**
   * {@code inspect FILE}: any safetensors file's tensors (name, dtype, shape) and metadata, one
   * line each, values over {@link #METADATA_WIDTH} characters cut. A shard its directory's manifest
   * lists is checked as {@code inspect DIR} checks each shard (size and CRC32C against the entry,
   * then dtypes, shapes and values against the manifest); any other file has its own checks (its
   * data CRC32C where it records one).
   *
   * @throws IllegalArgumentException or {@link java.io.IOException} naming the file where a check fails
   */
  public static String inspect(String uri, Configuration conf) throws IOException {
    Path path = new Path(uri);
    Path dir = path.getParent();
    boolean hasManifest = dir != null && FileSystems.get(dir, conf).exists(new Path(dir, Manifest.FILE_NAME));
    Listed listed = null;
    if (hasManifest) {
      // unlike listed(), which falls back to the file's own checks: inspect is what people verify files with,
      // and a shard has no checksum of its own, so a damaged manifest must not pass a damaged shard as checked
      Dataset dataset;
      try {
        dataset = Dataset.open(dir.toString(), conf);
      } catch (IOException | IllegalArgumentException unreadable) {
        throw new BadInputException(uri + ": its directory's " + Manifest.FILE_NAME + " cannot be read, so the file cannot be"
            + " verified against it (" + unreadable.getMessage() + ")");
      }
      ShardInfo info = dataset.manifest().findShard(path.getName());
      listed = info == null ? null : new Listed(dataset, info);
    }
    byte[] bytes = bytes(listed, uri, conf);
    SafeTensorsFile file = SafeTensors.read(bytes, uri);
    String checked;
    if (listed != null) {
      // the bytes just checked against the entry's size and CRC32C, decoded as Dataset.read decodes them
      ShardCodec.decode(bytes, listed.dataset().manifest().spec(), listed.shard().file(), listed.shard().batch());
      checked = "; a " + listed.shard().split().id() + " shard of the dataset in " + dir
          + ": size, CRC32C, dtypes, shapes and values verified against its manifest";
    } else {
      checked = (hasManifest ? "; not listed in " + new Path(dir, Manifest.FILE_NAME) : "")
          + (file.metadata().containsKey(SafeTensors.DATA_CRC32C) ? "; its data CRC32C verified"
          : "; no checksum to verify (no manifest lists it, and it records no data CRC32C)");
    }
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%s: safetensors, %,d bytes, %d tensor(s)%s%n", uri,
        bytes.length, file.tensors().size(), checked));
    int width = file.tensors().keySet().stream().mapToInt(String::length).max().orElse(0);
    for (Tensor t : file.tensors().values()) {
      out.append(String.format(Locale.ROOT, "  %-" + width + "s  %-4s %s%n", t.name(), t.dtype(), Arrays.toString(t.shape())));
    }
    for (Map.Entry<String, String> m : new TreeMap<>(file.metadata()).entrySet()) {
      // one line a key: a value's line breaks shown escaped
      String v = m.getValue().replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r");
      out.append("  metadata ").append(m.getKey()).append(" = ")
          .append(v.length() <= METADATA_WIDTH ? v : v.substring(0, METADATA_WIDTH) + "… (" + v.length() + " characters)")
          .append(System.lineSeparator());
    }
    return out.toString();
  }

  /** Characters of a metadata value {@link #inspect} prints (a model's configuration JSON runs longer). */
  static final int METADATA_WIDTH = 100;

  /** The file's bytes: with its manifest's size and CRC32C checks where {@code listed}, else as they are. */
  private static byte[] bytes(Listed listed, String uri, Configuration conf) throws IOException {
    return listed == null ? HadoopFiles.read(uri, conf) : listed.dataset().readChecked(listed.shard(), conf);
  }

  /** A shard file and the manifest entry that describes it. */
  private record Listed(Dataset dataset, ShardInfo shard) {}

  /** The dataset in {@code uri}'s directory whose manifest lists it, or null (no manifest, unreadable, not listed). */
  private static Listed listed(String uri, Configuration conf) throws IOException {
    Path p = new Path(uri);
    Path dir = p.getParent();
    if (dir == null || !FileSystems.get(dir, conf).exists(new Path(dir, Manifest.FILE_NAME))) {
      return null;
    }
    Dataset dataset;
    try {
      dataset = Dataset.open(dir.toString(), conf);
    } catch (IOException | IllegalArgumentException unreadable) {
      return null;   // not a dataset after all: the file's own checks stand
    }
    ShardInfo info = dataset.manifest().findShard(p.getName());
    return info == null ? null : new Listed(dataset, info);
  }

  /**
   * @param requireTargets whether {@code y} must be present (grad, evaluate) or may be absent (predict, generate)
   * @throws IllegalArgumentException naming the file, the tensor, expected and found
   */
  public static Batch read(byte[] bytes, String source, ModelConfig model, boolean requireTargets) {
    SafeTensorsFile st = SafeTensors.read(bytes, source);
    Tensor x = st.require("x");
    if (x.dtype() != DType.F32) {
      throw new BadInputException(source + ": x has dtype " + x.dtype() + ", expected F32");
    }
    if (x.rank() != 3) {
      throw new BadInputException(source + ": x has shape " + x.shapeString() + ", expected [T,B,F] with F="
          + model.inputSize());
    }
    int T = x.dim(0);
    int B = x.dim(1);
    if (x.dim(2) != model.inputSize()) {
      throw new BadInputException(source + ": x has F=" + x.dim(2) + " (shape " + x.shapeString()
          + "), the model's input_size is F=" + model.inputSize());
    }
    if (T < 1 || B < 1) {
      throw new BadInputException(source + ": x has shape " + x.shapeString() + ", expected T ≥ 1 and B ≥ 1");
    }
    boolean hasLengths = st.has("lengths");
    if (st.has("y")) {
      checkTargets(st.require("y"), source, model, T, B);
      DatasetSpec spec = new DatasetSpec("shard", model.inputSize(), model.outputSize(), T, model.mode(), model.loss(),
          hasLengths, null, null);
      return ShardCodec.decode(bytes, spec, source, B);
    }
    if (requireTargets) {
      throw new BadInputException(source + ": no tensor 'y' (found " + st.tensors().keySet() + "); targets "
          + expectedTargets(model, T, B) + " are needed here");
    }
    for (String name : st.tensors().keySet()) {
      if (!Set.of("x", "lengths").contains(name)) {
        throw new BadInputException(source + ": unexpected tensor '" + name + "', expected only [x, y, lengths]");
      }
    }
    int[] lengths = null;
    if (hasLengths) {
      Tensor l = st.require("lengths");
      if (l.dtype() != DType.I32 || l.rank() != 1 || l.dim(0) != B) {
        throw new BadInputException(source + ": lengths is " + l.dtype() + " " + l.shapeString() + ", expected I32 [" + B + "]");
      }
      lengths = l.ints();
      for (int b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T) {
          throw new BadInputException(source + ": lengths[" + b + "] = " + lengths[b] + ", expected 1.." + T);
        }
      }
    }
    float[] xs = x.floats();
    for (int i = 0; i < xs.length; i++) {
      if (!Float.isFinite(xs[i])) {
        int F = model.inputSize();
        throw new BadInputException(source + ": x has " + xs[i] + " at (t=" + i / F / B + ", b=" + (i / F) % B
            + ", f=" + i % F + "), expected a finite number");
      }
    }
    return new Batch(T, B, model.inputSize(), xs, null, null, lengths);
  }

  private static void checkTargets(Tensor y, String source, ModelConfig model, int T, int B) {
    boolean classes = model.loss() == LossType.CROSS_ENTROPY;
    DType expectedType = classes ? DType.I32 : DType.F32;
    int[] expected = expectedShape(model, T, B);
    if (y.dtype() != expectedType || !Arrays.equals(y.shape(), expected)) {
      throw new BadInputException(source + ": y is " + y.dtype() + " " + y.shapeString() + ", expected "
          + expectedTargets(model, T, B));
    }
  }

  private static int[] expectedShape(ModelConfig model, int T, int B) {
    boolean seq = model.mode() == Mode.SEQ2SEQ;
    if (model.loss() == LossType.CROSS_ENTROPY) {
      return seq ? new int[] {T, B} : new int[] {B};
    }
    return seq ? new int[] {T, B, model.outputSize()} : new int[] {B, model.outputSize()};
  }

  /** E.g. "F32 [T,B,O] = [20, 4, 1] (the model is seq2seq, mse, O=1)". */
  static String expectedTargets(ModelConfig model, int T, int B) {
    boolean seq = model.mode() == Mode.SEQ2SEQ;
    boolean classes = model.loss() == LossType.CROSS_ENTROPY;
    String axes = classes ? (seq ? "[T,B]" : "[B]") : (seq ? "[T,B,O]" : "[B,O]");
    return (classes ? "I32 class ids " : "F32 ") + axes + " = " + Arrays.toString(expectedShape(model, T, B)) + " (the model is "
        + model.mode().id() + ", " + model.loss().id() + ", O=" + model.outputSize() + ")";
  }
}
