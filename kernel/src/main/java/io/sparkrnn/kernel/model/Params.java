package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The model's parameters: one flat float32 array laid out by {@link ParamLayout}. Mutable (the
 * optimizer updates {@link #values()} in place); copy before sharing across threads.
 */
public final class Params {
  private final ParamLayout layout;
  private final float[] values;

  public Params(ModelConfig config, float[] values) {
    this(new ParamLayout(config), values);
  }

  public Params(ParamLayout layout, float[] values) {
    if (values.length != layout.size()) {
      throw new BadInputException("expected " + layout.size() + " parameter values for " + layout.config()
          + ", found " + values.length);
    }
    this.layout = layout;
    this.values = values;
  }

  /** All zeros. */
  public static Params zeros(ModelConfig config) {
    ParamLayout layout = new ParamLayout(config);
    return new Params(layout, new float[layout.size()]);
  }

  /**
   * PyTorch's default initialisation: every recurrent weight and bias from U(−1/√H, 1/√H), and the
   * linear head from U(−1/√fan_in, 1/√fan_in) with fan_in = H, which is the same bound. Draws come
   * from one {@link SplittableRandom} seeded with {@code seed}, in state_dict order, so the same
   * seed gives the same parameters on every machine.
   */
  public static Params initialize(ModelConfig config, long seed) {
    ParamLayout layout = new ParamLayout(config);
    float[] v = new float[layout.size()];
    double bound = 1.0 / Math.sqrt(config.hiddenSize());
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) ((random.nextDouble() * 2.0 - 1.0) * bound);
    }
    return new Params(layout, v);
  }

  public ModelConfig config() {
    return layout.config();
  }

  public ParamLayout layout() {
    return layout;
  }

  /** The flat values, live (not a copy). */
  public float[] values() {
    return values;
  }

  /** The values of one named parameter, copied. */
  public float[] get(String name) {
    ParamSpec s = layout.get(name);
    return Arrays.copyOfRange(values, s.offset(), s.offset() + s.size());
  }

  /** Overwrites one named parameter. */
  public void set(String name, float[] data) {
    ParamSpec s = layout.get(name);
    if (data.length != s.size()) {
      throw new BadInputException(name + ": expected " + s.size() + " values " + s.shapeString()
          + ", found " + data.length);
    }
    System.arraycopy(data, 0, values, s.offset(), s.size());
  }

  public Params copy() {
    return new Params(layout, values.clone());
  }

  /** The values widened to float64, for the reference engine. */
  public double[] toDoubles() {
    double[] d = new double[values.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = values[i];
    }
    return d;
  }
}
