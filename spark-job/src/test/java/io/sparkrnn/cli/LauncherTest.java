package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/spark-rnn's choice of SPARK_HOME for local-cluster masters (docs/cluster.md, "Many executors on
 * one machine first"): Spark's launcher takes the executors' classpath from $SPARK_HOME/jars, so the
 * script makes spark-job/target/spark-home, links to its own classpath, when a master or a job file
 * names local-cluster and SPARK_HOME is unset.
 *
 * <p>The real script runs from a copy of the project's layout: a built jar, classpath.txt and the
 * build stamp, so it builds nothing, and a stub {@code java} first on PATH that prints the
 * environment it was started with instead of starting Spark (a stub {@code mvn} fails the test if the
 * script tries to build).
 */
class LauncherTest {
  @TempDir Path tmp;
  Path root;
  Path libA;
  Path libB;

  @BeforeEach
  void layout() throws IOException {
    // conf/log4j2.properties of the checkout (surefire's property, pom.xml): its parent is the project root
    Path project = Path.of(System.getProperty("log4j2.configurationFile")).toAbsolutePath().getParent().getParent();
    root = tmp.resolve("root");
    Path target = Files.createDirectories(root.resolve("spark-job/target"));
    Files.createDirectories(root.resolve("bin"));
    Files.copy(project.resolve("bin/spark-rnn"), root.resolve("bin/spark-rnn"));
    executable(root.resolve("bin/spark-rnn"));
    Files.writeString(target.resolve("spark-job-0.1.0-SNAPSHOT.jar"), "jar");
    libA = Files.writeString(Files.createDirectories(tmp.resolve("lib")).resolve("a.jar"), "a");
    libB = Files.writeString(tmp.resolve("lib/b.jar"), "b");
    // a folder and an entry that does not exist are on classpaths too; only files are linked
    classpath(libA + ":" + libB + ":" + tmp.resolve("lib") + ":" + tmp.resolve("absent.jar"));
    Files.writeString(target.resolve(".spark-rnn-built"), "");
    Path stubs = Files.createDirectories(tmp.resolve("stubs"));
    Files.writeString(stubs.resolve("java"), "#!/usr/bin/env bash\n"
        + "echo \"SPARK_HOME=${SPARK_HOME:-}\"\necho \"SPARK_SCALA_VERSION=${SPARK_SCALA_VERSION:-}\"\n");
    Files.writeString(stubs.resolve("mvn"), "#!/usr/bin/env bash\necho 'mvn called' >&2\nexit 9\n");
    executable(stubs.resolve("java"));
    executable(stubs.resolve("mvn"));
  }

  private void classpath(String entries) throws IOException {
    Files.writeString(root.resolve("spark-job/target/classpath.txt"), entries);
  }

  private static void executable(Path p) throws IOException {
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  /** The stub java's lines as NAME → value, after the script ran with {@code env} added. */
  private Map<String, String> launch(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(root.resolve("bin/spark-rnn").toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("SPARK_HOME");
    pb.environment().remove("SPARK_SCALA_VERSION");
    pb.environment().put("PATH", tmp.resolve("stubs") + ":" + System.getenv("PATH"));
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    Map<String, String> seen = new TreeMap<>();
    for (String line : out.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        seen.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return seen;
  }

  /** The file names under spark-home/jars, each checked to be a link to the file of that name given. */
  private List<String> linkedJars() throws IOException {
    Path jars = root.resolve("spark-job/target/spark-home/jars");
    try (Stream<Path> s = Files.list(jars)) {
      List<String> names = new ArrayList<>();
      for (Path j : s.sorted().toList()) {
        assertTrue(Files.isSymbolicLink(j), j + " is a link");
        names.add(j.getFileName() + "->" + Files.readSymbolicLink(j).getFileName());
      }
      return names;
    }
  }

  @Test
  void aLocalClusterMasterGetsAHomeOfLinksToTheClasspathsFiles() throws Exception {
    Map<String, String> env = launch(Map.of(), "train", "--master", "local-cluster[2,1,1024]");
    assertEquals(root.resolve("spark-job/target/spark-home").toString(), env.get("SPARK_HOME"));
    assertEquals("2.13", env.get("SPARK_SCALA_VERSION"), "the Scala build of Spark this project uses");
    // the CLI's jar first, then classpath.txt's files; the folder and the missing entry are left out
    assertEquals(List.of("a.jar->a.jar", "b.jar->b.jar", "spark-job-0.1.0-SNAPSHOT.jar->spark-job-0.1.0-SNAPSHOT.jar"),
        linkedJars());
    // a changed classpath (a dependency dropped) makes the folder again: b.jar's link goes
    classpath(libA.toString());
    launch(Map.of(), "train", "--master=local-cluster[2,1,1024]");
    assertEquals(List.of("a.jar->a.jar", "spark-job-0.1.0-SNAPSHOT.jar->spark-job-0.1.0-SNAPSHOT.jar"), linkedJars());
  }

  @Test
  void otherMastersAndAGivenSparkHomeAreLeftAlone() throws Exception {
    assertEquals("", launch(Map.of(), "train", "--master", "local[2]").get("SPARK_HOME"));
    assertEquals("", launch(Map.of(), "prep", "sine", "--out", "x").get("SPARK_HOME"));
    Map<String, String> given = launch(Map.of("SPARK_HOME", "/opt/spark"), "train", "--master", "local-cluster[2,1,1024]");
    assertEquals("/opt/spark", given.get("SPARK_HOME"), "a Spark distribution the user names is used as it is");
    assertEquals("", given.get("SPARK_SCALA_VERSION"));
    assertTrue(Files.notExists(root.resolve("spark-job/target/spark-home")), "no folder made when none is used");
  }

  /** A job file that names the master (master = local-cluster[…]) counts, after --conf FILE or --conf=FILE. */
  @Test
  void aJobFileNamingLocalClusterCountsToo() throws Exception {
    Path job = Files.writeString(tmp.resolve("job.conf"), "cell = lstm\nmaster = local-cluster[2,1,1024]\n");
    String home = root.resolve("spark-job/target/spark-home").toString();
    assertEquals(home, launch(Map.of(), "train", "--conf", job.toString()).get("SPARK_HOME"));
    assertEquals(home, launch(Map.of(), "train", "--conf=" + job).get("SPARK_HOME"));
    // and as a file: URI (a user audit: only a plain path was read, and local-cluster then failed with Spark's traces)
    assertEquals(home, launch(Map.of(), "train", "--conf", job.toUri().toString()).get("SPARK_HOME"));
    assertEquals(home, launch(Map.of(), "train", "--conf=file:" + job).get("SPARK_HOME"));
    Path local = Files.writeString(tmp.resolve("local.conf"), "master = local[2]\n");
    assertEquals("", launch(Map.of(), "train", "--conf", local.toString()).get("SPARK_HOME"));
  }
}
