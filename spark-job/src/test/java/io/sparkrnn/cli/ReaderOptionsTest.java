package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * prep table's --option keys against the reader's own options: Spark ignores a key it does not
 * know, so a misspelt one (Delta's versionAsOff) changed nothing without a word (a user audit).
 */
class ReaderOptionsTest {

  private static Map<String, String> options(String... keyValues) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      m.put(keyValues[i], keyValues[i + 1]);
    }
    return m;
  }

  /** The distances by hand: one substitution, one deletion, one swap of neighbours, and three edits. */
  @Test
  void distanceCountsInsertionsDeletionsSubstitutionsAndSwaps() {
    assertEquals(0, ReaderOptions.distance("header", "header"));
    assertEquals(1, ReaderOptions.distance("headex", "header"));          // x for r
    assertEquals(1, ReaderOptions.distance("versionasoff", "versionasof"));  // one f deleted
    assertEquals(1, ReaderOptions.distance("haeder", "header"));          // a and e swapped: one edit, not two
    assertEquals(3, ReaderOptions.distance("sep", ""));
    assertEquals(3, ReaderOptions.distance("abc", "xyz"));
  }

  /** Within the limit given (check: one edit for short keys, two from six characters on); a tie names neither. */
  @Test
  void nearestTakesTheOneCloseOptionOnly() {
    Set<String> known = Set.of("header", "sep", "quote", "escape", "ab", "ac", "inferschema");
    assertEquals("header", ReaderOptions.nearest("heaxerr", known, 2));   // 7 characters, 2 edits: x for d, one r more
    assertNull(ReaderOptions.nearest("heaxerr", known, 1), "2 edits, limit 1");
    assertEquals("quote", ReaderOptions.nearest("qoute", known, 1));     // a swap
    assertNull(ReaderOptions.nearest("qeuto", known, 1), "5 characters, more than one edit: too far");
    assertNull(ReaderOptions.nearest("aa", known, 1), "ab and ac are both one edit away");
    assertNull(ReaderOptions.nearest("inferschemata", known, 1), "inferschema and 2 letters more, limit 1");
    assertEquals("inferschema", ReaderOptions.nearest("inferschemata", known, 2));
  }

  /** Spark's own lists are read: CSV's header and timestampFormat, JDBC's fetchsize, the file sources' pathGlobFilter. */
  @Test
  void sparksOwnOptionListsAreRead() {
    Set<String> csv = ReaderOptions.known("csv");
    assertNotNull(csv);
    assertTrue(csv.containsAll(List.of("header", "inferschema", "timestampformat", "sep", "pathglobfilter", "recursivefilelookup")),
        csv.toString());
    assertTrue(ReaderOptions.known("parquet").containsAll(List.of("mergeschema", "basepath")));
    assertTrue(ReaderOptions.known("jdbc").containsAll(List.of("url", "dbtable", "query", "fetchsize", "user", "password")));
    assertNull(ReaderOptions.known("nosuchformat"), "a format whose options are not known is not checked");
    // every format Spark ships, and Delta (a test dependency): a Spark or Delta that moved its list fails here,
    // not silently in the field, where the format's keys would go unchecked (options from Spark's and Delta's docs)
    assertTrue(ReaderOptions.known("json").containsAll(List.of("multiline", "allowcomments", "primitivesasstring")));
    assertTrue(ReaderOptions.known("orc").containsAll(List.of("mergeschema", "pathglobfilter")));
    assertTrue(ReaderOptions.known("text").containsAll(List.of("wholetext", "linesep")));
    assertTrue(ReaderOptions.known("xml").containsAll(List.of("rowtag", "attributeprefix")));
    assertTrue(ReaderOptions.known("delta").containsAll(List.of("versionasof", "timestampasof", "readchangefeed")));
  }

  @Test
  void aMisspeltOptionIsRefusedNamingTheOneMeant() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> ReaderOptions.check("csv", options("header", "true", "timestampFormt", "dd/MM/yyyy")));
    assertTrue(e.getMessage().startsWith("--option timestampFormt: not an option of Spark's csv reader; did you mean"
        + " timestampFormat?"), e.getMessage());
    e = assertThrows(BadInputException.class, () -> ReaderOptions.check("delta", options("versionAsOff", "0")));
    assertTrue(e.getMessage().startsWith("--option versionAsOff: not an option of Delta's reader; did you mean versionAsOf?"),
        e.getMessage());
    // two edits from six characters on: in csv two edits from "timestampFormat" is refused
    assertThrows(BadInputException.class, () -> ReaderOptions.check("csv", options("timestmpFormt", "x")));
  }

  /**
   * A JDBC driver takes keys of its own, some one edit from Spark's (MySQL's password1 for
   * multi-factor authentication): passed on to the driver, with a warning naming Spark's option,
   * in the case Spark's docs write it (JDBC's list is in lower case); two edits away, silently.
   */
  @Test
  void aJdbcKeyNearSparksOptionIsPassedOnWithAWarning() {
    List<String> w = ReaderOptions.check("jdbc", options("url", "jdbc:h2:mem:x", "fetchsiz", "10", "password1", "x"));
    assertEquals(2, w.size(), w.toString());
    assertTrue(w.get(0).startsWith("--option fetchsiz: not an option of Spark's jdbc reader, so it goes to the JDBC driver as a"
        + " connection property; did you mean fetchsize?"), w.get(0));
    assertTrue(w.get(1).contains("did you mean password?"), w.get(1));
    assertTrue(ReaderOptions.check("jdbc", options("partitionColum", "t")).get(0).contains("did you mean partitionColumn?"));
    assertEquals(List.of(), ReaderOptions.check("jdbc", options("truncat3d", "x")), "two edits from truncate");
  }

  /**
   * A catalog table's provider is not known before Spark starts: a near miss of any format's option
   * is refused (a Delta table's versionAsOff read its latest version), and nothing else is warned of.
   */
  @Test
  void aCatalogTablesKeysAreCheckedAgainstEveryFormatsOptions() {
    BadInputException e = assertThrows(BadInputException.class, () -> ReaderOptions.check("table", options("versionAsOff", "0")));
    assertTrue(e.getMessage().startsWith("--option versionAsOff: not an option of any reader (the catalog table's provider is"
        + " not known yet); did you mean versionAsOf?"), e.getMessage());
    assertEquals(List.of(), ReaderOptions.check("table", options("versionAsOf", "0", "bananas", "3", "MERGESCHEMA", "true")));
  }

  @Test
  void keysInAnyCaseAndWithADotPassAndOtherUnknownKeysAreWarnedOfExceptForJdbc() {
    assertEquals(List.of(), ReaderOptions.check("csv", options("HEADER", "false", "InferSchema", "true",
        "fs.s3a.endpoint", "http://127.0.0.1:9000")));
    List<String> w = ReaderOptions.check("parquet", options("mergeSchema", "true", "bananas", "3"));
    assertEquals(1, w.size(), w.toString());
    assertTrue(w.get(0).startsWith("--option bananas: not an option of Spark's parquet reader"), w.get(0));
    // a JDBC driver's own connection property (PostgreSQL's sslmode) goes to the driver as it is
    assertEquals(List.of(), ReaderOptions.check("jdbc", options("url", "jdbc:postgresql://h/db", "sslmode", "require")));
    assertEquals(List.of(), ReaderOptions.check("nosuchformat", options("anything", "1")));
  }
}
