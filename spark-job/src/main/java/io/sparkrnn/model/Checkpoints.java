package io.sparkrnn.model;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.OptimizerState;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.ChecksumException;

/**
 * Training checkpoints in {@code <out>/checkpoints/step-NNNNNNNNNN.safetensors}: the model's
 * tensors (PyTorch names, loadable as they are), the optimizer's buffers under
 * {@code optimizer.*}, the truncated-BPTT states carried into the next step under
 * {@code tbptt.h} / {@code tbptt.c}, and in {@code __metadata__} the model configuration, what
 * the model file records of its data ({@link ModelMetadata}: the normalisation statistics, the
 * vocabulary), the number of completed steps and the training configuration. A checkpoint is
 * therefore a model file too: predict, export and init read it as they read model.safetensors. The number in the name is the count
 * of completed steps; the newest file is the one to resume from. Each is written atomically; the
 * newest {@link #KEEP} are kept.
 */
public final class Checkpoints {
  public static final String DIR = "checkpoints";
  public static final int KEEP = 3;
  /** Optimizer tensors and metadata are named {@code optimizer.<name>}. */
  static final String OPTIMIZER_PREFIX = OptimizerState.PREFIX;
  /** Tensors a checkpoint holds beside the model's; a '*' entry allows a prefix. */
  public static final Set<String> EXTRA_TENSORS = Set.of(OPTIMIZER_PREFIX + ".*", "tbptt.h", "tbptt.c");
  static final String KEY_STEP = "completed_steps";
  static final String KEY_TRAIN_CONFIG = "train_config";

  /**
   * Test-only fault injection (issue: kill -9 while a checkpoint is being written). With this
   * Spark setting the checkpoint after that many completed steps is written half way, flushed,
   * and the driver prints {@code checkpoint step-N.safetensors: paused mid-write (test hook)} and
   * sleeps ({@link #TEST_PAUSE_MILLIS}), so that a test can kill the driver mid-write. It has no
   * other use; leave it unset.
   */
  public static final String TEST_PAUSE_AT_STEP = "spark.sparkrnn.test.pauseCheckpointAtStep";
  static final long TEST_PAUSE_MILLIS = 120_000;

  private final OutputDir out;
  private long pauseAtStep = -1;
  private PrintStream pauseLog;

  private final Map<String, String> modelMetadata;

  /**
   * Checkpoints that record nothing of their data (no statistics or vocabulary): resumable, but
   * refused as a model (TrainedModel) as those of before 2026-12-06 are. For tests of the file
   * handling; a training run uses the other constructor.
   */
  public Checkpoints(OutputDir out) {
    this(out, Map.of());
  }

  /** @param modelMetadata what each checkpoint records of the data, as the run's model file: {@link ModelMetadata#fromManifest} */
  public Checkpoints(OutputDir out, Map<String, String> modelMetadata) {
    this.out = out;
    this.modelMetadata = Map.copyOf(modelMetadata);
  }

  /**
   * Whether a safetensors file's metadata is a checkpoint's, and one written before checkpoints
   * recorded their data's statistics (2026-12-06): used as a model, its outputs would silently be
   * in normalised units.
   */
  public static boolean isCheckpointWithoutData(Map<String, String> metadata) {
    return metadata.containsKey(KEY_STEP) && !metadata.containsKey(ModelMetadata.KEY_TASK);
  }

  /** Arms the {@link #TEST_PAUSE_AT_STEP} hook (a negative step leaves it off). */
  public void pauseMidWriteAt(long completedSteps, PrintStream log) {
    this.pauseAtStep = completedSteps;
    this.pauseLog = log;
  }

  /** What a checkpoint holds. */
  public record Saved(long completedSteps, Params params, OptimizerState optimizer, float[] carriedH, float[] carriedC,
      Map<String, String> trainConfig, String file) {}

  public static String fileName(long completedSteps) {
    return String.format("step-%010d.safetensors", completedSteps);
  }

