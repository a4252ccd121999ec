package io.sparkrnn.job;

import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * The step exchange of {@code --sync barrier}: a rendezvous server on the driver that every
 * barrier task connects to for the length of a segment.
 *
 * <p>Per step, each of the P tasks sends its {@link PartitionResult} (its sums as
 * {@link CombineTree} blocks); when the P-th arrives the server merges them in the fixed tree
 * ({@link StepMerge}, the same code the driver runs under
 * {@code --sync job}) and sends every task the same {@link StepTotal}. Each task then applies the
 * same update to its own copy of the parameters. The server keeps no training state: a retried
 * segment (the driver gives every attempt a new segment id) simply meets in fresh rendezvous.
 *
 * <p>Why not {@code BarrierTaskContext.allGather}: in Spark 4.0 a task waiting in it polls for the
 * answer with {@code Thread.sleep(1000)}, so every exchange takes up to a second; and it sends
 * every task all P messages, P² per step through the driver, where this sends 2P.
 *
 * <p>Wire format (framing big-endian, one TCP connection per task and segment): hello = token (long),
 * segment (long), stage attempt (int), partition (int); then per step the task sends step (long),
 * length (int), a {@link Message} in the {@link Codec}'s format; the server answers length (int), a
 * {@link StepTotal} likewise. A connection with the wrong token is closed unanswered.
 */
final class GradientExchange {
  private GradientExchange() {}

