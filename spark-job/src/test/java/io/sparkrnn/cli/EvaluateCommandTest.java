package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.job.driver.Evaluation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** evaluate names each output's rmse and mae by its column where the dataset came from a table or a CSV file. */
class EvaluateCommandTest {

  @TempDir
  Path dir;

  @Test
  void targetColumnsComeFromTheManifestsSource() throws IOException {
    // as prep table writes them: the targets are the inputs (next step), or columns of their own
    Map<String, Object> nextStep = Map.of("format", "parquet", "inputs", List.of("temp", "load"), "targets", "inputs");
    assertEquals(List.of("temp", "load"), EvaluateCommand.targetColumns(nextStep, 2));
    assertEquals(List.of("y"), EvaluateCommand.targetColumns(Map.of("inputs", List.of("a", "b"), "targets", List.of("y")), 1));
    assertNull(EvaluateCommand.targetColumns(null, 1), "a generator's dataset has no source");
    assertNull(EvaluateCommand.targetColumns(Map.of("format", "npy", "targets", "y.npy"), 1), "a .npy source names files, not columns");
    assertNull(EvaluateCommand.targetColumns(nextStep, 5), "an array column: more outputs than names");
    // prep csv's source, as CsvSource records it: the header's names (a user audit found none printed)
    Path file = Files.writeString(dir.resolve("xy.csv"), "x,y\n1,12\n2,14\n3,16\n4,18\n");
    Map<String, Object> csv = new CsvSource(new CsvSource.Options(file.toString(), List.of("x"), List.of("y"), 2, 0, -1, false,
        null, 0, ','), new Configuration()).spec().source();
    assertEquals(List.of("y"), EvaluateCommand.targetColumns(csv, 1));
    assertNull(EvaluateCommand.targetColumns(csv, 3), "a class id: 3 outputs (classes) of one column");
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
