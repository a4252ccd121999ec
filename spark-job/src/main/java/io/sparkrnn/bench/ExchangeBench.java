package io.sparkrnn.bench;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.VirtualPartitions;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.job.sync.GradientExchange;
import io.sparkrnn.job.sync.TreeReduce;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import java.io.IOException;
import java.io.PrintStream;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * {@code bench --exchange}: the {@code --sync barrier} reduction alone — the driver's exchange and
 * P tasks on threads of this JVM, over loopback TCP, with no compute and no Spark — timed per step
 * for each partition count and gradient size, and a latency + bandwidth model fitted to it.
 *
 * <p>The model has a latency α per hop and a cost β per byte. On this machine every link's two
 * ends share the same cores, so a step costs its hops and the bytes of all its links:
 * T = (2d + 2)·α + bytes·β, fitted to the rows. On a cluster each link has its own NIC and cores
 * and the busiest link sets the time: in the tree of {@link TreeReduce} (gradient bytes
 * G = 8·|θ|, depth d ≈ log2 P) a task's link carries at most two streams in on the way up and two
 * out on the way down, each stream one gradient when the runs are aligned, and the driver's hop G
 * in, then G out (not pipelined); the streams are pipelined in chunks of C = 256 KiB, so each
 * level adds a chunk's time, not a gradient's:
 * <pre>  T_tree(P, G) = (2d + 2)·α + (6·G + 2d·min(G, C))·β_link</pre>
 * and the star it replaced took every task's gradient into the driver and the total out to each:
 * T_star = 2α + 2P·G·β_link, with β_link = 8 bits / link rate.
 */
public final class ExchangeBench {
  private ExchangeBench() {}

  /**
   * @param hidden LSTM hidden sizes (F = 1, O = 1), each with one layer
   * @param layers layer counts, each at the first hidden size
   * @param partitions the partition counts P
   * @param steps timed steps per run, after {@code warmup}
   */
  public record Options(List<Integer> hidden, List<Integer> layers, List<Integer> partitions, int virtualPartitions, int runs, int steps,
      int warmup, long seed) {}

  private record Shape(int hidden, int layers) {
    ModelConfig model() {
      return new ModelConfig(CellType.LSTM, layers, 1, hidden, 1, Mode.SEQ2SEQ, LossType.MSE);
    }
  }

