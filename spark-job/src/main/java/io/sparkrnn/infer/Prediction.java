package io.sparkrnn.infer;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.generate.ClassSampler;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The model's outputs for one batch, as predict writes them.
 *
 * <p>Units: the batch's inputs are in model units (a dataset's shards already are); outputs of
 * regression models are returned in raw units ({@code y · target_std + target_mean}) unless
 * {@code modelUnits}, and class models return logits with their argmax ids (and, with a
 * vocabulary, the argmax symbols decoded).
 *
 * @param shape [T,B,O] (seq2seq) or [B,O] (seq2one)
 * @param output the outputs in that shape; padded steps (t ≥ lengths[b]) are 0
 * @param ids argmax class ids [T,B] or [B] (class models; padded steps −1), else null
 * @param lengths the batch's lengths [B], or null when every sequence has all T steps
 * @param text per sequence, the argmax symbols of its valid steps (models with a vocabulary), else null
 */
public record Prediction(int[] shape, float[] output, int[] ids, int[] lengths, List<String> text) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** An output finite in the model's units, past float32's range in raw units: the caller adds where (a file, a shard). */
  public static final class OutputPastFloat32Exception extends BadInputException {
    private static final long serialVersionUID = 1L;

    OutputPastFloat32Exception(String message) {
      super(message);
    }
  }

  /** predict's advice for an {@link OutputPastFloat32Exception}. */
  static final String MODEL_UNITS_ADVICE = "; --model-units writes the outputs in the model's units, which are finite";

  /**
   * Refuses outputs finite in the model's units ({@code y}) whose raw values ({@code raw}, the same
   * [rows][B][O] layout) are past float32's range, as generate refuses them: written, they read
   * Infinity (a review: predict wrote them, exit 0). {@code rows} is T for [T][B][O], 1 for [B][O].
   */
  static void refusePastFloat32(Normalization normalization, float[] y, float[] raw, String advice, int rows) {
    if (normalization == null || normalization.targetMean() == null) {
      return;
    }
    int O = normalization.targetMean().length;
    int B = raw.length / (rows * O);
    for (int i = 0; i < raw.length; i++) {
      if (Float.isInfinite(raw[i]) && Float.isFinite(y[i])) {
        String at = rows == 1 ? "b=" + i / O + ", o=" + i % O : "t=" + i / (B * O) + ", b=" + i / O % B + ", o=" + i % O;
        throw new OutputPastFloat32Exception("output (" + at + "): " + normalization.outputPastFloat32(y[i], i, "").fact()
            + advice);
      }
    }
  }

  /** Runs the model over {@code batch} (model units) from the zero state. */
  public static Prediction run(TrainedModel model, BpttEngine engine, Batch batch, boolean modelUnits) {
    ModelConfig c = model.config();
    batch.validateFor(c, false);
    float[] raw = engine.forward(model.params(), batch, null).outputs();
    return of(c, model.vocabulary(), model.normalization(), batch, raw, modelUnits);
  }

  /**
   * Wraps engine outputs (model units) of {@code batch}.
   *
   * @param normalization the model's, or null
   */
  public static Prediction of(ModelConfig c, List<String> vocabulary, Normalization normalization,
      Batch batch, float[] outputs, boolean modelUnits) {
    int T = batch.steps();
    int B = batch.batchSize();
    int O = c.outputSize();
    boolean seq = c.mode() == Mode.SEQ2SEQ;
    int rows = seq ? T : 1;
    float[] out = outputs.clone();
    if (!modelUnits && normalization != null && normalization.targetMean() != null) {
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < B; b++) {
          if (seq && t >= batch.length(b)) {
            continue;                                              // padding stays 0
          }
          for (int o = 0; o < O; o++) {
            int i = (t * B + b) * O + o;
            out[i] = (float) normalization.outputToRaw(out[i], o);
          }
        }
      }
      refusePastFloat32(normalization, outputs, out, MODEL_UNITS_ADVICE, seq ? T : 1);
    }
    int[] ids = null;
    List<String> text = null;
    if (c.loss() == LossType.CROSS_ENTROPY) {
      ids = new int[rows * B];
      for (int t = 0; t < rows; t++) {
        for (int b = 0; b < B; b++) {
          ids[t * B + b] = seq && t >= batch.length(b) ? -1 : ClassSampler.argmaxOf(out, (t * B + b) * O, O);
        }
      }
      if (vocabulary != null) {
        text = new ArrayList<>();
        for (int b = 0; b < B; b++) {
          StringBuilder sb = new StringBuilder();
          int tEnd = seq ? batch.length(b) : 1;
          for (int t = 0; t < tEnd; t++) {
            sb.append(vocabulary.get(ids[t * B + b]));
          }
          text.add(sb.toString());
        }
      }
    }
    int[] shape = seq ? new int[] {T, B, O} : new int[] {B, O};
    return new Prediction(shape, out, ids, batch.lengths() == null ? null : batch.lengths().clone(), text);
  }

  /** The safetensors bytes: {@code output}, and {@code ids}, {@code lengths} when present. */
  public byte[] toSafetensors(Map<String, String> metadata) {
    List<Tensor> tensors = new ArrayList<>();
    tensors.add(Tensor.ofFloats("output", shape, output));
    if (ids != null) {
      tensors.add(Tensor.ofInts("ids", shape.length == 3 ? new int[] {shape[0], shape[1]} : new int[] {shape[0]}, ids));
    }
    if (lengths != null) {
      tensors.add(Tensor.ofInts("lengths", new int[] {lengths.length}, lengths));
    }
    return SafeTensors.toBytes(metadata, tensors);
  }

  /** One line per sequence, with backslash, newline, carriage return and tab escaped as \\ \n \r \t. */
  public static String textLines(List<String> text) {
    StringBuilder sb = new StringBuilder();
    for (String s : text) {
      sb.append(escape(s)).append('\n');
    }
    return sb.toString();
  }

  public static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
  }
}
