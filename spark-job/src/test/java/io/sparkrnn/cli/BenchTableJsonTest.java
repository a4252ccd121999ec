package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.bench.AparapiBench;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a reader of bench's output relies on (docs/PERFORMANCE.md, the --json paragraph): every row
 * carries the documented keys, its seq_per_s is B over its median call, its gflops the flop count of
 * its mode over the median (the training step's or the forward pass's), and the printed table shows
 * the same row's median ms, seq/s and GFLOP/s. No assertion on a time itself.
 */
class BenchTableJsonTest {
  @TempDir Path tmp;

  /** docs/PERFORMANCE.md: the keys of every kernel and forward row of the JVM engine. */
  static final List<String> DOCUMENTED = List.of("cell", "hidden_size", "input_size", "output_size", "layers", "batch", "steps", "device",
      "mode", "seq_per_s", "gflops", "median_ms", "gc_pct", "peak_rss_mb", "min_ms", "engine", "runs", "warmup_calls", "working_mb",
      "alloc_kb_per_step");

  @Test
  void jsonRowsCarryTheDocumentedKeysAndTheTableShowsTheSameFigures() throws IOException {
    Path json = tmp.resolve("rows.json");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream old = System.out;
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, Main.run("bench", "--shape", "gru:2:8:3:4", "--layers", "2", "--output", "3", "--forward", "--devices", "jvm",
          "--runs", "3", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0", "--ceiling-seconds", "0", "--json",
          json.toString()));
    } finally {
      System.setOut(old);
    }
    String text = printed.toString(StandardCharsets.UTF_8);
    List<?> rows = (List<?>) Json.parse(Files.readString(json));
    assertEquals(2, rows.size(), "a training and a forward row: " + rows);
    List<String[]> lines = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("gru ")) {
        lines.add(line.trim().split("\\s+"));
      }
    }
    assertEquals(2, lines.size(), text);
    ModelConfig config = new ModelConfig(CellType.GRU, 2, 2, 8, 3, Mode.SEQ2SEQ, LossType.MSE);
    for (int i = 0; i < 2; i++) {
      Map<?, ?> row = (Map<?, ?>) rows.get(i);
      boolean forward = i == 1;
      for (String key : DOCUMENTED) {
        assertTrue(row.containsKey(key), "row lacks '" + key + "': " + row);
      }
      assertEquals(forward ? "forward" : "kernel", row.get("mode"));
      assertEquals(List.of(2, 3, 8, 2, 3, 4), List.of(num(row, "layers").intValue(), num(row, "output_size").intValue(),
          num(row, "hidden_size").intValue(), num(row, "input_size").intValue(), num(row, "batch").intValue(),
          num(row, "steps").intValue()), row.toString());
      assertEquals(1, num(row, "warmup_calls").intValue(), "--warmup 1, --warmup-seconds 0: one untimed call, " + row);
      assertEquals(3, num(row, "runs").intValue(), "--runs 3 --min-seconds 0: three timed calls, " + row);
      double medianS = num(row, "median_ms").doubleValue() / 1e3;
      assertTrue(num(row, "min_ms").doubleValue() <= num(row, "median_ms").doubleValue(), row.toString());
      assertEquals(3 / medianS, num(row, "seq_per_s").doubleValue(), 1e-9 * num(row, "seq_per_s").doubleValue(), "B / median: " + row);
      // the training step's products, or the forward pass's alone (docs: Σ_l 2·T·B·GH·(I_l + H) + 2·R·O·H)
      long flops = forward ? BenchCommand.forwardFlops(config, 3, 4) : AparapiBench.trainingStepFlops(config, 3, 4);
      assertEquals(flops / medianS / 1e9, num(row, "gflops").doubleValue(), 1e-9 * num(row, "gflops").doubleValue(), row.toString());
      String[] cols = lines.get(i);
      assertEquals(List.of("gru", "2", "8", "3", "4", "jvm", forward ? "forward" : "kernel"), List.of(cols).subList(0, 7), String.join(" ", cols));
      assertEquals(String.format(Locale.ROOT, "%.2f", num(row, "median_ms").doubleValue()), cols[7], "ms/step is the median: " + row);
      assertEquals(String.format(Locale.ROOT, "%.1f", num(row, "seq_per_s").doubleValue()), cols[8], "seq/s: " + row);
      assertEquals(String.format(Locale.ROOT, "%.2f", num(row, "gflops").doubleValue()), cols[9], "GFLOP/s: " + row);
    }
    // the forward pass of 2 layers: layer 0 GH·(F + H) = 24·10, layer 1 24·16, head O·H = 24 multiply-adds a (t, b):
    // 240 + 384 + 24 = 648 = 1,296 flops, × T·B = 12: 15,552
    assertEquals(15_552, BenchCommand.forwardFlops(config, 3, 4));
  }

  private static Number num(Map<?, ?> row, String key) {
    return (Number) row.get(key);
  }
}
