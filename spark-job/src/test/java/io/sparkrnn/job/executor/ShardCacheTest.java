package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.DatasetSpec;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bounded shard cache alone, without Spark: bound, identity keys, planned eviction, prefetch errors. */
class ShardCacheTest {
  @TempDir
  Path tmp;

  /** 8 shards of 4 sine sequences, T = 10 (seed decides the values). */
  private Dataset sine(Path dir, long seed, boolean overwrite) throws IOException {
    Configuration hadoop = new Configuration();
    Prep.run(new SineSource(SineSource.Options.defaults(10, 32, seed)), new PrepOptions(dir.toUri(), 4, 0, false, overwrite), hadoop);
    return Dataset.open(dir.toUri(), hadoop);
  }

  /** The decoded bytes of one shard: x [T,B,F] and y [T,B,O] floats, 4 bytes each. */
  private static long shardBytes(Dataset ds) {
    var spec = ds.manifest().spec();
    return 4L * spec.steps() * 4 * (spec.features() + spec.outputs());
  }

  @Test
  void neverHoldsMoreThanItsBoundAndEvictsToStayUnder() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    long one = shardBytes(ds);
    ShardCache cache = new ShardCache(3 * one + one / 2); // room for 3 shards, not 4
    int shards = ds.manifest().shards().size();
    for (int round = 0; round < 2; round++) {
      for (int s = 0; s < shards; s++) {
        Batch b = cache.get(7, ds, s);
        assertEquals(one, ShardCache.decodedBytes(b), "decoded size of shard " + s);
        assertTrue(cache.held() <= cache.capacity(), "held " + cache.held() + " > bound " + cache.capacity());
      }
    }
    ShardCache.Stats st = cache.stats(7);
    assertEquals(3 * one, st.peakHeld(), "peak: three shards");
    // a cyclic scan of 8 shards through room for 3 under LRU misses every time: 16 reads, 13 evictions
    assertEquals(2L * shards, st.misses());
    assertEquals(0, st.hits());
    assertEquals(2L * shards - 3, st.evictions());
    long fileBytes = ds.manifest().shards().stream().mapToLong(ShardInfo::bytes).sum();
    assertEquals(2 * fileBytes, st.bytesRead());

