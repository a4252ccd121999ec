package io.sparkrnn.kernel.io;

import static io.sparkrnn.kernel.testing.Refusals.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reader and writer against RFC 8259's grammar and the value types the class comment lists. */
class JsonTest {

  @Test
  void everyEscapeOfRfc8259Section7IsRead() {
    // \" \\ \/ \b \f \n \r \t and \u00e9 (é); \ud83d\ude00 is the UTF-16 pair of U+1F600
    String json = "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\ud83d\\ude00\"";
    assertEquals("\"\\/\b\f\n\r\té\u00e9\uD83D\uDE00", Json.parse(json));
    assertEquals("héllo", Json.parse("\"héllo\""), "non-ASCII characters pass unescaped");
    refused(() -> Json.parse("\"\\x\""), "bad escape");
    refused(() -> Json.parse("\"\\u12\""), "\\u");
    refused(() -> Json.parse("\"\\u12g4\""), "\\u");
    refused(() -> Json.parse("\"a\nb\""), "control character");
    refused(() -> Json.parse("\"abc"), "unterminated");
  }

  @Test
  void numbersAreLongsWhenIntegralAndDoublesOtherwise() {
    assertEquals(12L, Json.parse("12"));
    assertEquals(-7L, Json.parse(" -7 "));
    assertEquals(-0.5, Json.parse("-0.5"));
    assertEquals(1000.0, Json.parse("1e3"));
    assertEquals(0.025, Json.parse("2.5E-2"));
    // 2^63 does not fit a long: a Double, as the class comment says
    Object big = Json.parse("9223372036854775808");
    assertInstanceOf(Double.class, big);
    assertEquals(9.223372036854775808e18, big);
    assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
    refused(() -> Json.parse("-"), "bad number");
    refused(() -> Json.parse("1e"), "bad number");
    refused(() -> Json.parse("+1"), "unexpected character '+'");
  }

  @Test
  void objectsKeepTheirOrderAndRefuseDuplicateKeys() {
    Map<String, Object> m = Json.parseObject("{\"b\": [1, true, null, {}], \"a\": {\"x\": []}}");
    assertEquals(List.of("b", "a"), new ArrayList<>(m.keySet()));
    assertEquals(Arrays.asList(1L, Boolean.TRUE, null, Map.of()), m.get("b"));
    assertEquals(Map.of("x", List.of()), m.get("a"));
    refused(() -> Json.parse("{\"a\": 1, \"a\": 2}"), "duplicate key 'a'");
    refused(() -> Json.parseObject("[1]"), "expected a JSON object", "an array");
  }

  @Test
  void errorsNameTheCharacterWhereTheyAre() {
    // positions counted from 0: in {"a" 1} the ':' is missing at character 5
    refused(() -> Json.parse("{\"a\" 1}"), "at character 5", "expected ':'");
    // [1, 2,] : ']' at character 6 is no value
    refused(() -> Json.parse("[1, 2,]"), "at character 6", "unexpected character ']'");
    refused(() -> Json.parse("{1: 2}"), "at character 1", "expected a string key");
    refused(() -> Json.parse("{} x"), "at character 3", "trailing");
    refused(() -> Json.parse("[1,"), "end of input");
    refused(() -> Json.parse("nul"), "expected 'null'");
    refused(() -> Json.parse(""), "end of input");
  }

  /**
   * After a value, a wrong separator is reported where it is, as expect(':') reports its own: in
   * [1 2] the '2' is character 3 (counted from 0, as the ':' case above counts). An audit found the
   * message saying 4 (next() had already consumed it).
   */
  @Test
  void aWrongSeparatorIsReportedWhereItIs() {
    refused(() -> Json.parse("[1 2]"), "at character 3", "expected ',' or ']'");
    refused(() -> Json.parse("{\"a\": 1 \"b\"}"), "at character 8", "expected ',' or '}'");
  }

  /**
   * A strict RFC 8259 reader refuses what §6's grammar (int = zero / digit1-9 *DIGIT; frac = "."
   * 1*DIGIT) does not allow: leading zeros, "1.", "-.5"; and a \\u escape takes four hex digits, no
   * sign. An audit found all four accepted (Long/Double.parseDouble and Integer.parseInt take them).
   */
  @Test
  void textOutsideTheRfc8259GrammarIsRefused() {
    refused(() -> Json.parse("01"), "at character");
    refused(() -> Json.parse("1."), "at character");
    refused(() -> Json.parse("-.5"), "at character");
    refused(() -> Json.parse("\"\\u+041\""), "\\u");
    refused(() -> Json.parse("\"\\u\uFF10\uFF10\uFF14\uFF11\""), "\\u");   // fullwidth 0041: digits, not ASCII hex
    // and what §6 allows still reads: a negative zero, an exponent with a sign, a fraction with one
    assertEquals(0L, Json.parse("-0"));
    assertEquals(100.0, Json.parse("1E+2"));
    assertEquals(0.0005, Json.parse("0.5e-3"));
    assertEquals(List.of(1L, 2.5, -3L), Json.parse("[1,2.5 ,-3]"));
    assertEquals("A", Json.parse("\"\\u0041\""));
  }

