package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths with spaces and non-ASCII characters, absolute (a user audit): a dataset directory with a
 * space made inspect, train, evaluate and predict fail with a stack trace (URI.create of Hadoop's
 * path string), and prep into an absolute non-ASCII --out failed with "Bad escape" (the JDK's file
 * URI reader takes only ASCII). Each command here must end with exit 0 and its output in place.
 */
class PathNamesTest {
  @TempDir Path tmp;

  @Test
  void spacesAndNonAsciiNamesWorkInEveryCommandsPaths() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("sp ace/é 日本"));
    String data = root.resolve("a b ds").toString();
    String run = root.resolve("run ü").toString();
    assertEquals(0, Main.run("prep", "sine", "--out", data, "--steps", "10", "--sequences", "40", "--batch", "10"));
    assertTrue(Files.exists(Path.of(data, "manifest.json")));
    assertEquals(0, Main.run("inspect", data));
    assertEquals(0, Main.run("inspect", Path.of(data, "shard-00000.safetensors").toString()));
    assertEquals(0, Main.run("train", "--data", data, "--out", run, "--steps", "1", "--batch", "10", "--hidden-size", "4",
        "--device", "jvm"));
    assertTrue(Files.exists(Path.of(run, "model.safetensors")));
    assertEquals(0, Main.run("evaluate", "--model", run, "--data", data));
    String predictions = root.resolve("pred ä").toString();
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("predict", "--model", run, "--data", data, "--out", predictions);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().matches("(?s).* shards? of file:" + java.util.regex.Pattern.quote(data) + " into .*"), "the dataset as people write it: " + r.out());
    assertTrue(Files.exists(Path.of(predictions, "predictions.json")));
  }
}
