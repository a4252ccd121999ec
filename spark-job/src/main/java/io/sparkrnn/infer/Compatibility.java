package io.sparkrnn.infer;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Objects;

/** Checks that a dataset can be fed to a model, with errors that give expected and found. */
public final class Compatibility {
  private Compatibility() {}

  /**
   * F, O and the normalisation must agree (a dataset's shards are in the units of its own
   * normalisation, the model expects its own); with {@code targets}, also mode and loss.
   */
  public static void check(TrainedModel model, Dataset dataset, boolean targets) {
    check(model, dataset, targets, dataset.location() + ": ");
  }

  /**
   * {@link #check} for one shard file that {@code dataset}'s manifest lists, named on its own: its
   * values are in the units of that dataset's normalisation just as when the directory is named, so
   * the same model must be refused on either. The message names the file, then its manifest.
   */
  public static void checkShard(TrainedModel model, Dataset dataset, String shard, boolean targets) {
    check(model, dataset, targets, shard + " (listed in " + dataset.location() + "/" + Manifest.FILE_NAME + "): ");
  }

  private static void check(TrainedModel model, Dataset dataset, boolean targets, String where) {
    DatasetSpec s = dataset.spec();
    ModelConfig c = model.config();
    if (s.features() != c.inputSize()) {
      throw new BadInputException(where + "the dataset has F=" + s.features() + " input features, the model "
          + model.source() + " expects input_size F=" + c.inputSize());
    }
    if (s.outputs() != c.outputSize()) {
      throw new BadInputException(where + "the dataset has O=" + s.outputs() + " outputs, the model "
          + model.source() + " has output_size O=" + c.outputSize());
    }
    if (targets && (s.mode() != c.mode() || s.loss() != c.loss())) {
      throw new BadInputException(where + "the dataset is " + s.mode().id() + ", " + s.loss().id() + "; the model is "
          + c.mode().id() + ", " + c.loss().id());
    }
    Normalization dn = dataset.manifest().normalization();
    Normalization mn = model.normalization();
    if (!Objects.equals(dn, mn)) {
      throw new BadInputException(where + "the dataset's shards are normalised with " + describe(dn)
          + " but the model was trained on data normalised with " + describe(mn) + "; " + (mn == null
              // the model has no statistics to prep with (a user audit: the hint said to use them)
              ? "prepare the data without --normalize, as the model's was"
              : "prepare the data with the model's statistics (prep's --normalize --normalization-from " + model.source() + ")")
          + " (or predict from raw .npy inputs)");
    }
    if (model.vocabulary() != null && s.vocabulary() != null && !model.vocabulary().equals(s.vocabulary())) {
      // as JSON: a vocabulary holds newlines and tabs, which printed as they are split the one-line error
      throw new BadInputException(where + "the dataset's vocabulary " + Json.write(new ArrayList<Object>(s.vocabulary()))
          + " differs from the model's " + Json.write(new ArrayList<Object>(model.vocabulary())));
    }
  }

  /** A normalisation in words, for errors: its statistics, or "nothing (raw units)". */
  public static String describe(Normalization n) {
    if (n == null) {
      return "nothing (raw units)";
    }
    return "input_mean=" + Arrays.toString(n.inputMean()) + " input_std=" + Arrays.toString(n.inputStd())
        + (n.targetMean() == null ? "" : " target_mean=" + Arrays.toString(n.targetMean()) + " target_std="
            + Arrays.toString(n.targetStd()));
  }
}
