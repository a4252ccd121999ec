package io.sparkrnn.data.source;

import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;

/**
 * Whole-array reads of small {@code .npy} files (primers, predict inputs) through the same
 * validating header parser the npy source uses: float32/float64 (int32/int64 widened), C or
 * Fortran order, either byte order. A float64 value past float32's range is refused, naming it.
 */
public final class NpyFiles {
  private NpyFiles() {}

  /** A dense array in C order. */
  public record FloatArray(int[] shape, float[] data) {}

  /** Largest element count read at once: a primer or a predict input, not a dataset. */
  public static final long MAX_ELEMENTS = 1L << 28;

  /**
   * Reads the whole array as float32 in C (row-major) order.
   *
   * @throws IllegalArgumentException naming the file when it is not a supported .npy array, or too large
   */
  public static FloatArray readFloats(String uri, Configuration conf) throws IOException {
    NpyArray a = NpyArray.open(uri, conf);
    long n = a.elements();
    if (n > MAX_ELEMENTS) {
      throw new BadInputException(uri + ": " + n + " elements is more than the " + MAX_ELEMENTS
          + " read into memory at once; prepare it as a dataset with `spark-rnn prep npy` instead");
    }
    double[] stored = new double[(int) n];
    try (FSDataInputStream in = a.openData(conf)) {
      int chunk = 1 << 20;
      for (long start = 0; start < n; start += chunk) {
        int count = (int) Math.min(chunk, n - start);
        a.readRun(in, start, count, stored, (int) start);
      }
    }
    float[] out = new float[(int) n];
    int rank = a.shape.length;
    int[] index = new int[rank];
    for (int c = 0; c < n; c++) {                               // c: C-order position; index: its coordinates
      long s = 0;
      for (int k = 0; k < rank; k++) {
        s += index[k] * a.strides[k];
      }
      double v = stored[(int) s];
      out[c] = (float) v;
      if (Double.isFinite(v) && !Float.isFinite(out[c])) {
        // a float64 file's finite value that rounds to Infinity: named as the file holds it, not "Infinity" (a review)
        throw new BadInputException(uri + ": element " + c + " " + java.util.Arrays.toString(index) + " is " + v
            + ", past float32's range (±3.4e38); the model computes in float32");
      }
      for (int k = rank - 1; k >= 0; k--) {
        if (++index[k] < a.shape[k]) {
          break;
        }
        index[k] = 0;
      }
    }
    return new FloatArray(a.shape.clone(), out);
  }
}
