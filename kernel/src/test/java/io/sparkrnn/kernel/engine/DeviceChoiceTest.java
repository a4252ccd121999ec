package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import org.junit.jupiter.api.Test;

/**
 * {@code --device}'s names as the README and DeviceChoice's javadoc give them (auto, gpu,
 * cpu-opencl, jvm; "parsing ignores case and surrounding spaces"), and a device's lines in the
 * {@code devices} listing and the train report.
 */
class DeviceChoiceTest {

  @Test
  void eachDocumentedNameParsesToItsDevice() {
    assertEquals(DeviceChoice.AUTO, DeviceChoice.parse("auto"));
    assertEquals(DeviceChoice.GPU, DeviceChoice.parse("gpu"));
    assertEquals(DeviceChoice.CPU_OPENCL, DeviceChoice.parse("cpu-opencl"));
    assertEquals(DeviceChoice.JVM, DeviceChoice.parse("jvm"));
  }

  @Test
  void parsingIgnoresCaseAndSurroundingSpaces() {
    assertEquals(DeviceChoice.GPU, DeviceChoice.parse(" GPU "));
    assertEquals(DeviceChoice.CPU_OPENCL, DeviceChoice.parse("CPU-OpenCL"));
    assertEquals(DeviceChoice.JVM, DeviceChoice.parse("\tjvm\n"));
    assertEquals(DeviceChoice.AUTO, DeviceChoice.parse("Auto"));
  }

  @Test
  void anUnknownOrMissingNameIsBadInputListingTheChoices() {
    for (String bad : new String[] {"gpuu", "cpu", "opencl", "", null}) {
      BadInputException e = assertThrows(BadInputException.class, () -> DeviceChoice.parse(bad), String.valueOf(bad));
      assertEquals("unknown device '" + bad + "', expected one of auto, gpu, cpu-opencl, jvm", e.getMessage());
    }
  }

  /** The javadoc's example line for an OpenCL device; the thread pool names its threads and that it is not OpenCL. */
  @Test
  void aDeviceDescribesItselfAsOpenClOrAsTheJvmThreadPool() {
    DeviceInfo pocl = new DeviceInfo("Portable Computing Language", "The pocl project", "pthread-skylake-avx512-AMD EPYC", "CPU",
        true, 2, 4096, 2L << 30);
    assertEquals("OpenCL CPU 'pthread-skylake-avx512-AMD EPYC' (Portable Computing Language)", pocl.describe());
    DeviceInfo pool = new DeviceInfo("JVM", "Eclipse Adoptium", "Java thread pool", "JVM", false, 8, 1024, 1L << 30);
    assertEquals("JVM thread pool (8 threads, not OpenCL)", pool.describe());
  }

  /** The table row gives memory in MiB: 2 GiB = 2 × 1024 MiB; 3 GiB + 0.5 MiB rounds down to 3072 MiB. */
  @Test
  void aTableRowGivesTypeNameComputeUnitsWorkGroupAndMemoryInMib() {
    String row = new DeviceInfo("Portable Computing Language", "The pocl project", "pthread-haswell", "CPU", true, 2, 4096,
        2L << 30).tableRow();
    assertTrue(row.startsWith("CPU  pthread-haswell"), row);
    assertTrue(row.contains("Portable Computing Language") && row.contains("cu=2 ") && row.contains("maxWG=4096 "), row);
    assertTrue(row.endsWith("mem=2048 MiB"), row);
    String odd = new DeviceInfo("NVIDIA CUDA", "NVIDIA Corporation", "A100", "GPU", true, 108, 1024, (3L << 30) + (1L << 19))
        .tableRow();
    assertTrue(odd.endsWith("mem=3072 MiB") && odd.contains("cu=108 "), odd);
  }
}
