package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.InferenceCommandsTest.Run;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * prep --normalization-from: new data normalised with a trained model's (or dataset's) statistics,
 * so that evaluate accepts it, as its own error message advises; and import's warning when a
 * model records none.
 */
class NormalizationFromTest {
  @TempDir Path tmp;

  private static String[] sine(Path out, String seed, String... more) {
    String[] base = {"prep", "sine", "--out", out.toString(), "--steps", "12", "--sequences", "24", "--batch", "8",
        "--seed", seed};
    String[] all = new String[base.length + more.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  @Test
  void newDataTakesTheTrainedModelsStatisticsAndEvaluateAcceptsIt() throws IOException {
    Path a = tmp.resolve("a");
    Path model = tmp.resolve("run");
    assertEquals(0, run(sine(a, "1", "--normalize", "--noise", "0.3")).code());
    Run train = run("train", "--data", a.toString(), "--out", model.toString(), "--cell", "gru", "--hidden-size", "4",
        "--batch", "8", "--steps", "2", "--checkpoint-every", "0", "--validate-every", "0", "--master", "local[1]");
    assertEquals(0, train.code(), train.err());
    Path modelFile = model.resolve("model.safetensors");

    // B: other waves, its own statistics differ from A's, so evaluate refuses it as the error advises
    Path own = tmp.resolve("b-own");
    assertEquals(0, run(sine(own, "2", "--normalize")).code());
    assertFails(run("evaluate", "--model", modelFile.toString(), "--data", own.toString(), "--master", "local[1]"),
        "normalised with", "prepare the data with the model's statistics (prep's --normalize --normalization-from " + modelFile + ")");

    Configuration conf = new Configuration();
    Normalization fromA = Dataset.open(a.toString(), conf).manifest().normalization();
    assertEquals(null, fromA.from(), "A's statistics are its own training split's");
    assertTrue(run("inspect", a.toString()).out().contains("normalized yes (z-score, training split)"));
    assertNotEquals(fromA, Dataset.open(own.toString(), conf).manifest().normalization());
    // the model by its file or its directory (train's --out, as --model takes it; a user audit), or the dataset
    for (Path source : new Path[] {modelFile, model, a}) {
      Path b = tmp.resolve("b-from-" + source.getFileName());
      Run prep = run(sine(b, "2", "--normalize", "--normalization-from", source.toString()));
      assertEquals(0, prep.code(), prep.err());
      Manifest m = Dataset.open(b.toString(), conf).manifest();
      assertEquals(fromA, m.normalization(), "the statistics of " + source);
      // the manifest records where they came from, and inspect says so (it said "training split")
      assertEquals(source.toString(), m.normalization().from());
      Run inspect = run("inspect", b.toString());
      assertEquals(0, inspect.code(), inspect.err());
      assertTrue(inspect.out().contains("normalized yes (z-score, statistics of " + source + ")"), inspect.out());
      // the shards hold (raw - mean) / std with A's statistics: compare with B prepped raw
      Path raw = tmp.resolve("b-raw-" + source.getFileName());
      assertEquals(0, run(sine(raw, "2")).code());
      ShardInfo s0 = m.shards().get(0);
      Batch normalised = Dataset.open(b.toString(), conf).read(s0);
      Dataset rawSet = Dataset.open(raw.toString(), conf);
      Batch rawBatch = rawSet.read(rawSet.manifest().shards().get(0));
      float expected = (float) ((rawBatch.x()[5] - fromA.inputMean()[0]) / fromA.inputStd()[0]);
      assertEquals(expected, normalised.x()[5], "x[5] normalised with A's statistics");
      Run eval = run("evaluate", "--model", modelFile.toString(), "--data", b.toString(), "--master", "local[1]");
      assertEquals(0, eval.code(), eval.err());
    }
    assertFails(run(sine(tmp.resolve("c"), "3", "--normalization-from", a.toString())), "needs --normalize");
    assertFails(run(sine(tmp.resolve("d"), "3", "--normalize", "--normalization-from", own.resolve("nothing").toString())));
    Path rawData = tmp.resolve("plain");
    assertEquals(0, run(sine(rawData, "3")).code());
    assertFails(run(sine(tmp.resolve("e"), "3", "--normalize", "--normalization-from", rawData.toString())),
        "records no normalisation statistics");
    // the adding task has F = 2, A's statistics F = 1: the message names the file they came from
    assertFails(run("prep", "adding", "--out", tmp.resolve("f").toString(), "--steps", "6", "--sequences", "16", "--batch", "8",
        "--normalize", "--normalization-from", a.toString()),
        "--normalization-from " + a + ": its input statistics have 1 features, this dataset has F=2");
  }

  @Test
  void importWithoutStatisticsWarns() throws IOException {
    Path a = tmp.resolve("a");
    Path model = tmp.resolve("run");
    assertEquals(0, run(sine(a, "1", "--normalize")).code());
    assertEquals(0, run("train", "--data", a.toString(), "--out", model.toString(), "--cell", "rnn", "--hidden-size", "3",
        "--batch", "8", "--steps", "1", "--checkpoint-every", "0", "--validate-every", "0", "--master", "local[1]").code());
    Path exported = tmp.resolve("exported");
    assertEquals(0, run("export", "--model", model.resolve("model.safetensors").toString(), "--out", exported.toString())
        .code());
    Run withConfig = run("import", "--torch", exported.resolve("model.safetensors").toString(), "--config",
        exported.resolve("config.json").toString(), "--out", tmp.resolve("with-config.safetensors").toString());
    assertEquals(0, withConfig.code(), withConfig.err());
    assertTrue(!withConfig.err().contains("records no normalisation"), "the export's JSON carries them: " + withConfig.err());
    // a state dict as PyTorch's save_file writes it: the tensors, no spark-rnn metadata
    SafeTensorsFile f = SafeTensors.read(
        Files.readAllBytes(exported.resolve("model.safetensors")), "exported");
    Path plain = tmp.resolve("plain-torch.safetensors");
    Files.write(plain, SafeTensors.toBytes(Map.of(), f.tensors().values()));
    Run inferred = run("import", "--torch", plain.toString(), "--infer", "--mode", "seq2seq", "--loss", "mse", "--out",
        tmp.resolve("inferred.safetensors").toString());
    assertEquals(0, inferred.code(), inferred.err());
    assertTrue(inferred.err().contains("records no normalisation statistics") && inferred.err().contains("import with --config"),
        inferred.err());
    // a --config without statistics (an export of a raw-units model): the warning names it, not --config as the way out
    Path rawData = tmp.resolve("raw-for-export");
    Path rawRun = tmp.resolve("raw-run");
    assertEquals(0, run(sine(rawData, "1")).code());
    assertEquals(0, run("train", "--data", rawData.toString(), "--out", rawRun.toString(), "--cell", "rnn", "--hidden-size", "3",
        "--batch", "8", "--steps", "1", "--checkpoint-every", "0", "--validate-every", "0", "--master", "local[1]").code());
    Path rawExport = tmp.resolve("raw-exported");
    assertEquals(0, run("export", "--model", rawRun.resolve("model.safetensors").toString(), "--out", rawExport.toString()).code());
    Run rawConfig = run("import", "--torch", rawExport.resolve("model.safetensors").toString(), "--config",
        rawExport.resolve("config.json").toString(), "--out", tmp.resolve("raw-config.safetensors").toString());
    assertEquals(0, rawConfig.code(), rawConfig.err());
    assertTrue(rawConfig.err().contains("the --config " + rawExport.resolve("config.json") + " has no \"normalization\" to record")
        && !rawConfig.err().contains("import with --config"), rawConfig.err());
  }
}
