package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The compiler directive that makes C2 inline the vector kernels' vector-typed helpers: what it names, and that the JVM holds it. */
class VectorInliningTest {
  private static final String OWNER = "io/sparkrnn/kernel/jvm/VectorKernels.";
  private static final String FV = "Ljdk/incubator/vector/FloatVector;";
  private static final String IV = "Ljdk/incubator/vector/IntVector;";

  /**
   * The helpers that carry vectors across a call, as written in VectorKernels: σ/tanh's lane form,
   * e^x, the float view of an int vector's bits and the constants' bits; not the array loop
   * activation(float[] …) nor the scalar forms, whose inlining C2 keeps deciding.
   */
  @Test
  void theDirectiveNamesEveryVectorTypedHelperAndNothingElse() {
    List<String> want = List.of(OWNER + "activation(" + FV + "FFF)" + FV, OWNER + "bits(F)" + IV, OWNER + "exp(" + FV + ")" + FV,
        OWNER + "f(" + IV + ")" + FV);
    assertEquals(want, VectorInlining.vectorHelpers());
    String json = VectorInlining.directive();
    assertTrue(json.contains("\"match\": \"io/sparkrnn/*.*\""), json);
    assertTrue(json.contains("\"c2\""), json);
    for (String m : want) {
      assertTrue(json.contains("\"+" + m + "\""), json);
    }
  }

  /** Masks and shuffles cross a call as objects too, so a helper typed with one would be listed; arrays and scalars would not. */
  @Test
  void masksAndShufflesCountAsVectorTypes() {
    assertTrue(VectorInlining.isVectorType(jdk.incubator.vector.FloatVector.class));
    assertTrue(VectorInlining.isVectorType(jdk.incubator.vector.VectorMask.class));
    assertTrue(VectorInlining.isVectorType(jdk.incubator.vector.VectorShuffle.class));
    assertTrue(VectorInlining.isVectorType(jdk.incubator.vector.IntVector.SPECIES_PREFERRED.maskAll(true).getClass()));
    assertFalse(VectorInlining.isVectorType(float[].class));
    assertFalse(VectorInlining.isVectorType(float.class));
    assertFalse(VectorInlining.isVectorType(jdk.incubator.vector.VectorSpecies.class));
  }

