package io.sparkrnn.data;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.DType;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Mode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * Converts between a kernel {@link Batch} and the bytes of one shard file, checking every shape
 * against the {@link DatasetSpec}.
 *
 * <p>A shard holds {@code x} F32 [T,B,F]; {@code y} F32 [T,B,O] (mse seq2seq) or [B,O] (mse
 * seq2one), or I32 class ids [T,B] (cross_entropy seq2seq) or [B] (cross_entropy seq2one); and
 * {@code lengths} I32 [B] exactly when the spec is variable-length. No other tensors.
 */
public final class ShardCodec {
  private ShardCodec() {}

  /**
   * The shard bytes of {@code batch}. The batch must match the spec (T, F, target layout) and hold
   * only finite inputs and class ids in [0, O).
   *
   * @param file names the shard in errors
   */
  public static byte[] encode(Batch batch, DatasetSpec spec, String file) {
    check(batch, spec, file);
    int T = batch.steps();
    int B = batch.batchSize();
    int F = batch.features();
    int O = spec.outputs();
    boolean seq2seq = spec.mode() == Mode.SEQ2SEQ;
    List<Tensor> tensors = new ArrayList<>();
    tensors.add(Tensor.ofFloats("x", new int[] {T, B, F}, batch.x()));
    if (spec.classTargets()) {
      tensors.add(Tensor.ofInts("y", seq2seq ? new int[] {T, B} : new int[] {B}, batch.classes()));
    } else {
      tensors.add(Tensor.ofFloats("y", seq2seq ? new int[] {T, B, O} : new int[] {B, O}, batch.targets()));
    }
    if (spec.variableLength()) {
      int[] lengths = batch.lengths();
      if (lengths == null) {
        lengths = new int[B];
        Arrays.fill(lengths, T);
      }
      tensors.add(Tensor.ofInts("lengths", new int[] {B}, lengths));
    }
    return SafeTensors.toBytes(Map.of(), tensors);
  }

