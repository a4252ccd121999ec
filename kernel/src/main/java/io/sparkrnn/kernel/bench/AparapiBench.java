package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.device.AutoDevice;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Times an engine's {@code lossAndGradient} (Aparapi, the JVM engine or the reference: forward, loss and full BPTT of one batch; no
 * optimizer step) on random inputs: the median of several runs after warm-up.
 *
 * <p>Command line: {@code java -cp ... io.sparkrnn.kernel.bench.AparapiBench cell=lstm layers=1
 * F=1 H=64 O=1 B=64 T=50 mode=seq2seq loss=mse device=auto warmup=3 runs=7}.
 */
public final class AparapiBench {
  private AparapiBench() {}

  /**
   * One measurement.
   *
   * @param medianSeconds median wall time of one lossAndGradient call, including the host copies
   * @param sequencesPerSecond B / median
   * @param gflopPerSecond {@link #trainingStepFlops} / median / 1e9
   * @param launchesPerStep kernel launches of the last timed call (Aparapi only, else 0)
   * @param transferBytesPerStep bytes put to and got from the device in the last timed call (Aparapi only, else 0)
   */
  public record Result(
      String engine, String executionReport, ModelConfig config, int batchSize, int steps, int runs, double medianSeconds,
      double minSeconds, double sequencesPerSecond, long flopsPerStep, double gflopPerSecond, int launchesPerStep,
      long transferBytesPerStep) {

    /** One line for a table. */
    public String summary() {
      return String.format("%-5s L=%d F=%d H=%d O=%d B=%d T=%d  %9.3f ms/step (min %.3f)  %10.1f seq/s  %7.2f GFLOP/s  %d launches  %s",
          config.cell().id(), config.numLayers(), config.inputSize(), config.hiddenSize(), config.outputSize(), batchSize, steps,
          medianSeconds * 1e3, minSeconds * 1e3, sequencesPerSecond, gflopPerSecond, launchesPerStep, engine);
    }
  }

  /**
   * Floating-point operations of one training step's matrix products (forward, loss, BPTT), counting
   * a multiply-add as 2 and over all T steps (padding included); element-wise gate math is left out.
   * With GH = G·H, I_l = the input width of layer l (F, then H), R = head rows (T·B, or B for seq2one):
   * <pre>
   *   per layer l:  forward   2·T·B·GH·(I_l + H)      (input projection + recurrent product)
   *                 backward  2·T·B·GH·(I_l + H)      (dW_ih, dW_hh)
   *                         + 2·T·B·GH·H              (dh_{t-1} = W_hhᵀ dgates)
   *                         + 2·T·B·GH·I_l if l > 0   (dh of the layer below = W_ihᵀ dgates)
   *   head:                   6·R·O·H                 (outputs, d head.weight, dh_top)
   * </pre>
   */
  public static long trainingStepFlops(ModelConfig config, int batchSize, int steps) {
    long tb = (long) steps * batchSize;
    long gh = (long) config.gates() * config.hiddenSize();
    long h = config.hiddenSize();
    long flops = 0;
    for (int l = 0; l < config.numLayers(); l++) {
      long in = config.layerInputSize(l);
      flops += 4 * tb * gh * (in + h) + 2 * tb * gh * h + (l > 0 ? 2 * tb * gh * in : 0);
    }
    long rows = config.mode() == Mode.SEQ2ONE ? batchSize : tb;
    flops += 6 * rows * config.outputSize() * h;
    return flops;
  }

  /**
   * Creates an engine ({@code kernel} on {@code device} as {@link Engines#create} makes it, or the
   * {@code reference} when device is "reference"), times it and closes it.
   */
  public static Result bench(ModelConfig config, int batchSize, int steps, String device, int warmup, int runs, long seed) {
    try (BpttEngine engine = "reference".equals(device) ? Engines.create("reference", "auto") : Engines.create("kernel", device)) {
      return bench(engine, config, batchSize, steps, warmup, runs, seed);
    }
  }

