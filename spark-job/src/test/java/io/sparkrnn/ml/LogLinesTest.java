package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** LogLines: each line written to it to a logger, at INFO, or at WARN in the caller's words for a "warning: " line. */
class LogLinesTest {
  /** A logger that records the message of each info(String) call and accepts nothing else. */
  private static Logger recording(List<String> infos) {
    return recording(infos, null);
  }

  /** A logger that records info(String) calls in {@code infos} and warn(String) calls in {@code warns} (none: refused). */
  private static Logger recording(List<String> infos, List<String> warns) {
    return (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(), new Class<?>[] {Logger.class}, (proxy, method, args) -> {
      if (method.getName().equals("info") && args != null && args.length == 1 && args[0] instanceof String s) {
        infos.add(s);
        return null;
      }
      if (warns != null && method.getName().equals("warn") && args != null && args.length == 1 && args[0] instanceof String s) {
        warns.add(s);
        return null;
      }
      if (method.getName().equals("getName")) {
        return "recording";
      }
      throw new AssertionError("unexpected logger call: " + method);
    });
  }

  @Test
  void eachLineIsOneInfoRecordAndTheLastUnterminatedOneComesOnClose() {
    List<String> infos = new ArrayList<>();
    PrintStream out = new PrintStream(new LogLines(recording(infos), UnaryOperator.identity(), w -> { throw new AssertionError("no warning here: " + w); }), false, StandardCharsets.UTF_8);
    out.print("step 1 loss 0.5\nstep 2 τ=0.8\n");
    assertEquals(List.of("step 1 loss 0.5", "step 2 τ=0.8"), infos, "two lines, UTF-8 decoded whole");
    out.print("no newline yet");
    out.flush();
    assertEquals(2, infos.size(), "a line is logged when it ends, not when the stream is flushed: " + infos);
    out.close();
    assertEquals(List.of("step 1 loss 0.5", "step 2 τ=0.8", "no newline yet"), infos, "close logs the unterminated line");
  }

  @Test
  void warningLinesGoToWarnAndOtherLinesToInfoEachInTheCallersWords() {
    List<String> infos = new ArrayList<>();
    List<String> warns = new ArrayList<>();
    PrintStream out = new PrintStream(new LogLines(recording(infos, warns), i -> i.contains("drop") ? null : "<" + i + ">",
        w -> w.contains("drop") ? null : "[" + w + "]"), true, StandardCharsets.UTF_8);
    out.println("warning: tbptt 12 is long");
    out.println("step 1/2 warning: not at the start");
    out.println("warning:no space");
    out.println("warning: drop me");
    out.println("info to drop");
    out.close();
    assertEquals(List.of("[tbptt 12 is long]"), warns);
    assertEquals(List.of("<step 1/2 warning: not at the start>", "<warning:no space>"), infos, "info lines in their own words");
  }
}
