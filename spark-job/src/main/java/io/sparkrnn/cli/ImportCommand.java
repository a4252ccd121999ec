package io.sparkrnn.cli;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.TorchInterop;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spark-rnn import}: a PyTorch state dict (safetensors) into our model file. */
@Command(name = "import", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Read a PyTorch state dict saved with safetensors and write a spark-rnn model file.",
        "Keys rnn.weight_ih_l0 ... head.bias; F32, F64, F16 or BF16, stored as F32; every name and shape is checked.",
        "Bidirectional (_reverse) and proj_size (weight_hr_l*) weights are refused."})
public final class ImportCommand implements Callable<Integer> {
  @Option(names = "--torch", required = true, paramLabel = "FILE.safetensors", description = "the state dict")
  String torch;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  static final class Source {
    @Option(names = "--config", paramLabel = "FILE.json", description = "configuration JSON (as export writes it)")
    String config;

    @Option(names = "--infer", description = "infer cell, layers and sizes from the shapes (mode and loss from --mode/--loss or the file's metadata)")
    boolean infer;
  }

  @Option(names = "--mode", description = "seq2seq | seq2one (overrides the configuration)")
  String mode;

  @Option(names = "--loss", description = "mse | cross_entropy (overrides the configuration)")
  String loss;

  @Option(names = "--out", required = true, paramLabel = "FILE.safetensors", description = "model file to write")
  String out;

  @Override
  public Integer call() throws Exception {
    Configuration conf = new Configuration();
    if (!InputFiles.isSafetensors(out)) {   // m.npy holding a model: predict and inspect read it by its name (a user audit)
      throw new BadInputException("--out " + out + ": import writes a spark-rnn model file; name it FILE.safetensors");
    }
    FileSystems.requireUsableOutput(out, conf, "--out", false);   // as export's, before anything is read
    FileSystems.requireNotAnInput(out, conf, "--out", "--torch", torch, "--config", source.config);
    // named as the options they are, before any file is read
    try {
      if (mode != null) {
        Mode.parse(mode);
      }
    } catch (BadInputException e) {
      throw new BadInputException("--mode: " + e.getMessage(), e);
    }
    try {
      if (loss != null) {
        LossType.parse(loss);
      }
    } catch (BadInputException e) {
      throw new BadInputException("--loss: " + e.getMessage(), e);
    }
    String configText = source.config == null ? null
        : new String(HadoopFiles.read(source.config, conf), StandardCharsets.UTF_8);
    byte[] bytes = TorchInterop.importModel(HadoopFiles.read(torch, conf), torch, configText, source.config, mode, loss);
    // what we write reads back; its errors (a NaN in a tensor) name the file the values came from
    TrainedModel m = TrainedModel.fromBytes(bytes, torch);
    HadoopFiles.write(out, bytes, conf);
    ModelConfig c = m.config();
    // in train's words (Trainer.describeModel), not the record's toString
    System.out.println("imported " + torch + " as " + c.cell().id() + " " + c.numLayers() + "x" + c.hiddenSize() + " (F="
        + c.inputSize() + ", O=" + c.outputSize() + ", " + c.mode().id() + ", " + c.loss().id() + ") into " + out);
    if (m.normalization() == null && m.vocabulary() == null) {   // a text model's inputs are one-hot symbols: nothing to normalise
      // predict, generate and evaluate then take and give raw units: right only if the PyTorch model was trained so
      System.err.println("warning: " + out + " records no normalisation statistics, so predict, generate and evaluate "
          + "feed it raw values and print its outputs as they come. If the PyTorch model was trained on normalised data, "
          // with a --config given, that was the step: its file has no statistics (an export of a raw-units model; a user audit)
          + (source.config == null ? "import with --config (an export's JSON carries \"normalization\")"
              : "the --config " + source.config + " has no \"normalization\" to record (an export's has it where its model did):"
                  + " give one that has")
          + ", or prep new data with --normalize --normalization-from a dataset prepared with the training statistics.");
    }
    return 0;
  }
}
