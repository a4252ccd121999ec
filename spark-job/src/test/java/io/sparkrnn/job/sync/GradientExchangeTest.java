package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.VirtualPartitions;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.BufferUnderflowException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The --sync barrier exchange without Spark: the tree's shape, the reduced total against the
 * driver's own merge, bytes through the driver, carried states, data errors, the handshakes
 * (keys, Spark's secret, refusals at the driver and at a parent task), bounded handshakes, step
 * timeouts and a killed wait.
 */
class GradientExchangeTest {
  static final ModelConfig MODEL = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final long NO_TIMEOUT = 600_000;
  static final String HOST = "127.0.0.1";

  static GradientExchange.Server server(String secret, long stepTimeoutMillis) throws IOException {
    return new GradientExchange.Server(HOST, HOST, 0, secret, stepTimeoutMillis);
  }

  /** P partitions, n parameters, V virtual partitions, batch V (one sequence per virtual partition), no carry. */
  static GradientExchange.Segment segment(int partitions, int parameters, int leaves) {
    return new GradientExchange.Segment(MODEL, partitions, parameters, leaves, leaves, false);
  }

  /** Partition p's result for a step: the blocks of its run of virtual partitions, whose leaf sums are given. */
  static PartitionResult part(GradientExchange.Segment s, int partition, GradientSum[] leafSums) {
    VirtualPartitions cut = new VirtualPartitions(s.batch(), s.virtualPartitions());
    int a = cut.firstLeaf(partition, s.partitions());
    int b = cut.firstLeaf(partition + 1, s.partitions());
    GradientSum[] mine = new GradientSum[b - a];
    for (int i = a; i < b; i++) {
      mine[i - a] = copy(leafSums[i]);
    }
    int[] positions = IntStream.range(cut.start(a), cut.start(b)).toArray();
    return new PartitionResult(partition, CombineTree.blocks(s.virtualPartitions(), a, mine).toArray(new CombineTree.Block[0]), positions,
        null, null, "jvm", "executor-" + partition, 1000L * (partition + 1), null);
  }

  static GradientSum copy(GradientSum g) {
    return new GradientSum(g.lossSum(), g.count(), g.gradient().clone());
  }

  static GradientSum[] randomLeaves(int leaves, int parameters, long seed) {
    Random r = new Random(seed);
    GradientSum[] out = new GradientSum[leaves];
    for (int i = 0; i < leaves; i++) {
      double[] g = new double[parameters];
      for (int j = 0; j < parameters; j++) {
        g[j] = r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6);  // magnitudes 1e-6..1e5: the sum's bits depend on the order
      }
      out[i] = new GradientSum(r.nextDouble(), 1 + r.nextInt(100), g);
    }
    return out;
  }

  /** Runs the P tasks of a segment on threads, each its steps' messages; returns each task's totals [partition][step]. */
  static GradientExchange.StepTotal[][] runTasks(GradientExchange.Address address, long segmentId, GradientExchange.Segment s,
      GradientExchange.Message[][] messages) throws Exception {
    int P = s.partitions();
    ExecutorService pool = Executors.newFixedThreadPool(P);
    try {
      List<Future<GradientExchange.StepTotal[]>> futures = new ArrayList<>();
      for (int p = P - 1; p >= 0; p--) {                 // start the leaves first: the order tasks start in must not matter
        int partition = p;
        futures.add(0, pool.submit(() -> {
          try (TreeReduce.Node node = new TreeReduce.Node(address, GradientExchange.keyOf(address, segmentId), segmentId, 0, partition, s,
              HOST, () -> false)) {
            GradientExchange.StepTotal[] totals = new GradientExchange.StepTotal[messages[partition].length];
            for (int step = 0; step < totals.length; step++) {
              totals[step] = node.exchange(step, messages[partition][step]);
            }
            return totals;
          }
        }));
      }
      GradientExchange.StepTotal[][] out = new GradientExchange.StepTotal[P][];
      for (int p = 0; p < P; p++) {
        out[p] = futures.get(p).get();
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /** One step of the given segment with these leaf sums; every task's total. */
  static GradientExchange.StepTotal[] oneStep(GradientExchange.Server server, long segmentId, GradientExchange.Segment s,
      GradientSum[] leaves) throws Exception {
    GradientExchange.Address address = server.open(segmentId, s);
    GradientExchange.Message[][] messages = new GradientExchange.Message[s.partitions()][1];
    for (int p = 0; p < s.partitions(); p++) {
      messages[p][0] = new GradientExchange.Message(part(s, p, leaves), p == 0);
    }
    GradientExchange.StepTotal[][] totals = runTasks(address, segmentId, s, messages);
    server.finish(segmentId);
    GradientExchange.StepTotal[] step = new GradientExchange.StepTotal[s.partitions()];
    for (int p = 0; p < step.length; p++) {
      step[p] = totals[p][0];
    }
    return step;
  }

  @Test
  void everyNodeAddsTwoContiguousHalvesAndEveryTaskGetsTheTotalOnce() {
    for (int P = 1; P <= 70; P++) {
      int[] streamsIn = new int[P];
      int[] streamsOut = new int[P];
      int[] totals = new int[P];
      for (int t = 0; t < P; t++) {
        TreeReduce.Place place = TreeReduce.place(t, P);
        assertEquals(t < P - 1, place.hosts(), "P=" + P + ": every task but the last hosts a node");
        if (place.hosts()) {
          // the node [lo, hi) is split at t + 1 into two contiguous halves, its sources
          assertEquals(t + 1, TreeReduce.split(place.lo(), place.hi()), "P=" + P + ", task " + t);
          assertEquals(place.lo(), place.left().first());
          assertEquals(place.left().end(), place.right().first());
          assertEquals(place.hi(), place.right().end());
          for (TreeReduce.Source s : new TreeReduce.Source[] {place.left(), place.right()}) {
            TreeReduce.Place from = TreeReduce.place(s.task(), P);
            // the source's stream is addressed to this node: its own part, or its node's part
            assertEquals(t, s.leaf() ? from.leafParent() : from.hostedParent(), "P=" + P + ": source " + s + " of task " + t);
            if (s.leaf()) {
              assertEquals(s.first() + 1, s.end());
            } else {
              assertEquals(s.first(), from.lo());
              assertEquals(s.end(), from.hi());
            }
            if (s.task() != t) {
              streamsIn[t]++;
              streamsOut[s.task()]++;
            }
          }
          if (place.hostedParent() == TreeReduce.DRIVER) {
            assertEquals(0, place.lo());
            assertEquals(P, place.hi(), "P=" + P + ": the node whose part goes to the driver is the root");
            assertEquals(TreeReduce.top(P), t);
          }
          if (Integer.bitCount(P) == 1) {
            int size = place.hi() - place.lo();
            assertEquals(1, Integer.bitCount(size), "P=" + P + ": aligned nodes");
            assertEquals(0, place.lo() % size, "P=" + P + ": aligned nodes");
          }
        }
        if (place.downFrom() == TreeReduce.DRIVER) {
          totals[t]++;
        }
        for (int below : place.downTo()) {
          totals[below]++;
          assertEquals(t, TreeReduce.place(below, P).downFrom(), "P=" + P + ": task " + below + " waits for the total from " + t);
        }
      }
      int log2 = 32 - Integer.numberOfLeadingZeros(P - 1);
      for (int t = 0; t < P; t++) {
        assertEquals(1, totals[t], "P=" + P + ": task " + t + " receives the total exactly once");
        assertTrue(streamsIn[t] <= 2 && streamsOut[t] <= 2, "P=" + P + ": task " + t + " has at most two streams in and two out");
      }
      assertTrue(TreeReduce.depth(P) <= log2 + 1, "P=" + P + ": depth " + TreeReduce.depth(P));
    }
  }

  @Test
  void everyTaskGetsTheDriversOwnMergeBitForBitOverSeveralChunks() throws Exception {
    // 5 tasks over 8 virtual partitions (runs of 1 or 2 leaves, not aligned to the combine tree), a gradient of 2.5 chunks:
    // the reference is StepMerge.total, the --sync job merge on the driver, whose order the tree must reproduce
    int n = 2 * TreeReduce.CHUNK + 1234;
    GradientExchange.Segment s = segment(5, n, 8);
    GradientSum[] leaves = randomLeaves(8, n, 42);
    List<PartitionResult> all = new ArrayList<>();
    for (int p = 0; p < 5; p++) {
      all.add(part(s, p, leaves));
    }
    GradientSum expected = StepMerge.total(all, 8);
    GradientSum naive = copy(leaves[0]);
    for (int i = 1; i < 8; i++) {
      naive.merge(leaves[i]);
    }
    assertTrue(!Arrays.equals(naive.gradient(), expected.gradient()), "the fixture is order-sensitive: left-to-right differs from the tree");
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.StepTotal[] totals = oneStep(server, 1, s, leaves);
      for (int p = 0; p < 5; p++) {
        GradientExchange.StepTotal t = totals[p];
        assertArrayEquals(expected.gradient(), t.total().gradient(), "partition " + p);
        assertEquals(expected.lossSum(), t.total().lossSum());
        assertEquals(expected.count(), t.total().count());
        assertEquals(5000L, t.computeNanos(), "the slowest partition");
        assertTrue(t.endSegment(), "partition 0 said the segment ends here");
        assertEquals(5, t.devices().size(), t.devices().toString());
        assertNull(t.dataError());
      }
    }
  }

  @Test
  void bytesThroughTheDriverPerStepDoNotGrowWithThePartitionCount() throws Exception {
    int n = 50_000;
    double[] perStep = new double[2];
    int[] counts = {2, 8};
    for (int i = 0; i < 2; i++) {
      try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
        oneStep(server, 1, segment(counts[i], n, 8), randomLeaves(8, n, 7));
        assertEquals(1, server.traffic().steps());
        perStep[i] = server.traffic().bytesPerStep();
      }
    }
    // one float64 gradient in (the root's) and one out (the total), plus headers; a star took P in and P out
    for (double b : perStep) {
      assertTrue(b >= 2 * 8.0 * n && b < 2 * 8.0 * n + 4096, "bytes per step: " + b);
    }
    assertTrue(perStep[1] <= 1.2 * perStep[0], "P=8 " + perStep[1] + " against P=2 " + perStep[0]);
  }

  @Test
  void carriedStatesComeBackInBatchOrderAndADataErrorReachesEveryTask() throws Exception {
    GradientExchange.Segment s = new GradientExchange.Segment(MODEL, 3, 4, 3, 3, true);
    GradientSum[] leaves = randomLeaves(3, 4, 3);
    GradientExchange.Message[][] messages = new GradientExchange.Message[3][2];
    for (int p = 0; p < 3; p++) {
      PartitionResult r = part(s, p, leaves);
      // sequence at position i ends in h = (10i, 10i + 1): one layer, H = 2
      float[] h = {10f * p, 10f * p + 1};
      messages[p][0] = new GradientExchange.Message(new PartitionResult(p, r.blocks(), r.positions(), h, null, r.device(), r.executor(),
          r.computeNanos(), null), false);
      messages[p][1] = new GradientExchange.Message(p == 2
          ? PartitionResult.failed(2, "executor-2", "shard 7: bad CRC")
          : new PartitionResult(p, part(s, p, leaves).blocks(), r.positions(), h, null, r.device(), r.executor(), 1, null), false);
    }
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.StepTotal[][] totals = runTasks(server.open(9, s), 9, s, messages);
      for (int p = 0; p < 3; p++) {
        assertArrayEquals(new float[] {0, 1, 10, 11, 20, 21}, totals[p][0].carriedH());
        assertNull(totals[p][0].carriedC());
        assertTrue(!totals[p][0].endSegment());
        GradientExchange.StepTotal failed = totals[p][1];
        assertNull(failed.total());
        assertTrue(failed.endSegment(), "a data error ends the segment");
        assertTrue(failed.dataError().startsWith("step 2, partition 2 on executor executor-2: shard 7: bad CRC"), failed.dataError());
      }
    }
  }

  /** A one-partition segment through the driver (a Node of P = 1 is the tree's top at once): the server still serves. */
  static double soloStep(GradientExchange.Address address, byte[] key, long segmentId) throws IOException {
    GradientExchange.Segment one = segment(1, 1, 1);
    try (TreeReduce.Node node = new TreeReduce.Node(address, key, segmentId, 0, 0, one, HOST, () -> false)) {
      return node.exchange(0, new GradientExchange.Message(part(one, 0, new GradientSum[] {new GradientSum(1, 1, new double[] {1})}),
          true)).total().gradient()[0];
    }
  }

  @Test
  void aConnectionWithTheWrongKeyOrNoHandshakeIsClosedUnanswered() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(1, 1, 1));
      assertEquals(32, address.key().length, "without Spark authentication: a random 32-byte key per segment");
      byte[] wrongKey = address.key().clone();
      wrongKey[0] ^= 1;
      IOException refused = assertThrows(IOException.class, () -> new GradientExchange.Client(address, wrongKey, 1, 0, 0, () -> false));
      assertTrue(refused.getMessage().contains("refused partition 0 of segment 1"), refused.getMessage());
      // another segment's key does not open this one
      GradientExchange.Address other = server.open(2, segment(1, 1, 1));
      assertThrows(IOException.class, () -> new GradientExchange.Client(other, other.key(), 1, 0, 0, () -> false));
      // garbage instead of a hello is dropped too, and the server still serves the right key
      try (Socket s = new Socket(HOST, address.port())) {
        new DataOutputStream(s.getOutputStream()).writeUTF("GET / HTTP/1.0\r\n\r\n" + "x".repeat(200));
        assertEquals(-1, drain(s.getInputStream()), "closed after the garbage");
      }
      assertEquals(1.0, soloStep(address, address.key(), 1));
    }
  }

  @Test
  void withSparkAuthenticationTheKeyIsDerivedFromSparksSecretAndNeverInTheAddress() throws Exception {
    try (GradientExchange.Server server = server("s3cret", NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(5, segment(1, 1, 1));
      assertNull(address.key(), "nothing secret in the broadcast");
      assertThrows(IOException.class,
          () -> new GradientExchange.Client(address, GradientExchange.keyFromSecret("another secret", 5), 5, 0, 0, () -> false));
      assertThrows(IOException.class,
          () -> new GradientExchange.Client(address, GradientExchange.keyFromSecret("s3cret", 6), 5, 0, 0, () -> false),
          "the key of another segment");
      assertEquals(1.0, soloStep(address, GradientExchange.keyFromSecret("s3cret", 5), 5));
    }
  }

  @Test
  void aSecondConnectionForAPartitionIsRefused() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(3, segment(2, 1, 2));
      GradientExchange.Client first = new GradientExchange.Client(address, address.key(), 3, 0, 1, () -> false);
      try {
        IOException e = assertThrows(IOException.class, () -> new GradientExchange.Client(address, address.key(), 3, 0, 1, () -> false));
        assertTrue(e.getMessage().contains("refused partition 1"), e.getMessage());
        // the same partition in another stage attempt is another connection
        new GradientExchange.Client(address, address.key(), 3, 1, 1, () -> false).close();
      } finally {
        first.close();                                   // open until here: the second claim meets it
      }
    }
  }

  @Test
  void aParentAdmitsOnlyItsChildrenProvingTheKey() throws Exception {
    GradientExchange.Segment s = segment(2, 1, 2);
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(4, s);
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        Future<TreeReduce.Node> root = pool.submit(() -> new TreeReduce.Node(address, address.key(), 4, 0, 0, s, HOST, () -> false));
        // partition 1 joins at the driver and learns where partition 0 listens: 0 hosts the node [0, 2), 1 is its right half
        GradientExchange.Joined joined;
        try (GradientExchange.Client driver = new GradientExchange.Client(address, address.key(), 4, 0, 1, () -> false)) {
          joined = driver.join(HOST, -1);
        }
        assertEquals(HOST, joined.hosts()[0]);
        assertEquals(-1, joined.ports()[1], "partition 1 takes no connections");
        byte[] wrongKey = address.key().clone();
        wrongKey[5] ^= 1;
        int asOwnPart = 2 * 1 + TreeReduce.LEAF;
        IOException wrong = assertThrows(IOException.class, () -> helloAt(joined, wrongKey, 4, 0, asOwnPart));
        assertTrue(wrong.getMessage().contains("refused partition " + asOwnPart), wrong.getMessage());
        assertThrows(IOException.class, () -> helloAt(joined, address.key(), 4, 0, 2 * 0 + TreeReduce.LEAF),
            "partition 0 is not a source of its own node over the network");
        assertThrows(IOException.class, () -> helloAt(joined, address.key(), 4, 0, 2 * 1 + TreeReduce.NODE),
            "partition 1 hosts no node whose part partition 0 takes");
        assertThrows(IOException.class, () -> helloAt(joined, address.key(), 4, 1, asOwnPart), "another stage attempt");
        Socket child = helloAt(joined, address.key(), 4, 0, asOwnPart);
        TreeReduce.Node node = root.get();
        // admitted: partition 0's listener is closed now, nobody else gets in
        assertThrows(IOException.class, () -> helloAt(joined, address.key(), 4, 0, asOwnPart));
        node.close();
        child.close();
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void aStrangerDrippingBytesIntoAHostsHandshakeIsCutOffAndTheRealSourceGetsIn() throws Exception {
    GradientExchange.Segment s = segment(2, 1, 2);
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(11, s);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        Future<TreeReduce.Node> root = pool.submit(() -> new TreeReduce.Node(address, address.key(), 11, 0, 0, s, HOST, () -> false));
        GradientExchange.Joined joined;
        try (GradientExchange.Client driver = new GradientExchange.Client(address, address.key(), 11, 0, 1, () -> false)) {
          joined = driver.join(HOST, -1);
        }
        // a byte every 300 ms: each read's own timeout (10 s) never fires, only the handshake's absolute limit (2 s) does
        // (the count of bytes it got to write tells which, not a clock: about 7 against the limit,
        // all 100, 30 s of dripping, without it)
        Socket stranger = new Socket(joined.hosts()[0], joined.ports()[0]);
        Future<Integer> cutOff = pool.submit(() -> {
          int written = 0;
          try (stranger) {
            for (; written < 100; written++) {
              stranger.getOutputStream().write(0);
              Thread.sleep(300);
            }
          } catch (IOException closed) {
            // the server hung up: written is how far it got
          }
          return written;
        });
        Thread.sleep(200);
        Socket child = helloAt(joined, address.key(), 11, 0, 2 * 1 + TreeReduce.LEAF);
        TreeReduce.Node node = root.get();                 // the real source got in
        int written = cutOff.get();
        assertTrue(written < 100, "the stranger was never cut off: it wrote all " + written + " bytes");
        node.close();
        child.close();
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** Connects to partition 0 where the rendezvous says it listens and says hello as {@code claim} (2·partition + role); the socket, admitted. */
  static Socket helloAt(GradientExchange.Joined joined, byte[] key, long segmentId, int attempt, int claim) throws IOException {
    Socket s = new Socket(joined.hosts()[0], joined.ports()[0]);
    s.setSoTimeout(10_000);
    GradientExchange.sayHello(s, key, segmentId, attempt, claim, "partition 0");
    return s;
  }

  /** A segment of two where partition 1 (the right half of partition 0's node) is played by hand: joined and admitted, then whatever the test does. */
  static void withSilentChild(GradientExchange.Server server, long segmentId, BooleanSupplier killed, ThrowingConsumer<Socket> child,
      ThrowingConsumer<TreeReduce.Node> root) throws Exception {
    GradientExchange.Segment s = segment(2, 1, 2);
    GradientExchange.Address address = server.open(segmentId, s);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<TreeReduce.Node> node = pool.submit(() -> new TreeReduce.Node(address, address.key(), segmentId, 0, 0, s, HOST, killed));
      GradientExchange.Joined joined;
      try (GradientExchange.Client driver = new GradientExchange.Client(address, address.key(), segmentId, 0, 1, () -> false)) {
        joined = driver.join(HOST, -1);
      }
      try (Socket c = helloAt(joined, address.key(), segmentId, 0, 2 * 1 + TreeReduce.LEAF); TreeReduce.Node n = node.get()) {
        child.accept(c);
        root.accept(n);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  interface ThrowingConsumer<T> {
    void accept(T t) throws Exception;
  }

  static GradientExchange.Message rootMessage() {
    GradientExchange.Segment s = segment(2, 1, 2);
    return new GradientExchange.Message(part(s, 0, new GradientSum[] {new GradientSum(1, 1, new double[] {1}),
        new GradientSum(1, 1, new double[] {2})}), false);
  }

  @Test
  @Timeout(60) // without the step timeout the root would wait for ever
  void aChildThatNeverSendsItsPartFailsTheStepAtTheTimeout() throws Exception {
    try (GradientExchange.Server server = server(null, 300)) {
      withSilentChild(server, 6, () -> false, child -> { }, root -> {
        IOException e = assertThrows(IOException.class, () -> root.exchange(0, rootMessage()));
        assertTrue(e.getMessage().startsWith("timed out waiting for partition 1"), e.getMessage());
      });
    }
  }

  @Test
  @Timeout(60) // without the kill check the root would wait for ever (no step timeout here)
  void aTaskWaitingForAChildEndsWhenKilled() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      long killAt = System.nanoTime() + 300_000_000L;
      withSilentChild(server, 6, () -> System.nanoTime() > killAt, child -> { }, root -> {
        IOException e = assertThrows(IOException.class, () -> root.exchange(0, rootMessage()));
        assertTrue(e.getMessage().startsWith("killed while waiting for partition 1"), e.getMessage());
      });
    }
  }

  @Test
  void aChildsFrameLargerThanTheSegmentAllowsOrForAnotherStepIsRefused() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      withSilentChild(server, 6, () -> false, child -> {
        DataOutputStream out = new DataOutputStream(child.getOutputStream());
        out.writeLong(0);
        out.writeInt(Integer.MAX_VALUE);                   // a header of 2 GB
        out.flush();
      }, root -> {
        IOException e = assertThrows(IOException.class, () -> root.exchange(0, rootMessage()));
        assertTrue(e.getMessage().contains("partition 1 sent a frame of 2147483647 bytes"), e.getMessage());
      });
      withSilentChild(server, 7, () -> false, child -> {
        DataOutputStream out = new DataOutputStream(child.getOutputStream());
        out.writeLong(5);
        out.flush();
      }, root -> {
        IOException e = assertThrows(IOException.class, () -> root.exchange(0, rootMessage()));
        assertTrue(e.getMessage().contains("partition 1 sent step 5 while partition 0 is at step 0"), e.getMessage());
      });
    }
  }

  @Test
  void aRendezvousThatNeverCompletesFailsAtTheTimeout() throws Exception {
    try (GradientExchange.Server server = server(null, 300)) {
      GradientExchange.Segment s = segment(2, 1, 2);
      GradientExchange.Address address = server.open(8, s);
      // partition 1 never comes: the driver closes partition 0's connection at the step timeout
      IOException e = assertThrows(IOException.class, () -> new TreeReduce.Node(address, address.key(), 8, 0, 0, s, HOST, () -> false));
      assertTrue(e.getMessage().contains("the driver closed the connection"), e.getMessage());
    }
  }

  @Test
  void connectionsInTheirHandshakeAreBoundedBeforeAnyThreadIsGivenToThem() throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(1, segment(1, 1, 1));
      List<Socket> idle = new ArrayList<>();
      try {
        int extra = 8;
        for (int i = 0; i < 4 + GradientExchange.MAX_HANDSHAKES + extra; i++) {
          idle.add(new Socket(HOST, address.port()));   // never sends a hello
        }
        Thread.sleep(500);
        int closedAtOnce = 0;
        for (Socket s : idle) {
          s.setSoTimeout(50);
          try {
            if (s.getInputStream().read() == -1) {
              closedAtOnce++;
            }
          } catch (SocketTimeoutException waiting) {
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
      // once the flood is gone, a task gets in: at once where the server has already dropped the closed sockets,
      // after they drain from its handshake queue where it has not (a CI run under load was turned away once, EOF)
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (true) {
        try {
          assertEquals(1.0, soloStep(address, address.key(), 1));
          break;
        } catch (IOException turnedAway) {
          if (System.nanoTime() > deadline) {
            throw turnedAway;
          }
          Thread.sleep(100);
        }
      }
    }
  }

  @Test
  void barrierModeRefusesWhereSparkIsAskedToEncrypt() {
    for (String key : new String[] {"spark.network.crypto.enabled", "spark.ssl.enabled"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> GradientExchange.checkNoEncryptionAsked(new SparkConf(false).set(key, "true")));
      assertTrue(e.getMessage().contains(key) && e.getMessage().contains("--sync job"), e.getMessage());
    }
    GradientExchange.checkNoEncryptionAsked(new SparkConf(false));
  }

  /** Reads until the end of the stream; -1 at the end (a read timeout fails the test). */
  static int drain(InputStream in) throws IOException {
    byte[] buffer = new byte[256];
    while (in.read(buffer) >= 0) {
      // skip what the server sent before closing (its MAGIC and nonce)
    }
    return -1;
  }

  @Test
  void theDriverRefusesAPartitionOutOfRangeAndAStageAttemptAboveTheHighest() throws Exception {
    // the class comment: the driver refuses "a partition out of range"; MAX_STAGE_ATTEMPT is "the highest stage attempt admitted"
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(12, segment(2, 1, 2));
      for (int partition : new int[] {2, -1}) {                 // P = 2: partitions 0 and 1 only
        IOException e = assertThrows(IOException.class,
            () -> new GradientExchange.Client(address, address.key(), 12, 0, partition, () -> false), "partition " + partition);
        assertTrue(e.getMessage().contains("refused partition " + partition), e.getMessage());
      }
      int above = GradientExchange.MAX_STAGE_ATTEMPT + 1;
      IOException e = assertThrows(IOException.class, () -> new GradientExchange.Client(address, address.key(), 12, above, 0, () -> false));
      assertTrue(e.getMessage().contains("refused partition 0"), e.getMessage());
      // the highest attempt itself and the last partition are admitted
      new GradientExchange.Client(address, address.key(), 12, GradientExchange.MAX_STAGE_ATTEMPT, 1, () -> false).close();
    }
  }

  /** The root host's step to the driver, by the wire format of TreeReduce: step, header frame, then the gradient's values. */
  static void sendRootPart(TreeReduce.Link up, long step, PartitionResult result) throws IOException {
    TreeReduce.Part part = TreeReduce.Part.of(result, false);
    up.writeLong(step);
    up.writeFrame(TreeReduce.encode(part));
    double[] g = part.blocks()[0].sum().gradient();
    up.writeDoubles(g, 0, g.length);
    up.flush();
  }

  @Test
  @Timeout(60)
  void theDriverAnswersEachStepOnceAndDropsAStepThatIsNotAfterTheLast() throws Exception {
    // the class comment: the driver refuses "a step not after the last one" (a replayed or reordered step)
    GradientExchange.Segment one = segment(1, 1, 1);
    PartitionResult result = part(one, 0, new GradientSum[] {new GradientSum(0.5, 2, new double[] {3})});
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(13, one);
      try (GradientExchange.Client root = new GradientExchange.Client(address, address.key(), 13, 0, 0, () -> false)) {
        root.join(HOST, -1);                                   // P = 1: partition 0 hosts the root; its link stays open for the steps
        TreeReduce.Link up = root.link();
        sendRootPart(up, 0, result);
        TreeReduce.Down down = TreeReduce.decodeDown(up.readFrame(1 << 20));
        double[] total = new double[1];
        up.readDoubles(total, 0, 1);
        // one partition: the total is its own sum
        assertEquals(0.5, down.lossSum());
        assertEquals(2, down.count());
        assertEquals(3.0, total[0]);
        assertThrows(IOException.class, () -> {
          sendRootPart(up, 0, result);                          // step 0 again
          up.readFrame(1 << 20);
        }, "the driver closes the connection instead of answering step 0 twice");
      }
      assertEquals(1, server.traffic().steps(), "one step answered");
    }
  }

  /**
   * From the root's host the driver takes exactly the root of the tree (one block, at the tree's
   * depth, index 0) and, under carry, the states of every sequence of the batch. A part that passes
   * wrongPart (its blocks inside its own leaves, its states the size of its positions) but is not
   * that is a protocol error: the driver closes the link and answers no step. V = 2 leaves, P = 1:
   * the root is (level 1, index 0), and the leaves (level 0, index 0 and 1) are partition 0's own.
   */
  @Test
  @Timeout(60)
  void theDriverTakesOnlyTheRootOfTheTreeAndEveryCarriedState() throws Exception {
    GradientExchange.Segment two = segment(1, 1, 2);
    TreeReduce.Part own = TreeReduce.Part.of(part(two, 0, randomLeaves(2, 1, 5)), false);
    TreeReduce.Part leaves = withBlocks(own, new CombineTree.Block(0, 0, new GradientSum(1, 1, new double[] {1})),
        new CombineTree.Block(0, 1, new GradientSum(1, 1, new double[] {2})));
    assertNull(TreeReduce.wrongPart(leaves, 0, 1, two), "within partition 0's leaves [0, 2)");
    refusedAtTheDriver(two, leaves);
    // the root first, then one more block: a second block of a tree that has one root
    TreeReduce.Part rootAndMore = withBlocks(own, new CombineTree.Block(1, 0, new GradientSum(1, 1, new double[] {1})),
        new CombineTree.Block(0, 1, new GradientSum(1, 1, new double[] {2})));
    assertNull(TreeReduce.wrongPart(rootAndMore, 0, 1, two), "within partition 0's leaves [0, 2)");
    refusedAtTheDriver(two, rootAndMore);

    // carry, B = 2 (positions 0 and 1), H = 2: the states of sequence 0 alone
    GradientExchange.Segment carried = new GradientExchange.Segment(MODEL, 1, 1, 2, 2, true);
    TreeReduce.Part whole = TreeReduce.Part.of(part(carried, 0, randomLeaves(2, 1, 5)), false);
    TreeReduce.Part oneState = new TreeReduce.Part(whole.first(), whole.end(), whole.blocks(), new int[] {0}, new float[2], null,
        whole.devices(), whole.computeNanos(), whole.errorPartition(), whole.errorExecutor(), whole.dataError(), whole.endSegment());
    assertNull(TreeReduce.wrongPart(oneState, 0, 1, carried), "its states are the size of its one position");
    refusedAtTheDriver(carried, oneState);
  }

  /** Sends {@code p} as the root's step 0 of a one-partition segment: the driver closes the link, no step answered. */
  private static void refusedAtTheDriver(GradientExchange.Segment segment, TreeReduce.Part p) throws Exception {
    try (GradientExchange.Server server = server(null, NO_TIMEOUT)) {
      GradientExchange.Address address = server.open(14, segment);
      try (GradientExchange.Client root = new GradientExchange.Client(address, address.key(), 14, 0, 0, () -> false)) {
        root.join(HOST, -1);
        TreeReduce.Link up = root.link();
        assertThrows(IOException.class, () -> {
          up.writeLong(0);
          up.writeFrame(TreeReduce.encode(p));
          for (CombineTree.Block b : p.blocks()) {
            up.writeDoubles(b.sum().gradient(), 0, b.sum().gradient().length);
          }
          up.flush();
          up.readFrame(1 << 20);
        }, "the driver closes the link instead of answering");
      }
      assertEquals(0, server.traffic().steps(), "no step answered");
    }
  }

  @Test
  void aSourcesBlocksMustLieInsideItsOwnVirtualPartitions() {
    // P = 2 over V = 4: partition 0 computes the leaves [0, 2), partition 1 [2, 4) (⌊pV/P⌋, TreeReduce's class comment);
    // node (level l, index i) covers the leaves [i·2^l, (i+1)·2^l)
    GradientExchange.Segment s = segment(2, 1, 4);
    TreeReduce.Part own = TreeReduce.Part.of(part(s, 0, randomLeaves(4, 1, 5)), false);
    assertNull(TreeReduce.wrongPart(own, 0, 1, s), "partition 0's own blocks: the node (1, 0) over leaves [0, 2)");
    TreeReduce.Part beyond = withBlocks(own, new CombineTree.Block(1, 1, new GradientSum(1, 1, new double[0]))); // leaves [2, 4)
    assertEquals("a gradient block (level 1, index 1) outside its virtual partitions [0, 2)", TreeReduce.wrongPart(beyond, 0, 1, s));
    TreeReduce.Part whole = withBlocks(own, new CombineTree.Block(2, 0, new GradientSum(1, 1, new double[0]))); // leaves [0, 4)
    assertEquals("a gradient block (level 2, index 0) outside its virtual partitions [0, 2)", TreeReduce.wrongPart(whole, 0, 1, s));
  }

  static TreeReduce.Part withBlocks(TreeReduce.Part p, CombineTree.Block... blocks) {
    return new TreeReduce.Part(p.first(), p.end(), blocks, p.positions(), p.finalH(), p.finalC(), p.devices(), p.computeNanos(),
        p.errorPartition(), p.errorExecutor(), p.dataError(), p.endSegment());
  }

  @Test
  void anLstmSourceMustCarryCellStatesAndAnRnnSourceNone() {
    // carried states are [L][m][H] of h, and of c for an LSTM only (StepSync.State): L = 1, H = 2, m = 1 sequence here
    ModelConfig lstm = new ModelConfig(CellType.LSTM, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    GradientExchange.Segment withCell = new GradientExchange.Segment(lstm, 1, 1, 1, 1, true);
    GradientExchange.Segment noCell = new GradientExchange.Segment(MODEL, 1, 1, 1, 1, true);
    PartitionResult r = part(withCell, 0, new GradientSum[] {new GradientSum(1, 1, new double[] {1})});
    TreeReduce.Part both = TreeReduce.Part.of(new PartitionResult(0, r.blocks(), r.positions(), new float[2], new float[2], "jvm", "e", 1,
        null), false);
    TreeReduce.Part hOnly = TreeReduce.Part.of(new PartitionResult(0, r.blocks(), r.positions(), new float[2], null, "jvm", "e", 1, null),
        false);
    assertNull(TreeReduce.wrongPart(both, 0, 1, withCell));
    assertEquals("final states of the wrong size for 1 sequences", TreeReduce.wrongPart(hOnly, 0, 1, withCell), "an LSTM without c");
    assertNull(TreeReduce.wrongPart(hOnly, 0, 1, noCell));
    assertEquals("final states of the wrong size for 1 sequences", TreeReduce.wrongPart(both, 0, 1, noCell), "an RNN has no c");
  }

  @Test
  void aHeaderWhoseArrayLengthExceedsTheFrameIsRefusedBeforeAnythingIsAllocated() {
    // "counts are checked against the frame (a frame may lie)": partitions [0, 1), no blocks, then positions claiming 2^31 − 1 ints
    // in a frame that holds none; allocating first fails with an OutOfMemoryError the driver's serve loop does not catch
    // (caught here, not by assertThrows, which rethrows it: the array is refused by size, nothing is allocated)
    byte[] lying = GradientExchange.Codec.writer(64).putInt(0).putInt(1).putInt(0).putInt(Integer.MAX_VALUE).bytes();
    Throwable thrown = null;
    try {
      TreeReduce.decodePart(lying);
    } catch (Throwable t) {
      thrown = t;
    }
    assertTrue(thrown instanceof BufferUnderflowException, "expected a BufferUnderflowException, got " + thrown);
  }

  /** A client of this segment attempt, admitted: a refusal while the driver still holds an ended connection's claim is tried again. */
  static GradientExchange.Client admitted(GradientExchange.Address address, long segmentId, int partition) throws IOException {
    long giveUp = System.nanoTime() + 30_000_000_000L;        // a deadline, not a count: a loaded machine may be slow to see the close
    while (true) {
      try {
        return new GradientExchange.Client(address, address.key(), segmentId, 0, partition, () -> false);
      } catch (IOException refused) {
        if (System.nanoTime() > giveUp) {
          throw refused;
        }
      }
    }
  }

  @Test
  @Timeout(60)
  void aPartitionJoiningAgainCountsOnceAndCannotStandInForAMissingOne() throws Exception {
    // Rendezvous.arrive: "a partition counts once however often it arrives". Partition 0 joins, its wait ends at the
    // step timeout, it joins again: partition 1 never came, so the second wait must fail the same way, not complete
    try (GradientExchange.Server server = server(null, 300)) {
      GradientExchange.Address address = server.open(14, segment(2, 1, 2));
      for (int join = 1; join <= 2; join++) {
        try (GradientExchange.Client c = admitted(address, 14, 0)) {
          IOException e = assertThrows(IOException.class, () -> c.join(HOST, -1), "join " + join + " of partition 0 alone");
          assertTrue(e.getMessage().contains("the driver closed the connection"), e.getMessage());
        }
      }
    }
  }
}
