package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.data.source.CopySource;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetRoundTripTest {
  static final double FLOAT32_TOL = 1e-6; // values pass through float32 once
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  private PrepOptions options(String name, int batch, double validation, boolean normalize) {
    return new PrepOptions(tmp.resolve(name).toUri(), batch, validation, normalize, false);
  }

  @Test
  void sineShardsReadBackAsWrittenWithSplitsAndChecksums() throws IOException {
    SineSource source = new SineSource(SineSource.Options.defaults(12, 10, 7));
    Manifest written = Prep.run(source, options("sine", 4, 0.2, false), conf);
    Dataset ds = Dataset.open(tmp.resolve("sine").toUri(), conf);
    assertEquals(written, ds.manifest());
    assertEquals(8, ds.manifest().sequences(Split.TRAIN));
    assertEquals(2, ds.manifest().sequences(Split.VALIDATION));
    assertEquals(List.of(4, 4), ds.shards(Split.TRAIN).stream().map(ShardInfo::batch).toList());
    assertEquals("shard-00002.safetensors", ds.shards(Split.VALIDATION).get(0).file());
    long first = 0;
    for (ShardInfo s : ds.manifest().shards()) {
      Batch got = ds.read(s);
      Batch expected = source.read(first, s.batch(), conf);
      assertArrayEquals(expected.x(), got.x());
      assertArrayEquals(expected.targets(), got.targets());
      first += s.batch();
    }
    // seq2seq next-step targets: y_t = x_{t+1}
    Batch b = ds.read(ds.shards(Split.TRAIN).get(0));
    for (int t = 0; t + 1 < 12; t++) {
      assertEquals(b.x()[b.xAt(t + 1, 1, 0)], b.targets()[t * 4 + 1]);
    }
    assertTrue(Dataset.inspect(ds.uri(), conf).ok());
    assertFalse(Files.exists(tmp.resolve("sine").resolve(DatasetWriter.TEMP_DIR)));
  }

  @Test
  void manifestSurvivesJsonRoundTrip() throws IOException {
    Manifest m = Prep.run(new TextSource(new TextSource.Options(writeText("abcab\ncab é"), 3, 0), conf),
        options("text", 2, 0.25, false), conf);
    assertEquals(m, Manifest.parse(m.toJson(), "test"));
  }

  @Test
  void normalizationUsesTrainingSplitOnlyAndIsStored() throws IOException {
    Prep.run(new SineSource(new SineSource.Options(20, 12, 3, false, 0.02, 0.1, 0.1, 10)),
        options("norm", 5, 0.25, true), conf);
    Dataset ds = Dataset.open(tmp.resolve("norm").toUri(), conf);
    Normalization n = ds.manifest().normalization();
    assertEquals(1, n.inputMean().length);
    Moments train = Moments.forSpec(ds.spec());
    for (ShardInfo s : ds.shards(Split.TRAIN)) {
      train.add(ds.read(s), ds.spec().mode());
    }
    Normalization after = train.toNormalization();
    assertEquals(0, after.inputMean()[0], 1e-5);
    assertEquals(1, after.inputStd()[0], 1e-5);
    assertEquals(0, after.targetMean()[0], 1e-5);
    assertTrue(ds.spec().variableLength());
    Batch b = ds.read(ds.shards(Split.TRAIN).get(0));
    for (int bb = 0; bb < b.batchSize(); bb++) {
      for (int t = b.length(bb); t < b.steps(); t++) {
        assertEquals(0f, b.x()[b.xAt(t, bb, 0)], "padding stays 0 at t=" + t + " b=" + bb);
      }
    }
  }

  @Test
  void addingTargetIsTheSumOfTheTwoMarkedValues() throws IOException {
    AddingSource source = new AddingSource(new AddingSource.Options(30, 6, 11, 30));
    Batch b = source.read(0, 6, conf);
    assertEquals(Mode.SEQ2ONE, source.spec().mode());
    for (int bb = 0; bb < 6; bb++) {
      double sum = 0;
      int markers = 0;
      for (int t = 0; t < 30; t++) {
        if (b.x()[b.xAt(t, bb, 1)] == 1f) {
          sum += b.x()[b.xAt(t, bb, 0)];
          markers++;
          assertTrue(markers == 1 ? t < 15 : t >= 15, "marker " + markers + " at t=" + t);
        }
      }
      assertEquals(2, markers);
      assertEquals(sum, b.targets()[bb], FLOAT32_TOL);
    }
  }

  @Test
  void copyTaskLayoutIsSymbolsBlanksMarkerThenRecall() {
    int delay = 5;
    CopySource source = new CopySource(new CopySource.Options(delay, 3, 1));
    assertEquals(delay + 20, source.spec().steps());
    assertEquals(LossType.CROSS_ENTROPY, source.spec().loss());
    Batch b = source.read(0, 3, conf);
    int T = delay + 20;
    for (int bb = 0; bb < 3; bb++) {
      for (int t = 0; t < T; t++) {
        int symbol = -1;
        for (int f = 0; f < 10; f++) {
          if (b.x()[b.xAt(t, bb, f)] == 1f) {
            symbol = f;
          }
        }
        int target = b.classes()[t * 3 + bb];
        if (t < 10) {
          assertTrue(symbol >= 1 && symbol <= 8, "symbol at t=" + t);
          assertEquals(symbol, b.classes()[(T - 10 + t) * 3 + bb], "recall of step " + t);
        } else {
          assertEquals(t == delay + 9 ? 9 : 0, symbol, "input at t=" + t);
        }
        if (t < T - 10) {
          assertEquals(0, target, "target blank at t=" + t);
        }
      }
    }
  }

  @Test
  void textVocabularyIsSortedAndTargetsAreTheNextCharacter() throws IOException {
    TextSource source = new TextSource(new TextSource.Options(writeText("hello world"), 4, 0), conf);
    assertEquals(List.of(" ", "d", "e", "h", "l", "o", "r", "w"), source.spec().vocabulary());
    assertEquals(2, source.count()); // (11 - 5) / 4 + 1
    Batch b = source.read(1, 1, conf);
    // sequence 1 = "o wor": inputs "o wo", targets " wor"
    assertEquals(5, argmax(b, 0));
    assertEquals(0, b.classes()[0]);
    assertEquals(6, b.classes()[3]);
    assertNull(b.lengths());
  }

  /** A leading byte-order mark (Notepad's and pandas' utf-8-sig) is not text: not a symbol, not the first input. */
  @Test
  void aTextFilesByteOrderMarkIsNotASymbol() throws IOException {
    TextSource source = new TextSource(new TextSource.Options(writeText("\uFEFFhello world"), 4, 0), conf);
    assertEquals(List.of(" ", "d", "e", "h", "l", "o", "r", "w"), source.spec().vocabulary());
    assertEquals(2, source.count()); // (11 - 5) / 4 + 1, as without the mark
    assertEquals(3, argmax(source.read(0, 1, conf), 0), "sequence 0 starts with 'h'");
  }

  private static int argmax(Batch b, int t) {
    for (int f = 0; f < b.features(); f++) {
      if (b.x()[b.xAt(t, 0, f)] == 1f) {
        return f;
      }
    }
    return -1;
  }

  private String writeText(String s) throws IOException {
    Path p = tmp.resolve("input-" + s.hashCode() + ".txt");
    Files.writeString(p, s);
    return p.toUri().toString();
  }
}
