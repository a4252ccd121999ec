package io.sparkrnn.job.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A small line chart rendered with Java2D (headless) to PNG bytes: loss curves for the training
 * report, primer and continuation for {@code generate --plot}.
 */
public final class LinePlot {
  /** One line: x and y of equal length; NaN y values leave gaps. */
  public record Series(String label, double[] x, double[] y, Color color) {}

  private final String title;
  private final String xLabel;
  private final boolean logY;
  private final List<Series> series = new ArrayList<>();

  public LinePlot(String title, String xLabel, boolean logY) {
    this.title = title;
    this.xLabel = xLabel;
    this.logY = logY;
  }

  public LinePlot add(String label, double[] x, double[] y, Color color) {
    series.add(new Series(label, x, y, color));
    return this;
  }

  public byte[] toPng(int width, int height) throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    int left = 70, right = 20, top = 40, bottom = 50;
    double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY;
    double yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        double y = transform(s.y()[i]);
        if (Double.isFinite(y)) {
          xMin = Math.min(xMin, s.x()[i]);
          xMax = Math.max(xMax, s.x()[i]);
          yMin = Math.min(yMin, y);
          yMax = Math.max(yMax, y);
        }
      }
    }
    if (!Double.isFinite(xMin)) {
      xMin = 0;
      xMax = 1;
      yMin = 0;
      yMax = 1;
    }
    if (xMax == xMin) {
      xMax = xMin + 1;
    }
    if (yMax == yMin) {
      yMax = yMin + 1;
    }
    double pad = (yMax - yMin) * 0.05;
    yMin -= pad;
    yMax += pad;
    int pw = width - left - right, ph = height - top - bottom;
    g.setColor(Color.DARK_GRAY);
    g.drawRect(left, top, pw, ph);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    for (int k = 0; k <= 4; k++) {
      double yv = yMin + (yMax - yMin) * k / 4;
      int py = top + ph - (int) Math.round(ph * k / 4.0);
      g.setColor(new Color(230, 230, 230));
      g.drawLine(left + 1, py, left + pw - 1, py);
      g.setColor(Color.DARK_GRAY);
      g.drawString(format(logY ? Math.pow(10, yv) : yv), 5, py + 4);
      double xv = xMin + (xMax - xMin) * k / 4;
      int px = left + (int) Math.round(pw * k / 4.0);
      g.drawString(format(xv), px - 12, top + ph + 18);
    }
    g.drawString(caption(xLabel, logY), left + pw / 2 - 40, height - 10);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    g.drawString(title, left, 25);
    g.setStroke(new BasicStroke(1.6f));
    int legendY = top + 16;
    for (Series s : series) {
      g.setColor(s.color());
      int prevX = -1, prevY = -1;
      for (int i = 0; i < s.x().length; i++) {
        double y = transform(s.y()[i]);
        if (!Double.isFinite(y)) {
          prevX = -1;
          continue;
        }
        int px = left + (int) Math.round((s.x()[i] - xMin) / (xMax - xMin) * pw);
        int py = top + ph - (int) Math.round((y - yMin) / (yMax - yMin) * ph);
        if (prevX >= 0) {
          g.drawLine(prevX, prevY, px, py);
        } else if (s.x().length == 1 || (i + 1 < s.x().length && !Double.isFinite(transform(s.y()[i + 1])))) {
          g.fillOval(px - 2, py - 2, 5, 5);
        }
        prevX = px;
        prevY = py;
      }
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      g.fillRect(left + pw - 150, legendY - 8, 14, 4);
      g.setColor(Color.BLACK);
      g.drawString(s.label(), left + pw - 130, legendY);
      legendY += 16;
    }
    g.dispose();
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    // an in-memory stream: ImageIO.write(img, "png", bos) caches in a temporary file, whose closer is a shutdown hook
    // added on first use, which throws "Shutdown in progress" once a SIGTERM has begun, and the stopped run's final
    // loss.png and report.md were lost (a kill audit)
    try (javax.imageio.stream.ImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(bos)) {
      if (!ImageIO.write(img, "png", out)) {
        throw new IllegalStateException("no PNG writer in this JVM");
      }
    }
    return bos.toByteArray();
  }

  private double transform(double y) {
    if (!logY) {
      return y;
    }
    return y > 0 ? Math.log10(y) : Double.NaN;
  }

  /** The text under the plot: the x axis's label, and a note when the y axis (never the x axis) is logarithmic. */
  static String caption(String xLabel, boolean logY) {
    return xLabel + (logY ? "   (y axis: log scale)" : "");
  }

  private static String format(double v) {
    double a = Math.abs(v);
    if (a != 0 && (a < 1e-2 || a >= 1e4)) {
      return String.format("%.1e", v);
    }
    return String.format("%.3g", v);
  }
}
