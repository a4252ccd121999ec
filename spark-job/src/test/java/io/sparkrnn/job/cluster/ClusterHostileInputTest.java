package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.Main;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardCodec;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.Checkpoints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input on HDFS (MiniDFSCluster on 127.0.0.1): each file is refused with a message naming
 * the file and the check, before any large allocation (measured with the thread's allocation
 * counter) and, for what the driver reads, before Spark starts. The same shard check on the
 * executors of a real cluster is in {@link ClusterFaultTest}.
 */
@Tag("cluster")
class ClusterHostileInputTest {
  /** Far above what refusing a few-kB file needs, far below what the hostile files claim (TBs, GBs). */
  static final long LARGE_ALLOCATION = 64L << 20;

  @TempDir
  static Path tmp;
  static LoopbackHdfs hdfs;
  static String sine;

  @BeforeAll
  static void start() throws IOException {
    hdfs = new LoopbackHdfs(Path.of("target", "hostile-hdfs-" + ProcessHandle.current().pid()).toFile());
    sine = hdfs.uri("/data/sine");
    Prep.run(new SineSource(SineSource.Options.defaults(20, 4 * 16, 7)), new PrepOptions(URI.create(sine), 16, 0.25, false, false),
        hdfs.conf());
  }

  @AfterAll
  static void stop() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  /** Runs the CLI in this JVM; returns the exit code and what it printed on stderr. */
  record Cli(int exit, String err) {}

  static Cli cli(String... args) {
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      return new Cli(Main.run(args), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(saved);
    }
  }

  /** The exception {@code code} throws, and that it allocated less than {@link #LARGE_ALLOCATION} on this thread doing so. */
  static <T extends Throwable> T refusedCheaply(Class<T> type, Executable code) {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    T e = assertThrows(type, code);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertTrue(allocated < LARGE_ALLOCATION, "allocated " + allocated + " bytes before refusing: " + e.getMessage());
    return e;
  }

  /** A copy of the sine dataset's manifest with shard 0's entry changed, in a new dataset directory. */
  static String datasetWithShard0(String name, Map<String, Object> changes) throws IOException {
    Map<String, Object> manifest = Json.parseObject(new String(hdfs.read(sine + "/manifest.json"), StandardCharsets.UTF_8));
    @SuppressWarnings("unchecked")
    Map<String, Object> entry = ((List<Map<String, Object>>) manifest.get("shards")).get(0);
    entry.putAll(changes);
    String dir = hdfs.uri("/data/" + name);
    hdfs.write(dir + "/manifest.json", Json.write(manifest).getBytes(StandardCharsets.UTF_8));
    return dir;
  }

  @Test
  void aManifestNamingPathsOutsideTheDatasetIsRefusedBeforeSparkStarts() throws IOException {
    String[] hostile = {"../sine/shard-00000.safetensors", "/data/sine/shard-00000.safetensors",
        hdfs.uri("/data/sine/shard-00000.safetensors"), "file:///etc/passwd", "sub/shard-00000.safetensors", ".hidden.safetensors"};
    for (int i = 0; i < hostile.length; i++) {
      String data = datasetWithShard0("outside-" + i, Map.of("file", hostile[i]));
      Cli r = cli("train", "--data", data, "--out", hdfs.uri("/runs/outside-" + i), "--master", "local[1]");
      assertEquals(2, r.exit(), hostile[i] + ": " + r.err());
      assertTrue(r.err().startsWith("error: ") && r.err().contains("'" + hostile[i] + "' is not a plain shard name"),
          hostile[i] + ": " + r.err());
      assertTrue(!hdfs.exists(hdfs.uri("/runs/outside-" + i)), "nothing written for " + hostile[i]);
    }
  }

