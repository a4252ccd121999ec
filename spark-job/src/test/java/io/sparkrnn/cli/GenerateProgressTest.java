package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.infer.Generation;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * generate's progress on stderr (a user audit: --steps 1000000000 ran ten minutes without a word):
 * generation tells each step done, 1..N, on both paths (fed-back values, sampled class ids), and the
 * line names the step, the rate and the time left, and is not printed for the last step.
 */
class GenerateProgressTest {
  @Test
  void generationTellsEveryStepAndTheLineSaysWhereItIs() {
    for (LossType loss : new LossType[] {LossType.MSE, LossType.CROSS_ENTROPY}) {
      TrainedModel m = TrainedModel.of(Params.initialize(new ModelConfig(CellType.GRU, 1, 3, 4, 3, Mode.SEQ2SEQ, loss), 7), Map.of());
      List<Integer> told = new ArrayList<>();
      Batch primer = Batch.inputsOnly(2, 1, 3, new float[] {1, 0, 0, 0, 1, 0});
      Generation.run(m, new ReferenceEngine(), primer, 5, loss == LossType.MSE ? Sampler.identity() : Sampler.argmax(), told::add);
      assertEquals(List.of(1, 2, 3, 4, 5), told, loss.id());
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    GenerateCommand.Progress p = new GenerateCommand.Progress(1000, 0, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    p.accept(250);
    p.accept(1000);   // done: the command's own line follows, no progress line
    String lines = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(lines.matches("generate: step 250 of 1000, \\d+ steps/s, about \\d+m\\d\\ds left\\n"), lines);
  }

  /**
   * The rate is the one since the last line: 100 steps in the first 10 s (the primer, the JIT's
   * warm-up), then 500 in 5 s, leave 400 steps at 100 steps/s, 4 s (the rate since the start, 40
   * steps/s, said 10 s: a review found the estimate twice the time left).
   */
  @Test
  void theTimeLeftComesFromTheRateSinceTheLastLine() {
    long[] now = {0};
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    GenerateCommand.Progress p = new GenerateCommand.Progress(1000, 5_000_000_000L, new PrintStream(bytes, true, StandardCharsets.UTF_8),
        () -> now[0]);
    now[0] = 4_000_000_000L;
    p.accept(40);   // before the first 5 s: no line
    now[0] = 10_000_000_000L;
    p.accept(100);
    now[0] = 12_000_000_000L;
    p.accept(300);   // 2 s after the last line: none (a line every step after the first would flood stderr)
    now[0] = 15_000_000_000L;
    p.accept(600);
    assertEquals("generate: step 100 of 1000, 10 steps/s, about 1m30s left\n"
        + "generate: step 600 of 1000, 100 steps/s, about 0m04s left\n", bytes.toString(StandardCharsets.UTF_8));
  }
}
