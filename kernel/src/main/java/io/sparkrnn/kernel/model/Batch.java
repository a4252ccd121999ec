package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One batch of B sequences of T steps: the inputs, the targets for the model's mode and loss, and
 * optional lengths.
 *
 * <p>Layouts (features fastest, a "sequence of batches"; NumPy C-order {@code [T, B, F]}):
 * <ul>
 *   <li>{@code x} [T][B][F]: element (t, b, f) at {@code (t * B + b) * F + f};
 *   <li>{@code targets} (mse) [T][B][O] for seq2seq, [B][O] for seq2one;
 *   <li>{@code classes} (cross_entropy) [T][B] for seq2seq, [B] for seq2one, ids in [0, O);
 *   <li>{@code lengths} [B], or null when every sequence has T steps. Steps t ≥ lengths[b] are
 *       padding: the state passes through them unchanged and they add no loss. Seq2one reads
 *       step lengths[b] − 1.
 * </ul>
 * Targets may be null for forward-only use (predict, generate).
 */
public final class Batch {
  private final int steps;
  private final int batchSize;
  private final int features;
  private final float[] x;
  private final float[] targets;
  private final int[] classes;
  private final int[] lengths;

  public Batch(int steps, int batchSize, int features, float[] x, float[] targets, int[] classes, int[] lengths) {
    if (steps < 1 || batchSize < 1 || features < 1) {
      throw new BadInputException("T, B and F must be positive, found T=" + steps + " B=" + batchSize + " F=" + features);
    }
    if ((long) steps * batchSize * features != x.length) {
      throw new BadInputException("x holds " + x.length + " values, expected T*B*F = " + steps + "*" + batchSize + "*" + features);
    }
    if (targets != null && classes != null) {
      throw new BadInputException("give float targets (mse) or class ids (cross_entropy), not both");
    }
    if (lengths != null) {
      if (lengths.length != batchSize) {
        throw new BadInputException("lengths has " + lengths.length + " entries, expected B = " + batchSize);
      }
      for (int b = 0; b < batchSize; b++) {
        if (lengths[b] < 0 || lengths[b] > steps) {
          throw new BadInputException("lengths[" + b + "] = " + lengths[b] + ", expected 0.." + steps);
        }
      }
    }
    this.steps = steps;
    this.batchSize = batchSize;
    this.features = features;
    this.x = x;
    this.targets = targets;
    this.classes = classes;
    this.lengths = lengths;
  }

  /** Inputs only, all sequences of full length. */
  public static Batch inputsOnly(int steps, int batchSize, int features, float[] x) {
    return new Batch(steps, batchSize, features, x, null, null, null);
  }