  /** Once the vector kernels are loaded, HotSpot's own list of directives holds ours, for C2, with every helper. */
  @Test
  void loadingTheVectorKernelsAddsTheDirectiveToThisJvm() throws Exception {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    MathKernels.best().describe(); // loads VectorKernels, whose class initialiser adds the directive
    assertEquals("added", VectorInlining.status());
    String printed = (String) ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
        "compilerDirectivesPrint", new Object[] {new String[0]}, new String[] {String[].class.getName()});
    int ours = printed.indexOf("matching: " + VectorInlining.MATCH);
    assertTrue(ours >= 0, printed);
    int c2 = printed.indexOf("c2 directives:", ours);
    int next = printed.indexOf("Directive", c2);
    String c2Part = printed.substring(c2, next < 0 ? printed.length() : next);
    for (String m : VectorInlining.vectorHelpers()) {
      assertTrue(c2Part.contains("+" + m), "C2's inline list lacks " + m + ":\n" + c2Part);
    }
  }

  @Test
  void thePropertyLeavesTheDirectiveOut() {
    assertEquals("off (-Dsparkrnn.jvm.inlineDirective=false)", VectorInlining.add("false"));
    assertEquals("off (-Dsparkrnn.jvm.inlineDirective=false)", VectorInlining.add("FALSE"));
  }

  /** Directive stacks as JDK 17's Compiler.directives_print prints them (flag lines shortened). */
  private static final String DEFAULT_ONLY = "\nDirective: (default)\n matching: *.*\n c1 directives:\n  inline: -\n  Enable:true\n\n"
      + " c2 directives:\n  inline: -\n  Enable:true\n\n";
  private static final String A_USERS = "\nDirective:\n matching: foo/*.*\n c1 directives:\n  inline: -\n  Enable:false\n\n"
      + " c2 directives:\n  inline: +a/b.c\n  Enable:true\n\n" + DEFAULT_ONLY;

  /** A directive on io/sparkrnn/*.* with C2 inline patterns, printed as HotSpot lists them ("+a, +b"). */
  private static String onOurClasses(List<String> c2Inline) {
    return "\nDirective:\n matching: io/sparkrnn/*.*\n c1 directives:\n  inline: -\n  Enable:false\n\n c2 directives:\n  inline: "
        + String.join(", ", c2Inline.stream().map(m -> "+" + m).toList()) + "\n  Enable:true\n\n";
  }

  /**
   * Added only to a JVM without inlining settings of its own, since ours would come before them in
   * io.sparkrnn's compilations (HotSpot takes the first directive that matches, and an inline list
   * makes C2 ignore -XX:CompileCommand=inline|dontinline there; its other compile commands it still
   * applies); "true" adds it anyway; never twice.
   */
  @Test
  void theDirectiveIsAddedOnlyWhereTheJvmHasNoInliningSettingsOfItsOwn() {
    assertNull(VectorInlining.decide("auto", List.of(), DEFAULT_ONLY));
    // what the docs themselves suggest for a diagnosis keeps the directive: HotSpot applies these beside it
    assertNull(VectorInlining.decide("auto", List.of("quiet", "print,a.B::c", "option,io.sparkrnn.*::*,PrintInlining", "log *.*"), DEFAULT_ONLY));
    assertEquals(List.of("CompileCommand dontinline,a.B::c", "CompileCommand inline a/B.c"),
        VectorInlining.userSettings(List.of("quiet", "dontinline,a.B::c", "inline a/B.c"), VectorInlining.directives(DEFAULT_ONLY)));
    assertEquals(List.of("1 directive on the stack (jcmd PID Compiler.directives_print)"),
        VectorInlining.userSettings(List.of(), VectorInlining.directives(A_USERS)));
    assertEquals("left out (the JVM has inlining settings of its own: CompileCommand DontInline,a.B::c)",
        VectorInlining.decide("auto", List.of("DontInline,a.B::c"), DEFAULT_ONLY));
    assertTrue(VectorInlining.decide("auto", List.of(), A_USERS).startsWith("left out"));
    assertNull(VectorInlining.decide("true", List.of("inline,a.B::c"), A_USERS));

    String ours = onOurClasses(VectorInlining.vectorHelpers()) + DEFAULT_ONLY;
    assertTrue(VectorInlining.decide("auto", List.of(), ours).startsWith("present"));
    assertTrue(VectorInlining.decide("true", List.of(), ours).startsWith("present"));
    assertEquals("off (-Dsparkrnn.jvm.inlineDirective=false)", VectorInlining.decide("false", List.of(), ours));
    // a user's own directive on our classes is theirs, not ours: left out, and said so
    String theirs = onOurClasses(List.of("io/sparkrnn/kernel/jvm/VectorKernels.bits(F)Ljdk/incubator/vector/IntVector;")) + DEFAULT_ONLY;
    assertEquals("left out (the JVM has inlining settings of its own: 1 directive on the stack (jcmd PID Compiler.directives_print))",
        VectorInlining.decide("auto", List.of(), theirs));
  }

  /** The printed stack cut at each "Directive:" line, the default one last. */
  @Test
  void thePrintedStackIsCutIntoItsDirectives() {
    List<String> cut = VectorInlining.directives(A_USERS);
    assertEquals(2, cut.size());
    assertTrue(cut.get(0).startsWith("Directive:\n matching: foo/*.*"), cut.get(0));
    assertTrue(cut.get(1).startsWith("Directive: (default)"), cut.get(1));
    assertEquals(List.of(), VectorInlining.directives(""));
  }

  /**
   * A second copy of the class in another class loader (a Spark REPL, a child-first loader) finds
   * the directive on the JVM's stack and adds nothing: the stack holds 50 at most, shared by all.
   */
  @Test
  void aSecondClassLoaderAddsNoSecondDirective() throws Exception {
    MathKernels.best().describe();
    long before = oursOnTheStack();
    URL classes = VectorInlining.class.getProtectionDomain().getCodeSource().getLocation();
    try (URLClassLoader other = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
      Class<?> copy = Class.forName(VectorInlining.class.getName(), false, other);
      assertNotSame(VectorInlining.class, copy);
      Method install = copy.getDeclaredMethod("install");
      install.setAccessible(true);
      String said = (String) install.invoke(null);
      assertTrue(said.startsWith("present"), said);
    }
    assertEquals(before, oursOnTheStack());
  }

  /** The MBean joins its arguments with spaces and parses them as jcmd's line: the file's path is quoted. */
  @Test
  void aTemporaryFolderWithASpaceWorks(@TempDir Path dir) throws Exception {
    // the kernels' own directive first: the copy added here would otherwise make their class
    // initialiser find one present and say so, whichever test runs first
    MathKernels.best().describe();
    Path spaced = Files.createDirectories(dir.resolve("with space"));
    String reply = VectorInlining.addFile(spaced);
    assertTrue(reply.trim().startsWith("1 compiler directives added"), reply);
  }

  private static long oursOnTheStack() throws Exception {
    return VectorInlining.dcmd("compilerDirectivesPrint").lines().filter(l -> l.trim().equals("matching: " + VectorInlining.MATCH)).count();
  }
}
