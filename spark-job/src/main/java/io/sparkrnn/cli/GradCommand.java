package io.sparkrnn.cli;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.InputFiles;
import io.sparkrnn.infer.ShardFiles;
import io.sparkrnn.infer.TrainedModel;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.Tensor;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ParamSpec;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code spark-rnn grad}: the mean loss of one batch and its gradient with respect to every
 * parameter, for checks against PyTorch and other implementations.
 */
@Command(name = "grad", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Loss and gradients of the MEAN loss of one shard (one batch), from the zero initial state.",
        "Writes one F32 tensor per parameter under its own name and shape, and 'loss' [1]."})
public final class GradCommand implements Callable<Integer> {
  @Option(names = "--weights", required = true, paramLabel = "FILE", description = "model file (model.safetensors)")
  String weights;

  @Option(names = "--data", required = true, paramLabel = "FILE",
      description = "one shard: x F32 [T,B,F]; y F32 [T,B,O] | [B,O] or I32 [T,B] | [B]; optional lengths I32 [B]")
  String data;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "gradients file to write (.safetensors)")
  String out;

  @Option(names = "--engine", defaultValue = "reference", description = "reference (float64) | kernel (float32: the OpenCL kernels or the JVM engine, as --device picks)"
      + " (default: ${DEFAULT-VALUE})")
  String engine;

  @Option(names = "--device", defaultValue = "auto", description = "auto | gpu | cpu-opencl | jvm, for --engine kernel (default: ${DEFAULT-VALUE})")
  String device;

  @Override
  public Integer call() throws Exception {
    Engines.requireDeviceApplies(engine, device);
    Configuration conf = new Configuration();
    if (!InputFiles.isSafetensors(out)) {   // a G.npy holding safetensors bytes reads as neither (a user audit)
      throw new BadInputException("--out " + out + ": grad writes one safetensors file; name it FILE.safetensors");
    }
    FileSystems.requireUsableOutput(out, conf, "--out", false);
    TrainedModel model = TrainedModel.load(weights, conf);
    FileSystems.requireNotAnInput(out, conf, "--out", "--weights", model.source(), "--data", data);
    if (HadoopFiles.isDirectory(data, conf)) {
      throw new BadInputException("--data " + data + ": a directory; grad takes one batch, a shard file such as "
          + data.replaceAll("/+$", "") + "/shard-00000.safetensors");
    }
    Batch batch = ShardFiles.read(ShardFiles.readFile(data, conf), data, model.config(), true);
    Params params = model.params();
    GradientSum sum;
    String described;
    try (BpttEngine e = TrainedModel.engine(engine, device)) {
      BpttResult r = e.lossAndGradient(params, batch, null);
      sum = r.gradients();
      described = e.describe();
    }
    if (sum.count() == 0) {
      throw new BadInputException(data + ": the batch has no valid steps, so the mean loss is undefined");
    }
    float[] mean = sum.meanGradient();
    List<Tensor> tensors = new ArrayList<>();
    for (ParamSpec s : params.layout().specs()) {
      float[] g = new float[s.size()];
      System.arraycopy(mean, s.offset(), g, 0, s.size());
      tensors.add(Tensor.ofFloats(s.name(), s.shape(), g));
    }
    tensors.add(Tensor.ofFloats("loss", new int[] {1}, new float[] {(float) sum.meanLoss()}));
    Map<String, String> meta = new LinkedHashMap<>(model.config().toMetadata());
    meta.put("loss_mean", Double.toString(sum.meanLoss()));
    meta.put("loss_terms", Long.toString(sum.count()));
    meta.put("engine", described);
    HadoopFiles.write(out, SafeTensors.toBytes(meta, tensors), conf);
    System.out.printf("loss %.9g (mean over %d terms, %s); gradients of %d tensors written to %s%n", sum.meanLoss(),
        sum.count(), described, params.layout().specs().size(), out);
    return 0;
  }
}
