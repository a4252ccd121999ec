package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two runs recovering the same stale lock at once (both started after a kill -9, say a scheduler's
 * retry and a user's --resume): run A reads the dead owner's lock, moves it aside and creates its
 * own; run B, which read the same dead owner's lock a moment earlier, then renames "the stale lock"
 * aside, but what it moves is A's fresh lock. B sees the text changed and refuses, as it should,
 * but A's lock must still be at {@code .spark-rnn.lock}: otherwise A trains without a lock, and a
 * third run on the same --out is let in beside it (and a {@code .stale-UUID} file stays for ever).
 */
class RunLockStaleRaceTest {
  @TempDir Path tmp;

  /** Run A's lock text: a live process of this host (B's rename happens while A runs). */
  static volatile String runALock;

  /**
   * The local disk under {@code race://}: the first rename of the lock file is preceded by run A's
   * whole takeover (the stale lock replaced by A's own), the interleaving that a kill race gives.
   */
  public static class RaceFileSystem extends RawLocalFileSystem {
    private boolean raced;

    @Override
    public URI getUri() {
      return URI.create("race:///");
    }

    @Override
    public String getScheme() {
      return "race";
    }

    @Override
    public boolean rename(org.apache.hadoop.fs.Path src, org.apache.hadoop.fs.Path dst) throws IOException {
      if (!raced && src.getName().equals(RunLock.NAME)) {
        raced = true;
        // run A: moved the stale lock aside, deleted it and created its own, all between B's read and B's rename
        Files.writeString(pathToFile(src).toPath(), runALock);
      }
      return super.rename(src, dst);
    }
  }

  @Test
  void aRunThatLosesTheStaleLockRaceLeavesTheWinnersLockInPlace() throws Exception {
    String host = InetAddress.getLocalHost().getHostName();
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Process runA = new ProcessBuilder("sleep", "600").start();
    try {
      runALock = "host=" + host + "\npid=" + runA.pid() + "\nstarted=" + Instant.now().plusSeconds(600) + "\n";
      Path out = Files.createDirectories(tmp.resolve("run"));
      Files.writeString(out.resolve(RunLock.NAME), "host=" + host + "\npid=" + gone.pid() + "\nstarted=" + Instant.now() + "\n");
      Configuration conf = new Configuration();
      conf.set("fs.race.impl", RaceFileSystem.class.getName());
      conf.setBoolean("fs.race.impl.disable.cache", true);

      BadInputException e = assertThrows(BadInputException.class, () -> RunLock.acquire("race://" + out, conf,
          new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), null));
      assertTrue(e.getMessage().contains("changed while its stale owner"), e.getMessage());

      List<String> left;
      try (var s = Files.list(out)) {
        left = s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).sorted().toList();
      }
      assertEquals(List.of(RunLock.NAME), left, "run B moved run A's live lock aside and left it there: A now runs unlocked");
      assertEquals(runALock, Files.readString(out.resolve(RunLock.NAME)), "run A's lock is untouched");
    } finally {
      runA.destroyForcibly().waitFor();
    }
  }
}
