package io.sparkrnn.infer;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.source.NpyFiles;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;

/**
 * Input files for predict and generate, turned into batches in model units.
 *
 * <ul>
 *   <li>{@code .npy}: raw units, float32/float64 {@code [T,B,F]} or {@code [T,F]} (B = 1); normalised
 *       here with the model's statistics.
 *   <li>{@code .safetensors}: a shard as a dataset stores it ({@code x} [T,B,F], optional {@code y},
 *       {@code lengths}), so already in model units: fed as it is; where its directory's manifest lists
 *       it, that dataset must fit the model ({@link ShardFiles#readFor}).
 * </ul>
 */
public final class InputFiles {
  private InputFiles() {}

  public static boolean isNpy(String uri) {
    return uri.toLowerCase(Locale.ROOT).endsWith(".npy");
  }

  /** Whether {@code uri} names a .safetensors file (any case, as {@link #isNpy}). */
  public static boolean isSafetensors(String uri) {
    return uri.toLowerCase(Locale.ROOT).endsWith(".safetensors");
  }

  /** Reads either kind; targets are read (and checked) when present but never required. */
  public static Batch read(String uri, TrainedModel model, Configuration conf) throws IOException {
    ModelConfig c = model.config();
    if (!isNpy(uri)) {
      return ShardFiles.readFor(uri, model, conf, false);
    }
    NpyFiles.FloatArray a = NpyFiles.readFloats(uri, conf);
    int[] s = a.shape();
    int T;
    int B;
    if (s.length == 3) {
      T = s[0];
      B = s[1];
    } else if (s.length == 2) {
      T = s[0];
      B = 1;
    } else {
      throw new BadInputException(uri + ": shape " + Arrays.toString(s) + ", expected [T,B,F] or [T,F] with F="
          + c.inputSize());
    }
    int F = s[s.length - 1];
    if (F != c.inputSize()) {
      throw new BadInputException(uri + ": shape " + Arrays.toString(s) + " has F=" + F
          + " features, the model's input_size is F=" + c.inputSize());
    }
    if (T < 1 || B < 1) {
      throw new BadInputException(uri + ": shape " + Arrays.toString(s) + " is empty; expected T ≥ 1 and B ≥ 1");
    }
    float[] x = a.data();
    for (int i = 0; i < x.length; i++) {
      if (!Float.isFinite(x[i])) {
        throw new BadInputException(uri + ": element " + i + " is " + x[i] + ", expected a finite number");
      }
    }
    try {
      return Batch.inputsOnly(T, B, F, model.inputsToModelUnits(x));
    } catch (Normalization.PastFloat32Exception e) {
      // the file and the element, as the refusals above name them, and advice for a model's input, not prep's
      int i = e.element();
      throw new BadInputException(uri + ": element " + i + " (t=" + i / (B * F) + ", b=" + i / F % B + ", f=" + i % F
          + "): " + e.fact() + "; the model cannot take such a value: leave it out of the input", e);
    }
  }
}
