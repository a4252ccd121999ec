package io.sparkrnn.job;

import io.sparkrnn.kernel.engine.GradientSum;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

/**
 * The reduction among the tasks of a {@code --sync barrier} segment: a binomial tree over the P
 * partitions with the driver above partition 0.
 *
 * <p><b>Shape.</b> Partition p &gt; 0 has the parent p with its lowest set bit cleared; its
 * subtree is the partitions [p, min(p + lowbit(p), P)), partition 0's is [0, P). The children
 * of p are p + 1, p + 2, p + 4, … inside its subtree, so every subtree is a contiguous run of
 * partitions, hence of virtual partitions (task p computes the leaves [⌊pV/P⌋, ⌊(p+1)V/P⌋)),
 * and what a subtree forwards is the maximal {@link CombineTree} nodes of that run: at most
 * 2·⌈log2 V⌉ gradient blocks, usually 1–2, whatever its size. Depth: ⌈log2 P⌉ hops; fan-in:
 * at most ⌈log2 P⌉ children at partition 0, one (partition 0) at the driver.
 *
 * <p><b>A step.</b> Up: each task reads its children's headers, merges the scalars, sends its own
 * header up, then streams the gradient in chunks of {@link #CHUNK} values: for each chunk it reads
 * the children's blocks, adds them with its own in the fixed tree ({@link CombineTree.Reducer} on
 * the chunk) and writes the result up before reading the next, so a gradient crosses the tree in
 * about one transfer time plus a chunk per level. The driver reads partition 0's part (the root:
 * one block, the step's total), and sends the total back down the same way: every task forwards
 * each chunk to its children as it arrives. Each element of the total is added in the same tree
 * order as {@link StepMerge} adds it under {@code --sync job}: the same bits on any partition count.
 *
 * <p><b>Wire format</b> (after the handshake of {@link GradientExchange}): up, step (long), header
 * length (int), a {@link Part} header ({@link #encode(Part)}), then for each chunk, for each
 * block in header order, the chunk's float64 values (little-endian); down, header length (int),
 * a {@link Down} header, then the total's values in the same chunks.
 *
 * <p><b>Faults.</b> Every wait on a peer has the step timeout and ends at once when Spark kills
 * the task (a read wakes every second to check); a task that dies closes its sockets, so its
 * parent and children fail; Spark then fails the barrier stage and the driver reruns the segment
 * from its start state, with the same bits. A child's header is checked (its partition range,
 * blocks inside its virtual partitions, lengths) before anything is allocated for its chunks.
 */
final class TreeReduce {
  private TreeReduce() {}

  /** Gradient values per chunk (256 KiB): small enough to pipeline a 2 MB gradient over 8 chunks, large enough that a chunk's overhead is nothing. */
  static final int CHUNK = 32_768;

  /** The parent of partition p &gt; 0: p with its lowest set bit cleared. */
  static int parent(int p) {
    if (p <= 0) {
      throw new IllegalArgumentException("partition " + p + " has no parent partition (0's parent is the driver)");
    }
    return p & (p - 1);
  }

  /** The end (exclusive) of partition p's subtree [p, end). */
  static int subtreeEnd(int p, int partitions) {
    return p == 0 ? partitions : (int) Math.min((long) p + Integer.lowestOneBit(p), partitions);
  }

