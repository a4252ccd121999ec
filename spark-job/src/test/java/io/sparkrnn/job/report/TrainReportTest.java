package io.sparkrnn.job.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report.md's result table gives the last values of the run the metrics hold, not earlier ones. */
class TrainReportTest {
  @TempDir Path tmp;

  @Test
  void theFinalLossesAreThoseOfTheLastRowsThatHaveThem() throws IOException {
    TrainingMetrics m = new TrainingMetrics();
    // validated at steps 2 and 3, closed-loop at step 2 only; the training loss falls each step
    m.add(1, 0, 0.75, 1, 100, 10, null, null, null);
    m.add(2, 0, 0.5, 1, 100, 10, 0.625, null, 0.875);
    m.add(3, 0, 0.25, 1, 100, 10, 0.375, null, null);
    for (int i = 0; i < 3; i++) {
      m.addTiming(10_000_000L, 5_000_000L, 1_000_000L, 1_000_000L);
    }
    String md = report(m);
    assertTrue(md.contains("| steps | 3 |\n"), md);
    assertTrue(md.contains("| final training loss | 0.25 |\n"), md);
    assertTrue(md.contains("| final validation loss | 0.375 |\n"), "step 3's, not step 2's 0.625: " + md);
    assertTrue(md.contains("| final closed-loop loss | 0.875 |\n"), "step 2's, the only one: " + md);
    assertTrue(md.contains("- JVM engine\n"), md);
    // loss.png: each series in its colour (TrainReport's: training blue, validation orange, closed loop green),
    // more pixels than the legend's 14 x 4 swatch, so a curve or a point is drawn for each
    BufferedImage png = ImageIO.read(tmp.resolve("loss.png").toFile());
    assertTrue(pixels(png, 31, 119, 180) > 14 * 4, "the training curve");
    assertTrue(pixels(png, 255, 127, 14) > 14 * 4, "the validation curve (steps 2 and 3)");
    assertTrue(pixels(png, 44, 160, 44) > 14 * 4, "the closed-loop point (step 2)");

    TrainingMetrics trainOnly = new TrainingMetrics();
    trainOnly.add(1, 0, 0.75, 1, 100, 10, null, null, null);
    trainOnly.add(2, 0, 0.5, 1, 100, 10, null, null, null);
    report(trainOnly);
    png = ImageIO.read(tmp.resolve("loss.png").toFile());
    assertTrue(pixels(png, 31, 119, 180) > 14 * 4, "the training curve");
    assertEquals(0, pixels(png, 255, 127, 14), "no validation: no validation curve nor legend entry");
    assertEquals(0, pixels(png, 44, 160, 44), "no closed loop: no closed-loop curve nor legend entry");
  }

