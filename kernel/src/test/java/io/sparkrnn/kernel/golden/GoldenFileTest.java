package io.sparkrnn.kernel.golden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.AparapiEngineTest;
import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.testing.NumericAssert;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Both engines against the golden files, whose expectations come from {@link GoldenFiles}' own
 * float64 PyTorch-equation forward and finite differences: outputs, mean loss, and the gradient of
 * the mean loss for every parameter, by name.
 */
class GoldenFileTest {
  /** The reference widens the same float32 values to float64: only output rounding to float32 remains. */
  static final double REFERENCE_OUTPUT_TOL = 1e-6;
  /** Same computation in float64 up to summation order. */
  static final double REFERENCE_LOSS_TOL = 1e-12;
  /**
   * Gradients are compared norm-wise per parameter tensor (‖got − golden‖ / ‖golden‖): many of
   * them are far below 1, where an element-wise absolute bound would let a tenth of the value go
   * wrong. The golden gradient is a float64 central difference, whose truncation error is about
   * 1e-10 against gradients of norm 1e-2 to 1: up to about 1e-7 relative (seen: 1.4e-7 at most).
   */
  static final double REFERENCE_GRADIENT_TOL = 1e-6;
  /** float32 kernels over a few dozen terms, against float64: outputs and loss, per element. */
  static final double KERNEL_TOL = 1e-4;
  /**
   * float32 gradients norm-wise: a sum of n products carries about √n · 2⁻²⁴ ≈ 6e-8 · √n relative
   * error, with n in the hundreds here; 1e-5 is ten times that (seen: 6.3e-7 at most).
   */
  static final double KERNEL_GRADIENT_TOL = 1e-5;

  static Map<String, Object> load(String name) throws IOException {
    try (InputStream in = GoldenFileTest.class.getResourceAsStream("/golden/" + name + ".json")) {
      if (in == null) {
        throw new IOException("missing test resource golden/" + name + ".json; run GoldenFiles.main");
      }
      return Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @TestFactory
  Stream<DynamicTest> filesAreWhatTheGeneratorWrites() {
    return GoldenFiles.CASES.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
      try (InputStream in = GoldenFileTest.class.getResourceAsStream("/golden/" + c.name() + ".json")) {
        assertEquals(GoldenFiles.generate(c), new String(in.readAllBytes(), StandardCharsets.UTF_8),
            "golden/" + c.name() + ".json differs from what GoldenFiles writes; regenerate only if the math is meant to change");
      }
    }));
  }

  @TestFactory
  Stream<DynamicTest> referenceEngineMatchesTheGoldenFiles() {
    return GoldenFiles.CASES.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c.name(), new ReferenceEngine(),
        REFERENCE_OUTPUT_TOL, REFERENCE_LOSS_TOL, REFERENCE_GRADIENT_TOL)));
  }

  @TestFactory
  Stream<DynamicTest> aparapiEngineMatchesTheGoldenFiles() {
    // under SPARKRNN_REQUIRE_OPENCL=1 a missing OpenCL CPU device fails here, rather than leaving
    // only the JVM fallback to test
    if (AparapiEngineTest.REQUIRE_OPENCL) {
      AparapiEngineTest.requireOpenClCpu("to check the golden files on");
    }
    List<DynamicTest> tests = new ArrayList<>();
    for (DeviceChoice device : Devices.available()) {
      tests.add(DynamicTest.dynamicTest(device.id(), () -> {
        try (AparapiEngine engine = new AparapiEngine(Devices.resolve(device))) {
          for (GoldenFiles.Case c : GoldenFiles.CASES) {
            check(c.name(), engine, KERNEL_TOL, KERNEL_TOL, KERNEL_GRADIENT_TOL);
          }
        }
      }));
    }
    return tests.stream();
  }

  @SuppressWarnings("unchecked")
  static void check(String name, BpttEngine engine, double outputTol, double lossTol, double gradientTol) throws IOException {
    Map<String, Object> g = load(name);
    Map<String, String> meta = new HashMap<>();
    ((Map<String, Object>) g.get("config")).forEach((k, v) -> meta.put(k, String.valueOf(v)));
    ModelConfig config = ModelConfig.fromMetadata(meta, name);
    Params params = Params.zeros(config);
    Map<String, Object> ps = (Map<String, Object>) g.get("params");
    assertEquals(new ArrayList<>(ps.keySet()), params.layout().specs().stream().map(ParamSpec::name).toList(),
        name + ": parameter names and state_dict order");
    for (ParamSpec s : params.layout().specs()) {
      Map<String, Object> p = (Map<String, Object>) ps.get(s.name());
      assertArrayEquals(ints(p.get("shape")), s.shape(), name + ": shape of " + s.name());
      params.set(s.name(), floats(p.get("values")));
    }
    int T = ((Number) g.get("steps")).intValue();
    int B = ((Number) g.get("batch")).intValue();
    float[] x = floats(g.get("x"));
    Batch batch = new Batch(T, B, config.inputSize(), x, g.containsKey("targets") ? floats(g.get("targets")) : null,
        g.containsKey("classes") ? ints(g.get("classes")) : null, ints(g.get("lengths")));
    String where = name + " on " + engine.describe();
    NumericAssert.assertClose(doubles(g.get("output")), engine.forward(params, batch, null).outputs(), outputTol, where + ": output");
    BpttResult r = engine.lossAndGradient(params, batch, null);
    GradientSum sum = r.gradients();
    double loss = ((Number) g.get("loss")).doubleValue();
    assertEquals(loss, sum.meanLoss(), lossTol * Math.max(1, Math.abs(loss)), where + ": mean loss");
    float[] mean = sum.meanGradient();
    Map<String, Object> grads = (Map<String, Object>) g.get("gradient");
    for (ParamSpec s : params.layout().specs()) {
      float[] got = Arrays.copyOfRange(mean, s.offset(), s.offset() + s.size());
      NumericAssert.assertNormwiseClose(doubles(grads.get(s.name())), got, gradientTol, where + ": gradient of " + s.name());
    }
  }

  static double[] doubles(Object o) {
    List<?> l = (List<?>) o;
    double[] d = new double[l.size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = ((Number) l.get(i)).doubleValue();
    }
    return d;
  }

  static float[] floats(Object o) {
    double[] d = doubles(o);
    float[] f = new float[d.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  static int[] ints(Object o) {
    double[] d = doubles(o);
    int[] r = new int[d.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = (int) d[i];
    }
    return r;
  }
}
