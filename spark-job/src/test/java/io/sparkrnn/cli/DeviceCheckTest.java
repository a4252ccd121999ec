package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.cli.InferenceCommandsTest.Run;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.scheduler.SparkListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bad {@code --device} stops the command before Spark starts: a name that is no device's, and on
 * a local master an OpenCL device this machine lacks. Before, a Spark task failed on it, after the
 * executor had logged 55–88 lines of stack traces. Whether Spark started is told by a listener that
 * {@code spark.extraListeners} adds to every context made while a command runs.
 */
class DeviceCheckTest {
  @TempDir
  static Path tmp;
  static Path sine;
  static Path model;

  /** Counts the Spark contexts started (Spark makes one per context, from spark.extraListeners). */
  public static final class Started extends SparkListener {
    static final AtomicInteger CONTEXTS = new AtomicInteger();

    public Started() {
      CONTEXTS.incrementAndGet();
    }
  }

  @BeforeAll
  static void data() throws IOException {
    sine = tmp.resolve("sine");
    Prep.run(new SineSource(SineSource.Options.defaults(12, 40, 3)), new PrepOptions(sine.toUri(), 8, 0.2, true, false),
        new Configuration());
    model = tmp.resolve("m.safetensors");
    Files.write(model, ModelFile.toBytes(Params.initialize(HostileUseTest.GRU, 11), ModelMetadata.fromManifest(Dataset.open(sine.toUri(), new Configuration()).manifest())));
  }

  /** Runs the command and returns its result with the number of Spark contexts it started. */
  static Run runCounting(int[] contexts, String... args) {
    String before = System.getProperty("spark.extraListeners");
    System.setProperty("spark.extraListeners", Started.class.getName());
    int start = Started.CONTEXTS.get();
    try {
      return run(args);
    } finally {
      contexts[0] = Started.CONTEXTS.get() - start;
      if (before == null) {
        System.clearProperty("spark.extraListeners");
      } else {
        System.setProperty("spark.extraListeners", before);
      }
    }
  }

  @Test
  void theListenerSeesACommandThatStartsSpark() {
    // the test's own check: evaluate over a dataset with a good device does start Spark
    int[] n = {0};
    Run r = runCounting(n, "evaluate", "--model", model.toString(), "--data", sine.toString(), "--device", "jvm",
        "--master", "local[1]");
    assertEquals(0, r.code(), r.err());
    assertEquals(1, n[0], "one context");
  }

  @Test
  void anUnknownDeviceNameStopsEvaluatePredictAndQuickstartBeforeSpark() {
    int[] n = {0};
    assertFails(runCounting(n, "evaluate", "--model", model.toString(), "--data", sine.toString(), "--device", "gpuu",
        "--master", "local[1]"), "--device: unknown device 'gpuu'", "auto, gpu, cpu-opencl, jvm");
    assertEquals(0, n[0], "evaluate started Spark");
    Path out = tmp.resolve("predicted");
    assertFails(runCounting(n, "predict", "--model", model.toString(), "--data", sine.toString(), "--out", out.toString(),
        "--device", "gpuu", "--master", "local[1]"), "unknown device 'gpuu'");
    assertEquals(0, n[0], "predict started Spark");
    assertFalse(Files.exists(out), "predict wrote its output directory");
    Path qs = tmp.resolve("quickstart");
    assertFails(runCounting(n, "quickstart", "--device", "gpuu", "--out", qs.toString(), "--master", "local[1]"),
        "unknown device 'gpuu'");
    assertEquals(0, n[0], "quickstart started Spark");
    assertFalse(Files.exists(qs), "quickstart ran its prep step before checking the device");
  }

  /**
   * --engine reference computes in float64 on the JVM: a device beside it was ignored without a
   * word (grad's default engine is reference, so grad --device gpu ran on the JVM, exit 0). Refused
   * in grad, train and predict before anything is read or started; jvm and auto still go with it.
   */
  @Test
  void aDeviceBesideTheReferenceEngineIsRefusedNotIgnored() {
    String expected = "--device cpu-opencl applies to --engine kernel; --engine reference computes in float64 on the JVM:"
        + " pass --engine kernel to run on cpu-opencl, or leave --device out";
    int[] n = {0};
    Path grad = tmp.resolve("grad.safetensors");
    assertFails(runCounting(n, "grad", "--weights", model.toString(), "--data", sine.resolve("shard-00000.safetensors").toString(),
        "--out", grad.toString(), "--device", "cpu-opencl"), expected);
    assertFalse(Files.exists(grad));
    assertFails(runCounting(n, "train", "--data", sine.toString(), "--out", tmp.resolve("ref-run").toString(), "--cell", "gru",
        "--hidden-size", "4", "--batch", "8", "--steps", "2", "--master", "local[1]", "--engine", "reference", "--device",
        "cpu-opencl"), expected);
    Path out = tmp.resolve("ref-predicted");
    assertFails(runCounting(n, "predict", "--model", model.toString(), "--data", sine.toString(), "--out", out.toString(),
        "--engine", "reference", "--device", "cpu-opencl", "--master", "local[1]"), expected);
    assertEquals(0, n[0], "predict started Spark");
    assertFalse(Files.exists(out) || Files.exists(tmp.resolve("ref-run")));
    for (String device : new String[] {"jvm", "auto"}) {
      Run r = run("grad", "--weights", model.toString(), "--data", sine.resolve("shard-00000.safetensors").toString(), "--out",
          grad.toString(), "--device", device);
      assertEquals(0, r.code(), device + ": " + r.err());
    }
  }

