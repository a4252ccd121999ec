package io.sparkrnn.cli;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.infer.Generation;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.NpyWriter;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.job.report.LinePlot;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.ModelConfig;
import java.awt.Color;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code spark-rnn generate}: continue a primer with the model's own outputs. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run a primer through the model, then N steps in which each output becomes the next input.",
        "Class models sample the next symbol (argmax, or softmax with a temperature and seed); continuous "
            + "models feed their outputs back. Text goes to stdout; arrays to --out; 1-D series can be plotted."})
public final class GenerateCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "FILE",
      description = "model file (model.safetensors, or a checkpoint), or a directory holding model.safetensors (train's --out,"
          + " a saved RnnModel)")
  String model;

  @Option(names = "--primer", required = true, paramLabel = "TEXT|FILE",
      description = "text (character models, via the vocabulary), or a FILE.npy [T,B,F] | [T,F] in raw units, or a shard FILE.safetensors (x in model units)")
  String primer;

  @Option(names = "--steps", required = true, paramLabel = "N", description = "steps to generate")
  int steps;

  @Option(names = "--sampler", description = "argmax | softmax (class models; default argmax). Continuous models feed each output back as the next"
      + " input, in the inputs' units when the model is normalised")
  String sampler;

  @Option(names = "--temperature", description = "softmax temperature τ ≥ 0; τ ≤ 1e-6 (0 included) is argmax, the τ → 0 limit (default: 1.0; with --sampler softmax only)")
  Double temperature;

  /** The softmax sampler's seed when none is given. */
  static final long DEFAULT_SEED = 42;

  // null when not given: where nothing samples it is refused, as --temperature is (it was ignored: a user audit)
  @Option(names = "--seed", description = "softmax sampler seed (default: " + DEFAULT_SEED + "; with --sampler softmax only)")
  Long seed;

  @Option(names = "--batch", paramLabel = "B", description = "sequences to generate from one primer (text or [T,F]); default 1, or the primer's B")
  Integer batch;

  @Option(names = "--out", paramLabel = "FILE", description = "write the continuation: FILE.npy (outputs [N,B,O]) or FILE.safetensors (output, and ids for class models)")
  String out;

  @Option(names = "--plot", paramLabel = "FILE.png", description = "for 1-D series (F = O = 1): plot primer and continuation of sequence 0")
  String plot;

  @Mixin
  InferenceOptions.Engine run;

  /**
   * Refuses --steps and --batch whose arrays cannot exist: the outputs [steps][B][O] (and class
   * ids [steps][B]) are single arrays, and with the primer replicated B times [T][B][F] and the
   * recurrent state they must fit the heap.
   */
  private void checkMemory(ModelConfig c, Batch p) {
    long B = batch != null ? batch : p.batchSize();
    long outputs = (long) steps * B * c.outputSize();
    String what = "generate --steps " + steps + " for " + B + " sequence" + (B == 1 ? "" : "s");
    String advice = "generate fewer steps or sequences at once";
    MemoryBudget.requireOneArray(what + ": the output array [steps][B][O]", outputs, advice);
    MemoryBudget.requireOneArray(what + ": the primer [T][B][F]", (long) p.steps() * B * c.inputSize(), advice);
    long bytes = 4 * (outputs + (c.loss() == LossType.CROSS_ENTROPY ? (long) steps * B : 0)
        + (long) p.steps() * B * c.inputSize()
        // state and one step's activations per layer (h, c, gates) and the fed-back input and output
        + B * ((long) c.numLayers() * 8 * c.hiddenSize() + c.inputSize() + 2L * c.outputSize()));
    MemoryBudget.require(what, bytes, advice);
  }

  @Override
  public Integer call() throws Exception {
    run.check();
    Configuration conf = new Configuration();
    TrainedModel m = TrainedModel.load(model, conf);
    ModelConfig c = m.config();
    String oneHot = TrainedModel.oneHotFeedbackWarning(c, m.vocabulary(), "generate");
    if (oneHot != null) {
      System.err.println("warning: " + oneHot);
    }
    if (steps < 1) {
      throw new BadInputException("--steps must be at least 1, found " + steps);
    }
    if (batch != null && batch < 1) {
      throw new BadInputException("--batch must be at least 1, found " + batch);
    }
    if (out != null) {
      if (!InputFiles.isNpy(out) && !InputFiles.isSafetensors(out)) {
        throw new BadInputException("--out " + out + ": the continuation goes to FILE.npy or FILE.safetensors");
      }
      FileSystems.requireUsableOutput(out, conf, "--out", false);
    }
    boolean textPrimer = !InputFiles.isNpy(primer) && !InputFiles.isSafetensors(primer);   // any case, as predict --data
    String primerFile = textPrimer ? null : primer;
    if (out != null) {
      FileSystems.requireNotAnInput(out, conf, "--out", "--model", m.source(), "--primer", primerFile);
    }
    if (plot != null) {
      if (!plot.toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {   // it writes PNG bytes, whatever the name
        throw new BadInputException("--plot " + plot + ": the plot is a PNG image; name it FILE.png");
      }
      FileSystems.requireUsableOutput(plot, conf, "--plot", false);
      FileSystems.requireNotAnInput(plot, conf, "--plot", "--model", m.source(), "--primer", primerFile);
      FileSystems.requireDistinctOutputs(conf, "--plot", plot, "--out", out);
    }
    Sampler s = sampler(c);
    Batch p = textPrimer ? textPrimer(m, conf) : InputFiles.read(primer, m, conf);
    checkMemory(c, p);
    p = replicate(p);
    if (plot != null && (c.inputSize() != 1 || c.outputSize() != 1 || c.loss() != LossType.MSE)) {
      throw new BadInputException("--plot draws 1-D series: the model must be mse with F = O = 1, found F="
          + c.inputSize() + " O=" + c.outputSize() + " " + c.loss().id());
    }
    Generation g;
    try (BpttEngine e = TrainedModel.engine(run.engine, run.device)) {
      g = Generation.run(m, e, p, steps, s, new Progress(steps, TimeUnit.SECONDS.toNanos(Progress.EVERY_S), System.err));
    }
    int B = g.batchSize();
    int O = c.outputSize();
    if (out != null) {
      int[] shape = {steps, B, O};
      if (InputFiles.isNpy(out)) {
        HadoopFiles.write(out, NpyWriter.toBytes(shape, g.outputs()), conf);
      } else {
        List<Tensor> t = new ArrayList<>();
        t.add(Tensor.ofFloats("output", shape, g.outputs()));
        if (g.ids() != null) {
          t.add(Tensor.ofInts("ids", new int[] {steps, B}, g.ids()));
        }
        HadoopFiles.write(out, SafeTensors.toBytes(Map.of("sampler", s.describe()), t), conf);
      }
    }
    if (plot != null) {
      HadoopFiles.write(plot, plot(m, p, g), conf);
    }
    if (g.ids() != null) {
      if (m.vocabulary() != null) {
        List<String> text = g.decode(m.vocabulary());
        for (int b = 0; b < B; b++) {
          System.out.println((textPrimer ? primer : "") + text.get(b));
        }
      } else {
        for (int b = 0; b < B; b++) {
          StringBuilder sb = new StringBuilder();
          for (int n = 0; n < steps; n++) {
            sb.append(n == 0 ? "" : " ").append(g.ids()[n * B + b]);
          }
          System.out.println(sb);
        }
      }
    } else if (out == null) {
      for (int n = 0; n < steps; n++) {                         // one line per step: b-major, o fastest
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < B * O; i++) {
          sb.append(i == 0 ? "" : ",").append(g.outputs()[n * B * O + i]);
        }
        System.out.println(sb);
      }
    } else {
      System.out.println("generated " + steps + " steps for " + B + (B == 1 ? " sequence" : " sequences") + " into " + out);
    }
    return 0;
  }

  /** "leave out" each sampler option given, for a continuous model, which samples nothing (one refusal, not one per option). */
  private String leaveOutSamplerOptions() {
    List<String> given = new ArrayList<>();
    if (temperature != null) {
      given.add("--temperature");
    }
    if (seed != null) {
      given.add("--seed");
    }
    if (sampler != null) {
      given.add("--sampler");
    }
    return "leave out " + (given.size() == 1 ? given.get(0)
        : String.join(", ", given.subList(0, given.size() - 1)) + " and " + given.get(given.size() - 1));
  }

  private Sampler sampler(ModelConfig c) {
    if (temperature != null && c.loss() != LossType.CROSS_ENTROPY) {
      // the advice below ("add --sampler softmax") would only lead to the next refusal (a user audit)
      throw new BadInputException("--temperature applies to sampling class ids (--sampler softmax) from a class"
          + " (cross_entropy) model; " + model + " has loss " + c.loss().id() + ", whose outputs are"
          + " values, not class ids: " + leaveOutSamplerOptions());
    }
    if (temperature != null && !"softmax".equals(sampler)) {
      // without this, --temperature 0.8 alone generated by argmax, the default
      throw new BadInputException("--temperature applies to --sampler softmax" + (sampler == null ? "; add --sampler softmax"
          : ", not --sampler " + sampler));
    }
    if (seed != null && c.loss() != LossType.CROSS_ENTROPY) {
      throw new BadInputException("--seed seeds the softmax sampler of class (cross_entropy) models; " + model + " has loss "
          + c.loss().id() + ", whose outputs are values, not class ids, and draws nothing: " + leaveOutSamplerOptions());
    }
    if (seed != null && !"softmax".equals(sampler)) {
      throw new BadInputException("--seed seeds --sampler softmax" + (sampler == null ? "; argmax, the default, draws nothing:"
          + " add --sampler softmax" : "; --sampler " + sampler + " draws nothing: leave out --seed, or use --sampler softmax"));
    }
    if (sampler != null && c.loss() != LossType.CROSS_ENTROPY && (sampler.equals("argmax") || sampler.equals("softmax"))) {
      throw new BadInputException("--sampler " + sampler + " picks class ids, for class (cross_entropy) models; " + model
          + " has loss " + c.loss().id() + ", whose outputs are values, not class ids: " + leaveOutSamplerOptions());
    }
    if (sampler == null) {
      return c.loss() == LossType.CROSS_ENTROPY ? Sampler.argmax() : Sampler.identity();
    }
    return switch (sampler) {
      case "argmax" -> Sampler.argmax();
      case "softmax" -> {
        double tau = temperature == null ? 1.0 : temperature;
        if (!(tau >= 0) || Double.isInfinite(tau)) {   // as Sampler.softmax: 0 is argmax, its limit
          throw new BadInputException("--temperature must be ≥ 0 and finite, found " + tau);
        }
        yield Sampler.softmax(tau, seed == null ? DEFAULT_SEED : seed);
      }
      default -> throw new BadInputException("--sampler: '" + sampler + "' is not one of argmax, softmax");
    };
  }

  /**
   * A line on stderr every {@link #EVERY_S} s while generation runs, with the step, the rate and the
   * time left: a user audit's --steps 1000000000 ran for ten minutes without a word. stderr, as
   * stdout carries the continuation itself (text, ids or CSV lines).
   */
  static final class Progress implements java.util.function.IntConsumer {
    static final long EVERY_S = 10;
    private final int steps;
    private final long everyNanos;
    private final java.io.PrintStream err;
    private final java.util.function.LongSupplier clock;
    private long last;
    private int lastDone;
    private long next;

    Progress(int steps, long everyNanos, java.io.PrintStream err) {
      this(steps, everyNanos, err, System::nanoTime);
    }

    /** With {@code clock} in nanoseconds, for tests. */
    Progress(int steps, long everyNanos, java.io.PrintStream err, java.util.function.LongSupplier clock) {
      this.steps = steps;
      this.everyNanos = everyNanos;
      this.err = err;
      this.clock = clock;
      this.last = clock.getAsLong();
      this.next = last + everyNanos;
    }

    @Override
    public void accept(int done) {
      long now = clock.getAsLong();
      if (now < next || done >= steps) {
        return;
      }
      next = now + everyNanos;
      // the rate since the last line: the first's includes the primer and the JIT's warm-up, which made
      // the time left 2x too long (a review)
      double rate = Math.max(1, done - lastDone) / Math.max(1e-9, (now - last) / 1e9);
      last = now;
      lastDone = done;
      err.printf(Locale.ROOT, "generate: step %d of %d, %.0f steps/s, about %s left%n", done, steps, rate,
          Trainer.formatDuration((steps - done) / rate));
    }
  }

  /**
   * Whether a path-like text primer names an existing file or directory. Text that Hadoop cannot
   * read as a path ("ratio:1/2": a scheme with a relative path; "x://y/z": a scheme with no file
   * system) names none: it is the primer's text (a review: it was refused as a bad path, and the
   * advice to write ./ratio:1/2 changed the primer).
   */
  private static boolean namesAFile(String text, Configuration conf) throws IOException {
    try {
      return HadoopFiles.exists(text, conf);
    } catch (IllegalArgumentException | org.apache.hadoop.fs.UnsupportedFileSystemException e) {
      return false;
    }
  }

  /** One-hot of each code point's id in the vocabulary: [T, 1, V]. */
  private Batch textPrimer(TrainedModel m, Configuration conf) throws IOException {
    List<String> vocab = m.vocabulary();
    if ((primer.contains("/") || PredictCommand.fileSuffix(primer) != null) && namesAFile(primer, conf)) {
      // a dataset directory was read as the text "d/sine" (a user audit); a path-like text that names
      // nothing stays text, and so does a word that happens to name a file here
      throw new BadInputException("--primer " + primer + ": an existing " + (HadoopFiles.isDirectory(primer, conf) ? "directory"
          : "file") + ", neither FILE.npy nor FILE.safetensors (a shard); give one of those, or the primer's text itself (a text"
          + " model)");
    }
    if (vocab == null) {
      throw new BadInputException("--primer '" + primer + "' is text, but the model " + model
          + " has no vocabulary; give a .npy or .safetensors primer");
    }
    int[] cps = primer.codePoints().toArray();
    if (cps.length == 0) {
      throw new BadInputException("--primer is empty; generation needs at least one primer step");
    }
    int V = m.config().inputSize();
    float[] x = new float[cps.length * V];
    for (int t = 0; t < cps.length; t++) {
      String ch = new String(Character.toChars(cps[t]));
      int id = vocab.indexOf(ch);
      if (id < 0) {
        throw new BadInputException("--primer: character '" + ch + "' (U+" + String.format("%04X", cps[t])
            + ") at position " + t + " is not in the model's vocabulary of " + vocab.size() + " symbols "
            + Json.write(new ArrayList<Object>(vocab)));
      }
      x[t * V + id] = 1f;
    }
    return Batch.inputsOnly(cps.length, 1, V, x);
  }

  /** The primer repeated B times when it is one sequence; else its own B, which --batch must match. */
  private Batch replicate(Batch p) {
    if (batch == null || batch == p.batchSize()) {
      return p;
    }
    if (p.batchSize() != 1) {
      throw new BadInputException("--batch " + batch + " but the primer holds B=" + p.batchSize()
          + " sequences; --batch repeats a single-sequence primer");
    }
    int T = p.steps();
    int F = p.features();
    int B = batch;
    float[] x = new float[T * B * F];
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        System.arraycopy(p.x(), t * F, x, (t * B + b) * F, F);
      }
    }
    int[] lengths = null;
    if (p.lengths() != null) {
      lengths = new int[B];
      Arrays.fill(lengths, p.lengths()[0]);
    }
    return new Batch(T, B, F, x, null, null, lengths);
  }

  private byte[] plot(TrainedModel m, Batch p, Generation g) throws IOException {
    int T = p.length(0);
    int B = p.batchSize();
    float[] rawPrimer = m.inputsToRawUnits(p.x());
    double[] pt = new double[T];
    double[] pv = new double[T];
    for (int t = 0; t < T; t++) {
      pt[t] = t;
      pv[t] = rawPrimer[t * B];                                    // (t, b = 0, f = 0)
    }
    double[] gt = new double[steps];
    double[] gv = new double[steps];
    for (int n = 0; n < steps; n++) {
      gt[n] = T + n;                                               // output n predicts step T + n
      gv[n] = g.outputs()[n * B];
    }
    return new LinePlot("generate: primer and continuation (sequence 0)", "step", false)
        .add("primer", pt, pv, new Color(0x1f77b4))
        .add("generated", gt, gv, new Color(0xd62728))
        .toPng(900, 400);
  }
}
