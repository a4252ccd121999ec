package io.sparkrnn.cli;

import io.sparkrnn.bench.ExchangeBench;
import io.sparkrnn.bench.ShardCacheBench;
import io.sparkrnn.bench.TablePrepBench;
import io.sparkrnn.bench.TransformBench;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.bench.AbBench;
import io.sparkrnn.kernel.bench.AparapiBench;
import io.sparkrnn.kernel.bench.HostCeiling;
import io.sparkrnn.kernel.bench.WarmUp;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code spark-rnn bench}: training-step throughput (forward, loss and full BPTT of one batch; no
 * optimizer step) in sequences/s and GFLOP/s, per shape and device; with {@code --spark}, also
 * whole {@code train} steps on a local Spark master at the same shapes and global batch, against
 * the kernel alone.
 *
 * <p>Every figure is the median of at least {@code --runs} timed calls, and of at least
 * {@code --min-seconds} of them, after warm-up (at least {@code --warmup} calls and
 * {@code --warmup-seconds} of them: the JIT compiles the JVM engine's
 * SIMD code only after some calls). GFLOP/s counts the matrix products alone
 * ({@link AparapiBench#trainingStepFlops}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Time training steps (forward + backward) per cell, shape and device; print a table, optionally write JSON.",
        "Default: rnn, lstm, gru at H = 64 and 256 (F = O = 1, B = 64, T = 50), plus lstm F=64 H=256 B=256 T=100,"
            + " plus each cell at H = 64 with B = 8 and with T = 1000, on every available device and (small shapes only) the"
            + " float64 reference. --forward adds forward-only rows (inference) for every shape.",
        "Quick run (under a minute): --cells lstm --hidden 64,256 --no-large --no-latency --devices jvm --runs 5"})
