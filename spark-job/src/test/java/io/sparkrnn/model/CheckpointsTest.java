package io.sparkrnn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Adam;
import io.sparkrnn.kernel.optim.OptimizerState;
import io.sparkrnn.testing.FullDiskFileSystem;
import java.io.IOException;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints: the newest of the kept three is the one resumed, with everything a resume needs, bit for bit. */
class CheckpointsTest {
  @TempDir
  Path tmp;

  static final ModelConfig LSTM = new ModelConfig(CellType.LSTM, 2, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);

  /** What the run holds after {@code steps} steps: weights from seed steps, Adam after that many steps, carried states. */
  record Held(Params params, OptimizerState optimizer, float[] h, float[] c) {}

  static Held held(int steps) {
    Params p = Params.initialize(LSTM, steps);
    Adam adam = new Adam(0.01, 0.9, 0.999, 1e-8, 0, false);
    float[] g = new float[p.values().length];
    for (int s = 0; s < steps; s++) {
      for (int i = 0; i < g.length; i++) {
        g[i] = (float) Math.sin(i + 10 * s);
      }
      adam.step(p.values(), g);
    }
    int n = 2 * 4 * 3; // L · B · H with B = 4
    float[] h = new float[n], c = new float[n];
    for (int i = 0; i < n; i++) {
      h[i] = steps + i / 100f;
      c[i] = -steps - i / 100f;
    }
    return new Held(p, adam.state(), h, c);
  }

  @Test
  void theNewestCheckpointIsLoadedWithWeightsOptimizerAndCarriedStatesAndOnlyTheNewestThreeStay() throws IOException {
    OutputDir out = new OutputDir(tmp.resolve("run").toUri().toString(), new Configuration());
    Checkpoints checkpoints = new Checkpoints(out);
    assertNull(checkpoints.loadLatest(), "no checkpoint yet");
    for (int step : new int[] {2, 4, 6, 8}) {
      Held h = held(step);
      checkpoints.save(step, h.params(), h.optimizer(), h.h(), h.c(), Map.of("seed", "42", "steps", Integer.toString(step)));
    }
    assertEquals(List.of("step-0000000004.safetensors", "step-0000000006.safetensors", "step-0000000008.safetensors"),
        out.list(Checkpoints.DIR, "step-", ".safetensors"), "the newest three kept");

    Checkpoints.Saved s = checkpoints.loadLatest();
    Held expected = held(8);
    assertEquals(8, s.completedSteps());
    assertArrayEquals(expected.params().values(), s.params().values(), "weights after step 8");
    assertEquals(8, s.optimizer().step(), "Adam's step count");
    assertEquals(expected.optimizer().bufferNames(), s.optimizer().bufferNames());
    for (String b : expected.optimizer().bufferNames()) {
      assertArrayEquals(expected.optimizer().buffer(b), s.optimizer().buffer(b), b);
    }
    assertArrayEquals(expected.h(), s.carriedH(), "tbptt.h");
    assertArrayEquals(expected.c(), s.carriedC(), "tbptt.c");
    assertEquals(Map.of("seed", "42", "steps", "8"), s.trainConfig());
  }

  @Test
  void aCheckpointWhoseWriteFailsLeavesTheLastOneWholeAndNoFileOfItsName() throws IOException {
    OutputDir out = new OutputDir("full://" + tmp.resolve("full-run"), new Configuration());
    Checkpoints checkpoints = new Checkpoints(out);
    Held two = held(2);
    checkpoints.save(2, two.params(), two.optimizer(), two.h(), two.c(), Map.of("seed", "42"));
    long size = out.read(Checkpoints.DIR + "/" + Checkpoints.fileName(2)).length;
    Held four = held(4);
    FullDiskFileSystem.BUDGET.set(size / 2); // the disk fills half way through the next checkpoint
    try {
      assertThrows(IOException.class,
          () -> checkpoints.save(4, four.params(), four.optimizer(), four.h(), four.c(), Map.of("seed", "42")));
    } finally {
      FullDiskFileSystem.BUDGET.set(Long.MAX_VALUE);
    }
    assertEquals(List.of(Checkpoints.fileName(2)), out.list(Checkpoints.DIR, "step-", ".safetensors"),
        "no step-4 file, half written or not, under its own name");
    Checkpoints.Saved s = checkpoints.loadLatest();
    assertEquals(2, s.completedSteps());
    assertArrayEquals(two.params().values(), s.params().values());
  }

