package io.sparkrnn.fs;

import io.sparkrnn.data.FileSystems;
import io.sparkrnn.kernel.BadInputException;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.ShutdownHookManager;

/**
 * The exclusive lock of a training run on its output directory, as PostgreSQL locks its data
 * directory: a file {@value #NAME} created atomically (exclusive create on a local disk, create
 * without overwrite on HDFS) that holds the owner's host, pid and start time. A second run on the
 * same directory is refused, naming the owner.
 *
 * <p>A lock left by a process that no longer runs on this host (kill -9, a power loss) is stale:
 * the next run takes it over and says so in its log. A lock from another host is never taken
 * over, as this host cannot tell whether that process still runs; it is removed by hand. One
 * exception: a driver in YARN's ApplicationMaster (cluster deploy mode) records its application
 * and attempt, and a later attempt of the same application takes over an earlier one's lock on
 * any host, since YARN starts an attempt only after the one before it has ended (its container
 * exited, was killed, or its node was declared lost); that is how spark.yarn.maxAppAttempts
 * restarts a failed driver on another node and resumes.
 *
 * <p>Call order: {@link #acquire} → {@link #close} (also from a shutdown hook on SIGTERM/Ctrl-C),
 * which removes the lock if it is still this run's. The hook is Hadoop's, at {@link #PRIORITY}:
 * after the one that checkpoints the run on a signal and Spark's, before the file systems close (a
 * JVM hook of its own ran beside them: it could remove the lock while the stop checkpoint was
 * being written, or find HDFS closed).
 */
