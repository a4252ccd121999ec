package io.sparkrnn.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The package structure of docs/DESIGN-NOTES.md, "Packages", read from the compiled classes of the
 * three modules (kernel, data-prep, spark-job; a target/classes directory or a jar, wherever the
 * test classpath has them): the graph of io.sparkrnn packages has no cycle, Spark-free inference
 * ({@code io.sparkrnn.infer}) names no training package, kernel's {@code engine} names none of
 * the engines built on it, and the packages the notes call Spark-free name no Spark class.
 *
 * <p>A class depends on every io.sparkrnn (and Spark) class its constant pool names: the
 * CONSTANT_Class entries, and the {@code L...;} types inside descriptors and generic signatures (a
 * method's parameter type appears only there). String constants are not dependencies: they hold
 * class names with dots, never the {@code L...;} form. Blind spot: a compile-time constant (a
 * {@code static final} primitive or String) is copied into the class that reads it, so a
 * dependency made of such constants alone leaves no trace here.
 */
class PackageGraphTest {
  /** Classes whose code source is each module's classes: kernel, data-prep, spark-job. */
  private static final List<String> MODULES = List.of("io.sparkrnn.kernel.engine.BpttEngine", "io.sparkrnn.data.Dataset",
      "io.sparkrnn.cli.Main");

  @Test
  void theProductsPackagesFormNoCycle() throws IOException {
    Map<String, Set<String>> graph = graph();
    assertTrue(graph.containsKey("io.sparkrnn.kernel.engine") && graph.containsKey("io.sparkrnn.data") && graph.containsKey("io.sparkrnn.cli"),
        "the scan found the three modules' packages: " + graph.keySet());
    List<String> cycle = findCycle(graph);
    assertTrue(cycle.isEmpty(), "package cycle: " + String.join(" -> ", cycle));
  }

  @Test
  void inferenceNamesNoTrainingPackage() throws IOException {
    Set<String> infer = graph().get("io.sparkrnn.infer");
    for (String p : infer) {
      assertFalse(p.startsWith("io.sparkrnn.job") || p.equals("io.sparkrnn.cli") || p.equals("io.sparkrnn.ml")
          || p.equals("io.sparkrnn.bench"), "io.sparkrnn.infer depends on " + p + ": " + infer);
    }
  }

  @Test
  void theEngineInterfaceNamesNoEngineBuiltOnIt() throws IOException {
    Set<String> engine = graph().get("io.sparkrnn.kernel.engine");
    for (String p : List.of("io.sparkrnn.kernel.aparapi", "io.sparkrnn.kernel.jvm", "io.sparkrnn.kernel.device", "io.sparkrnn.kernel.bench")) {
      assertFalse(engine.contains(p), "io.sparkrnn.kernel.engine depends on " + p + ": " + engine);
    }
  }

  /** What DESIGN-NOTES calls Spark-free names no Spark class: the kernel, the file primitives, the model files, inference. */
  @Test
  void theSparkFreePackagesNameNoSparkClass() throws IOException {
    Map<String, Set<String>> graph = graph();
    assertTrue(graph.get("io.sparkrnn.job.driver").contains(SPARK), "the scan sees Spark where it is used: " + graph.get("io.sparkrnn.job.driver"));
    for (Map.Entry<String, Set<String>> e : graph.entrySet()) {
      String p = e.getKey();
      if (p.startsWith("io.sparkrnn.kernel") || p.equals("io.sparkrnn.fs") || p.equals("io.sparkrnn.model") || p.equals("io.sparkrnn.infer")) {
        assertFalse(e.getValue().contains(SPARK), p + " names Spark classes: " + e.getValue());
      }
    }
  }

  /** The cycle finder itself, on graphs drawn by hand: a test of the layout is only as good as it. */
  @Test
  void findCycleFindsCyclesAndOnlyCycles() {
    Map<String, Set<String>> dag = new TreeMap<>(Map.of("a", Set.of("b", "c"), "b", Set.of("c"), "c", Set.of()));
    assertEquals(List.of(), findCycle(dag));
    Map<String, Set<String>> loop = new TreeMap<>(Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("d", "a"), "d", Set.of()));
    assertEquals(List.of("a", "b", "c", "a"), findCycle(loop));
  }

  /** The node that stands for every Spark class a package names. */
  static final String SPARK = "org.apache.spark";

  /** The dependency descriptor a constant pool names another class by: Lpkg/Name; (also inside a Utf8 signature). */
  private static final Pattern TYPE = Pattern.compile("L((?:io/sparkrnn|org/apache/spark)/[\\w/$]+);");

  /** Package → the other io.sparkrnn packages its classes name, over the three modules' classes. */
  static Map<String, Set<String>> graph() throws IOException {
    Map<String, Set<String>> graph = new TreeMap<>();
    for (String module : MODULES) {
      Path root;
      try {
        root = Path.of(Class.forName(module).getProtectionDomain().getCodeSource().getLocation().toURI());
      } catch (ClassNotFoundException | URISyntaxException e) {
        throw new IllegalStateException("cannot locate the classes of " + module, e);
      }
      if (Files.isDirectory(root)) {
        try (Stream<Path> files = Files.walk(root)) {
          for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".class"))::iterator) {
            try (InputStream in = Files.newInputStream(f)) {
              add(graph, in);
            }
          }
        }
      } else {
        try (JarFile jar = new JarFile(root.toFile())) {
          for (JarEntry e : (Iterable<JarEntry>) jar.stream()::iterator) {
            if (e.getName().startsWith("io/sparkrnn/") && e.getName().endsWith(".class")) {
              try (InputStream in = jar.getInputStream(e)) {
                add(graph, in);
              }
            }
          }
        }
      }
    }
    return graph;
  }

  private static void add(Map<String, Set<String>> graph, InputStream in) throws IOException {
    List<String> names = new ArrayList<>();
    String self = constantPool(new DataInputStream(in), names);
    String from = packageOf(self);
    Set<String> to = graph.computeIfAbsent(from, k -> new TreeSet<>());
    for (String n : names) {
      if (n.startsWith("io/sparkrnn/") && !packageOf(n).equals(from)) {
        to.add(packageOf(n));
      }
      if (n.startsWith("org/apache/spark/")) {
        to.add(SPARK); // one node for all of Spark: it names none of ours, so it closes no cycle
      }
    }
  }

  private static String packageOf(String internalName) {
    return internalName.substring(0, internalName.lastIndexOf('/')).replace('/', '.');
  }

  /**
   * Reads a class file up to its this_class (JVMS §4.1, §4.4): magic, versions, the constant pool
   * (entries 1..count−1; a Long or Double takes two), access flags, this_class. Puts into
   * {@code names} every CONSTANT_Class name (array classes unwrapped) and every L...; type in a
   * Utf8 entry; returns this class's internal name.
   */
  static String constantPool(DataInputStream in, List<String> names) throws IOException {
    if (in.readInt() != 0xCAFEBABE) {
      throw new IOException("not a class file");
    }
    in.readUnsignedShort(); // minor
    in.readUnsignedShort(); // major
    int count = in.readUnsignedShort();
    String[] utf8 = new String[count];
    int[] classNameIndex = new int[count];
    for (int i = 1; i < count; i++) {
      int tag = in.readUnsignedByte();
      switch (tag) {
        case 1 -> utf8[i] = in.readUTF();
        case 7 -> classNameIndex[i] = in.readUnsignedShort();
        case 8, 16, 19, 20 -> in.skipBytes(2);   // String, MethodType, Module, Package
        case 15 -> in.skipBytes(3);              // MethodHandle
        case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipBytes(4);
        case 5, 6 -> {                           // Long, Double: 8 bytes and two entries
          in.skipBytes(8);
          i++;
        }
        default -> throw new IOException("constant pool tag " + tag + " at entry " + i);
      }
    }
    in.readUnsignedShort(); // access flags
    int thisClass = in.readUnsignedShort();
    for (int i = 1; i < count; i++) {
      if (classNameIndex[i] != 0) {
        String n = utf8[classNameIndex[i]];
        names.add(n.startsWith("[") ? n.replaceFirst("^\\[+L?", "").replace(";", "") : n);
      }
      if (utf8[i] != null) {
        Matcher m = TYPE.matcher(utf8[i]);
        while (m.find()) {
          names.add(m.group(1));
        }
      }
    }
    return utf8[classNameIndex[thisClass]];
  }

  /** One cycle as a path that ends where it starts (depth-first, nodes and edges in sorted order), or empty. */
  static List<String> findCycle(Map<String, Set<String>> graph) {
    Map<String, Integer> state = new TreeMap<>(); // absent: unvisited, 1: on the path, 2: done
    List<String> path = new ArrayList<>();
    for (String start : graph.keySet()) {
      List<String> cycle = visit(start, graph, state, path);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    return List.of();
  }

  private static List<String> visit(String node, Map<String, Set<String>> graph, Map<String, Integer> state, List<String> path) {
    Integer s = state.get(node);
    if (s != null && s == 2) {
      return List.of();
    }
    if (s != null) {
      List<String> cycle = new ArrayList<>(path.subList(path.indexOf(node), path.size()));
      cycle.add(node);
      return cycle;
    }
    state.put(node, 1);
    path.add(node);
    for (String next : new TreeSet<>(graph.getOrDefault(node, Set.of()))) {
      List<String> cycle = visit(next, graph, state, path);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    path.remove(path.size() - 1);
    state.put(node, 2);
    return List.of();
  }
}
