package io.sparkrnn.kernel.aparapi;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.logging.Logger;

/**
 * Whether the garbage collector moved any of a set of Java arrays between two points: the check
 * that keeps Aparapi's device buffers honest.
 *
 * <p>Why: Aparapi 3.0.2 (native library 1.4.3) creates each array's OpenCL buffer with
 * {@code CL_MEM_USE_HOST_PTR} on the array's address, and notices a move only at the start of
 * {@code execute()} (it compares the address it pinned last time with the one it pins now). Between
 * launches the arrays are not pinned, so a collection may move them. Then:
 * <ul>
 *   <li>{@code get()} pins the array at its new address B and reads the buffer, whose storage on
 *       PoCL is still the old address A, already free heap: the host gets whatever the JVM put
 *       there since (seen: one element of the final state wrong in about 50,000 calls; under
 *       collection pressure with the Parallel collector, a JVM crash in marking, the kernel having
 *       written into A). It also records B as the pinned address, so the next launch sees no move
 *       and keeps using A.
 *   <li>on a device with its own memory the buffer made at the new address starts from the host
 *       copy: what earlier launches of the same call left on the device is lost.
 * </ul>
 * {@code setSharedMemory(false)} ({@code CL_MEM_COPY_HOST_PTR}) avoids the first but not the second,
 * and under heavy collection pressure gave wrong first calls on PoCL (most likely arrays just
 * grown, young, moving between launches); so the engine keeps Aparapi's default and checks instead: it
 * marks its arrays before a call's launches and asks after its last read whether any moved; if so,
 * it makes Aparapi drop the buffers of the moved arrays it reads back and runs the call again
 * ({@code AparapiEngine.renewMoved}).
 *
 * <p>How: where {@code sun.misc.Unsafe} is available (module jdk.unsupported, which Spark needs
 * too), the mark is each array's reference as stored in a heap slot (a compressed or full pointer):
 * it changes exactly when the object moves, under the stop-the-world compacting collectors (G1,
 * Parallel, Serial) and Shenandoah. ZGC before JDK 21 stores a colour in bits 42–45 (or up to 47) of
 * a reference, which change between its phases without a move: there the mark keeps only the
 * offset bits below (clamp(⌈log₂(16 · max heap)⌉, 42, 44) of them, the layout of zGlobals_x86 in
 * JDK 17). Generational ZGC (JDK 21 and later) keeps the colour elsewhere; there the raw bits are
 * compared and calls are run again more often than needed (correct, slower; warned once). Without
 * Unsafe, the mark is the number of collections so far, and any collection counts as a move
 * (conservative: the call is run again after every collection that overlapped it).
 */
final class ArrayMoves {
  private static final Logger LOG = Logger.getLogger(ArrayMoves.class.getName());
  /**
   * How to read a reference slot raw: {@code read} takes (holder, offset) and returns the int
   * (compressed pointer) or long stored there; {@code offset} is element 0 of an Object[].
   */
  private record Slot(MethodHandle read, long offset) {}

  /** Null: no Unsafe. */
  private static final Slot SLOT = slot();
  /** The bits of a reference that name the object's place ({@code -1}: all; ZGC before JDK 21: its offset bits). */
  private static final long ADDRESS_BITS = addressBits();

  private ArrayMoves() {}

  /** Whether moves are seen array by array (else: by the number of collections). */
  static boolean precise() {
    return SLOT != null;
  }

  /** The mark of each array now (or, without Unsafe, one entry: the collection count). */
  static long[] mark(Object[] arrays) {
    if (SLOT == null) {
      return new long[] {collections()};
    }
    long[] m = new long[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      m[i] = where(arrays[i]);
    }
    return m;
  }

  /**
   * Which arrays moved since {@code mark} (without Unsafe: all of them when any collection ran
   * since). The arrays must be the objects that were marked.
   */
  static boolean[] moved(Object[] arrays, long[] mark) {
    boolean[] moved = new boolean[arrays.length];
    if (SLOT == null) {
      Arrays.fill(moved, collections() != mark[0]);
      return moved;
    }
    for (int i = 0; i < arrays.length; i++) {
      moved[i] = where(arrays[i]) != mark[i];
    }
    return moved;
  }

