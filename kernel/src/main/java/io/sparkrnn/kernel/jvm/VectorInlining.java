package io.sparkrnn.kernel.jvm;

import java.io.IOException;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.management.ObjectName;
import jdk.incubator.vector.Vector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;

/**
 * Adds, once a JVM, a HotSpot compiler directive (JEP 165, through the {@code DiagnosticCommand}
 * MBean, as {@code jcmd PID Compiler.directives_add} would) that tells C2 to inline
 * {@link VectorKernels}' own methods that take or return a vector wherever code of
 * {@code io.sparkrnn} calls them: the lane form of σ and tanh, e^x and the float view of the
 * constants' bits. The Vector API's own methods are {@code @ForceInline}; ours cannot be, and a
 * vector that crosses a call that is not inlined is a Java object: allocated, written and read back
 * at every vector of the loop.
 *
 * <p>Why. In JDK 17, at a call site that its caller's profile does not show as frequent (at least
 * 100 calls, {@code InlineFrequencyCount} on x86, or 20 per call of the caller; JDK 18 dropped the
 * count for a ratio of 0.25, JDK-8272873), C2 inlines a method only if the method's own compiled
 * code, where it has some, is under {@code InlineSmallCode / 4} (625 bytes). The activation loop
 * ({@code activation(float[] …)}, reached through {@code tanh} from the RNN's step) is small enough
 * to be inlined into the step's caller, and where C1 compiled it without profiling (tier 2, which
 * HotSpot picks while C2's queue is long) its call site has no count at all: C2 then took the call
 * of {@code activation(FloatVector …)}, whose own C2 code (from calls elsewhere) held 928 bytes of
 * instructions, as infrequent and left it out of line ("already compiled into a medium method" in
 * {@code -XX:+LogCompilation}). In that JVM every RNN step allocated 49,152 bytes more at H = 64,
 * B = 64 (two vectors of 96 bytes for each 16 values: the argument and the result), found by
 * {@code JvmEngineMemoryTest} once in CI and then in 1 of 86 test JVMs run in CI's class order
 * (docs/PERFORMANCE.md, "Boxed vectors in the RNN step"). A directive's {@code inline} is obeyed
 * before that heuristic; C2's other limits (its node budget {@code NodeCountInliningCutoff}, the
 * inlining depth, {@code DesiredMethodLimit}) still apply.
 *
 * <p>Once a JVM, not once a class loader: HotSpot's directive stack is the JVM's, holds at most
 * {@code CompilerDirectivesLimit} (50) entries, and a second copy of the class (a Spark REPL, a
 * child-first loader) finds ours there (its match and C2 inline list) and adds nothing; copies
 * initialised at once take turns on a JVM-wide lock.
 *
 * <p>The directive matches only compilations of {@code io/sparkrnn} classes, yet for those it comes
 * first: HotSpot uses the first directive on the stack that matches, and a directive with an
 * {@code inline} list makes C2 ignore {@code -XX:CompileCommand=inline|dontinline} in the
 * compilations it matches (HotSpot still applies its other compile commands beside a directive).
 * So a JVM with inlining settings of its own (an {@code inline} or {@code dontinline} compile
 * command, from the command line, {@code JAVA_TOOL_OPTIONS}, {@code -XX:Flags} or a
 * {@code -XX:CompileCommandFile}; or directives on the stack other than the default, e.g. from
 * {@code -XX:CompilerDirectivesFile}) is left as it is, with a line in the log.
 * {@code -Dsparkrnn.jvm.inlineDirective=true} adds ours anyway; {@code =false} never adds it; so
 * does a JVM without the MBean (not HotSpot, or a runtime without {@code jdk.management}), which
 * is logged once. {@link BoxedVectors} watches the result either way. Adding it starts the
 * platform MBean server and reads the stack: about 0.13 s once a JVM.
 */
final class VectorInlining {
  private static final Logger LOG = Logger.getLogger(VectorInlining.class.getName());
  /** "true" adds the directive even where the JVM has inlining settings of its own; "false" leaves it out. */
  static final String PROPERTY = "sparkrnn.jvm.inlineDirective";
  /** The compilations the directive applies to: those of a method of an {@code io/sparkrnn} class. */
  static final String MATCH = "io/sparkrnn/*.*";
  /**
   * The lock of every copy of this class in the JVM (a string literal is the JVM's one interned
   * object): two class loaders initialising the kernels at once read the stack and add one at a time.
   */
  private static final Object JVM_LOCK = "io.sparkrnn.kernel.jvm.VectorInlining: the directive stack";
  /** What {@link #install} did in this class loader: "added", "present …", "left out (…)", "off (…)" or "failed (…)". */
  private static String status;

