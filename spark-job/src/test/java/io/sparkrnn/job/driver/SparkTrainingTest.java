package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.executor.DatasetRef;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.Schedule;
import io.sparkrnn.job.executor.SequenceSelection;
import io.sparkrnn.job.executor.ShardCache;
import io.sparkrnn.job.executor.TestHooks;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.job.sync.BarrierTraining;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Adam;
import io.sparkrnn.model.Checkpoints;
import io.sparkrnn.model.ModelMetadata;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.BlockResult;
import org.apache.spark.storage.BroadcastBlockId;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import scala.jdk.javaapi.CollectionConverters;

/** The training driver on Spark local[2]: averaging, learning, determinism, resume, NaN policy. */
class SparkTrainingTest {
  /** float64 sums merged in another order differ only by rounding. */
  static final double REFERENCE_REL_TOL = 1e-6;
  /** float32 kernel sums over up to T·B terms against the float64 single-machine reference. */
  static final double KERNEL_REL_TOL = 1e-4;

  @TempDir
  static Path tmp;
  static JavaSparkContext sc;
  static String sine;
  static String adding;

  @BeforeAll
  static void start() throws IOException {
    Configuration hadoop = new Configuration();
    // 8 shards of 16 sequences, T = 20: enough to spread one step's batch over 4 partitions
    sine = tmp.resolve("sine").toUri().toString();
    Prep.run(new SineSource(SineSource.Options.defaults(20, 8 * 16, 7)), new PrepOptions(tmp.resolve("sine").toUri(), 16, 0.125, false, false), hadoop);
    adding = tmp.resolve("adding").toUri().toString();
    Prep.run(new AddingSource(new AddingSource.Options(50, 3000, 11, 50)), new PrepOptions(tmp.resolve("adding").toUri(), 100, 0.1, false, false), hadoop);
    sc = SparkSetup.start("spark-rnn tests", "local[2]");
  }

  @AfterAll
  static void stop() {
    if (sc != null) {
      sc.close();
    }
  }

  static Map<String, String> sineConfig(String out) {
    Map<String, String> m = new HashMap<>();
    m.put("data", sine);
    m.put("out", out);
    m.put("cell", "gru");
    m.put("hidden-size", "8");
    m.put("batch", "32");
    m.put("steps", "6");
    m.put("lr", "0.02");
    m.put("log-every", "1000");
    m.put("checkpoint-every", "2");
    return m;
  }

