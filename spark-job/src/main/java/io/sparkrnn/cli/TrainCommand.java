package io.sparkrnn.cli;

import io.sparkrnn.fs.RunLock;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code spark-rnn train}: one option per {@link TrainConfig#KEYS} entry (added by
 * {@link #addKeyOptions}), plus {@code --conf FILE}. Values from the command line override the job
 * file; everything is validated against the dataset before Spark starts.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train a model on a dataset with synchronous data-parallel BPTT on Spark.",
        "Every option can also be set in a job file (key = value, keys without the dashes)."})
public final class TrainCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--conf", paramLabel = "FILE", description = "job file (key = value lines), e.g. conf/sine.conf; any Hadoop"
      + " URI (hdfs://, s3a://) in cluster deploy mode, where the driver does not run on the submitting machine", order = 0)
  String conf;

  /** Adds --KEY for every configuration key to the train command's spec. */
  static void addKeyOptions(CommandSpec spec) {
    int order = 1;
    for (TrainConfig.Key k : TrainConfig.KEYS) {
      String desc = k.description() + (k.defaultValue() == null ? "" : " (default: " + k.defaultValue() + ")");
      // picocli passes description lines through String.format: a literal % (shard-cache's 25%) must be %%
      desc = desc.replace("%", "%%");
      // a yes/no key (resume, overwrite) also stands alone, as prep's --overwrite does: bare means true
      boolean flag = "false".equals(k.defaultValue()) || "true".equals(k.defaultValue());
      OptionSpec.Builder option = OptionSpec.builder("--" + k.name())
          .paramLabel(k.name().equals("data") || k.name().equals("out") ? "URI" : flag ? "true|false" : "VALUE")
          .type(String.class)
          .description(desc)
          .order(order++);
      if (flag) {
        option.arity("0..1").fallbackValue("true");
      }
      spec.addOption(option.build());
    }
  }

  @Override
  public Integer call() throws Exception {
    Map<String, String> given = new LinkedHashMap<>();
    Map<String, String> fromFile = new LinkedHashMap<>();   // key -> FILE:LINE, for the keys the command line leaves to the file
    if (conf != null) {
      TrainConfig.JobFile job = TrainConfig.readJob(conf, new Configuration());
      given.putAll(job.values());
      fromFile.putAll(job.origins());
    }
    for (TrainConfig.Key k : TrainConfig.KEYS) {
      String v = spec.findOption("--" + k.name()).getValue();
      if (v != null) {
        given.put(k.name(), v);
        fromFile.remove(k.name());
      }
    }
    fromFile.forEach((key, where) -> {
      String v = given.get(key);
      Main.givenInAFile(where, key, v);   // for Hadoop's errors that name a URI but no option
      if (v.equals("~") || v.startsWith("~/")) {   // as Main warns of the command line's: no shell expands a job file's
        System.err.println("warning: " + where + ": " + key + " " + v + ": ~ is not expanded in a job file, so this names a folder"
            + " called ~; write the whole path");
      }
    });
    Configuration hadoop = new Configuration();
    Trainer trainer;
    try {
      trainer = Trainer.prepare(given, hadoop, System.out);
    } catch (BadInputException | java.io.FileNotFoundException e) {
      // a value from the job file: its FILE:LINE before the key ("hidden-size: expected an integer" named no file)
      String where = fromFile.entrySet().stream().filter(k -> e.getMessage().startsWith(k.getKey() + ":")
          || e.getMessage().startsWith(k.getKey() + " ")).map(Map.Entry::getValue).findFirst().orElse(null);
      if (where != null) {
        throw new BadInputException(where + ": " + e.getMessage(), e);
      }
      // a path of the job file's that a check named by its value ("file:/x/nods: not a dataset", a review):
      // FILE:LINE and the key before it
      int colon = e.getMessage().indexOf(": ");
      // a path as the message begins ("file:/abs/ds: not a dataset"), not an option's name ("--out runs/x: …": a review)
      String head = colon < 0 || e.getMessage().startsWith("-") || e.getMessage().substring(0, colon).contains(" ") ? ""
          : e.getMessage().substring(0, colon);
      for (String key : List.of("data", "out", "init")) {
        if (!head.isEmpty() && fromFile.containsKey(key) && samePath(head, given.get(key), hadoop)) {
          throw new BadInputException(fromFile.get(key) + ": " + key + ": " + e.getMessage(), e);
        }
      }
      throw e;
    }
    SparkSetup.requireDevice(trainer.config().engine(), trainer.config().device(), trainer.config().master());
    SparkSetup.requireKnownMaster(SparkSetup.effectiveMaster(trainer.config().master())); // before the lock makes --out
    if (trainer.config().sync().equals("barrier")) {
      Trainer.checkExchangeSettings(new SparkConf());   // also before the lock (a user audit: an empty --out was left)
    }
    // one run per --out, held until Spark has stopped, also when the run fails
    RunLock lock = RunLock.acquire(trainer.config().out(), hadoop, System.out);
    try {
      trainer.removeStaleTemporaries();
      trainer.clearPreviousRun();
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw e;
    }
    try (JavaSparkContext sc = SparkSetup.start("spark-rnn train", trainer.config().master())) {
      trainer.run(sc);
    } finally {
      lock.close();
    }
    return 0;
  }

  /** Whether the message's path {@code head} is {@code value}, as written or fully qualified (./ds is file:/abs/ds). */
  private static boolean samePath(String head, String value, Configuration hadoop) {
    try {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(value);
      String qualified = p.getFileSystem(hadoop).makeQualified(p).toString();
      return head.equals(value) || head.equals(qualified) || head.equals(p.toString());
    } catch (IOException | RuntimeException e) {   // no file system for it: the message is not about it
      return head.equals(value);
    }
  }

  /** For {@link Main}: the train subcommand with its key options. */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new TrainCommand());
    addKeyOptions(cl.getCommandSpec());
    return cl;
  }
}
