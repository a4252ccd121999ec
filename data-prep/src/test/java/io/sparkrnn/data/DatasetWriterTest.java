package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What DatasetWriter.checkDirectory accepts as an output (its javadoc and docs/data-format.md, --overwrite). */
class DatasetWriterTest {
  @TempDir java.nio.file.Path tmp;

  @Test
  void anExistingDatasetIsReplacedOnlyWithOverwrite() throws IOException {
    java.nio.file.Path ds = Files.createDirectories(tmp.resolve("ds"));
    Files.writeString(ds.resolve(Manifest.FILE_NAME), "{}");
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    Path dir = new Path(ds.toUri());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, dir, false));
    assertTrue(e.getMessage().contains("pass --overwrite"), e.getMessage());
    assertEquals(DatasetWriter.OutputState.DATASET, DatasetWriter.checkDirectory(fs, dir, true));
    assertTrue(Files.exists(ds.resolve(Manifest.FILE_NAME)), "checkDirectory changes nothing");
  }
}
