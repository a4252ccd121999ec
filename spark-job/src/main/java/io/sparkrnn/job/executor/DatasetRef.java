package io.sparkrnn.job.executor;

import io.sparkrnn.data.Dataset;
import java.io.Serializable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The dataset as a task finds it: itself (tests, one JVM), or on Spark a broadcast, sent to each
 * executor once a run. Inside the task closure the whole manifest went with every step's tasks,
 * and a manifest grows with its shards: measured, serializing and reading back 20,000 shards'
 * manifest took 1.2 MB and about 0.1 s a step, a million shards' 62 MB and 4 s (docs/SCALING.md).
 * A broadcast value is one object per executor, shared by its tasks' threads: {@link Dataset} is
 * safe for that.
 */
public sealed interface DatasetRef extends Serializable {
  Dataset get();

  /** Frees what the executors and the driver hold for it; a direct one holds nothing. */
  void release();

  static DatasetRef of(Dataset dataset) {
    return new Direct(dataset);
  }

  /** Broadcasts {@code dataset}; the caller releases it when its jobs are done. */
  static DatasetRef shared(JavaSparkContext sc, Dataset dataset) {
    return new Shared(sc.broadcast(dataset));
  }

  record Direct(Dataset dataset) implements DatasetRef {
    private static final long serialVersionUID = 1L;

    @Override
    public Dataset get() {
      return dataset;
    }

    @Override
    public void release() {
      // nothing shared
    }
  }

  record Shared(Broadcast<Dataset> broadcast) implements DatasetRef {
    private static final long serialVersionUID = 1L;

    @Override
    public Dataset get() {
      return broadcast.value();
    }

    @Override
    public void release() {
      Broadcasts.destroy(broadcast);
    }
  }
}
