package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a source produces, known before any data is read: the task and the dimensions every shard
 * of the dataset shares.
 *
 * <p>Target layout follows from {@code mode} and {@code loss}: mse seq2seq {@code y} F32 [T,B,O],
 * mse seq2one F32 [B,O], cross_entropy seq2seq I32 class ids [T,B], cross_entropy seq2one I32 [B].
 *
 * @param task the source's name (sine, adding, copy, npy, csv, text)
 * @param features F, input features per step
 * @param outputs O, target values per step (mse) or number of classes (cross_entropy)
 * @param steps T, the padded length of every sequence
 * @param mode which steps carry targets
 * @param loss mse (float targets) or cross_entropy (class ids)
 * @param variableLength whether shards carry {@code lengths} I32 [B] (right padding)
 * @param vocabulary for text: the character of each class id / one-hot index, else null
 * @param source the options the source was made with (for people and provenance; never parsed back)
 */
public record DatasetSpec(
    String task, int features, int outputs, int steps, Mode mode, LossType loss, boolean variableLength,
    List<String> vocabulary, Map<String, Object> source) implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Largest F, O or T a dataset may declare (2^24), as in the model configuration. */
  public static final int MAX_DIMENSION = 1 << 24;

  public DatasetSpec {
    if (task == null || task.isBlank() || mode == null || loss == null) {
      throw new BadInputException("task, mode and loss must be given");
    }
    requireRange("features", features);
    requireRange("outputs", outputs);
    requireRange("steps", steps);
    if (loss == LossType.CROSS_ENTROPY && outputs < 2) {
      throw new BadInputException("outputs must be at least 2 classes for cross_entropy, found " + outputs);
    }
    if (vocabulary != null) {
      vocabulary = List.copyOf(vocabulary);
    }
    source = source == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(source));
  }

  private static void requireRange(String key, int value) {
    if (value < 1 || value > MAX_DIMENSION) {
      throw new BadInputException(key + " must be in [1, " + MAX_DIMENSION + "], found " + value);
    }
  }

  /** Whether {@code y} holds class ids (I32) rather than floats. */
  public boolean classTargets() {
    return loss == LossType.CROSS_ENTROPY;
  }

  /** Elements of {@code y} in a shard of {@code batch} sequences. */
  public long targetElements(int batch) {
    long perSequence = classTargets() ? 1 : outputs;
    return mode == Mode.SEQ2SEQ ? (long) steps * batch * perSequence : batch * perSequence;
  }

  /** The largest B whose x fits one Java array and one safetensors file (under 2 GiB). */
  public long maxBatch() {
    long perSequence = 4L * ((long) steps * features + targetElements(1) + 1);
    return Math.max(1, (SafeTensors.MAX_ELEMENTS - 1024 * 1024) / perSequence);
  }
}
