package io.sparkrnn.kernel.aparapi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Whether the JVM's signal handlers are chained ({@code libjsig} preloaded), without which this
 * JVM does not initialise OpenCL.
 *
 * <p>Why: an OpenCL driver runs inside the JVM and may install its own signal handlers over
 * HotSpot's. PoCL does, as it starts (its platform is enumerated when devices are listed): LLVM's
 * handlers for SIGSEGV, SIGBUS, SIGILL, SIGUSR1/2 and others (to delete its temporary files if the
 * process dies) and PoCL's own for SIGFPE (to let a kernel's integer division by zero go on). They
 * stay installed. Measured 2026-12-02 on PoCL 3.1 (the review's and this project's runs):
 * <ul>
 *   <li>Java's integer division by zero, which HotSpot's compiled code detects through SIGFPE,
 *       returned a value instead of throwing ArithmeticException: 115,756 of 200,000 tries after a
 *       kernel had compiled and run (SignalChainingTest without the preload), 47,973 in a review's
 *       run after PoCL had only started;
 *   <li>HotSpot stops threads for a collection by making their safepoint polls fault (SIGSEGV); a
 *       collection during a kernel compile ran LLVM's handler, which deleted the compiler's
 *       temporary files ("unable to rename temporary …/kcache/tempfile_….preproc.cl"): 7 of 10
 *       JVMs with an allocating thread failed to compile the kernel.
 * </ul>
 * With {@code libjsig} (shipped with every JDK, {@code $JAVA_HOME/lib/libjsig.so}, loaded through
 * {@code LD_PRELOAD}) HotSpot keeps its handlers and passes on only the signals that are not its
 * own: 0 of 10 compiles failed, no division went wrong. So {@link Devices} initialises OpenCL only
 * where the handlers are chained, unless {@code -Dsparkrnn.opencl.unchained=allow} says to go on
 * (with a warning).
 */
public final class SignalChaining {
  /** The system property that lets OpenCL start without chained handlers. */
  public static final String ALLOW_PROPERTY = "sparkrnn.opencl.unchained";

  private static Boolean chained;

  private SignalChaining() {}

  /** The library to preload in this JVM's runtime. */
  public static Path library() {
    return Path.of(System.getProperty("java.home"), "lib", "libjsig.so");
  }

  /**
   * Whether libjsig is loaded in this process (Linux: named in /proc/self/maps, also as "…/libjsig.so
   * (deleted)" after the JDK was replaced on disk); true where that cannot be told (no /proc).
   * Read once: a preload cannot change while the JVM runs.
   */
  public static synchronized boolean chained() {
    if (chained == null) {
      chained = readMaps();
    }
    return chained;
  }

  private static boolean readMaps() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) {
      return true;
    }
    try (var lines = Files.lines(maps)) {
      return lines.anyMatch(l -> l.contains("/libjsig.so"));
    } catch (IOException | UncheckedIOException e) {
      return true;
    }
  }

  /** Whether OpenCL may start here: the handlers chained, or the property says to go on without. */
  static boolean openClAllowed() {
    return chained() || "allow".equals(System.getProperty(ALLOW_PROPERTY));
  }

  /** How to chain them, for messages. */
  public static String advice() {
    return "start the JVM with LD_PRELOAD=" + library() + " (bin/spark-rnn and the tests do; under spark-submit set"
        + " spark.executorEnv.LD_PRELOAD, and for the driver export LD_PRELOAD, or in cluster deploy mode set"
        + " spark.yarn.appMasterEnv.LD_PRELOAD or spark.kubernetes.driverEnv.LD_PRELOAD)";
  }

  /** Why OpenCL was not started: for the warning and for the errors of --device gpu and cpu-opencl. */
  static String refusal() {
    return "OpenCL was not initialised in this JVM because its signal handlers are not chained (libjsig is not preloaded):"
        + " an OpenCL driver such as PoCL then replaces them, after which Java's integer division by zero can return a"
        + " value instead of throwing and kernel compiles fail when a garbage collection runs; " + advice()
        + ", or accept that with -D" + ALLOW_PROPERTY + "=allow (bin/spark-rnn: SPARK_RNN_JAVA_OPTS; spark-submit:"
        + " spark.driver.extraJavaOptions and spark.executor.extraJavaOptions)";
  }

  /**
   * Whether an OpenCL driver other than PoCL is registered, found as ocl-icd's loader finds them:
   * the libraries in $OCL_ICD_FILENAMES (':'-separated), else the .icd files in $OCL_ICD_VENDORS (a
   * folder, or one .icd file), else in $OPENCL_VENDOR_PATH, else in /etc/OpenCL/vendors; a driver
   * counts as PoCL when its library's name contains "pocl" (so PoCL's own CUDA back end counts as
   * PoCL). Then not starting OpenCL may leave a GPU unused, worth a warning; with PoCL alone (or
   * none) the JVM engine is what auto picks anyway.
   */
  static boolean gpuDriverRegistered() {
    String filenames = System.getenv("OCL_ICD_FILENAMES");
    if (filenames != null && !filenames.isBlank()) {
      return Arrays.stream(filenames.split(":")).anyMatch(f -> !f.isBlank() && !isPocl(f));
    }
    String vendors = firstSet("OCL_ICD_VENDORS", "OPENCL_VENDOR_PATH");
    Path where = Path.of(vendors != null ? vendors : "/etc/OpenCL/vendors");
    if (Files.isRegularFile(where)) {
      return icdNamesAnotherDriver(where);
    }
    if (!Files.isDirectory(where)) {
      return false;
    }
    try (var files = Files.list(where)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".icd")).anyMatch(SignalChaining::icdNamesAnotherDriver);
    } catch (IOException e) {
      return false;
    }
  }

  private static String firstSet(String... names) {
    for (String n : names) {
      String v = System.getenv(n);
      if (v != null && !v.isBlank()) {
        return v;
      }
    }
    return null;
  }

  private static boolean icdNamesAnotherDriver(Path icd) {
    try {
      return !isPocl(Files.readString(icd));
    } catch (IOException e) {
      return true; // unreadable: assume a driver
    }
  }

  private static boolean isPocl(String library) {
    return library.toLowerCase(Locale.ROOT).contains("pocl");
  }

  /** The warning where the property lets OpenCL start without chained handlers. */
  static String unchainedWarning() {
    return "OpenCL starts without chained signal handlers (-D" + ALLOW_PROPERTY + "=allow): Java's integer division by"
        + " zero may return a value instead of throwing, and kernel compiles may fail under garbage collection; "
        + advice();
  }
}
