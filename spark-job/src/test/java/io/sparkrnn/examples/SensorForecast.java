package io.sparkrnn.examples;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;

import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.ml.RnnEstimator;
import io.sparkrnn.ml.RnnModel;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * README example 8 in Java: fit an LSTM on a long-format sensors table with {@link RnnEstimator},
 * forecast each sensor's last day closed loop with {@link RnnModel#setForecastSteps}, and score
 * the forecast against the held-back truth and two naive forecasts; save and load the model.
 *
 * <pre>
 * bin/run-example SensorForecast [SENSORS HOURS TRAIN_STEPS OUT_DIR]     (default 100 1000 1500 runs/sensors-ml)
 * </pre>
 * bin/run-example builds the project as bin/spark-rnn does (the build compiles the tests, and with
 * them this class) and runs this class with bin/spark-rnn's JVM options and class path, the test
 * classes first. {@code SensorForecastTest} runs it small.
 */
public final class SensorForecast {
  /** What one run measured. */
  public record Result(long rows, double fitSeconds, double transformSeconds, double forecastRmse,
      double persistenceRmse, double yesterdayRmse, boolean reloadedIdentical) {}

  private SensorForecast() {}

  /** Usage: SensorForecast [SENSORS [HOURS [TRAIN_STEPS [OUT_DIR]]]]; bad arguments exit 2 with one line, as the CLI does. */
  public static void main(String[] args) throws Exception {
    int sensors = atLeastOne(args, 0, "SENSORS", 100);
    int hours = atLeastOne(args, 1, "HOURS", 1000);
    int trainSteps = atLeastOne(args, 2, "TRAIN_STEPS", 1500);
    String out = args.length > 3 ? args[3] : "runs/sensors-ml";
    SparkSession spark = SparkSession.builder().appName("SensorForecast").master("local[*]")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
    String badInput = null;
    try {
      run(spark, sensors, hours, trainSteps, 48, 24, out, System.out);
    } catch (BadInputException e) { // spark-rnn's bad input (a table too short for a window, say): anything else is a bug
      badInput = e.getMessage();
    } finally {
      spark.stop();
    }
    if (badInput != null) {
      badInput(badInput);
    }
  }

  private static void badInput(String message) {
    System.err.println("error: " + message);
    System.exit(2);
  }

  /** Argument {@code i} as a whole number ≥ 1, or {@code otherwise} where there is none; else exits 2 saying why. */
  static int atLeastOne(String[] args, int i, String name, int otherwise) {
    if (args.length <= i) {
      return otherwise;
    }
    try {
      int v = Integer.parseInt(args[i]);
      if (v >= 1) {
        return v;
      }
    } catch (NumberFormatException e) {
      // said below
    }
    badInput(name + " (argument " + (i + 1) + "): expected a whole number ≥ 1, found '" + args[i] + "'");
    return otherwise; // not reached
  }



  /**
   * @param horizonHours the forecast: the last this many hours of every sensor are held back
   * @param windowHours T, the training window
   */
  public static Result run(SparkSession spark, int sensors, int hours, int trainSteps, int windowHours, int horizonHours,
      String modelDir, PrintStream out) {
    Dataset<Row> table = ExampleTables.sensors(spark, sensors, hours, 7);
    // hold back every sensor's last day: the model sees hours [0, hours - horizon)
    String hour = "(unix_seconds(ts) - 1704067200) / 3600";
    Dataset<Row> history = table.where(hour + " < " + (hours - horizonHours)).cache();

    RnnEstimator estimator = new RnnEstimator()
        .setKeyCols("sensor").setOrderCol("ts").setInputCols("temp", "load")   // next-hour targets: the inputs
        .setSteps(windowHours).setStride(windowHours / 2)
        .setCell("lstm").setHiddenSize(32).setBatch(64).setMaxSteps(trainSteps).setLr(0.01).setSeed(42);
    long t0 = System.nanoTime();
    RnnModel model = estimator.fit(history);
    double fitSeconds = (System.nanoTime() - t0) / 1e9;

    // every history row gets its next-hour prediction; each sensor gets horizonHours forecast rows
    Dataset<Row> scored = model.setForecastSteps(horizonHours).transform(history).cache();
    t0 = System.nanoTime();
    long rows = scored.count();
    double transformSeconds = (System.nanoTime() - t0) / 1e9;

    // forecast rows carry the forecast in the input columns, at the forecast time
    Dataset<Row> forecast = scored.where(col("forecast")).select(col("sensor"), col("ts"), col("temp").as("forecast_temp"));
    Dataset<Row> truth = table.select(col("sensor"), col("ts"), col("temp").as("true_temp"));
    Dataset<Row> lastSeen = history.groupBy("sensor").agg(expr("max_by(temp, ts) AS last_temp"));
    Dataset<Row> dayBefore = table.select(col("sensor"), expr("ts + INTERVAL 24 HOURS AS ts"), col("temp").as("day_before_temp"));
    Row rmse = forecast.join(truth, new String[] {"sensor", "ts"}).join(lastSeen, "sensor")
        .join(dayBefore, new String[] {"sensor", "ts"})
        .selectExpr("sqrt(avg(pow(forecast_temp - true_temp, 2)))", "sqrt(avg(pow(last_temp - true_temp, 2)))",
            "sqrt(avg(pow(day_before_temp - true_temp, 2)))", "count(*)")
        .first();
    if (rmse.getLong(3) != (long) sensors * horizonHours) {
      throw new IllegalStateException(rmse.getLong(3) + " forecast rows matched the truth, expected " + sensors * horizonHours);
    }

    // save, load, and score again: the same bits
    boolean identical;
    try {
      model.write().overwrite().save(modelDir);
      RnnModel loaded = RnnModel.load(modelDir);
      // the forecastSteps param was saved with the model: the reloaded one forecasts too
      identical = loaded.transform(history).orderBy("sensor", "ts").select("prediction").collectAsList()
          .equals(scored.orderBy("sensor", "ts").select("prediction").collectAsList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Result r = new Result(rows, fitSeconds, transformSeconds, rmse.getDouble(0), rmse.getDouble(1), rmse.getDouble(2), identical);
    out.printf(Locale.ROOT, "%d sensors x %d hours: fit %.1f s, transform %d rows in %.1f s%n", sensors, hours, fitSeconds, rows,
        transformSeconds);
    out.printf(Locale.ROOT, "%d-hour closed-loop forecast of temp, RMSE: model %.3f, last value %.3f, same hour yesterday %.3f"
        + " (deg C)%n", horizonHours, r.forecastRmse(), r.persistenceRmse(), r.yesterdayRmse());
    out.printf("saved to %s; reloaded model's predictions identical: %b%n", modelDir, identical);
    scored.unpersist();
    history.unpersist();
    return r;
  }
}
