package io.sparkrnn.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file-system readers (how a model is loaded): the whole file read back, its path in every error. */
class SafeTensorsPathTest {
  private static final List<Tensor> TENSORS = List.of(
      Tensor.ofFloats("w", new int[] {2, 2}, new float[] {1f, -2f, 0.5f, 3f}),
      Tensor.ofInts("ids", new int[] {3}, new int[] {7, -1, 9}));

  @Test
  void aWrittenFileReadsBackFromItsPath(@TempDir Path dir) throws IOException {
    Path p = dir.resolve("m.safetensors");
    Files.write(p, SafeTensors.toBytes(Map.of("k", "v"), TENSORS));
    SafeTensorsFile f = SafeTensors.read(p);
    assertEquals(p.toString(), f.source());
    assertEquals("v", f.metadata().get("k"));
    assertArrayEquals(new float[] {1f, -2f, 0.5f, 3f}, f.requireFloat("w", 2, 2).floats(), 0f);
    // the last byte of the file is the last int's top byte: it must have been read too (9 = 0x00000009)
    assertArrayEquals(new int[] {7, -1, 9}, f.requireInt("ids", 3).ints());
  }

  @Test
  void aDirectoryIsRefusedNamingIt(@TempDir Path dir) {
    IOException e = assertThrows(IOException.class, () -> SafeTensors.read(dir));
    assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("is a directory"), e.getMessage());
  }

  @Test
  void aStreamThatEndsBeforeItsSizeIsRefusedAsTruncated() {
    byte[] file = SafeTensors.toBytes(Map.of(), TENSORS);
    byte[] cut = Arrays.copyOf(file, file.length - 3);
    // the file system said file.length bytes; the stream gives 3 fewer
    EOFException e = assertThrows(EOFException.class,
        () -> SafeTensors.read(new ByteArrayInputStream(cut), file.length, "m.safetensors"));
    assertTrue(e.getMessage().startsWith("m.safetensors: file ended after " + cut.length + " bytes, expected " + file.length),
        e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }
}
