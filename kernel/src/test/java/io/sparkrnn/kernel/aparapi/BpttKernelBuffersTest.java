package io.sparkrnn.kernel.aparapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.aparapi.Kernel;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link BpttKernel#BUFFER_NAMES}, {@link BpttKernel#buffers} and {@link BpttKernel#setBuffer} are
 * three hand-kept lists of the kernel's global arrays (reflection in the kernel class itself is out:
 * Aparapi translates it). The engine's move checks ({@link ArrayMoves}) and its error messages rely
 * on all three naming the same field at the same index, and on no global array being left out.
 * This reads the fields by reflection and checks every index.
 */
class BpttKernelBuffersTest {

  /** The kernel's global array fields in declaration order: non-static arrays without {@code @Local}. */
  private static List<Field> globalArrays() {
    List<Field> fields = new ArrayList<>();
    for (Field f : BpttKernel.class.getDeclaredFields()) {
      if (f.getType().isArray() && !Modifier.isStatic(f.getModifiers()) && !f.isAnnotationPresent(Kernel.Local.class)) {
        f.setAccessible(true);
        fields.add(f);
      }
    }
    return fields;
  }

  @Test
  void namesBuffersAndSettersAgreeWithTheFields() throws Exception {
    List<Field> fields = globalArrays();
    assertEquals(fields.stream().map(Field::getName).toList(), BpttKernel.BUFFER_NAMES,
        "BUFFER_NAMES must list every global array field, in declaration order");

    BpttKernel kernel = new BpttKernel();
    try {
      Object[] buffers = kernel.buffers();
      assertEquals(fields.size(), buffers.length, "buffers() must return every global array");
      for (int i = 0; i < fields.size(); i++) {
        Field f = fields.get(i);
        assertSame(f.get(kernel), buffers[i], "buffers()[" + i + "] must be the field " + f.getName());
        // A fresh array of the field's type, larger than the placeholder, so it cannot be mistaken for it.
        Object replacement = Array.newInstance(f.getType().getComponentType(), 3 + i);
        Object before = f.get(kernel);
        assertSame(before, kernel.setBuffer(i, replacement), "setBuffer(" + i + ") must return the old " + f.getName());
        assertSame(replacement, f.get(kernel), "setBuffer(" + i + ") must set the field " + f.getName());
        assertSame(replacement, kernel.buffers()[i], "buffers()[" + i + "] after setBuffer");
      }
    } finally {
      kernel.dispose();
    }
  }
}
