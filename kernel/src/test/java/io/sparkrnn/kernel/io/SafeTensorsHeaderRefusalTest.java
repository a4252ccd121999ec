package io.sparkrnn.kernel.io;

import static io.sparkrnn.kernel.io.SafeTensorsDecodeTest.longs;
import static io.sparkrnn.kernel.io.SafeTensorsDecodeTest.oneTensor;
import static io.sparkrnn.kernel.io.SafeTensorsLayoutTest.file;
import static io.sparkrnn.kernel.io.SafeTensorsLayoutTest.refused;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Damaged or hostile files are refused as bad input naming the file (the class comment: "readers
 * validate everything before allocating"), not read into a wrong tensor and not failed with an
 * index error from inside the decoder.
 */
class SafeTensorsHeaderRefusalTest {

  @Test
  void aFileShorterThanTheEightByteHeaderLengthIsRefused() {
    // 5 bytes: the little-endian u64 header length alone needs 8
    refused(new byte[5], "w.safetensors", "5 bytes", "too short");
  }

  @Test
  void aHeaderLengthReachingPastTheEndOfTheFileIsRefused() {
    // a whole file cut inside its header: the length field still says 60 header bytes, 20 remain
    byte[] whole = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    byte[] cut = Arrays.copyOf(whole, 28);
    refused(cut, "w.safetensors", "header length is impossible", "28 bytes", "truncated");
    // header length = file size − 7: one byte more than there is after the length field
    byte[] claim = new byte[16];
    ByteBuffer.wrap(claim).order(ByteOrder.LITTLE_ENDIAN).putLong(9);
    refused(claim, "w.safetensors", "header length is impossible");
  }

  @Test
  void dataOffsetsOutsideTheDataSectionAreRefusedAsTruncation() {
    // 4 data bytes, the tensor says [0, 8): the file lost its last 4 bytes
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4),
        "w.safetensors", "'a'", "[0, 8]", "outside the 4 data bytes", "truncated");
    // a negative begin with the right length (8 bytes for [2] of F32) is no offset into the data
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}", 4),
        "w.safetensors", "'a'", "[-4, 4]", "outside");
  }

  @Test
  void dataOffsetsMustBeExactlyBeginAndEnd() {
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4),
        "w.safetensors", "'a'", "data_offsets [begin, end]");
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
        "w.safetensors", "'a'", "data_offsets [begin, end]");
  }

  @Test
  void aShapeWhoseElementCountOverflowsALongIsRefusedBeforeAllocating() {
    // 65536^4 = 2^64 elements: the product wraps to 0 in a long, so offsets [0, 0] would "fit"
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,0]}}", 0),
        "w.safetensors", "'a'", "claims more than");
  }

  @Test
  void aDimensionBeyondInt32IsRefused() {
    // 2^32 + 1 = 4294967297 would wrap to 1 in an int, and the 4 bytes of one F32 would pass as its data
    refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967297],\"data_offsets\":[0,4]}}", 4),
        "w.safetensors", "'a'", "shape[0] = 4294967297");
  }

  @Test
  void anInt64BelowInt32IsRefusedNamingTheElement() {
    // −2^31 − 1 = −2147483649 does not fit in int32 (it would wrap to 2^31 − 1)
    refused(oneTensor("I64", 2, longs(0, -(1L << 31) - 1)), "w.safetensors", "'a'", "element 1", "-2147483649");
  }

  @Test
  void dtypeNamesAreTheUpperCaseOnesOfTheFormat() {
    // safetensors' dtypes are "F32", "I64", ...: Python's reader refuses "f32", so a file we accept is one it accepts
    refused(oneTensor("f32", 1, new byte[4]), "w.safetensors", "'a'", "f32");
  }
}
