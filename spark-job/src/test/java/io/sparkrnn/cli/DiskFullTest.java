package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.InferenceCommandsTest.Run;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.testing.FullDiskFileSystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 16, item 3: a full disk names the file, says whether a checkpoint is intact, exits 2; leftovers go at the next start. */
class DiskFullTest {
  @TempDir Path tmp;

  @AfterEach
  void refill() {
    FullDiskFileSystem.BUDGET.set(Long.MAX_VALUE);
    FullDiskFileSystem.failListingBeside = null;
  }

  private Run train(Path out, String... more) throws IOException {
    Path data = tmp.resolve("sine");
    if (!Files.exists(data)) {
      Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(data.toUri(), 8, 0.2, true, false),
          new Configuration());
    }
    String[] base = {"train", "--data", data.toString(), "--out", "full://" + out, "--cell", "gru", "--hidden-size", "4",
        "--batch", "8", "--steps", "4", "--checkpoint-every", "2", "--validate-every", "0", "--master", "local[1]"};
    String[] all = new String[base.length + more.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return run(all);
  }

  private static long checkpointBytes(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir.resolve("checkpoints"))) {
      return s.filter(p -> p.getFileName().toString().startsWith("step-")).mapToLong(p -> p.toFile().length()).max()
          .orElseThrow();
    }
  }

  /**
   * The run lock (README: one run per --out, released also when the run fails) is released when
   * train fails after taking it and before Spark starts, here in removing an interrupted run's
   * temporaries, whose listing of --out meets an I/O error: a later run must not find the lock of
   * a run that has ended (a stale lock of this host's live JVM is never taken over).
   */
  @Test
  void theLockIsReleasedWhenCleaningUpBeforeSparkFails() throws IOException {
    Path out = tmp.resolve("cleanup-fails");
    FullDiskFileSystem.failListingBeside = ".spark-rnn.lock";
    Run r = train(out);
    assertTrue(r.code() != 0, "the run went on past a failed listing: " + r.out());
    assertTrue(r.err().contains("Input/output error"), r.err());
    assertTrue(Files.isDirectory(out), "the lock was taken: --out exists");
    assertFalse(Files.exists(out.resolve(".spark-rnn.lock")), "the lock stays after a run that failed before Spark");
  }

  @Test
  void aFullDiskNamesTheFileSaysWhatIsIntactAndExitsTwo() throws IOException {
    // the size of one checkpoint, from a run with room
    Path roomy = tmp.resolve("roomy");
    Run ok = train(roomy);
    assertEquals(0, ok.code(), ok.err());
    long checkpoint = checkpointBytes(roomy);

    // room for the lock and nothing like a checkpoint: the first checkpoint write fails
    Path first = tmp.resolve("first");
    FullDiskFileSystem.BUDGET.set(checkpoint / 2);
    Run r = train(first);
    assertFails(r, first.resolve("checkpoints").toString(), "could not be written", "No space left on device",
        "No checkpoint was written yet");
    assertFalse(r.err().contains("Exception in thread"), r.err());

    // room for the first checkpoint (and the lock and metrics), not for the second
    Path second = tmp.resolve("second");
    FullDiskFileSystem.BUDGET.set(checkpoint + checkpoint / 2);
    Run r2 = train(second);
    assertFails(r2, "could not be written", "No space left on device", "step-0000000002.safetensors, is intact",
        "--resume true");

    // the next start (with room again) removes what the failed writes left, then resumes
    FullDiskFileSystem.BUDGET.set(Long.MAX_VALUE);
    Files.writeString(second.resolve("checkpoints").resolve(".step-0000000004.safetensors.tmp-"
        + "01234567-89ab-cdef-0123-456789abcdef"), "half a checkpoint");
    Run resumed = train(second, "--resume", "true");
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.out().contains("removed 1 temporary file"), resumed.out());
    try (Stream<Path> s = Files.walk(second)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporary file left");
    }
  }

  /**
   * export writes the weights, then their config: a config the disk has no room for leaves no
   * weights behind, which predict or a PyTorch load would take without their config (an export is
   * the pair). The disk here has room for the weights (their size from an export with room) and 8
   * bytes more, less than any config.
   */
  @Test
  void anExportWhoseConfigCannotBeWrittenLeavesNoWeights() throws IOException {
    Path run = tmp.resolve("model-run");
    Run trained = train(run);
    assertEquals(0, trained.code(), trained.err());
    String model = run.resolve("model.safetensors").toString();
    Path roomy = tmp.resolve("roomy-export.safetensors");
    assertEquals(0, run("export", "--model", model, "--out", roomy.toString()).code());
    assertTrue(Files.size(tmp.resolve("roomy-export.json")) > 8, "a config is more than 8 bytes");
    Path full = Files.createDirectories(tmp.resolve("full-export"));
    FullDiskFileSystem.BUDGET.set(Files.size(roomy) + 8);
    Run r = run("export", "--model", model, "--out", "full://" + full.resolve("x.safetensors"));
    assertFails(r, "x.json", "No space left on device");
    assertFalse(Files.exists(full.resolve("x.safetensors")), "the weights were left without their config");
  }
}
