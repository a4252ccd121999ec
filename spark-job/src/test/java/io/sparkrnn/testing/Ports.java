package io.sparkrnn.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Ports for tests, on 127.0.0.1 only (the project's network rule). */
public final class Ports {
  private Ports() {}

  /**
   * A port of 127.0.0.1 that was free a moment ago: bound and closed, so that nothing listens there
   * now, and which a server started next may take.
   */
  public static int free() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