  public static List<Map<String, Object>> run(Options o, PrintStream out) throws IOException {
    List<Shape> shapes = new ArrayList<>();
    for (int h : o.hidden()) {
      shapes.add(new Shape(h, 1));
    }
    for (int l : o.layers()) {
      if (l != 1) {
        shapes.add(new Shape(o.hidden().get(0), l));
      }
    }
    out.printf(Locale.ROOT, "exchange bench, %s, %d cores: the --sync barrier reduction alone (P tasks on threads, loopback TCP, no"
        + " compute), V = %d, median of %d runs of %d steps after %d%n", ZonedDateTime.now(),
        Runtime.getRuntime().availableProcessors(), o.virtualPartitions(), o.runs(), o.steps(), o.warmup());
    out.printf(Locale.ROOT, "%-12s %11s %9s %3s %5s %5s %10s %10s %12s %12s %8s%n", "LSTM H×L", "parameters", "G MB", "P", "depth",
        "fan-in", "ms/step", "min ms", "driver kB", "all links MB", "GB/s");
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Shape s : shapes) {
      int n = new ParamLayout(s.model()).size();
      for (int P : o.partitions()) {
        double[] medians = new double[o.runs()];
        double min = Double.MAX_VALUE;
        double driverBytes = 0;
        double linkBytes = 0;
        for (int r = 0; r < o.runs(); r++) {
          double[] ms;
          try (GradientExchange.Server server = new GradientExchange.Server("127.0.0.1", "127.0.0.1", 0, null, 600_000)) {
            long[] sent = new long[1];
            ms = oneRun(server, 1000L * r + P, s.model(), n, P, o, sent);
            GradientExchange.Server.Traffic t = server.traffic();
            driverBytes = t.bytesPerStep();
            linkBytes = (double) (sent[0] + t.bytesIn() + t.bytesOut()) / t.steps();
          }
          medians[r] = TrainingMetrics.median(ms);
          min = Math.min(min, Arrays.stream(ms).min().orElse(0));
        }
        int depth = TreeReduce.depth(P);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("mode", "exchange");
        row.put("cell", "lstm");
        row.put("hidden_size", s.hidden());
        row.put("layers", s.layers());
        row.put("parameters", n);
        row.put("gradient_mb", 8.0 * n / 1e6);
        row.put("partitions", P);
        row.put("virtual_partitions", o.virtualPartitions());
        row.put("depth", depth);
        row.put("fan_in", P == 1 ? 0 : 2);
        row.put("median_ms", TrainingMetrics.median(medians));
        row.put("min_ms", min);
        row.put("runs_ms", Arrays.stream(medians).boxed().toList());
        row.put("driver_bytes_per_step", driverBytes);
        row.put("link_bytes_per_step", linkBytes);
        rows.add(row);
        out.printf(Locale.ROOT, "%-12s %,11d %9.2f %3d %5d %5d %10.2f %10.2f %,12.1f %12.2f %8.2f%n", s.hidden() + "×" + s.layers(), n,
            8.0 * n / 1e6, P, depth, P == 1 ? 0 : 2, TrainingMetrics.median(medians), min, driverBytes / 1e3, linkBytes / 1e6,
            linkBytes / 1e6 / TrainingMetrics.median(medians));
      }
    }
    fitAndProject(rows, out);
    return rows;
  }

  /**
   * The streams of a step through the tree of P tasks: each node's sources that are other tasks,
   * the total down to every task that does not get it from the driver, and the driver's two (in,
   * out). With aligned runs each stream carries one gradient.
   */
  public static int streams(int partitions) {
    int streams = 2;
    for (int t = 0; t < partitions; t++) {
      TreeReduce.Place place = TreeReduce.place(t, partitions);
      if (place.hosts()) {
        streams += (place.left().task() != t ? 1 : 0) + 1;
      }
      streams += place.downTo().size();
    }
    return streams;
  }

  /** One segment: P tasks exchanging random sums for warm-up + timed steps; partition 0's wall time per timed step, ms. */
  private static double[] oneRun(GradientExchange.Server server, long segmentId, ModelConfig model, int n, int P, Options o,
      long[] bytesSent) {
    int V = Math.max(o.virtualPartitions(), P);
    GradientExchange.Segment segment = new GradientExchange.Segment(model, P, n, V, V, false);
    GradientExchange.Address address = server.open(segmentId, segment);
    ExecutorService pool = Executors.newFixedThreadPool(P);
    try {
      List<Future<double[]>> futures = new ArrayList<>();
      AtomicLong sent = new AtomicLong();
      for (int p = 0; p < P; p++) {
        int partition = p;
        PartitionResult mine = randomPart(segment, partition, new Random(o.seed() * 31 + p));
        futures.add(pool.submit(() -> {
          try (TreeReduce.Node node = new TreeReduce.Node(address, address.key(), segmentId, 0, partition, segment, "127.0.0.1",
              () -> false)) {
            double[] ms = new double[o.steps()];
            for (int step = 0; step < o.warmup() + o.steps(); step++) {
              long t0 = System.nanoTime();
              node.exchange(step, new GradientExchange.Message(mine, false));
              if (step >= o.warmup()) {
                ms[step - o.warmup()] = (System.nanoTime() - t0) / 1e6;
              }
            }
            sent.addAndGet(node.bytesSent());
            return ms;
          }
        }));
      }
      double[] first = null;
      for (Future<double[]> f : futures) {
        double[] ms = f.get();
        first = first == null ? ms : first;
      }
      bytesSent[0] = sent.get();
      return first;
    } catch (ExecutionException e) {
      throw new IllegalStateException("exchange bench: a task failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("exchange bench: interrupted", e);
    } finally {
      pool.shutdownNow();
      server.finish(segmentId);
    }
  }

  /** A task's part with random gradient blocks of its run of virtual partitions (tags from the combine tree, values random). */
  private static PartitionResult randomPart(GradientExchange.Segment s, int partition, Random random) {
    VirtualPartitions cut = new VirtualPartitions(s.batch(), s.virtualPartitions());
    int a = cut.firstLeaf(partition, s.partitions());
    int b = cut.firstLeaf(partition + 1, s.partitions());
    GradientSum[] tags = new GradientSum[b - a];
    for (int i = 0; i < tags.length; i++) {
      tags[i] = new GradientSum(1, 1, new double[0]);
    }
    List<CombineTree.Block> blocks = new ArrayList<>();
    for (CombineTree.Block t : CombineTree.blocks(s.virtualPartitions(), a, tags)) {
      double[] g = new double[s.parameterCount()];
      for (int i = 0; i < g.length; i++) {
        g[i] = random.nextGaussian();
      }
      blocks.add(new CombineTree.Block(t.level(), t.index(), new GradientSum(t.sum().lossSum(), t.sum().count(), g)));
    }
    int[] positions = IntStream.range(cut.start(a), cut.start(b)).toArray();
    return new PartitionResult(partition, blocks.toArray(new CombineTree.Block[0]), positions, null, null, "bench", "bench", 0, null);
  }

  /**
   * The least bytes-per-hop spread (largest row's over smallest's) the fit needs. The model has no
   * other handle on α and β than rows whose bytes per hop differ: where they differ by a factor s,
   * β comes from the rows' per-hop times differing by (s − 1)·(bytes per hop)·β, so a relative
   * timing noise ε gives β a relative error of at least about ε / (s − 1): at 1.25, 4× the noise;
   * nearer 1 the fit is noise (P = 1, 2 at one H: s = 1 up to header bytes, which fitted α = 388 ms
   * per hop and β < 0). P = 1, 2, 4 at one H gives 1.5, two hidden sizes far more.
   */
  static final double MIN_BYTES_PER_HOP_SPREAD = 1.25;

  /** The fitted α (s per hop) and β (s per byte), or {@code refused}: why there is no fit (then α and β are NaN). */
  public record Fit(double alpha, double beta, String refused, String advice) {
    /** Rows that cannot separate α from β: more sizes or depths would. */
    static final String VARY = "Vary the bytes per hop: more --exchange-hidden sizes (e.g. 64,256) or --exchange-partitions with"
        + " more depths (e.g. 1,2,3,4)";
    /** Rows that could, timed too noisily: longer timings would. */
    static final String LONGER = "Time longer: more --runs or --exchange-steps, on cores no other work shares";

    static Fit refused(String why, String advice) {
      return new Fit(Double.NaN, Double.NaN, why, advice);
    }
  }

  /**
   * Fits α and β of T = hops·α + bytes·β to every row by least squares on the relative error
   * (each row weighted by 1/T, so the small steps count as much as the large), with hops = 2d + 2
   * and bytes the row's bytes over all links: on one machine every link's two ends share its cores,
   * so what a step moves in total is what it costs. Refused where the rows cannot separate α from β
   * (fewer than two rows, or bytes per hop spread less than {@link #MIN_BYTES_PER_HOP_SPREAD}: hops
   * and bytes nearly collinear, the normal equations singular or nearly) or where the fit has α < 0
   * or β ≤ 0, which no link has: a projection from either would be noise.
   */
  static Fit fit(List<Map<String, Object>> rows) {
    if (rows.size() < 2) {
      return Fit.refused("only " + rows.size() + " row(s), and α and β need at least two whose bytes per hop differ", Fit.VARY);
    }
    double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
    double leastPerHop = Double.MAX_VALUE;
    double mostPerHop = 0;
    for (Map<String, Object> r : rows) {
      double t = (Double) r.get("median_ms") / 1e3;
      double hops = 2.0 * (Integer) r.get("depth") + 2;
      double bytes = (Double) r.get("link_bytes_per_step");
      leastPerHop = Math.min(leastPerHop, bytes / hops);
      mostPerHop = Math.max(mostPerHop, bytes / hops);
      double x = hops / t;
      double y = bytes / t;
      a11 += x * x;
      a12 += x * y;
      a22 += y * y;
      b1 += x;                                           // the right-hand side t / t = 1
      b2 += y;
    }
    if (mostPerHop < MIN_BYTES_PER_HOP_SPREAD * leastPerHop) {
      return Fit.refused(String.format(Locale.ROOT, "the bytes per hop of the %d rows differ by %.2f×, under %.2f×: bytes grow with"
          + " the hops, so α and β cannot be told apart", rows.size(), mostPerHop / leastPerHop, MIN_BYTES_PER_HOP_SPREAD), Fit.VARY);
    }
    double det = a11 * a22 - a12 * a12;
    double alpha = (b1 * a22 - b2 * a12) / det;
    double beta = (a11 * b2 - a12 * b1) / det;
    if (!(alpha >= 0) || !(beta > 0)) {
      return Fit.refused(String.format(Locale.ROOT, "the fit gives α = %.1f µs per hop, β = %.3f ns/byte, and a link has α ≥ 0 and"
          + " β > 0: the timings are too noisy for these rows", alpha * 1e6, beta * 1e9), Fit.LONGER);
    }
    return new Fit(alpha, beta, null, null);
  }

  /**
   * Prints the {@link #fit} against each row (each row's model_ms; model_refused null), then
   * projects the tree and the star to many executors, where each link has its own NIC and cores and
   * the busiest link (a host's, or the driver's for the star) sets the time. Where the fit is
   * refused: one line saying why and what to vary, each row's model_ms null and model_refused the
   * reason, and no projection.
   */
  static void fitAndProject(List<Map<String, Object>> rows, PrintStream out) {
    Fit fit = fit(rows);
    if (fit.refused() != null) {
      // the advice fits the reason: a docs audit, already at 64,256 and 1,2,3,4, was told to vary the bytes
      out.printf(Locale.ROOT, "%nmodel not fitted: %s; no projection. %s%n", fit.refused(), fit.advice());
      for (Map<String, Object> r : rows) {
        r.put("model_ms", null);
        r.put("model_refused", fit.refused());
      }
      return;
    }
    double alpha = fit.alpha();
    double beta = fit.beta();
    out.printf(Locale.ROOT, "%nmodel T = (2d + 2)·α + (bytes over all links)·β, fitted to every row (relative least squares): α = %.1f µs"
        + " per hop, β = %.3f ns/byte (%.2f GB/s moved on this machine)%n", alpha * 1e6, beta * 1e9, 1 / beta / 1e9);
    out.printf(Locale.ROOT, "%-12s %3s %10s %10s %8s%n", "LSTM H×L", "P", "measured", "model", "ratio");
    for (Map<String, Object> r : rows) {
      double model = (2.0 * (Integer) r.get("depth") + 2) * alpha + (Double) r.get("link_bytes_per_step") * beta;
      r.put("model_ms", model * 1e3);
      r.put("model_refused", null);
      double measured = (Double) r.get("median_ms");
      out.printf(Locale.ROOT, "%-12s %3d %10.2f %10.2f %8.2f%n", r.get("hidden_size") + "×" + r.get("layers"), r.get("partitions"), measured,
          model * 1e3, measured / (model * 1e3));
    }
    out.printf(Locale.ROOT, "%nprojection, ms per step for the reduction alone: α = %.1f µs per hop as fitted; β = 8 bits / link rate"
        + " (\"link\"), or the per-byte cost measured here, %.3f ns/byte, where larger (\"here\": both ends of every link share this"
        + " machine's cores)%n", alpha * 1e6, beta * 1e9);
    out.printf(Locale.ROOT, "%-12s %5s %6s %12s %12s %10s %12s %12s%n", "LSTM H×L", "P", "Gb/s", "star link", "tree link", "star/tree",
        "star here", "tree here");
    LinkedHashSet<String> seen = new LinkedHashSet<>();
    for (Map<String, Object> r : rows) {
      String key = r.get("hidden_size") + "×" + r.get("layers");
      if (!seen.add(key)) {
        continue;
      }
      double G = 8.0 * (Integer) r.get("parameters");
      for (int P : new int[] {8, 64, 256}) {
        for (double gbps : new double[] {10, 25}) {
          double link = 8 / (gbps * 1e9);
          double here = Math.max(link, beta);
          int d = TreeReduce.depth(P);
          out.printf(Locale.ROOT, "%-12s %5d %6.0f %12.1f %12.1f %10.1f %12.1f %12.1f%n", key, P, gbps, star(P, G, alpha, link) * 1e3,
              tree(d, G, alpha, link) * 1e3, star(P, G, alpha, link) / tree(d, G, alpha, link), star(P, G, alpha, here) * 1e3,
              tree(d, G, alpha, here) * 1e3);
        }
      }
    }
  }

  /** T_tree for the tree of depth d: two streams in and two out on the busiest task's link, the driver's G in and out, a chunk per level. */
  static double tree(int d, double gradientBytes, double alpha, double beta) {
    return (2.0 * d + 2) * alpha + (6 * gradientBytes + 2.0 * d * Math.min(gradientBytes, 8.0 * TreeReduce.CHUNK)) * beta;
  }

  /** T_star: P gradients into the driver, the total out to each of P. */
  static double star(int partitions, double gradientBytes, double alpha, double beta) {
    return 2 * alpha + 2.0 * partitions * gradientBytes * beta;
  }
}
