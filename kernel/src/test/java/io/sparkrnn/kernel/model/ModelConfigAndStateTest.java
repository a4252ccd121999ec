package io.sparkrnn.kernel.model;

import static io.sparkrnn.kernel.testing.Refusals.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.BadInputException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ModelConfig's documented ranges and metadata keys; State's [L][B][H] layout and shape checks. */
class ModelConfigAndStateTest {
  static final ModelConfig LSTM = new ModelConfig(CellType.LSTM, 2, 3, 2, 1, Mode.SEQ2SEQ, LossType.MSE);

  /** Choices in any case with surrounding spaces, as every choice of the CLI and RnnEstimator (docs/ml.md). */
  @Test
  void cellLossAndModeNamesIgnoreCaseAndSurroundingSpaces() {
    assertEquals(CellType.GRU, CellType.parse(" GRU "));
    assertEquals(LossType.CROSS_ENTROPY, LossType.parse(" CE"));
    assertEquals(LossType.MSE, LossType.parse("mse\t"));
    assertEquals(Mode.SEQ2ONE, Mode.parse("Seq2One "));
    assertThrows(BadInputException.class, () -> CellType.parse("ls tm"));
    assertThrows(BadInputException.class, () -> CellType.parse(null));
  }

  @Test
  void sizesOutsideTheirRangesAreRefusedNamingTheKey() {
    refused(() -> new ModelConfig(CellType.RNN, 0, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE), "num_layers", "found 0");
    refused(() -> new ModelConfig(CellType.RNN, 65, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE), "num_layers", "found 65");
    assertDoesNotThrow(() -> new ModelConfig(CellType.RNN, 64, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE));
    refused(() -> new ModelConfig(CellType.RNN, 1, 0, 1, 1, Mode.SEQ2SEQ, LossType.MSE), "input_size");
    refused(() -> new ModelConfig(CellType.RNN, 1, 1, (1 << 24) + 1, 1, Mode.SEQ2SEQ, LossType.MSE), "hidden_size");
    // cross-entropy over one class is meaningless: softmax of one logit is always 1
    refused(() -> new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY), "output_size",
        "cross_entropy");
    assertDoesNotThrow(() -> new ModelConfig(CellType.RNN, 1, 1, 1, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY));
  }

  @Test
  void metadataUsesPyTorchsArgumentNamesAndRoundTrips() {
    Map<String, String> m = LSTM.toMetadata();
    assertEquals(Map.of("cell", "lstm", "num_layers", "2", "input_size", "3", "hidden_size", "2", "output_size", "1",
        "mode", "seq2seq", "loss", "mse", "spark_rnn_format_version", "1"), m);
    assertEquals(LSTM, ModelConfig.fromMetadata(m, "m.safetensors"));
    // a file made elsewhere has no version key, and space around a value is tolerated
    Map<String, String> foreign = new HashMap<>(m);
    foreign.remove("spark_rnn_format_version");
    foreign.put("hidden_size", " 2 ");
    assertEquals(LSTM, ModelConfig.fromMetadata(foreign, "m.safetensors"));
  }

  @Test
  void badMetadataIsRefusedNamingTheFileAndTheKey() {
    Map<String, String> future = new HashMap<>(LSTM.toMetadata());
    future.put("spark_rnn_format_version", "2");
    refused(() -> ModelConfig.fromMetadata(future, "m.safetensors"), "m.safetensors", "spark_rnn_format_version",
        "'2'");
    Map<String, String> missing = new HashMap<>(LSTM.toMetadata());
    missing.remove("loss");
    refused(() -> ModelConfig.fromMetadata(missing, "m.safetensors"), "m.safetensors", "'loss'");
    Map<String, String> text = new HashMap<>(LSTM.toMetadata());
    text.put("num_layers", "two");
    refused(() -> ModelConfig.fromMetadata(text, "m.safetensors"), "m.safetensors", "num_layers", "'two'");
    Map<String, String> zero = new HashMap<>(LSTM.toMetadata());
    zero.put("input_size", "0");
    refused(() -> ModelConfig.fromMetadata(zero, "m.safetensors"), "m.safetensors", "input_size");
  }

  @Test
  void aStateMustFitTheModelAndBatch() {
    assertDoesNotThrow(() -> State.zeros(LSTM, 3).validateFor(LSTM, 3));
    refused(() -> State.zeros(LSTM, 3).validateFor(LSTM, 4), "B=3", "expected [2, 4, 2]");
    State noCell = new State(2, 3, 2, new float[12], null);
    refused(() -> noCell.validateFor(LSTM, 3), "lacks", "lstm");
    ModelConfig gru = new ModelConfig(CellType.GRU, 2, 3, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    State withCell = new State(2, 3, 2, new float[12], new float[12]);
    refused(() -> withCell.validateFor(gru, 3), "has", "gru");
    refused(() -> new State(2, 3, 2, new float[11], null), "12");
    refused(() -> new State(2, 3, 2, new float[12], new float[13]), "12");
  }

  @Test
  void sequencesCutAndPutBackTheRowsOfEveryLayer() {
    // L = 2, B = 3, H = 2, h[i] = i: element (l, b, j) at (l·3 + b)·2 + j.
    // sequences 1..2 of layer 0: indices 2..5; of layer 1: (3 + 1)·2 = 8..11
    float[] h = new float[12];
    float[] c = new float[12];
    for (int i = 0; i < 12; i++) {
      h[i] = i;
      c[i] = 100 + i;
    }
    State s = new State(2, 3, 2, h, c);
    State part = s.sequences(1, 3);
    assertEquals(2, part.batchSize());
    assertArrayEquals(new float[] {2, 3, 4, 5, 8, 9, 10, 11}, part.h());
    assertArrayEquals(new float[] {102, 103, 104, 105, 108, 109, 110, 111}, part.c());
    State back = new State(2, 3, 2, new float[12], new float[12]);
    back.put(1, part);
    assertArrayEquals(new float[] {0, 0, 2, 3, 4, 5, 0, 0, 8, 9, 10, 11}, back.h());
    assertArrayEquals(new float[] {0, 0, 102, 103, 104, 105, 0, 0, 108, 109, 110, 111}, back.c());
  }
}
