package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.data.source.NpySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of bad input gives an error naming the file and what was expected and found, and leaves no dataset. */
class BadInputTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();
  Path ds;
  static final String SHARD0 = "shard-00000.safetensors";

  @BeforeEach
  void writeDataset() throws IOException {
    ds = tmp.resolve("ds");
    // T=5, F=1, B=2, 4 sequences: two train shards
    Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 1)), new PrepOptions(ds.toUri(), 2, 0, false, false), conf);
  }

  private Exception readFails(Class<? extends Exception> type, String... fragments) throws IOException {
    Dataset d = Dataset.open(ds.toUri(), conf);
    return fails(type, () -> d.read(d.manifest().shard(SHARD0)), fragments);
  }

  private static Exception fails(Class<? extends Exception> type, Executable action, String... fragments) {
    Exception e = assertThrows(type, action);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
    }
    return e;
  }

  @Test
  void missingShardIsNamed() throws IOException {
    Files.delete(ds.resolve(SHARD0));
    readFails(FileNotFoundException.class, SHARD0, "missing");
    assertFalse(Dataset.inspect(ds.toUri(), conf).ok());
  }

  @Test
  void directoryWithoutManifestIsNotADataset() throws IOException {
    Files.delete(ds.resolve(Manifest.FILE_NAME));
    fails(FileNotFoundException.class, () -> Dataset.open(ds.toUri(), conf), "not a dataset", "manifest.json",
        "(missing, or a prep that did not finish)");
  }

  /**
   * The refusal says what the directory is instead (a user audit: inspect of a run's --out spoke of
   * an unfinished prep): nothing there, an empty directory, a run's checkpoints, a run's --out
   * before its model, a model's directory, predict's --out, a file.
   */
  @Test
  void aDirectoryWithoutManifestIsSaidToBeWhatItIs() throws IOException {
    Path none = tmp.resolve("none");
    fails(FileNotFoundException.class, () -> Dataset.open(none.toUri(), conf), "not a dataset", "(no such directory)");
    Path run = Files.createDirectories(tmp.resolve("run"));
    fails(FileNotFoundException.class, () -> Dataset.open(run.toUri(), conf), "not a dataset", "(an empty directory)");
    Files.createDirectories(run.resolve("checkpoints"));
    Files.write(run.resolve("checkpoints").resolve("step-0000000002.safetensors"), new byte[16]);
    fails(FileNotFoundException.class, () -> Dataset.open(run.resolve("checkpoints").toUri(), conf),
        "it holds step-*.safetensors: a training run's checkpoints, not a dataset");
    fails(FileNotFoundException.class, () -> Dataset.open(run.toUri(), conf),
        "it holds checkpoints/: a training run's --out (one stopped before its model was written), not a dataset");
    Files.write(run.resolve("model.safetensors"), new byte[16]);
    fails(FileNotFoundException.class, () -> Dataset.open(run.toUri(), conf),
        "it holds model.safetensors: a model's directory (train's --out, a saved RnnModel, an export), not a dataset");
    Path predictions = Files.createDirectories(tmp.resolve("predictions"));   // predict --out DIR (a user audit)
    Files.write(predictions.resolve("predictions.json"), "{}".getBytes(StandardCharsets.UTF_8));
    fails(FileNotFoundException.class, () -> Dataset.open(predictions.toUri(), conf),
        "it holds predictions.json: predict's --out directory, not a dataset");
    Path file = Files.write(tmp.resolve("plain"), new byte[4]);
    fails(FileNotFoundException.class, () -> Dataset.open(file.toUri(), conf), "(a file, and a dataset is a directory)");
  }

  @Test
  void truncatedShardIsRefusedBeforeReading() throws IOException {
    byte[] b = Files.readAllBytes(ds.resolve(SHARD0));
    Files.write(ds.resolve(SHARD0), Arrays.copyOf(b, b.length - 3));
    readFails(IOException.class, "/ds/" + SHARD0 + ": file has", "truncated", "manifest says " + b.length);
  }

  @Test
  void checksumMismatchIsReported() throws IOException {
    byte[] b = Files.readAllBytes(ds.resolve(SHARD0));
    b[b.length - 1] ^= 1;
    Files.write(ds.resolve(SHARD0), b);
    // the dataset is named with the shard: a job reads many datasets' shard-00000.safetensors
    readFails(IOException.class, "/ds/" + SHARD0 + ": CRC32C", "the manifest says");
    String summary = Dataset.inspect(ds.toUri(), conf).summary();
    assertTrue(summary.contains("1 of 2 shards verified") && summary.contains("FAILED"), summary);
  }

  @Test
  void wrongFeatureCountNamesTensorAndBothValues() throws IOException {
    byte[] forged = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {5, 2, 3}, new float[30]),
        Tensor.ofFloats("y", new int[] {5, 2, 1}, new float[10])));
    TestFiles.forgeShard(ds, SHARD0, forged);
    readFails(IllegalArgumentException.class, SHARD0 + ": x has F=3, the manifest says F=1");
  }

  @Test
  void wrongDtypeIsReported() throws IOException {
    byte[] forged = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {5, 2, 1}, new float[10]),
        Tensor.ofInts("y", new int[] {5, 2, 1}, new int[10])));
    TestFiles.forgeShard(ds, SHARD0, forged);
    readFails(IllegalArgumentException.class, SHARD0, "y has dtype I32, expected F32");
  }

  @Test
  void headerClaimingHugeTensorIsRefusedBeforeAllocating() throws IOException {
    String header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576,16],\"data_offsets\":[0,40]},"
        + "\"y\":{\"dtype\":\"F32\",\"shape\":[5,2,1],\"data_offsets\":[40,80]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + 80).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    TestFiles.forgeShard(ds, SHARD0, b.array());
    readFails(IllegalArgumentException.class, SHARD0, "refused before allocating");
  }

  @Test
  void manifestClaimingHugeShardIsRefused() throws IOException {
    String json = Files.readString(ds.resolve(Manifest.FILE_NAME));
    Files.writeString(ds.resolve(Manifest.FILE_NAME), json.replaceFirst("\"batch\": 2", "\"batch\": 2000000000"));
    fails(IllegalArgumentException.class, () -> Dataset.open(ds.toUri(), conf), SHARD0, "claims");
  }

  @Test
  void normalizationFromIsKeptAndMustBeAString() throws IOException {
    Path n = tmp.resolve("normalized");
    Normalization given = new Normalization(new double[] {0.5}, new double[] {2}, new double[] {0.25}, new double[] {4})
        .takenFrom("runs/a/model.safetensors");
    Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 1)), new PrepOptions(n.toUri(), 2, 0, true, false, given),
        conf);
    Normalization read = Dataset.open(n.toUri(), conf).manifest().normalization();
    assertTrue(given.equals(read) && "runs/a/model.safetensors".equals(read.from()), String.valueOf(read));
    String json = Files.readString(n.resolve(Manifest.FILE_NAME));
    assertTrue(json.contains("\"from\": \"runs/a/model.safetensors\""), json);
    Files.writeString(n.resolve(Manifest.FILE_NAME), json.replace("\"runs/a/model.safetensors\"", "3"));
    fails(IllegalArgumentException.class, () -> Dataset.open(n.toUri(), conf), Manifest.FILE_NAME,
        "normalization.from must be a string", "found 3");
  }

  /** A manifest's wrong value is shown as JSON ("6", a string), and its kind in JSON's words (not ArrayList). */
  @Test
  void manifestErrorsShowValuesAndKindsAsJson() throws IOException {
    String json = Files.readString(ds.resolve(Manifest.FILE_NAME));
    Files.writeString(ds.resolve(Manifest.FILE_NAME), json.replaceFirst("\"steps\": 5", "\"steps\": \"5\""));
    fails(IllegalArgumentException.class, () -> Dataset.open(ds.toUri(), conf), "steps must be an integer, found \"5\"");
    Files.writeString(ds.resolve(Manifest.FILE_NAME), "[" + json + "]");
    fails(IllegalArgumentException.class, () -> Dataset.open(ds.toUri(), conf), "expected a JSON object, found an array");
  }

  @Test
  void manifestPathsOutsideTheDatasetAreRefused() throws IOException {
    String json = Files.readString(ds.resolve(Manifest.FILE_NAME));
    for (String evil : List.of("../shard-00000.safetensors", "/etc/shard.safetensors", "hdfs://other/x.safetensors",
        "sub/shard.safetensors", ".hidden.safetensors")) {
      Files.writeString(ds.resolve(Manifest.FILE_NAME), json.replace(SHARD0, evil));
      fails(IllegalArgumentException.class, () -> Dataset.open(ds.toUri(), conf), "not a plain shard name");
    }
  }

  /** The names beside the dataset directory that a staged overwrite uses (.ds.tmp-UUID, .ds.old-UUID). */
  private List<String> stagingBeside(Path dataset) throws IOException {
    try (var s = Files.list(dataset.getParent())) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("." + dataset.getFileName() + ".")).toList();
    }
  }

  private static Map<String, byte[]> contents(Path dir) throws IOException {
    Map<String, byte[]> m = new TreeMap<>();
    try (var s = Files.list(dir)) {
      for (Path p : s.toList()) {
        m.put(p.getFileName().toString(), Files.readAllBytes(p));
      }
    }
    return m;
  }

  /**
   * --overwrite replaces the dataset only when the new one is complete: a prep that fails on bad
   * input keeps the old one whole (a user audit: it was deleted before the new prep was checked).
   */
  @Test
  void overwriteKeepsTheOldDatasetUntilTheNewOneIsComplete() throws IOException {
    Map<String, byte[]> before = contents(ds);
    double[] v = new double[2 * 3 * 1];
    v[4] = Double.NaN;
    Path x = TestFiles.writeNpy(tmp.resolve("nan-over.npy"), "<f8", false, new int[] {2, 3, 1}, v);
    NpySource bad = new NpySource(new NpySource.Options(x.toString(), "NTF", null, null, false, 0), conf);
    fails(IllegalArgumentException.class, () -> Prep.run(bad, new PrepOptions(ds.toUri(), 1, 0, false, true), conf), "NaN");
    Map<String, byte[]> after = contents(ds);
    assertEquals(before.keySet(), after.keySet());
    before.forEach((name, bytes) -> assertTrue(Arrays.equals(bytes, after.get(name)), name + " changed"));
    assertEquals(List.of(), stagingBeside(ds), "a staging directory left beside the dataset");

    Manifest replaced = Prep.run(new SineSource(SineSource.Options.defaults(7, 6, 2)), new PrepOptions(ds.toUri(), 3, 0, false,
        true), conf);
    assertEquals(replaced, Dataset.open(ds.toUri(), conf).manifest());
    assertEquals(7, replaced.spec().steps());
    assertEquals(List.of(), stagingBeside(ds), "the old dataset or the staging directory left beside it");
  }

  /**
   * A prep killed mid-overwrite leaves a hidden staging copy beside the dataset (.ds.tmp-UUID: as
   * large as the dataset), or between the overwrite's two renames the old dataset itself
   * (.ds.old-UUID). The next prep to that directory names them in a warning; it deletes neither
   * (another prep may be writing one now, and an .old- one may be the only copy of a dataset).
   */
  @Test
  void leftoversOfAnInterruptedPrepAreNamedByTheNext() throws IOException {
    Path out = tmp.resolve("left");
    Path staging = Files.createDirectories(tmp.resolve(".left.tmp-0000"));
    Path old = Files.createDirectories(tmp.resolve(".left.old-1111"));
    Files.createDirectories(tmp.resolve(".leftover.tmp-2222"));   // another dataset's: not named
    try (LogCapture log = LogCapture.warnings(DatasetWriter.class)) {
      Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 2)), new PrepOptions(out.toUri(), 2, 0, false, false), conf);
      List<String> warned = log.messages();
      assertEquals(1, warned.size(), warned.toString());
      String w = warned.get(0);
      assertTrue(w.contains(staging.toUri().getPath().replaceAll("/$", "")) && w.contains(old.toUri().getPath().replaceAll("/$", ""))
          && !w.contains(".leftover.") && w.contains("not deleted"), w);
    }
    assertTrue(Files.exists(staging) && Files.exists(old), "a leftover was deleted");
    Files.delete(staging);
    Files.delete(old);
    try (LogCapture log = LogCapture.warnings(DatasetWriter.class)) {
      Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 2)), new PrepOptions(out.toUri(), 2, 0, false, true), conf);
      assertEquals(List.of(), log.messages());
    }
  }

  @Test
  void nanInNpyInputsNamesFileAndIndexAndLeavesNoDataset() throws IOException {
    double[] v = new double[2 * 3 * 1];
    v[4] = Double.NaN; // n=1, t=1
    Path x = TestFiles.writeNpy(tmp.resolve("nan.npy"), "<f8", false, new int[] {2, 3, 1}, v);
    NpySource s = new NpySource(new NpySource.Options(x.toString(), "NTF", null, null, false, 0), conf);
    Path out = tmp.resolve("nan-ds");
    fails(IllegalArgumentException.class, () -> Prep.run(s, new PrepOptions(out.toUri(), 1, 0, false, false), conf),
        "nan.npy", "NaN at (n=1, t=1, f=0)");
    assertFalse(Files.exists(out), "partial dataset left behind");
  }

  @Test
  void infInBatchIsRefusedByTheWriter() {
    Batch b = new Batch(5, 1, 1, new float[] {0, 1, Float.POSITIVE_INFINITY, 0, 0}, new float[5], null, null);
    fails(IllegalArgumentException.class, () -> ShardCodec.encode(b, new SineSource(SineSource.Options.defaults(5, 1, 1)).spec(),
        "shard-00009.safetensors"),
        "shard-00009.safetensors: x has Infinity at (t=2, b=0, f=0)");
  }

  @Test
  void nonNumericCsvCellNamesLineAndColumn() throws IOException {
    Path p = tmp.resolve("bad.csv");
    Files.writeString(p, "a,b\n1,2\n3,x7\n5,6\n");
    fails(IllegalArgumentException.class, () -> new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 2, 1,
        -1, false, null, 0, ','), conf), "bad.csv line 3, column 'b': 'x7' is not a number");
    Files.writeString(p, "a,b\n1,2\n3,NaN\n");
    fails(IllegalArgumentException.class, () -> new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 1, 1,
        -1, false, null, 0, ','), conf), "line 3, column 'b'", "not finite");
  }

  @Test
  void csvWindowsWithoutStepsSayStepsIsRequired() {
    fails(IllegalArgumentException.class, () -> new CsvSource.Options("x.csv", List.of(), List.of(), 0, 0, -1, false, null, 0,
        ','), "--steps T is required without --sequence-column");
  }

  /** In a directory of part files an error names the part and its own line (it named the directory and a running count). */
  @Test
  void aBadCellInAPartFileNamesThePartAndItsLine() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("parts"));
    Files.writeString(dir.resolve("part-00000.csv"), "a,b\n1,2\n3,4\n5,6\n");
    Files.writeString(dir.resolve("part-00001.csv"), "a,b\n7,8\n9,x\n");
    Files.writeString(dir.resolve("_SUCCESS"), "");
    fails(IllegalArgumentException.class, () -> new CsvSource(new CsvSource.Options(dir.toString(), List.of(), List.of(), 2, 1,
        -1, false, null, 0, ','), conf), "part-00001.csv line 3, column 'b': 'x' is not a number");
    // without a header the lines count from 1 in each part
    Files.writeString(dir.resolve("part-00000.csv"), "1,2\n3,4\n");
    Files.writeString(dir.resolve("part-00001.csv"), "7,8\n9,x\n");
    fails(IllegalArgumentException.class, () -> new CsvSource(new CsvSource.Options(dir.toString(), List.of(), List.of(), 2, 1,
        -1, false, null, 0, ',', false), conf), "part-00001.csv line 2, column '_c1': 'x' is not a number");
  }

  /**
   * --seq2one with per-step --targets and --classes without integer targets mean nothing there:
   * refused, not dropped (a user audit: the first wrote seq2seq, the second mse, both with exit 0).
   */
  @Test
  void npyOptionsThatMeanNothingForTheTargetsAreRefused() throws IOException {
    Path x = inputsN2T3();
    Path y = TestFiles.writeNpy(tmp.resolve("y3.npy"), "<f4", false, new int[] {2, 3, 1}, new double[6]);
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null,
        true, 0), conf), "--seq2one: the targets " + y + " of shape [2, 3, 1] are per step");
    Path y1 = TestFiles.writeNpy(tmp.resolve("y1.npy"), "<f4", false, new int[] {2, 1}, new double[2]);
    new NpySource(new NpySource.Options(x.toString(), "NTF", y1.toString(), null, true, 0), conf);   // agrees with [N,O]: redundant
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", null, null,
        false, 4), conf), "--classes applies to integer class-id --targets");
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null,
        false, 4), conf), "--classes 4: " + y + " holds floats");
    new NpySource(new NpySource.Options(x.toString(), "NTF", null, null, true, 0), conf);   // the shift's seq2one stays
  }

  @Test
  void raggedOrUnsupportedNpyIsRefused() throws IOException {
    Path ragged = tmp.resolve("ragged.npy");
    String dict = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }";
    ByteBuffer b = ByteBuffer.allocate(10 + dict.length() + 1 + 16).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) (dict.length() + 1));
    b.put((dict + "\n").getBytes(StandardCharsets.ISO_8859_1));
    Files.write(ragged, b.array());
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(ragged.toString(), "NTF", null, null,
        false, 0), conf), "ragged.npy", "object array");
    Path rank2 = TestFiles.writeNpy(tmp.resolve("rank2.npy"), "<f4", false, new int[] {2, 3}, new double[6]);
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(rank2.toString(), "NTF", null, null,
        false, 0), conf), "rank2.npy", "rank-3", "[2, 3]");
    Path truncated = TestFiles.writeNpy(tmp.resolve("trunc.npy"), "<f4", false, new int[] {2, 3, 1}, new double[6]);
    byte[] t = Files.readAllBytes(truncated);
    Files.write(truncated, Arrays.copyOf(t, t.length - 4));
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(truncated.toString(), "NTF", null,
        null, false, 0), conf), "trunc.npy", "needs 24 data bytes, the file has 20 (truncated)");
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(truncated.toString(), "NTX", null,
        null, false, 0), conf), "--layout 'NTX'");
  }

  @Test
  void emptyInputsAreRefused() throws IOException {
    Path empty = Files.createFile(tmp.resolve("empty.txt"));
    fails(IllegalArgumentException.class, () -> new TextSource(new TextSource.Options(empty.toString(), 4, 0), conf),
        "empty.txt", "empty");
    Path headerOnly = tmp.resolve("header.csv");
    Files.writeString(headerOnly, "a,b\n");
    fails(IllegalArgumentException.class, () -> new CsvSource(new CsvSource.Options(headerOnly.toString(), List.of(),
        List.of(), 2, 1, -1, false, null, 0, ','), conf), "header.csv", "no data rows");
    Path none = TestFiles.writeNpy(tmp.resolve("none.npy"), "<f4", false, new int[] {0, 3, 1}, new double[0]);
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(none.toString(), "NTF", null, null,
        false, 0), conf), "none.npy", "empty input");
    fails(FileNotFoundException.class, () -> new TextSource(new TextSource.Options(tmp.resolve("nope.txt").toString(), 4,
        0), conf), "nope.txt", "not found");
  }

  @Test
  void existingNonDatasetDirectoryIsNeverOverwritten() throws IOException {
    Path other = Files.createDirectories(tmp.resolve("precious"));
    Files.writeString(other.resolve("notes.txt"), "keep me");
    fails(IOException.class, () -> Prep.run(new SineSource(SineSource.Options.defaults(5, 4, 1)),
        new PrepOptions(other.toUri(), 2, 0, false, true), conf), "not empty", "not a dataset");
    assertTrue(Files.exists(other.resolve("notes.txt")));
  }

  @Test
  void lengthsOutsideOneToTGiveTheSameExpectedRangeWhateverTheValue() {
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 3, Mode.SEQ2ONE, LossType.MSE,
        true, null, null);
    for (int bad : new int[] {-1, 0, 4}) {
      byte[] shard = SafeTensors.toBytes(Map.of(), List.of(Tensor.ofFloats("x", new int[] {3, 1, 1}, new float[3]),
          Tensor.ofFloats("y", new int[] {1, 1}, new float[1]), Tensor.ofInts("lengths", new int[] {1}, new int[] {bad})));
      fails(IllegalArgumentException.class, () -> ShardCodec.decode(shard, spec, "v.safetensors", 1),
          "v.safetensors: lengths[0] = " + bad + ", expected 1..3");
    }
  }

  /** Zero inputs [N=2, T=3, F=1] for the npy refusals. */
  private Path inputsN2T3() throws IOException {
    return TestFiles.writeNpy(tmp.resolve("x3.npy"), "<f4", false, new int[] {2, 3, 1}, new double[6]);
  }

  @Test
  void classesWithoutTargetsIsRefusedEvenForOneClass() throws IOException {
    Path x = inputsN2T3();
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", null, null, false, 1), conf),
        "--classes applies to integer class-id --targets");
  }

  @Test
  void seq2oneWithPerStepIntegerClassIdsIsRefused() throws IOException {
    Path x = inputsN2T3();
    Path ids = TestFiles.writeNpy(tmp.resolve("ids.npy"), "<i4", false, new int[] {2, 3}, new double[6]);
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", ids.toString(), null, true, 0),
        conf), "--seq2one: the targets " + ids + " of shape [2, 3] are per step");
  }

  @Test
  void classesWithFloatSeq2oneTargetsIsRefused() throws IOException {
    Path x = inputsN2T3();
    Path y1 = TestFiles.writeNpy(tmp.resolve("y1.npy"), "<f4", false, new int[] {2, 1}, new double[2]);
    fails(IllegalArgumentException.class, () -> new NpySource(new NpySource.Options(x.toString(), "NTF", y1.toString(), null, false, 4),
        conf), "--classes 4: " + y1 + " holds floats");
  }
}
