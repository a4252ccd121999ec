package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import io.sparkrnn.testing.ChildJvm;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, item 4: values inside the allowed ranges that would exhaust the heap are refused with
 * the estimate and what to change (exit 2), not an OutOfMemoryError (exit 1). Each case runs the
 * CLI in a child JVM with a 256 MB heap, so the limit does not depend on the test JVM's.
 */
class MemoryLimitsTest {
  @TempDir static Path tmp;
  static Path sine;
  static Path model;
  static Path primer;

  @BeforeAll
  static void files() throws IOException {
    Configuration hadoop = new Configuration();
    sine = tmp.resolve("sine");
    Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(sine.toUri(), 8, 0.2, true, false),
        hadoop);
    model = tmp.resolve("model.safetensors");
    ModelConfig gru = new ModelConfig(CellType.GRU, 1, 1, 6, 1, Mode.SEQ2SEQ, LossType.MSE);
    Files.write(model, ModelFile.toBytes(Params.initialize(gru, 1),
        ModelMetadata.fromManifest(Dataset.open(sine.toString(), hadoop).manifest())));
    primer = tmp.resolve("primer.npy");
    Files.write(primer, NpyWriter.toBytes(new int[] {5, 1}, new float[] {0, 0.1f, 0.2f, 0.3f, 0.4f}));
  }

  static ChildJvm.Result cli(String... args) throws Exception {
    return ChildJvm.run("256m", 3, "io.sparkrnn.cli.Main", args);
  }

  static void assertRefused(ChildJvm.Result r, String... fragments) {
    assertEquals(2, r.code(), r.output());
    for (String f : fragments) {
      assertTrue(r.output().contains(f), "'" + f + "' not in: " + r.output());
    }
    assertFalse(r.output().contains("OutOfMemoryError"), r.output());
  }

  @Test
  void aHugeHiddenSizeIsRefusedBeforeSparkStarts() throws Exception {
    ChildJvm.Result r = cli("train", "--data", sine.toString(), "--out", tmp.resolve("run").toString(), "--cell", "lstm",
        "--hidden-size", "16384", "--steps", "1", "--master", "local[1]");
    assertRefused(r, "hidden-size 16384", "needs about", "MB of memory", "lower --hidden-size");
    assertFalse(r.output().contains("training lstm 1x"), "Spark started: " + r.output());
  }

  @Test
  void generatingTooManyStepsOrSequencesIsRefused() throws Exception {
    assertRefused(cli("generate", "--model", model.toString(), "--primer", primer.toString(), "--steps", "2000000000"),
        "generate --steps 2000000000", "needs about", "fewer steps");
    assertRefused(cli("generate", "--model", model.toString(), "--primer", primer.toString(), "--steps", "10",
        "--batch", "100000000"), "for 100000000 sequences", "needs about");
    // within the heap it still works
    ChildJvm.Result ok = cli("generate", "--model", model.toString(), "--primer", primer.toString(), "--steps", "3");
    assertEquals(0, ok.code(), ok.output());
  }

  @Test
  void aModelFileLargerThanTheHeapIsRefusedBeforeItIsRead() throws Exception {
    Path big = tmp.resolve("big.safetensors");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(600L << 20); // sparse: no disk used
    }
    assertRefused(cli("generate", "--model", big.toString(), "--primer", primer.toString(), "--steps", "3"),
        "loading the model " + big, "needs about", "use a smaller model");
  }
}
