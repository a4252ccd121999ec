package io.sparkrnn.cli;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.fs.StagedDirectory;
import io.sparkrnn.infer.Compatibility;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.infer.Prediction;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.driver.AutoDeviceJob;
import io.sparkrnn.job.driver.PredictJob;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code spark-rnn predict}: the model's outputs for one input file, or for every shard of a dataset on Spark. */
@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run a trained model forward (from the zero state) over one input file or a whole dataset.",
        "Inputs: a dataset directory or a shard .safetensors (already in model units, as prep stores them), or a",
        ".npy [T,B,F] | [T,F] in raw units (normalised here). Regression outputs are written in raw units",
        "(the stored normalisation inverted) unless --model-units; class models give logits plus argmax 'ids'."})
public final class PredictCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "FILE",
      description = "model file (model.safetensors, or a checkpoint), or a directory holding model.safetensors (train's --out,"
          + " a saved RnnModel)")
  String model;

  @Option(names = "--data", required = true, paramLabel = "URI", description = "dataset directory, shard .safetensors, or .npy")
  String data;

  @Option(names = "--out", required = true, paramLabel = "URI",
      description = "FILE.safetensors or FILE.npy for one input; for a dataset a directory (one output file per shard) or FILE.npy (all shards concatenated along B)")
  String out;

  @Option(names = "--split", defaultValue = "all", description = "dataset shards to predict: all | train | validation (default: ${DEFAULT-VALUE})")
  String split;

  @Option(names = "--model-units", description = "write regression outputs in model (normalised) units")
  boolean modelUnits;

  @Mixin
  InferenceOptions.Engine run;

  @Mixin
  InferenceOptions.Spark spark;

  /** File kinds a user may name as --out that we do not write: a dataset's --out DIR must not look like one of them. */
  private static final List<String> FILE_SUFFIXES = List.of(".csv", ".tsv", ".txt", ".json", ".parquet", ".orc", ".npz", ".pt",
      ".pth", ".h5", ".pkl");

  /** The suffix of {@code uri}'s last name among {@link #FILE_SUFFIXES} (any case), or null. */
  static String fileSuffix(String uri) {
    String lower = uri.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
    return FILE_SUFFIXES.stream().filter(lower::endsWith).findFirst().orElse(null);
  }

  @Override
  public Integer call() throws Exception {
    run.check();
    Configuration conf = new Configuration();
    TrainedModel m = TrainedModel.load(model, conf);
    if (!split.equals("all") && !split.equals("train") && !split.equals("validation")) {
      throw new BadInputException("--split: '" + split + "' is not one of all, train, validation");
    }
    if (!HadoopFiles.exists(data, conf)) {   // before --out's form, which depends on what --data is
      throw new FileNotFoundException("--data " + data + ": no such file or directory");
    }
    boolean dataset = !InputFiles.isNpy(data) && HadoopFiles.isDirectory(data, conf);
    boolean npyOut = InputFiles.isNpy(out);
    boolean safetensorsOut = InputFiles.isSafetensors(out);
    if (dataset && safetensorsOut) {
      throw new BadInputException("--out " + out + ": a dataset's predictions go to a directory (one file per shard) or one"
          + " FILE.npy (all shards along B), not one .safetensors file");
    }
    String fileSuffix = fileSuffix(out);
    if (dataset && !npyOut && fileSuffix != null) {   // a directory named p.csv is not the CSV the user asked for
      throw new BadInputException("--out " + out + ": a dataset's predictions go to a directory (one file per shard) or one"
          + " FILE.npy (all shards along B), not a " + fileSuffix + " file");
    }
    if (!dataset && !npyOut && !safetensorsOut) {
      throw new BadInputException("--out " + out + ": one input's predictions go to FILE.safetensors or FILE.npy");
    }
    if (modelUnits && m.config().loss() != LossType.MSE) {
      throw new BadInputException("--model-units applies to regression (mse) models, whose outputs are normalised; " + model
          + " has loss " + m.config().loss().id() + " and writes logits");
    }
    // one output file per shard in a directory, unless .npy; one file for one input
    FileSystems.requireUsableOutput(out, conf, "--out", dataset && !npyOut);
    FileSystems.requireNotAnInput(out, conf, "--out", "--model", m.source(), "--data", data);
    if ((npyOut || safetensorsOut) && m.vocabulary() != null && m.config().loss() == LossType.CROSS_ENTROPY) {
      // a text model's FILE.npy or FILE.safetensors comes with FILE.txt (write): checked now, not after the forward
      String text = textFile(out);
      FileSystems.requireUsableOutput(text, conf, "--out " + out + ": its text file", false);
      FileSystems.requireNotAnInput(text, conf, "--out " + out + ": its text file", "--model", m.source(), "--data", data);
      if (HadoopFiles.exists(text, conf) && !HadoopFiles.exists(out, conf)) {
        // predict --out gpl3.npy beside the corpus gpl3.txt wrote the prediction's text over the corpus (a user
        // audit); a FILE.txt with its FILE.npy beside it is an earlier prediction's, rewritten as the .npy is
        throw new BadInputException("--out " + out + ": a text model's predictions come with " + text + ", which exists and"
            + " is no earlier prediction's (no " + out + " beside it); name another --out, or remove " + text);
      }
    }
    if (dataset) {
      return predictDataset(m, conf);
    }
    if (!split.equals("all")) {   // as evaluate: refused, not ignored
      throw new BadInputException("--split " + split + ": " + data + " is one input file, not a dataset directory with"
          + " splits; name the dataset directory, or leave out --split");
    }
    spark.requireDataset(data);
    Batch batch = InputFiles.read(data, m, conf);
    Prediction p;
    try (BpttEngine e = TrainedModel.engine(run.engine, run.device)) {
      p = Prediction.run(m, e, batch, modelUnits);
    } catch (Prediction.OutputPastFloat32Exception e) {
      throw new BadInputException(data + ": " + e.getMessage(), e);   // which input's prediction
    }
    write(p, out, conf, metadata(m, modelUnits));
    System.out.println("predicted " + Arrays.toString(p.shape()) + " from " + data + " into " + out
        + (hasTargetStatistics(m) ? " (" + units(m, modelUnits) + " units)" : ""));
    if (p.text() != null) {
      System.out.print(Prediction.textLines(p.text()));
    }
    return 0;
  }

  private int predictDataset(TrainedModel m, Configuration conf) throws Exception {
    Dataset ds = Dataset.open(data, conf);
    Compatibility.check(m, ds, false);
    List<ShardInfo> all = ds.manifest().shards();
    List<Integer> chosen = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (split.equals("all") || all.get(i).split() == Split.parse(split)) {
        chosen.add(i);
      }
    }
    if (chosen.isEmpty()) {
      throw new BadInputException(data + ": no shards in split " + split);
    }
    SparkSetup.requireDevice(run.engine, run.device, spark.master);
    boolean npy = InputFiles.isNpy(out);
    if (npy) {
      // one .npy is [T, N, O] in step-major order, which no shard's rows fill contiguously: the driver gathers
      // every prediction and writes the file (a user audit: 189 MB of outputs died at -Xmx512m with an
      // OutOfMemoryError after the forward passes). About three copies: the tasks' results, the driver's, the file's.
      long sequences = InferenceOptions.sequences(all, chosen);
      String what = "predict --out " + out + " (one .npy of " + sequences + " sequences, gathered on the driver)";
      String advice = "write one file per shard instead, --out DIR, which the executors write, or predict fewer shards (--split)";
      long values = (m.config().mode() == Mode.SEQ2SEQ ? ds.manifest().spec().steps() : 1L) * sequences * m.config().outputSize();
      if (4 * values > Integer.MAX_VALUE - 8) {   // the file's bytes are one array (NpyWriter), 4 a value (a review)
        throw new BadInputException(what + ": " + values + " output values, a file of " + 4 * values + " bytes, more than one"
            + " .npy written whole may have (2 GiB); " + advice);
      }
      long predictions = predictionBytes(m.config().mode(), ds.manifest().spec().steps(), sequences, m.config().outputSize(),
          m.config().loss() == LossType.CROSS_ENTROPY);
      requireResultSize(what, predictions, new SparkConf(), advice);
      MemoryBudget.require(what, GATHERED_COPIES * predictions, advice);
    }
    // A directory of outputs is written into a staging directory and renamed into place at the end,
    // so a failed run leaves nothing in --out (a single .npy is written atomically anyway).
    try (StagedDirectory staged = npy ? null : StagedDirectory.begin(out, conf, "predictions.json", outputNames(all), System.out,
        System.err)) {
      return predictDataset(m, ds, all, chosen, staged, conf);
    }
  }

  private int predictDataset(TrainedModel m, Dataset ds, List<ShardInfo> all, List<Integer> chosen, StagedDirectory staged,
      Configuration conf) throws Exception {
    boolean npy = staged == null;
    PredictJob.Input input = new PredictJob.Input(m.config(), m.params().values(), m.normalization(), m.vocabulary(),
        chosen.stream().mapToInt(Integer::intValue).toArray(), npy ? null : staged.uri(), modelUnits, metadata(m, modelUnits));
    try (JavaSparkContext sc = SparkSetup.start("spark-rnn predict", spark.master)) {
      int P = spark.partitions(sc, chosen.size());
      // a line before the job, which on a large dataset runs for minutes without another (a user audit)
      System.out.printf(Locale.ROOT, "predicting %s (%s) of %s on %s%n", InferenceOptions.count(chosen.size(), "shard"),
          InferenceOptions.count(InferenceOptions.sequences(all, chosen), "sequence"), ds.location(),
          InferenceOptions.count(P, "partition"));
      String device = AutoDeviceJob.forScoring(sc, ds, input.shards(), m.config(), run.engine, run.device, P);
      GradientTask.Context context = GradientTask.Context.forScoring(sc, ds, run.engine, device, P);
      List<PredictJob.ShardResult> results;
      try {
        results = PredictJob.run(sc, context, input);
      } finally {
        context.release();
      }
      if (npy) {
        Prediction p = PredictJob.concatenate(results);
        write(p, out, conf, null);
        // units as the single-file form says them: a .npy has no metadata to record them (a user audit)
        System.out.println("predicted " + Arrays.toString(p.shape()) + " from " + chosen.size() + (chosen.size() == 1 ? " shard" : " shards")
            + " of " + ds.location() + " into " + out + (hasTargetStatistics(m) ? " (" + units(m, modelUnits) + " units)" : ""));
        return 0;
      }
      Map<String, Object> summary = new LinkedHashMap<>();
      summary.put("model", model);
      summary.put("dataset", ds.location());
      summary.put("split", split);
      summary.put("units", units(m, modelUnits));
      List<Object> files = new ArrayList<>();
      for (PredictJob.ShardResult r : results) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("file", all.get(r.shard()).file());
        f.put("split", all.get(r.shard()).split().id());
        f.put("batch", (long) r.sequences());
        files.add(f);
      }
      summary.put("shards", files);
      HadoopFiles.write(staged.uri() + "/predictions.json", Json.writePretty(summary).getBytes(StandardCharsets.UTF_8), conf);
      staged.publish();
      System.out.println("predicted " + results.size() + (results.size() == 1 ? " shard" : " shards") + " of " + ds.location()
          + " into " + staged.target());
    }
    return 0;
  }

  /**
   * Spark aborts a collect whose results pass spark.driver.maxResultSize (1g by default) after the
   * forward passes have run (a review): refused first, naming the setting. {@code results} is one
   * copy of the predictions (what the tasks send back); 0 means no limit.
   */
  static void requireResultSize(String what, long results, SparkConf conf, String advice) {
    long limit = conf.getSizeAsBytes("spark.driver.maxResultSize", "1g");
    if (limit > 0 && results > limit) {
      // sizes in kB under 1 MB (a user audit: "about 0 MB …, more than … (0 MB)" with a limit of 100k)
      throw new BadInputException(what + ": the tasks would send about " + MemoryBudget.size(results) + " of predictions to the"
          + " driver, more than spark.driver.maxResultSize (" + conf.get("spark.driver.maxResultSize", "1g") + " = "
          + MemoryBudget.size(limit) + "); " + advice + ", or raise it"
          + " (SPARK_RNN_JAVA_OPTS=-Dspark.driver.maxResultSize=4g for bin/spark-rnn, --conf under spark-submit)");
    }
  }

  /**
   * The copies of the predictions that gathering them into one .npy holds on the driver, about:
   * the tasks' serialised results, Spark's buffers, the driver's objects, the concatenated array,
   * the file's bytes. Measured: 120 MB of outputs died at -Xmx640m and fit in 1g (a review); 189 MB
   * died at 512m (a user audit).
   */
  static final int GATHERED_COPIES = 5;

  /**
   * One copy of what N sequences' predictions store (what the tasks send back): the outputs, T·N·O
   * floats for seq2seq and N·O for seq2one, a class model's ids (T·N or N ints) and the lengths (N ints).
   */
  static long predictionBytes(Mode mode, int steps, long sequences, int outputs, boolean classes) {
    long t = mode == Mode.SEQ2SEQ ? steps : 1;
    return 4L * t * sequences * outputs + (classes ? 4L * t * sequences : 0) + 4L * sequences;
  }

  /** Every file a dataset prediction may write besides predictions.json: one or two per shard. */
  private static Set<String> outputNames(List<ShardInfo> shards) {
    Set<String> names = new HashSet<>();
    for (ShardInfo s : shards) {
      names.add(s.file());
      names.add(PredictJob.textName(s.file()));
    }
    return names;
  }

  /**
   * An output file's {@code __metadata__}: the model's cell, mode and loss, and the outputs' units
   * as predictions.json names them (a file handed on said nothing of --model-units: a user audit).
   */
  static Map<String, String> metadata(TrainedModel m, boolean modelUnits) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("model_cell", m.config().cell().id());
    meta.put("mode", m.config().mode().id());
    meta.put("loss", m.config().loss().id());
    meta.put("units", units(m, modelUnits));
    return meta;
  }

  /**
   * raw: outputs mapped back through the model's target statistics; model: as it computes them (with
   * --model-units, a class model's logits, or a model without target statistics: the same then).
   * A class model's inputs may be normalised, but its logits never are (a docs audit: it said raw).
   */
  static String units(TrainedModel m, boolean modelUnits) {
    return !modelUnits && hasTargetStatistics(m) ? "raw" : "model";
  }

  /** Whether the model records target statistics, through which its outputs go back to raw units. */
  private static boolean hasTargetStatistics(TrainedModel m) {
    return m.normalization() != null && m.normalization().targetMean() != null;
  }

  /**
   * FILE.txt beside FILE.npy or FILE.safetensors (as shard-00003.txt beside a dataset's
   * shard-00003.safetensors): where a text model's argmax characters go.
   */
  static String textFile(String out) {
    int dot = out.lastIndexOf('.');
    return (dot > out.lastIndexOf('/') ? out.substring(0, dot) : out) + ".txt";
  }

  /** .npy: the output array; otherwise safetensors; with FILE.txt for decoded text. */
  static void write(Prediction p, String uri, Configuration conf, Map<String, String> meta) throws IOException {
    if (InputFiles.isNpy(uri)) {
      HadoopFiles.write(uri, NpyWriter.toBytes(p.shape(), p.output()), conf);
    } else {
      HadoopFiles.write(uri, p.toSafetensors(meta == null ? Map.of() : meta), conf);
    }
    if (p.text() != null) {
      HadoopFiles.write(textFile(uri), Prediction.textLines(p.text()).getBytes(StandardCharsets.UTF_8), conf);
    }
  }
}
