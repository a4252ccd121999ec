package io.sparkrnn.job.sync;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.TestHooks;
import io.sparkrnn.job.executor.VirtualPartitions;
import io.sparkrnn.kernel.engine.GradientSum;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The reduction among the tasks of a {@code --sync barrier} segment: a binary tree over the P
 * partitions, each node hosted by a task, with the driver above the root.
 *
 * <p><b>Shape.</b> Node [lo, hi) (hi − lo ≥ 2) is split into [lo, m) and [m, hi), the left half
 * of the largest power of two below hi − lo, and hosted by task m − 1; a half of one partition is
 * that task's own part. So task t &lt; P − 1 hosts exactly the node split at t | t + 1, task P − 1
 * none; a node's left source is its host's own part (a half of one) or the node hosting the left
 * half, its right source task t + 1's own part or the node hosting the right half. Every node is a
 * contiguous run of partitions, hence of virtual partitions (task p computes the leaves
 * [⌊pV/P⌋, ⌊(p+1)V/P⌋)), and what a node forwards is the maximal {@link CombineTree} nodes of that
 * run: one gradient block when P divides V into aligned powers of two (the split keeps nodes
 * aligned), at most 2·⌈log2 V⌉ otherwise. Each task takes at most two streams in and sends at most
 * two out (its own part, its node's part), whatever P: no link carries more than two gradients
 * each way, where a binomial tree's partition 0 takes ⌈log2 P⌉. Depth: about log2 P; the driver
 * takes one stream, the root's.
 *
 * <p><b>A step.</b> Up: a task whose own part goes to another task's node sends it on a thread of
 * its own; a host reads its two sources' headers, adds the scalars, sends its node's header up,
 * then streams the gradient in chunks of {@link #CHUNK} values: for each chunk it reads the
 * sources' blocks, adds them in the fixed tree ({@link CombineTree.Reducer} on the chunk) and
 * writes the result up before reading the next, so a gradient crosses the tree in about one
 * transfer time plus a chunk per level. The driver reads the root's part (one block, the step's
 * total), and sends the total back down: each host forwards each chunk, as it arrives, to the hosts
 * of its sources and to task P − 1 (the only task hosting no node), so every task receives it
 * once. Each element of the total is added in the same tree order as {@link StepMerge} adds it
 * under {@code --sync job}: the same bits on any partition count.
 *
 * <p><b>Wire format</b> (after the handshake of {@link GradientExchange}, whose partition field on
 * a link between tasks is 2·partition + role, {@link #LEAF} or {@link #NODE}): up, step (long),
 * header length (int), a {@link Part} header ({@link #encode(Part)}), then for each chunk, for
 * each block in header order, the chunk's float64 values (little-endian); down, on the same
 * connection the other way, header length (int), a {@link Down} header, then the total's values in
 * the same chunks.
 *
 * <p><b>Faults.</b> Every wait on a peer has the step timeout and ends at once when Spark kills
 * the task (a read wakes every second to check); a task that dies closes its sockets, so the tasks
 * linked to it fail; Spark then fails the barrier stage and the driver reruns the segment from its
 * start state, with the same bits. A source's header is checked (its partition range, blocks inside
 * its virtual partitions, lengths) before anything is allocated for its chunks.
 */
public final class TreeReduce {
  private TreeReduce() {}

  /** Gradient values per chunk (256 KiB): small enough to pipeline a 2 MB gradient over 8 chunks, large enough that a chunk's overhead is nothing. */
  public static final int CHUNK = 32_768;

  /** Where a stream goes that has no task above it: the driver. */
  static final int DRIVER = -1;

  /** The split of node [lo, hi) (hi − lo ≥ 2): its left child is [lo, split), of the largest power of two below hi − lo. */
  static int split(int lo, int hi) {
    return lo + Integer.highestOneBit(hi - lo - 1);
  }

  /** The task that hosts node [lo, hi): the last of its left half. */
  static int host(int lo, int hi) {
    return split(lo, hi) - 1;
  }

  /**
   * A stream into a node: task {@code task}'s own part ({@code leaf}) or the part of the node it
   * hosts, covering the partitions [first, end).
   */
  public record Source(int task, boolean leaf, int first, int end) {}

  /**
   * Task t's place in the tree of P tasks.
   *
   * @param lo the node t hosts, [lo, hi), or −1 when it hosts none (t = P − 1)
   * @param left the node's left source: t's own part when the left half is t alone
   * @param right the node's right source, always another task
   * @param hostedParent where the node's part goes: the task hosting its parent, or {@link #DRIVER}
   * @param leafParent where t's own part goes: t itself (it is its node's left source), t − 1 (t is
   *     the right half of t − 1's node), or {@link #DRIVER} (P = 1)
   */
  public record Place(int partition, int partitions, int lo, int hi, Source left, Source right, int hostedParent, int leafParent) {
    public boolean hosts() {
      return lo >= 0;
    }

    /** Where this task's copy of the total comes from: its node's parent, or (task P − 1) its own part's. */
    int downFrom() {
      return hosts() ? hostedParent : leafParent;
    }

    /** The tasks this task sends the total to: the sources of its node that do not get it otherwise (its node's hosts, and task P − 1). */
    public List<Integer> downTo() {
      List<Integer> out = new ArrayList<>();
      for (Source s : new Source[] {left, right}) {
        if (s != null && s.task() != partition && (!s.leaf() || s.task() == partitions - 1)) {
          out.add(s.task());
        }
      }
      return out;
    }
  }

  /**
   * The place of task t among P: found by walking down from the root [0, P), each node split at
   * {@link #split} and hosted by the last task of its left half.
   */
  public static Place place(int t, int partitions) {
    if (t < 0 || t >= partitions) {
      throw new IllegalArgumentException("partition " + t + " of " + partitions);
    }
    int lo = -1, hi = -1, hostedParent = DRIVER;
    if (t < partitions - 1) {
      int a = 0, b = partitions, above = DRIVER;
      while (true) {
        int m = split(a, b);
        if (m == t + 1) {
          lo = a;
          hi = b;
          hostedParent = above;
          break;
        }
        above = m - 1;
        if (t + 1 < m) {
          b = m;
        } else {
          a = m;
        }
      }
    }
    Source left = null, right = null;
    if (lo >= 0) {
      int m = split(lo, hi);
      left = m - lo == 1 ? new Source(lo, true, lo, m) : new Source(host(lo, m), false, lo, m);
      right = hi - m == 1 ? new Source(m, true, m, hi) : new Source(host(m, hi), false, m, hi);
    }
    // t's own part: the left source of its own node when the left half is t alone, else the right half of t − 1's node
    int leafParent = partitions == 1 ? DRIVER : left != null && left.leaf() ? t : t - 1;
    return new Place(t, partitions, lo, hi, left, right, hostedParent, leafParent);
  }

  /** The task whose node is the root [0, P), whose part goes to the driver (partition 0 when P = 1). */
  static int top(int partitions) {
    return partitions == 1 ? 0 : host(0, partitions);
  }

  /** Links below the root on the longest way up from a task's own part to the driver. */
  public static int depth(int partitions) {
    int d = 0;
    for (int t = 0; t < partitions; t++) {
      int hops = 0;
      Place p = place(t, partitions);
      int at = p.leafParent() == t ? t : p.leafParent();
      if (at != t && at != DRIVER) {
        hops++;
      }
      while (at != DRIVER && place(at, partitions).hostedParent() != DRIVER) {
        at = place(at, partitions).hostedParent();
        hops++;
      }
      d = Math.max(d, hops);
    }
    return d;
  }

  /**
   * What a task's own part or a node sends up for a step: its gradient blocks (the maximal tree nodes over its
   * virtual partitions), the positions and final states of its sequences in partition order, the
   * devices that ran them, the slowest compute time, the first data error in partition order, and
   * (partition 0's say) whether the segment ends after this step.
   *
   * @param first the first partition it covers
   * @param end its end (exclusive)
   * @param blocks with their sums; in a decoded header the gradients are empty (they follow in chunks)
   * @param finalH states [L][positions.length][H], or null without carry (or after a data error)
   * @param errorPartition the partition of {@code dataError}, or −1
   */
  record Part(int first, int end, CombineTree.Block[] blocks, int[] positions, float[] finalH, float[] finalC,
      TreeSet<String> devices, long computeNanos, int errorPartition, String errorExecutor, String dataError, boolean endSegment) {

    /** A task's own part, from what it computed. */
    static Part of(PartitionResult r, boolean endSegment) {
      TreeSet<String> devices = new TreeSet<>();
      String device = StepMerge.deviceLine(r);
      if (device != null) {
        devices.add(device);
      }
      boolean failed = r.dataError() != null;
      return new Part(r.partition(), r.partition() + 1, r.blocks(), r.positions(), r.finalH(), r.finalC(), devices, r.computeNanos(),
          failed ? r.partition() : -1, failed ? r.executor() : null, r.dataError(), endSegment);
    }
  }

  /**
   * A node's part from its left source's part and its right's (ascending): the header of
   * what it sends up. Blocks come from adding the blocks' scalars in the fixed tree (the gradients
   * follow chunk by chunk with {@link #reduceChunk}); after a data error anywhere below it
   * carries that error (the lowest partition's) and no blocks or states.
   */
  static Part combine(Part own, Part[] kids, int virtualPartitions, int layers, int hidden) { // own: the leftmost part
    Part error = own.dataError() != null ? own : null;
    int end = own.end();
    long computeNanos = own.computeNanos();
    TreeSet<String> devices = new TreeSet<>(own.devices());
    int count = own.positions().length;
    for (Part k : kids) {
      if (error == null && k.dataError() != null) {
        error = k;
      }
      end = k.end();
      computeNanos = Math.max(computeNanos, k.computeNanos());
      devices.addAll(k.devices());
      count += k.positions().length;
    }
    if (error != null) {
      return new Part(own.first(), end, new CombineTree.Block[0], new int[0], null, null, devices, computeNanos,
          error.errorPartition(), error.errorExecutor(), error.dataError(), own.endSegment());
    }
    CombineTree.Reducer scalars = new CombineTree.Reducer(virtualPartitions);
    int[] positions = new int[count];
    int at = 0;
    for (Part p : concat(own, kids)) {
      for (CombineTree.Block b : p.blocks()) {
        scalars.add(new CombineTree.Block(b.level(), b.index(), new GradientSum(b.sum().lossSum(), b.sum().count(), new double[0])));
      }
      System.arraycopy(p.positions(), 0, positions, at, p.positions().length);
      at += p.positions().length;
    }
    return new Part(own.first(), end, scalars.pending().toArray(new CombineTree.Block[0]), positions,
        concatStates(own, kids, layers, hidden, true), concatStates(own, kids, layers, hidden, false), devices, computeNanos, -1, null,
        null, own.endSegment());
  }

  private static Part[] concat(Part own, Part[] kids) {
    Part[] all = new Part[kids.length + 1];
    all[0] = own;
    System.arraycopy(kids, 0, all, 1, kids.length);
    return all;
  }

  /** The parts' states [L][m_i][H] side by side as [L][Σm_i][H], or null when the parts carry none. */
  private static float[] concatStates(Part own, Part[] kids, int layers, int hidden, boolean h) {
    Part[] all = concat(own, kids);
    if ((h ? own.finalH() : own.finalC()) == null) {
      return null;
    }
    int total = 0;
    for (Part p : all) {
      total += p.positions().length;
    }
    float[] out = new float[layers * total * hidden];
    int offset = 0;
    for (Part p : all) {
      float[] s = h ? p.finalH() : p.finalC();
      int m = p.positions().length;
      for (int l = 0; l < layers; l++) {
        System.arraycopy(s, l * m * hidden, out, (l * total + offset) * hidden, m * hidden);
      }
      offset += m;
    }
    return out;
  }

  /**
   * One chunk of a node's up-stream: the chunks of its sources' blocks added in the fixed tree;
   * returns the chunks of the node's blocks, in the order of {@link #combine}'s header.
   */
  static List<CombineTree.Block> reduceChunk(int virtualPartitions, List<CombineTree.Block> chunks) {
    CombineTree.Reducer r = new CombineTree.Reducer(virtualPartitions);
    for (CombineTree.Block b : chunks) {
      r.add(b);
    }
    return r.pending();
  }

  /** The down-stream's header: the step's total without its gradient (which follows in chunks), and the rest of the step's outcome. */
  record Down(boolean hasTotal, double lossSum, long count, long computeNanos, float[] carriedH, float[] carriedC, TreeSet<String> devices,
      String dataError, boolean endSegment) {}

  static byte[] encode(Part p) {
    GradientExchange.Codec c = GradientExchange.Codec.writer(1024 + 4 * (p.positions().length + length(p.finalH()) + length(p.finalC())));
    c.putInt(p.first()).putInt(p.end()).putInt(p.blocks().length);
    for (CombineTree.Block b : p.blocks()) {
      c.putInt(b.level()).putInt(b.index()).putDouble(b.sum().lossSum()).putLong(b.sum().count());
    }
    c.putInts(p.positions()).putFloats(p.finalH()).putFloats(p.finalC()).putStrings(p.devices());
    c.putLong(p.computeNanos()).putInt(p.errorPartition()).putString(p.errorExecutor()).putString(p.dataError()).putBoolean(p.endSegment());
    return c.bytes();
  }

  /** A part's header as read from a socket: counts are checked against the frame (a frame may lie). */
  static Part decodePart(byte[] bytes) {
    GradientExchange.Codec c = GradientExchange.Codec.reader(bytes);
    int first = c.getInt();
    int end = c.getInt();
    int count = c.getInt();
    if (count < 0 || count > 64) { // at most 2·⌈log2 V⌉ blocks, V < 2^31
      throw new IllegalArgumentException("partitions [" + first + ", " + end + ") sent " + count + " gradient blocks");
    }
    CombineTree.Block[] blocks = new CombineTree.Block[count];
    for (int i = 0; i < count; i++) {
      int level = c.getInt();
      int index = c.getInt();
      blocks[i] = new CombineTree.Block(level, index, new GradientSum(c.getDouble(), c.getLong(), new double[0]));
    }
    int[] positions = c.getInts();
    float[] h = c.getFloats();
    float[] cs = c.getFloats();
    TreeSet<String> devices = c.getStrings();
    return new Part(first, end, blocks, positions == null ? new int[0] : positions, h, cs, devices, c.getLong(), c.getInt(), c.getString(),
        c.getString(), c.getBoolean());
  }

  static byte[] encode(Down d) {
    GradientExchange.Codec c = GradientExchange.Codec.writer(1024 + 4 * (length(d.carriedH()) + length(d.carriedC())));
    c.putBoolean(d.hasTotal()).putDouble(d.lossSum()).putLong(d.count()).putLong(d.computeNanos()).putFloats(d.carriedH())
        .putFloats(d.carriedC()).putStrings(d.devices());
    c.putString(d.dataError()).putBoolean(d.endSegment());
    return c.bytes();
  }

  static Down decodeDown(byte[] bytes) {
    GradientExchange.Codec c = GradientExchange.Codec.reader(bytes);
    boolean has = c.getBoolean();
    double loss = c.getDouble();
    long count = c.getLong();
    long nanos = c.getLong();
    float[] h = c.getFloats();
    float[] cs = c.getFloats();
    TreeSet<String> devices = c.getStrings();
    return new Down(has, loss, count, nanos, h, cs, devices, c.getString(), c.getBoolean());
  }

  private static int length(float[] a) {
    return a == null ? 0 : a.length;
  }

  /**
   * Why a source's header cannot be the part of the partitions [first, end) in this segment, or
   * null when it can: its range, its blocks (valid nodes inside those partitions' virtual
   * partitions), and its positions and states (one per sequence of their share of the batch).
   */
  static String wrongPart(Part p, int first, int end, GradientExchange.Segment segment) {
    if (p.first() != first || p.end() != end) {
      return "the part of partitions [" + p.first() + ", " + p.end() + "); expected [" + first + ", " + end + ")";
    }
    if (p.blocks().length > segment.maxBlocks()) {
      return p.blocks().length + " gradient blocks; at most " + segment.maxBlocks() + " for V=" + segment.virtualPartitions();
    }
    VirtualPartitions cut = new VirtualPartitions(segment.batch(), segment.virtualPartitions());
    long from = cut.firstLeaf(first, segment.partitions());
    long to = cut.firstLeaf(end, segment.partitions());
    int depth = CombineTree.depth(segment.virtualPartitions());
    for (CombineTree.Block b : p.blocks()) {
      long lo = CombineTree.first(b.level(), b.index());
      long hi = Math.min(CombineTree.first(b.level(), b.index() + 1), segment.virtualPartitions());
      if (b.level() < 0 || b.level() > depth || b.index() < 0 || lo < from || hi > to || lo >= hi) {
        return "a gradient block (level " + b.level() + ", index " + b.index() + ") outside its virtual partitions [" + from + ", " + to + ")";
      }
    }
    if (p.dataError() == null) {
      int m = p.positions().length;
      if (m > segment.batch()) {
        return m + " sequences in a batch of " + segment.batch();
      }
      long states = (long) segment.model().numLayers() * m * segment.model().hiddenSize();
      boolean cell = segment.model().cell().hasCellState();
      if (segment.carry() && (length(p.finalH()) != states || (cell ? length(p.finalC()) != states : p.finalC() != null))) {
        return "final states of the wrong size for " + m + " sequences";
      }
    }
    return null;
  }

  /**
   * A socket to a peer (or the driver) with reads that end when the task is killed or the wait's
   * deadline passes: the socket's read timeout only paces those checks.
   */
  static final class Link implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final BooleanSupplier killed;
    /** Who is at the other end, for messages: "the driver", "partition 3". */
    final String peer;
    private final byte[] word = new byte[8];
    private final ByteBuffer scratch = ByteBuffer.allocate(8 * CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    private long deadlineNanos = Long.MAX_VALUE;
    private String waitingFor = "";
    /** Bytes written so far (frames, headers and gradient chunks): what this end put on the link. */
    private long bytesWritten;

    Link(Socket socket, BooleanSupplier killed, String peer) throws IOException {
      this.socket = socket;
      this.killed = killed;
      this.peer = peer;
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(1000);
      this.in = socket.getInputStream();
      this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
    }

    /** Reads until then must complete (else an IOException naming what was awaited). */
    void deadline(long nanoTime, String what) {
      deadlineNanos = nanoTime;
      waitingFor = what;
    }

    void readFully(byte[] b, int off, int len) throws IOException {
      int end = off + len;
      while (off < end) {
        // checked before every read, not only when one times out: a peer sending a byte a second must not outlast either
        if (killed.getAsBoolean()) {
          throw new IOException("killed while waiting for " + peer + " (" + waitingFor + ")");
        }
        if (System.nanoTime() > deadlineNanos) {
          throw new IOException("timed out waiting for " + peer + " (" + waitingFor + "); see " + GradientExchange.STEP_TIMEOUT);
        }
        int n;
        try {
          n = in.read(b, off, end - off);
        } catch (SocketTimeoutException waiting) {
          continue; // nothing was consumed
        } catch (SocketException closed) {
          // the node's watchdog closes the links of a killed or timed-out task: say which
          if (killed.getAsBoolean()) {
            throw new IOException("killed while waiting for " + peer + " (" + waitingFor + ")", closed);
          }
          throw closed;
        }
        if (n < 0) {
          throw new EOFException(peer + " closed the connection (" + waitingFor + ")");
        }
        off += n;
      }
    }

    long readLong() throws IOException {
      readFully(word, 0, 8);
      return ByteBuffer.wrap(word).getLong();
    }

    int readInt() throws IOException {
      readFully(word, 0, 4);
      return ByteBuffer.wrap(word, 0, 4).getInt();
    }

    /** A length-prefixed frame of at most {@code max} bytes. */
    byte[] readFrame(long max) throws IOException {
      int n = readInt();
      if (n < 0 || n > max) {
        throw new ProtocolException(peer + " sent a frame of " + n + " bytes; at most " + max + " in this segment");
      }
      byte[] b = new byte[n];
      readFully(b, 0, n);
      return b;
    }

    void writeLong(long v) throws IOException {
      out.write(ByteBuffer.allocate(8).putLong(v).array());
      bytesWritten += 8;
    }

    void writeFrame(byte[] b) throws IOException {
      out.write(ByteBuffer.allocate(4).putInt(b.length).array());
      out.write(b);
      bytesWritten += 4 + b.length;
    }

    long bytesWritten() {
      return bytesWritten;
    }

    /** Reads n float64 values (little-endian) into dst[off, off + n); n ≤ {@link #CHUNK}. */
    void readDoubles(double[] dst, int off, int n) throws IOException {
      readFully(scratch.array(), 0, 8 * n);
      scratch.clear();
      scratch.asDoubleBuffer().get(dst, off, n);
    }

    void writeDoubles(double[] src, int off, int n) throws IOException {
      scratch.clear();
      scratch.asDoubleBuffer().put(src, off, n);
      out.write(scratch.array(), 0, 8 * n);
      bytesWritten += 8L * n;
    }

    void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** The role of a connection from a child, in its hello's partition field as 2·partition + role. */
  static final int LEAF = 0;
  static final int NODE = 1;
  /** How long a task's handshake with a connecting peer may take in all (a real one takes milliseconds). */
  static final int PEER_HANDSHAKE_MILLIS = 2_000;

  /**
   * A task's links for one segment, met through the driver's rendezvous: to where its own part
   * and its node's part go (a parent task or the driver) and from its node's sources.
   */
  public static final class Node implements Closeable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TreeReduce.class);
    private final Place place;
    private final GradientExchange.Segment segment;
    /** Links from the node's remote sources, by role: [0] the left (null when local), [1] the right; null entries for none. */
    private final Link[] sources = new Link[2];
    /** Where this task's own part goes (null when its own node takes it), and where its node's part goes. */
    private Link leafUp;
    private Link nodeUp;
    private final long timeoutNanos;
    private final ExecutorService sender;
    /** Set when the constructor gives up: the acceptor closes what it admits instead of keeping it. */
    private volatile boolean closing;
    /** The current step phase's deadline (System.nanoTime), 0 between steps; the watchdog closes every link past it. */
    private volatile long phaseDeadline;
    private final ScheduledFuture<?> watchdog;

    /**
     * Joins the segment: authenticates with the driver, tells it where this task listens, learns
     * every task's address, connects to its parents and admits its node's sources (each proving
     * the segment's key).
     *
     * @param bindHost this executor's address, where its node's sources connect
     * @param key the segment's key ({@link GradientExchange#keyOf})
     */
    public Node(GradientExchange.Address address, byte[] key, long segmentId, int attempt, int partition, GradientExchange.Segment segment,
        String bindHost, BooleanSupplier killed) throws IOException {
      this.place = place(partition, segment.partitions());
      this.segment = segment;
      List<Integer> expected = new ArrayList<>();          // 2·task + role of each remote source
      for (Source s : new Source[] {place.left(), place.right()}) {
        if (s != null && s.task() != partition) {
          expected.add(2 * s.task() + (s.leaf() ? LEAF : NODE));
        }
      }
      ServerSocket listener = null;
      GradientExchange.Client driver = null;
      Thread acceptor = null;
      try {
        if (!expected.isEmpty()) {
          listener = new ServerSocket();
          listener.bind(new InetSocketAddress(InetAddress.getByName(bindHost), 0), 16);
          listener.setSoTimeout(1000);
        }
        driver = new GradientExchange.Client(address, key, segmentId, attempt, partition, killed);
        GradientExchange.Joined joined = driver.join(bindHost, listener == null ? -1 : listener.getLocalPort());
        timeoutNanos = joined.stepTimeoutMillis() * 1_000_000L;
        long deadline = System.nanoTime() + timeoutNanos;
        // admit the sources on a thread of their own while this task connects to its parents: no chain of waits
        ServerSocket l = listener;
        Throwable[] acceptFailure = new Throwable[1];
        acceptor = new Thread(() -> {
          try {
            admitSources(l, expected, key, segmentId, attempt, deadline, killed);
          } catch (IOException | RuntimeException e) {
            acceptFailure[0] = e;
          }
        }, "spark-rnn-tree-accept-" + partition);
        acceptor.setDaemon(true);
        if (l != null) {
          acceptor.start();
        }
        boolean driverKept = false;
        if (place.hosts()) {
          if (place.hostedParent() == DRIVER) {
            nodeUp = driver.link();
            driverKept = true;
          } else {
            nodeUp = connect(joined, place.hostedParent(), NODE, key, segmentId, attempt, killed);
          }
        }
        if (place.leafParent() == DRIVER) {
          leafUp = driver.link();
          driverKept = true;
        } else if (place.leafParent() != partition) {
          leafUp = connect(joined, place.leafParent(), LEAF, key, segmentId, attempt, killed);
        }
        if (!driverKept) {
          driver.close();
        }
        driver = null;                                     // closed, or owned by a link now
        if (l != null) {
          acceptor.join();
          if (acceptFailure[0] != null) {
            throw new IOException("partition " + partition + ": the sources of its node did not all join", acceptFailure[0]);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abandon(listener, acceptor, driver);
        throw new IOException("interrupted while joining the reduction tree", e);
      } catch (IOException | RuntimeException e) {
        abandon(listener, acceptor, driver);
        throw e;
      } finally {
        if (listener != null) {
          listener.close();                               // the sources are in (or failed): nobody else gets to connect
        }
      }
      sender = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "spark-rnn-tree-send-" + partition);
        t.setDaemon(true);
        return t;
      });
      // a blocked write (a frozen peer whose buffers are full) neither times out nor sees Spark's kill: close the links then
      watchdog = GradientExchange.TIMER.scheduleWithFixedDelay(() -> {
        long deadline = phaseDeadline;
        if (killed.getAsBoolean() || (deadline != 0 && System.nanoTime() > deadline)) {
          closeAll(null);
        }
      }, 1, 1, TimeUnit.SECONDS);
    }

    /** The constructor's way out: no new source is admitted, the acceptor stops, then every link is closed. */
    private void abandon(ServerSocket listener, Thread acceptor, GradientExchange.Client driver) {
      closing = true;
      if (listener != null) {
        try {
          listener.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
      if (acceptor != null) {
        try {
          acceptor.join(2L * PEER_HANDSHAKE_MILLIS + 2_000);  // it checks the listener each second and a handshake is bounded
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      closeAll(driver);
    }

    private Link connect(GradientExchange.Joined joined, int task, int role, byte[] key, long segmentId, int attempt,
        BooleanSupplier killed) throws IOException {
      Socket s = new Socket();
      s.connect(new InetSocketAddress(joined.hosts()[task], joined.ports()[task]), 30_000);
      s.setSoTimeout(GradientExchange.HANDSHAKE_MILLIS);
      GradientExchange.sayHello(s, key, segmentId, attempt, 2 * place.partition() + role, "partition " + task);
      return new Link(s, killed, "partition " + task);
    }

    private void closeAll(GradientExchange.Client driver) {
      for (Closeable c : new Closeable[] {driver, leafUp, nodeUp, sources[0], sources[1]}) {
        if (c != null) {
          try {
            c.close();
          } catch (IOException ignored) {
            // failing anyway
          }
        }
      }
    }

    /** Accepts connections until each expected source has proved the key; refuses (and logs) anything else. */
    private void admitSources(ServerSocket listener, List<Integer> expected, byte[] key, long segmentId, int attempt, long deadline,
        BooleanSupplier killed) throws IOException {
      int admitted = 0;
      while (admitted < expected.size()) {
        if (killed.getAsBoolean() || System.nanoTime() > deadline) {
          throw new IOException("partition " + place.partition() + " waited for the sources of its node " + sourcesText()
              + (killed.getAsBoolean() ? " until killed" : " past the step timeout"));
        }
        Socket s;
        try {
          s = listener.accept();
        } catch (SocketTimeoutException waiting) {
          continue;
        }
        // a handshake has PEER_HANDSHAKE_MILLIS in all, however slowly bytes arrive: a stranger holds this loop that long at most
        ScheduledFuture<?> expiry = GradientExchange.closeAfter(s, PEER_HANDSHAKE_MILLIS);
        try {
          s.setSoTimeout(GradientExchange.HANDSHAKE_MILLIS);
          // unbuffered: nothing the child sends after its hello may be read ahead and lost when the Link takes the socket
          DataInputStream in = new DataInputStream(s.getInputStream());
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          GradientExchange.Hello hello = GradientExchange.readHello(in, out);
          int claim = hello.partition();
          int slot = claim < 0 ? -1 : slotOf(claim);
          String refusal = hello.segmentId() != segmentId || hello.attempt() != attempt ? "another segment or stage attempt"
              : !hello.provedBy(key) ? "authentication failed (wrong key)"
              : slot < 0 || !expected.contains(claim) ? "partition " + (claim >> 1) + " is not a source of partition " + place.partition()
                  + "'s node" + (claim >= 0 && (claim & 1) == LEAF ? " (as its own part)" : " (as its node's part)")
              : sources[slot] != null ? "partition " + (claim >> 1) + " is already connected" : null;
          if (refusal != null) {
            LOG.warn("reduction tree: partition {} refused {}: {}", place.partition(), s.getRemoteSocketAddress(), refusal);
            s.close();
            continue;
          }
          out.write(hello.admission(key));
          out.flush();
          if (!expiry.cancel(false) || closing) {             // the handshake ran out of time, or the node is being abandoned
            s.close();
            continue;
          }
          sources[slot] = new Link(s, killed, "partition " + (claim >> 1));
          admitted++;
          LOG.debug("reduction tree: partition {} admitted partition {} from {} (segment {}, attempt {})", place.partition(),
              claim >> 1, s.getRemoteSocketAddress(), segmentId, attempt);
        } catch (IOException | RuntimeException e) {
          expiry.cancel(false);
          LOG.warn("reduction tree: partition {}: handshake with {} failed: {}", place.partition(), s.getRemoteSocketAddress(), e.toString());
          s.close();
        }
      }
    }

    /** 0 for the node's left source, 1 for its right, −1 for anything else (claim = 2·task + role). */
    private int slotOf(int claim) {
      Source[] both = {place.left(), place.right()};
      for (int i = 0; i < 2; i++) {
        Source s = both[i];
        if (s != null && 2 * s.task() + (s.leaf() ? LEAF : NODE) == claim) {
          return i;
        }
      }
      return -1;
    }

    private String sourcesText() {
      return "[" + place.lo() + ", " + place.hi() + ")";
    }

    /** This task's own part, streamed to where it goes (a task's node or the driver). */
    private void sendOwn(long step, Part own) throws IOException {
      leafUp.writeLong(step);
      leafUp.writeFrame(encode(own));
      if (place.partition() == 1) {
        leafUp.flush();
        TestHooks.haltMidReduction(step);                   // tests only: an executor lost between the header and the gradient
      }
      int n = segment.parameterCount();
      for (int lo = 0; lo < n; lo += CHUNK) {
        int len = Math.min(CHUNK, n - lo);
        for (CombineTree.Block b : own.blocks()) {
          leafUp.writeDoubles(b.sum().gradient(), lo, len);
        }
      }
      leafUp.flush();
    }

    /** One step: this task's part, and its node's, up the tree; the step's total back down. */
    public GradientExchange.StepTotal exchange(long step, GradientExchange.Message mine) throws IOException {
      int n = segment.parameterCount();
      int V = segment.virtualPartitions();
      phaseDeadline = System.nanoTime() + timeoutNanos + 2_000_000_000L; // the reads' own deadlines report first
      Part own = Part.of(mine.result(), mine.endSegment());
      Future<?> ownSent = leafUp == null ? null : sender.submit(() -> {
        sendOwn(step, own);
        return null;
      });
      if (place.hosts()) {
        Part[] parts = new Part[2];
        Source[] both = {place.left(), place.right()};
        for (int i = 0; i < 2; i++) {
          if (sources[i] == null) {
            parts[i] = own;                                  // the left half is this task alone
            continue;
          }
          Link k = sources[i];
          k.deadline(System.nanoTime() + timeoutNanos, "its part of step " + (step + 1));
          long s = k.readLong();
          if (s != step) {
            throw new ProtocolException(k.peer + " sent step " + s + " while partition " + place.partition() + " is at step " + step);
          }
          parts[i] = decodePart(k.readFrame(segment.maxMessageBytes()));
          String wrong = wrongPart(parts[i], both[i].first(), both[i].end(), segment);
          if (wrong != null) {
            throw new ProtocolException(k.peer + " sent " + wrong);
          }
        }
        Part up = combine(parts[0], new Part[] {parts[1]}, V, segment.model().numLayers(), segment.model().hiddenSize());
        nodeUp.writeLong(step);
        nodeUp.writeFrame(encode(up));
        boolean failed = up.dataError() != null;
        for (int lo = 0; lo < n; lo += CHUNK) {
          int len = Math.min(CHUNK, n - lo);
          List<CombineTree.Block> chunk = new ArrayList<>();
          for (int i = 0; i < 2; i++) {
            for (CombineTree.Block b : parts[i].blocks()) {
              double[] values;
              if (sources[i] == null) {
                values = Arrays.copyOfRange(b.sum().gradient(), lo, lo + len);
              } else {
                values = new double[len];
                sources[i].readDoubles(values, 0, len);
              }
              chunk.add(new CombineTree.Block(b.level(), b.index(), new GradientSum(0, 0, values)));
            }
          }
          if (!failed) {
            for (CombineTree.Block b : reduceChunk(V, chunk)) {
              nodeUp.writeDoubles(b.sum().gradient(), 0, len);
            }
          }
        }
        nodeUp.flush();
      }
      if (ownSent != null) {
        awaitSent(ownSent);
      }
      Link parent = place.hosts() ? nodeUp : leafUp;
      List<Link> below = new ArrayList<>();
      for (int task : place.downTo()) {
        below.add(task == place.right().task() ? sources[1] : sources[0]);
      }
      parent.deadline(System.nanoTime() + timeoutNanos, "the total of step " + (step + 1));
      phaseDeadline = System.nanoTime() + timeoutNanos + 2_000_000_000L;
      byte[] head = parent.readFrame(segment.maxTotalBytes());
      Down down = decodeDown(head);
      for (Link k : below) {
        k.writeFrame(head);
      }
      double[] total = down.hasTotal() ? new double[n] : null;
      for (int lo = 0; total != null && lo < n; lo += CHUNK) {
        int len = Math.min(CHUNK, n - lo);
        parent.readDoubles(total, lo, len);
        for (Link k : below) {
          k.writeDoubles(total, lo, len);
        }
      }
      for (Link k : below) {
        k.flush();
      }
      phaseDeadline = 0;
      return new GradientExchange.StepTotal(total == null ? null : new GradientSum(down.lossSum(), down.count(), total),
          down.computeNanos(), down.carriedH(), down.carriedC(), down.devices(), down.dataError(), down.endSegment());
    }

    private static void awaitSent(Future<?> sent) throws IOException {
      try {
        sent.get();
      } catch (ExecutionException e) {
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        throw new IllegalStateException("sending this task's part failed", e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while sending this task's part", e);
      }
    }

    /** Bytes this task has put on its links to other tasks since it joined (what it sends the driver not included). */
    public long bytesSent() {
      long sent = 0;
      for (Link k : new Link[] {place.leafParent() == DRIVER ? null : leafUp, place.hostedParent() == DRIVER ? null : nodeUp, sources[0],
          sources[1]}) {
        sent += k == null ? 0 : k.bytesWritten();
      }
      return sent;
    }

    @Override
    public void close() throws IOException {
      watchdog.cancel(false);
      sender.shutdownNow();
      closeAll(null);
    }
  }
}
