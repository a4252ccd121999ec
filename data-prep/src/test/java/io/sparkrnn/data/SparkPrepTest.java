package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.data.spark.SparkPrep;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The distributed prep in Spark local mode (local[2,2]: two threads, a failed task is retried once). */
class SparkPrepTest {
  static JavaSparkContext sc;
  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    SparkConf c = new SparkConf().setMaster("local[2,2]").setAppName("spark-prep-test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false").set("spark.sql.shuffle.partitions", "2");
    sc = new JavaSparkContext(c);
  }

  @AfterAll
  static void stopSpark() {
    if (sc != null) {
      sc.stop();
    }
  }

  private static List<String> listing(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  private static List<String> listingOrEmpty(Path dir) {
    try {
      return listing(dir);
    } catch (IOException ex) {
      return List.of();
    }
  }

  @Test
  void retriedTaskGivesTheSameBytesAsTheLocalPrepWithNoLeftovers() throws IOException {
    SineSource source = new SineSource(new SineSource.Options(16, 11, 42, false, 0.02, 0.1, 0.05, 8));
    Path local = tmp.resolve("local");
    Path spark = tmp.resolve("spark");
    Manifest expected = Prep.run(source, new PrepOptions(local.toUri(), 3, 0.25, true, false), TestFiles.localConf());
    // shard 1's first attempt writes half a temp file and fails; Spark retries it
    Manifest got = SparkPrep.run(sc, source, new PrepOptions(spark.toUri(), 3, 0.25, true, false), 1, 1);
    assertEquals(expected, got);
    assertEquals(listing(local), listing(spark));
    for (ShardInfo s : expected.shards()) {
      assertArrayEquals(Files.readAllBytes(local.resolve(s.file())), Files.readAllBytes(spark.resolve(s.file())), s.file());
    }
    assertEquals(Files.readString(local.resolve(Manifest.FILE_NAME)), Files.readString(spark.resolve(Manifest.FILE_NAME)));
  }

  @Test
  void jobThatFailsLeavesNoDataset() throws Exception {
    SineSource source = new SineSource(SineSource.Options.defaults(8, 6, 1));
    Path out = tmp.resolve("failed");
    // local[2,2] allows two attempts; a shard whose every attempt fails fails the job
    Exception e = assertThrows(Exception.class,
        () -> SparkPrep.run(sc, source, new PrepOptions(out.toUri(), 2, 0, false, false), 2, 2));
    assertFalse(Files.exists(out), () -> "left behind: " + listingOrEmpty(out) + " after " + e);
  }

  /** --overwrite of a dataset by a job that fails keeps the old dataset whole (it was deleted before the job ran). */
  @Test
  void aFailedOverwriteKeepsTheOldDataset() throws Exception {
    Path out = tmp.resolve("kept");
    Prep.run(new SineSource(SineSource.Options.defaults(8, 6, 1)), new PrepOptions(out.toUri(), 2, 0, false, false),
        TestFiles.localConf());
    List<String> before = listing(out);
    String manifest = Files.readString(out.resolve(Manifest.FILE_NAME));
    SineSource other = new SineSource(SineSource.Options.defaults(9, 6, 2));
    assertThrows(Exception.class, () -> SparkPrep.run(sc, other, new PrepOptions(out.toUri(), 2, 0, false, true), 2, 2));
    assertEquals(before, listing(out));
    assertEquals(manifest, Files.readString(out.resolve(Manifest.FILE_NAME)));
    try (Stream<Path> beside = Files.list(tmp)) {
      assertEquals(List.of("kept"), beside.map(p -> p.getFileName().toString()).sorted().toList(), "staging left beside it");
    }
    // without the failure the new dataset takes its place
    Manifest replaced = SparkPrep.run(sc, other, new PrepOptions(out.toUri(), 2, 0, false, true), -1, 0);
    assertEquals(9, replaced.spec().steps());
    assertEquals(replaced, Dataset.open(out.toUri(), TestFiles.localConf()).manifest());
  }

  /** The Spark prep refuses what the local one refuses, before any task: docs/data-format.md, "--normalize is refused for one-hot inputs (copy, text)". */
  @Test
  void normalizingTextIsRefusedAsByTheLocalPrepAndWritesNothing() throws IOException {
    Path text = Files.writeString(tmp.resolve("in.txt"), "abcab cab");
    TextSource source = new TextSource(new TextSource.Options(text.toUri().toString(), 3, 0), TestFiles.localConf());
    Path out = tmp.resolve("text");
    assertThrows(BadInputException.class, () -> SparkPrep.run(sc, source, new PrepOptions(out.toUri(), 2, 0, true, false)));
    assertFalse(Files.exists(out), () -> "written: " + listingOrEmpty(out));
  }
}