  @Test
  void aShardHeaderClaiming2To40ElementsIsRefusedBeforeAllocating() throws IOException {
    byte[] hostile = ClusterFaultTest.withHeader(hdfs.read(sine + "/shard-00000.safetensors"),
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,4398046511104]}}");
    String data = datasetWithShard0("huge-header", Map.of("bytes", (long) hostile.length, "crc32c", ShardCodec.crc32c(hostile)));
    hdfs.write(data + "/shard-00000.safetensors", hostile);
    Dataset ds = Dataset.open(data, hdfs.conf());
    IllegalArgumentException e = refusedCheaply(IllegalArgumentException.class, () -> ds.read(ds.manifest().shards().get(0)));
    assertTrue(e.getMessage().startsWith("shard-00000.safetensors: tensor 'x' claims more than"), e.getMessage());
  }

  @Test
  void aManifestClaimingAHugeShardIsRefusedBeforeReadingIt() throws IOException {
    String data = datasetWithShard0("huge-bytes", Map.of("bytes", 1L << 40));
    Cli r = cli("train", "--data", data, "--out", hdfs.uri("/runs/huge-bytes"), "--master", "local[1]");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("shard-00000.safetensors claims 1099511627776 bytes"), r.err());
  }

  @Test
  void aCheckpointWhoseShapesDisagreeWithItsMetadataIsRefusedBeforeAllocating() throws IOException {
    // real GRU H=8 tensors, but metadata claiming H=20000: 1.2e9 parameters (4.8 GB) if believed
    ModelConfig real = new ModelConfig(CellType.GRU, 1, 1, 8, 1, Mode.SEQ2SEQ, LossType.MSE);
    Map<String, String> meta = new LinkedHashMap<>(real.toMetadata());
    meta.put(ModelConfig.KEY_HIDDEN_SIZE, "20000");
    meta.put("completed_steps", "4");
    meta.put("train_config", "{}");
    String out = hdfs.uri("/runs/hostile-checkpoint");
    hdfs.write(out + "/" + Checkpoints.DIR + "/" + Checkpoints.fileName(4),
        SafeTensors.toBytes(meta, ModelFile.toTensors(Params.initialize(real, 1))));

    Checkpoints checkpoints = new Checkpoints(new OutputDir(out, hdfs.conf()));
    IllegalArgumentException e = refusedCheaply(IllegalArgumentException.class, checkpoints::loadLatest);
    assertTrue(e.getMessage().contains("step-0000000004.safetensors: tensor 'rnn.weight_ih_l0' has shape [24, 1], expected [60000, 1]"),
        e.getMessage());

    // and through the CLI: --resume reports it as the user's error
    Cli r = cli("train", "--data", sine, "--out", out, "--cell", "gru", "--hidden-size", "8", "--resume", "true", "--master", "local[1]",
        "--steps", "2", "--batch", "16");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().startsWith("error: ") && r.err().contains("tensor 'rnn.weight_ih_l0' has shape [24, 1], expected [60000, 1]"), r.err());
  }

  @Test
  void aWeightsFileWithAShapeOtherThanItsMetadataSaysIsRefusedNamingTheTensor() {
    // an LSTM's metadata over a GRU's tensors: every weight has 4H rows where 3H are found
    ModelConfig gru = new ModelConfig(CellType.GRU, 1, 1, 8, 1, Mode.SEQ2SEQ, LossType.MSE);
    Map<String, String> meta = new LinkedHashMap<>(gru.toMetadata());
    meta.put(ModelConfig.KEY_CELL, "lstm");
    byte[] bytes = SafeTensors.toBytes(meta, ModelFile.toTensors(Params.initialize(gru, 1)));
    IllegalArgumentException e = refusedCheaply(IllegalArgumentException.class,
        () -> ModelFile.read(SafeTensors.read(bytes, "weights.safetensors")));
    assertEquals("weights.safetensors: tensor 'rnn.weight_ih_l0' has shape [24, 1], expected [32, 1]", e.getMessage());
  }

  @Test
  void aJobFileWithAnUnknownKeyIsRefusedNamingTheFileAndLine() throws IOException {
    Path conf = tmp.resolve("typo.conf");
    Files.writeString(conf, "# a job file\ncell = gru\nlearning_rate = 0.1\n");
    Cli r = cli("train", "--conf", conf.toString(), "--data", sine, "--out", hdfs.uri("/runs/typo"), "--master", "local[1]");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().startsWith("error: " + conf + ":3: unknown key 'learning_rate' (known keys: data, out,"), r.err());
  }
}
