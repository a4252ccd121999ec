package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.InferenceCommandsTest.Run;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Misuse a hostile or careless user tried (issue 16): each is refused with exit 2 and one line
 * naming the file and what is wrong, before any work is done, and leaves nothing half-made.
 */
class HostileUseTest {
  @TempDir
  static Path tmp;
  static Path sine;
  static Path sineModel;
  static final ModelConfig GRU = new ModelConfig(CellType.GRU, 2, 1, 6, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final ModelConfig TEXT = new ModelConfig(CellType.LSTM, 1, 4, 8, 4, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);

  @BeforeAll
  static void data() throws IOException {
    Configuration hadoop = new Configuration();
    sine = tmp.resolve("sine");
    Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(sine.toUri(), 8, 0.2, true, false), hadoop);
    sineModel = tmp.resolve("sine.safetensors");
    Files.write(sineModel, ModelFile.toBytes(Params.initialize(GRU, 11), sineMetadata()));
  }

  static Map<String, String> sineMetadata() throws IOException {
    return ModelMetadata.fromManifest(Dataset.open(sine.toUri(), new Configuration()).manifest());
  }

  static String s(Path p) {
    return p.toString();
  }

  /** A model file whose tensor {@code tensor} holds {@code value} at element {@code index}. */
  static Path poisoned(String name, ModelConfig config, Map<String, String> meta, String tensor, int index, float value)
      throws IOException {
    Params p = Params.initialize(config, 3);
    ParamSpec spec = p.layout().specs().stream().filter(s -> s.name().equals(tensor)).findFirst().orElseThrow();
    p.values()[spec.offset() + index] = value;
    Path f = tmp.resolve(name);
    Files.write(f, ModelFile.toBytes(p, meta));
    return f;
  }

  // ---- item 8: non-finite weights ----

