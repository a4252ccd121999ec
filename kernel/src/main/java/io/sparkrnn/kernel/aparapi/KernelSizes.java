package io.sparkrnn.kernel.aparapi;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;

/**
 * Work-group and tile sizes, chosen from the device's limits.
 *
 * <p>A product's work-group computes a TM × TN tile of C with TM·TN/16 work items (a 4 × 4 block
 * each, see {@link BpttKernel#gemm()}) and stages TK columns of A and TK rows of B at a time in
 * local memory: (TM + TN)·TK floats. The sizes:
 * <ul>
 *   <li>GPU: TM = TN = 32 (64 items, two 32-wide warps): small tiles, so that a per-step product of
 *       B = 64 rows by GH = 1024 columns makes 64 work-groups rather than 16 (an H200 has 132 SMs);
 *       TK the largest of 32, 16, 8 whose tiles fit a quarter of the local memory, so that several
 *       groups share an SM.</li>
 *   <li>OpenCL CPU (PoCL): TM = TN = 64 (256 items, which PoCL runs as vectorised loops; one group
 *       per core at a time); local memory is ordinary cached memory there, and each k block costs a
 *       barrier (PoCL saves every item's 16 sums across it), so TK as large as fits an eighth of the
 *       local memory, at most 256 (within L2).</li>
 *   <li>The Java thread pool: a work item is a thread and a barrier a rendezvous, so 8 items
 *       (TM = 8, TN = 16) and TK = 64.</li>
 * </ul>
 * Every choice keeps TM·TN/16 within the device's maximum work-group size and a multiple of 8 (the
 * preferred multiple of PoCL and NVIDIA, where a 32-wide warp holds four).
 *
 * @param elementwise local size of the pointwise ops (one item per element)
 * @param tileM rows of C per work-group, a multiple of 4
 * @param tileN columns of C per work-group, a multiple of 4
 * @param tileK the k block staged in local memory at a time
 * @param localMemBytes the device's local memory, as reported (0 for the JVM)
 */
record KernelSizes(int elementwise, int tileM, int tileN, int tileK, long localMemBytes) {
  /** The largest local size used on the Java thread pool. */
  static final int JVM_MAX_LOCAL = 8;

  static KernelSizes forDevice(Device device) {
    if (device instanceof OpenCLDevice cl) {
      int max = Math.max(1, Math.min(cl.getMaxWorkGroupSize(), 256));
      long local = cl.getLocalMemSize();
      if (cl.getType() == Device.TYPE.GPU) {
        int tile = max >= 64 ? 32 : 16;
        return new KernelSizes(Math.min(128, max), tile, tile, largestTileK(local / 4, tile, tile, 32, 8), local);
      }
      int tile = max >= 256 ? 64 : max >= 64 ? 32 : 16;
      return new KernelSizes(Math.min(64, max), tile, tile, largestTileK(local / 8, tile, tile, 256, 8), local);
    }
    return new KernelSizes(JVM_MAX_LOCAL, 8, 16, 64, 0);
  }

  /** The largest power of two in [lowest, highest] with (TM + TN)·TK floats ≤ budget bytes; lowest if none fits. */
  private static int largestTileK(long budgetBytes, int tileM, int tileN, int highest, int lowest) {
    int k = highest;
    while (k > lowest && 4L * (tileM + tileN) * k > budgetBytes) {
      k /= 2;
    }
    return k;
  }

  /** Work items per product work-group: TM·TN/16. */
  int gemmLocal() {
    return tileM * tileN / (BpttKernel.MICRO * BpttKernel.MICRO);
  }

  /** Work-groups of an M × N product. */
  int gemmGroups(int m, int n) {
    return ((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
  }

  /** e.g. "tiles 64x64 k 256 (256 items), pointwise 64 items, local memory 2048 KiB". */
  String describe() {
    return "tiles " + tileM + "x" + tileN + " k " + tileK + " (" + gemmLocal() + " items), pointwise " + elementwise + " items"
        + (localMemBytes > 0 ? ", local memory " + localMemBytes / 1024 + " KiB" : "");
  }

  static int roundUp(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
  }
}
