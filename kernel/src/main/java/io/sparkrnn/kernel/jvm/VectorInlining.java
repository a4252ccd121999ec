package io.sparkrnn.kernel.jvm;

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

/**
 * Adds, once a JVM, a HotSpot compiler directive (JEP 165, through the {@code DiagnosticCommand}
 * MBean, as {@code jcmd PID Compiler.directives_add} would) that tells C2 to inline
 * {@link VectorKernels}' own methods that take or return a vector wherever code of
 * {@code io.sparkrnn} calls them: the lane form of σ and tanh, e^x and the float view of the
 * constants' bits. The Vector API's own methods are {@code @ForceInline}; ours cannot be, and a
 * vector that crosses a call that is not inlined is a Java object: allocated, written and read back
 * at every vector of the loop.
 *
 * <p>Why. At a call site that its caller's profile does not show as frequent (at least 100 calls,
 * {@code InlineFrequencyCount} on x86, or 20 per call of the caller), C2 inlines a method only if
 * the method's own compiled code, where it has some, is under {@code InlineSmallCode / 4} (625
 * bytes). The activation loop ({@code activation(float[] …)}, reached through {@code tanh} from the
 * RNN's step) is small enough to be inlined into the step's caller, and where C1 compiled it
 * without profiling (tier 2, which HotSpot picks while C2's queue is long) its call site has no
 * count at all: C2 then took the call of {@code activation(FloatVector …)}, whose own C2 code (from
 * calls elsewhere) held 928 bytes of instructions, as infrequent and left it out of line ("already
 * compiled into a medium method" in {@code -XX:+LogCompilation}). In that JVM every RNN step
 * allocated 49,152 bytes more at H = 64, B = 64 (two vectors of 96 bytes for each 16 values: the
 * argument and the result), found by {@code JvmEngineMemoryTest} once in CI and then in 1 of 86
 * test JVMs run in CI's class order (docs/PERFORMANCE.md, "Boxed vectors in the RNN step"). A
 * directive's {@code inline} is obeyed before that heuristic; C2's node budget
 * ({@code NodeCountInliningCutoff}) still applies.
 *
 * <p>The directive matches only compilations of {@code io/sparkrnn} classes, so the rest of the
 * JVM keeps its own directives. {@code -Dsparkrnn.jvm.inlineDirective=false} leaves it out; so
 * does a JVM without the MBean (not HotSpot, or a runtime without {@code jdk.management}), which
 * is logged once. {@link BoxedVectors} watches the result either way. Adding it starts the
 * platform MBean server: about 0.1 s once a JVM.
 */
final class VectorInlining {
  private static final Logger LOG = Logger.getLogger(VectorInlining.class.getName());
  /** Set to false to leave the directive out. */
  static final String PROPERTY = "sparkrnn.jvm.inlineDirective";
  /** The compilations the directive applies to: those of a method of an {@code io/sparkrnn} class. */
  static final String MATCH = "io/sparkrnn/*.*";
  /** What {@link #install} did in this JVM: "added", "off (…)" or "failed (…)". */
  private static String status;

  private VectorInlining() {}

  /** Adds the directive the first time it is called in this JVM; returns what was done. */
  static synchronized String install() {
    if (status == null) {
      status = add(System.getProperty(PROPERTY, "true"));
    }
    return status;
  }

  /** What {@link #install} did, or null before it ran. */
  static synchronized String status() {
    return status;
  }

  /** Adds the directive unless {@code setting} (the property's value) is "false". */
  static String add(String setting) {
    if ("false".equalsIgnoreCase(setting)) {
      return "off (-D" + PROPERTY + "=false)";
    }
    Path file = null;
    try {
      file = Files.createTempFile("sparkrnn-inline", ".json");
      Files.writeString(file, directive(), StandardCharsets.UTF_8);
      Object said = ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
          "compilerDirectivesAdd", new Object[] {new String[] {file.toString()}}, new String[] {String[].class.getName()});
      String reply = String.valueOf(said).trim();
      if (!reply.matches("(?s)[1-9][0-9]* compiler directives added.*")) {
        throw new IllegalStateException("Compiler.directives_add said: " + reply);
      }
      return "added";
    } catch (Exception | LinkageError e) {
      LOG.log(Level.WARNING, "JVM engine: could not add the compiler directive that inlines the vector kernels' helpers ("
          + e + "); C2 may leave a kernel's vectors boxed in some JVMs, which the engine reports if it happens", e);
      return "failed (" + e + ")";
    } finally {
      if (file != null) {
        try {
          Files.deleteIfExists(file);
        } catch (java.io.IOException ignored) {
          // a temporary file left behind; the directive is already read
        }
      }
    }
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

  /** VectorKernels' methods that take or return a vector, as {@code io/sparkrnn/kernel/jvm/VectorKernels.name(descriptor)}, sorted. */
  static List<String> vectorHelpers() {
    String owner = VectorKernels.class.getName().replace('.', '/');
    List<String> out = new ArrayList<>();
    for (Method m : VectorKernels.class.getDeclaredMethods()) {
      boolean vector = Vector.class.isAssignableFrom(m.getReturnType())
          || Arrays.stream(m.getParameterTypes()).anyMatch(Vector.class::isAssignableFrom);
      if (vector && !m.isSynthetic()) {
        out.add(owner + "." + m.getName() + MethodType.methodType(m.getReturnType(), m.getParameterTypes()).toMethodDescriptorString());
      }
    }
    out.sort(null); // getDeclaredMethods has no order
    return out;
  }
}
