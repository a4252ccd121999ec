package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * Review of 4fe5f2f..6d7e62d (da1a05fc): RnnEstimator's refusal of a dotted name says it "is a field
 * of the struct column" and shows the withColumn that selects it whenever the part before the first
 * dot is a struct column, without looking for the field: a misspelt field (reading.tmp where the
 * struct holds temp) is told it is a field, and the advised col("reading.tmp") fails in turn.
 */
class StructFieldAdviceTest {
  @Test
  void aFieldTheStructDoesNotHoldIsNotCalledItsField() {
    StructType schema = RnnSchemaTest.table(DataTypes.LongType).add("reading", new StructType().add("temp", DataTypes.DoubleType));
    Exception e = assertThrows(Exception.class, () -> new RnnEstimator().setKeyCols("k").setOrderCol("t")
        .setInputCols("reading.tmp").setSteps(3).transformSchema(schema));
    String m = e.getMessage();
    assertTrue(m.contains("inputCols column 'reading.tmp' is not in the table"), m);
    assertFalse(m.contains("'reading.tmp' is a field of the struct column 'reading'"),
        "the struct 'reading' has no field 'tmp' (its fields: temp): " + m);
    assertTrue(m.contains("the struct column 'reading' has no field 'tmp'; its fields are [temp]"), m);
  }

  /** prep table reads a boolean input as 0 and 1; the estimator refuses it and shows the cast (a user audit). */
  @Test
  void aBooleanInputIsShownTheCastThatMakesItZeroAndOne() {
    StructType schema = RnnSchemaTest.table(DataTypes.LongType).add("is on", DataTypes.BooleanType);
    Exception e = assertThrows(Exception.class, () -> new RnnEstimator().setKeyCols("k").setOrderCol("t")
        .setInputCols("is on").setSteps(3).transformSchema(schema));
    assertTrue(e.getMessage().contains("inputCols column 'is on' is boolean; expected a number, an array of numbers or an ML"
        + " Vector: cast it to 0 and 1 first, e.g. withColumn(\"is on\", col(\"`is on`\").cast(\"int\"))"), e.getMessage());
  }

  /** A target that is the key or order column is refused by transformSchema, before fit's prep (a user audit). */
  @Test
  void aTargetThatIsTheKeyOrOrderColumnIsRefusedByTransformSchema() {
    StructType schema = RnnSchemaTest.table(DataTypes.LongType);
    for (String[] c : new String[][] {{"T", "orderCol"}, {"k", "keyCols"}}) {
      Exception e = assertThrows(Exception.class, () -> new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x")
          .setTargetCols(c[0]).setSteps(3).transformSchema(schema));
      assertTrue(e.getMessage().startsWith("RnnEstimator: targetCols column '" + c[0] + "' is the " + c[1] + " column; a"
          + " series' key and order are not values"), e.getMessage());
    }
  }
}
