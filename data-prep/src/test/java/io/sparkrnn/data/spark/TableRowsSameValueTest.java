package io.sparkrnn.data.spark;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * TableRows.sameValue, which decides whether two rows whose keys hash alike (xxhash64) are one
 * series: -0.0 and 0.0 are one, as Spark groups them; a different field, a null against a value, a
 * longer array are not. End-to-end tests cannot make a 64-bit collision, so it is tested directly
 * (a mutation audit: too lenient a comparison survived).
 */
class TableRowsSameValueTest {
  @Test
  void differentNestedKeysAreNotTheSame() {
    StructType st = new StructType().add("k", DataTypes.DoubleType).add("n", DataTypes.IntegerType);
    assertTrue(TableRows.sameValue(new GenericInternalRow(new Object[] {-0.0, 1}), new GenericInternalRow(new Object[] {0.0, 1}), st));
    assertFalse(TableRows.sameValue(new GenericInternalRow(new Object[] {1.0, 1}), new GenericInternalRow(new Object[] {2.0, 1}), st));
    assertFalse(TableRows.sameValue(new GenericInternalRow(new Object[] {null, 1}), new GenericInternalRow(new Object[] {2.0, 1}), st));
    var at = DataTypes.createArrayType(DataTypes.DoubleType);
    assertFalse(TableRows.sameValue(new GenericArrayData(new Object[] {1.0}), new GenericArrayData(new Object[] {1.0, 2.0}), at));
    assertFalse(TableRows.sameValue(new GenericArrayData(new Object[] {1.0, null}), new GenericArrayData(new Object[] {1.0, 2.0}), at));
  }

  /**
   * A value the shards can hold is finite as float32: Float.MAX_VALUE (3.4028235e38) and a double
   * that rounds to it are; 3.5e38, 1e39 and Double.MAX_VALUE (finite doubles) round to Infinity
   * and are missing, as NaN and ±Inf are (a user audit: 1e39 failed fit naming nothing).
   */
  @Test
  void aValuePastFloat32IsMissing() {
    assertTrue(TableRows.fitsFloat(Float.MAX_VALUE));
    assertTrue(TableRows.fitsFloat(-3.40282350e38));
    assertTrue(TableRows.fitsFloat(Double.MIN_VALUE), "rounds to 0, a value");
    for (double d : new double[] {3.5e38, -1e39, Double.MAX_VALUE, Double.NaN, Double.POSITIVE_INFINITY}) {
      assertFalse(TableRows.fitsFloat(d), Double.toString(d));
    }
  }
}
