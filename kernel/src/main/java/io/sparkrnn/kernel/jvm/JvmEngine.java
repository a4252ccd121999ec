package io.sparkrnn.kernel.jvm;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.GroupedResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * BPTT in float32 on the JVM, multi-threaded, with register-blocked matrix products
 * ({@link MathKernels}): {@code --device jvm}, and what {@code auto} picks when there is no OpenCL GPU.
 *
 * <p>Work split: the batch is cut into P contiguous slices of sequences (P = threads, at most B; more with {@code -Dsparkrnn.jvm.slicesPerThread}),
 * and each {@link Slice} runs the whole forward and backward pass of its sequences on one thread,
 * with its own buffers and its own float32 gradient; the P gradients are added in float64 at the
 * end. Slices share nothing while they run, so there is no synchronisation per time step.
 * {@link #lossAndGradients} takes the slices from the caller instead (training's virtual
 * partitions) and returns each slice's gradient: a slice's bits depend on its sequences alone, so
 * they are the same for any thread count.
 *
 * <p>Per layer and slice (Bs sequences, GH = G·H): each step t computes the gate pre-activations
 * [Bs][GH] = bias + x_t W_ihᵀ + h_t W_hhᵀ as two matrix products over the whole slice (M = Bs rows),
 * then the gate nonlinearities in place (vectorised σ and tanh) and the cell update. Backward walks
 * t down: the gate gradients of step t from the carried dh, dc (LSTM: one vectorised call per run of
 * valid sequences, {@link MathKernels#lstmCellBack}), then the carried
 * dh_t = dgates_t W_hh (one product). Every C / Bs steps (C = 256 rows) the chunk's dgates go into
 * the weight gradients as one product per matrix over all its rows, while they are in cache:
 * dW_hh += dgatesᵀ h_prev, dW_ih += dgatesᵀ x, and the gradient for the layer below dx = dgates W_ih.
 * The weights are transposed (and packed) once per call, or once for a run of forward calls with
 * the same values ({@link Weights#load}).
 *
 * <p>Working memory in float32 values, for the whole batch (summed over the P slices of B_p
 * sequences, Σ B_p = B), L layers, I_l the input width of layer l, R head rows (T·B for seq2seq, B
 * for seq2one), C_p = min(T, max(1, ⌊256 / B_p⌋))·B_p rows of dgates per slice ({@code CHUNK_ROWS}; at
 * most 256 while B_p ≤ 256, else B_p),
 * |θ| the parameter count; {@link #workingBytes()} counts exactly this, and
 * {@code JvmEngineMemoryTest} checks the two agree:
 * <pre>
 *   per layer l:  (T+1)·B·H (h) + T·B·GH (gate activations)
 *                 + LSTM: (T+1)·B·H (c) + T·B·H (tanh c);   GRU: T·B·H (W_hn h + b_hn)
 *   once:         2·T·B·H (dh from above and to below) + T·B·F (x) + 2·R·O (outputs, d outputs)
 *                 + Σ_p C_p·(GH + 1) (dgates of one chunk, and a row of ones; GRU Σ_p C_p·(2·GH + 1))
 *                 + 4·B·H (carried dh, dc; seq2one head rows and their gradient) + B (lengths, int)
 *                 + GRU: B·GH (hidden pre-activations of a step)
 *                 + P·|θ| (a float32 gradient per slice; {@link #lossAndGradients} hands it to the
 *                   caller and keeps up to P·|θ| more: the arrays given back by {@link GroupedResult#release})
 *                 + P·(8·⌊GH/8⌋·256 + 256·2V) (packing scratch of the weight-gradient products:
 *                   Vector API kernels on 512-bit vectors with GH ≥ 64, 2V = 32 floats; on narrower
 *                   vectors with GH ≥ 64 P·(GH·256 + 256·2V); else 0)
 *                 + Σ_p 8·⌊B_p/8⌋·256 (packed rows of the recurrent products: Vector API kernels on
 *                   512-bit or wider vectors; else 0)
 *                 + Σ_l (I_l·GH + H·GH + GH) + H·O (the transposed weights and summed biases)
 *                 + Σ_l (H·2V·⌊GH/2V⌋ + GH·2V·⌊H/2V⌋) (W_hhᵀ and W_hh packed in strips of 2V columns,
 *                   32 on 512-bit vectors, 16 on 256-bit; Vector API of any width, else 0)
 *                 + Σ_{l: I_l ≥ 16} I_l·2V·⌊GH/2V⌋ (W_ihᵀ likewise)
 * </pre>
 * A forward pass alone ({@link #forward}, on an engine that has not trained) keeps one step of the
 * gate activations, tanh c and W_hn h instead of T, two steps of c instead of T+1, and none of the
 * backward buffers, but |θ| more:
 * the values its transposed weights were made from, so that the next forward call with the same
 * values reuses them (the formula in docs/PERFORMANCE.md; {@code JvmEngineMemoryTest}).
 * Per call, not kept: the float64 gradient (2·|θ| floats' worth), the outputs and the final state
 * it returns. E.g. LSTM, L = 1, F = O = 1, H = 256, B = 64, T = 50, P = 2, AVX-512: 39.5 MB.
 * Buffers grow to the largest shapes seen and are reused; nothing is allocated per time step.
 *
 * <p>create → ({@link #forward} | {@link #lossAndGradient})* → {@link #close}. Not thread-safe.
 * Slices run on the calling thread and one JVM-wide pool of daemon threads (one per core but one),
 * so several engines in one executor (one per Spark task) share the cores instead of
 * oversubscribing them.
 */
public final class JvmEngine implements BpttEngine {
  /** System property: the number of slices (threads) per call; default the available processors. */
  public static final String THREADS_PROPERTY = "sparkrnn.jvm.threads";
  /** System property: slices per thread (default 1). */
  public static final String SLICES_PROPERTY = "sparkrnn.jvm.slicesPerThread";
  /** System property: how long, in microseconds, an idle worker or a waiting caller polls before it parks (default 100; 0 parks at once). */
  public static final String SPIN_PROPERTY = "sparkrnn.jvm.spinMicros";
  private static final int SPIN_MICROS_DEFAULT = 100;

  /**
   * Waking a parked thread costs tens of microseconds on a VM: a submit-and-get round trip to a
   * parked pool thread took 57 µs (median of 20,000, this 2-core host), against 150–250 µs for a
   * whole forward pass of 8 sequences on two threads. So an idle worker polls the queue, and a
   * caller its workers, this long before parking, as OpenMP runtimes spin before they sleep.
   */
  private static final long SPIN_NANOS = Runtime.getRuntime().availableProcessors() > 1
      ? spinMicrosOrDefault() * 1000L
      : 0; // on one processor a spinning thread only delays the one it waits for

  /**
   * One worker per core but the caller's (the caller runs slices too), so a call on every core
   * never has an idle worker spinning beside its own threads.
   */
  private static final ExecutorService POOL = new ThreadPoolExecutor(Math.max(1, Runtime.getRuntime().availableProcessors() - 1),
      Math.max(1, Runtime.getRuntime().availableProcessors() - 1), 0, TimeUnit.MILLISECONDS, new SpinningQueue(), r -> {
        Thread t = new Thread(r, "spark-rnn-jvm-engine");
        t.setDaemon(true);
        return t;
      });

  /** The pool's queue: {@link #take} polls for {@link #SPIN_NANOS} before it parks. */
  private static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
    private static final long serialVersionUID = 1L;

    @Override
    public Runnable take() throws InterruptedException {
      long until = System.nanoTime() + SPIN_NANOS;
      do {
        Runnable task = poll(); // an empty queue answers without taking its lock
        if (task != null) {
          return task;
        }
        Thread.onSpinWait();
      } while (System.nanoTime() - until < 0);
      return super.take();
    }
  }

  /** {@link #SPIN_PROPERTY}, or its default where it is not a valid value (the constructor reports that as bad input). */
  private static int spinMicrosOrDefault() {
    try {
      return intProperty(SPIN_PROPERTY, SPIN_MICROS_DEFAULT, 0);
    } catch (BadInputException e) {
      return SPIN_MICROS_DEFAULT;
    }
  }

  /**
   * A {@code -D} property's value as an integer, or {@code fallback} where it is not set.
   *
   * @throws BadInputException naming the property when it is set to anything but an integer ≥ min
   */
  static int intProperty(String name, int fallback, int min) {
    String value = System.getProperty(name);
    if (value == null) {
      return fallback;
    }
    try {
      int n = Integer.parseInt(value.trim());
      if (n >= min) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new BadInputException("-D" + name + ": expected an integer ≥ " + min + ", found '" + value + "'");
  }

  private final MathKernels math;
  private final int threads;
  /** Fewer values than this per thread are added on the calling thread alone: a hand-off costs microseconds. */
  private static final int SUM_MIN_VALUES = 1 << 14;
  /** Slices per worker thread: more than 1 balances load when other processes share the cores, at some cost in tile efficiency. */
  private final int slicesPerThread = intProperty(SLICES_PROPERTY, 1, 1);
  private final List<Slice> slices = new ArrayList<>();
  /** What the slices allocate: a JVM whose C2 left the vectors boxed ({@link #describe} says so). */
  final BoxedVectors boxed;
  private Weights weights;
  private volatile boolean closed;

  /** The best kernels ({@link MathKernels#best()}) on every core (or {@code -Dsparkrnn.jvm.threads}). */
  public JvmEngine() {
    this(0);
  }

  /**
   * The best kernels on {@code threads} threads, at most the host's cores (a Spark task's CPUs), or
   * on every core for 0; {@code -Dsparkrnn.jvm.threads} overrides either.
   */
  public JvmEngine(int threads) {
    this(MathKernels.best(), threadsFor(threads));
  }

  /** The thread count {@link #JvmEngine(int)} uses for {@code requested}. */
  public static int threadsFor(int requested) {
    int cores = Runtime.getRuntime().availableProcessors();
    return intProperty(THREADS_PROPERTY, requested > 0 ? Math.min(requested, cores) : cores, 1);
  }

  /**
   * @param threads the most slices a batch is cut into; 1 runs the whole batch on the calling thread
   */
  public JvmEngine(MathKernels math, int threads) {
    this(math, threads, new BoxedVectors());
  }

  /** With the check for boxed vectors given (tests: its clocks and persistence). */
  JvmEngine(MathKernels math, int threads, BoxedVectors boxed) {
    if (threads < 1) {
      throw new BadInputException("threads must be ≥ 1, found " + threads);
    }
    intProperty(SPIN_PROPERTY, SPIN_MICROS_DEFAULT, 0); // read once when the class loads; a bad value is reported here
    this.math = math;
    this.threads = threads;
    this.boxed = boxed;
  }

  /** The most slices a batch is cut into, each on its own thread. */
  public int threads() {
    return threads;
  }

  @Override
  public String describe() {
    String boxedNote = boxed.note();
    return "JVM engine float32 (" + math.describe() + ", " + threads + " thread" + (threads == 1 ? "" : "s") + ")"
        + (boxedNote == null ? "" : "; " + boxedNote);
  }

  @Override
  public ForwardResult forward(Params params, Batch batch, State initial) {
    ModelConfig config = params.config();
    batch.validateFor(config, false);
    Call call = begin(params, batch, initial, false);
    float[] outputs = new float[call.rows() * config.outputSize()];
    run(call, s -> s.forward(call, outputs, false));
    return new ForwardResult(outputs, finalState(call));
  }

  @Override
  public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
    ModelConfig config = params.config();
    batch.validateFor(config, true);
    Call call = begin(params, batch, initial, true);
    double[] loss = backward(call);
    // dW: the slices' float32 sums, added in float64, slice by slice for each element (the same
    // bits however the elements are shared out). In ranges on the engine's threads: on one, the
    // other waited (LSTM H = 256: 265,000 values, about 2% of a call at two threads).
    double[] gradient = new double[params.layout().size()];
    int parts = Math.min(threads, Math.max(1, gradient.length / SUM_MIN_VALUES));
    runSlices(threads, parts, q -> {
      int lo = (int) ((long) gradient.length * q / parts);
      int hi = (int) ((long) gradient.length * (q + 1) / parts);
      for (int p = 0; p < call.slices; p++) {
        float[] g = slices.get(p).grad;
        for (int i = lo; i < hi; i++) {
          gradient[i] += g[i];
        }
      }
    });
    double lossSum = 0;
    for (int p = 0; p < call.slices; p++) {
      lossSum += loss[p];
    }
    return new BpttResult(new GradientSum(lossSum, batch.lossCount(config), gradient), finalState(call));
  }

  /**
   * Each group is one {@link Slice}: its float32 gradient depends on its own sequences alone, not
   * on the thread count or the other groups, and is handed over as float32
   * ({@link GroupedResult#ofFloat32}; the caller reads it as float64).
   */
  @Override
  public GroupedResult lossAndGradients(Params params, Batch batch, State initial, int[] bounds) {
    ModelConfig config = params.config();
    batch.validateFor(config, true);
    BpttEngine.checkGroups(bounds, batch.batchSize());
    Call call = begin(params, batch, initial, bounds.clone(), true);
    double[] loss = backward(call);
    int size = params.layout().size();
    // each slice's float32 gradient goes to the caller as it is, and the slice gets another (a spare
    // the caller gave back, or a new one), which its next backward pass zeroes as it zeroed the old:
    // widening every group to float64 here cost about a tenth of a training step at V = 16 (LSTM H = 256)
    synchronized (spareGradients) {
      spareLimit = call.slices;
      while (spareGradients.size() > spareLimit) { // an earlier call had more groups: keep one per slice of this one
        spareGradients.poll();
      }
    }
    float[][] gradients = new float[call.slices][];
    long[] counts = new long[call.slices];
    runSlices(threads, call.slices, p -> {
      Slice s = slices.get(p);
      gradients[p] = s.grad;
      float[] spare = spareGradients.poll();
      s.grad = spare != null && spare.length >= size ? spare : new float[size];
      counts[p] = batch.lossCount(config, call.from[p], call.from[p + 1]);
    });
    return GroupedResult.ofFloat32(loss, counts, gradients, size, finalState(call), this::takeBack);
  }

  /** Forward and backward of every slice; each slice's loss sum, its gradient left in its {@code grad}. */
  private double[] backward(Call call) {
    double[] loss = new double[call.slices];
    run(call, s -> {
      s.forward(call, null, true);
      loss[s.index] = s.backward(call);
    });
    return loss;
  }

  /** One call's shapes, inputs and slice bounds. */
  record Call(ModelConfig config, ParamLayout layout, float[] w, Weights t, Batch batch, State initial, int slices, int[] from) {
    int rows() {
      return config.mode() == Mode.SEQ2ONE ? batch.batchSize() : batch.steps() * batch.batchSize();
    }
  }

  /** Bounds of min(threads · slicesPerThread, B) slices of B sequences, sizes differing by at most 1: from[p] = ⌊B·p / P⌋. */
  private int[] evenSlices(int B) {
    int P = Math.min(threads * slicesPerThread, B);
    int[] from = new int[P + 1];
    for (int p = 0; p <= P; p++) {
      from[p] = (int) ((long) B * p / P);
    }
    return from;
  }

  private Call begin(Params params, Batch batch, State initial, boolean backward) {
    return begin(params, batch, initial, evenSlices(batch.batchSize()), backward);
  }

  /** A call whose slice p holds the sequences [from[p], from[p+1]); {@code backward}: it will run the backward pass. */
  private Call begin(Params params, Batch batch, State initial, int[] from, boolean backward) {
    if (closed) {
      throw new IllegalStateException("the engine is closed");
    }
    ModelConfig config = params.config();
    if (initial != null) {
      initial.validateFor(config, batch.batchSize());
    }
    int B = batch.batchSize();
    int P = from.length - 1;
    long largestSlice = 0;
    for (int p = 0; p < P; p++) {
      largestSlice = Math.max(largestSlice, from[p + 1] - from[p]);
    }
    long largest = (long) (batch.steps() + 1) * largestSlice * Math.max(config.gates() * config.hiddenSize(),
        Math.max(config.inputSize(), config.outputSize()));
    if (largest > Integer.MAX_VALUE - 8) {
      throw new BadInputException("the JVM engine keeps [T][B/" + P + "][G·H] arrays per slice: T=" + batch.steps() + " B="
          + B + " G·H=" + config.gates() * config.hiddenSize() + " needs " + largest + " values, over Java's 2^31 array limit;"
          + " use more partitions, a smaller batch, or truncated BPTT (tbptt)");
    }
    while (slices.size() < P) {
      slices.add(new Slice(slices.size(), math));
    }
    if (weights == null || weights.layout.size() != params.layout().size() || !weights.layout.config().equals(config)) {
      weights = new Weights(params.layout(), math);
    }
    // the packed copies only where a product will read them: a slice of packedMinRows sequences or
    // more (4 with the Vector API kernels of any width), and W_hh (dgates W_hh) only for a backward pass; a B = 1
    // generation step packs nothing
    boolean packs = largestSlice >= math.packedMinRows();
    weights.load(params.values(), packs, backward && packs, !backward, threads);
    return new Call(config, params.layout(), params.values(), weights, batch, initial, P, from);
  }

  private interface SliceWork {
    void run(Slice s);
  }

  /**
   * Runs the work of every slice on {@code threads} workers: the calling thread and threads − 1
   * pool tasks, each claiming the next unclaimed slice until none is left (so a worker slowed by
   * another process on its core takes fewer slices, and a pool task that starts late, behind
   * another engine's, finds nothing left and ends). The caller returns once every slice is done,
   * not when the pool tasks are: it never waits on a task that has nothing to do. After a failure
   * the slices still unclaimed are skipped; the first failure is thrown.
   */
  private void run(Call call, SliceWork work) {
    ModelConfig c = call.config;
    long values = (long) c.numLayers() * call.batch.batchSize() * call.batch.steps() * c.hiddenSize();
    if (values < BoxedVectors.MIN_VALUES) { // a generation step: microseconds, where two counter reads a slice would show
      runSlices(threads, call.slices, p -> work.run(slices.get(p)));
      return;
    }
    boxed.beginCall(); // a call that failed part way left its slices' bytes behind
    runSlices(threads, call.slices, p -> {
      long before = BoxedVectors.allocatedHere();
      work.run(slices.get(p));
      boxed.slice(BoxedVectors.allocatedHere() - before);
    });
    boxed.endCall(values);
  }

  /** {@link #run} on slice indices: work.accept(p) once for every p &lt; count, on up to {@code threads} threads. */
  static void runSlices(int threads, int count, IntConsumer work) {
    runSlices(threads, count, work, SPIN_NANOS);
  }

  /**
   * {@link #runSlices(int, int, IntConsumer)}, the caller polling for {@code spinNanos} before it
   * parks (tests pass 0 to take the parking path every time).
   */
  static void runSlices(int threads, int count, IntConsumer work, long spinNanos) {
    AtomicInteger next = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread caller = Thread.currentThread();
    Runnable worker = () -> {
      for (int p = next.getAndIncrement(); p < count; p = next.getAndIncrement()) {
        try {
          if (failure.get() == null) {
            work.accept(p);
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        } finally {
          // the last slice wakes the caller, unless it is the caller: no permit left behind for
          // whatever that thread parks on next
          if (done.incrementAndGet() == count && Thread.currentThread() != caller) {
            LockSupport.unpark(caller);
          }
        }
      }
    };
    try {
      for (int w = 1; w < Math.min(threads, count); w++) {
        POOL.execute(worker);
      }
    } catch (Throwable e) { // no thread for a task (e.g. out of native threads): skip the slices, throw it
      failure.compareAndSet(null, e);
    }
    worker.run();
    // Every slice is claimed now. Wait for those still running on pool threads, also when
    // interrupted: they write into this engine's buffers, which the next call reuses.
    boolean interrupted = false;
    long until = System.nanoTime() + spinNanos;
    while (done.get() < count) {
      if (System.nanoTime() - until < 0) {
        Thread.onSpinWait();
      } else {
        LockSupport.park(next);
      }
      interrupted |= Thread.interrupted(); // cleared, so that park blocks again
    }
    Throwable e = failure.get();
    if (interrupted) {
      Thread.currentThread().interrupt();
      IllegalStateException stop = new IllegalStateException("interrupted while waiting for the JVM engine's threads");
      if (e != null) {
        stop.addSuppressed(e);
      }
      throw stop;
    }
    if (e instanceof RuntimeException r) {
      throw r;
    } else if (e instanceof Error err) {
      throw err;
    } else if (e != null) {
      throw new IllegalStateException(e);
    }
  }

  /** Threads in the engines' shared pool (tests). */
  static int poolThreads() {
    return ((ThreadPoolExecutor) POOL).getCorePoolSize();
  }

  private State finalState(Call call) {
    ModelConfig config = call.config;
    int L = config.numLayers();
    int B = call.batch.batchSize();
    int H = config.hiddenSize();
    int T = call.batch.steps();
    boolean lstm = config.cell() == CellType.LSTM;
    float[] h = new float[L * B * H];
    float[] c = lstm ? new float[L * B * H] : null;
    for (int p = 0; p < call.slices; p++) {
      Slice s = slices.get(p);
      int b0 = call.from[p];
      int Bs = call.from[p + 1] - b0;
      for (int l = 0; l < L; l++) {
        // padding carries the state, so h_T is the state after each sequence's last valid step
        System.arraycopy(s.hs[l], T * Bs * H, h, (l * B + b0) * H, Bs * H);
        if (lstm) {
          System.arraycopy(s.cs[l], s.cAt(T, 0), c, (l * B + b0) * H, Bs * H);
        }
      }
    }
    return new State(L, B, H, h, c);
  }

  /**
   * Gradient arrays handed over by {@link #lossAndGradients} and given back by the caller
   * ({@link GroupedResult#release}), for the next call's slices; at most one per slice of the engine.
   * A queue that any thread may add to: the caller releases after the engine's call has returned.
   */
  private final ConcurrentLinkedQueue<float[]> spareGradients = new ConcurrentLinkedQueue<>();

  /** The most spares kept: the slices of the last grouped call (set by the engine's thread, read by the releasing one). */
  private volatile int spareLimit;

  /** Keeps released arrays while fewer than {@link #spareLimit} wait; locked, as two tasks may release at once. */
  private void takeBack(float[][] gradients) {
    synchronized (spareGradients) {
      for (float[] g : gradients) {
        if (!closed && spareGradients.size() < spareLimit) {
          spareGradients.add(g);
        }
      }
    }
  }

  /**
   * Σ over the slices' buffers (the packing scratch of the weight-gradient products included), the
   * transposed weights and the spare gradients given back, 4 bytes a value.
   */
  @Override
  public long workingBytes() {
    long values = 0;
    for (float[] g : spareGradients) {
      values += g.length;
    }
    for (Slice s : slices) {
      values += s.bufferValues();
    }
    if (weights != null) {
      values += weights.values();
    }
    return 4 * values;
  }

  @Override
  public void close() {
    synchronized (spareGradients) {
      closed = true;
      spareGradients.clear();
    }
    slices.clear();
    weights = null;
  }

  /** The weights in the layouts the products want, made for each call or reused (see {@link #load}). */
  static final class Weights {
    /** The narrowest layer input whose W_ihᵀ is packed. */
    static final int PACKED_MIN_INPUT = 16;
    final ParamLayout layout;
    /** Per layer: W_ihᵀ [I_l][GH]. */
    final float[][] wihT;
    /** Per layer: W_hhᵀ [H][GH]. */
    final float[][] whhT;
    /** Per layer: W_hhᵀ [H][GH] in the kernels' packed layout ({@link MathKernels#packB}; empty where they have none), for h W_hhᵀ. */
    final float[][] whhTPacked;
    /** Per layer: W_hh [GH][H] packed likewise, for the backward product dgates W_hh. */
    final float[][] whhPacked;
    /**
     * Per layer: W_ihᵀ [I_l][GH] packed likewise where the layer's input is at least
     * {@link #PACKED_MIN_INPUT} wide (x W_ihᵀ: 64 features, or the layer below's h); empty where
     * narrower, as a product of a few k steps gains nothing from packing its A.
     */
    final float[][] wihTPacked;
    private final MathKernels math;
    /** Per layer: b_ih + b_hh [GH] (RNN, LSTM: one bias for the summed pre-activation). */
    final float[][] biasSum;
    /** head.weightᵀ [H][O]. */
    final float[] headT;
    /**
     * The values the layouts above were made from, kept by a forward call (inference: predict,
     * evaluate, every step of a generation, transform's chunks), dropped by a training call, whose
     * weights change every step: a forward call with the same values reuses the layouts. A
     * generation step (T = 1) otherwise transposed and packed every weight for one step's products.
     */
    private float[] madeFrom;
    /** Whether the packed forward copies (W_hhᵀ, W_ihᵀ) are filled. */
    private boolean forwardPacked;

    Weights(ParamLayout layout, MathKernels math) {
      this.layout = layout;
      this.math = math;
      ModelConfig c = layout.config();
      int L = c.numLayers();
      int GH = c.gates() * c.hiddenSize();
      wihT = new float[L][];
      whhT = new float[L][];
      whhTPacked = new float[L][];
      whhPacked = new float[L][];
      wihTPacked = new float[L][];
      biasSum = new float[L][GH];
      for (int l = 0; l < L; l++) {
        wihT[l] = new float[c.layerInputSize(l) * GH];
        whhT[l] = new float[c.hiddenSize() * GH];
        whhTPacked[l] = new float[math.packedBSize(c.hiddenSize(), GH)];
        whhPacked[l] = new float[math.packedBSize(GH, c.hiddenSize())];
        wihTPacked[l] = new float[c.layerInputSize(l) >= PACKED_MIN_INPUT ? math.packedBSize(c.layerInputSize(l), GH) : 0];
      }
      headT = new float[c.hiddenSize() * c.outputSize()];
    }

    long values() {
      return sum(wihT) + sum(whhT) + sum(whhTPacked) + sum(whhPacked) + sum(wihTPacked) + sum(biasSum) + headT.length
          + (madeFrom == null ? 0 : madeFrom.length);
    }

    /**
     * Makes this call's layouts from {@code w} (the packed W_hhᵀ and W_ihᵀ when {@code
     * packForward}, the packed W_hh when {@code packBackward}), unless {@code reuse} and they were
     * made from equal values (as {@link Arrays#equals(float[], float[])} compares them: bit for
     * bit, except that every NaN is alike) with the packed forward copies asked for. With {@code
     * reuse} (a forward call) the values are copied first and the layouts made from the copy, so
     * that the copy is what they hold even if w changes meanwhile; without (a training call, whose
     * weights change every step) the copy is dropped.
     */
    void load(float[] w, boolean packForward, boolean packBackward, boolean reuse, int threads) {
      if (reuse && madeFrom != null && (forwardPacked || !packForward) && Arrays.equals(madeFrom, w)) {
        return;
      }
      if (!reuse) {
        madeFrom = null;
        make(w, packForward, packBackward, threads);
        return;
      }
      float[] copy = madeFrom != null && madeFrom.length == w.length ? madeFrom : new float[w.length];
      madeFrom = null; // until the layouts below are made from it
      System.arraycopy(w, 0, copy, 0, w.length);
      make(copy, packForward, packBackward, threads);
      madeFrom = copy;
    }

    /**
     * The layouts of {@code w}. The packed W_hh (read by the backward pass only) is made beside the
     * others, on a second thread where the engine has one: made on the calling thread alone, the
     * transposes and packs of a call (2 MiB at LSTM H = 256) kept the other thread waiting.
     */
    private void make(float[] w, boolean packForward, boolean packBackward, int threads) {
      forwardPacked = packForward;
      ModelConfig c = layout.config();
      int H = c.hiddenSize();
      int GH = c.gates() * H;
      boolean backwardApart = packBackward && threads > 1 && (long) GH * H >= PACK_APART_VALUES;
      runSlices(backwardApart ? 2 : 1, backwardApart ? 2 : 1, part -> {
        if (part == 1) {
          packBackward(w);
          return;
        }
        for (int l = 0; l < c.numLayers(); l++) {
          transpose(w, layout.weightIh(l), GH, c.layerInputSize(l), wihT[l]);
          transpose(w, layout.weightHh(l), GH, H, whhT[l]);
          if (packForward && whhTPacked[l].length > 0) {
            math.packB(H, GH, whhT[l], 0, GH, whhTPacked[l]);
          }
          if (packForward && wihTPacked[l].length > 0) {
            math.packB(c.layerInputSize(l), GH, wihT[l], 0, GH, wihTPacked[l]);
          }
          for (int r = 0; r < GH; r++) {
            biasSum[l][r] = w[layout.biasIh(l) + r] + w[layout.biasHh(l) + r];
          }
        }
        transpose(w, layout.headWeight(), c.outputSize(), H, headT);
        if (packBackward && !backwardApart) {
          packBackward(w);
        }
      });
    }

    /** W_hh [GH][H] packed for dgates W_hh, every layer. */
    private void packBackward(float[] w) {
      ModelConfig c = layout.config();
      for (int l = 0; l < c.numLayers(); l++) {
        if (whhPacked[l].length > 0) {
          math.packB(c.gates() * c.hiddenSize(), c.hiddenSize(), w, layout.weightHh(l), c.hiddenSize(), whhPacked[l]);
        }
      }
    }

    /** Below this many values in W_hh a second thread for its packing costs more than it saves. */
    static final long PACK_APART_VALUES = 1 << 15;

    /** dst [cols][rows] = src [rows][cols] at srcOff, in 32 × 32 blocks for the caches. */
    static void transpose(float[] src, int srcOff, int rows, int cols, float[] dst) {
      final int tile = 32;
      for (int r0 = 0; r0 < rows; r0 += tile) {
        int r1 = Math.min(rows, r0 + tile);
        for (int c0 = 0; c0 < cols; c0 += tile) {
          int c1 = Math.min(cols, c0 + tile);
          // writes along dst's rows: with src's rows innermost instead, each write of a tile column
          // went rows floats further on (4 KiB at LSTM H = 256, GH = 1024: one cache set, 4K
          // aliasing), and 1024 × 256 took 3.9 ns a value against 0.7 (one thread, best of 2 × 200)
          for (int col = c0; col < c1; col++) {
            for (int r = r0; r < r1; r++) {
              dst[col * rows + r] = src[srcOff + r * cols + col];
            }
          }
        }
      }
    }
  }

  /**
   * The sequences [from[p], from[p+1]) of one call, with every buffer their pass needs. Rows are
   * (t, b) with b local to the slice: row t·Bs + b.
   */
  static final class Slice {
    final int index;
    final MathKernels math;
    int T, Bs, b0, F, H, G, GH, L, O;
    CellType cell;
    /** Per layer: hidden states [T+1][Bs][H]; t = 0 holds the initial state. */
    float[][] hs = new float[0][];
    /** Per layer (LSTM): cell states [T+1][Bs][H], or [2][Bs][H] in a forward pass alone ({@link #cAt}). */
    float[][] cs = new float[0][];
    /** Per layer (LSTM): tanh(c_{t+1}) [T][Bs][H]. */
    float[][] tcs = new float[0][];
    /** Per layer: gate activations after their nonlinearity [T][Bs][GH] (LSTM i,f,g,o; GRU r,z,n; RNN h'). */
    float[][] act = new float[0][];
    /** Per layer (GRU): W_hn h + b_hn [T][Bs][H]. */
    float[][] hn = new float[0][];
    /** x of this slice [T][Bs][F]. */
    float[] xs = new float[0];
    /** GRU: W_hh h + b_hh of one step [Bs][GH]. */
    float[] ghStep = new float[0];
    /** Head outputs [R][O] and d loss / d outputs [R][O]; R = T·Bs (seq2seq) or Bs. */
    float[] out = new float[0];
    float[] dout = new float[0];
    /** Seq2one: the top state each sequence's output reads [Bs][H], and its gradient. */
    float[] headIn = new float[0];
    float[] dHeadIn = new float[0];
    /** d loss / d gate pre-activations of one chunk of steps [T_c][Bs][GH]: the input side; GRU keeps the hidden side apart in dgh. */
    float[] dgi = new float[0];
    float[] dgh = new float[0];
    /** d loss / d h_{t+1} arriving from above [T][Bs][H], and the one this layer sends below. */
    float[] dhAbove = new float[0];
    float[] dhBelow = new float[0];
    /** Carried d loss / d h_t and d loss / d c_t [Bs][H]. */
    float[] dhCarry = new float[0];
    float[] dcCarry = new float[0];
    /** Scratch of the weight-gradient products ({@link MathKernels#transAWorkSize}). */
    float[] pack = new float[0];
    /** Scratch of the recurrent products' packed rows ({@link MathKernels#packedWorkSize}). */
    float[] packRows = new float[0];
    /** All ones [T_c·Bs]: Σ over rows as a product. */
    float[] ones = new float[0];
    /** d loss sum / d params of this slice, laid out by ParamLayout. */
    float[] grad = new float[0];
    int[] len = new int[0];
    /** Whether this call's forward pass keeps [T] steps of act, tcs and hn for a backward pass. */
    boolean keep;

    Slice(int index, MathKernels math) {
      this.index = index;
      this.math = math;
    }

    /** Values held in this slice's buffers (their capacity, not the part the last call used). */
    long bufferValues() {
      return sum(hs) + sum(cs) + sum(tcs) + sum(act) + sum(hn) + xs.length + ghStep.length + out.length + dout.length
          + headIn.length + dHeadIn.length + dgi.length + dgh.length + dhAbove.length + dhBelow.length + dhCarry.length
          + dcCarry.length + ones.length + grad.length + len.length + pack.length + packRows.length;
    }

    int hAt(int t, int b) {
      return (t * Bs + b) * H;
    }

    /** Row (t, b) of the gate activations: [T][Bs][GH] when the pass keeps them for backward, else one step [Bs][GH] reused. */
    int gAt(int t, int b) {
      return ((keep ? t : 0) * Bs + b) * GH;
    }

    /**
     * Row (t, b) of the cell states: [T+1][Bs][H] when kept for backward, else two steps [2][Bs][H]
     * taken in turn (step t reads c_t and writes c_{t+1}; only h of every step is read after it, by
     * the head and the layer above): at T = 1000 the states of every step streamed through memory.
     */
    int cAt(int t, int b) {
      return ((keep ? t : t & 1) * Bs + b) * H;
    }

    /** Row (t, b) of tanh c' (LSTM) and W_hn h + b_hn (GRU): [T][Bs][H] when kept for backward, else one step [Bs][H] reused. */
    int kAt(int t, int b) {
      return ((keep ? t : 0) * Bs + b) * H;
    }

    /**
     * Sizes the buffers, copies x, the lengths and the initial state of this slice. A forward-only
     * pass ({@code keep} false) keeps one step of gate activations (and of tanh c', W_hn h + b_hn),
     * not T: nothing reads them after the step, and a [Bs][GH] buffer reused every step stays in
     * cache where [T][Bs][GH] streams through memory.
     */
    void prepare(Call call, boolean keep) {
      this.keep = keep;
      ModelConfig c = call.config;
      Batch batch = call.batch;
      T = batch.steps();
      b0 = call.from[index];
      Bs = call.from[index + 1] - b0;
      F = c.inputSize();
      H = c.hiddenSize();
      G = c.gates();
      GH = G * H;
      L = c.numLayers();
      O = c.outputSize();
      cell = c.cell();
      boolean lstm = cell == CellType.LSTM;
      boolean gru = cell == CellType.GRU;
      if (hs.length < L) {
        hs = new float[L][0];
        cs = new float[L][0];
        tcs = new float[L][0];
        act = new float[L][0];
        hn = new float[L][0];
      }
      int state = (T + 1) * Bs * H;
      int kept = keep ? T : 1; // steps of act, tcs and hn held
      for (int l = 0; l < L; l++) {
        hs[l] = fit(hs[l], state);
        act[l] = fit(act[l], kept * Bs * GH);
        if (lstm) {
          cs[l] = fit(cs[l], keep ? state : 2 * Bs * H);
          tcs[l] = fit(tcs[l], kept * Bs * H);
        }
        if (gru) {
          hn[l] = fit(hn[l], kept * Bs * H);
        }
      }
      xs = fit(xs, T * Bs * F);
      int B = batch.batchSize();
      for (int t = 0; t < T; t++) {
        System.arraycopy(batch.x(), (t * B + b0) * F, xs, t * Bs * F, Bs * F);
      }
      len = len.length >= Bs ? len : new int[Bs];
      for (int b = 0; b < Bs; b++) {
        len[b] = batch.length(b0 + b);
      }
      State init = call.initial;
      for (int l = 0; l < L; l++) {
        if (init == null) {
          Arrays.fill(hs[l], 0, Bs * H, 0f);
          if (lstm) {
            Arrays.fill(cs[l], 0, Bs * H, 0f);
          }
        } else {
          System.arraycopy(init.h(), init.at(l, b0, 0), hs[l], 0, Bs * H);
          if (lstm) {
            System.arraycopy(init.c(), init.at(l, b0, 0), cs[l], 0, Bs * H);
          }
        }
      }
      if (gru) {
        ghStep = fit(ghStep, Bs * GH);
      }
      packRows = fit(packRows, math.packedWorkSize(Bs));
      int R = c.mode() == Mode.SEQ2ONE ? Bs : T * Bs;
      out = fit(out, R * O);
      headIn = fit(headIn, Bs * H);
      if (keep) {
        dout = fit(dout, R * O);
        dHeadIn = fit(dHeadIn, Bs * H);
      }
    }

    /**
     * Every layer over all steps, then the head; writes this slice's outputs into {@code outputs}
     * when given. {@code keep}: keep what the backward pass reads (training), else only what the
     * next step and the head read.
     */
    void forward(Call call, float[] outputs, boolean keep) {
      prepare(call, keep);
      for (int l = 0; l < L; l++) {
        forwardLayer(call, l);
      }
      head(call);
      if (outputs != null) {
        int B = call.batch.batchSize();
        if (call.config.mode() == Mode.SEQ2ONE) {
          System.arraycopy(out, 0, outputs, b0 * O, Bs * O);
        } else {
          for (int t = 0; t < T; t++) {
            System.arraycopy(out, t * Bs * O, outputs, (t * B + b0) * O, Bs * O);
          }
        }
      }
    }

    void forwardLayer(Call call, int l) {
      ParamLayout p = call.layout;
      float[] w = call.w;
      int in = call.config.layerInputSize(l);
      float[] h = hs[l];
      float[] a = act[l];
      float[] wihT = call.t.wihT[l];
      float[] whhT = call.t.whhT[l];
      for (int t = 0; t < T; t++) {
        // the input of step t: x_t (layer 0) or the layer below's h_{t+1}, [Bs][in]
        float[] x = l == 0 ? xs : hs[l - 1];
        int xOff = l == 0 ? t * Bs * F : (t + 1) * Bs * H;
        int g = gAt(t, 0);
        if (cell == CellType.GRU) {
          // gi = W_ih x + b_ih (into act), gh = W_hh h + b_hh (kept apart: n needs it alone)
          fillRows(a, g, w, p.biasIh(l), GH);
          fillRows(ghStep, 0, w, p.biasHh(l), GH);
          math.gemmPacked(Bs, GH, in, x, xOff, in, wihT, 0, GH, call.t.wihTPacked[l], a, g, GH, packRows);
          math.gemmPacked(Bs, GH, H, h, hAt(t, 0), H, whhT, 0, GH, call.t.whhTPacked[l], ghStep, 0, GH, packRows);
          gruStep(l, t);
        } else {
          preActivations(call, l, x, xOff, h, hAt(t, 0), a, g); // a = W_ih x + b_ih + W_hh h + b_hh
          if (cell == CellType.RNN) {
            rnnStep(l, t);
          } else {
            lstmStep(l, t);
          }
        }
      }
    }

    /**
     * a[g..] = b_ih + b_hh + x_t W_ihᵀ + h_t W_hhᵀ for the slice's rows (RNN and LSTM); at input
     * width 1 the bias and the input's outer product start the recurrent product's accumulators
     * ({@link MathKernels#gemmPackedBiasOuter}, the same bits as the two steps). Apart from
     * forwardLayer, whose compiled code it would otherwise join: grown by these lines,
     * forwardLayer's C2 compilation left the RNN cell's e^x un-intrinsified in most JVMs (RNN H =
     * 64: 4.9 MB of boxed vectors a call, 57,000 against 87,000 seq/s).
     */
    private void preActivations(Call call, int l, float[] x, int xOff, float[] h, int hOff, float[] a, int g) {
      int in = call.config.layerInputSize(l);
      if (in == 1) {
        math.gemmPackedBiasOuter(Bs, GH, H, h, hOff, H, call.t.whhT[l], 0, GH, call.t.whhTPacked[l], call.t.biasSum[l], 0, x, xOff,
            call.t.wihT[l], 0, a, g, GH, packRows);
      } else {
        fillRows(a, g, call.t.biasSum[l], 0, GH);
        math.gemmPacked(Bs, GH, in, x, xOff, in, call.t.wihT[l], 0, GH, call.t.wihTPacked[l], a, g, GH, packRows);
        math.gemmPacked(Bs, GH, H, h, hOff, H, call.t.whhT[l], 0, GH, call.t.whhTPacked[l], a, g, GH, packRows);
      }
    }

    /** Bs rows of [GH] at off, each set to src[srcOff..srcOff+GH). */
    void fillRows(float[] dst, int off, float[] src, int srcOff, int n) {
      for (int b = 0; b < Bs; b++) {
        System.arraycopy(src, srcOff, dst, off + b * n, n);
      }
    }

    void rnnStep(int l, int t) {
      float[] a = act[l];
      float[] h = hs[l];
      math.tanh(a, gAt(t, 0), a, gAt(t, 0), Bs * H); // h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
      for (int b = 0; b < Bs; b++) {
        int src = t < len[b] ? gAt(t, b) : -1;
        if (src >= 0) {
          System.arraycopy(a, src, h, hAt(t + 1, b), H);
        } else {
          System.arraycopy(h, hAt(t, b), h, hAt(t + 1, b), H); // padding: the state passes unchanged
        }
      }
    }

    void lstmStep(int l, int t) {
      float[] h = hs[l];
      float[] c = cs[l];
      for (int b = 0; b < Bs; ) {
        if (t >= len[b]) {
          System.arraycopy(h, hAt(t, b), h, hAt(t + 1, b), H); // padding: h and c pass unchanged
          System.arraycopy(c, cAt(t, b), c, cAt(t + 1, b), H);
          b++;
          continue;
        }
        int e = validRunEnd(t, b);
        // gates, c' = f ⊙ c + i ⊙ g, tanh c', h' = o ⊙ tanh c' for the sequences [b, e)
        math.lstmCell(act[l], gAt(t, b), c, cAt(t, b), cAt(t + 1, b), tcs[l], kAt(t, b), h, hAt(t + 1, b), e - b, H);
        b = e;
      }
    }

    void gruStep(int l, int t) {
      float[] h = hs[l];
      for (int b = 0; b < Bs; ) {
        if (t >= len[b]) {
          System.arraycopy(h, hAt(t, b), h, hAt(t + 1, b), H); // padding: the state passes unchanged
          b++;
          continue;
        }
        int e = validRunEnd(t, b);
        // r, z = σ(gi + gh), n = tanh(gi_n + r ⊙ gh_n), h' = (1 − z) ⊙ n + z ⊙ h for the sequences [b, e)
        math.gruCell(act[l], gAt(t, b), ghStep, b * GH, hn[l], kAt(t, b), h, hAt(t, b), hAt(t + 1, b), e - b, H);
        b = e;
      }
    }

    /** The end of the run of sequences from b on that are still valid at step t (all of them without lengths). */
    int validRunEnd(int t, int b) {
      int e = b + 1;
      while (e < Bs && t < len[e]) {
        e++;
      }
      return e;
    }

    /** The top state that output row (t, b) reads: h_{t+1} (seq2seq) or h_{lengths[b]} (seq2one). */
    void head(Call call) {
      ParamLayout p = call.layout;
      float[] w = call.w;
      float[] top = hs[L - 1];
      boolean seq = call.config.mode() == Mode.SEQ2SEQ;
      int R = seq ? T * Bs : Bs;
      float[] in = top;
      int inOff = Bs * H; // rows h_1 .. h_T
      if (!seq) {
        for (int b = 0; b < Bs; b++) {
          System.arraycopy(top, hAt(len[b], b), headIn, b * H, H);
        }
        in = headIn;
        inOff = 0;
      }
      int hb = p.headBias();
      for (int r = 0; r < R; r++) { // a loop, not System.arraycopy: O is often 1, and R = T·B calls cost more than the copies
        for (int o = 0; o < O; o++) {
          out[r * O + o] = w[hb + o];
        }
      }
      math.head(R, O, H, in, inOff, H, w, p.headWeight(), H, call.t.headT, 0, out, 0, O); // y = W_head h + b_head
      if (seq) {
        for (int t = 0; t < T; t++) {
          for (int b = 0; b < Bs; b++) {
            if (t >= len[b]) {
              Arrays.fill(out, (t * Bs + b) * O, (t * Bs + b + 1) * O, 0f); // padded steps output 0
            }
          }
        }
      }
    }

    /** The loss sum of this slice; fills dout with d(loss sum)/d(out). Padded rows get 0. */
    double loss(Call call) {
      Batch batch = call.batch;
      boolean seq = call.config.mode() == Mode.SEQ2SEQ;
      boolean mse = call.config.loss() == LossType.MSE;
      int B = batch.batchSize();
      int rows = seq ? T : 1;
      double sum = 0;
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < Bs; b++) {
          int r = (t * Bs + b) * O; // local row
          int global = t * B + b0 + b; // row of the batch's targets
          if (seq && t >= len[b]) {
            Arrays.fill(dout, r, r + O, 0f);
            continue;
          }
          if (mse) {
            for (int o = 0; o < O; o++) {
              double diff = (double) out[r + o] - batch.targets()[global * O + o];
              sum += diff * diff; // Σ (y − target)²
              dout[r + o] = (float) (2 * diff); // d = 2 (y − target)
            }
          } else {
            int cls = batch.classes()[global];
            double max = Double.NEGATIVE_INFINITY;
            for (int o = 0; o < O; o++) {
              max = Math.max(max, out[r + o]);
            }
            double z = 0;
            for (int o = 0; o < O; o++) {
              z += Math.exp(out[r + o] - max);
            }
            double logZ = max + Math.log(z); // log Σ exp(y), shifted for stability
            sum += logZ - out[r + cls]; // −log softmax(y)[class]
            for (int o = 0; o < O; o++) {
              dout[r + o] = (float) (Math.exp(out[r + o] - logZ) - (o == cls ? 1 : 0)); // softmax − onehot
            }
          }
        }
      }
      return sum;
    }

    /** Loss, the head's backward, then BPTT through every layer; returns this slice's loss sum. */
    double backward(Call call) {
      ParamLayout p = call.layout;
      float[] w = call.w;
      int size = p.size();
      grad = grad.length >= size ? grad : new float[size];
      Arrays.fill(grad, 0, size, 0f);
      dhAbove = fit(dhAbove, T * Bs * H);
      dhBelow = fit(dhBelow, T * Bs * H);
      int chunkRows = chunkSteps() * Bs;
      dgi = fit(dgi, chunkRows * GH);
      if (cell == CellType.GRU) {
        dgh = fit(dgh, chunkRows * GH);
      }
      if (ones.length < chunkRows) {
        ones = new float[chunkRows];
        Arrays.fill(ones, 1f);
      }
      dhCarry = fit(dhCarry, Bs * H);
      dcCarry = fit(dcCarry, Bs * H);
      pack = fit(pack, math.transAWorkSize(GH));
      double loss = loss(call);

      boolean seq = call.config.mode() == Mode.SEQ2SEQ;
      int R = seq ? T * Bs : Bs;
      float[] top = hs[L - 1];
      int hw = p.headWeight();
      for (int r = 0; r < R; r++) {
        for (int o = 0; o < O; o++) {
          grad[p.headBias() + o] += dout[r * O + o]; // dHeadBias += dy
        }
      }
      Arrays.fill(dhAbove, 0, T * Bs * H, 0f);
      if (seq) {
        math.gemm(O, H, R, dout, 0, O, true, top, Bs * H, H, grad, hw, H); // dHeadWeight += dyᵀ h
        math.gemm(R, H, O, dout, 0, O, false, w, hw, H, dhAbove, 0, H); // dh += dy W_head
      } else {
        math.gemm(O, H, Bs, dout, 0, O, true, headIn, 0, H, grad, hw, H);
        Arrays.fill(dHeadIn, 0, Bs * H, 0f);
        math.gemm(Bs, H, O, dout, 0, O, false, w, hw, H, dHeadIn, 0, H);
        for (int b = 0; b < Bs; b++) {
          System.arraycopy(dHeadIn, b * H, dhAbove, hAt(len[b] - 1, b), H); // seq2one: into h at the last valid step
        }
      }
      for (int l = L - 1; l >= 0; l--) {
        backwardLayer(call, l);
        float[] swap = dhAbove;
        dhAbove = dhBelow;
        dhBelow = swap;
      }
      return loss;
    }

    /** Rows (t, b) of dgates kept at once: the weight gradients are taken every CHUNK_ROWS / Bs steps, while those rows are in cache. */
    static final int CHUNK_ROWS = 256;
    /** The first step of the chunk that dgi and dgh hold. */
    int chunkStart;

    /** Index of row (t, b) in dgi and dgh, which hold the steps of one chunk [T_c][Bs][GH]. */
    int dAt(int t, int b) {
      return ((t - chunkStart) * Bs + b) * GH;
    }

    /** Steps per chunk of dgates. */
    int chunkSteps() {
      return Math.max(1, Math.min(T, CHUNK_ROWS / Math.max(1, Bs)));
    }

    /**
     * BPTT through layer l: dhAbove [T][Bs][H] in; weight gradients into grad; for l > 0, dhBelow out.
     * Walks t down in chunks of {@link #chunkSteps()} steps; after each chunk, its rows of dgates go
     * into the weight gradients (and the gradient for the layer below) while they are still in cache.
     */
    void backwardLayer(Call call, int l) {
      ParamLayout p = call.layout;
      float[] w = call.w;
      int in = call.config.layerInputSize(l);
      float[] dgHidden = cell == CellType.GRU ? dgh : dgi; // d loss / d (W_hh h + b_hh): = dgi except GRU's n
      Arrays.fill(dhCarry, 0, Bs * H, 0f);
      Arrays.fill(dcCarry, 0, Bs * H, 0f);
      int tc = chunkSteps();
      for (int tEnd = T; tEnd > 0; tEnd -= tc) {
        chunkStart = Math.max(0, tEnd - tc);
        for (int t = tEnd - 1; t >= chunkStart; t--) {
          for (int b = 0; b < Bs; ) {
            if (t >= len[b]) {
              // padding: h_{t+1} = h_t, so dh passes straight through (dc too), plus whatever came from above
              int d = dAt(t, b);
              int cb = b * H;
              for (int j = 0; j < H; j++) {
                dhCarry[cb + j] += dhAbove[hAt(t, b) + j];
              }
              Arrays.fill(dgi, d, d + GH, 0f);
              if (dgHidden != dgi) {
                Arrays.fill(dgHidden, d, d + GH, 0f);
              }
              b++;
              continue;
            }
            int e = validRunEnd(t, b);
            switch (cell) {
              case RNN -> {
                for (int r = b; r < e; r++) {
                  rnnBack(l, t, r);
                }
              }
              case LSTM -> lstmBack(l, t, b, e - b);
              case GRU -> {
                for (int r = b; r < e; r++) {
                  gruBack(l, t, r);
                }
              }
            }
            b = e;
          }
          // dh_t += dgates_t W_hh   (all sequences of the slice at once)
          math.gemmPacked(Bs, H, GH, dgHidden, dAt(t, 0), GH, w, p.weightHh(l), H, call.t.whhPacked[l], dhCarry, 0, H, packRows);
        }
        // the chunk's rows (t, b), t in [chunkStart, tEnd), into the weight gradients
        int rows = (tEnd - chunkStart) * Bs;
        float[] x = l == 0 ? xs : hs[l - 1];
        int xOff = l == 0 ? chunkStart * Bs * F : (chunkStart + 1) * Bs * H;
        if (dgHidden == dgi) { // dW_ih += dgiᵀ x and dW_hh += dgiᵀ h_prev, dgi packed once for both
          math.gemmTransA2(GH, rows, dgi, 0, GH, in, x, xOff, in, grad, p.weightIh(l), in, H, hs[l], chunkStart * Bs * H, H, grad,
              p.weightHh(l), H, pack);
        } else {
          math.gemmTransA(GH, in, rows, dgi, 0, GH, x, xOff, in, grad, p.weightIh(l), in, pack); // dW_ih += dgiᵀ x
          math.gemmTransA(GH, H, rows, dgHidden, 0, GH, hs[l], chunkStart * Bs * H, H, grad, p.weightHh(l), H, pack); // dW_hh += dghᵀ h_prev
        }
        math.gemm(1, GH, rows, ones, 0, rows, false, dgi, 0, GH, grad, p.biasIh(l), GH); // db_ih += Σ_rows dgi
        if (dgHidden != dgi) {
          math.gemm(1, GH, rows, ones, 0, rows, false, dgHidden, 0, GH, grad, p.biasHh(l), GH); // db_hh += Σ_rows dgh
        }
        if (l > 0) {
          int below = chunkStart * Bs * H;
          Arrays.fill(dhBelow, below, below + rows * H, 0f);
          math.gemm(rows, in, GH, dgi, 0, GH, false, w, p.weightIh(l), in, dhBelow, below, in); // dx = dgi W_ih
        }
      }
      if (dgHidden == dgi) {
        // RNN and LSTM: db_hh received the very sums db_ih did, from the same zero, so it holds the same bits
        System.arraycopy(grad, p.biasIh(l), grad, p.biasHh(l), GH);
      }
      // the initial state receives no gradient: dhCarry now holds d loss / d h_0 and is dropped
    }

    void rnnBack(int l, int t, int b) {
      float[] a = act[l];
      int g = gAt(t, b);
      int d = dAt(t, b);
      int ha = hAt(t, b);
      int cb = b * H;
      for (int j = 0; j < H; j++) {
        float dh = dhAbove[ha + j] + dhCarry[cb + j]; // total d loss / d h_{t+1}
        float hNew = a[g + j];
        dgi[d + j] = (1 - hNew * hNew) * dh; // da = (1 − h'²) dh   (back through tanh)
        dhCarry[cb + j] = 0; // refilled by dgates W_hh
      }
    }

    /** The gate gradients of step t for the valid sequences [b, b + rows), and the carried dc ({@link MathKernels#lstmCellBack}). */
    void lstmBack(int l, int t, int b, int rows) {
      // c_t sits at the same offset in [T+1][Bs][H] as tanh(c_{t+1}) in [T][Bs][H]
      math.lstmCellBack(act[l], gAt(t, b), cs[l], hAt(t, b), tcs[l], hAt(t, b), dhAbove, hAt(t, b), dhCarry, dcCarry, b * H, dgi, dAt(t, b),
          rows, H);
    }

    void gruBack(int l, int t, int b) {
      float[] a = act[l];
      float[] h = hs[l];
      float[] n = hn[l];
      int g = gAt(t, b);
      int d = dAt(t, b);
      int ha = hAt(t, b);
      int cb = b * H;
      for (int j = 0; j < H; j++) {
        float dh = dhAbove[ha + j] + dhCarry[cb + j]; // total d loss / d h_{t+1}
        float rg = a[g + j];
        float zg = a[g + H + j];
        float ng = a[g + 2 * H + j];
        float hPrev = h[ha + j];
        float dn = dh * (1 - zg) * (1 - ng * ng); // through h' = (1 − z) n + z h and n = tanh
        float dz = dh * (hPrev - ng) * zg * (1 - zg); // through z = σ
        float dr = dn * n[ha + j] * rg * (1 - rg); // through r ⊙ (W_hn h + b_hn) and r = σ
        dgi[d + j] = dr;
        dgi[d + H + j] = dz;
        dgi[d + 2 * H + j] = dn;
        dgh[d + j] = dr;
        dgh[d + H + j] = dz;
        dgh[d + 2 * H + j] = dn * rg; // the hidden part of n is scaled by r
        dhCarry[cb + j] = dh * zg; // direct path h → h' through z ⊙ h (the W_hh part is added by the product)
      }
    }

    static float[] fit(float[] a, int n) {
      return a.length >= n ? a : new float[n];
    }
  }

  private static long sum(float[][] arrays) {
    long n = 0;
    for (float[] a : arrays) {
      n += a.length;
    }
    return n;
  }
}
