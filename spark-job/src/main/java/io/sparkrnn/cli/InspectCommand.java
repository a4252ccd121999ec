package io.sparkrnn.cli;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.BadInputException;
import java.io.IOException;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code spark-rnn inspect URI}: the manifest summary with every shard's checksum verified; exit 2 if any fails. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Summarise a dataset and verify every shard (size, CRC32C, dtypes, shapes, values).")
public final class InspectCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "URI", description = "The dataset directory.")
  String uri;

  @Option(names = "--json", description = "Also print manifest.json.")
  boolean json;

  @Override
  public Integer call() throws IOException {
    Dataset.Inspection inspection = Dataset.inspect(new Path(uri).toUri(), new Configuration());
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
