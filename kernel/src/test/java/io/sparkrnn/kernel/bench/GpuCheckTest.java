package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.aparapi.AparapiEngineTest;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prepared GPU run (docs/PERFORMANCE.md, "A GPU run"), tried on the OpenCL CPU device so that
 * it works the day a GPU is lent: the correctness cases pass against the float64 reference, the
 * yardstick file is read, the rows and the table are written. Needs PoCL, as the engine's tests do.
 */
class GpuCheckTest {
  @TempDir Path tmp;

  @Test
  void runsOnTheOpenClCpuAndWritesTheReportWithTheYardstickBeside() throws IOException {
    AparapiEngineTest.requireOpenClCpu("to try the GPU check on");
    Path yardstick = tmp.resolve("cudnn.json");
    Files.writeString(yardstick, "[{\"shape\": \"rnn:1:16:8:5\", \"seq_per_s\": 1000.0, \"source\": \"a test's figure\"}]");
    Path out = tmp.resolve("out");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    int status = GpuCheck.run(new String[] {"device=cpu-opencl", "out=" + out, "shapes=rnn:1:16:8:5,gru:2:8:4:3", "runs=3", "warmup=1",
        "bigCheck=0", "yardstick=" + yardstick}, new PrintStream(printed, true, StandardCharsets.UTF_8));
    String text = printed.toString(StandardCharsets.UTF_8);
    assertEquals(0, status, text);
    assertTrue(text.contains("correctness: all 12 cases"), text);
    Map<?, ?> report = (Map<?, ?>) Json.parse(Files.readString(out.resolve("gpu-check.json")));
    List<?> checks = (List<?>) report.get("checks");
    assertEquals(12, checks.size(), "3 cells × 2 modes × 2 layer counts");
    for (Object c : checks) {
      assertEquals(true, ((Map<?, ?>) c).get("pass"), c.toString());
    }
    List<?> rows = (List<?>) report.get("rows");
    assertEquals(2, rows.size(), rows.toString());
    Map<?, ?> rnn = (Map<?, ?>) rows.get(0);
    assertEquals(true, rnn.get("on_opencl"), rnn.toString());
    double seqPerS = ((Number) rnn.get("seq_per_s")).doubleValue();
    assertEquals(seqPerS / 1000.0, ((Number) rnn.get("ratio_to_cudnn")).doubleValue(), 1e-9, "ratio against the yardstick's row");
    assertTrue(!((Map<?, ?>) rows.get(1)).containsKey("ratio_to_cudnn"), "no yardstick row for gru:2:8:4:3");
    String table = Files.readString(out.resolve("gpu-check.md"));
    assertTrue(table.contains("| rnn | 1 | 16 | 8 | 5 | cpu-opencl |") && table.contains("1,000") && table.contains("yardstick: a test's figure"),
        table);
    assertEquals("a test's figure", report.get("yardstick"));
  }

  @Test
  void aSpentBudgetSkipsTheRemainingShapesAndSaysSo() throws IOException {
    AparapiEngineTest.requireOpenClCpu("to try the GPU check on");
    Path out = tmp.resolve("budget");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    int status = GpuCheck.run(new String[] {"device=cpu-opencl", "out=" + out, "shapes=rnn:1:8:4:3,gru:1:8:4:3", "check=0", "runs=1",
        "warmup=1", "budgetSeconds=0"}, new PrintStream(printed, true, StandardCharsets.UTF_8));
    assertEquals(0, status, printed.toString(StandardCharsets.UTF_8));
    List<?> rows = (List<?>) ((Map<?, ?>) Json.parse(Files.readString(out.resolve("gpu-check.json")))).get("rows");
    assertEquals(2, rows.size());
    for (Object r : rows) {
      assertTrue(String.valueOf(((Map<?, ?>) r).get("error")).startsWith("skipped"), r.toString());
    }
    assertTrue(Files.readString(out.resolve("gpu-check.md")).contains("| skipped |"));
  }

  @Test
  void aBadArgumentOrAMissingDeviceIsStatus2() {
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    assertEquals(2, GpuCheck.run(new String[] {"devise=gpu"}, quiet));
    if (!Devices.available().contains(DeviceChoice.GPU)) {
      assertEquals(2, GpuCheck.run(new String[] {"device=gpu", "out=" + tmp}, quiet));
    }
  }

  /** Fails under SPARKRNN_REQUIRE_OPENCL=1 without PoCL; elsewhere a test without it is aborted, and says so. */
  @Test
  void relativeErrorIsNormWiseOverTheRange() {
    double[] want = {9, 3, 4, 9};
    double[] got = {0, 3, 4.5, 0};
    assertEquals(0.5 / 5, GpuCheck.relativeError(want, got, 1, 2), 1e-12);
    assertEquals(0, GpuCheck.relativeError(new double[2], new double[2], 0, 2), 0, "zero norms compare against the floor");
  }
}
