package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.jvm.MathKernels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
}