  /**
   * A damaged newest checkpoint (truncated: a disk error, a copy cut short) is refused as bad input
   * naming it, and the message names the one before it, which is whole, and how to resume from it;
   * moved away as told, the previous one is loaded. With no earlier one, the damage alone is named.
   */
  @Test
  void aDamagedNewestCheckpointNamesThePreviousOneAndTheWayToIt() throws IOException {
    OutputDir out = new OutputDir(tmp.resolve("damaged").toUri().toString(), new Configuration());
    Checkpoints checkpoints = new Checkpoints(out);
    for (int step : new int[] {2, 4}) {
      Held h = held(step);
      checkpoints.save(step, h.params(), h.optimizer(), h.h(), h.c(), Map.of("seed", "42"));
    }
    Path dir = tmp.resolve("damaged").resolve(Checkpoints.DIR);
    Path four = dir.resolve(Checkpoints.fileName(4));
    byte[] whole = Files.readAllBytes(four);
    Files.write(four, Arrays.copyOf(whole, whole.length / 2));
    Files.deleteIfExists(dir.resolve("." + four.getFileName() + ".crc"));   // as a copy without Hadoop's checksums
    Exception e = assertThrows(Exception.class, checkpoints::loadLatest);
    assertTrue(e instanceof BadInputException, e.toString());
    assertTrue(e.getMessage().contains(four.getFileName().toString()), e.getMessage());
    assertTrue(e.getMessage().contains("(the newest checkpoint; the one before it, ") && e.getMessage().endsWith(
        Checkpoints.fileName(2) + ", is kept: if this one is damaged, move it out of checkpoints/ to resume from that one)"),
        e.getMessage());
    // a step count that does not parse (one byte flipped in the metadata): the same, not a NumberFormatException
    String step = "\"" + Checkpoints.KEY_STEP + "\":\"4\"";
    String bytes = new String(whole, StandardCharsets.ISO_8859_1);
    assertTrue(bytes.contains(step), "the step in the header");
    byte[] flipped = bytes.replace(step, step.replace("4", "n")).getBytes(StandardCharsets.ISO_8859_1);
    Files.write(four, flipped);
    Exception steps = assertThrows(BadInputException.class, checkpoints::loadLatest);
    assertTrue(steps.getMessage().contains(four.getFileName() + ": __metadata__ completed_steps or train_config is not valid")
        && steps.getMessage().contains("is not valid") && steps.getMessage().contains("the one before it, "), steps.getMessage());
    Files.move(four, tmp.resolve(four.getFileName()));
    assertEquals(2, checkpoints.loadLatest().completedSteps());
    // the only checkpoint damaged: nothing before it to name
    Path two = dir.resolve(Checkpoints.fileName(2));
    Files.write(two, Arrays.copyOf(Files.readAllBytes(two), 40));
    Files.deleteIfExists(dir.resolve("." + two.getFileName() + ".crc"));
    Exception only = assertThrows(Exception.class, checkpoints::loadLatest);
    assertTrue(only.getMessage().contains(two.getFileName().toString()) && !only.getMessage().contains("the one before it"),
        only.getMessage());
  }

  /**
   * The local disk under the scheme {@code reversed://}, listing a directory newest name first:
   * Hadoop's listStatus promises no order (RawLocalFileSystem returns the directory's own order), so
   * "the newest" must come from the names, not from the listing.
   */
  public static class ReversedListingFileSystem extends RawLocalFileSystem {
    @Override
    public URI getUri() {
      return URI.create("reversed:///");
    }

    @Override
    public String getScheme() {
      return "reversed";
    }

    @Override
    public FileStatus[] listStatus(org.apache.hadoop.fs.Path f) throws IOException {
      FileStatus[] a = super.listStatus(f);
      Arrays.sort(a, Comparator.comparing((FileStatus s) -> s.getPath().getName()).reversed());
      return a;
    }

    /** The same for FileContext (which the output folder renames with). */
    public static final class Fs extends DelegateToFileSystem {
      public Fs(URI uri, Configuration conf) throws IOException, URISyntaxException {
        super(uri, new ReversedListingFileSystem(), conf, "reversed", false);
      }
    }
  }

  /** Steps 9 to 12: the names cross no digit count (fixed width), and the listing comes newest first. */
  @Test
  void theNewestIsChosenByStepNumberWhateverOrderTheFileSystemListsIn() throws IOException {
    Configuration conf = new Configuration();
    conf.set("fs.reversed.impl", ReversedListingFileSystem.class.getName());
    conf.set("fs.AbstractFileSystem.reversed.impl", ReversedListingFileSystem.Fs.class.getName());
    conf.setBoolean("fs.reversed.impl.disable.cache", true);
    OutputDir out = new OutputDir("reversed://" + tmp.resolve("reversed-run"), conf);
    Checkpoints checkpoints = new Checkpoints(out);
    for (int step = 9; step <= 12; step++) {
      Held h = held(step);
      checkpoints.save(step, h.params(), h.optimizer(), h.h(), h.c(), Map.of("seed", "42"));
    }
    try (var files = Files.list(tmp.resolve("reversed-run").resolve(Checkpoints.DIR))) {
      assertEquals(List.of("step-0000000010.safetensors", "step-0000000011.safetensors", "step-0000000012.safetensors"),
          files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("step-")).sorted().toList(),
          "the three of the highest steps kept (class javadoc: the newest KEEP = 3)");
    }
    Checkpoints.Saved s = checkpoints.loadLatest();
    assertEquals(12, s.completedSteps());
    assertArrayEquals(held(12).params().values(), s.params().values(), "weights after step 12");
  }

  /** The class javadoc: __metadata__ holds the completed steps and the training configuration; a file without either is refused by name. */
  @Test
  void aCheckpointWithoutItsStepCountOrTrainingConfigurationIsRefusedNamingTheFileAndKey() throws IOException {
    for (String key : List.of(Checkpoints.KEY_STEP, Checkpoints.KEY_TRAIN_CONFIG)) {
      Path dir = tmp.resolve("without-" + key);
      OutputDir out = new OutputDir(dir.toUri().toString(), new Configuration());
      Held two = held(2);
      new Checkpoints(out).save(2, two.params(), two.optimizer(), two.h(), two.c(), Map.of("seed", "42"));
      String name = Checkpoints.DIR + "/" + Checkpoints.fileName(2);
      SafeTensorsFile f = SafeTensors.read(out.read(name), name);
      Map<String, String> meta = new LinkedHashMap<>(f.metadata());
      assertTrue(meta.remove(key) != null, key + " is written: " + meta.keySet());
      out.write(name, SafeTensors.toBytes(meta, f.tensors().values()));   // through OutputDir: its checksum file matches
      BadInputException e = assertThrows(BadInputException.class, () -> new Checkpoints(out).loadLatest(), key);
      assertTrue(e.getMessage().contains(Checkpoints.fileName(2)) && e.getMessage().contains(key), e.getMessage());
    }
  }
}
