package io.sparkrnn.data.source;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;

/**
 * The copy-memory task (Hochreiter &amp; Schmidhuber 1997; layout of Arjovsky, Shah &amp; Bengio
 * 2016, "Unitary Evolution Recurrent Neural Networks"): seq2seq, cross_entropy.
 *
 * <p>Symbols: 0 blank, 1..8 data symbols, 9 marker. With delay T each sequence has
 * {@code T + 20} steps (the dataset's steps):
 * <pre>
 *   step      0..9        10..T+8       T+9      T+10..T+19
 *   input     s_1..s_10   blank (T−1)   marker   blank (10)
 *   target    blank       blank         blank    s_1..s_10
 * </pre>
 * The s_k are uniform in 1..8. Inputs are one-hot over the 10 symbols (F = 10); targets are class
 * ids over blank and the 8 data symbols (O = 9; the marker is never a target). The marker thus
 * arrives T steps after the last symbol, and the model must recall the 10 symbols in order during
 * the last 10 steps; a model that outputs blanks only scores 10·log 8 / (T + 20) nats per step.
 */
public final class CopySource implements SequenceSource {
  private static final long serialVersionUID = 1L;
  /** Number of symbols to memorise. */
  public static final int SYMBOLS = 10;
  /** One-hot width: blank, 8 data symbols, marker. */
  public static final int ALPHABET = 10;
  public static final int BLANK = 0;
  public static final int MARKER = 9;

  /** @param delay T, the steps between the last symbol and the marker; the sequence length is T + 20 */
  public record Options(int delay, long sequences, long seed) implements Serializable {
    public Options {
      Seeds.checkSteps(delay, 1);
      Seeds.checkCount(sequences);
    }
  }

  private final Options o;
  private final DatasetSpec spec;

  public CopySource(Options options) {
    this.o = options;
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "copy");
    info.put("seed", o.seed());
    info.put("delay", (long) o.delay());
    info.put("one_hot", true);
    this.spec = new DatasetSpec("copy", ALPHABET, 9, o.delay() + 2 * SYMBOLS, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY,
        false, null, info);
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
    int T = spec.steps();
    int B = count;
    int F = ALPHABET;
    float[] x = new float[T * B * F];
    int[] y = new int[T * B];
    for (int b = 0; b < B; b++) {
      SplittableRandom rng = Seeds.forSequence(o.seed(), first + b);
      int[] input = new int[T];
      for (int k = 0; k < SYMBOLS; k++) {
        int s = 1 + rng.nextInt(8);
        input[k] = s;
        // the last 10 steps recall the symbols in order
        y[(T - SYMBOLS + k) * B + b] = s;
      }
      input[T - SYMBOLS - 1] = MARKER;
      for (int t = 0; t < T; t++) {
        x[(t * B + b) * F + input[t]] = 1f;
      }
    }
    return new Batch(T, B, F, x, null, y, null);
  }
}
