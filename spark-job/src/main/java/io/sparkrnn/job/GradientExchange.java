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
 * <p>Wire format (framing big-endian, one TCP connection per task and segment). Handshake, a
 * challenge–response that proves both ends know the segment's key K and puts nothing secret on
 * the wire: the server sends MAGIC (int) and a fresh 32-byte nonce N_s; the task sends segment
 * (long), stage attempt (int), partition (int), its own nonce N_c (32 bytes) and
 * HMAC-SHA256(K, "hello" ‖ N_s ‖ N_c ‖ segment ‖ attempt ‖ partition); the server answers
 * HMAC-SHA256(K, "admit" ‖ N_s ‖ N_c ‖ …) or closes the connection. K is derived from Spark's own
 * secret when {@code spark.authenticate} is on (HMAC-SHA256(secret, "spark-rnn exchange" ‖
 * segment); both ends derive it, nothing travels), else it is 32 random bytes per segment, shipped
 * to the tasks in the segment's broadcast (see {@link Address}). Then per step the task sends step
 * (long), length (int), a {@link Message} in the {@link Codec}'s format; the server answers length
 * (int), a {@link StepTotal} likewise.
 *
 * <p>What the server refuses (closing the connection and logging why): more than
 * {@link #MAX_HANDSHAKES} connections still in their handshake (before any thread is given to
 * them; a handshake has {@link #HANDSHAKE_MILLIS}), a wrong MAC, an unknown segment, a partition
 * out of range or already connected in that stage attempt, a step not after the connection's last
 * one, a frame longer than the segment allows or that does not decode, and a message for another
 * partition or of another size. A step not complete within the step timeout fails: the server
 * closes every connection waiting in it, so the tasks fail, Spark fails the barrier stage and the
 * driver reruns the segment.
 */
final class GradientExchange {
  private GradientExchange() {}

  /**
   * Where tasks find the server for one segment, and the segment's key when Spark authentication is
   * off (null when on: both ends derive the key from Spark's secret). Without authentication the
   * key travels in the segment's broadcast, which anyone who can reach Spark's block manager can
   * fetch; such a party can also run code on the executors, since Spark itself is then open: the
   * exchange is as closed as the cluster, no more.
   */
  record Address(String host, int port, byte[] key) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** The handshake's first word: "SRX" and version 2. */
  static final int MAGIC = 0x53525802;
  /** Connections in their handshake at once; more are closed at accept, before a thread or buffer is given to them. */
  static final int MAX_HANDSHAKES = 32;
  /** The highest stage attempt admitted (Spark gives up on a stage after spark.stage.maxConsecutiveAttempts, 4 by default). */
  static final int MAX_STAGE_ATTEMPT = 15;
  /** How long a connection may take to complete its handshake. */
  static final int HANDSHAKE_MILLIS = 10_000;
  /** Spark setting: seconds a step may wait for all its partitions before the segment fails (and reruns). */
  public static final String STEP_TIMEOUT = "spark.sparkrnn.exchange.stepTimeout";
  static final long DEFAULT_STEP_TIMEOUT_SECONDS = 600;

  /** HMAC-SHA256(key, the parts in order; longs and ints big-endian). */
  static byte[] mac(byte[] key, Object... parts) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
      for (Object p : parts) {
        if (p instanceof byte[] b) {
          mac.update(b);
        } else if (p instanceof Long l) {
          mac.update(ByteBuffer.allocate(8).putLong(l).array());
        } else if (p instanceof Integer i) {
          mac.update(ByteBuffer.allocate(4).putInt(i).array());
        } else {
          mac.update(((String) p).getBytes(StandardCharsets.UTF_8));
        }
      }
      return mac.doFinal();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every Java 17 runtime", e);
    }
  }

  /** A segment's key from Spark's authentication secret: HMAC-SHA256(secret, "spark-rnn exchange" ‖ segment). */
  static byte[] keyFromSecret(String sparkSecret, long segmentId) {
    return mac(sparkSecret.getBytes(StandardCharsets.UTF_8), "spark-rnn exchange", segmentId);
  }

  /**
   * Spark's authentication secret in this JVM (driver or executor) when {@code spark.authenticate}
   * is on, else null.
   */
  static String sparkSecret() {
    org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
    if (env == null || !env.conf().getBoolean("spark.authenticate", false)) {
      return null;
    }
    String secret = env.securityManager().getSecretKey();
    if (secret == null) {
      throw new IllegalStateException("spark.authenticate is on but Spark holds no secret in this JVM");
    }
    return secret;
  }

  /** 32 bytes from a strong random source. */
  static byte[] nonce() {
    byte[] n = new byte[32];
    RANDOM.nextBytes(n);
    return n;
  }

  private static final SecureRandom RANDOM = new SecureRandom();

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
  record Segment(ModelConfig model, int partitions, int parameterCount, int virtualPartitions, int batch, boolean carry) {
    /** The most gradient blocks one task sends: the maximal nodes of a run of leaves, at most 2·⌈log2 V⌉ (1 for V = 1). */
    int maxBlocks() {
      return Math.max(1, 2 * CombineTree.depth(virtualPartitions));
    }

    /**
     * The longest message a task of this segment can send: its gradient blocks (float64 sums and
     * a few scalars each), the positions of the whole batch, carried states of the whole batch
     * (float32 h and c per layer), and 64 KiB for the scalar fields and strings.
     */
    long maxMessageBytes() {
      long carried = carry ? 2L * batch * model.numLayers() * model.hiddenSize() : 0;
      return maxBlocks() * (8L * parameterCount + 32) + 4L * batch + 4L * carried + 65_536;
    }
  }

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

    /** The count of a length-prefixed array of {@code size}-byte values, checked against the bytes left (a frame from a socket may lie). */
    private int count(int size) {
      int n = b.getInt();
      if (n >= 0 && (long) n * size > b.remaining()) {
        throw new java.nio.BufferUnderflowException();
      }
      return n;
    }

    double[] getDoubles() {
      int n = count(8);
      if (n < 0) {
        return null;
      }
      double[] v = new double[n];
      b.asDoubleBuffer().get(v);
      b.position(b.position() + 8 * n);
      return v;
    }

    float[] getFloats() {
      int n = count(4);
      if (n < 0) {
        return null;
      }
      float[] v = new float[n];
      b.asFloatBuffer().get(v);
      b.position(b.position() + 4 * n);
      return v;
    }

    int[] getInts() {
      int n = count(4);
      if (n < 0) {
        return null;
      }
      int[] v = new int[n];
      b.asIntBuffer().get(v);
      b.position(b.position() + 4 * n);
      return v;
    }

    String getString() {
      int n = count(1);
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
    Codec c = Codec.writer((int) Math.min(Integer.MAX_VALUE - 16, 8 * gradients + 4L * (length(r.finalH()) + length(r.finalC())) + 1024));
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

  /** The driver's end. */
  static final class Server implements Closeable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(GradientExchange.class);
    private final ServerSocket socket;
    private final String advertisedHost;
    /** Spark's secret (keys derived from it), or null: a random key per segment. */
    private final String sparkSecret;
    private final long stepTimeoutMillis;
    private final Map<Long, Open> segments = new ConcurrentHashMap<>();
    private final Map<String, Rendezvous> meetings = new ConcurrentHashMap<>();
    /** segment/attempt/partition of every admitted connection, so a second claim is refused. */
    private final Map<String, Socket> admitted = new ConcurrentHashMap<>();
    private final List<Socket> connections = new ArrayList<>();
    private final java.util.concurrent.ThreadPoolExecutor handshakes;
    private final java.util.concurrent.ScheduledExecutorService timer;
    private final Thread acceptor;
    private volatile boolean closed;
    /** Bytes of step frames received from and sent to the tasks (headers included), and the steps answered, since start. */
    private final java.util.concurrent.atomic.AtomicLong bytesIn = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong bytesOut = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong stepsAnswered = new java.util.concurrent.atomic.AtomicLong();

    /** What went through the driver: step frames in and out, and the steps they made up. */
    record Traffic(long bytesIn, long bytesOut, long steps) {
      /** (in + out) / steps: the driver's bytes per step, or 0 before the first step. */
      double bytesPerStep() {
        return steps == 0 ? 0 : (double) (bytesIn + bytesOut) / steps;
      }
    }

    Traffic traffic() {
      return new Traffic(bytesIn.get(), bytesOut.get(), stepsAnswered.get());
    }

    /** An open segment and its key. */
    private record Open(Segment segment, byte[] key) {}

    /**
     * @param bindHost the address to listen on ({@code spark.driver.bindAddress}, else the driver host)
     * @param advertisedHost the address executors connect to ({@code spark.driver.host})
     * @param port 0 for any free port
     * @param sparkSecret Spark's authentication secret ({@link #sparkSecret()}), or null
     * @param stepTimeoutMillis how long a step may wait for all its partitions
     */
    Server(String bindHost, String advertisedHost, int port, String sparkSecret, long stepTimeoutMillis) throws IOException {
      this.advertisedHost = advertisedHost;
      this.sparkSecret = sparkSecret;
      this.stepTimeoutMillis = stepTimeoutMillis;
      socket = new ServerSocket();
      socket.bind(new InetSocketAddress(InetAddress.getByName(bindHost), port));
      // handshakes on a few threads with a bounded queue: a flood of idle connections costs a socket each, no thread
      handshakes = new java.util.concurrent.ThreadPoolExecutor(4, 4, 30, java.util.concurrent.TimeUnit.SECONDS,
          new java.util.concurrent.ArrayBlockingQueue<>(MAX_HANDSHAKES), daemon("spark-rnn-exchange-handshake"));
      handshakes.allowCoreThreadTimeOut(true);
      timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(daemon("spark-rnn-exchange-timer"));
      acceptor = new Thread(this::acceptLoop, "spark-rnn-exchange-accept");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
      return r -> {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
      };
    }

    int port() {
      return socket.getLocalPort();
    }

    /** Opens a segment: its key is fresh (random, or derived from Spark's secret and the segment id); returns where and how tasks connect. */
    Address open(long segmentId, Segment segment) {
      byte[] key = sparkSecret != null ? keyFromSecret(sparkSecret, segmentId) : nonce();
      segments.put(segmentId, new Open(segment, key));
      return new Address(advertisedHost, socket.getLocalPort(), sparkSecret != null ? null : key);
    }

    /** Forgets a finished segment and any half-met step of it (a failed stage attempt's). */
    void finish(long segmentId) {
      segments.remove(segmentId);
      meetings.keySet().removeIf(k -> k.startsWith(segmentId + "/"));
      admitted.keySet().removeIf(k -> k.startsWith(segmentId + "/"));
    }

    private void acceptLoop() {
      while (!closed) {
        Socket s;
        try {
          s = socket.accept();
        } catch (IOException e) {
          if (!closed) {
            LOG.warn("gradient exchange: accept failed: {}", e.toString());
          }
          continue;
        }
        try {
          handshakes.execute(() -> handshake(s));
        } catch (java.util.concurrent.RejectedExecutionException full) {
          LOG.warn("gradient exchange: refused a connection from {}: {} connections already in their handshake",
              s.getRemoteSocketAddress(), MAX_HANDSHAKES);
          closeQuietly(s);
        }
      }
    }

    /** Admits an authenticated task (then serves it on a thread of its own) or closes the connection. */
    private void handshake(Socket s) {
      String admittedAs = null;
      try {
        s.setTcpNoDelay(true);
        s.setSoTimeout(HANDSHAKE_MILLIS);
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 256));
        DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream(), 1 << 16));
        byte[] serverNonce = nonce();
        out.writeInt(MAGIC);
        out.write(serverNonce);
        out.flush();
        long segmentId = in.readLong();
        int attempt = in.readInt();
        int partition = in.readInt();
        byte[] clientNonce = new byte[32];
        in.readFully(clientNonce);
        byte[] proof = new byte[32];
        in.readFully(proof);
        Open open = segments.get(segmentId);
        if (open == null) {
          refuse(s, "segment " + segmentId + " is not open");
          return;
        }
        if (!java.security.MessageDigest.isEqual(proof, mac(open.key(), "hello", serverNonce, clientNonce, segmentId, attempt,
            partition))) {
          refuse(s, "authentication failed (wrong key)");
          return;
        }
        if (partition < 0 || partition >= open.segment().partitions()) {
          refuse(s, "partition " + partition + " is not in 0.." + (open.segment().partitions() - 1));
          return;
        }
        if (attempt < 0 || attempt > MAX_STAGE_ATTEMPT) {
          // bounds the connections even a key holder can open: P per stage attempt, and Spark retries a stage a few times
          refuse(s, "stage attempt " + attempt + " is not in 0.." + MAX_STAGE_ATTEMPT);
          return;
        }
        String as = segmentId + "/" + attempt + "/" + partition;
        if (admitted.putIfAbsent(as, s) != null) {
          refuse(s, "partition " + partition + " of segment " + segmentId + " (stage attempt " + attempt + ") is already connected");
          return;
        }
        admittedAs = as;
        out.write(mac(open.key(), "admit", serverNonce, clientNonce, segmentId, attempt, partition));
        out.flush();
        synchronized (connections) {
          if (closed) {
            return;
          }
          connections.add(s);
        }
        // a task may be silent for a step's compute; the step timeout bounds a wait for it
        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, stepTimeoutMillis));
        s.setKeepAlive(true);
        String claimed = admittedAs;
        Thread t = new Thread(() -> serve(s, in, out, segmentId, attempt, partition, open.segment(), claimed),
            "spark-rnn-exchange-" + as);
        t.setDaemon(true);
        t.start();
        admittedAs = null;                               // the serving thread owns it now
      } catch (IOException | RuntimeException e) {
        LOG.warn("gradient exchange: handshake with {} failed: {}", s.getRemoteSocketAddress(), e.toString());
        closeQuietly(s);
      } finally {
        if (admittedAs != null) {
          admitted.remove(admittedAs, s);
          closeQuietly(s);
        }
      }
    }

    private static void refuse(Socket s, String why) {
      LOG.warn("gradient exchange: refused {}: {}", s.getRemoteSocketAddress(), why);
      closeQuietly(s);
    }

    private static void closeQuietly(Socket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }

    private void serve(Socket s, DataInputStream in, DataOutputStream out, long segmentId, int attempt, int partition,
        Segment segment, String claimed) {
      long lastStep = Long.MIN_VALUE;
      try (s) {
        while (segments.containsKey(segmentId)) {
          long step;
          try {
            step = in.readLong();
          } catch (EOFException end) {
            return; // the task finished its segment
          }
          if (step <= lastStep) {
            refuse(s, "partition " + partition + " sent step " + step + " after step " + lastStep);
            return;
          }
          lastStep = step;
          int length = in.readInt();
          if (length < 0 || length > segment.maxMessageBytes()) {
            refuse(s, "partition " + partition + " sent a frame of " + length + " bytes; this segment's are at most "
                + segment.maxMessageBytes());
            return;
          }
          byte[] payload = new byte[length];
          in.readFully(payload);
          bytesIn.addAndGet(12L + length);                 // step, length, payload
          Message m = decodeMessage(payload);
          String wrong = wrongMessage(m.result(), partition, segment);
          if (wrong != null) {
            refuse(s, "partition " + partition + " sent " + wrong);
            return;
          }
          String key = segmentId + "/" + attempt + "/" + step;
          Rendezvous r = meetings.computeIfAbsent(key, k -> {
            Rendezvous fresh = new Rendezvous(segment, step, replyBytes -> {
              stepsAnswered.incrementAndGet();
              bytesOut.addAndGet((4L + replyBytes) * segment.partitions());
            });
            timer.schedule(() -> expire(k, fresh), stepTimeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
            return fresh;
          });
          if (r.arrive(partition, m, s, out)) {
            meetings.remove(key, r);
          }
        }
      } catch (IOException e) {
        // a task that died or was killed; Spark fails the barrier stage and the driver reruns the segment
      } catch (RuntimeException e) {
        // a frame that does not decode, or a merge that fails: this connection ends, the driver lives on
        LOG.warn("gradient exchange: dropped partition {} of segment {}: {}", partition, segmentId, e.toString());
      } finally {
        admitted.remove(claimed, s);
        synchronized (connections) {
          connections.remove(s);
        }
      }
    }

    /** Why a decoded message cannot be this connection's part of a step, or null when it can. */
    private static String wrongMessage(PartitionResult r, int partition, Segment segment) {
      if (r.partition() != partition) {
        return "a message for partition " + r.partition();
      }
      if (r.blocks().length > segment.maxBlocks()) {
        return r.blocks().length + " gradient blocks; at most " + segment.maxBlocks() + " for V=" + segment.virtualPartitions();
      }
      for (CombineTree.Block b : r.blocks()) {
        if (b.sum().gradient().length != segment.parameterCount()) {
          return "a gradient block of " + b.sum().gradient().length + " values; expected " + segment.parameterCount();
        }
      }
      return null;
    }

    /** A step still incomplete after the step timeout: closes its waiting connections so the segment fails and reruns. */
    private void expire(String key, Rendezvous r) {
      if (r.fail()) {
        meetings.remove(key, r);
        LOG.warn("gradient exchange: step {} timed out after {} s waiting for partitions {}; failing the segment", r.step,
            stepTimeoutMillis / 1000, r.missing());
      }
    }

    @Override
    public void close() throws IOException {
      closed = true;
      socket.close();
      handshakes.shutdownNow();
      timer.shutdownNow();
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
    private final Socket[] sockets;
    private int arrived;
    /** Answered or failed: no arrival is taken any more. */
    private boolean done;
    /** Told the answer's length before it is sent to every partition (the server's traffic count). */
    private final java.util.function.IntConsumer answering;

    Rendezvous(Segment segment, long step, java.util.function.IntConsumer answering) {
      this.segment = segment;
      this.step = step;
      this.answering = answering;
      this.messages = new Message[segment.partitions()];
      this.outs = new DataOutputStream[segment.partitions()];
      this.sockets = new Socket[segment.partitions()];
    }

    /**
     * Records a partition's message; the last to arrive merges and answers all. True when answered.
     *
     * @throws IOException a second arrival of the partition, or an arrival after the step failed
     */
    boolean arrive(int partition, Message m, Socket socket, DataOutputStream out) throws IOException {
      synchronized (this) {
        if (done) {
          throw new IOException("step " + step + " already ended");
        }
        if (messages[partition] != null) {
          throw new IOException("partition " + partition + " arrived twice at step " + step);
        }
        arrived++;
        messages[partition] = m;
        outs[partition] = out;
        sockets[partition] = socket;
        if (arrived < messages.length) {
          return false;
        }
        done = true;
      }
      byte[] reply = encode(GradientExchange.merge(segment, messages, step));
      answering.accept(reply.length);
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

    /** Ends an unanswered step: closes the connections that wait in it. False if it was answered. */
    synchronized boolean fail() {
      if (done) {
        return false;
      }
      done = true;
      for (Socket s : sockets) {
        if (s != null) {
          Server.closeQuietly(s);
        }
      }
      return true;
    }

    synchronized List<Integer> missing() {
      List<Integer> m = new ArrayList<>();
      for (int p = 0; p < messages.length; p++) {
        if (messages[p] == null) {
          m.add(p);
        }
      }
      return m;
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
     * Connects and authenticates (the segment's key from the address, or derived from Spark's
     * secret in this JVM when the address carries none).
     *
     * @param killed true once Spark has killed this task (another task of the stage failed): a
     *     wait for the step's answer then ends instead of blocking for ever
     */
    Client(Address address, long segmentId, int attempt, int partition, BooleanSupplier killed) throws IOException {
      this(address, address.key() != null ? address.key() : keyFromSecret(requireSecret(), segmentId), segmentId, attempt,
          partition, killed);
    }

    private static String requireSecret() {
      String secret = sparkSecret();
      if (secret == null) {
        throw new IllegalStateException("the driver's gradient exchange authenticates with Spark's secret, but this executor"
            + " runs without spark.authenticate");
      }
      return secret;
    }

    Client(Address address, byte[] key, long segmentId, int attempt, int partition, BooleanSupplier killed) throws IOException {
      this.killed = killed;
      socket = new Socket();
      socket.connect(new InetSocketAddress(address.host(), address.port()), 30_000);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(HANDSHAKE_MILLIS);
      out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream(), 1 << 16));
      in = socket.getInputStream();
      DataInputStream hello = new DataInputStream(in);
      try {
        if (hello.readInt() != MAGIC) {
          throw new IOException("not a spark-rnn gradient exchange (or another version)");
        }
        byte[] serverNonce = new byte[32];
        hello.readFully(serverNonce);
        byte[] clientNonce = nonce();
        out.writeLong(segmentId);
        out.writeInt(attempt);
        out.writeInt(partition);
        out.write(clientNonce);
        out.write(mac(key, "hello", serverNonce, clientNonce, segmentId, attempt, partition));
        out.flush();
        byte[] admit = new byte[32];
        hello.readFully(admit);
        if (!java.security.MessageDigest.isEqual(admit, mac(key, "admit", serverNonce, clientNonce, segmentId, attempt, partition))) {
          throw new IOException("the exchange did not prove it knows the segment's key");
        }
      } catch (EOFException refused) {
        socket.close();
        throw new IOException("the driver's gradient exchange refused partition " + partition + " of segment " + segmentId
            + " (see the driver's log: a wrong key, or the partition already connected)", refused);
      } catch (IOException e) {
        socket.close();
        throw e;
      }
      socket.setSoTimeout(1000); // a read wakes at once on data; the timeout only paces the kill check
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