    cache.configure(new ShardCache.Size(one, 0)); // shrinking evicts down to the new bound
    assertTrue(cache.held() <= one);
  }

  @Test
  void aShardBiggerThanTheCacheIsReadThroughAndNotKept() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardCache cache = new ShardCache(shardBytes(ds) - 1);
    Batch first = cache.get(1, ds, 0);
    Batch again = cache.get(1, ds, 0);
    assertArrayEquals(first.x(), again.x());
    assertEquals(0, cache.held());
    assertEquals(2, cache.stats(1).uncached());
    assertEquals(2, cache.stats(1).misses());
  }

  @Test
  void aDatasetRewrittenAtTheSamePathIsReadAgainNotServedStale() throws IOException {
    Path dir = tmp.resolve("d");
    Dataset before = sine(dir, 1, false);
    ShardCache cache = new ShardCache(1 << 20);
    Batch old = cache.get(2, before, 0);
    assertSame(old, cache.get(2, before, 0), "the second ask is a hit");

    Dataset after = sine(dir, 2, true); // same path, other values: new CRC32C in the manifest
    assertEquals(before.uri(), after.uri());
    assertFalse(before.manifest().shards().get(0).crc32c().equals(after.manifest().shards().get(0).crc32c()));
    Batch fresh = cache.get(2, after, 0);
    Batch direct = after.read(after.manifest().shards().get(0));
    assertArrayEquals(direct.x(), fresh.x(), "what the rewritten file holds");
    assertFalse(Arrays.equals(old.x(), fresh.x()), "not the old shard's values");
    assertEquals(2, cache.stats(2).misses());
    assertEquals(1, cache.stats(2).hits());
  }

  @Test
  void evictionSparesTheShardsTheNextStepsReadOverLeastRecentlyUsed() throws IOException {
    // the current step reads shard 2, the next one shard 0 (the least recently used): shard 1 must go, not 0
    assertReadingShardTwoEvicts(3, List.of(new int[] {2}, new int[] {0}), 0, "planned next", 1, "planned nowhere");
  }

  /**
   * A shard read at the next step and again later ranks by its soonest use: plan steps {2}, {1},
   * {0}, {1} with shards 0 and 1 held and room for two gives 1 rank 1 and 0 rank 2, so reading 2
   * evicts 0 (Belady: the one used furthest ahead), and 1 is still a hit.
   */
  @Test
  void aShardPlannedSeveralTimesRanksByItsSoonestUse() throws IOException {
    assertReadingShardTwoEvicts(8, List.of(new int[] {2}, new int[] {1}, new int[] {0}, new int[] {1}), 1,
        "needed at the next step", 0, "needed two steps ahead");
  }

  /**
   * Two tasks of one run plan at once; a shard either needs soon is kept. Task a reads 0 two steps
   * ahead, task b one step ahead and 1 two steps ahead: merged, 0 ranks 1 and 1 ranks 2, so 1 goes.
   */
  @Test
  void eachShardRanksByTheSoonestUseOfAnyTask() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardCache cache = new ShardCache(2 * shardBytes(ds));
    cache.get(9, ds, 0);
    cache.get(9, ds, 1);
    cache.plan(9, "a", ds, List.of(new int[] {2}, new int[] {5}, new int[] {0}));
    cache.plan(9, "b", ds, List.of(new int[] {2}, new int[] {0}, new int[] {1}));
    cache.get(9, ds, 2);
    long misses = cache.stats(9).misses();
    cache.get(9, ds, 0);
    assertEquals(misses, cache.stats(9).misses(), "shard 0, which task b reads next, was kept");
  }

  /** "A shard bigger than the whole cache is read through": one exactly the bound's size is kept. */
  @Test
  void aShardExactlyTheSizeOfTheCacheIsKept() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    long one = shardBytes(ds);
    ShardCache cache = new ShardCache(one);
    Batch first = cache.get(6, ds, 0);
    assertSame(first, cache.get(6, ds, 0), "the second ask is a hit");
    assertEquals(one, cache.held());
    assertEquals(0, cache.stats(6).uncached());
    assertEquals(1, cache.stats(6).misses());
  }

  @Test
  void prefetchReadsTheNextStepInTheBackground() throws Exception {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardCache cache = new ShardCache(1 << 20);
    cache.prefetch(4, "0", ds, List.of(new int[] {5, 6}));
    Batch five = cache.get(4, ds, 5);
    Batch six = cache.get(4, ds, 6);
    ShardCache.Stats st = cache.stats(4);
    assertEquals(2, st.prefetches() + st.misses(), "each shard read once, in the background or (if the task came first) here");
    assertEquals(2, st.hits() + st.waits() + st.misses());
    assertArrayEquals(ds.read(ds.manifest().shards().get(5)).x(), five.x());
    assertArrayEquals(ds.read(ds.manifest().shards().get(6)).x(), six.x());
  }

  @Test
  void aPrefetchThatFailsSurfacesAsTheShardErrorOnTheStepThatNeedsIt() throws Exception {
    Path dir = tmp.resolve("d");
    Dataset ds = sine(dir, 1, false);
    Path file = dir.resolve(ShardInfo.fileName(3));
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 3] ^= 0x5a; // a value byte: the size stays, the CRC32C no longer matches
    Files.write(file, bytes);
    ShardCache cache = new ShardCache(1 << 20);
    cache.prefetch(5, "0", ds, List.of(new int[] {3}));
    for (int attempt = 0; attempt < 2; attempt++) { // once while (or after) prefetching, once more: a failure is not kept
      ShardDataException e = assertThrows(ShardDataException.class, () -> cache.get(5, ds, 3));
      assertTrue(e.getMessage().contains(ShardInfo.fileName(3)) && e.getMessage().contains("CRC32C"), e.getMessage());
    }
    assertEquals(0, cache.held());
  }

  @Test
  void sizesParseWithUnitsOrAsAShareOfTheHeapAndBadOnesNameTheKey() {
    assertEquals(512L << 20, ShardCache.Size.parse("shard-cache", "512m").resolve(1000));
    assertEquals(2L << 30, ShardCache.Size.parse("shard-cache", "2G").resolve(1000));
    assertEquals(1536, ShardCache.Size.parse("shard-cache", "1.5k").resolve(1000));
    assertEquals(1048576, ShardCache.Size.parse("shard-cache", "1048576").resolve(1000));
    assertEquals(0, ShardCache.Size.parse("shard-cache", "0").resolve(1000));
    assertEquals(250, ShardCache.Size.parse("shard-cache", "25%").resolve(1000));
    assertEquals("25%", ShardCache.Size.parse("shard-cache", "25%").toString());
    assertEquals(900, ShardCache.Size.parse("shard-cache", "90%").resolve(1000), "at most 90%: 90% itself is allowed");
    for (String bad : new String[] {"lots", "-1g", "5x", "", "95%"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardCache.Size.parse("shard-cache", bad));
      assertTrue(e.getMessage().startsWith("shard-cache: "), e.getMessage());
    }
  }

  /**
   * Two tasks of one JVM report its counters at their ends; the first may snapshot while the other's
   * last read is under way (its miss counted, its read-through not yet), with the same number of
   * asks as the later snapshot. Merging, in either order, keeps the later counts.
   */
  @Test
  void mergingSnapshotsOfOneJvmKeepsTheLaterCountsInEitherOrder() {
    ShardCache.Stats during = new ShardCache.Stats(0, 2, 60, 0, 0, 59, 59_000, 0, 0);
    ShardCache.Stats after = new ShardCache.Stats(0, 2, 60, 0, 0, 60, 60_000, 0, 0);
    assertEquals(after, during.latest(after));
    assertEquals(after, after.latest(during));
    ShardCache.Stats prefetching = new ShardCache.Stats(5, 1, 3, 4, 2, 0, 7_000, 10_000, 6_000);
    ShardCache.Stats prefetched = new ShardCache.Stats(5, 1, 3, 4, 2, 0, 8_000, 10_000, 8_000);
    assertEquals(prefetched, prefetching.latest(prefetched));
    assertEquals(prefetched, prefetched.latest(prefetching));
  }

  /**
   * Shards 0 and 1 read in that order (LRU order 0, 1) into room for two, task "0" of {@code run}
   * plans {@code steps}, and shard 2 is read: {@code kept} must still be held (a hit) and
   * {@code evicted} gone (a miss).
   */
  private void assertReadingShardTwoEvicts(int run, List<int[]> steps, int kept, String whyKept, int evicted, String whyEvicted)
      throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardCache cache = new ShardCache(2 * shardBytes(ds));
    cache.get(run, ds, 0);
    cache.get(run, ds, 1);
    cache.plan(run, "0", ds, steps);
    cache.get(run, ds, 2);
    long misses = cache.stats(run).misses();
    cache.get(run, ds, kept);
    assertEquals(misses, cache.stats(run).misses(), "shard " + kept + ", " + whyKept + ", was kept");
    cache.get(run, ds, evicted);
    assertEquals(misses + 1, cache.stats(run).misses(), "shard " + evicted + ", " + whyEvicted + ", was evicted");
  }

  /** Waits for the cache's background reads queued so far: its one prefetch thread runs them in order. */
  static void drainPrefetches(ShardCache cache) throws Exception {
    Field f = ShardCache.class.getDeclaredField("background");
    f.setAccessible(true);
    ExecutorService background = (ExecutorService) f.get(cache);
    if (background != null) {
      background.submit(() -> { }).get();
    }
  }

  @Test
  void terabytesAreTwoToTheFortyAndMoreThanNinetyPercentOfTheHeapIsRefused() {
    assertEquals(1L << 40, ShardCache.Size.parse("shard-cache", "1t").resolve(1000), "t: 1024^4 bytes");
    assertEquals(3L << 40, ShardCache.Size.parse("shard-cache", "3TB").resolve(1000));
    // 90% of a 1000-byte heap is 900 bytes: allowed; 901 is more than 90%
    assertEquals(900, ShardCache.requireFits(new ShardCache.Size(900, 0), 1000, "the heap"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ShardCache.requireFits(new ShardCache.Size(901, 0), 1000, "the heap"));
    assertTrue(e.getMessage().startsWith("shard-cache: 901") && e.getMessage().contains("more than 90% of the heap"), e.getMessage());
  }

  /** Each run's counters are its own, kept while a long-lived JVM trains other runs; its peak counts what it found held. */
  @Test
  void eachRunHasItsOwnCountersAndAHitCountsTowardsItsPeak() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    long one = shardBytes(ds);
    ShardCache cache = new ShardCache(1 << 20);
    cache.get(100, ds, 0);
    for (long run = 101; run <= 110; run++) { // ten later runs, each asking for the shard run 100 read
      cache.get(run, ds, 0);
    }
    ShardCache.Stats first = cache.stats(100);
    assertEquals(1, first.misses(), "run 100's miss is still counted after ten other runs");
    assertEquals(one, first.peakHeld());
    ShardCache.Stats later = cache.stats(105);
    assertEquals(1, later.hits());
    assertEquals(0, later.misses());
    assertEquals(0, later.bytesRead());
    assertEquals(one, later.peakHeld(), "run 105 used a cache holding one shard");
  }

  /** A read that failed is not kept: once the file is back, the next ask reads it and succeeds. */
  @Test
  void aShardThatFailedToReadIsReadAgainOnceTheFileIsBack() throws IOException {
    Path dir = tmp.resolve("d");
    Dataset ds = sine(dir, 1, false);
    Path file = dir.resolve(ShardInfo.fileName(2));
    Path aside = tmp.resolve("aside");
    Files.move(file, aside);
    ShardCache cache = new ShardCache(1 << 20);
    ShardDataException e = assertThrows(ShardDataException.class, () -> cache.get(11, ds, 2));
    assertTrue(e.getMessage().contains(ShardInfo.fileName(2)), e.getMessage());
    Files.move(aside, file);
    Batch b = cache.get(11, ds, 2);
    assertArrayEquals(ds.read(ds.manifest().shards().get(2)).x(), b.x());
    assertEquals(2, cache.stats(11).misses());
  }

  /**
   * A plan not renewed for 60 s belongs to a task that ended: it no longer spares its shards. Task
   * "a" names shard 0 at t = 0; task "b" plans at t = 60 s (a's plan is exactly 60 s old: kept) and
   * again at t = 60 s + 1 ns (older than 60 s: dropped), so shard 0, the least recently used and
   * named by no live plan, goes when shard 2 needs room.
   */
  @Test
  void aPlanOlderThanSixtySecondsNoLongerSparesItsShards() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    long[] clock = {0};
    ShardCache kept = new ShardCache(2 * shardBytes(ds), () -> clock[0]);
    planTwoTasksThenReadShardTwo(kept, ds, 17, clock, 60_000_000_000L);
    long misses = kept.stats(17).misses();
    kept.get(17, ds, 0);
    assertEquals(misses, kept.stats(17).misses(), "task a's plan, 60 s old, still spared shard 0");

    ShardCache expired = new ShardCache(2 * shardBytes(ds), () -> clock[0]);
    planTwoTasksThenReadShardTwo(expired, ds, 18, clock, 60_000_000_001L);
    misses = expired.stats(18).misses();
    expired.get(18, ds, 1);
    assertEquals(misses, expired.stats(18).misses(), "shard 1 was kept: the expired plan no longer protects 0");
    expired.get(18, ds, 0);
    assertEquals(misses + 1, expired.stats(18).misses(), "shard 0 was evicted");
  }

  /** Shards 0, 1 held (LRU order 0, 1); at t = 0 task a plans 0 next; at {@code later} task b plans 5; shard 2 read. */
  private static void planTwoTasksThenReadShardTwo(ShardCache cache, Dataset ds, int run, long[] clock, long later) {
    clock[0] = 0;
    cache.get(run, ds, 0);
    cache.get(run, ds, 1);
    cache.plan(run, "a", ds, List.of(new int[] {2}, new int[] {0}));
    clock[0] = later;
    cache.plan(run, "b", ds, List.of(new int[] {2}, new int[] {5}));
    cache.get(run, ds, 2);
  }

  /** Two tasks of one run plan different shards: both plans count (task a reads 0 next, task b does not). */
  @Test
  void thePlansOfEveryTaskOfARunAreKept() throws IOException {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardCache cache = new ShardCache(2 * shardBytes(ds));
    cache.get(12, ds, 0);
    cache.get(12, ds, 1); // LRU order 0, 1
    cache.plan(12, "a", ds, List.of(new int[] {2}, new int[] {0}));
    cache.plan(12, "b", ds, List.of(new int[] {2}, new int[] {5}));
    cache.get(12, ds, 2); // room for two: 1, which no plan names, goes, although 0 is the least recently used
    long misses = cache.stats(12).misses();
    cache.get(12, ds, 0);
    assertEquals(misses, cache.stats(12).misses(), "shard 0, which task a reads next, was kept");
  }

  /** Between planned shards of the same rank, the least recently used goes (the class comment's order). */
  @Test
  void planShardsOfTheSameRankGoLeastRecentlyUsedFirst() throws IOException {
    assertReadingShardTwoEvicts(13, List.of(new int[] {2}, new int[] {0, 1}), 1, "used more recently", 0,
        "the least recently used of rank 1");
  }

  /**
   * Prefetch reads the next step's shards in order while their decoded bytes (what the cache holds;
   * a file is larger by its header) fit in the task's share of the bound (the bound over the run's
   * planning tasks), and never a shard already held.
   */
  @Test
  void prefetchStopsAtTheTasksShareOfTheBoundAndSkipsHeldShards() throws Exception {
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    List<ShardInfo> shards = ds.manifest().shards();
    assertEquals(shards.get(1).batch(), shards.get(2).batch(), "shards of one size");
    assertTrue(shards.get(1).bytes() > shardBytes(ds), "the file holds a header besides the arrays");
    long two = 2 * shardBytes(ds);

    ShardCache alone = new ShardCache(two); // one task: shards 1 and 2 fill its share exactly, 3 is over
    alone.prefetch(14, "0", ds, List.of(new int[] {1, 2, 3}));
    drainPrefetches(alone);
    assertEquals(2, alone.stats(14).prefetches());

    ShardCache shared = new ShardCache(two); // two tasks of the run: each gets half, room for shard 1 only
    shared.plan(15, "1", ds, List.of(new int[] {6}));
    shared.prefetch(15, "0", ds, List.of(new int[] {1, 2, 3}));
    drainPrefetches(shared);
    assertEquals(1, shared.stats(15).prefetches());

    ShardCache held = new ShardCache(1 << 20);
    held.get(16, ds, 5);
    held.prefetch(16, "0", ds, List.of(new int[] {5}));
    drainPrefetches(held);
    assertEquals(0, held.stats(16).prefetches(), "shard 5 is held: nothing to read");
    assertEquals(shardBytes(ds), held.held(), "held once");
  }

  /**
   * The decoded size from the manifest alone, before reading (what prefetch budgets with), by hand
   * for T = 5, B = 3, F = 2, O = 4: x is T·B·F = 30 values; targets T·B·O = 60 (mse seq2seq),
   * B·O = 12 (mse seq2one), T·B = 15 class ids (cross_entropy seq2seq) or B = 3 (seq2one); B = 3
   * lengths when variable_length; 4 bytes each. And for a sine shard, what reading it gives.
   */
  @Test
  void decodedBytesFromTheManifestCountEveryArrayTheShardWillHold() throws IOException {
    assertEquals(4 * (30 + 60), ShardCache.decodedBytes(spec(Mode.SEQ2SEQ, LossType.MSE, false), 3));
    assertEquals(4 * (30 + 12 + 3), ShardCache.decodedBytes(spec(Mode.SEQ2ONE, LossType.MSE, true), 3));
    assertEquals(4 * (30 + 15), ShardCache.decodedBytes(spec(Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, false), 3));
    assertEquals(4 * (30 + 3 + 3), ShardCache.decodedBytes(spec(Mode.SEQ2ONE, LossType.CROSS_ENTROPY, true), 3));
    Dataset ds = sine(tmp.resolve("d"), 1, false);
    ShardInfo first = ds.manifest().shards().get(0);
    assertEquals(ShardCache.decodedBytes(ShardCache.read(ds, first)), ShardCache.decodedBytes(ds.manifest().spec(), first.batch()));
  }

  private static DatasetSpec spec(Mode mode, LossType loss, boolean variableLength) {
    return new DatasetSpec("t", 2, 4, 5, mode, loss, variableLength, null, null);
  }

  /** The decoded size counts every array a shard holds: x, targets, class ids and lengths, 4 bytes each. */
  @Test
  void decodedBytesCountClassIdsAndLengths() {
    // T = 2, B = 3, F = 1: x 6 values; 3 class ids; 3 lengths: 12 values, 48 bytes
    Batch classes = new Batch(2, 3, 1, new float[6], null, new int[] {0, 1, 2}, new int[] {2, 1, 2});
    assertEquals(48, ShardCache.decodedBytes(classes));
    // x 6 values, targets T·B·O = 2·3·2 = 12: 18 values, 72 bytes
    Batch targets = new Batch(2, 3, 1, new float[6], new float[12], null, null);
    assertEquals(72, ShardCache.decodedBytes(targets));
  }

  /**
   * The log line and report.md's cache line: "from memory" is the asks that did not read in the
   * task's own thread, (hits + waits) / (hits + waits + misses) = (3 + 1) / 8 = 50%; sizes in MB
   * of 10^6 bytes.
   */
  @Test
  void theCacheLineCountsWaitsAsFromMemoryAndGivesTheBoundAndPeak() {
    ShardCache.Stats st = new ShardCache.Stats(3, 1, 4, 2, 5, 1, 2_500_000, 10_000_000, 7_500_000);
    assertEquals("3 hits, 1 waited for a read under way, 4 misses (50% from memory), 2 prefetched, 5 evicted,"
        + " 1 read through (bigger than the cache), 2.5 MB read; bound 10.0 MB, peak 7.5 MB", st.describe());
    assertTrue(new ShardCache.Stats(0, 0, 0, 0, 0, 0, 0, 0, 0).describe().contains("(0% from memory)"), "no asks: 0%, not NaN");
  }

  /**
   * A test-sized cache (a bound of 40,000 bytes) read as "bound 0.0 MB": under 1 MB the line
   * gives kB of 10^3 bytes, so 40,000 bytes are 40.0 kB and 1,234 bytes 1.2 kB; 10^6 bytes and
   * up are in MB (1.0 MB), 999,949 bytes still kB (999.9 kB).
   */
  @Test
  void smallCachesAreGivenInKilobytesNotAsZeroMegabytes() {
    ShardCache.Stats st = new ShardCache.Stats(1, 0, 1, 0, 0, 0, 1_234, 40_000, 99_999);
    assertTrue(st.describe().endsWith("1.2 kB read; bound 40.0 kB, peak 100.0 kB"), st.describe());
    assertEquals("1.0 MB", MemoryBudget.size(1_000_000));
    assertEquals("999.9 kB", MemoryBudget.size(999_949));
    assertEquals("0.0 kB", MemoryBudget.size(0));
    assertEquals("1,234.6 MB", MemoryBudget.size(1_234_567_890));
  }
}
