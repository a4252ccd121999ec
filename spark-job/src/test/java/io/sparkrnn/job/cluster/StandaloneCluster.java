package io.sparkrnn.job.cluster;

import io.sparkrnn.testing.Ports;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Spark standalone cluster on 127.0.0.1 made from the project's own dependencies: a Master and
 * N Workers, each its own JVM, and drivers submitted through {@code SparkSubmit} to
 * {@code spark://127.0.0.1:PORT} in client mode, the way a user's {@code spark-submit} runs.
 *
 * <p>No Spark download: a folder under {@code target/} with {@code jars/} (links to every jar of
 * the test runtime classpath but the test-only ones) stands in for SPARK_HOME, and the project's
 * classes (kernel, data-prep, spark-job {@code target/classes}) are jarred into the application
 * jar that SparkSubmit ships to the executors ({@code spark.jars}); after {@code mvn verify}
 * kernel and data-prep are on the classpath as their packaged jars and go to {@code jars/}.
 *
 * <p>start → submit* → close. close kills every process it started (Master, Workers, executors,
 * drivers), also when a test failed.
 */
final class StandaloneCluster implements AutoCloseable {
  /**
   * The Spark 4 / Java 17 --add-opens, as in the pom's spark.java.opens, for every JVM, and the
   * Vector API module the JVM engine's SIMD kernels use.
   */
  static final List<String> OPENS = List.of("--add-opens=java.base/java.lang=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
      "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
      "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED", "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
      "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED", "-Djdk.reflect.useDirectMethodHandle=false",
      "-Dio.netty.tryReflectionSetAccessible=true", "--add-modules=jdk.incubator.vector");
  /** Jars of the test classpath that the cluster's JVMs do not need. */
  private static final Pattern TEST_ONLY_JAR = Pattern.compile(
      "(junit|opentest4j|apiguardian|hadoop-client-minicluster|/bc(pkix|prov|util)-|/jaxb-api-|surefire|/h2-|delta-spark|delta-storage)[^/]*\\.jar$");
  /**
   * A {@link #submit} setting (not passed to Spark): executors with the JVM's full JIT instead of
   * the fault suite's quick-starting C1-only JVMs. For measurements.
   */
  static final String FULL_JIT = "test.fullJit";
  private static final String EXECUTOR_MAIN = "org.apache.spark.executor.CoarseGrainedExecutorBackend";
  static final String LOG4J = String.join("\n",
      "rootLogger.level = warn",
      "rootLogger.appenderRef.stderr.ref = console",
      "appender.console.type = Console",
      "appender.console.name = console",
      "appender.console.target = SYSTEM_ERR",
      "appender.console.layout.type = PatternLayout",
      "appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n",
      "logger.master.name = org.apache.spark.deploy.master.Master",
      "logger.master.level = info",
      "logger.worker.name = org.apache.spark.deploy.worker.Worker",
      "logger.worker.level = info",
      "logger.scheduler.name = org.apache.spark.scheduler",
      "logger.scheduler.level = warn",
      "logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader",
      "logger.nativecode.level = error",
      "");

  private final Path work;
  private final Path sparkHome;
  private final Path appJar;
  private final Path log4j;
  private final Map<String, String> env = new LinkedHashMap<>();
  private final int masterPort;
  private final ManagedProcess master;
  private final List<ManagedProcess> workers = new ArrayList<>();
  private final List<ManagedProcess> drivers = new ArrayList<>();
  private int submitted;

  /**
   * Starts a Master and {@code workers} Workers of {@code coresPerWorker} cores and
   * {@code workerMemoryMb} MB each, and waits until all Workers have registered.
   */
  StandaloneCluster(Path work, int workers, int coresPerWorker, int workerMemoryMb) throws IOException {
    this.work = work.toAbsolutePath();
    Files.createDirectories(this.work);
    this.sparkHome = this.work.resolve("spark-home");
    this.appJar = this.work.resolve("spark-rnn-app.jar");
    buildSparkHomeAndAppJar(sparkHome, appJar);
    this.log4j = this.work.resolve("log4j2.properties");
    Files.writeString(log4j, LOG4J);
    env.put("SPARK_HOME", sparkHome.toString());
    env.put("SPARK_SCALA_VERSION", "2.13");
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.put("SPARK_LOCAL_HOSTNAME", "127.0.0.1");
    this.masterPort = freePort();
    try {
      master = ManagedProcess.start("master", jvm("org.apache.spark.deploy.master.Master", "256m", List.of(), List.of("--host",
          "127.0.0.1", "--port", Integer.toString(masterPort), "--webui-port", Integer.toString(freePort()))), env,
          this.work.resolve("logs/master.log"));
      master.awaitLine(Pattern.compile("I have been elected leader|Starting Spark master"), Duration.ofSeconds(60));
      for (int i = 0; i < workers; i++) {
        Path dir = this.work.resolve("worker-" + i);
        Files.createDirectories(dir);
        ManagedProcess w = ManagedProcess.start("worker-" + i, jvm("org.apache.spark.deploy.worker.Worker", "256m", List.of(),
            List.of("--host", "127.0.0.1", "--cores", Integer.toString(coresPerWorker), "--memory", workerMemoryMb + "m",
                "--work-dir", dir.toString(), "--webui-port", Integer.toString(freePort()), masterUrl())), env,
            this.work.resolve("logs/worker-" + i + ".log"));
        this.workers.add(w);
      }
      for (ManagedProcess w : this.workers) {
        w.awaitLine(Pattern.compile("Successfully registered with master"), Duration.ofSeconds(60));
      }
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  String masterUrl() {
    return "spark://127.0.0.1:" + masterPort;
  }

  /**
   * Submits {@code io.sparkrnn.cli.Main} with {@code appArgs} through SparkSubmit (client mode:
   * the driver is this new JVM). {@code sparkConf} adds or overrides {@code --conf} settings.
   */
  ManagedProcess submit(String name, Map<String, String> sparkConf, List<String> appArgs) {
    Map<String, String> confs = driverConf(sparkConf.containsKey(FULL_JIT));
    confs.putAll(sparkConf);
    confs.remove(FULL_JIT); // ours, not Spark's
    List<String> sparkArgs = new ArrayList<>();
    for (Map.Entry<String, String> e : confs.entrySet()) {
      sparkArgs.add("--conf");
      sparkArgs.add(e.getKey() + "=" + e.getValue());
    }
    return sparkSubmit("driver " + name, "client", "512m", name, sparkArgs, appArgs);
  }

  /**
   * Submits {@code io.sparkrnn.cli.Main} in cluster deploy mode: SparkSubmit's client hands the
   * driver to the Master, which starts it on a Worker (as {@code DriverWrapper}, a child of that
   * Worker, its output in the Worker's {@code driver-ID/}) and the client exits. {@code sparkArgs}
   * go before the jar as given (--properties-file, --supervise, --conf ...); nothing of
   * {@link #driverConf} is added.
   */
  ManagedProcess submitInClusterMode(String name, List<String> sparkArgs, List<String> appArgs) {
    return sparkSubmit("client " + name, "cluster", "256m", name, sparkArgs, appArgs);
  }

  /** SparkSubmit of io.sparkrnn.cli.Main to this Master as its own JVM, which close() kills. */
  private ManagedProcess sparkSubmit(String process, String deployMode, String heap, String name, List<String> sparkArgs,
      List<String> appArgs) {
    List<String> args = new ArrayList<>(List.of("--master", masterUrl(), "--deploy-mode", deployMode, "--class",
        "io.sparkrnn.cli.Main", "--name", name));
    args.addAll(sparkArgs);
    args.add(appJar.toString());
    args.addAll(appArgs);
    ManagedProcess p = ManagedProcess.start(process, jvm("org.apache.spark.deploy.SparkSubmit", heap, List.of(), args), env,
        work.resolve("logs/" + (++submitted) + "-" + name + ".log"));
    drivers.add(p);
    return p;
  }

  /** The drivers the Workers run now (cluster deploy mode): their JVMs, not the shells around them. */
  List<ProcessHandle> clusterModeDrivers() {
    List<ProcessHandle> out = new ArrayList<>();
    for (ManagedProcess w : workers) {
      w.process().descendants().filter(p -> isJvmOf(p, "org.apache.spark.deploy.worker.DriverWrapper")).forEach(out::add);
    }
    return out;
  }

  /** The Workers' driver folders ({@code worker-N/driver-ID}), where a cluster-mode driver's stdout and stderr are. */
  List<Path> driverDirs() throws IOException {
    List<Path> out = new ArrayList<>();
    for (int i = 0; i < workers.size(); i++) {
      try (Stream<Path> dirs = Files.list(work.resolve("worker-" + i))) {
        dirs.filter(d -> d.getFileName().toString().startsWith("driver-")).sorted().forEach(out::add);
      }
    }
    return out;
  }

  /**
   * A driver's settings for this cluster (what {@link #submit} passes, and what a driver in the
   * test's own JVM sets with {@code spark.master} and {@code spark.jars} = {@link #appJar}).
   *
   * @param fullJit executors with the JVM's full JIT (C2 compiles the JVM engine's Vector API code;
   *     under the fault suite's quick-starting C1 alone it runs as plain Java, ~1000× slower)
   */
  Map<String, String> driverConf(boolean fullJit) {
    Map<String, String> confs = new LinkedHashMap<>();
    confs.put("spark.driver.host", "127.0.0.1");
    confs.put("spark.driver.bindAddress", "127.0.0.1");
    confs.put("spark.ui.enabled", "false");
    confs.put("spark.executor.memory", "512m");
    confs.put("spark.executor.extraJavaOptions", String.join(" ", OPENS) + (fullJit ? "" : " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        + " -Dlog4j2.configurationFile=" + log4j.toUri());
    return confs;
  }

  /** The project's classes, jarred: what executors load them from ({@code spark.jars}). */
  Path appJar() {
    return appJar;
  }

  /** The executor JVMs running now: the Workers' child processes whose main class is Spark's executor backend. */
  List<ProcessHandle> executors() {
    List<ProcessHandle> out = new ArrayList<>();
    for (ManagedProcess w : workers) {
      w.process().descendants().filter(p -> p.isAlive() && commandLine(p).contains(EXECUTOR_MAIN)).forEach(out::add);
    }
    return out;
  }

  /** Waits until {@code n} executors run (an application's executors take a few seconds to start). */
  List<ProcessHandle> awaitExecutors(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<ProcessHandle> now = executors();
      if (now.size() >= n) {
        return now;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected " + n + " executor JVMs, found " + now.size() + " after " + timeout);
      }
      sleep(100);
    }
  }

  /** Waits until no executor runs (the Workers stop an application's executors when its driver is gone). */
  void awaitNoExecutors(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!executors().isEmpty()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("executors still running " + timeout + " after their driver ended: "
            + executors().stream().map(ProcessHandle::pid).toList());
      }
      sleep(100);
    }
  }

  /**
   * Whether {@code p} is a live JVM whose command line names {@code mainClass}: the java process
   * itself, not a shell that launched it with the same words (a YARN container's bash -c).
   */
  static boolean isJvmOf(ProcessHandle p, String mainClass) {
    return p.isAlive() && p.info().command().orElse("").endsWith("/java") && commandLine(p).contains(mainClass);
  }

  /** The process's full command line, from /proc (ProcessHandle.Info may truncate it). */
  static String commandLine(ProcessHandle p) {
    try {
      return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"))).replace('\0', ' ');
    } catch (IOException e) {
      return p.info().commandLine().orElse("");
    }
  }

  private List<String> jvm(String mainClass, String heap, List<String> jvmOptions, List<String> args) {
    return javaCommand(sparkHome, List.of(), log4j, mainClass, heap, jvmOptions, args);
  }

  /**
   * A JVM on SPARK_HOME/jars with the opens, quick to start (C1 only, SerialGC), logging by {@code log4j}.
   * {@code confDirs} go first on the classpath, as spark-submit's launcher puts HADOOP_CONF_DIR there.
   */
  static List<String> javaCommand(Path sparkHome, List<Path> confDirs, Path log4j, String mainClass, String heap,
      List<String> jvmOptions, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + heap);
    // short-lived JVMs on a small machine: C1 only and one GC thread start faster and leave the cores to the work
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-XX:+UseSerialGC");
    cmd.addAll(OPENS);
    cmd.add("-Dlog4j2.configurationFile=" + log4j.toUri());
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    StringBuilder cp = new StringBuilder();
    for (Path d : confDirs) {
      cp.append(d).append(File.pathSeparator);
    }
    cmd.add(cp.append(sparkHome.resolve("jars")).append(File.separator).append('*').toString());
    cmd.add(mainClass);
    cmd.addAll(args);
    return cmd;
  }

  /** SPARK_HOME/jars: links to the runtime jars; the app jar: the project's classes. */
  static void buildSparkHomeAndAppJar(Path sparkHome, Path appJar) throws IOException {
    Path jars = sparkHome.resolve("jars");
    if (Files.exists(jars)) {
      try (Stream<Path> old = Files.list(jars)) {
        for (Path p : old.toList()) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(jars);
    List<Path> classDirs = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (Path entry : testClasspath()) {
      if (Files.isDirectory(entry)) {
        if (entry.endsWith(Path.of("target", "classes"))) {
          classDirs.add(entry);
        }
      } else if (entry.toString().endsWith(".jar") && !TEST_ONLY_JAR.matcher(entry.toString()).find()
          && names.add(entry.getFileName().toString())) {
        Files.createSymbolicLink(jars.resolve(entry.getFileName()), entry.toAbsolutePath());
      }
    }
    // mvn test -am puts kernel/ and data-prep/target/classes on the classpath; mvn verify puts their
    // packaged jars there instead, which then sit in jars/ like any dependency
    if (classDirs.stream().noneMatch(d -> d.toString().contains("spark-job"))) {
      throw new IllegalStateException("spark-job's target/classes is not on the test classpath: " + classDirs);
    }
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(appJar))) {
      Set<String> written = new HashSet<>();
      for (Path dir : classDirs) {
        try (Stream<Path> files = Files.walk(dir)) {
          for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
            String name = dir.relativize(f).toString().replace(File.separatorChar, '/');
            if (written.add(name)) {
              out.putNextEntry(new JarEntry(name));
              Files.copy(f, out);
              out.closeEntry();
            }
          }
        }
      }
    }
  }

  /** The test runtime classpath, with surefire's manifest-only booter jar expanded. */
  static List<Path> testClasspath() throws IOException {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<Path> out = new ArrayList<>();
    for (String e : cp.split(File.pathSeparator)) {
      if (e.isEmpty()) {
        continue;
      }
      Path p = Path.of(e).toAbsolutePath();
      if (p.getFileName().toString().startsWith("surefirebooter") && Files.isRegularFile(p)) {
        try (JarFile jar = new JarFile(p.toFile())) {
          String classPath = jar.getManifest().getMainAttributes().getValue("Class-Path");
          for (String u : classPath.trim().split("\\s+")) {
            out.add(Path.of(URI.create(u.startsWith("file:") ? u : p.getParent().toUri().resolve(u).toString())));
          }
        }
      } else {
        out.add(p);
      }
    }
    return out;
  }

  static int freePort() {
    return Ports.free();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Kills every driver, Worker (with its executors) and the Master. */
  @Override
  public void close() {
    drivers.forEach(ManagedProcess::close);
    workers.forEach(ManagedProcess::close);
    if (master != null) {
      master.close();
    }
  }
}
