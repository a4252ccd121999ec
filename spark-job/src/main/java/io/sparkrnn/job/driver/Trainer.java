package io.sparkrnn.job.driver;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.spark.JobScope;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.infer.Compatibility;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.DatasetRef;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.Schedule;
import io.sparkrnn.job.executor.ShardCache;
import io.sparkrnn.job.executor.ShardDataException;
import io.sparkrnn.job.executor.ShardPlacement;
import io.sparkrnn.job.executor.StepInput;
import io.sparkrnn.job.executor.TestHooks;
import io.sparkrnn.job.executor.VirtualPartitions;
import io.sparkrnn.job.report.TrainReport;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.job.sync.BarrierSync;
import io.sparkrnn.job.sync.BarrierTraining;
import io.sparkrnn.job.sync.GradientExchange;
import io.sparkrnn.job.sync.JobSync;
import io.sparkrnn.job.sync.StepMerge;
import io.sparkrnn.job.sync.StepSync;
import io.sparkrnn.job.sync.StepUpdate.StepRecord;
import io.sparkrnn.job.sync.StepUpdate;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Optimizer;
import io.sparkrnn.model.Checkpoints;
import io.sparkrnn.model.ModelMetadata;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ObjLongConsumer;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The training driver: synchronous data-parallel BPTT.
 *
 * <p>One step: the step's global batch is cut into V virtual partitions ({@link VirtualPartitions});
 * every partition computes (loss sum, gradient sum, count) over each of its contiguous run of them
 * ({@link GradientTask}); the sums are merged in a fixed tree over the V ({@link CombineTree},
 * {@link StepMerge}), so the total is the same whatever order tasks finish in and however many
 * there are; the mean over the
 * total count (N partitions × B sequences give exactly the mean over N·B sequences) is clipped by
 * global norm and applied by the optimizer ({@link StepUpdate}).
 *
 * <p>Where the merge and update run is {@code --sync}: {@code job} runs one Spark job per step and
 * updates on the driver; {@code barrier} (the default) runs many steps per Spark job, exchanging
 * the sums through the driver's {@link GradientExchange} and updating in every task
 * ({@link BarrierTraining}). Both give the
 * same bits. Validation, checkpoints and progress lines happen on the driver between jobs.
 *
 * <p>Call order: {@link #prepare} (validates everything, before Spark starts) → {@link #run}.
 */
public final class Trainer {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Trainer.class);

  /**
   * Training keys that must match between a checkpoint and a resumed run for the result to be the
   * same. Not the partition count: the virtual partitions make the bits independent of it.
   */
  static final Set<String> RESUME_KEYS = Set.of("data", "cell", "num-layers", "hidden-size", "mode", "loss", "optimizer", "lr",
      "momentum", "beta1", "beta2", "eps", "weight-decay", "clip-norm", "batch", "tbptt", "seed", "virtual-partitions", "lr-schedule",
      "lr-min");

  /**
   * The keys this run's optimizer and schedule do not read: sgd's momentum under adam or adamw, adam's
   * beta1, beta2 and eps under sgd, lr-min under the constant schedule. Given, they warn; on resume,
   * a value other than the checkpoint's is no reason to refuse, since it changes no bit.
   */
  static Set<String> unusedKeys(TrainConfig config) {
    Set<String> unused = new TreeSet<>(config.optimizer().equals("sgd") ? List.of("beta1", "beta2", "eps") : List.of("momentum"));
    if (config.lrSchedule().equals("constant")) {
      unused.add("lr-min");
    }
    return unused;
  }

  private final TrainConfig config;
  private final Dataset dataset;
  private final ModelConfig model;
  private final Schedule schedule;
  private final long totalSteps;
  private final OutputDir out;
  private final Checkpoints checkpoints;
  private final PrintStream log;
  private final TrainingMetrics metrics = new TrainingMetrics();
  /** The dataset's {@link io.sparkrnn.data.Manifest#fingerprint}, which checkpoints record and --resume compares. */
  private final String dataFingerprint;
  /** The weights step 0 starts from: {@code --init}'s, or null for {@code Params.initialize(model, seed)}. */
  private final Params initial;

  private Trainer(TrainConfig config, Dataset dataset, ModelConfig model, Schedule schedule, long totalSteps, OutputDir out,
      PrintStream log, Params initial) {
    this.initial = initial;
    this.config = config;
    this.dataset = dataset;
    this.model = model;
    this.schedule = schedule;
    this.totalSteps = totalSteps;
    this.out = out;
    this.checkpoints = new Checkpoints(out, ModelMetadata.fromManifest(dataset.manifest()));
    this.dataFingerprint = dataset.manifest().fingerprint();   // once: it hashes every shard's entry
    this.log = log;
  }

  /**
   * Validates the configuration against the dataset and the output directory, without starting
   * Spark: a bad key, a batch the data cannot fill, a model that does not fit the data, or an
   * output directory that already holds a run (without --resume) fails here.
   */
  public static Trainer prepare(Map<String, String> given, Configuration hadoop, PrintStream log) throws IOException {
    return prepare(given, hadoop, log, null);
  }

  /**
   * {@link #prepare(Map, Configuration, PrintStream)} with the model of the {@code init} key already
   * read by the caller ({@link #loadInitial}; null: read it here): RnnEstimator reads and checks it
   * before its table job, and the run then starts from those very weights, read once, whatever
   * happens to the file meanwhile. It is checked against the run as a file read here would be.
   */
  public static Trainer prepare(Map<String, String> given, Configuration hadoop, PrintStream log, TrainedModel initRead)
      throws IOException {
    TrainConfig syntax = TrainConfig.parse(given, null); // every key's syntax, before touching the file system
    FileSystems.requireUsableOutput(syntax.out(), hadoop, "--out", true);
    Dataset dataset = Dataset.open(syntax.data(), hadoop);
    if (FileSystems.sameOrInside(syntax.out(), syntax.data(), hadoop)) {
      // a run's files among the dataset's shards (a user audit: --out equal to --data trained without a word)
      throw new BadInputException("out: " + syntax.out() + " is " + (FileSystems.sameOrInside(syntax.data(), syntax.out(), hadoop)
          ? "" : "inside ") + "the dataset directory --data " + syntax.data() + "; the run's files go to a directory of their own");
    }
    DatasetSpec spec = dataset.manifest().spec();
    // data as the fully qualified directory, which checkpoints record and --resume compares: "ds/", "./ds",
    // file:///…/ds and a path relative to another working directory name one dataset, and one relative path
    // from two working directories two (a user audit: both were judged by their spelling)
    Map<String, String> located = new HashMap<>(given);
    located.put("data", dataset.location());
    TrainConfig config = TrainConfig.parse(located, new TrainConfig.DatasetDefaults(spec.mode(), spec.loss()));
    if (config.mode() != spec.mode()) {
      throw new BadInputException("mode: the dataset " + syntax.data() + " is " + spec.mode().id() + ", the configuration says "
          + config.mode().id());
    }
    if (config.loss() != spec.loss()) {
      throw new BadInputException("loss: the dataset " + syntax.data() + " suits " + spec.loss().id()
          + " (its y is " + (spec.classTargets() ? "class ids" : "floats") + "), the configuration says " + config.loss().id());
    }
    ModelConfig model = new ModelConfig(config.cell(), config.numLayers(), spec.features(), config.hiddenSize(), spec.outputs(),
        config.mode(), config.loss());
    checkMemory(model, config, spec, dataset.manifest().shards().stream().mapToLong(ShardInfo::bytes).sum());
    List<ShardInfo> all = dataset.manifest().shards();
    List<Integer> train = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).split() == Split.TRAIN) {
        train.add(i);
      }
    }
    if (train.isEmpty()) {
      throw new BadInputException("data: " + syntax.data() + " has no training shards");
    }
    int[] shardIndex = train.stream().mapToInt(Integer::intValue).toArray();
    int[] shardBatch = train.stream().mapToInt(i -> all.get(i).batch()).toArray();
    Schedule schedule = new Schedule(shardIndex, shardBatch, config.batch(), config.seed(), spec.steps(), config.tbptt());
    if (schedule.stepsPerEpoch() == 0) {
      throw new BadInputException("batch: " + config.batch() + " is more than the training split holds");
    }
    long total = config.steps() > 0 ? config.steps() : config.epochs() * schedule.stepsPerEpoch();
    OutputDir out = new OutputDir(config.out(), hadoop);
    requireRunFilePlaces(out);
    boolean hasCheckpoint = !out.list(Checkpoints.DIR, "step-", ".safetensors").isEmpty();
    boolean hasRun = hasCheckpoint || out.exists("model.safetensors");
    if (hasRun && !config.resume() && !config.overwrite()) {
      throw new BadInputException("out: " + out.dir() + " already holds a training run; pass --resume to continue it, "
          + "--overwrite to replace it, or choose another --out");
    }
    if (config.resume() && !hasCheckpoint && out.exists("model.safetensors")) {
      // every run checkpoints at its end, so a model without checkpoints is one whose checkpoints were removed:
      // --resume would train from step 0 and replace that model (a user audit)
      throw new BadInputException("resume: " + out.dir() + " holds a model (model.safetensors) but no checkpoint to resume"
          + " from (" + out.path(Checkpoints.DIR) + " is empty or gone), so --resume would train from step 0 and replace it;"
          + " pass --overwrite in place of --resume to start again, or --init " + out.path("model.safetensors")
          + " with another --out to start from its weights");
    }
    if (config.feedback() > 0) {
      checkClosedLoopFits(model, spec, config.feedback());
      String oneHot = TrainedModel.oneHotFeedbackWarning(model, spec.vocabulary(), "feedback: closed-loop validation");
      if (oneHot != null) {
        log.println("warning: " + oneHot);
      }
      // each validation batch refuses a padded sequence (Validation.closedLoop), found there after the first
      // validate-every steps had trained; refused here where validation will run
      if (spec.variableLength() && config.validateEvery() > 0 && dataset.manifest().sequences(Split.VALIDATION) > 0) {
        throw new BadInputException("feedback: closed-loop validation needs sequences of all T=" + spec.steps() + " steps, and"
            + " the dataset is variable-length (prepared with --min-steps or setMinSteps), so its sequences may be shorter;"
            + " prepare it without, or validate without feedback");
      }
      if (config.validateEvery() == 0) {
        log.println("warning: feedback " + config.feedback() + ": closed-loop validation is part of validation, and"
            + " --validate-every is 0, so this run never runs it; --validate-every=N runs it every N steps");
      }
    }
    if (config.optimizer().equals("adamw") && config.weightDecay() == 0) {
      // torch.optim.AdamW decays by 0.01 unless told otherwise; ours by weight-decay, 0 by default (a user audit)
      log.println("warning: optimizer adamw: --weight-decay is 0, so no weight decays and this is adam's update"
          + " (torch.optim.AdamW's default is 0.01: pass --weight-decay=0.01 for it)");
    }
    // an optimizer constant given for the other optimizer does nothing (a user audit: --momentum with adam
    // was taken without a word); only given keys are named, the defaults of both are always there
    for (String constant : unusedKeys(config)) {
      if (given.containsKey(constant) && !constant.equals("lr-min")) {   // lr-min: its own warning, below
        log.println("warning: " + constant + " " + given.get(constant) + ": --optimizer=" + config.optimizer()
            + " does not use it (" + (constant.equals("momentum") ? "--momentum is sgd's; " + config.optimizer()
            + "'s counterpart is --beta1" : "--beta1, --beta2 and --eps are adam's and adamw's") + ")");
      }
    }
    if (config.lrMin() != 0 && config.lrSchedule().equals("constant")) {
      log.println("warning: lr-min " + config.lrMin() + ": the constant schedule keeps --lr, so nothing anneals to it;"
          + " --lr-schedule=cosine does");
    }
    if (config.tbptt() >= spec.steps()) {
      log.println("warning: tbptt " + config.tbptt() + " is not shorter than the sequences (T = " + spec.steps() + "):"
          + " every window is a whole sequence, which is full BPTT, as --tbptt=0");
    }
    if (config.validateEvery() > 0 && dataset.manifest().sequences(Split.VALIDATION) == 0) {
      log.println("warning: validate-every " + config.validateEvery() + ": the dataset " + syntax.data() + NO_VALIDATION_SEQUENCES
          + ", so this run never validates; prep it with a validation split (--validation-fraction; for a table"
          + " by time, a validation part longer than --gap plus a window)");
    }
    if (initRead != null && config.init() == null) {
      throw new IllegalArgumentException("a model read for init, but the configuration has no init key to name it"); // a caller's bug
    }
    // a checkpoint to resume from wins over init (README): init is then neither read nor checked
    boolean resumes = config.resume() && hasCheckpoint;
    if (resumes && config.init() != null) {
      log.printf(Locale.ROOT, "init %s: not used, the run resumes from its newest checkpoint%n", config.init());
    }
    Params initial = config.init() == null || resumes ? null
        : warmStart(initRead != null ? initRead : loadInitial(config.init(), hadoop, "init"), config.init(), model, dataset, log);
    Trainer trainer = new Trainer(config, dataset, model, schedule, total, out, log, initial);
    trainer.previousRun = hasRun;
    if (resumes) {
      // a resume that would change the bits is refused here, before Spark starts (on a cluster that is
      // minutes); run() reads and checks again, under the run lock, whatever checkpoint is newest then
      // (an --overwrite run in between may have written another under the same name)
      Checkpoints.Saved saved;
      try {
        saved = trainer.checkpoints.loadLatest();
      } catch (FileNotFoundException e) {
        saved = null;   // removed since it was listed: a run writing --out now, which the run lock will name
      }
      if (saved != null) {
        trainer.checkResumable(saved, hadoop);
      }
    }
    return trainer;
  }

  /**
   * Whether a stopped run can be resumed, in words, without a final period: the last checkpoint
   * named, or that none was written ({@link #checkpointWords}). Never throws: it completes another
   * failure's message, which a listing that fails too (a lost node that also held the file
   * system) must not replace (a review).
   */
  private String checkpointStatus() {
    List<String> saved;
    try {
      saved = out.list(Checkpoints.DIR, "step-", ".safetensors");
    } catch (IOException | RuntimeException e) {
      return "The checkpoints in " + out.path(Checkpoints.DIR) + " could not be listed (" + e.getMessage() + ")";
    }
    return checkpointWords.apply(saved.isEmpty() ? null : out.path(Checkpoints.DIR + "/" + saved.get(saved.size() - 1))
        .toString());
  }

  /** train's words for {@link #checkpointStatus}: the newest checkpoint's path, or null where none was written. */
  static String resumeWords(String checkpoint) {
    return checkpoint == null ? "No checkpoint was written yet (nothing to resume from)"
        : "The last checkpoint, " + checkpoint + ", is intact: --resume true continues from it";
  }

  private static final UnaryOperator<String> RESUME_WORDS = Trainer::resumeWords;
  private UnaryOperator<String> checkpointWords = RESUME_WORDS;

  /**
   * What the line of a run stopped by a signal advises, given the checkpoint it wrote: train's
   * "--resume continues from it", or the caller's {@link #checkpointWords} (fit has no --resume; its
   * stop line and the hook's said "--resume" all the same: a leftover of a review).
   */
  private String stopAdvice(String checkpoint) {
    return checkpointWords == RESUME_WORDS ? "--resume continues from " + checkpoint
        : afterSemicolon(checkpointWords.apply(checkpoint));
  }

  /** A sentence's words after a semicolon: its first letter in lower case ("The last checkpoint" → "the last …"). */
  private static String afterSemicolon(String words) {
    return words.isEmpty() ? words : Character.toLowerCase(words.charAt(0)) + words.substring(1);
  }

  /**
   * Sets what a failure says of the checkpoints (given the newest one's path, or null): a caller
   * with no --resume says what its user can do instead (RnnEstimator: "--resume true" named an
   * option it does not have, and a checkpoint its fit removes; a review).
   */
  public Trainer checkpointWords(UnaryOperator<String> words) {
    this.checkpointWords = words;
    return this;
  }

  /** Removes temporary files that interrupted writes left in --out; call it holding the run lock. */
  public void removeStaleTemporaries() throws IOException {
    int removed = out.removeStaleTemporaries(Checkpoints.DIR);
    if (removed > 0) {
      log.printf(Locale.ROOT, "removed %d temporary file(s) that an interrupted run left in %s%n", removed, out.dir());
    }
  }

  /** The words of the warning that --init has no statistics for a normalised dataset (RnnEstimator says it in its own). */
  public static final String INIT_WITHOUT_STATISTICS = "records no normalisation (trained on raw units, or imported without one)";

  /** The words of the warning that the dataset has none to validate on (RnnEstimator drops it where it said so itself). */
  public static final String NO_VALIDATION_SEQUENCES = " has no validation sequences";

  /**
   * Refuses, before any work, an --out where one of {@link #RUN_FILES} is the other kind: a file at
   * checkpoints, a folder at model.safetensors or report.md. It failed only when written: a file
   * at checkpoints after the last step, with no model and no checkpoint kept (a user audit). Under
   * --overwrite too, which would otherwise remove a folder of the user's at a run file's name.
   */
  private static void requireRunFilePlaces(OutputDir out) throws IOException {
    for (String f : RUN_FILES) {
      Boolean directory = out.isDirectory(f);
      boolean folder = f.equals(Checkpoints.DIR);
      if (directory != null && directory != folder) {
        throw new BadInputException("out: " + out.path(f) + " is a " + (directory ? "directory" : "file") + ", where the run writes"
            + (folder ? " its checkpoints folder" : " its " + f) + "; move it away, or choose another --out");
      }
    }
  }

  /**
   * Tests only (package-private; no setting or option reaches it): called with the run's stop hook
   * and the step about to run, before its work, so that a test can deliver a "signal" (run the
   * hook) at a chosen step in its own JVM, where a real one would end the JVM.
   */
  static volatile ObjLongConsumer<StopFlush> beforeStepForTests;

  /** What a run writes in --out: what --overwrite removes (a file or, for checkpoints, a folder). */
  static final List<String> RUN_FILES = List.of("model.safetensors", Checkpoints.DIR, TrainingMetrics.FILE, TrainReport.FILE,
      "loss.png");

  /** Whether --out held a run when this trainer was prepared. */
  private boolean previousRun;
  /** Whether checkResumable said that the data moved (prepare's check and run()'s say it once). */
  private boolean movedSaid;

  /**
   * With --overwrite, removes the earlier run's files from --out (nothing else there). Call it
   * while holding the run lock, before {@link #run}, so that no other run's files are touched.
   */
  public void clearPreviousRun() throws IOException {
    if (!config.overwrite() || !previousRun) {
      return;
    }
    for (String f : RUN_FILES) {
      out.deleteTree(f);
    }
    log.printf(Locale.ROOT, "--overwrite: removed the earlier run's %s from %s%n", String.join(", ", RUN_FILES), out.dir());
    previousRun = false;
  }

  /**
   * Refuses, before Spark starts, a model or batch whose memory this driver cannot hold. The
   * driver keeps per parameter about 28 bytes: the float32 weights (4), the float64 gradient sum
   * (8), Adam's two moments (8), the copy each step sends and the update's scratch (8). In local
   * mode the executors' engines share this JVM: per layer (T+1)·B·(G·H + 4H) float32 activations
   * and states (the JVM engine's working memory, docs/PERFORMANCE.md, rounded up), the inputs and
   * outputs, a float32 and a float64 gradient per virtual partition, and the shard cache
   * ({@code shard-cache}, resolved against this heap).
   */
  private static void checkMemory(ModelConfig model, TrainConfig config, DatasetSpec spec, long datasetBytes) {
    long params = new ParamLayout(model).size(); // refuses 2^31 parameters itself
    long bytes = 28L * params;
    if (config.master().startsWith("local")) {
      ShardCache.requireFits(config.shardCache(), Runtime.getRuntime().maxMemory(), "this JVM's heap (a local master's executors share it)");
      long T = spec.steps();
      long B = config.batch();
      long H = model.hiddenSize();
      long GH = (long) model.cell().gates() * H;
      bytes += 4 * (model.numLayers() * (T + 1) * B * (GH + 4 * H) + T * B * (spec.features() + 2L * model.outputSize()))
          + 12L * params * config.virtualPartitions() + cacheGrowth(config.shardCache(), datasetBytes);
    }
    MemoryBudget.require("training " + model.cell().id() + " with hidden-size " + model.hiddenSize() + ", "
        + model.numLayers() + " layer(s) (" + params + " parameters), batch " + config.batch() + " of T=" + spec.steps(),
        bytes, "lower --hidden-size, --num-layers, --batch or --shard-cache");
  }

  /**
   * What this JVM's shard cache may still grow by: its bound, or the whole dataset when smaller
   * (the shard files' bytes, about their decoded size), less what it holds already (in use now).
   */
  static long cacheGrowth(ShardCache.Size size, long datasetBytes) {
    return Math.max(0, Math.min(size.resolve(Runtime.getRuntime().maxMemory()), datasetBytes) - ShardCache.JVM.held());
  }

  /**
   * The weights of {@code --init} ({@code given}, read from {@code init}: a model file, or a directory holding
   * {@value TrainedModel#MODEL_FILE}), checked against the run: the file's configuration (cell,
   * layers, H, F, O, mode, loss: its names and shapes are checked as it is read) must be the
   * run's, and a normalisation it records must be the dataset's (its weights expect inputs in those
   * units). A file without one (imported from PyTorch, or trained on raw data) is taken as it is,
   * with a warning where the dataset is normalised: evaluate and predict refuse that pair, and here
   * the weights start from inputs in other units (a user audit found it silent).
   */
  static Params warmStart(TrainedModel given, String init, ModelConfig model, Dataset dataset, PrintStream log) {
    ModelConfig c = given.config();
    String where = "init: " + init + " ";
    checkSame(where, "cell", c.cell().id(), model.cell().id());
    checkSame(where, "num-layers", c.numLayers(), model.numLayers());
    checkSame(where, "hidden-size", c.hiddenSize(), model.hiddenSize());
    checkSame(where, "input_size F", c.inputSize(), model.inputSize());
    checkSame(where, "output_size O", c.outputSize(), model.outputSize());
    checkSame(where, "mode", c.mode().id(), model.mode().id());
    checkSame(where, "loss", c.loss().id(), model.loss().id());
    Normalization recorded = given.normalization();
    Normalization data = dataset.manifest().normalization();
    if (recorded != null && !recorded.equals(data)) {
      throw new BadInputException(where + "was trained on data normalised with " + Compatibility.describe(recorded)
          + ", the dataset " + dataset.location() + " is normalised with " + Compatibility.describe(data)
          + "; prepare the data with the model's statistics");
    }
    if (recorded == null && data != null) {
      log.println("warning: " + where + INIT_WITHOUT_STATISTICS + ", and the"
          + " dataset " + dataset.location() + " is normalised: its weights start from inputs in other units than they"
          + " learnt; prep the data without --normalize to keep them, or import the model with its normalisation (--config)");
    }
    return given.params();
  }

  /**
   * The model a warm start begins from: a model file, or a directory that holds one
   * ({@link TrainedModel#load}); a missing path, or a directory without the file, is refused as bad
   * input naming it and {@code name} (the option, or the setter that gave it).
   */
  public static TrainedModel loadInitial(String uri, Configuration hadoop, String name) throws IOException {
    if (!HadoopFiles.exists(uri, hadoop)) {
      throw new BadInputException(name + ": the initial model " + uri + " does not exist; expected a model file"
          + " (model.safetensors of train or import) or a directory that holds one");
    }
    try {
      return TrainedModel.load(uri, hadoop);
    } catch (FileNotFoundException e) {   // a directory without model.safetensors (TrainedModel.modelFile)
      throw new BadInputException(name + ": the initial model " + e.getMessage(), e);
    }
  }

  private static void checkSame(String where, String field, Object inFile, Object inRun) {
    if (!inFile.equals(inRun)) {
      throw new BadInputException(where + "has " + field + " " + inFile + ", the run has " + field + " " + inRun
          + " (from the configuration and the dataset)");
    }
  }

  /** The parameters step 0 starts from: a copy of {@code --init}'s, else a seeded initialisation. */
  Params startingParams() {
    return initial == null ? Params.initialize(model, config.seed()) : new Params(model, initial.values().clone());
  }

  private static void checkClosedLoopFits(ModelConfig model, DatasetSpec spec, int feedback) {
    if (model.mode() != Mode.SEQ2SEQ) {
      throw new BadInputException("feedback: closed-loop validation needs a seq2seq model");
    }
    if (model.inputSize() != model.outputSize()) {
      throw new BadInputException("feedback: closed-loop validation feeds outputs back as inputs and needs F == O, the data has F="
          + model.inputSize() + ", O=" + model.outputSize());
    }
    if (feedback >= spec.steps()) {
      throw new BadInputException("feedback: " + feedback + " self-driven steps leave no input-driven step in T=" + spec.steps());
    }
  }

  public TrainConfig config() {
    return config;
  }

  public ModelConfig model() {
    return model;
  }

  public long totalSteps() {
    return totalSteps;
  }

  /** What a finished run reports. */
  public record Summary(long steps, double finalLoss, double validationLoss, double sequencesPerSecond, Set<String> devices,
      String modelPath) {}

  /**
   * Runs the training loop on an existing Spark context. Its jobs carry the caller's job group and
   * tags (a notebook's cancel reaches them; a cancelled job stops the run) and their own
   * descriptions, the caller's put back at the end ({@link JobScope}).
   */
  public Summary run(JavaSparkContext sc) throws IOException {
    JobScope scope = JobScope.open(sc, "train");
    try {
      return runInScope(sc);
    } catch (Exception e) { // also what Scala throws undeclared: a SparkException, runJob's InterruptedException
      if (BarrierTraining.cancelled(e, sc.sc().isStopped())) {
        scope.cancel();                    // an interrupt leaves the job it broke off from running
      }
      throw e;
    } finally {
      scope.close();
    }
  }

  private Summary runInScope(JavaSparkContext sc) throws IOException {
    lastDriverBytesPerStep = 0;
    boolean barrier = config.sync().equals("barrier");
    int partitions = partitions(sc);
    DatasetRef data = DatasetRef.shared(sc, dataset); // to each executor once, not in every step's closure
    // one partition meets only itself: its task merges locally and no exchange server is started
    GradientExchange.Server exchange = null;
    try {
      if (barrier) {   // before the exchange starts: its spark.authenticate warning preceded this refusal (an audit)
        BarrierTraining.checkCanRun(sc.getConf(), sc.master(), partitions);
      }
      exchange = barrier && partitions > 1 ? startExchange(sc.getConf()) : null;
      Summary summary = run(sc, barrier, partitions, exchange, data);
      if (exchange != null) {
        GradientExchange.Server.Traffic t = exchange.traffic();
        lastDriverBytesPerStep = t.bytesPerStep();
        log.printf(Locale.ROOT, "gradient exchange: %.1f kB per step through the driver (%d partitions; %s in, %s out over %d steps"
            + " answered, a retried segment's again)%n",
            t.bytesPerStep() / 1e3, partitions, MemoryBudget.size(t.bytesIn()), MemoryBudget.size(t.bytesOut()), t.steps());
      }
      return summary;
    } catch (HadoopFiles.WriteException e) {
      throw new HadoopFiles.WriteException(e.getMessage() + ". " + checkpointStatus() + ".", e);
    } catch (BarrierTraining.SlotsRefusedException e) {   // executors lost mid-run: where to resume once the cluster is back
      String m = e.getMessage().strip();   // Spark's text ends in a period
      throw new BarrierTraining.SlotsRefusedException(m + (m.endsWith(".") ? " " : ". ") + checkpointStatus() + ".",
          e.getCause());
    } finally {
      data.release();
      if (exchange != null) {
        exchange.close();
      }
    }
  }

  /** Spark setting: the driver port of the --sync barrier gradient exchange (default 0: any free port). */
  public static final String EXCHANGE_PORT = "spark.sparkrnn.exchange.port";

  /**
   * The --sync barrier gradient exchange, listening where Spark's driver listens
   * ({@code spark.driver.bindAddress}, else {@code spark.driver.host}) and advertised to executors
   * at {@code spark.driver.host}, the address they already reach the driver at.
   */
  private GradientExchange.Server startExchange(SparkConf conf) throws IOException {
    GradientExchange.checkNoEncryptionAsked(conf);
    String secret = GradientExchange.sparkSecret();
    if (secret == null) {
      log.println("warning: spark.authenticate is off: the --sync=barrier gradient exchange admits tasks that prove they know"
          + " the segment's random key, which reaches them in the segment's broadcast (readable by whoever can reach Spark's"
          + " block manager, as is everything in an unauthenticated Spark); set spark.authenticate=true to derive the keys from"
          + " Spark's secret instead (docs/cluster.md)");
    }
    long stepTimeout = stepTimeoutSeconds(conf);
    int port = exchangePort(conf);
    String host = conf.get("spark.driver.host", InetAddress.getLocalHost().getHostAddress());
    return openExchange(conf.get("spark.driver.bindAddress", host), host, port, secret, stepTimeout * 1000);
  }

  /** The exchange server, a port already taken refused as bad input naming the setting (a user audit: "Address already in use"). */
  static GradientExchange.Server openExchange(String bindHost, String host, int port, String secret, long stepTimeoutMillis)
      throws IOException {
    try {
      return new GradientExchange.Server(bindHost, host, port, secret, stepTimeoutMillis);
    } catch (BindException e) {
      throw new BadInputException("the --sync barrier gradient exchange cannot listen on " + bindHost + ":" + port + " (" + e.getMessage()
          + "): set " + EXCHANGE_PORT + " to a free port, or 0 for any, or spark.driver.bindAddress to an address of this host");
    }
  }

  /** {@link GradientExchange#STEP_TIMEOUT}, checked: a time of at least 1 second. */
  static long stepTimeoutSeconds(SparkConf conf) {
    long seconds;
    try {
      seconds = conf.getTimeAsSeconds(GradientExchange.STEP_TIMEOUT, GradientExchange.DEFAULT_STEP_TIMEOUT_SECONDS + "s");
    } catch (NumberFormatException e) {   // a user audit: a stack trace and exit 1
      throw new BadInputException(GradientExchange.STEP_TIMEOUT + ": expected a time such as 600s or 10min, found '"
          + conf.get(GradientExchange.STEP_TIMEOUT) + "'");
    }
    if (seconds < 1) {
      throw new BadInputException(GradientExchange.STEP_TIMEOUT + ": expected at least 1 second, found " + seconds);
    }
    return seconds;
  }

  /** Refuses exchange settings no --sync barrier run can use, before a command takes its lock. */
  public static void checkExchangeSettings(SparkConf conf) {
    exchangePort(conf);
    stepTimeoutSeconds(conf);
  }

  /** {@link #EXCHANGE_PORT}, checked: a port number, or 0 for any free port. */
  static int exchangePort(SparkConf conf) {
    String given = conf.get(EXCHANGE_PORT, "0").strip();
    int port;
    try {
      port = Integer.parseInt(given);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {   // a user audit: "port out of range:99999" with a stack trace
      throw new BadInputException(EXCHANGE_PORT + ": expected a port in [0, 65535] (0: any free port), found '" + given + "'");
    }
    return port;
  }

  private Summary run(JavaSparkContext sc, boolean barrier, int partitions, GradientExchange.Server exchange, DatasetRef data)
      throws IOException {
    if (ExecutorRuntime.localThreads(sc.master()) == 0) { // a local master's executors share the heap checkMemory looked at
      ShardCache.requireFits(config.shardCache(), sc.getConf().getSizeAsBytes("spark.executor.memory", "1g"),
          "the executors' heap (spark.executor.memory)");
    }
    new VirtualPartitions(config.batch(), config.virtualPartitions()).requireTasks(partitions); // before auto's timing job
    Checkpoints.Saved saved = config.resume() ? checkpoints.loadLatest() : null;
    if (saved != null) {
      checkResumable(saved, sc.hadoopConfiguration());
    }
    String device = resolveDevice(sc, partitions, saved);
    resumeWarning = saved == null ? null : otherKernels(saved, device);
    if (resumeWarning != null) {
      log.println(resumeWarning);
    }
    ShardPlacement placement = new ShardPlacement();
    sc.sc().register(placement, "spark-rnn shard cache");
    // the run's own counters in each executor's cache (which outlives the run); never 0, the id of reads outside training
    long runId = new SecureRandom().nextLong() | 1;
    GradientTask.Context context = trainingContext(sc, partitions, device, new ShardCache.Use(config.shardCache(), runId, placement), data);
    Map<Integer, String> placedAt = Map.of();
    JavaRDD<Integer> slots = ShardPlacement.slots(sc, partitions, placedAt);

    checkpoints.pauseMidWriteAt(TestHooks.step(sc.getConf(), Checkpoints.TEST_PAUSE_AT_STEP), log);
    StepUpdate update = new StepUpdate(config, totalSteps);
    Params params = startingParams();
    if (initial != null) {
      log.printf(Locale.ROOT, "starting from the weights of %s%n", config.init());
    }
    Optimizer optimizer = update.newOptimizer();
    long step = 0;
    float[] carriedH = null;
    float[] carriedC = null;
    String resumedFrom = null;   // for report.md: "step N (file)"
    if (config.resume()) {
      if (saved != null) {
        resumedFrom = "step " + saved.completedSteps() + " (" + saved.file() + ")";
        params = saved.params();
        optimizer.load(saved.optimizer());
        step = saved.completedSteps();
        carriedH = saved.carriedH();
        carriedC = saved.carriedC();
        metrics.load(out, step);
        log.printf(Locale.ROOT, "resumed from %s at step %d%n", saved.file(), step);
      } else {
        log.printf(Locale.ROOT, "--resume: no checkpoint in %s yet; starting at step 0%n", out.path(Checkpoints.DIR));
      }
    }
    String threads = jvmEngineThreads(config.engine(), device, context.engineThreads(), sc.master());
    // the reference engine computes in float64 on the JVM whatever --device says (a numerical audit: "reference on jvm")
    String engineOn = config.engine().equals("reference") ? "reference (float64, JVM)" : config.engine() + " on " + device;
    log.printf(Locale.ROOT, "training %s: %d steps (%d per epoch), batch %d, %s, %d partition%s of %d virtual, engine %s%s, master %s,"
        + " sync %s%n", describeModel(), totalSteps, schedule.stepsPerEpoch(), config.batch(), describeOptimizer(), partitions,
        partitions == 1 ? "" : "s", config.virtualPartitions(), engineOn, threads == null ? "" : " (" + threads + ")", sc.master(),
        config.sync());

    StepSync sync = barrier
        ? new BarrierSync(sc, context, exchange, partitions, update, config, model, schedule, totalSteps, metrics::addSegment, log)
        : new JobSync(sc, context, update, model, schedule, totalSteps);
    Set<String> devices = new TreeSet<>();
    double lastLoss = Double.NaN;
    double lastValidation = Double.NaN;
    boolean closedLoopRefusalTold = false;
    long startNanos = System.nanoTime();
    long stepsThisRun = 0;
    long sequencesThisRun = 0;
    long skipped = 0;
    long lastAppliedStep = 0;
    boolean loopEnded = false;
    long checkpointedStep = step;   // the step of the newest checkpoint (or the resumed one's): none to write again
    java.util.concurrent.atomic.AtomicBoolean endRequested = new java.util.concurrent.atomic.AtomicBoolean();
    StopFlush stopFlush = StopFlush.register(metrics, out, log, () -> {
      if (endRequested.compareAndSet(false, true)) {
        BarrierTraining.requestEnd(true);
      }
      if (exchange != null) {
        exchange.endSegments();
      }
    });
    if (checkpointWords != RESUME_WORDS) {
      stopFlush.finalFilesAdvice(() -> afterSemicolon(checkpointStatus()));
    }
    try {
      while (step < totalSteps) {
        ObjLongConsumer<StopFlush> probe = beforeStepForTests;
        if (probe != null) {
          probe.accept(stopFlush, step + 1);
        }
        Map<Integer, String> placed = placement.value().partitions();
        if (!placed.equals(placedAt)) { // each partition prefers the executor whose cache holds its shards
          placedAt = placed;
          slots = ShardPlacement.slots(sc, partitions, placedAt);
        }
        StepSync.Advanced advanced = sync.advance(slots, step, new StepSync.State(params, optimizer, carriedH, carriedC), devices);
        params = advanced.state().params();
        optimizer = advanced.state().optimizer();
        carriedH = advanced.state().carriedH();
        carriedC = advanced.state().carriedC();
        List<StepRecord> records = advanced.records();
        String dataError = advanced.dataError();
        for (int k = 0; k < records.size(); k++) {
          StepRecord r = records.get(k);
          boolean segmentEnd = k == records.size() - 1;
          step = r.step();
          if (r.status() == StepUpdate.Status.EMPTY) {
            log.printf(Locale.ROOT, "step %d: no valid time steps in this window; no update%n", step);
            if (checkpointIfDue(step, totalSteps, segmentEnd, params, optimizer, carriedH, carriedC, device)) {
              checkpointedStep = step;
            }
            continue;
          }
          if (r.status() != StepUpdate.Status.APPLIED) {
            String what = "step " + step + ": " + (Double.isFinite(r.loss()) ? "gradient norm is " + r.norm() : "loss is " + r.loss());
            if (r.status() == StepUpdate.Status.SKIPPED) {
              long skippedStep = step;
              stopFlush.step(() -> metrics.addNonFinite(skippedStep, schedule.epochOf(skippedStep - 1), r.loss(), r.norm(), "skipped"),
                  () -> log.println(what + "; skipping the update (--on-nan=skip)"));
              skipped++;
              // a checkpoint due at a skipped step is written as at any other (the state is the last applied
              // step's, finite): it was left out, and a run killed later resumed from the one before (a user audit)
              if (checkpointIfDue(step, totalSteps, segmentEnd, params, optimizer, carriedH, carriedC, device)) {
                checkpointedStep = step;
              }
              continue;
            }
            long stoppedStep = step;
            stopFlush.step(() -> metrics.addNonFinite(stoppedStep, schedule.epochOf(stoppedStep - 1), r.loss(), r.norm(), "stopped"),
                () -> { });
            throw new NonFiniteException(what + "; stopping. " + checkpointStatus()
                + " (use --on-nan skip to skip such steps, or lower --lr); metrics.jsonl has the steps up to this one");
          }
          lastLoss = r.loss();
          lastAppliedStep = step;
          stepsThisRun++;
          sequencesThisRun += config.batch();
          double seqPerSec = config.batch() / (r.nanos() / 1e9) / schedule.windowsPerBatch();
          Double valLoss = null;
          Double valAcc = null;
          Double closedLoss = null;
          if (config.validateEvery() > 0 && (step % config.validateEvery() == 0 || step == totalSteps)) {
            requireSegmentEnd(segmentEnd, step, "validation");
            Validation.Result v = Validation.run(sc, slots, context, model, params, config.feedback());
            if (v != null) {
              valLoss = v.teacherForced().meanLoss();
              valAcc = v.teacherForced().predictions() > 0 ? v.teacherForced().accuracy() : null;
              closedLoss = v.closedLoop() == null ? null : v.closedLoop().meanLoss();
              lastValidation = valLoss;
              if (v.closedLoopRefused() != null && !closedLoopRefusalTold) {
                // a fact about the model, not a reason to end the run (which lost the step validated: a review); told
                // once, since every later validation of the same kind of model is likely to meet it again
                closedLoopRefusalTold = true;
                log.println("warning: step " + step + ": the closed-loop loss is not measured: " + v.closedLoopRefused()
                    + ". Training goes on; metrics.jsonl has no closed_loop_loss at validations where this happens"
                    + " (--feedback=0 leaves the closed loop out)");
              }
            }
          }
          // the row under the lock of the hook that writes the rows on a signal, then its line
          long recorded = step;
          Double vl = valLoss;
          Double va = valAcc;
          Double cl = closedLoss;
          double eta = (System.nanoTime() - startNanos) / 1e9 / stepsThisRun * (totalSteps - step);
          stopFlush.step(() -> {
            metrics.add(recorded, schedule.epochOf(recorded - 1), r.loss(), r.norm(), seqPerSec, r.nanos() / 1e6, vl, va, cl);
            metrics.addTiming(r.nanos(), r.computeNanos(), r.reduceNanos(), r.updateNanos());
          }, () -> {
            if (recorded % config.logEvery() == 0 || recorded == totalSteps || vl != null) {
              log.println(progressLine(recorded, r.loss(), r.norm(), seqPerSec, vl, va, cl, eta));
            }
          });
          if (LOG.isDebugEnabled()) {
            LOG.debug(String.format(Locale.ROOT, "step %d: loss %.6g, |g| %.4g, %.2f ms (compute %.2f, reduction %.2f, update %.2f)",
                step, r.loss(), r.norm(), r.nanos() / 1e6, r.computeNanos() / 1e6, r.reduceNanos() / 1e6, r.updateNanos() / 1e6));
          }
          if (checkpointIfDue(step, totalSteps, segmentEnd, params, optimizer, carriedH, carriedC, device)) {
            checkpointedStep = step;
          }
        }
        if (dataError != null) {
          throw new ShardDataException(dataError);
        }
        // the last step needs no stop checkpoint: the run's end writes it with the model and report, which the hook then
        // waits for (a stop here left the run that trained with no model or report: a review)
        if (step < totalSteps && stopFlush.checkpointNow()) {
          // the JVM is shutting down (a signal) and the state is that of step `step`: checkpoint it, so that
          // --resume goes on from here rather than from the last scheduled checkpoint (StopFlush)
          try {
            metrics.write(out);
            if (step > checkpointedStep) {
              checkpoints.save(step, params, optimizer.state(), carriedH, carriedC, checkpointConfig(device));
            }
          } finally {
            stopFlush.checkpointed();   // before the line: a print held by an undrained stdout must not hold the hook
          }
          if (step > 0) {
            log.printf(Locale.ROOT, "stopping at step %d of %d: the JVM is shutting down; %s%n", step, totalSteps,
                stopAdvice(out.path(Checkpoints.DIR + "/" + Checkpoints.fileName(step)).toString()));
          }
          throw new StopFlush.Stopping();
        }
      }
      loopEnded = true;
      stopFlush.finishing();   // a signal from here on waits for the files below rather than ask for a checkpoint
    } finally {
      if (!loopEnded) {
        // however the loop ended early (a NaN stop, a SparkException Scala throws undeclared, Ctrl-C
        // stopping the context, an Error), the steps since the last checkpoint stay readable, above
        // all those that led to a NaN stop; resume keeps only the rows up to its checkpoint's step
        stopFlush.writeRowsOnce("after the failure");
        stopFlush.close();
      }
      if (endRequested.get()) {   // this run's request only: another run's in this JVM stays (a review)
        BarrierTraining.requestEnd(false);
      }
    }
    try {   // the hook waits for these files (StopFlush.finishing): a signal now no longer cuts the report off (an audit)
      boolean nothingTrained = stepsThisRun == 0 && skipped == 0;
      // a --resume with nothing to train leaves the run's files as the run that trained wrote them: rewritten,
      // its checkpoint recorded this resume's --data as the data trained on, and a later --resume on the
      // real data was refused (a docs audit); a model lost after that checkpoint (a kill) is written again
      boolean resumedFinished = nothingTrained && resumedFrom != null;
      if (!resumedFinished) {
        metrics.write(out);
        checkpoints.save(step, params, optimizer.state(), carriedH, carriedC, checkpointConfig(device));
      }
      if (!resumedFinished || !out.exists("model.safetensors")) {
        out.write("model.safetensors", ModelFile.toBytes(params, modelMetadata()));
      }
      double elapsed = (System.nanoTime() - startNanos) / 1e9;
      double throughput = elapsed > 0 ? sequencesThisRun / elapsed / schedule.windowsPerBatch() : 0;
      Map<String, ShardCache.Stats> cacheStats = placement.value().executors();
      lastCacheStats = cacheStats;
      cacheStats.forEach((where, st) -> log.printf(Locale.ROOT, "shard cache on %s: %s%n", where, st.describe()));
      String deviceLines = resumeWarning == null ? autoChoice : autoChoice == null ? resumeWarning : autoChoice + "\n" + resumeWarning;
      if (nothingTrained && out.exists(TrainReport.FILE)) {
        // --resume on a finished run: the report of the run that trained the model stays (rewritten, it had
        // this run's NaN step times and none of that run's devices or shard cache: a user audit)
        log.printf(Locale.ROOT, "%s: kept, the report of the run that trained to step %d%n", out.path(TrainReport.FILE), step);
      } else {
        TrainReport.write(out, config, model, metrics, devices, deviceLines, throughput, partitions, threads, sc.master(), cacheStats,
            resumedFrom);
      }
      if (nothingTrained) {   // --resume on a finished run: nothing trained, no loss or rate to report
        log.printf(Locale.ROOT, "done: the checkpoint is at step %d of %d already, nothing to train; model %s%n", step, totalSteps,
            out.path("model.safetensors"));
      } else {
        // under --on-nan skip the last step may not be the last applied one: say which the loss is from
        String loss = skipped == 0 ? String.format(Locale.ROOT, "loss %.6g", lastLoss)
            : stepsThisRun == 0 ? "every update of this run skipped (--on-nan=skip), " + skipped + " of them"
            : String.format(Locale.ROOT, "%d skipped in this run (--on-nan=skip), loss %.6g at step %d, the last applied", skipped,
                lastLoss, lastAppliedStep);
        log.printf(Locale.ROOT, "done: %d steps, %s%s, %.1f sequences/s; model %s%n", step, loss,
            Double.isNaN(lastValidation) ? "" : String.format(Locale.ROOT, ", validation %.6g", lastValidation), throughput,
            out.path("model.safetensors"));
      }
      return new Summary(step, lastLoss, lastValidation, throughput, devices, out.path("model.safetensors").toString());
    } finally {
      stopFlush.close();
    }
  }

  /**
   * The JVM engine's threads per task in words, or null where the tasks run no JVM engine (the
   * reference engine, an OpenCL device). On a local master the tasks run in this JVM, so the count
   * is the one they use: Spark's ({@code fromSpark}) capped at the cores, or
   * {@code -Dsparkrnn.jvm.threads} ({@link JvmEngine#threadsFor}). On a cluster each executor
   * resolves it, and its own -Dsparkrnn.jvm.threads, which the driver cannot see, would win.
   */
  static String jvmEngineThreads(String engine, String device, int fromSpark, String master) {
    if (!engine.equals("kernel") || !device.equals("jvm")) {
      return null;
    }
    if (ExecutorRuntime.localThreads(master) > 0) {
      int n = JvmEngine.threadsFor(fromSpark);
      return n + " JVM engine thread" + (n == 1 ? "" : "s") + " per task";
    }
    return fromSpark + " JVM engine thread" + (fromSpark == 1 ? "" : "s") + " per task (spark.task.cpus, capped at each host's"
        + " cores; an executor's -Dsparkrnn.jvm.threads overrides it)";
  }

  /** The line of {@code --device auto}'s measurement in the last {@link #run}, or null when the device was named. */
  private String autoChoice;

  /**
   * The key of a checkpoint's train config that records the device {@code --device auto} picked,
   * so that {@code --resume} runs the same kernels (the GPU's and the JVM engine's float32 sums
   * differ in their last bits) instead of timing again, which can pick the other.
   */
  static final String AUTO_PICKED_KEY = "device-auto-picked";

  /**
   * The key of a checkpoint's train config that records the dataset's {@link io.sparkrnn.data.Manifest#fingerprint}:
   * {@code --resume} then continues on the same data wherever it lies now, and refuses a directory
   * whose contents were replaced (prepared again from other data or with other options).
   */
  static final String DATA_FINGERPRINT_KEY = "data-fingerprint";

  /** The train config a checkpoint records: the options, the dataset's fingerprint, and the device auto picked. */
  Map<String, String> checkpointConfig(String device) {
    Map<String, String> m = new LinkedHashMap<>(config.toMap());
    m.put(DATA_FINGERPRINT_KEY, dataFingerprint);
    if (autoChoice != null) {
      m.put(AUTO_PICKED_KEY, device);
    }
    return m;
  }

  /**
   * {@code --device}, or for {@code --engine kernel --device auto} the device {@link io.sparkrnn.kernel.device.AutoDevice}
   * picks by timing a few steps of this run's shape (the sequences of one partition and its
   * virtual partitions, the first window's T, the tasks' JVM engine threads and how many run at
   * once) in one executor ({@link AutoDeviceJob}); logged, and recorded in the report and the
   * checkpoints. A run resumed from a checkpoint runs the device the checkpoint's run computed on
   * (auto's pick, or the device it named), untimed, where the executors have it; else it times
   * again, logged. Every executor runs the picked device, so every partition computes with the same
   * kernels.
   */
  private String resolveDevice(JavaSparkContext sc, int partitions, Checkpoints.Saved saved) {
    autoChoice = null;
    if (!config.engine().equals("kernel") || !config.device().equals("auto")) {
      return config.device();
    }
    String recorded = saved == null ? null : resumedDevice(saved);
    String notThere = null;
    if (recorded != null) {
      String missing = AutoDeviceJob.missingIn(sc, recorded);
      if (missing == null) {
        autoChoice = "--device auto: " + recorded + " (the device of the run's start, recorded in " + saved.file()
            + "; not timed again, so the resumed run computes with the same kernels; --device names another)";
        log.println(autoChoice);
        return recorded;
      }
      // a warning, and in the report beside the pick: the bits of the rest of the run may differ
      notThere = "warning: --device auto: " + saved.file() + " was computed on " + recorded + ", which " + missing
          + " cannot run; the engines were timed again, so the resumed run's last bits may differ from an uninterrupted run's";
      log.println(notThere);
    }
    int[] groups = new VirtualPartitions(config.batch(), config.virtualPartitions()).bounds(0, partitions);
    int threads = ExecutorRuntime.engineThreads(sc.getConf(), sc.master(), partitions);
    AutoDeviceJob.Picked picked = AutoDeviceJob.choose(sc, model, groups[groups.length - 1], schedule.windowLength(0), config.seed(),
        false, threads, partitions, groups);
    log.println(picked.line());
    autoChoice = notThere == null ? picked.line() : picked.line() + "\n" + notThere;
    return picked.device();
  }

  /** The warning of a resume that computes with other kernels than its checkpoint's run ({@link #otherKernels}), or null. */
  private String resumeWarning;

  /**
   * A warning when this run computes with other kernels than the checkpoint's run did: another
   * engine, or the kernel engine on another device (their float32 sums differ in the last bits, so
   * the weights stop matching an uninterrupted run's). Not refused as the settings of
   * {@link #RESUME_KEYS} are: a run may have to move, say from a GPU host to a cluster without one.
   * Null where the kernels are the same, where --device auto chose them (resolveDevice says why it
   * could not take the checkpoint's), or where the checkpoint does not say which it used (an auto
   * run of an earlier version).
   */
  String otherKernels(Checkpoints.Saved saved, String device) {
    String wasEngine = saved.trainConfig().getOrDefault("engine", "kernel");
    String was = wasEngine.equals("kernel") ? resumedDevice(saved) : null;
    String now = config.engine().equals("kernel") ? device : null;
    boolean sameEngine = wasEngine.equals(config.engine());
    // --device auto took the checkpoint's device, or timed again and warned why (resolveDevice)
    if (sameEngine && (was == null || was.equals(now) || config.device().equals("auto"))) {
      return null;
    }
    String asItDid = wasEngine.equals("kernel") ? (was == null ? null : "--engine=kernel --device=" + was) : "--engine=" + wasEngine;
    String why = sameEngine ? "their float32 sums differ in the last bits"
        : "the reference engine computes in float64 and the kernels in float32";
    return "warning: resume: " + saved.file() + " was computed " + kernels(wasEngine, was) + ", this run computes "
        + kernels(config.engine(), now) + ": " + why + ", so the weights will not be bit-identical to an uninterrupted run's"
        + (asItDid == null ? "" : " (" + asItDid + " computes as it did)");
  }

  private static String kernels(String engine, String device) {
    return "with the " + engine + " engine" + (device == null ? "" : " on " + device);
  }

  /**
   * The device a checkpoint's run computed on, where it says: auto's pick ({@link #AUTO_PICKED_KEY}),
   * or the device it named; null for a checkpoint of an auto run written before picks were recorded, or of the
   * reference engine (which ran on no device).
   *
   * @throws BadInputException naming the checkpoint where the recorded device is not one
   */
  static String resumedDevice(Checkpoints.Saved saved) {
    String engine = saved.trainConfig().get("engine");
    if (engine != null && !engine.equals("kernel")) {
      return null; // the reference engine ran on no device: its --device was never used
    }
    String picked = saved.trainConfig().get(AUTO_PICKED_KEY);
    String named = saved.trainConfig().get("device");
    String device = picked != null ? picked : named != null && !named.equals("auto") ? named : null;
    if (device != null && !Set.of("gpu", "jvm", "cpu-opencl").contains(device)) {
      throw new BadInputException("resume: " + saved.file() + ": the train config's " + (picked != null ? AUTO_PICKED_KEY : "device")
          + " is '" + device + "'; expected gpu, cpu-opencl or jvm");
    }
    return device;
  }

  /**
   * What every task of this run needs: the data, the engine, the partition and virtual partition
   * counts (refusing more partitions than virtual partitions) and the JVM engine's threads.
   */
  GradientTask.Context trainingContext(JavaSparkContext sc, int partitions, DatasetRef data) {
    return trainingContext(sc, partitions, config.device(), ShardCache.Use.DEFAULT, data);
  }

  /**
   * As above, the kernels on {@code device} ({@code --device}, or what auto picked), the run's
   * shard cache, and the dataset as the tasks get it.
   */
  GradientTask.Context trainingContext(JavaSparkContext sc, int partitions, String device, ShardCache.Use cache, DatasetRef data) {
    new VirtualPartitions(config.batch(), config.virtualPartitions()).requireTasks(partitions);
    return new GradientTask.Context(data, config.engine(), device, partitions, config.virtualPartitions(),
        ExecutorRuntime.engineThreads(sc.getConf(), sc.master(), partitions), cache);
  }

  /**
   * The partition count: {@code --partitions}, or by default 1 on a local master (one JVM, whose
   * engine already spreads each call over every core) and on a cluster the context's default
   * parallelism, at most the virtual partitions (each task computes at least one).
   */
  public int partitions(JavaSparkContext sc) {
    if (config.partitions() > 0) {
      return config.partitions();
    }
    return ExecutorRuntime.localThreads(sc.master()) > 0 ? 1
        : Math.max(1, Math.min(ExecutorRuntime.defaultParallelism(sc), config.virtualPartitions()));
  }

  /**
   * Writes the checkpoint {@code --checkpoint-every} makes due after {@code step} (not the last step,
   * whose checkpoint the run's end writes), whatever the step did: applied, skipped, or empty.
   * Returns whether it wrote one.
   */
  private boolean checkpointIfDue(long step, long totalSteps, boolean segmentEnd, Params params, Optimizer optimizer, float[] carriedH,
      float[] carriedC, String device) throws IOException {
    if (config.checkpointEvery() <= 0 || step % config.checkpointEvery() != 0 || step >= totalSteps) {
      return false;
    }
    requireSegmentEnd(segmentEnd, step, "checkpoint");
    // the metrics first: a driver lost between the two then resumes from the previous checkpoint,
    // whose rows metrics.jsonl holds (resume keeps those up to its step); in the other order a loss
    // just after the checkpoint resumed past rows never written
    metrics.write(out);
    checkpoints.save(step, params, optimizer.state(), carriedH, carriedC, checkpointConfig(device));
    return true;
  }

  private static void requireSegmentEnd(boolean segmentEnd, long step, String what) {
    if (!segmentEnd) {
      throw new IllegalStateException("a " + what + " at step " + step + " fell inside a barrier segment");
    }
  }

  /**
   * The merged raw sums of step 0 from freshly initialised parameters, on {@code partitions}
   * partitions: what the gradient-averaging tests compare with a single machine.
   */
  public GradientSum firstStepSums(JavaSparkContext sc, int partitions) {
    DatasetRef data = DatasetRef.shared(sc, dataset);
    try {
      GradientTask.Context context = trainingContext(sc, partitions, data);
      JavaRDD<Integer> slots = sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions);
      Params params = startingParams();
      Schedule.Chosen chosen = schedule.sequences(0);
      StepInput input = new StepInput(0, model, params.values().clone(), chosen.shards(), chosen.rows(), 0, schedule.windowLength(0),
          null, null, false);
      return StepMerge.total(JobSync.computeStep(sc, slots, context, input, null), context.virtualPartitions());
    } finally {
      data.release();
    }
  }

  private Map<String, ShardCache.Stats> lastCacheStats = Map.of();

  /** Bytes per step through the driver's gradient exchange in the last {@link #run} (in + out), 0 without one. */
  private double lastDriverBytesPerStep;

  public double driverBytesPerStep() {
    return lastDriverBytesPerStep;
  }

  /** Each executor's shard cache counters (by Spark task location) over the last {@link #run}. */
  public Map<String, ShardCache.Stats> shardCacheStats() {
    return lastCacheStats;
  }

  /** The per-step metrics of the last {@link #run}. */
  public TrainingMetrics metrics() {
    return metrics;
  }

  public Dataset dataset() {
    return dataset;
  }

  public Schedule schedule() {
    return schedule;
  }

  private Map<String, String> modelMetadata() {
    return ModelMetadata.fromManifest(dataset.manifest());
  }

  private void checkResumable(Checkpoints.Saved saved, Configuration hadoop) {
    Map<String, String> now = config.toMap();
    List<String> differ = new ArrayList<>();
    String recordedData = saved.trainConfig().get(DATA_FINGERPRINT_KEY);
    String fingerprint = dataFingerprint;
    if (recordedData != null && !recordedData.equals(fingerprint)) {
      String was = qualified(String.valueOf(saved.trainConfig().get("data")), hadoop);
      differ.add("data (" + (was.equals(config.data()) ? config.data() + " was prepared again since the checkpoint's run"
          : config.data() + " holds other data than the checkpoint's run trained on, " + saved.trainConfig().get("data"))
          + ": its fingerprint is " + fingerprint + ", the checkpoint's " + recordedData + "; the shards, their splits, the"
          + " dimensions, the statistics or the vocabulary differ)");
    }
    Set<String> unused = unusedKeys(config);
    for (String key : RESUME_KEYS) {
      if (unused.contains(key)) {
        continue;   // changes no bit (the optimizer and the schedule, which choose, are compared themselves)
      }
      if (key.equals("virtual-partitions") && !saved.trainConfig().containsKey(key)) {
        differ.add(key + " (the checkpoint was written before virtual partitions, when a step's sums were added in partition"
            + " order; now " + now.get(key) + ")");
        continue;
      }
      if (key.equals("data") && recordedData != null) {
        // the fingerprint above judged the data; where it lies may change (copied to HDFS, a moved directory)
        String was = qualified(saved.trainConfig().get(key), hadoop);
        if (recordedData.equals(fingerprint) && !String.valueOf(now.get(key)).equals(was) && !movedSaid) {
          movedSaid = true;
          log.printf(Locale.ROOT, "resume: the checkpoint's run read %s; %s holds the same data (fingerprint %s)%n",
              saved.trainConfig().get(key), config.data(), fingerprint);
        }
        continue;
      }
      String was = saved.trainConfig().get(key);
      if (key.equals("data") && was != null) {
        was = qualified(was, hadoop);   // a checkpoint of an earlier version recorded data as given
      }
      if (!String.valueOf(now.get(key)).equals(String.valueOf(was))) {
        differ.add(key + " (checkpoint " + saved.trainConfig().get(key) + ", now " + now.get(key) + ")");
      }
    }
    if (config.lrSchedule().equals("cosine")) {
      // the cosine schedule spans the run's length: another length would change the learning rates
      for (String key : List.of("steps", "epochs")) {
        if (!String.valueOf(now.get(key)).equals(String.valueOf(saved.trainConfig().get(key)))) {
          differ.add(key + " (checkpoint " + saved.trainConfig().get(key) + ", now " + now.get(key) + "; lr-schedule cosine spans the run)");
        }
      }
    }
    if (!differ.isEmpty()) {
      throw new BadInputException("resume: " + saved.file() + " was trained with other settings: " + String.join(", ", differ));
    }
  }

  /** {@code data} fully qualified as {@link Dataset#location} gives it, or as it is where that cannot be done. */
  private static String qualified(String data, Configuration hadoop) {
    try {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(data);
      return FileSystems.get(p, hadoop).makeQualified(p).toString();
    } catch (IOException | IllegalArgumentException e) {
      return data;
    }
  }

  /**
   * The update in force, as the run's first line says it: "adam lr 0.01", "sgd lr 0.1 momentum 0.9",
   * "adamw lr 0.01 weight-decay 0.01 cosine to 0.001" (a tuning grid's fits are told apart by it: a user audit).
   */
  private String describeOptimizer() {
    StringBuilder s = new StringBuilder(config.optimizer() + " lr " + config.lr());
    if (config.optimizer().equals("sgd") && config.momentum() != 0) {
      s.append(" momentum ").append(config.momentum());
    }
    if (config.weightDecay() != 0) {
      s.append(" weight-decay ").append(config.weightDecay());
    }
    if (config.lrSchedule().equals("cosine")) {
      s.append(" cosine to ").append(config.lrMin());
    }
    return s.toString();
  }

  private String describeModel() {
    return model.cell().id() + " " + model.numLayers() + "x" + model.hiddenSize() + " (F=" + model.inputSize() + ", O="
        + model.outputSize() + ", " + model.mode().id() + ", " + model.loss().id() + ")";
  }

  private String progressLine(long step, double loss, double norm, double seqPerSec, Double valLoss, Double valAcc,
      Double closedLoss, double etaSeconds) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "step %d/%d  epoch %d  loss %.5g  |g| %.3g", step, totalSteps, schedule.epochOf(step - 1) + 1, loss, norm));
    if (valLoss != null) {
      sb.append(String.format(Locale.ROOT, "  val %.5g", valLoss));
    }
    if (valAcc != null) {
      sb.append(String.format(Locale.ROOT, "  acc %.2f%%", 100 * valAcc));
    }
    if (closedLoss != null) {
      sb.append(String.format(Locale.ROOT, "  closed-loop %.5g", closedLoss));
    }
    sb.append(String.format(Locale.ROOT, "  %,.0f seq/s  ETA %s", seqPerSec, formatDuration(etaSeconds)));
    return sb.toString();
  }

  public static String formatDuration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60) : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }

  /** A NaN or infinite loss or gradient under --on-nan stop. */
  public static final class NonFiniteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NonFiniteException(String message) {
      super(message);
    }
  }
}
