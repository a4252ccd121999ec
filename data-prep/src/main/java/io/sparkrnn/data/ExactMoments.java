package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;

/**
 * Per-feature moments of float32 values whose sums are exact, so that partial results merged in
 * any order, from any partitioning of the data, give bit-identical statistics. The table prep
 * needs this: how many tasks see which rows depends on the cluster, and a double sum's last bits
 * depend on the order of its terms.
 *
 * <p>Each value v = ±m · 2^e (m &lt; 2^24, the float's significand) is added as an integer into a
 * fixed-point accumulator of 16-bit digits ({@link ExactSum}); v² = m² · 2^(2e) is added as two
 * 24-bit halves of m². Statistics are formed from the exact sums with {@link BigDecimal}: the mean
 * and the variance to 34 digits (DECIMAL128), then each a double (the std its square root).
 *
 * <p>Call order: {@code new ExactMoments(F, O)} → {@link #addInput}/{@link #addTarget}* and
 * {@link #merge}* in any order → {@link #toNormalization}.
 */
public final class ExactMoments implements Serializable {
  private static final long serialVersionUID = 1L;

  private long inputCount;
  private final ExactSum[] inputSum;
  private final ExactSum[] inputSumSq;
  private long targetCount;
  /** Null when targets are class ids (not normalised). */
  private final ExactSum[] targetSum;
  private final ExactSum[] targetSumSq;

  /** @param outputs O for float targets, 0 when targets are class ids */
  public ExactMoments(int features, int outputs) {
    inputSum = sums(features, false);
    inputSumSq = sums(features, true);
    targetSum = outputs > 0 ? sums(outputs, false) : null;
    targetSumSq = outputs > 0 ? sums(outputs, true) : null;
  }

  private static ExactSum[] sums(int n, boolean squares) {
    ExactSum[] s = new ExactSum[n];
    for (int i = 0; i < n; i++) {
      s[i] = squares ? ExactSum.forSquares() : ExactSum.forValues();
    }
    return s;
  }

  /** Adds one valid step's inputs: x[offset .. offset+F). */
  public void addInput(float[] x, int offset) {
    inputCount++;
    for (int f = 0; f < inputSum.length; f++) {
      inputSum[f].addFloat(x[offset + f]);
      inputSumSq[f].addSquare(x[offset + f]);
    }
  }

  /** Adds one target row: y[offset .. offset+O); a no-op when targets are class ids. */
  public void addTarget(float[] y, int offset) {
    if (targetSum == null) {
      return;
    }
    targetCount++;
    for (int o = 0; o < targetSum.length; o++) {
      targetSum[o].addFloat(y[offset + o]);
      targetSumSq[o].addSquare(y[offset + o]);
    }
  }

  /** Adds another partial result into this one (exact: the order of merges does not matter). */
  public ExactMoments merge(ExactMoments other) {
    inputCount += other.inputCount;
    targetCount += other.targetCount;
    for (int f = 0; f < inputSum.length; f++) {
      inputSum[f].merge(other.inputSum[f]);
      inputSumSq[f].merge(other.inputSumSq[f]);
    }
    if (targetSum != null) {
      for (int o = 0; o < targetSum.length; o++) {
        targetSum[o].merge(other.targetSum[o]);
        targetSumSq[o].merge(other.targetSumSq[o]);
      }
    }
    return this;
  }

  public long inputCount() {
    return inputCount;
  }

  /** Mean and population standard deviation (std 1 for a feature whose every value is the same). */
  public Normalization toNormalization() {
    if (inputCount == 0) {
      throw new BadInputException("cannot normalise: the training split has no valid steps");
    }
    double[][] in = stats(inputSum, inputSumSq, inputCount);
    double[][] out = targetSum == null ? new double[][] {null, null} : stats(targetSum, targetSumSq, targetCount);
    return new Normalization(in[0], in[1], out[0], out[1]);
  }

  private static final MathContext CONTEXT = MathContext.DECIMAL128;

  private static double[][] stats(ExactSum[] sum, ExactSum[] sumSq, long n) {
    double[] mean = new double[sum.length];
    double[] std = new double[sum.length];
    BigDecimal count = BigDecimal.valueOf(n);
    for (int i = 0; i < sum.length; i++) {
      BigDecimal s = sum[i].value();
      BigDecimal s2 = sumSq[i].value();
      mean[i] = s.divide(count, CONTEXT).doubleValue();
      // var = (n·Σv² − (Σv)²) / n²: the numerator is exact (BigDecimal products and difference),
      // never negative, and 0 exactly when every value is the same. Only then is the feature
      // constant, left unscaled (std 1, not a division by 0); any other spread, however small in
      // absolute terms (a feature in nanoamperes), is scaled like every other: the least one
      // float32 values can have, 0 and 2^-149, is std 2^-150, far inside double's range.
      BigDecimal numerator = count.multiply(s2).subtract(s.multiply(s));
      if (numerator.signum() == 0) {
        std[i] = 1;
      } else {
        std[i] = Math.sqrt(numerator.divide(count.multiply(count), CONTEXT).doubleValue());
      }
    }
    return new double[][] {mean, std};
  }

