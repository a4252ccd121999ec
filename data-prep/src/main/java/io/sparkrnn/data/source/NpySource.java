package io.sparkrnn.data.source;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;

/**
 * NumPy arrays: inputs from a rank-3 float32/float64 {@code .npy} in any axis order, targets from
 * a second array or by a next-step shift. Each shard is read with positional reads of just its
 * sequences, so the input may be far larger than memory.
 *
 * <p>{@code layout} names the input's axes with N (sequence), T (step), F (feature), e.g. NTF
 * (batch-first, PyTorch {@code batch_first=True}), TNF (PyTorch's default), FNT. Targets:
 * <ul>
 *   <li>no target file: next-step shift, T' = T − 1, x_t = a[n, t], seq2seq y_t = a[n, t+1] (O = F),
 *       or with {@code seq2one} y = a[n, T−1];
 *   <li>rank-3 float: seq2seq mse, axes N, T, O named by {@code targetLayout} (default: the input's
 *       layout with F read as O);
 *   <li>rank-2 float: seq2one mse, layout NO (default) or ON;
 *   <li>rank-2 int32/int64: seq2seq class ids, layout NT (default) or TN;
 *   <li>rank-1 int32/int64: seq2one class ids [N].
 * </ul>
 * For class ids, O is {@code classes}, or the largest id + 1 when {@code classes} is 0.
 */
public final class NpySource implements SequenceSource {
  private static final long serialVersionUID = 1L;

  /**
   * @param targets the target array's URI, or null for a next-step shift
   * @param targetLayout the target's axes (see the class comment), or null for the default
   * @param seq2one with a next-step shift: one target, the value after the last input step
   * @param classes number of classes for integer targets; 0 to use the largest id + 1
   */
  public record Options(String input, String layout, String targets, String targetLayout, boolean seq2one, int classes)
      implements Serializable {
    public Options {
      if (input == null) {
        throw new BadInputException("npy: an input .npy file is required");
      }
      if (layout == null) {
        layout = "NTF";
      }
      layout = layout.toUpperCase(Locale.ROOT);
      checkLayout("--layout", layout, "NTF");
      if (classes < 0) {
        throw new BadInputException("--classes must be >= 0, found " + classes);
      }
    }
  }

  private final Options o;
  private final NpyArray in;
  private final NpyArray target;
  private final String targetLayout;
  private final int N;
  private final int fileT;
  private final DatasetSpec spec;