public final class RunLock implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RunLock.class);
  /** The lock file's name in the output directory. */
  public static final String NAME = ".spark-rnn.lock";
  /** Hadoop's hook priority of the release: below Spark's (+30) and the stop checkpoint's (+40), above the file systems'. */
  static final int PRIORITY = FileSystem.SHUTDOWN_HOOK_PRIORITY + 20;
  /** Lock files are a few lines; anything longer is not ours and is not read further. */
  private static final int MAX_BYTES = 4096;

  private final FileSystem fs;
  private final Path lock;
  private final String content;
  /** What Hadoop's hook manager holds while the lock is held. */
  final Runnable hook = this::release;
  private boolean released;

  private RunLock(FileSystem fs, Path lock, String content) {
    this.fs = fs;
    this.lock = lock;
    this.content = content;
  }

  /** The lock just created, released on shutdown; or, when the JVM began to shut down meanwhile, removed again. */
  private static RunLock held(FileSystem fs, Path lock, String content) {
    RunLock l = new RunLock(fs, lock, content);
    IllegalStateException late = null;
    try {
      ShutdownHookManager.get().addShutdownHook(l.hook, PRIORITY, 10, TimeUnit.SECONDS);
    } catch (IllegalStateException e) {
      late = e;
    }
    // a signal while the run started (a user audit: SIGTERM 1.5 s after launch left the lock behind, as no
    // hook could be added any more); also where Hadoop's manager was first loaded after the JVM began to shut
    // down (a review): its own JVM hook then failed quietly, so ours was accepted but would never run
    if (late != null || JvmShutdown.inProgress()) {
      l.release();
      throw new IllegalStateException("the JVM is shutting down (a signal such as SIGTERM) as train started; the lock " + lock
          + " is removed again", late);
    }
    LOG.debug("took the run lock {} ({})", lock, content.replace('\n', ' ').trim());
    return l;
  }

  /**
   * Takes the lock on {@code dir} (created if missing), recovering a stale one of this host.
   *
   * @throws IllegalArgumentException naming the lock and its owner when another run holds it
   */
  public static RunLock acquire(String dir, Configuration conf, PrintStream log) throws IOException {
    return acquire(dir, conf, log, YarnAttempt.current());
  }

  /** {@link #acquire(String, Configuration, PrintStream)} as the given YARN attempt (null: not in YARN's ApplicationMaster). */
  static RunLock acquire(String dir, Configuration conf, PrintStream log, YarnAttempt yarn) throws IOException {
    Path d = new Path(dir);
    FileSystem fs = FileSystems.get(d, conf);
    Path qualified = fs.makeQualified(d);
    fs.mkdirs(qualified);
    Path lock = new Path(qualified, NAME);
    String mine = "host=" + thisHost() + "\npid=" + ProcessHandle.current().pid() + "\nstarted=" + Instant.now() + "\n"
        + (yarn == null ? "" : "yarn-application=" + yarn.application() + "\nyarn-attempt=" + yarn.attempt() + "\n");
    if (tryCreate(fs, lock, mine)) {
      return held(fs, lock, mine);
    }
    String found = read(fs, lock);
    if (found == null) { // released between our create and our read: one more try
      if (tryCreate(fs, lock, mine)) {
        return held(fs, lock, mine);
      }
      found = String.valueOf(read(fs, lock));
    }
    Map<String, String> owner = parse(found);
    if (!known(owner)) {   // perhaps being written by a run that has just created it: look once more
      try {
        Thread.sleep(UNKNOWN_OWNER_WAIT_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      found = read(fs, lock);
      if (found == null && tryCreate(fs, lock, mine)) {   // removed meanwhile: ours to take
        return held(fs, lock, mine);
      }
      found = String.valueOf(found);
      owner = parse(found);
      if (!known(owner)) {
        throw new BadInputException("out: " + lock + " names no owner (" + (found.isBlank() ? "it is empty: a run that could not"
            + " write it, on a full disk say" : "it is not spark-rnn's") + "); if no training run is using " + dir + ", remove the"
            + " file by hand, then run again");
      }
    }
    String stale = staleReason(owner, yarn);
    if (stale == null) {
      throw new BadInputException("out: " + lock + " is held by " + describe(owner) + "; another training run is using "
          + dir + ". Wait for it to end or choose another --out" + (isThisHost(owner) ? ""
          : " (a lock from another host is never taken over: if that run is gone, remove the file by hand)"));
    }
    // Move the stale lock aside under a unique name, so two runs recovering it at once cannot both win.
    Path aside = new Path(qualified, NAME + ".stale-" + UUID.randomUUID());
    boolean moved = fs.rename(lock, aside);
    if (!moved || !found.equals(read(fs, aside))) {
      // moved, but another run's lock: one that took the stale lock over first. Put it back, or that run trains on
      // without a lock and a third is let in beside it (a kill audit: it was left at .stale-UUID)
      String restored = !moved ? "" : !fs.exists(lock) && fs.rename(aside, lock) ? ""
          : " (its lock could not be put back: it is at " + aside + "; rename it to " + lock + ")";
      throw new BadInputException("out: " + lock + " changed while its stale owner (" + describe(owner)
          + ") was being replaced; another run may have started on " + dir + restored);
    }
    fs.delete(aside, false);
    log.printf("out: %s was left by %s, which %s; taking the lock over%n", lock, describe(owner), stale);
    if (!tryCreate(fs, lock, mine)) {
      throw new BadInputException("out: " + lock + " was taken by another run (" + describe(parse(String.valueOf(read(fs, lock))))
          + ") while the stale one was being removed");
    }
    return held(fs, lock, mine);
  }

  /** Milliseconds to wait before a lock without an owner is read again (a run may be writing it). */
  static final long UNKNOWN_OWNER_WAIT_MS = 500;

  /**
   * Creates the lock file with {@code content} unless it exists, atomically. A lock created but not
   * written (a full disk) is removed again: left empty, it blocked every later run (a user audit).
   */
  private static boolean tryCreate(FileSystem fs, Path lock, String content) throws IOException {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    if (FileSystems.isLocal(fs)) {
      // Hadoop's local create(overwrite=false) checks and then creates; O_EXCL does both at once
      java.nio.file.Path file = new File(lock.toUri()).toPath();
      FileChannel channel;
      try {
        channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException e) {
        return false;
      }
      try (channel) {
        for (ByteBuffer b = ByteBuffer.wrap(bytes); b.hasRemaining(); ) {
          channel.write(b);
        }
        return true;
      } catch (IOException e) {
        Files.deleteIfExists(file);   // ours: created just now
        throw new IOException("out: could not write the run lock " + lock + " (" + e.getMessage() + ")", e);
      }
    }
    OutputStream out;
    try {
      out = fs.create(lock, false); // the NameNode refuses an existing path atomically
    } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
      return false;
    }
    try (out) {
      out.write(bytes);
    } catch (IOException e) {
      fs.delete(lock, false);
      throw new IOException("out: could not write the run lock " + lock + " (" + e.getMessage() + ")", e);
    }
    return true;
  }

  /** The lock's text, or null when it is gone. */
  private static String read(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return new String(in.readNBytes(MAX_BYTES), StandardCharsets.UTF_8);
    } catch (FileNotFoundException e) {
      return null;
    }
  }

  private static Map<String, String> parse(String text) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        m.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
      }
    }
    return m;
  }

  private static boolean known(Map<String, String> owner) {
    return owner.containsKey("host") && owner.containsKey("pid");
  }

  private static String describe(Map<String, String> owner) {
    if (!known(owner)) {
      return "an unknown owner (the lock is being written, or is not spark-rnn's)";
    }
    return "pid " + owner.get("pid") + " on host " + owner.get("host") + " (started " + owner.getOrDefault("started", "?") + ")";
  }

  private static boolean isThisHost(Map<String, String> owner) {
    return thisHost().equals(owner.get("host"));
  }

  /**
   * Why the owner is gone, or null when it may still run: an earlier attempt of this YARN
   * application is gone; otherwise only a process of this host can be checked; it is gone when no
   * process has its pid, or the one that has it started after the lock was written (the pid was
   * reused).
   */
  private static String staleReason(Map<String, String> owner, YarnAttempt yarn) {
    if (yarn != null && yarn.application().equals(owner.get("yarn-application"))) {
      int earlier;
      try {
        earlier = Integer.parseInt(owner.get("yarn-attempt"));
      } catch (RuntimeException e) { // unreadable: never guess
        return null;
      }
      if (earlier < yarn.attempt()) {
        return "was attempt " + earlier + " of YARN application " + yarn.application() + ", ended before YARN started this attempt ("
            + yarn.attempt() + ")";
      }
    }
    if (!isThisHost(owner)) {
      return null;
    }
    long pid;
    Instant started;
    try {
      pid = Long.parseLong(owner.get("pid"));
      started = Instant.parse(owner.get("started"));
    } catch (RuntimeException e) { // unreadable: never guess
      return null;
    }
    if (pid == ProcessHandle.current().pid()) {
      return null; // this JVM: a run in this process holds it
    }
    Optional<ProcessHandle> p = ProcessHandle.of(pid);
    if (p.isEmpty() || !p.get().isAlive()) {
      return "is no longer running";
    }
    Optional<Instant> processStart = p.get().info().startInstant();
    if (processStart.isPresent() && processStart.get().isAfter(started)) {
      return "is no longer running (pid " + pid + " now belongs to a process started later)";
    }
    return null;
  }

  /**
   * A YARN application attempt: the one this JVM runs as when it is the driver in YARN's
   * ApplicationMaster. The ApplicationMaster sets the system property spark.yarn.app.id in cluster
   * deploy mode; the NodeManager gives every container its id in $CONTAINER_ID,
   * {@code container_[eEPOCH_]CLUSTERTIMESTAMP_APPLICATION_ATTEMPT_CONTAINER}.
   */
  record YarnAttempt(String application, int attempt) {
    private static final Pattern CONTAINER_ID =
        Pattern.compile("container_(?:e\\d+_)?(\\d+)_(\\d+)_(\\d{1,9})_\\d+");

    /** This JVM's attempt, or null outside YARN's ApplicationMaster in cluster deploy mode. */
    static YarnAttempt current() {
      String application = System.getProperty("spark.yarn.app.id");
      YarnAttempt a = fromContainerId(System.getenv("CONTAINER_ID"));
      return application != null && a != null && a.application().equals(application) ? a : null;
    }

    /** The attempt a container belongs to, or null when the id is not one. */
    static YarnAttempt fromContainerId(String containerId) {
      Matcher m = CONTAINER_ID.matcher(containerId == null ? "" : containerId);
      return m.matches() ? new YarnAttempt("application_" + m.group(1) + "_" + m.group(2), Integer.parseInt(m.group(3))) : null;
    }
  }

  private static String thisHost() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  /** The lock file. */
  public Path path() {
    return lock;
  }

  /** Removes the lock, if it still holds this run's text. */
  @Override
  public void close() {
    release();
    try {
      ShutdownHookManager.get().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) release itself
    }
  }

  private synchronized void release() {
    if (released) {
      return;
    }
    released = true;
    try {
      if (content.equals(read(fs, lock))) {
        fs.delete(lock, false);
      }
    } catch (IOException e) {
      LOG.warn("could not remove the run lock {}: {}", lock, e.getMessage());
    }
  }
}
