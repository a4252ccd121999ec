package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Field;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run lock outside YARN, on this host: the owner is a live process of its own (not this JVM,
 * which HostileUseTest uses), and close removes the lock only while it is still this run's.
 */
class RunLockTest {
  @TempDir Path tmp;

  private static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  private static String host() throws IOException {
    return InetAddress.getLocalHost().getHostName();
  }

  /**
   * A lock written by a process that still runs: it started before it wrote its lock, so its pid
   * is not a reused one. The lock's start time is ten minutes after now: the process start time
   * Java reads on Linux is boot time (whole seconds) plus clock ticks, so it can land a second or
   * so either side of the real start; the margin keeps "started before its lock" true.
   */
  @Test
  void aLockOfALiveProcessOfThisHostIsRefusedAndKept() throws Exception {
    Process owner = new ProcessBuilder("sleep", "600").start();
    try {
      Path out = Files.createDirectories(tmp.resolve("run"));
      String text = "host=" + host() + "\npid=" + owner.pid() + "\nstarted=" + Instant.now().plusSeconds(600) + "\n";
      Files.writeString(out.resolve(RunLock.NAME), text);
      BadInputException e = assertThrows(BadInputException.class,
          () -> RunLock.acquire(out.toString(), new Configuration(), quiet(), null));
      assertTrue(e.getMessage().contains("is held by pid " + owner.pid() + " on host " + host()), e.getMessage());
      assertEquals(text, Files.readString(out.resolve(RunLock.NAME)), "the live owner's lock is untouched");
    } finally {
      owner.destroyForcibly().waitFor();
    }
  }