public final class BenchCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;

  @Option(names = "--cells", split = ",", paramLabel = "CELL", description = "rnn, lstm, gru (default: all three)")
  List<String> cells;

  @Option(names = "--hidden", split = ",", paramLabel = "H", description = "hidden sizes of the grid (default: 64,256)")
  List<Integer> hidden;

  @Option(names = "--input", paramLabel = "F", description = "input size of the grid (default: 1)")
  int input = 1;

  @Option(names = "--output", paramLabel = "O", description = "output size (default: 1)")
  int output = 1;

  @Option(names = "--batch", paramLabel = "B", description = "sequences per step (default: 64)")
  int batch = 64;

  @Option(names = "--steps", paramLabel = "T", description = "time steps per sequence (default: 50)")
  int steps = 50;

  @Option(names = "--layers", paramLabel = "L", description = "stacked layers (default: 1)")
  int layers = 1;

  @Option(names = "--shape", paramLabel = "CELL:F:H:B:T", description = "a shape to time, e.g. lstm:64:256:256:100 (repeatable);"
      + " with --shape alone only these shapes run, with --cells or --hidden also the grid")
  List<String> extraShapes = new ArrayList<>();

  @Option(names = "--no-large", description = "leave out the default large shape (lstm F=64 H=256 B=256 T=100)")
  boolean noLarge;

  @Option(names = "--no-latency", description = "leave out the default small-batch and long-sequence rows (each cell of the grid"
      + " at its first H with B = 8, and with T = 1000)")
  boolean noLatency;

  @Option(names = "--forward", description = "also time the forward pass alone (what predict, evaluate, generate and transform run)"
      + " for every shape and device: a row of mode 'forward' after each training row, with its ratio to the training step")
  boolean forward;

  @Option(names = "--virtual-partitions", paramLabel = "V", description = "time each training row as one `train` task runs its step:"
      + " the batch cut into V virtual partitions (at most --batch and every --shape's B, as train requires; bench's own latency"
      + " and large rows get min(V, B)), each computed on its own, then added up the fixed tree (train's default is min(B, 16));"
      + " 0: one slice per engine thread, the engine alone (default: 0)")
  int virtualPartitions;

  @Option(names = "--devices", split = ",", paramLabel = "DEVICE",
      description = "auto, jvm, cpu-opencl, gpu, reference (default: every available device, then the reference)")
  List<String> devices;

  @Option(names = "--runs", description = "timed runs per row, at least; the median is reported (default: 7)")
  int runs = 7;

  @Option(names = "--warmup", description = "untimed calls before timing, at least (default: 3)")
  int warmup = 3;

  @Option(names = "--warmup-seconds", description = "untimed calls go on for at least this long, then until the JIT has"
      + " compiled nothing for 1 s (at most 30 s more) (default: 3)")
  double warmupSeconds = 3;

  @Option(names = "--min-seconds", description = "more timed runs than --runs, up to 10000, until they take about this long"
      + " (default: 1; the float64 reference: --runs only)")
  double minSeconds = 1;

  @Option(names = "--ceiling-seconds", description = "after each JVM engine kernel or forward row, measure the host's vector FMA"
      + " ceiling on as many threads as the row ran on, for this long, and give the row's share of it (a slower core shows"
      + " there, not in seq/s alone); 0 skips it (default: 0.5, at most 60)")
  double ceilingSeconds = 0.5;

  @Option(names = "--reference-max-gflop", paramLabel = "GFLOP",
      description = "skip the float64 reference where one step is more than this many GFLOP (default: 0.6)")
  double referenceMaxGflop = 0.6;

  @Option(names = "--seed", description = "seed of the random parameters and batch (default: 1)")
  long seed = 1;

  @Option(names = "--json", paramLabel = "FILE", description = "also write the rows as a JSON list")
  Path json;

  @Option(names = "--spark", description = "also time `train` steps on --master (sine data, F = O = 1 shapes only) against the kernel alone")
  boolean spark;

  @Option(names = "--master", description = "Spark master for --spark (default: local[2])")
  String master = "local[2]";

  @Option(names = "--spark-steps", description = "at least this many train steps per --spark row (default: 12)")
  int sparkSteps = 12;

  @Option(names = "--spark-seconds", description = "the kernel alone is timed this long before and after each --spark row, and"
      + " the train run gets more steps, up to 2000, until they take about this long at the"
      + " kernel's own speed (default: 5)")
  double sparkSeconds = 5;

  @Option(names = "--spark-warmup", description = "train steps left out of the --spark mean (default: 4)")
  int sparkWarmup = 4;

  @Option(names = "--spark-sync", split = ",", description = "--sync modes to time under --spark (default: barrier,job)")
  List<String> sparkSync = List.of("barrier", "job");

  @Option(names = "--spark-partitions", split = ",", description = "--partitions values to time under --spark (default: 0, train's"
      + " default: 1 on a local master)")
  List<Integer> sparkPartitions = List.of(0);

  /** One shape of the table. */
  record Shape(CellType cell, int features, int hidden, int batch, int steps) {
    ModelConfig config(int layers, int outputs) {
      return new ModelConfig(cell, layers, features, hidden, outputs, Mode.SEQ2SEQ, LossType.MSE);
    }

    /** As --shape takes it: CELL:F:H:B:T. */
    String id() {
      return cell.id() + ":" + features + ":" + hidden + ":" + batch + ":" + steps;
    }
  }

  @Option(names = "--prep-table", description = "time prep table against Spark's own repartition + sort + write of the same"
      + " generated table (sensors: --table-rows rows over --table-keys keys) instead of the kernels")
  boolean prepTable;

  @Option(names = "--table-rows", description = "rows of the --prep-table table, rounded down to a multiple of --table-keys;"
      + " at least 49 a key, one window of T = 48 hours and its next-step target (default: 10000000)")
  long tableRows = 10_000_000;

  @Option(names = "--table-keys", description = "keys of the --prep-table table (default: 10000)")
  int tableKeys = 10_000;

  @Option(names = "--transform", description = "time RnnModel.transform (rows/s, noop sink) against the engine's own forward"
      + " pass over the same sequences (all keys batched, and each key alone) on --master, instead of the kernels")
  boolean transform;

  @Option(names = "--transform-rows", description = "rows of the --transform table, at least 2 per key and rounded down to a"
      + " multiple of --transform-keys, which the first line gives (default: 200000)")
  long transformRows = 200_000;

  @Option(names = "--transform-keys", description = "keys of the --transform table (default: 100)")
  int transformKeys = 100;

  @Option(names = "--transform-hidden", description = "H of --transform's LSTM (default: 32)")
  int transformHidden = 32;

  @Option(names = "--work", description = "folder for --prep-table's and --shard-cache's data and outputs, kept after the"
      + " run (default: a new temporary folder, deleted at the end)")
  Path work;

  @Option(names = "--exchange", description = "time the --sync barrier reduction alone (P tasks on threads over loopback, no compute) per"
      + " partition count and gradient size, fit a latency + bandwidth model and project it to many executors (docs/SCALING.md)")
  boolean exchange;

  @Option(names = "--exchange-partitions", split = ",", description = "partition counts of --exchange (default: 1,2,3,4,6,8)")
  List<Integer> exchangePartitions = List.of(1, 2, 3, 4, 6, 8);

  @Option(names = "--exchange-hidden", split = ",", description = "LSTM hidden sizes of --exchange, one layer each (default: 256,64,1024)")
  List<Integer> exchangeHidden = List.of(256, 64, 1024);

  @Option(names = "--exchange-layers", split = ",", description = "layer counts of --exchange at the first hidden size (default: 1,2,3)")
  List<Integer> exchangeLayers = List.of(1, 2, 3);

  @Option(names = "--exchange-steps", description = "timed steps per --exchange run, after 5 untimed (default: 20)")
  int exchangeSteps = 20;

  @Option(names = "--shard-cache", description = "time train on a dataset --cache-ratio times the shard cache against the same"
      + " run fully cached, on a local --master (first of --cells and --hidden; --batch, --steps, --runs, --spark-steps,"
      + " --spark-warmup), instead of the kernels")
  boolean shardCache;

  @Option(names = "--cache-sequences", description = "sine sequences of the --shard-cache dataset (default: 16384)")
  int cacheSequences = 16384;

  @Option(names = "--cache-shard-batch", description = "sequences per shard of the --shard-cache dataset (default: 16)")
  int cacheShardBatch = 16;

  @Option(names = "--cache-ratio", description = "dataset bytes / shard cache bytes of the bounded --shard-cache run (default: 4)")
  double cacheRatio = 4;

  @Override
  public Integer call() throws IOException {
    if (json != null) {
      // checked before any row runs: a bad --json path otherwise fails after the whole table
      FileSystems.requireUsableOutput(json.toString(), new Configuration(), "--json",
          false);
    }
    if (transform) {
      // each rule broken named with its value; the table is keys x hours, at least 2 hours a key (fewer rows
      // than that ran 2 a key, more than asked, without a word)
      List<String> broken = new ArrayList<>();
      if (runs < 1) {
        broken.add("--runs must be ≥ 1, found " + runs);
      }
      if (transformKeys < 1) {
        broken.add("--transform-keys must be ≥ 1, found " + transformKeys);
      } else if (transformRows < 2L * transformKeys) {
        broken.add("--transform-rows must be ≥ 2 × --transform-keys (" + 2L * transformKeys + ": 2 hours a key), found "
            + transformRows);
      }
      if (transformHidden < 1) {
        broken.add("--transform-hidden must be ≥ 1, found " + transformHidden);
      }
      if (!broken.isEmpty()) {
        throw new BadInputException("--transform: " + String.join("; ", broken));
      }
      writeJson(TransformBench.run(transformRows, transformKeys, transformHidden, runs, master, System.out));
      return 0;
    }
    if (exchange) {
      // each rule broken named with its value, as --transform and --shard-cache do (it listed every rule: a user audit)
      List<String> broken = new ArrayList<>();
      if (runs < 1) {
        broken.add("--runs must be ≥ 1, found " + runs);
      }
      if (exchangeSteps < 1) {
        broken.add("--exchange-steps must be ≥ 1, found " + exchangeSteps);
      }
      exchangePartitions.stream().filter(p -> p < 1 || p > 64).findFirst()
          .ifPresent(p -> broken.add("--exchange-partitions must be in 1..64, found " + p));
      exchangeHidden.stream().filter(h -> h < 1).findFirst().ifPresent(h -> broken.add("--exchange-hidden must be ≥ 1, found " + h));
      exchangeLayers.stream().filter(l -> l < 1).findFirst().ifPresent(l -> broken.add("--exchange-layers must be ≥ 1, found " + l));
      if (!broken.isEmpty()) {
        throw new BadInputException("--exchange: " + String.join("; ", broken));
      }
      writeJson(ExchangeBench.run(new ExchangeBench.Options(exchangeHidden, exchangeLayers,
          exchangePartitions, 16, runs, exchangeSteps, 5, seed), System.out));
      return 0;
    }
    if (shardCache) {
      // each rule broken named with its value (the message listed every rule)
      List<String> broken = new ArrayList<>();
      if (runs < 1) {
        broken.add("--runs must be ≥ 1, found " + runs);
      }
      if (cacheSequences < batch) {
        broken.add("--cache-sequences must be ≥ --batch (" + batch + "), found " + cacheSequences);
      }
      if (cacheShardBatch < 1) {
        broken.add("--cache-shard-batch must be ≥ 1, found " + cacheShardBatch);
      }
      if (!(cacheRatio > 1)) {
        broken.add("--cache-ratio must be > 1, found " + cacheRatio);
      }
      if (sparkSteps <= sparkWarmup + 1) {
        broken.add("--spark-steps must be > --spark-warmup + 1 (" + (sparkWarmup + 1) + "), found " + sparkSteps);
      }
      if (!broken.isEmpty()) {
        throw new BadInputException("--shard-cache: " + String.join("; ", broken));
      }
      // local-cluster's executors are other JVMs: the fully cached run preloads this one
      if (!master.startsWith("local") || master.startsWith("local-cluster")) {
        throw new BadInputException("--shard-cache: --master must be local, local[N] or local[*] (its fully cached run preloads"
            + " this JVM), found " + master);
      }
      CellType cell = CellType.parse(cells != null ? cells.get(0).trim() : "lstm");
      int h = hidden != null ? hidden.get(0) : 64;
      Path dir = work != null ? work : Files.createTempDirectory("spark-rnn-bench-cache");
      try {
        writeJson(ShardCacheBench.run(new ShardCacheBench.Options(cell, h, batch, steps, cacheSequences, cacheShardBatch, cacheRatio,
            runs, sparkSteps, sparkWarmup, master, seed), dir, System.out));
      } finally {
        removeTemporary(dir);
      }
      return 0;
    }
    if (prepTable) {
      // each rule broken named with its value; the table is keys x hours, and prep table needs each key's
      // one window (and its next-step target) or it fails after the table is written, naming prep's options
      List<String> broken = new ArrayList<>();
      if (runs < 1) {
        broken.add("--runs must be ≥ 1, found " + runs);
      }
      if (tableKeys < 1) {
        broken.add("--table-keys must be ≥ 1, found " + tableKeys);
      } else if (tableRows < (long) TablePrepBench.MIN_HOURS * tableKeys) {
        broken.add("--table-rows must be ≥ " + TablePrepBench.MIN_HOURS + " × --table-keys (" + (long) TablePrepBench.MIN_HOURS
            * tableKeys + ": a window of T = " + TablePrepBench.STEPS + " hours and the next one a key), found " + tableRows);
      } else if (tableRows / tableKeys > Integer.MAX_VALUE) {
        broken.add("--table-rows / --table-keys must be at most " + Integer.MAX_VALUE + " hours a key, found " + tableRows / tableKeys);
      }
      if (!broken.isEmpty()) {
        throw new BadInputException("--prep-table: " + String.join("; ", broken));
      }
      Path dir = work != null ? work : Files.createTempDirectory("spark-rnn-bench-table");
      try {
        writeJson(TablePrepBench.run(tableRows, tableKeys, runs, master != null ? master : "local[*]", dir, System.out));
      } finally {
        removeTemporary(dir);
      }
      return 0;
    }
    require(runs >= 1, "--runs must be at least 1, found " + runs);
    require(warmup >= 0, "--warmup must be at least 0, found " + warmup);
    require(minSeconds >= 0, "--min-seconds must be at least 0, found " + minSeconds);
    require(ceilingSeconds >= 0 && ceilingSeconds <= HostCeiling.MAX_SECONDS,
        "--ceiling-seconds must be in [0, " + (int) HostCeiling.MAX_SECONDS + "], found " + ceilingSeconds);
    require(sparkSteps > sparkWarmup + 1, "--spark-steps must be more than --spark-warmup + 1 (" + (sparkWarmup + 1)
        + "), found " + sparkSteps);
    if (virtualPartitions < 0) {
      throw new BadInputException("--virtual-partitions must be ≥ 0 (0: one slice per engine thread), found " + virtualPartitions);
    }
    if (sparkPartitions.stream().anyMatch(p -> p < 0)) {
      throw new BadInputException("--spark-partitions: counts must be ≥ 0 (0: train's default)");
    }
    for (String sync : sparkSync) {
      if (!sync.equals("barrier") && !sync.equals("job")) {
        throw new BadInputException("--spark-sync: '" + sync + "' is not one of barrier, job");
      }
    }
    List<Shape> shapes = shapes();
    checkVirtualPartitions(shapes);
    List<String> deviceList = devices != null ? devices : defaultDevices();
    for (String d : deviceList) {
      if (!d.equals("reference")) {
        try {
          DeviceChoice.parse(d); // fail early on a bad name
        } catch (BadInputException e) {
          throw new BadInputException("--devices: unknown device '" + d + "', expected one of auto, gpu, cpu-opencl, jvm,"
              + " reference");
        }
      }
    }
    if (spark) {
      checkSparkOptions(shapes);
    }
    PrintStream out = System.out;
    out.printf("spark-rnn bench, %s, %d cores, %s; median of ≥ %d runs and ≥ %.1f s after ≥ %d warm-up calls and ≥ %.1f s%n",
        ZonedDateTime.now().withNano(0), Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " "
            + System.getProperty("java.version"), runs, minSeconds, warmup, warmupSeconds);
    for (String d : deviceList) {
      out.printf("  %-10s = %s%n", d, d.equals("reference") ? "float64 reference (JVM, one thread)" : Engines.describeKernel(d));
    }
    List<Map<String, Object>> rows = new ArrayList<>();
    out.println();
    out.println(header());
    for (Shape s : shapes) {
      Map<String, Double> kernelSeqPerS = new LinkedHashMap<>();
      for (String d : deviceList) {
        ModelConfig config = s.config(layers, output);
        if (d.equals("reference") && AparapiBench.trainingStepFlops(config, s.batch, s.steps) > referenceMaxGflop * 1e9) {
          continue;
        }
        Map<String, Object> row = kernelRow(s, config, d, false);
        rows.add(row);
        kernelSeqPerS.put(d, (Double) row.get("seq_per_s"));
        out.println(format(row));
        if (forward) {
          Map<String, Object> fwd = kernelRow(s, config, d, true);
          fwd.put("ratio_to_training", (Double) fwd.get("seq_per_s") / (Double) row.get("seq_per_s"));
          // the same ratio from each row's fastest run: another process's load stretches medians,
          // hardly the fastest runs, so on a shared machine this one moves less between invocations
          fwd.put("ratio_to_training_min", (Double) row.get("min_ms") / (Double) fwd.get("min_ms"));
          if (!d.equals("reference")) {
            fwd.putAll(pairedRatio(s, config, d));
          }
          rows.add(fwd);
          out.println(format(fwd));
        }
      }
      if (spark && s.features == 1 && output == 1) {
        for (String d : deviceList) {
          if (!d.equals("reference") && kernelSeqPerS.containsKey(d)) {
            for (int p : sparkPartitions) {
              for (String sync : sparkSync) {
                Map<String, Object> row = sparkRow(s, d, kernelSeqPerS.get(d), sync, p);
                rows.add(row);
                out.println(format(row));
              }
            }
          }
        }
      }
    }
    writeJson(rows);
    return 0;
  }


  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new BadInputException(message);
    }
  }

  /**
   * What {@code train} would refuse only after the kernel rows have run: a master Spark cannot
   * start, and on a local master more --spark-partitions than threads under barrier sync (a
   * barrier stage runs every task at once). Shapes with F or O other than 1 get no --spark row
   * (the sine data has one feature and one target), said here rather than left out silently.
   */
  private void checkSparkOptions(List<Shape> shapes) {
    String effective = SparkSetup.effectiveMaster(master);
    SparkSetup.requireKnownMaster(effective);
    int threads = ExecutorRuntime.localThreads(effective);
    if (sparkSync.contains("barrier") && threads > 0) {
      for (int p : sparkPartitions) {
        require(p <= threads, "--spark-partitions: " + p + " under --spark-sync barrier needs " + p + " tasks running at"
            + " once, and " + effective + " runs " + threads + "; use " + threads + " or fewer, a bigger --master, or"
            + " --spark-sync job");
      }
    }
    List<String> skipped = new ArrayList<>();
    for (Shape s : shapes) {
      if (s.features != 1 || output != 1) {
        skipped.add(s.id());
      }
    }
    if (skipped.size() == shapes.size()) {
      throw new BadInputException("--spark times train on sine data (F = O = 1), and no shape has F = 1 and --output 1: "
          + String.join(", ", skipped));
    }
    if (!skipped.isEmpty()) {
      System.out.println("--spark: no train rows for " + String.join(", ", skipped) + " (sine data has F = O = 1)");
    }
  }

  private void writeJson(List<Map<String, Object>> rows) throws IOException {
    if (json != null) {
      // where and how each row was measured, as the table's header line says it, so that a file read later
      // or beside another machine's carries its provenance (an auditor's find: only the printed header had it)
      Map<String, Object> provenance = provenance(commandSpec == null ? List.of()
          : commandSpec.commandLine().getParseResult().originalArgs());
      for (Map<String, Object> row : rows) {
        provenance.forEach(row::putIfAbsent);
      }
      // the project's atomic write (a temporary name beside it, then a rename; parents made): an interrupted
      // write leaves the earlier file, not half of one
      HadoopFiles.write(json.toAbsolutePath().toUri().toString(), (Json.writePretty(rows) + "\n").getBytes(StandardCharsets.UTF_8),
          new Configuration());
      System.out.println("wrote " + rows.size() + " rows to " + json);
    }
  }

  /**
   * The keys every --json row ends with: {@code date} (ISO-8601 with offset, to the second),
   * {@code cores} (the JVM's available processors), {@code jvm} (name and version), {@code cpu}
   * (/proc/cpuinfo's first "model name", null where there is none) and {@code command} (the
   * command line as given, from "bench" on).
   */
  static Map<String, Object> provenance(List<String> args) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("date", ZonedDateTime.now().withNano(0).toOffsetDateTime().toString());
    p.put("cores", Runtime.getRuntime().availableProcessors());
    p.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    p.put("cpu", cpuModel());
    // picocli's original arguments are the whole command line's, from the command's name on
    p.put("command", args.isEmpty() ? "bench" : String.join(" ", args));
    return p;
  }

  /** The first "model name" of /proc/cpuinfo (Linux on x86 and most others), or null. */
  private static String cpuModel() {
    try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      return lines.filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst()
          .orElse(null);
    } catch (IOException | UncheckedIOException e) {
      return null;
    }
  }

  /** Whether the grid (--cells x --hidden at --batch, --steps) runs: without --shape, or with --cells or --hidden beside it. */
  private boolean hasGrid() {
    return extraShapes.isEmpty() || cells != null || hidden != null;
  }

  List<Shape> shapes() {
    List<Shape> list = new ArrayList<>();
    boolean grid = hasGrid();
    for (String c : grid ? (cells != null ? cells : List.of("rnn", "lstm", "gru")) : List.<String>of()) {
      for (int h : hidden != null ? hidden : List.of(64, 256)) {
        list.add(new Shape(CellType.parse(c.trim()), input, h, batch, steps));
      }
    }
    if (!noLarge && extraShapes.isEmpty()) {
      list.add(new Shape(CellType.LSTM, 64, 256, 256, 100));
    }
    if (!noLatency && extraShapes.isEmpty()) {
      // the latency-bound regimes of streaming and generation: few sequences per step, or long ones
      int h = hidden != null ? hidden.get(0) : 64;
      for (String c : cells != null ? cells : List.of("rnn", "lstm", "gru")) {
        list.add(new Shape(CellType.parse(c.trim()), input, h, 8, steps));
        list.add(new Shape(CellType.parse(c.trim()), input, h, batch, 1000));
      }
    }
    for (Shape s : list) {   // the grid's shapes come from --cells, --input, --hidden, --batch and --steps
      checkShape(s, "shape " + s.id() + " (from --cells, --input, --hidden, --batch, --steps): ");
    }
    for (String spec : extraShapes) {
      String[] p = spec.split(":");
      if (p.length != 5) {
        throw new BadInputException("--shape '" + spec + "': expected CELL:F:H:B:T, e.g. lstm:64:256:256:100");
      }
      Shape s;
      try {
        s = new Shape(CellType.parse(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]),
            Integer.parseInt(p[4]));
      } catch (NumberFormatException e) {
        throw new BadInputException("--shape '" + spec + "': F, H, B and T must be integers");
      } catch (BadInputException e) {
        throw new BadInputException("--shape '" + spec + "': " + e.getMessage());
      }
      checkShape(s, "--shape '" + spec + "': ");
      list.add(s);
    }
    return list;
  }

  /**
   * Refuses a --virtual-partitions over the batch of a shape asked for (the grid's --batch, every
   * --shape), as train does (each virtual partition holds at least one sequence): bench cut such a
   * row into fewer groups without a word. Bench's own rows (the B = 8 latency rows, the large
   * row) run with min(V, B), {@link #leaves}, which their rows' virtual_partitions give, and one
   * line says so here.
   */
  private void checkVirtualPartitions(List<Shape> shapes) {
    if (virtualPartitions == 0) {
      return;
    }
    boolean grid = hasGrid();
    if (grid && virtualPartitions > batch) {
      throw new BadInputException("--virtual-partitions: must be at most --batch (" + batch + "; each virtual partition holds at"
          + " least one sequence), found " + virtualPartitions);
    }
    // shapes() appends the --shape shapes last, in order: the shape of each spec as parsed ("LSTM:1:8:03:4" is
    // lstm:1:8:3:4, which a match on the spelling missed: an auditor's find)
    List<Shape> asked = shapes.subList(shapes.size() - extraShapes.size(), shapes.size());
    for (int i = 0; i < extraShapes.size(); i++) {
      String spec = extraShapes.get(i);
      Shape s = asked.get(i);
      if (virtualPartitions > s.batch) {
        throw new BadInputException("--virtual-partitions: must be at most the batch B = " + s.batch + " of --shape '" + spec
            + "' (each virtual partition holds at least one sequence), found " + virtualPartitions);
      }
    }
    List<String> capped = shapes.stream().filter(x -> x.batch < virtualPartitions).map(Shape::id).distinct().toList();
    if (!capped.isEmpty()) {
      System.err.printf("bench: --virtual-partitions %d is over the batch of bench's own rows %s: they run with V = B%n",
          virtualPartitions, String.join(", ", capped));
    }
  }

  /** Refuses, before the table starts, a shape no engine can run, the message starting with where it came from. */
  private void checkShape(Shape s, String where) {
    require(s.batch >= 1, where + "B must be at least 1, found " + s.batch);
    require(s.steps >= 1, where + "T must be at least 1, found " + s.steps);
    try {
      s.config(layers, output);
    } catch (BadInputException e) {
      throw new BadInputException(where + e.getMessage());
    }
  }

  /** jvm, cpu-opencl and gpu where present, then the reference. */
  static List<String> defaultDevices() {
    List<String> list = new ArrayList<>();
    List<DeviceChoice> available = Devices.available();
    list.add("jvm");
    if (available.contains(DeviceChoice.CPU_OPENCL)) {
      list.add("cpu-opencl");
    }
    if (available.contains(DeviceChoice.GPU)) {
      list.add("gpu");
    }
    list.add("reference");
    return list;
  }

  /**
   * Bytes a call's results take: the float64 gradient (training) or the float32 outputs (forward),
   * and the final state (h, and c for LSTM). A compiled engine call allocates about that and no
   * more (the JVM engine's buffers are reused). With {@code virtualPartitions} V > 0 a training call
   * is a train task's step, whose gradient is the combine tree's root, made with a range buffer a
   * level ({@link CombineTree#wholeTreeBytes}).
   */
  static long resultBytes(ModelConfig config, int batch, int steps, boolean forwardOnly, int virtualPartitions) {
    long state = 4L * config.numLayers() * batch * config.hiddenSize() * (config.cell() == CellType.LSTM ? 2 : 1);
    long rows = config.mode() == Mode.SEQ2SEQ ? (long) steps * batch : batch;
    long parameters = new ParamLayout(config).size();
    return state + (forwardOnly ? 4L * rows * config.outputSize()
        : virtualPartitions > 0 ? CombineTree.wholeTreeBytes(virtualPartitions, parameters) : 8L * parameters);
  }

  /**
   * A warning when a timed call allocated well past its results (1.5× and 64 kB more): C2 left some
   * vector operations un-intrinsified in this JVM, boxing every vector they make, and the row's
   * speed is not the engine's (RNN H = 64: 4.9 MB a call against 52 kB, 35% slower; docs/PERFORMANCE.md,
   * "C2's inlining budget"). Null when the allocation is what the results explain.
   */
  static String boxedVectorsWarning(double allocatedPerCall, long resultBytes) {
    if (allocatedPerCall <= 1.5 * resultBytes + 65_536) {
      return null;
    }
    return String.format(Locale.ROOT, "a call allocated %.0f kB, its results take %.0f kB: the JIT left vectors boxed in this JVM"
        + " (docs/PERFORMANCE.md, \"C2's inlining budget\"); this row is slower than the engine's usual, run it again",
        allocatedPerCall / 1e3, resultBytes / 1e3);
  }

  /**
   * One row: the training step ({@code lossAndGradient}), or with {@code forwardOnly} the forward
   * pass alone ({@code forward}, mode "forward"; GFLOP/s from {@link #forwardFlops}).
   */
  Map<String, Object> kernelRow(Shape s, ModelConfig config, String device, boolean forwardOnly) {
    JvmMemory whole = JvmMemory.start();
    try (BpttEngine engine = device.equals("reference") ? Engines.create("reference", "auto") : Engines.create("kernel", device)) {
      Params params = Params.initialize(config, seed);
      var b = Batch.random(config, s.steps, s.batch, seed + 1);
      Runnable step = forwardOnly ? () -> engine.forward(params, b, null) : trainingStep(engine, params, b);
      int calls = 0;
      int minCalls = device.equals("reference") ? Math.min(1, warmup) : warmup;
      WarmUp warm = WarmUp.of(minCalls, device.equals("reference") ? 0 : warmupSeconds);
      double lastCallSeconds = Double.MAX_VALUE;
      while (warm.more(calls)) {
        long t0 = System.nanoTime();
        step.run();
        lastCallSeconds = (System.nanoTime() - t0) / 1e9;
        calls++;
      }
      double warmSeconds = warm.seconds();
      if (warm.cutShort()) {
        System.err.printf("bench: %s %s: the JIT was still compiling after %.0f s of warm-up; the row may be slow"
            + " (a loaded machine? raise --warmup-seconds)%n", s.id(), device, warmSeconds);
      }
      // a 1 ms step timed 7 times is a 7 ms window, at the mercy of one hiccup of a shared machine
      int timedRuns = device.equals("reference") || calls == 0 ? runs
          : (int) Math.max(runs, Math.min(10_000, Math.ceil(minSeconds / lastCallSeconds)));
      JvmMemory timed = JvmMemory.interval();
      AparapiBench.Result r = forwardOnly ? timeCalls(engine, step, forwardFlops(config, s.batch, s.steps), params, b, timedRuns)
          : virtualPartitions > 0 ? timeCalls(engine, step, AparapiBench.trainingStepFlops(config, s.batch, s.steps), params, b, timedRuns)
          : AparapiBench.bench(engine, params, b, timedRuns);
      Map<String, Object> row = baseRow(s, device, forwardOnly ? "forward" : "kernel");
      row.put("virtual_partitions", forwardOnly || virtualPartitions == 0 ? null : leaves(s.batch));
      long working = engine.workingBytes();
      long allocated = timed.allocatedBytesSinceStart();
      row.put("working_mb", working < 0 ? null : working / 1e6);
      row.put("alloc_kb_per_step", allocated < 0 ? null : allocated / 1e3 / timedRuns);
      // the JVM engine's rows only: the reference engine allocates by design, Aparapi for each launch
      String boxed = allocated < 0 || !(engine instanceof JvmEngine) ? null
          : boxedVectorsWarning(allocated / (double) timedRuns,
              resultBytes(config, s.batch, s.steps, forwardOnly, leaves(s.batch)));
      if (boxed != null) {
        System.err.printf("bench: %s %s: %s%n", s.id(), device, boxed);
      }
      row.put("gc_pct", timed.gcPercent());
      putPeakRss(row, whole);
      row.put("engine", r.engine());
      if (r.launchesPerStep() > 0) {
        row.put("launches_per_step", r.launchesPerStep());
        row.put("transfer_bytes_per_step", r.transferBytesPerStep());
      }
      row.put("seq_per_s", r.sequencesPerSecond());
      row.put("gflops", r.gflopPerSecond());
      // the vector kernels' ceiling (not for the scalar loops, one lane, which is also all a JVM without the Vector API has), on as
      // many threads as the row's slices ran on (a batch of B runs on at most B)
      if (engine instanceof JvmEngine jvm && ceilingSeconds > 0 && MathKernels.best().lanes() > 1) {
        HostCeiling.Result ceiling = HostCeiling.measure(Math.min(jvm.threads(), s.batch), ceilingSeconds);
        if (ceiling.jitBusy()) {
          System.err.printf("bench: %s %s: the JIT was still compiling when the FMA ceiling was measured; it may read low%n", s.id(), device);
        }
        putCeiling(row, ceiling, r.gflopPerSecond());
      }
      row.put("median_ms", r.medianSeconds() * 1e3);
      row.put("min_ms", r.minSeconds() * 1e3);
      row.put("runs", timedRuns);
      row.put("warmup_calls", calls);
      row.put("warmup_s", warmSeconds);
      row.put("warmup_last_ms", calls == 0 ? null : lastCallSeconds * 1e3);   // sets the timed runs: ⌈min-seconds / it⌉
      return row;
    }
  }

  /**
   * The forward pass's rate over the training step's, taken in pairs: {@link #runs} rounds, each a
   * window of training calls and one of forward calls (about {@code --min-seconds} / 10 each, at
   * least one call; the order alternates from round to round), each round's ratio from its own two
   * windows' median calls. The rows' ratio divides medians taken seconds apart; a machine whose speed changes in
   * between (the shared hosts of docs/PERFORMANCE.md have two) moves it by 20% or more, and the
   * paired ratio cancels what the two windows of a round share. Keys {@code ratio_paired} (the
   * median of the rounds), {@code ratio_paired_q1}, {@code ratio_paired_q3}, {@code paired_rounds}.
   */
  Map<String, Object> pairedRatio(Shape s, ModelConfig config, String device) {
    Params params = Params.initialize(config, seed);
    var b = Batch.random(config, s.steps, s.batch, seed + 1);
    double window = minSeconds / 10;
    double[] ratios = new double[runs];
    try (BpttEngine train = Engines.create("kernel", device); BpttEngine fwd = Engines.create("kernel", device)) {
      Runnable trainCall = trainingStep(train, params, b);
      Runnable fwdCall = () -> fwd.forward(params, b, null);
      for (int i = 0; i < 2; i++) { // new engines' buffers; the JIT compiled both paths for the rows before
        trainCall.run();
        fwdCall.run();
      }
      for (int r = 0; r < runs; r++) {
        double tFirst = secondsPerCall(r % 2 == 0 ? trainCall : fwdCall, window);
        double tSecond = secondsPerCall(r % 2 == 0 ? fwdCall : trainCall, window);
        ratios[r] = r % 2 == 0 ? tFirst / tSecond : tSecond / tFirst; // training's time a call over forward's
      }
    }
    double[] sorted = ratios.clone();
    Arrays.sort(sorted);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ratio_paired", AbBench.quantile(sorted, 0.5));
    m.put("ratio_paired_q1", AbBench.quantile(sorted, 0.25));
    m.put("ratio_paired_q3", AbBench.quantile(sorted, 0.75));
    m.put("paired_rounds", runs);
    return m;
  }

  /**
   * Calls until {@code window} seconds have passed (at least once); the median call's seconds, the
   * statistic of the rows (a mean would count the training step's occasional collection pause
   * against it, and the ratio would differ from the rows' for that alone).
   */
  private static double secondsPerCall(Runnable call, double window) {
    long end = System.nanoTime() + (long) (window * 1e9);
    double[] seconds = new double[16];
    int calls = 0;
    long now;
    do {
      long t0 = System.nanoTime();
      call.run();
      now = System.nanoTime();
      if (calls == seconds.length) {
        seconds = Arrays.copyOf(seconds, 2 * calls);
      }
      seconds[calls++] = (now - t0) / 1e9;
    } while (now < end);
    return TrainingMetrics.median(Arrays.copyOf(seconds, calls));
  }

  /**
   * A training row's call: {@code lossAndGradient}, or with {@code --virtual-partitions V} what one
   * task of {@code train} runs ({@link GradientTask#wholeBatchStep}: the
   * {@link #leaves} groups, then the combine tree's blocks).
   */
  Runnable trainingStep(BpttEngine engine, Params params, Batch b) {
    if (virtualPartitions == 0) {
      return () -> engine.lossAndGradient(params, b, null);
    }
    return GradientTask.wholeBatchStep(engine, params, b, leaves(b.batchSize()));
  }

  /**
   * The virtual partitions a training row of {@code batch} sequences is cut into: --virtual-partitions,
   * which {@link #checkVirtualPartitions} holds to the batch of the shapes asked for; bench's own
   * rows of a smaller batch get V = B; 0 without.
   */
  int leaves(int batch) {
    return Math.min(virtualPartitions, batch);
  }

  /**
   * Times {@code runs} calls (the caller has warmed the engine up): forward passes, or training
   * steps over virtual partitions, as {@link AparapiBench#bench(BpttEngine, Params, Batch, int)}
   * times {@code lossAndGradient}; {@code flops} a call.
   */
  static AparapiBench.Result timeCalls(BpttEngine engine, Runnable call, long flops, Params params, Batch batch,
      int runs) {
    double[] seconds = new double[runs];
    for (int i = 0; i < runs; i++) {
      long t0 = System.nanoTime();
      call.run();
      seconds[i] = (System.nanoTime() - t0) / 1e9;
    }
    double median = TrainingMetrics.median(seconds);
    double least = Arrays.stream(seconds).min().orElse(median);
    ModelConfig config = params.config();
    // the OpenCL engine counts its launches and host<->device bytes per call; the others launch nothing
    AparapiEngine opencl = engine instanceof AparapiEngine a ? a : null;
    return new AparapiBench.Result(engine.describe(), engine.describe(), config, batch.batchSize(), batch.steps(), runs, median, least,
        batch.batchSize() / median, flops, flops / median / 1e9, opencl == null ? 0 : opencl.lastCallLaunches(),
        opencl == null ? 0 : opencl.lastCallTransferBytes());
  }

  /**
   * Floating-point operations of a forward pass's matrix products, a multiply-add counted as 2: the
   * forward part of {@link AparapiBench#trainingStepFlops}, Σ_l 2·T·B·GH·(I_l + H) + 2·R·O·H.
   */
  static long forwardFlops(ModelConfig config, int batchSize, int steps) {
    long tb = (long) steps * batchSize;
    long gh = (long) config.gates() * config.hiddenSize();
    long flops = 0;
    for (int l = 0; l < config.numLayers(); l++) {
      flops += 2 * tb * gh * (config.layerInputSize(l) + config.hiddenSize());
    }
    long rows = config.mode() == Mode.SEQ2ONE ? batchSize : tb;
    return flops + 2 * rows * config.outputSize() * config.hiddenSize();
  }

  /**
   * Trains the same model on sine sequences (T steps, global batch B) on {@code --master} under
   * {@code --sync sync}, and compares the mean step after the warm-up (segment launches included)
   * with the kernel alone at the same global batch. Progress is "logged" every step, so barrier
   * segments end at the first step after 2 s, as in a run with the default log interval.
   */
  Map<String, Object> sparkRow(Shape s, String device, double kernelMedianSeqPerS, String sync, int requestedPartitions)
      throws IOException {
    int trainSteps = (int) Math.max(sparkSteps, Math.min(2000, Math.ceil(sparkSeconds * kernelMedianSeqPerS / s.batch)));
    double kernelBeforeMs = kernelWindowMs(s, device);
    Path tmp = Files.createTempDirectory("spark-rnn-bench");
    try {
      Configuration hadoop = new Configuration();
      Path data = tmp.resolve("sine");
      int sequences = s.batch * 4;
      Prep.run(new SineSource(SineSource.Options.defaults(s.steps, sequences, seed)), new PrepOptions(data.toUri(), s.batch, 0,
          false, true), hadoop);
      Map<String, String> given = new LinkedHashMap<>();
      given.put("data", data.toUri().toString());
      given.put("out", tmp.resolve("out").toUri().toString());
      given.put("cell", s.cell.id());
      given.put("num-layers", Integer.toString(layers));
      given.put("hidden-size", Integer.toString(s.hidden));
      given.put("batch", Integer.toString(s.batch));
      given.put("steps", Integer.toString(trainSteps));
      given.put("engine", "kernel");
      given.put("device", device);
      given.put("checkpoint-every", "0");
      given.put("log-every", "1");
      given.put("sync", sync);
      given.put("partitions", Integer.toString(requestedPartitions));
      given.put("master", master);
      given.put("seed", Long.toString(seed));
      PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
      Trainer trainer = Trainer.prepare(given, hadoop, quiet);
      int partitions;
      double emptyJobMs;
      double gcPercent;
      JvmMemory whole = JvmMemory.start();
      try (JavaSparkContext sc = SparkSetup.start("spark-rnn bench", master)) {
        partitions = trainer.partitions(sc);
        JvmMemory training = JvmMemory.interval();
        trainer.run(sc);
        gcPercent = training.gcPercent();
        emptyJobMs = emptyJobMs(sc, partitions);
      }
      double kernelAfterMs = kernelWindowMs(s, device);
      double kernelSeqPerS = s.batch / ((kernelBeforeMs + kernelAfterMs) / 2 / 1e3);
      TrainingMetrics m = trainer.metrics();
      double stepMs = m.meanStepMs(sparkWarmup);
      double overheadMs = m.meanOverheadMs(sparkWarmup);
      double seqPerS = s.batch / (stepMs / 1e3);
      ModelConfig config = s.config(layers, output);
      Map<String, Object> row = baseRow(s, device, "spark");
      row.put("engine", "train on " + master + ", " + partitions + " partitions, sync " + sync);
      row.put("sync", sync);
      row.put("seq_per_s", seqPerS);
      row.put("gflops", AparapiBench.trainingStepFlops(config, s.batch, s.steps) / (stepMs / 1e3) / 1e9);
      row.put("mean_ms", stepMs);
      row.put("median_ms", m.medianStepMs(sparkWarmup));
      row.put("runs", trainSteps - sparkWarmup);
      row.put("segments", m.segments());
      // --sync job runs no segments: no launch time (null, as JSON holds no NaN)
      row.put("segment_launch_ms", m.segments() > 0 ? m.medianSegmentLaunchMs() : null);
      row.put("master", master);
      row.put("partitions", partitions);
      row.put("kernel_seq_per_s", kernelSeqPerS);
      row.put("kernel_before_ms", kernelBeforeMs);
      row.put("kernel_after_ms", kernelAfterMs);
      row.put("kernel_median_seq_per_s", kernelMedianSeqPerS);
      row.put("ratio_to_kernel", seqPerS / kernelSeqPerS);
      row.put("overhead_ms", overheadMs);
      row.put("empty_job_ms", emptyJobMs);
      row.put("gc_pct", gcPercent);
      // --sync barrier: the top of the reduction tree, the driver's exchange (0 under --sync job and for one partition)
      row.put("driver_bytes_per_step", trainer.driverBytesPerStep());
      TrainingMetrics.Breakdown parts = m.breakdown(sparkWarmup);
      row.put("compute_ms", parts.computeMs());
      row.put("reduce_ms", parts.reduceMs());
      row.put("update_ms", parts.updateMs());
      row.put("control_ms", parts.controlMs());
      putPeakRss(row, whole);
      return row;
    } finally {
      deleteTree(tmp);
    }
  }

  /**
   * The kernel alone as {@code train} is timed: the mean call over about {@code --spark-seconds}
   * (at least 3 calls, after 2 untimed), at the same shape and global batch. Taken right before and
   * right after each {@code --spark} row, whose ratio uses the average of the two: on a shared
   * machine the kernel's speed drifts by up to 2× between minutes, and a median of a few calls
   * taken minutes earlier made the ratio swing between 0.7 and 1.4.
   */
  double kernelWindowMs(Shape s, String device) {
    ModelConfig config = s.config(layers, output);
    try (BpttEngine engine = Engines.create("kernel", device)) {
      Params params = Params.initialize(config, seed);
      var b = Batch.random(config, s.steps, s.batch, seed + 1);
      for (int i = 0; i < 2; i++) {
        engine.lossAndGradient(params, b, null);
      }
      long start = System.nanoTime();
      int calls = 0;
      while (calls < 3 || (System.nanoTime() - start) / 1e9 < sparkSeconds) {
        engine.lossAndGradient(params, b, null);
        calls++;
      }
      return (System.nanoTime() - start) / 1e6 / calls;
    }
  }

  /**
   * The floor of a step that is one Spark job: the median wall time of a job whose tasks do
   * nothing, on the same context and partitions (20 timed after 5 untimed).
   */
  static double emptyJobMs(JavaSparkContext sc, int partitions) {
    JavaRDD<Integer> slots =
        sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions);
    double[] ms = new double[20];
    for (int i = -5; i < ms.length; i++) {
      long t0 = System.nanoTime();
      slots.mapPartitionsWithIndex((p, it) -> Collections.singletonList(p).iterator(), false).collect();
      if (i >= 0) {
        ms[i] = (System.nanoTime() - t0) / 1e6;
      }
    }
    Arrays.sort(ms);
    return (ms[9] + ms[10]) / 2;
  }

  /**
   * ceiling_gflops (the mean of the threads' FMA rates, wall clock), ceiling_threads, and
   * ceiling_pct: the row's GFLOP/s as a percentage of the threads' ceiling together. A row above
   * its ceiling means the ceiling read low (its threads shared the cores with another process's
   * work; a docs audit saw 0.4 GFLOP/s a thread and "82072%"): ceiling_low true and ceiling_pct
   * null rather than a share that cannot be.
   */
  static void putCeiling(Map<String, Object> row, HostCeiling.Result ceiling, double gflops) {
    double pct = 100 * gflops / (ceiling.threads() * ceiling.mean());
    row.put("ceiling_gflops", ceiling.mean());
    row.put("ceiling_threads", ceiling.threads());
    row.put("ceiling_low", !(pct <= 100));
    row.put("ceiling_pct", pct <= 100 ? pct : null);
  }

  /** peak_rss_mb: this JVM's peak resident set over the row (with --spark on a local master: driver and executors), null where unknown. */
  private static void putPeakRss(Map<String, Object> row, JvmMemory memory) {
    long peak = memory.peakRssBytes();
    row.put("peak_rss_mb", peak < 0 ? null : peak / 1e6);
  }

  private Map<String, Object> baseRow(Shape s, String device, String mode) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("cell", s.cell.id());
    row.put("hidden_size", s.hidden);
    row.put("input_size", s.features);
    row.put("output_size", output);
    row.put("layers", layers);
    row.put("batch", s.batch);
    row.put("steps", s.steps);
    row.put("device", device);
    row.put("mode", mode);
    return row;
  }

  /** "; N kB through the driver per step" for a --sync barrier row with an exchange, else "". */
  static String driverBytes(Map<String, Object> r) {
    Object b = r.get("driver_bytes_per_step");
    return b instanceof Double d && d > 0 ? String.format(Locale.ROOT, "; %.1f kB through the driver per step", d / 1e3) : "";
  }

  /** "; per step: compute C, reduction R, update U, control K ms" for a spark row. */
  static String breakdown(Map<String, Object> r) {
    return r.get("compute_ms") instanceof Double c ? String.format(Locale.ROOT, "; per step: compute %.2f, reduction %.2f, update %.2f,"
        + " control %.2f ms", c, (Double) r.get("reduce_ms"), (Double) r.get("update_ms"), (Double) r.get("control_ms")) : "";
  }

  static String header() {
    return String.format(Locale.ROOT, "%-5s %4s %5s %5s %4s  %-10s %-7s %10s %10s %9s  %s", "cell", "F", "H", "B", "T", "device", "mode",
        "ms/step", "seq/s", "GFLOP/s", "notes");
  }

  static String format(Map<String, Object> r) {
    String notes = "spark".equals(r.get("mode"))
        ? String.format(Locale.ROOT, "%s× the kernel alone (%.0f seq/s, mean over --spark-seconds before and after); Spark overhead %.2f ms/step (an empty Spark job: %.1f ms)%s;"
            + " ms/step the mean of %d steps (median %.2f ms); %s", ratio((Double) r.get("ratio_to_kernel")), (Double) r.get("kernel_seq_per_s"),
            (Double) r.get("overhead_ms"), (Double) r.get("empty_job_ms"), ((Integer) r.get("segments")) > 0
                ? String.format(Locale.ROOT, "; %d segments, launch %.1f ms each", r.get("segments"), (Double) r.get("segment_launch_ms")) : "",
            r.get("runs"), (Double) r.get("median_ms"), r.get("engine")) + driverBytes(r) + breakdown(r) + "; " + memoryNotes(r)
        : (r.get("virtual_partitions") == null ? "" : "as a train task: " + r.get("virtual_partitions") + " virtual partitions and the combine tree; ")
            + String.format(Locale.ROOT, "%smin %.2f ms; %s%s; %s; %s", r.get("ratio_to_training") == null ? ""
            : String.format(Locale.ROOT, "%.2f× the training step (%s%.2f× by the fastest runs); ", (Double) r.get("ratio_to_training"),
                r.get("ratio_paired") == null ? "" : String.format(Locale.ROOT, "paired %.2f×, quartiles %.2f–%.2f over %d rounds; ",
                    (Double) r.get("ratio_paired"), (Double) r.get("ratio_paired_q1"), (Double) r.get("ratio_paired_q3"), r.get("paired_rounds")),
                (Double) r.get("ratio_to_training_min")), (Double) r.get("min_ms"),
            r.get("working_mb") == null ? "" : "working " + MemoryBudget.size(Math.round((Double) r.get("working_mb") * 1e6)) + ", ",
            r.get("alloc_kb_per_step") == null ? "alloc ?" : String.format(Locale.ROOT, "alloc %.0f kB/step", (Double) r.get("alloc_kb_per_step")),
            memoryNotes(r), r.get("engine")) + ceilingNote(r);
    double ms = (Double) (r.containsKey("mean_ms") ? r.get("mean_ms") : r.get("median_ms"));
    return String.format(Locale.ROOT, "%-5s %4d %5d %5d %4d  %-10s %-7s %10.2f %10.1f %9.2f  %s", r.get("cell"), r.get("input_size"),
        r.get("hidden_size"), r.get("batch"), r.get("steps"), r.get("device"), r.get("mode"), ms,
        (Double) r.get("seq_per_s"), (Double) r.get("gflops"), notes);
  }

  /** A ratio with two decimals, or three significant digits below 0.01 (a tiny shape's Spark row: 0.00234×, not 0.00×). */
  static String ratio(double r) {
    return r >= 0.01 || r == 0 ? String.format(Locale.ROOT, "%.2f", r) : String.format(Locale.ROOT, "%.3g", r);
  }

  /**
   * "; N% of the FMA ceiling (C GFLOP/s a thread on T)" where the row has one, what read low where
   * the ceiling was under the row's own rate, else "".
   */
  static String ceilingNote(Map<String, Object> r) {
    if (Boolean.TRUE.equals(r.get("ceiling_low"))) {
      return String.format(Locale.ROOT, "; the FMA ceiling read low, %.3g GFLOP/s a thread on %d, under this row's rate"
          + " (the cores were busy with other work while it ran): no share", (Double) r.get("ceiling_gflops"),
          r.get("ceiling_threads"));
    }
    return r.get("ceiling_pct") instanceof Double pct ? String.format(Locale.ROOT, "; %.0f%% of the FMA ceiling (%.0f GFLOP/s a thread on %d)",
        pct, (Double) r.get("ceiling_gflops"), r.get("ceiling_threads")) : "";
  }

  private static String memoryNotes(Map<String, Object> r) {
    return String.format(Locale.ROOT, "GC %.1f%%, peak RSS %s", (Double) r.get("gc_pct"),
        r.get("peak_rss_mb") == null ? "?" : String.format(Locale.ROOT, "%.0f MB", (Double) r.get("peak_rss_mb")));
  }

  /**
   * Deletes --prep-table's or --shard-cache's data where bench made the folder (no --work): at the
   * default sizes half a GB a run, which stayed in /tmp (a docs audit); a --work folder is the user's.
   */
  private void removeTemporary(Path dir) {
    if (work == null) {
      deleteTree(dir);
    }
  }

  private static void deleteTree(Path root) {
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // a temporary folder; what cannot be deleted stays in /tmp
        }
      });
    } catch (IOException ignored) {
      // as above
    }
  }
}
