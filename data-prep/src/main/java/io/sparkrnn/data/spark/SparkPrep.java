package io.sparkrnn.data.spark;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.DatasetWriter;
import io.sparkrnn.data.FeatureNames;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Moments;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.data.ShardCodec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.ShardPlan;
import io.sparkrnn.data.Split;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The distributed prep: the same conversion as {@link Prep}, with one Spark task per shard (or
 * per group of shards), giving byte-identical shards and manifest.
 *
 * <p>Steps, all on the driver except where noted:
 * <ol>
 *   <li>with normalisation, tasks compute {@link Moments} of the training shards; their exact sums
 *       merge to the local prep's statistics in any order;
 *   <li>the driver prepares the output directory;
 *   <li>each task encodes its shards and publishes each one through a task-attempt-unique
 *       temporary file renamed into place ({@link DatasetWriter#publishShard}); a retried or
 *       speculative attempt of the same shard produces the same bytes, so a re-run is idempotent;
 *   <li>once every task succeeded, the driver checks each shard's size and writes manifest.json
 *       (last, by rename), then removes {@code _temporary/}.
 * </ol>
 * If the job fails, the driver deletes what was written (the directory too if it created it), so
 * neither a partial nor a duplicate shard, nor a manifest, remains.
 */
public final class SparkPrep {
  private static final Logger LOG = LoggerFactory.getLogger(SparkPrep.class);

  /** Shards are grouped into at most this many tasks. */
  static final int MAX_PARTITIONS = 10_000;

  private SparkPrep() {}

  /** Runs the prep on {@code sc} with one task per shard. */
  public static Manifest run(JavaSparkContext sc, SequenceSource source, PrepOptions options) throws IOException {
    return run(sc, source, options, -1, 0);
  }

  /**
   * As {@link #run(JavaSparkContext, SequenceSource, PrepOptions)}, with fault injection for tests:
   * the first {@code failingAttempts} attempts of shard {@code failShard}'s task write half a
   * temporary file and then fail. Spark's retry must then produce the same dataset, or, when every
   * attempt fails, no dataset at all.
   */
  public static Manifest run(JavaSparkContext sc, SequenceSource source, PrepOptions options, int failShard,
      int failingAttempts) throws IOException {
    DatasetSpec spec = source.spec();
    Prep.checkBatch(spec, options);
    List<ShardPlan.Entry> plan = ShardPlan.plan(source.count(), options.batch(), options.validationFraction());
    SerializableConfiguration conf = new SerializableConfiguration(sc.hadoopConfiguration());
    FileSystem fs = FileSystems.get(options.out(), sc.hadoopConfiguration());
    Path out = fs.makeQualified(new Path(options.out()));

    // the normalisation pass reads every training shard's sequences: as long as the write, so it reports as the write
    // does, under the same scope (a scale audit: a minute without a line), in at most MAX_PARTITIONS tasks
    Normalization normalization;
    try (JobScope scope = JobScope.open(sc, "prep-moments")) {
      scope.reportProgress(LOG::info);
      normalization = options.normalization(spec, () -> {
        List<ShardPlan.Entry> train = new ArrayList<>();
        for (ShardPlan.Entry e : plan) {
          if (e.split() == Split.TRAIN) {
            train.add(e);
          }
        }
        LOG.info("prep {}: moments of {} training shards for --normalize, then {} shards written", spec.task(), train.size(),
            plan.size());
        scope.describe("prep " + spec.task() + ": moments for --normalize");
        // exact sums: the partials' order does not change the statistics
        return sc.parallelize(train, Math.max(1, Math.min(train.size(), MAX_PARTITIONS)))
            .map(e -> Moments.forSpec(spec).add(source.read(e.first(), e.count(), conf.get()), spec.mode()))
            .fold(Moments.forSpec(spec), Moments::merge)   // no training shard: the empty moments' own refusal
            .toNormalization();
      });
    }

    // with --overwrite the shards go to a staging directory that replaces the old dataset at commit
    DatasetWriter.Output output = DatasetWriter.prepare(fs, out, options.overwrite());
    Path dir = output.writeDir();
    String dirName = dir.toString();
    try (JobScope scope = JobScope.open(sc, "prep")) {
      scope.reportProgress(LOG::info);
      try {
        Normalization norm = normalization;
        scope.describe("prep " + spec.task() + " -> " + out);
        List<ShardInfo> shards = sc.parallelize(plan, Math.min(plan.size(), MAX_PARTITIONS))
            .map(e -> writeShard(source, spec, norm, e, conf, dirName, failShard, failingAttempts))
            .collect();
        for (ShardInfo s : shards) {
          long len = fs.getFileStatus(new Path(dir, s.file())).getLen();
          if (len != s.bytes()) {
            throw new IOException(s.file() + ": " + len + " bytes after the job, the task wrote " + s.bytes());
          }
        }
        Manifest manifest = new Manifest(spec, shards, normalization);
        output.commit(manifest);
        return manifest;
      } catch (Exception e) {
        // Spark's SparkException is checked but not declared by collect(), hence Exception here.
        // Tasks of a failed job may still be running; cancel them and wait, or one could publish a
        // shard after the cleanup below.
        scope.cancel();
        output.abort();
        throw e;
      }
    }
  }

  /** Runs in a task: reads, normalises, encodes and publishes one shard. */
  private static ShardInfo writeShard(SequenceSource source, DatasetSpec spec, Normalization normalization,
      ShardPlan.Entry e, SerializableConfiguration conf, String dirName, int failShard, int failingAttempts)
      throws IOException {
    TaskContext task = TaskContext.get();
    String attempt = "attempt-" + task.stageId() + "-" + task.partitionId() + "-" + task.taskAttemptId();
    Batch batch = source.read(e.first(), e.count(), conf.get());
    if (normalization != null) {
      Moments.apply(batch, spec.mode(), normalization, FeatureNames.of(spec));
    }
    byte[] bytes = ShardCodec.encode(batch, spec, e.file());
    Path dir = new Path(dirName);
    FileSystem fs = FileSystems.get(dir, conf.get());
    if (e.index() == failShard && task.attemptNumber() < failingAttempts) {
      Path partial = new Path(new Path(new Path(dir, DatasetWriter.TEMP_DIR), attempt), e.file());
      try (FSDataOutputStream out = fs.create(partial, true)) {
        out.write(bytes, 0, bytes.length / 2);
      }
      throw new IOException("injected failure after a partial write of " + e.file() + " (attempt " + attempt + ")");
    }
    return DatasetWriter.publishShard(fs, dir, e.file(), e.split(), e.count(), bytes, attempt);
  }
}