  /**
   * An exact sum of terms a · 2^k with |a| &lt; 2^24, held as base-2^16 digits in longs: term
   * a · 2^k lands in digit ⌊(k − minExp) / 16⌋ shifted by (k − minExp) mod 16, so below 2^40 per
   * term; digits are normalised (carries propagated) every 2^22 terms, long before a long could
   * overflow.
   */
  static final class ExactSum implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final int DIGIT_BITS = 16;
    private static final int CARRY_EVERY = 1 << 22;
    /** Spare digits above the largest term for the growth of sums of up to 2^64 terms. */
    private static final int SPARE_DIGITS = 5;

    /** The exponent of digit 0's lowest bit. */
    private final int minExp;
    /** Little-endian digits; all but the last in [0, 2^16) after {@link #normalize}. */
    private final long[] digits;
    private int pending;

    private ExactSum(int minExp, int maxExp) {
      this.minExp = minExp;
      this.digits = new long[(maxExp - minExp + 24) / DIGIT_BITS + 1 + SPARE_DIGITS];
    }

    /** Sums of float values: significands &lt; 2^24 with exponents −149 (subnormal) .. 104. */
    static ExactSum forValues() {
      return new ExactSum(-149, 104);
    }

    /** Sums of squares: two 24-bit halves of m² with exponents −298 .. 2·104 + 24. */
    static ExactSum forSquares() {
      return new ExactSum(-298, 232);
    }

    void addFloat(float v) {
      long m = significand(v);
      if (m != 0) {
        add(v < 0 ? -m : m, exponent(v));
      }
    }

    void addSquare(float v) {
      long m = significand(v);
      if (m == 0) {
        return;
      }
      // v² = m'² · 2^(2e); m'² < 2^48 is added as lo + hi · 2^24, each below 2^24
      long sq = m * m;
      int k = 2 * exponent(v);
      add(sq & 0xffffff, k);
      add(sq >>> 24, k + 24);
    }

    /** m' of |v| = m' · 2^e: 1.m (as an integer below 2^24) for normal floats, 0.m for subnormal ones; 0 for ±0. */
    private static long significand(float v) {
      int bits = Float.floatToRawIntBits(v);
      int biased = (bits >>> 23) & 0xff;
      if (biased == 0xff) {
        throw new BadInputException("exact sum of a non-finite value " + v);
      }
      long m = bits & 0x7fffff;
      return biased == 0 ? m : m | 1L << 23;
    }

    /** e of |v| = m' · 2^e: biased − 150, with subnormals at the smallest normal exponent. */
    private static int exponent(float v) {
      int biased = (Float.floatToRawIntBits(v) >>> 23) & 0xff;
      return (biased == 0 ? 1 : biased) - 150;
    }

    private void add(long a, int exp) {
      if (a == 0) {
        return;
      }
      int shift = exp - minExp;
      digits[shift / DIGIT_BITS] += a << (shift % DIGIT_BITS);
      if (++pending >= CARRY_EVERY) {
        normalize();
      }
    }

    /** Propagates carries: every digit but the last into [0, 2^16); the value is unchanged. */
    private void normalize() {
      for (int i = 0; i < digits.length - 1; i++) {
        long carry = digits[i] >> DIGIT_BITS; // floor division, also for negative digits
        digits[i] -= carry << DIGIT_BITS;
        digits[i + 1] += carry;
      }
      pending = 0;
    }

    void merge(ExactSum other) {
      if (other.minExp != minExp || other.digits.length != digits.length) {
        throw new BadInputException("merging exact sums of different ranges");
      }
      normalize();
      other.normalize();
      for (int i = 0; i < digits.length; i++) {
        digits[i] += other.digits[i];
      }
      normalize();
    }

    /** The exact sum. */
    BigDecimal value() {
      normalize();
      BigInteger total = BigInteger.ZERO;
      for (int i = digits.length - 1; i >= 0; i--) {
        total = total.shiftLeft(DIGIT_BITS).add(BigInteger.valueOf(digits[i]));
      }
      // total · 2^minExp, exact: a negative power of two has a finite decimal expansion
      BigDecimal value = new BigDecimal(total);
      return minExp >= 0 ? value.multiply(new BigDecimal(BigInteger.ONE.shiftLeft(minExp)))
          : value.divide(new BigDecimal(BigInteger.ONE.shiftLeft(-minExp)));
    }
  }
}