  /**
   * Parses and checks shard bytes whose size and checksum the caller has already verified.
   *
   * @param file names the shard in errors
   * @param expectedBatch B from the manifest
   * @throws IllegalArgumentException naming file, tensor, expected and found
   */
  public static Batch decode(byte[] bytes, DatasetSpec spec, String file, int expectedBatch) {
    SafeTensorsFile st = SafeTensors.read(bytes, file);
    Set<String> allowed = spec.variableLength() ? Set.of("x", "y", "lengths") : Set.of("x", "y");
    for (String name : st.tensors().keySet()) {
      if (!allowed.contains(name)) {
        throw new BadInputException(file + ": unexpected tensor '" + name + "', expected only " + allowed);
      }
    }
    int T = spec.steps();
    int B = expectedBatch;
    Tensor x = st.require("x");
    requireDtype(file, x, DType.F32);
    if (x.rank() != 3) {
      throw new BadInputException(file + ": x has shape " + x.shapeString() + ", expected [T,B,F] = ["
          + T + "," + B + "," + spec.features() + "]");
    }
    requireDim(file, "x", "T", x.dim(0), T);
    requireDim(file, "x", "B", x.dim(1), B);
    requireDim(file, "x", "F", x.dim(2), spec.features());
    Tensor y = st.require("y");
    boolean seq2seq = spec.mode() == Mode.SEQ2SEQ;
    int[] expectedY;
    if (spec.classTargets()) {
      requireDtype(file, y, DType.I32);
      expectedY = seq2seq ? new int[] {T, B} : new int[] {B};
    } else {
      requireDtype(file, y, DType.F32);
      expectedY = seq2seq ? new int[] {T, B, spec.outputs()} : new int[] {B, spec.outputs()};
    }
    if (!Arrays.equals(y.shape(), expectedY)) {
      throw new BadInputException(file + ": y has shape " + y.shapeString() + ", the manifest says "
          + Arrays.toString(expectedY) + " (" + spec.mode().id() + ", " + spec.loss().id() + ", O="
          + spec.outputs() + ")");
    }
    int[] lengths = null;
    if (spec.variableLength()) {
      Tensor l = st.require("lengths");
      requireDtype(file, l, DType.I32);
      if (l.rank() != 1 || l.dim(0) != B) {
        throw new BadInputException(file + ": lengths has shape " + l.shapeString() + ", expected [" + B + "]");
      }
      lengths = l.ints();
      // Checked here, before Batch's own 0..T check, so that every bad length gets the same message.
      for (int b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T) {
          throw new BadInputException(file + ": lengths[" + b + "] = " + lengths[b] + ", expected 1.." + T);
        }
      }
    }
    Batch batch;
    try {
      batch = new Batch(T, B, spec.features(), x.floats(), spec.classTargets() ? null : y.floats(),
          spec.classTargets() ? y.ints() : null, lengths);
    } catch (IllegalArgumentException e) {
      throw new BadInputException(file + ": " + e.getMessage(), e);
    }
    check(batch, spec, file);
    return batch;
  }

  private static void requireDtype(String file, Tensor t, DType expected) {
    if (t.dtype() != expected) {
      throw new BadInputException(file + ": " + t.name() + " has dtype " + t.dtype() + ", expected " + expected);
    }
  }

  private static void requireDim(String file, String tensor, String letter, int found, int expected) {
    if (found != expected) {
      throw new BadInputException(file + ": " + tensor + " has " + letter + "=" + found + ", the manifest says "
          + letter + "=" + expected);
    }
  }

  /**
   * Where flat element {@code i} of y sits, as x's errors say it: (t, b, o) of [T,B,O] (class ids
   * [T,B]: one per step) or (b, o) of seq2one's [B,O] (a numerical audit: "class id 999 at index 37"
   * named the flat index alone); and, in a seq2seq y, the note that a step past its sequence's
   * length is padding, which must hold 0.
   */
  private record TargetPlace(int t, int b, int o, boolean seq2seq, int perStep, int length) {
    static TargetPlace of(Batch batch, DatasetSpec spec, int i, int perStep) {
      int b = (i / perStep) % batch.batchSize();
      return new TargetPlace(i / perStep / batch.batchSize(), b, i % perStep, spec.mode() == Mode.SEQ2SEQ, perStep,
          batch.length(b));
    }

    @Override
    public String toString() {
      String outputs = perStep > 1 ? ", o=" + o : "";
      return seq2seq ? "(t=" + t + ", b=" + b + outputs + ")" : "(b=" + b + outputs + ")";
    }

    /** "; it is a padded step …" where the element lies past its sequence's length, else "". */
    String paddingNote() {
      return seq2seq && t >= length ? "; it is a padded step (t >= lengths[b] = " + length + "), which must hold 0" : "";
    }
  }

  /** Checks dims, layout, finiteness of x and y, class range and lengths (≥ 1 each). */
  static void check(Batch batch, DatasetSpec spec, String file) {
    int T = batch.steps();
    int B = batch.batchSize();
    int F = batch.features();
    if (T != spec.steps() || F != spec.features()) {
      throw new BadInputException(file + ": batch has T=" + T + " F=" + F + ", the dataset says T="
          + spec.steps() + " F=" + spec.features());
    }
    if (spec.classTargets() ? batch.classes() == null : batch.targets() == null) {
      throw new BadInputException(file + ": batch lacks " + (spec.classTargets() ? "class ids" : "float targets"));
    }
    long yn = spec.classTargets() ? batch.classes().length : batch.targets().length;
    if (yn != spec.targetElements(B)) {
      throw new BadInputException(file + ": y holds " + yn + " values, expected " + spec.targetElements(B));
    }
    if (batch.lengths() != null && !spec.variableLength()) {
      for (int b = 0; b < B; b++) {
        if (batch.lengths()[b] != T) {
          throw new BadInputException(file + ": sequence " + b + " has length " + batch.lengths()[b]
              + " but the dataset is fixed-length T=" + T);
        }
      }
    }
    for (int b = 0; b < B; b++) {
      if (batch.length(b) < 1) {
        throw new BadInputException(file + ": lengths[" + b + "] = " + batch.length(b) + ", expected 1.." + T);
      }
    }
    float[] x = batch.x();
    for (int i = 0; i < x.length; i++) {
      if (!Float.isFinite(x[i])) {
        int f = i % F;
        int b = (i / F) % B;
        int t = i / F / B;
        throw new BadInputException(file + ": x has " + x[i] + " at (t=" + t + ", b=" + b + ", f=" + f
            + "), expected a finite number");
      }
    }
    if (spec.classTargets()) {
      int[] c = batch.classes();
      for (int i = 0; i < c.length; i++) {
        if (c[i] < 0 || c[i] >= spec.outputs()) {
          TargetPlace at = TargetPlace.of(batch, spec, i, 1);
          throw new BadInputException(file + ": y class id " + c[i] + " at " + at + " is outside [0, " + spec.outputs() + ")"
              + at.paddingNote());
        }
      }
    } else {
      float[] y = batch.targets();
      for (int i = 0; i < y.length; i++) {
        if (!Float.isFinite(y[i])) {
          TargetPlace at = TargetPlace.of(batch, spec, i, spec.outputs());
          throw new BadInputException(file + ": y has " + y[i] + " at " + at + ", expected a finite number" + at.paddingNote());
        }
      }
    }
  }

  /** CRC32C of the bytes as 8 lower-case hex digits. */
  public static String crc32c(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length);
    return hex(crc.getValue());
  }

  static String hex(long crc) {
    return String.format("%08x", crc);
  }
}
