package io.sparkrnn.kernel.io;

import io.sparkrnn.kernel.BadInputException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader and writer (RFC 8259) for safetensors headers, manifests and reports,
 * so that the kernel module needs no JSON library.
 *
 * <p>Values map to: object → {@code LinkedHashMap<String, Object>} (order kept), array →
 * {@code ArrayList<Object>}, string → String, integer → Long (Double when it does not fit),
 * other number → Double, true/false → Boolean, null → null.
 */
public final class Json {
  private final String text;
  private int pos;
  /** Nesting limit: deeper input is refused instead of overflowing the stack. */
  private static final int MAX_DEPTH = 64;

  private Json(String text) {
    this.text = text;
  }

  /** Parses one JSON value; trailing non-space characters are an error. */
  public static Object parse(String text) {
    Json p = new Json(text);
    p.skipSpace();
    Object v = p.value(0);
    p.skipSpace();
    if (p.pos != text.length()) {
      throw p.error("unexpected trailing characters");
    }
    return v;
  }

  /** Parses a JSON object; anything else is an error. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> parseObject(String text) {
    Object v = parse(text);
    if (!(v instanceof Map)) {
      throw new BadInputException("expected a JSON object, found " + describe(v));
    }
    return (Map<String, Object>) v;
  }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) {
      throw error("nesting deeper than " + MAX_DEPTH);
    }
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true", Boolean.TRUE);
      case 'f':
        return literal("false", Boolean.FALSE);
      case 'n':
        return literal("null", null);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return number();
        }
        throw error("unexpected character '" + c + "'");
    }
  }

  private Map<String, Object> object(int depth) {
    Map<String, Object> m = new LinkedHashMap<>();
    pos++;
    skipSpace();
    if (peek() == '}') {
      pos++;
      return m;
    }
    while (true) {
      skipSpace();
      if (peek() != '"') {
        throw error("expected a string key");
      }
      String key = string();
      skipSpace();
      expect(':');
      skipSpace();
      Object v = value(depth + 1);
      if (m.containsKey(key)) {
        throw error("duplicate key '" + key + "'");
      }
      m.put(key, v);
      skipSpace();
      char c = next();
      if (c == '}') {
        return m;
      }
      if (c != ',') {
        pos--;   // report the separator's own position, as expect() does
        throw error("expected ',' or '}'");
      }
    }
  }

  private List<Object> array(int depth) {
    List<Object> list = new ArrayList<>();
    pos++;
    skipSpace();
    if (peek() == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipSpace();
      list.add(value(depth + 1));
      skipSpace();
      char c = next();
      if (c == ']') {
        return list;
      }
      if (c != ',') {
        pos--;   // report the separator's own position, as expect() does
        throw error("expected ',' or ']'");
      }
    }
  }

  private String string() {
    pos++;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char c = text.charAt(pos++);
      if (c == '"') {
        return sb.toString();
      }
      if (c == '\\') {
        char e = next();
        switch (e) {
          case '"', '\\', '/' -> sb.append(e);
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'n' -> sb.append('\n');
          case 'r' -> sb.append('\r');
          case 't' -> sb.append('\t');
          case 'u' -> {
            // exactly four hex digits (Integer.parseInt alone would also take a sign: "\\u+041")
            int code = 0;
            for (int i = 0; i < 4; i++) {
              int digit = pos + i < text.length() ? hexDigit(text.charAt(pos + i)) : -1;
              if (digit < 0) {
                throw error("bad \\u escape: expected four hex digits");
              }
              code = 16 * code + digit;
            }
            sb.append((char) code);
            pos += 4;
          }
          default -> throw error("bad escape '\\" + e + "'");
        }
      } else if (c < 0x20) {
        throw error("control character in string");
      } else {
        sb.append(c);
      }
    }
  }

  /**
   * A number as RFC 8259 §6 writes it: {@code -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?}.
   * Long/Double.parseDouble alone would also take "01", "1." and "-.5".
   */
  private Object number() {
    int start = pos;
    if (text.charAt(pos) == '-') {
      pos++;
    }
    if (pos < text.length() && text.charAt(pos) == '0') {
      pos++;
    } else if (digits() == 0) {
      throw error("bad number: expected a digit");
    }
    boolean integral = true;
    if (pos < text.length() && text.charAt(pos) == '.') {
      integral = false;
      pos++;
      if (digits() == 0) {
        throw error("bad number: expected a digit after '.'");
      }
    }
    if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      integral = false;
      pos++;
      if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
        pos++;
      }
      if (digits() == 0) {
        throw error("bad number: expected a digit in the exponent");
      }
    }
    String s = text.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException tooBig) {
        // falls through to a double: the grammar above is a subset of Double's, so this parses
      }
    }
    double d = Double.parseDouble(s);
    if (Double.isInfinite(d)) {
      // 1e400 would come back as Infinity, which write refuses (RFC 8259 §6 lets a reader limit range)
      pos = start;
      throw error("number " + s + " is beyond a float64's range (±1.8e308)");
    }
    return d;
  }

  /** An ASCII hex digit's value, or −1 (Character.digit would also take fullwidth and other scripts' digits). */
  private static int hexDigit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  }

  /** Skips ASCII digits and returns how many. */
  private int digits() {
    int start = pos;
    while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
      pos++;
    }
    return pos - start;
  }

  private Object literal(String word, Object value) {
    if (!text.startsWith(word, pos)) {
      throw error("expected '" + word + "'");
    }
    pos += word.length();
    return value;
  }

  private void skipSpace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        pos++;
      } else {
        break;
      }
    }
  }

  private char peek() {
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    return text.charAt(pos);
  }

  private char next() {
    char c = peek();
    pos++;
    return c;
  }

  private void expect(char c) {
    if (next() != c) {
      pos--;
      throw error("expected '" + c + "'");
    }
  }

  private IllegalArgumentException error(String what) {
    return new BadInputException("invalid JSON at character " + pos + ": " + what);
  }

  /** A parsed value's JSON kind, for messages: "an array", not the Java class that holds it. */
  private static String describe(Object v) {
    if (v == null) {
      return "null";
    }
    return v instanceof Map ? "an object" : v instanceof List ? "an array" : v instanceof String ? "a string"
        : v instanceof Boolean ? "a boolean" : v instanceof Number ? "a number" : v.getClass().getSimpleName();
  }

  /** Compact JSON text of a value built from the types listed in the class comment. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, -1, 0);
    return sb.toString();
  }

  /** JSON text indented by two spaces per level, for files people read. */
  public static String writePretty(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 2, 0);
    return sb.append('\n').toString();
  }

  private static void write(StringBuilder sb, Object v, int indent, int level) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String s) {
      quote(sb, s);
    } else if (v instanceof Double d) {
      if (d.isNaN() || d.isInfinite()) {
        throw new BadInputException("JSON cannot hold " + d);
      }
      if (d == 0 && Double.doubleToRawLongBits(d) != 0) {
        sb.append("-0.0");   // longValue() would drop the sign of −0.0
      } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        sb.append(d.longValue()).append(".0");
      } else {
        sb.append(d);
      }
    } else if (v instanceof Float f) {
      write(sb, (double) f, indent, level);
    } else if (v instanceof Number || v instanceof Boolean) {
      sb.append(v);
    } else if (v instanceof Map<?, ?> m) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        newline(sb, indent, level + 1);
        quote(sb, String.valueOf(e.getKey()));
        sb.append(indent >= 0 ? ": " : ":");
        write(sb, e.getValue(), indent, level + 1);
      }
      if (!m.isEmpty()) {
        newline(sb, indent, level);
      }
      sb.append('}');
    } else if (v instanceof List<?> list) {
      sb.append('[');
      boolean scalars = list.stream().allMatch(x -> !(x instanceof Map) && !(x instanceof List));
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          sb.append(scalars && indent >= 0 ? ", " : ",");
        }
        if (!scalars) {
          newline(sb, indent, level + 1);
        }
        write(sb, list.get(i), indent, level + 1);
      }
      if (!scalars && !list.isEmpty()) {
        newline(sb, indent, level);
      }
      sb.append(']');
    } else if (v instanceof int[] a) {
      List<Object> l = new ArrayList<>();
      for (int x : a) {
        l.add((long) x);
      }
      write(sb, l, indent, level);
    } else if (v instanceof long[] a) {
      List<Object> l = new ArrayList<>();
      for (long x : a) {
        l.add(x);
      }
      write(sb, l, indent, level);
    } else {
      throw new BadInputException("cannot write " + v.getClass() + " as JSON");
    }
  }

  private static void newline(StringBuilder sb, int indent, int level) {
    if (indent >= 0) {
      sb.append('\n');
      sb.append(" ".repeat(indent * level));
    }
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
