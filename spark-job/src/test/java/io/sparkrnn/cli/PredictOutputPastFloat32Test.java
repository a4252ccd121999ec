package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.NpyFiles;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.testing.NormalizedGru;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 9da547b..4fe5f2f (dee40d2): "an output finite in the model's units but past float32 in
 * raw units is refused as such (train's closed loop goes on, generate exits 2)". predict meets the
 * same outputs and writes them as Infinity into its .npy, exit 0, saying nothing. Model: F = O = 1,
 * targets around 3.4e38 (mean 3.4e38, std 1e38, values a prep of float32 targets near float32's
 * top can give): every output above 0.003 in the model's units is past float32 in raw units.
 */
class PredictOutputPastFloat32Test {
  @TempDir
  static Path tmp;

  @Test
  void predictDoesNotWriteInfinityForAFiniteOutputPastFloat32InRawUnits() throws IOException {
    Path model = Files.write(tmp.resolve("top.safetensors"), NormalizedGru.file(0.0, 1.0, 3.4e38, 1e38));
    float[] x = new float[16];
    for (int i = 0; i < x.length; i++) {
      x[i] = (i % 5) - 2f;   // -2 .. 2
    }
    Path raw = Files.write(tmp.resolve("in.npy"), NpyWriter.toBytes(new int[] {8, 2, 1}, x));
    Path out = tmp.resolve("p.npy");
    InferenceCommandsTest.Run r = run("predict", "--model", model.toString(), "--data", raw.toString(), "--out",
        out.toString(), "--engine", "reference");
    if (r.code() == 0) {
      float[] p = NpyFiles.readFloats(out.toString(), new Configuration()).data();
      long inf = 0;
      for (float v : p) {
        inf += Float.isInfinite(v) ? 1 : 0;
      }
      assertEquals(0, inf, "predict exited 0 and wrote " + inf + " infinite predictions of " + p.length + ": "
          + Arrays.toString(p) + "; out: " + r.out() + "; err: " + r.err());
    }
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains(raw + ": output (t=") && r.err().contains("past float32's range in raw units")
        && r.err().contains("--model-units writes the outputs in the model's units"), r.err());
    assertFalse(Files.exists(out), "nothing written");
    // --model-units: finite, written
    InferenceCommandsTest.Run units = run("predict", "--model", model.toString(), "--data", raw.toString(), "--out",
        out.toString(), "--engine", "reference", "--model-units");
    assertEquals(0, units.code(), units.err());
  }

  /**
   * On a dataset, predict's Spark job names the shard of such an output: a csv dataset prepped with
   * the model's statistics (--normalization-from), predicted with --master local[1].
   */
  @Test
  void predictOnADatasetNamesTheShard() throws IOException {
    Path model = Files.write(tmp.resolve("top-ds.safetensors"), NormalizedGru.file(0.0, 1.0, 3.4e38, 1e38));
    StringBuilder csv = new StringBuilder("x\n");
    for (int i = 0; i < 40; i++) {
      csv.append((i % 5) - 2).append('\n');   // -2 .. 2: inputs that drive the outputs both ways
    }
    Path src = Files.writeString(tmp.resolve("ds.csv"), csv.toString());
    Path data = tmp.resolve("ds");
    InferenceCommandsTest.Run prep = run("prep", "csv", src.toString(), "--out", data.toString(), "--steps", "4", "--batch", "2",
        "--validation-fraction", "0", "--normalize", "--normalization-from", model.toString());
    assertEquals(0, prep.code(), prep.err());
    Path out = tmp.resolve("ds-pred");
    InferenceCommandsTest.Run r = run("predict", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
        "--engine", "reference", "--master", "local[1]");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("/shard-0") && r.err().contains(".safetensors: output (t=")
        && r.err().contains("past float32's range in raw units") && r.err().contains("--model-units"), r.err());
  }
}
