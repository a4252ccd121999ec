package io.sparkrnn.cli;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.Manifest;
import io.sparkrnn.infer.ShardFiles;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code spark-rnn inspect URI}: the manifest summary with every shard's checksum verified; exit 2 if
 * any fails. A safetensors file (a shard, a model, a checkpoint, predict's output): its tensors and
 * metadata, a shard its directory's manifest lists verified as the directory's are.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = {"Summarise a dataset and verify every shard (size, CRC32C, dtypes, shapes, values).",
        "Given one .safetensors file (a shard, model, checkpoint or prediction): list its tensors (name, dtype, shape) and"
            + " metadata; a shard its directory's manifest lists is verified too."})
public final class InspectCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "URI", description = "The dataset directory, a model's directory (train's --out, a saved RnnModel), or one .safetensors file.")
  String uri;

  @Option(names = "--json", description = "Also print manifest.json (a dataset).")
  boolean json;

  @Override
  public Integer call() throws IOException {
    Configuration conf = new Configuration();
    Path path = new Path(uri);
    FileSystem fs = FileSystems.get(path, conf);
    if (fs.exists(path) && fs.getFileStatus(path).isFile()) {
      if (!path.getName().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
        throw new BadInputException(uri + ": a file, and inspect takes a dataset directory or a .safetensors file");
      }
      if (json) {
        throw new BadInputException("--json prints a dataset's manifest.json; " + uri + " is one file");
      }
      System.out.print(ShardFiles.inspect(uri, conf));
      return 0;
    }
    Path model = new Path(path, "model.safetensors");
    if (!json && fs.exists(path) && !fs.exists(new Path(path, Manifest.FILE_NAME)) && fs.exists(model)) {
      // train's --out, a saved RnnModel, an export: what the user wants to see is its model (a user audit)
      System.out.println(uri + ": a model's directory (no " + Manifest.FILE_NAME + "); its model.safetensors:");
      System.out.print(ShardFiles.inspect(model.toString(), conf));
      return 0;
    }
    Dataset.Inspection inspection = Dataset.inspect(path.toUri(), conf);
    System.out.print(inspection.summary());
    if (json) {
      System.out.print(inspection.manifest().toJson());
    }
    if (!inspection.ok()) {
      throw new BadInputException(uri + ": " + inspection.checks().stream().filter(c -> !c.ok()).count()
          + " shard(s) failed verification; first: " + inspection.checks().stream().filter(c -> !c.ok()).findFirst()
          .map(Dataset.ShardCheck::error).orElse(""));
    }
    return 0;
  }
}
