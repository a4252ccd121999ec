package io.sparkrnn.bench;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The harness runs both steps at a tiny shape and reports both medians and their ratio; a wrong key is refused. */
class GroupedStepBenchTest {
  @Test
  void reportsBothStepsAndTheirRatio() {
    Map<String, String> a = new LinkedHashMap<>(GroupedStepBench.DEFAULTS);
    a.putAll(Map.of("H", "8", "B", "6", "T", "5", "V", "3", "rounds", "2", "window", "0.01"));
    String report = GroupedStepBench.run(a);
    assertTrue(Pattern.compile("bench's step .*: median \\d+\\.\\d{3} ms").matcher(report).find(), report);
    assertTrue(Pattern.compile("over V=3 groups.*: median \\d+\\.\\d{3} ms").matcher(report).find(), report);
    assertTrue(Pattern.compile("train / bench per round: median \\d+\\.\\d{3}, quartiles").matcher(report).find(), report);
  }

  @Test
  void anUnknownKeyIsRefused() {
    BadInputException e = assertThrows(BadInputException.class, () -> GroupedStepBench.main(new String[] {"hidden=64"}));
    assertTrue(e.getMessage().contains("hidden=64"), e.getMessage());
  }
}
