package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/data-format.md: a prep --overwrite killed between its two renames leaves the old dataset in
 * {@code .NAME.old-UUID}, "the only copy if NAME is gone". The next prep says so; inspect and train
 * on NAME say only "not a dataset: no manifest.json (no such directory)", so an operator whose job
 * was killed is told the data is not there while it sits beside NAME under another name.
 */
class InterruptedOverwriteLeftoverTest {
  @TempDir Path tmp;

  @Test
  void inspectAndTrainOnAMissingDatasetNameTheOldCopyAnInterruptedOverwriteLeftBesideIt() throws Exception {
    Path ds = tmp.resolve("sine");
    Prep.run(new SineSource(SineSource.Options.defaults(32, 10, 1)), new PrepOptions(ds.toUri(), 8, 0.1, false, false),
        new Configuration());
    // the state a kill between the overwrite's renames leaves: the old dataset moved aside, the new one not yet in place
    Path old = tmp.resolve(".sine.old-" + UUID.randomUUID());
    Files.move(ds, old);

    InferenceCommandsTest.Run inspect = InferenceCommandsTest.run("inspect", ds.toString());
    assertEquals(2, inspect.code(), inspect.err());
    assertTrue(inspect.err().contains(old.getFileName().toString()), "inspect does not name the old copy beside it: " + inspect.err());

    InferenceCommandsTest.Run train = InferenceCommandsTest.run("train", "--data", ds.toString(), "--out", tmp.resolve("run").toString(),
        "--steps", "1", "--master", "local[1]");
    assertEquals(2, train.code(), train.err());
    assertTrue(train.err().contains(old.getFileName().toString()), "train does not name the old copy beside it: " + train.err());
  }
}
