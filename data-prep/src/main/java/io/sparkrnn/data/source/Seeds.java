package io.sparkrnn.data.source;

import io.sparkrnn.kernel.BadInputException;
import java.util.SplittableRandom;

/** Per-sequence random streams: sequence i of seed s draws from its own generator, so any range can be made alone. */
final class Seeds {
  private Seeds() {}

  /** A generator for sequence {@code index} under {@code seed} (SplitMix64 finaliser of both). */
  static SplittableRandom forSequence(long seed, long index) {
    long z = seed * 0x9E3779B97F4A7C15L + index + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return new SplittableRandom(z ^ (z >>> 31));
  }

  static void checkCount(long n) {
    if (n < 1) {
      throw new BadInputException("--sequences must be at least 1, found " + n);
    }
  }

  static void checkSteps(int steps, int min) {
    if (steps < min || steps > 1 << 24) {
      throw new BadInputException("--steps must be in [" + min + ", " + (1 << 24) + "], found " + steps);
    }
  }

  /** Checks a read range against N. */
  static void checkRange(long first, int count, long n) {
    if (first < 0 || count < 1 || first + count > n) {
      throw new BadInputException("sequences " + first + ".." + (first + count - 1) + " outside 0.." + (n - 1));
    }
  }
}
