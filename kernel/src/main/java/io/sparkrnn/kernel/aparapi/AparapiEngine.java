package io.sparkrnn.kernel.aparapi;

import com.aparapi.Range;
import com.aparapi.device.JavaDevice;
import com.aparapi.exception.CompileFailedException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * BPTT in float32 with Aparapi: on an OpenCL GPU, an OpenCL CPU device (PoCL), or Aparapi's Java
 * thread pool.
 *
 * <p>Every matrix product is one tiled product launch ({@link BpttKernel#OP_GEMM}, tiles staged in
 * local memory, sizes from the device: {@link KernelSizes}); the gate math runs in the epilogue of
 * the step's product, so a time step is one launch forward and one backward. Per layer l of L,
 * over T steps:
 * <pre>
 *   forward   state init; act = in · W_ihᵀ + b_ih for all T·B rows at once (one product);
 *             per step t: h_{t−1} · W_hhᵀ (B × GH, one product, each tile holding all gates of
 *             its units) and in its epilogue the cell of step t
 *   head      out = h_top · head.weightᵀ + bias
 *   loss, head backward
 *   backward  the cell's backward of step T − 1 (pointwise); per step t = T − 1 .. 1 (down):
 *             dh_{t−1} += dgh_t · W_hh (B × H, one product) and in its epilogue the cell's
 *             backward of step t − 1;
 *             after the loop: dW_ih = dgiᵀ · in, dW_hh = dghᵀ · h_{t−1} (products over all T·B rows),
 *             db_ih and db_hh (column sums, as one product with two rows of ones for RNN and LSTM,
 *             where dgh = dgi; two for GRU), and above layer 0 dh_below = dgi · W_ih
 * </pre>
 * so {@link #forward} makes L(T + 2) + 1 launches and {@link #lossAndGradient} L(2T + 6) + 2, GRU
 * L(2T + 7) + 2 ({@link #launchesPerForward}, {@link #launchesPerTrainingStep}).
 *
 * <p>Device-resident state: one compiled kernel and its device buffers live as long as the engine;
 * buffers grow with the largest shapes seen and are reused. An input (parameters, batch, lengths,
 * initial state, targets) is put only when it differs from what the device holds: the kernel's host
 * array is the mirror of its device buffer, so the engine compares the new values with it first
 * (the weights of a parameter version, a cached shard's batch: put once). Per call the host gets
 * the outputs or the loss rows and the gradient once, and the final states.
 * {@link #lastCallTransferBytes()} counts what moved.
 *
 * <p>Every launch is checked for the device that actually ran it (see {@link ExecutionGuard}):
 * with an explicitly named device a fallback throws {@link DeviceFallbackException}; with
 * {@code auto} it is logged and shown in {@link #executionReport()}.
 *
 * <p>create → ({@link #forward} | {@link #lossAndGradient})* → {@link #close}. One engine is not
 * thread-safe. Several engines may live in one JVM (a Spark executor runs one task per core), but
 * their calls run one at a time: Aparapi keeps device preferences, failed devices and profiles per
 * kernel class, JVM-wide, so two launches of {@link BpttKernel} at once would see each other's
 * device pinning. One launch already spreads over every core of an OpenCL CPU device, and a GPU
 * runs one at a time anyway, so the lock costs little.
 */
public final class AparapiEngine implements BpttEngine {
  private static final Logger LOG = Logger.getLogger(AparapiEngine.class.getName());
  /** Serialises every use of the BpttKernel class in this JVM; see the class comment. */
  private static final Object KERNEL_CLASS_LOCK = new Object();

  private final BpttKernel kernel;
  private final ResolvedDevice device;
  private final ExecutionGuard guard;
  /** Tile and work-group sizes of the device that runs the kernel. */
  private final KernelSizes sizes;
  /** Bytes put to and got from the device in the current call (whole buffers, as Aparapi moves them). */
  private long putBytes;
  private long getBytes;
  /** The input mirrors that have been put at least once (by identity): only their device copies are known. */
  private final Set<Object> putMirrors = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean closed;
  /** The layout of the current call's parameters. */
  private ParamLayout layout;
  /** The kernel's buffers as the current call's launches use them, and where they were then ({@link ArrayMoves}). */
  private Object[] marked;
  private long[] mark;
  /** Which of them moved between the mark and the call's last read ({@link #checkMoves}). */
  private boolean[] moved = new boolean[0];
  /** The buffers the current call has read back ({@link #get}), by identity. */
  private final Set<Object> gotten = Collections.newSetFromMap(new IdentityHashMap<>());
  /** Calls run again because the garbage collector moved a buffer during them. */
  private long reruns;
  /** Runs of one call at most: each needs a collection that moves a buffer during it to be run again. */
  static final int MAX_ATTEMPTS = 8;
  /** Tests only (package-private, no setting reaches it): runs after a call's last launch, before its reads. */
  Runnable afterLaunches;

  /** Resolves {@code auto|gpu|cpu-opencl|jvm} (see {@link Devices#resolve(String)}) and compiles the kernel. */
  public AparapiEngine(String deviceChoice) {
    this(Devices.resolve(deviceChoice));
  }

  /**
   * Compiles the kernel for the device now (the warm-up), so a kernel that does not compile fails
   * here rather than in the first step.
   *
   * @throws DeviceFallbackException when the device was named explicitly and the kernel does not
   *     compile for it; with {@code auto} the engine logs the failure and uses the JVM thread pool
   */
  public AparapiEngine(ResolvedDevice requested) {
    // Aparapi lists every OpenCL device as its KernelManager loads, also for its Java thread pool:
    // that starts the OpenCL drivers, which only a JVM with chained signal handlers may do (SignalChaining)
    if (!SignalChaining.openClAllowed()) {
      throw new DeviceUnavailableException("the Aparapi engine (on " + requested.info().describe() + "): "
          + SignalChaining.refusal());
    }
    synchronized (KERNEL_CLASS_LOCK) {
      this.kernel = new BpttKernel();
      this.device = compileFor(requested);
      this.guard = new ExecutionGuard(device);
      this.sizes = KernelSizes.forDevice(device.device());
      useSizes(sizes);
      if (device.isOpenCL()) {
        warmUp();
      }
    }
  }

  /**
   * One launch that does nothing (op 0: no branch of run() matches). Aparapi 3.0.2 aborts the JVM
   * (SIGABRT in {@code JNIHandles::destroy_weak_global}, from {@code KernelRunnerJNI.disposeJNI})
   * when a kernel compiled but never launched is disposed after a garbage collection (reproduced:
   * compile, {@code System.gc()}, dispose; with one launch between, it does not); so every
   * compiled engine launches once and {@link #close} can always dispose — an engine closed before
   * its first call (a task that fails first) otherwise kept its native state to the JVM's exit,
   * about 2.7 MB each on PoCL. It also shows at once where launches run: a fallback here throws
   * for a named device and is recorded under auto ({@link #fallbacks}).
   */
  private void warmUp() {
    try {
      emptyLaunch("warm-up");
    } catch (DeviceFallbackException e) {
      if (device.explicit()) {
        throw e;
      }
      // auto: recorded in fallbacks(), and Engines.gpuOrJvm turns to the JVM engine
    }
  }

  /** Sizes the kernel's local tile array: (TM + TN)·TK floats. */
  private void useSizes(KernelSizes tiles) {
    kernel.tileAB = new float[tiles.localFloats()];
  }

  private ResolvedDevice compileFor(ResolvedDevice requested) {
    ResolvedDevice chosen = requested;
    kernel.setExplicit(true);
    useSizes(KernelSizes.forDevice(requested.device()));
    if (requested.isOpenCL()) {
      try {
        // compile() asserts that the device is among the kernel class's preferred devices, and
        // Aparapi's default preferences depend on what ran before in this JVM: pin it first.
        ExecutionGuard.pin(kernel, requested);
        kernel.compile(requested.device());
      } catch (CompileFailedException | RuntimeException e) {
        String message = "the BPTT kernel did not compile for " + requested.info().describe() + ": " + e.getMessage()
            + (SignalChaining.chained() ? "" : " (if the compiler's log, on this JVM's stderr, says 'unable to rename temporary': "
                + SignalChaining.advice() + ")");
        if (requested.explicit()) {
          throw new DeviceFallbackException(message + " (--device " + requested.choice().id() + " names this device, so no fallback)");
        }
        LOG.warning(message + "; --device auto falls back (Engines: to the JVM engine)");
        chosen = new ResolvedDevice(DeviceChoice.AUTO, JavaDevice.THREAD_POOL, Devices.info(JavaDevice.THREAD_POOL),
            requested.reason() + ", but " + message + "; using the JVM thread pool");
      }
    }
    return chosen;
  }

  /** The device this engine launches on, and why it was chosen. */
  public ResolvedDevice device() {
    return device;
  }

  /**
   * Launches of one {@link #lossAndGradient} call over T steps: L(2T + 6) + 2, GRU L(2T + 7) + 2.
   * Per layer T + 2 forward, and T backward (the last step's cell, then T − 1 fused products),
   * dW_ih, dW_hh, the bias gradients (one product, GRU two) and above layer 0 dh of the layer below;
   * once the head, the loss and the head's backward.
   */
  public static int launchesPerTrainingStep(ModelConfig config, int steps) {
    int biasProducts = config.cell() == CellType.GRU ? 2 : 1;
    return config.numLayers() * (2 * steps + 5 + biasProducts) + 2;
  }

  /** Launches of one {@link #forward} call over T steps: L(T + 2) + 1. */
  public static int launchesPerForward(ModelConfig config, int steps) {
    return config.numLayers() * (steps + 2) + 1;
  }

  /** The engine, its device and the device's tile sizes; flags a last call in which Aparapi ran some op elsewhere (auto only). */
  @Override
  public String describe() {
    String base = "aparapi float32 on " + device.info().describe() + ", " + sizes.describe();
    if (device.isOpenCL() && !SignalChaining.chained()) {
      // allowed by -Dsparkrnn.opencl.unchained=allow: the report says so beside the device, not only the log
      base += " (OpenCL without chained signal handlers, -D" + SignalChaining.ALLOW_PROPERTY + "=allow)";
    }
    if (device.isOpenCL() && guard.launches() > 0 && !guard.allOpenCL()) {
      return base + " (FELL BACK: some ops of the last call did not run on the device; see executionReport())";
    }
    return base;
  }

  /** The tile and work-group sizes the engine uses on its device, as {@code devices} prints them. */
  public String tiling() {
    return sizes.describe();
  }

  /**
   * What ran where in the last call: the engine, the device and why it was chosen, the launches by
   * op and the device that actually ran each op, the bytes moved, and any fallback Aparapi made on its own.
   */
  public String executionReport() {
    return describe() + " [" + device.reason() + "]; last call: " + guard.report() + "; host->device " + putBytes
        + " B, device->host " + getBytes + " B" + (reruns == 0 ? "" : "; calls run again since the engine was made, a buffer"
            + " having moved during them: " + reruns);
  }

  /** Whether every launch of the last call ran on an OpenCL device (false before the first call). */
  public boolean lastCallRanOnOpenCL() {
    return guard.allOpenCL();
  }

  /** The device description that ran each op of the last call. */
  public Map<String, String> lastCallDevicesByOp() {
    return guard.ranOn();
  }

  /** Launches of the last call. */
  public int lastCallLaunches() {
    return guard.launches();
  }

  /** Bytes the last call put to the device and got back, together (whole buffers, as Aparapi moves them). */
  public long lastCallTransferBytes() {
    return putBytes + getBytes;
  }

  /** Bytes the last call put to the device. */
  public long lastCallPutBytes() {
    return putBytes;
  }

  /** Fallbacks seen so far (auto only; an explicit device throws instead), by op. */
  public Map<String, String> fallbacks() {
    return guard.fallbacks();
  }

  @Override
  public ForwardResult forward(Params params, Batch batch, State initial) {
    synchronized (KERNEL_CLASS_LOCK) {
      ForwardResult r = rerunIfMoved("forward", () -> forwardLocked(params, batch, initial));
      logCall("forward");
      return r;
    }
  }

  /** At FINE (spark-rnn --verbose): what ran where in the call, with the time by op. */
  private void logCall(String what) {
    if (LOG.isLoggable(Level.FINE)) {
      LOG.fine(what + ": " + executionReport());
    }
  }

  /**
   * Runs the call; when the garbage collector moved one of the kernel's buffers between the call's
   * first launch and its last read (see {@link ArrayMoves}: the reads may then be wrong, and the
   * device buffer of a moved array stale), makes Aparapi drop the buffers it must and runs the call
   * again. The bytes moved count every run of the call; the launches, the last run's.
   */
  private <R> R rerunIfMoved(String what, Supplier<R> call) {
    putBytes = 0;
    getBytes = 0;
    for (int attempt = 1; ; attempt++) {
      R result = call.get();
      if (!device.isOpenCL()) {
        return result; // Aparapi's thread pool works on the arrays themselves: nothing to move away from
      }
      String movedNames = renewMoved();
      if (movedNames.isEmpty()) {
        return result;
      }
      if (attempt == MAX_ATTEMPTS) {
        throw new IllegalStateException(what + ": the garbage collector (" + ArrayMoves.collectors() + ") moved the kernel's"
            + " buffers during each of " + MAX_ATTEMPTS + " runs of the call in a row (the last time: " + movedNames
            + "), so no run's results can be trusted; a larger heap makes collections rarer");
      }
      reruns++;
      LOG.fine(what + ": the garbage collector moved " + movedNames + " during the call (run " + attempt + "); running it again");
    }
  }

  /** Right after a call's last read: which buffers moved since the mark (a move after the reads does no harm). */
  private void checkMoves() {
    moved = ArrayMoves.moved(marked, mark);
  }

  /**
   * Before a call's first read: when a buffer moved since the mark, one empty launch, at which
   * Aparapi makes the moved buffers anew at the arrays' new addresses, so that the reads copy from
   * where the data is now (on PoCL the collector moved it with the array) and not from freed heap,
   * which may be unmapped by then. A move after this launch is still possible; {@link #checkMoves}
   * sees it.
   */
  private void settleMoves() {
    if (device.isOpenCL() && ArrayMoves.anyMoved(marked, mark)) {
      emptyLaunch("settle-moved-buffers");
    }
  }

  /**
   * Tests only (package-private, no setting reaches it): a launch the device refuses, as a GPU
   * whose driver fails a launch would; a work-group of 2^20 items is past every OpenCL device's
   * maximum, so the enqueue fails (CL_INVALID_WORK_GROUP_SIZE) and Aparapi falls back.
   */
  void launchRefusedByTheDevice(String op) {
    kernel.op = 0;
    guard.execute(kernel, op, Range.create(1 << 20, 1 << 20));
  }

  /** A launch that does nothing (op 0: no branch of run() matches); Aparapi takes the buffers as the fields hold them now. */
  private void emptyLaunch(String op) {
    kernel.op = 0;
    guard.execute(kernel, op, Range.create(sizes.elementwise(), sizes.elementwise()));
  }

  /**
   * After {@link #checkMoves}: the names of the moved buffers ("" when none); for each moved one the
   * call read back, Aparapi is made to build a new device buffer. Why those: Aparapi notices a move
   * at the next launch and makes the buffer anew at the new address, unless a {@code get} came
   * between, which records the new address and leaves the buffer at the old one. One empty launch
   * with a one-element stand-in in each such field makes Aparapi drop the old buffer; the array
   * itself goes back in the field, so it keeps its age (a copy would be young, and the young move
   * at every collection).
   */
  private String renewMoved() {
    StringBuilder names = new StringBuilder();
    Object[] real = new Object[moved.length];
    boolean standIns = false;
    for (int i = 0; i < moved.length; i++) {
      if (moved[i]) {
        names.append(names.length() == 0 ? "" : ", ").append(BpttKernel.BUFFER_NAMES.get(i));
        if (gotten.contains(marked[i])) {
          real[i] = kernel.setBuffer(i, marked[i] instanceof int[] ? new int[1] : new float[1]);
          standIns = true;
        }
        moved[i] = false;
      }
    }
    if (standIns) {
      try {
        emptyLaunch("renew-buffers");
      } finally {
        for (int i = 0; i < real.length; i++) {
          if (real[i] != null) {
            kernel.setBuffer(i, real[i]);
          }
        }
      }
    }
    return names.toString();
  }

  /** Calls run again because the garbage collector moved a buffer during them, since the engine was made. */
  public long reruns() {
    return reruns;
  }

  private ForwardResult forwardLocked(Params params, Batch batch, State initial) {
    ModelConfig config = params.config();
    batch.validateFor(config, false);
    begin(params, batch, initial);
    runForward(config, batch);
    afterLaunches();
    settleMoves();
    // every read right after the last launch, before anything allocates (an allocation may start a collection)
    get(kernel.out);
    readFinalState(config);
    checkMoves();
    State last = finalState(config, batch);
    float[] outputs = Arrays.copyOf(kernel.out, rows(config, batch) * config.outputSize());
    return new ForwardResult(outputs, last);
  }

  private void afterLaunches() {
    if (afterLaunches != null) {
      afterLaunches.run();
    }
  }

  @Override
  public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
    synchronized (KERNEL_CLASS_LOCK) {
      BpttResult r = rerunIfMoved("lossAndGradient", () -> lossAndGradientLocked(params, batch, initial));
      logCall("lossAndGradient");
      return r;
    }
  }

  private BpttResult lossAndGradientLocked(Params params, Batch batch, State initial) {
    ModelConfig config = params.config();
    batch.validateFor(config, true);
    begin(params, batch, initial);
    runForward(config, batch);
    int rows = rows(config, batch);
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    int O = config.outputSize();
    BpttKernel k = kernel;

    // loss per row and dLoss/dout
    k.op = BpttKernel.OP_LOSS;
    launch("loss", rows);
    // dh of the top layer, and the head's gradients
    k.op = BpttKernel.OP_HEAD_BACK;
    setLayer(config, batch, config.numLayers() - 1);
    launch("head_back", T * B * H + O * H + O);
    for (int l = config.numLayers() - 1; l >= 0; l--) {
      setLayer(config, batch, l);
      backwardLayer(config, batch, l);
    }
    afterLaunches();
    settleMoves();
    get(k.lossRow);
    get(k.dw);
    readFinalState(config);
    checkMoves();
    State last = finalState(config, batch);

    double[] gradient = new double[layout.size()];
    for (int i = 0; i < gradient.length; i++) {
      gradient[i] = k.dw[i];
    }
    double lossSum = 0;
    for (int r = 0; r < rows; r++) {
      lossSum += k.lossRow[r];
    }
    GradientSum sum = new GradientSum(lossSum, batch.lossCount(config), gradient);
    return new BpttResult(sum, last);
  }

  /**
   * One layer's backward: the time loop (the cell's backward of step T − 1, then per step t down to 1
   * dh_{t−1} += dgh_t · W_hh with the cell's backward of step t − 1 in its epilogue), then the weight
   * gradients as products over all T·B rows, the biases, and dh of the layer below.
   */
  private void backwardLayer(ModelConfig config, Batch batch, int l) {
    BpttKernel k = kernel;
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    int GH = config.gates() * H;
    int in = config.layerInputSize(l);
    int wIh = layout.weightIh(l);
    int wHh = wIh + GH * in;
    k.step = T - 1;
    k.op = BpttKernel.OP_CELL_BACK;
    launch("cell_back", B * H);
    // (dh_{−1}, the gradient of the initial state, is not needed: no product for t = 0)
    for (int t = T - 1; t >= 1; t--) {
      k.step = t;
      // dhc[b,k] += Σ_r dgh[t,b,r] W_hh[r,k]:  A = dgh_t [B][GH], B = W_hh [GH][H] as stored; then the cell's backward of t − 1
      gemm("dh_cell_back", B, H, GH, BpttKernel.BUF_DGH, t * B * GH, GH, 1, BpttKernel.BUF_W, wHh, H, 1,
          BpttKernel.BUF_DHC, 0, H, true, -1, 1, BpttKernel.EPI_CELL_BACK);
    }
    // dW_ih[r,k] = Σ_{t,b} dgi[t,b,r] in[t,b,k]:  A = dgiᵀ (strides 1, GH), B = in [T·B][I]
    int inBuf = l == 0 ? BpttKernel.BUF_X : BpttKernel.BUF_HS;
    int inOff = l == 0 ? 0 : below(l, T, B, H) + B * H; // the layer below's h_t is its slot t + 1
    gemm("dw_ih", GH, in, T * B, BpttKernel.BUF_DGI, 0, 1, GH, inBuf, inOff, in, 1, BpttKernel.BUF_DW, wIh, in, false, -1, 1,
        BpttKernel.EPI_STORE);
    // dW_hh[r,k] = Σ_{t,b} dgh[t,b,r] h_{t−1}[b,k]:  B = this layer's hs slots 0..T−1 [T·B][H]
    gemm("dw_hh", GH, H, T * B, BpttKernel.BUF_DGH, 0, 1, GH, BpttKernel.BUF_HS, k.hsOff, H, 1, BpttKernel.BUF_DW, wHh, H,
        false, -1, 1, BpttKernel.EPI_STORE);
    // db_ih[r] = Σ_{t,b} dgi[t,b,r], db_hh[r] = Σ_{t,b} dgh[t,b,r]:  A = ones [rows][T·B], B = dgi or dgh [T·B][GH]; b_hh
    // follows b_ih in w. RNN and LSTM have dgh = dgi, so one product with two rows of ones writes both (the same sums)
    int bIh = wHh + GH * H;
    if (config.cell() == CellType.GRU) {
      gemm("db_ih", 1, GH, T * B, BpttKernel.BUF_ONE, 0, 0, 0, BpttKernel.BUF_DGI, 0, GH, 1, BpttKernel.BUF_DW, bIh, GH, false, -1,
          1, BpttKernel.EPI_STORE);
      gemm("db_hh", 1, GH, T * B, BpttKernel.BUF_ONE, 0, 0, 0, BpttKernel.BUF_DGH, 0, GH, 1, BpttKernel.BUF_DW, bIh + GH, GH,
          false, -1, 1, BpttKernel.EPI_STORE);
    } else {
      gemm("db", 2, GH, T * B, BpttKernel.BUF_ONE, 0, 0, 0, BpttKernel.BUF_DGI, 0, GH, 1, BpttKernel.BUF_DW, bIh, GH, false, -1, 1,
          BpttKernel.EPI_STORE);
    }
    if (l > 0) {
      // dh_below[t,b,k] = Σ_r dgi[t,b,r] W_ih[r,k]:  A = dgi [T·B][GH], B = W_ih [GH][I] as stored
      gemm("dh_below", T * B, in, GH, BpttKernel.BUF_DGI, 0, GH, 1, BpttKernel.BUF_W, wIh, in, 1, BpttKernel.BUF_DHX, 0, in,
          false, -1, 1, BpttKernel.EPI_STORE);
    }
  }

  /** Offset of layer l − 1's block in hs: (l − 1)·(T+1)·B·H. */
  private static int below(int l, int T, int B, int H) {
    return (l - 1) * (T + 1) * B * H;
  }

  /** Validates the initial state, grows the buffers, and puts the inputs that differ from the device's copy. */
  private void begin(Params params, Batch batch, State initial) {
    if (closed) {
      throw new IllegalStateException("the engine is closed");
    }
    ModelConfig config = params.config();
    if (initial != null) {
      initial.validateFor(config, batch.batchSize());
    }
    layout = params.layout();
    guard.beginCall();
    guard.pin(kernel);
    gotten.clear();
    int L = config.numLayers();
    int T = batch.steps();
    int B = batch.batchSize();
    int F = config.inputSize();
    int H = config.hiddenSize();
    int O = config.outputSize();
    int GH = config.gates() * H;
    int rows = rows(config, batch);
    boolean lstm = config.cell() == CellType.LSTM;
    BpttKernel k = kernel;
    k.tgt = fit(k.tgt, rows * O);
    k.cls = fit(k.cls, rows);
    k.hs = fit(k.hs, L * (T + 1) * B * H);
    k.cs = fit(k.cs, lstm ? L * (T + 1) * B * H : 1);
    k.act = fit(k.act, L * T * B * GH);
    k.hnb = fit(k.hnb, config.cell() == CellType.GRU ? L * T * B * H : 1);
    k.out = fit(k.out, rows * O);
    k.dout = fit(k.dout, rows * O);
    k.lossRow = fit(k.lossRow, rows);
    k.dhx = fit(k.dhx, T * B * H);
    k.dgi = fit(k.dgi, T * B * GH);
    k.dgh = fit(k.dgh, T * B * GH);
    k.dhc = fit(k.dhc, B * H);
    k.dcc = fit(k.dcc, B * H);
    k.hfin = fit(k.hfin, L * B * H);
    k.cfin = fit(k.cfin, lstm ? L * B * H : 1);
    k.dw = fit(k.dw, params.layout().size());

    k.w = putIfChanged(k.w, params.values(), params.layout().size());
    k.x = putIfChanged(k.x, batch.x(), T * B * F);
    int[] lengths = new int[B];
    for (int b = 0; b < B; b++) {
      lengths[b] = batch.length(b);
    }
    k.len = putIfChanged(k.len, lengths);
    if (batch.targets() != null) {
      k.tgt = putIfChanged(k.tgt, batch.targets(), batch.targets().length);
    }
    if (batch.classes() != null) {
      k.cls = putIfChanged(k.cls, batch.classes());
    }
    float[] h0 = initial == null ? new float[L * B * H] : initial.h();
    k.h0 = putIfChanged(k.h0, h0, L * B * H);
    if (lstm) {
      k.c0 = putIfChanged(k.c0, initial == null ? h0 : initial.c(), L * B * H);
    }

    k.cell = cellCode(config.cell());
    k.L = L;
    k.G = config.gates();
    k.H = H;
    k.B = B;
    k.T = T;
    k.O = O;
    k.rows = rows;
    k.seq2one = config.mode() == Mode.SEQ2ONE ? 1 : 0;
    k.crossEntropy = config.loss() == LossType.CROSS_ENTROPY ? 1 : 0;
    k.offHead = params.layout().headWeight();
    // where the buffers are as the launches will find them: checked after the call's last read
    marked = k.buffers();
    mark = ArrayMoves.mark(marked);
  }

  /**
   * The device buffer mirrored by {@code mirror} gets src[0, n): when mirror is large enough and
   * already holds those values, nothing moves (its device copy holds them too: inputs are only ever
   * put, never written by the kernel); otherwise the values are copied into it (a larger one when
   * needed) and put. Returns the mirror to keep.
   */
  private float[] putIfChanged(float[] mirror, float[] src, int n) {
    if (onDevice(mirror, mirror.length >= n && Arrays.equals(mirror, 0, n, src, 0, n))) {
      return mirror;
    }
    float[] m = fit(mirror, n);
    System.arraycopy(src, 0, m, 0, n);
    kernel.put(m);
    return replaced(mirror, m, m.length);
  }

  /** As {@link #putIfChanged(float[], float[], int)}, for all of an int array. */
  private int[] putIfChanged(int[] mirror, int[] src) {
    if (onDevice(mirror, mirror.length >= src.length && Arrays.equals(mirror, 0, src.length, src, 0, src.length))) {
      return mirror;
    }
    int[] m = fit(mirror, src.length);
    System.arraycopy(src, 0, m, 0, src.length);
    kernel.put(m);
    return replaced(mirror, m, m.length);
  }

  /** Whether the device holds the mirror's values: it was put before and they equal the new ones. */
  private boolean onDevice(Object mirror, boolean sameValues) {
    return sameValues && putMirrors.contains(mirror);
  }

  /** Records that {@code put} (length values) replaced {@code old} on the device; returns put. */
  private <A> A replaced(Object old, A put, int length) {
    putMirrors.remove(old);
    putMirrors.add(put);
    putBytes += 4L * length;
    return put;
  }

  private void get(float[] a) {
    kernel.get(a);
    gotten.add(a);
    getBytes += 4L * a.length;
  }

  /** Per layer the state init, the input projection of all steps and the time loop; then the head. */
  private void runForward(ModelConfig config, Batch batch) {
    BpttKernel k = kernel;
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    int GH = config.gates() * H;
    for (int l = 0; l < config.numLayers(); l++) {
      setLayer(config, batch, l);
      int in = config.layerInputSize(l);
      int wIh = layout.weightIh(l);
      int wHh = wIh + GH * in;
      k.op = BpttKernel.OP_STATE_INIT;
      launch("state_init", B * H);
      // act[t,b,r] = b_ih[r] + Σ_k in[t,b,k] W_ih[r,k]:  A = in [T·B][I], B = W_ihᵀ (strides 1, I)
      int inBuf = l == 0 ? BpttKernel.BUF_X : BpttKernel.BUF_HS;
      int inOff = l == 0 ? 0 : below(l, T, B, H) + B * H;
      gemm("proj", T * B, GH, in, inBuf, inOff, in, 1, BpttKernel.BUF_W, wIh, 1, in, BpttKernel.BUF_ACT, k.actOff, GH, false,
          wIh + GH * in + GH * H, 1, BpttKernel.EPI_STORE);
      for (int t = 0; t < T; t++) {
        // Σ_k h_{t−1}[b,k] W_hh[r,k]:  A = hs slot t [B][H], B = W_hhᵀ (strides 1, H), columns grouped by unit; the
        // epilogue runs the cell of step t on the tile's sums (C itself is not written)
        k.step = t;
        gemm("rec_cell", B, GH, H, BpttKernel.BUF_HS, k.hsOff + t * B * H, H, 1, BpttKernel.BUF_W, wHh, 1, H, BpttKernel.BUF_ACT, 0,
            GH, false, -1, config.gates(), BpttKernel.EPI_CELL);
      }
    }
    setLayer(config, batch, config.numLayers() - 1);
    k.op = BpttKernel.OP_HEAD;
    launch("head", rows(config, batch) * config.outputSize());
  }

  /**
   * One tiled product C(m,n) = [C +] [w[bias + n] +] Σ_k A(m,k) B(k,n) over M × N × K (see the
   * kernel's gemm fields for the addressing): one work-group per tile of C. groups: 1, or G for the
   * recurrent product whose epilogue runs the cell (N = G·H columns grouped by unit, see
   * {@link BpttKernel#gemmGroups}); epilogue: what the sums become ({@link BpttKernel#EPI_STORE} ...).
   */
  private void gemm(String op, int m, int n, int kDim, int aBuf, int aOff, int aSm, int aSk, int bBuf, int bOff, int bSk, int bSn,
      int cBuf, int cOff, int cSm, boolean accumulate, int bias, int groups, int epilogue) {
    BpttKernel k = kernel;
    k.op = BpttKernel.OP_GEMM;
    k.gemmM = m;
    k.gemmN = n;
    k.gemmK = kDim;
    k.gemmA = aBuf;
    k.gemmAOff = aOff;
    k.gemmASm = aSm;
    k.gemmASk = aSk;
    k.gemmB = bBuf;
    k.gemmBOff = bOff;
    k.gemmBSk = bSk;
    k.gemmBSn = bSn;
    k.gemmC = cBuf;
    k.gemmCOff = cOff;
    k.gemmCSm = cSm;
    k.gemmAccumulate = accumulate ? 1 : 0;
    k.gemmBias = bias;
    k.gemmGroups = groups;
    k.gemmGroupW = n / groups;
    k.gemmEpilogue = epilogue;
    KernelSizes.Tile tile = sizes.tileFor(m, n);
    k.tileM = tile.m();
    k.tileN = tile.n();
    k.tileK = tile.k();
    // dimension 0: tile columns × TN/8 items, dimension 1: tile rows × TM/4 items
    int lx = tile.n() / BpttKernel.MICRO_N;
    int ly = tile.m() / BpttKernel.MICRO_M;
    // a tile covers ⌊TN / groups⌋ units of each group (TN columns of a plain product)
    int units = tile.n() / groups;
    int tilesN = (n / groups + units - 1) / units;
    int tilesM = (m + tile.m() - 1) / tile.m();
    guard.execute(k, op, Range.create2D(tilesN * lx, tilesM * ly, lx, ly));
  }

  /** Sets the per-layer scalars: input width, offsets into w, hs, act, hnb and the state arrays. */
  private void setLayer(ModelConfig config, Batch batch, int l) {
    BpttKernel k = kernel;
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    int GH = config.gates() * H;
    k.inW = config.layerInputSize(l);
    k.offW = layout.weightIh(l);
    k.hsOff = l * (T + 1) * B * H;
    k.actOff = l * T * B * GH;
    k.hnOff = l * T * B * H;
    k.stOff = l * B * H;
  }

  /** One pointwise launch of n work items, padded up to a multiple of the local size; the kernel guards gid < n. */
  private void launch(String op, int n) {
    kernel.n = n;
    int local = sizes.elementwise();
    int global = KernelSizes.roundUp(Math.max(n, 1), local);
    guard.execute(kernel, op, Range.create(global, local));
  }

  private void readFinalState(ModelConfig config) {
    get(kernel.hfin);
    if (config.cell() == CellType.LSTM) {
      get(kernel.cfin);
    }
  }

  /** The final state as read by {@link #readFinalState}. */
  private State finalState(ModelConfig config, Batch batch) {
    int n = config.numLayers() * batch.batchSize() * config.hiddenSize();
    float[] h = Arrays.copyOf(kernel.hfin, n);
    float[] c = config.cell() == CellType.LSTM ? Arrays.copyOf(kernel.cfin, n) : null;
    return new State(config.numLayers(), batch.batchSize(), config.hiddenSize(), h, c);
  }

  private static int rows(ModelConfig config, Batch batch) {
    return config.mode() == Mode.SEQ2ONE ? batch.batchSize() : batch.steps() * batch.batchSize();
  }

  private static int cellCode(CellType cell) {
    switch (cell) {
      case LSTM:
        return BpttKernel.CELL_LSTM;
      case GRU:
        return BpttKernel.CELL_GRU;
      case RNN:
      default:
        return BpttKernel.CELL_RNN;
    }
  }

  private static float[] fit(float[] a, int n) {
    return a.length >= n ? a : new float[n];
  }

  private static int[] fit(int[] a, int n) {
    return a.length >= n ? a : new int[n];
  }

  /** The kernel's global buffers (host arrays, mirrored one to one by device buffers), 4 bytes a value. */
  @Override
  public long workingBytes() {
    return kernel.bufferBytes();
  }

  /** Disposes the kernel's native state (every compiled engine has launched once: {@link #warmUp}). */
  @Override
  public void close() {
    synchronized (KERNEL_CLASS_LOCK) {
      if (!closed) {
        closed = true;
        kernel.dispose();
      }
    }
  }
}