  /** The children of partition p, ascending: p + 1, p + 2, p + 4, … inside its subtree. */
  static int[] children(int p, int partitions) {
    int end = subtreeEnd(p, partitions);
    List<Integer> out = new ArrayList<>();
    for (long step = 1; p + step < end; step <<= 1) {
      out.add((int) (p + step));
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * What a subtree sends up for a step: its gradient blocks (the maximal tree nodes over its
   * virtual partitions), the positions and final states of its sequences in partition order, the
   * devices that ran them, the slowest compute time, the first data error in partition order, and
   * (partition 0's say) whether the segment ends after this step.
   *
   * @param first the subtree's first partition
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
   * A subtree's part from its root task's own part and its children's (ascending): the header of
   * what it sends up. Blocks come from adding the blocks' scalars in the fixed tree (the gradients
   * follow chunk by chunk with {@link #mergeChunk}); after a data error anywhere in the subtree it
   * carries that error (the lowest partition's) and no blocks or states.
   */
  static Part combine(Part own, Part[] kids, int virtualPartitions, int layers, int hidden) {
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
   * One chunk of the up-stream: the task's own blocks' values [lo, hi) and its children's chunks
   * (in header order) added in the fixed tree; returns the chunks of the subtree's blocks, in the
   * order of {@link #combine}'s header.
   */
  static List<CombineTree.Block> mergeChunk(int virtualPartitions, CombineTree.Block[] own, int lo, int hi, List<CombineTree.Block> kids) {
    CombineTree.Reducer r = new CombineTree.Reducer(virtualPartitions);
    for (CombineTree.Block b : own) {
      r.add(new CombineTree.Block(b.level(), b.index(), new GradientSum(0, 0, Arrays.copyOfRange(b.sum().gradient(), lo, hi))));
    }
    for (CombineTree.Block b : kids) {
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
    c.putInts(p.positions()).putFloats(p.finalH()).putFloats(p.finalC()).putInt(p.devices().size());
    for (String d : p.devices()) {
      c.putString(d);
    }
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
    TreeSet<String> devices = new TreeSet<>();
    for (int i = c.getInt(); i > 0; i--) {
      devices.add(c.getString());
    }
    return new Part(first, end, blocks, positions == null ? new int[0] : positions, h, cs, devices, c.getLong(), c.getInt(), c.getString(),
        c.getString(), c.getBoolean());
  }

  static byte[] encode(Down d) {
    GradientExchange.Codec c = GradientExchange.Codec.writer(1024 + 4 * (length(d.carriedH()) + length(d.carriedC())));
    c.putBoolean(d.hasTotal()).putDouble(d.lossSum()).putLong(d.count()).putLong(d.computeNanos()).putFloats(d.carriedH())
        .putFloats(d.carriedC()).putInt(d.devices().size());
    for (String s : d.devices()) {
      c.putString(s);
    }
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
    TreeSet<String> devices = new TreeSet<>();
    for (int i = c.getInt(); i > 0; i--) {
      devices.add(c.getString());
    }
    return new Down(has, loss, count, nanos, h, cs, devices, c.getString(), c.getBoolean());
  }

  private static int length(float[] a) {
    return a == null ? 0 : a.length;
  }

  /**
   * Why a child's header cannot be the part of the subtree [first, end) in this segment, or null
   * when it can: its range, its blocks (valid nodes inside the subtree's virtual partitions), and
   * its positions and states (one per sequence of the subtree's share of the batch).
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
      this.out = new java.io.BufferedOutputStream(socket.getOutputStream(), 1 << 16);
    }

    /** Reads until then must complete (else an IOException naming what was awaited). */
    void deadline(long nanoTime, String what) {
      deadlineNanos = nanoTime;
      waitingFor = what;
    }

    void readFully(byte[] b, int off, int len) throws IOException {
      int end = off + len;
      while (off < end) {
        int n;
        try {
          n = in.read(b, off, end - off);
        } catch (SocketTimeoutException waiting) {
          if (killed.getAsBoolean()) {
            throw new IOException("killed while waiting for " + peer + " (" + waitingFor + ")");
          }
          if (System.nanoTime() > deadlineNanos) {
            throw new IOException("timed out waiting for " + peer + " (" + waitingFor + "); see " + GradientExchange.STEP_TIMEOUT);
          }
          continue; // nothing was consumed
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
        throw new java.net.ProtocolException(peer + " sent a frame of " + n + " bytes; at most " + max + " in this segment");
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

  /**
   * A task's place in the tree for one segment: the links to its parent (the driver for partition
   * 0) and its children, met through the driver's rendezvous.
   */
  static final class Node implements Closeable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TreeReduce.class);
    private final int partition;
    private final GradientExchange.Segment segment;
    private final int[] kids;
    private final Link[] kidLinks;
    private final Link parent;
    private final long timeoutNanos;

    /**
     * Joins the segment: authenticates with the driver, tells it where this task listens for its
     * children, learns its parent, connects to it and admits its children (each proving the
     * segment's key).
     *
     * @param bindHost this executor's address, where its children connect
     * @param key the segment's key ({@link GradientExchange#keyOf})
     */
    Node(GradientExchange.Address address, byte[] key, long segmentId, int attempt, int partition, GradientExchange.Segment segment,
        String bindHost, BooleanSupplier killed) throws IOException {
      this.partition = partition;
      this.segment = segment;
      this.kids = children(partition, segment.partitions());
      this.kidLinks = new Link[kids.length];
      ServerSocket listener = null;
      GradientExchange.Client driver = null;
      Link up = null;
      try {
        if (kids.length > 0) {
          listener = new ServerSocket();
          listener.bind(new InetSocketAddress(InetAddress.getByName(bindHost), 0), kids.length + 8);
          listener.setSoTimeout(1000);
        }
        driver = new GradientExchange.Client(address, key, segmentId, attempt, partition, killed);
        GradientExchange.Joined joined = driver.join(bindHost, listener == null ? -1 : listener.getLocalPort());
        timeoutNanos = joined.stepTimeoutMillis() * 1_000_000L;
        long deadline = System.nanoTime() + timeoutNanos;
        // admit the children on a thread of their own while this task connects to its parent: no chain of waits down the tree
        ServerSocket l = listener;
        Throwable[] acceptFailure = new Throwable[1];
        Thread acceptor = new Thread(() -> {
          try {
            admitChildren(l, key, segmentId, attempt, deadline, killed);
          } catch (IOException | RuntimeException e) {
            acceptFailure[0] = e;
          }
        }, "spark-rnn-tree-accept-" + partition);
        acceptor.setDaemon(true);
        if (l != null) {
          acceptor.start();
        }
        if (partition == 0) {
          up = driver.link();
          driver = null;                                  // the link owns the socket now
        } else {
          driver.close();
          driver = null;
          int p = parent(partition);
          Socket s = new Socket();
          s.connect(new InetSocketAddress(joined.parentHost(), joined.parentPort()), 30_000);
          s.setSoTimeout(GradientExchange.HANDSHAKE_MILLIS);
          GradientExchange.sayHello(s, key, segmentId, attempt, partition, "partition " + p);
          up = new Link(s, killed, "partition " + p);
        }
        if (l != null) {
          acceptor.join();
          if (acceptFailure[0] != null) {
            throw new IOException("partition " + partition + ": its children did not all join", acceptFailure[0]);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        closeAll(up, driver);
        throw new IOException("interrupted while joining the reduction tree", e);
      } catch (IOException | RuntimeException e) {
        closeAll(up, driver);
        throw e;
      } finally {
        if (listener != null) {
          listener.close();                               // the children are in (or failed): nobody else gets to connect
        }
      }
      this.parent = up;
    }

    private void closeAll(Link up, GradientExchange.Client driver) {
      for (Closeable c : new Closeable[] {up, driver}) {
        closeQuietly(c);
      }
      for (Link k : kidLinks) {
        closeQuietly(k);
      }
    }

    private static void closeQuietly(Closeable c) {
      if (c != null) {
        try {
          c.close();
        } catch (IOException ignored) {
          // failing anyway
        }
      }
    }

    /** Accepts connections until each child has proved the key; refuses (and logs) anything else. */
    private void admitChildren(ServerSocket listener, byte[] key, long segmentId, int attempt, long deadline, BooleanSupplier killed)
        throws IOException {
      int admitted = 0;
      while (admitted < kids.length) {
        if (killed.getAsBoolean() || System.nanoTime() > deadline) {
          throw new IOException("waited for children " + Arrays.toString(kids) + " of partition " + partition
              + (killed.getAsBoolean() ? " until killed" : " past the step timeout"));
        }
        Socket s;
        try {
          s = listener.accept();
        } catch (SocketTimeoutException waiting) {
          continue;
        }
        try {
          s.setSoTimeout(GradientExchange.HANDSHAKE_MILLIS);
          java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 256));
          java.io.DataOutputStream out = new java.io.DataOutputStream(s.getOutputStream());
          GradientExchange.Hello hello = GradientExchange.readHello(in, out);
          int slot = Arrays.binarySearch(kids, hello.partition());
          String refusal = hello.segmentId() != segmentId || hello.attempt() != attempt ? "another segment or stage attempt"
              : !hello.provedBy(key) ? "authentication failed (wrong key)"
              : slot < 0 ? "partition " + hello.partition() + " is not a child of partition " + partition
              : kidLinks[slot] != null ? "partition " + hello.partition() + " is already connected" : null;
          if (refusal != null) {
            LOG.warn("reduction tree: partition {} refused {}: {}", partition, s.getRemoteSocketAddress(), refusal);
            s.close();
            continue;
          }
          out.write(hello.admission(key));
          out.flush();
          kidLinks[slot] = new Link(s, killed, "partition " + hello.partition());
          admitted++;
        } catch (IOException | RuntimeException e) {
          LOG.warn("reduction tree: partition {}: handshake with {} failed: {}", partition, s.getRemoteSocketAddress(), e.toString());
          s.close();
        }
      }
    }

    /** One step: this task's part up the tree, the step's total back down. */
    GradientExchange.StepTotal exchange(long step, GradientExchange.Message mine) throws IOException {
      int n = segment.parameterCount();
      int V = segment.virtualPartitions();
      Part own = Part.of(mine.result(), mine.endSegment());
      Part[] parts = new Part[kids.length];
      for (int i = 0; i < kids.length; i++) {
        Link k = kidLinks[i];
        k.deadline(System.nanoTime() + timeoutNanos, "its part of step " + (step + 1));
        long s = k.readLong();
        if (s != step) {
          throw new java.net.ProtocolException(k.peer + " sent step " + s + " while partition " + partition + " is at step " + step);
        }
        parts[i] = decodePart(k.readFrame(segment.maxMessageBytes()));
        String wrong = wrongPart(parts[i], kids[i], subtreeEnd(kids[i], segment.partitions()), segment);
        if (wrong != null) {
          throw new java.net.ProtocolException(k.peer + " sent " + wrong);
        }
      }
      Part up = combine(own, parts, V, segment.model().numLayers(), segment.model().hiddenSize());
      parent.writeLong(step);
      parent.writeFrame(encode(up));
      boolean failed = up.dataError() != null;
      CombineTree.Block[] mineBlocks = failed ? new CombineTree.Block[0] : own.blocks();
      for (int lo = 0; lo < n; lo += CHUNK) {
        int len = Math.min(CHUNK, n - lo);
        List<CombineTree.Block> arrived = new ArrayList<>();
        for (int i = 0; i < kids.length; i++) {
          for (CombineTree.Block b : parts[i].blocks()) {
            double[] values = new double[len];
            kidLinks[i].readDoubles(values, 0, len);
            arrived.add(new CombineTree.Block(b.level(), b.index(), new GradientSum(0, 0, values)));
          }
        }
        if (!failed) {
          for (CombineTree.Block b : mergeChunk(V, mineBlocks, lo, lo + len, arrived)) {
            parent.writeDoubles(b.sum().gradient(), 0, len);
          }
        }
      }
      parent.flush();
      parent.deadline(System.nanoTime() + timeoutNanos, "the total of step " + (step + 1));
      byte[] head = parent.readFrame(segment.maxTotalBytes());
      Down down = decodeDown(head);
      for (Link k : kidLinks) {
        k.writeFrame(head);
      }
      double[] total = down.hasTotal() ? new double[n] : null;
      for (int lo = 0; total != null && lo < n; lo += CHUNK) {
        int len = Math.min(CHUNK, n - lo);
        parent.readDoubles(total, lo, len);
        for (Link k : kidLinks) {
          k.writeDoubles(total, lo, len);
        }
      }
      for (Link k : kidLinks) {
        k.flush();
      }
      return new GradientExchange.StepTotal(total == null ? null : new GradientSum(down.lossSum(), down.count(), total),
          down.computeNanos(), down.carriedH(), down.carriedC(), down.devices(), down.dataError(), down.endSegment());
    }

    /** Bytes this task has sent to its parent and its children since it joined (the driver's share not included for partition 0's parent link). */
    long bytesSent() {
      long sent = partition == 0 ? 0 : parent.bytesWritten();
      for (Link k : kidLinks) {
        sent += k.bytesWritten();
      }
      return sent;
    }

    @Override
    public void close() throws IOException {
      closeAll(parent, null);
    }
  }
}
