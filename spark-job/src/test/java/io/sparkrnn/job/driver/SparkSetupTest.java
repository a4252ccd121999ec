package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.testing.Ports;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.junit.jupiter.api.Test;

/**
 * SparkSetup's contract (its class comment): for a local master every socket on 127.0.0.1 and no
 * web UI unless asked for, Kryo with registration required; and the bounds its master check
 * documents (MAX_LOCAL_THREADS task threads at most; local[N,F]'s F may be 0).
 */
class SparkSetupTest {

  /**
   * While a context stops, the local executor's logger is at ERROR: a heartbeat sent then finds the
   * driver's HeartbeatReceiver gone and logged a warning with a 25-line trace after runs that went
   * well. The listener bus delivers the application's end inside stop, before the executor stops;
   * the logger is back at its level (WARN, the root's) after stop, and while the context runs.
   */
  /**
   * A spark:// master nothing listens at is refused at once, naming it (a user audit: Spark tried
   * for 60 s, gave up and stopped the context under train, which then hung); one of an HA list that
   * answers is enough. The free port is one just bound and closed, which nothing else took.
   */
  @Test
  void aStandaloneMasterThatDoesNotAnswerIsRefusedBeforeSparkStarts() throws IOException {
    int free = Ports.free();
    BadInputException e = assertThrows(BadInputException.class, () -> SparkSetup.requireReachableMaster("spark://127.0.0.1:" + free));
    assertTrue(e.getMessage().startsWith("--master spark://127.0.0.1:" + free + ": no Spark master accepts connections at 127.0.0.1:"
        + free + " ("), e.getMessage());
    assertTrue(e.getMessage().contains("is it running? sbin/start-master.sh prints its URL"), e.getMessage());
    try (ServerSocket master = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = master.getLocalPort();
      SparkSetup.requireReachableMaster("spark://127.0.0.1:" + port);
      SparkSetup.requireReachableMaster("spark://127.0.0.1:" + free + ",127.0.0.1:" + port);
    }
    e = assertThrows(BadInputException.class, () -> SparkSetup.requireReachableMaster("spark://127.0.0.1:77x"));
    assertEquals("--master spark://127.0.0.1:77x: '127.0.0.1:77x' is not HOST:PORT", e.getMessage());
    SparkSetup.requireReachableMaster("local[2]");   // not a standalone master: nothing to reach
  }

  /**
   * requireKnownMaster, which train, predict and evaluate call before their lock, refuses a
   * spark:// master nothing listens at, not only a URL Spark cannot parse; a host no name server
   * knows (.invalid never resolves, RFC 6761) is said to be unknown, each master of an HA list
   * named with its own reason.
   */
  @Test
  void aStandaloneMasterIsReachedBeforeTheLockAndAnUnknownHostIsNamed() throws IOException {
    int free = Ports.free();
    BadInputException e = assertThrows(BadInputException.class, () -> SparkSetup.requireKnownMaster("spark://127.0.0.1:" + free));
    assertTrue(e.getMessage().startsWith("--master spark://127.0.0.1:" + free + ": no Spark master accepts connections at "),
        e.getMessage());
    String ha = "spark://no-such-host.invalid:7077,127.0.0.1:" + free;
    e = assertThrows(BadInputException.class, () -> SparkSetup.requireReachableMaster(ha));
    assertTrue(e.getMessage().startsWith("--master " + ha + ": no Spark master accepts connections at no-such-host.invalid:7077"
        + " (unknown host), 127.0.0.1:" + free + " ("), e.getMessage());
  }

