package io.sparkrnn.data;

import static io.sparkrnn.data.TestFiles.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.data.source.TextSource;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TextSource against its class comment: sequence i covers code points [i·stride, i·stride + T],
 * N = ⌊(len − T − 1) / stride⌋ + 1, the vocabulary has 2 or more symbols, the text is valid UTF-8.
 */
class TextSourceTest {
  @TempDir Path tmp;
  final Configuration conf = TestFiles.localConf();

  private String text(String name, String s) throws IOException {
    return Files.writeString(tmp.resolve(name), s).toString();
  }

  /** 12 code points, T = 4, stride 4: N = ⌊(12 − 4 − 1) / 4⌋ + 1 = 2 (a third window would need code point 12). */
  @Test
  void theSequenceCountLeavesRoomForTheLastTarget() throws IOException {
    TextSource s = new TextSource(new TextSource.Options(text("twelve.txt", "abcdefghijkl"), 4, 0), conf);
    assertEquals(2, s.count());
    Batch b = s.read(1, 1, conf);
    // vocabulary a..l sorted: id k is the k-th letter; window 1 covers e..i
    assertEquals(1f, b.x()[b.xAt(0, 0, 4)], "x_0 is 'e'");
    assertEquals(8, b.classes()[3], "y_3 is 'i'");
  }

  /** Stride 2, T = 3: window 1 starts at code point 2 ("c"), whatever T is. */
  @Test
  void windowsStartAStrideApart() throws IOException {
    TextSource s = new TextSource(new TextSource.Options(text("abc.txt", "abcdefg"), 3, 2), conf);
    assertEquals(2, s.count(), "⌊(7 − 3 − 1) / 2⌋ + 1");
    Batch b = s.read(1, 1, conf);
    assertEquals(1f, b.x()[b.xAt(0, 0, 2)], "x_0 is 'c'");
    assertEquals(5, b.classes()[2], "y_2 is 'f'");
  }

  @Test
  void tooShortOneSymbolOrInvalidTextIsRefused() throws IOException {
    refused(() -> new TextSource(new TextSource.Options(text("four.txt", "abcd"), 4, 0), conf),
        "four.txt: 4 characters, need at least T+1 = 5");
    refused(() -> new TextSource(new TextSource.Options(text("same.txt", "aaaaaa"), 2, 0), conf),
        "same.txt: 1 distinct characters");
    Path bad = Files.write(tmp.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9, ' ', 'o', 'k'});
    // é in Latin-1 is the byte 0xE9, which starts a three-byte UTF-8 character that ' ' (0x20) cannot continue
    refused(() -> new TextSource(new TextSource.Options(bad.toString(), 2, 0), conf),
        "latin1.txt: not valid UTF-8 at byte offset 3 (line 1): 0xE9 starts a 3-byte character that 0x20 at byte offset 4"
        + " does not continue; expected UTF-8 text");
    // 0xFF starts no character; lines end at \n, \r\n or a lone \r: 0xFF is on line 4
    Path second = Files.write(tmp.resolve("line4.txt"),
        new byte[] {'o', 'k', '\n', 'a', '\r', '\n', 'b', '\r', (byte) 0xC3, (byte) 0xA9, (byte) 0xFF, 'b'});
    refused(() -> new TextSource(new TextSource.Options(second.toString(), 2, 0), conf),
        "line4.txt: not valid UTF-8 at byte offset 10 (line 4): 0xFF is not a byte a UTF-8 character starts with");
    // a character cut short by the end of the file: 0xE2 0x82 0xAC is €
    Path cut = Files.write(tmp.resolve("cut.txt"), new byte[] {'a', 'b', 'c', (byte) 0xE2, (byte) 0x82});
    refused(() -> new TextSource(new TextSource.Options(cut.toString(), 2, 0), conf),
        "cut.txt: not valid UTF-8 at byte offset 3 (line 1): 0xE2 0x82 starts a 3-byte character that the end of the file"
        + " cuts short");
    // the first three bytes of a four-byte character (U+1F600) and then 'b'
    Path four = Files.write(tmp.resolve("emoji.txt"), new byte[] {'a', (byte) 0xF0, (byte) 0x9F, (byte) 0x98, 'b', 'c'});
    refused(() -> new TextSource(new TextSource.Options(four.toString(), 2, 0), conf),
        "emoji.txt: not valid UTF-8 at byte offset 1 (line 1): 0xF0 0x9F 0x98 starts a 4-byte character that 0x62 at byte"
        + " offset 4 does not continue");
  }
}
