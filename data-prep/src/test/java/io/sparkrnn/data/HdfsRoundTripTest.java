package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.AddingSource;
import io.sparkrnn.kernel.model.Batch;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A real HDFS (MiniDFSCluster on 127.0.0.1, one datanode, in this JVM): write → read round trip. */
class HdfsRoundTripTest {
  static MiniDFSCluster cluster;
  static Configuration conf;

  @BeforeAll
  static void startHdfs() throws IOException {
    conf = new Configuration();
    File base = new File("target/minidfs-" + ProcessHandle.current().pid()).getAbsoluteFile();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
  }

  @AfterAll
  static void stopHdfs() {
    if (cluster != null) {
      cluster.shutdown(true);
    }
  }

  @Test
  void variableLengthDatasetRoundTripsThroughHdfs() throws IOException {
    URI out = URI.create(cluster.getURI() + "/datasets/adding");
    AddingSource source = new AddingSource(new AddingSource.Options(16, 9, 5, 4));
    Manifest written = Prep.run(source, new PrepOptions(out, 4, 0.3, false, false), conf);
    Dataset ds = Dataset.open(out, conf);
    assertEquals(written, ds.manifest());
    assertTrue(ds.uri().toString().startsWith("hdfs://"));
    long first = 0;
    for (ShardInfo s : ds.manifest().shards()) {
      Batch got = ds.read(s);
      Batch expected = source.read(first, s.batch(), conf);
      assertArrayEquals(expected.x(), got.x(), s.file());
      assertArrayEquals(expected.targets(), got.targets(), s.file());
      assertArrayEquals(expected.lengths(), got.lengths(), s.file());
      first += s.batch();
    }
    assertTrue(Dataset.inspect(out, conf).ok());
    FileSystem fs = FileSystem.get(out, conf);
    assertFalse(fs.exists(new Path(new Path(out), DatasetWriter.TEMP_DIR)));
    // a second prep into the same place is refused without --overwrite, allowed with it
    assertThrows(IOException.class, () -> Prep.run(source, new PrepOptions(out, 4, 0.3, false, false), conf));
    assertEquals(written, Prep.run(source, new PrepOptions(out, 4, 0.3, false, true), conf));
  }
}
