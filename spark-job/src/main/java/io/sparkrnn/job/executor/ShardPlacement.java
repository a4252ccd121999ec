package io.sparkrnn.job.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.AccumulatorV2;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;

/**
 * Where a run's partitions ran and what each executor's {@link ShardCache} did, gathered from the
 * tasks by a Spark accumulator (merged on the driver as each task ends, failed tasks left out), and
 * the task slots built from it so that each partition prefers the executor that already holds its
 * shards.
 *
 * <p>Locality: under {@code --sync job} partition p reads the shards {@code s mod P = p} every step
 * (GradientTask), and under {@code --sync barrier} a segment's task p reads them for the whole
 * segment; both prefetch on the executor that ran p last. {@link #slots} makes the next step's or
 * segment's RDD prefer that executor ({@code executor_HOST_ID}, Spark's process-local location), so
 * Spark's delay scheduling ({@code spark.locality.wait}, 3 s by default) keeps p where its cache
 * is. A barrier stage launches all its tasks in one round of offers: Spark honours the preferences
 * when that round can, and otherwise waits out the locality delay before it places them anywhere.
 */
public final class ShardPlacement extends AccumulatorV2<ShardPlacement.Seen, ShardPlacement.Report> {
  private static final long serialVersionUID = 1L;

  /**
   * One task's observation at its end.
   *
   * @param location Spark's task location of its executor, {@code executor_HOST_ID}
   */
  public record Seen(int partition, String location, ShardCache.Stats stats) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** The run so far: partition → last executor location, and executor location → its cache counters. */
  public record Report(TreeMap<Integer, String> partitions, TreeMap<String, ShardCache.Stats> executors) implements Serializable {
    private static final long serialVersionUID = 1L;

    Report() {
      this(new TreeMap<>(), new TreeMap<>());
    }

    Report copy() {
      return new Report(new TreeMap<>(partitions), new TreeMap<>(executors));
    }
  }

  private Report report = new Report();

  @Override
  public boolean isZero() {
    return report.partitions().isEmpty() && report.executors().isEmpty();
  }

  @Override
  public AccumulatorV2<Seen, Report> copy() {
    ShardPlacement c = new ShardPlacement();
    synchronized (this) {
      c.report = report.copy();
    }
    return c;
  }

  @Override
  public synchronized void reset() {
    report = new Report();
  }

  @Override
  public synchronized void add(Seen seen) {
    report.partitions().put(seen.partition(), seen.location());
    report.executors().merge(seen.location(), seen.stats(), ShardCache.Stats::latest);
  }

  @Override
  public void merge(AccumulatorV2<Seen, Report> other) {
    Report theirs = other.value();
    synchronized (this) {
      // merges come in task completion order, so a partition's later location overwrites its earlier one
      report.partitions().putAll(theirs.partitions());
      theirs.executors().forEach((k, v) -> report.executors().merge(k, v, ShardCache.Stats::latest));
    }
  }

  @Override
  public synchronized Report value() {
    return report.copy();
  }

  /** Records, on an executor at a task's end, where partition ran and this JVM's counters for the run. */
  static void observe(ShardCache.Use use, int partition) {
    if (use.placement() == null) {
      return;
    }
    use.placement().add(new Seen(partition, location(), ShardCache.JVM.stats(use.run())));
  }

  /** This JVM's task location, {@code executor_HOST_ID} ("driver" outside Spark). */
  static String location() {
    SparkEnv env = SparkEnv.get();
    if (env == null) {
      return "driver";
    }
    return "executor_" + env.blockManager().blockManagerId().host() + "_" + env.executorId();
  }

  /**
   * The task slots 0..P−1 (one element, its index, per partition), each preferring the executor
   * where it last ran. With no placement known yet, or on a local master (one executor), plain
   * slots.
   */
  public static JavaRDD<Integer> slots(JavaSparkContext sc, int partitions, Map<Integer, String> lastRan) {
    boolean known = !lastRan.isEmpty() && ExecutorRuntime.localThreads(sc.master()) == 0;
    List<Tuple2<Integer, scala.collection.immutable.Seq<String>>> items = new ArrayList<>(partitions);
    for (int p = 0; p < partitions; p++) {
      String where = known ? lastRan.get(p) : null;
      List<String> prefs = where == null || !where.startsWith("executor_") ? List.of() : List.of(where);
      items.add(new Tuple2<>(p, CollectionConverters.asScala(prefs).toList()));
    }
    if (!known) {
      return sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions);
    }
    return sc.sc().makeRDD(CollectionConverters.asScala(items).toSeq(), ClassTag$.MODULE$.apply(Integer.class)).toJavaRDD();
  }
}