  /** Where tasks find the server, and the run's secret. */
  record Address(String host, int port, long token) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** One task's part of a step, and (partition 0's say) whether the segment ends after it. */
  record Message(PartitionResult result, boolean endSegment) {}

  /**
   * What every task receives for a step: the merged sums, the carried states of the whole batch
   * (truncated BPTT), the devices that ran it, and whether the segment ends here.
   *
   * @param dataError a shard that failed its checks in some partition (then the rest is empty)
   */
  record StepTotal(GradientSum total, long computeNanos, float[] carriedH, float[] carriedC, TreeSet<String> devices,
      String dataError, boolean endSegment) {}

  /** What the server must know of a segment to merge its steps. */
  record Segment(ModelConfig model, int partitions, int virtualPartitions, int batch, boolean carry) {}

  /**
   * The wire codec: little-endian, arrays copied in bulk (a float64 gradient of 2 MB takes about
   * 0.2 ms each way; Java serialisation took several ms per pass, which was most of a step's
   * exchange for an LSTM with H = 256). Arrays are length-prefixed, −1 for null; strings are
   * UTF-8 byte arrays likewise.
   */
  static final class Codec {
    private ByteBuffer b;

    private Codec(ByteBuffer b) {
      this.b = b.order(ByteOrder.LITTLE_ENDIAN);
    }

    static Codec writer(int expectedBytes) {
      return new Codec(ByteBuffer.allocate(Math.max(256, expectedBytes)));
    }

    static Codec reader(byte[] bytes) {
      return new Codec(ByteBuffer.wrap(bytes));
    }

    byte[] bytes() {
      return Arrays.copyOf(b.array(), b.position());
    }

    private void room(int n) {
      if (b.remaining() < n) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
        b.flip();
        bigger.put(b);
        b = bigger;
      }
    }

    Codec putLong(long v) {
      room(8);
      b.putLong(v);
      return this;
    }

    Codec putInt(int v) {
      room(4);
      b.putInt(v);
      return this;
    }

    Codec putDouble(double v) {
      room(8);
      b.putDouble(v);
      return this;
    }

    Codec putBoolean(boolean v) {
      room(1);
      b.put((byte) (v ? 1 : 0));
      return this;
    }

    Codec putDoubles(double[] v) {
      putInt(v == null ? -1 : v.length);
      if (v != null) {
        room(8 * v.length);
        b.asDoubleBuffer().put(v);
        b.position(b.position() + 8 * v.length);
      }
      return this;
    }

    Codec putFloats(float[] v) {
      putInt(v == null ? -1 : v.length);
      if (v != null) {
        room(4 * v.length);
        b.asFloatBuffer().put(v);
        b.position(b.position() + 4 * v.length);
      }
      return this;
    }

    Codec putInts(int[] v) {
      putInt(v == null ? -1 : v.length);
      if (v != null) {
        room(4 * v.length);
        b.asIntBuffer().put(v);
        b.position(b.position() + 4 * v.length);
      }
      return this;
    }

    Codec putString(String s) {
      if (s == null) {
        return putInt(-1);
      }
      byte[] u = s.getBytes(StandardCharsets.UTF_8);
      putInt(u.length);
      room(u.length);
      b.put(u);
      return this;
    }

    long getLong() {
      return b.getLong();
    }

    int getInt() {
      return b.getInt();
    }

    double getDouble() {
      return b.getDouble();
    }

    boolean getBoolean() {
      return b.get() != 0;
    }

    double[] getDoubles() {
      int n = b.getInt();
      if (n < 0) {
        return null;
      }
      double[] v = new double[n];
      b.asDoubleBuffer().get(v);
      b.position(b.position() + 8 * n);
      return v;
    }

    float[] getFloats() {
      int n = b.getInt();
      if (n < 0) {
        return null;
      }
      float[] v = new float[n];
      b.asFloatBuffer().get(v);
      b.position(b.position() + 4 * n);
      return v;
    }

    int[] getInts() {
      int n = b.getInt();
      if (n < 0) {
        return null;
      }
      int[] v = new int[n];
      b.asIntBuffer().get(v);
      b.position(b.position() + 4 * n);
      return v;
    }

    String getString() {
      int n = b.getInt();
      if (n < 0) {
        return null;
      }
      byte[] u = new byte[n];
      b.get(u);
      return new String(u, StandardCharsets.UTF_8);
    }
  }

  static byte[] encode(Message m) {
    PartitionResult r = m.result();
    long gradients = 0;
    for (CombineTree.Block b : r.blocks()) {
      gradients += b.sum().gradient().length;
    }
    Codec c = Codec.writer((int) Math.min(MAX_MESSAGE, 8 * gradients + 4L * (length(r.finalH()) + length(r.finalC())) + 1024));
    c.putInt(r.partition()).putInt(r.blocks().length);
    for (CombineTree.Block b : r.blocks()) {
      c.putInt(b.level()).putInt(b.index()).putDouble(b.sum().lossSum()).putLong(b.sum().count()).putDoubles(b.sum().gradient());
    }
    c.putInts(r.positions())
        .putFloats(r.finalH()).putFloats(r.finalC()).putString(r.device()).putString(r.executor()).putLong(r.computeNanos())
        .putString(r.dataError()).putBoolean(m.endSegment());
    return c.bytes();
  }

  static Message decodeMessage(byte[] bytes) {
    Codec c = Codec.reader(bytes);
    int partition = c.getInt();
    int count = c.getInt();
    if (count < 0 || count > 64) { // at most 2·⌈log2 V⌉ blocks, V < 2^31
      throw new IllegalArgumentException("partition " + partition + " sent " + count + " gradient blocks");
    }
    CombineTree.Block[] blocks = new CombineTree.Block[count];
    for (int i = 0; i < count; i++) {
      int level = c.getInt();
      int index = c.getInt();
      blocks[i] = new CombineTree.Block(level, index, new GradientSum(c.getDouble(), c.getLong(), c.getDoubles()));
    }
    PartitionResult r = new PartitionResult(partition, blocks, c.getInts(), c.getFloats(), c.getFloats(), c.getString(), c.getString(),
        c.getLong(), c.getString());
    return new Message(r, c.getBoolean());
  }

  static byte[] encode(StepTotal t) {
    Codec c = Codec.writer((t.total() == null ? 0 : 8 * t.total().gradient().length) + 4 * (length(t.carriedH()) + length(t.carriedC()))
        + 1024);
    c.putBoolean(t.total() != null);
    if (t.total() != null) {
      c.putDouble(t.total().lossSum()).putLong(t.total().count()).putDoubles(t.total().gradient());
    }
    c.putLong(t.computeNanos()).putFloats(t.carriedH()).putFloats(t.carriedC()).putInt(t.devices().size());
    for (String d : t.devices()) {
      c.putString(d);
    }
    c.putString(t.dataError()).putBoolean(t.endSegment());
    return c.bytes();
  }

  static StepTotal decodeTotal(byte[] bytes) {
    Codec c = Codec.reader(bytes);
    GradientSum total = c.getBoolean() ? new GradientSum(c.getDouble(), c.getLong(), c.getDoubles()) : null;
    long computeNanos = c.getLong();
    float[] h = c.getFloats();
    float[] cs = c.getFloats();
    TreeSet<String> devices = new TreeSet<>();
    for (int i = c.getInt(); i > 0; i--) {
      devices.add(c.getString());
    }
    return new StepTotal(total, computeNanos, h, cs, devices, c.getString(), c.getBoolean());
  }

  private static int length(float[] a) {
    return a == null ? 0 : a.length;
  }

  /** The largest message a server accepts (a float64 sum of 2^28 parameters). */
  static final int MAX_MESSAGE = Integer.MAX_VALUE - 16;

  /** The driver's end. */
  static final class Server implements Closeable {
    private final ServerSocket socket;
    private final Address address;
    private final Map<Long, Segment> segments = new ConcurrentHashMap<>();
    private final Map<String, Rendezvous> meetings = new ConcurrentHashMap<>();
    private final List<Socket> connections = new ArrayList<>();
    private final Thread acceptor;
    private volatile boolean closed;

    /**
     * @param bindHost the address to listen on ({@code spark.driver.bindAddress}, else the driver host)
     * @param advertisedHost the address executors connect to ({@code spark.driver.host})
     * @param port 0 for any free port
     */
    Server(String bindHost, String advertisedHost, int port) throws IOException {
      socket = new ServerSocket();
      socket.bind(new InetSocketAddress(InetAddress.getByName(bindHost), port));
      address = new Address(advertisedHost, socket.getLocalPort(), new SecureRandom().nextLong());
      acceptor = new Thread(this::acceptLoop, "spark-rnn-exchange-accept");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    Address address() {
      return address;
    }

    void open(long segmentId, Segment segment) {
      segments.put(segmentId, segment);
    }

    /** Forgets a finished segment and any half-met step of it (a failed stage attempt's). */
    void finish(long segmentId) {
      segments.remove(segmentId);
      meetings.keySet().removeIf(k -> k.startsWith(segmentId + "/"));
    }

    private void acceptLoop() {
      while (!closed) {
        try {
          Socket s = socket.accept();
          s.setTcpNoDelay(true);
          synchronized (connections) {
            connections.add(s);
          }
          Thread t = new Thread(() -> serve(s), "spark-rnn-exchange-" + s.getRemoteSocketAddress());
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          if (!closed) {
            System.err.println("spark-rnn: gradient exchange: accept failed: " + e);
          }
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 1 << 16));
        DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream(), 1 << 16));
        s.setKeepAlive(true); // a host that vanished without a reset frees its thread eventually
        s.setSoTimeout(30_000); // the hello comes at once; after it a step may take as long as it takes
        if (in.readLong() != address.token()) {
          return; // not one of our tasks
        }
        long segmentId = in.readLong();
        int attempt = in.readInt();
        int partition = in.readInt();
        s.setSoTimeout(0);
        Segment segment = segments.get(segmentId);
        if (segment == null || partition < 0 || partition >= segment.partitions()) {
          return;
        }
        while (segments.containsKey(segmentId)) {
          long step;
          try {
            step = in.readLong();
          } catch (EOFException end) {
            return; // the task finished its segment
          }
          int length = in.readInt();
          if (length < 0 || length > MAX_MESSAGE) {
            return; // not our framing
          }
          byte[] payload = new byte[length];
          in.readFully(payload);
          String key = segmentId + "/" + attempt + "/" + step;
          Rendezvous r = meetings.computeIfAbsent(key, k -> new Rendezvous(segment, step));
          if (r.arrive(partition, decodeMessage(payload), out)) {
            meetings.remove(key);
          }
        }
      } catch (IOException e) {
        // a task that died or was killed; Spark fails the barrier stage and the driver reruns the segment
      } finally {
        synchronized (connections) {
          connections.remove(s);
        }
      }
    }

    @Override
    public void close() throws IOException {
      closed = true;
      socket.close();
      synchronized (connections) {
        for (Socket s : connections) {
          s.close();
        }
        connections.clear();
      }
    }
  }

  /** One step of one stage attempt: waits for all P messages, then answers everyone. */
  private static final class Rendezvous {
    private final Segment segment;
    private final long step;
    private final Message[] messages;
    private final DataOutputStream[] outs;
    private int arrived;

    Rendezvous(Segment segment, long step) {
      this.segment = segment;
      this.step = step;
      this.messages = new Message[segment.partitions()];
      this.outs = new DataOutputStream[segment.partitions()];
    }

    /** Records a partition's message; the last to arrive merges and answers all. True when answered. */
    boolean arrive(int partition, Message m, DataOutputStream out) throws IOException {
      synchronized (this) {
        if (messages[partition] == null) {
          arrived++;
        }
        messages[partition] = m;
        outs[partition] = out;
        if (arrived < messages.length) {
          return false;
        }
      }
      byte[] reply = encode(merge());
      for (DataOutputStream o : outs) {
        synchronized (o) {
          try {
            o.writeInt(reply.length);
            o.write(reply);
            o.flush();
          } catch (IOException e) {
            // that task is gone; the stage will fail and the segment run again
          }
        }
      }
      return true;
    }

    private StepTotal merge() {
      return GradientExchange.merge(segment, messages, step);
    }
  }

  /** The step's total from all P messages (indexed by partition): what the server sends every task. */
  static StepTotal merge(Segment segment, Message[] messages, long step) {
    List<PartitionResult> results = new ArrayList<>(messages.length);
    for (Message m : messages) {
      results.add(m.result());
    }
    boolean end = messages[0].endSegment();
    String dataError = StepMerge.sortAndFindDataError(results, step);
    if (dataError != null) {
      return new StepTotal(null, 0, null, null, new TreeSet<>(), dataError, true);
    }
    TreeSet<String> devices = new TreeSet<>();
    StepMerge merged = StepMerge.of(segment.model(), results, segment.virtualPartitions(), segment.batch(), segment.carry(), devices);
    return new StepTotal(merged.total(), merged.computeNanos(), merged.carriedH(), merged.carriedC(), devices, null, end);
  }

  /** A task's end: one connection for the segment. */
  static final class Client implements Closeable {
    private final Socket socket;
    private final DataOutputStream out;
    private final InputStream in;
    private final BooleanSupplier killed;

    /**
     * @param killed true once Spark has killed this task (another task of the stage failed): a
     *     wait for the step's answer then ends instead of blocking for ever
     */
    Client(Address address, long segmentId, int attempt, int partition, BooleanSupplier killed) throws IOException {
      this.killed = killed;
      socket = new Socket();
      socket.connect(new InetSocketAddress(address.host(), address.port()), 30_000);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(1000); // a read wakes at once on data; the timeout only paces the kill check
      out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream(), 1 << 16));
      in = socket.getInputStream();
      out.writeLong(address.token());
      out.writeLong(segmentId);
      out.writeInt(attempt);
      out.writeInt(partition);
    }

    StepTotal exchange(long step, Message message) throws IOException {
      byte[] payload = encode(message);
      out.writeLong(step);
      out.writeInt(payload.length);
      out.write(payload);
      out.flush();
      byte[] header = new byte[4];
      readFully(header);
      int length = ((header[0] & 0xff) << 24) | ((header[1] & 0xff) << 16) | ((header[2] & 0xff) << 8) | (header[3] & 0xff);
      byte[] reply = new byte[length];
      readFully(reply);
      return decodeTotal(reply);
    }

    private void readFully(byte[] b) throws IOException {
      int off = 0;
      while (off < b.length) {
        int n;
        try {
          n = in.read(b, off, b.length - off);
        } catch (SocketTimeoutException waiting) {
          if (killed.getAsBoolean()) {
            throw new IOException("killed while waiting for the other partitions' step results");
          }
          continue; // nothing was consumed; keep waiting for the slowest partition
        }
        if (n < 0) {
          throw new EOFException("the driver's gradient exchange closed the connection");
        }
        off += n;
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

}
