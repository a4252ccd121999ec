package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one atomic write replaces an existing file and leaves no temporary; reads name what is wrong. */
class HadoopFilesTest {
  @TempDir Path tmp;

  @Test
  void aWriteReplacesAnExistingFileAndLeavesOnlyItBehind() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("d"));
    Path f = dir.resolve("report.md");
    Files.writeString(f, "an earlier, longer report");
    Configuration conf = new Configuration();
    HadoopFiles.write(f.toString(), "new".getBytes(StandardCharsets.UTF_8), conf);
    assertEquals("new", Files.readString(f));
    assertEquals("new", new String(HadoopFiles.read(f.toString(), conf), StandardCharsets.UTF_8));
    try (var s = Files.list(dir)) {
      // the file (and a checksum of it, where the file system keeps one): no ".report.md.tmp-UUID"
      assertEquals(List.of("report.md"), s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).sorted().toList());
    }
  }

  /**
   * Through Hadoop's checksummed local file system (OutputDir's) the target's ".NAME.crc" is gone
   * before the rename, which there is two renames (the file, then its checksum): a driver killed
   * between them left new bytes beside the old bytes' checksum, and every later read failed its
   * check (a user audit: a resume's read of metrics.jsonl). Meanwhile the old file reads unchecked;
   * after the write the new one reads with its own checksum.
   */
  @Test
  void aChecksummedWriteRemovesTheTargetsChecksumBeforeTheRename() throws IOException {
    LocalFileSystem fs = FileSystem.getLocal(new Configuration());
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(tmp.resolve("metrics.jsonl").toUri());
    HadoopFiles.write(fs, target, "old rows\n".getBytes(StandardCharsets.UTF_8), null);
    Path crc = tmp.resolve(".metrics.jsonl.crc");
    assertTrue(Files.exists(crc), "Hadoop's local file system keeps a checksum");
    HadoopFiles.write(fs, target, "old rows\nnew rows\n".getBytes(StandardCharsets.UTF_8), () -> {
      assertFalse(Files.exists(crc), "the old bytes' checksum is gone before the rename");
      try (var in = fs.open(target)) {
        assertEquals("old rows\n", new String(in.readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    assertTrue(Files.exists(crc));
    try (var in = fs.open(target)) {
      assertEquals("old rows\nnew rows\n", new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  /**
   * A write the file system refuses (here the rename: the target is a folder that holds a file,
   * which no file may replace) names the target, leaves what was there as it was, and removes its
   * temporary ".NAME.tmp-UUID" (the class comment: "the temporary file is removed on failure").
   */
  @Test
  void aFailedWriteNamesTheTargetAndLeavesNoTemporary() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("d"));
    Path target = Files.createDirectories(dir.resolve("model.safetensors"));
    Files.writeString(target.resolve("inside"), "kept");
    IOException e = assertThrows(HadoopFiles.WriteException.class,
        () -> HadoopFiles.write(target.toString(), "new".getBytes(StandardCharsets.UTF_8), new Configuration()));
    assertTrue(e.getMessage().contains("model.safetensors: could not be written") && e.getMessage().endsWith("model.safetensors is unchanged"),
        e.getMessage());
    assertEquals("kept", Files.readString(target.resolve("inside")));
    try (var s = Files.list(dir)) {
      assertEquals(List.of("model.safetensors"), s.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary left beside it");
    }
  }

  /**
   * On the local disk the write goes through java.nio (Hadoop's local file system forks chmod and
   * readlink per file): a file another tool wrote through Hadoop's checksummed local file system,
   * with its .NAME.crc, is replaced and the checksum removed, so that reader gets the new bytes
   * instead of failing a stale checksum; an empty directory of the target's name is not replaced.
   */
  @Test
  void aLocalWriteOverAFileHadoopWroteDropsItsStaleChecksum() throws IOException {
    Configuration conf = new Configuration();
    Path dir = Files.createDirectories(tmp.resolve("crc"));
    Path f = dir.resolve("model.safetensors");
    LocalFileSystem local = FileSystem.getLocal(conf);
    try (var out = local.create(new org.apache.hadoop.fs.Path(f.toUri()), true)) {
      out.write("an earlier model, checksummed".getBytes(StandardCharsets.UTF_8));
    }
    assertTrue(Files.exists(dir.resolve(".model.safetensors.crc")), "Hadoop's local file system keeps a checksum file");
    HadoopFiles.write(f.toString(), "new".getBytes(StandardCharsets.UTF_8), conf);
    assertFalse(Files.exists(dir.resolve(".model.safetensors.crc")), "the stale checksum is gone");
    try (var in = local.open(new org.apache.hadoop.fs.Path(f.toUri()))) {   // checksummed: a stale .crc would fail the read
      assertEquals("new", new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    try (var s = Files.list(dir)) {
      assertEquals(List.of("model.safetensors"), s.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary left");
    }
    // a failure after the temporary was written (here removing the checksum file, a folder that holds a file) names
    // why, and leaves neither the temporary nor a changed target
    Path blocked = Files.createDirectories(dir.resolve(".model.safetensors.crc"));
    Files.writeString(blocked.resolve("inside"), "kept");
    HadoopFiles.WriteException failed = assertThrows(HadoopFiles.WriteException.class,
        () -> HadoopFiles.write(f.toString(), "newer".getBytes(StandardCharsets.UTF_8), conf));
    assertTrue(failed.getMessage().contains("could not be written (" + blocked + ": a directory that is not empty)"), failed.getMessage());
    assertEquals("new", Files.readString(f));
    try (var s = Files.list(dir)) {
      assertEquals(List.of(".model.safetensors.crc", "model.safetensors"), s.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary left");
    }
    Path empty = Files.createDirectories(dir.resolve("empty.safetensors"));
    assertThrows(HadoopFiles.WriteException.class, () -> HadoopFiles.write(empty.toString(), new byte[1], conf));
    assertTrue(Files.isDirectory(empty), "the directory stays");
  }

  @Test
  void readingAMissingFileOrADirectoryNamesIt() throws IOException {
    Configuration conf = new Configuration();
    String missing = tmp.resolve("none.safetensors").toString();
    FileNotFoundException e = assertThrows(FileNotFoundException.class, () -> HadoopFiles.read(missing, conf));
    assertEquals(missing + ": no such file", e.getMessage());
    String dir = tmp.toString();
    IOException d = assertThrows(IOException.class, () -> HadoopFiles.read(dir, conf));
    assertTrue(d.getMessage().startsWith(dir + ": is a directory"), d.getMessage());
  }
}
