package io.sparkrnn.cli;

import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code spark-rnn example-table sensors --out PATH}: writes an example long-format table with Spark. */
@Command(name = "example-table", mixinStandardHelpOptions = true,
    description = "Write an example long-format table (hourly sensor readings: sensor, ts, temp, load) with Spark, "
        + "to try prep table on.")
public final class ExampleTableCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "KIND", description = "sensors (the one kind so far).") String kind;
  @Option(names = "--out", required = true, description = "Output path (URI) of the table.") String out;
  @Option(names = "--format", defaultValue = "parquet", description = "parquet (default), orc, json or csv.") String format;
  @Option(names = "--sensors", defaultValue = "100", description = "Number of sensors (keys) (default ${DEFAULT-VALUE}).")
  int sensors;
  @Option(names = "--hours", defaultValue = "1000", description = "Hourly readings per sensor (default ${DEFAULT-VALUE}).")
  int hours;
  @Option(names = "--seed", defaultValue = "1",
      description = "Seeds each sensor's level, amplitude and phases, and the noise (default ${DEFAULT-VALUE}).") long seed;
  @Option(names = "--overwrite", description = "Replace --out if it exists.") boolean overwrite;
  @Option(names = "--master", defaultValue = "local[*]", description = "Spark master (default ${DEFAULT-VALUE}).")
  String master;

  @Override
  public Integer call() throws IOException {
    if (!kind.equals("sensors")) {
      throw new BadInputException("example-table: unknown kind '" + kind + "', expected sensors");
    }
    if (sensors < 1 || hours < 1) {
      throw new BadInputException("--sensors and --hours must be at least 1");
    }
    SparkSetup.requireKnownMaster(master);
    if (!overwrite && HadoopFiles.exists(out, new Configuration())) {
      // refused here, not by Spark's writer, whose message tells a Spark user to set mode "overwrite"
      throw new BadInputException("--out " + out + " already exists; pass --overwrite to replace it, or choose another --out");
    }
    SparkSession spark = SparkSetup.session("spark-rnn example-table", master);
    try {
      var writer = ExampleTables.sensors(spark, sensors, hours, seed).write().format(format)
          .mode(overwrite ? "overwrite" : "errorifexists");
      if (format.equals("csv")) {
        writer = writer.option("header", "true");
      }
      writer.save(out);
      System.out.printf("wrote %s: %d sensors x %d hours = %d rows (sensor, ts, temp, load)%n", out, sensors, hours,
          (long) sensors * hours);
    } catch (Exception e) {
      if (e instanceof AnalysisException) {
        throw new BadInputException(out + ": " + e.getMessage().lines().findFirst().orElse(""), e);
      }
      throw e;
    } finally {
      SparkSetup.stop(spark);
    }
    return 0;
  }
}
