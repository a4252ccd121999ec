package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import java.io.Serializable;
import java.util.List;
import java.util.Locale;

/**
 * What one option's value must be on its own, checked on its text (the form of the command line
 * and of job files): the single definition that {@code train}'s keys ({@code TrainConfig.KEYS}),
 * {@code prep table}'s options ({@code TableSpec.RULES}) and the Spark ML params that mirror them
 * all check against. Checks across options ({@code lr-min <= lr}, {@code min-steps <= steps})
 * stay where the options meet.
 *
 * <p>A refused value is a {@link BadInputException} "{@code <name>: <what is allowed>, found
 * <value>}", where the caller chooses the name: the option ({@code clip-norm}, {@code --gap}) or
 * the setter ({@code setClipNorm}).
 */
@FunctionalInterface
public interface OptionRule extends Serializable {

  /**
   * Throws a {@link BadInputException} naming {@code name}, what is allowed and {@code value},
   * unless {@code value} is allowed.
   */
  void check(String name, String value);

  /** A parser whose {@link IllegalArgumentException} says what is wrong (without the option's name). */
  @FunctionalInterface
  interface Parser extends Serializable {
    Object parse(String value);
  }

  /** Any value that is not blank. */
  static OptionRule nonBlank(String what) {
    return (name, value) -> {
      if (value == null || value.isBlank()) {
        throw new BadInputException(name + ": expected " + what + ", found " + (value == null ? "none" : "'" + value + "'"));
      }
    };
  }

  /**
   * A Hadoop URI or path: not blank, and one that {@code new Path(value)} takes. A relative name whose
   * first part holds ':' ("run-03:45", a cron job's "run-$(date +%H:%M)") is read by Hadoop as a URI
   * scheme with a relative path and refused with the way out; a job file's value so was refused only
   * when Hadoop opened it, naming neither key nor line (a review).
   */
  static OptionRule hadoopPath(String what) {
    return (name, value) -> {
      nonBlank(what).check(name, value);
      try {
        new org.apache.hadoop.fs.Path(value);
      } catch (IllegalArgumentException e) {
        throw new BadInputException(name + ": expected " + what + ", found '" + value + "' (" + (isColonInRelativeName(e.getCause())
            ? colonInRelativeName(value) : e.getCause() != null ? e.getCause().getMessage() : e.getMessage()) + ")");
      }
    };
  }

  /** Whether {@code t} is Hadoop's refusal of a relative name that holds ':' (a URI scheme with a relative path). */
  static boolean isColonInRelativeName(Throwable t) {
    return t instanceof java.net.URISyntaxException u && u.getReason() != null && u.getReason().startsWith("Relative path in absolute URI");
  }

  /** Why Hadoop cannot open the relative name {@code value} that holds ':', and what to write instead. */
  static String colonInRelativeName(String value) {
    return "Hadoop reads the part before ':' as a URI scheme, so a relative name that holds ':' is no path it can open; write ./"
        + value + ", or the absolute path";
  }

  /** An integer in [min, max]; "_" may group digits. */
  static OptionRule longIn(long min, long max) {
    return (name, value) -> {
      long n = parseLong(name, value);
      if (n < min || n > max) {
        throw new BadInputException(name + ": " + (max == Long.MAX_VALUE ? "must be at least " + min
            : "must be in [" + min + ", " + max + "]") + ", found " + n);
      }
    };
  }

  /** An integer of at least {@code min}. */
  static OptionRule atLeast(long min) {
    return longIn(min, Long.MAX_VALUE);
  }

  /** A finite number in [min, max], or [min, max) when {@code maxExclusive}. */
  static OptionRule doubleIn(double min, double max, boolean maxExclusive) {
    return (name, value) -> {
      double d = parseDouble(name, value);
      if (d < min || d > max || (maxExclusive && d == max)) {
        throw new BadInputException(name + ": " + (max == Double.MAX_VALUE ? "must be at least " + min
            : "must be in [" + min + ", " + max + (maxExclusive ? ")" : "]")) + ", found " + value);
      }
    };
  }

  /** A finite number > 0. */
  static OptionRule positive() {
    return (name, value) -> {
      if (parseDouble(name, value) <= 0) {
        throw new BadInputException(name + ": must be > 0, found " + value);
      }
    };
  }

  /** One of {@code allowed}, in any case. */
  static OptionRule oneOf(String... allowed) {
    List<String> choices = List.of(allowed);
    return (name, value) -> {
      if (value == null || !choices.contains(value.strip().toLowerCase(Locale.ROOT))) {
        throw new BadInputException(name + ": '" + value + "' is not one of " + String.join(", ", choices));
      }
    };
  }

  /** What {@code parser} accepts; its message says what is wrong. */
  static OptionRule parsedBy(Parser parser) {
    return (name, value) -> {
      try {
        parser.parse(value);
      } catch (IllegalArgumentException e) {
        throw new BadInputException(name + ": " + e.getMessage(), e);
      }
    };
  }

  /** The integer {@code value}, or an error naming {@code name}. */
  static long parseLong(String name, String value) {
    try {
      return Long.parseLong(value.strip().replace("_", ""));
    } catch (NumberFormatException | NullPointerException e) {
      throw new BadInputException(name + ": expected an integer, found '" + value + "'");
    }
  }

  /** The finite number {@code value}, or an error naming {@code name}. */
  static double parseDouble(String name, String value) {
    try {
      double d = Double.parseDouble(value.strip());
      if (Double.isFinite(d)) {
        return d;
      }
    } catch (NumberFormatException | NullPointerException e) {
      // refused below
    }
    throw new BadInputException(name + ": expected a finite number, found '" + value + "'");
  }
}
