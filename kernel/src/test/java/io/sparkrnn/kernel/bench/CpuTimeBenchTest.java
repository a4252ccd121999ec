package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.MathKernels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The CPU-time harness that docs/PERFORMANCE.md's alternated comparisons use runs every mode and prints one rate line each. */
class CpuTimeBenchTest {
  @Test
  void everyModePrintsARateOfCpuTime() {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      CpuTimeBench.main(new String[] {"cell=gru", "H=8", "B=3", "T=4", "mode=train", "seconds=0.2", "warmup=0.1", "quiet=0"});
      CpuTimeBench.main(new String[] {"cell=lstm", "H=8", "B=3", "T=4", "mode=forward", "seconds=0.2", "warmup=0.1", "quiet=0"});
      CpuTimeBench.main(new String[] {"mode=peak", "seconds=0.2", "warmup=0.1", "quiet=0"});
      CpuTimeBench.main(new String[] {"mode=sigmoid", "seconds=0.2", "warmup=0.1", "quiet=0"});
    } finally {
      System.setOut(old);
    }
    String printed = out.toString(StandardCharsets.UTF_8);
    assertTrue(printed.matches("(?s)train gru H=8 B=3 T=4: \\d+ seq/s of one thread's CPU time .*\\n"
        + "forward lstm H=8 B=3 T=4: \\d+ seq/s of one thread's CPU time .*\\n"
        + "peak: \\d+\\.\\d GFLOP/s of one thread's CPU time .*\\n"
        + "sigmoid: \\d+\\.\\d\\d ns of one thread's CPU time per \\d+ lanes .*"), printed);
    // The per-vector figure counts the lanes of the kernels that ran: 1 for the scalar loops, whatever the hardware has.
    MathKernels math = MathKernels.best();
    assertTrue(printed.contains("per " + math.lanes() + " lanes (" + math.describe() + ";"), printed);
    assertEquals(1, MathKernels.scalar().lanes());
    assertThrows(BadInputException.class, () -> CpuTimeBench.main(new String[] {"mode=both"}));
  }

  /**
   * The rate is sequences per second of CPU time: calls × B over the CPU seconds, both printed
   * beside it (the seconds to two decimals, the rate to a whole number, so the check allows for
   * those roundings).
   */
  @Test
  void theRateIsTheBatchTimesTheCallsOverTheCpuSeconds() {
    String line = printed(new String[] {"cell=rnn", "H=4", "B=5", "T=3", "mode=train", "seconds=0.3", "warmup=0.05", "quiet=0"});
    Matcher m = Pattern.compile("train rnn H=4 B=5 T=3: (\\d+) seq/s of one thread's CPU time \\((\\d+) calls, (\\d+\\.\\d\\d) s CPU\\)\\n")
        .matcher(line);
    assertTrue(m.matches(), line);
    double rate = Double.parseDouble(m.group(1));
    long calls = Long.parseLong(m.group(2));
    double cpu = Double.parseDouble(m.group(3));
    assertTrue(calls > 0 && cpu >= 0.02, "a measurable CPU time: " + line);
    double most = calls * 5 / (cpu - 0.005) + 0.5;
    double least = calls * 5 / (cpu + 0.005) - 0.5;
    assertTrue(rate >= least && rate <= most, "B = 5 × " + calls + " calls / " + cpu + " s, within the printed roundings: " + line);
  }

  /**
   * mode=head times y[r] = Σ_k h[r][k]·w[k] over B·T rows of H (O = 1), by the head kernel or, with
   * via=gemm, by gemm: both print the rows and the same y[0], which here is worked in float64 from
   * the inputs the harness draws (SplittableRandom(1): h row by row, then w, each in [−1, 1)).
   * Any other via is bad input.
   */
  @Test
  void headModeTimesTheHeadsProductOverBTimesTRowsByEitherPath() {
    int b = 2;
    int t = 3;
    int h = 5;
    SplittableRandom r = new SplittableRandom(1);
    float[] x = new float[b * t * h];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble(-1, 1);
    }
    double y0 = 0;
    for (int k = 0; k < h; k++) {
      y0 += x[k] * (double) (float) r.nextDouble(-1, 1);
    }
    for (String via : new String[] {"head", "gemm"}) {
      String line = printed(new String[] {"mode=head", "via=" + via, "B=" + b, "T=" + t, "H=" + h, "seconds=0.05", "warmup=0.01",
          "quiet=0"});
      Matcher m = Pattern.compile("head via " + via + ": \\d+\\.\\d\\d µs of one thread's CPU time per call of 6 rows × H=5, O=1 \\(.*; \\d+ calls;"
          + " y\\[0\\] = (\\S+)\\)\\n").matcher(line);
      assertTrue(m.matches(), line);
      assertEquals(y0, Double.parseDouble(m.group(1)), 1e-5, via + ": y[0] = h[0]·w: " + line);
    }
    assertThrows(BadInputException.class, () -> CpuTimeBench.main(new String[] {"mode=head", "via=both", "seconds=0.01", "warmup=0"}));
  }

  private static String printed(String[] args) {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      CpuTimeBench.main(args);
    } finally {
      System.setOut(old);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
