package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The --sync barrier rendezvous on its own: merge order, identical answers, the handshake (keys,
 * Spark's secret, refusals), bounded handshakes, step timeouts, and a killed wait.
 */
class GradientExchangeTest {
  static final ModelConfig MODEL = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final long NO_TIMEOUT = 600_000;

  static PartitionResult part(int partition, double loss, long count, double[] gradient) {
    // partition p computed virtual partition p alone: the leaf (level 0, index p) of the combine tree
    CombineTree.Block[] blocks = {new CombineTree.Block(0, partition, new GradientSum(loss, count, gradient))};
    return new PartitionResult(partition, blocks, new int[] {partition}, null, null, "jvm",
        "executor-" + partition, 1000L * (partition + 1), null);
  }

  static GradientExchange.Message message(int partition) {
    return new GradientExchange.Message(part(partition, 1, 1, new double[] {1}), true);
  }

  static GradientExchange.Server server(String secret, long stepTimeoutMillis) throws IOException {
    return new GradientExchange.Server("127.0.0.1", "127.0.0.1", 0, secret, stepTimeoutMillis);
  }

  /** P partitions, one parameter, V = P virtual partitions (partition p computes leaf p), batch P. */
  static GradientExchange.Segment segment(int partitions) {
    return new GradientExchange.Segment(MODEL, partitions, 1, partitions, partitions, false);
  }

  @Test
  void everyTaskGetsTheSumOfTheFixedTreeWhateverOrderTheyArriveIn() throws Exception {
    // In float64, (0.1 + 1e20) − 1e20 is 0 and (−1e20 + 1e20) + 0.1 is 0.1: the sum tells the order.
    // The tree over 3 leaves adds (leaf 0 + leaf 1) + leaf 2; it must win over arrival order (2, 1, 0).
    double[][] g = {{0.1}, {1e20}, {-1e20}};
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(7, segment(3));
      Future<?>[] answers = new Future<?>[3];
      for (int p = 2; p >= 0; p--) {
        int partition = p;
        answers[p] = pool.submit(() -> {
          try (GradientExchange.Client c = new GradientExchange.Client(address, 7, 0, partition, () -> false)) {
            return c.exchange(0, new GradientExchange.Message(part(partition, partition + 1.0, 10, g[partition]), partition == 0));
          }
        });
        Thread.sleep(50); // arrive in the order 2, 1, 0
      }
      for (Future<?> f : answers) {
        GradientExchange.StepTotal t = (GradientExchange.StepTotal) f.get();
        assertArrayEquals(new double[] {(0.1 + 1e20) + -1e20}, t.total().gradient(), "merged in the tree's order");
        assertEquals(6.0, t.total().lossSum());
        assertEquals(30, t.total().count());
        assertEquals(3000L, t.computeNanos(), "the slowest partition");
        assertTrue(t.endSegment(), "partition 0 said the segment ends here");
        assertEquals(3, t.devices().size(), t.devices().toString());
      }
      // the driver's traffic: each frame in (step, length, message) and the answer out to each of the 3 tasks (length, total)
      long in = 0;
      for (int p = 0; p < 3; p++) {
        in += 12 + GradientExchange.encode(new GradientExchange.Message(part(p, p + 1.0, 10, g[p]), p == 0)).length;
      }
      long out = 3L * (4 + GradientExchange.encode((GradientExchange.StepTotal) answers[0].get()).length);
      assertEquals(new GradientExchange.Server.Traffic(in, out, 1), server.traffic());
      assertEquals((in + out) / 1.0, server.traffic().bytesPerStep());
      server.finish(7);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aConnectionWithTheWrongKeyOrNoHandshakeIsClosedUnanswered() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(1));
      assertEquals(32, address.key().length, "without Spark authentication: a random 32-byte key per segment");
      byte[] wrongKey = address.key().clone();
      wrongKey[0] ^= 1;
      IOException refused = assertThrows(IOException.class, () -> new GradientExchange.Client(address, wrongKey, 1, 0, 0, () -> false));
      assertTrue(refused.getMessage().contains("refused partition 0 of segment 1"), refused.getMessage());
      // another segment's key does not open this one
      GradientExchange.Address other = server.open(2, segment(1));
      assertThrows(IOException.class, () -> new GradientExchange.Client(other, other.key(), 1, 0, 0, () -> false));
      // garbage instead of a hello is dropped too, and the server still serves the right key
      try (Socket s = new Socket("127.0.0.1", address.port())) {
        new DataOutputStream(s.getOutputStream()).writeUTF("GET / HTTP/1.0\r\n\r\n" + "x".repeat(200));
        assertEquals(-1, drain(s.getInputStream()), "closed after the garbage");
      }
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 0, () -> false)) {
        assertEquals(1.0, c.exchange(0, message(0)).total().gradient()[0]);
      }
    }
  }

  @Test
  void withSparkAuthenticationTheKeyIsDerivedFromSparksSecretAndNeverInTheAddress() throws Exception {
    try (GradientExchange.Server server = server("s3cret", NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(5, segment(1));
      assertNull(address.key(), "nothing secret in the broadcast");
      assertThrows(IOException.class,
          () -> new GradientExchange.Client(address, GradientExchange.keyFromSecret("another secret", 5), 5, 0, 0, () -> false));
      assertThrows(IOException.class,
          () -> new GradientExchange.Client(address, GradientExchange.keyFromSecret("s3cret", 6), 5, 0, 0, () -> false),
          "the key of another segment");
      try (GradientExchange.Client c = new GradientExchange.Client(address, GradientExchange.keyFromSecret("s3cret", 5), 5, 0, 0,
          () -> false)) {
        assertEquals(1.0, c.exchange(0, message(0)).total().gradient()[0]);
      }
    }
  }

  @Test
  void aSecondConnectionForAPartitionAndARepeatedStepAreRefused() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(3, segment(2));
      GradientExchange.Client first = new GradientExchange.Client(address, 3, 0, 1, () -> false);
      try {
        IOException e = assertThrows(IOException.class, () -> new GradientExchange.Client(address, 3, 0, 1, () -> false));
        assertTrue(e.getMessage().contains("refused partition 1"), e.getMessage());
        // the same partition in another stage attempt is another connection
        new GradientExchange.Client(address, 3, 1, 1, () -> false).close();
      } finally {
        first.close();                                   // open until here: the second claim meets it
      }
      GradientExchange.Address one = server.open(4, segment(1));
      try (GradientExchange.Client c = new GradientExchange.Client(one, 4, 0, 0, () -> false)) {
        assertEquals(1.0, c.exchange(0, message(0)).total().gradient()[0]);
        assertThrows(IOException.class, () -> c.exchange(0, message(0)), "step 0 again: the connection is closed");
      }
    }
  }

  @Test
  void aFrameLargerThanTheSegmentAllowsOrForAnotherPartitionIsRefused() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(2));
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 0, () -> false)) {
        // parameterCount is 1: a gradient of 20,000 float64 values is longer than any message of this segment
        assertThrows(IOException.class,
            () -> c.exchange(0, new GradientExchange.Message(part(0, 1, 1, new double[20_000]), true)));
      }
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 1, () -> false)) {
        assertThrows(IOException.class, () -> c.exchange(0, message(0)), "partition 1 sending partition 0's message");
      }
    }
  }

  @Test
  void connectionsInTheirHandshakeAreBoundedBeforeAnyThreadIsGivenToThem() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(1));
      List<Socket> idle = new ArrayList<>();
      try {
        int extra = 8;
        for (int i = 0; i < 4 + GradientExchange.MAX_HANDSHAKES + extra; i++) {
          idle.add(new Socket("127.0.0.1", address.port()));   // never sends a hello
        }
        Thread.sleep(500);
        int closedAtOnce = 0;
        for (Socket s : idle) {
          s.setSoTimeout(50);
          try {
            if (s.getInputStream().read() == -1) {
              closedAtOnce++;
            }
          } catch (java.net.SocketTimeoutException waiting) {
            // in its handshake or queued for one
          }
        }
        assertTrue(closedAtOnce >= extra, "the connections beyond 4 handshaking and " + GradientExchange.MAX_HANDSHAKES
            + " queued are closed at once: " + closedAtOnce);
        long handshakeThreads = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals("spark-rnn-exchange-handshake")).count();
        assertTrue(handshakeThreads <= 4, "at most 4 handshake threads, found " + handshakeThreads);
      } finally {
        for (Socket s : idle) {
          s.close();
        }
      }
      // once the flood is gone, a task gets in
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 0, () -> false)) {
        assertEquals(1.0, c.exchange(0, message(0)).total().gradient()[0]);
      }
    }
  }

  @Test
  void aStepThatDoesNotCompleteWithinTheTimeoutFailsItsWaitingTasks() throws Exception {
    try (GradientExchange.Server server = server(null, 300)) {
      GradientExchange.Address address = server.open(1, segment(2));
      long start = System.nanoTime();
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 0, () -> false)) {
        IOException e = assertThrows(IOException.class, () -> c.exchange(0, message(0)));
        assertTrue(e.getMessage().contains("closed the connection"), e.getMessage());
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      assertTrue(seconds < 20, "ended by the 0.3 s step timeout, not by a kill: " + seconds + " s");
    }
  }

  @Test
  void aTaskWaitingForAPartitionThatNeverComesEndsWhenKilled() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(2));
      long killAt = System.nanoTime() + 300_000_000L;
      try (GradientExchange.Client c = new GradientExchange.Client(address, 1, 0, 0, () -> System.nanoTime() > killAt)) {
        IOException e = assertThrows(IOException.class,
            () -> c.exchange(0, new GradientExchange.Message(part(0, 1, 1, new double[] {1}), false)));
        assertTrue(e.getMessage().startsWith("killed while waiting"), e.getMessage());
      }
    }
  }

  @Test
  void barrierModeRefusesWhereSparkIsAskedToEncrypt() {
    for (String key : new String[] {"spark.network.crypto.enabled", "spark.ssl.enabled"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.checkNoEncryptionAsked(new org.apache.spark.SparkConf(false).set(key, "true")));
      assertTrue(e.getMessage().contains(key) && e.getMessage().contains("--sync job"), e.getMessage());
    }
    Trainer.checkNoEncryptionAsked(new org.apache.spark.SparkConf(false));
  }

  /** Reads until the end of the stream; -1 at the end (a read timeout fails the test). */
  static int drain(InputStream in) throws IOException {
    byte[] buffer = new byte[256];
    while (in.read(buffer) >= 0) {
      // skip what the server sent before closing (its MAGIC and nonce)
    }
    return -1;
  }
}
