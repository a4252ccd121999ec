package io.sparkrnn.kernel.aparapi;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;
import io.sparkrnn.kernel.BadInputException;

/**
 * Work-group and tile sizes, chosen from the device's limits.
 *
 * <p>A product's work-group computes a TM × TN tile of C with (TM/4)·(TN/8) work items (a 4 × 8
 * block each, see {@link BpttKernel}'s gemm) and stages TK columns of A and TK rows of B at a time
 * in local memory: (TM + TN)·TK floats, which must also hold the TM × TN C tile at the end. The
 * square sizes (skinny products narrow them, {@link #tileFor}):
 * <ul>
 *   <li>GPU: TM = 32, TN = 64 (64 items, two 32-wide warps; 16 × 32 and 16 items where a group
 *       may hold fewer than 64): small tiles, so that a per-step product of B = 64 rows by
 *       GH = 1024 columns makes 32 work-groups rather than 16; TK the largest of 32, 16, 8 whose
 *       tiles fit a quarter of the local memory, so that several groups share an SM, but never
 *       below the TK whose (TM + TN)·TK floats hold the C tile ({@link #leastTileK}: 32 for 32 × 64),
 *       which then takes more than a quarter (12 KiB of a 32 KiB device: ARM Mali, Adreno).</li>
 *   <li>OpenCL CPU (PoCL): TM = TN = 64 (128 items; PoCL runs the items of a group as a loop, one
 *       group per core at a time); local memory is ordinary cached memory there, so TK as large as
 *       fits an eighth of it, at most 256 (the tiles then stay within L2: 128 KiB), and at least 32
 *       (16 KiB, more than an eighth of a runtime that reports 32 KiB, as Intel's CPU runtime does).</li>
 *   <li>The Java thread pool: a work item is a thread and a barrier a rendezvous, so 8 items
 *       (TM = 8, TN = 32) and TK = 64.</li>
 * </ul>
 * The items per group stay within the device's maximum work-group size (at most 256) and, where
 * that allows 8 or more, a multiple of 8 (the preferred multiple of PoCL; NVIDIA's warp is 32). A
 * device whose local memory cannot hold even the least TK's tiles gets a smaller tile (halved as
 * for the work-group limit); one that cannot hold a 4 × 8 tile's is refused, naming its local memory.
 *
 * @param elementwise local size of the pointwise ops (one item per element)
 * @param tileM rows of C per work-group, a multiple of 4
 * @param tileN columns of C per work-group, a multiple of 8
 * @param tileK the k block staged in local memory at a time
 * @param localMemBytes the device's local memory, as reported (0 for the JVM)
 */
record KernelSizes(int elementwise, int tileM, int tileN, int tileK, long localMemBytes) {
  /** The largest local size used on the Java thread pool. */
  static final int JVM_MAX_LOCAL = 8;

  KernelSizes {
    if (tileM % BpttKernel.MICRO_M != 0 || tileN % BpttKernel.MICRO_N != 0 || tileK < 1
        || (long) tileM * tileN > (long) (tileM + tileN) * tileK) {
      throw new BadInputException("TM must be a multiple of " + BpttKernel.MICRO_M + ", TN of " + BpttKernel.MICRO_N
          + ", and (TM + TN)·TK must hold a TM × TN tile; found TM=" + tileM + " TN=" + tileN + " TK=" + tileK);
    }
  }

  static KernelSizes forDevice(Device device) {
    if (device instanceof OpenCLDevice cl) {
      return forOpenCl(cl.getType() == Device.TYPE.GPU, cl.getMaxWorkGroupSize(), cl.getLocalMemSize());
    }
    return new KernelSizes(JVM_MAX_LOCAL, 8, 32, 64, 0);
  }

  /**
   * The sizes for an OpenCL device of this kind and limits. Below the usual limits (a group of
   * fewer than 16 items on a GPU, 32 on a CPU: rare, but a driver may say so, and PoCL does under
   * POCL_MAX_WORK_GROUP_SIZE) the tile halves, its wider side first, down to one 4 × 8 block per
   * group: a launch whose group is larger than the device's maximum fails.
   */
  static KernelSizes forOpenCl(boolean gpu, int maxWorkGroupSize, long localMemBytes) {
    int max = Math.max(1, Math.min(maxWorkGroupSize, 256));
    int tm = gpu ? (max >= 64 ? 32 : 16) : (max >= 128 ? 64 : 32);
    int tn = gpu ? 2 * tm : tm;
    // halve until the group fits the device's work-group limit, then until its smallest local tile
    // fits the device's local memory (a device below OpenCL's 32 KiB minimum, or one reporting less)
    while (items(tm, tn) > max || (tm + tn > BpttKernel.MICRO_M + BpttKernel.MICRO_N
        && leastTileBytes(tm, tn) > localMemBytes)) {
      if (tn / BpttKernel.MICRO_N >= tm / BpttKernel.MICRO_M && tn > BpttKernel.MICRO_N) {
        tn /= 2;
      } else {
        tm /= 2;
      }
    }
    if (leastTileBytes(tm, tn) > localMemBytes) {
      throw new BadInputException("the OpenCL " + (gpu ? "GPU" : "CPU device") + " reports " + localMemBytes
          + " bytes of local memory; its smallest product tile (" + tm + " x " + tn + ") needs "
          + leastTileBytes(tm, tn) + ". Choose --device jvm");
    }
    return gpu ? new KernelSizes(Math.min(128, max), tm, tn, tileK(localMemBytes, 4, tm, tn, 32), localMemBytes)
        : new KernelSizes(Math.min(64, max), tm, tn, tileK(localMemBytes, 8, tm, tn, 256), localMemBytes);
  }

