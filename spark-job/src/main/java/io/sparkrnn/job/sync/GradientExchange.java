package io.sparkrnn.job.sync;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.ModelConfig;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * The step exchange of {@code --sync barrier}: the driver's rendezvous and the top of the
 * reduction tree ({@link TreeReduce}).
 *
 * <p>Once per segment attempt every barrier task connects to the driver, proves it knows the
 * segment's key, and says where it listens for the sources of the node it hosts in the tree; when
 * all P have, each learns every task's address. The tasks then connect to each other and every
 * connection to the driver but the root host's ends: per step the tasks reduce their
 * {@link CombineTree} blocks up the tree, the root's host sends the driver the whole part (one
 * block, the step's total), and the driver sends the total back down (with the batch's carried
 * states and the devices). Bytes through the driver per step are one gradient in and one out,
 * whatever P. The driver keeps no training state: a retried segment (every attempt a new segment
 * id) meets afresh.
 *
 * <p>Why not {@code BarrierTaskContext.allGather} for the rendezvous or the steps: in Spark 4.0 a
 * task waiting in it polls for the answer with {@code Thread.sleep(1000)}, up to a second per
 * call; and for gradients it sends every task all P messages, P² through the driver.
 *
 * <p>Handshake (the driver's, and a parent task's with each child), a challenge–response that
 * proves both ends know the segment's key K and puts nothing secret on the wire: the accepting end
 * sends MAGIC (int) and a fresh 32-byte nonce N_s; the connecting task sends segment (long), stage
 * attempt (int), partition (int), its own nonce N_c (32 bytes) and
 * HMAC-SHA256(K, "hello" ‖ N_s ‖ N_c ‖ segment ‖ attempt ‖ partition); the accepting end answers
 * HMAC-SHA256(K, "admit" ‖ N_s ‖ N_c ‖ …) or closes the connection. K is derived from Spark's own
 * secret when {@code spark.authenticate} is on (HMAC-SHA256(secret, "spark-rnn exchange" ‖
 * segment); both ends derive it, nothing travels), else it is 32 random bytes per segment, shipped
 * to the tasks in the segment's broadcast (see {@link Address}). Then, to the driver, the
 * rendezvous: length (int), host (string) and port (int, −1 when it takes no connections) in the
 * {@link Codec}'s format; back, length (int), P (int), each task's host and port, and the step
 * timeout in milliseconds (long). Steps: see {@link TreeReduce}.
 *
 * <p>What the driver refuses (closing the connection and logging why): more than
 * {@link #MAX_HANDSHAKES} connections waiting for one of the 4 handshake threads (before any thread is given to
 * them; a handshake has {@link #HANDSHAKE_MILLIS} in all), a wrong MAC, an unknown segment, a partition
 * out of range or already connected in that stage attempt, a rendezvous frame that is too long,
 * a step not after the last one, a frame longer than the segment allows or that does not decode,
 * and a part that is not the tree's root. A host refuses a wrong MAC, another segment or attempt,
 * and any partition (and role) that is not one of its node's sources or is already connected. A
 * rendezvous or a step not complete within the step timeout fails: the waiting end closes its
 * connections, so the tasks fail, Spark fails the barrier stage and the driver reruns the segment.
 */
public final class GradientExchange {
  private GradientExchange() {}

  /**
   * Where tasks find the server for one segment, and the segment's key when Spark authentication is
   * off (null when on: both ends derive the key from Spark's secret). Without authentication the
   * key travels in the segment's broadcast, which anyone who can reach Spark's block manager can
   * fetch; such a party can also run code on the executors, since Spark itself is then open: the
   * exchange is as closed as the cluster, no more.
   */
  public record Address(String host, int port, byte[] key) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** The handshake's first word: "SRX" and version 2. */
  static final int MAGIC = 0x53525802;
  /** Connections waiting for a handshake thread (4 more are in their handshake); more are closed at accept, before a thread or buffer is given to them. */
  static final int MAX_HANDSHAKES = 32;
  /** The highest stage attempt admitted (Spark gives up on a stage after spark.stage.maxConsecutiveAttempts, 4 by default). */
  static final int MAX_STAGE_ATTEMPT = 15;
  /** How long a connection may take to complete its handshake. */
  static final int HANDSHAKE_MILLIS = 10_000;
  /** Spark setting: seconds a step may wait for all its partitions before the segment fails (and reruns). */
  public static final String STEP_TIMEOUT = "spark.sparkrnn.exchange.stepTimeout";
  public static final long DEFAULT_STEP_TIMEOUT_SECONDS = 600;

  /** HMAC-SHA256(key, the parts in order; longs and ints big-endian). */
  static byte[] mac(byte[] key, Object... parts) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
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
    } catch (GeneralSecurityException e) {
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
  public static String sparkSecret() {
    SparkEnv env = SparkEnv.get();
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

  /** Deadlines of the exchange (handshakes, the tree's watchdogs): one daemon thread per JVM. */
  static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "spark-rnn-exchange-timer");
    t.setDaemon(true);
    return t;
  });

  /**
   * Closes the socket after {@code millis} unless the returned future is cancelled first: an
   * absolute limit on a handshake, which a read timeout alone is not (a byte per read resets it).
   */
  static ScheduledFuture<?> closeAfter(Socket s, long millis) {
    return TIMER.schedule(() -> {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }, millis, TimeUnit.MILLISECONDS);
  }

  /** One task's part of a step, and (partition 0's say) whether the segment ends after it. */
  public record Message(PartitionResult result, boolean endSegment) {}

  /**
   * What every task receives for a step: the merged sums, the carried states of the whole batch
   * (truncated BPTT), the devices that ran it, and whether the segment ends here.
   *
   * @param dataError a shard that failed its checks in some partition (then the rest is empty)
   */
  record StepTotal(GradientSum total, long computeNanos, float[] carriedH, float[] carriedC, TreeSet<String> devices,
      String dataError, boolean endSegment) {}

  /** What the driver and the tasks must know of a segment to check and reduce its steps. */
  public record Segment(ModelConfig model, int partitions, int parameterCount, int virtualPartitions, int batch, boolean carry) {
    /** The most gradient blocks one task sends: the maximal nodes of a run of leaves, at most 2·⌈log2 V⌉ (1 for V = 1). */
    int maxBlocks() {
      return Math.max(1, 2 * CombineTree.depth(virtualPartitions));
    }

    /**
     * The longest part header a subtree of this segment can send up ({@link TreeReduce.Part}: the
     * gradients follow in chunks, not in it): its blocks' tags and scalars, the positions and
     * carried states (float32 h and c per layer) of the whole batch, a device line per partition,
     * and 64 KiB for the scalar fields and strings.
     */
    long maxMessageBytes() {
      return maxBlocks() * 32L + 4L * batch + 4L * carriedValues() + 512L * partitions + 65_536;
    }

    /** The longest step-total header ({@link TreeReduce.Down}): the batch's carried states, the devices, and 64 KiB. */
    long maxTotalBytes() {
      return 4L * carriedValues() + 512L * partitions + 65_536;
    }

    private long carriedValues() {
      return carry ? 2L * batch * model.numLayers() * model.hiddenSize() : 0;
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

    /** A count, then each string. */
    Codec putStrings(Collection<String> strings) {
      putInt(strings.size());
      for (String s : strings) {
        putString(s);
      }
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
        throw new BufferUnderflowException();
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

    /** What {@link #putStrings} wrote, as a sorted set; the count is checked against the bytes left. */
    TreeSet<String> getStrings() {
      TreeSet<String> out = new TreeSet<>();
      for (int i = count(4); i > 0; i--) {
        out.add(getString());
      }
      return out;
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

  /** What a task learns when it joins a segment: where every task listens (port −1: it takes no connections) and the step timeout. */
  record Joined(String[] hosts, int[] ports, long stepTimeoutMillis) {}

  /** A hello as the accepting end reads it; checked against a key with {@link #provedBy}. */
  record Hello(long segmentId, int attempt, int partition, byte[] serverNonce, byte[] clientNonce, byte[] proof) {
    boolean provedBy(byte[] key) {
      return MessageDigest.isEqual(proof, mac(key, "hello", serverNonce, clientNonce, segmentId, attempt, partition));
    }

    /** The accepting end's proof that it knows the key too. */
    byte[] admission(byte[] key) {
      return mac(key, "admit", serverNonce, clientNonce, segmentId, attempt, partition);
    }
  }

  /** The accepting end of a handshake (the driver, or a parent task), up to the hello: sends MAGIC and a fresh nonce, reads the hello. */
  static Hello readHello(DataInputStream in, DataOutputStream out) throws IOException {
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
    return new Hello(segmentId, attempt, partition, serverNonce, clientNonce, proof);
  }

  /**
   * The connecting end of a handshake: answers the accepting end's nonce with a hello and checks
   * its admission.
   *
   * @param who the accepting end, for messages ("the driver's gradient exchange", "partition 2")
   */
  static void sayHello(Socket socket, byte[] key, long segmentId, int attempt, int partition, String who) throws IOException {
    DataInputStream in = new DataInputStream(socket.getInputStream());
    DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 256));
    try {
      if (in.readInt() != MAGIC) {
        throw new IOException(who + " is not a spark-rnn gradient exchange (or another version)");
      }
      byte[] serverNonce = new byte[32];
      in.readFully(serverNonce);
      byte[] clientNonce = nonce();
      out.writeLong(segmentId);
      out.writeInt(attempt);
      out.writeInt(partition);
      out.write(clientNonce);
      out.write(mac(key, "hello", serverNonce, clientNonce, segmentId, attempt, partition));
      out.flush();
      byte[] admit = new byte[32];
      in.readFully(admit);
      if (!MessageDigest.isEqual(admit, mac(key, "admit", serverNonce, clientNonce, segmentId, attempt, partition))) {
        throw new IOException(who + " did not prove it knows the segment's key");
      }
    } catch (EOFException refused) {
      socket.close();
      throw new IOException(who + " refused partition " + partition + " of segment " + segmentId
          + " (see its log: a wrong key, or the partition already connected)", refused);
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  /** The segment's key as a task holds it: from the address, or derived from Spark's secret in this JVM when the address carries none. */
  static byte[] keyOf(Address address, long segmentId) {
    if (address.key() != null) {
      return address.key();
    }
    String secret = sparkSecret();
    if (secret == null) {
      throw new IllegalStateException("the driver's gradient exchange authenticates with Spark's secret, but this executor"
          + " runs without spark.authenticate");
    }
    return keyFromSecret(secret, segmentId);
  }

  /** --sync barrier's exchange is plain TCP: refused where the Spark configuration asks for encrypted traffic. */
  public static void checkNoEncryptionAsked(SparkConf conf) {
    for (String encrypted : new String[] {"spark.network.crypto.enabled", "spark.ssl.enabled"}) {
      if (conf.getBoolean(encrypted, false)) {
        throw new BadInputException("--sync barrier moves gradients over its own TCP connections, which are not encrypted,"
            + " and " + encrypted + " asks for encrypted traffic: use --sync job, which moves them through Spark's own"
            + " (encrypted) RPC");
      }
    }
  }


  /**
   * The driver's end: admits tasks, tells each where the others listen once per segment attempt,
   * and then serves the task hosting the {@link TreeReduce} tree's root alone: per step it reads
   * the whole part (the root of the combine tree) and sends back the step's total. The other
   * tasks' connections end after the rendezvous.
   */
  public static final class Server implements Closeable {
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
    private final ThreadPoolExecutor handshakes;
    private final Thread acceptor;
    private volatile boolean closed;
    /** Set while the driver shuts down: every segment ends after the step it answers next ({@link #endSegments}). */
    private volatile boolean endSegments;
    /** Bytes of step frames received from and sent to the tasks (headers included), and the steps answered, since start. */
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicLong stepsAnswered = new AtomicLong();

    /** What went through the driver: step frames in and out, and the steps they made up. */
    public record Traffic(long bytesIn, long bytesOut, long steps) {
      /** (in + out) / steps: the driver's bytes per step, or 0 before the first step. */
      public double bytesPerStep() {
        return steps == 0 ? 0 : (double) (bytesIn + bytesOut) / steps;
      }
    }

    public Traffic traffic() {
      return new Traffic(bytesIn.get(), bytesOut.get(), stepsAnswered.get());
    }

    /**
     * Ends every segment after the step the server answers next (its total says "end" to every
     * task, as partition 0's decision does), so that the driver holds the state of a step boundary
     * soon: what it checkpoints when its JVM shuts down. Where a segment ends never changes the bits.
     */
    public void endSegments() {
      endSegments = true;
    }

    /** An open segment and its key. */
    private record Open(Segment segment, byte[] key) {}

    /**
     * @param bindHost the address to listen on ({@code spark.driver.bindAddress}, else the driver host)
     * @param advertisedHost the address executors connect to ({@code spark.driver.host})
     * @param port 0 for any free port
     * @param sparkSecret Spark's authentication secret ({@link #sparkSecret()}), or null
     * @param stepTimeoutMillis how long a step (and the rendezvous) may wait for the tasks
     */
    public Server(String bindHost, String advertisedHost, int port, String sparkSecret, long stepTimeoutMillis) throws IOException {
      this.advertisedHost = advertisedHost;
      this.sparkSecret = sparkSecret;
      this.stepTimeoutMillis = stepTimeoutMillis;
      socket = new ServerSocket();
      socket.bind(new InetSocketAddress(InetAddress.getByName(bindHost), port));
      // handshakes on a few threads with a bounded queue: a flood of idle connections costs a socket each, no thread
      handshakes = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS,
          new ArrayBlockingQueue<>(MAX_HANDSHAKES), daemon("spark-rnn-exchange-handshake"));
      handshakes.allowCoreThreadTimeOut(true);
      acceptor = new Thread(this::acceptLoop, "spark-rnn-exchange-accept");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    private static ThreadFactory daemon(String name) {
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
    public Address open(long segmentId, Segment segment) {
      byte[] key = sparkSecret != null ? keyFromSecret(sparkSecret, segmentId) : nonce();
      segments.put(segmentId, new Open(segment, key));
      return new Address(advertisedHost, socket.getLocalPort(), sparkSecret != null ? null : key);
    }

    /** Forgets a finished segment and any half-met rendezvous of it (a failed stage attempt's). */
    public void finish(long segmentId) {
      segments.remove(segmentId);
      String prefix = segmentId + "/";
      meetings.entrySet().removeIf(e -> {
        if (e.getKey().startsWith(prefix)) {
          e.getValue().fail();                           // its waiting connections give up at once
          return true;
        }
        return false;
      });
      admitted.entrySet().removeIf(e -> {
        if (e.getKey().startsWith(prefix)) {
          closeQuietly(e.getValue());                    // a failed attempt's connections end with their segment
          return true;
        }
        return false;
      });
    }

    private void acceptLoop() {
      while (!closed) {
        Socket s;
        try {
          s = socket.accept();
        } catch (IOException e) {
          if (!closed) {
            LOG.warn("gradient exchange: accept failed: {}", e.toString());
            try {
              Thread.sleep(100);                         // e.g. out of file descriptors: do not spin
            } catch (InterruptedException stop) {
              return;
            }
          }
          continue;
        }
        try {
          handshakes.execute(() -> handshake(s));
        } catch (RejectedExecutionException full) {
          LOG.warn("gradient exchange: refused a connection from {}: {} connections already in their handshake",
              s.getRemoteSocketAddress(), MAX_HANDSHAKES);
          closeQuietly(s);
        }
      }
    }

    /** Admits an authenticated task (then serves it on a thread of its own) or closes the connection. */
    private void handshake(Socket s) {
      String admittedAs = null;
      ScheduledFuture<?> expiry = closeAfter(s, HANDSHAKE_MILLIS); // in all, however slowly bytes arrive
      try {
        s.setTcpNoDelay(true);
        s.setSoTimeout(HANDSHAKE_MILLIS);
        // unbuffered: what the task sends after its hello must not be read ahead and lost when a Link takes the socket
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 256));
        Hello hello = readHello(in, out);
        long segmentId = hello.segmentId();
        int partition = hello.partition();
        int attempt = hello.attempt();
        Open open = segments.get(segmentId);
        if (open == null) {
          refuse(s, "segment " + segmentId + " is not open");
          return;
        }
        if (!hello.provedBy(open.key())) {
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
        out.write(hello.admission(open.key()));
        out.flush();
        if (!expiry.cancel(false)) {
          return;                                        // out of time: the socket is closed, the finally forgets the claim
        }
        synchronized (connections) {
          if (closed) {
            return;
          }
          connections.add(s);
        }
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

    /**
     * One task's connection: the rendezvous (where it listens in, every task's address out), then
     * for the root's host the steps. A step or a rendezvous not complete within the step timeout closes the
     * connection, so the tasks fail, Spark fails the barrier stage and the driver reruns the segment.
     */
    private void serve(Socket s, DataInputStream in, DataOutputStream out, long segmentId, int attempt, int partition,
        Segment segment, String claimed) {
      try (s) {
        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, stepTimeoutMillis));
        int length = in.readInt();
        if (length < 0 || length > 1024) {
          refuse(s, "partition " + partition + " sent a rendezvous frame of " + length + " bytes");
          return;
        }
        byte[] frame = new byte[length];
        in.readFully(frame);
        Codec request = Codec.reader(frame);
        String host = request.getString();
        int port = request.getInt();
        if (host == null || host.length() > 255 || port < -1 || port > 65_535) {
          refuse(s, "partition " + partition + " sent a rendezvous for " + host + ":" + port);
          return;
        }
        Rendezvous r = meetings.computeIfAbsent(segmentId + "/" + attempt, k -> new Rendezvous(segment.partitions()));
        if (!segments.containsKey(segmentId)) {         // finished while this connection was getting here
          meetings.remove(segmentId + "/" + attempt, r);
          return;
        }
        r.arrive(partition, host, port);
        if (!r.await(System.nanoTime() + stepTimeoutMillis * 1_000_000L)) {
          if (r.ended()) {
            // the segment ended first (a task failed, the driver is stopping): no wait timed out, nothing to warn of
            LOG.debug("gradient exchange: segment {} (stage attempt {}) ended before partitions {} joined", segmentId, attempt,
                r.missing());
          } else {
            LOG.warn("gradient exchange: segment {} (stage attempt {}): partitions {} never joined within {} s; failing the segment",
                segmentId, attempt, r.missing(), stepTimeoutMillis / 1000);
          }
          return;
        }
        Codec reply = Codec.writer(64 + 32 * segment.partitions()).putInt(segment.partitions());
        for (int p = 0; p < segment.partitions(); p++) {
          reply.putString(r.host(p)).putInt(r.port(p));
        }
        byte[] answer = reply.putLong(stepTimeoutMillis).bytes();
        out.writeInt(answer.length);
        out.write(answer);
        out.flush();
        int top = TreeReduce.top(segment.partitions());
        if (partition == top) {
          serveSteps(new TreeReduce.Link(s, () -> closed, "partition " + top), segmentId, segment, top);
        }
      } catch (EOFException end) {
        // the task finished its segment, or failed; Spark reruns a failed segment
      } catch (IOException e) {
        if (!closed && segments.containsKey(segmentId)) {  // else the segment or the server ended under a waiting read
          LOG.warn("gradient exchange: partition {} of segment {}: {}", partition, segmentId, e.toString());
        }
      } catch (RuntimeException e) {
        // a frame that does not decode, or a part that is not the tree's root: this connection ends, the driver lives on
        LOG.warn("gradient exchange: dropped partition {} of segment {}: {}", partition, segmentId, e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        admitted.remove(claimed, s);
        synchronized (connections) {
          connections.remove(s);
        }
      }
    }

    /** The steps of the task hosting the tree's root: the whole part in, the step's total out (the driver is the tree's top). */
    private void serveSteps(TreeReduce.Link link, long segmentId, Segment segment, int top) throws IOException {
      int n = segment.parameterCount();
      long lastStep = Long.MIN_VALUE;
      while (segments.containsKey(segmentId)) {
        link.deadline(System.nanoTime() + stepTimeoutMillis * 1_000_000L, "step " + (lastStep == Long.MIN_VALUE ? "1" : lastStep + 2));
        long step = link.readLong();
        if (step <= lastStep) {
          throw new ProtocolException("partition " + top + " sent step " + step + " after step " + lastStep);
        }
        lastStep = step;
        byte[] head = link.readFrame(segment.maxMessageBytes());
        TreeReduce.Part part = TreeReduce.decodePart(head);
        String wrong = TreeReduce.wrongPart(part, 0, segment.partitions(), segment);
        if (wrong != null) {
          throw new ProtocolException("partition " + top + " sent " + wrong);
        }
        long in = 12L + head.length;
        TreeReduce.Down down;
        double[] total = null;
        if (part.dataError() != null) {
          down = new TreeReduce.Down(false, 0, 0, 0, null, null, new TreeSet<>(),
              StepMerge.dataErrorMessage(step, part.errorPartition(), part.errorExecutor(), part.dataError()), true);
        } else {
          int depth = CombineTree.depth(segment.virtualPartitions());
          if (part.blocks().length != 1 || part.blocks()[0].level() != depth || part.blocks()[0].index() != 0) {
            throw new ProtocolException("partition " + top + " sent " + part.blocks().length + " blocks, not the root of the tree over "
                + segment.virtualPartitions() + " virtual partitions");
          }
          total = new double[n];
          for (int lo = 0; lo < n; lo += TreeReduce.CHUNK) {
            link.readDoubles(total, lo, Math.min(TreeReduce.CHUNK, n - lo));
          }
          in += 8L * n;
          float[] h = null;
          float[] c = null;
          if (segment.carry()) {
            int L = segment.model().numLayers(), H = segment.model().hiddenSize(), B = segment.batch();
            if (part.positions().length != B) {
              throw new ProtocolException("partition " + top + " sent the states of " + part.positions().length
                  + " sequences; the batch has " + B);
            }
            h = new float[L * B * H];
            StepMerge.place(L, B, H, part.positions(), part.finalH(), h);
            if (part.finalC() != null) {
              c = new float[L * B * H];
              StepMerge.place(L, B, H, part.positions(), part.finalC(), c);
            }
          }
          GradientSum root = part.blocks()[0].sum();
          down = new TreeReduce.Down(true, root.lossSum(), root.count(), part.computeNanos(), h, c, part.devices(), null,
              part.endSegment() || endSegments);
        }
        byte[] answer = TreeReduce.encode(down);
        // counted before the answer leaves: a task that has its total may read the counters at once
        bytesIn.addAndGet(in);
        bytesOut.addAndGet(4L + answer.length + (total == null ? 0 : 8L * n));
        stepsAnswered.incrementAndGet();
        link.writeFrame(answer);
        for (int lo = 0; total != null && lo < n; lo += TreeReduce.CHUNK) {
          link.writeDoubles(total, lo, Math.min(TreeReduce.CHUNK, n - lo));
        }
        link.flush();
      }
    }

    @Override
    public void close() throws IOException {
      closed = true;
      socket.close();
      handshakes.shutdownNow();
      synchronized (connections) {
        for (Socket s : connections) {
          s.close();
        }
        connections.clear();
      }
    }
  }

  /** The rendezvous of one segment attempt: where each of the P tasks listens for its node's sources. */
  private static final class Rendezvous {
    private final String[] hosts;
    private final int[] ports;
    private int arrived;
    private boolean failed;

    Rendezvous(int partitions) {
      hosts = new String[partitions];
      ports = new int[partitions];
    }

    /** Records where a partition listens; a partition counts once however often it arrives. */
    synchronized void arrive(int partition, String host, int port) {
      if (hosts[partition] == null) {
        arrived++;
      }
      hosts[partition] = host;
      ports[partition] = port;
      notifyAll();
    }

    /** The segment ended: every wait returns false. */
    synchronized void fail() {
      failed = true;
      notifyAll();
    }

    /** Whether {@link #fail} ended the wait (not its deadline). */
    synchronized boolean ended() {
      return failed;
    }

    /** Waits until all P have arrived; false at the deadline or when the segment ended. */
    synchronized boolean await(long deadlineNanos) throws InterruptedException {
      while (arrived < hosts.length) {
        if (failed) {
          return false;
        }
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        wait(Math.max(1, left / 1_000_000L));
      }
      return true;
    }

    synchronized String host(int p) {
      return hosts[p];
    }

    synchronized int port(int p) {
      return ports[p];
    }

    synchronized List<Integer> missing() {
      List<Integer> m = new ArrayList<>();
      for (int p = 0; p < hosts.length; p++) {
        if (hosts[p] == null) {
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


  /** A task's connection to the driver: the handshake and the rendezvous (and, for the root's host, its link up the tree). */
  static final class Client implements Closeable {
    private final Socket socket;
    private final BooleanSupplier killed;

    /**
     * Connects and authenticates with the segment's key.
     *
     * @param killed true once Spark has killed this task (another task of the stage failed): a
     *     wait then ends instead of blocking for ever
     */
    Client(Address address, byte[] key, long segmentId, int attempt, int partition, BooleanSupplier killed) throws IOException {
      this.killed = killed;
      socket = new Socket();
      socket.connect(new InetSocketAddress(address.host(), address.port()), 30_000);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(HANDSHAKE_MILLIS);
      sayHello(socket, key, segmentId, attempt, partition, "the driver's gradient exchange");
    }

    /**
     * Tells the driver where this task listens for its node's sources (port −1: it takes no
     * connections) and waits until every task of the segment has: returns where each listens.
     */
    Joined join(String host, int port) throws IOException {
      TreeReduce.Link link = link();
      byte[] request = Codec.writer(64).putString(host).putInt(port).bytes();
      link.writeFrame(request);
      link.flush();
      link.deadline(Long.MAX_VALUE, "the other tasks to join the segment");
      Codec reply = Codec.reader(link.readFrame(64L << 20));
      int partitions = reply.getInt();
      if (partitions < 1 || partitions > 65_536) {
        throw new ProtocolException("the driver's rendezvous named " + partitions + " tasks");
      }
      String[] hosts = new String[partitions];
      int[] ports = new int[partitions];
      for (int p = 0; p < partitions; p++) {
        hosts[p] = reply.getString();
        ports[p] = reply.getInt();
      }
      return new Joined(hosts, ports, reply.getLong());
    }

    private TreeReduce.Link link;

    /** The connection as a kill-aware link (the root's host keeps it as its link up the tree). */
    TreeReduce.Link link() throws IOException {
      if (link == null) {
        link = new TreeReduce.Link(socket, killed, "the driver");
      }
      return link;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
