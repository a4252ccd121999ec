package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.NumericAssert.assertBitsEqual;
import static io.sparkrnn.kernel.testing.Refusals.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The contract of an OptimizerState as a checkpoint holds it (OptimizerState's class comment):
 * buffers all [P], names sorted and free of '.', kind and step required, F32 only, immutable, and
 * every refusal of a file naming the file.
 */
class OptimizerStateFileTest {

  /** A safetensors file with the given optimizer metadata and F32 buffers [len] named optimizer.NAME. */
  static byte[] file(Map<String, String> metadata, Map<String, float[]> buffers) {
    List<Tensor> tensors = new ArrayList<>();
    buffers.forEach((name, v) -> tensors.add(Tensor.ofFloats("optimizer." + name, new int[] {v.length}, v)));
    return SafeTensors.toBytes(metadata, tensors);
  }

  @Test
  void buffersOfDifferentLengthsInAFileAreRefusedNamingTheFileAndTheBuffer() {
    // exp_avg [3] and exp_avg_sq [2]: loaded, Adam's step over P = 3 parameters would read past exp_avg_sq
    byte[] bytes = file(Map.of("optimizer.kind", "adam", "optimizer.step", "1"),
        Map.of("exp_avg", new float[3], "exp_avg_sq", new float[2]));
    refused(() -> OptimizerState.fromBytes(bytes, "ckpt.safetensors"), "ckpt.safetensors",
        "optimizer buffer exp_avg", "2", "3");
    refused(() -> new OptimizerState("adam", 1, Map.of(), Map.of("exp_avg", new float[3], "exp_avg_sq", new float[2])),
        "optimizer buffer exp_avg", "the others have");
  }

  @Test
  void aFileWithAKindButNoStepIsRefusedNamingTheFileAndTheKey() {
    byte[] noStep = file(Map.of("optimizer.kind", "adam"), Map.of("exp_avg", new float[1], "exp_avg_sq", new float[1]));
    refused(() -> OptimizerState.fromBytes(noStep, "ckpt.safetensors"), "ckpt.safetensors", "optimizer.step");
    byte[] noKind = file(Map.of("optimizer.step", "2"), Map.of());
    refused(() -> OptimizerState.fromBytes(noKind, "ckpt.safetensors"), "ckpt.safetensors", "optimizer.kind");
    byte[] badStep = file(Map.of("optimizer.kind", "sgd", "optimizer.step", "two"), Map.of());
    refused(() -> OptimizerState.fromBytes(badStep, "ckpt.safetensors"), "ckpt.safetensors", "'two'");
  }

  @Test
  void aBufferStoredAsFloat64IsRefusedForABitIdenticalResume() {
    // F64 values would be rounded to float32 on the way in: the resume would no longer be the run's
    // SafeTensors writes F32 only, so the file is made by hand (the safetensors layout: u64 LE header
    // length, the JSON header, the data): momentum_buffer F64 [2] = (0.5, −1)
    String header = "{\"__metadata__\":{\"optimizer.kind\":\"sgd\",\"optimizer.step\":\"1\"},"
        + "\"optimizer.momentum_buffer\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    while (header.length() % 8 != 0) {
      header += " ";
    }
    ByteBuffer buf = ByteBuffer.allocate(8 + header.length() + 16).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(header.length()).put(header.getBytes(StandardCharsets.US_ASCII)).putDouble(0.5).putDouble(-1);
    byte[] bytes = buf.array();
    refused(() -> OptimizerState.fromBytes(bytes, "ckpt.safetensors"), "ckpt.safetensors", "momentum_buffer", "F64", "F32");
  }

  @Test
  void aLoadedStateIsNotChangedByTheStepsOfTheOptimizerItWasLoadedInto() {
    // one state loaded into two optimizers (a resume retried, BarrierSync's next segment) must give both the same steps
    Adam first = Adam.adam(0.1);
    first.step(new float[] {1f, 2f}, new float[] {0.5f, -0.25f});
    OptimizerState s = first.state();
    float[] m = s.buffer("exp_avg");
    float[] v = s.buffer("exp_avg_sq");

    Adam a = Adam.adam(0.1);
    a.load(s);
    float[] pa = {1f, 2f};
    a.step(pa, new float[] {3f, 4f});
    assertBitsEqual(m, s.buffer("exp_avg"), "exp_avg of the state after another optimizer stepped from it");
    assertBitsEqual(v, s.buffer("exp_avg_sq"), "exp_avg_sq of the state after another optimizer stepped from it");
    Adam b = Adam.adam(0.1);
    b.load(s);
    float[] pb = {1f, 2f};
    b.step(pb, new float[] {3f, 4f});
    assertBitsEqual(pa, pb, "the same state and gradient, the same step");

    float[] given = {0.5f, 0.25f};
    OptimizerState made = new OptimizerState("sgd", 1, Map.of(), Map.of("momentum_buffer", given));
    given[0] = 9f;
    made.buffer("momentum_buffer")[1] = 9f;
    assertBitsEqual(new float[] {0.5f, 0.25f}, made.buffer("momentum_buffer"), "the constructor and buffer() copy");
  }

  @Test
  void parameterCountIsTheBuffersLengthOrMinusOneWithoutBuffers() {
    assertEquals(3, new OptimizerState("adam", 1, Map.of(), Map.of("exp_avg", new float[3], "exp_avg_sq", new float[3]))
        .parameterCount());
    assertEquals(-1, new OptimizerState("sgd", 4, Map.of(), Map.of()).parameterCount());
  }

  @Test
  void buffersAreListedAndWrittenInNameOrderWhateverOrderTheyAreGivenIn() {
    // "q" before "b" is the order a HashMap iterates them in (buckets 113 & 15 = 1, 98 & 15 = 2): the class
    // comment promises name order, so the same state always gives the same bytes
    Map<String, float[]> given = new LinkedHashMap<>();
    given.put("q", new float[] {1f});
    given.put("b", new float[] {2f});
    OptimizerState s = new OptimizerState("custom", 1, Map.of(), given);
    assertEquals(List.of("b", "q"), s.bufferNames());
    assertEquals(List.of("optimizer.b", "optimizer.q"), s.toTensors("optimizer").stream().map(Tensor::name).toList());
    Map<String, float[]> reversed = new LinkedHashMap<>();
    reversed.put("b", new float[] {2f});
    reversed.put("q", new float[] {1f});
    org.junit.jupiter.api.Assertions.assertArrayEquals(new OptimizerState("custom", 1, Map.of(), reversed).toBytes(), s.toBytes());
  }

  @Test
  void reservedAndDottedNamesAreRefused() {
    // "kind" and "step" would collide with optimizer.kind / optimizer.step in the metadata
    refused(() -> new OptimizerState("adam", 0, Map.of("step", "3"), Map.of()), "'step'", "reserved");
    refused(() -> new OptimizerState("adam", 0, Map.of("kind", "sgd"), Map.of()), "'kind'", "reserved");
    refused(() -> new OptimizerState("adam", 1, Map.of(), Map.of("exp.avg", new float[1])), "exp.avg", "'.'");
    refused(() -> new OptimizerState("adam", 1, Map.of("beta.1", "0.9"), Map.of()), "beta.1", "'.'");
    refused(() -> new OptimizerState("adam", -1, Map.of(), Map.of()), "step", "-1");
  }
}
