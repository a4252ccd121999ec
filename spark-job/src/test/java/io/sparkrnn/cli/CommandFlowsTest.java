package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.testing.FullDiskFileSystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Command flows through {@link Main#run}: inspect --json, train's job file against its options, the exit-code contract. */
class CommandFlowsTest {
  @TempDir
  Path tmp;

  static InferenceCommandsTest.Run run(String... args) {
    return InferenceCommandsTest.run(args);
  }

  /** inspect's --json: "Also print manifest.json" (its option's description): the file's content after the summary. */
  @Test
  void inspectJsonAlsoPrintsTheManifestAndWithoutItOnlyTheSummary() throws IOException {
    Path ds = tmp.resolve("adding");
    assertEquals(0, run("prep", "adding", "--out", ds.toString(), "--steps", "10", "--sequences", "20", "--batch", "8").code());
    Map<String, Object> onDisk = Json.parseObject(Files.readString(ds.resolve("manifest.json")));

    InferenceCommandsTest.Run plain = run("inspect", ds.toString());
    assertEquals(0, plain.code(), plain.err());
    assertFalse(plain.out().lines().anyMatch(l -> l.startsWith("{")), "no JSON without --json:\n" + plain.out());

    InferenceCommandsTest.Run json = run("inspect", "--json", ds.toString());
    assertEquals(0, json.code(), json.err());
    assertTrue(json.out().startsWith(plain.out()), "the summary first:\n" + json.out());
    assertEquals(onDisk, Json.parseObject(json.out().substring(plain.out().length())), "then manifest.json");
  }

  /**
   * TrainCommand's javadoc and the README: values from the command line override the job file. Both
   * values here are bad on purpose (the check runs before any data is read): the error names the one
   * that was used.
   */
  @Test
  void anOptionOnTheCommandLineOverridesTheSameKeyInTheJobFile() throws IOException {
    Path job = Files.writeString(tmp.resolve("job.conf"), "batch = 7x\n");
    String[] rest = {"--data", tmp.resolve("no-data").toString(), "--out", tmp.resolve("no-out").toString()};
    InferenceCommandsTest.Run fileAlone = run(concat(new String[] {"train", "--conf", job.toString()}, rest));
    InferenceCommandsTest.assertFails(fileAlone, "batch", "'7x'");

    InferenceCommandsTest.Run both = run(concat(new String[] {"train", "--conf", job.toString(), "--batch", "zero"}, rest));
    InferenceCommandsTest.assertFails(both, "batch", "'zero'");
    assertFalse(both.err().contains("7x"), both.err());
  }

  /**
   * A job file's value that a later check refuses is named by its FILE:LINE (it named the key alone),
   * unless the command line gave the key; a job file's ~/ is warned of, as the command line's is.
   */
  @Test
  void aJobFilesBadValueIsNamedByItsLine() throws IOException {
    Path job = Files.writeString(tmp.resolve("lines.conf"), "# a job\ncell = gru\nhidden-size = 8x\n");
    String[] rest = {"--data", tmp.resolve("no-data").toString(), "--out", tmp.resolve("no-out").toString()};
    InferenceCommandsTest.assertFails(run(concat(new String[] {"train", "--conf", job.toString()}, rest)), job + ":3: hidden-size: ");
    InferenceCommandsTest.Run given = run(concat(new String[] {"train", "--conf", job.toString(), "--hidden-size", "9y"}, rest));
    InferenceCommandsTest.assertFails(given, "hidden-size: ");
    assertFalse(given.err().contains(job + ":3"), given.err());
    // a job file that cannot be read says so, naming it (/proc/self/mem: a regular file whose read fails; the
    // error was Java's message alone, "Input/output error", or for a permission the path alone)
    InferenceCommandsTest.assertFails(run("train", "--conf", "/proc/self/mem", "--data", "d", "--out", "o"),
        "--conf /proc/self/mem: cannot be read: ");
    Path home = Files.writeString(tmp.resolve("home.conf"), "out = ~/runs/x\nhidden-size = 0\n");
    InferenceCommandsTest.Run r = run("train", "--conf", home.toString(), "--data", tmp.resolve("no-data").toString());
    assertTrue(r.err().contains("warning: " + home + ":1: out ~/runs/x: ~ is not expanded in a job file"), r.err());
  }

  /**
   * A relative name with ':' in its first part (a cron job's "run-$(date +%H:%M)") reads to Hadoop as
   * a URI scheme: bad input naming the option and the way out, not exit 1 with a stack trace.
   */
  @Test
  void aRelativeNameWithAColonIsBadInputNamingTheWayOut() {
    InferenceCommandsTest.Run r = run("inspect", "run-03:45");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: URI run-03:45: Hadoop reads the part before ':' as a URI scheme, so a relative name that"
        + " holds ':' is no path it can open; write ./run-03:45, or the absolute path"), r.err());
  }

  /**
   * A job file's path value with ':' in a relative name is refused by its key and FILE:LINE, before
   * Hadoop opens it (a review: "error: run-04:45: Hadoop reads…" named neither).
   */
  @Test
  void aJobFilesPathWithAColonIsNamedByItsLine() throws IOException {
    Path job = Files.writeString(tmp.resolve("colon.conf"), "data = " + tmp.resolve("no-data") + "\nout = run-04:45\n");
    InferenceCommandsTest.Run r = run("train", "--conf", job.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: " + job + ":2: out: expected an output directory URI, found 'run-04:45' (Hadoop reads the"
        + " part before ':' as a URI scheme, so a relative name that holds ':' is no path it can open; write ./run-04:45, or the"
        + " absolute path)"), r.err());
    // a path that a later check names by its value (not by its key) gets the key and line too
    Path missing = Files.writeString(tmp.resolve("missing.conf"), "out = " + tmp.resolve("out-x") + "\ndata = " + tmp.resolve("nods")
        + "\n");
    r = run("train", "--conf", missing.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: " + missing + ":2: data: file:" + tmp.resolve("nods") + ": not a dataset"), r.err());
  }

  /**
   * Hadoop's "No FileSystem for scheme" names no option: the error says whose URI it was, every
   * option of that scheme where several have it (Hadoop does not say which it opened first; the
   * first in command-line order was named, --data where --out had failed: a review).
   */
  @Test
  void aSchemeWithoutAFileSystemNamesTheOption() {
    InferenceCommandsTest.Run r = run("train", "--conf", "foo://x/y.conf", "--data", "d", "--out", "o");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: --conf foo://x/y.conf: No FileSystem for scheme \"foo\""), r.err());
    r = run("train", "--data", "foo://a/ds", "--out", "foo://b/run");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: --data foo://a/ds, --out foo://b/run: No FileSystem for scheme \"foo\""), r.err());
    // a file system whose module is missing (s3a:// without hadoop-aws) names its URI too
    r = run("inspect", "s3a://bucket/ds");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: URI s3a://bucket/ds: the file system org.apache.hadoop.fs.s3a.S3AFileSystem is not on"
        + " the classpath"), r.err());
  }

  /**
   * An error that names a path by value gets a job file's key and line only when the path is that
   * key's (a review: "--out runs/sine: is a regular file" was put on "data = sine"'s line), and
   * Hadoop's errors that name a URI but no option name a job file's key and line too (a review: a
   * job file's s3a:// out was named by nothing).
   */
  @Test
  void aJobFilesKeyIsNamedOnlyForItsOwnPath() throws IOException {
    Files.createDirectories(tmp.resolve("runs"));
    Files.writeString(tmp.resolve("runs/sine"), "x");
    Path job = Files.writeString(tmp.resolve("own.conf"), "data = sine\nout = " + tmp.resolve("runs/sine") + "\n");
    InferenceCommandsTest.Run r = run("train", "--conf", job.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: --out " + tmp.resolve("runs/sine") + ": is a regular file"), r.err());
    Path s3 = Files.writeString(tmp.resolve("s3.conf"), "data = " + tmp.resolve("no-data") + "\nout = s3a://bucket/run\n");
    r = run("train", "--conf", s3.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("error: " + s3 + ":2: out s3a://bucket/run: the file system org.apache.hadoop.fs.s3a.S3AFileSystem"
        + " is not on the classpath"), r.err());
  }

  /**
   * A relative name with ':' is the option's that gave it: the one whose value it is, before one it
   * lies below ("--model x:1 --data x:1/ds" failing on x:1/ds named --model: a review); a path no
   * option gave is the code's own, a bug (null: stack trace, exit 1).
   */
  @Test
  void aPathWithAColonIsTheOptionsWhoseValueItIs() {
    CommandLine cl = new CommandLine(new Main());
    CommandLine.ParseResult parsed = cl.parseArgs("predict", "--model", "x:1", "--data", "x:1/ds", "--out", "o.npy");
    java.util.function.Function<String, Main.UserError> failing = input -> Main.pathError(new IllegalArgumentException(
        new java.net.URISyntaxException(input, "Relative path in absolute URI")), parsed);
    assertTrue(failing.apply("x:1/ds").getMessage().startsWith("--data x:1/ds: Hadoop reads"), failing.apply("x:1/ds").getMessage());
    assertTrue(failing.apply("x:1").getMessage().startsWith("--model x:1: Hadoop reads"));
    assertTrue(failing.apply("x:1/ds/shard").getMessage().startsWith("--data x:1/ds: Hadoop reads"));   // the nearest
    assertEquals(null, failing.apply("y:2/z"));
    // as Hadoop spells the value in its error: "run:1/" fails as "run:1", "run:a b" as "run:a%20b" (a review: exit 1)
    for (String[] c : new String[][] {{"run:1/", "run:1"}, {"run:a b", "run:a%20b"}, {"run:50%", "run:50%25"}}) {
      CommandLine.ParseResult p = new CommandLine(new Main()).parseArgs("prep", "sine", "--out", c[0]);
      Main.UserError e = Main.pathError(new IllegalArgumentException(new java.net.URISyntaxException(c[1], "Relative path in absolute"
          + " URI")), p);
      assertTrue(e != null && e.getMessage().startsWith("--out " + c[0] + ": Hadoop reads") && e.getMessage().contains("write ./" + c[0]
          + ", or"), c[0] + ": " + e);
    }
  }

  /** A refused connection names the URI of its port: Hadoop names the host as it resolved it ("localhost" for 127.0.0.1). */
  @Test
  void aRefusedConnectionNamesTheUriOfItsPort() {
    CommandLine.ParseResult parsed = new CommandLine(new Main()).parseArgs("predict", "--model", "hdfs://127.0.0.1:1/m.safetensors",
        "--data", "hdfs://127.0.0.1:9/ds", "--out", "o.npy");
    assertEquals("--model hdfs://127.0.0.1:1/m.safetensors: ", Main.whoseUri(new IOException("Call From vm/127.0.0.1 to localhost:1"
        + " failed on connection exception: java.net.ConnectException: Connection refused"), parsed));
    assertEquals("", Main.whoseUri(new IOException("Call From vm/127.0.0.1 to localhost:2 failed on connection exception"), parsed));
    // the host Hadoop names, where an option wrote it so, before the port alone (a review: both were named)
    CommandLine.ParseResult two = new CommandLine(new Main()).parseArgs("predict", "--model", "hdfs://nn1:8020/m.safetensors",
        "--data", "hdfs://nn2:8020/ds", "--out", "o.npy");
    assertEquals("--data hdfs://nn2:8020/ds: ", Main.whoseUri(new IOException("Call From vm/10.0.0.1 to nn2:8020 failed on"
        + " connection exception"), two));
    assertEquals("--model hdfs://nn1:8020/m.safetensors, --data hdfs://nn2:8020/ds: ", Main.whoseUri(new IOException("Call From"
        + " vm/10.0.0.1 to nn3.example:8020 failed on connection exception"), two));
    // a scheme is the part before ':' ("food" is no URI of scheme "foo": a mutation audit)
    assertEquals("--data foo://x/y: ", Main.whoseUri(new IOException("No FileSystem for scheme \"foo\""),
        new CommandLine(new Main()).parseArgs("predict", "--model", "food", "--data", "foo://x/y", "--out", "o.npy")));
  }

  /**
   * Bad input exits 2 with a one-line message; a stack trace and exit 1 are for bugs (Main's
   * reportError). An empty path is the user's mistake (an unset shell variable), yet Hadoop's
   * {@code new Path("")} throws an IllegalArgumentException, which read as a bug (exit 1, a stack
   * trace) until Main refused empty values by name.
   */
  @Test
  void anEmptyPathIsBadInputNotABug() {
    String[][] cases = {{"inspect", ""}, {"export", "--model", "", "--out", tmp.resolve("e").toString()},
        {"train", "--data", "", "--out", tmp.resolve("t").toString()}};
    String[] named = {"URI", "--model", "--data"};
    for (int i = 0; i < cases.length; i++) {
      InferenceCommandsTest.Run r = run(cases[i]);
      assertEquals(2, r.code(), String.join(" ", cases[i]) + ": " + r.err());
      assertFalse(r.err().contains("\tat "), "no stack trace for bad input: " + r.err());
      assertTrue(r.err().contains(named[i] + ": expected a value, found an empty string"), r.err());
    }
  }

  /**
   * A full disk under prep's shard writer (data-prep's, which names no file) reaches Main as Hadoop's
   * FSError, an Error: still the environment, not a bug: exit 2 with one line that says so.
   */
  @Test
  void aFullDiskUnderPrepIsOneLineAndExitTwo() {
    FullDiskFileSystem.BUDGET.set(100);   // bytes: less than one shard
    InferenceCommandsTest.Run r;
    try {
      r = run("prep", "adding", "--out", "full://" + tmp.resolve("full-ds"), "--steps", "10", "--sequences", "20", "--batch", "8");
    } finally {
      FullDiskFileSystem.BUDGET.set(Long.MAX_VALUE);
    }
    InferenceCommandsTest.assertFails(r, "No space left on device");
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
  }

  static String[] concat(String[] a, String[] b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
