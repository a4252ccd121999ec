package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardCodec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.TestHooks;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.model.Checkpoints;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Training on a real multi-process Spark standalone cluster (Master, two Workers of one core,
 * executors and drivers all separate JVMs on 127.0.0.1), data and output on a real HDFS
 * (MiniDFSCluster), with faults injected. Every test asserts on bytes: the final model of a
 * disturbed run is byte-identical to an undisturbed run with the same seed and partitioning.
 *
 * <p>Run alone: {@code mvn -B verify -pl spark-job -am -Dgroups=cluster}.
 */
@Tag("cluster")
class ClusterFaultTest {
  static final int STEPS = 12;
  static final int CHECKPOINT_EVERY = 2;
  static final Duration RUN_TIMEOUT = Duration.ofMinutes(3);
  static final Pattern STEP_LINE = Pattern.compile("^step (\\d+)/" + STEPS + " ");

  static LoopbackHdfs hdfs;
  static StandaloneCluster cluster;
  static String sine;
  /** Output URI of the undisturbed run every fault test compares with (made on first use). */
  static String baseline;
  /** Faults injected, and the runs that survived them, for the report. */
  static final List<String> faults = new ArrayList<>();
  static long suiteStart;

  @BeforeAll
  static void start() throws IOException {
    suiteStart = System.nanoTime();
    Path work = Path.of("target", "cluster-" + ProcessHandle.current().pid()).toAbsolutePath();
    hdfs = new LoopbackHdfs(work.resolve("hdfs").toFile());
    sine = prepSine("/data/sine");
    cluster = new StandaloneCluster(work, 2, 1, 700);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
    if (hdfs != null) {
      hdfs.close();
    }
    System.out.printf("cluster fault suite: %.1f s; faults injected and handled: %s%n", (System.nanoTime() - suiteStart) / 1e9,
        faults);
  }

  /** 8 shards of 16 sine sequences (T = 20): 7 training shards, 1 validation shard. */
  static String prepSine(String path) throws IOException {
    String uri = hdfs.uri(path);
    Prep.run(new SineSource(SineSource.Options.defaults(20, 8 * 16, 7)), new PrepOptions(URI.create(uri), 16, 0.125, false, false),
        hdfs.conf());
    return uri;
  }

  /** The train command line: GRU, 12 steps, a checkpoint every 2, two partitions (shard s on partition s mod 2). */
  static List<String> train(String data, String out, String... extra) {
    return train(STEPS, data, out, extra);
  }