  @Test
  void nonFiniteWeightsAreRefusedOnLoadNamingTheTensor() throws IOException {
    Path nan = poisoned("nan.safetensors", GRU, sineMetadata(), "rnn.weight_hh_l1", 5, Float.NaN);
    Path shard = sine.resolve("shard-00000.safetensors");
    Path out = tmp.resolve("nan-pred.safetensors");
    assertFails(run("evaluate", "--model", s(nan), "--data", s(sine), "--master", "local[1]"), "nan.safetensors",
        "rnn.weight_hh_l1", "NaN", "element 5");
    assertFails(run("predict", "--model", s(nan), "--data", s(shard), "--out", s(out), "--engine", "reference"),
        "nan.safetensors", "rnn.weight_hh_l1", "NaN");
    assertFalse(Files.exists(out), "predict wrote outputs from a NaN model");

    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelMetadata.KEY_TASK, "text");
    meta.put(ModelMetadata.KEY_VOCABULARY, Json.write(new ArrayList<Object>(List.of("a", "b", "c", "d"))));
    Path inf = poisoned("inf.safetensors", TEXT, meta, "head.bias", 2, Float.NEGATIVE_INFINITY);
    assertFails(run("generate", "--model", s(inf), "--primer", "abca", "--steps", "5", "--engine", "reference"),
        "inf.safetensors", "head.bias", "-Infinity");
  }

  // ---- item 1: an unusable --out is refused before any work ----

  /**
   * A small but real training run on the sine data, {@code more} (option, value pairs) replacing
   * its options: its log's "training ..." line comes only once Spark runs.
   */
  static String[] train(Path out, String... more) {
    Map<String, String> o = new LinkedHashMap<>();
    List<String> base = List.of("--data", s(sine), "--out", s(out), "--cell", "gru", "--hidden-size", "4", "--batch", "8",
        "--steps", "2", "--checkpoint-every", "0", "--validate-every", "0", "--master", "local[1]");
    for (int i = 0; i < base.size(); i += 2) {
      o.put(base.get(i), base.get(i + 1));
    }
    for (int i = 0; i < more.length; i += 2) {
      o.put(more[i], more[i + 1]);
    }
    List<String> a = new ArrayList<>(List.of("train"));
    o.forEach((k, v) -> a.addAll(List.of(k, v)));
    return a.toArray(new String[0]);
  }

  @Test
  void trainRefusesAnUnusableOutBeforeSparkStarts() throws IOException {
    Path file = Files.writeString(tmp.resolve("a-file"), "keep me");
    Run r = run(train(file));
    assertFails(r, "--out " + file, "regular file", "expected a directory");
    assertFalse(r.out().contains("training "), "Spark started: " + r.out());
    assertEquals("keep me", Files.readString(file));
    assertFails(run(train(file.resolve("sub"))), "--out " + file.resolve("sub"), "cannot be created", file + " is a regular file");
    assertFails(run(train(Path.of("/dev/null"))), "--out /dev/null", "/dev");
    assertFails(run(train(Path.of("/proc/spark-rnn-run"))), "--out /proc/spark-rnn-run", "/proc");
  }

  @Test
  void predictPrepAndExportRefuseAnUnusableOutBeforeWorking() throws IOException {
    Path file = Files.writeString(tmp.resolve("b-file"), "keep me");
    Run r = run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(file), "--master", "local[1]");
    assertFails(r, "--out " + file, "regular file", "expected a directory");
    assertFalse(r.out().contains("predicted"), r.out());
    assertFails(run("predict", "--model", s(sineModel), "--data", s(sine.resolve("shard-00000.safetensors")), "--out", "/dev/null",
        "--engine", "reference"), "--out /dev/null", "/dev");
    assertFails(run("prep", "sine", "--out", "/proc/spark-rnn-data", "--steps", "5", "--sequences", "4", "--batch", "2"),
        "--out /proc/spark-rnn-data", "/proc");
    assertFails(run("prep", "sine", "--out", s(file.resolve("data")), "--steps", "5", "--sequences", "4", "--batch", "2",
        "--master", "local[1]"), "--out " + file.resolve("data"), "cannot be created", file + " is a regular file");
    assertFails(run("export", "--model", s(sineModel), "--out", s(file)), "--out " + file, "regular file", "expected a directory");
    assertFails(run("export", "--model", s(sineModel), "--out", s(file.resolve("m.safetensors"))), "cannot be created",
        file + " is a regular file");
    assertEquals("keep me", Files.readString(file));
    // the second file's place is checked before the first is written (a directory at x.json left x.safetensors written)
    Path pair = Files.createDirectories(tmp.resolve("pair"));
    Files.createDirectories(pair.resolve("x.json"));
    assertFails(run("export", "--model", s(sineModel), "--out", s(pair.resolve("x.safetensors"))),
        "--out " + pair.resolve("x.safetensors") + " writes " + pair.resolve("x.json"), "is a directory", "expected a file name");
    assertFalse(Files.exists(pair.resolve("x.safetensors")), "nothing written");
    Files.createDirectories(pair.resolve("d/config.json"));
    assertFails(run("export", "--model", s(sineModel), "--out", s(pair.resolve("d"))),
        "--out " + pair.resolve("d") + " writes " + pair.resolve("d/config.json"), "is a directory");
    assertFalse(Files.exists(pair.resolve("d/model.safetensors")), "nothing written");
  }

  // ---- item 11: train --overwrite ----

  @Test
  void overwriteReplacesAnEarlierRunAndNothingElse() throws IOException {
    Path out = tmp.resolve("overwrite-run");
    Run first = run(train(out, "--steps", "4", "--checkpoint-every", "2"));
    assertEquals(0, first.code(), first.err());
    assertTrue(Files.exists(out.resolve("checkpoints/step-0000000004.safetensors")), "the first run's last checkpoint");
    Files.writeString(out.resolve("notes.txt"), "mine");
    assertFails(run(train(out)), "already holds a training run", "--overwrite");
    assertFails(run(train(out, "--overwrite", "true", "--resume", "true")), "choose one");
    // the reference: the same 2-step run into a new folder
    Path fresh = tmp.resolve("overwrite-fresh");
    Run reference = run(train(fresh));
    assertEquals(0, reference.code(), reference.err());
    Run second = run(train(out, "--overwrite", "true"));
    assertEquals(0, second.code(), second.err());
    assertTrue(second.out().contains("--overwrite: removed the earlier run"), second.out());
    org.junit.jupiter.api.Assertions.assertArrayEquals(Files.readAllBytes(fresh.resolve("model.safetensors")),
        Files.readAllBytes(out.resolve("model.safetensors")), "the same model as a run in a new folder");
    assertFalse(Files.exists(out.resolve("checkpoints/step-0000000004.safetensors")), "the earlier run's checkpoints are gone");
    assertEquals(Files.readString(fresh.resolve("metrics.jsonl")).lines().count(),
        Files.readString(out.resolve("metrics.jsonl")).lines().count(), "metrics of this run only");
    assertEquals("mine", Files.readString(out.resolve("notes.txt")), "other files stay");
  }

  /**
   * A run file's place taken by the other kind is refused before the first step (a user audit: a file
   * at checkpoints failed after the last step, with no model and no checkpoint kept; a directory at
   * model.safetensors read as "already holds a training run"), also under --overwrite, which would
   * have removed the directory with what it holds.
   */
  @Test
  void aRunFilesPlaceTakenByTheOtherKindIsRefusedBeforeTraining() throws IOException {
    Path out = Files.createDirectories(tmp.resolve("wrong-kinds"));
    Files.writeString(out.resolve("checkpoints"), "mine");
    Run r = run(train(out, "--checkpoint-every", "1"));
    assertFails(r, "out: file:" + out + "/checkpoints is a file, where the run writes its checkpoints folder; move it away, or"
        + " choose another --out");
    assertFalse(r.out().contains("step 1"), "refused before the first step: " + r.out());
    Files.delete(out.resolve("checkpoints"));
    Files.createDirectories(out.resolve("model.safetensors/kept"));
    assertFails(run(train(out, "--overwrite", "true")), "model.safetensors is a directory, where the run writes its model.safetensors");
    assertTrue(Files.isDirectory(out.resolve("model.safetensors/kept")), "the user's directory stays");
    Files.delete(out.resolve("model.safetensors/kept"));
    Files.delete(out.resolve("model.safetensors"));
    Files.createDirectories(out.resolve("report.md"));
    assertFails(run(train(out)), "report.md is a directory, where the run writes its report.md");
    assertFalse(Files.exists(out.resolve("metrics.jsonl")), "nothing written");
    Files.delete(out.resolve("report.md"));
    for (String f : List.of("metrics.jsonl", "loss.png")) {   // the run's other files (RUN_FILES), each refused as a directory too
      Files.createDirectories(out.resolve(f));
      assertFails(run(train(out)), f + " is a directory, where the run writes its " + f);
      Files.delete(out.resolve(f));
    }
  }

  /**
   * A finished run whose checkpoints were removed (to save space, say) has nothing to resume: every
   * run checkpoints at its end, so --resume there would train from step 0 over the model. Refused
   * before anything is written, naming the way out; the model stays byte for byte.
   */
  @Test
  void resumeWithTheModelButNoCheckpointIsRefusedAndTheModelKept() throws IOException {
    Path out = tmp.resolve("no-checkpoints");
    Run first = run(train(out, "--steps", "4", "--checkpoint-every", "2"));
    assertEquals(0, first.code(), first.err());
    byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
    byte[] metrics = Files.readAllBytes(out.resolve("metrics.jsonl"));
    try (Stream<Path> files = Files.walk(out.resolve("checkpoints"))) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    assertFails(run(train(out, "--steps", "6", "--resume", "true")), "resume: ", "holds a model (model.safetensors) but no"
        + " checkpoint to resume from", "would train from step 0 and replace it", "--overwrite in place of --resume");
    org.junit.jupiter.api.Assertions.assertArrayEquals(model, Files.readAllBytes(out.resolve("model.safetensors")));
    org.junit.jupiter.api.Assertions.assertArrayEquals(metrics, Files.readAllBytes(out.resolve("metrics.jsonl")));
    // an --out without a model (a run stopped before its first checkpoint) still starts at step 0 with --resume
    Files.delete(out.resolve("model.safetensors"));
    Run fresh = run(train(out, "--steps", "4", "--resume", "true"));
    assertEquals(0, fresh.code(), fresh.err());
    assertTrue(fresh.out().contains("no checkpoint in") && fresh.out().contains("starting at step 0"), fresh.out());
  }

  /**
   * The refusal's hint says "--overwrite"; a bare --overwrite (and --resume) must work as written,
   * as prep's does, and mean true; "--overwrite false" stays false.
   */
  @Test
  void bareOverwriteAndResumeMeanTrue() throws IOException {
    Path out = tmp.resolve("bare-flags");
    assertEquals(0, run(train(out)).code());
    assertFails(run(train(out)), "pass --resume to continue it, --overwrite to replace it");
    assertFails(run(train(out, "--overwrite", "false")), "already holds a training run");
    List<String> bare = new ArrayList<>(List.of(train(out)));
    bare.add("--overwrite");
    Run r = run(bare.toArray(new String[0]));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("--overwrite: removed the earlier run"), r.out());
    // both bare, one before another option: each is true (an option name is not taken as the value)
    List<String> both = new ArrayList<>(List.of("train", "--resume", "--overwrite"));
    both.addAll(List.of(train(out)).subList(1, train(out).length));
    assertFails(run(both.toArray(new String[0])), "resume and overwrite: choose one");
  }

  // ---- item 2: one training run per --out ----

  static final String LOCK = ".spark-rnn.lock";

  static String host() throws IOException {
    return InetAddress.getLocalHost().getHostName();
  }

  static void writeLock(Path out, String host, long pid, Instant started) throws IOException {
    Files.createDirectories(out);
    Files.writeString(out.resolve(LOCK), "host=" + host + "\npid=" + pid + "\nstarted=" + started + "\n");
  }

  @Test
  void aSecondTrainingRunOnTheSameOutIsRefusedNamingTheOwner() throws IOException {
    Path out = tmp.resolve("locked-run");
    // a live owner: this very JVM
    writeLock(out, host(), ProcessHandle.current().pid(), Instant.now());
    Run r = run(train(out));
    assertFails(r, out.resolve(LOCK).toString(), "pid " + ProcessHandle.current().pid(), host());
    assertFalse(r.out().contains("training "), "Spark started: " + r.out());
    assertTrue(Files.exists(out.resolve(LOCK)), "the owner's lock was removed");
    assertFalse(Files.exists(out.resolve("model.safetensors")));
  }

  @Test
  void aLockFromAnotherHostIsNeverTakenOver() throws IOException {
    Path out = tmp.resolve("other-host-run");
    writeLock(out, "some-other-host.example", 1, Instant.parse("2026-01-01T00:00:00Z"));
    assertFails(run(train(out)), LOCK, "some-other-host.example", "pid 1");
    assertTrue(Files.readString(out.resolve(LOCK)).contains("some-other-host.example"), "the lock was taken over");
  }

  @Test
  void aStaleLockOfADeadProcessOnThisHostIsRecoveredWithAMessage() throws Exception {
    Path out = tmp.resolve("stale-run");
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    writeLock(out, host(), gone.pid(), Instant.now());
    Run r = run(train(out));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains(LOCK) && r.out().contains("pid " + gone.pid()) && r.out().contains("no longer running"), r.out());
    assertFalse(Files.exists(out.resolve(LOCK)), "the lock stays after the run");
  }

  /** --resume on a run that finished: the model stays, and the summary says so (it said "loss NaN, 0.0 sequences/s"). */
  @Test
  void resumingAFinishedRunSaysThereIsNothingToTrain() throws IOException {
    Path out = tmp.resolve("finished-run");
    assertEquals(0, run(train(out)).code());
    byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
    String report = Files.readString(out.resolve("report.md"));
    Path checkpoint = out.resolve("checkpoints/step-0000000002.safetensors");
    byte[] checkpointBytes = Files.readAllBytes(checkpoint);
    java.nio.file.attribute.FileTime[] times = {Files.getLastModifiedTime(out.resolve("model.safetensors")),
        Files.getLastModifiedTime(checkpoint), Files.getLastModifiedTime(out.resolve("metrics.jsonl"))};
    Run again = run(train(out, "--resume", "true"));
    assertEquals(0, again.code(), again.err());
    assertTrue(again.out().contains("done: the checkpoint is at step 2 of 2 already, nothing to train; model "), again.out());
    assertFalse(again.out().contains("NaN"), again.out());
    assertTrue(Arrays.equals(model, Files.readAllBytes(out.resolve("model.safetensors"))), "the model changed");
    // nothing is rewritten: the checkpoint's train config named this resume's --data as the data trained on (a docs audit)
    assertTrue(Arrays.equals(checkpointBytes, Files.readAllBytes(checkpoint)), "the checkpoint was rewritten");
    assertEquals(List.of(times), List.of(Files.getLastModifiedTime(out.resolve("model.safetensors")),
        Files.getLastModifiedTime(checkpoint), Files.getLastModifiedTime(out.resolve("metrics.jsonl"))), "files rewritten");
    // the report of the run that trained stays (rewritten, it had NaN step times and lost its devices: a user audit)
    assertEquals(report, Files.readString(out.resolve("report.md")));
    assertTrue(again.out().contains("report.md: kept, the report of the run that trained to step 2"), again.out());
    // without it (lost), the one written says no step was applied, and where the run resumed from
    Files.delete(out.resolve("report.md"));
    Run third = run(train(out, "--resume", "true"));
    assertEquals(0, third.code(), third.err());
    String written = Files.readString(out.resolve("report.md"));
    assertTrue(written.contains("| resumed from | step 2 (") && written.contains("step-0000000002.safetensors) |")
        && written.contains("| throughput (this run) | no step applied in this run |") && !written.contains("NaN"), written);
    // a kill after the last checkpoint but before model.safetensors: the resume that trains nothing writes the model
    Files.delete(out.resolve("model.safetensors"));
    Run fourth = run(train(out, "--resume", "true"));
    assertEquals(0, fourth.code(), fourth.err());
    assertTrue(Files.exists(out.resolve("model.safetensors")), "the lost model was not written again");
  }

  /**
   * The summary train ends with, "done: N steps, loss L, validation V, R sequences/s; model FILE", after a --resume that
   * trains one more step: N is the step the run ended at (3 of --steps 3, not the 1 step trained in this run), L the
   * training loss and V the validation loss of that last step as metrics.jsonl records them (the line prints %.6g), and
   * FILE the model.safetensors written into --out.
   */
  @Test
  void theSummaryLineGivesTheLastStepsLossesAndTheModelFile() throws IOException {
    Path out = tmp.resolve("summary-run");
    Run first = run(train(out, "--checkpoint-every", "1", "--validate-every", "1"));
    assertEquals(0, first.code(), first.err());
    Run r = run(train(out, "--steps", "3", "--checkpoint-every", "1", "--validate-every", "1", "--resume", "true"));
    assertEquals(0, r.code(), r.err());
    List<Map<String, Object>> rows = metricsRows(out);
    Map<String, Object> last = rows.get(rows.size() - 1);
    assertEquals(3L, ((Number) last.get("step")).longValue(), rows.toString());
    String done = r.out().lines().filter(l -> l.startsWith("done: ")).findFirst().orElse(r.out());
    String expected = String.format(java.util.Locale.ROOT, "done: 3 steps, loss %.6g, validation %.6g, ",
        ((Number) last.get("loss")).doubleValue(), ((Number) last.get("val_loss")).doubleValue());
    assertTrue(done.startsWith(expected), "expected '" + expected + "...' in: " + done);
    // a local --out as Hadoop qualifies it (file:/...)
    assertTrue(done.contains(" sequences/s; model ") && done.endsWith(out.resolve("model.safetensors").toString()), done);
  }

  @Test
  void theLockIsRemovedAfterAFailedRun() throws IOException {
    Path out = tmp.resolve("failing-run");
    // three barrier tasks cannot run at once on local[1]: the run fails after taking the lock
    Run r = run(train(out, "--partitions", "3", "--sync", "barrier"));
    assertEquals(2, r.code(), r.err());
    assertFalse(Files.exists(out.resolve(LOCK)), "the lock stays after a failed run");
  }

  // ---- item 7: predict publishes all or nothing ----

  /** The names in a directory, sorted; empty when it does not exist. */
  static List<String> names(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aFailedPredictLeavesNoOutputAndNoEarlierResultThatLooksComplete() throws IOException {
    Path bad = tmp.resolve("sine-bad");
    Files.createDirectories(bad);
    try (var s = Files.list(sine)) {
      for (Path f : s.toList()) {
        Files.copy(f, bad.resolve(f.getFileName()));
      }
    }
    byte[] b = Files.readAllBytes(bad.resolve("shard-00003.safetensors"));
    b[b.length - 1] ^= 1;
    Files.write(bad.resolve("shard-00003.safetensors"), b);
    Path parent = Files.createDirectories(tmp.resolve("predict-outs"));

    // into a new directory: nothing at all, neither in --out nor beside it
    Path fresh = parent.resolve("fresh");
    Run r = run("predict", "--model", s(sineModel), "--data", s(bad), "--out", s(fresh), "--master", "local[1]", "--partitions", "2");
    assertFails(r, "shard-00003.safetensors", "CRC32C");
    assertEquals(List.of(), names(fresh), "files left in --out");
    assertEquals(List.of(), names(parent), "files left beside --out");

    // over an earlier, complete prediction: it must not look like this run's result
    Path earlier = parent.resolve("earlier");
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(earlier), "--master", "local[1]").code());
    assertTrue(names(earlier).contains("predictions.json"));
    r = run("predict", "--model", s(sineModel), "--data", s(bad), "--out", s(earlier), "--master", "local[1]", "--partitions", "2");
    assertFails(r, "shard-00003.safetensors");
    assertFalse(names(earlier).contains("predictions.json"), "the earlier predictions.json makes the failed run look complete");
    assertTrue(names(earlier).stream().noneMatch(n -> n.startsWith(".")), "hidden files left: " + names(earlier));
    assertEquals(List.of("earlier"), names(parent), "files left beside --out");

    // and a good run over it publishes a complete result
    assertEquals(0, run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(earlier), "--master", "local[1]").code());
    assertEquals(List.of("predictions.json", "shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors",
        "shard-00003.safetensors", "shard-00004.safetensors"), names(earlier));
    assertEquals(List.of("earlier"), names(parent));
  }

  // ---- item 9: small ones ----

  @Test
  void aJobFileThatIsMissingOrNotTextIsNamed() throws IOException {
    Path missing = tmp.resolve("no-such.conf");
    assertFails(run(train(tmp.resolve("conf-run"), "--conf", s(missing))), "--conf " + missing, "no such file");
    Path binary = tmp.resolve("binary.conf");
    Files.write(binary, new byte[] {'l', 'r', '=', (byte) 0xC3, (byte) 0x28, '\n'}); // an invalid UTF-8 sequence
    assertFails(run(train(tmp.resolve("conf-run"), "--conf", s(binary))), "--conf " + binary, "not a UTF-8 text file");
    assertFails(run(train(tmp.resolve("conf-run"), "--conf", s(tmp))), "--conf " + tmp, "directory");
  }

  @Test
  void aMasterSparkCannotParseIsOneLineAndExit2() throws IOException {
    Path out = tmp.resolve("bogus-master");
    Run r = run(train(out, "--master", "bogus://x"));
    assertFails(r, "bogus://x");
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    assertFalse(Files.exists(out.resolve(".spark-rnn.lock")), "the lock stays after a failed run");
    // README: bad values stop the run before Spark starts; the master is checked before the run lock makes --out
    assertFalse(Files.exists(out), "a bad --master left its --out behind: " + out);
    Run p = run("predict", "--model", s(sineModel), "--data", s(sine), "--out", s(tmp.resolve("bogus-pred")), "--master", "bogus://x");
    assertFails(p, "bogus://x");
    assertEquals(1, p.err().strip().lines().count(), "one line: " + p.err());
    // Spark takes these and then fails with a stack trace (0 threads) or runs out of threads (99999)
    for (String master : new String[] {"local[0]", "local[00]", "local[99999]", "local[1,99999999999]", "local-cluster[0,1,1024]",
        "local[99999999999]"}) {
      Path never = tmp.resolve("master-" + master.replaceAll("[^a-z0-9]", "_"));
      Run t = run(train(never, "--master", master));
      assertFails(t, "--master " + master + ": ", " is out of range; expected ");
      assertEquals(1, t.err().strip().lines().count(), "one line: " + t.err());
      assertFalse(Files.exists(never), master + ": a refused run made its --out");
    }
    // the --sync barrier exchange's settings, read from the JVM's spark.* properties as SparkConf reads
    // them (SPARK_RNN_JAVA_OPTS, spark-submit --conf), are checked before the lock too (a user audit)
    System.setProperty("spark.sparkrnn.exchange.port", "abc");
    try {
      Path exchange = tmp.resolve("bad-exchange-port");
      Run t = run(train(exchange, "--master", "local[1]"));
      assertFails(t, "spark.sparkrnn.exchange.port: expected a port in [0, 65535] (0: any free port), found 'abc'");
      assertFalse(Files.exists(exchange), "a bad exchange port left its --out behind");
    } finally {
      System.clearProperty("spark.sparkrnn.exchange.port");
    }
  }

  /**
   * An option picocli cannot parse is one line naming it and where the help is, exit 2: picocli
   * printed the whole usage under it (114 lines for train), burying the line that said what was wrong.
   */
  @Test
  void anOptionThatDoesNotParseIsOneLine() {
    String[][] cases = {
        {"train", "--data", "d", "--out", "o", "--stpes", "5"},
        {"train", "--data", "d", "--out", "o", "--steps", "5", "--steps", "6"},
        {"predict", "--model"},
        {"prep", "sine", "--steps", "x", "--out", "o"}};
    String[][] expected = {
        {"error: spark-rnn train: Unknown options: '--stpes', '5'", "did you mean --steps", "(spark-rnn train --help says what it takes)"},
        {"error: spark-rnn train: option '--steps' (VALUE) should be specified only once"},
        {"error: spark-rnn predict: Missing required parameter for option '--model'"},
        {"error: spark-rnn prep sine: Invalid value for option '--steps': 'x' is not an int"}};
    for (int i = 0; i < cases.length; i++) {
      Run r = run(cases[i]);
      assertFails(r, expected[i]);
      assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
      assertEquals("", r.out(), "no usage: " + r.out());
    }
  }

  /**
   * More partitions than virtual partitions is refused before Spark starts, in the words of the
   * rule (each task computes at least one): under --sync barrier it was found after Spark had
   * started, and said as barrier tasks against the local master's threads.
   */
  @Test
  void morePartitionsThanVirtualPartitionsIsRefusedBeforeSpark() {
    Path out = tmp.resolve("too-many-partitions");
    int[] contexts = {0};
    Run r = DeviceCheckTest.runCounting(contexts, train(out, "--partitions", "9", "--master", "local[2]"));
    assertFails(r, "partitions: 9 tasks but virtual-partitions is 8");   // batch 8: V = min(8, 16)
    assertEquals(0, contexts[0], "Spark started");
    assertFalse(Files.exists(out));
  }

  /**
   * Settings that do nothing in this run say so (a user audit: both were accepted without a word):
   * feedback without validation, a tbptt window as long as the sequences (T = 12 here), an optimizer
   * constant the optimizer does not use (--momentum with adamw, --beta2 with sgd). And a
   * checkpoint to resume from wins over init without reading it: an init of another shape was
   * refused, though the README says the checkpoint wins.
   */
  @Test
  void settingsThatDoNothingSaySoAndResumeWinsOverInit() throws IOException {
    Run r = run(train(tmp.resolve("idle-settings"), "--feedback", "2", "--tbptt", "12", "--checkpoint-every", "1",
        "--optimizer", "adamw", "--lr-min", "0.001", "--momentum", "0.5"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("warning: momentum 0.5: --optimizer=adamw does not use it (--momentum is sgd's; adamw's counterpart"
        + " is --beta1)"), r.out());
    assertTrue(r.out().contains("warning: feedback 2: closed-loop validation is part of validation, and --validate-every is 0"),
        r.out());
    assertTrue(r.out().contains("warning: tbptt 12 is not shorter than the sequences (T = 12)"), r.out());
    // AdamW without decay is Adam: torch's AdamW decays by 0.01 unless told otherwise (a user audit)
    assertTrue(r.out().contains("warning: optimizer adamw: --weight-decay is 0, so no weight decays"), r.out());
    assertTrue(r.out().contains("warning: lr-min 0.001: the constant schedule keeps --lr, so nothing anneals to it"), r.out());
    assertFalse(r.out().contains("warning: lr-min 0.001: --optimizer"), "lr-min is no optimizer's constant: " + r.out());
    Run quiet = run(train(tmp.resolve("busy-settings"), "--feedback", "2", "--validate-every", "1", "--tbptt", "11",
        "--optimizer", "adamw", "--weight-decay", "0.01", "--beta1", "0.8", "--eps", "1e-7"));
    assertEquals(0, quiet.code(), quiet.err());
    assertFalse(quiet.out().contains("warning: "), quiet.out());
    assertTrue(quiet.out().contains(", adamw lr 0.01 weight-decay 0.01, "), "the decay in the training line: " + quiet.out());
    Run sgd = run(train(tmp.resolve("sgd-settings"), "--optimizer", "sgd", "--momentum", "0.5", "--beta2", "0.99", "--eps", "1e-7",
        "--steps", "1", "--lr-schedule", "cosine", "--lr-min", "0.001"));
    assertTrue(sgd.out().contains("warning: eps 1e-7: --optimizer=sgd does not use it"), sgd.out());
    assertEquals(0, sgd.code(), sgd.err());
    assertTrue(sgd.out().contains("warning: beta2 0.99: --optimizer=sgd does not use it (--beta1, --beta2 and --eps are adam's and"
        + " adamw's)") && !sgd.out().contains("warning: momentum"), sgd.out());
    assertTrue(sgd.out().contains(", sgd lr 0.01 momentum 0.5 cosine to 0.001, "), "the training line names the update in force: "
        + sgd.out());

    Path other = tmp.resolve("other-shape.safetensors");
    Files.write(other, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 3, 1, Mode.SEQ2SEQ, LossType.MSE), 5),
        ModelMetadata.fromManifest(Dataset.open(sine.toUri(), new Configuration()).manifest())));
    // the checkpoint's run had --momentum 0.5 and --lr-min 0.001, which adamw and the constant schedule do not read:
    // left out now, they change no bit and the resume goes on; adamw's own beta1 changed is refused, before Spark
    assertFails(run(train(tmp.resolve("idle-settings"), "--feedback", "2", "--tbptt", "12", "--checkpoint-every", "1", "--steps",
        "3", "--optimizer", "adamw", "--beta1", "0.5", "--resume", "true")), "was trained with other settings: beta1 (checkpoint 0.9,"
        + " now 0.5)");
    Run resumed = run(train(tmp.resolve("idle-settings"), "--feedback", "2", "--tbptt", "12", "--checkpoint-every", "1", "--steps",
        "3", "--optimizer", "adamw", "--resume", "true", "--init", s(other)));
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.out().contains("init " + s(other) + ": not used, the run resumes from its newest checkpoint"), resumed.out());
    assertFails(run(train(tmp.resolve("fresh-with-other"), "--init", s(other))), "init: ", "hidden-size 3");
  }

  /**
   * quickstart's --out is checked as every command's is: a place below a regular file is named with
   * the option, as given, also with a space or a non-ASCII letter in it (a review: a URI's %20 was
   * taken as literal characters and the check passed).
   */
  @Test
  void quickstartNamesAnOutItCannotCreate() throws IOException {
    for (String name : new String[] {"quickstart-file", "quickstart file ä"}) {
      Path file = Files.writeString(tmp.resolve(name), "mine");
      assertFails(run("quickstart", "--out", s(file.resolve("q")), "--train-steps", "1", "--master", "local[1]"),
          "--out " + file.resolve("q") + ": cannot be created: " + file + " is a regular file");
    }
  }

  /**
   * --init with a model that records no normalisation, on a normalised dataset: taken (an import
   * from PyTorch may have none), but said, since evaluate and predict refuse the same pair (a user
   * audit found the run silent).
   */
  @Test
  void initFromARawUnitsModelOnANormalisedDatasetWarns() throws IOException {
    Path raw = tmp.resolve("raw-units-init.safetensors");
    Files.write(raw, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE), 5),
        Map.of()));
    Run r = run(train(tmp.resolve("raw-init"), "--init", s(raw)));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("warning: init: " + s(raw) + " records no normalisation (trained on raw units, or imported"
        + " without one), and the dataset "), r.out());
    // with the dataset's own statistics there is nothing to say
    Path same = tmp.resolve("same-units-init.safetensors");
    Files.write(same, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE), 5),
        ModelMetadata.fromManifest(Dataset.open(sine.toUri(), new Configuration()).manifest())));
    r = run(train(tmp.resolve("same-init"), "--init", s(same)));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("records no normalisation"), r.out());
  }

  /**
   * The --init warning is about a normalised dataset: a model with no statistics on a dataset
   * prepared without --normalize is in raw units on both sides, the pair evaluate and predict
   * accept, and trains without a word.
   */
  @Test
  void initFromARawUnitsModelOnARawDatasetDoesNotWarn() throws IOException {
    Path rawData = tmp.resolve("sine-raw");
    Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(rawData.toUri(), 8, 0.2, false, false),
        new Configuration());
    Path raw = tmp.resolve("raw-units-init-raw-data.safetensors");
    Files.write(raw, ModelFile.toBytes(Params.initialize(new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE), 5),
        Map.of()));
    Run r = run(train(tmp.resolve("raw-init-raw-data"), "--data", s(rawData), "--init", s(raw)));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("records no normalisation") || r.err().contains("records no normalisation"), r.out() + r.err());
  }

  @Test
  void aNanStopWithoutACheckpointDoesNotClaimOne() throws IOException {
    // a learning rate this large makes the loss overflow within a few steps
    Run r = run(train(tmp.resolve("nan-run"), "--lr", "1e30", "--steps", "20", "--optimizer", "sgd"));
    assertFails(r, "stopping");
    assertFalse(r.err().contains("is intact"), "claims a checkpoint: " + r.err());
    assertTrue(r.err().contains("No checkpoint was written"), r.err());
    // the steps that led there are in metrics.jsonl (they were written only at checkpoints: none here), the last
    // the one that stopped the run
    List<Map<String, Object>> rows = metricsRows(tmp.resolve("nan-run"));
    assertFalse(rows.isEmpty(), "no metrics.jsonl rows after the stop");
    Map<String, Object> lastRow = rows.get(rows.size() - 1);
    assertEquals("stopped", lastRow.get("update"), rows.toString());
    assertTrue(r.err().contains("step " + ((Number) lastRow.get("step")).longValue() + ": "), r.err());
    for (int i = 0; i < rows.size(); i++) {
      assertEquals(i + 1L, ((Number) rows.get(i).get("step")).longValue(), rows.toString());
    }

    // under --on-nan skip the run ends, and its last line says the loss is the last applied step's, not the last step's
    Run skip = run(train(tmp.resolve("nan-skip"), "--lr", "1e30", "--steps", "20", "--optimizer", "sgd", "--on-nan", "skip"));
    assertEquals(0, skip.code(), skip.err());
    List<Map<String, Object>> skipRows = metricsRows(tmp.resolve("nan-skip"));
    assertEquals(20, skipRows.size());
    long applied = skipRows.stream().filter(row -> row.get("update") == null).count();
    long lastApplied = skipRows.stream().filter(row -> row.get("update") == null)
        .mapToLong(row -> ((Number) row.get("step")).longValue()).max().orElse(0);
    assertTrue(applied < 20 && skipRows.stream().allMatch(row -> row.get("update") == null || "skipped".equals(row.get("update"))),
        skipRows.toString());
    String done = skip.out().lines().filter(l -> l.startsWith("done: ")).findFirst().orElse(skip.out());
    assertTrue(done.startsWith("done: 20 steps, " + (20 - applied) + " skipped in this run (--on-nan=skip), loss ")
        && done.contains(" at step " + lastApplied + ", the last applied"), done);
  }

  private static List<Map<String, Object>> metricsRows(Path out) throws IOException {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      rows.add(Json.parseObject(line));
    }
    return rows;
  }
}
