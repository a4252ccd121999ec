package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End to end: prep a periodic text, train a tiny model on Spark, and generate with argmax. */
class PeriodicGenerationTest {
  @TempDir
  Path tmp;

  @Test
  void afterTrainingOnAPeriodicSequenceArgmaxGenerationContinuesThePeriod() throws IOException {
    Path text = tmp.resolve("period.txt");
    Files.writeString(text, "abcde".repeat(120));                    // period 5, 600 characters
    Path data = tmp.resolve("data");
    Path run = tmp.resolve("run");
    InferenceCommandsTest.Run prep = InferenceCommandsTest.run("prep", "text", text.toString(), "--out", data.toString(),
        "--steps", "10", "--stride", "3", "--batch", "32", "--validation-fraction", "0.1");
    assertEquals(0, prep.code(), prep.err());
    InferenceCommandsTest.Run train = InferenceCommandsTest.run("train", "--data", data.toString(), "--out", run.toString(),
        "--cell", "gru", "--hidden-size", "12", "--batch", "32", "--steps", "80", "--lr", "0.05", "--log-every", "1000",
        "--master", "local[1]", "--checkpoint-every", "0");
    assertEquals(0, train.code(), train.err());
    String model = run.resolve("model.safetensors").toString();

    InferenceCommandsTest.Run gen = InferenceCommandsTest.run("generate", "--model", model, "--primer", "cdeab",
        "--steps", "17", "--engine", "reference");
    assertEquals(0, gen.code(), gen.err());
    assertEquals("cdeab" + "cdeabcdeabcdeabcd", gen.out().strip(), "argmax continues the period");

    Path json = tmp.resolve("eval.json");
    InferenceCommandsTest.Run eval = InferenceCommandsTest.run("evaluate", "--model", model, "--data", data.toString(),
        "--split", "validation", "--feedback", "4", "--json", json.toString(), "--master", "local[1]");
    assertEquals(0, eval.code(), eval.err());
    Map<String, Object> j = Json.parseObject(Files.readString(json));
    assertTrue(((Number) j.get("accuracy")).doubleValue() > 0.99, "accuracy " + j.get("accuracy"));
    assertEquals(Math.exp(((Number) j.get("loss")).doubleValue()), ((Number) j.get("perplexity")).doubleValue(), 1e-12,
        "perplexity = exp(mean cross-entropy)");
    assertTrue(((Number) j.get("perplexity")).doubleValue() < 1.2, "perplexity " + j.get("perplexity"));
  }
}