  /** Whether any of the arrays moved since {@code mark}. */
  static boolean anyMoved(Object[] arrays, long[] mark) {
    for (boolean m : moved(arrays, mark)) {
      if (m) {
        return true;
      }
    }
    return false;
  }

  /** The reference to o as the heap stores it: a one-slot holder's slot read raw. */
  private static long where(Object o) {
    Object[] holder = {o};
    try {
      return ((long) SLOT.read().invokeExact(holder, SLOT.offset())) & ADDRESS_BITS;
    } catch (Throwable e) {
      throw new IllegalStateException("reading a reference slot failed", e);
    }
  }

  /** The collectors of this JVM, as their management beans name them (e.g. "G1 Young Generation, G1 Old Generation"). */
  static String collectors() {
    StringBuilder names = new StringBuilder();
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      names.append(names.length() == 0 ? "" : ", ").append(gc.getName());
    }
    return names.toString();
  }

  private static long addressBits() {
    if (!collectors().contains("ZGC")) {
      return -1;
    }
    if (Runtime.version().feature() >= 21) {
      LOG.warning("under ZGC on JDK " + Runtime.version().feature() + " the OpenCL engine cannot tell a moved buffer from"
          + " a recoloured reference, so it runs calls again after ZGC's phases more often than needed (G1 does not)");
      return -1;
    }
    // ZGC's offset bits (JDK 17 zGlobals_x86): clamp(log2(round_up_power_of_2(MaxHeapSize * 16)), 42, 44)
    long span = Runtime.getRuntime().maxMemory() * 16;
    int bits = 64 - Long.numberOfLeadingZeros(span - 1);
    bits = Math.max(42, Math.min(44, bits));
    return (1L << bits) - 1;
  }

  private static long collections() {
    long n = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      n += Math.max(0, gc.getCollectionCount());
    }
    return n;
  }

  /** Unsafe.getInt or getLong (by the width of a reference slot) as (Object[], long) → long, and the offset; null when unavailable. */
  private static Slot slot() {
    try {
      Object unsafe = theUnsafe();
      Class<?> type = unsafe.getClass();
      MethodHandles.Lookup lookup = MethodHandles.publicLookup();
      int scale = (int) lookup.findVirtual(type, "arrayIndexScale", MethodType.methodType(int.class, Class.class))
          .invoke(unsafe, Object[].class);
      int base = (int) lookup.findVirtual(type, "arrayBaseOffset", MethodType.methodType(int.class, Class.class))
          .invoke(unsafe, Object[].class);
      MethodHandle read;
      if (scale == 4) {
        // a compressed pointer: read as int, widened without sign so that equal bits compare equal
        read = lookup.findVirtual(type, "getInt", MethodType.methodType(int.class, Object.class, long.class)).bindTo(unsafe);
        read = MethodHandles.filterReturnValue(read,
            MethodHandles.lookup().findStatic(Integer.class, "toUnsignedLong", MethodType.methodType(long.class, int.class)));
      } else {
        read = lookup.findVirtual(type, "getLong", MethodType.methodType(long.class, Object.class, long.class)).bindTo(unsafe);
      }
      MethodHandle reader = read.asType(MethodType.methodType(long.class, Object[].class, long.class));
      // one read now: a JDK that denies Unsafe's memory access (JEP 471, later releases) says so here, not mid-call
      long probe = (long) reader.invokeExact(new Object[] {new Object()}, (long) base);
      if (probe == 0) {
        throw new IllegalStateException("a reference read back as 0");
      }
      return new Slot(reader, base);
    } catch (Throwable e) {
      LOG.warning("sun.misc.Unsafe is not available (" + e + "): the OpenCL engine runs a call again after every garbage"
          + " collection that overlapped it, as it cannot tell whether its arrays moved");
      return null;
    }
  }

  private static Object theUnsafe() throws ReflectiveOperationException {
    Class<?> type = Class.forName("sun.misc.Unsafe");
    Field f = type.getDeclaredField("theUnsafe");
    f.setAccessible(true);
    return f.get(null);
  }
}