  /** Times {@code runs} calls of lossAndGradient after {@code warmup} untimed ones, on seeded random data. */
  public static Result bench(BpttEngine engine, ModelConfig config, int batchSize, int steps, int warmup, int runs, long seed) {
    if (runs < 1 || warmup < 0) {
      throw new BadInputException("runs must be ≥ 1 and warmup ≥ 0, found runs=" + runs + " warmup=" + warmup);
    }
    Params params = Params.initialize(config, seed);
    Batch batch = Batch.random(config, steps, batchSize, seed + 1);
    for (int i = 0; i < warmup; i++) {
      engine.lossAndGradient(params, batch, null);
    }
    return bench(engine, params, batch, runs);
  }

  /**
   * Times {@code runs} calls of lossAndGradient on the given parameters and batch (the caller has
   * warmed the engine up); allocates nothing but the calls' own results, so that a caller can count
   * what the calls allocate.
   */
  public static Result bench(BpttEngine engine, Params params, Batch batch, int runs) {
    if (runs < 1) {
      throw new BadInputException("runs must be ≥ 1, found " + runs);
    }
    ModelConfig config = params.config();
    int batchSize = batch.batchSize();
    int steps = batch.steps();
    double[] seconds = new double[runs];
    for (int i = 0; i < runs; i++) {
      long t0 = System.nanoTime();
      engine.lossAndGradient(params, batch, null);
      seconds[i] = (System.nanoTime() - t0) / 1e9;
    }
    double[] sorted = seconds.clone();
    Arrays.sort(sorted);
    double median = AutoDevice.median(sorted);
    long flops = trainingStepFlops(config, batchSize, steps);
    AparapiEngine aparapi = engine instanceof AparapiEngine a ? a : null;
    if (aparapi == null) {
      return new Result(engine.describe(), engine.describe(), config, batchSize, steps, runs, median, sorted[0], batchSize / median,
          flops, flops / median / 1e9, 0, 0);
    }
    int launches = aparapi.lastCallLaunches();
    long bytes = aparapi.lastCallTransferBytes();
    String described = aparapi.describe() + "; " + launches + " launches/step, " + bytes + " B host<->device/step";
    return new Result(described, aparapi.executionReport(), config, batchSize, steps, runs, median, sorted[0], batchSize / median,
        flops, flops / median / 1e9, launches, bytes);
  }

  /**
   * Puts {@code key=value} arguments into {@code values}, whose keys (with their defaults) are the
   * only ones allowed; shared by this class's and {@link GpuCheck}'s command lines.
   *
   * @throws IllegalArgumentException naming the argument and the allowed keys
   */
  static void putKeyValues(String[] args, Map<String, String> values) {
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq < 1 || !values.containsKey(arg.substring(0, eq))) {
        throw new BadInputException("bad argument '" + arg + "', expected key=value with key one of " + values.keySet());
      }
      values.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
  }

  /** key=value arguments; see the class comment. Prints one summary line and the execution report. */
  public static void main(String[] args) {
    Map<String, String> a = new LinkedHashMap<>(Map.of("cell", "lstm", "layers", "1", "F", "1", "H", "64", "O", "1", "B", "64",
        "T", "50", "device", "auto", "warmup", "3", "runs", "7"));
    a.put("mode", "seq2seq");
    a.put("loss", "mse");
    a.put("seed", "1");
    putKeyValues(args, a);
    ModelConfig config = new ModelConfig(CellType.parse(a.get("cell")), Integer.parseInt(a.get("layers")),
        Integer.parseInt(a.get("F")), Integer.parseInt(a.get("H")), Integer.parseInt(a.get("O")), Mode.parse(a.get("mode")),
        LossType.parse(a.get("loss")));
    Result r = bench(config, Integer.parseInt(a.get("B")), Integer.parseInt(a.get("T")), a.get("device"),
        Integer.parseInt(a.get("warmup")), Integer.parseInt(a.get("runs")), Long.parseLong(a.get("seed")));
    System.out.println(r.summary());
    System.out.println(r.executionReport());
  }
}
