package io.sparkrnn.cli;

import static io.sparkrnn.cli.InferenceCommandsTest.assertFails;
import static io.sparkrnn.cli.InferenceCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 9da547b..4fe5f2f: predict takes float64 .npy files (InputFiles' javadoc, docs), and the
 * commits made it name a raw value that normalising puts past float32's range. A float64 file holding
 * 1e39, a finite number past float32's range before any normalising (a Double.MAX_VALUE placeholder,
 * as the table audit had), is refused as "element 1 is Infinity, expected a finite number": the
 * file holds no Infinity. A user expects the value and that it is past float32's range.
 */
class PredictFloat64PastFloat32Test {
  @TempDir
  static Path tmp;

  /** A little-endian float64 .npy (format 1.0) of the given shape. */
  static byte[] npyF8(int[] shape, double[] data) throws IOException {
    StringBuilder s = new StringBuilder("(");
    for (int d : shape) {
      s.append(d).append(", ");
    }
    s.append(")");
    String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + s + ", }";
    int len = dict.length() + 1;
    int pad = (64 - (10 + len) % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    out.write(header.length() & 0xff);
    out.write(header.length() >> 8);
    out.write(header.getBytes(StandardCharsets.US_ASCII));
    ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    for (double v : data) {
      b.putDouble(v);
    }
    out.write(b.array());
    return out.toByteArray();
  }

  static Path model() throws IOException {
    io.sparkrnn.kernel.model.ModelConfig gru = new io.sparkrnn.kernel.model.ModelConfig(io.sparkrnn.kernel.model.CellType.GRU,
        1, 1, 2, 1, io.sparkrnn.kernel.model.Mode.SEQ2SEQ, io.sparkrnn.kernel.model.LossType.MSE);
    java.util.Map<String, String> meta = new java.util.LinkedHashMap<>();
    meta.put(io.sparkrnn.model.ModelMetadata.KEY_TASK, "csv");
    Path model = tmp.resolve("plain.safetensors");
    Files.write(model, io.sparkrnn.kernel.io.ModelFile.toBytes(io.sparkrnn.kernel.model.Params.initialize(gru, 7), meta));
    return model;
  }

  @Test
  void aFloat64ValuePastFloat32IsNotCalledInfinity() throws IOException {
    Path raw = Files.write(tmp.resolve("f8.npy"), npyF8(new int[] {2, 1, 1}, new double[] {0.5, 1e39}));
    InferenceCommandsTest.Run r = run("predict", "--model", model().toString(), "--data",
        raw.toString(), "--out", tmp.resolve("p.npy").toString(), "--engine", "reference");
    assertFails(r, "f8.npy: element 1");
    assertFalse(r.err().contains("element 1 is Infinity"), "the file holds 1e39, not Infinity: " + r.err());
    assertTrue(r.err().contains("f8.npy: element 1 [1, 0, 0] is 1.0E39, past float32's range"), r.err());
  }
}
