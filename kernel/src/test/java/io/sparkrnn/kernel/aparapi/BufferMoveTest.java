package io.sparkrnn.kernel.aparapi;

import static io.sparkrnn.kernel.testing.EngineComparison.toDoubles;
import static io.sparkrnn.kernel.testing.EngineComparison.toFloats;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A garbage collection between a call's last launch and its reads moves the kernel's arrays away
 * from the addresses Aparapi's buffers use ({@link ArrayMoves}); the engine must notice and run the
 * call again, so what it returns still matches the float64 reference.
 */
class BufferMoveTest {
  private final List<Object> keep = new ArrayList<>();

  /** A full collection, with live garbage allocated before it so that compaction has holes to close. */
  private void collect() {
    keep.clear();
    for (int i = 0; i < 2000; i++) {
      byte[] b = new byte[512];
      if (i % 2 == 0) {
        keep.add(b);
      }
    }
    System.gc();
  }

  /**
   * {@link #collect}, then new arrays filled with a marker value over the space the collection
   * freed: a read from where a moved array used to be gets the marker, not a stale right value.
   */
  private void collectAndOverwrite() {
    collect();
    keep.clear();
    for (int i = 0; i < 256; i++) {
      float[] f = new float[8192];
      Arrays.fill(f, -7.0e7f);
      keep.add(f);
    }
  }

  @Test
  void movesAreSeenArrayByArrayOnThisJvm() {
    // HotSpot with jdk.unsupported (every JVM that runs Spark): the precise probe, not the collection count
    assertTrue(ArrayMoves.precise(), "sun.misc.Unsafe was not usable; see the log of ArrayMoves");
  }

  /**
   * Without sun.misc.Unsafe (a child JVM without the jdk.unsupported module) the mark is the
   * collection count: nothing moved without a collection, everything after one.
   */
  @Test
  void withoutUnsafeAnyCollectionCountsAsAMove() throws Exception {
    Path out = Files.createTempFile("array-moves-child", ".txt");
    try {
      Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "--limit-modules", "java.base,java.logging,java.management", "-cp", System.getProperty("java.class.path"),
          NoUnsafeChild.class.getName()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("the child JVM did not finish in 60 s");
      }
      String text = Files.readString(out);
      assertTrue(p.exitValue() == 0 && text.contains("precise=false before=false after=true"), text);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Run by {@link #withoutUnsafeAnyCollectionCountsAsAMove} in a JVM without jdk.unsupported. */
  public static final class NoUnsafeChild {
    private NoUnsafeChild() {}

    public static void main(String[] args) {
      Object[] arrays = {new float[10]};
      long[] mark = ArrayMoves.mark(arrays);
      boolean before = ArrayMoves.anyMoved(arrays, mark);
      System.gc();
      System.out.println("precise=" + ArrayMoves.precise() + " before=" + before + " after=" + ArrayMoves.anyMoved(arrays, mark));
    }
  }

  @Test
  void aMarkSeesAnArrayMovedByACollectionAndNothingWithoutOne() {
    for (int i = 0; i < 1000; i++) {
      keep.add(new byte[64]); // garbage-to-be before the array in the same allocation buffer
    }
    Object[] arrays = {new float[100], new int[10]};
    long[] mark = ArrayMoves.mark(arrays);
    assertFalse(ArrayMoves.anyMoved(arrays, mark), "nothing ran between the mark and the check");
    boolean moved = false;
    for (int i = 0; i < 5 && !moved; i++) {
      collect();
      moved = ArrayMoves.anyMoved(arrays, mark);
    }
    assertTrue(moved, "five full collections moved neither young array (precise: " + ArrayMoves.precise() + ")");
  }

  @Test
  void aCallWhoseBuffersMoveBeforeItsReadsRunsAgainAndMatchesTheReference() {
    ResolvedDevice cpu = AparapiEngineTest.requireOpenClCpu("");
    ModelConfig config = new ModelConfig(CellType.LSTM, 2, 3, 5, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 71)));
    Batch batch = Fixtures.randomBatch(config, 6, 4, true, 72);
    State initial = Fixtures.randomState(config, 4, 73);
    ReferenceEngine reference = new ReferenceEngine();
    BpttResult expected = reference.lossAndGradient(params, batch, initial);
    ForwardResult expectedForward = reference.forward(params, batch, initial);
    String where = config + " with a collection after the last launch";

    // a new engine: its buffers are young, so a full collection moves them
    try (AparapiEngine engine = new AparapiEngine(cpu)) {
      engine.afterLaunches = once(this::collectAndOverwrite);
      BpttResult actual = engine.lossAndGradient(params, batch, initial);
      assertTrue(engine.reruns() >= 1, "the collection moved young buffers, yet the call was not run again");
      AparapiEngineTest.CHECK.assertClose(where + ": loss sum", new double[] {expected.gradients().lossSum()},
          new double[] {actual.gradients().lossSum()});
      AparapiEngineTest.CHECK.assertGradientsClose(where, params.layout(), expected.gradients().gradient(),
          actual.gradients().gradient());
      AparapiEngineTest.CHECK.assertStatesClose(where + ": final state", expected.finalState(), actual.finalState());

      engine.afterLaunches = once(this::collectAndOverwrite);
      ForwardResult forward = engine.forward(params, batch, initial);
      AparapiEngineTest.CHECK.assertClose(where + ": forward outputs", toDoubles(expectedForward.outputs()),
          toDoubles(forward.outputs()));
      AparapiEngineTest.CHECK.assertStatesClose(where + ": final state after forward", expectedForward.finalState(),
          forward.finalState());

      // and the call after it, with no collection forced, is right
      engine.afterLaunches = null;
      BpttResult again = engine.lossAndGradient(params, batch, initial);
      AparapiEngineTest.CHECK.assertStatesClose(where + ": final state, next call", expected.finalState(), again.finalState());
    }
  }

  private static Runnable once(Runnable r) {
    boolean[] done = {false};
    return () -> {
      if (!done[0]) {
        done[0] = true;
        r.run();
      }
    };
  }
}
