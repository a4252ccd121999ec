package io.sparkrnn.job;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import io.sparkrnn.kernel.optim.Adam;
import io.sparkrnn.kernel.optim.GradientClipping;
import io.sparkrnn.kernel.optim.Optimizer;
import io.sparkrnn.kernel.optim.Sgd;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The training driver: synchronous data-parallel BPTT.
 *
 * <p>One step: broadcast the parameters and the step's global batch ({@link StepInput}); every
 * partition computes (loss sum, gradient sum, count) over its sequences ({@link GradientTask});
 * the results come back and are merged in partition order, so the sum is the same whatever order
 * tasks finish in; the driver divides by the total count (N partitions × B sequences give exactly
 * the mean over N·B sequences), clips by global norm, applies the optimizer, and destroys the
 * broadcast.
 *
 * <p>Call order: {@link #prepare} (validates everything, before Spark starts) → {@link #run}.
 */
public final class Trainer {
  /** Training keys that must match between a checkpoint and a resumed run for the result to be the same. */
  static final Set<String> RESUME_KEYS = Set.of("data", "cell", "num-layers", "hidden-size", "mode", "loss", "optimizer", "lr",
      "momentum", "beta1", "beta2", "eps", "weight-decay", "clip-norm", "batch", "tbptt", "seed", "partitions", "lr-schedule",
      "lr-min");

  private final TrainConfig config;
  private final Dataset dataset;
  private final ModelConfig model;
  private final Schedule schedule;
  private final long totalSteps;
  private final OutputDir out;
  private final Checkpoints checkpoints;
  private final PrintStream log;
  private final TrainingMetrics metrics = new TrainingMetrics();

  private Trainer(TrainConfig config, Dataset dataset, ModelConfig model, Schedule schedule, long totalSteps, OutputDir out,
      PrintStream log) {
    this.config = config;
    this.dataset = dataset;
    this.model = model;
    this.schedule = schedule;
    this.totalSteps = totalSteps;
    this.out = out;
    this.checkpoints = new Checkpoints(out);
    this.log = log;
  }

  /**
   * Validates the configuration against the dataset and the output directory, without starting
   * Spark: a bad key, a batch the data cannot fill, a model that does not fit the data, or an
   * output directory that already holds a run (without --resume) fails here.
   */
  public static Trainer prepare(Map<String, String> given, Configuration hadoop, PrintStream log) throws IOException {
    TrainConfig syntax = TrainConfig.parse(given, null); // every key's syntax, before touching the file system
    Dataset dataset = Dataset.open(syntax.data(), hadoop);
    DatasetSpec spec = dataset.manifest().spec();
    TrainConfig config = TrainConfig.parse(given, new TrainConfig.DatasetDefaults(spec.mode(), spec.loss()));
    if (config.mode() != spec.mode()) {
      throw new IllegalArgumentException("mode: the dataset " + config.data() + " is " + spec.mode().id() + ", the configuration says "
          + config.mode().id());
    }
    if (config.loss() != spec.loss()) {
      throw new IllegalArgumentException("loss: the dataset " + config.data() + " suits " + spec.loss().id()
          + " (its y is " + (spec.classTargets() ? "class ids" : "floats") + "), the configuration says " + config.loss().id());
    }
    ModelConfig model = new ModelConfig(config.cell(), config.numLayers(), spec.features(), config.hiddenSize(), spec.outputs(),
        config.mode(), config.loss());
    List<ShardInfo> all = dataset.manifest().shards();
    List<Integer> train = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).split() == Split.TRAIN) {
        train.add(i);
      }
    }
    if (train.isEmpty()) {
      throw new IllegalArgumentException("data: " + config.data() + " has no training shards");
    }
    int[] shardIndex = train.stream().mapToInt(Integer::intValue).toArray();
    int[] shardBatch = train.stream().mapToInt(i -> all.get(i).batch()).toArray();
    Schedule schedule = new Schedule(shardIndex, shardBatch, config.batch(), config.seed(), spec.steps(), config.tbptt());
    if (schedule.stepsPerEpoch() == 0) {
      throw new IllegalArgumentException("batch: " + config.batch() + " is more than the training split holds");
    }
    long total = config.steps() > 0 ? config.steps() : config.epochs() * schedule.stepsPerEpoch();
    OutputDir out = new OutputDir(config.out(), hadoop);
    boolean hasRun = !out.list(Checkpoints.DIR, "step-", ".safetensors").isEmpty() || out.exists("model.safetensors");
    if (hasRun && !config.resume()) {
      throw new IllegalArgumentException("out: " + out.dir() + " already holds a training run; pass --resume to continue it or choose another --out");
    }
    if (config.feedback() > 0) {
      checkClosedLoopFits(model, spec, config.feedback());
    }
    return new Trainer(config, dataset, model, schedule, total, out, log);
  }

  private static void checkClosedLoopFits(ModelConfig model, DatasetSpec spec, int feedback) {
    if (model.mode() != io.sparkrnn.kernel.model.Mode.SEQ2SEQ) {
      throw new IllegalArgumentException("feedback: closed-loop validation needs a seq2seq model");
    }
    if (model.inputSize() != model.outputSize()) {
      throw new IllegalArgumentException("feedback: closed-loop validation feeds outputs back as inputs and needs F == O, the data has F="
          + model.inputSize() + ", O=" + model.outputSize());
    }
    if (feedback >= spec.steps()) {
      throw new IllegalArgumentException("feedback: " + feedback + " self-driven steps leave no input-driven step in T=" + spec.steps());
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

  /** Runs the training loop on an existing Spark context. */
  public Summary run(JavaSparkContext sc) throws IOException {
    int partitions = config.partitions() > 0 ? config.partitions() : Math.max(1, sc.defaultParallelism());
    GradientTask.Context context = new GradientTask.Context(dataset, config.engine(), config.device(), partitions);
    JavaRDD<Integer> slots = sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions);

    checkpoints.pauseMidWriteAt(sc.getConf().getLong(Checkpoints.TEST_PAUSE_AT_STEP, -1), log);
    Params params = Params.initialize(model, config.seed());
    Optimizer optimizer = newOptimizer();
    long step = 0;
    float[] carriedH = null;
    float[] carriedC = null;
    if (config.resume()) {
      Checkpoints.Saved saved = checkpoints.loadLatest();
      if (saved != null) {
        checkResumable(saved);
        params = saved.params();
        optimizer.load(saved.optimizer());
        step = saved.completedSteps();
        carriedH = saved.carriedH();
        carriedC = saved.carriedC();
        metrics.load(out, step);
        log.printf("resumed from %s at step %d%n", saved.file(), step);
      } else {
        log.printf("--resume: no checkpoint in %s yet; starting at step 0%n", out.path(Checkpoints.DIR));
      }
    }
    log.printf("training %s: %d steps (%d per epoch), batch %d, %d partitions, engine %s on %s, master %s%n", describeModel(),
        totalSteps, schedule.stepsPerEpoch(), config.batch(), partitions, config.engine(), config.device(), sc.master());

    Set<String> devices = new TreeSet<>();
    double lastLoss = Double.NaN;
    double lastValidation = Double.NaN;
    long startNanos = System.nanoTime();
    long stepsThisRun = 0;
    long sequencesThisRun = 0;
    while (step < totalSteps) {
      long t0 = System.nanoTime();
      Schedule.Chosen chosen = schedule.sequences(step);
      boolean carry = schedule.windowsPerBatch() > 1;
      boolean fresh = schedule.startsBatch(step);
      StepInput input = new StepInput(step, model, params.values().clone(), chosen.shards(), chosen.rows(),
          schedule.windowStart(step), schedule.windowLength(step), carry && !fresh ? carriedH : null,
          carry && !fresh ? carriedC : null, carry);
      sc.setJobDescription("spark-rnn train step " + (step + 1) + "/" + totalSteps);
      List<PartitionResult> results = computeStep(sc, slots, context, input);
      GradientSum total = new GradientSum(params.values().length);
      long computeNanos = 0;
      for (PartitionResult r : results) {
        total.merge(r.sum());
        computeNanos = Math.max(computeNanos, r.computeNanos());
        if (!"idle".equals(r.device())) {
          devices.add("executor " + r.executor() + ": " + r.device());
        }
      }
      if (carry) {
        State carried = gatherStates(results, input.sequences());
        carriedH = carried.h();
        carriedC = carried.c();
      }
      step++;
      if (total.count() == 0) {
        log.printf("step %d: no valid time steps in this window; no update%n", step);
        continue;
      }
      double loss = total.meanLoss();
      float[] grad = total.meanGradient();
      double norm = config.clipNorm() > 0 ? GradientClipping.clipByGlobalNorm(grad, config.clipNorm())
          : GradientClipping.globalNorm(grad);
      if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
        String what = "step " + step + ": " + (Double.isFinite(loss) ? "gradient norm is " + norm : "loss is " + loss);
        if (config.onNan().equals("skip")) {
          log.println(what + "; skipping the update (--on-nan skip)");
          metrics.add(step, schedule.epochOf(step - 1), loss, norm, 0, 0, null, null, null);
          continue;
        }
        throw new NonFiniteException(what + "; stopping. The last checkpoint in " + out.path(Checkpoints.DIR)
            + " is intact (use --on-nan skip to skip such steps, or lower --lr)");
      }
      optimizer.setLearningRate(config.learningRate(step - 1, totalSteps));
      optimizer.step(params.values(), grad);
      lastLoss = loss;
      long nanos = System.nanoTime() - t0;
      stepsThisRun++;
      sequencesThisRun += config.batch();
      double seqPerSec = config.batch() / (nanos / 1e9) / schedule.windowsPerBatch();
      Double valLoss = null;
      Double valAcc = null;
      Double closedLoss = null;
      if (config.validateEvery() > 0 && (step % config.validateEvery() == 0 || step == totalSteps)) {
        Validation.Result v = Validation.run(sc, slots, context, model, params, config.feedback());
        if (v != null) {
          valLoss = v.teacherForced().meanLoss();
          valAcc = v.teacherForced().predictions() > 0 ? v.teacherForced().accuracy() : null;
          closedLoss = v.closedLoop() == null ? null : v.closedLoop().meanLoss();
          lastValidation = valLoss;
        }
      }
      metrics.add(step, schedule.epochOf(step - 1), loss, norm, seqPerSec, nanos / 1e6, valLoss, valAcc, closedLoss);
      metrics.addTiming(nanos, computeNanos);
      if (step % config.logEvery() == 0 || step == totalSteps || valLoss != null) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        double eta = elapsed / stepsThisRun * (totalSteps - step);
        log.println(progressLine(step, loss, norm, seqPerSec, valLoss, valAcc, closedLoss, eta));
      }
      if (config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0 && step < totalSteps) {
        checkpoints.save(step, params, optimizer.state(), carriedH, carriedC, config.toMap());
        metrics.write(out);
      }
    }
    checkpoints.save(step, params, optimizer.state(), carriedH, carriedC, config.toMap());
    out.write("model.safetensors", ModelFile.toBytes(params, modelMetadata()));
    metrics.write(out);
    double elapsed = (System.nanoTime() - startNanos) / 1e9;
    double throughput = elapsed > 0 ? sequencesThisRun / elapsed / schedule.windowsPerBatch() : 0;
    TrainReport.write(out, config, model, metrics, devices, throughput, partitions, sc.master());
    log.printf("done: %d steps, loss %.6g%s, %.1f sequences/s; model %s%n", step, lastLoss,
        Double.isNaN(lastValidation) ? "" : String.format(", validation %.6g", lastValidation), throughput,
        out.path("model.safetensors"));
    return new Summary(step, lastLoss, lastValidation, throughput, devices, out.path("model.safetensors").toString());
  }

  /**
   * Runs one step's gradient job: broadcast the input, compute every partition's sums, destroy the
   * broadcast. Results come back sorted by partition, so merging them in list order is
   * deterministic whatever order the tasks finished in.
   */
  static List<PartitionResult> computeStep(JavaSparkContext sc, JavaRDD<Integer> slots, GradientTask.Context context,
      StepInput input) {
    Broadcast<StepInput> broadcast = sc.broadcast(input);
    try {
      List<PartitionResult> results = new ArrayList<>(slots.mapPartitionsWithIndex(new GradientTask(context, broadcast), false).collect());
      results.sort(Comparator.comparingInt(PartitionResult::partition));
      for (PartitionResult r : results) {
        if (r.dataError() != null) {
          throw new ShardDataException("step " + (input.step() + 1) + ", partition " + r.partition() + " on executor " + r.executor()
              + ": " + r.dataError() + ". A shard that fails its checks fails the same way on every retry, so training stops"
              + " without retrying; re-run prep (or restore the shard), then continue with --resume");
        }
      }
      return results;
    } finally {
      broadcast.destroy();
    }
  }

  /**
   * The merged raw sums of step 0 from freshly initialised parameters, on {@code partitions}
   * partitions: what the gradient-averaging tests compare with a single machine.
   */
  public GradientSum firstStepSums(JavaSparkContext sc, int partitions) {
    GradientTask.Context context = new GradientTask.Context(dataset, config.engine(), config.device(), partitions);
    JavaRDD<Integer> slots = sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions);
    Params params = Params.initialize(model, config.seed());
    Schedule.Chosen chosen = schedule.sequences(0);
    StepInput input = new StepInput(0, model, params.values().clone(), chosen.shards(), chosen.rows(), 0, schedule.windowLength(0),
        null, null, false);
    GradientSum total = new GradientSum(params.values().length);
    for (PartitionResult r : computeStep(sc, slots, context, input)) {
      total.merge(r.sum());
    }
    return total;
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

  private void checkResumable(Checkpoints.Saved saved) {
    Map<String, String> now = config.toMap();
    List<String> differ = new ArrayList<>();
    for (String key : RESUME_KEYS) {
      if (!String.valueOf(now.get(key)).equals(String.valueOf(saved.trainConfig().get(key)))) {
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
      throw new IllegalArgumentException("resume: " + saved.file() + " was trained with other settings: " + String.join(", ", differ));
    }
  }

  private Optimizer newOptimizer() {
    return switch (config.optimizer()) {
      case "sgd" -> new Sgd(config.lr(), config.momentum(), 0, config.weightDecay(), false);
      case "adamw" -> new Adam(config.lr(), config.beta1(), config.beta2(), config.eps(), config.weightDecay(), true);
      default -> new Adam(config.lr(), config.beta1(), config.beta2(), config.eps(), config.weightDecay(), false);
    };
  }

  /** The final states of the whole batch [L][n][H], assembled from the partitions' parts by position. */
  private State gatherStates(List<PartitionResult> results, int n) {
    int L = model.numLayers(), H = model.hiddenSize();
    float[] h = new float[L * n * H];
    float[] c = model.cell().hasCellState() ? new float[L * n * H] : null;
    for (PartitionResult r : results) {
      int m = r.positions().length;
      for (int l = 0; l < L; l++) {
        for (int i = 0; i < m; i++) {
          System.arraycopy(r.finalH(), (l * m + i) * H, h, (l * n + r.positions()[i]) * H, H);
          if (c != null) {
            System.arraycopy(r.finalC(), (l * m + i) * H, c, (l * n + r.positions()[i]) * H, H);
          }
        }
      }
    }
    return new State(L, n, H, h, c);
  }

  private String describeModel() {
    return model.cell().id() + " " + model.numLayers() + "x" + model.hiddenSize() + " (F=" + model.inputSize() + ", O="
        + model.outputSize() + ", " + model.mode().id() + ", " + model.loss().id() + ")";
  }

  private String progressLine(long step, double loss, double norm, double seqPerSec, Double valLoss, Double valAcc,
      Double closedLoss, double etaSeconds) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format("step %d/%d  epoch %d  loss %.5g  |g| %.3g", step, totalSteps, schedule.epochOf(step - 1) + 1, loss, norm));
    if (valLoss != null) {
      sb.append(String.format("  val %.5g", valLoss));
    }
    if (valAcc != null) {
      sb.append(String.format("  acc %.2f%%", 100 * valAcc));
    }
    if (closedLoss != null) {
      sb.append(String.format("  closed-loop %.5g", closedLoss));
    }
    sb.append(String.format("  %,.0f seq/s  ETA %s", seqPerSec, formatDuration(etaSeconds)));
    return sb.toString();
  }

  static String formatDuration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format("%dh%02dm", s / 3600, (s % 3600) / 60) : String.format("%dm%02ds", s / 60, s % 60);
  }

  /** A NaN or infinite loss or gradient under --on-nan stop. */
  public static final class NonFiniteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NonFiniteException(String message) {
      super(message);
    }
  }
}