  private VectorInlining() {}

  /** Adds the directive the first time it is called in this class loader, unless the JVM has it; returns what was done. */
  static synchronized String install() {
    if (status == null) {
      synchronized (JVM_LOCK) {
        status = add(System.getProperty(PROPERTY, "auto"));
      }
    }
    return status;
  }

  /** What {@link #install} did, or null before it ran. */
  static synchronized String status() {
    return status;
  }

  /** Adds the directive unless {@link #decide} says otherwise; returns what was done. */
  static String add(String setting) {
    if ("false".equalsIgnoreCase(setting)) {
      return decide(setting, List.of(), "");
    }
    try {
      String decided = decide(setting, compileCommands(), dcmd("compilerDirectivesPrint"));
      if (decided != null) {
        if (decided.startsWith("left out")) {
          LOG.info("JVM engine: the compiler directive that inlines the vector kernels' helpers is " + decided
              + "; ours would come before them in io.sparkrnn's compilations. -D" + PROPERTY + "=true adds it anyway");
        }
        return decided;
      }
      String reply = addFile(null).trim();
      if (!reply.matches("(?s)[1-9][0-9]* compiler directives added.*")) {
        throw new IllegalStateException("Compiler.directives_add said: " + reply);
      }
      return "added";
    } catch (Exception | LinkageError e) {
      LOG.log(Level.WARNING, "JVM engine: could not add the compiler directive that inlines the vector kernels' helpers ("
          + e + "); C2 may leave a kernel's vectors boxed in some JVMs, which the engine reports if it happens", e);
      return "failed (" + e + ")";
    }
  }

  /**
   * Null where the directive is to be added, else why not: {@code setting} (the property's value)
   * is "false"; the JVM's directive stack ({@code stack}, as {@code Compiler.directives_print}
   * prints it) holds ours already; or, unless {@code setting} is "true", the JVM has inlining
   * settings of its own ({@link #userSettings}) among its {@code compileCommands} (one a line, as
   * HotSpot keeps {@code -XX:CompileCommand}) or on the stack.
   */
  static String decide(String setting, List<String> compileCommands, String stack) {
    if ("false".equalsIgnoreCase(setting)) {
      return "off (-D" + PROPERTY + "=false)";
    }
    List<String> printed = directives(stack);
    if (printed.stream().anyMatch(VectorInlining::isOurs)) {
      return "present (added in this JVM before, e.g. by another class loader)";
    }
    List<String> own = userSettings(compileCommands, printed);
    if (!own.isEmpty() && !"true".equalsIgnoreCase(setting)) {
      return "left out (the JVM has inlining settings of its own: " + String.join(", ", own) + ")";
    }
    return null;
  }

  /**
   * The settings that ours would shadow in io.sparkrnn's compilations: each {@code inline} or
   * {@code dontinline} compile command (HotSpot applies its other commands, {@code print},
   * {@code quiet}, {@code option,…,PrintInlining} and the like, beside a directive: only an inline
   * list hides theirs), and the count of printed directives ({@link #directives}) other than the
   * default one.
   */
  static List<String> userSettings(List<String> compileCommands, List<String> directives) {
    List<String> own = new ArrayList<>();
    for (String c : compileCommands) {
      String command = c.trim().split("[\\s,]", 2)[0];
      if (command.equalsIgnoreCase("inline") || command.equalsIgnoreCase("dontinline")) {
        own.add("CompileCommand " + c.trim());
      }
    }
    long others = directives.stream().filter(d -> !d.startsWith("Directive: (default)")).count();
    if (others > 0) {
      own.add(others + (others == 1 ? " directive" : " directives") + " on the stack (jcmd PID Compiler.directives_print)");
    }
    return own;
  }

  /** The printed stack cut into its directives, each from its "Directive:" line to the next. */
  static List<String> directives(String stack) {
    List<String> out = new ArrayList<>();
    StringBuilder block = null;
    for (String line : stack.split("\\R")) {
      if (line.startsWith("Directive:")) {
        if (block != null) {
          out.add(block.toString());
        }
        block = new StringBuilder();
      }
      if (block != null) {
        block.append(line).append('\n');
      }
    }
    if (block != null) {
      out.add(block.toString());
    }
    return out;
  }

