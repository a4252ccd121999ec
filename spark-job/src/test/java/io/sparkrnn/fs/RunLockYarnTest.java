package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.RunLock.YarnAttempt;
import io.sparkrnn.kernel.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run lock under YARN's driver restarts (spark.yarn.maxAppAttempts): attempt 2 of an
 * application usually starts on another node than attempt 1, whose lock no host check can clear.
 * A later attempt of the same application takes it over; nothing else from another host does.
 * YarnClusterTest takes the same path on a real YARN (the attempts there share one host).
 */
class RunLockYarnTest {
  static final String APP = "application_1796445717399_0001";
  @TempDir Path tmp;

  static void lockOf(Path out, String host, String yarnApplication, int yarnAttempt) throws IOException {
    Files.createDirectories(out);
    Files.writeString(out.resolve(RunLock.NAME), "host=" + host + "\npid=4242\nstarted=2026-12-05T04:39:31Z\n"
        + (yarnApplication == null ? "" : "yarn-application=" + yarnApplication + "\nyarn-attempt=" + yarnAttempt + "\n"));
  }

  @Test
  void theAttemptIsReadFromTheContainerIdWithAndWithoutAnEpoch() {
    assertEquals(new YarnAttempt(APP, 2), YarnAttempt.fromContainerId("container_1796445717399_0001_02_000001"));
    assertEquals(new YarnAttempt(APP, 1), YarnAttempt.fromContainerId("container_e17_1796445717399_0001_01_000001"));
    assertNull(YarnAttempt.fromContainerId(null));
    assertNull(YarnAttempt.fromContainerId("container_1796445717399_0001"));
    assertNull(YarnAttempt.fromContainerId("container_1796445717399_0001_99999999999_000001"), "an attempt beyond an int");
  }

  @Test
  void aLaterAttemptOfTheSameApplicationTakesOverTheLockOfAnEarlierOneOnAnotherHost() throws IOException {
    Path out = tmp.resolve("run");
    lockOf(out, "node-1.example", APP, 1);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    try (RunLock lock = RunLock.acquire(out.toString(), new Configuration(), new PrintStream(log, true, StandardCharsets.UTF_8),
        new YarnAttempt(APP, 2))) {
      String said = log.toString(StandardCharsets.UTF_8);
      assertTrue(said.contains("was left by pid 4242 on host node-1.example") && said.contains("which was attempt 1 of YARN application "
          + APP + ", ended before YARN started this attempt (2); taking the lock over"), said);
      assertEquals(RunLock.NAME, lock.path().getName());
      String mine = Files.readString(out.resolve(RunLock.NAME));
      assertTrue(mine.contains("yarn-application=" + APP + "\nyarn-attempt=2\n"), mine);
    }
  }

  @Test
  void nothingElseFromAnotherHostIsTakenOver() throws IOException {
    Configuration conf = new Configuration();
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    // the same attempt elsewhere (still running, as far as anyone here knows), a later attempt, another
    // application, a run outside YARN
    String[][] owners = {{APP, "2"}, {APP, "3"}, {"application_1796445717399_0002", "1"}, {null, "0"}};
    for (String[] o : owners) {
      Path out = tmp.resolve("held-" + o[0] + "-" + o[1]);
      lockOf(out, "node-1.example", o[0], Integer.parseInt(o[1]));
      String before = Files.readString(out.resolve(RunLock.NAME));
      BadInputException e = assertThrows(BadInputException.class, () -> RunLock.acquire(out.toString(), conf, quiet,
          new YarnAttempt(APP, 2)), "owner " + o[0] + " attempt " + o[1]);
      assertTrue(e.getMessage().contains("is held by pid 4242 on host node-1.example"), e.getMessage());
      assertEquals(before, Files.readString(out.resolve(RunLock.NAME)), "the owner's lock is untouched");
    }
    // and outside YARN an attempt's lock from another host is a lock from another host
    Path out = tmp.resolve("outside");
    lockOf(out, "node-1.example", APP, 1);
    assertThrows(BadInputException.class, () -> RunLock.acquire(out.toString(), conf, quiet, null));
  }
}
