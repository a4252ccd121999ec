package io.sparkrnn.job.report;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-step metrics, kept on the driver and written as JSON lines to {@code <out>/metrics.jsonl}
 * (one object per step: step, epoch, loss, grad_norm, seq_per_s, step_ms, and when validated
 * val_loss, val_accuracy, closed_loop_loss; a step whose loss or gradient was not finite has
 * update "skipped" or "stopped"), plus step-time totals for the Spark overhead figure.
 */
public final class TrainingMetrics {
  public static final String FILE = "metrics.jsonl";
  private final List<Map<String, Object>> rows = new ArrayList<>();
  private final List<Long> stepNanos = new ArrayList<>();
  private final List<Long> computeNanos = new ArrayList<>();
  private final List<Long> reduceNanos = new ArrayList<>();
  private final List<Long> updateNanos = new ArrayList<>();
  private final List<Long> segmentLaunchNanos = new ArrayList<>();

  public void add(long step, int epoch, double loss, double gradNorm, double seqPerSec, double stepMs, Double valLoss,
      Double valAccuracy, Double closedLoopLoss) {
    Map<String, Object> row = stepRow(step, epoch, loss, gradNorm);
    row.put("seq_per_s", seqPerSec);
    row.put("step_ms", stepMs);
    if (valLoss != null) {
      row.put("val_loss", valLoss);
    }
    if (valAccuracy != null) {
      row.put("val_accuracy", valAccuracy);
    }
    if (closedLoopLoss != null) {
      row.put("closed_loop_loss", closedLoopLoss);
    }
    rows.add(row);
  }

  /**
   * A step whose loss or gradient was not finite: {@code update} is "skipped" (--on-nan skip) or
   * "stopped" (the run ended there); the loss and norm as computed (null where not finite).
   */
  public void addNonFinite(long step, int epoch, double loss, double gradNorm, String update) {
    Map<String, Object> row = stepRow(step, epoch, loss, gradNorm);
    row.put("seq_per_s", 0.0);   // as before "update" was added: readers may expect every row to have them
    row.put("step_ms", 0.0);
    row.put("update", update);
    rows.add(row);
  }

  /** A row's first fields: step, epoch (1-based), loss and gradient norm (null where not finite). */
  private static Map<String, Object> stepRow(long step, int epoch, double loss, double gradNorm) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("step", step);
    row.put("epoch", (long) epoch + 1);
    row.put("loss", finiteOrNull(loss));
    row.put("grad_norm", finiteOrNull(gradNorm));
    return row;
  }

  private static Object finiteOrNull(double d) {
    return Double.isFinite(d) ? d : null;
  }

  /** Records one step's wall time on the driver, the slowest partition's compute time, and the reduction's and the update's. */
  public void addTiming(long stepNs, long slowestComputeNs, long reduceNs, long updateNs) {
    stepNanos.add(stepNs);
    computeNanos.add(slowestComputeNs);
    reduceNanos.add(reduceNs);
    updateNanos.add(updateNs);
  }

  /**
   * Mean per step over the steps after the first {@code skip}, in ms: the slowest partition's
   * compute, the reduction, the update, and the rest of the step's wall time (control: scheduling,
   * the segment's launch charged to its first step, reading ahead, the loop).
   */
  public record Breakdown(double computeMs, double reduceMs, double updateMs, double controlMs) {}

  /** Steps timed so far in this run. */
  public int timedSteps() {
    return stepNanos.size();
  }

  public Breakdown breakdown(int skip) {
    int from = Math.min(skip, stepNanos.size());
    int n = stepNanos.size() - from;
    if (n == 0) {
      return new Breakdown(Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }
    double compute = 0, reduce = 0, update = 0, wall = 0;
    for (int i = from; i < stepNanos.size(); i++) {
      compute += computeNanos.get(i);
      reduce += reduceNanos.get(i);
      update += updateNanos.get(i);
      wall += stepNanos.get(i);
    }
    return new Breakdown(compute / n / 1e6, reduce / n / 1e6, update / n / 1e6, (wall - compute - reduce - update) / n / 1e6);
  }

  /** Records a --sync barrier segment's launch and return: its wall time minus its steps' own. */
  public void addSegment(long launchNanos) {
    segmentLaunchNanos.add(launchNanos);
  }

  /** Barrier segments run (0 under --sync job). */
  public int segments() {
    return segmentLaunchNanos.size();
  }

  /** Median launch-and-return time of a barrier segment, ms (NaN without segments). */
  public double medianSegmentLaunchMs() {
    return median(segmentLaunchNanos, false) / 1e6;
  }

  /** Mean step time in ms over the steps after the first {@code skip}: what throughput is, launches included. */
  public double meanStepMs(int skip) {
    return stepNanos.subList(Math.min(skip, stepNanos.size()), stepNanos.size()).stream().mapToLong(Long::longValue).average()
        .orElse(Double.NaN) / 1e6;
  }

  /** Mean of (step wall time − slowest partition's compute time) in ms over the steps after the first {@code skip}. */
  public double meanOverheadMs(int skip) {
    double sum = 0;
    int n = 0;
    for (int i = Math.min(skip, stepNanos.size()); i < stepNanos.size(); i++) {
      sum += stepNanos.get(i) - computeNanos.get(i);
      n++;
    }
    return n == 0 ? Double.NaN : sum / n / 1e6;
  }

  public List<Map<String, Object>> rows() {
    return rows;
  }

  /** Median step time in ms, over the steps of this run after the first (which compiles kernels and loads shards). */
  public double medianStepMs() {
    return median(stepNanos) / 1e6;
  }

  /** Median step time in ms over the steps of this run after the first {@code skip} (JIT warm-up). */
  public double medianStepMs(int skip) {
    return median(stepNanos.subList(Math.min(skip, stepNanos.size()), stepNanos.size()), false) / 1e6;
  }

  /** Median of (step wall time − slowest partition's compute time) in ms: what Spark adds per step. */
  public double medianOverheadMs() {
    List<Long> d = new ArrayList<>();
    for (int i = 0; i < stepNanos.size(); i++) {
      d.add(stepNanos.get(i) - computeNanos.get(i));
    }
    return median(d) / 1e6;
  }

  /** The median of timed runs (the mean of the middle two for an even count, 0 for none); {@code v} is not changed. */
  public static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int k = s.length;
    return k == 0 ? 0 : k % 2 == 1 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
  }

  private static double median(List<Long> values) {
    return median(values, true);
  }

  private static double median(List<Long> values, boolean dropFirst) {
    if (values.size() <= 1 && dropFirst) {
      return values.isEmpty() ? Double.NaN : values.get(0);
    }
    if (values.isEmpty()) {
      return Double.NaN;
    }
    long[] v = values.subList(dropFirst ? 1 : 0, values.size()).stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2.0;
  }

  public void write(OutputDir out) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (Map<String, Object> r : rows) {
      sb.append(Json.write(r)).append('\n');
    }
    out.write(FILE, sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  /**
   * On resume: the rows an earlier run wrote up to the checkpoint's step, so the curves continue
   * (rows after it, written before a crash, are replaced by the steps the resumed run retrains).
   */
  public void load(OutputDir out, long upToStep) throws IOException {
    if (!out.exists(FILE)) {
      return;
    }
    for (String line : new String(out.read(FILE), StandardCharsets.UTF_8).split("\n")) {
      if (!line.isBlank()) {
        Map<String, Object> row = Json.parseObject(line);
        if (row.get("step") instanceof Number n && n.longValue() <= upToStep) {
          rows.add(row);
        }
      }
    }
  }

}
