package io.sparkrnn.kernel.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code --device auto}'s choice with injected rates: no real timing, so every case is deterministic. */
class AutoDeviceTest {
  private static final List<DeviceChoice> BOTH = List.of(DeviceChoice.GPU, DeviceChoice.JVM);

  @BeforeEach
  void forget() {
    AutoDevice.clearCache();
  }

  /** A timer that answers from a table and records what it was asked. */
  private static AutoDevice.Timer rates(Map<DeviceChoice, Double> table, List<DeviceChoice> asked) {
    return d -> {
      asked.add(d);
      Double r = table.get(d);
      if (r == null) {
        throw new IllegalStateException("OpenCL build failed on " + d.id());
      }
      return r;
    };
  }

  @Test
  void theFasterEngineIsPickedAndBothRatesAreReported() {
    List<DeviceChoice> asked = new ArrayList<>();
    AutoDevice.Choice slowGpu = AutoDevice.choose("lstm B=32 T=50 on a", BOTH,
        rates(Map.of(DeviceChoice.GPU, 900.0, DeviceChoice.JVM, 2500.0), asked));
    assertEquals("jvm", slowGpu.device(), "a GPU slower than the JVM engine loses");
    assertEquals(BOTH, asked, "both candidates timed");
    assertEquals(List.of(new AutoDevice.Rate("gpu", 900.0, null), new AutoDevice.Rate("jvm", 2500.0, null)), slowGpu.rates());
    assertEquals("--device auto: jvm (gpu 900.0 seq/s, jvm 2500.0 seq/s; lstm B=32 T=50 on a)", slowGpu.describe());

    AutoDevice.Choice fastGpu = AutoDevice.choose("lstm B=32 T=50 on b", BOTH,
        rates(Map.of(DeviceChoice.GPU, 40_000.0, DeviceChoice.JVM, 2500.0), new ArrayList<>()));
    assertEquals("gpu", fastGpu.device());
  }

  @Test
  void aTieGoesToTheFirstCandidate() {
    assertEquals("gpu", AutoDevice.choose("k", BOTH, rates(Map.of(DeviceChoice.GPU, 100.0, DeviceChoice.JVM, 100.0),
        new ArrayList<>())).device());
  }

  @Test
  void aSecondChoiceForTheSameShapeAndHostIsTakenFromTheCacheWithoutTiming() {
    AutoDevice.choose("lstm H=64 B=32 T=50 on h", BOTH, rates(Map.of(DeviceChoice.GPU, 10.0, DeviceChoice.JVM, 20.0), new ArrayList<>()));
    List<DeviceChoice> asked = new ArrayList<>();
    AutoDevice.Choice again = AutoDevice.choose("lstm H=64 B=32 T=50 on h", BOTH,
        rates(Map.of(DeviceChoice.GPU, 99.0, DeviceChoice.JVM, 1.0), asked));
    assertEquals(List.of(), asked, "cached: nothing timed");
    assertTrue(again.cached());
    assertEquals("jvm", again.device(), "the earlier measurement's choice");
    assertTrue(again.describe().contains("measured earlier in this JVM"), again.describe());
    AutoDevice.Choice other = AutoDevice.choose("lstm H=256 B=32 T=50 on h", BOTH,
        rates(Map.of(DeviceChoice.GPU, 99.0, DeviceChoice.JVM, 1.0), asked));
    assertEquals(BOTH, asked, "another shape is timed");
    assertFalse(other.cached());
    assertEquals("gpu", other.device());
  }

  @Test
  void aFailingCandidateIsReportedAndNotPicked() {
    AutoDevice.Choice c = AutoDevice.choose("k", BOTH, rates(Map.of(DeviceChoice.JVM, 50.0), new ArrayList<>()));
    assertEquals("jvm", c.device());
    assertEquals("--device auto: jvm (gpu failed (IllegalStateException: OpenCL build failed on gpu), jvm 50.0 seq/s; k)", c.describe());
    AutoDevice.Choice zero = AutoDevice.choose("k2", BOTH, rates(Map.of(DeviceChoice.GPU, 0.0, DeviceChoice.JVM, 50.0), new ArrayList<>()));
    assertEquals("jvm", zero.device(), "a rate of 0 is no rate");
  }