  @Test
  void quickstartRefusesCountsBelowOneBeforeItsPrepStep() {
    // --train-steps 0 trained 36 steps (train's 0: "use the epochs"), and --generate -1 failed only after training
    String[][] cases = {{"--train-steps", "0"}, {"--generate", "-1"}, {"--primer", "0"}, {"--hidden-size", "0"}};
    for (String[] c : cases) {
      int[] n = {0};
      Path qs = tmp.resolve("quickstart-counts");
      assertFails(runCounting(n, "quickstart", c[0], c[1], "--out", qs.toString(), "--master", "local[1]"),
          c[0] + " must be at least 1, found " + c[1]);
      assertEquals(0, n[0], "quickstart started Spark for " + c[0]);
      assertFalse(Files.exists(qs), "quickstart ran its prep step before checking " + c[0]);
    }
  }

  @Test
  void aNamedOpenClDeviceThisMachineLacksStopsTrainAndEvaluateBeforeSpark() {
    // which one is missing depends on the machine: PoCL gives cpu-opencl, a GPU host gpu
    String missing = !Devices.available().contains(DeviceChoice.GPU) ? "gpu"
        : !Devices.available().contains(DeviceChoice.CPU_OPENCL) ? "cpu-opencl" : null;
    if (missing == null) {
      // both present (a GPU host with PoCL): both resolve, and the check lets them through
      assertDoesNotThrow(() -> SparkSetup.requireDevice("kernel", "gpu", "local[1]"));
      assertDoesNotThrow(() -> SparkSetup.requireDevice("kernel", "cpu-opencl", "local[1]"));
      return;
    }
    int[] n = {0};
    Run r = runCounting(n, "train", "--data", sine.toString(), "--out", tmp.resolve("run").toString(), "--cell", "gru",
        "--hidden-size", "4", "--batch", "8", "--steps", "2", "--master", "local[1]", "--device", missing);
    assertFails(r, "--device " + missing + ": no OpenCL");
    assertEquals(0, n[0], "train started Spark");
    assertFalse(r.out().contains("training "), r.out());
    assertFails(runCounting(n, "evaluate", "--model", model.toString(), "--data", sine.toString(), "--device", missing,
        "--master", "local[1]"), "--device " + missing + ": no OpenCL");
    assertEquals(0, n[0], "evaluate started Spark");
    // the reference engine runs on no OpenCL device: naming one beside it is refused, not ignored
    assertThrows(BadInputException.class, () -> SparkSetup.requireDevice("reference", missing, "local[1]"));
    assertDoesNotThrow(() -> SparkSetup.requireDevice("reference", "jvm", "local[1]"));
    // on a cluster the executors may have the device the driver lacks: only the name is checked
    assertDoesNotThrow(() -> SparkSetup.requireDevice("kernel", missing, "spark://127.0.0.1:7077"));
    assertThrows(DeviceUnavailableException.class, () -> SparkSetup.requireDevice("kernel", missing, "local-cluster[2,1,1024]"));
    assertThrows(BadInputException.class, () -> SparkSetup.requireDevice("kernel", "gpuu", "spark://127.0.0.1:7077"));
  }

  /**
   * {@code devices} lists the OpenCL devices (PoCL's CPU here, as SPARKRNN_REQUIRE_OPENCL=1 demands)
   * and what each --device resolves to, but not Aparapi's Java thread pool: spark-rnn never runs a
   * kernel there, and listing it beside --device jvm (the JVM engine) read as if it did (a user audit).
   */
  @Test
  void devicesListsTheOpenClDevicesAndNotAparapisThreadPool() {
    Run r = run("devices");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("Java Thread Pool"), r.out());
    boolean requireOpenCl = "1".equals(System.getenv("SPARKRNN_REQUIRE_OPENCL"));
    long openCl = Devices.list().stream().filter(d -> d.openCL()).count();
    assertTrue(openCl > 0 || !requireOpenCl, "SPARKRNN_REQUIRE_OPENCL=1 but Aparapi finds no OpenCL device: " + Devices.list());
    Devices.list().stream().filter(d -> d.openCL()).forEach(d -> assertTrue(r.out().contains(d.tableRow()), r.out()));
    assertEquals(openCl == 0, r.out().contains("none: no OpenCL driver"), r.out());
    for (DeviceChoice c : DeviceChoice.values()) {
      assertTrue(r.out().contains("--device " + c.id()), r.out());
    }
  }

  /**
   * {@code devices} says what each --device resolves to (its description): jvm is the JVM engine;
   * cpu-opencl the first OpenCL CPU device (PoCL here), or unavailable without one; gpu the first
   * OpenCL GPU, or unavailable, naming why, without one (Devices.resolve's refusal).
   */
  @Test
  void devicesSaysWhatEachNamedDeviceResolvesTo() {
    Run r = run("devices");
    assertEquals(0, r.code(), r.err());
    assertTrue(line(r.out(), "--device jvm ").contains("-> JVM engine"), r.out());
    Optional<DeviceInfo> cpu = Devices.list().stream().filter(d -> d.openCL() && d.type().equals("CPU")).findFirst();
    String cpuLine = line(r.out(), "--device cpu-opencl ");
    assertTrue(cpu.isPresent() ? cpuLine.contains("-> aparapi on " + cpu.get().describe()) : cpuLine.contains("-> unavailable: "), cpuLine);
    String gpuLine = line(r.out(), "--device gpu ");
    assertTrue(Devices.available().contains(DeviceChoice.GPU) ? gpuLine.contains("-> aparapi on OpenCL GPU ")
        : gpuLine.contains("-> unavailable: --device gpu: no OpenCL GPU found"), gpuLine);
  }

  /** The one line of {@code out} that starts with {@code part} (leading spaces aside). */
  private static String line(String out, String part) {
    List<String> lines = out.lines().filter(l -> l.strip().startsWith(part)).toList();
    assertEquals(1, lines.size(), "lines with '" + part + "': " + out);
    return lines.get(0);
  }
}