  /**
   * The class comment's pid reuse: the lock names a pid that a live process has, but that process
   * started after the lock was written (here a day after: far beyond the second or so by which the
   * start time Java reads may be off), so it is not the lock's owner and the lock is stale.
   */
  @Test
  void aLockWhosePidNowBelongsToALaterProcessIsTakenOver() throws Exception {
    Process other = new ProcessBuilder("sleep", "600").start();
    try {
      Path out = Files.createDirectories(tmp.resolve("run"));
      Files.writeString(out.resolve(RunLock.NAME), "host=" + host() + "\npid=" + other.pid() + "\nstarted="
          + Instant.now().minusSeconds(86_400) + "\n");
      ByteArrayOutputStream log = new ByteArrayOutputStream();
      try (RunLock lock = RunLock.acquire(out.toString(), new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8), null)) {
        String said = log.toString(StandardCharsets.UTF_8);
        assertTrue(said.contains("now belongs to a process started later); taking the lock over"), said);
        assertTrue(Files.readString(Path.of(lock.path().toUri())).contains("pid=" + ProcessHandle.current().pid() + "\n"),
            "the lock file names this process");
      }
    } finally {
      other.destroyForcibly().waitFor();
    }
  }

  /** A dead owner's lock is taken over through a uniquely named copy that goes too: only this run's lock is left. */
  @Test
  void aDeadOwnersLockIsTakenOverLeavingNothingButTheNewLock() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Path out = Files.createDirectories(tmp.resolve("run"));
    Files.writeString(out.resolve(RunLock.NAME), "host=" + host() + "\npid=" + gone.pid() + "\nstarted=" + Instant.now() + "\n");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    RunLock lock = RunLock.acquire(out.toString(), new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8), null);
    try {
      assertTrue(log.toString(StandardCharsets.UTF_8).contains("which is no longer running; taking the lock over"), log.toString(StandardCharsets.UTF_8));
      try (var s = Files.list(out)) {
        assertEquals(List.of(RunLock.NAME), s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).toList(),
            "the stale lock's copy (" + RunLock.NAME + ".stale-UUID) was left");
      }
      assertTrue(Files.readString(out.resolve(RunLock.NAME)).contains("pid=" + ProcessHandle.current().pid() + "\n"));
    } finally {
      lock.close();
    }
  }

  @Test
  void closeRemovesTheLockOnlyWhileItIsStillThisRuns() throws IOException {
    Path out = tmp.resolve("run");
    Configuration conf = new Configuration();
    RunLock lock = RunLock.acquire(out.toString(), conf, quiet(), null);
    assertTrue(Files.exists(out.resolve(RunLock.NAME)));
    // another run took it over meanwhile (this one was judged stale): its lock is not ours to remove
    String theirs = "host=elsewhere.example\npid=4242\nstarted=2026-12-05T04:39:31Z\n";
    Files.writeString(out.resolve(RunLock.NAME), theirs);
    lock.close();
    assertTrue(Files.exists(out.resolve(RunLock.NAME)), "close removed another run's lock");
    assertEquals(theirs, Files.readString(out.resolve(RunLock.NAME)), "close removed another run's lock");

    Files.delete(out.resolve(RunLock.NAME));
    RunLock again = RunLock.acquire(out.toString(), conf, quiet(), null);
    assertTrue(Files.exists(out.resolve(RunLock.NAME)));
    again.close();
    assertFalse(Files.exists(out.resolve(RunLock.NAME)), "close removes this run's own lock");
  }

  /**
   * The lock is released by Hadoop's hook manager after the hook that checkpoints a stopped run
   * (StopFlush) and Spark's, before the file systems close; a JVM hook of its own ran beside them.
   */
  @Test
  void theReleaseHookRunsAfterTheCheckpointsAndSparksAndBeforeTheFileSystemsClose() throws IOException {
    RunLock lock = RunLock.acquire(tmp.resolve("hooked").toString(), new Configuration(), quiet(), null);
    try {
      assertTrue(ShutdownHookManager.get().hasShutdownHook(lock.hook));
      // Spark registers its manager with Hadoop's at FileSystem's + 30 (StopFlushTest reads it), StopFlush at + 40
      assertTrue(RunLock.PRIORITY < FileSystem.SHUTDOWN_HOOK_PRIORITY + 30, "below Spark's manager and the stop checkpoint");
      assertTrue(RunLock.PRIORITY > FileSystem.SHUTDOWN_HOOK_PRIORITY, "above the file systems' close");
    } finally {
      lock.close();
    }
    assertFalse(ShutdownHookManager.get().hasShutdownHook(lock.hook), "the hook stays after the run");
  }

  /**
   * A signal as the run starts: the JVM is shutting down when the lock is taken, no hook can be
   * added, and the lock is removed again rather than left behind (a user audit: SIGTERM 1.5 s after
   * launch left it). Hadoop's manager is told a shutdown is in progress for the length of the call.
   */
  @Test
  void aLockTakenWhileTheJvmShutsDownIsRemovedAgain() throws Exception {
    Path out = tmp.resolve("stopping");
    Field flag = ShutdownHookManager.class.getDeclaredField("shutdownInProgress");
    flag.setAccessible(true);
    AtomicBoolean inProgress = (AtomicBoolean) flag.get(ShutdownHookManager.get());
    inProgress.set(true);
    try {
      Exception e = assertThrows(IllegalStateException.class, () -> RunLock.acquire(out.toString(), new Configuration(), quiet(), null));
      assertTrue(e.getMessage().contains("the JVM is shutting down"), e.getMessage());
    } finally {
      inProgress.set(false);
    }
    assertFalse(Files.exists(out.resolve(RunLock.NAME)), "the lock left behind");
  }

  /**
   * A lock that names no owner, here an empty one as a failed write on a full disk left it, is
   * refused with what to do, not as another run's (which it was said to be, for ever).
   */
  @Test
  void anEmptyLockSaysWhatItIsAndWhatToDo() throws IOException {
    Path out = Files.createDirectories(tmp.resolve("empty-lock"));
    Files.write(out.resolve(RunLock.NAME), new byte[0]);
    Exception e = assertThrows(BadInputException.class, () -> RunLock.acquire(out.toString(), new Configuration(), quiet(), null));
    assertTrue(e.getMessage().startsWith("out: ") && e.getMessage().endsWith(RunLock.NAME + " names no owner (it is empty: a run that"
        + " could not write it, on a full disk say); if no training run is using " + out + ", remove the file by hand, then run again"),
        e.getMessage());
  }
}
