package io.sparkrnn.cli;

import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.Engines;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Options the inference commands share (picocli mixins): where the model runs, and for a dataset, on which Spark; and what their start lines count. */
final class InferenceOptions {
  private InferenceOptions() {}

  /** {@code n} and the noun, plural unless n is 1: "1 shard", "8 shards". */
  static String count(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  /** The sequences in the chosen shards (their indices in {@code all}): predict's and evaluate's start lines. */
  static long sequences(List<ShardInfo> all, List<Integer> chosen) {
    return chosen.stream().mapToLong(i -> all.get(i).batch()).sum();
  }

  /** {@code --engine}, {@code --device}: predict, evaluate, generate. */
  static final class Engine {
    @Option(names = "--engine", defaultValue = "kernel", description = "kernel | reference (default: ${DEFAULT-VALUE})")
    String engine;

    @Option(names = "--device", defaultValue = "auto", description = "auto | gpu | cpu-opencl | jvm (default: ${DEFAULT-VALUE})")
    String device;

    /** A device beside --engine reference is refused before anything is read. */
    void check() {
      Engines.requireDeviceApplies(engine, device);
    }
  }

  /** {@code --master}, {@code --partitions}: predict and evaluate over a dataset directory. */
  static final class Spark {
    @Option(names = "--master", defaultValue = "local[*]", description = "Spark master for a dataset (default: ${DEFAULT-VALUE})")
    String master;

    @Option(names = "--partitions", defaultValue = "0",
        description = "Spark partitions for a dataset (0: the default parallelism, at most one per shard)")
    int partitions;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** One input file runs in this JVM without Spark: --master or --partitions given for it is refused, not ignored. */
    void requireDataset(String data) {
      for (String option : List.of("--master", "--partitions")) {
        if (command.commandLine().getParseResult().hasMatchedOption(option)) {
          throw new BadInputException(option + ": --data " + data + " is one input file, read in this JVM without Spark; " + option
              + " applies to a dataset directory");
        }
      }
    }

    /** --partitions, or the context's default parallelism (its executors registered) capped at the number of shards to read. */
    int partitions(JavaSparkContext sc, int shards) {
      if (partitions < 0) {
        throw new BadInputException("--partitions must be ≥ 0, found " + partitions);
      }
      return partitions > 0 ? partitions : Math.max(1, Math.min(ExecutorRuntime.defaultParallelism(sc), shards));
    }
  }
}
