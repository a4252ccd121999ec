package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.engine.GroupedResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The JVM engine's memory against what docs/PERFORMANCE.md states: the working-memory formula
 * ("Working memory per executor") against the buffers the engine actually holds, and "nothing is
 * allocated per time step" against the JVM's per-thread allocation counters.
 */
class JvmEngineMemoryTest {

  /**
   * The formula of docs/PERFORMANCE.md, per slice of Bs sequences (the doc sums it over the
   * slices: Σ Bs = B), in float32 values:
   * <pre>
   *   per layer:  (T+1)·Bs·H (h) + T·Bs·GH (gate activations)
   *               + LSTM (T+1)·Bs·H (c) + T·Bs·H (tanh c);   GRU T·Bs·H (W_hn h + b_hn)
   *   once:       2·T·Bs·H (dh from above / to below) + T·Bs·F (x) + 2·R·O (outputs, d outputs)
   *               + Cs·GH (dgates of one chunk; GRU 2·Cs·GH) + Cs (ones) + 4·Bs·H + Bs (lengths) + (GRU) Bs·GH
   *               + |θ| (the slice's float32 gradient)
   *               + the packing scratch of the weight-gradient products: 8·⌊GH/8⌋·256 + 256·2V with the Vector API
   *                 kernels on 512-bit vectors and GH ≥ 64, GH·256 + 256·2V on narrower ones with GH ≥ 64, else 0
   *               + the packed rows of the recurrent products: 8·⌊Bs/8⌋·256 with the Vector API
   *                 kernels on 512-bit vectors, else 0
   *   Cs = min(T, max(1, ⌊256 / Bs⌋))·Bs, R = T·Bs (seq2seq) or Bs (seq2one)
   * </pre>
   * plus, once per engine, the transposed weights and summed biases: Σ_l (I_l·GH + H·GH + GH) + H·O,
   * and with the Vector API (any width) W_hhᵀ and W_hh packed in strips of 2V columns,
   * Σ_l (H·2V·⌊GH/2V⌋ + GH·2V·⌊H/2V⌋).
   */
  static long documentedValues(ModelConfig c, int B, int T, int slices, boolean vectorKernels) {
    int H = c.hiddenSize();
    int GH = c.gates() * H;
    int F = c.inputSize();
    int O = c.outputSize();
    int L = c.numLayers();
    boolean lstm = c.cell() == CellType.LSTM;
    boolean gru = c.cell() == CellType.GRU;
    long theta = Params.initialize(c, 1).layout().size();
    long total = 0;
    for (int p = 0; p < slices; p++) {
      long Bs = (long) B * (p + 1) / slices - (long) B * p / slices;
      long perLayer = (T + 1) * Bs * H + T * Bs * GH + (lstm ? (T + 1) * Bs * H + T * Bs * H : 0) + (gru ? T * Bs * H : 0);
      long R = c.mode() == Mode.SEQ2SEQ ? T * Bs : Bs;
      long Cs = Math.min(T, Math.max(1, 256 / Bs)) * Bs;
      boolean packs = vectorKernels && GH >= 64;
      long packedA = wide(vectorKernels) ? GH / 8 * 8 : GH; // A's rows in the weight-gradient products' scratch
      total += L * perLayer + 2L * T * Bs * H + T * Bs * F + 2 * R * O + (gru ? 2 : 1) * Cs * GH + Cs + 4 * Bs * H + Bs
          + (gru ? Bs * GH : 0) + theta + (packs ? packedA * 256 + 256 * 2 * FloatVector.SPECIES_PREFERRED.length() : 0) + packedRows(Bs, vectorKernels);
    }
    return total + weightValues(c, vectorKernels);
  }

  /** Whether the kernels pack A's rows and the weight-gradient products' operands (the Vector API on 512-bit vectors: 8 × 2V tiles). */
  static boolean wide(boolean vectorKernels) {
    return vectorKernels && FloatVector.SPECIES_PREFERRED.length() >= 16;
  }

