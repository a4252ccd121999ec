package io.sparkrnn.job.executor;

import io.sparkrnn.data.CorruptShardException;
import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shards one JVM (an executor, or the driver on a local master) holds: decoded batches,
 * bounded in bytes, keyed by the shard's identity in the manifest (dataset URI, file name, size,
 * CRC32C), so a dataset rewritten at the same path has new keys and is read again, never served
 * stale.
 *
 * <p>Eviction: the schedule is a pure function of the seed, so a task knows which shards its next
 * steps read and tells the cache ({@link #plan}): the shards of the step it gathers next rank 0,
 * the following step's 1, and so on. To make room the cache drops, in this order, a shard no plan names (least
 * recently used first), then the planned shard whose first use is furthest away (Belady's rule over
 * the known window). Under a random permutation plain LRU keeps about cache/data of the accesses;
 * the plan keeps the shards the next steps read.
 *
 * <p>Prefetch: once a task has gathered its step, {@link #prefetch} starts background reads (one
 * daemon thread per JVM) of the next step's shards that are neither held nor being read, while the
 * task computes. A task that asks for a shard being read waits for that read (one still queued it
 * reads itself); a read that failed is not kept, so the step that needs the shard reads it again
 * and fails with the same {@link ShardDataException} (file, field, expected) as without prefetch,
 * in its own thread. Prefetch stops where the next step's shards would not fit in the task's share
 * of the bound: reading more would only evict what the same step reads.
 *
 * <p>Bound: the decoded shards held never add up to more than the capacity. A shard bigger than the
 * whole cache is read through, not kept (counted as {@code uncached}): the run still trains, one
 * read per use. Shards being read and those a step is gathering from are outside the count (at most
 * one step's shards, plus one background read).
 */
public final class ShardCache {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ShardCache.class);

  /** The JVM's cache; its capacity is what the last task set ({@link #configure}), else {@link Size#DEFAULT}. */
  public static final ShardCache JVM = new ShardCache(Size.DEFAULT.resolve(Runtime.getRuntime().maxMemory()));

  /** Plans kept at once (one per running task); older ones are dropped. */
  private static final int MAX_PLANS = 16;
  /** A plan not renewed for this long belongs to a task that ended. */
  private static final long PLAN_LIFETIME_NANOS = 60_000_000_000L;
  /** Runs whose counters are kept (a long-lived JVM trains many runs). */
  private static final int MAX_RUNS = 32;

  /** A shard's identity: a rewritten dataset has a new size or CRC32C, so a new key. */
  record Key(String dataset, String file, long bytes, String crc32c) {
    static Key of(Dataset dataset, ShardInfo info) {
      return of(directory(dataset), info);
    }

    static Key of(String directory, ShardInfo info) {
      return new Key(directory, info.file(), info.bytes(), info.crc32c());
    }

    /** The dataset's directory as keys name it: "file:/d/" and "file:/d" are one directory. */
    static String directory(Dataset dataset) {
      String dir = dataset.uri().toString();
      return dir.endsWith("/") ? dir.substring(0, dir.length() - 1) : dir;
    }
  }

  private record Entry(Batch batch, long bytes) {}

  /** One task's plan: shard → the first of its upcoming steps that reads it (0: the step it gathers next). */
  private record Plan(long run, Map<Key, Integer> rank, long madeNanos) {}

  /** A read under way or queued; whoever claims {@code started} first (the background thread or a task that needs it now) reads. */
  private record Pending(CompletableFuture<Batch> future, AtomicBoolean started) {
    Pending() {
      this(new CompletableFuture<>(), new AtomicBoolean());
    }
  }

  private final Object lock = new Object();
  /** Access order: the first entry is the least recently used. */
  private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>(64, 0.75f, true);
  private final Map<Key, Pending> reading = new HashMap<>();
  /** The last plan of each task (run/slot). */
  private final LinkedHashMap<String, Plan> plans = new LinkedHashMap<>(16, 0.75f, true);
  private final LinkedHashMap<Long, Counters> runs = new LinkedHashMap<>();
  /** Every plan merged: shard → the soonest rank any task gave it. */
  private Map<Key, Integer> mergedRank = Map.of();
  private long capacity;
  private long held;
  private ExecutorService background;
  /** System.nanoTime, or a test's clock: plans expire after PLAN_LIFETIME_NANOS of it. */
  private final LongSupplier nanoTime;

  ShardCache(long capacity) {
    this(capacity, System::nanoTime);
  }

  ShardCache(long capacity, LongSupplier nanoTime) {
    this.capacity = capacity;
    this.nanoTime = nanoTime;
  }

  /**
   * How a run's tasks use the cache: its size, the run whose counters they feed, and where they
   * report them (null: nowhere, as outside training).
   */
  public record Use(Size size, long run, ShardPlacement placement) implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final Use DEFAULT = new Use(Size.DEFAULT, 0, null);
  }

  /** The cache's size: {@code bytes}, or when that is negative {@code heapFraction} of the JVM's maximum heap. */
  public record Size(long bytes, double heapFraction) implements Serializable {
    private static final long serialVersionUID = 1L;
    /** 25% of the heap: Spark's unified memory takes 60% of (heap − 300 MB), the engine's working memory lives in the rest. */
    public static final Size DEFAULT = new Size(-1, 0.25);
    private static final Pattern SYNTAX = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(%|[kmgt]?b?)", Pattern.CASE_INSENSITIVE);

    /**
     * Parses {@code 512m}, {@code 2g}, {@code 1048576} (bytes; k, m, g, t are powers of 1024, a
     * trailing b is allowed), {@code 25%} (of the heap, at most 90%), or {@code 0} (keep nothing:
     * every use reads its shard).
     *
     * @param key names the setting in errors
     */
    public static Size parse(String key, String value) {
      Matcher m = SYNTAX.matcher(value.strip());
      if (!m.matches()) {
        throw new BadInputException(key + ": expected a size such as 512m, 2g or 1048576 (bytes), or a share of the"
            + " executor heap such as 25%, found '" + value + "'");
      }
      double n = Double.parseDouble(m.group(1));
      String unit = m.group(2).toLowerCase(Locale.ROOT).replace("b", "");
      if (unit.equals("%")) {
        if (n > 90) {
          throw new BadInputException(key + ": " + value + " of the heap leaves nothing for Spark and the engine; at most 90%");
        }
        return new Size(-1, n / 100);
      }
      int shift = switch (unit) {
        case "k" -> 10;
        case "m" -> 20;
        case "g" -> 30;
        case "t" -> 40;
        default -> 0;
      };
      double bytes = n * (1L << shift);
      if (bytes >= Long.MAX_VALUE / 2) {
        throw new BadInputException(key + ": " + value + " is more bytes than any heap holds");
      }
      return new Size((long) bytes, 0);
    }

    /** The capacity in bytes on a JVM whose maximum heap is {@code maxHeap}. */
    public long resolve(long maxHeap) {
      return bytes >= 0 ? bytes : (long) (heapFraction * maxHeap);
    }

    @Override
    public String toString() {
      return bytes >= 0 ? Long.toString(bytes)
          : new BigDecimal(heapFraction * 100).round(new MathContext(6)).stripTrailingZeros().toPlainString() + "%";
    }
  }

  /**
   * What one run's tasks did with one JVM's cache.
   *
   * @param hits asks answered from the cache (prefetched shards included)
   * @param waits asks that waited for a read already under way: a prefetch, or another task's own
   *     read of the same shard (so there are waits without any prefetch, with a cache of 0 too)
   * @param misses asks that read the shard in the task's own thread
   * @param prefetches background reads started
   * @param evictions shards dropped to make room
   * @param uncached shards read through because they are bigger than the whole cache
   * @param bytesRead shard file bytes read, by tasks and in the background
   * @param capacity the cache's bound in bytes
   * @param peakHeld the most decoded bytes the cache held at once while this run used it
   */
  public record Stats(long hits, long waits, long misses, long prefetches, long evictions, long uncached, long bytesRead,
      long capacity, long peakHeld) implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * The later of two snapshots of the same JVM's counters for one run. Every counter only grows,
     * so the later snapshot is the larger in each: the maximum field by field. (Comparing the asks
     * alone is not enough: a snapshot taken while another task's read is under way has its miss but
     * not yet its bytes or its read-through, with as many asks as the snapshot after it.)
     */
    Stats latest(Stats other) {
      return new Stats(Math.max(hits, other.hits), Math.max(waits, other.waits), Math.max(misses, other.misses),
          Math.max(prefetches, other.prefetches), Math.max(evictions, other.evictions), Math.max(uncached, other.uncached),
          Math.max(bytesRead, other.bytesRead), Math.max(capacity, other.capacity), Math.max(peakHeld, other.peakHeld));
    }

    public String describe() {
      long asks = hits + waits + misses;
      return String.format(Locale.ROOT, "%d hits, %d waited for a read under way, %d misses (%.0f%% from memory), %d prefetched, %d evicted,"
          + " %d read through (bigger than the cache), %s read; bound %s, peak %s", hits, waits, misses,
          asks == 0 ? 0.0 : 100.0 * (hits + waits) / asks, prefetches, evictions, uncached, MemoryBudget.size(bytesRead), MemoryBudget.size(capacity),
          MemoryBudget.size(peakHeld));
    }
  }

  private static final class Counters {
    final AtomicLong hits = new AtomicLong();
    final AtomicLong waits = new AtomicLong();
    final AtomicLong misses = new AtomicLong();
    final AtomicLong prefetches = new AtomicLong();
    final AtomicLong evictions = new AtomicLong();
    final AtomicLong uncached = new AtomicLong();
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicLong peak = new AtomicLong();
  }

  /** Sets the bound, evicting what no longer fits. */
  void configure(Size size) {
    long bytes = requireFits(size, Runtime.getRuntime().maxMemory(), "this JVM's heap");
    synchronized (lock) {
      capacity = bytes;
      makeRoom(0);
    }
  }

  /**
   * The capacity on a heap of {@code heap} bytes, refused when it is more than 90% of it.
   *
   * @param whose names the heap in the message
   */
  public static long requireFits(Size size, long heap, String whose) {
    long bytes = size.resolve(heap);
    if (bytes > 0.9 * heap) {
      throw new BadInputException("shard-cache: " + size + " (" + bytes / 1_000_000 + " MB) is more than 90% of " + whose + " ("
          + heap / 1_000_000 + " MB); give a smaller size or a share such as 25%, or more executor memory");
    }
    return bytes;
  }

  long capacity() {
    synchronized (lock) {
      return capacity;
    }
  }

  /** Decoded bytes held now. */
  public long held() {
    synchronized (lock) {
      return held;
    }
  }

  /**
   * The shard, from the cache, from a background read under way, or read now (and kept if it fits).
   *
   * @param run whose counters the ask goes to (0: not a training run)
   * @throws ShardDataException when the shard fails a check that a retry would fail again: missing,
   *     wrong size, wrong CRC32C, or bad dtypes, shapes or values
   * @throws UncheckedIOException for other I/O errors, which a retry may cure
   */
  Batch get(long run, Dataset dataset, int index) {
    ShardInfo info = dataset.manifest().shards().get(index);
    Key key = Key.of(dataset, info);
    Counters c = counters(run);
    Pending pending;
    synchronized (lock) {
      Entry e = entries.get(key);
      if (e != null) {
        c.hits.incrementAndGet();
        c.peak.accumulateAndGet(held, Math::max);
        return e.batch();
      }
      pending = reading.get(key);
      if (pending == null) {
        pending = new Pending();
        reading.put(key, pending);
      }
    }
    if (pending.started().compareAndSet(false, true)) {
      // nobody reads it yet (not planned, or its prefetch still queued): read it here rather than wait in the queue
      c.misses.incrementAndGet();
      return load(key, dataset, info, pending, c);
    }
    c.waits.incrementAndGet();
    try {
      return pending.future().join();
    } catch (CompletionException e) {
      throw rethrown(e.getCause());
    }
  }

  /**
   * Says which shards a task reads: its new plan replaces its last, and eviction spares what it
   * names, soonest first.
   *
   * @param slot the task (its partition) within the run
   * @param upcoming manifest shard indices per step: [0] the step about to be gathered, [1] the next, …
   */
  void plan(long run, String slot, Dataset dataset, List<int[]> upcoming) {
    Map<Key, Integer> rank = new HashMap<>();
    List<ShardInfo> shards = dataset.manifest().shards();
    String dir = Key.directory(dataset);
    for (int k = 0; k < upcoming.size(); k++) {
      for (int s : upcoming.get(k)) {
        rank.putIfAbsent(Key.of(dir, shards.get(s)), k);
      }
    }
    long now = nanoTime.getAsLong();
    synchronized (lock) {
      plans.put(run + "/" + slot, new Plan(run, rank, now));
      // a finished run's tasks plan no more: their last plans go after PLAN_LIFETIME, or when too many
      plans.values().removeIf(p -> now - p.madeNanos() > PLAN_LIFETIME_NANOS);
      while (plans.size() > MAX_PLANS) {
        Iterator<String> oldest = plans.keySet().iterator();
        oldest.next();
        oldest.remove();
      }
      // every plan's ranks merged once here, not at every eviction
      mergedRank = new HashMap<>(rank);
      for (Plan p : plans.values()) {
        if (p.rank() != rank) {
          p.rank().forEach((k, r) -> mergedRank.merge(k, r, Math::min));
        }
      }
    }
  }

  /**
   * After a task has gathered its step: {@link #plan} for the steps ahead ({@code ahead[0]} the
   * next), and background reads of the next step's shards that are neither held nor being read.
   * They are read in order as long as their decoded bytes (what the cache holds, not the file's)
   * fit in the task's share of the bound (the bound over this run's tasks on this JVM): reading
   * more would evict what the same step reads.
   */
  void prefetch(long run, String slot, Dataset dataset, List<int[]> ahead) {
    plan(run, slot, dataset, ahead);
    if (ahead.isEmpty()) {
      return;
    }
    List<ShardInfo> shards = dataset.manifest().shards();
    String dir = Key.directory(dataset);
    List<Key> toRead = new ArrayList<>();
    List<ShardInfo> infos = new ArrayList<>();
    synchronized (lock) {
      long tasks = plans.values().stream().filter(p -> p.run() == run).count();
      long budget = capacity / Math.max(1, tasks);
      for (int s : ahead.get(0)) {
        ShardInfo info = shards.get(s);
        budget -= decodedBytes(dataset.manifest().spec(), info.batch());
        if (budget < 0) {
          break;
        }
        Key key = Key.of(dir, info);
        if (!entries.containsKey(key) && !reading.containsKey(key)) {
          reading.put(key, new Pending());
          toRead.add(key);
          infos.add(info);
        }
      }
      if (!toRead.isEmpty() && background == null) {
        background = Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "spark-rnn-shard-prefetch");
          t.setDaemon(true);
          return t;
        });
      }
    }
    Counters c = counters(run);
    for (int i = 0; i < toRead.size(); i++) {
      Key key = toRead.get(i);
      ShardInfo info = infos.get(i);
      Pending pending;
      synchronized (lock) {
        pending = reading.get(key);
      }
      if (pending == null) {
        continue; // a task read it meanwhile
      }
      background.execute(() -> {
        if (!pending.started().compareAndSet(false, true)) {
          return; // a task that needed it first reads it
        }
        c.prefetches.incrementAndGet();
        try {
          load(key, dataset, info, pending, c);
        } catch (RuntimeException e) {
          // kept in the future for a task waiting on it; a task asking later reads the shard again and gets the same error
        }
      });
    }
  }

  /** Reads a shard, completes {@code future} with it (or its failure), and keeps it when it fits. */
  private Batch load(Key key, Dataset dataset, ShardInfo info, Pending pending, Counters c) {
    CompletableFuture<Batch> future = pending.future();
    Batch batch;
    long t0 = System.nanoTime();
    try {
      batch = read(dataset, info);
      c.bytesRead.addAndGet(info.bytes());
    } catch (RuntimeException | Error e) {
      synchronized (lock) {
        reading.remove(key, pending);
      }
      future.completeExceptionally(e);
      throw e;
    }
    long bytes = decodedBytes(batch);
    long evicted = 0;
    synchronized (lock) {
      reading.remove(key, pending);
      if (bytes > capacity) {
        c.uncached.incrementAndGet();
      } else {
        evicted = makeRoom(bytes);
        c.evictions.addAndGet(evicted);
        entries.put(key, new Entry(batch, bytes));
        held += bytes;
        c.peak.accumulateAndGet(held, Math::max);
      }
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug(String.format(Locale.ROOT, "shard cache: read %s (%d bytes on disk, %d decoded) in %.1f ms; %s",
          key.file(), info.bytes(), bytes, (System.nanoTime() - t0) / 1e6,
          bytes > capacity ? "larger than the cache, not kept" : "kept, " + evicted + " evicted"));
    }
    future.complete(batch);
    return batch;
  }

  /**
   * Evicts until {@code bytes} more fit: first shards no plan names (least recently used first),
   * then the planned shard read furthest ahead. Returns the number evicted. Holds the lock.
   */
  private long makeRoom(long bytes) {
    long evicted = 0;
    if (held + bytes <= capacity) {
      return 0;
    }
    Map<Key, Integer> rank = mergedRank;
    while (held + bytes > capacity && !entries.isEmpty()) {
      Key victim = null;
      int worst = -1;
      for (Key k : entries.keySet()) { // least recently used first: ties go to it
        int r = rank.getOrDefault(k, Integer.MAX_VALUE);
        if (r > worst) {
          worst = r;
          victim = k;
          if (r == Integer.MAX_VALUE) {
            break;
          }
        }
      }
      Entry e = entries.remove(victim);
      held -= e.bytes();
      evicted++;
    }
    return evicted;
  }

  /**
   * The bytes a shard of {@code batch} sequences decodes to, from the manifest alone (as
   * {@link #decodedBytes(Batch)} counts them once read): x is T·B·F floats; targets T·B·O floats
   * (mse, seq2seq), B·O (mse, seq2one), T·B class ids (cross_entropy, seq2seq) or B (seq2one);
   * B lengths when variable_length; 4 bytes each.
   */
  static long decodedBytes(DatasetSpec spec, int batch) {
    long x = (long) spec.steps() * batch * spec.features();
    return 4 * (x + spec.targetElements(batch) + (spec.variableLength() ? batch : 0));
  }

  /** The bytes of a decoded shard's arrays (the object headers aside). */
  static long decodedBytes(Batch b) {
    long n = b.x().length;
    n += b.targets() == null ? 0 : b.targets().length;
    n += b.classes() == null ? 0 : b.classes().length;
    n += b.lengths() == null ? 0 : b.lengths().length;
    return 4 * n;
  }

  /** A failure of another thread's read, raised anew in this one (same type and message; the original as cause). */
  private static RuntimeException rethrown(Throwable t) {
    if (t instanceof ShardDataException e) {
      return new ShardDataException(e.getMessage(), e);
    }
    if (t instanceof UncheckedIOException e) {
      return new UncheckedIOException(e.getMessage(), e.getCause());
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException("reading a shard failed: " + t, t);
  }

  /** Reads and checks one shard, with the errors {@link #get} promises. */
  static Batch read(Dataset dataset, ShardInfo info) {
    try {
      return dataset.read(info);
    } catch (CorruptShardException | FileNotFoundException e) {
      throw new ShardDataException(e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (IllegalArgumentException e) {
      throw new ShardDataException(e.getMessage(), e);
    }
  }

  private Counters counters(long run) {
    synchronized (runs) {
      Counters c = runs.get(run);
      if (c == null) {
        c = new Counters();
        runs.put(run, c);
        while (runs.size() > MAX_RUNS) {
          Iterator<Long> oldest = runs.keySet().iterator();
          oldest.next();
          oldest.remove();
        }
      }
      return c;
    }
  }

  /** This JVM's counters for one run. */
  Stats stats(long run) {
    Counters c = counters(run);
    return new Stats(c.hits.get(), c.waits.get(), c.misses.get(), c.prefetches.get(), c.evictions.get(), c.uncached.get(),
        c.bytesRead.get(), capacity(), c.peak.get());
  }

  /** Drops every shard (tests; a driver JVM that goes on to other work). */
  public void clear() {
    synchronized (lock) {
      entries.clear();
      plans.clear();
      mergedRank = Map.of();
      held = 0;
    }
  }
}
