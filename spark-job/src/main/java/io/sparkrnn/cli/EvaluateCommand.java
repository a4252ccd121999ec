package io.sparkrnn.cli;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.Compatibility;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.ShardFiles;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.driver.Evaluation;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code spark-rnn evaluate}: loss, accuracy, perplexity, closed-loop loss of a model on data. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Score a trained model on a dataset (a Spark job) or one shard file.",
        "Teacher-forced loss (model units, the training loss's mean), accuracy and perplexity (class models), and"
            + " with --feedback K the closed-loop loss over the last K steps of each sequence, where the model's own"
            + " outputs are its inputs. Regression models also get rmse and mae per output in the data's units before"
            + " normalisation (the dataset manifest's statistics undone; a single shard: the model's)."})
public final class EvaluateCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "FILE",
      description = "model file (model.safetensors, or a checkpoint), or a directory holding model.safetensors (train's --out,"
          + " a saved RnnModel)")
  String model;

  @Option(names = "--data", required = true, paramLabel = "URI", description = "dataset directory or one shard .safetensors (with y)")
  String data;

  @Option(names = "--feedback", defaultValue = "0", paramLabel = "K", description = "closed-loop steps at the end of each sequence (0: none)")
  int feedback;

  @Option(names = "--from-step", defaultValue = "0", paramLabel = "K",
      description = "score teacher-forced steps t ≥ K only (seq2seq), e.g. the recall steps of the copy task (default: ${DEFAULT-VALUE})")
  int fromStep;

  @Option(names = "--tolerance", paramLabel = "TOL",
      description = "mse: also report within_tolerance, the share of sequences (seq2one) or steps whose every |error| ≤ TOL")
  Double tolerance;

  @Option(names = "--split", defaultValue = "all", description = "dataset shards: all | train | validation (default: ${DEFAULT-VALUE})")
  String split;

  @Option(names = "--json", paramLabel = "FILE", description = "also write the metrics as JSON")
  String json;

  @Mixin
  InferenceOptions.Engine run;

  @Mixin
  InferenceOptions.Spark spark;

  @Override
  public Integer call() throws Exception {
    run.check();
    if (InputFiles.isNpy(data)) {
      // a .npy is read as a shard otherwise, and fails as "not a safetensors file": say what evaluate takes
      throw new BadInputException("--data " + data + ": evaluate scores a dataset directory (manifest.json and shards, from"
          + " prep) or one shard .safetensors with targets y, not a .npy (inputs without targets); to run the model on it,"
          + " use predict --data " + data + " --out pred.npy");
    }
    Configuration conf = new Configuration();
    TrainedModel m = TrainedModel.load(model, conf);
    if (feedback < 0) {
      throw new BadInputException("--feedback must be ≥ 0, found " + feedback);
    }
    if (!split.equals("all") && !split.equals("train") && !split.equals("validation")) {
      throw new BadInputException("--split: '" + split + "' is not one of all, train, validation");
    }
    if (tolerance != null && !(tolerance >= 0)) {
      throw new BadInputException("--tolerance must be ≥ 0 (an error's absolute value), found " + tolerance);
    }
    checkOptionsFitTheModel(m.config());
    String oneHot = feedback > 0 ? TrainedModel.oneHotFeedbackWarning(m.config(), m.vocabulary(), "--feedback") : null;
    if (oneHot != null) {
      System.err.println("warning: " + oneHot);
    }
    if (json != null) {
      // before scoring: a directory there otherwise failed after the whole run, in Hadoop's words
      if (!json.toLowerCase(java.util.Locale.ROOT).endsWith(".json")) {   // a --json model.safetensors overwrote the model
        throw new BadInputException("--json " + json + ": the metrics go to FILE.json");
      }
      FileSystems.requireUsableOutput(json, conf, "--json", false);
      FileSystems.requireNotAnInput(json, conf, "--json", "--model", m.source(), "--data", data);
    }
    Evaluation.Metrics metrics;
    Normalization units = m.normalization();             // a single shard is in the model's units
    List<String> outputNames = null;
    if (HadoopFiles.isDirectory(data, conf)) {
      Dataset ds = Dataset.open(data, conf);
      Compatibility.check(m, ds, true);
      units = ds.manifest().normalization();
      outputNames = targetColumns(ds.manifest().spec().source(), m.config().outputSize());
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
      Evaluation.checkSteps(m.config(), ds.manifest().spec().steps(), feedback, fromStep);   // before Spark and the start line
      try (JavaSparkContext sc = SparkSetup.start("spark-rnn evaluate", spark.master)) {
        int P = spark.partitions(sc, chosen.size());
        // a line before the job, which runs for minutes on a large dataset (a user audit), then its progress
        System.out.printf(Locale.ROOT, "evaluating %s (%s) of %s on %s%n", InferenceOptions.count(chosen.size(), "shard"),
            InferenceOptions.count(InferenceOptions.sequences(all, chosen), "sequence"), ds.location(),
            InferenceOptions.count(P, "partition"));
        metrics = Evaluation.ofDataset(sc, ds, m.config(), m.params(), chosen.stream().mapToInt(Integer::intValue).toArray(),
            feedback, fromStep, tolerance == null ? Double.NaN : tolerance, run.engine, run.device, P);
      }
    } else {
      if (!split.equals("all")) {
        throw new BadInputException("--split " + split + ": " + data + " is one shard file, not a dataset directory with"
            + " splits; name the dataset directory, or leave out --split");
      }
      spark.requireDataset(data);
      Batch batch = ShardFiles.readFor(data, m, conf, true);
      try (BpttEngine e = TrainedModel.engine(run.engine, run.device)) {
        metrics = Evaluation.ofBatch(m.config(), m.params(), e, batch, feedback, fromStep, tolerance == null ? Double.NaN : tolerance,
            units, data);
      }
    }
    metrics = metrics.inUnitsOf(units);
    System.out.print(metrics.table(outputNames));
    if (json != null) {
      Map<String, Object> j = metrics.toJson();
      j.put("outputs", outputNames);
      j.put("model", model);
      j.put("data", data);
      HadoopFiles.write(json, Json.writePretty(j).getBytes(StandardCharsets.UTF_8), conf);
    }
    return 0;
  }

  /** Options that do not apply to the model are refused rather than ignored. */
  private void checkOptionsFitTheModel(ModelConfig c) {
    if (tolerance != null && c.loss() != LossType.MSE) {
      throw new BadInputException("--tolerance applies to mse models (a bound on each output's error); " + model
          + " has loss " + c.loss().id());
    }
    boolean seq2one = c.mode() == Mode.SEQ2ONE;
    if (fromStep > 0 && seq2one) {
      throw new BadInputException("--from-step applies to seq2seq models (it scores steps t ≥ K); " + model
          + " is seq2one, scored at each sequence's last step");
    }
    if (feedback > 0 && seq2one) {
      throw new BadInputException("--feedback: the closed loop feeds each step's output back as the next input, which needs"
          + " a seq2seq model; " + model + " is seq2one");
    }
    if (feedback > 0 && c.inputSize() != c.outputSize()) {
      throw new BadInputException("--feedback: the closed loop feeds each step's output back as the next input, which needs"
          + " F == O; " + model + " has F=" + c.inputSize() + ", O=" + c.outputSize());
    }
  }

  /**
   * The target columns of a dataset prepped from a table or a CSV file, in output order (its
   * manifest's source: prep table's "targets" is a list of columns, or "inputs" where the targets
   * are the next step's inputs; prep csv's "target_columns" the header's names, or _c0, _c1, ...
   * without one), or null where the source names none (a generator, .npy files) or not one an
   * output (an array column makes several outputs of one name, a class id C outputs).
   */
  static List<String> targetColumns(Map<String, Object> source, int outputs) {
    if (source == null) {
      return null;
    }
    Object targets = source.containsKey("target_columns") ? source.get("target_columns") : source.get("targets");
    Object named = "inputs".equals(targets) ? source.get("inputs") : targets;
    if (!(named instanceof List<?> columns) || columns.isEmpty()) {
      return null;
    }
    List<String> names = new ArrayList<>();
    for (Object c : columns) {
      names.add(String.valueOf(c));
    }
    return names.size() == outputs ? names : null;
  }
}
