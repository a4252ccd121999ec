package io.sparkrnn.data;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/**
 * The WARN (or INFO) lines one class logs while it is open (log4j2, as Spark's runtime has it): for
 * tests that a warning or a progress line says what it should. Also used by spark-job's tests (through data-prep's test jar).
 */
public final class LogCapture implements AutoCloseable {
  private static final AtomicLong SERIAL = new AtomicLong();
  private final Logger logger;
  private final List<String> warnings = new CopyOnWriteArrayList<>();
  private final AbstractAppender appender;

  private LogCapture(Class<?> source, Level level) {
    logger = (Logger) LogManager.getLogger(source);
    appender = new AbstractAppender(
        // unique: log4j keeps one appender per name on a logger, so a second capture of the same class (INFO
        // beside WARN) under the same name would silently capture nothing (a user audit)
        "capture-" + level + "-" + source.getSimpleName() + "-" + SERIAL.incrementAndGet(), null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        if (event.getLevel() == level) {
          warnings.add(event.getMessage().getFormattedMessage());
        }
      }
    };
    appender.start();
    logger.addAppender(appender);
  }

  /** Starts capturing {@code source}'s WARN lines. */
  public static LogCapture warnings(Class<?> source) {
    return new LogCapture(source, Level.WARN);
  }

  /** Starts capturing {@code source}'s INFO lines. */
  public static LogCapture infos(Class<?> source) {
    return new LogCapture(source, Level.INFO);
  }

  /** The messages captured so far, in order. */
  public List<String> messages() {
    return List.copyOf(warnings);
  }

  @Override
  public void close() {
    logger.removeAppender(appender);
    appender.stop();
  }
}
