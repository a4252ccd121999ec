package io.sparkrnn.cli;

import io.sparkrnn.kernel.BadInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code prep table}'s {@code --option} keys against the options the format's reader knows. Spark
 * ignores an option it does not know, so a misspelt one changes nothing and says nothing: Delta's
 * {@code versionAsOff=0} read the latest version, not version 0 (a user audit). A key one or two
 * edits from a known option is refused naming it (for JDBC, warned of: a driver's own keys may be
 * that near, MySQL's password1); any other unknown key is passed on with a
 * warning, as a library's or Hadoop's setting may be (a JDBC driver's connection properties are
 * passed on without one, and so is every key with a dot: {@code fs.s3a.*}, {@code parquet.*}).
 * Near is one edit, two for keys of six characters or more; for JDBC, whose drivers' own keys are
 * many, one.
 *
 * <p>The known options are Spark's own lists ({@code CSVOptions.getAllOptions()} and its
 * siblings, Delta's {@code DeltaOptions.validOptionKeys}), read by reflection: they are internal
 * to Spark and Delta, and a format whose list cannot be read (another format, another Spark) is
 * not checked. ReaderOptionsTest reads every list, so an upgrade that moves one fails there.
 */
final class ReaderOptions {
  private ReaderOptions() {}

  /** Options every file source takes (FileIndexOptions and FileSourceOptions), beside its format's own. */
  private static final List<String> FILE_SOURCE = List.of("path", "paths", "ignoreCorruptFiles", "ignoreMissingFiles");

  /**
   * Refuses a key that looks like a misspelt option of {@code format}'s reader, and returns the
   * warnings for keys it does not know (one line each, empty when every key is known).
   */
  static List<String> check(String format, Map<String, String> options) {
    boolean table = format.equals("table");   // a catalog table of any provider: near misses of any list
    Map<String, String> known = table ? anyFormat() : spellings(format);
    List<String> warnings = new ArrayList<>();
    if (known.isEmpty()) {
      return warnings;
    }
    for (String key : options.keySet()) {
      String k = key.strip().toLowerCase(Locale.ROOT);
      if (known.containsKey(k) || k.contains(".")) {
        continue;
      }
      // a JDBC driver takes keys of its own, some perhaps two edits from one of Spark's: one edit only there
      String near = nearest(k, known.keySet(), format.equals("jdbc") ? 1 : k.length() >= 6 ? 2 : 1);
      if (near != null && format.equals("jdbc")) {
        // a driver's own key may be one edit from Spark's (MySQL's password1 and password): passed on, with a word
        warnings.add("--option " + key + ": not an option of Spark's jdbc reader, so it goes to the JDBC driver as a"
            + " connection property; did you mean " + known.get(near) + "?");
        continue;
      }
      if (near != null) {
        throw new BadInputException("--option " + key + ": not an option of " + (table ? "any reader (the catalog table's"
            + " provider is not known yet)" : reader(format)) + "; did you mean "
            + known.get(near) + "? (the reader ignores options it does not know: this one would change nothing)");
      }
      if (!format.equals("jdbc") && !table) {   // jdbc: the driver's connection properties (sslmode, …) are passed on as they are
        warnings.add("--option " + key + ": not an option of " + reader(format) + ", which ignores it"
            + " unless a library on the classpath reads it");
      }
    }
    return warnings;
  }

  private static String reader(String format) {
    return format.equals("delta") ? "Delta's reader" : "Spark's " + format + " reader";
  }

  private static final List<String> FORMATS = List.of("csv", "json", "xml", "parquet", "orc", "text", "avro", "jdbc", "delta");

  /** Every format's known options: a catalog table's provider (Delta, Parquet, …) is not known before Spark starts. */
  private static Map<String, String> anyFormat() {
    Map<String, String> all = new TreeMap<>();
    for (String f : FORMATS) {
      spellings(f).forEach((lower, spelled) -> all.merge(lower, spelled, ReaderOptions::asDocumented));
    }
    return all;
  }

  /**
   * The known options in lower case (Spark matches option keys case-insensitively), each to its
   * spelling as Spark's docs write it, for the messages; empty when the format's options are not known.
   */
  private static Map<String, String> spellings(String format) {
    Map<String, String> spellings = new TreeMap<>();
    for (String s : raw(format)) {
      spellings.merge(s.toLowerCase(Locale.ROOT), s, ReaderOptions::asDocumented);
    }
    return spellings;
  }

  /** Of two spellings of one option, the camel-case one: JDBC's list is in lower case, its constants are not. */
  private static String asDocumented(String a, String b) {
    return a.equals(a.toLowerCase(Locale.ROOT)) ? b : a;
  }

  /** The known options in lower case, or null when unknown. */
  static Set<String> known(String format) {
    Map<String, String> spellings = spellings(format);
    return spellings.isEmpty() ? null : spellings.keySet();
  }

  private static List<String> raw(String format) {
    List<String> names = new ArrayList<>();
    String spark = "org.apache.spark.sql.";
    switch (format) {
      case "csv" -> addFileSource(names, spark + "catalyst.csv.CSVOptions$");
      case "json" -> addFileSource(names, spark + "catalyst.json.JSONOptions$");
      case "xml" -> addFileSource(names, spark + "catalyst.xml.XmlOptions$");
      case "parquet" -> addFileSource(names, spark + "execution.datasources.parquet.ParquetOptions$");
      case "orc" -> addFileSource(names, spark + "execution.datasources.orc.OrcOptions$");
      case "text" -> addFileSource(names, spark + "execution.datasources.text.TextOptions$");
      case "avro" -> addFileSource(names, spark + "avro.AvroOptions$");
      case "jdbc" -> {
        String jdbc = spark + "execution.datasources.jdbc.JDBCOptions$";
        if (add(names, jdbc, "org$apache$spark$sql$execution$datasources$jdbc$JDBCOptions$$jdbcOptionNames")) {
          names.addAll(List.of("user", "password"));   // read by Spark's JDBC source, not in its list
          addConstants(names, jdbc);
        }
      }
      case "delta" -> add(names, "org.apache.spark.sql.delta.DeltaOptions$", "validOptionKeys");
      default -> { }
    }
    return names;
  }

  /** The format's own options, then the file sources' common ones; nothing when the format's list is not there. */
  private static void addFileSource(List<String> names, String companion) {
    if (add(names, companion, "getAllOptions")
        && add(names, "org.apache.spark.sql.execution.datasources.FileIndexOptions$", "getAllOptions")) {
      names.addAll(FILE_SOURCE);
    } else {
      names.clear();
    }
  }

  /** Adds the Scala set that {@code companion}'s {@code method} returns; false when there is none. */
  private static boolean add(List<String> names, String companion, String method) {
    try {
      Object module = Class.forName(companion).getField("MODULE$").get(null);
      Object set = module.getClass().getMethod(method).invoke(module);
      scala.collection.Iterator<?> it = ((scala.collection.Iterable<?>) set).iterator();
      while (it.hasNext()) {
        names.add(String.valueOf(it.next()));
      }
      return true;
    } catch (ReflectiveOperationException | ClassCastException | LinkageError e) {
      return false;   // not this Spark (or no Delta): the keys go unchecked
    }
  }

  /** The camel-case names behind JDBC's lower-case list: its JDBC_* constants ("partitionColumn"). */
  private static void addConstants(List<String> names, String companion) {
    try {
      Object module = Class.forName(companion).getField("MODULE$").get(null);
      for (java.lang.reflect.Method m : module.getClass().getMethods()) {
        if (m.getName().startsWith("JDBC_") && m.getParameterCount() == 0 && m.getReturnType() == String.class) {
          names.add((String) m.invoke(module));
        }
      }
    } catch (ReflectiveOperationException | LinkageError e) {
      // the lower-case names serve
    }
  }

  /**
   * The known option that {@code key} is a likely misspelling of: at most {@code limit} edits away
   * (an insertion, deletion, substitution or swap of two neighbours); null when none is, or when
   * two are equally near.
   */
  static String nearest(String key, Set<String> known, int limit) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    boolean tie = false;
    for (String k : known) {
      int d = distance(key, k);
      if (d <= limit && d < bestDistance) {
        best = k;
        bestDistance = d;
        tie = false;
      } else if (d <= limit && d == bestDistance) {
        tie = true;
      }
    }
    return tie ? null : best;
  }

  /** The optimal-string-alignment distance: Levenshtein's edits plus the swap of two neighbouring characters. */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
