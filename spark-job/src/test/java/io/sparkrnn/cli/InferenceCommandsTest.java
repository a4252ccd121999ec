package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.NpyFiles;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.driver.Evaluation;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** grad, predict, generate, evaluate, export and import through {@link Main#run}, on tiny models and datasets. */
class InferenceCommandsTest {
  /** The reference engine in the test and in the command compute the same float64 sums. */
  static final double SAME_ENGINE_TOL = 0;
  /** Raw .npy inputs are normalised in float64 and rounded to float32: one rounding per input. */
  static final double NORMALISATION_ROUNDING_TOL = 1e-5;
  /** Float64 sums in another order, and (raw − raw) against (model − model) · std: a few ulps of the sums. */
  static final double RAW_UNITS_REL_TOL = 1e-9;

  @TempDir
  static Path tmp;
  static Path sine;
  static Path adding;
  static Path sineModel;
  static Path textModel;
  static final List<String> VOCAB = List.of("a", "b", "c", "d");

  /** What a command printed and returned. */
  record Run(int code, String out, String err) {}

  static synchronized Run run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = Main.run(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  static void assertFails(Run r, String... fragments) {
    assertEquals(2, r.code(), "exit code; stderr: " + r.err());
    for (String f : fragments) {
      assertTrue(r.err().contains(f), "stderr should mention '" + f + "': " + r.err());
    }
  }

  @BeforeAll
  static void data() throws IOException {
    Configuration hadoop = new Configuration();
    sine = tmp.resolve("sine");
    // 5 shards of 8 sequences (T = 12), normalised: predict must invert the target scaling
    Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(sine.toUri(), 8, 0.2, true, false), hadoop);
    adding = tmp.resolve("adding");
    Prep.run(new AddingSource(new AddingSource.Options(6, 16, 5, 6)), new PrepOptions(adding.toUri(), 8, 0, false, false), hadoop);
    Dataset ds = Dataset.open(sine.toUri(), hadoop);
    ModelConfig gru = new ModelConfig(CellType.GRU, 2, 1, 6, 1, Mode.SEQ2SEQ, LossType.MSE);
    sineModel = tmp.resolve("sine.safetensors");
    Files.write(sineModel, ModelFile.toBytes(Params.initialize(gru, 11), ModelMetadata.fromManifest(ds.manifest())));
    ModelConfig text = new ModelConfig(CellType.LSTM, 1, 4, 8, 4, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    textModel = tmp.resolve("text.safetensors");
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "text");
    meta.put(ModelMetadata.KEY_VOCABULARY, Json.write(new ArrayList<Object>(VOCAB)));
    Files.write(textModel, ModelFile.toBytes(Params.initialize(text, 5), meta));
  }

  static Batch shard(Path dataset, int i) throws IOException {
    Dataset ds = Dataset.open(dataset.toUri(), new Configuration());
    return ds.read(ds.manifest().shards().get(i));
  }

  static SafeTensorsFile read(Path p) throws IOException {
    return SafeTensors.read(p);
  }

  static String s(Path p) {
    return p.toString();
  }

  // ---- grad ----

  @Test
  void gradWritesTheMeanLossAndOneGradientPerParameterUnderItsName() throws IOException {
    Path out = tmp.resolve("grad.safetensors");
    Run r = run("grad", "--weights", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--out", s(out));
    assertEquals(0, r.code(), r.err());
    TrainedModel m = TrainedModel.load(sineModel);
    GradientSum expected = new ReferenceEngine().lossAndGradient(m.params(), shard(sine, 0), null).gradients();
    float[] mean = expected.meanGradient();
    SafeTensorsFile g = read(out);
    List<String> names = new ArrayList<>(m.params().layout().specs().stream().map(ParamSpec::name).toList());
    names.add("loss");
    assertEquals(names, new ArrayList<>(g.tensors().keySet()), "tensor names");
    for (ParamSpec spec : m.params().layout().specs()) {
      Tensor t = g.require(spec.name());
      assertArrayEquals(spec.shape(), t.shape(), "shape of " + spec.name());
      float[] want = Arrays.copyOfRange(mean, spec.offset(), spec.offset() + spec.size());
      assertArrayEquals(want, t.floats(), (float) SAME_ENGINE_TOL, "gradient of " + spec.name());
    }
    assertArrayEquals(new int[] {1}, g.require("loss").shape());
    assertEquals((float) expected.meanLoss(), g.require("loss").floats()[0], "loss");
  }

  /**
   * A shard named on its own inside a dataset is checked against the manifest's size and CRC32C, as
   * training reads it: a flipped byte in a value passes every check of the file alone (a user audit:
   * grad gave a loss from the corrupted shard, exit 0). Outside a dataset the file's own checks stand.
   */
  @Test
  void aShardNamedOnItsOwnInADatasetIsCheckedAgainstTheManifest() throws IOException {
    Path copy = Files.createDirectories(tmp.resolve("flipped-dataset"));
    try (var files = Files.list(sine)) {
      for (Path f : files.toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    Path shard = copy.resolve("shard-00000.safetensors");
    byte[] b = Files.readAllBytes(shard);
    b[b.length - 3] ^= 0x01;   // the last float of y: its lowest mantissa bits
    Files.write(shard, b);
    Path out = tmp.resolve("flipped-grad.safetensors");
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(shard), "--out", s(out)), "shard-00000.safetensors",
        "CRC32C does not match");
    assertFalse(Files.exists(out));
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(shard)), "CRC32C does not match");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(shard), "--out", s(tmp.resolve("flipped-pred.npy"))),
        "CRC32C does not match");
    Path alone = Files.write(tmp.resolve("flipped-alone.safetensors"), b);
    Run r = run("grad", "--weights", s(sineModel), "--data", s(alone), "--out", s(out));
    assertEquals(0, r.code(), "outside a dataset nothing says what the bytes should be: " + r.err());
  }

  @Test
  void gradRefusesBadInputNamingFileTensorExpectedAndFoundAndWritesNothing() throws IOException {
    Path out = tmp.resolve("bad-grad.safetensors");
    Path wrongName = tmp.resolve("wrong-name.safetensors");
    Files.write(wrongName, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("inputs", new int[] {2, 1, 1}, new float[2]),
        Tensor.ofFloats("y", new int[] {2, 1, 1}, new float[2]))));
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(wrongName), "--out", s(out)), "wrong-name.safetensors", "'x'");

    Path wrongF = tmp.resolve("wrong-f.safetensors");
    Files.write(wrongF, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 1, 3}, new float[6]),
        Tensor.ofFloats("y", new int[] {2, 1, 1}, new float[2]))));
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(wrongF), "--out", s(out)), "F=3", "F=1");

    Path wrongDtype = tmp.resolve("wrong-dtype.safetensors");
    Files.write(wrongDtype, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 1, 1}, new float[2]),
        Tensor.ofInts("y", new int[] {2, 1}, new int[2]))));
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(wrongDtype), "--out", s(out)), "y is I32", "F32 [T,B,O]");

    Path wrongShape = tmp.resolve("wrong-shape.safetensors");
    Files.write(wrongShape, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 1, 1}, new float[2]),
        Tensor.ofFloats("y", new int[] {2, 1, 2}, new float[4]))));
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(wrongShape), "--out", s(out)), "[2, 1, 2]", "[2, 1, 1]");

    // a model file without one metadata key: the key is named (the version too, which every file we write has)
    SafeTensorsFile model = read(sineModel);
    for (String key : List.of("hidden_size", "spark_rnn_format_version")) {
      Map<String, String> meta = new LinkedHashMap<>(model.metadata());
      meta.remove(key);
      Path without = tmp.resolve("no-" + key + ".safetensors");
      Files.write(without, SafeTensors.toBytes(meta, model.tensors().values()));
      assertFails(run("grad", "--weights", s(without), "--data", s(sine.resolve("shard-00000.safetensors")), "--out", s(out)),
          "no-" + key + ".safetensors", key);
      assertFalse(Files.exists(out), "nothing written");
    }
  }

  // ---- predict ----

  @Test
  void predictOverADatasetEqualsTheKernelForwardOfEachShardWhateverThePartitionCount() throws IOException {
    Path one = tmp.resolve("pred-1");
    Path three = tmp.resolve("pred-3");
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(one), "--partitions", "1",
        "--master", "local[2]").code());
    Run r = run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(three), "--partitions", "3", "--master", "local[2]");
    assertEquals(0, r.code(), r.err());
    TrainedModel m = TrainedModel.load(sineModel);
    Dataset ds = Dataset.open(sine.toUri(), new Configuration());
    List<ShardInfo> shards = ds.manifest().shards();
    assertEquals(5, shards.size());
    try (BpttEngine kernel = Engines.create("kernel", "auto")) {
      for (int i = 0; i < shards.size(); i++) {
        String f = shards.get(i).file();
        assertArrayEquals(Files.readAllBytes(one.resolve(f)), Files.readAllBytes(three.resolve(f)), f + ": 1 vs 3 partitions");
        Batch b = ds.read(shards.get(i));
        float[] expected = m.outputsToRawUnits(kernel.forward(m.params(), b, null).outputs());  // shards are in model units
        Tensor output = read(one.resolve(f)).require("output");
        assertArrayEquals(new int[] {b.steps(), b.batchSize(), 1}, output.shape(), f);
        assertArrayEquals(expected, output.floats(), 0f, f + ": output vs the kernel's forward");
      }
    }
    assertTrue(Files.exists(one.resolve("predictions.json")));

    Path npy = tmp.resolve("pred-all.npy");
    Run toNpy = run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(npy), "--partitions", "2",
        "--master", "local[2]");
    assertEquals(0, toNpy.code(), toNpy.err());
    // the units, as the single-file form prints them: a .npy has no metadata to hold them (a user audit); the sine data is normalised
    assertTrue(toNpy.out().contains("predicted [12, 40, 1] from 5 shards of ") && toNpy.out().contains(" (raw units)"), toNpy.out());
    // one shard is "1 shard" in both forms: the sine's validation split is 8 of its 40 sequences, one shard of B = 8
    Run oneNpy = run("predict", "--model", s(sineModel), "--data", s(sine), "--split", "validation", "--out",
        s(tmp.resolve("pred-validation.npy")), "--master", "local[1]");
    assertEquals(0, oneNpy.code(), oneNpy.err());
    assertTrue(oneNpy.out().contains("predicted [12, 8, 1] from 1 shard of "), oneNpy.out());
    assertTrue(oneNpy.out().contains("predicting 1 shard (8 sequences) of ") && oneNpy.out().contains(" on 1 partition\n"),
        oneNpy.out());
    Run oneDir = run("predict", "--model", s(sineModel), "--data", s(sine), "--split", "validation", "--out",
        s(tmp.resolve("pred-validation")), "--master", "local[1]");
    assertEquals(0, oneDir.code(), oneDir.err());
    assertTrue(oneDir.out().contains("predicted 1 shard of "), oneDir.out());
    NpyFiles.FloatArray all = NpyFiles.readFloats(npy.toString(), new Configuration());
    assertArrayEquals(new int[] {12, 40, 1}, all.shape());
    float[] shard1 = read(one.resolve(shards.get(1).file())).require("output").floats();   // [12, 8, 1]
    for (int t = 0; t < 12; t++) {
      for (int b = 0; b < 8; b++) {
        assertEquals(shard1[t * 8 + b], all.data()[t * 40 + 8 + b], "npy (t=" + t + ", n=" + (8 + b) + ")");
      }
    }
  }

  @Test
  void predictFromRawNpyInputsNormalisesThemAsTheShardsAre() throws IOException {
    TrainedModel m = TrainedModel.load(sineModel);
    Batch b = shard(sine, 0);
    Path raw = tmp.resolve("raw.npy");
    Files.write(raw, NpyWriter.toBytes(new int[] {b.steps(), b.batchSize(), 1}, m.inputsToRawUnits(b.x())));
    Path fromNpy = tmp.resolve("from-npy.safetensors");
    Path fromShard = tmp.resolve("from-shard.safetensors");
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(raw), "--out", s(fromNpy), "--engine", "reference").code());
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--out",
        s(fromShard), "--engine", "reference").code());
    assertArrayEquals(read(fromShard).require("output").floats(), read(fromNpy).require("output").floats(),
        (float) NORMALISATION_ROUNDING_TOL);
  }

  /**
   * --split chooses the dataset's shards to predict (its option's description: all | train |
   * validation): the output directory holds one file for each shard whose manifest says that split,
   * and no other, and predictions.json lists those files with their split. A split with no shards (the
   * adding dataset is prepped with validation fraction 0) is refused, writing nothing.
   */
  @Test
  void predictSplitWritesOnlyThatSplitsShards() throws IOException {
    List<ShardInfo> shards = Dataset.open(sine.toUri(), new Configuration()).manifest().shards();
    for (String split : List.of("train", "validation", "all")) {
      List<String> expected = shards.stream().filter(sh -> split.equals("all") || sh.split().id().equals(split))
          .map(ShardInfo::file).sorted().toList();
      assertFalse(expected.isEmpty(), split);
      Path dir = tmp.resolve("pred-split-" + split);
      Run r = run("predict", "--model", s(sineModel), "--data", s(sine), "--split", split, "--out", s(dir), "--master", "local[1]");
      assertEquals(0, r.code(), r.err());
      long sequences = shards.stream().filter(sh -> split.equals("all") || sh.split().id().equals(split)).mapToLong(ShardInfo::batch)
          .sum();
      // the validation split is one shard: "1 shard"
      assertTrue(r.out().contains("predicting " + expected.size() + (expected.size() == 1 ? " shard (" : " shards (") + sequences
          + " sequences) of "), r.out());
      try (var files = Files.list(dir)) {
        assertEquals(expected, files.map(f -> f.getFileName().toString()).filter(f -> f.startsWith("shard-")).sorted().toList(),
            "--split " + split);
      }
      Map<String, Object> summary = Json.parseObject(Files.readString(dir.resolve("predictions.json")));
      assertEquals(split, summary.get("split"));
      List<String> listed = new ArrayList<>();
      for (Object o : (List<?>) summary.get("shards")) {
        Map<?, ?> f = (Map<?, ?>) o;
        listed.add((String) f.get("file"));
        assertTrue(split.equals("all") || split.equals(f.get("split")), "--split " + split + ": " + f);
      }
      assertEquals(expected, listed.stream().sorted().toList(), "predictions.json of --split " + split);
    }
    Path addingModel = tmp.resolve("adding-predict-split.safetensors");
    Files.write(addingModel, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.RNN, 1, 2, 4, 1, Mode.SEQ2ONE, LossType.MSE), 2),
        ModelMetadata.fromManifest(Dataset.open(adding.toUri(), new Configuration()).manifest())));
    Path none = tmp.resolve("pred-adding-validation");
    assertFails(run("predict", "--model", s(addingModel), "--data", s(adding), "--split", "validation", "--out", s(none),
        "--master", "local[1]"), "no shards in split validation");
    assertFalse(Files.exists(none), "nothing written");
  }

  /**
   * --model-units: regression outputs in the model's (normalised) units instead of raw ones. The stored
   * normalisation inverted is raw = model·target_std + target_mean (docs/inference.md), so the two outputs
   * of the same input must satisfy (raw − target_mean)/target_std = model, worked in float64, for one
   * input and for a dataset; predictions.json says which units its files are in, and only the raw run
   * says "(raw units)".
   */
  @Test
  void modelUnitsWritesTheOutputsBeforeTheTargetNormalisationIsInverted() throws IOException {
    Normalization n = TrainedModel.load(sineModel).normalization();
    double mean = n.targetMean()[0];
    double std = n.targetStd()[0];
    assertTrue(std != 1 || mean != 0, "the sine dataset is normalised: the two units differ");
    Path shard = sine.resolve("shard-00000.safetensors");
    Path raw = tmp.resolve("mu-raw.safetensors");
    Path model = tmp.resolve("mu-model.safetensors");
    Run rawRun = run("predict", "--model", s(sineModel), "--data", s(shard), "--out", s(raw), "--engine", "reference");
    assertEquals(0, rawRun.code(), rawRun.err());
    assertTrue(rawRun.out().contains("(raw units)"), rawRun.out());
    Run modelRun = run("predict", "--model", s(sineModel), "--data", s(shard), "--out", s(model), "--engine", "reference",
        "--model-units");
    assertEquals(0, modelRun.code(), modelRun.err());
    assertTrue(modelRun.out().contains("(model units)") && !modelRun.out().contains("raw units"), modelRun.out());
    assertEquals("raw", read(raw).metadata().get("units"), "the file says its units, as predictions.json does");
    assertEquals("model", read(model).metadata().get("units"));
    assertNormalised(read(raw).require("output").floats(), read(model).require("output").floats(), mean, std, "one input");

    Path rawDir = tmp.resolve("mu-raw-dir");
    Path modelDir = tmp.resolve("mu-model-dir");
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(rawDir), "--master", "local[1]").code());
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(modelDir), "--master", "local[1]",
        "--model-units").code());
    assertEquals("raw", Json.parseObject(Files.readString(rawDir.resolve("predictions.json"))).get("units"));
    assertEquals("model", Json.parseObject(Files.readString(modelDir.resolve("predictions.json"))).get("units"));
    for (ShardInfo sh : Dataset.open(sine.toUri(), new Configuration()).manifest().shards()) {
      assertEquals("model", read(modelDir.resolve(sh.file())).metadata().get("units"), sh.file());
      assertNormalised(read(rawDir.resolve(sh.file())).require("output").floats(),
          read(modelDir.resolve(sh.file())).require("output").floats(), mean, std, sh.file());
    }
  }

  /** Float32 outputs, each rounded once in each file: a few ulps of the raw value, divided by std. */
  static void assertNormalised(float[] raw, float[] model, double mean, double std, String what) {
    assertEquals(raw.length, model.length, what);
    for (int i = 0; i < raw.length; i++) {
      double expected = (raw[i] - mean) / std;
      assertEquals(expected, model[i], 1e-5 * (1 + Math.abs(raw[i]) / std), what + " [" + i + "]");
    }
  }

  /**
   * A text model's predictions to FILE.npy come with FILE.txt (docs/inference.md): per sequence one
   * line, the vocabulary's character at each step's argmax of the logits written to FILE.npy [T,B,V];
   * the same lines are printed after the summary line.
   */
  @Test
  void aTextModelsNpyPredictionsComeWithTheArgmaxTextBeside() throws IOException {
    int T = 3, B = 2, V = VOCAB.size();
    float[] x = new float[T * B * V];   // one-hot ids [t][b]: b=0 reads a b c, b=1 reads d d a
    int[][] ids = {{0, 3}, {1, 3}, {2, 0}};
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        x[(t * B + b) * V + ids[t][b]] = 1;
      }
    }
    Path input = Files.write(tmp.resolve("text-in.safetensors"), SafeTensors.toBytes(Map.of(),
        List.of(Tensor.ofFloats("x", new int[] {T, B, V}, x))));
    Path npy = tmp.resolve("text-out.npy");
    Run r = run("predict", "--model", s(textModel), "--data", s(input), "--out", s(npy), "--engine", "reference");
    assertEquals(0, r.code(), r.err());
    NpyFiles.FloatArray logits = NpyFiles.readFloats(npy.toString(), new Configuration());
    assertArrayEquals(new int[] {T, B, V}, logits.shape());
    StringBuilder expected = new StringBuilder();
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        int best = 0;
        for (int v = 1; v < V; v++) {
          if (logits.data()[(t * B + b) * V + v] > logits.data()[(t * B + b) * V + best]) {
            best = v;
          }
        }
        expected.append(VOCAB.get(best));
      }
      expected.append('\n');
    }
    Path txt = tmp.resolve("text-out.txt");
    assertTrue(Files.isRegularFile(txt), "FILE.txt beside FILE.npy");
    assertEquals(expected.toString(), Files.readString(txt));
    assertTrue(r.out().endsWith(expected.toString()), "printed after the summary: " + r.out());
    // FILE.safetensors comes with FILE.txt too, as a dataset's shard-00003.safetensors does (a user audit: the docs
    // said so, and only FILE.npy had it)
    Path st = tmp.resolve("text-out2.safetensors");
    r = run("predict", "--model", s(textModel), "--data", s(input), "--out", s(st), "--engine", "reference");
    assertEquals(0, r.code(), r.err());
    assertEquals(expected.toString(), Files.readString(tmp.resolve("text-out2.txt")));
  }

  @Test
  void predictAndEvaluateRefuseADatasetWhoseFOrODiffersFromTheModel() {
    // adding: F=2, O=1; the sine model has F=1
    // the message names the dataset (where) as well as the model
    assertFails(run("predict", "--model", s(sineModel), "--data", s(adding), "--out", s(tmp.resolve("x"))), s(adding), "F=2",
        "F=1", s(sineModel));
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(adding)), s(adding), "F=2", "F=1");
    assertFalse(Files.exists(tmp.resolve("x")));
  }

  /**
   * A shard named on its own is in the units of its dataset's normalisation, as the directory is: a
   * user audit found predict on data/ser/shard-00000.safetensors exit 0 with a model that records no
   * normalisation, where the directory data/ser is refused. The sine dataset is prepped with
   * --normalize (data()), so a model without statistics must be refused on its shards, naming both;
   * the same bytes outside any dataset have no manifest to compare with and are read as before.
   */
  @Test
  void aShardNamedOnItsOwnIsCheckedAgainstItsDatasetsNormalisation() throws IOException {
    ModelConfig gru = new ModelConfig(CellType.GRU, 2, 1, 6, 1, Mode.SEQ2SEQ, LossType.MSE);
    Path rawModel = tmp.resolve("sine-raw-units.safetensors");
    Files.write(rawModel, ModelFile.toBytes(Params.initialize(gru, 11), Map.of()));
    Path shard = sine.resolve("shard-00000.safetensors");
    Path out = tmp.resolve("raw-units-pred.npy");
    String both = "the dataset's shards are normalised with input_mean=";
    String model = "the model was trained on data normalised with nothing (raw units)";
    assertFails(run("predict", "--model", s(rawModel), "--data", s(shard), "--out", s(out), "--engine", "reference"),
        s(shard), both, model);
    // the model has no statistics to prep with: the hint says so (it said to prep with the model's statistics)
    assertFails(run("evaluate", "--model", s(rawModel), "--data", s(shard), "--engine", "reference"), s(shard), both, model,
        "; prepare the data without --normalize, as the model's was");
    assertFails(run("generate", "--model", s(rawModel), "--primer", s(shard), "--steps", "2", "--engine", "reference"),
        s(shard), both, model);
    assertFalse(Files.exists(out), "nothing written");
    // with targets (evaluate) the mode must agree too, as on the directory
    Dataset ds = Dataset.open(sine.toUri(), new Configuration());
    Path seq2one = tmp.resolve("sine-seq2one-shard.safetensors");
    Files.write(seq2one, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2ONE, LossType.MSE),
        3), ModelMetadata.fromManifest(ds.manifest())));
    assertFails(run("evaluate", "--model", s(seq2one), "--data", s(shard), "--engine", "reference"), s(shard),
        "the dataset is seq2seq, mse; the model is seq2one, mse");
    // the matching model is accepted on the shard, and the unmatched one on a copy with no manifest beside it
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(shard), "--out", s(out), "--engine", "reference").code());
    Path alone = Files.copy(shard, Files.createDirectories(tmp.resolve("no-manifest")).resolve("shard-00000.safetensors"));
    Run r = run("predict", "--model", s(rawModel), "--data", s(alone), "--out", s(tmp.resolve("alone-pred.npy")), "--engine",
        "reference");
    assertEquals(0, r.code(), "no manifest: nothing says what units the file is in: " + r.err());
  }

  /**
   * A file output that names an existing directory is refused before any work, naming the option: a
   * user audit found evaluate --json DIR score everything, print the table and only then fail with
   * Hadoop's "must both be directories". Missing parent directories of a file output are created, as
   * for every output (docs/inference.md).
   */
  @Test
  void aFileOutputThatNamesADirectoryIsRefusedBeforeAnyWork() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("an-existing-dir.json"));
    Path shard = sine.resolve("shard-00000.safetensors");
    Run e = run("evaluate", "--model", s(sineModel), "--data", s(shard), "--json", s(dir), "--engine", "reference");
    assertFails(e, "--json " + s(dir) + ": is a directory, expected a file name");
    assertEquals("", e.out(), "refused before scoring: no table");
    Path npyDir = Files.createDirectories(tmp.resolve("dir-named.npy"));
    Path stDir = Files.createDirectories(tmp.resolve("dir-named.safetensors"));
    for (Path d : List.of(npyDir, stDir)) {
      assertFails(run("predict", "--model", s(sineModel), "--data", s(shard), "--out", s(d), "--engine", "reference"),
          "--out " + s(d) + ": is a directory, expected a file name");
      assertFails(run("generate", "--model", s(sineModel), "--primer", s(shard), "--steps", "2", "--out", s(d), "--engine",
          "reference"), "--out " + s(d) + ": is a directory, expected a file name");
    }
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(npyDir), "--master", "local[1]"),
        "--out " + s(npyDir) + ": is a directory, expected a file name");
    // a text model's predictions to FILE.npy also write FILE.txt: a directory there is refused before the forward too
    Path textShard = tmp.resolve("text-shard.safetensors");
    Files.write(textShard, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {2, 1, 4},
        new float[] {1, 0, 0, 0, 0, 1, 0, 0}))));
    Path txtDir = Files.createDirectories(tmp.resolve("text-pred.txt"));
    Run t = run("predict", "--model", s(textModel), "--data", s(textShard), "--out", s(tmp.resolve("text-pred.npy")),
        "--engine", "reference");
    assertFails(t, "--out " + s(tmp.resolve("text-pred.npy")), s(txtDir), "is a directory, expected a file name");
    assertFalse(Files.exists(tmp.resolve("text-pred.npy")), "nothing written");
    t = run("predict", "--model", s(textModel), "--data", s(textShard), "--out", s(tmp.resolve("text-pred.safetensors")),
        "--engine", "reference");
    assertFails(t, "--out " + s(tmp.resolve("text-pred.safetensors")), s(txtDir), "is a directory, expected a file name");
    assertFalse(Files.exists(tmp.resolve("text-pred.safetensors")), "nothing written");
    // missing parents are created, as for predict's and generate's --out
    Path nested = tmp.resolve("new-parent").resolve("deeper").resolve("e.json");
    Run ok = run("evaluate", "--model", s(sineModel), "--data", s(shard), "--json", s(nested), "--engine", "reference");
    assertEquals(0, ok.code(), ok.err());
    assertTrue(Files.isRegularFile(nested));
  }

  // ---- evaluate ----


  /** Same F, O, loss and normalisation, another mode: a seq2one model does not score a seq2seq dataset's targets. */
  @Test
  void evaluateRefusesADatasetOfAnotherModeNamingBoth() throws IOException {
    Dataset ds = Dataset.open(sine.toUri(), new Configuration());
    ModelConfig seq2one = new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2ONE, LossType.MSE);
    Path model = tmp.resolve("sine-seq2one.safetensors");
    Files.write(model, ModelFile.toBytes(Params.initialize(seq2one, 3), ModelMetadata.fromManifest(ds.manifest())));
    assertFails(run("evaluate", "--model", s(model), "--data", s(sine)), "the dataset is seq2seq, mse; the model is seq2one, mse");
  }

  @Test
  void evaluateReportsTheTeacherForcedAndClosedLoopLossAsJson() throws IOException {
    Path json = tmp.resolve("eval.json");
    Run r = run("evaluate", "--model", s(sineModel), "--data", s(sine), "--feedback", "3", "--from-step", "2", "--json", s(json),
        "--engine", "reference", "--master", "local[2]");
    assertEquals(0, r.code(), r.err());
    Map<String, Object> j = Json.parseObject(Files.readString(json));
    for (String k : List.of("loss", "accuracy", "perplexity", "closed_loop_loss")) {
      assertTrue(j.containsKey(k), "key " + k);
    }
    assertNull(j.get("accuracy"), "no accuracy for mse");
    // the teacher-forced loss by hand: the mean of (output − target)² over every (t ≥ 2, b) of the
    // five shards (O = 1, every sequence full length; --from-step 2), the outputs from the float64
    // reference engine, [T][B] at t·B + b. The closed loop is Evaluation.ofBatch's per shard (checked
    // against a float64 hand loop in ClosedLoopUnitsTest), weighted by the shards' K·B terms, fed back
    // in the model's units.
    TrainedModel m = TrainedModel.load(sineModel);
    assertEquals(1, m.config().outputSize());
    double squares = 0;
    long terms = 0;
    double withUnits = 0;
    double asIs = 0;
    long rows = 0;
    // --tolerance TOL (docs/inference.md): the share of scored (t, b) rows whose absolute error, in model units, is at
    // most TOL; counted by hand over the five shards' T·B rows, the teacher-forced outputs of the float64 reference
    double tol = 0.1;
    long within = 0;
    long scored = 0;
    try (ReferenceEngine engine = new ReferenceEngine()) {
      for (int i = 0; i < 5; i++) {
        Batch b = shard(sine, i);
        assertNull(b.lengths(), "the sine shards have no padding");
        float[] out = engine.forward(m.params(), b, null).outputs();
        for (int k = 0; k < out.length; k++) {
          double e = (double) out[k] - b.targets()[k];
          scored++;
          within += Math.abs(e) <= tol ? 1 : 0;
          if (k >= 2 * b.batchSize()) {   // --from-step 2: the loss scores t ≥ 2 only
            squares += e * e;
            terms++;
          }
        }
        withUnits += b.batchSize() * Evaluation.ofBatch(m.config(), m.params(), engine, b, 3, 2, Double.NaN, m.normalization(), "shard " + i)
            .closedLoopLoss();
        asIs += b.batchSize() * Evaluation.ofBatch(m.config(), m.params(), engine, b, 3, 2, Double.NaN, null, "shard " + i).closedLoopLoss();
        rows += b.batchSize();
      }
    }
    double expected = squares / terms;
    assertEquals(expected, ((Number) j.get("loss")).doubleValue(), 1e-9 * expected, "loss");
    // the start line counts the shards (--split all: the five) and their sequences, the B of each, summed above
    assertTrue(r.out().contains("evaluating 5 shards (" + rows + " sequences) of "), r.out());
    // loss_terms is loss's divisor: each scored (t ≥ 2, b) of each shard once, on local[2]'s two partitions too
    assertEquals(terms, ((Number) j.get("loss_terms")).longValue(), "loss_terms");
    assertEquals(2L, ((Number) j.get("from_step")).longValue());
    withUnits /= rows;
    asIs /= rows;
    assertTrue(Math.abs(withUnits - asIs) > 1e-6 * withUnits, "the fixture tells the two feedback rules apart: " + withUnits + " vs " + asIs);
    assertEquals(withUnits, ((Number) j.get("closed_loop_loss")).doubleValue(), 1e-9 * withUnits, "closed-loop loss, in the model's units");

    assertTrue(within > 0 && within < scored, "the fixture has rows on both sides of " + tol + ": " + within + " of " + scored);
    Path tolJson = tmp.resolve("eval-tolerance.json");
    Run withTol = run("evaluate", "--model", s(sineModel), "--data", s(sine), "--tolerance", Double.toString(tol), "--json", s(tolJson),
        "--engine", "reference", "--master", "local[2]");
    assertEquals(0, withTol.code(), withTol.err());
    Map<String, Object> jt = Json.parseObject(Files.readString(tolJson));
    assertEquals((double) within / scored, ((Number) jt.get("within_tolerance")).doubleValue(), 1e-12, "within_tolerance");
  }

  @Test
  void aVocabularyWithNewlineAndTabIsNamedOnOneLine() throws IOException {
    // four symbols like the text model's [a, b, c, d], but two of them a newline and a tab
    Path text = tmp.resolve("tabs.txt");
    Files.writeString(text, "ab\n\t".repeat(200));
    Path ds = tmp.resolve("tabs-ds");
    Run prep = run("prep", "text", s(text), "--steps", "8", "--batch", "8", "--out", s(ds));
    assertEquals(0, prep.code(), prep.err());
    Run r = run("evaluate", "--model", s(textModel), "--data", s(ds), "--master", "local[1]");
    assertFails(r, "the dataset's vocabulary [\"\\t\",\"\\n\",\"a\",\"b\"] differs from the model's [\"a\",\"b\",\"c\",\"d\"]");
    assertEquals(1, r.err().strip().lines().filter(l -> l.startsWith("error:") || l.contains("vocabulary")).count(), r.err());
  }

  @Test
  void evaluateRefusesOptionsThatDoNotApplyToTheModel() throws IOException {
    // a class model: no tolerance; the adding dataset's seq2one mse model: no --from-step, no --feedback
    assertFails(run("evaluate", "--model", s(textModel), "--data", s(sine), "--tolerance", "0.1"),
        "--tolerance applies to mse models", "text.safetensors", "cross_entropy");
    Path addingModel = tmp.resolve("adding.safetensors");
    ModelConfig seq2one = new ModelConfig(CellType.RNN, 1, 2, 4, 1, Mode.SEQ2ONE, LossType.MSE);
    Files.write(addingModel, ModelFile.toBytes(Params.initialize(seq2one, 2),
        ModelMetadata.fromManifest(Dataset.open(adding.toUri(), new Configuration()).manifest())));
    assertFails(run("evaluate", "--model", s(addingModel), "--data", s(adding), "--from-step", "5"),
        "--from-step applies to seq2seq models", "adding.safetensors");
    assertFails(run("evaluate", "--model", s(addingModel), "--data", s(adding), "--feedback", "5"),
        "--feedback", "needs a seq2seq model", "adding.safetensors");
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--split",
        "validation"), "--split validation", "one shard file");
  }

  @Test
  void generateRefusesSamplerOptionsThatWouldBeIgnored() {
    // --temperature alone generated by argmax, the default; a sampler on a continuous model pointed at a Java API
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--temperature", "0.8"),
        "--temperature applies to --sampler softmax; add --sampler softmax");
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--sampler", "softmax"),
        "--sampler softmax picks class ids", "sine.safetensors", "leave out --sampler");
    // --temperature on a continuous model: said so at once (it advised adding --sampler softmax, which the line above refuses)
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--temperature", "0.5"),
        "--temperature applies to sampling class ids (--sampler softmax) from a class (cross_entropy) model", "sine.safetensors",
        "has loss mse", "leave out --temperature");
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--temperature", "0.5", "--sampler",
        "softmax"), "leave out --temperature and --sampler");
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--sampler", "softmax", "--temperature",
        "-0.5"), "--temperature must be ≥ 0 and finite, found -0.5");
    // --seed where nothing draws was ignored (exit 0), where --temperature was refused (a user audit)
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--seed", "5"),
        "--seed seeds --sampler softmax; argmax, the default, draws nothing: add --sampler softmax");
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--seed", "5", "--sampler", "argmax"),
        "--seed seeds --sampler softmax; --sampler argmax draws nothing: leave out --seed, or use --sampler softmax");
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--seed", "4"),
        "--seed seeds the softmax sampler of class (cross_entropy) models", "sine.safetensors", "has loss mse", "leave out --seed");
    // every sampler option given is named at once: leaving out --seed alone led to the --sampler refusal (a review)
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--seed", "4", "--sampler", "softmax",
        "--temperature", "2"), "leave out --temperature, --seed and --sampler");
    assertFails(run("generate", "--model", s(sineModel), "--primer", "0.1", "--steps", "3", "--seed", "4", "--sampler", "softmax"),
        "leave out --seed and --sampler");
    // the help names two samplers; a third, hidden one ran continuous models' feedback on a class model's outputs
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--sampler", "identity"),
        "--sampler: 'identity' is not one of argmax, softmax");
    Path csv = tmp.resolve("g.csv");
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--out", s(csv)),
        "--out " + s(csv), "FILE.npy or FILE.safetensors");
    assertFalse(Files.exists(csv), "a safetensors file was written under another name");
    // below a regular file: the option is named (it was Hadoop's "Destination exists and is not a directory")
    Path below = tmp.resolve("a-file.txt");
    assertDoesNotThrow(() -> Files.writeString(below, "x"));
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "3", "--out", s(below.resolve("g.npy"))),
        "--out");
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--out",
        s(below.resolve("g.safetensors"))), "--out");
  }

  @Test
  void predictRefusesAnOutputItCannotWriteAsNamed() {
    Path shardFile = sine.resolve("shard-00000.safetensors");
    Path csv = tmp.resolve("p.csv");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(shardFile), "--out", s(csv)),
        "--out " + s(csv), "FILE.safetensors or FILE.npy");
    Path one = tmp.resolve("all.safetensors");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(one), "--master", "local[1]"),
        "--out " + s(one), "a directory (one file per shard) or one FILE.npy");
    // a dataset's --out p.csv made a directory p.csv of shard outputs: the docs refuse a .csv before anything runs
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(csv), "--master", "local[1]"),
        "--out " + s(csv), "a directory (one file per shard) or one FILE.npy", "not a .csv file");
    Path json = tmp.resolve("P.JSON");   // any case, with a trailing slash
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(json) + "/", "--master", "local[1]"),
        "not a .json file");
    assertFalse(Files.exists(csv) || Files.exists(one) || Files.exists(json), "nothing written");
    // a --data that is not there is named first: --out's form depends on what --data is (it said "--out DIR: one input's
    // predictions go to FILE.safetensors or FILE.npy" for a dataset directory mistyped)
    String typo = s(tmp.resolve("no-such-dataset"));
    assertFails(run("predict", "--model", s(sineModel), "--data", typo, "--out", s(tmp.resolve("preds"))),
        "--data " + typo + ": no such file or directory");
    assertFails(run("predict", "--model", s(textModel), "--data", s(shardFile), "--out", s(tmp.resolve("t.npy")),
        "--model-units"), "--model-units applies to regression (mse) models", "text.safetensors");
  }

  @Test
  void evaluateRefusesANegativeToleranceBeforeScoring() {
    for (String tol : List.of("-0.04", "NaN")) {
      assertFails(run("evaluate", "--model", s(sineModel), "--data", s(sine), "--tolerance", tol, "--master", "local[2]"),
          "--tolerance must be ≥ 0", "found " + tol);
    }
  }

  @Test
  void evaluateReportsRmseAndMaeInTheDatasetsUnitsBeforeNormalisation() throws IOException {
    Path json = tmp.resolve("eval-raw.json");
    Run r = run("evaluate", "--model", s(sineModel), "--data", s(sine), "--json", s(json), "--engine", "reference",
        "--master", "local[2]");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("rmse"), "the table prints rmse: " + r.out());
    Map<String, Object> j = Json.parseObject(Files.readString(json));
    // independent: predictions and targets both taken back to raw units, raw = v · std + mean, then compared
    TrainedModel m = TrainedModel.load(sineModel);
    Normalization n = Dataset.open(sine.toUri(), new Configuration()).manifest().normalization();
    assertNotNull(n.targetStd(), "the sine dataset normalises its targets");
    int O = m.config().outputSize();
    double[] squared = new double[O];
    double[] absolute = new double[O];
    long rows = 0;
    for (int i = 0; i < 5; i++) {
      Batch b = shard(sine, i);
      float[] y = new ReferenceEngine().forward(m.params(), b, null).outputs();
      for (int t = 0; t < b.steps(); t++) {
        for (int k = 0; k < b.batchSize(); k++) {
          if (t >= b.length(k)) {
            continue;
          }
          rows++;
          for (int o = 0; o < O; o++) {
            int at = (t * b.batchSize() + k) * O + o;
            double predicted = y[at] * n.targetStd()[o] + n.targetMean()[o];
            double truth = b.targets()[at] * n.targetStd()[o] + n.targetMean()[o];
            squared[o] += (predicted - truth) * (predicted - truth);
            absolute[o] += Math.abs(predicted - truth);
          }
        }
      }
    }
    List<?> rmse = (List<?>) j.get("rmse");
    List<?> mae = (List<?>) j.get("mae");
    assertEquals(O, rmse.size(), "one rmse per output");
    for (int o = 0; o < O; o++) {
      double wantRmse = Math.sqrt(squared[o] / rows);
      double wantMae = absolute[o] / rows;
      assertEquals(wantRmse, ((Number) rmse.get(o)).doubleValue(), RAW_UNITS_REL_TOL * wantRmse, "rmse[" + o + "]");
      assertEquals(wantMae, ((Number) mae.get(o)).doubleValue(), RAW_UNITS_REL_TOL * wantMae, "mae[" + o + "]");
    }
    // and not the model-unit value: the sine targets' std is far from 1
    assertTrue(Math.abs(n.targetStd()[0] - 1) > 0.1, "std " + n.targetStd()[0]);
  }

  @Test
  void trainInitWithAnotherCellExitsTwoNamingTheField() {
    // sineModel is a GRU(1→6→1) trained on the sine dataset's units; an LSTM run cannot start from it
    Run r = run("train", "--data", s(sine), "--out", s(tmp.resolve("warm-cli")), "--init", s(sineModel), "--cell", "lstm",
        "--hidden-size", "6", "--steps", "1", "--batch", "8");
    assertFails(r, "init: " + s(sineModel), "has cell gru, the run has cell lstm");
    assertFalse(Files.exists(tmp.resolve("warm-cli").resolve("model.safetensors")), "nothing trained");
    // a missing file is bad input naming it (it was an I/O error with Hadoop's words)
    String missing = s(tmp.resolve("no-such-model.safetensors"));
    assertFails(run("train", "--data", s(sine), "--out", s(tmp.resolve("warm-cli")), "--init", missing, "--steps", "1",
        "--batch", "8"), "init: the initial model " + missing + " does not exist; expected a model file");
  }

  /**
   * {@code --init DIR}: a directory holding model.safetensors (a saved RnnModel, train's --out)
   * is the model in it, as RnnEstimator.setInitialModel takes it: the same weights as the file
   * named directly, so the same trained bytes.
   */
  @Test
  void trainInitTakesADirectoryThatHoldsTheModel() throws IOException {
    Path saved = tmp.resolve("saved-model");
    Files.createDirectories(saved.resolve("metadata"));
    Files.writeString(saved.resolve("metadata/part-00000"), "{\"class\":\"io.sparkrnn.ml.RnnModel\"}\n");
    Files.copy(sineModel, saved.resolve("model.safetensors"));
    String[] common = {"--data", s(sine), "--cell", "gru", "--num-layers", "2", "--hidden-size", "6", "--steps", "2", "--batch", "8",
        "--checkpoint-every", "0", "--master", "local[1]", "--device", "jvm"};
    Run fromDir = run(concat(concat(new String[] {"train"}, common), "--init", s(saved), "--out", s(tmp.resolve("init-dir"))));
    assertEquals(0, fromDir.code(), fromDir.err());
    Run fromFile = run(concat(concat(new String[] {"train"}, common), "--init", s(sineModel), "--out", s(tmp.resolve("init-file"))));
    assertEquals(0, fromFile.code(), fromFile.err());
    assertArrayEquals(Files.readAllBytes(tmp.resolve("init-file/model.safetensors")),
        Files.readAllBytes(tmp.resolve("init-dir/model.safetensors")), "the directory's model is the file's");
    // and the weights were the given ones: a run from the seed's own initialisation ends elsewhere
    Run seeded = run(concat(concat(new String[] {"train"}, common), "--out", s(tmp.resolve("init-none"))));
    assertEquals(0, seeded.code(), seeded.err());
    assertFalse(Arrays.equals(Files.readAllBytes(tmp.resolve("init-none/model.safetensors")),
        Files.readAllBytes(tmp.resolve("init-dir/model.safetensors"))), "--init changed nothing");
    Path empty = Files.createDirectories(tmp.resolve("no-model-here"));
    assertFails(run(concat(concat(new String[] {"train"}, common), "--init", s(empty), "--out", s(tmp.resolve("init-empty")))),
        empty + ": a directory without model.safetensors");
    // a saved PipelineModel's layout (metadata/, stages/N_uid/ per stage): the message names the RnnModel's stage (a user audit)
    Path pipeline = tmp.resolve("a-pipeline");
    Path stage = Files.createDirectories(pipeline.resolve("stages").resolve("1_rnnEstimator_5f0c"));
    Files.createDirectories(pipeline.resolve("stages").resolve("0_vecAssembler_77aa"));
    Files.copy(sineModel, stage.resolve("model.safetensors"));
    Run p = run("predict", "--model", s(pipeline), "--data", s(tmp.resolve("unused.npy")), "--out", s(tmp.resolve("unused-out.npy")));
    assertFails(p, pipeline + ": a directory without model.safetensors",
        "a saved PipelineModel's RnnModel is its stage directory file:" + stage);
  }

  @Test
  void evaluateOnANpySaysWhatItTakesAndPointsToPredict() throws IOException {
    Path npy = tmp.resolve("primer-for-evaluate.npy");
    Files.write(npy, NpyWriter.toBytes(new int[] {5, 1}, new float[5]));
    // was "not a safetensors file or truncated": the file was read as a shard
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(npy)), "--data " + npy, "dataset directory",
        "not a .npy", "use predict --data " + npy);
  }

  // ---- generate ----

  @Test
  void generateIsDeterministicForASeed() throws IOException {
    Path a = tmp.resolve("gen-a.safetensors");
    Path b = tmp.resolve("gen-b.safetensors");
    Path c = tmp.resolve("gen-c.safetensors");
    String[] common = {"generate", "--model", s(textModel), "--primer", "abcab", "--steps", "30", "--sampler", "softmax",
        "--temperature", "1.5", "--batch", "3", "--engine", "reference"};
    Run ra = run(concat(common, "--seed", "7", "--out", s(a)));
    assertEquals(0, ra.code(), ra.err());
    assertEquals(0, run(concat(common, "--seed", "7", "--out", s(b))).code());
    assertEquals(0, run(concat(common, "--seed", "8", "--out", s(c))).code());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same seed, same bytes");
    assertFalse(Arrays.equals(read(a).require("ids").ints(), read(c).require("ids").ints()), "another seed, other draws");
    assertTrue(ra.out().startsWith("abcab"), "text to stdout: " + ra.out());
  }

  /** --model takes a directory that holds model.safetensors (train's --out, a saved RnnModel), as train --init does. */
  @Test
  void modelOptionsTakeADirectoryThatHoldsTheModel() throws IOException {
    Path dir = tmp.resolve("model-dir");
    Files.createDirectories(dir);
    Files.copy(textModel, dir.resolve("model.safetensors"));
    String[] common = {"generate", "--primer", "abcab", "--steps", "12", "--sampler", "softmax", "--seed", "3", "--engine",
        "reference"};
    Path fromFile = tmp.resolve("gen-file.safetensors");
    Path fromDir = tmp.resolve("gen-dir.safetensors");
    assertEquals(0, run(concat(common, "--model", s(textModel), "--out", s(fromFile))).code());
    Run r = run(concat(common, "--model", s(dir), "--out", s(fromDir)));
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(Files.readAllBytes(fromFile), Files.readAllBytes(fromDir), "the directory's model, the same draws");
    Path empty = tmp.resolve("model-dir-empty");
    Files.createDirectories(empty);
    assertFails(run(concat(common, "--model", s(empty), "--out", s(tmp.resolve("gen-none.safetensors")))),
        "model-dir-empty", "without model.safetensors");
  }

  @Test
  void softmaxAsTemperatureGoesToZeroEqualsArgmax() throws IOException {
    Path argmax = tmp.resolve("argmax.safetensors");
    assertEquals(0, run("generate", "--model", s(textModel), "--primer", "dcba", "--steps", "25", "--engine", "reference",
        "--out", s(argmax)).code());
    int[] want = read(argmax).require("ids").ints();
    for (String tau : new String[] {"1e-4", "1e-9", "0"}) {   // 0: the limit itself, as Sampler.softmax(0, seed) takes it
      Path soft = tmp.resolve("soft-" + tau + ".safetensors");
      assertEquals(0, run("generate", "--model", s(textModel), "--primer", "dcba", "--steps", "25", "--engine", "reference",
          "--sampler", "softmax", "--temperature", tau, "--seed", "3", "--out", s(soft)).code());
      assertArrayEquals(want, read(soft).require("ids").ints(), "softmax at τ = " + tau);
    }
  }

  @Test
  void softmaxSamplesAtTheGivenTemperature() throws IOException {
    // a two-symbol model whose logits are (0, ln 3) whatever it reads (all weights 0, head bias set):
    // at temperature τ, P(b) = 3^(1/τ) / (1 + 3^(1/τ)); τ = 2 gives √3 / (1 + √3) = 0.634 (τ = 1 would
    // give 0.75). Over 4000 draws the share's sd is 0.0076: ±0.03 is about four of them.
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Params p = Params.zeros(c);
    p.set(ParamLayout.HEAD_BIAS, new float[] {0, (float) Math.log(3)});
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "text");
    meta.put(ModelMetadata.KEY_VOCABULARY, Json.write(new ArrayList<Object>(List.of("a", "b"))));
    Path coin = tmp.resolve("coin.safetensors");
    Files.write(coin, ModelFile.toBytes(p, meta));
    Path out = tmp.resolve("coin-out.safetensors");
    assertEquals(0, run("generate", "--model", s(coin), "--primer", "a", "--steps", "4000", "--engine", "reference",
        "--sampler", "softmax", "--temperature", "2", "--seed", "5", "--out", s(out)).code());
    int[] ids = read(out).require("ids").ints();
    assertEquals(4000, ids.length);
    double share = Arrays.stream(ids).filter(id -> id == 1).count() / 4000.0;
    assertEquals(Math.sqrt(3) / (1 + Math.sqrt(3)), share, 0.03, "share of b at τ = 2");
  }

  @Test
  void generateRefusesAPrimerThatDoesNotFitTheModel() throws IOException {
    Path wide = tmp.resolve("wide.npy");
    Files.write(wide, NpyWriter.toBytes(new int[] {5, 2}, new float[10]));     // [T,F] with F = 2
    assertFails(run("generate", "--model", s(sineModel), "--primer", s(wide), "--steps", "3"), "wide.npy", "F=2", "F=1");
    assertFails(run("generate", "--model", s(textModel), "--primer", "abz", "--steps", "3"), "'z'", "position 2",
        "vocabulary of 4");
    assertFails(run("generate", "--model", s(sineModel), "--primer", "abc", "--steps", "3"), "no vocabulary");
  }

  @Test
  void anUnknownModelFormatVersionIsRefused() throws IOException {
    SafeTensorsFile model = read(sineModel);
    Map<String, String> meta = new LinkedHashMap<>(model.metadata());
    meta.put(ModelConfig.KEY_FORMAT_VERSION, "99");
    Path v99 = tmp.resolve("v99.safetensors");
    Files.write(v99, SafeTensors.toBytes(meta, model.tensors().values()));
    assertFails(run("predict", "--model", s(v99), "--data", s(sine.resolve("shard-00000.safetensors")), "--out",
        s(tmp.resolve("v99-out.safetensors"))), "spark_rnn_format_version", "'99'", "version 1");
  }

  // ---- export / import ----

  @Test
  void exportThenImportGivesByteIdenticalTensors() throws IOException {
    Path dir = tmp.resolve("export");
    assertEquals(0, run("export", "--model", s(sineModel), "--out", s(dir)).code());
    Map<String, Object> config = Json.parseObject(Files.readString(dir.resolve("config.json")));
    assertEquals("GRU", config.get("torch_class"));
    assertEquals(2L, config.get("num_layers"));
    Path viaConfig = tmp.resolve("imported-config.safetensors");
    Path viaInfer = tmp.resolve("imported-infer.safetensors");
    assertEquals(0, run("import", "--torch", s(dir.resolve("model.safetensors")), "--config", s(dir.resolve("config.json")),
        "--out", s(viaConfig)).code());
    assertEquals(0, run("import", "--torch", s(dir.resolve("model.safetensors")), "--infer", "--out", s(viaInfer)).code());
    SafeTensorsFile original = read(sineModel);
    for (Path p : List.of(dir.resolve("model.safetensors"), viaConfig, viaInfer)) {
      SafeTensorsFile f = read(p);
      assertEquals(new ArrayList<>(original.tensors().keySet()), new ArrayList<>(f.tensors().keySet()), p + ": names");
      for (Tensor t : original.tensors().values()) {
        assertEquals("F32", f.require(t.name()).dtype().name(), p + ": " + t.name());
        assertArrayEquals(bits(t.floats()), bits(f.require(t.name()).floats()), p + ": " + t.name());
      }
    }
    TrainedModel back = TrainedModel.load(viaConfig);
    assertEquals(TrainedModel.load(sineModel).normalization(), back.normalization(), "normalisation travels in config.json");
    // our files record their data's CRC32C, the file for PyTorch does not (a re-save under its copied metadata would make a
    // stale one: a review); and import reads a file with a stale one, as another tool may write it
    assertTrue(read(sineModel).metadata().containsKey("data_crc32c") && read(viaInfer).metadata().containsKey("data_crc32c"));
    SafeTensorsFile exported = read(dir.resolve("model.safetensors"));
    assertFalse(exported.metadata().containsKey("data_crc32c"), exported.metadata().toString());
    // as a tool that fine-tunes and saves new weights under the copied metadata of one of our files leaves it: a stale value
    byte[] bytes = SafeTensors.toBytes(exported.metadata(), exported.tensors().values());
    bytes[bytes.length - 4] ^= 1;   // the last weight's lowest mantissa bit
    Path resaved = tmp.resolve("resaved-by-torch.safetensors");
    Files.write(resaved, bytes);
    assertEquals(0, run("import", "--torch", s(resaved), "--infer", "--out", s(tmp.resolve("imported-resaved.safetensors"))).code());
  }


  /**
   * import's line names the model as train does ("gru 2x…", not a Java record), a text model (its
   * inputs one-hot symbols) draws no warning about normalisation statistics, and a config whose
   * torch_class and cell name different cells is refused naming both (a user audit: taken silently).
   */
  @Test
  void importSaysWhatItReadAndRefusesACellThatDisagreesWithTorchClass() throws IOException {
    Path dir = tmp.resolve("export-for-import");
    assertEquals(0, run("export", "--model", s(sineModel), "--out", s(dir)).code());
    Run r = run("import", "--torch", s(dir.resolve("model.safetensors")), "--config", s(dir.resolve("config.json")), "--out",
        s(tmp.resolve("line.safetensors")));
    assertEquals(0, r.code(), r.err());
    ModelConfig c = TrainedModel.load(sineModel).config();
    assertTrue(r.out().contains(" as gru " + c.numLayers() + "x" + c.hiddenSize() + " (F=" + c.inputSize() + ", O=" + c.outputSize()
        + ", seq2seq, mse) into "), r.out());

    Path text = tmp.resolve("export-text");
    assertEquals(0, run("export", "--model", s(textModel), "--out", s(text)).code());
    Run t = run("import", "--torch", s(text.resolve("model.safetensors")), "--config", s(text.resolve("config.json")), "--out",
        s(tmp.resolve("text-back.safetensors")));
    assertEquals(0, t.code(), t.err());
    assertFalse(t.err().contains("normalisation"), "one-hot inputs have no statistics to record: " + t.err());
    // a config's vocabulary of the wrong size is named as the config's key, not as "(in memory): __metadata__ …"
    Map<String, Object> cfg = new LinkedHashMap<>(Json.parseObject(Files.readString(text.resolve("config.json"))));
    List<?> vocabulary = (List<?>) cfg.get("vocabulary");
    cfg.put("vocabulary", new ArrayList<Object>(vocabulary.subList(1, vocabulary.size())));
    Path shortVocabulary = Files.writeString(tmp.resolve("short-vocabulary.json"), Json.write(cfg));
    assertFails(run("import", "--torch", s(text.resolve("model.safetensors")), "--config", s(shortVocabulary), "--out",
        s(tmp.resolve("short.safetensors"))), shortVocabulary + ": key vocabulary has " + (vocabulary.size() - 1)
        + " symbols, expected output_size=" + vocabulary.size());
    assertFails(run("import", "--torch", s(text.resolve("model.safetensors")), "--config", s(text.resolve("config.json")), "--out",
        s(tmp.resolve("model.npy"))), "--out " + tmp.resolve("model.npy") + ": import writes a spark-rnn model file; name it"
        + " FILE.safetensors");
    assertFalse(Files.exists(tmp.resolve("model.npy")));

    Path mixed = tmp.resolve("mixed-config.json");
    Files.writeString(mixed, Files.readString(dir.resolve("config.json")).replace("\"cell\": \"gru\"", "\"cell\": \"lstm\""));
    assertFails(run("import", "--torch", s(dir.resolve("model.safetensors")), "--config", s(mixed), "--out",
        s(tmp.resolve("mixed.safetensors"))), mixed + ": torch_class 'GRU' and cell 'lstm' name different cells");
    assertFalse(Files.exists(tmp.resolve("mixed.safetensors")));
  }

  /** --out FILE.safetensors writes FILE.safetensors and FILE.json beside it (export's help, README), which import reads back. */
  @Test
  void exportToAFileNameWritesItsConfigurationBesideItAsFileDotJson() throws IOException {
    Path weights = tmp.resolve("as-file").resolve("sine-gru.safetensors");
    Files.createDirectories(weights.getParent());
    assertEquals(0, run("export", "--model", s(sineModel), "--out", s(weights)).code());
    Path json = tmp.resolve("as-file").resolve("sine-gru.json");
    assertTrue(Files.exists(weights) && Files.exists(json), "written: " + Arrays.toString(weights.getParent().toFile().list()));
    assertEquals(2, Objects.requireNonNull(weights.getParent().toFile().list()).length, "and nothing else");
    assertEquals("GRU", Json.parseObject(Files.readString(json)).get("torch_class"));
    Path back = tmp.resolve("as-file-back.safetensors");
    assertEquals(0, run("import", "--torch", s(weights), "--config", s(json), "--out", s(back)).code());

    // the suffix in any case, as the inputs' (InputFiles.isSafetensors): a file, not a directory of that name
    Path upper = tmp.resolve("as-file-upper").resolve("GRU.SafeTensors");
    Files.createDirectories(upper.getParent());
    assertEquals(0, run("export", "--model", s(sineModel), "--out", s(upper)).code());
    assertTrue(Files.isRegularFile(upper) && Files.isRegularFile(upper.resolveSibling("GRU.json")),
        "written: " + Arrays.toString(upper.getParent().toFile().list()));

    // a name of another file kind is not taken for a directory of that name (a user audit: e.npy/ held the export)
    for (String name : new String[] {"e.npy", "e.json", "E.PT", "e.csv/"}) {
      Path other = tmp.resolve("as-other").resolve(name);
      assertFails(run("export", "--model", s(sineModel), "--out", other.toString() + (name.endsWith("/") ? "/" : "")),
          "--out " + other, "export writes FILE.safetensors (and FILE.json) or a directory DIR", "not a ."
              + name.replaceAll("/$", "").toLowerCase(Locale.ROOT).replaceAll("^e\\.", "") + " file");
      assertFalse(Files.exists(other), name + ": nothing written");
    }
  }

  /**
   * Messages that name the option (a user audit): grad's --data a dataset directory (one batch is a
   * shard file), import's --mode and --loss not among the names, and an inferred configuration its
   * --loss cannot serve (O = 1 from head.weight and cross_entropy's two classes at least).
   */
  @Test
  void gradAndImportNameTheOptionTheyRefuse() throws IOException {
    Path out = tmp.resolve("named-grad.safetensors");
    assertFails(run("grad", "--weights", s(sineModel), "--data", s(sine), "--out", s(out)), "--data " + sine
        + ": a directory; grad takes one batch, a shard file such as " + sine + "/shard-00000.safetensors");
    Path dir = tmp.resolve("export-named");
    assertEquals(0, run("export", "--model", s(sineModel), "--out", s(dir)).code());
    String torch = s(dir.resolve("model.safetensors"));
    Path imported = tmp.resolve("named-import.safetensors");
    assertFails(run("import", "--torch", torch, "--infer", "--mode", "bogus", "--loss", "mse", "--out", s(imported)),
        "--mode: unknown mode 'bogus'");
    assertFails(run("import", "--torch", torch, "--infer", "--mode", "seq2seq", "--loss", "hinge", "--out", s(imported)),
        "--loss: unknown loss 'hinge'");
    assertFails(run("import", "--torch", torch, "--infer", "--mode", "seq2seq", "--loss", "cross_entropy", "--out", s(imported)),
        torch + ": ", "cross_entropy", "(F, H and O inferred from the shapes, head.weight [1, ", "loss cross_entropy from --loss)");
    assertFalse(Files.exists(imported));
  }

  /** grad writes one safetensors file (docs/inference.md: --out G.safetensors): another name is refused, nothing written. */
  @Test
  void gradRefusesAnOutputNamedOtherThanSafetensors() {
    for (String name : new String[] {"g.npy", "g", "g.json"}) {
      Path out = tmp.resolve("grad-named").resolve(name);
      assertFails(run("grad", "--weights", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--out", s(out)),
          "--out " + out + ": grad writes one safetensors file; name it FILE.safetensors");
      assertFalse(Files.exists(out), name + ": nothing written");
    }
  }

  @Test
  void importReadsFloat64AndRefusesWrongShapeMissingExtraBidirectionalAndProjectedKeys() throws IOException {
    TrainedModel m = TrainedModel.load(sineModel);
    Map<String, Tensor> good = new LinkedHashMap<>(read(sineModel).tensors());
    Path out = tmp.resolve("import-out.safetensors");
    String[] modeLoss = {"--mode", "seq2seq", "--loss", "mse"};

    Path f64 = tmp.resolve("f64.safetensors");
    Files.write(f64, float64File(good));
    assertEquals(0, run(concat(new String[] {"import", "--torch", s(f64), "--infer", "--out", s(out)}, modeLoss)).code());
    assertArrayEquals(bits(m.params().values()), bits(TrainedModel.load(out).params().values()), "F64 → F32");
    Files.delete(out);

    Map<String, Tensor> wrongShape = new LinkedHashMap<>(good);
    wrongShape.put("head.weight", Tensor.ofFloats("head.weight", new int[] {1, 5}, new float[5]));
    // under --infer H is weight_hh_l0's columns, which head.weight's must match
    assertFails(importRun(wrongShape, "wrong-shape", out, modeLoss), "rnn.weight_hh_l0 has shape [18, 6] (H = 6 columns) and"
        + " head.weight [1, 5] (H = 5 columns)");

    Map<String, Tensor> missing = new LinkedHashMap<>(good);
    missing.remove("rnn.bias_hh_l1");
    assertFails(importRun(missing, "missing", out, modeLoss), "rnn.bias_hh_l1");

    Map<String, Tensor> extra = new LinkedHashMap<>(good);
    extra.put("rnn.extra", Tensor.ofFloats("rnn.extra", new int[] {1}, new float[1]));
    assertFails(importRun(extra, "extra", out, modeLoss), "rnn.extra");

    Map<String, Tensor> reverse = new LinkedHashMap<>(good);
    reverse.put("rnn.weight_ih_l0_reverse", Tensor.ofFloats("rnn.weight_ih_l0_reverse", new int[] {18, 1}, new float[18]));
    assertFails(importRun(reverse, "reverse", out, modeLoss), "rnn.weight_ih_l0_reverse", "bidirectional");

    Map<String, Tensor> projected = new LinkedHashMap<>(good);
    projected.put("rnn.weight_hr_l0", Tensor.ofFloats("rnn.weight_hr_l0", new int[] {3, 6}, new float[18]));
    assertFails(importRun(projected, "projected", out, modeLoss), "rnn.weight_hr_l0", "proj_size");

    // a NaN is named in the file it came from, not in --out (which is never written)
    Map<String, Tensor> nan = new LinkedHashMap<>(good);
    float[] w = good.get("head.weight").floats().clone();
    w[2] = Float.NaN;
    nan.put("head.weight", Tensor.ofFloats("head.weight", good.get("head.weight").shape(), w));
    Run nanRun = importRun(nan, "nan", out, modeLoss);
    assertFails(nanRun, tmp.resolve("nan.safetensors") + ": tensor 'head.weight' holds NaN");
    assertFalse(nanRun.err().contains(out.toString()), nanRun.err());

    // --out checked as export's is: a directory there is refused before the file is read
    Path dirOut = Files.createDirectories(tmp.resolve("a-directory.safetensors"));
    assertFails(run(concat(new String[] {"import", "--torch", s(f64), "--infer", "--out", s(dirOut)}, modeLoss)), "--out " + dirOut,
        "expected a file name");

    Map<String, Tensor> bare = new LinkedHashMap<>();
    good.forEach((k, v) -> bare.put(k.replace("rnn.", ""), Tensor.ofFloats(k.replace("rnn.", ""), v.shape(), v.floats())));
    assertFails(importRun(bare, "bare", out, modeLoss), "'weight_ih_l0'", "rnn.weight_ih_l0");

    Path noMeta = tmp.resolve("no-meta.safetensors");
    Files.write(noMeta, SafeTensors.toBytes(Map.of(), good.values()));
    assertFails(run("import", "--torch", s(noMeta), "--infer", "--out", s(out)), "--mode", "--loss");
    assertFalse(Files.exists(out), "nothing written");
  }

  // ---- what generate prints and writes, on hand-weighted models ----

  /** RNN, F = H = O = 1, no normalisation: h_t = tanh(x_t) (W_ih = 1, W_hh = 0, biases 0), y_t = h_t (head 1, 0). */
  static Path tanhEchoModel() throws IOException {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params p = Params.zeros(c);
    p.set("rnn.weight_ih_l0", new float[] {1});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {1});
    Path model = tmp.resolve("tanh-echo.safetensors");
    Files.write(model, ModelFile.toBytes(p, Map.of()));
    return model;
  }

  /**
   * docs/inference.md: output step 0 is the model's output at the primer's last step and each next
   * step feeds the previous output back; continuous models print one CSV line per step (b-major, o
   * fastest), and --out FILE.npy holds output [N,B,O]. With y = tanh(x) and W_hh = 0, sequence b's
   * step n is tanh applied n + 1 times to its primer's last value: primers 0.5 and −1 (B = 2, T = 1).
   */
  @Test
  void generatePrintsOneCsvLinePerStepAndWritesOutputNBO() throws IOException {
    Path model = tanhEchoModel();
    Path primer = Files.write(tmp.resolve("two-primers.npy"), NpyWriter.toBytes(new int[] {1, 2, 1}, new float[] {0.5f, -1f}));
    int N = 3;
    double[][] want = new double[N][2];   // [n][b]
    double[] v = {0.5, -1};
    for (int n = 0; n < N; n++) {
      for (int b = 0; b < 2; b++) {
        v[b] = Math.tanh(v[b]);
        want[n][b] = v[b];
      }
    }
    Run r = run("generate", "--model", s(model), "--primer", s(primer), "--steps", "3", "--engine", "reference");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().strip().lines().toList();
    assertEquals(N, lines.size(), r.out());
    for (int n = 0; n < N; n++) {
      String[] cells = lines.get(n).split(",");
      assertEquals(2, cells.length, "B·O = 2 values on line " + n + ": " + lines.get(n));
      for (int b = 0; b < 2; b++) {
        assertEquals(want[n][b], Double.parseDouble(cells[b]), 1e-6, "step " + n + ", sequence " + b);
      }
    }
    Path npy = tmp.resolve("tanh-echo-out.npy");
    Run w = run("generate", "--model", s(model), "--primer", s(primer), "--steps", "3", "--engine", "reference", "--out", s(npy));
    assertEquals(0, w.code(), w.err());
    assertEquals("generated 3 steps for 2 sequences into " + npy, w.out().strip());
    NpyFiles.FloatArray a = NpyFiles.readFloats(npy.toString(), new Configuration());
    assertArrayEquals(new int[] {N, 2, 1}, a.shape(), "[N,B,O]");
    for (int n = 0; n < N; n++) {
      for (int b = 0; b < 2; b++) {
        assertEquals(want[n][b], a.data()[n * 2 + b], 1e-6, "npy (n=" + n + ", b=" + b + ")");
      }
    }
    // --batch 2 repeats a one-sequence [T,F] primer (0.5, −1): both sequences continue from the last value −1
    Path one = Files.write(tmp.resolve("one-primer.npy"), NpyWriter.toBytes(new int[] {2, 1}, new float[] {0.5f, -1f}));
    Run rep = run("generate", "--model", s(model), "--primer", s(one), "--steps", "1", "--batch", "2", "--engine", "reference");
    assertEquals(0, rep.code(), rep.err());
    String[] cells = rep.out().strip().split(",");
    assertEquals(2, cells.length, rep.out());
    for (String c : cells) {
      assertEquals(Math.tanh(-1), Double.parseDouble(c), 1e-6, "each copy's step 0 = tanh(last primer value): " + rep.out());
    }
  }

  /**
   * A class model without a vocabulary prints each sequence's ids, space-separated (docs/inference.md),
   * and --out FILE.safetensors holds ids [N,B]. RNN F = H = O = 2, W_ih = I, W_hh = 0, head = [[0,1],[1,0]]:
   * one-hot id k gives h = tanh(1)·e_k and logits tanh(1)·e_(1−k), so argmax flips the id each step.
   * Primers id 0 (b = 0) and id 1 (b = 1): 1 0 1 and 0 1 0.
   */
  @Test
  void aClassModelWithoutVocabularyPrintsEachSequencesIdsAndWritesIdsNB() throws IOException {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Params p = Params.zeros(c);
    p.set("rnn.weight_ih_l0", new float[] {1, 0, 0, 1});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {0, 1, 1, 0});
    Path model = Files.write(tmp.resolve("flip.safetensors"), ModelFile.toBytes(p, Map.of()));
    Path primer = Files.write(tmp.resolve("flip-primer.npy"), NpyWriter.toBytes(new int[] {1, 2, 2}, new float[] {1, 0, 0, 1}));
    Run r = run("generate", "--model", s(model), "--primer", s(primer), "--steps", "3", "--engine", "reference");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("1 0 1", "0 1 0"), r.out().strip().lines().toList());
    Path out = tmp.resolve("flip-out.safetensors");
    assertEquals(0, run("generate", "--model", s(model), "--primer", s(primer), "--steps", "3", "--engine", "reference", "--out",
        s(out)).code());
    Tensor ids = read(out).require("ids");
    assertArrayEquals(new int[] {3, 2}, ids.shape(), "ids [N,B]");
    assertArrayEquals(new int[] {1, 0, 0, 1, 1, 0}, ids.ints(), "[n][b]");
    assertArrayEquals(new int[] {3, 2, 2}, read(out).require("output").shape(), "output [N,B,O]");
    // an infinite temperature is refused as a negative one is (the help: τ ≥ 0 and finite)
    assertFails(run("generate", "--model", s(model), "--primer", s(primer), "--steps", "3", "--sampler", "softmax",
        "--temperature", "Infinity"), "--temperature must be ≥ 0 and finite, found Infinity");
  }

  // ---- evaluate: options on a single shard, --split, refusals ----

  /**
   * On one shard file --from-step and --tolerance apply as on a dataset (docs/inference.md): loss_terms
   * counts the scored (t ≥ 2, b) rows, (12 − 2)·8 = 80, and within_tolerance is the share of those scored
   * rows whose |error| ≤ TOL, counted here from the float64 reference's outputs ([T][B] at t·B + b); --tolerance 0 is allowed
   * (TOL ≥ 0). The JSON repeats the command's model and data paths.
   */
  @Test
  void evaluateOnOneShardAppliesFromStepAndToleranceAndNamesItsInputs() throws IOException {
    Path shardFile = sine.resolve("shard-00000.safetensors");
    TrainedModel m = TrainedModel.load(sineModel);
    Batch b = shard(sine, 0);
    float[] out;
    try (ReferenceEngine engine = new ReferenceEngine()) {
      out = engine.forward(m.params(), b, null).outputs();
    }
    double tol = 0.1;
    long within = 0;
    long scored = 0;
    for (int k = 2 * b.batchSize(); k < out.length; k++) {   // t ≥ 2
      scored++;
      within += Math.abs((double) out[k] - b.targets()[k]) <= tol ? 1 : 0;
    }
    assertEquals(80, scored);
    assertTrue(within > 0 && within < scored, "rows on both sides of " + tol + ": " + within);
    Path json = tmp.resolve("eval-shard.json");
    Run r = run("evaluate", "--model", s(sineModel), "--data", s(shardFile), "--from-step", "2", "--tolerance", Double.toString(tol),
        "--json", s(json), "--engine", "reference");
    assertEquals(0, r.code(), r.err());
    Map<String, Object> j = Json.parseObject(Files.readString(json));
    assertEquals(80L, ((Number) j.get("loss_terms")).longValue(), "loss_terms: (T − 2)·B");
    assertEquals((double) within / scored, ((Number) j.get("within_tolerance")).doubleValue(), 1e-12, "within_tolerance");
    assertEquals(s(sineModel), j.get("model"));
    assertEquals(s(shardFile), j.get("data"));
    Run zero = run("evaluate", "--model", s(sineModel), "--data", s(shardFile), "--tolerance", "0", "--engine", "reference");
    assertEquals(0, zero.code(), "--tolerance 0 is TOL ≥ 0: " + zero.err());
  }

  /**
   * --split picks the manifest's shards: the sine dataset holds 32 train and 8 validation sequences
   * (40 at --validation-fraction 0.2, the last ones validation) of T = 12, so loss_terms is 12·8 = 96
   * on validation and 12·32 = 384 on train. The adding dataset has no validation shards: refused.
   */
  @Test
  void evaluateSplitScoresOnlyThatSplitsShards() throws IOException {
    for (String[] c : new String[][] {{"validation", "96"}, {"train", "384"}}) {
      Path json = tmp.resolve("eval-split-" + c[0] + ".json");
      Run r = run("evaluate", "--model", s(sineModel), "--data", s(sine), "--split", c[0], "--json", s(json), "--engine", "reference",
          "--master", "local[1]");
      assertEquals(0, r.code(), r.err());
      assertEquals(Long.parseLong(c[1]), ((Number) Json.parseObject(Files.readString(json)).get("loss_terms")).longValue(),
          "--split " + c[0]);
    }
    Path addingModel = tmp.resolve("adding-split.safetensors");
    Files.write(addingModel, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.RNN, 1, 2, 4, 1, Mode.SEQ2ONE, LossType.MSE), 2),
        ModelMetadata.fromManifest(Dataset.open(adding.toUri(), new Configuration()).manifest())));
    assertFails(run("evaluate", "--model", s(addingModel), "--data", s(adding), "--split", "validation", "--master", "local[1]"),
        "no shards in split validation");
  }

  /** --feedback K: K ≥ 0, and the closed loop feeds outputs back as inputs, so F must equal O (docs/inference.md). */
  @Test
  void evaluateRefusesANegativeFeedbackAndFeedbackWhereFDiffersFromO() throws IOException {
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--feedback", "-1"),
        "--feedback must be ≥ 0, found -1");
    Path twoToOne = tmp.resolve("f2-o1-seq2seq.safetensors");
    Files.write(twoToOne, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 2, 4, 1, Mode.SEQ2SEQ, LossType.MSE), 4),
        Map.of()));
    Path shard = tmp.resolve("f2-o1-shard.safetensors");
    Files.write(shard, SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 1, 2}, new float[6]),
        Tensor.ofFloats("y", new int[] {3, 1, 1}, new float[3]))));
    assertFails(run("evaluate", "--model", s(twoToOne), "--data", s(shard), "--feedback", "1", "--engine", "reference"),
        "--feedback", "needs F == O", "F=2, O=1");
  }

  /**
   * A feature that barely varies on the training split (0 and 1e-39: std ≈ 5e-40) puts 1000 about
   * 2e42 stds out, past float32's range: prep refuses its validation window and predict a raw input
   * there, naming the feature and the value (a review: prep said "x has Infinity" of a shard it
   * wrote itself, and predict fed Infinity to the model, exit 0).
   */
  @Test
  void aValuePastFloat32OnceNormalisedIsRefusedNamingTheFeature() throws IOException {
    StringBuilder tiny = new StringBuilder("a\n");
    for (int i = 0; i < 6; i++) {
      tiny.append(i % 2 == 0 ? "0" : "1e-39").append('\n');
    }
    Path train = Files.writeString(tmp.resolve("tiny-train.csv"), tiny.toString());
    Path withFar = Files.writeString(tmp.resolve("tiny-far.csv"), tiny + "1000\n1000\n1000\n");
    String expected = "normalization: input feature 0: the value 1000.0 is 2.00e+42 training standard deviations from the"
        + " training mean";
    assertFails(run("prep", "csv", s(withFar), "--out", s(tmp.resolve("tiny-far")), "--steps", "1", "--batch", "1",
        "--validation-fraction", "0.3", "--normalize"), expected.replace("feature 0:", "feature 0 (column 'a'):"),
        "past float32's range");
    Path data = tmp.resolve("tiny-data");
    assertEquals(0, run("prep", "csv", s(train), "--out", s(data), "--steps", "2", "--batch", "1", "--validation-fraction", "0",
        "--normalize").code());
    Path model = tmp.resolve("tiny-run");
    Run trained = run("train", "--data", s(data), "--out", s(model), "--steps", "1", "--batch", "1", "--hidden-size", "2",
        "--engine", "reference");
    assertEquals(0, trained.code(), trained.err());
    Path raw = tmp.resolve("tiny-raw.npy");
    Files.write(raw, NpyWriter.toBytes(new int[] {2, 1, 1}, new float[] {1000f, 1000f}));
    Path out = tmp.resolve("tiny-pred.npy");
    assertFails(run("predict", "--model", s(model.resolve("model.safetensors")), "--data", s(raw), "--out", s(out),
        "--engine", "reference"), expected);
    assertFalse(Files.exists(out), "no prediction from Infinity");
  }

  Run importRun(Map<String, Tensor> tensors, String name, Path out, String[] modeLoss) throws IOException {
    Path p = tmp.resolve(name + ".safetensors");
    Files.write(p, SafeTensors.toBytes(Map.of(), tensors.values()));
    return run(concat(new String[] {"import", "--torch", s(p), "--infer", "--out", s(out)}, modeLoss));
  }

  /** A safetensors file with every tensor stored as F64, as torch.save_file of a float64 model writes it. */
  static byte[] float64File(Map<String, Tensor> tensors) {
    Map<String, Object> header = new LinkedHashMap<>();
    long offset = 0;
    for (Tensor t : tensors.values()) {
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("dtype", "F64");
      info.put("shape", t.shape());
      info.put("data_offsets", new long[] {offset, offset + 8L * t.size()});
      header.put(t.name(), info);
      offset += 8L * t.size();
    }
    byte[] h = Json.write(header).getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(h.length).put(h);
    for (Tensor t : tensors.values()) {
      for (float v : t.floats()) {
        buf.putDouble(v);
      }
    }
    return buf.array();
  }

  static int[] bits(float[] f) {
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  static String[] concat(String[] a, String... b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
