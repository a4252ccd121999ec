package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import java.nio.file.Files;
import java.nio.file.Path;
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

  @Test
  void aFifoWhereAFileIsWantedIsRefused() throws Exception {
    Path fifo = tmp.resolve("pipe");
    FileKindTest.mkfifo(fifo);
    refused(fifo, false, "is not a regular file (a FIFO, socket or device)");
  }
}
