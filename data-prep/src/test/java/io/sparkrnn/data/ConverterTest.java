package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.data.source.NpySource;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConverterTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();
  static final int N = 3, T = 4, F = 2;

  /** The value of element (n, t, f) in the reference array. */
  static double value(int n, int t, int f) {
    return 100 * n + 10 * t + f;
  }

  /** The reference array in the given axis order, C-order (or Fortran when asked). */
  static double[] arrange(String layout, boolean fortran) {
    int[] dims = shape(layout);
    double[] out = new double[N * T * F];
    int[] c = new int[3];
    for (int n = 0; n < N; n++) {
      for (int t = 0; t < T; t++) {
        for (int f = 0; f < F; f++) {
          c[layout.indexOf('N')] = n;
          c[layout.indexOf('T')] = t;
          c[layout.indexOf('F')] = f;
          int i = fortran ? c[0] + dims[0] * (c[1] + dims[1] * c[2]) : (c[0] * dims[1] + c[1]) * dims[2] + c[2];
          out[i] = value(n, t, f);
        }
      }
    }
    return out;
  }

  static int[] shape(String layout) {
    int[] s = new int[3];
    for (int k = 0; k < 3; k++) {
      s[k] = switch (layout.charAt(k)) {
        case 'N' -> N;
        case 'T' -> T;
        default -> F;
      };
    }
    return s;
  }

  @Test
  void npyGivesTheSameBatchesForEveryAxisOrderDtypeAndStorageOrder() throws IOException {
    Batch reference = null;
    for (String layout : List.of("NTF", "TNF", "FNT", "TFN", "NFT", "FTN")) {
      for (String descr : List.of("<f4", "<f8")) {
        for (boolean fortran : List.of(false, true)) {
          Path p = TestFiles.writeNpy(tmp.resolve(layout + descr.substring(1) + fortran + ".npy"), descr, fortran,
              shape(layout), arrange(layout, fortran));
          NpySource s = new NpySource(new NpySource.Options(p.toString(), layout, null, null, false, 0), conf);
          assertEquals(T - 1, s.spec().steps());
          Batch b = s.read(1, 2, conf);
          if (reference == null) {
            reference = b;
            // x_t = a[n, t], y_t = a[n, t+1]
            assertEquals(value(2, 1, 1), b.x()[b.xAt(1, 1, 1)]);
            assertEquals(value(2, 2, 1), b.targets()[(1 * 2 + 1) * F + 1]);
          }
          assertArrayEquals(reference.x(), b.x(), layout + " " + descr + " fortran=" + fortran);
          assertArrayEquals(reference.targets(), b.targets(), layout + " " + descr + " fortran=" + fortran);
        }
      }
    }
  }

  @Test
  void npyWithSeparateClassTargetsIsCrossEntropy() throws IOException {
    Path x = TestFiles.writeNpy(tmp.resolve("x.npy"), "<f4", false, shape("NTF"), arrange("NTF", false));
    double[] ids = new double[N * T];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = i % 3;
    }
    Path y = TestFiles.writeNpy(tmp.resolve("y.npy"), "<i8", false, new int[] {N, T}, ids);
    NpySource s = new NpySource(new NpySource.Options(x.toString(), "NTF", y.toString(), null, false, 0), conf);
    assertEquals(LossType.CROSS_ENTROPY, s.spec().loss());
    assertEquals(3, s.spec().outputs());
    assertEquals(T, s.spec().steps());
    Batch b = s.read(0, N, conf);
    assertEquals(ids[2 * T + 1], b.classes()[1 * N + 2]); // (t=1, b=2) = y[2, 1]
    Manifest m = Prep.run(s, new PrepOptions(tmp.resolve("ds").toUri(), 2, 0, false, false), conf);
    assertEquals(2, m.shards().size());
  }

  @Test
  void csvWindowsForecastTheNextRowWithAStride() throws IOException {
    Path p = tmp.resolve("series.csv");
    StringBuilder sb = new StringBuilder("time,temp,load\n");
    for (int r = 0; r < 10; r++) {
      sb.append(r).append(',').append(r * 1.5).append(',').append(-r).append('\n');
    }
    Files.writeString(p, sb.toString());
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of("temp", "load"), List.of("temp"), 4, 2, -1,
        false, null, 0, ','), conf);
    assertEquals(3, s.count()); // (rows 10 - T 4 - horizon 1) / stride 2 + 1
    assertEquals(2, s.spec().features());
    assertEquals(1, s.spec().outputs());
    Batch b = s.read(2, 1, conf); // starts at row 4
    assertEquals(4 * 1.5f, b.x()[b.xAt(0, 0, 0)]);
    assertEquals(-7f, b.x()[b.xAt(3, 0, 1)]);
    assertEquals(5 * 1.5f, b.targets()[0]); // y_0 = temp of row 5
    assertEquals(8 * 1.5f, b.targets()[3]);
  }

  @Test
  void csvSequenceColumnGivesRightPaddedVariableLengths() throws IOException {
    Path p = tmp.resolve("seq.csv");
    Files.writeString(p, "id,a,label\ns1,1,0\ns1,2,1\ns1,3,1\ns2,4,0\ns3,5,1\ns3,6,0\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of("label"), 0, 0, -1, true, "id", 2,
        ','), conf);
    assertEquals(Mode.SEQ2ONE, s.spec().mode());
    assertEquals(3, s.count());
    assertEquals(3, s.spec().steps());
    assertEquals(1, s.spec().features()); // inputs: every column but id and the class column
    Batch b = s.read(0, 3, conf);
    assertArrayEquals(new int[] {3, 1, 2}, b.lengths());
    assertArrayEquals(new int[] {1, 0, 0}, b.classes()); // label of each sequence's last row
    assertEquals(6f, b.x()[b.xAt(1, 2, 0)]);
    assertEquals(0f, b.x()[b.xAt(2, 2, 0)]); // padding
    Prep.run(s, new PrepOptions(tmp.resolve("ds").toUri(), 2, 0, false, false), conf);
    Dataset ds = Dataset.open(tmp.resolve("ds").toUri(), conf);
    assertArrayEquals(new int[] {3, 1}, ds.read(ds.shards(Split.TRAIN).get(0)).lengths());
  }

  /**
   * With --sequence-column and the default targets (the inputs) the horizon is 1, next-row
   * forecasting, as prep table's: it was 0, so y_t = x_t and the model learned the identity (a
   * user audit). An explicit --horizon 0 still gives that.
   */
  @Test
  void csvSequencesWithTheInputsAsTargetsForecastTheNextRow() throws IOException {
    Path p = tmp.resolve("next.csv");
    Files.writeString(p, "id,a\ns1,0\ns1,1\ns1,2\ns1,3\ns1,4\ns2,10\ns2,11\ns2,12\n");
    CsvSource s = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 0, 0, -1, false, "id", 0, ','), conf);
    assertEquals(4, s.spec().steps(), "s1's 5 rows give 4 steps, each with the next row as target");
    Batch b = s.read(0, 2, conf);
    assertArrayEquals(new int[] {4, 2}, b.lengths());
    for (int t = 0; t < 4; t++) {
      assertEquals((float) t, b.x()[b.xAt(t, 0, 0)]);
      assertEquals((float) (t + 1), b.targets()[t * 2], "y_" + t + " of s1 = the next row's a");
    }
    CsvSource same = new CsvSource(new CsvSource.Options(p.toString(), List.of(), List.of(), 0, 0, 0, false, "id", 0, ','), conf);
    assertEquals(5, same.spec().steps(), "--horizon 0 as asked");
  }
}
