package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator kills {@code example-table} (or any Spark job writing the table) and then runs
 * {@code prep table} on it. Spark's committer had not committed the job: the directory holds only
 * {@code _temporary/} (the tasks' part files under it, no _SUCCESS). prep table answers with Spark's
 * "[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for Parquet. It must be specified manually.", which
 * sends the operator to a schema option prep table does not have, where the cause is a write that
 * did not finish (as prep's own refusal of an unfinished dataset says).
 */
class KilledTableWriteTest {
  @TempDir Path tmp;

  @Test
  void aTableDirectoryHoldingOnlyAnUnfinishedWritesTemporaryIsNamedAsSuch() throws Exception {
    Path table = tmp.resolve("half");
    // what a kill -9 of example-table left (the part file's bytes do not matter: Spark never lists _temporary)
    Path attempt = Files.createDirectories(table.resolve("_temporary/0/_temporary/attempt_202612080007_0000_m_000000_0"));
    Files.write(attempt.resolve("part-00000-3b3a2fc2-c000.snappy.parquet"), new byte[] {'P', 'A', 'R', '1'});
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts",
        "--inputs", "temp", "--steps", "4", "--out", tmp.resolve("ds").toString(), "--master", "local[1]");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("holds only _temporary/, the part files of a write that did not finish"), "the refusal does not say the table's write did not finish: " + r.err());
  }
}
