package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FileSystems.requireUsableOutput's refusals on the local disk, as its javadoc lists them: one line
 * naming the option, the path and what is wrong; a path under /dev, /proc or /sys also through a
 * link; a FIFO where a file is wanted. A new path in a writable directory passes.
 */
class FileSystemsOutputTest {
  @TempDir Path tmp;

  private static void usable(Path p, boolean directory) {
    assertDoesNotThrow(() -> FileSystems.requireUsableOutput(p.toString(), TestFiles.localConf(), "--out", directory));
  }

  private static void refused(Path p, boolean directory, String... fragments) {
    TestFiles.refused(() -> FileSystems.requireUsableOutput(p.toString(), TestFiles.localConf(), "--out", directory), fragments);
  }

  @Test
  void newAndEmptyDirectoriesAndNewFilesAreUsable() throws Exception {
    usable(tmp.resolve("a/b/c"), true);
    usable(Files.createDirectories(tmp.resolve("empty")), true);
    usable(tmp.resolve("new/file.json"), false);
    usable(Files.writeString(tmp.resolve("old.json"), "{}"), false); // a file may be replaced
  }

  @Test
  void aFileWhereADirectoryIsWantedAndTheReverseAreRefused() throws Exception {
    Path file = Files.writeString(tmp.resolve("f"), "x");
    refused(file, true, "--out " + file + ": is a regular file, expected a directory");
    refused(tmp, false, "--out " + tmp + ": is a directory, expected a file name");
    refused(file.resolve("sub/x.json"), false, "--out " + file.resolve("sub/x.json") + ": cannot be created: " + file
        + " is a regular file, not a directory");
  }

  @Test
  void aLinkIntoProcIsRefusedAsProcItself() throws Exception {
    Path link = Files.createSymbolicLink(tmp.resolve("proc-link"), Path.of("/proc"));
    refused(link.resolve("out"), true, "lies under /proc (through a link)");
    refused(Path.of("/sys/spark-rnn-out"), true, "--out /sys/spark-rnn-out: lies under /sys,");
  }

  /**
   * A new path under a link to a directory lies inside that directory: train --out dslink/run with
   * dslink -> ds trained into ds/run past the check (a review). A sibling whose name starts with
   * the directory's ("ds2") is not inside it.
   */
  @Test
  void aNewPathUnderALinkLiesInsideTheLinkedDirectory() throws Exception {
    Path ds = Files.createDirectories(tmp.resolve("ds"));
    Path link = Files.createSymbolicLink(tmp.resolve("dslink"), ds);
    Configuration conf = TestFiles.localConf();
    assertTrue(FileSystems.sameOrInside(link.resolve("run").toString(), ds.toString(), conf));
    assertTrue(FileSystems.sameOrInside(link.resolve("a/b/../run").toString(), ds.toString(), conf));
    assertTrue(FileSystems.sameOrInside(link.toString(), ds.toString(), conf));
    assertTrue(FileSystems.sameOrInside(ds.resolve("new/run").toString(), link.toString(), conf));
    assertFalse(FileSystems.sameOrInside(tmp.resolve("ds2/run").toString(), ds.toString(), conf));
    assertDoesNotThrow(() -> FileSystems.requireNotAnInput(tmp.resolve("ds-metrics.json").toString(), conf, "--json", "--data",
        ds.toString()));
    assertFalse(FileSystems.sameOrInside(tmp.resolve("run").toString(), link.toString(), conf));
    TestFiles.refused(() -> FileSystems.requireNotAnInput(link.resolve("new/out.json").toString(), conf, "--json", "--data",
        ds.toString()), "--json " + link.resolve("new/out.json") + ": inside the directory --data reads");
  }

  /** A link that leads nowhere (a missing target, a loop) is said to be one; it read "is a regular file, not a directory" (a review). */
  @Test
  void aLinkThatLeadsNowhereIsNamedAsSuch() throws Exception {
    Path loop = Files.createSymbolicLink(tmp.resolve("loop"), tmp.resolve("loop"));
    Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("gone/away"));
    refused(loop.resolve("run"), true, "--out " + loop.resolve("run") + ": cannot be created: " + loop + " is a link that leads nowhere");
    refused(dangling, true, "--out " + dangling + ": is a link that leads nowhere (its target is missing, or links loop)");
    refused(dangling, false, "is a link that leads nowhere");
  }

  @Test
  void aFifoWhereAFileIsWantedIsRefused() throws Exception {
    Path fifo = tmp.resolve("pipe");
    FileKindTest.mkfifo(fifo);
    refused(fifo, false, "is not a regular file (a FIFO, socket or device)");
  }
}
