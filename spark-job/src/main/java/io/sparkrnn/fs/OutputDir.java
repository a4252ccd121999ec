package io.sparkrnn.fs;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A run's output directory on any Hadoop file system. Every file is written with
 * {@link HadoopFiles#write(FileSystem, Path, byte[], Runnable)}: a temporary name in the same
 * directory, then renamed over the target, so a reader or a resumed run never sees a half file
 * and a crash mid-write leaves the previous version intact.
 */
public final class OutputDir {
  private final FileSystem fs;
  private final Path dir;

  public OutputDir(String uri, Configuration conf) throws IOException {
    URI u = new Path(uri).toUri();
    this.fs = FileSystem.get(u, conf);
    this.dir = fs.makeQualified(new Path(u));
  }

  public Path path(String relative) {
    return new Path(dir, relative);
  }

  public Path dir() {
    return dir;
  }

  /** Writes {@code bytes} to {@code relative} atomically (temporary name, then rename). */
  public void write(String relative, byte[] bytes) throws IOException {
    write(relative, bytes, null);
  }

  /**
   * As {@link #write(String, byte[])}; when {@code midWrite} is not null it runs after the first
   * half of the bytes is written and flushed to the file system (a test hook: a process killed
   * there leaves a half-written temporary file).
   */
  public void write(String relative, byte[] bytes, Runnable midWrite) throws IOException {
    HadoopFiles.write(fs, path(relative), bytes, midWrite);
  }


  /**
   * Removes the hidden temporary files ({@code .NAME.tmp-UUID}) that writes interrupted by a crash
   * or a full disk left in the folder and in {@code subdirs}; returns how many.
   */
  public int removeStaleTemporaries(String... subdirs) throws IOException {
    int removed = 0;
    List<Path> folders = new ArrayList<>(List.of(dir));
    for (String s : subdirs) {
      folders.add(path(s));
    }
    for (Path folder : folders) {
      if (!fs.exists(folder)) {
        continue;
      }
      for (FileStatus st : fs.listStatus(folder)) {
        if (st.isFile() && TEMPORARY.matcher(st.getPath().getName()).matches() && fs.delete(st.getPath(), false)) {
          removed++;
        }
      }
      // on the local file system a file's checksum is a hidden ".NAME.crc" beside it, which listStatus
      // hides and delete removes with the file; a kill between a rename's two halves (the file, then
      // its checksum) leaves the temporary's checksum alone: "..step-N.safetensors.tmp-UUID.crc". The
      // target's own checksum, if any, is then of the bytes the rename replaced (a run before
      // HadoopFiles.write removed it first): it goes too, or reading the file fails its check.
      if (fs instanceof ChecksumFileSystem local) {
        FileSystem raw = local.getRawFileSystem();
        for (FileStatus st : raw.listStatus(folder)) {
          String name = st.getPath().getName();
          String of = name.length() > 5 && name.startsWith(".") && name.endsWith(".crc")
              ? name.substring(1, name.length() - 4) : null;   // the file the checksum is of
          java.util.regex.Matcher temporary = of == null ? null : TEMPORARY.matcher(of);
          if (st.isFile() && temporary != null && temporary.matches() && !raw.exists(new Path(folder, of)) && raw.delete(st.getPath(), false)) {
            removed++;
            raw.delete(local.getChecksumFile(new Path(folder, temporary.group(1))), false);
          }
        }
      }
    }
    return removed;
  }

  /** The names {@link #write} gives its temporary files. */
  private static final Pattern TEMPORARY = Pattern.compile("\\.(.+)\\.tmp-" + HadoopFiles.UUID_REGEX);   // group 1: the target's name

  public boolean exists(String relative) throws IOException {
    return fs.exists(path(relative));
  }

  /** Whether {@code relative} is a directory (true) or a file (false); null where nothing is there. */
  public Boolean isDirectory(String relative) throws IOException {
    try {
      return fs.getFileStatus(path(relative)).isDirectory();
    } catch (FileNotFoundException e) {
      return null;
    }
  }

  public byte[] read(String relative) throws IOException {
    Path p = path(relative);
    FileStatus st = fs.getFileStatus(p);
    if (st.getLen() > Integer.MAX_VALUE - 8) {
      throw new IOException(p + ": " + st.getLen() + " bytes is too large to read");
    }
    byte[] b = new byte[(int) st.getLen()];
    try (InputStream in = fs.open(p)) {
      int n = in.readNBytes(b, 0, b.length);
      if (n < b.length) {
        throw new IOException(p + ": ended after " + n + " of " + b.length + " bytes");
      }
    }
    return b;
  }

  /** Names of the files in a subdirectory matching prefix*suffix, sorted; temporary files are ignored. */
  public List<String> list(String subdir, String prefix, String suffix) throws IOException {
    List<String> names = new ArrayList<>();
    try {
      for (FileStatus st : fs.listStatus(path(subdir))) {
        String n = st.getPath().getName();
        if (st.isFile() && n.startsWith(prefix) && n.endsWith(suffix)) {
          names.add(n);
        }
      }
    } catch (FileNotFoundException e) {
      return names;
    }
    String[] a = names.toArray(new String[0]);
    Arrays.sort(a);
    return List.of(a);
  }

  public void delete(String relative) throws IOException {
    fs.delete(path(relative), false);
  }

  /** Deletes a file or a folder with what it holds; nothing when it is not there. */
  public void deleteTree(String relative) throws IOException {
    fs.delete(path(relative), true);
  }
}
