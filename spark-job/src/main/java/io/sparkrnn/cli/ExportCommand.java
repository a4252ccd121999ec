package io.sparkrnn.cli;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.TorchInterop;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spark-rnn export}: a PyTorch-loadable state dict and its JSON configuration. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Write the model as a PyTorch state dict (safetensors, F32) and a JSON configuration.",
        "It loads with load_state_dict, no renaming, into a module with attributes rnn (nn.RNN/LSTM/GRU) and head",
        "(nn.Linear).",
        "--out FILE.safetensors writes FILE.safetensors and FILE.json; --out DIR writes DIR/model.safetensors and DIR/config.json."})
public final class ExportCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "FILE",
      description = "model file (model.safetensors, or a checkpoint), or a directory holding model.safetensors (train's --out,"
          + " a saved RnnModel)")
  String model;

  @Option(names = "--out", required = true, paramLabel = "FILE.safetensors|DIR", description = "where to write")
  String out;

  @Override
  public Integer call() throws Exception {
    Configuration conf = new Configuration();
    // FILE.safetensors in any case is a file (as the inputs' suffix is read: InputFiles.isSafetensors)
    boolean toFile = InputFiles.isSafetensors(out);
    String suffix = PredictCommand.fileSuffix(out);
    if (suffix == null && out.toLowerCase(Locale.ROOT).replaceAll("/+$", "").endsWith(".npy")) {
      suffix = ".npy";
    }
    if (!toFile && suffix != null) {   // a directory named e.npy is not the file the user asked for (a user audit)
      throw new BadInputException("--out " + out + ": export writes FILE.safetensors (and FILE.json) or a directory DIR"
          + " (DIR/model.safetensors and DIR/config.json), not a " + suffix + " file");
    }
    FileSystems.requireUsableOutput(out, conf, "--out", !toFile);
    TrainedModel m = TrainedModel.load(model, conf);
    TorchInterop.Exported e = TorchInterop.export(m);
    String weights;
    String config;
    if (toFile) {
      weights = out;
      config = out.substring(0, out.length() - ".safetensors".length()) + ".json";
    } else {
      String dir = out.replaceAll("/+$", "");
      weights = dir + "/model.safetensors";
      config = dir + "/config.json";
    }
    // export --model runs/x --out runs/x wrote the exported weights over the model (its spark-rnn metadata lost)
    FileSystems.requireNotAnInput(weights, conf, "--out", "--model", m.source());
    FileSystems.requireNotAnInput(config, conf, "--out", "--model", m.source());
    // both files usable before either is written: a directory at FILE.json failed the second write,
    // the weights already written beside an older config (a user audit)
    for (String file : new String[] {weights, config}) {
      FileSystems.requireUsableOutput(file, conf, file.equals(out) ? "--out" : "--out " + out + " writes", false);
    }
    HadoopFiles.write(weights, e.safetensors(), conf);
    try {
      HadoopFiles.write(config, e.configJson().getBytes(StandardCharsets.UTF_8), conf);
    } catch (IOException failed) {   // the weights without their config are no export: not left to be loaded
      boolean removed = HadoopFiles.fs(weights, conf).delete(HadoopFiles.path(weights), false);
      throw new HadoopFiles.WriteException(failed.getMessage() + (removed ? "; the weights just written at " + weights
          + " are removed (an export is the pair)" : "; " + weights + " holds this export's weights without their config"),
          failed);
    }
    System.out.println("exported " + weights + " and " + config);
    return 0;
  }
}
