package io.sparkrnn.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.logging.log4j.core.config.Configurator;

/**
 * {@code --verbose}: debug lines from spark-rnn's own code (loggers under {@code io.sparkrnn}) in
 * this JVM. The Spark job's classes log through SLF4J into Spark's log4j2, whose level for
 * {@code io.sparkrnn} is raised to DEBUG; the kernel logs through java.util.logging (it depends on
 * nothing), whose records reach log4j2 through the JUL → SLF4J bridge that Spark installs, installed
 * here too for commands that start no Spark. On a cluster the executors keep their own log4j2
 * configuration: {@code logger.sparkrnn.level = debug} there turns on both kinds of lines
 * (executors set the kernel's level from it, {@code ExecutorRuntime}).
 */
final class Verbose {
  /** Held here: java.util.logging keeps loggers weakly, and a collected one would forget its level. */
  private static Logger kernelLogger;

  private Verbose() {}

  /** Idempotent: {@code --verbose} given before and after the subcommand calls it twice. */
  static synchronized void enable() {
    if (kernelLogger != null) {
      return;
    }
    kernelLogger = Logger.getLogger("io.sparkrnn");
    kernelLogger.setLevel(Level.FINE);
    boolean bridged;
    try {
      if (!org.slf4j.bridge.SLF4JBridgeHandler.isInstalled()) {
        org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
        org.slf4j.bridge.SLF4JBridgeHandler.install();
      }
      bridged = true;
    } catch (LinkageError e) {
      bridged = false;
    }
    try {
      Configurator.setLevel("io.sparkrnn", org.apache.logging.log4j.Level.DEBUG);
    } catch (LinkageError e) {
      bridged = false; // records may cross the bridge, but nothing raises log4j2's level for them
    }
    if (!bridged) {
      // a Spark build without log4j2 or jul-to-slf4j: the kernel's lines go to a console handler of their own, once
      Handler console = new ConsoleHandler();
      console.setLevel(Level.FINE);
      kernelLogger.setUseParentHandlers(false);
      kernelLogger.addHandler(console);
      kernelLogger.warning("--verbose: log4j2 or jul-to-slf4j is not on the classpath; only the kernel's debug lines show");
    }
  }

  /** Whether {@link #enable} ran in this JVM (for tests). */
  static synchronized boolean enabled() {
    return kernelLogger != null;
  }

  /** Back to the configured levels (for tests). */
  static synchronized void disable() {
    if (kernelLogger != null) {
      kernelLogger.setLevel(null);
      kernelLogger = null;
    }
    Configurator.setLevel("io.sparkrnn", org.apache.logging.log4j.Level.INFO);
  }
}
