package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.data.source.NpyFiles;
import io.sparkrnn.data.source.NpySource;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The .npy reader against the format as NumPy documents it (numpy.lib.format): versions 1.0 (uint16
 * header length at byte 8, data after byte 10 + length) and 2.0 (uint32 header length, data after
 * byte 12 + length; NumPy writes 2.0 when the header exceeds 65535 bytes); the byte order in the
 * descr's first character; the file is exactly header + elements × item size. And the npy source's
 * documented targets: next-step seq2one y = a[n, T−1] of the file's T, integer ids in [0, classes).
 */
class NpyFormatTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  /** A .npy of float32 ("f4") or float64 ("f8") in the given byte order, C order, with a header of at least minHeader bytes. */
  static Path write(Path p, int major, char byteOrder, String type, int[] shape, double[] values, int minHeader)
      throws IOException {
    String dims = String.join(", ", Arrays.stream(shape).mapToObj(Integer::toString).toList()) + (shape.length == 1 ? "," : "");
    String dict = "{'descr': '" + byteOrder + type + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    int prefix = major == 1 ? 10 : 12;
    int length = Math.max(dict.length() + 1, minHeader);
    length += (64 - (prefix + length) % 64) % 64; // magic + version + length field + header: a multiple of 64
    String header = dict + " ".repeat(length - dict.length() - 1) + "\n";
    int item = type.equals("f4") ? 4 : 8;
    ByteBuffer b = ByteBuffer.allocate(prefix + length + values.length * item).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    if (major == 1) {
      b.putShort((short) length);
    } else {
      b.putInt(length);
    }
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    b.order(byteOrder == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    for (double v : values) {
      if (item == 4) {
        b.putFloat((float) v);
      } else {
        b.putDouble(v);
      }
    }
    Files.write(p, b.array());
    return p;
  }

  static final double[] SIX = {1.5, -2.25, 3, 0.125, -1e3, 7};

  @Test
  void bigEndianFloatsAreReadInTheirByteOrder() throws IOException {
    float[] expected = {1.5f, -2.25f, 3f, 0.125f, -1e3f, 7f};
    for (String type : new String[] {"f4", "f8"}) {
      Path p = write(tmp.resolve("be-" + type + ".npy"), 1, '>', type, new int[] {2, 3}, SIX, 0);
      NpyFiles.FloatArray a = NpyFiles.readFloats(p.toString(), conf);
      assertArrayEquals(new int[] {2, 3}, a.shape());
      assertArrayEquals(expected, a.data(), ">" + type);
    }
  }

  @Test
  void version2HeaderLengthIsAFourByteField() throws IOException {
    // a 70 000-byte header: its length does not fit the 16 bits of version 1.0
    Path p = write(tmp.resolve("v2.npy"), 2, '<', "f4", new int[] {3, 2}, SIX, 70_000);
    NpyFiles.FloatArray a = NpyFiles.readFloats(p.toString(), conf);
    assertArrayEquals(new int[] {3, 2}, a.shape());
    assertArrayEquals(new float[] {1.5f, -2.25f, 3f, 0.125f, -1e3f, 7f}, a.data());
  }

  @Test
  void trailingBytesAfterTheDataAreRefused() throws IOException {
    Path p = write(tmp.resolve("long.npy"), 1, '<', "f4", new int[] {2, 3}, SIX, 0);
    byte[] b = Files.readAllBytes(p);
    Files.write(p, Arrays.copyOf(b, b.length + 4));
    // 2·3 float32 = 24 data bytes; 28 after the header
    refused(() -> NpyFiles.readFloats(p.toString(), conf), "long.npy", "needs 24 data bytes, the file has 28 (trailing bytes)");
  }

  /** a[n, t, f] = 100n + 10t + f in NTF C order, N = 3, T = 4, F = 2. */
  private Path ntf(String name) throws IOException {
    double[] v = new double[3 * 4 * 2];
    for (int n = 0; n < 3; n++) {
      for (int t = 0; t < 4; t++) {
        for (int f = 0; f < 2; f++) {
          v[(n * 4 + t) * 2 + f] = 100 * n + 10 * t + f;
        }
      }
    }
    return TestFiles.writeNpy(tmp.resolve(name), "<f4", false, new int[] {3, 4, 2}, v);
  }

  @Test
  void nextStepSeq2oneTargetIsTheFilesLastStep() throws IOException {
    NpySource s = new NpySource(new NpySource.Options(ntf("x.npy").toString(), "NTF", null, null, true, 0), conf);
    assertEquals(Mode.SEQ2ONE, s.spec().mode());
    assertEquals(3, s.spec().steps(), "T' = T − 1 = 3 input steps");
    assertEquals(2, s.spec().outputs());
    Batch b = s.read(0, 3, conf);
    for (int n = 0; n < 3; n++) {
      for (int f = 0; f < 2; f++) {
        assertEquals(100 * n + 20 + f, b.x()[b.xAt(2, n, f)], "last input x_2 = a[n, 2, f]");
        assertEquals(100 * n + 30 + f, b.targets()[n * 2 + f], "y = a[n, 3, f], the step after the window (n=" + n + ")");
      }
    }
  }

  @Test
  void classIdsMustLieBelowTheGivenClassCount() throws IOException {
    Path x = ntf("xc.npy");
    Path y = TestFiles.writeNpy(tmp.resolve("ids.npy"), "<i8", false, new int[] {3}, new double[] {0, 1, 3});
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 3), conf),
        "ids.npy", "class id 3 at index [2] of shape [3] is outside [0, 3)");
    NpySource four = new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 4), conf);
    assertEquals(LossType.CROSS_ENTROPY, four.spec().loss());
    assertArrayEquals(new int[] {0, 1, 3}, four.read(0, 3, conf).classes());
  }

  @Test
  void targetsWithAnotherSequenceCountAreRefused() throws IOException {
    Path x = ntf("xn.npy");
    Path y = TestFiles.writeNpy(tmp.resolve("y2.npy"), "<f4", false, new int[] {2, 1}, new double[] {1, 2});
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 0), conf),
        "y2.npy: N=2", "have N=3 (targets read as NO, the default here; --target-layout says otherwise)");
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), "ON", false, 0), conf),
        "y2.npy: N=1", "have N=3 (targets read as ON)");
  }

  /** Rank-3 targets default to the input's layout with F read as O: TNF inputs, TNO targets. */
  @Test
  void rank3TargetsDefaultToTheInputsAxisOrder() throws IOException {
    int N = 3;
    int T = 4;
    double[] xs = new double[T * N * 2];
    double[] ys = new double[T * N];
    for (int t = 0; t < T; t++) {
      for (int n = 0; n < N; n++) {
        ys[t * N + n] = 1000 + 100 * n + 10 * t; // y[t, n, 0], TNO C order
      }
    }
    Path x = TestFiles.writeNpy(tmp.resolve("tnf.npy"), "<f4", false, new int[] {T, N, 2}, xs);
    Path y = TestFiles.writeNpy(tmp.resolve("tno.npy"), "<f4", false, new int[] {T, N, 1}, ys);
    NpySource s = new NpySource(new NpySource.Options(x.toString(), "TNF", y.toString(), null, false, 0), conf);
    assertEquals("TNO", s.spec().source().get("target_layout"));
    assertEquals(T, s.spec().steps());
    Batch b = s.read(1, 2, conf);
    for (int t = 0; t < T; t++) {
      for (int k = 0; k < 2; k++) {
        assertEquals(1000 + 100 * (1 + k) + 10 * t, b.targets()[t * 2 + k], "y_t of sequence " + (1 + k) + " at t=" + t);
      }
    }
  }

  /** Version 1.0's header length is an unsigned 16-bit field: a 40 000-byte header (above 32767) is valid. */
  @Test
  void version1HeaderLengthIsUnsigned() throws IOException {
    Path p = write(tmp.resolve("v1big.npy"), 1, '<', "f4", new int[] {2, 3}, SIX, 40_000);
    NpyFiles.FloatArray a = NpyFiles.readFloats(p.toString(), conf);
    assertArrayEquals(new float[] {1.5f, -2.25f, 3f, 0.125f, -1e3f, 7f}, a.data());
  }

  @Test
  void aFileWithoutTheMagicOrWithAnImpossibleHeaderLengthIsRefused() throws IOException {
    Path csv = Files.writeString(tmp.resolve("data.npy"), "a,b\n1,2\n3,4\n");
    refused(() -> NpyFiles.readFloats(csv.toString(), conf), "data.npy", "not a .npy file");
    Path p = write(tmp.resolve("cut.npy"), 1, '<', "f4", new int[] {2, 3}, SIX, 0);
    Files.write(p, Arrays.copyOf(Files.readAllBytes(p), 40)); // the header says 118 bytes after byte 10
    refused(() -> NpyFiles.readFloats(p.toString(), conf), "cut.npy", "header length field is impossible");
    // a whole file whose header is over the reader's 1 MiB is said to be so (numpy loads it with
    // max_header_size), not "truncated or not a .npy file" (a user audit)
    Path big = write(tmp.resolve("bighdr.npy"), 2, '<', "f4", new int[] {2, 3}, SIX, 2_000_000);
    refused(() -> NpyFiles.readFloats(big.toString(), conf), "bighdr.npy: a header of ", " bytes, more than this reader takes (1048576)");
    byte[] v4 = Files.readAllBytes(write(tmp.resolve("v4.npy"), 2, '<', "f4", new int[] {2, 3}, SIX, 0));
    v4[6] = 4;
    Files.write(tmp.resolve("v4.npy"), v4);
    refused(() -> NpyFiles.readFloats(tmp.resolve("v4.npy").toString(), conf), "format version 4 is not supported");
  }

  /** int32 ("<i4") class ids, as np.int32 labels are saved, read as the same integers. */
  @Test
  void int32ClassIdsAreRead() throws IOException {
    Path x = ntf("x32.npy");
    Path y = TestFiles.writeNpy(tmp.resolve("ids32.npy"), "<i4", false, new int[] {3}, new double[] {2, 0, 1});
    NpySource s = new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 0), conf);
    assertEquals(3, s.spec().outputs(), "largest id 2 + 1");
    assertArrayEquals(new int[] {2, 0, 1}, s.read(0, 3, conf).classes());
  }

  /** A bad id is named by its index, in C or Fortran storage alike (it was the flat position: "element 7"). */
  @Test
  void aBadClassIdIsNamedByItsIndexInEitherStorageOrder() throws IOException {
    Path x = ntf("xidx.npy");
    double[] c = new double[12];
    c[1 * 4 + 2] = 5;                                  // [n=1, t=2] of [3, 4], C order
    double[] f = new double[12];
    f[1 + 2 * 3] = 5;                                  // the same element, Fortran order (n fastest)
    for (Object[] order : new Object[][] {{false, c, "c-ids.npy"}, {true, f, "f-ids.npy"}}) {
      Path y = TestFiles.writeNpy(tmp.resolve((String) order[2]), "<i4", (Boolean) order[0], new int[] {3, 4}, (double[]) order[1]);
      refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 3), conf),
          (String) order[2], "class id 5 at index [1, 2] of shape [3, 4] is outside [0, 3)");
    }
  }

  @Test
  void negativeOrSingleClassIdsAreRefused() throws IOException {
    Path x = ntf("xneg.npy");
    Path neg = TestFiles.writeNpy(tmp.resolve("neg.npy"), "<i8", false, new int[] {3}, new double[] {0, -1, 1});
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", neg.toString(), null, false, 0), conf),
        "neg.npy", "class id -1 at index [1] of shape [3] is outside");
    Path one = TestFiles.writeNpy(tmp.resolve("one.npy"), "<i8", false, new int[] {3}, new double[] {0, 0, 0});
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", one.toString(), null, false, 0), conf),
        "one.npy", "1 class(es)");
  }

  @Test
  void targetsWithAnotherStepCountAreRefused() throws IOException {
    Path x = ntf("xt.npy"); // T = 4
    Path y = TestFiles.writeNpy(tmp.resolve("yt.npy"), "<f4", false, new int[] {3, 3, 1}, new double[9]);
    refused(() -> new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 0), conf),
        "yt.npy: T=3", "have T=4");
  }

  @Test
  void integerInputsAndASingleStepForANextStepShiftAreRefused() throws IOException {
    Path ints = TestFiles.writeNpy(tmp.resolve("ints.npy"), "<i8", false, new int[] {2, 3, 1}, new double[6]);
    refused(() -> new NpySource(new NpySource.Options(ints.toString(), "NTF", null, null, false, 0), conf),
        "ints.npy", "of integers");
    Path one = TestFiles.writeNpy(tmp.resolve("t1.npy"), "<f4", false, new int[] {2, 1, 1}, new double[2]);
    refused(() -> new NpySource(new NpySource.Options(one.toString(), "NTF", null, null, false, 0), conf),
        "t1.npy: T=1", "needs T >= 2");
  }
}
