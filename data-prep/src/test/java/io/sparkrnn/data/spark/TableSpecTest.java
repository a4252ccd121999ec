package io.sparkrnn.data.spark;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.spark.TableSpec.Missing;
import io.sparkrnn.data.spark.TableSpec.SplitMode;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** TableSpec's option rules and defaults, as its record comment documents them; no Spark needed. */
class TableSpecTest {

  /** A long-format spec: key sensor, order t, inputs a and b. */
  private static TableSpec longSpec(List<String> keys, List<String> targets, int classes, int steps, int stride,
      int horizon, int minSteps, SplitMode split, int gap) {
    return new TableSpec(keys, "t", List.of("a", "b"), targets, classes, false, steps, stride, horizon, minSteps, null,
        split, 0.2, gap, false, null, 4, 7, 0, null);
  }

  private static void refused(Executable action, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), () -> "'" + f + "' not in: " + e.getMessage());
    }
  }

  @Test
  void minStepsMayEqualButNotExceedSteps() {
    assertDoesNotThrow(() -> longSpec(List.of("sensor"), List.of(), 0, 5, 0, -1, 5, null, 0));
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 5, 0, -1, 6, null, 0), "--min-steps 6", "--steps 5");
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 0, 0, -1, 0, null, 0), "--steps");
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 5, -1, -1, 0, null, 0), "--stride");
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 5, 0, -2, 0, null, 0), "--horizon");
  }

  @Test
  void aNegativeGapOrPartitionCountIsRefused() {
    // RULES: --gap and --partitions are at least 0 (0 partitions: spark.sql.shuffle.partitions)
    refused(() -> longSpec(List.of(), List.of(), 0, 3, 0, -1, 0, null, -1), "--gap");
    refused(() -> new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null, null, 0.2, 0,
        false, null, 4, 7, -1, null), "--partitions");
    assertDoesNotThrow(() -> new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null, null,
        0.2, 0, false, null, 4, 7, 0, null));
  }

  @Test
  void aGapNeedsTheByTimeSplitGivenOrByDefault() {
    // by time: given, or the default for one unkeyed long series
    assertDoesNotThrow(() -> longSpec(List.of("sensor"), List.of(), 0, 3, 0, -1, 0, SplitMode.BY_TIME, 2));
    assertDoesNotThrow(() -> longSpec(List.of(), List.of(), 0, 3, 0, -1, 0, null, 2));
    // by key: given, or the default with keys
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 3, 0, -1, 0, SplitMode.BY_KEY, 2), "--gap", "by-time");
    refused(() -> longSpec(List.of("sensor"), List.of(), 0, 3, 0, -1, 0, null, 2), "--gap", "by-time");
    refused(() -> longSpec(List.of(), List.of(), 0, 3, 0, -1, 0, SplitMode.BY_KEY, 0), "--split by-key", "--key");
  }

  @Test
  void theSplitDefaultsByKeyWithKeysAndByTimeWithout() {
    assertEquals(SplitMode.BY_KEY, longSpec(List.of("sensor"), List.of(), 0, 3, 0, -1, 0, null, 0).effectiveSplit());
    assertEquals(SplitMode.BY_TIME, longSpec(List.of(), List.of(), 0, 3, 0, -1, 0, null, 0).effectiveSplit());
    assertEquals(SplitMode.BY_TIME,
        longSpec(List.of("sensor"), List.of(), 0, 3, 0, -1, 0, SplitMode.BY_TIME, 0).effectiveSplit());
    assertEquals(SplitMode.BY_TIME, SplitMode.parse(" By-Time "));
    assertEquals(Missing.FFILL, Missing.parse("ffill"));
    refused(() -> SplitMode.parse("random"), "--split");
    assertEquals(Missing.ERROR, longSpec(List.of(), List.of(), 0, 3, 0, -1, 0, null, 0).missing(), "the default");
  }

  @Test
  void classesAreZeroOrAtLeastTwoWithExactlyOneTargetColumn() {
    refused(() -> longSpec(List.of("sensor"), List.of("b"), 1, 3, 0, -1, 0, null, 0), "--classes", "found 1");
    refused(() -> longSpec(List.of("sensor"), List.of(), 2, 3, 0, -1, 0, null, 0), "--classes", "none");
    refused(() -> longSpec(List.of("sensor"), List.of("a", "b"), 2, 3, 0, -1, 0, null, 0), "--classes", "[a, b]");
    assertDoesNotThrow(() -> longSpec(List.of("sensor"), List.of("b"), 2, 3, 0, -1, 0, null, 0));
  }

  @Test
  void theDefaultsResolveAsDocumented() {
    // stride 0 → T; min-steps 0 → T (fixed-length windows only)
    TableSpec s = longSpec(List.of("sensor"), List.of(), 0, 4, 0, -1, 0, null, 0);
    assertEquals(4, s.effectiveStride());
    assertEquals(4, s.effectiveMinSteps());
    assertFalse(s.variableLength());
    TableSpec v = longSpec(List.of("sensor"), List.of(), 0, 4, 2, -1, 3, null, 0);
    assertEquals(2, v.effectiveStride());
    assertTrue(v.variableLength());
    // horizon −1: 1 for next-step targets, 1 when a target is also an input (names ignoring case), else 0
    assertEquals(1, s.effectiveHorizon());
    assertEquals(1, longSpec(List.of("sensor"), List.of("B"), 0, 4, 0, -1, 0, null, 0).effectiveHorizon());
    assertEquals(0, new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("b"), 0, false, 4, 0, -1, 0, null,
        null, 0.2, 0, false, null, 4, 7, 0, null).effectiveHorizon());
    assertEquals(3, longSpec(List.of("sensor"), List.of("a"), 0, 4, 0, 3, 0, null, 0).effectiveHorizon());
    assertEquals(2, s.withHorizon(2).effectiveHorizon());
    // wide format with a per-row target: a label on its row (K = 0)
    TableSpec wide = new TableSpec(List.of(), null, List.of(), List.of("label"), 2, true, 3, 0, -1, 0, "seq", null, 0.2,
        0, false, null, 4, 7, 0, null);
    assertEquals(0, wide.effectiveHorizon());
    assertEquals(SplitMode.BY_KEY, wide.effectiveSplit(), "wide rows are split by key even without --key");
  }

  @Test
  void longAndWideFormatsNeedTheirOwnColumns() {
    refused(() -> new TableSpec(List.of(), " ", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null, null, 0.2, 0,
        false, null, 4, 7, 0, null), "--order");
    refused(() -> new TableSpec(List.of(), "t", List.of(), List.of(), 0, false, 3, 0, -1, 0, null, null, 0.2, 0,
        false, null, 4, 7, 0, null), "--inputs");
    refused(() -> new TableSpec(List.of(), null, List.of("a"), List.of(), 0, false, 3, 0, -1, 0, "seq", null, 0.2, 0,
        false, null, 4, 7, 0, null), "--inputs", "--sequence-column");
    refused(() -> new TableSpec(List.of(), null, List.of(), List.of("y"), 0, false, 3, 0, -1, 0, "seq", null, 0.2, 0,
        false, null, 4, 7, 0, null), "--seq2one");
    refused(() -> new TableSpec(List.of(), null, List.of(), List.of("y", "z"), 0, true, 3, 0, -1, 0, "seq", null, 0.2,
        0, false, null, 4, 7, 0, null), "at most one");
    refused(() -> new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null, null, 1.5, 0,
        false, null, 4, 7, 0, null), "--validation-fraction");
    refused(() -> new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null, null, 0.2, 0,
        false, null, 0, 7, 0, null), "--batch");
  }
}
