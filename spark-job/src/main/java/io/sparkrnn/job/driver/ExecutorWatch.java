package io.sparkrnn.job.driver;

import io.sparkrnn.kernel.BadInputException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warns once when a job has waited {@code spark.sparkrnn.executorWaitWarning} seconds (default 60;
 * 0: never) on a cluster where no executor has registered. An executor that asks more cores or
 * memory than any worker offers never starts, and Spark waits for it forever, saying only "Initial
 * job has not accepted any resources" every 15 s (a cluster audit: README's example 6, whose
 * properties file asks 2 cores an executor, on workers of one core waited 13 minutes). The warning
 * names what an executor asks and how to ask less. Once an executor has registered the watch ends:
 * a job waiting then waits for something else. A daemon thread polls once a second; it ends with
 * the context.
 */
final class ExecutorWatch {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorWatch.class);
  /** The setting: seconds; 0 turns the warning off. */
  static final String SETTING = "spark.sparkrnn.executorWaitWarning";
  /** The applications watched already (a notebook's session reused by the next command). */
  private static final Set<String> WATCHED = ConcurrentHashMap.newKeySet();

  private final long graceMs;
  private final String warning;
  /** When jobs began to wait with no executor, or -1 while none waits. */
  private long waitingSince = -1;
  private boolean done;

  ExecutorWatch(long graceMs, String warning) {
    this.graceMs = graceMs;
    this.warning = warning;
  }

  /**
   * The setting in ms: a bare number is seconds, else a Spark time ("90s", "2min", "500ms");
   * refused before the context starts where it does not parse or is negative.
   */
  static long graceMs(SparkConf conf) {
    String value = conf.get(SETTING, "60").strip();
    long ms;
    try {   // Spark reads a bare number as ms; here it is seconds, as the docs say, 0.5 too (a review); ms rounded up
      ms = value.matches("-?\\d+(\\.\\d+)?")
          ? new BigDecimal(value).movePointRight(3).setScale(0, RoundingMode.CEILING).longValueExact()
          : conf.getTimeAsMs(SETTING, "60s");
    } catch (RuntimeException e) {   // NumberFormatException: "Illegal value for config key …"; ArithmeticException
      throw new BadInputException(SETTING + " '" + value + "': expected seconds, such as 60, 0.5, 90s or 2min (0: no"
          + " warning)", e);
    }
    if (ms < 0) {
      throw new BadInputException(SETTING + " '" + value + "': expected seconds ≥ 0 (0: no warning)");
    }
    return ms;
  }

  /** Starts watching {@code sc} unless it is local, the setting is 0, or it is watched already. */
  static void start(SparkContext sc) {
    SparkConf conf = sc.getConf();
    long graceMs = graceMs(conf);
    if (sc.isLocal() || graceMs <= 0 || !WATCHED.add(sc.applicationId())) {
      return;
    }
    ExecutorWatch watch = new ExecutorWatch(graceMs, warning(conf, graceMs));
    Thread t = new Thread(() -> {
      try {
        while (!sc.isStopped()) {
          // the driver is listed among the executors
          String line = watch.poll(System.nanoTime() / 1_000_000, sc.statusTracker().getExecutorInfos().length - 1,
              sc.statusTracker().getActiveJobIds().length);
          if (line != null) {
            LOG.warn(line);
          }
          if (watch.done) {
            return;
          }
          Thread.sleep(1000);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        LOG.debug("executor watch ended", e);   // a context stopping under us: nothing to watch
      }
    }, "spark-rnn executor watch");
    t.setDaemon(true);
    t.start();
  }

  /**
   * One look at the cluster at {@code nowMs}: the warning when jobs have waited the grace period
   * with no executor (once), else null. An executor ends the watch.
   */
  String poll(long nowMs, int executors, int activeJobs) {
    if (done) {
      return null;
    }
    if (executors > 0) {
      done = true;
      return null;
    }
    if (activeJobs == 0) {
      waitingSince = -1;
      return null;
    }
    if (waitingSince < 0) {
      waitingSince = nowMs;
    }
    if (nowMs - waitingSince < graceMs) {
      return null;
    }
    done = true;
    return warning;
  }

  boolean done() {
    return done;
  }

  /**
   * What an executor asks, from the settings (cores: the cluster manager's default where unset),
   * and how to ask less of what it asks above 1 core and 1g (a review: "asks 1 cores", then advice
   * to ask --executor-cores 1; a grace of 500 ms read "in 0 s").
   */
  static String warning(SparkConf conf, long graceMs) {
    String asked = conf.contains("spark.executor.cores") ? conf.get("spark.executor.cores").trim() : null;
    String cores = asked == null ? "the cluster manager's default cores" : asked + (asked.equals("1") ? " core" : " cores");
    String memory = conf.get("spark.executor.memory", "1g");
    // advice to ask less names only what is asked above 1 core and 1g (a review: 512m was told "--executor-memory 1g")
    java.util.List<String> less = new java.util.ArrayList<>();
    if (!"1".equals(asked)) {
      less.add("--executor-cores 1");
    }
    try {
      if (conf.getSizeAsMb("spark.executor.memory", "1g") > 1024) {
        less.add("--executor-memory 1g");
      }
    } catch (RuntimeException e) {   // a memory Spark cannot read: it says so itself; the advice stays
      less.add("--executor-memory 1g");
    }
    String waited = graceMs % 1000 == 0 ? graceMs / 1000 + " s" : graceMs + " ms";
    return String.format(Locale.ROOT, "no executor has registered in %s while a job waits: the cluster may be busy (a full"
        + " queue), or no worker or node can host one as asked: each executor asks %s (spark.executor.cores) and %s of memory"
        + " (spark.executor.memory) plus overhead, and one that fits nowhere never starts. %s; the cluster manager's UI lists"
        + " what they offer. (%s=0 turns this warning off.)", waited, cores, memory, less.isEmpty() ? "Give the workers more"
        : "Ask less (spark-submit " + String.join(" ", less) + ") or give the workers more", SETTING);
  }
}
