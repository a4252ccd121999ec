package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.List;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

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
}
