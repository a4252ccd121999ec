package io.sparkrnn.data.source;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;

/**
 * The adding problem (Hochreiter &amp; Schmidhuber 1997; in the form of Le, Jaitly &amp; Hinton
 * 2015, "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units"): seq2one, mse,
 * F = 2, O = 1.
 *
 * <p>Sequence i draws its length L (uniform in [minSteps, T], or T), then L values u_t ~ U(0, 1),
 * then two marker positions: p1 uniform in [0, ⌊L/2⌋) and p2 uniform in [⌊L/2⌋, L). Channel 0 of
 * x_t is u_t, channel 1 is 1 at p1 and p2 and 0 elsewhere. The target is y = u_{p1} + u_{p2}.
 */
public final class AddingSource implements SequenceSource {
  private static final long serialVersionUID = 1L;

  /** @param minSteps shortest length (at least 2); T for fixed-length sequences */
  public record Options(int steps, long sequences, long seed, int minSteps) implements Serializable {
    public Options {
      Seeds.checkSteps(steps, 2);
      Seeds.checkCount(sequences);
      if (minSteps < 2 || minSteps > steps) {
        throw new BadInputException("--min-steps must be in [2, T=" + steps + "], found " + minSteps);
      }
    }
  }

  private final Options o;
  private final DatasetSpec spec;

  public AddingSource(Options options) {
    this.o = options;
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "adding");
    info.put("seed", o.seed());
    info.put("min_steps", (long) o.minSteps());
    this.spec = new DatasetSpec("adding", 2, 1, o.steps(), Mode.SEQ2ONE, LossType.MSE, o.minSteps() < o.steps(), null, info);
  }

  @Override
  public DatasetSpec spec() {
    return spec;
  }

  @Override
  public long count() {
    return o.sequences();
  }

  @Override
  public Batch read(long first, int count, Configuration conf) {
    Seeds.checkRange(first, count, o.sequences());
    int T = o.steps();
    int B = count;
    float[] x = new float[T * B * 2];
    float[] y = new float[B];
    int[] lengths = spec.variableLength() ? new int[B] : null;
    for (int b = 0; b < B; b++) {
      SplittableRandom rng = Seeds.forSequence(o.seed(), first + b);
      int L = o.minSteps() == T ? T : o.minSteps() + rng.nextInt(T - o.minSteps() + 1);
      float[] u = new float[L];
      for (int t = 0; t < L; t++) {
        u[t] = (float) rng.nextDouble();
        x[(t * B + b) * 2] = u[t];
      }
      int half = L / 2;
      int p1 = rng.nextInt(half);
      int p2 = half + rng.nextInt(L - half);
      x[(p1 * B + b) * 2 + 1] = 1f;
      x[(p2 * B + b) * 2 + 1] = 1f;
      // y = u_{p1} + u_{p2}
      y[b] = u[p1] + u[p2];
      if (lengths != null) {
        lengths[b] = L;
      }
    }
    return new Batch(T, B, 2, x, y, null, lengths);
  }
}
