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
 * Sine waves with random phase and frequency, F = O = 1, mse; the quickstart's default.
 *
 * <p>Sequence i (its own generator from {@code seed} and i) draws, in this order: its length L
 * (uniform in [minSteps, T]; L = T when minSteps = T), a frequency f uniform in [minFrequency,
 * maxFrequency) cycles per step, a phase φ uniform in [0, 2π), then for each of the L + 1 samples
 * v_t = sin(2π f t + φ) + noise · N(0, 1), t = 0..L. Inputs x_t = v_t for t &lt; L.
 * Seq2seq targets are next-step values y_t = v_{t+1}; seq2one the single value y = v_L that
 * follows the window.
 */
public final class SineSource implements SequenceSource {
  private static final long serialVersionUID = 1L;

  /**
   * @param steps T
   * @param sequences N
   * @param minSteps shortest length; T for fixed-length sequences
   * @param noise standard deviation of Gaussian noise added to every sample (0 for none)
   */
  public record Options(int steps, long sequences, long seed, boolean seq2one, double minFrequency, double maxFrequency,
      double noise, int minSteps) implements Serializable {
    public Options {
      Seeds.checkSteps(steps, 1);
      Seeds.checkCount(sequences);
      if (!(minFrequency > 0 && maxFrequency >= minFrequency && maxFrequency <= 0.5)) {
        throw new BadInputException("frequencies must satisfy 0 < --min-frequency <= --max-frequency <= 0.5 cycles"
            + " per step, found " + minFrequency + ", " + maxFrequency);
      }
      if (!(noise >= 0 && Double.isFinite(noise))) {
        throw new BadInputException("--noise must be a finite number >= 0, found " + noise);
      }
      if (minSteps < 1 || minSteps > steps) {
        throw new BadInputException("--min-steps must be in [1, T=" + steps + "], found " + minSteps);
      }
    }

    /** The defaults: fixed length, frequencies 0.02..0.1 cycles per step, no noise. */
    public static Options defaults(int steps, long sequences, long seed) {
      return new Options(steps, sequences, seed, false, 0.02, 0.1, 0, steps);
    }
  }

  private final Options o;
  private final DatasetSpec spec;

  public SineSource(Options options) {
    this.o = options;
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "sine");
    info.put("seed", o.seed());
    info.put("min_frequency", o.minFrequency());
    info.put("max_frequency", o.maxFrequency());
    info.put("noise", o.noise());
    info.put("min_steps", (long) o.minSteps());
    this.spec = new DatasetSpec(o.seq2one() ? "sine-seq2one" : "sine", 1, 1, o.steps(),
        o.seq2one() ? Mode.SEQ2ONE : Mode.SEQ2SEQ, LossType.MSE, o.minSteps() < o.steps(), null, info);
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
    float[] x = new float[T * B];
    float[] y = new float[o.seq2one() ? B : T * B];
    int[] lengths = spec.variableLength() ? new int[B] : null;
    for (int b = 0; b < B; b++) {
      SplittableRandom rng = Seeds.forSequence(o.seed(), first + b);
      int L = o.minSteps() == T ? T : o.minSteps() + rng.nextInt(T - o.minSteps() + 1);
      double f = o.minFrequency() + (o.maxFrequency() - o.minFrequency()) * rng.nextDouble();
      double phase = 2 * Math.PI * rng.nextDouble();
      double[] v = new double[L + 1];
      for (int t = 0; t <= L; t++) {
        // v_t = sin(2π f t + φ) + noise · N(0,1)
        v[t] = Math.sin(2 * Math.PI * f * t + phase) + (o.noise() > 0 ? o.noise() * rng.nextGaussian() : 0);
      }
      for (int t = 0; t < L; t++) {
        x[t * B + b] = (float) v[t];
        if (!o.seq2one()) {
          y[t * B + b] = (float) v[t + 1];
        }
      }
      if (o.seq2one()) {
        y[b] = (float) v[L];
      }
      if (lengths != null) {
        lengths[b] = L;
      }
    }
    return new Batch(T, B, 1, x, y, null, lengths);
  }
}
