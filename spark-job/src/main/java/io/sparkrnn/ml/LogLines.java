package io.sparkrnn.ml;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;

/**
 * An output stream that sends each line written to it to a logger: the trainer's progress into
 * Spark's log at INFO in the words {@code infoWords} gives them, and its "warning: ..." lines at
 * WARN, without the prefix and in the words {@code warningWords} gives them (the estimator's setters
 * for the CLI's options; null drops the line).
 */
final class LogLines extends OutputStream {
  static final String WARNING = "warning: ";
  private final Logger log;
  private final UnaryOperator<String> infoWords;
  private final UnaryOperator<String> warningWords;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();

  LogLines(Logger log, UnaryOperator<String> infoWords, UnaryOperator<String> warningWords) {
    this.log = log;
    this.infoWords = infoWords;
    this.warningWords = warningWords;
  }

  @Override
  public void write(int b) {
    if (b == '\n') {
      flushLine();
    } else {
      line.write(b);
    }
  }

  @Override
  public void close() {
    flushLine();
  }

  private void flushLine() {
    if (line.size() > 0) {
      String text = line.toString(StandardCharsets.UTF_8);
      line.reset();
      boolean warning = text.startsWith(WARNING);
      String words = warning ? warningWords.apply(text.substring(WARNING.length())) : infoWords.apply(text);
      if (words != null) {
        if (warning) {
          log.warn(words);
        } else {
          log.info(words);
        }
      }
    }
  }
}
