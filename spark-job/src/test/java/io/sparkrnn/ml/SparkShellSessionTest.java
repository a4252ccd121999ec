package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.data.spark.ExampleTables;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;
import scala.tools.nsc.interpreter.shell.ReplReporterImpl;

/**
 * docs/ml.md's spark-shell session, run line by line in Scala's own interpreter (the one
 * spark-shell wraps) with {@code spark} bound as spark-shell binds it, so the Scala example in the
 * docs cannot rot. Only the data and output paths and the number of optimizer steps are changed
 * (each change is checked to apply, so an edit to the snippet that this test no longer
 * understands fails it).
 */
class SparkShellSessionTest {
  @TempDir
  static Path tmp;
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("SparkShellSessionTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  /** The first ```scala block after the heading. */
  static String scalaBlock(String markdown, String heading) {
    int at = markdown.indexOf(heading);
    assertTrue(at >= 0, "docs/ml.md has the heading " + heading);
    Matcher m = Pattern.compile("```scala\n(.*?)```", Pattern.DOTALL).matcher(markdown);
    assertTrue(m.find(at), "a scala block after " + heading);
    return m.group(1);
  }

  static String replace(String code, String from, String to) {
    assertTrue(code.contains(from), "the session contains " + from + ":\n" + code);
    return code.replace(from, to);
  }

  @Test
  void theDocumentedSessionFitsForecastsSavesAndLoads() throws IOException {
    Path parquet = tmp.resolve("sensors.parquet");
    // the example table's first 1,000 hours: the session's cut at 2024-02-10 16:00 (hour 976) leaves 24 after it
    ExampleTables.sensors(spark, 6, 1000, 1).write().parquet(parquet.toString());
    Path saved = tmp.resolve("sensors-ml");
    String session = scalaBlock(Files.readString(Path.of("../docs/ml.md"), StandardCharsets.UTF_8), "## spark-shell (Scala)");
    session = replace(session, "\"data/sensors.parquet\"", "\"" + parquet + "\"");
    session = replace(session, "\"runs/sensors-ml\"", "\"" + saved + "\"");
    session = replace(session, "setMaxSteps(1500)", "setMaxSteps(20)");

    Settings settings = new Settings();
    // the test class path (surefire passes it in a manifest-only jar, so java.class.path is not it)
    settings.classpath().value_$eq(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    settings.embeddedDefaults(getClass().getClassLoader());
    StringWriter out = new StringWriter();
    IMain repl = new IMain(settings, new ReplReporterImpl(settings, new PrintWriter(out, true)));
    try {
      // what spark-shell defines before the first prompt
      run(repl, out, "val spark = org.apache.spark.sql.SparkSession.builder().getOrCreate()");
      run(repl, out, "import spark.implicits._");
      StringBuilder statement = new StringBuilder();
      for (String line : session.split("\n")) {
        statement.append(line).append('\n');
        Results.Result r = repl.interpret(statement.toString());
        if (r instanceof Results.Incomplete$) {
          continue;                                  // a statement continued on the next line, as the REPL reads it
        }
        if (!(r instanceof Results.Success$)) {
          fail("the session failed at:\n" + statement + "\ninterpreter output:\n" + out);
        }
        statement.setLength(0);
      }
      assertEquals("", statement.toString().trim(), "the session ends with a complete statement");
      assertTrue(repl.valueOfTerm("again").get() instanceof RnnModel, "the session's RnnModel.load: " + repl.valueOfTerm("again"));
    } finally {
      repl.close();
    }
    RnnModel again = RnnModel.load(saved.toString());
    assertEquals(2, again.trainedModel().config().inputSize(), "the saved model: inputs temp and load");
    assertEquals(24, again.getForecastSteps(), "saved after setForecastSteps(24)");
  }

  private static void run(IMain repl, StringWriter out, String line) {
    if (!(repl.interpret(line) instanceof Results.Success$)) {
      fail(line + " failed:\n" + out);
    }
  }
}