  /** Bytes of a float in the local tile array. */
  private static final long TILE_BYTES = 4;

  private static int items(int tileM, int tileN) {
    return tileM / BpttKernel.MICRO_M * (tileN / BpttKernel.MICRO_N);
  }

  /**
   * The smallest TK the kernel can use with a TM × TN tile: a power of two, at least 8, with
   * (TM + TN)·TK ≥ TM·TN, since the local array that stages A and B also holds the C tile at the end
   * (32 × 64 → 32, since 96·16 < 2048; 64 × 64 → 32; 16 × 32 → 16).
   */
  static int leastTileK(int tileM, int tileN) {
    int k = 8;
    while ((long) (tileM + tileN) * k < (long) tileM * tileN) {
      k *= 2;
    }
    return k;
  }

  /** Bytes of the local array a TM × TN tile needs at the least TK: (TM + TN)·leastTileK floats. */
  private static long leastTileBytes(int tileM, int tileN) {
    return TILE_BYTES * (tileM + tileN) * leastTileK(tileM, tileN);
  }

  /**
   * The largest power of two TK in [{@link #leastTileK}, highest] whose (TM + TN)·TK floats fit
   * 1/share of the local memory, so that several groups share a compute unit; where none does, the
   * least TK (the caller has checked that its tiles fit the whole local memory).
   */
  private static int tileK(long localMemBytes, int share, int tileM, int tileN, int highest) {
    int least = leastTileK(tileM, tileN);
    int k = Math.max(highest, least);
    while (k > least && TILE_BYTES * (tileM + tileN) * k > localMemBytes / share) {
      k /= 2;
    }
    return k;
  }

  /** The tile of one product launch: TM × TN of C, k blocks of TK. */
  record Tile(int m, int n, int k) {}

  /**
   * The tile for an M × N product. The square one unless M or N is smaller: then the tile narrows
   * to the smallest power of two that covers it (at least 4 rows or 8 columns) and widens the other
   * way up to the same area TM·TN, no wider than that side needs and no wider than a quarter of it
   * (but at least the square's side), so that the product still has 4 work-groups for the cores or
   * compute units; TK grows to fill the same local memory (TM + TN)·TK, rounded down to a multiple of 8.
   * E.g. on PoCL (64 × 64 tiles, TK = 128: local memory 512 KiB) a bias gradient (M = 1, N = GH = 1024) gets 4 × 256 tiles
   * with TK = 16384 / 260 rounded down to 56, instead of 64 × 64 tiles that would
   * compute 63 of every 64 rows for nothing (a single 4 × 1024 tile ran on one of the two cores).
   * A narrowed tile may have fewer work items than {@link #gemmLocal()}, never more.
   */
  Tile tileFor(int m, int n) {
    int area = tileM * tileN;
    long budget = (long) (tileM + tileN) * tileK;
    int tm = tileM;
    int tn = tileN;
    if (m < tileM && m <= n) {
      tm = powerOfTwoAtLeast(m, BpttKernel.MICRO_M);
      tn = Math.min(Math.min(area / tm, powerOfTwoAtLeast(n, BpttKernel.MICRO_N)), Math.max(tileN, powerOfTwoAtLeast((n + 3) / 4, 1)));
    } else if (n < tileN) {
      tn = powerOfTwoAtLeast(n, BpttKernel.MICRO_N);
      tm = Math.min(Math.min(area / tn, powerOfTwoAtLeast(m, BpttKernel.MICRO_M)), Math.max(tileM, powerOfTwoAtLeast((m + 3) / 4, 1)));
    }
    // a multiple of 8 where it can be, so that B's tile rows (TN apart, from TM·TK) stay 32-byte aligned for vector loads
    int tk = (int) Math.max(1, budget / (tm + tn));
    if (tk > 8) {
      tk = tk / 8 * 8;
    }
    return new Tile(tm, tn, tk);
  }

  private static int powerOfTwoAtLeast(int size, int lowest) {
    int t = lowest;
    while (t < size) {
      t *= 2;
    }
    return t;
  }

  /** Floats of the local tile array: (TM + TN)·TK, which also holds a TM × TN C tile (checked in the constructor). */
  int localFloats() {
    return (tileM + tileN) * tileK;
  }

  /** Work items per product work-group: (TM/4)·(TN/8), the same for every {@link #tileFor} tile. */
  int gemmLocal() {
    return items(tileM, tileN);
  }

  /** e.g. "tiles 64x64 k 256 (128 items), pointwise 64 items, local memory 2048 KiB". */
  String describe() {
    return "tiles " + tileM + "x" + tileN + " k " + tileK + " (" + gemmLocal() + " items), pointwise " + elementwise + " items"
        + (localMemBytes > 0 ? ", local memory " + localMemBytes / 1024 + " KiB" : "");
  }

  static int roundUp(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
  }
}
