package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.BadInputException;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Windows of a 10-row series x_i = i, y_i = 10 + i, worked out by hand. */
class WindowCutterTest {
  private static List<WindowCutter.Window> cut(int rows, int T, int S, int K, int M, boolean seq2one) {
    WindowCutter c = new WindowCutter(T, S, K, M, seq2one, 1, 1);
    List<WindowCutter.Window> out = new ArrayList<>();
    c.begin(out::add);
    for (int i = 0; i < rows; i++) {
      c.add(new float[] {i}, 0, new float[] {10 + i}, 0);
    }
    int count = c.end();
    assertEquals(out.size(), count);
    return out;
  }

  @Test
  void overlappingNextStepWindows() {
    // T=3, S=2, K=1: starts 0, 2, 4, 6 are full (last target row s+3 <= 9); start 8 has L = 1 < M
    List<WindowCutter.Window> w = cut(10, 3, 2, 1, 3, false);
    assertEquals(4, w.size());
    assertArrayEquals(new float[] {0, 1, 2}, w.get(0).x());
    assertArrayEquals(new float[] {11, 12, 13}, w.get(0).y());
    assertArrayEquals(new float[] {6, 7, 8}, w.get(3).x());
    assertArrayEquals(new float[] {17, 18, 19}, w.get(3).y());
    assertEquals(6, w.get(3).start());
    assertEquals(3, w.get(3).length());
  }

  @Test
  void aHorizonOfTwoShiftsEveryTargetTwoRows() {
    // T=3, S=3, K=2, seq2seq: y_t is row t + 2. Starts 0 and 3 are full (last target row s+2+2 <= 9);
    // start 6 has inputs 6, 7 with targets 8, 9 only: L = 2 < M = 3, no window
    List<WindowCutter.Window> w = cut(10, 3, 3, 2, 3, false);
    assertEquals(2, w.size());
    assertArrayEquals(new float[] {0, 1, 2}, w.get(0).x());
    assertArrayEquals(new float[] {12, 13, 14}, w.get(0).y());
    assertArrayEquals(new float[] {3, 4, 5}, w.get(1).x());
    assertArrayEquals(new float[] {15, 16, 17}, w.get(1).y());
  }

  @Test
  void tailAtLeastMinStepsIsPadded() {
    List<WindowCutter.Window> w = cut(10, 3, 2, 1, 1, false);
    assertEquals(5, w.size());
    WindowCutter.Window tail = w.get(4);
    assertEquals(8, tail.start());
    assertEquals(1, tail.length()); // rows 8 (input) and 9 (its target)
    assertArrayEquals(new float[] {8, 0, 0}, tail.x());
    assertArrayEquals(new float[] {19, 0, 0}, tail.y());
  }

  @Test
  void seriesShorterThanTIsOnePaddedWindowOrNone() {
    // 4 rows, T=6, K=1: L = 3
    List<WindowCutter.Window> w = cut(4, 6, 6, 1, 2, false);
    assertEquals(1, w.size());
    assertEquals(3, w.get(0).length());
    assertArrayEquals(new float[] {0, 1, 2, 0, 0, 0}, w.get(0).x());
    assertArrayEquals(new float[] {11, 12, 13, 0, 0, 0}, w.get(0).y());
    assertEquals(0, cut(4, 6, 6, 1, 4, false).size());
  }

  @Test
  void seq2oneTakesTheTargetAfterTheLastValidStep() {
    // T=4, S=4, K=2: start 0 -> y = row 0+4-1+2 = 5; start 4 -> row 9; padded tail none (start 8: L=0)
    List<WindowCutter.Window> w = cut(10, 4, 4, 2, 4, true);
    assertEquals(2, w.size());
    assertArrayEquals(new float[] {15}, w.get(0).y());
    assertArrayEquals(new float[] {4, 5, 6, 7}, w.get(1).x());
    assertArrayEquals(new float[] {19}, w.get(1).y());
    // padded seq2one: 5 rows, T=4, K=2, M=2: start 0 has L = 3, y = row 0+3-1+2 = 4
    List<WindowCutter.Window> p = cut(5, 4, 4, 2, 2, true);
    assertEquals(1, p.size());
    assertEquals(3, p.get(0).length());
    assertArrayEquals(new float[] {14}, p.get(0).y());
  }

  @Test
  void strideLongerThanTheWindowSkipsRows() {
    // T=2, S=5, K=0: starts 0 and 5 (rows 0-1, 5-6); start 10 is past the end
    List<WindowCutter.Window> w = cut(10, 2, 5, 0, 2, false);
    assertEquals(2, w.size());
    assertArrayEquals(new float[] {5, 6}, w.get(1).x());
    assertArrayEquals(new float[] {15, 16}, w.get(1).y());
  }

  @Test
  void aMinimumLengthAboveTIsRefused() {
    // constructor javadoc: M in 1..T (T = 3 here, so M = 3 is the largest allowed)
    new WindowCutter(3, 1, 1, 3, false, 1, 1);
    assertThrows(BadInputException.class, () -> new WindowCutter(3, 1, 1, 4, false, 1, 1));
  }

  /** begin() starts a new series: a second series cut by the same cutter gives the windows a fresh one would. */
  @Test
  void eachSeriesStartsAfresh() {
    WindowCutter c = new WindowCutter(3, 2, 1, 3, false, 1, 1);
    List<WindowCutter.Window> first = new ArrayList<>();
    List<WindowCutter.Window> second = new ArrayList<>();
    for (List<WindowCutter.Window> out : List.of(first, second)) {
      c.begin(out::add);
      for (int i = 0; i < 10; i++) {
        c.add(new float[] {i}, 0, new float[] {10 + i}, 0);
      }
      assertEquals(4, c.end());
    }
    for (int k = 0; k < 4; k++) {
      assertEquals(first.get(k).start(), second.get(k).start());
      assertArrayEquals(first.get(k).x(), second.get(k).x());
      assertArrayEquals(first.get(k).y(), second.get(k).y());
    }
  }

  @Test
  void aStrideOfZeroIsRefused() {
    assertThrows(BadInputException.class, () -> new WindowCutter(3, 0, 1, 3, false, 1, 1));
  }
}
