package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.driver.Evaluation;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** evaluate names each output's rmse and mae by its table column where the dataset came from a table. */
class EvaluateCommandTest {

  @Test
  void targetColumnsComeFromTheManifestsSource() {
    // as prep table writes them: the targets are the inputs (next step), or columns of their own
    Map<String, Object> nextStep = Map.of("format", "parquet", "inputs", List.of("temp", "load"), "targets", "inputs");
    assertEquals(List.of("temp", "load"), EvaluateCommand.targetColumns(nextStep, 2));
    assertEquals(List.of("y"), EvaluateCommand.targetColumns(Map.of("inputs", List.of("a", "b"), "targets", List.of("y")), 1));
    assertNull(EvaluateCommand.targetColumns(null, 1), "a generator's dataset has no source");
    assertNull(EvaluateCommand.targetColumns(Map.of("format", "npy", "targets", "y.npy"), 1), "a .npy source names files, not columns");
    assertNull(EvaluateCommand.targetColumns(nextStep, 5), "an array column: more outputs than names");
  }

  @Test
  void rmseAndMaeAreNamedWhereEveryOutputHasAName() {
    Evaluation.Metrics m = new Evaluation.Metrics(0.5, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 10, 0, 0, Double.NaN,
        Double.NaN, new double[] {0.25, 0.125}, new double[] {0.5, Double.NaN});
    String named = m.table(List.of("temp", "load"));
    assertTrue(named.contains(String.format("%-22s temp 0.25, load 0.125%n", "rmse")), named);
    assertTrue(named.contains(String.format("%-22s temp 0.5, load -%n", "mae")), named);
    // an array column gives several outputs under one name: the names do not fit, the lists stay
    String unnamed = m.table(List.of("temp"));
    assertTrue(unnamed.contains(String.format("%-22s [0.25, 0.125]%n", "rmse")), unnamed);
    assertEquals(m.table(), m.table(null));
  }
}
