package io.sparkrnn.cli;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.job.report.LinePlot;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.Generation;
import io.sparkrnn.kernel.generate.Generator;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Params;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code spark-rnn quickstart}: the whole path on an embedded default dataset. Prepares sine waves
 * (random frequency and phase), trains a seq2seq LSTM on next-step prediction in Spark local
 * mode, then, on fresh sine waves the model never saw, reads a primer and generates the next
 * steps closed loop (each output fed back as the next input), and plots primer, truth and
 * continuation. The last line is {@code closed-loop MSE: <value>}.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Prep sine waves, train a seq2seq LSTM in local mode, then generate closed loop after a primer and plot it.",
        "The last line printed is 'closed-loop MSE: <value>' over the generated steps."})
public final class QuickstartCommand implements Callable<Integer> {
  /** Marks a directory this command made, so a rerun may replace it and nothing else is ever deleted. */
  static final String MARKER = ".spark-rnn-quickstart";

  @Option(names = "--out", paramLabel = "DIR", description = "output directory (default: ${DEFAULT-VALUE})", defaultValue = "quickstart-out")
  Path out;

  @Option(names = "--train-steps", description = "optimizer steps (default: ${DEFAULT-VALUE})", defaultValue = "400")
  int trainSteps;

  @Option(names = "--hidden-size", description = "LSTM units (default: ${DEFAULT-VALUE})", defaultValue = "32")
  int hiddenSize;

  @Option(names = "--primer", description = "primer steps read before generating (default: ${DEFAULT-VALUE})", defaultValue = "50")
  int primerSteps;

  @Option(names = "--generate", description = "steps generated closed loop (default: ${DEFAULT-VALUE})", defaultValue = "200")
  int generateSteps;

  @Option(names = "--min-frequency", description = "lowest sine frequency, cycles per step (default: ${DEFAULT-VALUE})", defaultValue = "0.05")
  double minFrequency;

  @Option(names = "--max-frequency", description = "highest sine frequency, cycles per step (default: ${DEFAULT-VALUE})", defaultValue = "0.05")
  double maxFrequency;

  @Option(names = "--master", description = "Spark master (default: ${DEFAULT-VALUE})", defaultValue = "local[*]")
  String master;

  @Option(names = "--device", description = "auto | gpu | cpu-opencl | jvm (default: ${DEFAULT-VALUE})", defaultValue = "auto")
  String device;

  @Option(names = "--seed", description = "seed of data, initialisation and order (default: ${DEFAULT-VALUE})", defaultValue = "42")
  long seed;

  /** Sequence length of the training data, and sequences in it: 2,000 sines of 100 steps. */
  static final int TRAIN_STEPS_T = 100;
  static final int TRAIN_SEQUENCES = 2000;
  /** Fresh sines for the closed-loop test. */
  static final int TEST_SEQUENCES = 16;

