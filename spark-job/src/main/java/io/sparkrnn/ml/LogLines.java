package io.sparkrnn.ml;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;

/** An output stream that sends each line written to it to a logger at INFO: the trainer's progress into Spark's log. */
final class LogLines extends OutputStream {
  private final Logger log;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();

  LogLines(Logger log) {
    this.log = log;
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
      log.info(line.toString(StandardCharsets.UTF_8));
      line.reset();
    }
  }
}
