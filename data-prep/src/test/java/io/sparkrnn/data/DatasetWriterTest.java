package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What DatasetWriter.checkDirectory accepts as an output (its javadoc and docs/data-format.md, --overwrite), and what a failed write leaves. */
class DatasetWriterTest {
  @TempDir java.nio.file.Path tmp;

  /** A dataset of two shards written by DatasetWriter itself. */
  private java.nio.file.Path dataset(String name) throws IOException {
    java.nio.file.Path ds = tmp.resolve(name);
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 2, Mode.SEQ2ONE, LossType.MSE, false, null, null);
    try (DatasetWriter w = DatasetWriter.create(ds.toUri(), TestFiles.localConf(), spec, false)) {
      w.write(0, Split.TRAIN, new Batch(2, 1, 1, new float[2], new float[1], null, null));
      w.write(1, Split.VALIDATION, new Batch(2, 1, 1, new float[2], new float[1], null, null));
      w.commit(null);
    }
    return ds;
  }

  @Test
  void anExistingDatasetIsReplacedOnlyWithOverwrite() throws IOException {
    java.nio.file.Path ds = dataset("ds");
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    Path dir = new Path(ds.toUri());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, dir, false));
    assertTrue(e.getMessage().contains("pass --overwrite"), e.getMessage());
    assertEquals(DatasetWriter.OutputState.DATASET, DatasetWriter.checkDirectory(fs, dir, true));
    assertTrue(Files.exists(ds.resolve(Manifest.FILE_NAME)), "checkDirectory changes nothing");
  }

  /**
   * --overwrite replaces the directory whole: one that holds more than the dataset's manifest and
   * shards, or a manifest.json of another kind, is refused naming what is there (a user audit: a
   * web app's folder with a manifest.json, and notes beside the shards, were deleted). Nothing changes.
   */
  @Test
  void overwriteRefusesADirectoryHoldingMoreThanADataset() throws IOException {
    java.nio.file.Path ds = dataset("ds-notes");
    Files.writeString(ds.resolve("notes.txt"), "precious");
    Files.createDirectories(ds.resolve("results"));
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(ds.toUri()), true));
    assertTrue(e.getMessage().contains("ds-notes") && e.getMessage().endsWith(": --overwrite replaces the dataset directory whole, and it also holds 2 entries that"
        + " are not the dataset's (notes.txt, results/); move them out of it, or choose another --out"), e.getMessage());
    assertEquals("precious", Files.readString(ds.resolve("notes.txt")));
    java.nio.file.Path web = Files.createDirectories(tmp.resolve("webapp"));
    Files.writeString(web.resolve(Manifest.FILE_NAME), "{\"name\": \"my pwa\"}");
    Files.writeString(web.resolve("index.html"), "precious");
    e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(web.toUri()), true));
    assertTrue(e.getMessage().contains("webapp/: holds a manifest.json that is not a spark-rnn dataset's (no \"format\":"
        + " \"spark-rnn-dataset\" in it)")
        && e.getMessage().endsWith("); --overwrite replaces only a dataset it reads, so refusing to touch it"), e.getMessage());
    assertEquals("precious", Files.readString(web.resolve("index.html")));
  }

  /**
   * A prep killed before its manifest (written last) leaves shards and _temporary/: refused with
   * and without --overwrite, and the message says what it is and what to do (it said only "not a
   * dataset; refusing to touch it"); nothing is removed.
   */
  @Test
  void anInterruptedPrepsFolderIsNamedAsSuchWithTheWayOn() throws IOException {
    java.nio.file.Path ds = Files.createDirectories(tmp.resolve("killed"));
    Files.createDirectories(ds.resolve(DatasetWriter.TEMP_DIR).resolve("attempt-1"));
    Files.writeString(ds.resolve("shard-00000.safetensors"), "x");
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    Path dir = new Path(ds.toUri());
    for (boolean overwrite : new boolean[] {false, true}) {
      IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, dir, overwrite));
      assertTrue(e.getMessage().endsWith("exists and is not empty (2 entries, among them the _temporary/ of a prep that did not"
          + " finish, with no manifest.json); remove the directory and run prep again"), e.getMessage());
    }
    assertTrue(Files.exists(ds.resolve("shard-00000.safetensors")), "nothing removed");
    // killed before its first shard: _temporary/ alone, which is not "the shards" (a user audit)
    java.nio.file.Path early = Files.createDirectories(tmp.resolve("killed-early").resolve(DatasetWriter.TEMP_DIR));
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(early.getParent().toUri()), false));
    assertTrue(e.getMessage().endsWith("exists and is not empty (1 entry, the _temporary/ of a prep that did not finish, with no"
        + " manifest.json); remove the directory and run prep again"), e.getMessage());
  }

  /** A shard index is written once: a second write of shard 0 would leave two manifest entries for one file. */
  @Test
  void aShardIndexWrittenTwiceIsRefused() throws IOException {
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 2, Mode.SEQ2ONE, LossType.MSE, false, null, null);
    Batch b = new Batch(2, 1, 1, new float[2], new float[1], null, null);
    try (DatasetWriter w = DatasetWriter.create(tmp.resolve("twice").toUri(), TestFiles.localConf(), spec, false)) {
      w.write(0, Split.TRAIN, b);
      TestFiles.refused(() -> w.write(0, Split.TRAIN, b), "shard-00000.safetensors written twice");
    }
  }

  /**
   * The class javadoc: on abort what was written is deleted, "and the directory too when this writer
   * created it". An empty directory given as the output was not created here: it stays, empty.
   */
  @Test
  void aFailedWriteIntoAnEmptyDirectoryKeepsTheDirectory() throws IOException {
    java.nio.file.Path out = Files.createDirectories(tmp.resolve("given"));
    DatasetSpec spec = new DatasetSpec("t", 1, 1, 2, Mode.SEQ2ONE, LossType.MSE, false, null, null);
    try (DatasetWriter w = DatasetWriter.create(out.toUri(), TestFiles.localConf(), spec, false)) {
      w.write(0, Split.TRAIN, new Batch(2, 1, 1, new float[2], new float[1], null, null));
      // a NaN in the next shard: the prep fails and close() aborts
      TestFiles.refused(() -> w.write(1, Split.TRAIN, new Batch(2, 1, 1, new float[] {0, Float.NaN}, new float[1], null, null)),
          "x has NaN");
    }
    assertTrue(Files.isDirectory(out), "the user's directory was deleted");
    try (var left = Files.list(out)) {
      assertEquals(List.of(), left.toList(), "what the failed prep wrote is gone");
    }
  }

  @Test
  void overwriteRefusesADatasetWithOneForeignEntryNamingIt() throws IOException {
    java.nio.file.Path ds = dataset("ds-one");
    Files.writeString(ds.resolve("notes.txt"), "precious");
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(ds.toUri()), true));
    assertTrue(e.getMessage().endsWith("it also holds 1 entry that is not the dataset's (notes.txt); move it out of it, or choose"
        + " another --out"), e.getMessage());
  }

  @Test
  void overwriteNamesAtMostFiveForeignEntries() throws IOException {
    java.nio.file.Path ds = dataset("ds-six");
    for (String n : List.of("a", "b", "c", "d", "e", "f")) {
      Files.writeString(ds.resolve(n), "x");
    }
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(ds.toUri()), true));
    assertTrue(e.getMessage().contains("holds 6 entries that are not the dataset's (a, b, c, d, e, …); move them"), e.getMessage());
  }

  @Test
  void hadoopChecksumsOfTheDatasetsFilesAreItsOwn() throws IOException {
    java.nio.file.Path ds = dataset("ds-crc");
    Files.writeString(ds.resolve(".shard-00000.safetensors.crc"), "crc");   // as Hadoop's checksummed local file system leaves them
    Files.writeString(ds.resolve(".shard-00001.safetensors.crc"), "crc");
    FileSystem fs = FileSystems.get(ds.toUri(), TestFiles.localConf());      // prep's own: the raw local disk, which lists them
    assertEquals(DatasetWriter.OutputState.DATASET, DatasetWriter.checkDirectory(fs, new Path(ds.toUri()), true));
  }

  @Test
  void aDatasetOfAnotherFormatVersionIsNamedSo() throws IOException {
    java.nio.file.Path ds = dataset("ds-v99");
    java.nio.file.Path m = ds.resolve(Manifest.FILE_NAME);
    Files.writeString(m, Files.readString(m).replaceFirst("\"format_version\"\\s*:\\s*\\d+", "\"format_version\": 99"));
    FileSystem fs = FileSystem.get(ds.toUri(), TestFiles.localConf());
    IOException e = assertThrows(IOException.class, () -> DatasetWriter.checkDirectory(fs, new Path(ds.toUri()), true));
    assertTrue(e.getMessage().contains("ds-v99/: holds a spark-rnn dataset this version cannot read ("), e.getMessage());
  }
}