  @Test
  void whenEveryCandidateFailsTheRunFailsNamingEachFailure() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> AutoDevice.choose("lstm B=8 T=5 on h", BOTH, rates(Map.of(), new ArrayList<>())));
    assertTrue(e.getMessage().contains("gpu failed (IllegalStateException: OpenCL build failed on gpu)")
        && e.getMessage().contains("jvm failed") && e.getMessage().contains("--device"), e.getMessage());
  }

  @Test
  void aSingleUsableEngineIsPickedWithoutTiming() {
    List<DeviceChoice> asked = new ArrayList<>();
    AutoDevice.Choice c = AutoDevice.choose("k", List.of(DeviceChoice.JVM), rates(Map.of(DeviceChoice.JVM, 1.0), asked));
    assertEquals("jvm", c.device());
    assertEquals(List.of(), asked);
    assertEquals("--device auto: jvm (no OpenCL GPU; nothing to time)", c.describe());
    assertEquals("--device auto: jvm (no OpenCL GPU; nothing to time; chosen in executor 3)", c.describe("chosen in executor 3"));
  }

  @Test
  void callersOfOneShapeAtOnceWaitForOneMeasurement() throws Exception {
    List<DeviceChoice> asked = Collections.synchronizedList(new ArrayList<>());
    AutoDevice.Timer slow = d -> {
      asked.add(d);
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return d == DeviceChoice.GPU ? 10.0 : 20.0;
    };
    var pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<AutoDevice.Choice>> calls = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        calls.add(pool.submit(() -> AutoDevice.choose("lstm B=32 T=50 on h", BOTH, slow)));
      }
      int measured = 0;
      for (var f : calls) {
        AutoDevice.Choice c = f.get();
        assertEquals("jvm", c.device());
        measured += c.cached() ? 0 : 1;
      }
      assertEquals(1, measured, "one caller measured, two took its result");
      assertEquals(BOTH, asked, "each engine timed once");
    } finally {
      pool.shutdownNow();
    }
  }

  /** A caller waiting for another's measurement stops when interrupted (a killed Spark task), its flag kept. */
  @Test
  void aWaitingCallerCanBeInterrupted() throws Exception {
    CountDownLatch measuring = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AutoDevice.Timer held = d -> {
      measuring.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return 1.0;
    };
    Thread first = new Thread(() -> AutoDevice.choose("lstm B=4 T=5 on i", BOTH, held));
    first.start();
    measuring.await();
    Throwable[] seen = new Throwable[1];
    boolean[] flag = new boolean[1];
    Thread waiter = new Thread(() -> {
      try {
        AutoDevice.choose("lstm B=4 T=5 on i", BOTH, held);
      } catch (RuntimeException e) {
        seen[0] = e;
        flag[0] = Thread.currentThread().isInterrupted();
      }
    });
    waiter.start();
    Thread.sleep(100); // the waiter is parked on the first caller's measurement
    waiter.interrupt();
    waiter.join(5_000);
    release.countDown();
    first.join(5_000);
    assertFalse(waiter.isAlive(), "the interrupted waiter returned");
    assertTrue(seen[0] instanceof IllegalStateException && seen[0].getMessage().contains("interrupted while waiting"), String.valueOf(seen[0]));
    assertTrue(flag[0], "its interrupt flag is kept");
  }

  @Test
  void aMeasurementThatFailedIsNotKept() {
    assertThrows(IllegalStateException.class, () -> AutoDevice.choose("k", BOTH, rates(Map.of(), new ArrayList<>())));
    List<DeviceChoice> asked = new ArrayList<>();
    AutoDevice.Choice c = AutoDevice.choose("k", BOTH, rates(Map.of(DeviceChoice.GPU, 5.0, DeviceChoice.JVM, 1.0), asked));
    assertEquals("gpu", c.device());
    assertFalse(c.cached());
    assertEquals(BOTH, asked);
  }

  @Test
  void badInputOnOneEngineIsThatEnginesFailureAndOnEveryEngineIsRethrown() {
    BadInputException tiles = new BadInputException("tile sizes: 48 KiB of local memory needed");
    AutoDevice.Choice c = AutoDevice.choose("k", BOTH, d -> {
      if (d == DeviceChoice.GPU) {
        throw tiles;
      }
      return 10.0;
    });
    assertEquals("jvm", c.device());
    assertTrue(c.describe().contains("gpu failed (BadInputException: tile sizes: 48 KiB of local memory needed)"), c.describe());
    BadInputException shape = new BadInputException("x: expected 2 features, found 3");
    assertEquals(shape, assertThrows(BadInputException.class, () -> AutoDevice.choose("k2", BOTH, d -> {
      throw shape;
    })));
  }

  @Test
  void theJvmEngineCountsOncePerTaskThatRunsAtOnceAsTheyShareTheGpu() {
    // 4 tasks at once: each has its own JVM engine (300 seq/s timed for one), all share the one GPU
    AutoDevice.Choice c = AutoDevice.choose("lstm B=16 T=50 on a", BOTH,
        rates(Map.of(DeviceChoice.GPU, 900.0, DeviceChoice.JVM, 300.0), new ArrayList<>()), 4);
    assertEquals("jvm", c.device());
    assertEquals("--device auto: jvm (gpu 900.0 seq/s, jvm 1200.0 seq/s (4 tasks × 300.0); lstm B=16 T=50 on a)", c.describe());
    assertEquals("gpu", AutoDevice.choose("lstm B=16 T=50 on b", BOTH,
        rates(Map.of(DeviceChoice.GPU, 900.0, DeviceChoice.JVM, 300.0), new ArrayList<>()), 2).device());
  }

  @Test
  void theLineSaysWhichJvmMeasured() {
    AutoDevice.Choice c = AutoDevice.choose("lstm B=32 T=50 on a", BOTH,
        rates(Map.of(DeviceChoice.GPU, 900.0, DeviceChoice.JVM, 2500.0), new ArrayList<>()));
    assertEquals("--device auto: jvm (gpu 900.0 seq/s, jvm 2500.0 seq/s; lstm B=32 T=50 on a; chosen in executor 1)",
        c.describe("chosen in executor 1"));
  }

  @Test
  void aBudgetThatIsNotAPositiveNumberOfSecondsIsBadInputNamingTheProperty() {
    String before = System.getProperty(AutoDevice.BUDGET_PROPERTY);
    try {
      System.clearProperty(AutoDevice.BUDGET_PROPERTY);
      assertEquals(2.0, AutoDevice.budgetSeconds());
      System.setProperty(AutoDevice.BUDGET_PROPERTY, " 0.5 ");
      assertEquals(0.5, AutoDevice.budgetSeconds());
      for (String bad : List.of("two", "0", "-1", "NaN", "Infinity", "")) {
        System.setProperty(AutoDevice.BUDGET_PROPERTY, bad);
        BadInputException e = assertThrows(BadInputException.class, AutoDevice::budgetSeconds, bad);
        assertEquals("-Dsparkrnn.auto.budgetSeconds: expected a positive number of seconds, found '" + bad + "'", e.getMessage());
      }
    } finally {
      if (before == null) {
        System.clearProperty(AutoDevice.BUDGET_PROPERTY);
      } else {
        System.setProperty(AutoDevice.BUDGET_PROPERTY, before);
      }
    }
  }

  /**
   * The JVM engine's rate counts once per task from 2 tasks on (choose's javadoc: "one task's,
   * timed, × tasks"): 2 tasks × 300 = 600 seq/s beat a GPU's 500, which one task's 300 does not.
   */
  @Test
  void twoTasksAtOnceAlreadyCountTheJvmEngineTwice() {
    AutoDevice.Choice two = AutoDevice.choose("lstm B=16 T=50 on c", BOTH,
        rates(Map.of(DeviceChoice.GPU, 500.0, DeviceChoice.JVM, 300.0), new ArrayList<>()), 2);
    assertEquals("jvm", two.device(), two.describe());
    assertEquals("--device auto: jvm (gpu 500.0 seq/s, jvm 600.0 seq/s (2 tasks × 300.0); lstm B=16 T=50 on c)", two.describe());
    // one task: no scaling, no note, and the GPU's 500 beats 300
    AutoDevice.Choice one = AutoDevice.choose("lstm B=16 T=50 on d", BOTH,
        rates(Map.of(DeviceChoice.GPU, 500.0, DeviceChoice.JVM, 300.0), new ArrayList<>()), 1);
    assertEquals("--device auto: gpu (gpu 500.0 seq/s, jvm 300.0 seq/s; lstm B=16 T=50 on d)", one.describe());
  }

  /** An infinite rate (a timed call shorter than the clock's tick: B / 0) is no measurement, as 0 and NaN are not. */
  @Test
  void anInfiniteRateIsNoRateAndIsNotPicked() {
    AutoDevice.Choice c = AutoDevice.choose("k-inf", BOTH,
        rates(Map.of(DeviceChoice.GPU, Double.POSITIVE_INFINITY, DeviceChoice.JVM, 50.0), new ArrayList<>()));
    assertEquals("jvm", c.device(), c.describe());
    assertEquals("--device auto: jvm (gpu failed (no rate: Infinity), jvm 50.0 seq/s; k-inf)", c.describe());
  }

  /**
   * choose's javadoc: bad input is rethrown only where EVERY candidate failed with it; where one
   * engine failed otherwise (an OpenCL error) no engine could be timed and the run fails with an
   * IllegalStateException naming each failure. Where every one did, the first one is thrown.
   */
  @Test
  void badInputIsRethrownOnlyWhereEveryCandidateFailedWithItAndThenTheFirst() {
    BadInputException shape = new BadInputException("x: expected 2 features, found 3");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> AutoDevice.choose("k-mixed", BOTH, d -> {
      if (d == DeviceChoice.GPU) {
        throw new IllegalStateException("CL_OUT_OF_RESOURCES");
      }
      throw shape;
    }));
    assertTrue(e.getMessage().contains("gpu failed (IllegalStateException: CL_OUT_OF_RESOURCES)")
        && e.getMessage().contains("jvm failed (BadInputException: x: expected 2 features, found 3)"), e.getMessage());
    BadInputException onGpu = new BadInputException("tile sizes: 48 KiB of local memory needed");
    BadInputException onJvm = new BadInputException("x: expected 2 features, found 3");
    assertEquals(onGpu, assertThrows(BadInputException.class,
        () -> AutoDevice.choose("k-both", BOTH, d -> {
          throw d == DeviceChoice.GPU ? onGpu : onJvm;
        })), "the first candidate's (the GPU's) bad input");
  }

  /** One usable engine is picked, not measured: there is no earlier measurement to call it cached. */
  @Test
  void aSingleUsableEngineIsNotReportedAsCached() {
    AutoDevice.Choice c = AutoDevice.choose("k-one", List.of(DeviceChoice.JVM), rates(Map.of(), new ArrayList<>()));
    assertFalse(c.cached());
    assertEquals(List.of(), c.rates());
  }

  /**
   * The rate is B / the MEDIAN timed call (class comment, rate's javadoc), not the last, the
   * fastest or the mean: an untimed call, then MAX_TIMED = 7 calls (the budget of 100 s is not
   * reached) of at least 100, 100, 100, 100, 1, 1, 1 ms. Sorted, the 4th is one of the 100 ms
   * calls, so the median is at least 100 ms and 1 / it at most 10 seq/s (a sleep only overruns);
   * the last call (1 ms) would give about 1000, the mean (about 58 ms) about 17.
   */
  @Test
  void theRateIsTheBatchOverTheMedianTimedCall() {
    long[] millis = {0, 100, 100, 100, 100, 1, 1, 1};
    int[] calls = {0};
    double rate = AutoDevice.rate(() -> sleep(millis[calls[0]++]), 1, 100);
    assertEquals(1 + AutoDevice.MAX_TIMED, calls[0], "the untimed call and MAX_TIMED timed calls");
    assertTrue(rate > 0 && rate <= 10, "1 / the median (100 ms or a little more): " + rate);
  }

  /** The real timer on a tiny shape: it runs the engine and returns B / a positive time. */
  @Test
  void theRealTimerReturnsAPositiveRate() {
    var config = new ModelConfig(CellType.GRU, 1, 2, 8, 1,
        Mode.SEQ2SEQ, LossType.MSE);
    double rate = AutoDevice.time(DeviceChoice.JVM, config, 4, 5, 1, 0.05, 1, false, null);
    assertTrue(rate > 0 && Double.isFinite(rate), "seq/s: " + rate);
    double grouped = AutoDevice.time(DeviceChoice.JVM, config, 4, 5, 1, 0.05, 1, false, new int[] {0, 1, 4});
    assertTrue(grouped > 0 && Double.isFinite(grouped), "seq/s over groups: " + grouped);
  }

  /** Groups that do not cut the timed batch from 0 to B are a bug of the caller, named. */
  @Test
  void groupsMustSpanTheBatch() {
    var config = new ModelConfig(CellType.GRU, 1, 2, 8, 1,
        Mode.SEQ2SEQ, LossType.MSE);
    for (int[] bad : List.of(new int[] {0}, new int[] {1, 4}, new int[] {0, 3})) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> AutoDevice.choose(config, 4, 5, 1, false, 1, 1, 0.05, bad));
      assertTrue(e.getMessage().contains("do not span a batch of 4"), e.getMessage());
    }
  }

  /**
   * The timing loop: one untimed call, then timed calls until the seconds are spent (1 to
   * MAX_TIMED), the median of those. A first call that overruns the budget is not the measurement:
   * a cold call's cost over a warm one differs between engines (a GPU's first call uploads every
   * input), and comparing one engine's cold call with another's warm one would pick wrongly.
   */
  @Test
  void theTimingLoopStopsAtTheBudgetAndNeverTimesTheFirstCall() {
    int[] calls = {0};
    // a first call of 300 ms, then 20 ms calls, against a budget of 10 ms: one timed call, 20 ms
    double cold = AutoDevice.rate(() -> sleep(calls[0]++ == 0 ? 300 : 20), 3, 0.01);
    assertEquals(2, calls[0], "the untimed call and one timed call");
    assertTrue(cold > 3 / 0.2 && cold <= 3 / 0.02, "B / the timed call (about 150 seq/s), not the first call's 10: " + cold);
    calls[0] = 0;
    AutoDevice.rate(() -> calls[0]++, 3, 0.05);
    assertEquals(1 + AutoDevice.MAX_TIMED, calls[0], "fast calls stop at the most timed calls");
    calls[0] = 0;
    // durations 0, then 10 ms, 400 ms, 10 ms…: the budget (200 ms) ends within the second timed call
    long[] millis = {0, 10, 400, 10, 10, 10, 10, 10};
    double median = AutoDevice.rate(() -> sleep(millis[calls[0]++]), 1, 0.2);
    assertEquals(3, calls[0], "stopped once the budget was spent");
    assertTrue(median < 1 / 0.1 && median > 1 / 1.0, "1 / the median of 10 and 400 ms (about 4.9 seq/s): " + median);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** The median of an even count is the mean of the middle two (the textbook definition, as the javadoc says). */
  @Test
  void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
    // sorted: 1, 2, 3, 10: the middle two are 2 and 3, their mean 2.5
    assertEquals(2.5, AutoDevice.median(new double[] {10, 1, 3, 2}), 0);
    // sorted: 1, 2, 9: the middle one
    assertEquals(2.0, AutoDevice.median(new double[] {9, 2, 1}), 0);
  }

  /**
   * What changes an engine's rate keys the cache apart: forward passes against training steps
   * (MeasuredEngine: "forward calls are timed as forward calls and training calls as training
   * calls"), the count of virtual partitions (choose's javadoc: "an engine may work per group, so
   * the count changes its rate"; one group is the same call as none) and the tasks that share an
   * executor's GPU. Read from Choice.shape, the key; with no GPU nothing is timed, with one each
   * distinct key is timed on a tiny shape.
   */
  @Test
  void forwardPassesVirtualPartitionsAndTasksKeyTheCacheApart() {
    var config = new ModelConfig(CellType.GRU, 1, 2, 8, 1,
        Mode.SEQ2SEQ, LossType.MSE);
    String training = AutoDevice.choose(config, 4, 5, 1, false, 1, 1, 0.02, null).shape();
    String forward = AutoDevice.choose(config, 4, 5, 1, true, 1, 1, 0.02, null).shape();
    String oneGroup = AutoDevice.choose(config, 4, 5, 1, false, 1, 1, 0.02, new int[] {0, 4}).shape();
    String twoGroups = AutoDevice.choose(config, 4, 5, 1, false, 1, 1, 0.02, new int[] {0, 2, 4}).shape();
    String fourTasks = AutoDevice.choose(config, 4, 5, 1, false, 1, 4, 0.02, null).shape();
    assertFalse(forward.equals(training), "forward and training share a key: " + forward);
    assertEquals(training, oneGroup, "one group is the ungrouped call");
    assertFalse(twoGroups.equals(training), "two virtual partitions share the ungrouped key: " + twoGroups);
    assertFalse(fourTasks.equals(training), "4 tasks an executor share the 1-task key: " + fourTasks);
    for (String key : List.of(training, forward, twoGroups, fourTasks)) {
      assertTrue(key.endsWith(" on " + AutoDevice.host()) || key.contains(" on " + AutoDevice.host() + ","), "the host: " + key);
    }
  }

  @Test
  void theCacheKeyNamesShapeAndHost() {
    var config = new ModelConfig(CellType.LSTM, 2, 3, 64, 1,
        Mode.SEQ2SEQ, LossType.MSE);
    assertEquals("lstm L=2 F=3 H=64 O=1 seq2seq B=32 T=50 on node-1", AutoDevice.key(config, 32, 50, 0, "node-1"));
    assertEquals("lstm L=2 F=3 H=64 O=1 seq2seq B=32 T=50, 4 JVM engine threads on node-1", AutoDevice.key(config, 32, 50, 4, "node-1"));
    assertEquals("lstm L=2 F=3 H=64 O=1 seq2seq B=32 T=50, 1 JVM engine thread on node-1", AutoDevice.key(config, 32, 50, 1, "node-1"));
  }
}
