package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * Converts a {@link SequenceSource} into a dataset in this JVM, one shard at a time (memory: one
 * shard). With normalisation the training shards are read twice: once for the statistics, once to
 * write. On any error the partial output is deleted and the error rethrown.
 *
 * <p>{@code io.sparkrnn.data.spark.SparkPrep} does the same with Spark tasks; both give
 * byte-identical shards and manifests for the same source and options.
 */
public final class Prep {
  private Prep() {}

  public static Manifest run(SequenceSource source, PrepOptions options, Configuration conf) throws IOException {
    DatasetSpec spec = source.spec();
    checkBatch(spec, options);
    List<ShardPlan.Entry> plan = ShardPlan.plan(source.count(), options.batch(), options.validationFraction());
    Normalization normalization = options.normalization(spec, () -> {
      Moments moments = Moments.forSpec(spec);   // exact sums: one accumulator, as any merge of partials would give
      for (ShardPlan.Entry e : plan) {
        if (e.split() == Split.TRAIN) {
          JvmStop.check("prep: statistics at shard " + e.index() + " of " + plan.size());
          try {
            moments.add(source.read(e.first(), e.count(), conf), spec.mode());
          } catch (IOException io) {
            throw new UncheckedIOException(io);
          }
        }
      }
      return moments.toNormalization();
    });
    try (DatasetWriter writer = DatasetWriter.create(options.out(), conf, spec, options.overwrite())) {
      for (ShardPlan.Entry e : plan) {
        // a signal stops the prep here, and the writer's close removes what it wrote (a kill audit: it went on writing)
        JvmStop.check("prep: shard " + e.index() + " of " + plan.size());
        Batch batch = source.read(e.first(), e.count(), conf);
        if (normalization != null) {
          Moments.apply(batch, spec.mode(), normalization, FeatureNames.of(spec));
        }
        writer.write(e.index(), e.split(), batch);
      }
      return writer.commit(normalization);
    }
  }

  /** Refuses normalising one-hot inputs and a B too large for one shard file. */
  public static void checkBatch(DatasetSpec spec, PrepOptions options) {
    if (options.batch() > spec.maxBatch()) {
      throw new BadInputException("--batch " + options.batch() + " makes shards over 2 GiB at T=" + spec.steps()
          + " F=" + spec.features() + "; use at most " + spec.maxBatch());
    }
    if (options.normalize() && spec.vocabulary() != null) {
      throw new BadInputException("--normalize applies to real-valued inputs; " + spec.task()
          + " inputs are one-hot");
    }
    if (options.normalize() && Boolean.TRUE.equals(spec.source().get("one_hot"))) {
      throw new BadInputException("--normalize applies to real-valued inputs; " + spec.task()
          + " inputs are one-hot");
    }
  }
}
