package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The contents of {@code manifest.json}: the dataset's dimensions, its shards with sizes and
 * checksums, and the statistics needed to use it. Immutable and validated at construction and on
 * parsing; see {@code docs/data-format.md} for the JSON fields.
 *
 * @param spec task, F, O, T, mode, loss, variable length, vocabulary, source options
 * @param shards every shard in index order; train shards first, then validation shards
 * @param normalization z-score statistics already applied to the shards, or null
 */
public record Manifest(DatasetSpec spec, List<ShardInfo> shards, Normalization normalization) implements Serializable {
  private static final long serialVersionUID = 1L;
  /** The file name of the manifest inside a dataset directory. */
  public static final String FILE_NAME = "manifest.json";
  public static final String FORMAT = "spark-rnn-dataset";
  public static final int FORMAT_VERSION = 1;
  /** A manifest larger than this is refused before reading (a million shards fit easily). */
  public static final long MAX_BYTES = 256L * 1024 * 1024;
  /** Room allowed for a shard's safetensors header beyond its data bytes. */
  public static final long MAX_SHARD_HEADER_BYTES = 64 * 1024;

  public Manifest {
    if (spec == null || shards == null) {
      throw new BadInputException("manifest: spec and shards must be given");
    }
    shards = List.copyOf(shards);
    if (shards.isEmpty()) {
      throw new BadInputException("manifest: no shards (an empty dataset)");
    }
    Set<String> names = new HashSet<>();
    for (ShardInfo s : shards) {
      if (!names.add(s.file())) {
        throw new BadInputException("manifest: shard " + s.file() + " is listed twice");
      }
      long data = dataBytes(spec, s.batch());
      if (data > SafeTensors.MAX_ELEMENTS || s.bytes() < data || s.bytes() > data + MAX_SHARD_HEADER_BYTES) {
        throw new BadInputException("manifest: " + s.file() + " claims " + s.bytes() + " bytes, expected "
            + data + " data bytes plus a header of at most " + MAX_SHARD_HEADER_BYTES + " for B=" + s.batch()
            + " T=" + spec.steps() + " F=" + spec.features() + " (and under 2 GiB)");
      }
    }
    if (normalization != null) {
      if (normalization.inputMean().length != spec.features()) {
        throw new BadInputException("manifest: normalization.input_mean has " + normalization.inputMean().length
            + " entries, expected F=" + spec.features());
      }
      if (spec.classTargets() ? normalization.targetMean() != null
          : normalization.targetMean() == null || normalization.targetMean().length != spec.outputs()) {
        throw new BadInputException("manifest: normalization.target_mean must have O=" + spec.outputs()
            + " entries for mse targets and be absent for class ids");
      }
    }
    if (spec.vocabulary() != null && spec.classTargets() && spec.vocabulary().size() != spec.outputs()) {
      throw new BadInputException("manifest: vocabulary has " + spec.vocabulary().size() + " entries, expected O="
          + spec.outputs());
    }
  }

  /** The bytes of a shard's tensors (without the header) for B = batch. */
  public static long dataBytes(DatasetSpec spec, int batch) {
    long x = (long) spec.steps() * batch * spec.features();
    return 4 * (x + spec.targetElements(batch) + (spec.variableLength() ? batch : 0));
  }

  /** The shards of one split, in index order. */
  public List<ShardInfo> shards(Split split) {
    List<ShardInfo> out = new ArrayList<>();
    for (ShardInfo s : shards) {
      if (s.split() == split) {
        out.add(s);
      }
    }
    return out;
  }

  /** The shard with this file name, or an error naming it. */
  public ShardInfo shard(String file) {
    ShardInfo s = findShard(file);
    if (s == null) {
      throw new BadInputException("manifest lists no shard '" + file + "'");
    }
    return s;
  }

  /** The entry of shard {@code file}, or null when the manifest lists none of that name. */
  public ShardInfo findShard(String file) {
    for (ShardInfo s : shards) {
      if (s.file().equals(file)) {
        return s;
      }
    }
    return null;
  }

  /** Number of sequences in one split. */
  public long sequences(Split split) {
    long n = 0;
    for (ShardInfo s : shards) {
      if (s.split() == split) {
        n += s.batch();
      }
    }
    return n;
  }