  @Override
  public Integer call() throws Exception {
    // the counts before anything runs: --generate is used only after prep and training
    atLeastOne("--train-steps", trainSteps);
    atLeastOne("--hidden-size", hiddenSize);
    atLeastOne("--primer", primerSteps);
    atLeastOne("--generate", generateSteps);
    SparkSetup.requireDevice("kernel", device, master); // before the prep step, not after it
    prepareOutputDirectory();
    Configuration hadoop = new Configuration();
    Path data = out.resolve("data");
    Path model = out.resolve("model");

    System.out.printf("1/3 prep: %d sine waves of %d steps (frequency %s cycles/step, random phase) -> %s%n",
        TRAIN_SEQUENCES, TRAIN_STEPS_T, minFrequency == maxFrequency ? Double.toString(minFrequency) : minFrequency + "-" + maxFrequency,
        data);
    Prep.run(new SineSource(sine(TRAIN_STEPS_T, TRAIN_SEQUENCES, seed)),
        new PrepOptions(data.toUri(), 50, 0.1, false, false), hadoop);

    Map<String, String> train = new LinkedHashMap<>();
    train.put("data", data.toUri().toString());
    train.put("out", model.toUri().toString());
    train.put("cell", "lstm");
    train.put("hidden-size", Integer.toString(hiddenSize));
    train.put("batch", "50");
    train.put("steps", Integer.toString(trainSteps));
    train.put("lr", "0.01");
    train.put("validate-every", Integer.toString(Math.max(1, trainSteps / 4)));
    train.put("feedback", "50");
    train.put("checkpoint-every", "0");
    train.put("log-every", Integer.toString(Math.max(1, trainSteps / 20)));
    train.put("master", master);
    train.put("device", device);
    train.put("seed", Long.toString(seed));
    System.out.printf("2/3 train: seq2seq LSTM(1 -> %d) + Linear(%d -> 1), next-step MSE, %d Adam steps of 50 sequences%n",
        hiddenSize, hiddenSize, trainSteps);
    Trainer trainer = Trainer.prepare(train, hadoop, System.out);
    try (JavaSparkContext sc = SparkSetup.start("spark-rnn quickstart", master)) {
      trainer.run(sc);
    }

    Path modelFile = model.resolve("model.safetensors");
    Params params = ModelFile.read(SafeTensors.read(modelFile));
    int P = primerSteps, N = generateSteps, B = TEST_SEQUENCES;
    // Fresh waves from another seed: the model has not seen them. x_t = v_t for t < P + N.
    Batch test = new SineSource(sine(P + N, B, seed + 1_000_003)).read(0, B, hadoop);
    Batch primer = Batch.inputsOnly(P, B, 1, Arrays.copyOf(test.x(), P * B));
    Generation g;
    try (BpttEngine engine = Engines.create("kernel", device)) {
      g = Generator.generate(params, engine, primer, N, Sampler.identity());
    }
    // generated step n predicts v_{P+n}, which is x at step P + n
    double se = 0;
    for (int n = 0; n < N; n++) {
      for (int b = 0; b < B; b++) {
        double d = g.outputs()[n * B + b] - test.x()[(P + n) * B + b];
        se += d * d;
      }
    }
    double mse = se / ((double) N * B);
    Path png = out.resolve("quickstart.png");
    Files.write(png, plot(test, g, P, N, B).toPng(1000, 420));
    System.out.printf("3/3 generate: %d primer steps, then %d steps closed loop on %d unseen sine waves; plot %s%n", P, N, B, png);
    System.out.printf("closed-loop MSE: %.5f%n", mse);
    return 0;
  }

  private static void atLeastOne(String option, int value) {
    if (value < 1) {
      throw new BadInputException(option + " must be at least 1, found " + value);
    }
  }

  private SineSource.Options sine(int steps, long sequences, long seed) {
    return new SineSource.Options(steps, sequences, seed, false, minFrequency, maxFrequency, 0, steps);
  }

  private LinePlot plot(Batch test, Generation g, int P, int N, int B) {
    double[] tp = new double[P], vp = new double[P];
    double[] tn = new double[N], truth = new double[N], gen = new double[N];
    for (int t = 0; t < P; t++) {
      tp[t] = t;
      vp[t] = test.x()[t * B];
    }
    for (int n = 0; n < N; n++) {
      tn[n] = P + n;
      truth[n] = test.x()[(P + n) * B];
      gen[n] = g.outputs()[n * B];
    }
    return new LinePlot("spark-rnn quickstart: primer, truth and closed-loop continuation (sequence 0)", "time step", false)
        .add("primer", tp, vp, new Color(60, 60, 60))
        .add("truth", tn, truth, new Color(31, 119, 180))
        .add("generated", tn, gen, new Color(214, 39, 40));
  }

  private void prepareOutputDirectory() throws IOException {
    // named as every other command's --out is (a read-only place read "error: DIR: Read-only file system": a user audit)
    // as given, as prep passes its --out: a URI's %20 and %C3%A4 were taken as literal characters (a review)
    FileSystems.requireUsableOutput(out.toString(), new Configuration(), "--out", true);
    if (Files.exists(out)) {
      if (!Files.exists(out.resolve(MARKER))) {
        throw new BadInputException("--out " + out + " exists and was not made by quickstart; choose another --out");
      }
      try (Stream<Path> walk = Files.walk(out)) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(out);
    Files.writeString(out.resolve(MARKER), "made by spark-rnn quickstart; a rerun replaces this directory\n");
  }
}
