package io.sparkrnn.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import org.junit.jupiter.api.Test;

/** The class comment's refusals: an estimate above the heap left, and a count one Java array cannot hold. */
class MemoryBudgetTest {
  /** More than the JVM's whole maximum heap is more than what is left, whatever is in use; a byte is not. */
  @Test
  void anEstimateAboveTheHeapIsRefusedNamingItAndTheAdvice() {
    long heap = Runtime.getRuntime().maxMemory();
    BadInputException e = assertThrows(BadInputException.class,
        () -> MemoryBudget.require("generate --steps 2000000000 for 1 sequence", heap + 1, "generate fewer steps"));
    assertTrue(e.getMessage().startsWith("generate --steps 2000000000 for 1 sequence needs about ")
        && e.getMessage().contains("generate fewer steps, or give it more heap"), e.getMessage());
    MemoryBudget.require("one byte", 1, "unused");
    assertTrue(MemoryBudget.available() <= heap, "what is left is at most the maximum");
    assertTrue(MemoryBudget.available() > 0, "a running JVM has heap left");
  }

  /**
   * The largest array the JVM allocates has Integer.MAX_VALUE − 8 elements (HadoopFiles.MAX_BYTES
   * is the same limit for bytes): that many is allowed, one more refused.
   */
  @Test
  void oneArrayHoldsAtMostMaxValueLessEightElements() {
    MemoryBudget.requireOneArray("h", Integer.MAX_VALUE - 8L, "unused");
    BadInputException e = assertThrows(BadInputException.class,
        () -> MemoryBudget.requireOneArray("the primer", Integer.MAX_VALUE - 7L, "use a shorter primer"));
    assertEquals("the primer is " + (Integer.MAX_VALUE - 7L) + " values, more than one array holds (2^31 − 1); use a shorter primer",
        e.getMessage());
    assertThrows(BadInputException.class, () -> MemoryBudget.requireOneArray("x", 3L << 31, "unused"));
  }

  /** Megabytes in messages round up (an estimate of 1 byte is "1 MB", never "0 MB"): ⌈bytes / 2^20⌉. */
  @Test
  void megabytesRoundUp() {
    assertEquals(String.format("%,d MB", 0), MemoryBudget.mb(0));
    assertEquals(String.format("%,d MB", 1), MemoryBudget.mb(1));
    assertEquals(String.format("%,d MB", 1), MemoryBudget.mb(1L << 20));
    assertEquals(String.format("%,d MB", 2), MemoryBudget.mb((1L << 20) + 1));
    assertEquals(String.format("%,d MB", 3072), MemoryBudget.mb(3L << 30));
  }
}