  /**
   * What identifies the data a model trains on, as 16 hex digits: the first 8 bytes of the SHA-256
   * of {@link #fingerprintText}. Every shard's name, split, size and CRC32C, the dimensions, the
   * statistics (their exact bits) and the vocabulary are in it, and nothing that only records where
   * the data came from ({@code task}, {@code source}, the statistics' {@code from}); so a dataset
   * copied or moved keeps its fingerprint, on any Java version, and one prepared again from other
   * data or with other options gets another. {@code --resume} compares it with the one its
   * checkpoint recorded. Hashing it costs time in the shards: compute it once a run.
   */
  public String fingerprint() {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(fingerprintText().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /**
   * The text {@link #fingerprint} hashes, one line each (docs/data-format.md): {@code
   * spark-rnn-dataset-fingerprint 1}; {@code dims F O T mode loss target_dtype variable_length};
   * {@code shard file split batch bytes crc32c} for each shard in order; with statistics,
   * {@code input_mean}, {@code input_std} (and for float targets {@code target_mean},
   * {@code target_std}) followed by each value's IEEE 754 bits as 16 hex digits (not its decimal
   * text, which Java versions print differently); with a vocabulary, {@code vocabulary} and each
   * symbol's code points in hex.
   */
  public String fingerprintText() {
    StringBuilder sb = new StringBuilder("spark-rnn-dataset-fingerprint 1\n");
    sb.append("dims ").append(spec.features()).append(' ').append(spec.outputs()).append(' ').append(spec.steps()).append(' ')
        .append(spec.mode().id()).append(' ').append(spec.loss().id()).append(' ').append(spec.classTargets() ? "I32" : "F32")
        .append(' ').append(spec.variableLength()).append('\n');
    for (ShardInfo i : shards) {
      sb.append("shard ").append(i.file()).append(' ').append(i.split().id()).append(' ').append(i.batch()).append(' ')
          .append(i.bytes()).append(' ').append(i.crc32c()).append('\n');
    }
    if (normalization != null) {
      bits(sb, "input_mean", normalization.inputMean());
      bits(sb, "input_std", normalization.inputStd());
      if (normalization.targetMean() != null) {
        bits(sb, "target_mean", normalization.targetMean());
        bits(sb, "target_std", normalization.targetStd());
      }
    }
    if (spec.vocabulary() != null) {
      sb.append("vocabulary");
      for (String symbol : spec.vocabulary()) {
        sb.append(' ');
        symbol.codePoints().forEach(c -> sb.append(Integer.toHexString(c)).append('.'));
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private static void bits(StringBuilder sb, String name, double[] values) {
    sb.append(name);
    for (double v : values) {
      sb.append(' ').append(String.format(Locale.ROOT, "%016x", Double.doubleToLongBits(v)));
    }
    sb.append('\n');
  }

  /** The manifest as JSON text (two-space indented). */
  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", FORMAT);
    m.put("format_version", (long) FORMAT_VERSION);
    m.put("task", spec.task());
    m.put("features", (long) spec.features());
    m.put("outputs", (long) spec.outputs());
    m.put("steps", (long) spec.steps());
    m.put("mode", spec.mode().id());
    m.put("loss", spec.loss().id());
    m.put("target_dtype", spec.classTargets() ? "I32" : "F32");
    m.put("variable_length", spec.variableLength());
    Map<String, Object> counts = new LinkedHashMap<>();
    counts.put("train", sequences(Split.TRAIN));
    counts.put("validation", sequences(Split.VALIDATION));
    m.put("sequences", counts);
    if (normalization != null) {
      Map<String, Object> n = new LinkedHashMap<>();
      n.put("input_mean", doubles(normalization.inputMean()));
      n.put("input_std", doubles(normalization.inputStd()));
      if (normalization.targetMean() != null) {
        n.put("target_mean", doubles(normalization.targetMean()));
        n.put("target_std", doubles(normalization.targetStd()));
      }
      if (normalization.from() != null) {
        n.put("from", normalization.from());
      }
      m.put("normalization", n);
    } else {
      m.put("normalization", null);
    }
    m.put("vocabulary", spec.vocabulary() == null ? null : new ArrayList<Object>(spec.vocabulary()));
    m.put("source", new LinkedHashMap<>(spec.source()));
    List<Object> list = new ArrayList<>();
    for (ShardInfo s : shards) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("file", s.file());
      e.put("split", s.split().id());
      e.put("batch", (long) s.batch());
      e.put("bytes", s.bytes());
      e.put("crc32c", s.crc32c());
      list.add(e);
    }
    m.put("shards", list);
    return Json.writePretty(m);
  }

  private static List<Object> doubles(double[] v) {
    List<Object> l = new ArrayList<>();
    for (double d : v) {
      l.add(d);
    }
    return l;
  }

  /**
   * Parses and validates manifest JSON. Unknown keys are errors, so a typo or a newer format is
   * never silently ignored.
   *
   * @param source names the file in errors
   */
  public static Manifest parse(String text, String source) {
    try {
      return parse(Json.parseObject(text));
    } catch (IllegalArgumentException e) {
      throw new BadInputException(source + ": " + e.getMessage(), e);
    }
  }

  private static final Set<String> KEYS = Set.of("format", "format_version", "task", "features", "outputs", "steps",
      "mode", "loss", "target_dtype", "variable_length", "sequences", "normalization", "vocabulary", "source", "shards");

  private static Manifest parse(Map<String, Object> m) {
    for (String k : m.keySet()) {
      if (!KEYS.contains(k)) {
        throw new BadInputException("unknown key '" + k + "' (expected " + new TreeSet<>(KEYS) + ")");
      }
    }
    if (!FORMAT.equals(m.get("format"))) {
      throw new BadInputException("format is " + m.get("format") + ", expected \"" + FORMAT + "\"");
    }
    long version = integer(m, "format_version");
    if (version != FORMAT_VERSION) {
      throw new BadInputException("format_version is " + version + ", this reader knows " + FORMAT_VERSION);
    }
    Mode mode = Mode.parse(string(m, "mode"));
    LossType loss = LossType.parse(string(m, "loss"));
    List<String> vocabulary = null;
    if (m.get("vocabulary") != null) {
      vocabulary = new ArrayList<>();
      for (Object o : list(m, "vocabulary")) {
        if (!(o instanceof String s)) {
          throw new BadInputException("vocabulary entries must be strings, found " + Json.write(o));
        }
        vocabulary.add(s);
      }
    }
    Object source = m.get("source");
    if (source != null && !(source instanceof Map)) {
      throw new BadInputException("source must be an object");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> sourceMap = (Map<String, Object>) source;
    Object vl = m.get("variable_length");
    if (!(vl instanceof Boolean variable)) {
      throw new BadInputException("variable_length must be true or false, found " + Json.write(vl));
    }
    DatasetSpec spec = new DatasetSpec(string(m, "task"), dim(m, "features"), dim(m, "outputs"), dim(m, "steps"),
        mode, loss, variable, vocabulary, sourceMap);
    String targetDtype = string(m, "target_dtype");
    if (!targetDtype.equals(spec.classTargets() ? "I32" : "F32")) {
      throw new BadInputException("target_dtype is " + targetDtype + " but loss " + loss.id() + " needs "
          + (spec.classTargets() ? "I32" : "F32"));
    }
    List<ShardInfo> shards = new ArrayList<>();
    int i = 0;
    for (Object o : list(m, "shards")) {
      if (!(o instanceof Map<?, ?> raw)) {
        throw new BadInputException("shards[" + i + "] must be an object");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> e = (Map<String, Object>) raw;
      for (String k : e.keySet()) {
        if (!Set.of("file", "split", "batch", "bytes", "crc32c").contains(k)) {
          throw new BadInputException("shards[" + i + "]: unknown key '" + k + "'");
        }
      }
      long batch = integer(e, "batch");
      if (batch < 1 || batch > Integer.MAX_VALUE) {
        throw new BadInputException("shards[" + i + "].batch = " + batch + ", expected 1.." + Integer.MAX_VALUE);
      }
      shards.add(new ShardInfo(string(e, "file"), Split.parse(string(e, "split")), (int) batch, integer(e, "bytes"),
          string(e, "crc32c")));
      i++;
    }
    Normalization normalization = null;
    if (m.get("normalization") != null) {
      if (!(m.get("normalization") instanceof Map<?, ?> raw)) {
        throw new BadInputException("normalization must be an object or null");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> n = (Map<String, Object>) raw;
      normalization = new Normalization(doubleArray(n, "input_mean"), doubleArray(n, "input_std"),
          n.get("target_mean") == null ? null : doubleArray(n, "target_mean"),
          n.get("target_std") == null ? null : doubleArray(n, "target_std"),
          n.get("from") == null ? null : normalizationFrom(n.get("from")));
    }
    Manifest manifest = new Manifest(spec, shards, normalization);
    if (m.get("sequences") instanceof Map<?, ?> counts) {
      for (Split s : Split.values()) {
        Object c = counts.get(s.id());
        if (!(c instanceof Long l) || l != manifest.sequences(s)) {
          throw new BadInputException("sequences." + s.id() + " is " + c + ", the shards hold "
              + manifest.sequences(s));
        }
      }
    } else {
      throw new BadInputException("sequences must be an object {train, validation}");
    }
    return manifest;
  }

  private static String normalizationFrom(Object from) {
    if (!(from instanceof String s)) {
      throw new BadInputException("normalization.from must be a string (the model or dataset the statistics were taken"
          + " from), found " + Json.write(from));
    }
    return s;
  }

  private static String string(Map<String, Object> m, String key) {
    if (!(m.get(key) instanceof String s)) {
      throw new BadInputException(key + " must be a string, found " + Json.write(m.get(key)));
    }
    return s;
  }

  private static long integer(Map<String, Object> m, String key) {
    if (!(m.get(key) instanceof Long l)) {
      throw new BadInputException(key + " must be an integer, found " + Json.write(m.get(key)));
    }
    return l;
  }

  private static int dim(Map<String, Object> m, String key) {
    long v = integer(m, key);
    if (v < 1 || v > DatasetSpec.MAX_DIMENSION) {
      throw new BadInputException(key + " must be in [1, " + DatasetSpec.MAX_DIMENSION + "], found " + v);
    }
    return (int) v;
  }

  private static List<?> list(Map<String, Object> m, String key) {
    if (!(m.get(key) instanceof List<?> l)) {
      throw new BadInputException(key + " must be a list, found " + Json.write(m.get(key)));
    }
    return l;
  }

  private static double[] doubleArray(Map<String, Object> m, String key) {
    List<?> l = list(m, key);
    double[] out = new double[l.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(l.get(i) instanceof Number n)) {
        throw new BadInputException("normalization." + key + "[" + i + "] must be a number, found " + Json.write(l.get(i)));
      }
      out[i] = n.doubleValue();
    }
    return out;
  }
}
