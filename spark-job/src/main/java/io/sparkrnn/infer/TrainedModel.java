package io.sparkrnn.infer;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.Checkpoints;
import io.sparkrnn.model.ModelMetadata;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * A trained model as {@code spark-rnn train} writes it ({@code model.safetensors}): parameters,
 * configuration and what the model knows about its data (normalisation, vocabulary, task).
 *
 * <p>Units. A model computes in <em>model units</em>: the z-scored values its dataset's shards
 * hold when the dataset was prepared with {@code --normalize}. {@link #inputsToModelUnits} maps raw
 * inputs to model units ({@code (x − input_mean) / input_std}); {@link #outputsToRawUnits} maps
 * regression outputs back ({@code y · target_std + target_mean}). Without stored normalisation
 * both are the identity; class logits are never transformed.
 *
 * <p>Immutable after {@link #load}: share one instance between threads and sessions freely. The
 * parameters are not copied per session, so never write into {@link #params()}{@code .values()}.
 */
public final class TrainedModel {
  private final String source;
  private final Params params;
  private final Map<String, String> metadata;
  private final Normalization normalization;
  private final List<String> vocabulary;

  TrainedModel(String source, Params params, Map<String, String> metadata) {
    this.source = source;
    this.params = params;
    this.metadata = Map.copyOf(metadata);
    ModelConfig c = params.config();
    this.normalization = ModelMetadata.normalization(metadata, source);
    this.vocabulary = ModelMetadata.vocabulary(metadata, source);
    if (normalization != null) {
      if (normalization.inputMean().length != c.inputSize()) {
        throw new BadInputException(source + ": __metadata__ normalization.input_mean has "
            + normalization.inputMean().length + " entries, expected input_size=" + c.inputSize());
      }
      if (normalization.targetMean() != null && (c.loss() != LossType.MSE || normalization.targetMean().length != c.outputSize())) {
        throw new BadInputException(source + ": __metadata__ normalization.target_mean has "
            + normalization.targetMean().length + " entries, expected output_size=" + c.outputSize() + " (mse models only)");
      }
    }
    if (vocabulary != null && vocabulary.size() != c.outputSize() && c.loss() == LossType.CROSS_ENTROPY) {
      throw new BadInputException(source + ": __metadata__ vocabulary has " + vocabulary.size()
          + " symbols, expected output_size=" + c.outputSize());
    }
  }

  /** The model file in a directory that holds a model: train's --out, or a saved RnnModel (with its Spark ML metadata/). */
  public static final String MODEL_FILE = "model.safetensors";

  /**
   * The model file {@code uri} names: {@code uri} itself, or for a directory its
   * {@value #MODEL_FILE} (train's --out, or a saved RnnModel: the rule of
   * {@code RnnEstimator.setInitialModel}). A directory without one is refused naming it.
   */
  public static String modelFile(String uri, Configuration conf) throws IOException {
    if (!HadoopFiles.isDirectory(uri, conf)) {
      return uri;
    }
    String file = new org.apache.hadoop.fs.Path(uri, MODEL_FILE).toString();
    if (!HadoopFiles.exists(file, conf)) {
      // a saved PipelineModel keeps its RnnModel under stages/N_uid/ (a user audit: the message did not say where)
      org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(uri);
      org.apache.hadoop.fs.FileStatus[] stages =
          dir.getFileSystem(conf).globStatus(new org.apache.hadoop.fs.Path(dir, "stages/*/" + MODEL_FILE));
      String stage = stages == null || stages.length == 0 ? ""
          : "; a saved PipelineModel's RnnModel is its stage directory " + stages[0].getPath().getParent();
      throw new FileNotFoundException(uri + ": a directory without " + MODEL_FILE + "; expected a model file, or a directory"
          + " that holds one (train's --out, a saved RnnModel)" + stage);
    }
    return file;
  }

  /**
   * Reads a model file from any Hadoop file system URI or local path, or a directory's
   * {@value #MODEL_FILE} ({@link #modelFile}: train's --out, a saved RnnModel).
   *
   * @throws IllegalArgumentException naming the file and the key or tensor that is missing, has the
   *     wrong shape, or a format version this build does not read
   */
  public static TrainedModel load(String given, Configuration conf) throws IOException {
    String uri = modelFile(given, conf);
    // the file's bytes, then its tensors as floats: about twice the file
    long bytes = HadoopFiles.length(uri, conf);
    MemoryBudget.require("loading the model " + uri + " (" + bytes + " bytes)", 2 * bytes, "use a smaller model");
    return fromBytes(HadoopFiles.read(uri, conf), uri);
  }

  /** Reads a local model file. */
  public static TrainedModel load(java.nio.file.Path path) throws IOException {
    return load(path.toAbsolutePath().toString(), new Configuration());
  }

  /** Parses the bytes of a model file; {@code source} names it in errors. */
  public static TrainedModel fromBytes(byte[] bytes, String source) {
    SafeTensorsFile file = SafeTensors.read(bytes, source);
    if (Checkpoints.isCheckpointWithoutData(file.metadata())) {
      // its weights expect inputs in the units of its dataset, which it does not say: predict would silently
      // give outputs in normalised units, and init would compare the data's statistics with none (a user audit)
      throw new BadInputException(source + ": a checkpoint written before 2026-12-06, which does not record its dataset's"
          + " normalisation statistics or vocabulary (dataset_task, normalization); use the run's model.safetensors, or a"
          + " checkpoint of this version");
    }
    requireFinite(file);
    // a checkpoint is a model file plus optimizer and truncated-BPTT state: use its weights
    return new TrainedModel(source, ModelFile.read(file, Checkpoints.EXTRA_TENSORS), file.metadata());
  }

  /**
   * Refuses a file with a NaN or infinite float anywhere, naming the tensor and element. Such a
   * model can only produce NaN: evaluate would print "loss -", predict would write NaN outputs and
   * generate would fail deep in the sampler. Training never writes one (see --on-nan).
   */
  private static void requireFinite(SafeTensorsFile file) {
    for (Tensor t : file.tensors().values()) {
      if (!t.isFloating()) {
        continue;
      }
      float[] v = t.floats();
      for (int i = 0; i < v.length; i++) {
        if (!Float.isFinite(v[i])) {
          throw new BadInputException(file.source() + ": tensor '" + t.name() + "' holds " + v[i] + " at element " + i
              + ", expected finite weights (a diverged or damaged model)");
        }
      }
    }
  }

  /** The source a model made in memory names in its messages. */
  public static final String IN_MEMORY = "(in memory)";

  /**
   * A warning where {@code what} (closed-loop validation, generate) would feed a class model's argmax
   * back one-hot although nothing says its inputs are one-hot of its classes: a text dataset's
   * vocabulary says so, but a class model of a table, CSV or .npy dataset with F == O may have any
   * inputs (a class-targets audit: its closed-loop figures meant nothing, without a word). Null
   * where that does not apply (regression, a vocabulary, or F != O, which is refused).
   */
  public static String oneHotFeedbackWarning(ModelConfig c, List<String> vocabulary, String what) {
    if (c.loss() != LossType.CROSS_ENTROPY || vocabulary != null || c.inputSize() != c.outputSize()) {
      return null;   // F != O is refused on its own
    }
    return what + " feeds each step's argmax class back as a one-hot input of F=" + c.inputSize() + ", but nothing says this"
        + " model's inputs are one-hot of its " + c.outputSize() + " classes (a text dataset's vocabulary would): where they"
        + " are not (columns of a table, say), its figures mean nothing";
  }

  /** A model made in memory (tests, import), with optional data metadata. */
  public static TrainedModel of(Params params, Map<String, String> dataMetadata) {
    Map<String, String> m = new HashMap<>(params.config().toMetadata());
    if (dataMetadata != null) {
      m.putAll(dataMetadata);
    }
    return new TrainedModel(IN_MEMORY, params, m);
  }

  /** Where it was loaded from, for messages. */
  public String source() {
    return source;
  }

  public ModelConfig config() {
    return params.config();
  }

  /** The parameters, shared: read only. */
  public Params params() {
    return params;
  }

  /** Every {@code __metadata__} string of the file. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The z-score the training data was prepared with, or null. */
  public Normalization normalization() {
    return normalization;
  }

  /** The symbol of each class id (text models), or null. */
  public List<String> vocabulary() {
    return vocabulary;
  }

  /** The dataset task the model was trained on ({@code sine}, {@code text}, …), or null. */
  public String task() {
    return metadata.get(ModelMetadata.KEY_TASK);
  }

  /** A new engine: {@code kernel} (Aparapi float32) on a device, or {@code reference} (float64). */
  public static BpttEngine engine(String engine, String device) {
    return Engines.create(engine, device);
  }

  /** Raw inputs (features fastest, any number of rows) to model units: (x − mean) / std; a copy. */
  public float[] inputsToModelUnits(float[] raw) {
    return normalization == null ? raw.clone() : normalization.inputsToModelUnits(raw);
  }

  /**
   * The model's continuous outputs [B][O] (model units) fed back as its next inputs [B][F], as
   * generation feeds them: {@link Normalization#feedBack} ({@code x' = (y·t_std + t_mean − i_mean) / i_std},
   * refused past float32's range), a copy without normalisation.
   */
  public float[] feedBack(float[] outputs) {
    return normalization == null ? outputs.clone() : normalization.feedBack(outputs);
  }

  /** Model-unit inputs back to raw units: x · std + mean; a copy. */
  public float[] inputsToRawUnits(float[] x) {
    return normalization == null ? x.clone() : normalization.inputsToRawUnits(x);
  }

  /** Regression outputs (O fastest) from model units to raw units: y · std + mean; a copy. Logits unchanged. */
  public float[] outputsToRawUnits(float[] out) {
    return normalization == null ? out.clone() : normalization.outputsToRawUnits(out);
  }

  /** Whether the stored normalisation changes anything (inputs or regression targets). */
  public boolean normalizes() {
    return normalization != null;
  }

  /**
   * Opens a session of B sequences stepped together, on its own engine (closed with the session).
   *
   * @param engine kernel | reference
   * @param device auto | gpu | cpu-opencl | jvm (kernel only)
   */
  public InferenceSession openSession(int batchSize, String engine, String device) {
    return new InferenceSession(this, Engines.create(engine, device), true, batchSize);
  }

  /** A session on an engine the caller owns (and closes); see {@link InferenceSession}. */
  public InferenceSession openSession(int batchSize, BpttEngine engine) {
    return new InferenceSession(this, engine, false, batchSize);
  }
}
