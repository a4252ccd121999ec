package io.sparkrnn.job.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** loss.png's caption named the x axis "(log scale)" while the x axis is linear and the y axis logarithmic. */
class LinePlotTest {
  @Test
  void theCaptionSaysWhichAxisIsLogarithmic() {
    assertEquals("step   (y axis: log scale)", LinePlot.caption("step", true));
    assertEquals("time step", LinePlot.caption("time step", false));
  }
}