  /**
   * A master that accepted a connection is not connected to again (a command checks it before its
   * lock, then SparkSetup.start checks it again): once reached, the same URL passes after its
   * listener has gone; another URL is still checked.
   */
  @Test
  void aMasterReachedOnceIsNotConnectedToAgain() throws IOException {
    String url;
    try (ServerSocket master = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      url = "spark://127.0.0.1:" + master.getLocalPort();
      SparkSetup.requireReachableMaster(url);
    }
    SparkSetup.requireReachableMaster(url);   // nothing listens now: passes only without a second connection
    SparkSetup.requireKnownMaster(url);
    int free = Ports.free();
    assertThrows(BadInputException.class, () -> SparkSetup.requireReachableMaster("spark://127.0.0.1:" + free));
  }

  @Test
  void theLocalExecutorsWarningsAreLeftOutWhileTheContextStopsOnly() {
    Level[] duringStop = new Level[1];
    Level running;
    JavaSparkContext sc = SparkSetup.start("spark-setup test", "local[1]");
    try {
      sc.sc().addSparkListener(new SparkListener() {
        @Override
        public void onApplicationEnd(SparkListenerApplicationEnd end) {
          duringStop[0] = LogManager.getLogger(SparkSetup.EXECUTOR_LOGGER).getLevel();
        }
      });
      running = LogManager.getLogger(SparkSetup.EXECUTOR_LOGGER).getLevel();
    } finally {
      sc.close();
    }
    assertEquals(Level.WARN, running, "conf/log4j2.properties' root level while the context runs");
    assertEquals(Level.ERROR, duringStop[0], "during stop");
    assertEquals(Level.WARN, LogManager.getLogger(SparkSetup.EXECUTOR_LOGGER).getLevel(), "after stop");
    // conf/log4j2.properties gives the executor's logger a filter and no level: it inherits the root's
    // again, so a later root level reaches it (setLevel(WARN) would have pinned it)
    LoggerConfig own = LoggerContext.getContext(false).getConfiguration().getLoggers().get(SparkSetup.EXECUTOR_LOGGER);
    assertEquals(null, own.getExplicitLevel(), "inherits again");
  }

  /** The stop runs, and a stop that fails still gives the logger back its level; its failure is the caller's. */
  @Test
  void aStopThatFailsStillGivesTheLoggerBack() {
    boolean[] stopped = {false};
    SparkSetup.stopQuietly(() -> stopped[0] = true);
    assertTrue(stopped[0]);
    assertThrows(IllegalStateException.class, () -> SparkSetup.stopQuietly(() -> {
      throw new IllegalStateException("the stop's own failure is the caller's");
    }));
    assertEquals(Level.WARN, LogManager.getLogger(SparkSetup.EXECUTOR_LOGGER).getLevel(), "restored after a failed stop too");
  }

  @Test
  void aLocalContextListensOnLoopbackOnlyWithoutAWebUi() {
    for (String key : new String[] {"spark.driver.host", "spark.driver.bindAddress", "spark.ui.enabled", "spark.master"}) {
      assertTrue(System.getProperty(key) == null, "the test needs " + key + " unset in this JVM, found " + System.getProperty(key));
    }
    try (JavaSparkContext sc = SparkSetup.start("spark-setup test", "local[1]")) {
      SparkConf conf = sc.getConf();
      assertEquals("127.0.0.1", conf.get("spark.driver.host"), "advertised driver address");
      assertEquals("127.0.0.1", conf.get("spark.driver.bindAddress"), "the address the driver's sockets listen on");
      assertEquals("false", conf.get("spark.ui.enabled"), "no web UI on a local master");
      assertTrue(sc.sc().uiWebUrl().isEmpty(), "no UI started: " + sc.sc().uiWebUrl());
      assertEquals("true", conf.get("spark.kryo.registrationRequired"), "an unregistered class is an error");
      assertEquals("org.apache.spark.serializer.KryoSerializer", conf.get("spark.serializer"));
    }
  }

