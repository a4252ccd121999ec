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
import java.util.Map;
import java.util.logging.Logger;

/**
 * BPTT in float32 with Aparapi: on an OpenCL GPU, an OpenCL CPU device (PoCL), or Aparapi's Java
 * thread pool.
 *
 * <p>Launches per call, for L layers (each op covers all T steps; none is per step):
 * {@link #forward} 2L + 2 (a transposed copy of the weights for coalesced reads; per layer the
 * input projection W_ih·x of all steps, then the whole recurrence in one launch with a barrier per
 * step; then the head); {@link #lossAndGradient} 4L + 4 (forward, the loss, the head's backward,
 * then per layer the reverse recurrence and one launch for the layer's weight gradients fused with
 * dh for the layer below).
 *
 * <p>One compiled kernel and its device buffers live as long as the engine; buffers grow with the
 * largest shapes seen and are reused. Per call the host puts the parameters, the batch and the
 * initial state, and gets the outputs or the loss rows, the gradient and the final states.
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

  private final BpttKernel kernel = new BpttKernel();
  private final ResolvedDevice device;
  private final ExecutionGuard guard;
  private boolean closed;
  /** The layout of the current call's parameters. */
  private ParamLayout layout;

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
    synchronized (KERNEL_CLASS_LOCK) {
      this.device = compileFor(requested);
      this.guard = new ExecutionGuard(device);
    }
  }

  private ResolvedDevice compileFor(ResolvedDevice requested) {
    ResolvedDevice chosen = requested;
    kernel.setExplicit(true);
    if (requested.isOpenCL()) {
      try {
        // compile() asserts that the device is among the kernel class's preferred devices, and
        // Aparapi's default preferences depend on what ran before in this JVM: pin it first.
        ExecutionGuard.pin(kernel, requested);
        kernel.compile(requested.device());
      } catch (CompileFailedException | RuntimeException e) {
        String message = "the BPTT kernel did not compile for " + requested.info().describe() + ": " + e.getMessage();
        if (requested.explicit()) {
          throw new DeviceFallbackException(message + " (--device " + requested.choice().id() + " names this device, so no fallback)");
        }
        LOG.warning(message + "; --device auto falls back to the JVM thread pool");
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

  /** Launches of one {@link #lossAndGradient} call: 4L + 4, independent of T and B. */
  public static int launchesPerTrainingStep(ModelConfig config) {
    return 4 * config.numLayers() + 4;
  }

  /** Launches of one {@link #forward} call: 2L + 2. */
  public static int launchesPerForward(ModelConfig config) {
    return 2 * config.numLayers() + 2;
  }

  /** The engine and its device; flags a last call in which Aparapi ran some op elsewhere (auto only). */
  @Override
  public String describe() {
    String base = "aparapi float32 on " + device.info().describe();
    if (device.isOpenCL() && guard.launches() > 0 && !guard.allOpenCL()) {
      return base + " (FELL BACK: some ops of the last call ran on the JVM thread pool; see executionReport())";
    }
    return base;
  }

  /**
   * What ran where in the last call: the engine, the device and why it was chosen, the launches by
   * op and the device that actually ran each op, and any fallback Aparapi made on its own.
   */
  public String executionReport() {
    return describe() + " [" + device.reason() + "]; last call: " + guard.report();
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

  /** Fallbacks seen so far (auto only; an explicit device throws instead), by op. */
  public Map<String, String> fallbacks() {
    return guard.fallbacks();
  }

  @Override
  public ForwardResult forward(Params params, Batch batch, State initial) {
    synchronized (KERNEL_CLASS_LOCK) {
      return forwardLocked(params, batch, initial);
    }
  }

  private ForwardResult forwardLocked(Params params, Batch batch, State initial) {
    ModelConfig config = params.config();
    batch.validateFor(config, false);
    begin(params, batch, initial);
    runForward(config, batch);
    kernel.get(kernel.out);
    float[] outputs = Arrays.copyOf(kernel.out, rows(config, batch) * config.outputSize());
    return new ForwardResult(outputs, finalState(config, batch));
  }

  @Override
  public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
    synchronized (KERNEL_CLASS_LOCK) {
      return lossAndGradientLocked(params, batch, initial);
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
    KernelSizes sizes = KernelSizes.forDevice(device.device(), H);

    // loss per row and dLoss/dout
    k.op = BpttKernel.OP_LOSS;
    launch("loss", rows, sizes.elementwise());
    // dh of the top layer, and the head's gradients
    k.op = BpttKernel.OP_HEAD_BACK;
    setLayer(config, batch, config.numLayers() - 1);
    launch("head_back", T * B * H + O * H + O, sizes.elementwise());
    for (int l = config.numLayers() - 1; l >= 0; l--) {
      setLayer(config, batch, l);
      k.op = BpttKernel.OP_BWD;
      k.n = B;
      guard.execute(k, "bwd", Range.create(B * sizes.recurrent(), sizes.recurrent()));
      k.op = BpttKernel.OP_WGRAD;
      int gh = config.gates() * H;
      int layerParams = gh * config.layerInputSize(l) + gh * H + 2 * gh;
      launch("wgrad", layerParams + (l > 0 ? T * B * H : 0), sizes.elementwise());
    }
    k.get(k.lossRow);
    k.get(k.dw);

    double[] gradient = new double[layout.size()];
    for (int i = 0; i < gradient.length; i++) {
      gradient[i] = k.dw[i];
    }
    double lossSum = 0;
    for (int r = 0; r < rows; r++) {
      lossSum += k.lossRow[r];
    }
    GradientSum sum = new GradientSum(lossSum, batch.lossCount(config), gradient);
    return new BpttResult(sum, finalState(config, batch));
  }

  /** Validates the initial state, grows the buffers, copies and puts the inputs. */
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
    k.w = fit(k.w, params.layout().size());
    k.x = fit(k.x, T * B * F);
    k.tgt = fit(k.tgt, rows * O);
    k.cls = fit(k.cls, rows);
    k.len = fit(k.len, B);
    k.h0 = fit(k.h0, L * B * H);
    k.c0 = fit(k.c0, lstm ? L * B * H : 1);
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
    k.wt = fit(k.wt, params.layout().size());
    k.lw = fit(k.lw, 2 * L);
    for (int l = 0; l < L; l++) {
      k.lw[2 * l] = params.layout().weightIh(l);
      k.lw[2 * l + 1] = config.layerInputSize(l);
    }

    System.arraycopy(params.values(), 0, k.w, 0, params.layout().size());
    System.arraycopy(batch.x(), 0, k.x, 0, batch.x().length);
    if (batch.targets() != null) {
      System.arraycopy(batch.targets(), 0, k.tgt, 0, batch.targets().length);
    }
    if (batch.classes() != null) {
      System.arraycopy(batch.classes(), 0, k.cls, 0, batch.classes().length);
    }
    for (int b = 0; b < B; b++) {
      k.len[b] = batch.length(b);
    }
    if (initial == null) {
      Arrays.fill(k.h0, 0, L * B * H, 0f);
      if (lstm) {
        Arrays.fill(k.c0, 0, L * B * H, 0f);
      }
    } else {
      System.arraycopy(initial.h(), 0, k.h0, 0, L * B * H);
      if (lstm) {
        System.arraycopy(initial.c(), 0, k.c0, 0, L * B * H);
      }
    }
    k.put(k.w).put(k.x).put(k.len).put(k.h0).put(k.lw);
    if (lstm) {
      k.put(k.c0);
    }
    if (batch.targets() != null) {
      k.put(k.tgt);
    }
    if (batch.classes() != null) {
      k.put(k.cls);
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
  }

  /** Projection and recurrence per layer, then the head. */
  private void runForward(ModelConfig config, Batch batch) {
    BpttKernel k = kernel;
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    KernelSizes sizes = KernelSizes.forDevice(device.device(), H);
    // wt = every layer's W_ih and W_hh transposed, so that the forward products read them coalesced
    k.op = BpttKernel.OP_TRANSPOSE;
    int largestLayer = 0;
    for (int l = 0; l < config.numLayers(); l++) {
      largestLayer = Math.max(largestLayer, config.gates() * H * (config.layerInputSize(l) + H));
    }
    launch("transpose", largestLayer, sizes.elementwise());
    for (int l = 0; l < config.numLayers(); l++) {
      setLayer(config, batch, l);
      k.op = BpttKernel.OP_PROJ;
      launch("proj", T * B * config.gates() * H, sizes.elementwise());
      k.op = BpttKernel.OP_FWD;
      k.n = B;
      guard.execute(k, "fwd", Range.create(B * sizes.recurrent(), sizes.recurrent()));
    }
    setLayer(config, batch, config.numLayers() - 1);
    k.op = BpttKernel.OP_HEAD;
    launch("head", rows(config, batch) * config.outputSize(), sizes.elementwise());
  }

  /** Sets the per-layer scalars: input width and source, offsets into w, hs, act, hnb and the state arrays. */
  private void setLayer(ModelConfig config, Batch batch, int l) {
    BpttKernel k = kernel;
    int T = batch.steps();
    int B = batch.batchSize();
    int H = config.hiddenSize();
    int GH = config.gates() * H;
    k.inW = config.layerInputSize(l);
    k.inIsX = l == 0 ? 1 : 0;
    k.offW = layout.weightIh(l);
    k.hsOff = l * (T + 1) * B * H;
    k.hsInOff = l == 0 ? 0 : (l - 1) * (T + 1) * B * H;
    k.actOff = l * T * B * GH;
    k.hnOff = l * T * B * H;
    k.stOff = l * B * H;
  }

  /** One launch of n work items, padded up to a multiple of the local size; the kernel guards gid < n. */
  private void launch(String op, int n, int local) {
    kernel.n = n;
    int global = KernelSizes.roundUp(Math.max(n, 1), local);
    guard.execute(kernel, op, Range.create(global, local));
  }

  private State finalState(ModelConfig config, Batch batch) {
    int n = config.numLayers() * batch.batchSize() * config.hiddenSize();
    kernel.get(kernel.hfin);
    float[] h = Arrays.copyOf(kernel.hfin, n);
    float[] c = null;
    if (config.cell() == CellType.LSTM) {
      kernel.get(kernel.cfin);
      c = Arrays.copyOf(kernel.cfin, n);
    }
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

  /** The kernel's buffers (host arrays, mirrored one to one by device buffers), 4 bytes a value. */
  @Override
  public long workingBytes() {
    return kernel.bufferBytes();
  }

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