  public NpySource(Options options, Configuration conf) throws IOException {
    this.o = options;
    in = NpyArray.open(o.input(), conf);
    if (in.shape.length != 3 || !in.floating) {
      throw new BadInputException(o.input() + ": inputs must be a rank-3 float32 or float64 array, found shape "
          + Arrays.toString(in.shape) + (in.floating ? "" : " of integers"));
    }
    N = dim(in, o.layout(), 'N');
    fileT = dim(in, o.layout(), 'T');
    int F = dim(in, o.layout(), 'F');
    if (N == 0 || fileT == 0 || F == 0) {
      throw new BadInputException(o.input() + ": empty input (N=" + N + ", T=" + fileT + ", F=" + F + ")");
    }
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "npy");
    info.put("input", o.input());
    info.put("layout", o.layout());
    int T;
    int O;
    Mode mode;
    LossType loss;
    // options that mean nothing for these targets are refused, not dropped (a user audit: --seq2one with
    // --targets wrote seq2seq, --classes without integer targets wrote mse, both without a word)
    if (o.targets() == null && o.classes() > 0) {
      throw new BadInputException("--classes applies to integer class-id --targets ([N,T] or [N]); the next-step shift's"
          + " targets are the inputs' float values");
    }
    if (o.targets() == null) {
      target = null;
      targetLayout = null;
      if (fileT < 2) {
        throw new BadInputException(o.input() + ": T=" + fileT + "; a next-step shift needs T >= 2");
      }
      T = fileT - 1;
      O = F;
      mode = o.seq2one() ? Mode.SEQ2ONE : Mode.SEQ2SEQ;
      loss = LossType.MSE;
      info.put("targets", "next-step");
    } else {
      target = NpyArray.open(o.targets(), conf);
      T = fileT;
      int rank = target.shape.length;
      String tl = o.targetLayout() == null ? null : o.targetLayout().toUpperCase(Locale.ROOT);
      if (target.floating && rank == 3) {
        tl = tl == null ? o.layout().replace('F', 'O') : tl;
        checkLayout("--target-layout", tl, "NTO");
        mode = Mode.SEQ2SEQ;
        loss = LossType.MSE;
        O = dim(target, tl, 'O');
      } else if (target.floating && rank == 2) {
        tl = tl == null ? "NO" : tl;
        checkLayout("--target-layout", tl, "NO");
        mode = Mode.SEQ2ONE;
        loss = LossType.MSE;
        O = dim(target, tl, 'O');
      } else if (!target.floating && rank == 2) {
        tl = tl == null ? "NT" : tl;
        checkLayout("--target-layout", tl, "NT");
        mode = Mode.SEQ2SEQ;
        loss = LossType.CROSS_ENTROPY;
        O = 0;
      } else if (!target.floating && rank == 1) {
        tl = "N";
        mode = Mode.SEQ2ONE;
        loss = LossType.CROSS_ENTROPY;
        O = 0;
      } else {
        throw new BadInputException(o.targets() + ": targets of shape " + Arrays.toString(target.shape)
            + (target.floating ? " float" : " int") + " are not supported (expected float [N,T,O] or [N,O],"
            + " int class ids [N,T] or [N])");
      }
      if (o.seq2one() && mode != Mode.SEQ2ONE) {
        throw new BadInputException("--seq2one: the targets " + o.targets() + " of shape " + Arrays.toString(target.shape)
            + " are per step; with --targets the mode comes from their shape: float [N,O] or int [N] are sequence-to-one,"
            + " float [N,T,O] or int [N,T] sequence-to-sequence");
      }
      targetLayout = tl;
      // which layout the targets were read with: a default one the user never wrote explains a mismatch (a user audit)
      String read = " (targets read as " + tl + (o.targetLayout() == null ? ", the default here; --target-layout says otherwise)" : ")");
      if (dim(target, tl, 'N') != N) {
        throw new BadInputException(o.targets() + ": N=" + dim(target, tl, 'N') + ", the inputs " + o.input()
            + " have N=" + N + read);
      }
      if (tl.indexOf('T') >= 0 && dim(target, tl, 'T') != fileT) {
        throw new BadInputException(o.targets() + ": T=" + dim(target, tl, 'T') + ", the inputs " + o.input()
            + " have T=" + fileT + read);
      }
      if (target.floating && o.classes() > 0) {
        throw new BadInputException("--classes " + o.classes() + ": " + o.targets() + " holds floats; --classes applies to integer"
            + " class-id targets ([N,T] or [N])");
      }
      if (O == 0 && target.floating) {
        throw new BadInputException(o.targets() + ": O=0 (empty targets)");
      }
      if (loss == LossType.CROSS_ENTROPY) {
        O = classCount(conf);
      }
      info.put("targets", o.targets());
      info.put("target_layout", tl);
    }
    spec = new DatasetSpec("npy", F, O, T, mode, loss, false, null, info);
  }

  static void checkLayout(String option, String layout, String letters) {
    char[] a = layout.toCharArray();
    char[] b = letters.toCharArray();
    Arrays.sort(a);
    Arrays.sort(b);
    if (!Arrays.equals(a, b)) {
      throw new BadInputException(option + " '" + layout + "': expected a permutation of " + letters);
    }
  }

  private static int dim(NpyArray a, String layout, char axis) {
    if (layout.length() != a.shape.length) {
      throw new BadInputException(a.uri + ": layout " + layout + " names " + layout.length() + " axes, the array"
          + " has shape " + Arrays.toString(a.shape));
    }
    return a.shape[layout.indexOf(axis)];
  }

  /** Scans the integer targets once: ids must be ≥ 0 (and < classes when given); returns O. */
  private int classCount(Configuration conf) throws IOException {
    long max = -1;
    int chunk = 1 << 16;
    double[] buf = new double[chunk];
    try (FSDataInputStream s = target.openData(conf)) {
      for (long i = 0; i < target.elements(); i += chunk) {
        int n = (int) Math.min(chunk, target.elements() - i);
        target.readRun(s, i, n, buf, 0);
        for (int k = 0; k < n; k++) {
          if (buf[k] < 0 || buf[k] > Integer.MAX_VALUE - 1 || (o.classes() > 0 && buf[k] >= o.classes())) {
            // the element's index, not its flat position (a class-targets audit: "element 53" left the arithmetic to the user)
            throw new BadInputException(o.targets() + ": class id " + (long) buf[k] + " at index " + target.indexOf(i + k)
                + " of shape " + Arrays.toString(target.shape) + " is outside [0, " + (o.classes() > 0 ? o.classes() : "2^31") + ")");
          }
          max = Math.max(max, (long) buf[k]);
        }
      }
    }
    int classes = o.classes() > 0 ? o.classes() : (int) max + 1;
    if (classes < 2) {
      throw new BadInputException(o.targets() + ": " + classes + " class(es); cross_entropy needs at least 2"
          + " (pass --classes)");
    }
    return classes;
  }

  @Override
  public DatasetSpec spec() {
    return spec;
  }

  @Override
  public long count() {
    return N;
  }

  @Override
  public Batch read(long first, int count, Configuration conf) throws IOException {
    Seeds.checkRange(first, count, N);
    int T = spec.steps();
    int B = count;
    int F = spec.features();
    int O = spec.outputs();
    Block xs = Block.read(in, o.layout(), first, count, conf);
    float[] x = new float[T * B * F];
    int[] coord = new int[3];
    int nAxis = o.layout().indexOf('N');
    int tAxis = o.layout().indexOf('T');
    int fAxis = o.layout().indexOf('F');
    for (int b = 0; b < B; b++) {
      coord[nAxis] = (int) first + b;
      for (int t = 0; t < T; t++) {
        coord[tAxis] = t;
        for (int f = 0; f < F; f++) {
          coord[fAxis] = f;
          x[(t * B + b) * F + f] = finite(xs.get(coord), o.input(), "n=" + coord[nAxis] + ", t=" + t + ", f=" + f);
        }
      }
    }
    if (target == null) {
      // next-step shift: targets are the inputs one step later
      float[] y = new float[spec.mode() == Mode.SEQ2SEQ ? T * B * O : B * O];
      for (int b = 0; b < B; b++) {
        coord[nAxis] = (int) first + b;
        for (int t = spec.mode() == Mode.SEQ2SEQ ? 1 : T; t <= T; t++) {
          coord[tAxis] = t;
          for (int f = 0; f < F; f++) {
            coord[fAxis] = f;
            float v = finite(xs.get(coord), o.input(), "n=" + coord[nAxis] + ", t=" + t + ", f=" + f);
            y[spec.mode() == Mode.SEQ2SEQ ? ((t - 1) * B + b) * O + f : b * O + f] = v;
          }
        }
      }
      return new Batch(T, B, F, x, y, null, null);
    }
    Block ys = Block.read(target, targetLayout, first, count, conf);
    int[] tc = new int[targetLayout.length()];
    int tn = targetLayout.indexOf('N');
    int tt = targetLayout.indexOf('T');
    int to = targetLayout.indexOf('O');
    boolean seq2seq = spec.mode() == Mode.SEQ2SEQ;
    if (spec.classTargets()) {
      int[] y = new int[seq2seq ? T * B : B];
      for (int b = 0; b < B; b++) {
        tc[tn] = (int) first + b;
        for (int t = 0; t < (seq2seq ? T : 1); t++) {
          if (seq2seq) {
            tc[tt] = t;
          }
          y[seq2seq ? t * B + b : b] = (int) ys.get(tc);
        }
      }
      return new Batch(T, B, F, x, null, y, null);
    }
    float[] y = new float[seq2seq ? T * B * O : B * O];
    for (int b = 0; b < B; b++) {
      tc[tn] = (int) first + b;
      for (int t = 0; t < (seq2seq ? T : 1); t++) {
        if (seq2seq) {
          tc[tt] = t;
        }
        for (int k = 0; k < O; k++) {
          tc[to] = k;
          y[seq2seq ? (t * B + b) * O + k : b * O + k] = finite(ys.get(tc), o.targets(),
              "n=" + tc[tn] + (seq2seq ? ", t=" + t : "") + ", o=" + k);
        }
      }
    }
    return new Batch(T, B, F, x, y, null, null);
  }

  private static float finite(double v, String file, String where) {
    float f = (float) v;
    if (!Float.isFinite(f)) {
      throw new BadInputException(file + ": " + (Double.isNaN(v) ? "NaN" : v + " (not finite in float32)")
          + " at (" + where + "), expected finite numbers");
    }
    return f;
  }

  /**
   * The elements of sequences {@code n0 .. n0+count-1} of an array: one contiguous run per
   * combination of the axes stored outside N (one run in all for N-major layouts).
   */
  static final class Block {
    private final NpyArray a;
    private final int nAxis;
    private final long n0;
    private final long runLength;
    /** Axes stored outside N, in axis order. */
    private final int[] outer;
    private final double[] values;

    private Block(NpyArray a, int nAxis, long n0, long runLength, int[] outer, double[] values) {
      this.a = a;
      this.nAxis = nAxis;
      this.n0 = n0;
      this.runLength = runLength;
      this.outer = outer;
      this.values = values;
    }

    static Block read(NpyArray a, String layout, long n0, int count, Configuration conf) throws IOException {
      int nAxis = layout.indexOf('N');
      long sN = a.strides[nAxis];
      List<Integer> outerAxes = new ArrayList<>();
      long runs = 1;
      for (int k = 0; k < a.shape.length; k++) {
        if (a.outside(k, nAxis)) {
          outerAxes.add(k);
          runs *= a.shape[k];
        }
      }
      long runLength = count * sN;
      if (runs * runLength > Integer.MAX_VALUE - 8) {
        throw new BadInputException(a.uri + ": one shard would read " + runs * runLength
            + " elements; lower --batch");
      }
      int[] outer = outerAxes.stream().mapToInt(Integer::intValue).toArray();
      double[] values = new double[(int) (runs * runLength)];
      int[] idx = new int[outer.length];
      try (FSDataInputStream s = a.openData(conf)) {
        for (int r = 0; r < runs; r++) {
          long base = n0 * sN;
          for (int j = 0; j < outer.length; j++) {
            base += idx[j] * a.strides[outer[j]];
          }
          a.readRun(s, base, (int) runLength, values, (int) (r * runLength));
          // next combination of outer indices, last axis fastest
          for (int j = outer.length - 1; j >= 0; j--) {
            if (++idx[j] < a.shape[outer[j]]) {
              break;
            }
            idx[j] = 0;
          }
        }
      }
      return new Block(a, nAxis, n0, runLength, outer, values);
    }

    /** The element at full-array coordinates {@code coord} (coord[nAxis] in this block's range). */
    double get(int[] coord) {
      long run = 0;
      for (int k : outer) {
        run = run * a.shape[k] + coord[k];
      }
      long within = (coord[nAxis] - n0) * a.strides[nAxis];
      for (int k = 0; k < coord.length; k++) {
        if (k != nAxis && !a.outside(k, nAxis)) {
          within += coord[k] * a.strides[k];
        }
      }
      return values[(int) (run * runLength + within)];
    }
  }
}
