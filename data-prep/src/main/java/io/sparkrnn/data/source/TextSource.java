package io.sparkrnn.data.source;

import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.SequenceSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;

/**
 * UTF-8 text for next-character prediction (char-rnn): seq2seq, cross_entropy, one-hot inputs.
 *
 * <p>The vocabulary is the set of distinct Unicode code points of the whole text sorted by code
 * point, so it is stable for the same text; class id k is vocabulary[k], and F = O = V. Sequence i
 * covers code points {@code [i·stride, i·stride + T]} (T + 1 of them): x_t is the one-hot of code
 * point i·stride + t and the target y_t is the id of code point i·stride + t + 1, for t &lt; T.
 * N = ⌊(len − T − 1) / stride⌋ + 1. The default stride T makes consecutive windows share one
 * boundary character and cover the text once.
 */
public final class TextSource implements SequenceSource {
  private static final long serialVersionUID = 1L;
  /** Vocabularies above this are refused (the one-hot inputs would be F = V wide). */
  public static final int MAX_VOCABULARY = 1 << 16;

  /** @param stride code points between the starts of consecutive sequences; T when 0 */
  public record Options(String input, int steps, int stride) implements Serializable {
    public Options {
      Seeds.checkSteps(steps, 1);
      if (stride < 0) {
        throw new BadInputException("--stride must be at least 1, found " + stride);
      }
      if (stride == 0) {
        stride = steps;
      }
    }
  }

  private final Options o;
  /** The text as class ids, one per code point. */
  private final int[] ids;
  private final DatasetSpec spec;

  /**
   * {@code bytes} as UTF-8, or a refusal naming where it is not: the byte offset, the line, and what
   * is wrong there (CharsetDecoder.decode said only "Input length = 1").
   */
  static String utf8(byte[] bytes, String file) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length);   // UTF-8: at most one char per byte (a pair for 4 bytes)
    CoderResult r = decoder.decode(in, out, true);
    if (!r.isError()) {
      r = decoder.flush(out);
    }
    if (r.isError()) {
      int at = in.position();
      throw new BadInputException(file + ": not valid UTF-8 at byte offset " + at + " (line " + lineAt(bytes, at) + "): "
          + whatIsWrong(bytes, at, r.length()) + "; expected UTF-8 text (re-encode a file in another encoding first, e.g."
          + " iconv -f latin1 -t utf-8)");
    }
    if (r.isOverflow()) {
      throw new IllegalStateException("a UTF-8 decoding of " + bytes.length + " bytes overflowed as many chars");
    }
    return out.flip().toString();
  }

  /** The 1-based line of byte {@code at}: lines end at \n, \r\n or a lone \r. */
  private static long lineAt(byte[] bytes, int at) {
    long line = 1;
    for (int i = 0; i < at; i++) {
      line += bytes[i] == '\n' || bytes[i] == '\r' && (i + 1 >= bytes.length || bytes[i + 1] != '\n') ? 1 : 0;
    }
    return line;
  }

  /**
   * Why the {@code length} bytes at {@code at} are no character: a byte no character starts with
   * (a continuation byte 0x80..0xBF, or 0xC0, 0xC1, 0xF5..0xFF); a lead byte of an n-byte character
   * cut short by the end of the file; or one that the next byte does not continue (not 0x80..0xBF,
   * or outside the lead's narrower range: overlong forms, surrogates, past U+10FFFF).
   */
  private static String whatIsWrong(byte[] bytes, int at, int length) {
    int lead = bytes[at] & 0xff;
    int n = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    if (n == 0) {
      return hex(bytes, at, 1) + " is not a byte a UTF-8 character starts with";
    }
    if (at + length >= bytes.length) {
      return hex(bytes, at, bytes.length - at) + " starts a " + n + "-byte character that the end of the file cuts short";
    }
    return hex(bytes, at, length) + " starts a " + n + "-byte character that " + hex(bytes, at + length, 1)
        + " at byte offset " + (at + length) + " does not continue";
  }

  private static String hex(byte[] bytes, int from, int count) {
    StringBuilder s = new StringBuilder();
    for (int i = from; i < from + count; i++) {
      s.append(s.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "0x%02X", bytes[i] & 0xff));
    }
    return s.toString();
  }

  public TextSource(Options options, Configuration conf) throws IOException {
    this.o = options;
    byte[] bytes = Inputs.readAll(o.input(), conf);
    String text = utf8(bytes, o.input());
    int[] cps = Inputs.withoutByteOrderMark(text).codePoints().toArray();
    if (cps.length < o.steps() + 1) {
      throw new BadInputException(o.input() + ": " + cps.length + " characters, need at least T+1 = "
          + (o.steps() + 1) + " for one sequence");
    }
    TreeSet<Integer> distinct = new TreeSet<>();
    for (int c : cps) {
      distinct.add(c);
    }
    if (distinct.size() < 2 || distinct.size() > MAX_VOCABULARY) {
      throw new BadInputException(o.input() + ": " + distinct.size() + " distinct characters, expected 2.."
          + MAX_VOCABULARY);
    }
    List<String> vocabulary = new ArrayList<>();
    Map<Integer, Integer> index = new HashMap<>();
    for (int c : distinct) {
      index.put(c, vocabulary.size());
      vocabulary.add(new String(Character.toChars(c)));
    }
    ids = new int[cps.length];
    for (int i = 0; i < cps.length; i++) {
      ids[i] = index.get(cps[i]);
    }
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("kind", "text");
    info.put("input", o.input());
    info.put("stride", (long) o.stride());
    info.put("characters", (long) cps.length);
    info.put("one_hot", true);
    int V = vocabulary.size();
    spec = new DatasetSpec("text", V, V, o.steps(), Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false, vocabulary, info);
  }

  @Override
  public DatasetSpec spec() {
    return spec;
  }

  @Override
  public long count() {
    return (ids.length - o.steps() - 1) / o.stride() + 1;
  }

  @Override
  public Batch read(long first, int count, Configuration conf) {
    Seeds.checkRange(first, count, count());
    int T = o.steps();
    int B = count;
    int V = spec.features();
    float[] x = new float[Math.multiplyExact(Math.multiplyExact(T, B), V)];
    int[] y = new int[T * B];
    for (int b = 0; b < B; b++) {
      int start = (int) ((first + b) * o.stride());
      for (int t = 0; t < T; t++) {
        x[(t * B + b) * V + ids[start + t]] = 1f;
        y[t * B + b] = ids[start + t + 1];
      }
    }
    return new Batch(T, B, V, x, null, y, null);
  }
}
