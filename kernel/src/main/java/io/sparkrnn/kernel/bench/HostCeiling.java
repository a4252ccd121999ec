package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.MathKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * This host's ceiling for the JVM engine's matrix products as it stands now: {@code threads}
 * threads at once, each running 16 independent chains of vector fused multiply-adds on registers
 * (no memory traffic) for a window of wall-clock time, in GFLOP/s a thread (2 flops per lane per
 * FMA). On a shared machine the engine's speed moves with the neighbours', and a
 * sequences-per-second figure alone cannot tell a slower core from the rest (this project's AMD host
 * read 217–231 GFLOP/s a thread through spells in which the LSTM rows ran up to 55% slower, and 111
 * once, that row at half speed too; docs/PERFORMANCE.md, "Two speeds of the same code"). {@code bench}
 * measures the ceiling right after each JVM row's timed runs and puts it, and the row's share of
 * it, beside the row.
 *
 * <p>Needs {@code jdk.incubator.vector} in the boot layer ({@link MathKernels#vectorApiAvailable()});
 * the Vector API's classes are linked only when {@link #measure} runs.
 */
public final class HostCeiling {
  private HostCeiling() {}

  /** FMA rounds per call between clock reads: 16 chains × 10,000 rounds, about 25 µs of a core at 209 GFLOP/s. */
  private static final int ROUNDS = 10_000;

  /**
   * Before its first measurement a JVM runs the chains untimed for at least this long (C2 boxes
   * every vector until it has compiled them), then until the JIT has compiled nothing for
   * {@link #QUIET_SECONDS}; before every later one, until it has compiled nothing for
   * {@link #LATER_QUIET_SECONDS}; at most {@link #WARMUP_MAX_SECONDS}. With a fixed 0.3 s once, 5 of 14
   * bench runs read 158–205 GFLOP/s a thread after their first row against 214–228 elsewhere.
   */
  static final double WARMUP_SECONDS = 0.3;

  static final double QUIET_SECONDS = 0.3;

  static final double LATER_QUIET_SECONDS = 0.1;

  static final double WARMUP_MAX_SECONDS = 5;

  /** The longest window {@link #measure} takes. */
  public static final double MAX_SECONDS = 60;

  /** The warm-up's windows: short, so that it notices a quiet JIT soon. */
  private static final long WARMUP_WINDOW_NANOS = 10_000_000;

  private static volatile boolean warmed;

  /** The chains' last sum: a volatile store, so that C2 cannot drop them as unused. */
  private static volatile float sum;

  /**
   * One measurement: the threads' rates, each over its own window.
   *
   * @param threads how many ran at once
   * @param lanes floats per vector (the preferred species: 16 under AVX-512, 8 under AVX2 or -XX:MaxVectorSize=32)
   * @param gflopsPerThread each thread's GFLOP/s of wall-clock time
   * @param jitBusy whether the JIT was still compiling when the warm-up gave up waiting ({@link
   *     #WARMUP_MAX_SECONDS}): the compiler threads then shared the cores with the window, which reads low
   */
  public record Result(int threads, int lanes, double[] gflopsPerThread, boolean jitBusy) {
    /** The mean of the threads' rates. */
    public double mean() {
      double s = 0;
      for (double g : gflopsPerThread) {
        s += g;
      }
      return s / gflopsPerThread.length;
    }
  }

  /**
   * Runs the chains on {@code threads} threads started together (the calling thread one of them)
   * for {@code seconds} of wall-clock time each, after running them untimed on this thread until the
   * JIT is quiet ({@link #WARMUP_SECONDS}). A thread that fails fails the call.
   */
  public static Result measure(int threads, double seconds) {
    if (threads < 1 || !(seconds > 0 && seconds <= MAX_SECONDS)) {
      throw new BadInputException("the ceiling needs ≥ 1 thread and a window of (0, " + (int) MAX_SECONDS + "] s, found " + threads + " and "
          + seconds);
    }
    if (!MathKernels.vectorApiAvailable()) {
      throw new IllegalStateException("the FMA ceiling needs --add-modules=jdk.incubator.vector");
    }
    // the compiler threads share the cores with the chains: a window timed while they work reads low
    boolean jitBusy;
    synchronized (HostCeiling.class) {
      jitBusy = !untilQuiet(warmed ? 0 : WARMUP_SECONDS, warmed ? LATER_QUIET_SECONDS : QUIET_SECONDS);
      warmed = true;
    }
    long window = (long) (seconds * 1e9);
    double[] rates = new double[threads];
    CyclicBarrier start = new CyclicBarrier(threads);
    List<FutureTask<Double>> others = new ArrayList<>();
    try {
      for (int t = 1; t < threads; t++) {
        FutureTask<Double> task = new FutureTask<>(() -> timedChains(start, window));
        Thread thread = new Thread(task, "spark-rnn-ceiling-" + t);
        thread.setDaemon(true);
        thread.start();
        others.add(task);
      }
    } catch (RuntimeException | OutOfMemoryError e) { // no thread to be had: release those already waiting at the barrier
      start.reset();
      throw e;
    }
    try {
      rates[0] = timedChains(start, window);
      for (int t = 1; t < threads; t++) {
        rates[t] = others.get(t - 1).get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while measuring the FMA ceiling", e);
    } catch (BrokenBarrierException | ExecutionException e) {
      throw new IllegalStateException("a thread of the FMA ceiling failed", e instanceof ExecutionException ? e.getCause() : e);
    }
    return new Result(threads, Chains.lanes(), rates, jitBusy);
  }

  /** GFLOP/s of {@code rounds} rounds of the 16 chains of {@code lanes}-lane FMAs in {@code nanos}: 16 · lanes · 2 flops a round. */
  static double gflops(long rounds, int lanes, long nanos) {
    return rounds * 16.0 * lanes * 2 / nanos;
  }

  /**
   * Runs the chains untimed for at least {@code minSeconds}, then until the JIT has compiled nothing
   * for {@code quietSeconds}, at most {@link #WARMUP_MAX_SECONDS} in all; false where it stopped at
   * that limit with the JIT still compiling.
   */
  private static boolean untilQuiet(double minSeconds, double quietSeconds) {
    WarmUp w = WarmUp.of(0, minSeconds, WARMUP_MAX_SECONDS, quietSeconds);
    for (int c = 0; w.more(c); c++) {
      chainsFor(WARMUP_WINDOW_NANOS);
    }
    return !w.cutShort();
  }

  private static double timedChains(CyclicBarrier start, long window) throws InterruptedException, BrokenBarrierException {
    start.await();
    return chainsFor(window);
  }

  /**
   * The chains for {@code window} ns of wall-clock time (whole calls of {@link #ROUNDS} rounds),
   * in GFLOP/s. The warm-up runs this very method, so that C2 has compiled its loop too before a
   * window is timed: when only the chains were warmed, the loop's own compilation ran during the first
   * measurement of a JVM, on one of the two cores.
   */
  private static double chainsFor(long window) {
    float[] sink = new float[1];
    long t0 = System.nanoTime();
    long rounds = 0;
    long now;
    do {
      Chains.run(ROUNDS, sink);
      rounds += ROUNDS;
      now = System.nanoTime();
    } while (now - t0 < window);
    sum = sink[0]; // read, so that C2 keeps the chains
    return gflops(rounds, Chains.lanes(), now - t0);
  }

  /** The chains themselves, apart so that the Vector API's classes load only when a measurement runs. */
  static final class Chains {
    private Chains() {}

    static int lanes() {
      return jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
    }

    /**
     * 16 independent chains c ← c·m + d of preferred-width vectors for {@code rounds} rounds, their
     * lanes' sum added to {@code sink[0]}: two FMA pipes of latency 4 need 8 chains in flight, 16
     * leave room. m = 0.999999 and d = 1e−7 keep every value normal (c tends to 0.1).
     */
    static void run(int rounds, float[] sink) {
      jdk.incubator.vector.VectorSpecies<Float> s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
      jdk.incubator.vector.FloatVector m = jdk.incubator.vector.FloatVector.broadcast(s, 0.999999f);
      jdk.incubator.vector.FloatVector d = jdk.incubator.vector.FloatVector.broadcast(s, 1e-7f);
      jdk.incubator.vector.FloatVector c0 = d, c1 = d, c2 = d, c3 = d, c4 = d, c5 = d, c6 = d, c7 = d;
      jdk.incubator.vector.FloatVector c8 = d, c9 = d, c10 = d, c11 = d, c12 = d, c13 = d, c14 = d, c15 = d;
      for (int i = 0; i < rounds; i++) {
        c0 = c0.fma(m, d);
        c1 = c1.fma(m, d);
        c2 = c2.fma(m, d);
        c3 = c3.fma(m, d);
        c4 = c4.fma(m, d);
        c5 = c5.fma(m, d);
        c6 = c6.fma(m, d);
        c7 = c7.fma(m, d);
        c8 = c8.fma(m, d);
        c9 = c9.fma(m, d);
        c10 = c10.fma(m, d);
        c11 = c11.fma(m, d);
        c12 = c12.fma(m, d);
        c13 = c13.fma(m, d);
        c14 = c14.fma(m, d);
        c15 = c15.fma(m, d);
      }
      sink[0] += c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).add(c12).add(c13)
          .add(c14).add(c15).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
  }
}