  /** The same job with {@code steps} steps. */
  static List<String> train(int steps, String data, String out, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data", data, "--out", out, "--cell", "gru", "--hidden-size", "8",
        "--batch", "32", "--steps", Integer.toString(steps), "--lr", "0.02", "--seed", "7", "--partitions", "2",
        "--checkpoint-every", Integer.toString(CHECKPOINT_EVERY), "--log-every", "1"));
    a.addAll(Arrays.asList(extra));
    return a;
  }

  static synchronized String baseline() throws IOException {
    if (baseline == null) {
      String out = hdfs.uri("/runs/baseline");
      ManagedProcess d = cluster.submit("baseline", Map.of(), train(sine, out));
      assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(40));
      assertTrue(d.output().contains("done: " + STEPS + " steps"), d.tail(40));
      // --device auto (the default) measures in an executor, whose devices the run uses, not in the driver
      assertTrue(Pattern.compile("(?m)^--device auto: (gpu|jvm) \\(.*; chosen in executor \\d+\\)$").matcher(d.output()).find(),
          d.tail(40));
      baseline = out;
    }
    return baseline;
  }

  static byte[] model(String out) throws IOException {
    return hdfs.read(out + "/model.safetensors");
  }

  static String checkpoint(String out, long step) {
    return out + "/" + Checkpoints.DIR + "/" + Checkpoints.fileName(step);
  }

  /** The checkpoints' completed-step counts, oldest first. */
  static List<Long> checkpointSteps(String out) throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String n : hdfs.list(out + "/" + Checkpoints.DIR)) {
      Matcher m = Pattern.compile("^step-(\\d+)\\.safetensors$").matcher(n);
      if (m.find()) {
        steps.add(Long.parseLong(m.group(1)));
      }
    }
    return steps;
  }

  static void assertSameBytes(byte[] expected, byte[] actual, String what) {
    if (Arrays.equals(expected, actual)) {
      return;
    }
    int i = Arrays.mismatch(expected, actual);
    fail(what + ": " + actual.length + " bytes, expected " + expected.length + "; first difference at byte " + i);
  }

  /**
   * The same checkpoint: every tensor (weights, optimizer state) bit for bit and the same metadata;
   * only how the run was started (its output directory, --resume), recorded in the training
   * configuration, may differ.
   */
  static void assertSameCheckpoint(String expectedUri, String actualUri) throws IOException {
    SafeTensorsFile expected = SafeTensors.read(hdfs.read(expectedUri), expectedUri);
    SafeTensorsFile actual = SafeTensors.read(hdfs.read(actualUri), actualUri);
    assertEquals(expected.tensors().keySet(), actual.tensors().keySet(), "tensors of " + actualUri);
    for (Tensor e : expected.tensors().values()) {
      Tensor a = actual.tensors().get(e.name());
      assertEquals(Arrays.toString(e.shape()), Arrays.toString(a.shape()), e.name());
      if (e.isFloating()) {
        int i = Arrays.mismatch(e.floats(), a.floats());
        assertEquals(-1, i, () -> actualUri + ": " + e.name() + "[" + i + "] = " + a.floats()[i] + ", expected " + e.floats()[i]);
      } else {
        assertEquals(-1, Arrays.mismatch(e.ints(), a.ints()), actualUri + ": " + e.name());
      }
    }
    Map<String, String> em = new TreeMap<>(expected.metadata());
    Map<String, String> am = new TreeMap<>(actual.metadata());
    Map<String, Object> etc = Json.parseObject(em.remove("train_config"));
    Map<String, Object> atc = Json.parseObject(am.remove("train_config"));
    for (String startedWith : List.of("out", "resume")) {
      etc.remove(startedWith);
      atc.remove(startedWith);
    }
    assertEquals(em, am, "metadata of " + actualUri);
    assertEquals(etc, atc, "training configuration of " + actualUri);
  }

  // 1. Executor loss -------------------------------------------------------------------------------

  @Test
  void killingAnExecutorMidTrainingGivesTheUndisturbedModel() throws IOException {
    byte[] expected = model(baseline());
    String out = hdfs.uri("/runs/executor-kill");
    ManagedProcess d = cluster.submit("executor-kill", Map.of(), train(sine, out));
    d.awaitLine(Pattern.compile("^step 3/" + STEPS + " "), RUN_TIMEOUT);
    List<ProcessHandle> executors = cluster.awaitExecutors(2, Duration.ofSeconds(30));
    ProcessHandle victim = executors.get(0);
    victim.destroyForcibly(); // SIGKILL
    victim.onExit().join();
    faults.add("executor kill -9 after step 3 (pid " + victim.pid() + ")");

    assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(60));
    List<String> lines = d.lines();
    int lost = indexOf(lines, Pattern.compile("Lost executor"));
    int last = indexOf(lines, Pattern.compile("^step " + STEPS + "/" + STEPS + " "));
    assertTrue(lost >= 0, "the driver saw the executor die\n" + d.tail(60));
    assertTrue(lost < last, "the executor died before the last step\n" + d.tail(60));
    assertSameBytes(expected, model(out), "model after an executor was killed after step 3");
  }

  @Test
  void anExecutorLostInTheMiddleOfTheReductionGivesTheUndisturbedModel() throws IOException {
    byte[] expected = model(baseline());
    String out = hdfs.uri("/runs/reduction-kill");
    java.nio.file.Path marker = Files.createTempDirectory("reduction-kill").resolve("halted");
    // partition 1 sends the header of its part of step 5, then its executor's JVM halts before the gradient follows
    ManagedProcess d = cluster.submit("reduction-kill", Map.of("spark.testing", "true", TestHooks.HALT_MID_REDUCTION,
        "4:" + marker), train(sine, out));
    assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(60));
    assertTrue(Files.exists(marker), "the executor halted mid-reduction\n" + d.tail(60));
    faults.add("executor halted mid-reduction at step 5");
    assertTrue(indexOf(d.lines(), Pattern.compile("Lost executor")) >= 0, "the driver saw the executor die\n" + d.tail(60));
    assertSameBytes(expected, model(out), "model after an executor was lost in the middle of step 5's reduction");
  }

  /**
   * The shard cache on two executors, partitions preferring the executor that ran them last, for
   * every step under --sync job (a Spark job each) and every segment under --sync barrier (a
   * segment ends at each checkpoint, every 2 steps: 6 barrier stages). Since the virtual
   * partitions (issue 15, item 2) a partition computes a contiguous run of each step's batch, and
   * the batch lists its sequences in shard order, so a partition reads a band of the shards, mostly
   * the same from step to step. With caches that hold everything, each executor reads each training
   * shard at most once and never evicts, and the two executors do not both read every shard (the sum
   * over executors of misses and prefetches, each one read, is below 7 shards × 2 executors; with
   * the batch in permutation order it was 14, and with the earlier s mod 2 split 7). The model is
   * the undisturbed baseline's, bit for bit.
   */
  @ParameterizedTest(name = "sync {0}")
  @ValueSource(strings = {"job", "barrier"})
  void withCachesHoldingEverythingEachExecutorReadsEachShardAtMostOnceAndTheModelIsTheSame(String sync) throws IOException {
    String out = hdfs.uri("/runs/locality-" + sync);
    ManagedProcess d = cluster.submit("locality-" + sync, Map.of(), train(sine, out, "--sync", sync, "--shard-cache", "64m"));
    assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(40));
    Pattern line = Pattern.compile("^shard cache on (executor_\\S+): (\\d+) hits, (\\d+) waited for a read under way, (\\d+) misses .*?"
        + "(\\d+) prefetched, (\\d+) evicted");
    long reads = 0;
    int executors = 0;
    for (String l : d.lines()) {
      Matcher m = line.matcher(l);
      if (m.find()) {
        executors++;
        long read = Long.parseLong(m.group(4)) + Long.parseLong(m.group(5));
        assertTrue(read >= 1 && read <= 7, "an executor reads each of the 7 training shards at most once: " + l);
        reads += read;
        assertEquals("0", m.group(6), "nothing evicted from a 64 MB cache: " + l);
      }
    }
    assertEquals(2, executors, d.tail(40));
    assertTrue(reads < 14, "the executors split the shards in bands, not both reading all 7: " + reads + " reads\n" + d.tail(40));
    assertSameBytes(model(baseline()), model(out), "model under --sync " + sync + " with a 64 MB shard cache against the baseline");
    faults.add("shard cache: 12 steps under --sync " + sync + ", " + reads + " shard reads on " + executors + " executors");
  }

  static int indexOf(List<String> lines, Pattern p) {
    for (int i = 0; i < lines.size(); i++) {
      if (p.matcher(lines.get(i)).find()) {
        return i;
      }
    }
    return -1;
  }

  // 2. Driver loss ---------------------------------------------------------------------------------

  @Test
  void killingTheDriverAndResumingGivesTheUndisturbedModel() throws IOException {
    byte[] expected = model(baseline());
    String out = hdfs.uri("/runs/driver-kill");
    ManagedProcess d = cluster.submit("driver-kill", Map.of(), train(sine, out));
    d.awaitLine(Pattern.compile("^step 5/" + STEPS + " "), RUN_TIMEOUT);
    d.kill9();
    faults.add("driver kill -9 after step 5");
    cluster.awaitNoExecutors(Duration.ofSeconds(60));
    assertEquals(List.of(2L, 4L), checkpointSteps(out), "checkpoints the killed driver left");
    assertFalse(hdfs.exists(out + "/model.safetensors"));

    ManagedProcess r = cluster.submit("driver-kill-resume", Map.of(), train(sine, out, "--resume", "true"));
    assertEquals(0, r.awaitExit(RUN_TIMEOUT), r.tail(60));
    assertTrue(r.output().contains("at step 4"), "resumed from step 4\n" + r.tail(60));
    assertSameBytes(expected, model(out), "model after the driver was killed after step 5 and the run resumed");
  }

  // 3. Driver loss in the middle of a checkpoint write ---------------------------------------------

  @Test
  void killingTheDriverMidCheckpointKeepsTheLastGoodOneAndResumeGivesTheUndisturbedModel() throws IOException {
    String base = baseline();
    byte[] expected = model(base);
    String out = hdfs.uri("/runs/checkpoint-kill");
    ManagedProcess d = cluster.submit("checkpoint-kill", Map.of(Checkpoints.TEST_PAUSE_AT_STEP, "10", "spark.testing", "true"), train(sine, out));
    d.awaitLine(Pattern.compile("checkpoint step-0000000010.safetensors: paused mid-write"), RUN_TIMEOUT);
    d.kill9();
    faults.add("driver kill -9 during the write of checkpoint 10");
    cluster.awaitNoExecutors(Duration.ofSeconds(60));

    List<String> files = hdfs.list(out + "/" + Checkpoints.DIR);
    assertTrue(files.stream().anyMatch(f -> f.startsWith(".step-0000000010.safetensors.tmp-")), "a half-written temporary file: " + files);
    assertEquals(List.of(4L, 6L, 8L), checkpointSteps(out), "complete checkpoints: " + files);
    assertSameCheckpoint(checkpoint(base, 8), checkpoint(out, 8));
    // the metrics are written before the checkpoint: a driver lost just after checkpoint N has rows to N
    assertEquals(LongStream.rangeClosed(1, 10).boxed().toList(), metricSteps(out), "metrics.jsonl at the kill");

    ManagedProcess r = cluster.submit("checkpoint-kill-resume", Map.of(), train(sine, out, "--resume", "true"));
    assertEquals(0, r.awaitExit(RUN_TIMEOUT), r.tail(60));
    assertTrue(r.output().contains("at step 8"), "resumed from step 8\n" + r.tail(60));
    assertSameBytes(expected, model(out), "model after a kill mid-checkpoint and a resume");
    assertSameCheckpoint(checkpoint(base, 10), checkpoint(out, 10));
    assertEquals(metricSteps(base), metricSteps(out), "one metrics row a step after the resume, as undisturbed");
  }

  /** The step of each row of a run's metrics.jsonl, in file order. */
  private List<Long> metricSteps(String out) throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String line : new String(hdfs.read(out + "/metrics.jsonl"), StandardCharsets.UTF_8).split("\n")) {
      if (!line.isBlank()) {
        steps.add(((Number) ((Map<?, ?>) Json.parse(line)).get("step")).longValue());
      }
    }
    return steps;
  }

  // 4. Corrupt shards ------------------------------------------------------------------------------

  @Test
  void aShardWithFlippedBytesStopsTheJobAtOnceNamingTheShardAndTheCheck() throws IOException {
    String data = prepSine("/data/flipped");
    String shard = data + "/shard-00001.safetensors";
    byte[] b = hdfs.read(shard);
    b[b.length - 5] ^= 0x5a; // a byte of y's data
    hdfs.write(shard, b);
    assertFailsFastOnShard(data, "flipped", shard + ": CRC32C does not match, the manifest says ");
  }

  @Test
  void aTruncatedShardStopsTheJobAtOnceNamingTheShardAndTheCheck() throws IOException {
    String data = prepSine("/data/truncated");
    String shard = data + "/shard-00001.safetensors";
    byte[] b = hdfs.read(shard);
    hdfs.write(shard, Arrays.copyOf(b, b.length - 100));
    assertFailsFastOnShard(data, "truncated", shard + ": file has " + (b.length - 100) + " bytes, the manifest says "
        + b.length + " (truncated)");
  }

  @Test
  void aShardHeaderClaiming2To40ElementsIsRefusedOnTheExecutorBeforeAllocating() throws IOException {
    String data = prepSine("/data/huge-header");
    String shard = data + "/shard-00001.safetensors";
    byte[] hostile = withHeader(hdfs.read(shard), "{\"x\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,4398046511104]}}");
    hdfs.write(shard, hostile);
    // the manifest is hostile too: it lists the new size and checksum, so only the header check stands in the way
    Map<String, Object> manifest = Json.parseObject(new String(hdfs.read(data + "/manifest.json"), StandardCharsets.UTF_8));
    @SuppressWarnings("unchecked")
    Map<String, Object> entry = ((List<Map<String, Object>>) manifest.get("shards")).get(1);
    entry.put("bytes", (long) hostile.length);
    entry.put("crc32c", ShardCodec.crc32c(hostile));
    hdfs.write(data + "/manifest.json", Json.write(manifest).getBytes(StandardCharsets.UTF_8));
    assertFailsFastOnShard(data, "huge-header", "shard-00001.safetensors: tensor 'x' claims more than");
  }

  /** The shard's data after a new header (padded to 8 bytes), as a hostile writer would make it. */
  static byte[] withHeader(byte[] shard, String header) {
    long oldLength = ByteBuffer.wrap(shard, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    int data = shard.length - 8 - (int) oldLength;
    ByteBuffer out = ByteBuffer.allocate(8 + padded + data).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded).put(h);
    for (int i = h.length; i < padded; i++) {
      out.put((byte) ' ');
    }
    out.put(shard, 8 + (int) oldLength, data);
    return out.array();
  }

  /**
   * The run exits 2 with "error: step N, partition P ...: {@code message}", no task is retried (a
   * corrupt shard is deterministic), and no checkpoint is written at or after the failing step.
   */
  void assertFailsFastOnShard(String data, String name, String message) throws IOException {
    String out = hdfs.uri("/runs/" + name);
    ManagedProcess d = cluster.submit(name, Map.of(), train(data, out));
    assertEquals(2, d.awaitExit(RUN_TIMEOUT), d.tail(60));
    faults.add("corrupt shard (" + name + ")");
    // the partition whose run of the step's virtual partitions first holds a sequence of the shard
    Matcher m = d.awaitLine(Pattern.compile("^error: step (\\d+), partition [01] on executor \\S+: (.*)$"), Duration.ofSeconds(1));
    assertTrue(m.group(2).startsWith(message), "message: " + m.group(0));
    long failedStep = Long.parseLong(m.group(1));
    for (long s : checkpointSteps(out)) {
      assertTrue(s < failedStep, "checkpoint " + s + " written at or after the failing step " + failedStep);
    }
    assertFalse(hdfs.exists(out + "/model.safetensors"));
    assertEquals(-1, indexOf(d.lines(), Pattern.compile("Lost task|failed \\d+ times")), "no task failed or was retried\n" + d.tail(60));
  }

  // 6. NaN in one executor's gradient --------------------------------------------------------------

  /**
   * prep table through spark-submit on the two-executor cluster: a Parquet table on HDFS (written
   * by parquet-hadoop, not Spark) becomes the same bytes whatever the shuffle's partition count,
   * and a bad column exits 2 naming it, with nothing written.
   */
  @Test
  void prepTableUnderSparkSubmitGivesTheSameBytesForAnyPartitionCount() throws IOException {
    String table = hdfs.uri("/tables/sensors.parquet");
    MessageType schema = MessageTypeParser.parseMessageType(
        "message m { required binary sensor (UTF8); required int64 t; required double a; }");
    SimpleGroupFactory groups =
        new SimpleGroupFactory(schema);
    try (ParquetWriter<Group> w =
        ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(table))
            .withConf(hdfs.conf()).withType(schema).build()) {
      for (int t = 0; t < 40; t++) {
        for (int k = 0; k < 12; k++) {
          w.write(groups.newGroup().append("sensor", "s" + k).append("t", (long) t).append("a", Math.sin(0.3 * t + k)));
        }
      }
    }
    List<String> outs = new ArrayList<>();
    for (String partitions : new String[] {"3", "7"}) {
      String out = hdfs.uri("/datasets/sensors-" + partitions);
      ManagedProcess d = cluster.submit("prep-table-" + partitions, Map.of(), List.of("prep", "table", table, "--key",
          "sensor", "--order", "t", "--inputs", "a", "--steps", "6", "--stride", "3", "--normalize", "--batch", "8",
          "--partitions", partitions, "--out", out));
      assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(40));
      assertTrue(d.output().contains("wrote " + out), d.tail(20));
      outs.add(out);
    }
    byte[] manifest = hdfs.read(outs.get(0) + "/manifest.json");
    assertArrayEquals(manifest, hdfs.read(outs.get(1) + "/manifest.json"), "manifests differ across partition counts");
    Manifest m = Manifest.parse(new String(manifest, StandardCharsets.UTF_8),
        "manifest");
    // 12 sensors x 40 rows, T = 6, stride 3, K = 1: starts 0, 3, ..., 33 (s + 7 <= 40): 12 windows each
    assertEquals(12 * 12, m.sequences(Split.TRAIN) + m.sequences(Split.VALIDATION));
    for (ShardInfo s : m.shards()) {
      assertArrayEquals(hdfs.read(outs.get(0) + "/" + s.file()), hdfs.read(outs.get(1) + "/" + s.file()), s.file());
    }
    String bad = hdfs.uri("/datasets/sensors-bad");
    ManagedProcess d = cluster.submit("prep-table-bad", Map.of(), List.of("prep", "table", table, "--key", "sensor",
        "--order", "t", "--inputs", "nope", "--steps", "6", "--out", bad));
    assertEquals(2, d.awaitExit(RUN_TIMEOUT), d.tail(40));
    assertTrue(d.output().contains("--inputs: column 'nope' not found"), d.tail(20));
    assertFalse(hdfs.exists(bad), "nothing written for a refused table");
  }

  @Test
  void nanFromOneExecutorStopsNamingTheStepAndNoCheckpointHoldsANaN() throws IOException {
    String out = hdfs.uri("/runs/nan-stop");
    ManagedProcess d = cluster.submit("nan-stop", Map.of(GradientTask.INJECT_NAN_STEP, "4", "spark.testing", "true"), train(sine, out));
    assertEquals(2, d.awaitExit(RUN_TIMEOUT), d.tail(60));
    faults.add("NaN gradient, --on-nan stop");
    assertTrue(d.output().contains("error: step 5: gradient norm is NaN; stopping."), d.tail(40));
    assertEquals(List.of(2L, 4L), checkpointSteps(out));
    assertFalse(hdfs.exists(out + "/model.safetensors"));
    assertAllFinite(out);
  }

  @Test
  void nanFromOneExecutorIsSkippedUnderOnNanSkipAndNoCheckpointHoldsANaN() throws IOException {
    String base = baseline();
    String out = hdfs.uri("/runs/nan-skip");
    ManagedProcess d = cluster.submit("nan-skip", Map.of(GradientTask.INJECT_NAN_STEP, "4", "spark.testing", "true"), train(sine, out, "--on-nan", "skip"));
    assertEquals(0, d.awaitExit(RUN_TIMEOUT), d.tail(60));
    faults.add("NaN gradient, --on-nan skip");
    assertTrue(d.output().contains("step 5: gradient norm is NaN; skipping the update"), d.tail(40));
    assertEquals(List.of(8L, 10L, 12L), checkpointSteps(out));
    assertAllFinite(out);
    // the skipped update changes every later step: the result differs from the baseline's
    assertFalse(Arrays.equals(model(base), model(out)), "step 5 was skipped");
  }

  /** Every float in every checkpoint (weights, optimizer state, carried states) and in the model is finite. */
  static void assertAllFinite(String out) throws IOException {
    List<String> files = new ArrayList<>();
    for (long s : checkpointSteps(out)) {
      files.add(checkpoint(out, s));
    }
    if (hdfs.exists(out + "/model.safetensors")) {
      files.add(out + "/model.safetensors");
    }
    for (String f : files) {
      SafeTensorsFile st = SafeTensors.read(hdfs.read(f), f);
      for (Tensor t : st.tensors().values()) {
        if (!t.isFloating()) {
          continue;
        }
        float[] v = t.floats();
        for (int i = 0; i < v.length; i++) {
          if (!Float.isFinite(v[i])) {
            fail(f + ": " + t.name() + "[" + i + "] = " + v[i]);
          }
        }
      }
    }
  }
}