  public void save(long completedSteps, Params params, OptimizerState optimizer, float[] carriedH, float[] carriedC,
      Map<String, String> trainConfig) throws IOException {
    Map<String, String> meta = new LinkedHashMap<>(params.config().toMetadata());
    meta.putAll(modelMetadata);
    meta.put(KEY_STEP, Long.toString(completedSteps));
    meta.put(KEY_TRAIN_CONFIG, Json.write(trainConfig));
    meta.putAll(optimizer.toMetadata(OPTIMIZER_PREFIX));
    List<Tensor> tensors = new ArrayList<>(ModelFile.toTensors(params));
    tensors.addAll(optimizer.toTensors(OPTIMIZER_PREFIX));
    if (carriedH != null) {
      tensors.add(Tensor.ofFloats("tbptt.h", new int[] {carriedH.length}, carriedH));
      if (carriedC != null) {
        tensors.add(Tensor.ofFloats("tbptt.c", new int[] {carriedC.length}, carriedC));
      }
    }
    Runnable midWrite = null;
    if (completedSteps == pauseAtStep) {
      midWrite = () -> {
        pauseLog.println("checkpoint " + fileName(completedSteps) + ": paused mid-write (test hook)");
        pauseLog.flush();
        try {
          Thread.sleep(TEST_PAUSE_MILLIS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
    }
    out.write(DIR + "/" + fileName(completedSteps), SafeTensors.toBytes(meta, tensors), midWrite);
    List<String> all = out.list(DIR, "step-", ".safetensors");
    for (int i = 0; i < all.size() - KEEP; i++) {
      out.delete(DIR + "/" + all.get(i));
    }
  }

  /** The newest checkpoint, or null when the directory has none. */
  public Saved loadLatest() throws IOException {
    List<String> all = out.list(DIR, "step-", ".safetensors");
    if (all.isEmpty()) {
      return null;
    }
    String name = all.get(all.size() - 1);
    String source = out.path(DIR + "/" + name).toString();
    try {
      return read(name, source);
    } catch (ChecksumException | EOFException | BadInputException e) {
      if (all.size() < 2) {
        throw e;
      }
      // damaged (a checksum error, a truncated file, a header or metadata that does not parse): the one before it
      // is kept, and the way to it is to move this one away (a user audit: the message named the damage only).
      // Other I/O errors (HDFS timing out, a permission) are not damage, and get no such advice.
      String previous = out.path(DIR + "/" + all.get(all.size() - 2)).toString();
      throw new BadInputException(e.getMessage() + " (the newest checkpoint; the one before it, " + previous + ", is kept:"
          + " if this one is damaged, move it out of " + DIR + "/ to resume from that one)", e);
    }
  }

  /** The checkpoint {@code name}; what does not parse in it is bad input naming {@code source}. */
  private Saved read(String name, String source) throws IOException {
    SafeTensorsFile f = SafeTensors.read(out.read(DIR + "/" + name), source);
    Params params = ModelFile.read(f, EXTRA_TENSORS);
    OptimizerState opt = OptimizerState.read(f, OPTIMIZER_PREFIX);
    String steps = f.metadata().get(KEY_STEP);
    String tc = f.metadata().get(KEY_TRAIN_CONFIG);
    if (steps == null || tc == null) {
      throw new BadInputException(source + ": __metadata__ lacks " + KEY_STEP + " or " + KEY_TRAIN_CONFIG + "; not a spark-rnn checkpoint");
    }
    long completed;
    Map<String, String> trainConfig = new LinkedHashMap<>();
    try {
      completed = Long.parseLong(steps);
      for (Map.Entry<String, Object> e : Json.parseObject(tc).entrySet()) {
        trainConfig.put(e.getKey(), String.valueOf(e.getValue()));
      }
    } catch (RuntimeException e) {   // NumberFormatException, Json's refusal of text that is not an object
      throw new BadInputException(source + ": __metadata__ " + KEY_STEP + " or " + KEY_TRAIN_CONFIG + " is not valid: "
          + e.getMessage(), e);
    }
    float[] h = f.has("tbptt.h") ? f.require("tbptt.h").floats() : null;
    float[] c = f.has("tbptt.c") ? f.require("tbptt.c").floats() : null;
    return new Saved(completed, params, opt, h, c, trainConfig, source);
  }
}