  /**
   * A batch of random data at a model's shape, for timing and tests: inputs and targets ~ U(−1, 1)
   * (mse) or uniform class ids in [0, O) (cross_entropy), every sequence full length. The same
   * seed gives the same batch: x is drawn first, in layout order, then the targets.
   */
  public static Batch random(ModelConfig config, int steps, int batchSize, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[steps * batchSize * config.inputSize()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    int rows = config.mode() == Mode.SEQ2SEQ ? steps * batchSize : batchSize;
    if (config.loss() == LossType.MSE) {
      float[] y = new float[rows * config.outputSize()];
      for (int i = 0; i < y.length; i++) {
        y[i] = (float) (r.nextDouble() * 2 - 1);
      }
      return new Batch(steps, batchSize, config.inputSize(), x, y, null, null);
    }
    int[] y = new int[rows];
    for (int i = 0; i < rows; i++) {
      y[i] = r.nextInt(config.outputSize());
    }
    return new Batch(steps, batchSize, config.inputSize(), x, null, y, null);
  }

  /** T */
  public int steps() {
    return steps;
  }

  /** B */
  public int batchSize() {
    return batchSize;
  }

  /** F */
  public int features() {
    return features;
  }

  public float[] x() {
    return x;
  }

  public float[] targets() {
    return targets;
  }

  public int[] classes() {
    return classes;
  }

  /** Null when every sequence has all T steps. */
  public int[] lengths() {
    return lengths;
  }

  public boolean hasTargets() {
    return targets != null || classes != null;
  }

  /** The number of steps of sequence b that count. */
  public int length(int b) {
    return lengths == null ? steps : lengths[b];
  }

  /** Index of (t, b, f) in x. */
  public int xAt(int t, int b, int f) {
    return (t * batchSize + b) * features + f;
  }

  /**
   * Checks that this batch fits the model: F, the target layout for the mode and loss, class ids
   * in range on valid steps, and lengths ≥ 1 for seq2one.
   *
   * @param requireTargets whether targets must be present (training) or may be absent (predict)
   */
  public void validateFor(ModelConfig config, boolean requireTargets) {
    if (features != config.inputSize()) {
      throw new BadInputException("x has F=" + features + ", the model's input_size is " + config.inputSize());
    }
    boolean seq2seq = config.mode() == Mode.SEQ2SEQ;
    int O = config.outputSize();
    if (config.loss() == LossType.MSE) {
      if (classes != null) {
        throw new BadInputException("y holds class ids (I32) but the model's loss is mse (F32 targets expected)");
      }
      if (targets != null) {
        long expected = seq2seq ? (long) steps * batchSize * O : (long) batchSize * O;
        if (targets.length != expected) {
          throw new BadInputException("y holds " + targets.length + " values, expected "
              + (seq2seq ? "[T,B,O] = [" + steps + "," + batchSize + "," + O + "]" : "[B,O] = [" + batchSize + "," + O + "]"));
        }
      }
    } else {
      if (targets != null) {
        throw new BadInputException("y holds floats but the model's loss is cross_entropy (I32 class ids expected)");
      }
      if (classes != null) {
        long expected = seq2seq ? (long) steps * batchSize : batchSize;
        if (classes.length != expected) {
          throw new BadInputException("y holds " + classes.length + " class ids, expected "
              + (seq2seq ? "[T,B] = [" + steps + "," + batchSize + "]" : "[B] = [" + batchSize + "]"));
        }
        for (int b = 0; b < batchSize; b++) {
          int tEnd = seq2seq ? length(b) : 1;
          for (int t = 0; t < tEnd; t++) {
            int id = classes[seq2seq ? t * batchSize + b : b];
            if (id < 0 || id >= O) {
              throw new BadInputException("y class id " + id + " at " + (seq2seq ? "(t=" + t + ", b=" + b + ")" : "b=" + b)
                  + " is outside [0, " + O + ")");
            }
          }
        }
      }
    }
    if (requireTargets && !hasTargets()) {
      throw new BadInputException("the batch has no targets y");
    }
    if (!seq2seq && lengths != null) {
      for (int b = 0; b < batchSize; b++) {
        if (lengths[b] < 1) {
          throw new BadInputException("lengths[" + b + "] = 0; seq2one needs at least one step per sequence");
        }
      }
    }
  }

  /** The number of loss terms, the divisor of the mean loss: valid (t, b) (seq2one: B), times O for mse. */
  public long lossCount(ModelConfig config) {
    return lossCount(config, 0, batchSize);
  }

  /** {@link #lossCount(ModelConfig)} of the sequences [from, to) alone. */
  public long lossCount(ModelConfig config, int from, int to) {
    long steps = 0;
    if (config.mode() == Mode.SEQ2ONE) {
      steps = to - from;
    } else {
      for (int b = from; b < to; b++) {
        steps += length(b);
      }
    }
    return steps * config.loss().termsPerStep(config.outputSize());
  }

  /**
   * The sequences [from, to) as a batch of their own (copies): x, targets or class ids, and
   * lengths, in the layouts above with B = to − from.
   */
  public Batch sequences(ModelConfig config, int from, int to) {
    if (from < 0 || to > batchSize || from >= to) {
      throw new BadInputException("sequences [" + from + ", " + to + ") of a batch of " + batchSize);
    }
    int n = to - from;
    int rows = config.mode() == Mode.SEQ2SEQ ? steps : 1; // target rows per sequence: [T][B] or [B]
    int O = config.outputSize();
    float[] subX = new float[steps * n * features];
    for (int t = 0; t < steps; t++) {
      System.arraycopy(x, (t * batchSize + from) * features, subX, t * n * features, n * features);
    }
    float[] subTargets = null;
    int[] subClasses = null;
    if (targets != null) {
      subTargets = new float[rows * n * O];
      for (int t = 0; t < rows; t++) {
        System.arraycopy(targets, (t * batchSize + from) * O, subTargets, t * n * O, n * O);
      }
    }
    if (classes != null) {
      subClasses = new int[rows * n];
      for (int t = 0; t < rows; t++) {
        System.arraycopy(classes, t * batchSize + from, subClasses, t * n, n);
      }
    }
    int[] subLengths = lengths == null ? null : Arrays.copyOfRange(lengths, from, to);
    return new Batch(steps, n, features, subX, subTargets, subClasses, subLengths);
  }
}