  /** A printed directive is ours where it matches {@link #MATCH} and its C2 inline list holds every helper. */
  static boolean isOurs(String directive) {
    int c2 = directive.indexOf("c2 directives:");
    return c2 >= 0 && directive.lines().anyMatch(line -> line.trim().equals("matching: " + MATCH))
        && vectorHelpers().stream().allMatch(m -> directive.indexOf("+" + m, c2) >= 0);
  }

  /**
   * The JVM's compile commands, one a line as HotSpot keeps them ({@code -XX:CompileCommand} from any
   * source: the command line, {@code JAVA_TOOL_OPTIONS}, {@code -XX:Flags=}), and the lines of a
   * {@code -XX:CompileCommandFile} (one that cannot be read counts as an inline setting).
   */
  private static List<String> compileCommands() {
    com.sun.management.HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
    List<String> out = new ArrayList<>(hotspot.getVMOption("CompileCommand").getValue().lines().filter(l -> !l.isBlank()).toList());
    String file = hotspot.getVMOption("CompileCommandFile").getValue();
    if (!file.isEmpty()) {
      try {
        out.addAll(Files.readAllLines(Path.of(file)).stream().filter(l -> !l.isBlank() && !l.trim().startsWith("#")).toList());
      } catch (IOException | RuntimeException e) {
        out.add("inline (in " + file + ", not readable: " + e + ")");
      }
    }
    return out;
  }

  /** Writes the directive to a temporary file in {@code dir} (null: the default) and adds it; returns HotSpot's reply. */
  static String addFile(Path dir) throws Exception {
    Path file = dir == null ? Files.createTempFile("sparkrnn-inline", ".json") : Files.createTempFile(dir, "sparkrnn-inline", ".json");
    try {
      Files.writeString(file, directive(), StandardCharsets.UTF_8);
      // the MBean joins its arguments with spaces and parses them as jcmd's line: a path with a space
      // needs quotes, and jcmd's parser has no escape for a quote inside them
      if (file.toString().indexOf('"') >= 0) {
        throw new IllegalStateException("the temporary file's path has a double quote, which jcmd's parser cannot take: " + file);
      }
      return dcmd("compilerDirectivesAdd", "\"" + file + "\"");
    } finally {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // a temporary file left behind; the directive is already read
      }
    }
  }

  /** Runs a diagnostic command through the platform MBean server; returns what it printed. */
  static String dcmd(String operation, String... arguments) throws Exception {
    Object said = ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
        operation, new Object[] {arguments}, new String[] {String[].class.getName()});
    return String.valueOf(said);
  }

  /**
   * The directive: C2 only (C1 compiles each vector operation as a call either way), one inline
   * pattern per method of {@link VectorKernels} with a vector parameter or result, named with its
   * descriptor, so that the array loop {@code activation(float[] …)} and the scalar
   * {@code activation(float …)} and {@code exp(float)} keep C2's own choice.
   */
  static String directive() {
    List<String> inline = new ArrayList<>();
    for (String method : vectorHelpers()) {
      inline.add("\"+" + method + "\"");
    }
    return "[{ \"match\": \"" + MATCH + "\", \"c2\": { \"inline\": [" + String.join(", ", inline) + "] } }]\n";
  }

  /**
   * VectorKernels' methods that take or return a vector, a mask or a shuffle (each is a Java object
   * when it crosses a call that is not inlined), as
   * {@code io/sparkrnn/kernel/jvm/VectorKernels.name(descriptor)}, sorted.
   */
  static List<String> vectorHelpers() {
    String owner = VectorKernels.class.getName().replace('.', '/');
    List<String> out = new ArrayList<>();
    for (Method m : VectorKernels.class.getDeclaredMethods()) {
      boolean vector = isVectorType(m.getReturnType()) || Arrays.stream(m.getParameterTypes()).anyMatch(VectorInlining::isVectorType);
      if (vector && !m.isSynthetic()) {
        out.add(owner + "." + m.getName() + MethodType.methodType(m.getReturnType(), m.getParameterTypes()).toMethodDescriptorString());
      }
    }
    out.sort(null); // getDeclaredMethods has no order
    return out;
  }

  /** A vector, a mask or a shuffle of the Vector API: the value classes that C2 keeps in registers only where inlined. */
  static boolean isVectorType(Class<?> type) {
    return Vector.class.isAssignableFrom(type) || VectorMask.class.isAssignableFrom(type) || VectorShuffle.class.isAssignableFrom(type);
  }
}
