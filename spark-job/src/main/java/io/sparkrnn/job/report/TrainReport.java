package io.sparkrnn.job.report;

import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.job.executor.ShardCache;
import io.sparkrnn.kernel.model.ModelConfig;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The end-of-run report in the output directory: {@code loss.png} (training and validation loss
 * by step) and {@code report.md} (configuration, model, devices that ran each executor's kernels,
 * throughput, Spark overhead per step, final losses, each executor's shard cache counters).
 */
public final class TrainReport {
  /** The report's name in the output directory. */
  public static final String FILE = "report.md";

  private TrainReport() {}

  /**
   * @param deviceChoice {@code --device auto}'s measured rates and choice ({@link io.sparkrnn.kernel.device.AutoDevice}), or null;
   *     one item of the list per line (a resumed run's warnings: its checkpoint's device is missing, or it computes
   *     with another engine or device than its checkpoint's run)
   * @param engineThreads the JVM engine's threads per task in words, or null where no JVM engine ran
   * @param resumedFrom the checkpoint a resumed run went on from ("step N (file)"), or null
   */
  public static void write(OutputDir out, TrainConfig config, ModelConfig model, TrainingMetrics metrics, Set<String> devices,
      String deviceChoice, double sequencesPerSecond, int partitions, String engineThreads, String master,
      Map<String, ShardCache.Stats> shardCache, String resumedFrom) throws IOException {
    List<double[]> train = new ArrayList<>();
    List<double[]> val = new ArrayList<>();
    List<double[]> closed = new ArrayList<>();
    Map<String, Object> last = null;
    for (Map<String, Object> r : metrics.rows()) {
      double step = ((Number) r.get("step")).doubleValue();
      if (r.get("loss") instanceof Number n) {
        train.add(new double[] {step, n.doubleValue()});
      }
      if (r.get("val_loss") instanceof Number n) {
        val.add(new double[] {step, n.doubleValue()});
      }
      if (r.get("closed_loop_loss") instanceof Number n) {
        closed.add(new double[] {step, n.doubleValue()});
      }
      last = r;
    }
    LinePlot plot = new LinePlot("spark-rnn training: " + model.cell().id() + " " + model.numLayers() + "x" + model.hiddenSize()
        + " " + model.loss().id(), "step", true);
    plot.add("training loss", column(train, 0), column(train, 1), new Color(31, 119, 180));
    if (!val.isEmpty()) {
      plot.add("validation loss", column(val, 0), column(val, 1), new Color(255, 127, 14));
    }
    if (!closed.isEmpty()) {
      plot.add("closed-loop loss", column(closed, 0), column(closed, 1), new Color(44, 160, 44));
    }
    out.write("loss.png", plot.toPng(900, 500));

    StringBuilder md = new StringBuilder();
    md.append("# spark-rnn training report\n\n");
    md.append("Written ").append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).append(".\n\n");
    md.append("![loss](loss.png)\n\n");
    md.append("## Result\n\n| what | value |\n|---|---|\n");
    if (last != null) {
      md.append("| steps | ").append(last.get("step")).append(" |\n");
      // the last finite one: under --on-nan skip the last row's loss may be NaN, which the row holds as null
      md.append("| final training loss | ").append(lastLoss(train, ((Number) last.get("step")).longValue())).append(" |\n");
    }
    if (!val.isEmpty()) {
      md.append("| final validation loss | ").append(val.get(val.size() - 1)[1]).append(" |\n");
    }
    if (!closed.isEmpty()) {
      md.append("| final closed-loop loss | ").append(closed.get(closed.size() - 1)[1]).append(" |\n");
    }
    if (resumedFrom != null) {   // the figures below are this run's, from there on
      md.append("| resumed from | ").append(resumedFrom).append(" |\n");
    }
    if (metrics.timedSteps() == 0) {   // every step skipped (--on-nan skip), or none to train: no time to give (NaN)
      md.append("| throughput (this run) | no step applied in this run |\n");
    } else {
      md.append(String.format(Locale.ROOT, "| throughput (this run) | %.1f sequences/s |%n", sequencesPerSecond));
      md.append(String.format(Locale.ROOT, "| median step time | %.2f ms |%n", metrics.medianStepMs()));
      md.append(String.format(Locale.ROOT, "| median Spark overhead per step (step time − slowest partition) | %.2f ms |%n",
          metrics.medianOverheadMs()));
      // the first fifth of the steps (at least one) left out: they load shards and warm up the JIT
      TrainingMetrics.Breakdown parts = metrics.breakdown(Math.max(1, metrics.timedSteps() / 5));
      md.append(String.format(Locale.ROOT, "| mean per step after the first fifth: compute (slowest partition), reduction, update, control | %.2f,"
          + " %.2f, %.2f, %.2f ms |%n", parts.computeMs(), parts.reduceMs(), parts.updateMs(), parts.controlMs()));
    }
    md.append("| master | ").append(master).append(" |\n");
    md.append("| partitions | ").append(partitions).append(" of ").append(config.virtualPartitions()).append(" virtual partitions |\n");
    if (engineThreads != null) {
      md.append("| JVM engine threads | ").append(engineThreads).append(" (the devices below say what each executor ran) |\n");
    }
    if (metrics.segments() > 0) {
      md.append(String.format(Locale.ROOT, "| barrier segments (--sync barrier) | %d, median launch and return %.1f ms |%n", metrics.segments(),
          metrics.medianSegmentLaunchMs()));
    }
    md.append('\n');
    md.append("## Devices\n\n");
    if (deviceChoice != null) {
      for (String line : deviceChoice.split("\n")) {
        md.append("- ").append(line).append('\n');
      }
    }
    for (String d : devices) {
      md.append("- ").append(d).append('\n');
    }
    if (!shardCache.isEmpty()) {
      md.append("\n## Shard cache\n\nPer executor (Spark task location), this run's asks: from memory (hits, and waits for a"
          + " prefetch under way), or read by the task (misses).\n\n| executor | hits | waited for prefetch | misses | prefetched"
          + " | evicted | read through | read | bound | peak |\n|---|---|---|---|---|---|---|---|---|---|\n");
      // sizes as the log line gives them, kB under 1 MB (a user audit: a 10k cache read "bound MB 0.0")
      shardCache.forEach((where, c) -> md.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s |%n",
          where, c.hits(), c.waits(), c.misses(), c.prefetches(), c.evictions(), c.uncached(), MemoryBudget.size(c.bytesRead()),
          MemoryBudget.size(c.capacity()), MemoryBudget.size(c.peakHeld()))));
    }
    md.append("\n## Model\n\n`").append(model).append("`\n\n## Configuration\n\n| key | value |\n|---|---|\n");
    for (Map.Entry<String, String> e : config.toMap().entrySet()) {
      String value = e.getValue();
      if (e.getKey().equals("device") && config.engine().equals("reference")) {   // auto or jvm, and no kernel ran on it
        value += " (not used: --engine reference computes in float64 on the JVM)";
      }
      md.append("| ").append(e.getKey()).append(" | ").append(value).append(" |\n");
    }
    out.write(FILE, md.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static double[] column(List<double[]> rows, int c) {
    double[] v = new double[rows.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = rows.get(i)[c];
    }
    return v;
  }

  /** The last finite training loss, with its step where later steps had none, or "none" (never finite). */
  static String lastLoss(List<double[]> train, long lastStep) {
    if (train.isEmpty()) {
      return "none (no step had a finite loss)";
    }
    double[] l = train.get(train.size() - 1);
    long step = (long) l[0];
    if (step == lastStep) {
      return Double.toString(l[1]);
    }
    return l[1] + " (step " + step + "; " + (step + 1 == lastStep ? "step " + lastStep + " had" : "steps " + (step + 1) + "–" + lastStep
        + " had") + " no finite loss)";
  }
}
