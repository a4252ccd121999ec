package io.sparkrnn.data.bench;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.DatasetWriter;
import io.sparkrnn.data.FileSystems;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.net.URI;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;

/**
 * Benchmark, not a test: shard write and read throughput in MB/s (10^6 bytes per second) through
 * the Hadoop local file system, including encoding, CRC32C and, on read, every check.
 *
 * <p>A warm-up of three shards (untimed) loads Hadoop's classes and warms the JIT first.
 *
 * <p>Usage: {@code ShardThroughput DIR [shards=16] [T=100] [B=256] [F=32]}. DIR must not exist.
 * Each shard is T·B·F·4 + T·B·F·4/… bytes (x plus seq2seq y with O = F). The read pass runs
 * twice; the second is reported as warm (page cache) and the first as the first read after write,
 * which is also from the page cache unless caches are dropped in between.
 */
public final class ShardThroughput {
  private ShardThroughput() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int shards = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int T = args.length > 2 ? Integer.parseInt(args[2]) : 100;
    int B = args.length > 3 ? Integer.parseInt(args[3]) : 256;
    int F = args.length > 4 ? Integer.parseInt(args[4]) : 32;
    DatasetSpec spec = new DatasetSpec("bench", F, F, T, Mode.SEQ2SEQ, LossType.MSE, false, null, null);
    Configuration conf = new Configuration();
    SplittableRandom rng = new SplittableRandom(1);
    float[] x = new float[T * B * F];
    float[] y = new float[T * B * F];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
      y[i] = (float) rng.nextGaussian();
    }
    Batch batch = new Batch(T, B, F, x, y, null, null);
    URI out = dir.toUri();
    // warm-up: Hadoop's file system classes and the JIT, in a separate directory, not timed
    URI warm = dir.resolveSibling(dir.getFileName() + "-warmup").toUri();
    try (DatasetWriter w = DatasetWriter.create(warm, conf, spec, false)) {
      for (int s = 0; s < 3; s++) {
        w.write(s, Split.TRAIN, batch);
      }
      w.commit(null);
    }
    Dataset warmed = Dataset.open(warm, conf);
    for (ShardInfo s : warmed.shards(Split.TRAIN)) {
      warmed.read(s);
    }
    FileSystems.get(warm, conf).delete(new org.apache.hadoop.fs.Path(warm), true);
    long bytes = 0;
    long t0 = System.nanoTime();
    try (DatasetWriter w = DatasetWriter.create(out, conf, spec, false)) {
      for (int s = 0; s < shards; s++) {
        bytes += w.write(s, Split.TRAIN, batch).bytes();
      }
      w.commit(null);
    }
    double writeS = (System.nanoTime() - t0) / 1e9;
    System.out.printf("shards=%d T=%d B=%d F=%d shard=%.1f MB total=%.1f MB%n", shards, T, B, F,
        bytes / 1e6 / shards, bytes / 1e6);
    System.out.printf("write (encode + CRC32C + write + rename): %.1f MB/s%n", bytes / 1e6 / writeS);
    Dataset ds = Dataset.open(out, conf);
    for (String pass : new String[] {"read after write", "read warm"}) {
      long t1 = System.nanoTime();
      double checksum = 0;
      for (ShardInfo s : ds.shards(Split.TRAIN)) {
        checksum += ds.read(s).x()[0];
      }
      double readS = (System.nanoTime() - t1) / 1e9;
      System.out.printf("%s (read + CRC32C + decode + checks): %.1f MB/s (%s)%n", pass, bytes / 1e6 / readS,
          checksum == 0 ? "" : "ok");
    }
  }
}
