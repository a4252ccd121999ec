package io.sparkrnn.job;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.OptionRule;
import io.sparkrnn.job.executor.ShardCache;
import io.sparkrnn.job.executor.VirtualPartitions;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * Everything {@code train} needs, validated before Spark starts. Built from a job file
 * ({@code conf/*.conf}: {@code key = value} lines, {@code #} comments) overridden by command-line
 * options; keys are the long option names without dashes. Unknown keys and bad values are errors
 * that name the key (and the file). Defaults live in {@link #DEFAULTS} alone.
 *
 * <p>Model keys left unset (cell aside) come from the dataset's manifest: input and output size
 * always, mode and loss where the manifest names them.
 */
public record TrainConfig(
    String data,
    String out,
    CellType cell,
    int numLayers,
    int hiddenSize,
    Mode mode,
    LossType loss,
    String optimizer,
    double lr,
    String lrSchedule,
    double lrMin,
    double momentum,
    double beta1,
    double beta2,
    double eps,
    double weightDecay,
    double clipNorm,
    int batch,
    int epochs,
    long steps,
    int tbptt,
    String engine,
    String device,
    long seed,
    int partitions,
    int virtualPartitions,
    long checkpointEvery,
    boolean resume,
    boolean overwrite,
    long validateEvery,
    int feedback,
    String master,
    String onNan,
    long logEvery,
    String sync,
    String init,
    ShardCache.Size shardCache)
    implements Serializable {

  private static final long serialVersionUID = 1L;

  /**
   * V when the key is 0, capped at the batch: 16 divides evenly among 1, 2, 4, 8 and 16 tasks, and
   * at the default batch of 64 keeps 4 sequences per JVM engine slice, no slower than 32
   * (docs/cluster.md).
   */
  static final int DEFAULT_VIRTUAL_PARTITIONS = 16;

  /**
   * A configuration key: its default (null: required, or taken from the manifest), what its value
   * must be on its own (checks across keys are in {@link #parse}) and what it means.
   */
  public record Key(String name, String defaultValue, OptionRule rule, String description) {}

  /** Every key, in the order help lists them. The one place defaults live. */
  public static final List<Key> KEYS = List.of(
      new Key("data", null, OptionRule.hadoopPath("a dataset directory URI"),
          "dataset directory URI (manifest.json + shards), from `spark-rnn prep`"),
      new Key("out", null, OptionRule.hadoopPath("an output directory URI"),
          "output directory URI: model.safetensors, checkpoints/, metrics.jsonl, report.md, loss.png"),
      new Key("cell", "lstm", OptionRule.parsedBy(CellType::parse), "rnn | lstm | gru"),
      new Key("num-layers", "1", OptionRule.longIn(1, 64), "stacked recurrent layers"),
      new Key("hidden-size", "32", OptionRule.longIn(1, 1 << 16), "H, units per layer"),
      new Key("mode", null, OptionRule.parsedBy(Mode::parse), "seq2seq | seq2one (default: what the dataset suits)"),
      new Key("loss", null, OptionRule.parsedBy(LossType::parse), "mse | cross_entropy (default: what the dataset suits)"),
      new Key("optimizer", "adam", OptionRule.oneOf("adam", "adamw", "sgd"), "adam | adamw | sgd"),
      new Key("lr", "0.01", OptionRule.positive(), "learning rate"),
      new Key("lr-schedule", "constant", OptionRule.oneOf("constant", "cosine"),
          "constant | cosine: cosine anneals from lr to lr-min over the run's steps"),
      new Key("lr-min", "0", OptionRule.doubleIn(0, Double.MAX_VALUE, false),
          "the learning rate the cosine schedule ends at"),
      new Key("momentum", "0.9", OptionRule.doubleIn(0, 1, false), "SGD momentum"),
      new Key("beta1", "0.9", OptionRule.doubleIn(0, 1, true), "Adam beta1"),
      new Key("beta2", "0.999", OptionRule.doubleIn(0, 1, true), "Adam beta2"),
      new Key("eps", "1e-8", OptionRule.positive(), "Adam epsilon"),
      new Key("weight-decay", "0", OptionRule.doubleIn(0, Double.MAX_VALUE, false),
          "L2 penalty (adam, sgd) or decoupled decay (adamw)"),
      new Key("clip-norm", "5", OptionRule.doubleIn(0, Double.MAX_VALUE, false),
          "clip the gradient's global L2 norm to this (0: no clipping)"),
      new Key("batch", "64", OptionRule.longIn(1, 1 << 24), "sequences per step, over all partitions together"),
      new Key("epochs", "1", OptionRule.longIn(0, 1 << 30), "passes over the training split (ignored when steps > 0)"),
      new Key("steps", "0", OptionRule.longIn(0, Long.MAX_VALUE / 2), "optimizer steps to train (0: use epochs)"),
      new Key("tbptt", "0", OptionRule.longIn(0, 1 << 24),
          "truncated BPTT window k in time steps (0: full BPTT); seq2seq only"),
      new Key("engine", "kernel", OptionRule.oneOf("kernel", "reference"),
          "kernel (float32 on --device: OpenCL or JVM) | reference (float64, slow; for checks)"),
      new Key("device", "auto", OptionRule.oneOf("auto", "gpu", "cpu-opencl", "jvm"),
          "auto | gpu | cpu-opencl | jvm: where kernels run on each executor"),
      new Key("seed", "42", OptionRule.longIn(Long.MIN_VALUE, Long.MAX_VALUE), "seed of initialisation and data order"),
      new Key("partitions", "0", OptionRule.longIn(0, 1 << 16),
          "Spark partitions (0: 1 on a local master, whose engine uses every core; else the context's default"
          + " parallelism)"),
      new Key("virtual-partitions", "0", OptionRule.longIn(0, 1 << 24),
          "V: each step's batch is cut into V fixed groups of sequences, summed in a fixed tree, so the"
          + " weights are the same bits for any partition count and thread count; every partition computes a contiguous run of"
          + " them (partitions <= V <= batch; 0: min(batch, " + TrainConfig.DEFAULT_VIRTUAL_PARTITIONS + "))"),
      new Key("checkpoint-every", "100", OptionRule.atLeast(0), "write a checkpoint every N steps (0: only at the end)"),
      new Key("resume", "false", OptionRule.oneOf("true", "false"), "continue from the newest checkpoint in --out"),
      new Key("overwrite", "false", OptionRule.oneOf("true", "false"),
          "replace an earlier run in --out (its model, checkpoints, metrics and report; other files stay)"),
      new Key("init", null, OptionRule.hadoopPath("a model file or directory URI"),
          "warm start: a model file (model.safetensors from train, or from import of a PyTorch state_dict), or a"
          + " directory holding one (train's --out, a saved RnnModel),"
          + " whose weights training starts from (the optimizer starts fresh); its cell, num-layers, hidden-size, F, O, mode,"
          + " loss and recorded normalisation must match the run's (default: random initialisation from seed)"),
      new Key("validate-every", "0", OptionRule.atLeast(0), "validate every N steps and at the end (0: never)"),
      new Key("feedback", "0", OptionRule.longIn(0, 1 << 24),
          "closed-loop validation: the last K steps are driven by the model's own outputs"),
      new Key("master", "local[*]", OptionRule.nonBlank("a Spark master URL"), "Spark master when not set by spark-submit"),
      new Key("on-nan", "stop", OptionRule.oneOf("stop", "skip"),
          "stop | skip: what a NaN or infinite loss or gradient does"),
      new Key("log-every", "10", OptionRule.atLeast(1), "print a progress line every N steps"),
      new Key("sync", "barrier", OptionRule.oneOf("barrier", "job"),
          "barrier | job: one Spark barrier stage runs >= 2 s of steps, its tasks adding each step's"
          + " gradient sums in a tree among themselves, the driver at its top (one gradient in and out of the driver per step);"
          + " or one Spark job per step. Both give the same weights"),
      new Key("shard-cache", "25%", ShardCache.Size::parse,
          "decoded shards each executor keeps: a size (512m, 2g; 0 keeps none) or a share of its heap"
          + " (25%); the rest is read when needed, the next step's shards in the background. Does not change the weights"));

  /** The default of every key; null means "required" (data, out) or "from the manifest". */
  public static final Map<String, String> DEFAULTS;

  /** What each key's value must be on its own, by key: the rules of {@link #KEYS}. */
  public static final Map<String, OptionRule> RULES;

  static {
    Map<String, String> d = new LinkedHashMap<>();
    Map<String, OptionRule> rules = new LinkedHashMap<>();
    for (Key k : KEYS) {
      d.put(k.name(), k.defaultValue());
      rules.put(k.name(), k.rule());
    }
    DEFAULTS = Collections.unmodifiableMap(d);
    RULES = Collections.unmodifiableMap(rules);
  }

  /** What the dataset says of the model, to fill keys the user left unset. */
  public record DatasetDefaults(Mode mode, LossType loss) {}

  /** Job files are a screenful of lines; anything larger is not one. */
  static final long MAX_JOB_FILE_BYTES = 1 << 20;

  /** The job file's lines; a missing, non-regular, huge or binary file is refused naming it. */
  private static List<String> readJobFileLines(Path file) throws IOException {
    return readJobFileLines(file, file.toString());
  }

  /** As {@link #readJobFileLines(Path)}, errors naming the file as {@code name} (the URI given). */
  private static List<String> readJobFileLines(Path file, String name) throws IOException {
    String what = "--conf " + name + ": ";
    if (Files.isDirectory(file)) {
      throw new IOException(what + IS_A_DIRECTORY);
    }
    if (!Files.exists(file)) {
      throw new FileNotFoundException(what + "no such file");
    }
    if (!Files.isRegularFile(file)) { // a FIFO would block the read for ever
      throw new IOException(what + "not a regular file (a FIFO, socket or device)");
    }
    return jobFileLines(what, Files.size(file), () -> Files.newInputStream(file));
  }

  private static final String IS_A_DIRECTORY = "is a directory, expected a job file (key = value lines)";

  /** Opens a job file's bytes (a local file or a Hadoop stream). */
  @FunctionalInterface
  private interface JobFileStream {
    InputStream open() throws IOException;
  }

  /** The lines of a job file of {@code size} bytes, refused (named by {@code what}) when huge or not UTF-8 text. */
  private static List<String> jobFileLines(String what, long size, JobFileStream stream) throws IOException {
    if (size > MAX_JOB_FILE_BYTES) {
      throw new BadInputException(what + size + " bytes, more than a job file (key = value lines) may have ("
          + MAX_JOB_FILE_BYTES + ")");
    }
    byte[] bytes;
    try (InputStream in = stream.open()) {
      bytes = in.readNBytes((int) MAX_JOB_FILE_BYTES + 1);
    } catch (java.nio.file.AccessDeniedException e) {   // its message is the path alone ("error: /proc/1/environ": a user audit)
      throw new IOException(what + "cannot be read: permission denied", e);
    } catch (IOException e) {
      throw new IOException(what + "cannot be read: " + e.getMessage(), e);
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString().lines().toList();
    } catch (CharacterCodingException e) {
      throw new BadInputException(what + "not a UTF-8 text file; a job file holds key = value lines", e);
    }
  }

  public static Map<String, String> readJobFile(Path file) throws IOException {
    return readJob(file).values();
  }

  private static JobFile readJob(Path file) throws IOException {
    return parseJobFile(file.toString(), readJobFileLines(file));
  }

  /** {@link #readJob}'s values. */
  public static Map<String, String> readJobFile(String uri, Configuration conf) throws IOException {
    return readJob(uri, conf).values();
  }

  /**
   * A job file on any Hadoop file system ({@code hdfs://}, {@code s3a://}, a local path): in cluster
   * deploy mode the driver runs on a worker, where a path on the submitting machine's disk is not,
   * so {@code --conf hdfs:///jobs/sine.conf} lets every driver read the same file. A local path
   * (no scheme, or {@code file:}) is read as {@link #readJobFile(Path)} reads it.
   */
  public static JobFile readJob(String uri, Configuration conf) throws IOException {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(uri);
    if (p.toUri().getScheme() == null) {
      return readJob(Path.of(uri));
    }
    FileSystem fs = FileSystems.get(p, conf);
    if (FileSystems.isLocal(fs)) {
      return parseJobFile(uri, readJobFileLines(FileSystems.localPath(fs.makeQualified(p)), uri));
    }
    String what = "--conf " + uri + ": ";
    FileStatus status;
    try {
      status = fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(what + "no such file");
    }
    if (status.isDirectory()) {
      throw new IOException(what + IS_A_DIRECTORY);
    }
    return parseJobFile(uri, jobFileLines(what, status.getLen(), () -> fs.open(p)));
  }

  /**
   * {@code key = value} lines; errors name {@code file} and the line. A value runs to the end of its
   * line; one pair of quotes around it is taken off ({@code out = "/runs/a b"}) and keeps all it holds;
   * in a value without quotes a {@code #} at its start or after a space, an end-of-line comment, is refused (a user audit: {@code out = /runs/o21   # scratch} trained into
   * a folder named so); a UTF-8 byte-order mark (Notepad's) is skipped. Each key's {@code FILE:LINE}
   * is kept for the messages of later checks.
   */
  private static JobFile parseJobFile(String file, List<String> lines) {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, String> origins = new LinkedHashMap<>();
    int lineNo = 0;
    for (String raw : lines) {
      lineNo++;
      String where = file + ":" + lineNo;
      String line = (lineNo == 1 && raw.startsWith("\uFEFF") ? raw.substring(1) : raw).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq <= 0) {
        throw new BadInputException(where + ": expected 'key = value', found '" + line + "'");
      }
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      if (!DEFAULTS.containsKey(key)) {
        throw new BadInputException(where + ": unknown key '" + key + "'" + (key.startsWith("spark.") ? "; a job file holds"
            + " spark-rnn's keys, and Spark settings go to spark-submit --conf " + key + "=…, or to bin/spark-rnn as"
            + " SPARK_RNN_JAVA_OPTS=\"-D" + key + "=…\"" : suggestion(key) + " (known keys: " + String.join(", ", DEFAULTS.keySet())
            + ")"));
      }
      if (value.length() >= 2 && (value.charAt(0) == '"' || value.charAt(0) == '\'') && value.charAt(value.length() - 1) == value.charAt(0)) {
        value = value.substring(1, value.length() - 1);   // quoted: all of it is the value, a '#' too
      } else {
        // "out = # scratch" as well as "out = /runs/o21   # scratch" (a review: the first made a folder "# scratch")
        Matcher comment = COMMENT.matcher(value);
        if (comment.find()) {
          throw new BadInputException(where + ": " + key + " = " + value + ": '" + value.substring(comment.end() - 1) + "' reads as"
              + " a comment, but a value runs to the end of its line; put comments on lines of their own (or quote the value"
              + " to keep a '#' in it)");
        }
      }
      if (values.put(key, value) != null) {
        throw new BadInputException(where + ": key '" + key + "' given twice");
      }
      origins.put(key, where);
    }
    return new JobFile(values, origins);
  }

  /** A '#' that starts a job-file value or follows a blank in it: a comment, which a value may not hold unquoted. */
  private static final Pattern COMMENT = Pattern.compile("(^|\\s)#");

  /** "; did you mean 'K'?" for a key within two edits of a known one, else "". */
  private static String suggestion(String key) {
    String best = null;
    int bestDistance = 3;
    for (String k : DEFAULTS.keySet()) {
      int d = editDistance(key, k);
      if (d < bestDistance) {
        best = k;
        bestDistance = d;
      }
    }
    return best == null ? "" : "; did you mean '" + best + "'?";
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /**
   * A job file's values, and each key's FILE:LINE for the messages of later checks ({@code train
   * --conf}: "sine.conf:3: hidden-size: expected an integer").
   */
  public record JobFile(Map<String, String> values, Map<String, String> origins) {}

  /**
   * Validates and builds the configuration.
   *
   * @param given keys set by the job file and the command line (command line wins)
   * @param fromDataset what the manifest says, or null before the dataset is read
   */
  public static TrainConfig parse(Map<String, String> given, DatasetDefaults fromDataset) {
    Map<String, String> v = new TreeMap<>();
    for (Map.Entry<String, String> e : DEFAULTS.entrySet()) {
      if (e.getValue() != null) {
        v.put(e.getKey(), e.getValue());
      }
    }
    for (Map.Entry<String, String> e : given.entrySet()) {
      if (!DEFAULTS.containsKey(e.getKey())) {
        throw new BadInputException("unknown key '" + e.getKey() + "'");
      }
      if (e.getValue() != null) {
        v.put(e.getKey(), e.getValue());
      }
    }
    Values r = new Values(v);
    String data = r.text("data");
    String out = r.text("out");
    CellType cell = CellType.parse(r.text("cell"));
    Mode mode = v.containsKey("mode") ? Mode.parse(r.text("mode")) : fromDataset == null ? Mode.SEQ2SEQ : fromDataset.mode();
    LossType loss = v.containsKey("loss") ? LossType.parse(r.text("loss")) : fromDataset == null ? LossType.MSE : fromDataset.loss();
    String optimizer = r.choice("optimizer");
    double lr = r.number("lr");
    String lrSchedule = r.choice("lr-schedule");
    double lrMin = r.number("lr-min");
    if (lrMin > lr) {
      // the bound is lr, which a tuning grid may have set where the user did not look (a user audit: "must be in [0.0, 0.001]")
      throw new BadInputException("lr-min: " + v.get("lr-min") + " is above --lr, " + v.get("lr") + "; the cosine schedule"
          + " anneals from --lr down to --lr-min");
    }
    double momentum = r.number("momentum");
    double beta1 = r.number("beta1");
    double beta2 = r.number("beta2");
    double eps = r.number("eps");
    double weightDecay = r.number("weight-decay");
    double clipNorm = r.number("clip-norm");
    int batch = (int) r.integer("batch");
    int epochs = (int) r.integer("epochs");
    long steps = r.integer("steps");
    if (epochs == 0 && steps == 0) {
      throw new BadInputException("--epochs and --steps are both 0: set one of them to say how long to train");
    }
    int tbptt = (int) r.integer("tbptt");
    String engine = r.choice("engine");
    String device = r.choice("device");
    Engines.requireDeviceApplies(engine, device);
    long seed = r.integer("seed");
    int partitions = (int) r.integer("partitions");
    int virtualPartitions = (int) r.integer("virtual-partitions");
    if (virtualPartitions > batch) {
      throw new BadInputException("virtual-partitions: must be at most batch = " + batch + " (each holds at least one sequence),"
          + " found " + virtualPartitions);
    }
    if (virtualPartitions == 0) {
      virtualPartitions = Math.min(batch, DEFAULT_VIRTUAL_PARTITIONS);
    }
    VirtualPartitions.requireTasks(partitions, virtualPartitions, batch);
    long checkpointEvery = r.integer("checkpoint-every");
    boolean resume = Boolean.parseBoolean(r.choice("resume"));
    boolean overwrite = Boolean.parseBoolean(r.choice("overwrite"));
    if (resume && overwrite) {
      throw new BadInputException("resume and overwrite: choose one (continue the run in --out, or replace it)");
    }
    long validateEvery = r.integer("validate-every");
    int feedback = (int) r.integer("feedback");
    String master = r.text("master");
    String onNan = r.choice("on-nan");
    long logEvery = r.integer("log-every");
    String sync = r.choice("sync");
    String init = v.containsKey("init") ? r.text("init") : null;
    ShardCache.Size shardCache = ShardCache.Size.parse("shard-cache", r.text("shard-cache"));
    if (tbptt > 0 && mode == Mode.SEQ2ONE) {
      throw new BadInputException("tbptt: truncated BPTT needs mode seq2seq (a seq2one loss reads only the last step)");
    }
    return new TrainConfig(data, out, cell, (int) r.integer("num-layers"), (int) r.integer("hidden-size"),
        mode, loss, optimizer, lr, lrSchedule, lrMin, momentum, beta1, beta2, eps, weightDecay, clipNorm, batch, epochs, steps, tbptt, engine,
        device, seed, partitions, virtualPartitions, checkpointEvery, resume, overwrite, validateEvery, feedback, master, onNan, logEvery,
        sync, init, shardCache);
  }

  /** The resolved values as key → string, for reports and checkpoint metadata. */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("data", data);
    m.put("out", out);
    m.put("cell", cell.id());
    m.put("num-layers", Integer.toString(numLayers));
    m.put("hidden-size", Integer.toString(hiddenSize));
    m.put("mode", mode.id());
    m.put("loss", loss.id());
    m.put("optimizer", optimizer);
    m.put("lr", Double.toString(lr));
    m.put("lr-schedule", lrSchedule);
    m.put("lr-min", Double.toString(lrMin));
    m.put("momentum", Double.toString(momentum));
    m.put("beta1", Double.toString(beta1));
    m.put("beta2", Double.toString(beta2));
    m.put("eps", Double.toString(eps));
    m.put("weight-decay", Double.toString(weightDecay));
    m.put("clip-norm", Double.toString(clipNorm));
    m.put("batch", Integer.toString(batch));
    m.put("epochs", Integer.toString(epochs));
    m.put("steps", Long.toString(steps));
    m.put("tbptt", Integer.toString(tbptt));
    m.put("engine", engine);
    m.put("device", device);
    m.put("seed", Long.toString(seed));
    m.put("partitions", Integer.toString(partitions));
    m.put("virtual-partitions", Integer.toString(virtualPartitions));
    m.put("checkpoint-every", Long.toString(checkpointEvery));
    m.put("resume", Boolean.toString(resume));
    m.put("overwrite", Boolean.toString(overwrite));
    m.put("validate-every", Long.toString(validateEvery));
    m.put("feedback", Integer.toString(feedback));
    m.put("master", master);
    m.put("on-nan", onNan);
    m.put("log-every", Long.toString(logEvery));
    m.put("sync", sync);
    if (init != null) {
      m.put("init", init);
    }
    m.put("shard-cache", shardCache.toString());
    return m;
  }

  /**
   * The learning rate of the update after {@code completedSteps} steps of {@code totalSteps}:
   * constant, or cosine annealing lr_t = lr_min + ½ (lr − lr_min)(1 + cos(π t / T)), the closed
   * form of {@code torch.optim.lr_scheduler.CosineAnnealingLR(T_max = T, eta_min = lr_min)}.
   * StrictMath, because every barrier task computes the same rate and must get the same bits.
   */
  public double learningRate(long completedSteps, long totalSteps) {
    if (lrSchedule.equals("constant") || totalSteps <= 0) {
      return lr;
    }
    return lrMin + 0.5 * (lr - lrMin) * (1 + StrictMath.cos(Math.PI * completedSteps / totalSteps));
  }

  /** The given values, each checked against its key's rule (which names the key) when read. */
  private record Values(Map<String, String> v) {
    /** The value, checked; a missing one is refused as required. */
    String text(String key) {
      String s = v.get(key);
      if (s == null) {
        throw new BadInputException(key + ": required, not given");
      }
      RULES.get(key).check(key, s);
      return s;
    }

    /** A choice, checked, in lower case. */
    String choice(String key) {
      return text(key).strip().toLowerCase(Locale.ROOT);
    }

    double number(String key) {
      return OptionRule.parseDouble(key, text(key));
    }

    long integer(String key) {
      return OptionRule.parseLong(key, text(key));
    }
  }
}
