package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.BadInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine's hand-off of slices to its pool ({@link JvmEngine#runSlices}): every slice runs once
 * and is finished when the call returns, also with more threads asked for than the pool has, with
 * several engines calling at once, with the pool busy with another call, with a stray wake-up
 * permit and when the caller is interrupted; a slice's failure reaches the caller and the slices
 * not yet started are skipped.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS) // a lost wake-up would hang: fail instead
class JvmEngineThreadsTest {

  @Test
  void everySliceRunsOnceAndIsFinishedWhenTheCallReturns() {
    int count = 7;
    for (int threads : new int[] {1, 2, 3, 8}) { // 8: more than this host's pool; the caller takes what is left
      for (int round = 0; round < 200; round++) {
        AtomicIntegerArray runs = new AtomicIntegerArray(count);
        AtomicIntegerArray finished = new AtomicIntegerArray(count);
        JvmEngine.runSlices(threads, count, p -> {
          runs.incrementAndGet(p);
          spin(p * 2_000L); // slices of different lengths, so callers wait on workers and workers on callers
          finished.set(p, 1);
        });
        for (int p = 0; p < count; p++) {
          assertEquals(1, runs.get(p), "slice " + p + " of " + count + ", " + threads + " threads, round " + round);
          assertEquals(1, finished.get(p), "slice " + p + " was still running when the call returned");
        }
      }
    }
  }

