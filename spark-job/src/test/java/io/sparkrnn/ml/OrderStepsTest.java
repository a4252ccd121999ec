package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import org.apache.spark.sql.types.DataTypes;
import org.junit.jupiter.api.Test;

/**
 * Where forecast rows sit ({@link OrderSteps}), per its contract: integer orders continue by +1
 * in their own class; timestamps, dates and floating values at the median gap of the key's rows,
 * the lower middle one for an even number of gaps; a key of one row has no spacing. Expected
 * values by hand from the rows' gaps. No Spark session.
 */
class OrderStepsTest {
  static final long HOUR_MICROS = 3_600_000_000L;

  @Test
  void integerOrdersContinueByOneInTheirOwnClass() {
    OrderSteps s = new OrderSteps(DataTypes.IntegerType);
    for (int t : new int[] {3, 7, 20}) {
      s.add(t);                                             // gaps of 4 and 13 do not matter: integers step by 1
    }
    assertEquals(1L, s.spacing());
    assertEquals(21, s.next(20, s.spacing()));
    assertEquals(8L, new OrderSteps(DataTypes.LongType).next(7L, 1L));
    assertEquals((short) 8, new OrderSteps(DataTypes.ShortType).next((short) 7, 1L));
    assertEquals((byte) 8, new OrderSteps(DataTypes.ByteType).next((byte) 7, 1L));
    assertEquals(1L, new OrderSteps(DataTypes.LongType).spacing(), "a one-row integer key still forecasts");
  }

  @Test
  void anEvenNumberOfGapsTakesTheLowerMiddleOne() {
    // hours 0, 1, 2, 5, 8: gaps 1, 1, 3, 3 h; sorted, the middle two are 1 h and 3 h: the lower, 1 h
    OrderSteps s = new OrderSteps(DataTypes.TimestampType);
    Timestamp last = null;
    for (int h : new int[] {0, 1, 2, 5, 8}) {
      last = Timestamp.from(Instant.parse("2024-01-01T00:00:00Z").plusSeconds(3600L * h));
      s.add(last);
    }
    assertEquals(HOUR_MICROS, s.spacing());
    assertEquals(Timestamp.from(Instant.parse("2024-01-01T09:00:00Z")), s.next(last, s.spacing()));
  }

  @Test
  void anOddNumberOfGapsTakesTheMiddleOne() {
    // instants at 0, 2, 3, 13 h: gaps 2, 1, 10 h; sorted 1, 2, 10: the median is 2 h (not the mean, not the last)
    OrderSteps s = new OrderSteps(DataTypes.TimestampType);
    for (int h : new int[] {0, 2, 3, 13}) {
      s.add(Instant.parse("2024-01-01T00:00:00Z").plusSeconds(3600L * h));
    }
    assertEquals(2 * HOUR_MICROS, s.spacing());
    assertEquals(Instant.parse("2024-01-01T15:00:00Z"), s.next(Instant.parse("2024-01-01T13:00:00Z"), s.spacing()));
  }

  @Test
  void localDateTimesAndDatesContinueAtTheirMedianGap() {
    OrderSteps ntz = new OrderSteps(DataTypes.TimestampNTZType);
    for (int m : new int[] {0, 15, 30, 90}) {               // gaps 15, 15, 60 min: median 15 min
      ntz.add(LocalDateTime.of(2024, 3, 1, 0, 0).plusMinutes(m));
    }
    assertEquals(LocalDateTime.of(2024, 3, 1, 1, 45), ntz.next(LocalDateTime.of(2024, 3, 1, 1, 30), ntz.spacing()));

    OrderSteps days = new OrderSteps(DataTypes.DateType);
    for (int d : new int[] {1, 3, 5, 14}) {                 // gaps 2, 2, 9 days: median 2 days
      days.add(LocalDate.of(2024, 2, d));
    }
    assertEquals(2L, days.spacing());
    assertEquals(LocalDate.of(2024, 2, 16), days.next(LocalDate.of(2024, 2, 14), days.spacing()));
    assertEquals(Date.valueOf("2024-03-01"), days.next(Date.valueOf("2024-02-28"), 2L), "2024 is a leap year");
  }

  @Test
  void floatingOrdersContinueAtTheirMedianGapAsTheirOwnClass() {
    OrderSteps s = new OrderSteps(DataTypes.DoubleType);
    for (double t : new double[] {0.0, 0.5, 1.0, 2.5}) {    // gaps 0.5, 0.5, 1.5: median 0.5
      s.add(t);
    }
    assertEquals(0.5, (Double) s.spacing(), 0.0);
    assertEquals(3.0, (Double) s.next(2.5, s.spacing()), 0.0);
    OrderSteps f = new OrderSteps(DataTypes.FloatType);
    for (float t : new float[] {1f, 1.25f, 1.5f, 4f}) {      // gaps 0.25, 0.25, 2.5, an odd count: the middle, 0.25
      f.add(t);
    }
    assertEquals(4.25f, f.next(4f, f.spacing()));
  }

  @Test
  void floatingOrdersWithAnEvenNumberOfGapsTakeTheLowerMiddleOne() {
    // 0, 1, 2, 5, 8: gaps 1, 1, 3, 3; sorted, the middle two are 1 and 3: the lower, 1 (the class comment's rule, as for
    // timestamps); the upper would put the next row at 11
    OrderSteps s = new OrderSteps(DataTypes.DoubleType);
    for (double t : new double[] {0, 1, 2, 5, 8}) {
      s.add(t);
    }
    assertEquals(1.0, (Double) s.spacing(), 0.0);
    assertEquals(9.0, (Double) s.next(8.0, s.spacing()), 0.0);
  }

  @Test
  void aKeyOfOneRowHasNoSpacingAndClearStartsTheNextKeyAfresh() {
    OrderSteps s = new OrderSteps(DataTypes.DateType);
    s.add(LocalDate.of(2024, 1, 1));
    assertNull(s.spacing(), "one row: no gap");
    s.add(LocalDate.of(2024, 1, 8));
    assertEquals(7L, s.spacing());
    s.clear();
    s.add(LocalDate.of(2030, 1, 1));                         // the gap from 2024-01-08 must not count
    assertNull(s.spacing(), "a new key's one row: no gap");
    s.add(LocalDate.of(2030, 1, 4));
    assertEquals(3L, s.spacing());
  }

  @Test
  void aKeyOfManyRowsKeepsEveryGap() {
    // days 0, 1, …, 19 then 22, 25, …, 40 (7 more rows): 19 gaps of 1 and 7 of 3, 26 in all (more than any first
    // allocation of a handful); sorted, the lower middle one (the 13th) is 1 day; so is every later key's after clear()
    OrderSteps s = new OrderSteps(DataTypes.DateType);
    for (int key = 0; key < 2; key++) {
      LocalDate start = LocalDate.of(2024, 1, 1);
      for (int d = 0; d < 20; d++) {
        s.add(start.plusDays(d));
      }
      for (int d = 22; d <= 40; d += 3) {
        s.add(start.plusDays(d));
      }
      assertEquals(1L, s.spacing(), "key " + key);
      s.clear();
    }
    // 30 rows 2 days apart: 29 gaps of 2 days
    for (int d = 0; d < 30; d++) {
      s.add(LocalDate.of(2024, 1, 1).plusDays(2L * d));
    }
    assertEquals(2L, s.spacing());
  }
}
