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
}
