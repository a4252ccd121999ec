package io.sparkrnn.kernel.aparapi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Whether the JVM's signal handlers are chained ({@code libjsig} preloaded), which an OpenCL
 * compiler running inside the JVM needs.
 *
 * <p>Why: PoCL compiles kernels with LLVM in-process, and LLVM, to delete its temporary files if the
 * process dies, installs its own handlers for SIGSEGV and other signals for the length of a
 * compile, displacing HotSpot's. HotSpot stops running threads for a garbage collection by making
 * their next safepoint poll fault (SIGSEGV). A collection during a compile therefore runs LLVM's
 * handler, which deletes the compiler's temporary files, puts HotSpot's handler back and lets the
 * poll fault again; the JVM goes on, the compile fails ("unable to rename temporary
 * …/kcache/tempfile_….preproc.cl"). Measured 2026-12-02: an engine created while another thread
 * allocated failed to compile in 7 of 10 JVMs, and in 0 of 10 with {@code libjsig} preloaded; a
 * compile tried again after such a failure failed again. With {@code libjsig} (shipped with every
 * JDK, {@code $JAVA_HOME/lib/libjsig.so}, loaded through {@code LD_PRELOAD}) HotSpot keeps its
 * handlers and calls LLVM's only for signals that are not its own.
 */
public final class SignalChaining {
  private static final Logger LOG = Logger.getLogger(SignalChaining.class.getName());
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private SignalChaining() {}

  /** The library to preload in this JVM's runtime. */
  public static Path library() {
    return Path.of(System.getProperty("java.home"), "lib", "libjsig.so");
  }

  /**
   * Whether libjsig is loaded in this process (Linux: listed in /proc/self/maps); true where that
   * cannot be told (no /proc: not Linux, where the question does not arise as here).
   */
  public static boolean chained() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) {
      return true;
    }
    try (var lines = Files.lines(maps)) {
      return lines.anyMatch(l -> l.endsWith("/libjsig.so"));
    } catch (IOException | java.io.UncheckedIOException e) {
      return true;
    }
  }

  /** How to chain them, for messages. */
  public static String advice() {
    return "start the JVM with LD_PRELOAD=" + library() + " (bin/spark-rnn and the tests do; under spark-submit set"
        + " spark.executorEnv.LD_PRELOAD, and export LD_PRELOAD for the driver): an OpenCL compile displaces the JVM's"
        + " signal handlers, and a garbage collection during it makes the compile fail";
  }

  /** Once per JVM, before the first OpenCL compile: a warning when the handlers are not chained. */
  static void warnIfNotChained() {
    if (!chained() && WARNED.compareAndSet(false, true)) {
      LOG.warning("libjsig is not preloaded: " + advice());
    }
  }
}
