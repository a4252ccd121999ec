package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** AbBench's two builds really are two: each engine's classes from its own directory and loader, none from the class path. */
class AbBenchTest {
  private static final Path CLASSES = Path.of("target", "classes");
  private static final Map<String, String> SMALL = Map.of("cell", "lstm", "F", "1", "H", "8", "B", "4", "T", "5", "mode", "train",
      "threads", "1");

  @Test
  void eachBuildLoadsItsOwnEngineClassesAndRuns() {
    Runnable a = AbBench.load(CLASSES, SMALL);
    Runnable b = AbBench.load(CLASSES, SMALL);
    ClassLoader la = a.getClass().getClassLoader();
    ClassLoader lb = b.getClass().getClassLoader();
    assertNotSame(la, lb);
    assertNotSame(AbBench.Calls.class, a.getClass(), "A's engine is not the class path's");
    assertNotSame(AbBench.class.getClassLoader(), la);
    for (ClassLoader l : new ClassLoader[] {la, lb}) {
      assertTrue(l.getParent() == ClassLoader.getPlatformClassLoader(), "the engine's classes cannot come from the class path");
    }
    double[][] rates = AbBench.alternate(a, b, 4, 3, 0.01, 0);
    for (double[] build : rates) {
      for (double r : build) {
        assertTrue(r > 0 && Double.isFinite(r), "seq/s " + r);
      }
    }
  }

  @Test
  void quantilesInterpolate() {
    assertEquals(2.5, AbBench.quantile(new double[] {1, 2, 3, 4}, 0.5), 0);
    assertEquals(1.75, AbBench.quantile(new double[] {1, 2, 3, 4}, 0.25), 0);
    assertEquals(3, AbBench.quantile(new double[] {1, 2, 3, 4, 5}, 0.5), 0);
    assertEquals(7, AbBench.quantile(new double[] {7}, 0.75), 0);
  }

  @Test
  void aDirectoryWithoutABuildIsRefusedNamingIt(@TempDir Path empty) {
    BadInputException e = assertThrows(BadInputException.class, () -> AbBench.load(empty, SMALL));
    assertTrue(e.getMessage().startsWith(empty.toString()) && e.getMessage().contains("kernel/target/classes"), e.getMessage());
  }

  @Test
  void aBuildFromBeforeAbBenchIsDrivenByThisClassPathsCalls(@TempDir Path old) throws IOException {
    // a build without AbBench: only the engine's classes (here this build's, copied without the bench package)
    try (var files = Files.walk(CLASSES)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Path rel = CLASSES.relativize(f);
        if (Files.isRegularFile(f) && !rel.toString().contains("bench")) {
          Files.createDirectories(old.resolve(rel).getParent());
          Files.copy(f, old.resolve(rel));
        }
      }
    }
    Runnable r = AbBench.load(old, SMALL);
    assertNotSame(AbBench.Calls.class, r.getClass());
    r.run();
  }
}
