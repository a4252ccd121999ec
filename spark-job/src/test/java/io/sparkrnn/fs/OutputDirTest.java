package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.model.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputDirTest {
  @TempDir Path tmp;

  private static List<String> names(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /**
   * What interrupted writes leave on the local disk: a temporary with its checksum (a kill mid-write)
   * and a temporary's checksum alone (a kill between the two renames of a checksummed file: the
   * data, then ".NAME.crc"; a user audit found one). Both go, and with the orphan the checksum of
   * the file it was renamed over, which is of the replaced bytes (a user audit: a driver killed as
   * metrics.jsonl was rewritten left the run unresumable, a ChecksumException). A finished file's
   * checksum stays.
   */
  @Test
  void staleTemporariesAndOrphanChecksumsAreRemovedAndFinishedFilesKept() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("run").resolve(Checkpoints.DIR));
    String halfWritten = ".step-0000000010.safetensors.tmp-0f8f3a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    String renamed = ".step-0000000020.safetensors.tmp-1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d";
    Files.writeString(dir.resolve(halfWritten), "half");
    Files.writeString(dir.resolve("." + halfWritten + ".crc"), "crc");
    Files.writeString(dir.resolve("." + renamed + ".crc"), "crc of a file renamed away");
    Files.writeString(dir.resolve("step-0000000020.safetensors"), "done");
    Files.writeString(dir.resolve(".step-0000000020.safetensors.crc"), "crc of the bytes the rename replaced");
    Files.writeString(dir.resolve("step-0000000030.safetensors"), "done");
    Files.writeString(dir.resolve(".step-0000000030.safetensors.crc"), "its crc");
    OutputDir out = new OutputDir(tmp.resolve("run").toUri().toString(), new Configuration());
    assertEquals(2, out.removeStaleTemporaries(Checkpoints.DIR));
    assertEquals(List.of(".step-0000000030.safetensors.crc", "step-0000000020.safetensors", "step-0000000030.safetensors"),
        names(dir));
    assertEquals(0, out.removeStaleTemporaries(Checkpoints.DIR));
  }

  /** A run without checkpoints yet: a subfolder that is not there has no temporaries, and is not an error. */
  @Test
  void aMissingSubfolderHasNoStaleTemporaries() throws IOException {
    Files.createDirectories(tmp.resolve("run"));
    OutputDir out = new OutputDir(tmp.resolve("run").toUri().toString(), new Configuration());
    assertEquals(0, out.removeStaleTemporaries(Checkpoints.DIR));
    assertEquals(List.of(), names(tmp.resolve("run")));
  }

  /** deleteTree (what --overwrite uses on checkpoints/) removes a folder with its files, and a missing one is no error. */
  @Test
  void deleteTreeRemovesAFolderWithWhatItHolds() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("run").resolve(Checkpoints.DIR));
    Files.writeString(dir.resolve("step-0000000002.safetensors"), "a");
    Files.writeString(dir.resolve("step-0000000004.safetensors"), "b");
    Files.writeString(tmp.resolve("run").resolve("notes.txt"), "mine");
    OutputDir out = new OutputDir(tmp.resolve("run").toUri().toString(), new Configuration());
    out.deleteTree(Checkpoints.DIR);
    assertEquals(List.of("notes.txt"), names(tmp.resolve("run")));
    out.deleteTree(Checkpoints.DIR);
    assertEquals(List.of("notes.txt"), names(tmp.resolve("run")));
  }

  /** list's contract: files of the folder matching prefix*suffix, sorted; other suffixes, folders and temporaries left out. */
  @Test
  void listNamesTheFilesWithThePrefixAndSuffixSortedAndNothingElse() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("run").resolve("sub"));
    for (String n : new String[] {"step-2.safetensors", "step-10.safetensors", "step-1.safetensors.bak", "step-3.json", "other.safetensors",
        ".step-4.safetensors.tmp-0f8f3a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}) {
      Files.writeString(dir.resolve(n), n);
    }
    Files.createDirectories(dir.resolve("step-5.safetensors"));
    OutputDir out = new OutputDir(tmp.resolve("run").toUri().toString(), new Configuration());
    // sorted as strings: "step-10" before "step-2"
    assertEquals(List.of("step-10.safetensors", "step-2.safetensors"), out.list("sub", "step-", ".safetensors"));
    assertEquals(List.of(), out.list("missing", "step-", ".safetensors"), "a missing folder lists nothing");
  }
}
