package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Option checks whose limits the javadoc and docs/data-format.md state. */
class PrepOptionsTest {
  static final URI OUT = URI.create("file:///tmp/not-written");

  @Test
  void aValidationFractionOfOneIsRefused() {
    // PrepOptions javadoc: validationFraction in [0, 1)
    assertDoesNotThrow(() -> new PrepOptions(OUT, 4, 0.99, false, false));
    BadInputException e = assertThrows(BadInputException.class, () -> new PrepOptions(OUT, 4, 1.0, false, false));
    assertTrue(e.getMessage().contains("--validation-fraction"), e.getMessage());
  }

  @Test
  void statisticsFromElsewhereMustHaveOneTargetEntryPerOutput() {
    // F = 1, O = 2 float targets: --normalization-from statistics with one target entry do not fit
    DatasetSpec spec = new DatasetSpec("npy", 1, 2, 4, Mode.SEQ2SEQ, LossType.MSE, false, null, null);
    Normalization oneTarget = new Normalization(new double[] {0}, new double[] {1}, new double[] {0}, new double[] {1});
    PrepOptions options = new PrepOptions(OUT, 4, 0, true, false, oneTarget);
    BadInputException e = assertThrows(BadInputException.class, () -> options.normalization(spec, () -> null));
    assertTrue(e.getMessage().contains("O=2"), e.getMessage());
  }

  @Test
  void normalizingOneHotCopyInputsIsRefused() {
    // docs/data-format.md: "--normalize is refused for one-hot inputs (copy, text)"
    DatasetSpec copy = new CopySource(new CopySource.Options(3, 4, 1)).spec();
    PrepOptions normalize = new PrepOptions(OUT, 2, 0, true, false);
    assertThrows(BadInputException.class, () -> Prep.checkBatch(copy, normalize));
    assertDoesNotThrow(() -> Prep.checkBatch(copy, new PrepOptions(OUT, 2, 0, false, false)));
  }

  @Test
  void crossEntropyNeedsAtLeastTwoClasses() {
    // DatasetSpec: cross_entropy outputs are classes; one class is not a classification
    assertThrows(BadInputException.class,
        () -> new DatasetSpec("npy", 1, 1, 4, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false, null, null));
    assertDoesNotThrow(() -> new DatasetSpec("npy", 1, 2, 4, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false, null, null));
  }

  @Test
  void aMaxExclusiveRangeRefusesItsMaximum() {
    // OptionRule.doubleIn javadoc: [min, max) when maxExclusive
    OptionRule fraction = OptionRule.doubleIn(0, 1, true);
    assertDoesNotThrow(() -> fraction.check("--validation-fraction", "0.5"));
    BadInputException e = assertThrows(BadInputException.class, () -> fraction.check("--validation-fraction", "1"));
    assertTrue(e.getMessage().startsWith("--validation-fraction: must be in [0.0, 1.0)"), e.getMessage());
    assertDoesNotThrow(() -> OptionRule.doubleIn(0, 1, false).check("x", "1"));
  }

  @Test
  void normalizingTextInputsIsRefusedBeforeAnythingIsWritten(@TempDir Path tmp) throws Exception {
    // docs/data-format.md: "--normalize is refused for one-hot inputs (copy, text)"
    Path text = Files.writeString(tmp.resolve("in.txt"), "abcab cab");
    TextSource source = new TextSource(new TextSource.Options(text.toUri().toString(), 3, 0), TestFiles.localConf());
    Path out = tmp.resolve("ds");
    assertThrows(BadInputException.class,
        () -> Prep.run(source, new PrepOptions(out.toUri(), 2, 0, true, false), TestFiles.localConf()));
    assertFalse(Files.exists(out), "nothing written");
  }

  @Test
  void theLargestBatchTheRefusalNamesIsAccepted() {
    // the refusal says "use at most N": N itself must then pass, N + 1 not
    DatasetSpec spec = new DatasetSpec("t", 4, 1, 1000, Mode.SEQ2SEQ, LossType.MSE, false, null, null);
    long max = spec.maxBatch();
    BadInputException e = assertThrows(BadInputException.class,
        () -> Prep.checkBatch(spec, new PrepOptions(OUT, (int) max + 1, 0, false, false)));
    assertTrue(e.getMessage().contains("use at most " + max), e.getMessage());
    assertDoesNotThrow(() -> Prep.checkBatch(spec, new PrepOptions(OUT, (int) max, 0, false, false)));
  }
}
