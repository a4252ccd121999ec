package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The --sync barrier rendezvous on its own: merge order, identical answers, the token, and a killed wait. */
class GradientExchangeTest {
  static final ModelConfig MODEL = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);

  static PartitionResult part(int partition, double loss, long count, double[] gradient) {
    // partition p computed virtual partition p alone: the leaf (level 0, index p) of the combine tree
    CombineTree.Block[] blocks = {new CombineTree.Block(0, partition, new GradientSum(loss, count, gradient))};
    return new PartitionResult(partition, blocks, new int[] {partition}, null, null, "jvm",
        "executor-" + partition, 1000L * (partition + 1), null);
  }

  @Test
  void everyTaskGetsTheSumOfTheFixedTreeWhateverOrderTheyArriveIn() throws Exception {
    // In float64, (0.1 + 1e20) − 1e20 is 0 and (−1e20 + 1e20) + 0.1 is 0.1: the sum tells the order.
    // The tree over 3 leaves adds (leaf 0 + leaf 1) + leaf 2; it must win over arrival order (2, 1, 0).
    double[][] g = {{0.1}, {1e20}, {-1e20}};
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try (GradientExchange.Server server = new GradientExchange.Server("127.0.0.1", "127.0.0.1", 0)) {
      server.open(7, new GradientExchange.Segment(MODEL, 3, 3, 3, false));
      Future<?>[] answers = new Future<?>[3];
      for (int p = 2; p >= 0; p--) {
        int partition = p;
        answers[p] = pool.submit(() -> {
          try (GradientExchange.Client c = new GradientExchange.Client(server.address(), 7, 0, partition, () -> false)) {
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
      server.finish(7);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aConnectionWithTheWrongTokenIsClosedUnanswered() throws Exception {
    try (GradientExchange.Server server = new GradientExchange.Server("127.0.0.1", "127.0.0.1", 0)) {
      server.open(1, new GradientExchange.Segment(MODEL, 1, 1, 1, false));
      GradientExchange.Address wrong = new GradientExchange.Address("127.0.0.1", server.address().port(), server.address().token() + 1);
      try (GradientExchange.Client c = new GradientExchange.Client(wrong, 1, 0, 0, () -> false)) {
        assertThrows(IOException.class, () -> c.exchange(0, new GradientExchange.Message(part(0, 1, 1, new double[] {1}), true)));
      }
      // garbage instead of a hello is dropped too, and the server still serves the right token
      try (Socket s = new Socket("127.0.0.1", server.address().port())) {
        new DataOutputStream(s.getOutputStream()).writeUTF("GET / HTTP/1.0");
      }
      try (GradientExchange.Client c = new GradientExchange.Client(server.address(), 1, 0, 0, () -> false)) {
        assertEquals(1.0, c.exchange(0, new GradientExchange.Message(part(0, 1, 1, new double[] {1}), true)).total().gradient()[0]);
      }
    }
  }

  @Test
  void aTaskWaitingForAPartitionThatNeverComesEndsWhenKilled() throws Exception {
    try (GradientExchange.Server server = new GradientExchange.Server("127.0.0.1", "127.0.0.1", 0)) {
      server.open(1, new GradientExchange.Segment(MODEL, 2, 2, 2, false));
      long killAt = System.nanoTime() + 300_000_000L;
      try (GradientExchange.Client c = new GradientExchange.Client(server.address(), 1, 0, 0, () -> System.nanoTime() > killAt)) {
        IOException e = assertThrows(IOException.class,
            () -> c.exchange(0, new GradientExchange.Message(part(0, 1, 1, new double[] {1}), false)));
        assertTrue(e.getMessage().startsWith("killed while waiting"), e.getMessage());
      }
    }
  }
}