  /** How many pixels of the image have exactly this colour. */
  private static int pixels(BufferedImage img, int r, int g, int b) {
    int rgb = new Color(r, g, b).getRGB();
    int n = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        if (img.getRGB(x, y) == rgb) {
          n++;
        }
      }
    }
    return n;
  }

  /**
   * The step-time rows of report.md on ten hand-made steps, in ms (wall, slowest compute,
   * reduction, update): (100, 90, 4, 2), (50, 40, 4, 2), then eight of (10, 6, 1, 1).
   * Median step time, after the first: the median of 50 and eight 10s = 10. Median overhead
   * (wall − compute) after the first: 10 and eight 4s → 4. The breakdown leaves out the first
   * fifth, max(1, 10 / 5) = 2 steps: the eight (6, 1, 1) steps, control 10 − 6 − 1 − 1 = 2.
   * Closed-loop loss at steps 4 (0.75) and 8 (0.5): the final one is step 8's.
   */
  @Test
  void theStepTimesLeaveOutTheWarmUpAndTheFinalClosedLoopLossIsTheLast() throws IOException {
    TrainingMetrics m = new TrainingMetrics();
    long ms = 1_000_000L;
    for (int step = 1; step <= 10; step++) {
      Double closedLoop = step == 4 ? Double.valueOf(0.75) : step == 8 ? Double.valueOf(0.5) : null;
      m.add(step, 0, 1.0 / step, 1, 100, 10, step % 4 == 0 ? Double.valueOf(0.25) : null, null, closedLoop);
    }
    m.addTiming(100 * ms, 90 * ms, 4 * ms, 2 * ms);
    m.addTiming(50 * ms, 40 * ms, 4 * ms, 2 * ms);
    for (int i = 0; i < 8; i++) {
      m.addTiming(10 * ms, 6 * ms, ms, ms);
    }
    String md = report(m);
    assertTrue(md.contains("| steps | 10 |\n"), md);
    assertTrue(md.contains("| final closed-loop loss | 0.5 |\n"), "step 8's, not step 4's 0.75: " + md);
    assertTrue(md.contains(String.format("| median step time | %.2f ms |%n", 10.0)), md);
    assertTrue(md.contains(String.format("| median Spark overhead per step (step time − slowest partition) | %.2f ms |%n", 4.0)), md);
    assertTrue(md.contains(String.format(" | %.2f, %.2f, %.2f, %.2f ms |%n", 6.0, 1.0, 1.0, 2.0)), md);
  }

  /**
   * Under --on-nan skip the last rows' losses can be NaN (null in metrics.jsonl): the final training
   * loss is the last finite one, with its step, not "null". Steps 1–2 finite (0.75, 0.5), 3 and 4
   * not; then only step 4 not; then none finite.
   */
  @Test
  void theFinalTrainingLossIsTheLastFiniteOneWithItsStep() throws IOException {
    TrainingMetrics m = new TrainingMetrics();
    m.add(1, 0, 0.75, 1, 100, 10, null, null, null);
    m.add(2, 0, 0.5, 1, 100, 10, null, null, null);
    m.add(3, 0, Double.NaN, 1, 100, 10, null, null, null);
    m.add(4, 0, Double.POSITIVE_INFINITY, 1, 100, 10, null, null, null);
    for (int i = 0; i < 4; i++) {
      m.addTiming(10_000_000L, 5_000_000L, 1_000_000L, 1_000_000L);
    }
    String md = report(m);
    assertTrue(md.contains("| final training loss | 0.5 (step 2; steps 3–4 had no finite loss) |\n"), md);
    assertEquals("0.5 (step 2; step 3 had no finite loss)", TrainReport.lastLoss(List.of(new double[] {1, 0.75},
        new double[] {2, 0.5}), 3));
    assertEquals("0.5", TrainReport.lastLoss(List.of(new double[] {2, 0.5}), 2));
    assertEquals("none (no step had a finite loss)", TrainReport.lastLoss(List.of(), 3));
  }

  /**
   * report.md's numbers take a decimal point under any locale (a user audit saw "107,04, 0,06 ms"
   * under de_DE, where a comma also separates the values): the ten steps of the test above, written
   * with the JVM's formatting locale German.
   */
  @Test
  void theReportsNumbersAreTheSameUnderAGermanLocale() throws IOException {
    Locale before = Locale.getDefault(Locale.Category.FORMAT);
    Locale.setDefault(Locale.Category.FORMAT, Locale.GERMANY);
    try {
      TrainingMetrics m = new TrainingMetrics();
      long ms = 1_000_000L;
      for (int step = 1; step <= 10; step++) {
        m.add(step, 0, 0.5, 1, 100, 10, null, null, null);
        m.addTiming(10 * ms + 500_000, 6 * ms, ms, ms);
      }
      String md = report(m);
      assertTrue(md.contains("| median step time | 10.50 ms |"), md);
      assertTrue(md.contains(" | 6.00, 1.00, 1.00, 2.50 ms |"), md);
    } finally {
      Locale.setDefault(Locale.Category.FORMAT, before);
    }
  }

  /** report.md of a GRU H = 4 run with {@code m}'s rows and timings, written into tmp. */
  private String report(TrainingMetrics m) throws IOException {
    Map<String, String> given = new HashMap<>();
    given.put("data", "file:///tmp/none");
    given.put("out", tmp.toUri().toString());
    TrainConfig config = TrainConfig.parse(given, null);
    ModelConfig model = new ModelConfig(CellType.GRU, 1, 1, 4, 1, Mode.SEQ2SEQ, LossType.MSE);
    OutputDir out = new OutputDir(tmp.toUri().toString(), new Configuration());
    TrainReport.write(out, config, model, m, Set.of("JVM engine"), null, 100, 1, null, "local[1]", Map.of(), null);
    return Files.readString(tmp.resolve("report.md"));
  }
}