  @Test
  void severalCallersAtOnceEachGetAllTheirSlices() throws Exception {
    int callers = 4;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> results = new ArrayList<>();
      for (int c = 0; c < callers; c++) {
        results.add(pool.submit(() -> {
          start.await();
          for (int round = 0; round < 300; round++) {
            AtomicIntegerArray runs = new AtomicIntegerArray(5);
            JvmEngine.runSlices(3, 5, p -> {
              spin(1_000);
              runs.incrementAndGet(p);
            });
            for (int p = 0; p < 5; p++) {
              assertEquals(1, runs.get(p), "slice " + p + ", round " + round);
            }
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : results) {
        f.get(); // rethrows a caller's assertion failure
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aSlicesFailureReachesTheCallerAfterTheOtherSlicesStop() {
    for (int failing = 0; failing < 4; failing++) { // slice 0 runs on the caller; the others on whichever thread claims them
      int bad = failing;
      AtomicIntegerArray running = new AtomicIntegerArray(4);
      IllegalArgumentException thrown = new IllegalArgumentException("slice " + bad);
      IllegalArgumentException got = assertThrows(IllegalArgumentException.class, () -> JvmEngine.runSlices(2, 4, p -> {
        running.incrementAndGet(p);
        try {
          spin(3_000);
          if (p == bad) {
            throw thrown;
          }
        } finally {
          running.decrementAndGet(p);
        }
      }));
      assertSame(thrown, got);
      for (int p = 0; p < 4; p++) {
        assertEquals(0, running.get(p), "slice " + p + " still running after slice " + bad + " failed");
      }
    }
    AssertionError error = new AssertionError("an Error, not wrapped");
    assertSame(error, assertThrows(AssertionError.class, () -> JvmEngine.runSlices(2, 2, p -> {
      if (p == 1) {
        throw error;
      }
    })));
  }

  @Test
  void aCallAfterTheWorkersHaveParkedStillRuns() throws Exception {
    AtomicIntegerArray runs = new AtomicIntegerArray(2);
    JvmEngine.runSlices(2, 2, runs::incrementAndGet);
    awaitPoolParked(); // past the spin: the pool's workers park in LinkedBlockingQueue.take
    CountDownLatch secondStarted = new CountDownLatch(1);
    Thread caller = Thread.currentThread();
    JvmEngine.runSlices(2, 2, p -> {
      runs.incrementAndGet(p);
      if (Thread.currentThread() == caller) { // it waits until the pool holds the other slice, so it cannot take that one itself
        await(secondStarted);
      } else {
        secondStarted.countDown();
        spin(20_000_000); // 20 ms, past the caller's spin: it parks, and the last slice must wake it
      }
    });
    assertTrue(runs.get(0) == 2 && runs.get(1) == 2, "each slice twice: " + runs);
  }

  /** Waits (up to 10 s) until every live pool worker is parked (WAITING), not spinning (RUNNABLE). */
  static void awaitPoolParked() throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      List<Thread> workers = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("spark-rnn-jvm-engine")).toList();
      if (!workers.isEmpty() && workers.stream().allMatch(t -> t.getState() == Thread.State.WAITING)) {
        return;
      }
      if (System.nanoTime() > deadline) {
        fail("the pool's workers did not park within 10 s: " + workers.stream().map(t -> t.getState().toString()).toList());
      }
      Thread.sleep(1);
    }
  }

  @Test
  void anInterruptedCallerStillWaitsForTheSlicesRunningOnPoolThreads() {
    AtomicBoolean poolSliceFinished = new AtomicBoolean();
    Thread caller = Thread.currentThread();
    CountDownLatch poolSliceStarted = new CountDownLatch(1);
    IllegalStateException stop = assertThrows(IllegalStateException.class, () -> JvmEngine.runSlices(2, 2, p -> {
      if (Thread.currentThread() == caller) { // the caller's slice: once the other runs on a pool thread, interrupt the caller
        await(poolSliceStarted);
        caller.interrupt();
      } else {
        poolSliceStarted.countDown();
        spin(50_000_000); // 50 ms, writing into the engine's buffers as a real slice would
        poolSliceFinished.set(true);
      }
    }));
    assertTrue(Thread.interrupted(), "the interrupt is kept for the caller's caller");
    assertTrue(stop.getMessage().contains("interrupted"), stop.getMessage());
    assertTrue(poolSliceFinished.get(), "runSlices returned while a pool thread still ran a slice");
  }

  @Test
  void aCallerWhosePoolTasksAreQueuedBehindAnotherCallRunsItsSlicesItselfAndReturns() throws Exception {
    int pool = JvmEngine.poolThreads();
    CountDownLatch holding = new CountDownLatch(pool + 1);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      Future<?> blocker = other.submit(() -> JvmEngine.runSlices(pool + 1, pool + 1, p -> { // every pool thread and its caller held
        holding.countDown();
        await(release);
      }));
      assertTrue(holding.await(10, TimeUnit.SECONDS), "the other call never held every pool thread");
      AtomicIntegerArray runs = new AtomicIntegerArray(4);
      JvmEngine.runSlices(4, 4, runs::incrementAndGet); // its 3 pool tasks wait in the queue; it must not wait for them
      for (int p = 0; p < 4; p++) {
        assertEquals(1, runs.get(p), "slice " + p);
      }
      release.countDown();
      blocker.get(10, TimeUnit.SECONDS);
    } finally {
      release.countDown();
      other.shutdownNow();
    }
  }

  @Test
  void aCallerWithAStrayPermitParksAgainUntilTheLastSliceIsDone() {
    Thread caller = Thread.currentThread();
    for (int round = 0; round < 3; round++) {
      AtomicBoolean poolSliceFinished = new AtomicBoolean();
      CountDownLatch poolSliceStarted = new CountDownLatch(1);
      LockSupport.unpark(caller); // a permit left over from elsewhere: the first park returns at once
      JvmEngine.runSlices(2, 2, p -> {
        if (Thread.currentThread() == caller) {
          await(poolSliceStarted);
        } else {
          poolSliceStarted.countDown();
          spin(10_000_000);
          poolSliceFinished.set(true);
        }
      }, 0);
      assertTrue(poolSliceFinished.get(), "returned before the pool's slice was done, round " + round);
    }
  }

  @Test
  void afterAFailureTheSlicesNotYetStartedAreSkipped() {
    AtomicInteger ran = new AtomicInteger();
    assertThrows(IllegalArgumentException.class, () -> JvmEngine.runSlices(2, 50, p -> {
      ran.incrementAndGet();
      if (p == 0) {
        throw new IllegalArgumentException("slice 0");
      }
      spin(1_000_000);
    }));
    assertTrue(ran.get() < 10, "slices run after the failure: " + ran.get() + " of 50");
    JvmEngine.runSlices(3, 0, p -> {
      throw new AssertionError("no slices, no work");
    });
  }

  @Test
  void aBadThreadPropertyIsBadInputNamingIt() {
    String[][] cases = {
        {JvmEngine.THREADS_PROPERTY, "abc"}, {JvmEngine.THREADS_PROPERTY, "0"}, {JvmEngine.SLICES_PROPERTY, "-1"},
        {JvmEngine.SLICES_PROPERTY, "2x"}, {JvmEngine.SPIN_PROPERTY, "fast"}, {JvmEngine.SPIN_PROPERTY, "-5"}};
    for (String[] c : cases) {
      String before = System.getProperty(c[0]);
      System.setProperty(c[0], c[1]);
      try {
        BadInputException e = assertThrows(BadInputException.class, () -> new JvmEngine(0).close(), c[0] + "=" + c[1]);
        assertTrue(e.getMessage().contains("-D" + c[0]) && e.getMessage().contains("'" + c[1] + "'"), e.getMessage());
      } finally {
        if (before == null) {
          System.clearProperty(c[0]);
        } else {
          System.setProperty(c[0], before);
        }
      }
    }
    String before = System.getProperty(JvmEngine.SPIN_PROPERTY);
    System.setProperty(JvmEngine.SPIN_PROPERTY, "0"); // valid: park at once
    try {
      new JvmEngine(0).close();
    } finally {
      if (before == null) {
        System.clearProperty(JvmEngine.SPIN_PROPERTY);
      } else {
        System.setProperty(JvmEngine.SPIN_PROPERTY, before);
      }
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(10, TimeUnit.SECONDS), "slice 1 never started");
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void spin(long nanos) {
    long until = System.nanoTime() + nanos;
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait();
    }
  }
}
