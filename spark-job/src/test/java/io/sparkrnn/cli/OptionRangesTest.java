package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.sparkrnn.cli.InferenceCommandsTest.Run;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Options of predict, generate, bench and example-table at the edges of their documented ranges
 * (docs/inference.md, the commands' --help), and bad .npy inputs: each refused with exit 2 naming
 * the option or file, what was expected and what was found, before anything is written.
 */
class OptionRangesTest {
  @TempDir
  static Path tmp;
  static Path sine;
  /** GRU F = 1, O = 1, with the sine dataset's normalisation. */
  static Path sineModel;
  /** GRU F = 1, O = 2, with the sine dataset's normalisation: the sine dataset's F but not its O. */
  static Path twoOutputs;
  /** LSTM F = O = 4 over the vocabulary [a, b, c, d]. */
  static Path textModel;

  @BeforeAll
  static void data() throws IOException {
    Configuration hadoop = new Configuration();
    sine = tmp.resolve("sine");
    // 2 shards of 8 sequences (T = 6), normalised
    Prep.run(new SineSource(SineSource.Options.defaults(6, 16, 3)), new PrepOptions(sine.toUri(), 8, 0.5, true, false), hadoop);
    Dataset ds = Dataset.open(sine.toUri(), hadoop);
    sineModel = tmp.resolve("sine.safetensors");
    Files.write(sineModel, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE), 1),
        ModelMetadata.fromManifest(ds.manifest())));
    twoOutputs = tmp.resolve("two-outputs.safetensors");
    Files.write(twoOutputs, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 2, Mode.SEQ2SEQ, LossType.MSE),
        1), new LinkedHashMap<>()));
    textModel = tmp.resolve("text.safetensors");
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "text");
    meta.put(ModelMetadata.KEY_VOCABULARY, Json.write(new ArrayList<Object>(List.of("a", "b", "c", "d"))));
    Files.write(textModel, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.LSTM, 1, 4, 8, 4, Mode.SEQ2SEQ,
        LossType.CROSS_ENTROPY), 5), meta));
  }

  static String s(Path p) {
    return p.toString();
  }

  /** --help: "--partitions ... (0: the default parallelism ...)"; a negative count is no count at all. */
  @Test
  void predictRefusesANegativePartitionCount() {
    Path out = tmp.resolve("negative-partitions");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(out), "--master", "local[1]", "--partitions",
        "-1"), "--partitions must be ≥ 0, found -1");
    assertFalse(Files.exists(out), "nothing written");
  }

  /** --help: "--split ... all | train | validation"; another word is named, not taken for a split. */
  @Test
  void predictRefusesASplitThatIsNotOneOfTheThree() {
    Path out = tmp.resolve("typo-split");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(out), "--split", "valid"),
        "--split: 'valid' is not one of all, train, validation");
    assertFalse(Files.exists(out), "nothing written");
  }

  /** InputFiles.isSafetensors: "any case, as isNpy": a .NPY input and a .NPY output are the .npy ones. */
  @Test
  void npyInputsAndOutputsAreRecognisedInAnyCase() throws IOException {
    // one sequence of T = 3 raw values, [T, F] = [3, 1]
    float[] raw = {0.1f, -0.2f, 0.3f};
    Path lower = Files.write(tmp.resolve("case.npy"), NpyWriter.toBytes(new int[] {3, 1}, raw));
    Path upper = Files.write(tmp.resolve("CASE.NPY"), NpyWriter.toBytes(new int[] {3, 1}, raw));
    Path fromLower = tmp.resolve("from-lower.npy");
    Path fromUpper = tmp.resolve("from-upper.NPY");
    Run a = run("predict", "--model", s(sineModel), "--data", s(lower), "--out", s(fromLower), "--engine", "reference");
    assertEquals(0, a.code(), a.err());
    Run b = run("predict", "--model", s(sineModel), "--data", s(upper), "--out", s(fromUpper), "--engine", "reference");
    assertEquals(0, b.code(), b.err());
    // the same input read the same way gives the same bytes: an .npy array [T, B, O] = [3, 1, 1]
    assertArrayEquals(Files.readAllBytes(fromLower), Files.readAllBytes(fromUpper));
  }

  /** docs/inference.md: an .npy is [T,B,F] or [T,F] of finite numbers; errors name the file, expected and found. */
  @Test
  void badNpyInputsAreRefusedNamingFileExpectedAndFound() throws IOException {
    Path rank1 = Files.write(tmp.resolve("rank1.npy"), NpyWriter.toBytes(new int[] {3}, new float[3]));
    Path empty = Files.write(tmp.resolve("empty.npy"), NpyWriter.toBytes(new int[] {0, 1}, new float[0]));
    // the first element is not finite: element 0, as the check counts from the first
    Path nan = Files.write(tmp.resolve("nan.npy"), NpyWriter.toBytes(new int[] {2, 1}, new float[] {Float.NaN, 0.5f}));
    Path out = tmp.resolve("bad-npy.npy");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(rank1), "--out", s(out)), s(rank1), "[3]",
        "expected [T,B,F] or [T,F] with F=1");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(empty), "--out", s(out)), s(empty), "[0, 1] is empty",
        "T ≥ 1");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(nan), "--out", s(out)), s(nan), "element 0 is NaN",
        "expected a finite number");
    assertFalse(Files.exists(out), "nothing written");
  }

  /** docs/inference.md: a dataset whose F or O differs from the model's is refused naming both; here O alone differs. */
  @Test
  void aDatasetWithAnotherOutputCountIsRefusedNamingBothSides() {
    Path out = tmp.resolve("other-o");
    assertFails(run("predict", "--model", s(twoOutputs), "--data", s(sine), "--out", s(out), "--master", "local[1]"),
        s(sine), "the dataset has O=1 outputs", s(twoOutputs), "output_size O=2");
    assertFalse(Files.exists(out), "nothing written");
  }

  /** --help of generate: --steps N, --batch B ("default 1, or the primer's B"), --plot "for 1-D series (F = O = 1)". */
  @Test
  void generateRefusesCountsBelowOneABatchThatDiffersFromThePrimersAndAPlotOfNoSeries() throws IOException {
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "0"), "--steps must be at least 1, found 0");
    assertFails(run("generate", "--model", s(textModel), "--primer", "abc", "--steps", "2", "--batch", "0"),
        "--batch must be at least 1, found 0");
    // a primer of B = 2 sequences ([T, B, F] = [2, 2, 1]); --batch repeats only a one-sequence primer
    Path two = Files.write(tmp.resolve("two-sequences.npy"), NpyWriter.toBytes(new int[] {2, 2, 1}, new float[] {0.1f, 0.2f, 0.3f, 0.4f}));
    assertFails(run("generate", "--model", s(sineModel), "--primer", s(two), "--steps", "2", "--batch", "3"),
        "--batch 3 but the primer holds B=2");
    // an mse model with F = 1 but O = 2: not a 1-D series
    Path one = Files.write(tmp.resolve("one-sequence.npy"), NpyWriter.toBytes(new int[] {2, 1}, new float[] {0.1f, 0.2f}));
    Path png = tmp.resolve("two-outputs.png");
    assertFails(run("generate", "--model", s(twoOutputs), "--primer", s(one), "--steps", "2", "--plot", s(png)),
        "--plot draws 1-D series", "F=1 O=2 mse");
    assertFalse(Files.exists(png), "nothing plotted");
  }

  /** --help of bench: --warmup "at least", --min-seconds, --ceiling-seconds "at most 60", --spark-sync barrier | job. */
  @Test
  void benchRefusesTimingOptionsOutsideTheirRangesBeforeAnyRow() {
    String[] quick = {"bench", "--shape", "lstm:1:4:2:3", "--devices", "jvm", "--runs", "1", "--warmup-seconds", "0"};
    String[][] cases = {
        {"--warmup", "-1", "--warmup must be at least 0, found -1"},
        {"--min-seconds", "-1", "--min-seconds must be at least 0, found -1"},
        {"--ceiling-seconds", "61", "--ceiling-seconds must be in [0, 60], found 61"},
        {"--ceiling-seconds", "-0.5", "--ceiling-seconds must be in [0, 60], found -0.5"},
        {"--spark-sync", "barrier,jobs", "--spark-sync: 'jobs' is not one of barrier, job"},
        {"--spark-partitions", "0,-2", "--spark-partitions: counts must be ≥ 0"},
    };
    for (String[] c : cases) {
      List<String> args = new ArrayList<>(List.of(quick));
      args.add(c[0]);
      args.add(c[1]);
      Run r = run(args.toArray(String[]::new));
      assertFails(r, c[2]);
      assertFalse(r.out().contains("GFLOP/s"), c[0] + " " + c[1] + ": refused before the table: " + r.out());
    }
  }

  /** A bench row says the shape it timed: --output and --layers as given, F and H from --shape. */
  @Test
  void benchRowsCarryTheOutputSizeAndLayersTheyRanWith() throws IOException {
    Path json = tmp.resolve("bench-o2-l2.json");
    Run r = run("bench", "--shape", "gru:3:4:2:3", "--output", "2", "--layers", "2", "--devices", "jvm", "--runs", "1", "--warmup",
        "0", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0", "--json", s(json));
    assertEquals(0, r.code(), r.err());
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(1, rows.size(), rows.toString());
    Map<?, ?> row = (Map<?, ?>) rows.get(0);
    assertEquals("gru", row.get("cell"));
    assertEquals(3, ((Number) row.get("input_size")).intValue(), row.toString());
    assertEquals(4, ((Number) row.get("hidden_size")).intValue(), row.toString());
    assertEquals(2, ((Number) row.get("output_size")).intValue(), row.toString());
    assertEquals(2, ((Number) row.get("layers")).intValue(), row.toString());
    assertEquals(2, ((Number) row.get("batch")).intValue(), row.toString());
    assertEquals(3, ((Number) row.get("steps")).intValue(), row.toString());
  }

  /** example-table: --sensors and --hours are counts of at least one; refused before Spark writes anything. */
  @Test
  void exampleTableRefusesZeroSensorsOrHours() {
    for (String[] c : new String[][] {{"--sensors", "0"}, {"--hours", "0"}}) {
      Path out = tmp.resolve("table" + c[0]);
      assertFails(run("example-table", "sensors", "--out", s(out), c[0], c[1], "--master", "local[1]"),
          "--sensors and --hours must be at least 1");
      assertFalse(Files.exists(out), c[0] + " 0: nothing written");
    }
  }

  /**
   * A shard primer named in upper case is a shard, as a .NPY one is an .npy (InputFiles.isSafetensors:
   * "any case, as isNpy"; predict --data takes SHARD.SAFETENSORS). An audit found generate testing the
   * suffix with a case-sensitive endsWith(".safetensors") and reading "…/SHARD.SAFETENSORS" as a text
   * primer ("is text, but the model … has no vocabulary; give a .npy or .safetensors primer").
   */
  @Test
  void aShardPrimerIsRecognisedInAnyCase() throws IOException {
    Path lower = tmp.resolve("primer-shard.safetensors");
    Path upper = tmp.resolve("PRIMER-SHARD.SAFETENSORS");
    Files.copy(sine.resolve("shard-00000.safetensors"), lower);
    Files.copy(sine.resolve("shard-00000.safetensors"), upper);
    Run a = run("generate", "--model", s(sineModel), "--primer", s(lower), "--steps", "2", "--engine", "reference");
    assertEquals(0, a.code(), a.err());
    Run b = run("generate", "--model", s(sineModel), "--primer", s(upper), "--steps", "2", "--engine", "reference");
    assertEquals(0, b.code(), b.err());
    assertEquals(a.out(), b.out(), "the same shard, the same continuation");
  }

  /**
   * An output over one of the command's own inputs is refused before anything is written (a user
   * audit: predict --out M and evaluate --json M destroyed the model M, predict --out over --data
   * its input, generate --plot over --out the continuation, predict --out corpus.npy the corpus
   * corpus.txt), also spelled another way (./, a link); each input stays byte for byte.
   */
  @Test
  void anOutputOverAnInputIsRefusedAndTheInputKept() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("over-inputs"));
    Path model = Files.copy(sineModel, dir.resolve("model.safetensors"));
    Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), model);
    byte[] modelBytes = Files.readAllBytes(model);
    Path input = Files.write(dir.resolve("in.npy"), NpyWriter.toBytes(new int[] {3, 1}, new float[] {0.1f, -0.2f, 0.3f}));
    byte[] inputBytes = Files.readAllBytes(input);
    String dotted = dir.resolve(".").resolve("model.safetensors").toString();
    assertFails(run("predict", "--model", s(model), "--data", s(input), "--out", s(model)), "--out " + model
        + ": the file --model reads", "name another file");
    assertFails(run("predict", "--model", s(dir), "--data", s(input), "--out", dotted), "--out " + dotted + ": the file --model reads ("
        + model + ")");
    assertFails(run("predict", "--model", s(model), "--data", s(input), "--out", s(link)), "the file --model reads");
    assertFails(run("predict", "--model", s(model), "--data", s(input), "--out", s(input)), "--out " + input + ": the file --data reads");
    Path shard = sine.resolve(Dataset.open(sine.toUri(), new Configuration()).manifest().shards().get(0).file());
    assertFails(run("evaluate", "--model", s(model), "--data", s(shard), "--json", s(model)), "--json " + model
        + ": the metrics go to FILE.json");
    Path json = dir.resolve("metrics.json");
    assertFails(run("generate", "--model", s(model), "--primer", s(input), "--steps", "2", "--out", s(input)),
        "--out " + input + ": the file --primer reads");
    Path future = dir.resolve("future.npy");
    assertFails(run("generate", "--model", s(model), "--primer", s(input), "--steps", "2", "--out", s(future), "--plot", s(future)),
        "--plot " + future + ": the plot is a PNG image; name it FILE.png");
    Path png = dir.resolve("future.png");
    // --plot FILE.png and --out FILE.npy are one file only through a link
    Path earlier = Files.write(dir.resolve("earlier.npy"), inputBytes);
    Path pngLink = Files.createSymbolicLink(dir.resolve("earlier.png"), earlier);
    assertFails(run("generate", "--model", s(model), "--primer", s(input), "--steps", "2", "--out", s(earlier), "--plot", s(pngLink)),
        "--plot " + pngLink + ": the same file as --out " + earlier + "; name two files");
    assertArrayEquals(inputBytes, Files.readAllBytes(earlier));
    assertFails(run("export", "--model", s(dir), "--out", s(dir)), "--out " + model + ": the file --model reads");
    assertFails(run("import", "--torch", s(model), "--infer", "--out", s(model)), "--out " + model + ": the file --torch reads");
    // a file inside a dataset directory the command reads (a review: evaluate --json DATASET/manifest.json replaced the manifest)
    byte[] manifest = Files.readAllBytes(sine.resolve("manifest.json"));
    assertFails(run("evaluate", "--model", s(model), "--data", s(sine), "--json", s(sine.resolve("manifest.json"))), "--json "
        + sine.resolve("manifest.json") + ": inside the directory --data reads");
    assertArrayEquals(manifest, Files.readAllBytes(sine.resolve("manifest.json")));
    // train's run files among the dataset's (a user audit: --out equal to --data trained without a word)
    assertFails(run("train", "--data", s(sine), "--out", s(sine), "--steps", "1"), "out: " + sine + " is the dataset directory --data");
    assertFails(run("train", "--data", s(sine), "--out", s(sine.resolve("run")), "--steps", "1"), "is inside the dataset directory");
    assertFalse(Files.exists(sine.resolve("run")) || Files.exists(sine.resolve("model.safetensors")), "no run files in the dataset");
    assertArrayEquals(modelBytes, Files.readAllBytes(model), "the model is intact");
    assertArrayEquals(inputBytes, Files.readAllBytes(input), "the input is intact");
    assertFalse(Files.exists(json) || Files.exists(future) || Files.exists(png), "nothing written");

    // a text model's FILE.txt that is no earlier prediction's (no FILE.npy beside it) is not overwritten
    Path corpus = Files.writeString(dir.resolve("corpus.txt"), "abcd abcd\n");
    Path oneHot = Files.write(dir.resolve("ab.npy"), NpyWriter.toBytes(new int[] {2, 4}, new float[] {1, 0, 0, 0, 0, 1, 0, 0}));
    assertFails(run("predict", "--model", s(textModel), "--data", s(oneHot), "--out", s(dir.resolve("corpus.npy"))),
        "--out " + dir.resolve("corpus.npy") + ": a text model's predictions come with " + corpus + ", which exists and is no earlier"
        + " prediction's");
    assertEquals("abcd abcd\n", Files.readString(corpus));
    Path again = dir.resolve("pred.npy");
    for (int k = 0; k < 2; k++) {   // an earlier prediction's pair is rewritten
      Run r = run("predict", "--model", s(textModel), "--data", s(oneHot), "--out", s(again), "--engine", "reference");
      assertEquals(0, r.code(), r.err());
    }
  }

  /** --split, --master and --partitions apply to a dataset directory: with one input file they are refused, as evaluate's --split. */
  @Test
  void datasetOptionsOnOneInputFileAreRefused() throws IOException {
    Path input = Files.write(tmp.resolve("one-input.npy"), NpyWriter.toBytes(new int[] {3, 1}, new float[] {0.1f, -0.2f, 0.3f}));
    Path out = tmp.resolve("one-input-out.npy");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(input), "--out", s(out), "--split", "train"),
        "--split train: " + input + " is one input file, not a dataset directory with splits");
    assertFails(run("predict", "--model", s(sineModel), "--data", s(input), "--out", s(out), "--partitions", "3"),
        "--partitions: --data " + input + " is one input file, read in this JVM without Spark");
    Path shard = sine.resolve(Dataset.open(sine.toUri(), new Configuration()).manifest().shards().get(0).file());
    assertFails(run("evaluate", "--model", s(sineModel), "--data", s(shard), "--master", "local[2]"),
        "--master: --data " + shard + " is one input file");
    assertFalse(Files.exists(out), "nothing written");
  }

  /** A path-like --primer that names a directory is not the primer's text (a user audit: "--primer 'd/sine' is text"). */
  @Test
  void aPrimerNamingADirectoryIsNotText() {
    assertFails(run("generate", "--model", s(textModel), "--primer", s(sine), "--steps", "2"),
        "--primer " + sine + ": an existing directory, neither FILE.npy nor FILE.safetensors");
    // text that Hadoop cannot read as a path is text: it was refused as a path with a ':' (a review), and
    // a scheme with no file system as one; here ':' is not among the model's symbols a, b, c, d
    for (String text : new String[] {"ab:c/d", "a://b/c"}) {
      assertFails(run("generate", "--model", s(textModel), "--primer", text, "--steps", "2"),
          "--primer: character ':' (U+003A) at position " + text.indexOf(':') + " is not in the model's vocabulary");
    }
  }
}
