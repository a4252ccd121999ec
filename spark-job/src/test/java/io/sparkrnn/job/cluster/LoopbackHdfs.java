package io.sparkrnn.job.cluster;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.io.IOUtils;

/** A real HDFS in the test JVM: MiniDFSCluster, one datanode, every address on 127.0.0.1. */
final class LoopbackHdfs implements AutoCloseable {
  private final MiniDFSCluster cluster;
  private final Configuration conf;
  private final FileSystem fs;

  LoopbackHdfs(File baseDir) throws IOException {
    conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.getAbsolutePath());
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    conf.setInt("dfs.replication", 1);
    cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
    fs = cluster.getFileSystem();
  }

  /** {@code hdfs://127.0.0.1:PORT/path}. */
  String uri(String path) {
    // MiniDFSCluster.getURI() says "localhost"; keep every address a literal 127.0.0.1
    return "hdfs://127.0.0.1:" + cluster.getNameNodePort() + (path.startsWith("/") ? path : "/" + path);
  }

  Configuration conf() {
    return conf;
  }

  FileSystem fs() {
    return fs;
  }

  byte[] read(String uri) throws IOException {
    Path p = new Path(uri);
    byte[] b = new byte[(int) fs.getFileStatus(p).getLen()];
    try (InputStream in = fs.open(p)) {
      IOUtils.readFully(in, b, 0, b.length);
    }
    return b;
  }

  /** Replaces the file's content (HDFS files are immutable: delete, then create). */
  void write(String uri, byte[] bytes) throws IOException {
    Path p = new Path(uri);
    try (OutputStream out = fs.create(p, true)) {
      out.write(bytes);
    }
  }

  boolean exists(String uri) throws IOException {
    return fs.exists(new Path(uri));
  }

  /** Names in a directory, sorted (hidden ones included); empty when it does not exist. */
  List<String> list(String uri) throws IOException {
    List<String> names = new ArrayList<>();
    if (!fs.exists(new Path(uri))) {
      return names;
    }
    for (FileStatus st : fs.listStatus(new Path(uri))) {
      names.add(st.getPath().getName());
    }
    names.sort(null);
    return names;
  }

  @Override
  public void close() {
    cluster.shutdown(true);
  }
}
