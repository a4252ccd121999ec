package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.data.spark.TableSpec;
import org.junit.jupiter.api.Test;

/**
 * The defaults docs/ml.md's params tables promise, the expected values copied from those tables
 * (not from the code): a default changed in the code alone (a fit that quietly holds out 20% of
 * the keys, or drops rows with missing values instead of failing) fails here. No Spark session.
 */
class RnnDefaultsTest {
  @Test
  void theEstimatorsTableOptionDefaultsAreTheDocumentedOnes() {
    RnnEstimator e = new RnnEstimator();
    assertArrayEquals(new String[0], e.getOrDefault(e.keyCols()), "keyCols: none");
    assertArrayEquals(new String[0], e.getOrDefault(e.targetCols()), "targetCols: none");
    assertEquals(-1, (Integer) e.getOrDefault(e.horizon()), "horizon");
    assertEquals(0, (Integer) e.getOrDefault(e.classes()), "classes");
    assertEquals(false, e.getOrDefault(e.seq2one()), "seq2one");
    assertEquals(0, (Integer) e.getOrDefault(e.stride()), "stride: 0 (= T)");
    assertEquals(true, e.getOrDefault(e.normalize()), "normalize: true");
    assertEquals(0.1, (Double) e.getOrDefault(e.validationFraction()), 0.0, "validationFraction");
    assertEquals(0, (Integer) e.getOrDefault(e.minSteps()), "minSteps");
    assertEquals("auto", e.getOrDefault(e.split()), "split");
    assertEquals(0, (Integer) e.getOrDefault(e.gap()), "gap");
    assertEquals("error", e.getOrDefault(e.missing()), "missing");
    assertEquals("prediction", e.getOrDefault(e.predictionCol()));
    assertEquals("probability", e.getOrDefault(e.probabilityCol()));
    assertEquals("predictedClass", e.getOrDefault(e.predictedClassCol()));
    // and what prep sees of them
    TableSpec spec = e.setOrderCol("ts").setInputCols("x").setSteps(4).tableSpec();
    assertEquals(TableSpec.Missing.ERROR, spec.missing(), "prep's missing");
  }

  @Test
  void theModelsDefaultsAreTheDocumentedOnes() {
    RnnModel m = RnnParamsTest.model();
    assertEquals(0, m.getForecastSteps(), "forecastSteps");
    assertEquals("forecast", m.getForecastCol(), "forecastCol");
    assertEquals(0, m.getFeedback(), "feedback");
    assertEquals(-1, m.getHorizon(), "horizon");
    assertEquals(0, m.getSteps(), "steps of a model not made by fit: 0, the whole series");
    assertEquals(0, m.getStride(), "stride");
    assertArrayEquals(new String[0], m.getKeyCols(), "keyCols");
    assertArrayEquals(new String[0], m.getTargetCols(), "targetCols");
    assertEquals("prediction", m.getPredictionCol());
    assertEquals("probability", m.getProbabilityCol());
    assertEquals("predictedClass", m.getPredictedClassCol());
  }
}