  /** A slice's packed rows of the recurrent products: 8·⌊Bs/8⌋·256 where the kernels pack, else 0. */
  static long packedRows(long Bs, boolean vectorKernels) {
    return wide(vectorKernels) ? Bs / 8 * 8 * 256 : 0;
  }

  /**
   * Once per engine: the transposed weights and summed biases, Σ_l (I_l·GH + H·GH + GH) + H·O,
   * and with the Vector API kernels (any width), W_hhᵀ and W_hh in strips of 2V columns, Σ_l (H·2V·⌊GH/2V⌋ + GH·2V·⌊H/2V⌋),
   * and W_ihᵀ likewise for the layers whose input is at least 16 wide, Σ_{l: I_l ≥ 16} I_l·2V·⌊GH/2V⌋.
   */
  static long weightValues(ModelConfig c, boolean vectorKernels) {
    int H = c.hiddenSize();
    int GH = c.gates() * H;
    long weights = (long) H * c.outputSize();
    for (int l = 0; l < c.numLayers(); l++) {
      int strip = 2 * FloatVector.SPECIES_PREFERRED.length();
      weights += (long) c.layerInputSize(l) * GH + (long) H * GH + GH
          + (vectorKernels ? (long) H * (GH / strip * strip) + (long) GH * (H / strip * strip)
              + (c.layerInputSize(l) >= 16 ? (long) c.layerInputSize(l) * (GH / strip * strip) : 0) : 0);
    }
    return weights;
  }

