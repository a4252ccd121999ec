package io.sparkrnn.kernel.aparapi;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;

/**
 * Work-group sizes per device kind.
 *
 * <p>The recurrent ops run one work-group per sequence with a barrier per step, each work item
 * handling units j = lid, lid + L, ...; so any H works with any local size L. On the Java thread
 * pool a work item is a Java thread and a barrier is a thread rendezvous, so the JVM uses as many
 * items per group as there are cores (more only adds contention).
 */
record KernelSizes(int elementwise, int recurrent) {
  /** The largest local size used on the Java thread pool. */
  static final int JVM_MAX_LOCAL = 8;

  static KernelSizes forDevice(Device device, int hidden) {
    if (device instanceof OpenCLDevice cl) {
      int max = Math.max(1, Math.min(cl.getMaxWorkGroupSize(), 256));
      if (cl.getType() == Device.TYPE.GPU) {
        // 32-wide warps: round H up to a warp multiple, at most 256 items per sequence.
        return new KernelSizes(Math.min(128, max), Math.min(max, roundUp(hidden, 32)));
      }
      // OpenCL CPU (PoCL): work items of a group become vectorised loops; a group per sequence
      // already spreads the recurrence over cores.
      return new KernelSizes(Math.min(64, max), Math.min(max, Math.min(64, roundUp(hidden, 8))));
    }
    int cores = Math.max(1, Math.min(JVM_MAX_LOCAL, Runtime.getRuntime().availableProcessors()));
    return new KernelSizes(cores, Math.min(cores, hidden));
  }

  static int roundUp(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
  }
}