  @Test
  void localMasterCountsAreCheckedAgainstTheirDocumentedBounds() {
    int max = SparkSetup.MAX_LOCAL_THREADS;
    SparkSetup.requireKnownMaster("local[" + max + "]");           // the most task threads a local master may name
    SparkSetup.requireKnownMaster("local[2," + 0 + "]");            // task failures: 0 allowed (Spark takes it as 1)
    SparkSetup.requireKnownMaster("local-cluster[1," + max + ",1024]");
    for (String master : new String[] {"local[" + (max + 1) + "]", "local[" + (max + 1) + ",2]", "local-cluster[1," + (max + 1) + ",1024]",
        "local-cluster[" + (max + 1) + ",1,1024]", "local-cluster[1,1,0]"}) {
      BadInputException e = assertThrows(BadInputException.class, () -> SparkSetup.requireKnownMaster(master), master);
      assertTrue(e.getMessage().startsWith("--master " + master + ": ") && e.getMessage().contains(" is out of range; expected "),
          e.getMessage());
    }
  }

  /**
   * local-cluster[N,C,M]: M MiB per worker must hold an executor (spark.executor.memory, 1g = 1024
   * MiB by default), which Spark checked only once its context started, with a stack trace (a user
   * audit); a master Spark does not know lists local-cluster among those it does.
   */
  @Test
  void aLocalClusterWorkerSmallerThanAnExecutorIsRefusedBeforeSparkStarts() {
    SparkSetup.requireKnownMaster("local-cluster[2,1,1024]");
    BadInputException e = assertThrows(BadInputException.class, () -> SparkSetup.requireKnownMaster("local-cluster[2,1,1023]"));
    assertTrue(e.getMessage().startsWith("--master local-cluster[2,1,1023]: 1023 MiB per worker is less than an executor's 1024 MiB"),
        e.getMessage());
    BadInputException unknown = assertThrows(BadInputException.class, () -> SparkSetup.requireKnownMaster("local-cluster[2,1]"));
    assertTrue(unknown.getMessage().contains("local-cluster[N,C,M]"), unknown.getMessage());
  }

  /**
   * Spark's refusal of a small driver heap (its message as Spark 4 gives it under -Xmx384m, from a
   * user audit) becomes one line naming what raises the heap of bin/spark-rnn's JVM, in MB: 402653184
   * bytes = 384 MB, 471859200 bytes = 450 MB (it advised --driver-memory, which bin/spark-rnn lacks).
   */
  @Test
  void aHeapTooSmallForSparkIsBadInputNamingTheSetting() {
    SparkConf conf = new SparkConf().setMaster("local[2]");
    RuntimeException e = SparkSetup.masterError(conf, new IllegalArgumentException("[INVALID_DRIVER_MEMORY] System memory 402653184"
        + " must be at least 471859200. Please increase heap size using the --driver-memory option or \"spark.driver.memory\" in"
        + " Spark configuration."));
    assertTrue(e instanceof BadInputException, e.toString());
    assertEquals("the driver's JVM has 384 MB of heap, and Spark needs at least 450 MB: raise it, for bin/spark-rnn with"
        + " SPARK_RNN_JAVA_OPTS=-Xmx1g (spark-submit: --driver-memory 1g)", e.getMessage());
    RuntimeException other = SparkSetup.masterError(conf, new IllegalStateException("something else"));
    assertEquals("something else", other.getMessage());
    // checked before the context starts (Spark logged its refusal at ERROR first), with Spark's test setting of the memory it sees
    BadInputException before = assertThrows(BadInputException.class,
        () -> SparkSetup.requireHeap(new SparkConf(false).set("spark.testing.memory", "402653184")));
    assertTrue(before.getMessage().startsWith("the driver's JVM has 384 MB of heap, and Spark needs at least 450 MB"), before.getMessage());
    SparkSetup.requireHeap(new SparkConf(false).set("spark.testing.memory", "471859200"));   // the minimum itself passes
    // Spark's tests reserve nothing (spark.testing), and so require nothing
    SparkSetup.requireHeap(new SparkConf(false).set("spark.testing.memory", "402653184").set("spark.testing", "true"));
  }
}
