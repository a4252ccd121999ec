package io.sparkrnn.kernel.aparapi;

import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import io.sparkrnn.kernel.testing.EngineComparison;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Not a test (no {@code @Test}: surefire skips it): the OpenCL engine under garbage-collection
 * pressure, minutes long, for whoever touches {@link ArrayMoves} or the engine's reads. One
 * AparapiEngine on PoCL runs {@link AparapiEngineTest#cases()} round after round and compares the
 * final h of {@code lossAndGradient} with the float64 reference, while a second thread allocates
 * (young collections by the hundred) and, with {@code full}, calls {@code System.gc()} every few
 * milliseconds.
 *
 * <p>Before the engine checked for moved buffers (2026-12-02): about 1 call in 50,000 returned one
 * wrong element with no pressure, usually h[0]; with the Parallel collector, 64 MB of heap and a
 * full collection every 3 ms, the JVM crashed in marking within a few seconds (the kernel had
 * written into freed heap).
 *
 * <pre>
 * mvn -B -o -q -pl kernel test-compile
 * LD_PRELOAD=$JAVA_HOME/lib/libjsig.so java -XX:+UseParallelGC -Xmx128m --add-modules=jdk.incubator.vector \
 *     -cp kernel/target/classes:kernel/target/test-classes:$(cat spark-job/target/classpath.txt) \
 *     io.sparkrnn.kernel.aparapi.BufferMoveStress 40 churn
 * </pre>
 *
 * Arguments: rounds (48 calls each), then {@code none}, {@code churn} (allocation) or {@code full}
 * (allocation and a full collection every 3 ms).
 */
public final class BufferMoveStress {
  private static volatile Object sink;

  private BufferMoveStress() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    String pressure = args.length > 1 ? args[1] : "churn";
    if (!pressure.equals("none")) {
      Thread t = new Thread(() -> allocate(pressure.equals("full"), new AtomicBoolean()), "gc-pressure");
      t.setDaemon(true);
      t.start();
    }
    ReferenceEngine reference = new ReferenceEngine();
    List<AparapiEngineTest.Case> cases = AparapiEngineTest.cases();
    int bad = 0;
    int calls = 0;
    long t0 = System.nanoTime();
    try (AparapiEngine engine = new AparapiEngine(Devices.resolve(DeviceChoice.CPU_OPENCL))) {
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < cases.size(); i++) {
          AparapiEngineTest.Case c = cases.get(i);
          ModelConfig config = c.config();
          Params params = new Params(config, EngineComparison.toFloats(Fixtures.randomParams(new ParamLayout(config).size(), c.seed())));
          Batch batch = Fixtures.randomBatch(config, AparapiEngineTest.T, AparapiEngineTest.B, c.lengths(), c.seed() + 7);
          State initial = c.initialState() ? Fixtures.randomState(config, AparapiEngineTest.B, c.seed() + 13) : null;
          float[] want = reference.lossAndGradient(params, batch, initial).finalState().h();
          float[] got = engine.lossAndGradient(params, batch, initial).finalState().h();
          calls++;
          for (int k = 0; k < want.length; k++) {
            if (Math.abs(want[k] - got[k]) > 1e-3f) {
              bad++;
              System.out.printf("round %d case %d %s: h[%d] %s, the reference %s%n", r, i, c, k, got[k], want[k]);
              break;
            }
          }
        }
      }
      StringBuilder gcs = new StringBuilder();
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        gcs.append(gcs.length() == 0 ? "" : ", ").append(gc.getName()).append(' ').append(gc.getCollectionCount());
      }
      System.out.printf("%d wrong final states in %d calls, %d run again (buffers moved), %.1f s; collections: %s; pressure %s%n",
          bad, calls, engine.reruns(), (System.nanoTime() - t0) / 1e9, gcs, pressure);
    }
  }

  /** Until stop: garbage, a tenth of it kept a while (so collections have live objects to move); with full, System.gc() every 3 ms. */
  static void allocate(boolean full, AtomicBoolean stop) {
    List<byte[]> kept = new ArrayList<>();
    long last = System.nanoTime();
    for (int n = 0; !stop.get(); n++) {
      byte[] b = new byte[1000 + (n % 13) * 1000];
      sink = b;
      if (n % 10 == 0) {
        kept.add(b);
        if (kept.size() > 2000) {
          kept.subList(0, 1000).clear();
        }
      }
      if (full && System.nanoTime() - last > 3_000_000) {
        System.gc();
        last = System.nanoTime();
      }
    }
  }
}
