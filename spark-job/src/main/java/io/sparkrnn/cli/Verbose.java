package io.sparkrnn.cli;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code --verbose}: debug lines from spark-rnn's own code (loggers under {@code io.sparkrnn}) in
 * this JVM. The Spark job's classes log through SLF4J into Spark's log4j2, whose level for
 * {@code io.sparkrnn} is raised to DEBUG; the kernel logs through java.util.logging (it depends on
 * nothing), whose records reach log4j2 through the JUL → SLF4J bridge that Spark installs, installed
 * here too for commands that start no Spark. On a cluster the executors keep their own log4j2
 * configuration: set {@code logger.sparkrnn.level = debug} there (conf/log4j2.properties).
 */
final class Verbose {
  /** Held here: java.util.logging keeps loggers weakly, and a collected one would forget its level. */
  private static Logger kernelLogger;

  private Verbose() {}

  static synchronized void enable() {
    kernelLogger = Logger.getLogger("io.sparkrnn");
    kernelLogger.setLevel(Level.FINE);
    try {
      if (!org.slf4j.bridge.SLF4JBridgeHandler.isInstalled()) {
        org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
        org.slf4j.bridge.SLF4JBridgeHandler.install();
      }
      org.apache.logging.log4j.core.config.Configurator.setLevel("io.sparkrnn", org.apache.logging.log4j.Level.DEBUG);
    } catch (LinkageError e) {
      // a Spark build without log4j2 or the bridge: the kernel's lines still go to java.util.logging's console
      kernelLogger.warning("--verbose: log4j2 or jul-to-slf4j is not on the classpath (" + e + "); only the kernel's debug lines show");
      java.util.logging.Handler console = new java.util.logging.ConsoleHandler();
      console.setLevel(Level.FINE);
      kernelLogger.addHandler(console);
    }
  }

  /** Whether {@link #enable} ran in this JVM (for tests). */
  static synchronized boolean enabled() {
    return kernelLogger != null;
  }
}
