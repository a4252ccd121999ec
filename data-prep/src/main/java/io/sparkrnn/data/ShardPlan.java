package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Which sequences go into which shard. The first N − V sequences (in source order) form the
 * training split and the last V = round(N · fraction) (at least 1 when the fraction is positive
 * and N ≥ 2) the validation split; each split is cut into shards of B, the last one smaller.
 * Shards are numbered from 0, training shards first.
 */
public final class ShardPlan {
  private ShardPlan() {}

  /** One shard: sequences {@code first .. first+count-1} of the source. */
  public record Entry(int index, Split split, long first, int count) implements Serializable {
    private static final long serialVersionUID = 1L;

    public String file() {
      return ShardInfo.fileName(index);
    }
  }

  public static List<Entry> plan(long n, int batch, double validationFraction) {
    if (n < 1) {
      throw new BadInputException("the input holds no sequences (empty input)");
    }
    long validation = Math.round(n * validationFraction);
    if (validationFraction > 0 && validation == 0 && n >= 2) {
      validation = 1;
    }
    long train = n - validation;
    if (train < 1) {
      throw new BadInputException("--validation-fraction " + validationFraction + " leaves no training sequences of "
          + n);
    }
    List<Entry> entries = new ArrayList<>();
    cut(entries, Split.TRAIN, 0, train, batch);
    cut(entries, Split.VALIDATION, train, validation, batch);
    if (entries.size() > 10_000_000) {
      throw new BadInputException(entries.size() + " shards is too many; raise --batch");
    }
    return entries;
  }

  private static void cut(List<Entry> entries, Split split, long first, long count, int batch) {
    for (long s = 0; s < count; s += batch) {
      entries.add(new Entry(entries.size(), split, first + s, (int) Math.min(batch, count - s)));
    }
  }
}