  @Test
  void deepNestingIsRefusedInsteadOfOverflowingTheStack() {
    assertEquals(List.of(List.of(List.of())), Json.parse("[[[]]]"));
    String ten = "[".repeat(10) + "]".repeat(10);
    Json.parse(ten);
    refused(() -> Json.parse("[".repeat(100_000) + "]".repeat(100_000)), "nesting deeper than 64");
    refused(() -> Json.parse("{\"a\":".repeat(200) + "1" + "}".repeat(200)), "nesting deeper than 64");
  }

  @Test
  void writtenTextIsValidJsonThatReadsBackToTheSameValues() {
    // every character below U+0020 must be escaped (RFC 8259 §7); build one string holding them all
    StringBuilder controls = new StringBuilder();
    for (char c = 0; c < 0x20; c++) {
      controls.append(c);
    }
    controls.append("\"\\/é\uD83D\uDE00");
    Map<String, Object> value = new LinkedHashMap<>();
    value.put("s", controls.toString());
    value.put("n", List.of(1L, -2L, 2.0, 0.5, 1e20));
    value.put("empty", Map.of());
    value.put("nothing", null);
    value.put("yes", true);
    for (String text : List.of(Json.write(value), Json.writePretty(value))) {
      for (int i = 0; i < text.length(); i++) {
        if (text.charAt(i) < 0x20 && text.charAt(i) != '\n') {
          throw new AssertionError("raw control character " + (int) text.charAt(i) + " at " + i + " in " + text);
        }
      }
      assertEquals(value, Json.parse(text), text);
    }
    // a whole double is written with ".0", so that it reads back as a Double, not a Long
    assertEquals("[2.0,-3.0,0.5]", Json.write(List.of(2.0, -3.0, 0.5)));
    assertEquals("{\"a\":1}", Json.write(Map.of("a", 1L)));
    assertEquals("[1,2]", Json.write(new int[] {1, 2}));
    refused(() -> Json.write(Double.NaN), "NaN");
    refused(() -> Json.write(Double.POSITIVE_INFINITY), "Infinity");
  }

  @Test
  void negativeZeroKeepsItsSign() {
    // −0.0 and 0.0 differ in their bits (sign bit 63), and a value written must read back bit for bit
    assertEquals("-0.0", Json.write(-0.0));
    assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits((Double) Json.parse(Json.write(-0.0))));
    assertEquals("0.0", Json.write(0.0));
  }

  @Test
  void numbersBeyondAFloat64AreRefusedNotReadAsInfinity() {
    // the largest float64 is about 1.7977e308: 1e400 has no finite value, and write refuses Infinity
    refused(() -> Json.parse("1e400"), "1e400");
    refused(() -> Json.parse("[-1e400]"), "-1e400");
    refused(() -> Json.parse("1" + "0".repeat(400)), "float64");
    assertEquals(1.7976931348623157e308, Json.parse("1.7976931348623157e308"));
    assertEquals(0.0, Json.parse("1e-400"));   // underflow to zero loses no range: accepted
  }

  @Test
  void prettyTextIndentsTwoSpacesPerLevel() {
    Map<String, Object> inner = new LinkedHashMap<>();
    inner.put("x", List.of(1L, 2L));
    Map<String, Object> outer = new LinkedHashMap<>();
    outer.put("a", inner);
    outer.put("b", "c");
    assertEquals("{\n  \"a\": {\n    \"x\": [1, 2]\n  },\n  \"b\": \"c\"\n}\n", Json.writePretty(outer));
  }

  /** RFC 8259 §7: "All Unicode characters may be placed within the quotation marks, except ... the control characters (U+0000 through U+001F)". */
  @Test
  void everyRawControlCharacterInAStringIsRefused() {
    for (char c = 0; c < 0x20; c++) {
      char raw = c;
      refused(() -> Json.parse("\"a" + raw + "b\""), "control character");
    }
    assertEquals("a\u007fb", Json.parse("\"a\u007fb\""), "DEL (U+007F) is no control character in §7's sense");
  }

  /** RFC 8259 §2: ws = space, horizontal tab, line feed, carriage return (a file written on Windows has CR LF). */
  @Test
  void allFourWhitespaceCharactersAreSkipped() {
    Map<String, Object> m = Json.parseObject("{\r\n\t\"a\"\t:\r\n\t[1,\t2]\r\n}\r\n");
    assertEquals(Map.of("a", List.of(1L, 2L)), m);
  }

  /** A list of objects puts each element on its own line, one level (two spaces) deeper than the bracket. */
  @Test
  void prettyListsOfObjectsPutEachElementOnItsOwnLine() {
    List<Object> rows = List.of(Map.of("a", 1L), Map.of("b", 2L));
    assertEquals("[\n  {\n    \"a\": 1\n  },\n  {\n    \"b\": 2\n  }\n]\n", Json.writePretty(rows));
  }
}
