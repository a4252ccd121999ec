package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code inspect FILE.safetensors}: a file's tensors and metadata, a listed shard verified as
 * {@code inspect DIR} verifies it. A docs audit read the README's "verify every shard's … dtypes
 * and shapes" as showing them, and {@code inspect shard-00000.safetensors} said "not a dataset".
 */
class InspectFileTest {
  @TempDir Path tmp;

  /**
   * prep adding --steps 10 --sequences 20 --batch 8: F = 2 (value, marker), seq2one O = 1, 18
   * training sequences, so shard-00000 holds B = 8: x F32 [T, B, F] = [10, 8, 2] and y F32 [B, O] =
   * [8, 1] (docs/data-format.md's table); the adding problem has fixed lengths, no lengths tensor.
   */
  @Test
  void aShardOfADatasetListsItsTensorsAndIsVerifiedAgainstItsManifest() throws IOException {
    Path data = tmp.resolve("adding");
    assertEquals(0, Main.run("prep", "adding", "--out", data.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    Path shard = data.resolve("shard-00000.safetensors");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", shard.toString());
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertTrue(lines[0].startsWith(shard + ": safetensors, " + String.format(Locale.ROOT, "%,d", Files.size(shard)) + " bytes, 2 tensor(s); a"
        + " train shard of the dataset in " + data), lines[0]);
    assertTrue(lines[0].endsWith("size, CRC32C, dtypes, shapes and values verified against its manifest"), lines[0]);
    assertEquals("  x  F32  [10, 8, 2]", lines[1]);
    assertEquals("  y  F32  [8, 1]", lines[2]);

    // one byte of a value changed: the manifest's CRC32C no longer matches, exit 2 naming the file
    byte[] bytes = Files.readAllBytes(shard);
    bytes[bytes.length - 1] ^= 0x01;
    Files.write(shard, bytes);
    r = InferenceCommandsTest.run("inspect", shard.toString());
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("shard-00000.safetensors"), r.err());
    assertFalse(r.out().contains("F32"), "nothing listed from a damaged shard: " + r.out());
  }

  /**
   * A model file: PyTorch's names and shapes for an LSTM of F = 3, H = 4, O = 2 (docs/inference.md):
   * weight_ih [4H, F] = [16, 3], weight_hh [16, 4], both biases [16], head [O, H] = [2, 4] and [2];
   * its data CRC32C verified; metadata one line a key, a value over 100 characters cut with its length.
   */
  @Test
  void aModelFileListsItsTensorsAndMetadata() throws IOException {
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, 3, 4, 2, Mode.SEQ2SEQ, LossType.MSE);
    String longValue = "v".repeat(150);
    Path model = Files.write(tmp.resolve("model.safetensors"), ModelFile.toBytes(Params.initialize(lstm, 1),
        Map.of("note", longValue)));
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", model.toString());
    assertEquals(0, r.code(), r.err());
    String out = r.out();
    assertTrue(out.startsWith(model + ": safetensors, "), out);
    assertTrue(out.contains(" 6 tensor(s); its data CRC32C verified\n"), out);
    assertTrue(out.contains("  rnn.weight_ih_l0  F32  [16, 3]\n"), out);
    assertTrue(out.contains("  rnn.weight_hh_l0  F32  [16, 4]\n"), out);
    assertTrue(out.contains("  rnn.bias_ih_l0    F32  [16]\n"), out);
    assertTrue(out.contains("  rnn.bias_hh_l0    F32  [16]\n"), out);
    assertTrue(out.contains("  head.weight       F32  [2, 4]\n"), out);
    assertTrue(out.contains("  head.bias         F32  [2]\n"), out);
    assertTrue(out.contains("  metadata cell = lstm\n"), out);
    assertTrue(out.contains("  metadata note = " + "v".repeat(100) + "… (150 characters)\n"), out);
  }

  /** A model's directory (train's --out, a saved RnnModel, an export) lists its model.safetensors (a user audit: "not a dataset"). */
  @Test
  void aModelsDirectoryListsItsModel() throws IOException {
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Path run = Files.createDirectories(tmp.resolve("run"));
    Path model = Files.write(run.resolve("model.safetensors"), ModelFile.toBytes(Params.initialize(rnn, 1), Map.of()));
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", run.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith(run + ": a model's directory (no manifest.json); its model.safetensors:\n" + model
        + ": safetensors, "), r.out());
    assertTrue(r.out().contains("  rnn.weight_hh_l0  F32  [2, 2]\n"), r.out());
    // --json asks for a dataset's manifest: refused as for any directory without one
    r = InferenceCommandsTest.run("inspect", run.toString(), "--json");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("it holds model.safetensors: a model's directory"), r.err());
  }

  @Test
  void otherFilesAndJsonOnAFileAreRefusedByName() throws IOException {
    Path csv = Files.writeString(tmp.resolve("data.csv"), "a,b\n1,2\n");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", csv.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains(csv + ": a file, and inspect takes a dataset directory or a .safetensors file"), r.err());
    Path notSafetensors = Files.writeString(tmp.resolve("fake.safetensors"), "not a safetensors file at all");
    r = InferenceCommandsTest.run("inspect", notSafetensors.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("fake.safetensors"), r.err());
    ModelConfig rnn = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Path model = Files.write(tmp.resolve("m.safetensors"), ModelFile.toBytes(Params.initialize(rnn, 1), Map.of()));
    r = InferenceCommandsTest.run("inspect", model.toString(), "--json");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--json prints a dataset's manifest.json; " + model + " is one file"), r.err());
  }

  /**
   * A shard has no checksum of its own: where its directory's manifest.json cannot be read, inspect
   * refuses rather than list a damaged shard as fine (exit 2, naming the manifest); a file the
   * manifest does not list, or one outside a dataset, is listed with what could not be checked.
   */
  @Test
  void aShardWhoseManifestCannotBeReadIsNotPassedAsVerified() throws IOException {
    Path data = tmp.resolve("adding");
    assertEquals(0, Main.run("prep", "adding", "--out", data.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    Path shard = data.resolve("shard-00000.safetensors");
    Path copy = Files.copy(shard, tmp.resolve("loose.safetensors"));
    Path unlisted = Files.copy(shard, data.resolve("extra.safetensors"));
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", unlisted.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("; not listed in " + data.resolve("manifest.json") + "; no checksum"), r.out());
    assertTrue(r.out().contains("; no checksum to verify (no manifest lists it, and it records no data CRC32C)"), r.out());
    r = InferenceCommandsTest.run("inspect", copy.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith(copy + ": safetensors, ") && r.out().contains("; no checksum to verify"), r.out());
    Files.writeString(data.resolve("manifest.json"), "{ broken");
    r = InferenceCommandsTest.run("inspect", shard.toString());
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains(shard + ": its directory's manifest.json cannot be read, so the file cannot be verified against it"),
        r.err());
    assertFalse(r.out().contains("F32"), r.out());
  }
}
