package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The class comment's contract, without Spark: a target holding other files and no marker is not
 * an earlier result and is neither replaced nor touched; an earlier result is replaced whole at
 * publish, with nothing left beside it.
 */
class StagedDirectoryTest {
  static final String MARKER = "predictions.json";
  static final Set<String> NAMES = Set.of(MARKER, "shard-00000.safetensors");
  @TempDir Path tmp;

  private static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  /** The names in a directory, sorted (hidden ones included: a staging or .old directory left behind shows). */
  private static List<String> names(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).sorted().toList();
    }
  }

  @Test
  void aDirectoryWithOtherFilesAndNoMarkerIsRefusedAndLeftAsItWas() throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("outs"));
    Path users = Files.createDirectories(parent.resolve("thesis"));
    Files.writeString(users.resolve("chapter-1.tex"), "not ours");
    BadInputException e = assertThrows(BadInputException.class,
        () -> StagedDirectory.begin(users.toString(), new Configuration(), MARKER, NAMES, quiet(), quiet()));
    assertTrue(e.getMessage().contains("holds 1 entry but no " + MARKER) && e.getMessage().contains("refusing to replace it"),
        e.getMessage());
    assertEquals(List.of("chapter-1.tex"), names(users), "the user's directory is untouched");
    assertEquals("not ours", Files.readString(users.resolve("chapter-1.tex")));
    assertEquals(List.of("thesis"), names(parent), "no staging directory beside it");
  }

  /**
   * An earlier run that failed after removing its marker left only files a result holds: that is an
   * earlier result (the class comment), replaced at publish rather than refused.
   */
  @Test
  void aDirectoryHoldingOnlyResultFilesWithoutTheMarkerIsReplaced() throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("outs"));
    Path out = Files.createDirectories(parent.resolve("pred"));
    Files.writeString(out.resolve("shard-00000.safetensors"), "from a failed run");
    Configuration conf = new Configuration();
    try (StagedDirectory staged = StagedDirectory.begin(out.toString(), conf, MARKER, NAMES, quiet(), quiet())) {
      HadoopFiles.write(staged.uri() + "/" + MARKER, "new".getBytes(StandardCharsets.UTF_8), conf);
      staged.publish();
    }
    assertEquals(List.of(MARKER), names(out));
    assertEquals(List.of("pred"), names(parent));
  }

  /**
   * A run killed before close (kill -9) leaves its staging directory beside the target, and one
   * killed within publish the earlier result moved aside: the next run names each in a warning
   * (it said nothing, a user audit) and removes neither, as another run may be writing now; a
   * sibling of another target, or with a name that is not a UUID, is not named.
   */
  @Test
  void whatAKilledRunLeftBesideTheTargetIsNamedAndKept() throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("outs"));
    Path out = parent.resolve("pred");
    String uuid = "0efa2b4c-1d2e-4f30-8a9b-0c1d2e3f4a5b";
    Path staging = Files.createDirectories(parent.resolve(".pred.tmp-" + uuid));
    Path aside = Files.createDirectories(parent.resolve(".pred.old-" + uuid));
    Files.createDirectories(parent.resolve(".pred2.tmp-" + uuid));
    Files.createDirectories(parent.resolve(".pred.tmp-mine"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    try (StagedDirectory staged = StagedDirectory.begin(out.toString(), new Configuration(), MARKER, NAMES, quiet(),
        new PrintStream(log, true, StandardCharsets.UTF_8))) {
      staged.publish();
    }
    List<String> warnings = log.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("warning: ")).toList();
    assertEquals(2, warnings.size(), warnings.toString());
    String all = String.join("\n", warnings);
    assertTrue(all.contains(staging.getFileName() + " was left by a run that did not finish (killed?)"), all);
    assertTrue(all.contains(aside.getFileName() + " holds an earlier result"), all);
    assertTrue(Files.isDirectory(staging) && Files.isDirectory(aside), "neither is removed");
  }

  /** A target whose parent does not exist yet: created with the staging directory, as before the leftovers' check. */
  @Test
  void aTargetBelowFoldersNotYetMadeIsPublished() throws IOException {
    Path out = tmp.resolve("new").resolve("deeper").resolve("pred");
    Configuration conf = new Configuration();
    try (StagedDirectory staged = StagedDirectory.begin(out.toString(), conf, MARKER, NAMES, quiet(), quiet())) {
      HadoopFiles.write(staged.uri() + "/" + MARKER, "new".getBytes(StandardCharsets.UTF_8), conf);
      staged.publish();
    }
    assertEquals(List.of(MARKER), names(out));
    assertEquals(List.of("pred"), names(out.getParent()));
  }

  /** A run that fails before publish: close deletes the staging directory, and the earlier result's other files are as they were. */
  @Test
  void closingWithoutPublishLeavesNothingBesideAndTheTargetsFilesAsTheyWere() throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("outs"));
    Path out = earlierResult(parent);
    Configuration conf = new Configuration();
    try (StagedDirectory staged = StagedDirectory.begin(out.toString(), conf, MARKER, NAMES, quiet(), quiet())) {
      HadoopFiles.write(staged.uri() + "/" + MARKER, "half of a result".getBytes(StandardCharsets.UTF_8), conf);
      // the run fails here: no publish
    }
    assertEquals(List.of("pred"), names(parent), "the staging directory is gone");
    assertEquals(List.of("shard-00000.safetensors"), names(out), "the marker went at the start, so the failed run does not look complete");
    assertEquals("old shard", Files.readString(out.resolve("shard-00000.safetensors")));
  }

  @Test
  void anEarlierResultIsReplacedWholeAtPublishWithNothingLeftBeside() throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("outs"));
    Path out = earlierResult(parent);
    Configuration conf = new Configuration();
    try (StagedDirectory staged = StagedDirectory.begin(out.toString(), conf, MARKER, NAMES, quiet(), quiet())) {
      assertEquals(List.of("shard-00000.safetensors"), names(out), "the earlier marker goes at the start");
      HadoopFiles.write(staged.uri() + "/" + MARKER, "new".getBytes(StandardCharsets.UTF_8), conf);
      assertEquals("old shard", Files.readString(out.resolve("shard-00000.safetensors")), "nothing replaced before publish");
      staged.publish();
    }
    assertEquals(List.of(MARKER), names(out), "the new result alone: the earlier shard went with the earlier result");
    assertEquals("new", Files.readString(out.resolve(MARKER)));
    assertEquals(List.of("pred"), names(parent), "no staging or earlier directory beside it");
  }

  /** outs/pred holding an earlier run's result: its marker and one shard, "old shard". */
  private static Path earlierResult(Path parent) throws IOException {
    Path out = Files.createDirectories(parent.resolve("pred"));
    Files.writeString(out.resolve(MARKER), "old");
    Files.writeString(out.resolve("shard-00000.safetensors"), "old shard");
    return out;
  }
}
