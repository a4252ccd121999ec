package io.sparkrnn.ml;

import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.IntegralType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;

/**
 * Where a key's forecast rows sit in time: integer order values continue by +1; timestamps
 * (microseconds), dates (days) and floating values continue at the median spacing of the key's
 * rows (for an even number of gaps, the lower of the two middle ones, so that integer units stay
 * integer). A key with one row has no spacing: {@link #spacing} is null and it gets no forecast
 * rows (integers aside).
 *
 * <p>Call order, per key: {@link #add}* (in order) → {@link #spacing} → {@link #next}* →
 * {@link #clear}. Values keep the class Spark handed in ({@code Timestamp} or {@code Instant},
 * {@code java.sql.Date} or {@code LocalDate}, per {@code spark.sql.datetime.java8API.enabled}).
 */
final class OrderSteps {
  private enum Kind { INTEGER, FLOATING, INSTANT, LOCAL_DATE_TIME, DATE }

  private final Kind kind;
  /** The gaps between consecutive rows, in the kind's unit (µs, days) or as double bits for floating. */
  private long[] gaps = new long[16];
  private int count;
  private boolean hasPrevious;
  private long previous;
  private double previousDouble;

  OrderSteps(DataType type) {
    if (type instanceof IntegralType) {
      kind = Kind.INTEGER;
    } else if (type instanceof TimestampType) {
      kind = Kind.INSTANT;
    } else if (type instanceof TimestampNTZType) {
      kind = Kind.LOCAL_DATE_TIME;
    } else if (type instanceof DateType) {
      kind = Kind.DATE;
    } else {
      kind = Kind.FLOATING;
    }
  }

  void add(Object value) {
    if (kind == Kind.INTEGER) {
      return;
    }
    if (kind == Kind.FLOATING) {
      double v = ((Number) value).doubleValue();
      if (hasPrevious) {
        push(Double.doubleToLongBits(v - previousDouble));
      }
      previousDouble = v;
    } else {
      long v = units(value);
      if (hasPrevious) {
        push(v - previous);
      }
      previous = v;
    }
    hasPrevious = true;
  }

  private void push(long gap) {
    if (count == gaps.length) {
      gaps = Arrays.copyOf(gaps, count * 2);
    }
    gaps[count++] = gap;
  }

  /** The step between forecast rows: 1 for integers, else the median gap (Long or Double), or null. */
  Object spacing() {
    if (kind == Kind.INTEGER) {
      return 1L;
    }
    if (count == 0) {
      return null;
    }
    if (kind == Kind.FLOATING) {
      double[] d = new double[count];
      for (int i = 0; i < count; i++) {
        d[i] = Double.longBitsToDouble(gaps[i]);
      }
      Arrays.sort(d);
      return d[(count - 1) / 2];
    }
    long[] g = Arrays.copyOf(gaps, count);
    Arrays.sort(g);
    return g[(count - 1) / 2];
  }

  /**
   * {@code order} moved on by one spacing, as the same class.
   *
   * @throws ArithmeticException an integer order at its type's largest value (a smallint column
   *     at 32767 wrapped to −32768, a time before every row of its key: a user audit)
   */
  Object next(Object order, Object spacing) {
    switch (kind) {
      case INTEGER:
        long n = ((Number) order).longValue();
        long max = order instanceof Byte ? Byte.MAX_VALUE : order instanceof Short ? Short.MAX_VALUE
            : order instanceof Integer ? Integer.MAX_VALUE : Long.MAX_VALUE;
        if (n == max) {
          throw new ArithmeticException(n + " + 1 is past the range of the column's type");
        }
        if (order instanceof Byte) {
          return (byte) (n + 1);
        } else if (order instanceof Short) {
          return (short) (n + 1);
        } else if (order instanceof Integer) {
          return (int) (n + 1);
        }
        return n + 1;
      case FLOATING:
        double d = ((Number) order).doubleValue() + (Double) spacing;
        return order instanceof Float ? (Object) (float) d : (Object) d;
      default:
        return fromUnits(units(order) + (Long) spacing, order);
    }
  }

  void clear() {
    count = 0;
    hasPrevious = false;
  }

  /** µs since the epoch (timestamps) or days (dates). */
  private long units(Object v) {
    if (v instanceof Timestamp t) {
      return ChronoUnit.MICROS.between(Instant.EPOCH, t.toInstant());
    } else if (v instanceof Instant i) {
      return ChronoUnit.MICROS.between(Instant.EPOCH, i);
    } else if (v instanceof LocalDateTime l) {
      return ChronoUnit.MICROS.between(Instant.EPOCH, l.toInstant(ZoneOffset.UTC));
    } else if (v instanceof Date d) {
      return d.toLocalDate().toEpochDay();
    } else if (v instanceof LocalDate l) {
      return l.toEpochDay();
    }
    throw new IllegalStateException("order value of " + v.getClass().getName() + " for a " + kind + " column");
  }

  private static Object fromUnits(long u, Object like) {
    if (like instanceof Timestamp) {
      return Timestamp.from(Instant.EPOCH.plus(u, ChronoUnit.MICROS));
    } else if (like instanceof Instant) {
      return Instant.EPOCH.plus(u, ChronoUnit.MICROS);
    } else if (like instanceof LocalDateTime) {
      return LocalDateTime.ofInstant(Instant.EPOCH.plus(u, ChronoUnit.MICROS), ZoneOffset.UTC);
    } else if (like instanceof Date) {
      return Date.valueOf(LocalDate.ofEpochDay(u));
    }
    return LocalDate.ofEpochDay(u);
  }
}
