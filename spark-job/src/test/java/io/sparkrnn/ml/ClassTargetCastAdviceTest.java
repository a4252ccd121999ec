package io.sparkrnn.ml;

import static io.sparkrnn.ml.RnnSchemaTest.assertRefused;
import static io.sparkrnn.ml.RnnSchemaTest.table;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * Review of 9da547b..4fe5f2f (a63b593, dee40d2): RnnColumns.checkTarget's refusal of a non-integer
 * class column now builds its SQLTransformer advice with String.format, the column's name inside the
 * format string. A legal column name holding '%' ("rate%") then throws
 * java.util.UnknownFormatConversionException from transformSchema instead of the refusal; and a name
 * with a space or a dot is shown unquoted in the SQL it advises, which Spark cannot parse.
 */
class ClassTargetCastAdviceTest {
  @Test
  void aClassColumnNamedWithAPercentSignIsRefusedNotACrash() {
    StructType schema = table(DataTypes.LongType).add("rate%", DataTypes.DoubleType);
    RnnEstimator e = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3).setClasses(2);
    assertRefused(() -> e.copy(new ParamMap()).setTargetCols("rate%").transformSchema(schema),
        "RnnEstimator: targetCols column 'rate%' is double", "integer column of class ids");
  }

  @Test
  void theAdvisedSqlQuotesANameThatNeedsIt() {
    StructType schema = table(DataTypes.LongType).add("class label", DataTypes.DoubleType);
    RnnEstimator e = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(3).setClasses(2);
    assertRefused(() -> e.copy(new ParamMap()).setTargetCols("class label").transformSchema(schema),
        "CAST(`class label` AS INT)");
  }

  @Test
  void aNameThatSqlReadsAsALiteralIsQuoted() {
    // CAST(true AS INT) is the literal 1, not the column named true (a review); plain names stay bare
    assertEquals("`true`", RnnColumns.sqlName("true"));
    assertEquals("`NULL`", RnnColumns.sqlName("NULL"));
    assertEquals("label", RnnColumns.sqlName("label"));
    assertEquals("truth", RnnColumns.sqlName("truth"));
  }
}
