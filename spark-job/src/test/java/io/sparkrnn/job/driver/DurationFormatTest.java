package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The progress line's ETA ({@code ETA 0m00s} in README's example): seconds rounded to the nearest
 * whole second, shown as minutes and seconds below an hour ({@code M m SS s}) and as hours and
 * minutes from an hour on ({@code H h MM m}, the seconds dropped).
 */
class DurationFormatTest {
  @Test
  void belowAnHourMinutesAndSeconds() {
    assertEquals("0m00s", Trainer.formatDuration(0));
    assertEquals("0m00s", Trainer.formatDuration(0.49));   // rounds to 0 s
    assertEquals("0m01s", Trainer.formatDuration(0.5));    // Math.round: half up
    assertEquals("0m59s", Trainer.formatDuration(59));
    assertEquals("1m00s", Trainer.formatDuration(59.6));   // 60 s is a whole minute
    assertEquals("2m05s", Trainer.formatDuration(125));    // 125 = 2·60 + 5
    assertEquals("59m59s", Trainer.formatDuration(3599));  // 3599 = 59·60 + 59
  }

  @Test
  void fromAnHourOnHoursAndMinutes() {
    assertEquals("1h00m", Trainer.formatDuration(3600));
    assertEquals("1h00m", Trainer.formatDuration(3599.5)); // rounds to 3600 s
    assertEquals("2h02m", Trainer.formatDuration(7322));   // 7322 = 2·3600 + 2·60 + 2
    assertEquals("27h46m", Trainer.formatDuration(100_000)); // 100000 = 27·3600 + 46·60 + 40
  }
}
