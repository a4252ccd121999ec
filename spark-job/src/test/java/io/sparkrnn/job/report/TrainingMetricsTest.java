package io.sparkrnn.job.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.kernel.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** metrics.jsonl's rows and the step-time figures of report.md, on hand-made steps. */
class TrainingMetricsTest {
  /** The figures are sums and means of a few whole milliseconds: exact in float64 up to rounding of /1e6. */
  static final double MS_TOL = 1e-9;
  static final long MS = 1_000_000L;
  @TempDir Path tmp;

  @Test
  void rowsCountEpochsFromOneAndWriteNonFiniteValuesAsNull() throws IOException {
    TrainingMetrics m = new TrainingMetrics();
    m.add(1, 0, 0.5, 2.0, 100, 10, null, null, null);          // the schedule's epoch 0 is the first
    m.add(2, 1, 0.25, 1.5, 120, 12.5, 0.375, 0.5, 0.625);
    m.addNonFinite(3, 1, Double.NaN, Double.POSITIVE_INFINITY, "skipped");
    OutputDir out = new OutputDir(tmp.toUri().toString(), new Configuration());
    m.write(out);
    List<String> lines = Files.readAllLines(tmp.resolve(TrainingMetrics.FILE));
    assertEquals(3, lines.size(), String.join("\n", lines));
    Map<String, Object> first = Json.parseObject(lines.get(0));
    assertEquals(1L, ((Number) first.get("step")).longValue());
    assertEquals(1L, ((Number) first.get("epoch")).longValue(), "epoch is 1-based: " + lines.get(0));
    assertTrue(!first.containsKey("val_loss"), "no validation at step 1: " + lines.get(0));
    Map<String, Object> second = Json.parseObject(lines.get(1));
    assertEquals(2L, ((Number) second.get("epoch")).longValue(), lines.get(1));
    assertEquals(0.375, ((Number) second.get("val_loss")).doubleValue());
    // each field holds the value given for it (the class comment's names), no two swapped
    assertEquals(0.25, ((Number) second.get("loss")).doubleValue(), lines.get(1));
    assertEquals(1.5, ((Number) second.get("grad_norm")).doubleValue(), lines.get(1));
    assertEquals(120.0, ((Number) second.get("seq_per_s")).doubleValue(), lines.get(1));
    assertEquals(12.5, ((Number) second.get("step_ms")).doubleValue(), lines.get(1));
    assertEquals(0.5, ((Number) second.get("val_accuracy")).doubleValue(), lines.get(1));
    assertEquals(0.625, ((Number) second.get("closed_loop_loss")).doubleValue(), lines.get(1));
    assertTrue(!second.containsKey("update"), "an applied step has no update field: " + lines.get(1));
    Map<String, Object> third = Json.parseObject(lines.get(2));
    assertTrue(third.containsKey("loss") && third.get("loss") == null, "a NaN loss is null: " + lines.get(2));
    assertNull(third.get("grad_norm"), lines.get(2));
    assertEquals("skipped", third.get("update"));
  }

  @Test
  void aResumedRunKeepsTheEarlierRowsUpToItsCheckpointStep() throws IOException {
    TrainingMetrics before = new TrainingMetrics();
    for (int step = 1; step <= 4; step++) {
      before.add(step, 0, 1.0 / step, 1, 100, 10, null, null, null);
    }
    OutputDir out = new OutputDir(tmp.toUri().toString(), new Configuration());
    before.write(out);
    TrainingMetrics resumed = new TrainingMetrics();
    resumed.load(out, 2); // the checkpoint holds step 2: steps 3 and 4, written before a crash, are retrained
    assertEquals(List.of(1L, 2L), resumed.rows().stream().map(r -> ((Number) r.get("step")).longValue()).toList());
  }

  /**
   * Barrier segments' launch-and-return times 5, 1, 3 ms: all of them count (no warm-up is left
   * out, unlike the step times), so the median is 3; none: NaN, as documented.
   */
  @Test
  void theSegmentMedianCountsEverySegment() {
    TrainingMetrics m = new TrainingMetrics();
    assertEquals(0, m.segments());
    assertTrue(Double.isNaN(m.medianSegmentLaunchMs()), "no segments");
    m.addSegment(5 * MS);
    m.addSegment(1 * MS);
    m.addSegment(3 * MS);
    assertEquals(3, m.segments());
    assertEquals(3, m.medianSegmentLaunchMs(), MS_TOL, "sorted 1 3 5");
  }

  @Test
  void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
    double[] v = {4, 1, 3, 2};
    assertEquals(2.5, TrainingMetrics.median(v), 0, "sorted 1 2 3 4: (2 + 3) / 2");
    assertArrayEquals(new double[] {4, 1, 3, 2}, v, "the input is not changed");
    assertEquals(3, TrainingMetrics.median(new double[] {5, 1, 3}), 0);
    assertEquals(0, TrainingMetrics.median(new double[0]), 0, "none: 0, as documented");
  }

  /**
   * Four steps (wall, slowest compute, reduction, update) in ms: (1000, 900, 50, 40), the warm-up,
   * then (10, 6, 1, 2), (20, 12, 3, 2), (14, 8, 1, 1). Over the three after the first:
   * compute (6 + 12 + 8) / 3 = 26/3, reduction 5/3, update 5/3, control
   * ((10−6−1−2) + (20−12−3−2) + (14−8−1−1)) / 3 = (1 + 3 + 4) / 3 = 8/3; step times 10, 20, 14:
   * median 14, mean 44/3; overheads (wall − compute) 4, 8, 6: median 6, mean 6.
   */
  @Test
  void stepFiguresLeaveOutTheWarmUpAndSplitTheStepIntoItsParts() {
    TrainingMetrics m = new TrainingMetrics();
    m.addTiming(1000 * MS, 900 * MS, 50 * MS, 40 * MS);
    m.addTiming(10 * MS, 6 * MS, 1 * MS, 2 * MS);
    m.addTiming(20 * MS, 12 * MS, 3 * MS, 2 * MS);
    m.addTiming(14 * MS, 8 * MS, 1 * MS, 1 * MS);
    assertEquals(4, m.timedSteps());
    TrainingMetrics.Breakdown b = m.breakdown(1);
    assertEquals(26.0 / 3, b.computeMs(), MS_TOL, "compute");
    assertEquals(5.0 / 3, b.reduceMs(), MS_TOL, "reduction");
    assertEquals(5.0 / 3, b.updateMs(), MS_TOL, "update");
    assertEquals(8.0 / 3, b.controlMs(), MS_TOL, "control: the step's wall time less the other three");
    assertEquals(14, m.medianStepMs(), MS_TOL, "median step after the first");
    assertEquals(14, m.medianStepMs(1), MS_TOL);
    assertEquals(44.0 / 3, m.meanStepMs(1), MS_TOL);
    assertEquals(6, m.medianOverheadMs(), MS_TOL, "median of 4, 8, 6");
    assertEquals(6, m.meanOverheadMs(1), MS_TOL);
  }
}
