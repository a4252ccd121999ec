package io.sparkrnn.data;

import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;

/**
 * A source of N sequences addressable by index, so that any range can be produced on its own: by
 * the local prep in order, or by Spark tasks in parallel, with identical results.
 *
 * <p>Call order: construct (parses options and input headers, fails early on bad input) →
 * {@link #spec()}, {@link #count()} → {@link #read} for ranges, any order, any number of times.
 * Implementations are immutable and serializable (they travel to Spark executors); {@code read}
 * must be deterministic: the same range gives the same values every time.
 */
public interface SequenceSource extends Serializable {
  /** Task, F, O, T, mode, loss and the other properties every batch has. */
  DatasetSpec spec();

  /** N, the number of sequences, at least 1. */
  long count();

  /**
   * Sequences {@code first .. first+count-1} as one raw (not normalised) batch of B = count:
   * x [T,B,F], targets per the spec, lengths when variable-length (steps past a length are 0).
   *
   * @param conf for sources that read files through Hadoop
   * @throws IllegalArgumentException for bad values in the input, naming file and position
   */
  Batch read(long first, int count, Configuration conf) throws IOException;
}