  @ParameterizedTest(name = "{0} L={1} {2} F={3} H={4} O={5} B={6} T={7}, {8} slices, {9} kernels")
  @CsvSource({
      "rnn,  1, seq2seq, 3, 8, 2, 7, 5, 1, scalar",
      "rnn,  2, seq2one, 3, 8, 2, 7, 5, 3, scalar",
      "lstm, 1, seq2seq, 1, 16, 1, 64, 12, 2, scalar",
      "lstm, 2, seq2one, 5, 8, 3, 9, 4, 2, scalar",
      "gru,  1, seq2seq, 4, 8, 2, 100, 6, 2, scalar", // Bs = 50: chunks of 5 steps, shorter than T
      "gru,  2, seq2one, 2, 12, 3, 11, 7, 3, scalar",
      "lstm, 2, seq2seq, 3, 24, 2, 10, 6, 2, vector", // GH = 96: the packing scratch on AVX-512
      "gru,  1, seq2seq, 2, 32, 1, 16, 4, 1, vector", // H = 32, a slice of 16: packed W_hhᵀ and W_hh, packed rows
      "lstm, 2, seq2seq, 20, 16, 1, 9, 3, 1, vector", // inputs 20 and 16 wide: W_ihᵀ packed in both layers
      "rnn,  1, seq2seq, 3, 8, 2, 7, 5, 2, vector", // GH = 8: none
      "gru,  1, seq2seq, 2, 23, 1, 9, 4, 2, vector", // GH = 69, not a multiple of 4 or 8: the scratch's rows at each width
      "rnn,  1, seq2seq, 3, 66, 2, 7, 5, 2, vector"}) // GH = 66
  void heldBuffersMatchTheDocumentedFormula(String cell, int layers, String mode, int F, int H, int O, int B, int T, int slices,
      String kernels) {
    ModelConfig config = new ModelConfig(CellType.parse(cell), layers, F, H, O, Mode.parse(mode), LossType.MSE);
    boolean vector = kernels.equals("vector");
    assertTrue(!vector || MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    try (JvmEngine engine = new JvmEngine(vector ? MathKernels.best() : MathKernels.scalar(), slices)) {
      assertEquals(0, engine.workingBytes(), "nothing is held before the first call");
      engine.lossAndGradient(Params.initialize(config, 3), Batch.random(config, T, B, 4), null);
      assertEquals(4 * documentedValues(config, B, T, slices, vector), engine.workingBytes(),
          "bytes held after one call against docs/PERFORMANCE.md's formula");
    }
  }

  /**
   * A forward pass alone (predict, evaluate, generate, transform) on a fresh engine holds, per
   * slice, one step of gate activations (and of tanh c, W_hn h + b_hn) instead of T, and none of
   * the backward pass's buffers (docs/PERFORMANCE.md, "Working memory"):
   * <pre>
   *   per layer:  (T+1)·Bs·H (h) + Bs·GH (gate activations of one step)
   *               + LSTM (T+1)·Bs·H (c) + Bs·H (tanh c);   GRU Bs·H (W_hn h + b_hn)
   *   once:       T·Bs·F (x) + R·O (outputs) + Bs·H (seq2one head rows) + Bs (lengths) + (GRU) Bs·GH
   *               + the packed rows of the recurrent products, as for training
   * </pre>
   * plus the transposed (and packed) weights and summed biases, as for training, and |θ|: the
   * values they were made from, kept to reuse them while the next calls' values are the same (a
   * training call drops it). These engines run the Vector API kernels ({@code MathKernels.best()}).
   */
  static long documentedForwardValues(ModelConfig c, int B, int T, int slices) {
    int H = c.hiddenSize();
    int GH = c.gates() * H;
    boolean lstm = c.cell() == CellType.LSTM;
    boolean gru = c.cell() == CellType.GRU;
    long total = 0;
    for (int p = 0; p < slices; p++) {
      long Bs = (long) B * (p + 1) / slices - (long) B * p / slices;
      long perLayer = (T + 1) * Bs * H + Bs * GH + (lstm ? 2 * Bs * H + Bs * H : 0) + (gru ? Bs * H : 0); // c: two steps in turn
      long R = c.mode() == Mode.SEQ2SEQ ? T * Bs : Bs;
      total += c.numLayers() * perLayer + T * Bs * c.inputSize() + R * c.outputSize() + Bs * H + Bs + (gru ? Bs * GH : 0)
          + packedRows(Bs, true);
    }
    return total + weightValues(c, true) + Params.initialize(c, 1).layout().size();
  }

  @ParameterizedTest(name = "{0} L={1} {2} F={3} H={4} O={5} B={6} T={7}, {8} slices")
  @CsvSource({
      "rnn,  2, seq2one, 3, 8, 2, 7, 5, 3",
      "lstm, 2, seq2seq, 3, 24, 2, 10, 6, 2",
      "gru,  1, seq2seq, 4, 8, 2, 100, 6, 2"})
  void aForwardPassAloneHoldsOneStepOfGatesAndNoBackwardBuffers(String cell, int layers, String mode, int F, int H, int O, int B,
      int T, int slices) {
    ModelConfig config = new ModelConfig(CellType.parse(cell), layers, F, H, O, Mode.parse(mode), LossType.MSE);
    Params params = Params.initialize(config, 3);
    Batch batch = Batch.random(config, T, B, 4);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), slices)) {
      engine.forward(params, batch, null);
      assertEquals(4 * documentedForwardValues(config, B, T, slices), engine.workingBytes(), "bytes held after a forward pass alone");
      engine.lossAndGradient(params, batch, null);
      assertEquals(4 * documentedValues(config, B, T, slices, true), engine.workingBytes(), "a training call then grows them as documented");
      engine.forward(params, batch, null);
      assertEquals(4 * (documentedValues(config, B, T, slices, true) + params.layout().size()), engine.workingBytes(),
          "a forward call after it keeps |θ| more: the values its weights were made from");
    }
  }

  /**
   * Training's grouped calls hand each slice's gradient to the caller; the arrays given back
   * ({@code GroupedResult.release}) wait for the next call: P·|θ| more, at most, however many are
   * given back (docs/PERFORMANCE.md, "Working memory").
   */
  @Test
  void releasedGradientsAreHeldForTheNextCallAndCounted() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 3, 24, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 3);
    Batch batch = Batch.random(config, 10, 6, 4);
    int size = params.layout().size();
    int[] groups = {0, 2, 4, 6};
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
      engine.lossAndGradients(params, batch, null, groups);
      long held = engine.workingBytes();
      engine.lossAndGradients(params, batch, null, groups).release();
      assertEquals(held + 4L * 3 * size, engine.workingBytes(), "three groups' arrays given back");
      engine.lossAndGradients(params, batch, null, groups);
      assertEquals(held, engine.workingBytes(), "taken again by the next call's three slices");
      GroupedResult kept = engine.lossAndGradients(params, batch, null, groups);
      engine.lossAndGradients(params, batch, null, groups).release();
      kept.release(); // a result released late, when the spares are already one per slice, is dropped
      assertEquals(held + 4L * 3 * size, engine.workingBytes(), "no more than one spare per slice");
    }
  }

  /**
   * At most one spare per slice of the last grouped call: after three groups' arrays were given
   * back, a call of one group keeps one (and its slice takes it), so the engine then holds what an
   * engine that was given nothing back holds.
   */
  @Test
  void fewerGroupsThanBeforeKeepFewerSpares() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 3, 24, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 3);
    Batch batch = Batch.random(config, 10, 6, 4);
    int[] three = {0, 2, 4, 6};
    int[] one = {0, 6};
    try (JvmEngine released = new JvmEngine(MathKernels.best(), 2); JvmEngine kept = new JvmEngine(MathKernels.best(), 2)) {
      released.lossAndGradients(params, batch, null, three).release();
      kept.lossAndGradients(params, batch, null, three);
      released.lossAndGradients(params, batch, null, one);
      kept.lossAndGradients(params, batch, null, one);
      assertEquals(kept.workingBytes(), released.workingBytes(), "no spare left over beyond the one group's");
    }
  }

  /**
   * The engine's count ({@code Slice.bufferValues}) covers every array a slice holds, found by
   * reflection, so that a buffer added later cannot be left out of {@code workingBytes} and of the
   * formula unnoticed.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"rnn", "lstm", "gru"})
  void theCountCoversEveryArrayOfASlice(String cell) throws ReflectiveOperationException {
    ModelConfig config = new ModelConfig(CellType.parse(cell), 2, 3, 24, 2, Mode.SEQ2SEQ, LossType.MSE);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
      engine.lossAndGradient(Params.initialize(config, 3), Batch.random(config, 9, 6, 4), null);
      Field slicesField = JvmEngine.class.getDeclaredField("slices");
      slicesField.setAccessible(true);
      List<?> slices = (List<?>) slicesField.get(engine);
      assertEquals(2, slices.size());
      for (Object slice : slices) {
        long found = 0;
        for (Field f : JvmEngine.Slice.class.getDeclaredFields()) {
          f.setAccessible(true);
          Object v = f.get(slice);
          if (v instanceof float[] a) {
            found += a.length;
          } else if (v instanceof int[] a) {
            found += a.length;
          } else if (v instanceof float[][] aa) {
            for (float[] a : aa) {
              found += a.length;
            }
          } else {
            assertTrue(v == null || !v.getClass().isArray(), "an array field the check does not know: " + f);
          }
        }
        assertEquals(found, ((JvmEngine.Slice) slice).bufferValues(), "values in the arrays of a slice against its count");
      }
    }
  }

  /**
   * A call at T = 40 may allocate no more than a call at T = 10 on the same engine (its buffers
   * already sized for T = 40): what a call returns (the float64 gradient, the final state) does not
   * depend on T, so any difference would be allocation inside the time loop. Scalar kernels, so
   * that the Vector API's boxes in interpreted code (removed once C2 compiles it; the bench reports
   * the compiled figure) do not hide the engine's own allocations. Allocation counted on every
   * thread (the engine's pool threads included); the least of 5 calls, against other threads'
   * incidental allocation.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"rnn", "lstm", "gru"})
  void aCallAllocatesNothingPerTimeStep(String cell) {
    ModelConfig config = new ModelConfig(CellType.parse(cell), 2, 3, 16, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 5);
    Batch longBatch = Batch.random(config, 40, 12, 6);
    Batch shortBatch = Batch.random(config, 10, 12, 7);
    try (JvmEngine engine = new JvmEngine(MathKernels.scalar(), 2)) {
      for (int i = 0; i < 3; i++) {
        engine.lossAndGradient(params, longBatch, null);
        engine.lossAndGradient(params, shortBatch, null);
      }
      long atT40 = leastAllocation(() -> engine.lossAndGradient(params, longBatch, null));
      long atT10 = leastAllocation(() -> engine.lossAndGradient(params, shortBatch, null));
      long gradientBytes = 8L * params.layout().size();
      assertTrue(atT40 <= atT10 + 64, "a call at T = 40 allocated " + atT40 + " bytes, at T = 10 " + atT10
          + ": allocation grows with T");
      assertTrue(atT40 < gradientBytes + 16_384, "a call allocated " + atT40 + " bytes; its returned float64 gradient is "
          + gradientBytes);
    }
  }

  /**
   * The same with the Vector API kernels, once the JIT has compiled the step. Interpreted, every
   * vector operation allocates; compiled by C2 with its intrinsics, none should. A step that C2
   * compiles only in part (inlining stopped by its node budget, as happened when σ and tanh were
   * called row by row from the step loop: 2.6 MB per LSTM step) keeps allocating boxed vectors in
   * every time step. The bench's shape (L = 1, F = O = 1, H = 64, B = 64): with the row-by-row code
   * the LSTM and GRU cases failed here (2.1 MB at T = 40 against 0.66 MB at T = 10), while a 2-layer
   * H = 32 B = 12 model happened to compile cleanly.
   *
   * <p>Code that C2 cannot compile without boxing boxes in every JVM; but in a rare JVM C2 also
   * boxes code that it compiles cleanly elsewhere, by its own decisions of the moment (a long
   * compile queue, a call site without a profile: docs/PERFORMANCE.md, "Boxed vectors in the RNN
   * step"), which CI met on 2026-12-07 (2.9 MB at T = 40 against 0.77 MB at T = 10, in the test JVM
   * after 90 s of other kernel tests) and which no test can rule out in one JVM. So a JVM whose step
   * still allocates after {@link #WARM_UP_NANOS} runs the same check in fresh JVMs (this one's flags,
   * sparkrnn.* properties and class path), and the test fails only where none of {@link #FRESH_JVMS} compiles the step
   * cleanly: the kernels' code, not one JVM's luck. The engine's own watch ({@link BoxedVectors})
   * is what reports such a JVM in a real run; bin/jit-check counts them.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"rnn", "lstm", "gru"})
  void aCompiledVectorStepAllocatesNothingPerTimeStep(String cell) throws Exception {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    CompiledStep here = CompiledStep.measure(cell);
    if (here.clean()) {
      return;
    }
    List<String> fresh = new ArrayList<>();
    for (int jvm = 0; jvm < FRESH_JVMS; jvm++) {
      String line = inFreshJvm(cell, jvm);
      fresh.add(line);
      if (line.startsWith(CompiledStep.CLEAN)) {
        // not a failure of the code; said on the test's output, where a run that keeps seeing it would look
        System.err.println("JvmEngineMemoryTest[" + cell + "]: this JVM's C2 left the step's vectors boxed (" + here
            + "; the engine says: " + here.engine + "), a fresh JVM compiled it cleanly (" + line + ")");
        return;
      }
    }
    fail("the compiled " + cell + " step allocates per time step in this JVM (" + here + ") and in " + FRESH_JVMS
        + " fresh JVMs (" + String.join("; ", fresh) + "): bin/jit-check names the calls C2 left out of line");
  }

  /** How long a JVM calls the step before its allocation is judged: the JIT compiles within seconds, even on a busy host. */
  static final long WARM_UP_NANOS = 30_000_000_000L;
  /** Fresh JVMs asked before the step's allocation is taken as the code's. */
  static final int FRESH_JVMS = 2;

  /**
   * Runs {@link CompiledStep#main} in fresh JVM number {@code jvm} with this one's flags, class path
   * and sparkrnn.* properties; returns its verdict line ("clean: …" or "boxed: …"). A compilation
   * log of this JVM's (bin/jit-check's {@code -XX:LogFile=F}) becomes {@code F.fresh-N} there.
   */
  private static String inFreshJvm(String cell, int jvm) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) { // --add-modules, a narrow run's -XX:MaxVectorSize
      command.add(flag.startsWith("-XX:LogFile=") ? flag + ".fresh-" + (jvm + 1) : flag);
    }
    // the engine's settings that surefire sets as properties, not flags (-Dsparkrnn.jvm.inlineDirective, ….kernels)
    System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("sparkrnn.")).sorted()
        .forEach(k -> command.add("-D" + k + "=" + System.getProperty(k)));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), CompiledStep.class.getName(), cell));
    Path out = Files.createTempFile("compiled-step-", ".txt");
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(WARM_UP_NANOS / 1_000_000_000L + 60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "did not finish: " + Files.readString(out).strip();
      }
      List<String> lines = Files.readAllLines(out);
      // its verdict, wherever the JVM's own logging (-Xlog, -XX:+PrintCompilation in the flags) put lines after it
      String verdict = lines.stream().filter(l -> l.startsWith(CompiledStep.CLEAN + ": ") || l.startsWith(CompiledStep.BOXED + ": "))
          .reduce((first, second) -> second).orElse(null);
      return p.exitValue() == 0 && verdict != null ? verdict : "exit " + p.exitValue() + ": " + String.join(" | ", lines);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** What one JVM's calls of the compiled vector step allocated, at T = 40 and T = 10, after the warm-up. */
  static final class CompiledStep {
    /** How a fresh JVM's line begins where the step was allocation-free, and where it was not. */
    static final String CLEAN = "clean";
    static final String BOXED = "boxed";
    final long atT40;
    final long atT10;
    /** The engine's description after the calls: where its watch marked this JVM as boxed, it says so. */
    final String engine;

    private CompiledStep(long atT40, long atT10, String engine) {
      this.atT40 = atT40;
      this.atT10 = atT10;
      this.engine = engine;
    }

    /** Calls the step at T = 40 and T = 10 until the longer call allocates no more than the shorter, or the warm-up ends. */
    static CompiledStep measure(String cell) {
      ModelConfig config = new ModelConfig(CellType.parse(cell), 1, 1, 64, 1, Mode.SEQ2SEQ, LossType.MSE);
      Params params = Params.initialize(config, 5);
      Batch longBatch = Batch.random(config, 40, 64, 6);
      Batch shortBatch = Batch.random(config, 10, 64, 7);
      try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
        long giveUp = System.nanoTime() + WARM_UP_NANOS;
        long atT40;
        long atT10;
        do {
          for (int i = 0; i < 25; i++) {
            engine.lossAndGradient(params, longBatch, null);
            engine.lossAndGradient(params, shortBatch, null);
          }
          atT40 = leastAllocation(() -> engine.lossAndGradient(params, longBatch, null));
          atT10 = leastAllocation(() -> engine.lossAndGradient(params, shortBatch, null));
        } while (atT40 > atT10 + 64 && System.nanoTime() < giveUp);
        return new CompiledStep(atT40, atT10, engine.describe());
      }
    }

    boolean clean() {
      return atT40 <= atT10 + 64;
    }

    @Override
    public String toString() {
      return "a call at T = 40 allocated " + atT40 + " bytes, at T = 10 " + atT10;
    }

    /** A fresh JVM's check: prints "clean: …" or "boxed: …". */
    public static void main(String[] args) {
      CompiledStep step = measure(args[0]);
      System.out.println((step.clean() ? CLEAN : BOXED) + ": " + step);
    }
  }

  private static long leastAllocation(Runnable call) {
    long least = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      long before = allocatedOnAllThreads();
      call.run();
      least = Math.min(least, allocatedOnAllThreads() - before);
    }
    return least;
  }

  static long allocatedOnAllThreads() {
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    return Arrays.stream(threads.getThreadAllocatedBytes(threads.getAllThreadIds())).filter(b -> b > 0).sum();
  }
}
