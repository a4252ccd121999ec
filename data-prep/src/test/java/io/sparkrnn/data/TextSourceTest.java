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
    // é in Latin-1 is the byte 0xE9, which opens a three-byte UTF-8 sequence that ' ' cannot continue
    refused(() -> new TextSource(new TextSource.Options(bad.toString(), 2, 0), conf),
        "latin1.txt: not valid UTF-8 at byte offset 3 (line 1): 0xE9 begins no UTF-8 character; expected UTF-8 text");
    Path second = Files.write(tmp.resolve("line2.txt"), new byte[] {'o', 'k', '\n', 'a', (byte) 0xC3, (byte) 0xA9, (byte) 0xFF, 'b'});
    refused(() -> new TextSource(new TextSource.Options(second.toString(), 2, 0), conf),
        "line2.txt: not valid UTF-8 at byte offset 6 (line 2): 0xFF begins");
    // a sequence cut short by the end of the file
    Path cut = Files.write(tmp.resolve("cut.txt"), new byte[] {'a', 'b', 'c', (byte) 0xE2, (byte) 0x82});
    refused(() -> new TextSource(new TextSource.Options(cut.toString(), 2, 0), conf),
        "cut.txt: not valid UTF-8 at byte offset 3 (line 1): 0xE2 0x82 begins");
  }
}