  static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  /**
   * A signal during the last step takes no stop checkpoint: the run's end writes the checkpoint, the
   * model and the report, which the hook waits for (1c8e8c7: a stop there left the run that trained
   * with no model or report). The hook runs here in the test's JVM, started before step 6 of 6 and
   * waited for until it has asked for a checkpoint; the run must then end normally, its files all
   * written, and the hook return once they are. A signal at step 3 of 6, the other side of the
   * guard, stops at the boundary with a checkpoint of that step.
   */
  @Test
  void aSignalDuringTheLastStepWaitsForTheRunsFilesAndOneBeforeItCheckpoints() throws Exception {
    for (long at : new long[] {6, 3}) {
      String out = tmp.resolve("signal-at-" + at).toUri().toString();
      Map<String, String> m = sineConfig(out);
      m.put("checkpoint-every", "0");
      m.put("sync", "job");   // a step a loop pass, so that the probe sees each step (a barrier segment runs several)
      ByteArrayOutputStream log = new ByteArrayOutputStream();
      Trainer trainer = Trainer.prepare(m, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8));
      Thread[] hook = new Thread[1];
      Trainer.beforeStepForTests = (stopFlush, step) -> {
        if (step == at && hook[0] == null) {
          hook[0] = new Thread(stopFlush.hook, "test signal");
          hook[0].start();
          while (!stopFlush.requested()) {
            Thread.onSpinWait();
          }
        }
      };
      try {
        if (at == 6) {
          trainer.run(sc);
        } else {
          assertThrows(StopFlush.Stopping.class, () -> trainer.run(sc));
        }
      } finally {
        Trainer.beforeStepForTests = null;
      }
      hook[0].join(TimeUnit.SECONDS.toMillis(StopFlush.TIMEOUT_S));
      assertFalse(hook[0].isAlive(), "the hook returned");
      java.nio.file.Path dir = java.nio.file.Path.of(java.net.URI.create(out));
      String printed = log.toString(StandardCharsets.UTF_8);
      if (at == 6) {
        assertFalse(printed.contains("stopping at step"), printed);
        for (String f : List.of("model.safetensors", "report.md", "metrics.jsonl", "checkpoints/step-0000000006.safetensors")) {
          assertTrue(Files.exists(dir.resolve(f)), f + " written: " + printed);
        }
      } else {
        assertTrue(printed.contains("stopping at step 3 of 6"), printed);
        assertTrue(Files.exists(dir.resolve("checkpoints/step-0000000003.safetensors")), printed);
        assertFalse(Files.exists(dir.resolve("model.safetensors")), "a stopped run writes no model");
      }
    }
  }

  /**
   * A run stopped by a signal at a step boundary says what its caller can do with the checkpoint it
   * wrote: train's "--resume continues from" it, or the caller's {@link Trainer#checkpointWords}
   * (RnnEstimator's fit, which has no --resume, said "--resume" all the same).
   */
  @Test
  void aSignalsStopLineGivesTheCallersWords() throws Exception {
    for (boolean fitWords : new boolean[] {false, true}) {
      String out = tmp.resolve("signal-words-" + fitWords).toUri().toString();
      Map<String, String> m = sineConfig(out);
      m.put("checkpoint-every", "0");
      m.put("sync", "job");
      ByteArrayOutputStream log = new ByteArrayOutputStream();
      Trainer trainer = Trainer.prepare(m, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8));
      if (fitWords) {
        trainer.checkpointWords(c -> "The last checkpoint, " + c + ", is kept: setInitialModel warm-starts a new fit");
      }
      Thread[] hook = new Thread[1];
      Trainer.beforeStepForTests = (stopFlush, step) -> {
        if (step == 2 && hook[0] == null) {
          hook[0] = new Thread(stopFlush.hook, "test signal");
          hook[0].start();
          while (!stopFlush.requested()) {
            Thread.onSpinWait();
          }
        }
      };
      try {
        assertThrows(StopFlush.Stopping.class, () -> trainer.run(sc));
      } finally {
        Trainer.beforeStepForTests = null;
      }
      hook[0].join(TimeUnit.SECONDS.toMillis(StopFlush.TIMEOUT_S));
      String printed = log.toString(StandardCharsets.UTF_8);
      String checkpoint = java.nio.file.Path.of(java.net.URI.create(out)).resolve("checkpoints/step-0000000002.safetensors")
          .toUri().toString();
      String line = printed.lines().filter(l -> l.startsWith("stopping at step 2 of 6")).findFirst().orElse(printed);
      if (fitWords) {
        assertFalse(line.contains("--resume"), line);
        assertTrue(line.contains("shutting down; the last checkpoint, ") && line.contains("step-0000000002.safetensors, is kept:"
            + " setInitialModel"), line);
      } else {
        assertTrue(line.contains("shutting down; --resume continues from ") && line.endsWith("step-0000000002.safetensors"),
            line + " (checkpoint " + checkpoint + ")");
      }
    }
  }

  /**
   * A step's task holds the dataset as a broadcast, sent to each executor once a run, not the
   * manifest, which grows with the shards: in Java serialization each ShardInfo adds about 60 bytes
   * (its file name alone is 23), so 400 shards against 4 would add some 20 kB to every task of
   * every step. The serialized task is the same size for both up to the datasets' path names.
   */
  @Test
  void aStepsTaskDoesNotGrowWithTheShardsOfTheDataset() throws IOException {
    Configuration hadoop = new Configuration();
    int[] shardCounts = {4, 400};
    int[] taskBytes = new int[2];
    for (int i = 0; i < 2; i++) {
      int n = shardCounts[i];
      Path dir = tmp.resolve("shards-" + n);
      Prep.run(new SineSource(SineSource.Options.defaults(5, 400, 3)), new PrepOptions(dir.toUri(), 400 / n, 0, false, false), hadoop);
      Map<String, String> m = sineConfig(tmp.resolve("unused-shards-" + n).toUri().toString());
      m.put("data", dir.toUri().toString());
      Trainer trainer = Trainer.prepare(m, hadoop, quiet());
      assertEquals(n, trainer.dataset().manifest().shards().size());
      GradientTask.Context context = trainer.trainingContext(sc, 2, DatasetRef.shared(sc, trainer.dataset()));
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
          out.writeObject(new GradientTask(context, null, null));
        }
        taskBytes[i] = bytes.size();
        assertEquals(n, context.dataset().manifest().shards().size(), "the broadcast's value");
      } finally {
        context.release();
      }
    }
    assertTrue(Math.abs(taskBytes[1] - taskBytes[0]) < 16, "task bytes for 4 and 400 shards: " + Arrays.toString(taskBytes));
  }

  /**
   * The broadcasts whose value this driver's block manager holds as a Dataset (on a local master
   * the executors' blocks are the driver's): a {@link DatasetRef#shared} not yet released.
   */
  static Set<Long> datasetBroadcasts() {
    BlockManager blocks = sc.sc().env().blockManager();
    Set<Long> ids = new HashSet<>();
    scala.collection.Iterator<BlockId> all = blocks.getMatchingBlockIds(b -> b instanceof BroadcastBlockId bb && bb.field().isEmpty())
        .iterator();
    while (all.hasNext()) {
      BroadcastBlockId id = (BroadcastBlockId) all.next();
      scala.Option<BlockResult> held = blocks.getLocalValues(id);
      if (held.isDefined()) {
        scala.collection.Iterator<Object> values = held.get().data();
        boolean dataset = false;
        while (values.hasNext()) {          // read to the end: that gives the block's read lock back
          dataset |= values.next() instanceof Dataset;
        }
        if (dataset) {
          ids.add(id.broadcastId());
        }
      }
    }
    return ids;
  }

  /** {@link #datasetBroadcasts} not in {@code before}, once Spark's asynchronous removal has had up to 10 s. */
  static Set<Long> datasetBroadcastsLeft(Set<Long> before) throws InterruptedException {
    Set<Long> left = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      left = datasetBroadcasts();
      left.removeAll(before);
      if (left.isEmpty()) {
        break;
      }
      Thread.sleep(50);
    }
    return left;
  }

  /**
   * The dataset's broadcast (DatasetRef, once a run) is freed when the jobs that use it are done
   * (its javadoc: "the caller releases it"): a released ref's value is refused, as Spark refuses a
   * destroyed broadcast's; a training run and firstStepSums leave no Dataset in the block manager,
   * where a notebook's every fit would otherwise keep one more manifest on the driver and each
   * executor.
   */
  @Test
  void theDatasetsBroadcastIsFreedAfterTheRun() throws IOException, InterruptedException {
    Trainer trainer = Trainer.prepare(sineConfig(tmp.resolve("freed").toUri().toString()), new Configuration(), quiet());
    Set<Long> before = datasetBroadcasts();
    DatasetRef ref = DatasetRef.shared(sc, trainer.dataset());
    assertEquals(trainer.dataset().manifest().shards().size(), ref.get().manifest().shards().size(), "the broadcast's value");
    assertEquals(1, datasetBroadcasts().size() - before.size(), "one Dataset broadcast while the ref is held");
    ref.release();
    SparkException e = assertThrows(SparkException.class, ref::get, "a released ref's value");
    assertTrue(e.getMessage().contains("after it was destroyed"), e.getMessage());
    assertEquals(Set.of(), datasetBroadcastsLeft(before), "the released ref's broadcast");

    trainer.run(sc);
    assertEquals(Set.of(), datasetBroadcastsLeft(before), "the run's dataset broadcast after the run");
    trainer.firstStepSums(sc, 2);
    assertEquals(Set.of(), datasetBroadcastsLeft(before), "firstStepSums' dataset broadcast");
  }

  @ParameterizedTest(name = "{0} partitions")
  @ValueSource(ints = {1, 2, 4})
  void firstStepGradientIsIndependentOfPartitionCount(int partitions) throws IOException {
    for (String engine : new String[] {"reference", "kernel"}) {
      Map<String, String> m = sineConfig(tmp.resolve("unused-" + engine + partitions).toUri().toString());
      m.put("engine", engine);
      m.put("num-layers", "2");
      Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
      GradientSum spark = trainer.firstStepSums(sc, partitions);

      // the same global batch on one machine, in float64
      Batch whole = stepWindow(trainer, trainer.model(), 0, 0, trainer.dataset().manifest().spec().steps());
      Params p = Params.initialize(trainer.model(), trainer.config().seed());
      GradientSum single = new ReferenceEngine().lossAndGradient(p, whole, null).gradients();

      assertEquals(single.count(), spark.count(), "loss terms");
      double tol = engine.equals("reference") ? REFERENCE_REL_TOL : KERNEL_REL_TOL;
      assertEquals(single.meanLoss(), spark.meanLoss(), tol * Math.abs(single.meanLoss()), engine + ": mean loss");
      assertNormwiseClose(single.meanGradient(), spark.meanGradient(), tol, engine + " with " + partitions + " partitions");
    }
  }

  /** A model file of {@code params} with the metadata of the dataset at {@code dataUri} (its normalisation, if any). */
  static Path modelFile(String name, Params params, String dataUri) throws IOException {
    Path file = tmp.resolve(name);
    Dataset ds = Dataset.open(dataUri, new Configuration());
    Files.write(file, ModelFile.toBytes(params, ModelMetadata.fromManifest(ds.manifest())));
    return file;
  }

  @Test
  void trainingWithInitTakesItsFirstStepFromTheGivenWeights() throws IOException {
    Path out = tmp.resolve("warm");
    Map<String, String> m = referenceSgd(out, 1);
    m.put("checkpoint-every", "0");
    ModelConfig gru = Trainer.prepare(sineConfig(tmp.resolve("warm-probe").toUri().toString()), new Configuration(), quiet()).model();
    Params given = Params.initialize(gru, 1234);        // not the run's seed (42): other weights than its own start
    m.put("init", modelFile("warm-init.safetensors", given, sine).toUri().toString());
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    trainer.run(sc);
    assertTrue(Files.readString(out.resolve("report.md")).contains("| device | auto (not used: --engine reference computes in float64"
        + " on the JVM) |"), "report.md's configuration does not claim a device for the reference engine");

    // independent: one SGD step from the given weights with the float64 reference engine on step 0's sequences
    Batch whole = stepWindow(trainer, gru, 0, 0, trainer.dataset().manifest().spec().steps());
    Params expected = new Params(gru, given.values().clone());
    BpttResult r = new ReferenceEngine().lossAndGradient(expected, whole, null);
    sgd(expected.values(), r.gradients().meanGradient(), 0.5f);
    Params trained = ModelFile.read(SafeTensors.read(out.resolve("model.safetensors")));
    assertNormwiseClose(expected.values(), trained.values(), REFERENCE_REL_TOL, "one step from --init's weights");
    String metrics = Files.readString(out.resolve("metrics.jsonl"));
    double firstLoss = ((Number) Json.parseObject(metrics.lines().findFirst().orElseThrow()).get("loss")).doubleValue();
    double givenLoss = r.gradients().meanLoss();
    assertEquals(givenLoss, firstLoss, REFERENCE_REL_TOL * givenLoss, "step 0's loss is the given model's loss on its batch");
    // and the comparison can fail: the seed's own initialisation has another loss there
    double ownLoss = new ReferenceEngine().lossAndGradient(Params.initialize(gru, 42), whole, null).gradients().meanLoss();
    assertTrue(Math.abs(ownLoss - givenLoss) > 1e-3 * givenLoss, "losses " + ownLoss + " and " + givenLoss);
  }

  @Test
  void aModelTheCallerReadIsTheOneTheRunStartsFromAndIsCheckedTheSame() throws IOException {
    // RnnEstimator reads --init's model once, checks it, and hands it to prepare: the file is not read again
    Map<String, String> m = sineConfig(tmp.resolve("warm-read-once").toUri().toString());
    ModelConfig gru = Trainer.prepare(sineConfig(tmp.resolve("warm-read-once-probe").toUri().toString()), new Configuration(), quiet())
        .model();
    Path file = modelFile("warm-read-once.safetensors", Params.initialize(gru, 1234), sine);
    m.put("init", file.toUri().toString());
    Params read = Params.initialize(gru, 999); // what the caller read: other weights than the file now holds
    TrainedModel readModel = Trainer.loadInitial(modelFile("warm-read-once-earlier.safetensors", read, sine).toUri().toString(),
        new Configuration(), "init");
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet(), readModel);
    assertArrayEquals(read.values(), trainer.startingParams().values(), "the weights the caller read, not the file's");
    assertFalse(Arrays.equals(Params.initialize(gru, 1234).values(), read.values()), "the two models differ");
    // without one, prepare reads the file
    assertArrayEquals(Params.initialize(gru, 1234).values(), Trainer.prepare(m, new Configuration(), quiet()).startingParams().values());

    ModelConfig wider = new ModelConfig(gru.cell(), gru.numLayers(), gru.inputSize(), 12, gru.outputSize(), gru.mode(), gru.loss());
    TrainedModel widerModel = Trainer.loadInitial(modelFile("warm-read-once-wider.safetensors", Params.initialize(wider, 1), sine)
        .toUri().toString(), new Configuration(), "init");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Trainer.prepare(m, new Configuration(), quiet(), widerModel));
    assertTrue(e.getMessage().contains("has hidden-size 12, the run has hidden-size 8"), e.getMessage());
  }

  @Test
  void initWithAnotherShapeOrNormalisationIsRefusedNamingTheField() throws IOException {
    Map<String, String> m = sineConfig(tmp.resolve("warm-refused").toUri().toString());
    ModelConfig gru = Trainer.prepare(sineConfig(tmp.resolve("warm-refused-probe").toUri().toString()), new Configuration(), quiet())
        .model();
    ModelConfig wider = new ModelConfig(gru.cell(), gru.numLayers(), gru.inputSize(), 12, gru.outputSize(), gru.mode(), gru.loss());
    m.put("init", modelFile("warm-wider.safetensors", Params.initialize(wider, 1), sine).toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("has hidden-size 12, the run has hidden-size 8"), e.getMessage());

    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, gru.inputSize(), 8, gru.outputSize(), gru.mode(),
        gru.loss());
    m.put("init", modelFile("warm-lstm.safetensors", Params.initialize(lstm, 1), sine).toString());
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("has cell lstm, the run has cell gru"), e.getMessage());

    // the same shapes, trained on normalised data: its weights expect other units than the (raw) dataset's
    Path normalised = tmp.resolve("sine-normalised");
    Prep.run(new SineSource(SineSource.Options.defaults(20, 32, 7)), new PrepOptions(normalised.toUri(), 16, 0.125, true, false),
        new Configuration());
    m.put("init", modelFile("warm-normalised.safetensors", Params.initialize(gru, 1), normalised.toUri().toString()).toString());
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("normalised with input_mean=") && e.getMessage().contains("nothing (raw units)"),
        e.getMessage());
  }

  /** Time steps [from, from + length) of every sequence that step {@code step} of the run trains on, as one batch. */
  static Batch stepWindow(Trainer trainer, ModelConfig model, long step, int from, int length) {
    Schedule.Chosen chosen = trainer.schedule().sequences(step);
    int[] all = new int[chosen.shards().length];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    Dataset ds = trainer.dataset();
    return SequenceSelection.gather(model, s -> read(ds, s), chosen.shards(), chosen.rows(), all, from, length);
  }

  static Batch read(Dataset ds, int shard) {
    try {
      return ds.read(ds.manifest().shards().get(shard));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void assertNormwiseClose(float[] expected, float[] actual, double relTol, String what) {
    double diff = 0, norm = 0, worst = 0;
    int worstIndex = -1;
    for (int i = 0; i < expected.length; i++) {
      double d = (double) actual[i] - expected[i];
      diff += d * d;
      norm += (double) expected[i] * expected[i];
      if (Math.abs(d) > worst) {
        worst = Math.abs(d);
        worstIndex = i;
      }
    }
    double rel = Math.sqrt(diff) / Math.sqrt(norm);
    if (!(rel <= relTol)) {
      fail(what + ": norm-wise relative error " + rel + " > " + relTol + "; worst at " + worstIndex + ": expected "
          + expected[worstIndex] + ", found " + actual[worstIndex]);
    }
  }

  @Test
  void sameSeedGivesByteIdenticalModelsAndResumeContinuesBitIdentically() throws IOException {
    Path a = tmp.resolve("det-a"), b = tmp.resolve("det-b"), c = tmp.resolve("det-c");
    Trainer.prepare(sineConfig(a.toUri().toString()), new Configuration(), quiet()).run(sc);
    Trainer.prepare(sineConfig(b.toUri().toString()), new Configuration(), quiet()).run(sc);
    byte[] modelA = Files.readAllBytes(a.resolve("model.safetensors"));
    assertArrayEquals(modelA, Files.readAllBytes(b.resolve("model.safetensors")), "two runs with one seed");
    // the final checkpoint holds the same weights, and loads as a model for evaluate and predict
    float[] fromCheckpoint = TrainedModel.load(a.resolve("checkpoints").resolve(Checkpoints.fileName(6)).toString(),
        new Configuration()).params().values();
    assertArrayEquals(ModelFile.read(SafeTensors.read(a.resolve("model.safetensors"))).values(), fromCheckpoint);
    assertTrue(SafeTensors.read(a.resolve("checkpoints").resolve(Checkpoints.fileName(6))).has("optimizer.exp_avg"),
        "optimizer tensors are named optimizer.<buffer>");

    // stop after 3 of the 6 steps, then resume to the end
    Map<String, String> first = sineConfig(c.toUri().toString());
    first.put("steps", "3");
    Trainer.prepare(first, new Configuration(), quiet()).run(sc);
    Files.delete(c.resolve("model.safetensors"));
    Map<String, String> rest = sineConfig(c.toUri().toString());
    rest.put("resume", "true");
    // --device auto (the default) recorded its pick in the checkpoint; the resumed run takes it, untimed
    String picked = SafeTensors.read(c.resolve("checkpoints").resolve(Checkpoints.fileName(3))).metadata()
        .get("train_config");
    assertTrue(picked != null && picked.contains("\"" + Trainer.AUTO_PICKED_KEY + "\":\"jvm\""), "the checkpoint records auto's pick: " + picked);
    ByteArrayOutputStream resumedLog = new ByteArrayOutputStream();
    Trainer.prepare(rest, new Configuration(), new PrintStream(resumedLog, true, StandardCharsets.UTF_8)).run(sc);
    assertTrue(resumedLog.toString(StandardCharsets.UTF_8).contains("--device auto: jvm (the device of the run's start, recorded in "),
        resumedLog.toString(StandardCharsets.UTF_8));
    assertArrayEquals(modelA, Files.readAllBytes(c.resolve("model.safetensors")), "stopped after 3 steps and resumed");
    // the metrics continue too: one row per step, 1..6, none twice
    List<String> rows = Files.readAllLines(c.resolve(TrainingMetrics.FILE));
    assertEquals(6, rows.size(), String.join("\n", rows));
    for (int i = 0; i < 6; i++) {
      assertEquals(i + 1L, ((Number) Json.parseObject(rows.get(i)).get("step")).longValue());
    }
  }

  /**
   * The device a resumed run goes on with: auto's recorded pick, else the device the checkpoint's
   * run named, else none (an older checkpoint, or one of the reference engine: timed again); a value
   * that is no device is bad input.
   */
  @Test
  void aResumedRunTakesTheCheckpointsDevice() {
    Function<Map<String, String>, Checkpoints.Saved> saved =
        m -> new Checkpoints.Saved(3, null, null, null, null, m, "out/checkpoints/step-0000000003.safetensors");
    assertEquals("gpu", Trainer.resumedDevice(saved.apply(Map.of("device", "auto", Trainer.AUTO_PICKED_KEY, "gpu"))));
    assertEquals("jvm", Trainer.resumedDevice(saved.apply(Map.of("device", "jvm"))), "named at the start");
    assertEquals("cpu-opencl", Trainer.resumedDevice(saved.apply(Map.of("device", "cpu-opencl"))));
    assertNull(Trainer.resumedDevice(saved.apply(Map.of("device", "auto"))), "auto, before picks were recorded");
    assertNull(Trainer.resumedDevice(saved.apply(Map.of())));
    assertNull(Trainer.resumedDevice(saved.apply(Map.of("engine", "reference", "device", "gpu"))), "the reference engine used no device");
    assertEquals("gpu", Trainer.resumedDevice(saved.apply(Map.of("engine", "kernel", "device", "gpu"))));
    BadInputException e = assertThrows(BadInputException.class,
        () -> Trainer.resumedDevice(saved.apply(Map.of("device", "auto", Trainer.AUTO_PICKED_KEY, "tpu"))));
    assertEquals("resume: out/checkpoints/step-0000000003.safetensors: the train config's device-auto-picked is 'tpu'; expected gpu,"
        + " cpu-opencl or jvm", e.getMessage());
  }

  /**
   * A resume that computes with other kernels than its checkpoint's run (another engine, or the
   * kernel engine on another device) warns in the log and report.md: the rest of the run's bits
   * differ from an uninterrupted run's (a user audit found it silent). The same kernels do not
   * warn, nor does --device auto, which took the checkpoint's device or said why it could not.
   */
  @Test
  void aResumeOnOtherKernelsWarnsAndOnTheSameDoesNot() throws IOException {
    Function<Map<String, String>, Checkpoints.Saved> saved = m -> new Checkpoints.Saved(3, null, null, null, null, m, "cp");
    String tail = ": their float32 sums differ in the last bits, so the weights will not be bit-identical to an uninterrupted run's";
    Map<String, String> c = sineConfig(tmp.resolve("other-kernels").toUri().toString());
    c.put("device", "jvm");
    Trainer jvm = Trainer.prepare(c, new Configuration(), quiet());
    assertNull(jvm.otherKernels(saved.apply(Map.of("engine", "kernel", "device", "jvm")), "jvm"));
    assertNull(jvm.otherKernels(saved.apply(Map.of("engine", "kernel", "device", "auto", Trainer.AUTO_PICKED_KEY, "jvm")), "jvm"));
    assertEquals("warning: resume: cp was computed with the kernel engine on cpu-opencl, this run computes with the kernel engine on jvm"
        + tail + " (--engine=kernel --device=cpu-opencl computes as it did)",
        jvm.otherKernels(saved.apply(Map.of("engine", "kernel", "device", "cpu-opencl")), "jvm"));
    String float64 = ": the reference engine computes in float64 and the kernels in float32, so the weights will not be"
        + " bit-identical to an uninterrupted run's";
    assertEquals("warning: resume: cp was computed with the reference engine, this run computes with the kernel engine on jvm"
        + float64 + " (--engine=reference computes as it did)", jvm.otherKernels(saved.apply(Map.of("engine", "reference")), "jvm"));
    Map<String, String> a = new HashMap<>(c);
    a.put("device", "auto");
    assertNull(Trainer.prepare(a, new Configuration(), quiet()).otherKernels(
        saved.apply(Map.of("engine", "kernel", "device", "gpu")), "jvm"), "auto said why it did not take gpu");

    // end to end: two steps on the JVM engine, then a resume on the reference engine
    checkpointAfterStep2(c);
    Map<String, String> reference = new HashMap<>(c);
    reference.remove("device");
    reference.put("engine", "reference");
    reference.put("resume", "true");
    reference.put("steps", "3");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Trainer.prepare(reference, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc);
    String warning = "was computed with the kernel engine on jvm, this run computes with the reference engine" + float64
        + " (--engine=kernel --device=jvm computes as it did)";
    assertTrue(log.toString(StandardCharsets.UTF_8).contains(warning), log.toString(StandardCharsets.UTF_8));
    assertTrue(Files.readString(tmp.resolve("other-kernels").resolve("report.md")).contains(warning), "report.md records it");
  }

  /** Whether the executors (here the driver's JVM) have a checkpoint's device: the JVM engine always, a GPU where there is one. */
  @Test
  void theCheckpointsDeviceIsLookedForWhereTheTasksRun() {
    assertNull(AutoDeviceJob.missingIn(sc, "jvm"));
    boolean gpu = Devices.available().contains(DeviceChoice.GPU);
    assertEquals(gpu ? null : "the driver's JVM (local master)", AutoDeviceJob.missingIn(sc, "gpu"));
  }

  /**
   * A checkpoint whose run computed on a device the executors lack (here a GPU, written into the
   * checkpoint's train config) is resumed on a device timed again: the run completes, and the log
   * and report.md say that its last bits may differ. Where this JVM has a GPU the checkpoint's
   * device is there and is taken untimed.
   */
  @Test
  void aResumedRunWhoseDeviceIsMissingIsTimedAgainWithAWarning() throws IOException {
    Path out = tmp.resolve("resume-missing-device");
    Map<String, String> first = sineConfig(out.toUri().toString());
    first.put("steps", "2");
    Trainer.prepare(first, new Configuration(), quiet()).run(sc);
    Path checkpoint = out.resolve("checkpoints").resolve(Checkpoints.fileName(2));
    SafeTensorsFile f = SafeTensors.read(checkpoint);
    Map<String, Object> trainConfig = new LinkedHashMap<>(Json.parseObject(f.metadata().get("train_config")));
    assertEquals("jvm", trainConfig.get(Trainer.AUTO_PICKED_KEY), "a GPU-less auto run picks the JVM engine: " + trainConfig);
    trainConfig.put(Trainer.AUTO_PICKED_KEY, "gpu");
    Map<String, String> meta = new LinkedHashMap<>(f.metadata());
    meta.put("train_config", Json.write(trainConfig));
    Files.write(checkpoint, SafeTensors.toBytes(meta, f.tensors().values()));
    Files.deleteIfExists(checkpoint.resolveSibling("." + checkpoint.getFileName() + ".crc")); // Hadoop's checksum of the old bytes

    Map<String, String> rest = sineConfig(out.toUri().toString());
    rest.put("steps", "4");
    rest.put("resume", "true");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Trainer.prepare(rest, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc);
    String logged = log.toString(StandardCharsets.UTF_8);
    String report = Files.readString(out.resolve("report.md"));
    assertEquals(4, Files.readAllLines(out.resolve(TrainingMetrics.FILE)).size(), "steps 1..4: " + logged);
    if (Devices.available().contains(DeviceChoice.GPU)) {
      assertTrue(logged.contains("--device auto: gpu (the device of the run's start, recorded in "), logged);
      return;
    }
    assertTrue(logged.contains("warning: --device auto: ") && logged.contains(" was computed on gpu, which the driver's JVM (local"
        + " master) cannot run; the engines were timed again"), logged);
    assertTrue(logged.contains("--device auto: jvm ("), "timed again, it picks the JVM engine: " + logged);
    assertTrue(report.contains("\n- warning: --device auto: ") && report.contains(" was computed on gpu, which the driver's JVM"),
        "the report carries the warning as an item of its own: " + report);
    assertTrue(report.contains("\n- --device auto: jvm ("), report);
    String saved = SafeTensors.read(out.resolve("checkpoints").resolve(Checkpoints.fileName(4))).metadata().get("train_config");
    assertTrue(saved.contains("\"" + Trainer.AUTO_PICKED_KEY + "\":\"jvm\""), "the new checkpoints record the new pick: " + saved);
  }

  /**
   * --sync barrier (many steps per Spark job, the update replicated in every task) and --sync job
   * (a job per step, the update on the driver) must give the same bits: an LSTM with truncated
   * BPTT (carried states), Adam with clipping, checkpoints and validations splitting the run into
   * segments of 3, 1, 2, 2 and 1 steps; and a run that switches mode on resume.
   */
  @ParameterizedTest(name = "{0} partitions")
  @ValueSource(ints = {1, 2}) // 1: the task merges alone, without the exchange server
  void barrierAndJobSyncGiveTheSameBitsAndBarrierRunsFewerJobs(int partitions) throws IOException {
    int[] jobs = new int[2];
    Path[] outs = new Path[2];
    String[] modes = {"job", "barrier"};
    for (int i = 0; i < 2; i++) {
      outs[i] = tmp.resolve("sync-" + modes[i] + partitions);
      Map<String, String> m = syncConfig(outs[i], modes[i], 9, partitions);
      String group = "sync-" + modes[i] + partitions;
      sc.setJobGroup(group, group, false);
      try {
        Trainer.prepare(m, new Configuration(), quiet()).run(sc);
      } finally {
        sc.clearJobGroup();
      }
      jobs[i] = sc.statusTracker().getJobIdsForGroup(group).length;
    }
    byte[] model = Files.readAllBytes(outs[0].resolve("model.safetensors"));
    assertArrayEquals(model, Files.readAllBytes(outs[1].resolve("model.safetensors")), "final model, job vs barrier");
    for (long step : new long[] {3, 6, 9}) {
      assertSameTensors(outs[0].resolve("checkpoints").resolve(Checkpoints.fileName(step)),
          outs[1].resolve("checkpoints").resolve(Checkpoints.fileName(step)));
    }
    // job: 9 step jobs + the validations; barrier: 5 segment jobs + the same validations
    assertEquals(jobs[0] - 9 + 5, jobs[1], "Spark jobs under job (" + jobs[0] + ") and barrier (" + jobs[1] + ") sync");

    // 4 steps under job sync, then resumed to 9 under barrier sync
    Path switched = tmp.resolve("sync-switched" + partitions);
    Trainer.prepare(syncConfig(switched, "job", 4, partitions), new Configuration(), quiet()).run(sc);
    Files.delete(switched.resolve("model.safetensors"));
    Map<String, String> rest = syncConfig(switched, "barrier", 9, partitions);
    rest.put("resume", "true");
    Trainer.prepare(rest, new Configuration(), quiet()).run(sc);
    assertArrayEquals(model, Files.readAllBytes(switched.resolve("model.safetensors")), "job for 4 steps, then barrier to 9");
  }

  /**
   * Spark 4 does not rerun a failed barrier result stage: the driver must run the segment again.
   * A task that fails in the middle of a segment (partition 1 at the segment [4, 6)'s second step,
   * after the first was exchanged and applied) must
   * cost a rerun of that segment and leave the model byte-identical to an undisturbed run.
   */
  @Test
  void aTaskFailingInTheMiddleOfABarrierSegmentCostsARerunAndNotABit() throws IOException {
    Path undisturbed = tmp.resolve("fail-once-job"), disturbed = tmp.resolve("fail-once-barrier");
    Map<String, String> job = syncConfig(undisturbed, "job", 9, 2);
    job.put("checkpoint-every", "6");
    Trainer.prepare(job, new Configuration(), quiet()).run(sc);
    Map<String, String> barrier = syncConfig(disturbed, "barrier", 9, 2);
    barrier.put("checkpoint-every", "6");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    sc.sc().conf().set(BarrierTraining.TEST_FAIL_ONCE_AT_STEP, "5"); // 0-based
    sc.sc().conf().set(TestHooks.FLAG, "true");
    try {
      Trainer.prepare(barrier, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc);
    } finally {
      sc.sc().conf().remove(BarrierTraining.TEST_FAIL_ONCE_AT_STEP);
      sc.sc().conf().remove(TestHooks.FLAG);
    }
    String printed = log.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("the segment from step 5 failed (attempt 1 of 4)"), printed);
    assertArrayEquals(Files.readAllBytes(undisturbed.resolve("model.safetensors")), Files.readAllBytes(disturbed.resolve("model.safetensors")),
        "a failed and rerun segment");
  }

  static Map<String, String> syncConfig(Path out, String sync, int steps, int partitions) {
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("cell", "lstm");
    m.put("tbptt", "10");
    m.put("clip-norm", "0.5");
    m.put("steps", Integer.toString(steps)); // a constant learning rate: a shorter run is a prefix of a longer one
    m.put("checkpoint-every", "3");
    m.put("validate-every", "4");
    m.put("sync", sync);
    m.put("partitions", Integer.toString(partitions));
    return m;
  }

  /** Same tensors (names, shapes, bytes); the metadata differs in the recorded "sync" key. */
  static void assertSameTensors(Path expected, Path actual) throws IOException {
    SafeTensorsFile a = SafeTensors.read(expected), b = SafeTensors.read(actual);
    assertEquals(a.tensors().keySet(), b.tensors().keySet(), actual.toString());
    for (String name : a.tensors().keySet()) {
      assertArrayEquals(a.tensors().get(name).floats(), b.tensors().get(name).floats(), name + " in " + actual.getFileName());
    }
  }

  /**
   * Caching must not change the bits: the same run with no cache (every use reads its shard), a
   * cache of about two shards (evicting all the time) and one that holds the dataset, under both
   * sync modes, writes byte-identical models; and each run's report counts what its cache did.
   */
  @ParameterizedTest(name = "sync {0}")
  @ValueSource(strings = {"job", "barrier"})
  void aTinyCacheTrainsTheSameBitsAsOneThatHoldsEverything(String sync) throws IOException {
    byte[] expected = null;
    for (String size : new String[] {"1g", "6k", "0"}) {
      ShardCache.JVM.clear(); // a run may not start from the last one's shards
      Path out = tmp.resolve("cache-" + sync + "-" + size);
      Map<String, String> m = syncConfig(out, sync, 8, 2);
      m.put("shard-cache", size);
      ByteArrayOutputStream log = new ByteArrayOutputStream();
      Trainer.prepare(m, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc);
      byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
      if (expected == null) {
        expected = model;
      } else {
        assertArrayEquals(expected, model, "model with shard-cache " + size + " against 1g, sync " + sync);
      }
      String report = Files.readString(out.resolve("report.md"));
      assertTrue(report.contains("## Shard cache"), report);
      String counters = log.toString(StandardCharsets.UTF_8);
      Matcher c = Pattern.compile(
          "shard cache on \\S+: (\\d+) hits, (\\d+) waited for a read under way, (\\d+) misses .*?(\\d+) evicted, (\\d+) read through")
          .matcher(counters);
      assertTrue(c.find(), counters);
      // the report's row gives the sizes as the log line does, a 6k cache in kB (a user audit: "bound MB 0.0")
      Matcher sizes = Pattern.compile("shard cache on \\S+: .*, (\\S+ [kM]B) read; bound (\\S+ [kM]B), peak (\\S+ [kM]B)").matcher(counters);
      assertTrue(sizes.find(), counters);
      assertTrue(report.contains(" | " + sizes.group(1) + " | " + sizes.group(2) + " | " + sizes.group(3) + " |"), report);
      if (size.equals("6k")) {
        assertEquals("6.1 kB", sizes.group(2), "6k = 6,144 bytes");
      }
      long hits = Long.parseLong(c.group(1)), waits = Long.parseLong(c.group(2)), misses = Long.parseLong(c.group(3));
      long evicted = Long.parseLong(c.group(4)), through = Long.parseLong(c.group(5));
      assertTrue(misses > 0, "the first reads miss: " + counters);
      switch (size) {
        case "1g" -> assertTrue(evicted == 0 && through == 0 && hits + waits > 0, counters);
        case "6k" -> assertTrue(evicted > 0 && through == 0, counters);
        // nothing kept; a task may still wait for the read another task has under way of the same shard (the two
        // partitions' runs of virtual partitions share shards), which is not a hit
        default -> assertTrue(hits == 0 && through == misses, "nothing kept: " + counters);
      }
    }
  }

  @Test
  void aShardCacheLargerThanTheHeapIsRefusedBeforeTrainingNamingTheKey() {
    Map<String, String> m = sineConfig(tmp.resolve("cache-too-big").toUri().toString());
    m.put("master", "local[2]");
    long heap = Runtime.getRuntime().maxMemory();
    m.put("shard-cache", Long.toString(heap)); // the whole heap: more than the 90% allowed
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("shard-cache: " + heap + " ") && e.getMessage().contains("90%"), e.getMessage());
    m.put("shard-cache", "95%");
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("shard-cache: "), e.getMessage());
  }

  @Test
  void barrierSyncRefusesMorePartitionsThanTheLocalMasterRunsAtOnce() throws IOException {
    Map<String, String> m = sineConfig(tmp.resolve("barrier-too-wide").toUri().toString());
    m.put("partitions", "3");
    java.io.ByteArrayOutputStream lines = new java.io.ByteArrayOutputStream();
    Trainer t = Trainer.prepare(m, new Configuration(), new PrintStream(lines, true, java.nio.charset.StandardCharsets.UTF_8));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.run(sc));
    assertTrue(e.getMessage().startsWith("partitions: 3 under --sync barrier needs 3 tasks running at once, and local[2] runs 2"),
        e.getMessage());
    assertFalse(lines.toString(java.nio.charset.StandardCharsets.UTF_8).contains("spark.authenticate"),
        "no warning about the exchange of a run refused before it starts: " + lines);
  }

  @Test
  void shortRunOnSineLowersTheLoss() throws IOException {
    Path out = tmp.resolve("sine-learn");
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("cell", "lstm");
    m.put("hidden-size", "16");
    m.put("steps", "60");
    m.put("checkpoint-every", "0");
    m.put("validate-every", "60");
    Trainer.Summary s = Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    String metrics = Files.readString(out.resolve("metrics.jsonl"));
    double firstLoss = ((Number) Json.parseObject(metrics.lines().findFirst().orElseThrow()).get("loss")).doubleValue();
    // next-step prediction of sines with amplitude 1: the initial loss is near the signal power 0.5;
    // 60 Adam steps must cut it at least fivefold
    assertTrue(s.finalLoss() < firstLoss / 5, "loss " + firstLoss + " -> " + s.finalLoss());
    assertTrue(s.validationLoss() < firstLoss / 5, "validation loss " + s.validationLoss());
    assertTrue(Files.size(out.resolve("loss.png")) > 1000, "loss.png written");
    String report = Files.readString(out.resolve("report.md"));
    assertTrue(report.contains("OpenCL") || report.contains("JVM"), "the report names the device: " + report);
    assertTrue(report.contains("- --device auto: "), "the report records auto's choice (the default device): " + report);
    assertTrue(report.contains("chosen in the driver's JVM (local master))"), "and where it was measured: " + report);
    assertFalse(s.devices().isEmpty());
  }

  @Test
  void addingProblemBeatsTheConstantBaseline() throws IOException {
    Path out = tmp.resolve("adding-learn");
    Map<String, String> m = new HashMap<>();
    m.put("data", adding);
    m.put("out", out.toUri().toString());
    // GRU 16 leaves the 1/6 plateau after about 250 steps here (measured: validation MSE 0.0036 at 300)
    m.put("cell", "gru");
    m.put("hidden-size", "16");
    m.put("batch", "50");
    m.put("steps", "350");
    m.put("lr", "0.01");
    m.put("checkpoint-every", "0");
    m.put("validate-every", "350");
    m.put("log-every", "1000");
    Trainer.Summary s = Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    // predicting the mean (1.0) scores Var(u1 + u2) = 2/12 = 1/6 ≈ 0.167; ask for half of that
    assertTrue(s.validationLoss() < 1.0 / 12, "validation MSE " + s.validationLoss() + " vs the constant baseline 1/6");
  }

  @Test
  void truncatedBpttCarriesEachWindowsFinalStateIntoTheNextStep() throws IOException {
    // T = 20 in windows of 10: step 0 trains window [0, 10) from zero state, step 1 window [10, 20)
    // of the same sequences from the states step 0 ended in, with no gradient across the boundary.
    Path out = tmp.resolve("tbptt");
    Map<String, String> m = referenceSgd(out, 2);
    m.put("cell", "lstm");
    m.put("tbptt", "10");
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    assertEquals(2, trainer.schedule().windowsPerBatch());
    trainer.run(sc);

    Batch first = stepWindow(trainer, trainer.model(), 0, 0, 10);
    Batch second = stepWindow(trainer, trainer.model(), 0, 10, 10);
    Params p = Params.initialize(trainer.model(), trainer.config().seed());
    ReferenceEngine ref = new ReferenceEngine();
    BpttResult r0 = ref.lossAndGradient(p, first, null);
    sgd(p.values(), r0.gradients().meanGradient(), 0.5f);
    BpttResult r1 = ref.lossAndGradient(p, second, r0.finalState());
    sgd(p.values(), r1.gradients().meanGradient(), 0.5f);

    Params trained = ModelFile.read(SafeTensors.read(out.resolve("model.safetensors")));
    assertNormwiseClose(p.values(), trained.values(), REFERENCE_REL_TOL, "two truncated-BPTT steps");
    // and the carried state matters: starting window 2 from zeros gives other weights
    Params fromZeros = Params.initialize(trainer.model(), trainer.config().seed());
    sgd(fromZeros.values(), r0.gradients().meanGradient(), 0.5f);
    sgd(fromZeros.values(), ref.lossAndGradient(fromZeros, second, null).gradients().meanGradient(), 0.5f);
    double diff = 0;
    for (int i = 0; i < fromZeros.values().length; i++) {
      diff = Math.max(diff, Math.abs(fromZeros.values()[i] - trained.values()[i]));
    }
    assertTrue(diff > 1e-4, "a zero initial state in window 2 must give other weights, max difference " + diff);
  }

  @Test
  void cosineScheduleSetsEachStepsLearningRate() throws IOException {
    // two SGD steps with cosine annealing over 2 steps to lr-min 0: lr_0 = 0.5, lr_1 = ½·0.5·(1 + cos(π/2)) = 0.25
    Path out = tmp.resolve("cosine");
    Map<String, String> m = referenceSgd(out, 2);
    m.put("lr-schedule", "cosine");
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    assertEquals(0.5, trainer.config().learningRate(0, 2), 0);
    assertEquals(0.25, trainer.config().learningRate(1, 2), 1e-15);
    trainer.run(sc);

    int T = trainer.dataset().manifest().spec().steps();
    Params p = Params.initialize(trainer.model(), trainer.config().seed());
    ReferenceEngine ref = new ReferenceEngine();
    float[] lrs = {0.5f, 0.25f};
    for (int step = 0; step < 2; step++) {
      Batch b = stepWindow(trainer, trainer.model(), step, 0, T);
      sgd(p.values(), ref.lossAndGradient(p, b, null).gradients().meanGradient(), lrs[step]);
    }
    Params trained = ModelFile.read(SafeTensors.read(out.resolve("model.safetensors")));
    assertNormwiseClose(p.values(), trained.values(), REFERENCE_REL_TOL, "two cosine-scheduled SGD steps");
  }

  @Test
  void momentumWeightDecayAndClippingCarryAcrossSteps() throws IOException {
    // three SGD steps, momentum 0.9, weight decay 0.01, clip-norm 0.05, by the formulas in float64:
    // g ← clip(g) + λθ; b ← g on step 1, μb + g after; θ ← θ − lr·b. The momentum buffer must live
    // from step to step in the driver (or every barrier task), and the clip must act on each step.
    Path out = tmp.resolve("momentum-clip");
    Map<String, String> m = referenceSgd(out, 3);
    m.put("momentum", "0.9");
    m.put("weight-decay", "0.01");
    m.put("clip-norm", "0.05");
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    trainer.run(sc);

    int T = trainer.dataset().manifest().spec().steps();
    Params p = Params.initialize(trainer.model(), trainer.config().seed());
    double[] theta = new double[p.values().length];
    for (int i = 0; i < theta.length; i++) {
      theta[i] = p.values()[i];
    }
    double[] buf = new double[theta.length];
    ReferenceEngine ref = new ReferenceEngine();
    for (int step = 0; step < 3; step++) {
      Batch b = stepWindow(trainer, trainer.model(), step, 0, T);
      for (int i = 0; i < theta.length; i++) {
        p.values()[i] = (float) theta[i];
      }
      float[] g = ref.lossAndGradient(p, b, null).gradients().meanGradient();
      double norm = 0;
      for (float x : g) {
        norm += (double) x * x;
      }
      norm = Math.sqrt(norm);
      assertTrue(norm > 0.1, "the fixture needs a gradient the clip shortens; step " + step + " norm " + norm);
      double c = 0.05 / (norm + 1e-6);
      for (int i = 0; i < theta.length; i++) {
        double gi = g[i] * c + 0.01 * theta[i];
        buf[i] = step == 0 ? gi : 0.9 * buf[i] + gi;
        theta[i] -= 0.5 * buf[i];
      }
    }
    float[] expected = new float[theta.length];
    for (int i = 0; i < theta.length; i++) {
      expected[i] = (float) theta[i];
    }
    Params trained = ModelFile.read(SafeTensors.read(out.resolve("model.safetensors")));
    assertNormwiseClose(expected, trained.values(), REFERENCE_REL_TOL, "three SGD steps with momentum, decay and clipping");
  }

  /**
   * The sine job on the float64 reference engine with plain SGD (lr 0.5, no momentum, no clipping)
   * for {@code steps} steps: the updates these tests redo by hand with {@link #sgd}.
   */
  static Map<String, String> referenceSgd(Path out, int steps) {
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("engine", "reference");
    m.put("steps", Integer.toString(steps));
    m.put("optimizer", "sgd");
    m.put("momentum", "0");
    m.put("lr", "0.5");
    m.put("clip-norm", "0");
    return m;
  }

  /** p -= lr * g, as torch.optim.SGD without momentum or decay. */
  static void sgd(float[] p, float[] g, float lr) {
    for (int i = 0; i < p.length; i++) {
      p[i] += -lr * g[i];
    }
  }

  /**
   * A closed loop on a variable-length dataset (lengths uniform in [5, 20]) is refused at prepare,
   * before any step: each validation batch refused its padded sequences, after the first
   * validate-every steps had trained (a docs audit). Where validation never runs (validate-every 0,
   * or no validation split) feedback stays the warning it was.
   */
  @Test
  void closedLoopValidationOnAVariableLengthDatasetIsRefusedBeforeTraining() throws IOException {
    Path padded = tmp.resolve("sine-padded");
    Prep.run(new SineSource(new SineSource.Options(20, 32, 7, false, 0.02, 0.1, 0, 5)), new PrepOptions(padded.toUri(), 16, 0.5,
        false, false), new Configuration());
    Map<String, String> m = sineConfig(tmp.resolve("closed-loop-padded").toUri().toString());
    m.put("data", padded.toUri().toString());
    m.put("batch", "16");
    m.put("feedback", "5");
    m.put("validate-every", "2");
    BadInputException e = assertThrows(BadInputException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("feedback: closed-loop validation needs sequences of all T=20 steps, and the dataset is"
        + " variable-length"), e.getMessage());
    m.put("validate-every", "0");
    assertEquals(6L, Trainer.prepare(m, new Configuration(), quiet()).config().steps(), "no validation: feedback is never used");
    Path noValidation = tmp.resolve("sine-padded-train-only");
    Prep.run(new SineSource(new SineSource.Options(20, 32, 7, false, 0.02, 0.1, 0, 5)), new PrepOptions(noValidation.toUri(), 16,
        0, false, false), new Configuration());
    m.put("data", noValidation.toUri().toString());
    m.put("validate-every", "2");
    assertEquals(6L, Trainer.prepare(m, new Configuration(), quiet()).config().steps(), "no validation split: nothing to refuse");
    m.put("data", padded.toUri().toString());
    m.remove("feedback");
    assertEquals(6L, Trainer.prepare(m, new Configuration(), quiet()).config().steps(), "the same dataset trains without feedback");
  }

  @Test
  void batchTheDataCannotFillFailsBeforeSparkStarts() {
    Map<String, String> m = sineConfig(tmp.resolve("too-big").toUri().toString());
    m.put("batch", "100000");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("batch:"), e.getMessage());
  }

  /**
   * Refusals before Spark starts of a configuration the dataset contradicts: a mode or loss other
   * than the dataset's (its y decides), and --feedback K that leaves no input-driven step (K ≥ T;
   * the sine fixture has T = 20, so K = 19 is the largest that fits) or asks for a closed loop of a
   * seq2one model (the adding fixture: one output per sequence, nothing to feed back per step) or
   * of inputs and outputs of different widths (the copy task).
   */
  @Test
  void aModeLossOrFeedbackTheDatasetCannotServeIsRefusedBeforeSparkStarts() throws IOException {
    Map<String, String> m = sineConfig(tmp.resolve("refused-unused").toUri().toString());
    m.put("mode", "seq2one");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("mode: the dataset ") && e.getMessage().endsWith(" is seq2seq, the configuration says seq2one"),
        e.getMessage());
    m.remove("mode");
    m.put("loss", "cross_entropy");
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("loss: the dataset ") && e.getMessage().contains(" suits mse (its y is floats)"), e.getMessage());
    m.remove("loss");

    m.put("feedback", "20");
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertEquals("feedback: 20 self-driven steps leave no input-driven step in T=20", e.getMessage());
    m.put("feedback", "19"); // one input-driven step, then 19 self-driven ones
    assertEquals(19, Trainer.prepare(m, new Configuration(), quiet()).config().feedback());

    Map<String, String> a = sineConfig(tmp.resolve("refused-adding-unused").toUri().toString());
    a.put("data", adding);
    a.put("feedback", "1");
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(a, new Configuration(), quiet()));
    assertEquals("feedback: closed-loop validation needs a seq2seq model", e.getMessage());

    // the copy task is seq2seq but feeds nothing back: F = 10 one-hot inputs, O = 9 classes (docs/data-format.md)
    Path copy = tmp.resolve("copy-f10-o9");
    Prep.run(new CopySource(new CopySource.Options(2, 8, 5)), new PrepOptions(copy.toUri(), 4, 0.25, false, false),
        new Configuration());
    Map<String, String> c = sineConfig(tmp.resolve("refused-copy-unused").toUri().toString());
    c.put("data", copy.toUri().toString());
    c.put("batch", "4");
    c.put("feedback", "1");
    e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(c, new Configuration(), quiet()));
    assertEquals("feedback: closed-loop validation feeds outputs back as inputs and needs F == O, the data has F=10, O=9",
        e.getMessage());
  }

  /**
   * A validate-every on a dataset without a validation split would never validate: prepare says so
   * (a 2-shard sine prepped with validation fraction 0), and says nothing when validate-every is 0.
   */
  @Test
  void validateEveryOnADatasetWithoutAValidationSplitWarns() throws IOException {
    String noValidation = tmp.resolve("sine-no-validation").toUri().toString();
    Prep.run(new SineSource(SineSource.Options.defaults(20, 2 * 16, 7)), new PrepOptions(tmp.resolve("sine-no-validation").toUri(), 16, 0.0,
        false, false), new Configuration());
    assertEquals(0, Dataset.open(noValidation, new Configuration()).manifest().sequences(Split.VALIDATION), "the fixture");
    Map<String, String> m = sineConfig(tmp.resolve("no-validation-unused").toUri().toString());
    m.put("data", noValidation);
    m.put("batch", "8");
    m.put("validate-every", "2");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Trainer.prepare(m, new Configuration(), new PrintStream(printed, true, StandardCharsets.UTF_8));
    String log = printed.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("warning: validate-every 2: the dataset " + noValidation + " has no validation sequences, so this run never"
        + " validates"), log);
    m.put("validate-every", "0");
    printed.reset();
    Trainer.prepare(m, new Configuration(), new PrintStream(printed, true, StandardCharsets.UTF_8));
    assertFalse(printed.toString(StandardCharsets.UTF_8).contains("warning"), printed.toString(StandardCharsets.UTF_8));
  }

  /**
   * evaluate on a dataset as a Spark job scores every shard exactly once, whatever the partition
   * count (shard s on partition s mod P): the sine fixture's 8 shards of 16 sequences (T = 20, O = 1)
   * on 1, 2 and 3 partitions give loss_terms 8·16·20 = 2560 and the mean of the float64 reference
   * engine's per-shard losses weighted by their terms; the closed loop (K = 5) the mean over the
   * K·16 terms of each shard's own closed loop (Evaluation.ofBatch, checked by hand in
   * ClosedLoopUnitsTest).
   */
  @Test
  void evaluatingADatasetOnSeveralPartitionsScoresEveryShardOnce() throws IOException {
    int K = 5;
    Dataset ds = Dataset.open(sine, new Configuration());
    ModelConfig gru = Trainer.prepare(sineConfig(tmp.resolve("evaluate-probe").toUri().toString()), new Configuration(), quiet()).model();
    Params p = Params.initialize(gru, 5);
    ReferenceEngine ref = new ReferenceEngine();
    int[] shards = IntStream.range(0, ds.manifest().shards().size()).toArray();
    assertEquals(8, shards.length, "the fixture");
    double sum = 0;
    long count = 0;
    double closedSum = 0;
    long closedCount = 0;
    for (int s : shards) {
      Batch b = ds.read(ds.manifest().shards().get(s));
      GradientSum g = ref.lossAndGradient(p, b, null).gradients();
      sum += g.meanLoss() * g.count();
      count += g.count();
      closedSum += K * b.batchSize() * Evaluation.ofBatch(gru, p, ref, b, K, 0, Double.NaN, null, "shard " + s).closedLoopLoss();
      closedCount += (long) K * b.batchSize();
    }
    assertEquals(8 * 16 * 20, count, "every (t, b) of every shard, O = 1");
    for (int partitions = 1; partitions <= 3; partitions++) {
      ShardsDone done = new ShardsDone();
      sc.sc().addSparkListener(done);
      Evaluation.Metrics m;
      try {
        m = Evaluation.ofDataset(sc, ds, gru, p, shards, K, 0, Double.NaN, "reference", "jvm", partitions);
        assertEquals(8, done.await(8), partitions + " partitions: shards the progress lines count done");
      } finally {
        sc.sc().removeSparkListener(done);
      }
      assertEquals(count, m.lossTerms(), partitions + " partitions: loss terms");
      assertEquals(sum / count, m.loss(), VALIDATION_REL_TOL * sum / count, partitions + " partitions: loss");
      assertEquals(closedSum / closedCount, m.closedLoopLoss(), VALIDATION_REL_TOL * closedSum / closedCount,
          partitions + " partitions: closed-loop loss");
    }
  }

  /**
   * predict's tasks count each shard they finish for the progress lines, once (the counter a
   * running task reports through heartbeats; JobScopeTest shows the lines): the sine fixture's 8
   * shards on 3 partitions (3, 3 and 2 shards) add up to 8, and each shard's prediction comes back.
   */
  @Test
  void predictingADatasetCountsEachShardDoneOnce() throws IOException {
    Dataset ds = Dataset.open(sine, new Configuration());
    ModelConfig gru = Trainer.prepare(sineConfig(tmp.resolve("predict-probe").toUri().toString()), new Configuration(), quiet()).model();
    Params p = Params.initialize(gru, 5);
    int[] shards = IntStream.range(0, ds.manifest().shards().size()).toArray();
    PredictJob.Input input = new PredictJob.Input(gru, p.values(), ds.manifest().normalization(), null, shards, null, true, Map.of());
    ShardsDone done = new ShardsDone();
    sc.sc().addSparkListener(done);
    GradientTask.Context context = GradientTask.Context.forScoring(sc, ds, "reference", "jvm", 3);
    try {
      List<PredictJob.ShardResult> results = PredictJob.run(sc, context, input);
      assertEquals(8, results.size(), "a prediction for each shard");
      assertEquals(8, done.await(8), "shards the progress lines count done");
    } finally {
      context.release();
      sc.sc().removeSparkListener(done);
    }
  }

  /**
   * Sums what finished tasks added to the progress lines' shard counter (JobScope.countUnits, named
   * "spark-rnn shards done"), from the listener bus, which runs behind the job.
   */
  static final class ShardsDone extends SparkListener {
    final AtomicLong sum = new AtomicLong();

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
      for (AccumulableInfo info : CollectionConverters.asJava(end.taskInfo().accumulables())) {
        if (info.name().contains("spark-rnn shards done") && info.update().isDefined()) {
          sum.addAndGet(((Number) info.update().get()).longValue());
        }
      }
    }

    /** The sum once it has reached {@code expected} and stayed 200 ms (or after 10 s). */
    long await(long expected) {
      try {
        for (int i = 0; i < 200 && sum.get() < expected; i++) {
          Thread.sleep(50);
        }
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return sum.get();
    }
  }

  /** README's progress line: {@code step 400/400  epoch 12  loss …  |g| …  val …  closed-loop …  352 seq/s  ETA 0m00s}. */
  static final Pattern PROGRESS = Pattern.compile(
      "^step (\\d+)/(\\d+)  epoch (\\d+)  loss (\\S+)  \\|g\\| (\\S+)(?:  val (\\S+))?(?:  closed-loop (\\S+))?  [\\d,]+ seq/s  ETA (\\S+)$");

  /**
   * Progress lines come every log-every steps, at each validation and at the last step (README:
   * "one progress line per log-every steps"; validate-every "every N steps and at the end"), and
   * carry the values of that step's metrics.jsonl row: 4 steps, log-every 3, validate-every 2 log
   * steps 2 (validated), 3 (log-every) and 4 (the end, validated), not step 1. Epochs count from 1:
   * ⌊112 / 32⌋ = 3 steps an epoch, so step 4 is epoch 2. The last line has no time left: ETA 0m00s.
   */
  @Test
  void progressLinesComeEveryLogEveryStepsAtEachValidationAndAtTheEnd() throws IOException {
    Path out = tmp.resolve("progress-lines");
    Map<String, String> m = referenceSgd(out, 4);
    m.put("log-every", "3");
    m.put("validate-every", "2");
    m.put("feedback", "5");
    m.put("checkpoint-every", "0");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Trainer trainer = Trainer.prepare(m, new Configuration(), new PrintStream(printed, true, StandardCharsets.UTF_8));
    trainer.run(sc);
    String log = printed.toString(StandardCharsets.UTF_8);
    List<String> rows = Files.readAllLines(out.resolve(TrainingMetrics.FILE));
    assertEquals(4, rows.size(), String.join("\n", rows));

    List<Matcher> lines = new ArrayList<>();
    for (String line : log.split("\n")) {
      if (line.matches("^step \\d+/.*")) {
        Matcher lm = PROGRESS.matcher(line);
        assertTrue(lm.matches(), "README's progress line format: " + line);
        lines.add(lm);
      }
    }
    long[] steps = {2, 3, 4};
    long[] epochs = {1, 1, 2};
    assertEquals(steps.length, lines.size(), log);
    for (int i = 0; i < steps.length; i++) {
      Matcher lm = lines.get(i);
      Map<String, Object> row = Json.parseObject(rows.get((int) steps[i] - 1));
      assertEquals(steps[i], Long.parseLong(lm.group(1)), log);
      assertEquals("4", lm.group(2), "of the run's 4 steps: " + log);
      assertEquals(epochs[i], Long.parseLong(lm.group(3)), "epoch of step " + steps[i] + ": " + log);
      assertEquals(String.format("%.5g", ((Number) row.get("loss")).doubleValue()), lm.group(4), "loss of step " + steps[i]);
      assertEquals(String.format("%.3g", ((Number) row.get("grad_norm")).doubleValue()), lm.group(5), "|g| of step " + steps[i]);
      boolean validated = steps[i] % 2 == 0;
      assertEquals(validated ? String.format("%.5g", ((Number) row.get("val_loss")).doubleValue()) : null, lm.group(6),
          "val of step " + steps[i]);
      assertEquals(validated ? String.format("%.5g", ((Number) row.get("closed_loop_loss")).doubleValue()) : null, lm.group(7),
          "closed-loop of step " + steps[i]);
    }
    assertEquals("0m00s", lines.get(2).group(8), "nothing left after the last step: " + log);
  }

  /**
   * A row's seq_per_s is the sequences one step trains per second of its step_ms: B sequences, each
   * of them 1/W of the way through (W = T / tbptt windows a batch, each window a step), so
   * seq_per_s · step_ms / 1000 = B / W: 32 with full BPTT, 32 / 2 = 16 with tbptt 10 of T = 20.
   * And a run without validation whose length is no multiple of log-every (1000 here) still logs
   * its last step: the one progress line is step 2/2.
   */
  @Test
  void aRowsSequencesPerSecondCountsWholeSequencesAndTheLastStepIsLogged() throws IOException {
    for (String tbptt : new String[] {"0", "10"}) {
      Path out = tmp.resolve("seq-per-s-" + tbptt);
      Map<String, String> m = referenceSgd(out, 2);
      m.put("tbptt", tbptt);
      m.put("checkpoint-every", "0");
      ByteArrayOutputStream printed = new ByteArrayOutputStream();
      Trainer.prepare(m, new Configuration(), new PrintStream(printed, true, StandardCharsets.UTF_8)).run(sc);
      String log = printed.toString(StandardCharsets.UTF_8);
      List<String> progress = log.lines().filter(l -> l.matches("^step \\d+/.*")).toList();
      assertEquals(1, progress.size(), log);
      assertTrue(PROGRESS.matcher(progress.get(0)).matches() && progress.get(0).startsWith("step 2/2  epoch 1  "), log);
      double perStep = tbptt.equals("0") ? 32 : 16;
      for (String line : Files.readAllLines(out.resolve(TrainingMetrics.FILE))) {
        Map<String, Object> row = Json.parseObject(line);
        double seqPerSec = ((Number) row.get("seq_per_s")).doubleValue();
        double stepMs = ((Number) row.get("step_ms")).doubleValue();
        assertEquals(perStep, seqPerSec * stepMs / 1000, 1e-9 * perStep, "tbptt " + tbptt + ": " + line);
      }
    }
  }

  @Test
  void anOutputDirectoryWithARunIsNotOverwrittenWithoutResume() throws IOException {
    Path out = tmp.resolve("no-clobber");
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("steps", "1");
    Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(m, new Configuration(), quiet()));
    assertTrue(e.getMessage().startsWith("out:"), e.getMessage());
  }

  @Test
  void nanGradientStopsNamingTheStepAndLeavesTheLastCheckpointIntact() throws IOException {
    SparkConf conf = sc.getConf();
    Path out = tmp.resolve("nan-stop");
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("partitions", "2");
    sc.sc().conf().set(GradientTask.INJECT_NAN_STEP, "4"); // the fifth step (0-based 4)
    try {
      // without Spark's testing flag the hook's setting does nothing: a user cannot inject a NaN
      Map<String, String> plain = sineConfig(tmp.resolve("nan-unarmed").toUri().toString());
      plain.put("partitions", "2");
      assertEquals(6, Trainer.prepare(plain, new Configuration(), quiet()).run(sc).steps(), "no NaN without spark.testing");
      sc.sc().conf().set(TestHooks.FLAG, "true");
      Trainer t = Trainer.prepare(m, new Configuration(), quiet());
      Exception e = assertThrows(Exception.class, () -> t.run(sc));
      assertTrue(e instanceof Trainer.NonFiniteException, e.toString());
      assertTrue(e.getMessage().startsWith("step 5:"), e.getMessage());
      Path last = out.resolve("checkpoints").resolve(Checkpoints.fileName(4));
      assertTrue(Files.exists(last), "checkpoint after step 4");
      for (float v : SafeTensors.read(last).require("rnn.weight_hh_l0").floats()) {
        assertTrue(Float.isFinite(v));
      }
      assertFalse(Files.exists(out.resolve("model.safetensors")), "no final model from a stopped run");

      Path skip = tmp.resolve("nan-skip");
      Map<String, String> s = sineConfig(skip.toUri().toString());
      s.put("partitions", "2");
      s.put("on-nan", "skip");
      s.put("checkpoint-every", "5");
      Trainer.Summary summary = Trainer.prepare(s, new Configuration(), quiet()).run(sc);
      assertEquals(6, summary.steps());
      // the checkpoint due at the skipped step 5 is written (it was left out: a user audit), holding step 4's weights
      Path atSkip = skip.resolve("checkpoints").resolve(Checkpoints.fileName(5));
      assertTrue(Files.exists(atSkip), "the checkpoint due at the skipped step");
      assertArrayEquals(SafeTensors.read(last).require("rnn.weight_hh_l0").floats(),
          SafeTensors.read(atSkip).require("rnn.weight_hh_l0").floats(), "the weights of step 4, the last applied (as the stopped run's)");
      for (float v : SafeTensors.read(skip.resolve("model.safetensors")).require("rnn.weight_hh_l0").floats()) {
        assertTrue(Float.isFinite(v), "skipped step left the weights finite");
      }
    } finally {
      sc.sc().conf().remove(GradientTask.INJECT_NAN_STEP);
      sc.sc().conf().remove(TestHooks.FLAG);
      assertEquals(conf.get("spark.master"), sc.getConf().get("spark.master"));
    }
  }

  /**
   * A mutation audit: the stop's message names the newest checkpoint, the one --resume continues
   * from (checkpoints at steps 2 and 4, the NaN at step 5), not the first one listed; the test above
   * checked the file on disk but not the message, and a message naming step 2's passed it.
   */
  @Test
  void aNanStopNamesTheNewestCheckpointAsTheOneToResumeFrom() throws IOException {
    Path out = tmp.resolve("nan-stop-newest");
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("partitions", "2");
    sc.sc().conf().set(GradientTask.INJECT_NAN_STEP, "4"); // the fifth step (0-based 4)
    sc.sc().conf().set(TestHooks.FLAG, "true");
    try {
      Trainer t = Trainer.prepare(m, new Configuration(), quiet());
      Trainer.NonFiniteException e = assertThrows(Trainer.NonFiniteException.class, () -> t.run(sc));
      assertTrue(Files.exists(out.resolve("checkpoints").resolve(Checkpoints.fileName(2))), "an older checkpoint is there too");
      assertTrue(e.getMessage().contains("checkpoints/" + Checkpoints.fileName(4) + ", is intact: --resume true continues from it"),
          e.getMessage());
      assertFalse(e.getMessage().contains(Checkpoints.fileName(2)), e.getMessage());
    } finally {
      sc.sc().conf().remove(GradientTask.INJECT_NAN_STEP);
      sc.sc().conf().remove(TestHooks.FLAG);
    }
  }

  /** Sequences in the sine fixture's training split: 8 shards of 16, one of them validation. */
  static final int SINE_TRAINING_SEQUENCES = 7 * 16;

  @Test
  void epochsCountFullBatchesTimesTheWindowsOfEach() throws IOException {
    assertEquals(SINE_TRAINING_SEQUENCES, Dataset.open(sine, new Configuration()).manifest().sequences(Split.TRAIN), "the fixture");
    Map<String, String> m = sineConfig(tmp.resolve("epochs-unused").toUri().toString());
    m.put("steps", "0");
    m.put("epochs", "2");
    m.put("batch", "30"); // ⌊112 / 30⌋ = 3 full batches an epoch, the last 22 sequences dropped
    assertEquals(6, Trainer.prepare(m, new Configuration(), quiet()).totalSteps(), "2 epochs of 3 batches");
    m.put("cell", "lstm");
    m.put("tbptt", "10"); // T = 20: 2 windows, each a step
    assertEquals(12, Trainer.prepare(m, new Configuration(), quiet()).totalSteps(), "2 epochs of 3 batches of 2 windows");
    m.put("steps", "5");
    assertEquals(5, Trainer.prepare(m, new Configuration(), quiet()).totalSteps(), "steps > 0 wins over epochs");
  }

  @Test
  void aLocalMasterDefaultsToOnePartitionAndAGivenCountWins() throws IOException {
    // Trainer.partitions: by default 1 on a local master (one JVM, whose engine spreads each call over every core)
    Map<String, String> m = sineConfig(tmp.resolve("partitions-unused").toUri().toString());
    assertEquals(1, Trainer.prepare(m, new Configuration(), quiet()).partitions(sc), "default on " + sc.master());
    m.put("partitions", "3");
    assertEquals(3, Trainer.prepare(m, new Configuration(), quiet()).partitions(sc), "--partitions 3");
  }

  @Test
  void resumingWithSettingsThatChangeTheBitsIsRefusedNamingEachKey() throws IOException {
    Path out = tmp.resolve("resume-other-settings");
    checkpointAfterStep2(sineConfig(out.toUri().toString()));
    String[][] changes = {{"seed", "43"}, {"batch", "16"}, {"lr", "0.03"}, {"hidden-size", "9"}, {"optimizer", "sgd"},
        {"clip-norm", "1"}, {"virtual-partitions", "8"}, {"tbptt", "10"}, {"num-layers", "2"}, {"cell", "lstm"},
        {"weight-decay", "0.01"}, {"beta2", "0.99"}, {"lr-schedule", "cosine"}};
    for (String[] change : changes) {
      Map<String, String> rest = sineConfig(out.toUri().toString());
      rest.put("resume", "true");
      rest.put(change[0], change[1]);
      // refused by prepare, before Spark starts
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.prepare(rest, new Configuration(), quiet()), change[0]);
      assertTrue(e.getMessage().startsWith("resume: ") && e.getMessage().contains(" was trained with other settings: " + change[0]
          + " (checkpoint "), e.getMessage());
    }
    // under cosine annealing the run's length sets every step's learning rate: another length is refused too
    Path cosine = tmp.resolve("resume-other-length");
    Map<String, String> annealed = sineConfig(cosine.toUri().toString());
    annealed.put("lr-schedule", "cosine");
    annealed.put("optimizer", "sgd");
    checkpointAfterStep2(annealed);
    annealed.put("resume", "true");
    annealed.put("steps", "8");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Trainer.prepare(annealed, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("other settings: steps (checkpoint 6, now 8; lr-schedule cosine spans the run)"),
        e.getMessage());
    // the constants that sgd and the cosine schedule read are compared too (only the ones they do not read are
    // skipped: a mutation audit found nothing testing that these stay compared)
    annealed.remove("steps");
    for (String[] change : new String[][] {{"momentum", "0.5"}, {"lr-min", "0.001"}}) {
      Map<String, String> other = new java.util.HashMap<>(annealed);
      other.put(change[0], change[1]);
      IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> Trainer.prepare(other, new Configuration(),
          quiet()), change[0]);
      assertTrue(c.getMessage().contains(" was trained with other settings: " + change[0] + " (checkpoint "), c.getMessage());
    }

    // the partition count and the sync mode do not change the bits: a resume with them changed goes on
    Map<String, String> rest = sineConfig(out.toUri().toString());
    rest.put("resume", "true");
    rest.put("steps", "3");
    rest.put("sync", "job");
    rest.put("partitions", "2");
    assertEquals(3, Trainer.prepare(rest, new Configuration(), quiet()).run(sc).steps());
  }

  /**
   * Which checkpoints a run leaves, and a resume from an earlier one (README "Outputs": a checkpoint
   * every checkpoint-every steps and at the end, the newest 3 kept; metrics.jsonl written before each
   * checkpoint). 7 steps with checkpoint-every 2 save after steps 2, 4, 6 and 7 and keep 4, 6 and 7.
   * With 6 and 7 lost (a driver lost after step 7's rows were written, its last checkpoints gone),
   * metrics.jsonl holds rows 1..7; the resume from step 4 keeps rows 1..4 and writes 5..7 once: seven
   * rows, steps 1..7, with the uninterrupted run's losses and model bits. B = 8, H = 8, windows of
   * T = 10 (tbptt 10 on the fixture's T = 20).
   */
  @Test
  void theNewestCheckpointsAreKeptAndAResumeFromAnEarlierOneWritesEachStepsRowOnce() throws IOException {
    Path out = tmp.resolve("keep-and-rewind");
    Map<String, String> m = sineConfig(out.toUri().toString());
    m.put("batch", "8");
    m.put("tbptt", "10");
    m.put("steps", "7");
    m.put("checkpoint-every", "2");
    Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    Path dir = out.resolve(Checkpoints.DIR);
    List<String> kept;
    try (Stream<Path> s = Files.list(dir)) {
      kept = s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
    assertEquals(List.of(Checkpoints.fileName(4), Checkpoints.fileName(6), Checkpoints.fileName(7)), kept);
    byte[] uninterrupted = Files.readAllBytes(out.resolve("model.safetensors"));
    List<String> rowsBefore = Files.readAllLines(out.resolve(TrainingMetrics.FILE));
    assertEquals(7, rowsBefore.size(), String.join("\n", rowsBefore));

    for (long step : new long[] {6, 7}) {
      Files.delete(dir.resolve(Checkpoints.fileName(step)));
      Files.deleteIfExists(dir.resolve("." + Checkpoints.fileName(step) + ".crc"));
    }
    Files.delete(out.resolve("model.safetensors"));
    m.put("resume", "true");
    Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    List<String> rows = Files.readAllLines(out.resolve(TrainingMetrics.FILE));
    assertEquals(7, rows.size(), "rows 1..4 kept, 5..7 retrained, none twice: " + String.join("\n", rows));
    for (int i = 0; i < 7; i++) {
      Map<String, Object> row = Json.parseObject(rows.get(i));
      assertEquals(i + 1L, ((Number) row.get("step")).longValue(), rows.get(i));
      assertEquals(((Number) Json.parseObject(rowsBefore.get(i)).get("loss")).doubleValue(), ((Number) row.get("loss")).doubleValue(), 0,
          "step " + (i + 1) + "'s loss, as in the uninterrupted run");
    }
    assertArrayEquals(uninterrupted, Files.readAllBytes(out.resolve("model.safetensors")), "resumed from step 4");
  }

  /** A run's checkpoints carry its dataset's statistics, as its model file does: read as a model, they predict in raw units. */
  @Test
  void aRunsCheckpointsRecordItsDatasetsStatistics() throws IOException {
    Path data = tmp.resolve("sine-normalized");
    Prep.run(new SineSource(SineSource.Options.defaults(20, 4 * 16, 7)), new PrepOptions(data.toUri(), 16, 0.25, true, false),
        new Configuration());
    Path out = tmp.resolve("normalized-run");
    Map<String, String> c = sineConfig(out.toUri().toString());
    c.put("data", data.toString());
    c.put("steps", "2");
    Trainer.prepare(c, new Configuration(), quiet()).run(sc);
    Normalization n = Dataset.open(data.toUri(), new Configuration()).manifest().normalization();
    TrainedModel fromCheckpoint = TrainedModel.load(out.resolve("checkpoints").resolve(Checkpoints.fileName(2)).toString(),
        new Configuration());
    assertTrue(fromCheckpoint.normalizes());
    assertArrayEquals(n.inputMean(), fromCheckpoint.normalization().inputMean());
    assertArrayEquals(n.targetStd(), fromCheckpoint.normalization().targetStd());
    assertEquals(TrainedModel.load(out.resolve("model.safetensors").toString(), new Configuration()).normalization(),
        fromCheckpoint.normalization(), "as the model file");
  }

  /**
   * prepare refuses a resume that would change the bits before Spark starts; run() checks again,
   * under the run lock, whatever checkpoint is newest then: one written after prepare (by another
   * run of another seed) is refused there, naming it.
   */
  @Test
  void aCheckpointWrittenAfterPrepareIsCheckedAgainByRun() throws IOException {
    Path out = tmp.resolve("resume-checked-twice");
    checkpointAfterStep2(sineConfig(out.toUri().toString()));
    Map<String, String> rest = sineConfig(out.toUri().toString());
    rest.put("resume", "true");
    Trainer t = Trainer.prepare(rest, new Configuration(), quiet());
    Map<String, String> otherSeed = new LinkedHashMap<>(t.config().toMap());
    otherSeed.put("seed", "43");
    new Checkpoints(new OutputDir(out.toUri().toString(), new Configuration())).save(3, Params.initialize(t.model(), 43),
        new Adam(0.02, 0.9, 0.999, 1e-8, 0, false).state(), null, null, otherSeed);
    BadInputException e = assertThrows(BadInputException.class, () -> t.run(sc));
    assertTrue(e.getMessage().contains(Checkpoints.fileName(3) + " was trained with other settings: seed (checkpoint 43, now 42)"),
        e.getMessage());
  }

  /**
   * A checkpoint without the dataset's fingerprint (written before it was recorded) judges data by
   * the directory it names, not its spelling (a user audit): the checkpoint records the fully
   * qualified directory, so the same one as a plain path with a trailing slash and a "./" resumes,
   * and a copy of the dataset elsewhere is refused naming both, as nothing says it holds the same
   * bytes. A checkpoint of an earlier version, which recorded data as given, is compared after
   * qualifying that too.
   */
  @Test
  void resumeComparesTheDatasetsDirectoryNotItsSpelling() throws IOException {
    Path out = tmp.resolve("resume-spelling");
    Path sineDir = Path.of(URI.create(sine));
    checkpointAfterStep2(sineConfig(out.toUri().toString()));
    Map<String, String> same = sineConfig(out.toUri().toString());
    same.put("data", sineDir.getParent() + "/./" + sineDir.getFileName() + "/");
    same.put("resume", "true");
    same.put("steps", "3");
    assertEquals(3, Trainer.prepare(same, new Configuration(), quiet()).run(sc).steps());

    Path copy = tmp.resolve("sine-copy");
    try (Stream<Path> files = Files.list(sineDir)) {
      Files.createDirectories(copy);
      for (Path f : files.toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    Path other = tmp.resolve("resume-elsewhere");
    checkpointAfterStep2(sineConfig(other.toUri().toString()));
    Map<String, String> moved = sineConfig(other.toUri().toString());
    moved.put("data", copy.toString());
    moved.put("resume", "true");
    BadInputException e = assertThrows(BadInputException.class, () -> Trainer.prepare(moved, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("other settings: data (checkpoint file:" + sineDir + ", now file:" + copy + ")"),
        e.getMessage());
  }

  /**
   * A checkpoint a run writes records its dataset's fingerprint, and --resume follows the data, not
   * its directory: a copy elsewhere resumes (and says so), while the directory the checkpoint names,
   * prepared again from other sequences (another seed) with the same shape and shard names, is
   * refused before a step trains, where comparing the directory alone let it continue on other data.
   */
  @Test
  void resumeFollowsTheDatasetsFingerprintNotItsDirectory() throws IOException {
    Path data = tmp.resolve("sine-fingerprint");
    SineSource.Options seven = SineSource.Options.defaults(20, 4 * 16, 7);
    Prep.run(new SineSource(seven), new PrepOptions(data.toUri(), 16, 0.25, false, false), new Configuration());
    Path out = tmp.resolve("resume-fingerprint");
    Map<String, String> first = sineConfig(out.toUri().toString());
    first.put("data", data.toString());
    first.put("steps", "2");
    Trainer.prepare(first, new Configuration(), quiet()).run(sc);
    Checkpoints.Saved saved = new Checkpoints(new OutputDir(out.toString(), new Configuration())).loadLatest();
    String fingerprint = Dataset.open(data.toUri(), new Configuration()).manifest().fingerprint();
    assertEquals(fingerprint, saved.trainConfig().get(Trainer.DATA_FINGERPRINT_KEY));

    Path copy = tmp.resolve("sine-fingerprint-copy");
    Files.createDirectories(copy);
    try (Stream<Path> files = Files.list(data)) {
      for (Path f : files.toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    Map<String, String> moved = new HashMap<>(first);
    moved.put("data", copy.toString());
    moved.put("resume", "true");
    moved.put("steps", "3");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    assertEquals(3, Trainer.prepare(moved, new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8)).run(sc).steps());
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("resume: the checkpoint's run read file:" + data + "; file:" + copy
        + " holds the same data (fingerprint " + fingerprint + ")"), log.toString(StandardCharsets.UTF_8));

    // the newest checkpoint is now step 3's, read from the copy. The original directory prepared again from other
    // sequences (seed 8), same shape and shard names, is other data than the copy's
    Prep.run(new SineSource(SineSource.Options.defaults(20, 4 * 16, 8)), new PrepOptions(data.toUri(), 16, 0.25, false, true),
        new Configuration());
    String other = Dataset.open(data.toUri(), new Configuration()).manifest().fingerprint();
    assertFalse(other.equals(fingerprint), "seed 8 draws other sequences");
    Map<String, String> replaced = new HashMap<>(first);
    replaced.put("resume", "true");
    replaced.put("steps", "4");
    BadInputException e = assertThrows(BadInputException.class, () -> Trainer.prepare(replaced, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("other settings: data (file:" + data + " holds other data than the checkpoint's run trained"
        + " on, file:" + copy + ": its fingerprint is " + other + ", the checkpoint's " + fingerprint), e.getMessage());
    // and the copy itself prepared again the same way is said to be so
    Prep.run(new SineSource(SineSource.Options.defaults(20, 4 * 16, 8)), new PrepOptions(copy.toUri(), 16, 0.25, false, true),
        new Configuration());
    replaced.put("data", copy.toString());
    e = assertThrows(BadInputException.class, () -> Trainer.prepare(replaced, new Configuration(), quiet()));
    assertTrue(e.getMessage().contains("other settings: data (file:" + copy + " was prepared again since the checkpoint's run: its"
        + " fingerprint is " + other + ", the checkpoint's " + fingerprint), e.getMessage());
    assertEquals(3, new Checkpoints(new OutputDir(out.toString(), new Configuration())).loadLatest().completedSteps(),
        "nothing trained on the other data");
  }

  /** A checkpoint after step 2 of the job {@code config} describes, written directly: refusing a resume needs no training. */
  static void checkpointAfterStep2(Map<String, String> config) throws IOException {
    Trainer t = Trainer.prepare(config, new Configuration(), quiet());
    new Checkpoints(new OutputDir(config.get("out"), new Configuration())).save(2, Params.initialize(t.model(), 42),
        new Adam(0.02, 0.9, 0.999, 1e-8, 0, false).state(), null, null, t.config().toMap());
  }

  /** The loss of weights that agree with the hand-made ones to {@link #REFERENCE_REL_TOL} (step sums added in another order). */
  static final double VALIDATION_REL_TOL = 1e-5;

  @Test
  void validationScoresTheWeightsOfItsStepEveryNStepsAndAtTheEnd() throws IOException {
    Path out = tmp.resolve("validation-steps");
    Map<String, String> m = referenceSgd(out, 3);
    m.put("validate-every", "2");
    m.put("checkpoint-every", "0");
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    trainer.run(sc);

    // the validation split, one batch per shard, and the weights after each step by plain SGD in the reference engine
    Dataset ds = trainer.dataset();
    List<Batch> validation = new ArrayList<>();
    for (ShardInfo s : ds.manifest().shards()) {
      if (s.split() == Split.VALIDATION) {
        validation.add(ds.read(s));
      }
    }
    assertTrue(!validation.isEmpty(), "the fixture has a validation split");
    int T = ds.manifest().spec().steps();
    Params p = Params.initialize(trainer.model(), trainer.config().seed());
    ReferenceEngine ref = new ReferenceEngine();
    double[] expected = new double[4];
    for (int step = 0; step < 3; step++) {
      sgd(p.values(), ref.lossAndGradient(p, stepWindow(trainer, trainer.model(), step, 0, T), null).gradients().meanGradient(), 0.5f);
      double sum = 0;
      long count = 0;
      for (Batch b : validation) {
        GradientSum g = ref.lossAndGradient(p, b, null).gradients();
        sum += g.meanLoss() * g.count();
        count += g.count();
      }
      expected[step + 1] = sum / count;
    }
    List<String> rows = Files.readAllLines(out.resolve(TrainingMetrics.FILE));
    assertEquals(3, rows.size(), String.join("\n", rows));
    assertFalse(rows.get(0).contains("val_loss"), "no validation after step 1: " + rows.get(0));
    for (int step : new int[] {2, 3}) { // every 2 steps, and at the end
      Object val = Json.parseObject(rows.get(step - 1)).get("val_loss");
      assertTrue(val instanceof Number, "step " + step + ": " + rows.get(step - 1));
      assertEquals(expected[step], ((Number) val).doubleValue(), VALIDATION_REL_TOL * expected[step], "validation loss after step " + step);
    }
    assertTrue(Math.abs(expected[2] - expected[3]) > 1e-4 * expected[3], "the two validations score different weights");
  }

  @Test
  void closedLoopValidationScoresTheLastKStepsAndRowsCountEpochsFromOne() throws IOException {
    // feedback K = 5 of T = 20: validation drives the first 15 steps by the true inputs, then feeds each
    // output back for 5; closed_loop_loss is the mean over those K·B terms of every validation shard.
    // Epochs: ⌊112 / 32⌋ = 3 full batches an epoch (Schedule), metrics.jsonl's epoch is 1-based
    // (TrainingMetrics): steps 1–3 are epoch 1, step 4 starts epoch 2.
    int K = 5;
    Path out = tmp.resolve("validation-closed-loop");
    Map<String, String> m = referenceSgd(out, 4);
    m.put("validate-every", "4");
    m.put("checkpoint-every", "0");
    m.put("feedback", Integer.toString(K));
    Trainer trainer = Trainer.prepare(m, new Configuration(), quiet());
    assertEquals(3, trainer.schedule().stepsPerEpoch(), "the fixture: 3 steps an epoch");
    trainer.run(sc);

    Dataset ds = trainer.dataset();
    int T = ds.manifest().spec().steps();
    Params p = Params.initialize(trainer.model(), trainer.config().seed());
    ReferenceEngine ref = new ReferenceEngine();
    for (int step = 0; step < 4; step++) {
      sgd(p.values(), ref.lossAndGradient(p, stepWindow(trainer, trainer.model(), step, 0, T), null).gradients().meanGradient(), 0.5f);
    }
    // the closed loop of each validation shard alone (Evaluation.ofBatch, checked against a float64 hand loop in
    // ClosedLoopUnitsTest), weighted by its K·B terms; the sine fixture is not normalised: outputs fed back as they are
    double sum = 0;
    long count = 0;
    for (ShardInfo s : ds.manifest().shards()) {
      if (s.split() == Split.VALIDATION) {
        Batch b = ds.read(s);
        sum += K * b.batchSize() * Evaluation.ofBatch(trainer.model(), p, ref, b, K, 0, Double.NaN, null, s.file()).closedLoopLoss();
        count += (long) K * b.batchSize();
      }
    }
    assertTrue(count > 0, "the fixture has a validation split");
    List<String> rows = Files.readAllLines(out.resolve(TrainingMetrics.FILE));
    assertEquals(4, rows.size(), String.join("\n", rows));
    long[] epochs = {1, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
      Map<String, Object> row = Json.parseObject(rows.get(i));
      assertEquals(epochs[i], ((Number) row.get("epoch")).longValue(), "epoch of step " + (i + 1) + ": " + rows.get(i));
      assertEquals(i == 3, row.get("closed_loop_loss") != null, "validated at step 4 only: " + rows.get(i));
    }
    Object closed = Json.parseObject(rows.get(3)).get("closed_loop_loss");
    assertEquals(sum / count, ((Number) closed).doubleValue(), VALIDATION_REL_TOL * sum / count, "closed-loop validation after step 4");
  }

  @Test
  void aPeriodicCheckpointHoldsTheStateAfterTheStepsItIsNamedFor() throws IOException {
    // a constant learning rate: a run of 2 steps is the first 2 steps of a run of 3, bit for bit
    Path three = tmp.resolve("periodic-3"), two = tmp.resolve("periodic-2");
    Map<String, String> m = sineConfig(three.toUri().toString());
    m.put("steps", "3"); // checkpoint-every 2: one after step 2, the final one after step 3
    Trainer.prepare(m, new Configuration(), quiet()).run(sc);
    Map<String, String> shorter = sineConfig(two.toUri().toString());
    shorter.put("steps", "2");
    shorter.put("checkpoint-every", "0"); // only the final checkpoint, after step 2
    Trainer.prepare(shorter, new Configuration(), quiet()).run(sc);

    List<String> names;
    try (Stream<Path> s = Files.list(three.resolve("checkpoints"))) {
      names = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("step-")).sorted().toList();
    }
    assertEquals(List.of(Checkpoints.fileName(2), Checkpoints.fileName(3)), names);
    Path periodic = three.resolve("checkpoints").resolve(Checkpoints.fileName(2));
    assertEquals("2", SafeTensors.read(periodic).metadata().get("completed_steps"));
    // weights and Adam's moments after 2 steps, as the 2-step run ends with them
    assertSameTensors(two.resolve("checkpoints").resolve(Checkpoints.fileName(2)), periodic);
  }
}
