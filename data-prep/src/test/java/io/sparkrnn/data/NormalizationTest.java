package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;

import org.junit.jupiter.api.Test;

/** The z-score and its inverse, per element and per array, on hand-picked statistics. */
class NormalizationTest {
  // F = 2 inputs with mean (1, 2) and std (2, 4); O = 1 target with mean 10 and std 5
  static final Normalization N = new Normalization(new double[] {1, 2}, new double[] {2, 4}, new double[] {10}, new double[] {5});

  @Test
  void elementsGoToModelUnitsAndBack() {
    assertEquals(0.75, N.inputToModel(5, 1), 0);      // (5 − 2) / 4
    assertEquals(5, N.inputToRaw(0.75, 1), 0);         // 0.75 · 4 + 2
    assertEquals(-0.5, N.inputToModel(0, 0), 0);       // (0 − 1) / 2
    assertEquals(2, N.targetToModel(20, 0), 0);        // (20 − 10) / 5
    assertEquals(20, N.outputToRaw(2, 0), 0);          // 2 · 5 + 10
  }

  @Test
  void arraysCycleThroughTheFeatures() {
    // [n = 2][F = 2] raw rows (3, 6), (1, -2) → (1, 1), (0, -1)
    assertArrayEquals(new float[] {1, 1, 0, -1}, N.inputsToModelUnits(new float[] {3, 6, 1, -2}));
    assertArrayEquals(new float[] {3, 6, 1, -2}, N.inputsToRawUnits(new float[] {1, 1, 0, -1}));
    assertArrayEquals(new float[] {10, 15, 0}, N.outputsToRawUnits(new float[] {0, 1, -2}));
    // fed back (O = F = 1): y = 1 → raw 1 · 5 + 10 = 15 → input units (15 − 1) / 2 = 7
    Normalization one = new Normalization(new double[] {1}, new double[] {2}, new double[] {10}, new double[] {5});
    assertArrayEquals(new float[] {7}, one.feedBack(new float[] {1}));
    // a model that diverged (an output already ±Infinity or NaN) is not called "past float32's range": feedBack passes it
    // on and its caller reports the model's non-finite output (mutation audit survivors N3, N7)
    float[] fed = one.feedBack(new float[] {Float.POSITIVE_INFINITY, Float.NaN});
    assertEquals(Float.POSITIVE_INFINITY, fed[0]);
    assertTrue(Float.isNaN(fed[1]));
  }

  /**
   * A value past float32's range in model units is refused naming what it is: an input feature's
   * value, or the model's output fed back (input std 1e-39: raw 11 is 1e39 stds from mean 10).
   */
  @Test
  void aValuePastFloat32InModelUnitsIsRefusedSayingWhatItIs() {
    Normalization tiny = new Normalization(new double[] {10}, new double[] {1e-39}, new double[] {10}, new double[] {2});
    assertArrayEquals(new float[] {0}, tiny.inputsToModelUnits(new float[] {10}));
    BadInputException in = assertThrows(BadInputException.class, () -> tiny.inputsToModelUnits(new float[] {11}));
    assertEquals("normalization: input feature 0: the value 11.0 is 1.00e+39 training standard deviations from the training"
        + " mean (mean 10.0, std 1.0E-39), past float32's range: the feature barely varied on the training split; leave it"
        + " out, or prep without --normalize", in.getMessage());
    // the element, and the message without its advice, for callers that name the file and advise for their command
    Normalization.PastFloat32Exception second = assertThrows(Normalization.PastFloat32Exception.class,
        () -> tiny.inputsToModelUnits(new float[] {10, 11}));
    assertEquals(1, second.element());
    assertEquals(in.getMessage(), second.fact() + "; leave it out, or prep without --normalize");
    // statistics taken from a model: prepping without --normalize would give data that model refuses
    BadInputException fromModel = assertThrows(BadInputException.class,
        () -> tiny.takenFrom("runs/a/model.safetensors").inputToModelFloat(11, 0));
    assertTrue(fromModel.getMessage().endsWith("past float32's range: the feature barely varied on the training split of"
        + " these statistics (runs/a/model.safetensors); a model trained with them cannot take the value: leave such values"
        + " out, or train without the feature"), fromModel.getMessage());
    // output y = 0.5 → raw 0.5 · 2 + 10 = 11 → (11 − 10) / 1e-39
    BadInputException fed = assertThrows(BadInputException.class, () -> tiny.feedBack(new float[] {0.5f}));
    assertEquals("normalization: the model's output 0 (11.0), fed back as input feature 0, is 1.00e+39 training standard"
        + " deviations from that feature's mean (mean 10.0, std 1.0E-39), past float32's range: the input barely varied on"
        + " the training split where the output varies; feed back no outputs (--feedback 0), or leave the feature out",
        fed.getMessage());
    // an output finite in the model's units whose raw value is past float32 (10 · 1e38): refused too, not fed as
    // Infinity (a review: the closed loop then ended training with an IllegalStateException)
    Normalization hugeTarget = new Normalization(new double[] {0}, new double[] {1}, new double[] {0}, new double[] {1e38});
    Normalization.PastFloat32Exception raw = assertThrows(Normalization.PastFloat32Exception.class,
        () -> hugeTarget.feedBack(new float[] {10f}));
    assertEquals("normalization: the model's output 0 (10.0 in the model's units) is past float32's range in raw units"
        + " (· std 1.0E38 + mean 0.0); feed back no outputs (--feedback 0)", raw.getMessage());
    Normalization tinyTarget = new Normalization(new double[] {0}, new double[] {1}, new double[] {0}, new double[] {1e-39});
    BadInputException target = assertThrows(BadInputException.class, () -> tinyTarget.targetToModelFloat(1, 0));
    assertTrue(target.getMessage().startsWith("normalization: target 0: the value 1.0 is 1.00e+39 training standard"), target.getMessage());
  }

  @Test
  void aStdOfZeroIsRefused() {
    // class javadoc: a constant feature is stored with std 1, never 0 (a division by 0 on apply)
    assertThrows(BadInputException.class, () -> new Normalization(new double[] {1}, new double[] {0}, null, null));
    assertThrows(BadInputException.class,
        () -> new Normalization(new double[] {1}, new double[] {1}, new double[] {0}, new double[] {0}));
  }

  @Test
  void equalityComparesEveryStatisticButNotTheSource() {
    Normalization otherTargetStd = new Normalization(new double[] {1, 2}, new double[] {2, 4}, new double[] {10}, new double[] {6});
    assertNotEquals(N, otherTargetStd);
    Normalization otherTargetMean = new Normalization(new double[] {1, 2}, new double[] {2, 4}, new double[] {11}, new double[] {5});
    assertNotEquals(N, otherTargetMean);
    Normalization otherInputStd = new Normalization(new double[] {1, 2}, new double[] {2, 3}, new double[] {10}, new double[] {5});
    assertNotEquals(N, otherInputStd);
    assertEquals(N, N.takenFrom("runs/a/model.safetensors")); // javadoc: `from` is not part of equals
  }
}
