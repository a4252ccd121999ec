package io.sparkrnn.job.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.ml.RnnEstimator;
import io.sparkrnn.ml.RnnModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark ML API with its executors in their own JVMs: a standalone Master and two one-core
 * Workers, the driver in this JVM. What local mode cannot show: every closure, broadcast and task
 * result of {@code RnnEstimator.fit} (prep of the table, training) and {@code RnnModel.transform}
 * crosses a JVM boundary, and the engines run in the executors. The weights and every score equal,
 * bit for bit, those of the same fit on local[2] in this JVM, as the README's determinism promises
 * for any partition and executor count.
 */
@Tag("cluster")
class ClusterPipelineTest {
  static final int SENSORS = 4;
  static final int HOURS = 120;
  static final int FORECAST = 3;

  /** A fit, its scores and forecast rows (by sensor and time), and its weights. */
  record Result(float[] weights, List<Row> scored) {}

  static Result fitAndScore(SparkSession spark, Path workDir) {
    Dataset<Row> table = ExampleTables.sensors(spark, SENSORS, HOURS, 7);
    RnnModel model = new RnnEstimator().setKeyCols("sensor").setOrderCol("ts").setInputCols("temp", "load").setSteps(24)
        .setStride(12).setHiddenSize(8).setMaxSteps(12).setBatch(8).setLr(0.02).setSeed(3).setWorkDir(workDir.toUri().toString())
        .fit(table);
    List<Row> scored = model.copy(new ParamMap()).setForecastSteps(FORECAST).transform(table).orderBy("sensor", "ts", "forecast")
        .collectAsList();
    return new Result(model.trainedModel().params().values(), scored);
  }

  @Test
  void fitAndTransformOnSeparateExecutorJvmsGiveTheBitsOfLocalMode(@TempDir Path work) throws Exception {
    SparkSession local = SparkSession.builder().master("local[2]").appName("ClusterPipelineTest-local")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    Result expected;
    try {
      expected = fitAndScore(local, work.resolve("local-fit"));
    } finally {
      local.stop();
    }
    assertEquals(SENSORS * (HOURS + FORECAST), expected.scored().size());

    Result actual;
    try (StandaloneCluster cluster = new StandaloneCluster(work.resolve("cluster"), 2, 1, 700)) {
      SparkSession.Builder b = SparkSession.builder().master(cluster.masterUrl()).appName("ClusterPipelineTest")
          .config("spark.jars", cluster.appJar().toString()).config("spark.sql.shuffle.partitions", "4")
          .config("spark.cores.max", "2");
      for (Map.Entry<String, String> e : cluster.driverConf(true).entrySet()) {
        b = b.config(e.getKey(), e.getValue());
      }
      SparkSession remote = b.getOrCreate();
      try {
        cluster.awaitExecutors(2, Duration.ofSeconds(60));
        // the tasks ran in the executor JVMs, not here: the driver has none of its own
        assertFalse(remote.sparkContext().isLocal());
        actual = fitAndScore(remote, work.resolve("cluster-fit"));
        assertTrue(remote.sparkContext().statusTracker().getExecutorInfos().length >= 3, "the driver and two executors");
      } finally {
        remote.stop();
      }
    }
    assertArrayEquals(expected.weights(), actual.weights(), "the fit's weights");
    assertEquals(expected.scored(), actual.scored(), "every row's prediction and the forecast rows");
  }
}
