package io.sparkrnn.kernel.optim;

import io.sparkrnn.kernel.BadInputException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight
 * decay, exactly as {@code torch.optim.SGD} (maximize=False), following its single-tensor path
 * {@code _single_tensor_sgd} in {@code torch/optim/sgd.py}:
 *
 * <pre>
 *   g ← g + weight_decay · θ                      (grad.add(param, alpha=weight_decay), if ≠ 0)
 *   if momentum ≠ 0:
 *     b ← g                       on the first step (buf = grad.clone(): no dampening yet)
 *     b ← momentum · b + (1 − dampening) · g      after (buf.mul_(momentum).add_(grad, alpha=1-dampening))
 *     g ← g + momentum · b   if nesterov, else g ← b
 *   θ ← θ − lr · g                                 (param.add_(grad, alpha=-lr))
 * </pre>
 *
 * Each operation rounds to float32 in that order, with the scalar cast to float32 as ATen does.
 * PyTorch's vectorised CPU kernels may fuse a multiply-add (one rounding instead of two), so a
 * comparison with PyTorch agrees to about one ulp per step, not always bit for bit.
 */
public final class Sgd implements Optimizer {
  public static final String KIND = "sgd";
  static final String MOMENTUM_BUFFER = "momentum_buffer";

  private double lr;
  private final double momentum;
  private final double dampening;
  private final double weightDecay;
  private final boolean nesterov;

  /** [P], null until the first step with momentum ≠ 0 (PyTorch's "buf is None"). */
  private float[] momentumBuffer;
  private long steps;

  /** Plain SGD: {@code SGD(params, lr)}. */
  public Sgd(double lr) {
    this(lr, 0, 0, 0, false);
  }

  /**
   * {@code SGD(params, lr, momentum, dampening, weight_decay, nesterov)}; validated as PyTorch does.
   */
  public Sgd(double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
    requireFinite("lr", lr);
    requireFinite("momentum", momentum);
    requireFinite("dampening", dampening);
    requireFinite("weight_decay", weightDecay);
    if (lr < 0) {
      throw new BadInputException("sgd lr must be ≥ 0, found " + lr);
    }
    if (momentum < 0) {
      throw new BadInputException("sgd momentum must be ≥ 0, found " + momentum);
    }
    if (weightDecay < 0) {
      throw new BadInputException("sgd weight_decay must be ≥ 0, found " + weightDecay);
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new BadInputException("sgd nesterov needs momentum > 0 and dampening = 0, found momentum="
          + momentum + " dampening=" + dampening);
    }
    this.lr = lr;
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  static void requireFinite(String name, double v) {
    if (!Double.isFinite(v)) {
      throw new BadInputException(name + " must be finite, found " + v);
    }
  }

  @Override
  public void step(float[] params, float[] grad) {
    int P = Optimizers.checkLengths(params, grad, momentumBuffer == null ? -1 : momentumBuffer.length);
    float wd = (float) weightDecay;
    float mu = (float) momentum;
    float oneMinusDampening = (float) (1 - dampening);
    float negLr = (float) -lr;
    boolean first = momentumBuffer == null;
    if (momentum != 0 && first) {
      momentumBuffer = new float[P];
    }
    for (int i = 0; i < P; i++) {
      float g = grad[i];
      if (weightDecay != 0) {
        g = g + wd * params[i];                                    // g = g + λ θ
      }
      if (momentum != 0) {
        float b;
        if (first) {
          b = g;                                                   // b_1 = g_1
        } else {
          b = momentumBuffer[i] * mu;                              // b = μ b_{t−1} ...
          b = b + oneMinusDampening * g;                           //     + (1 − τ) g_t
        }
        momentumBuffer[i] = b;
        g = nesterov ? g + mu * b : b;                             // g = g + μ b (nesterov) or b
      }
      params[i] = params[i] + negLr * g;                           // θ = θ − γ g
    }
    steps++;
  }

  @Override
  public void setLearningRate(double lr) {
    this.lr = Optimizers.checkLearningRate("sgd", lr);
  }

  @Override
  public long stepCount() {
    return steps;
  }

  @Override
  public OptimizerState state() {
    Map<String, float[]> buffers = new LinkedHashMap<>();
    if (momentumBuffer != null) {
      buffers.put(MOMENTUM_BUFFER, momentumBuffer);
    }
    return new OptimizerState(KIND, steps, hyperparameters(), buffers);
  }

  /** PyTorch's argument names and values, as recorded in a checkpoint. */
  public Map<String, String> hyperparameters() {
    Map<String, String> hp = new LinkedHashMap<>();
    hp.put("lr", Double.toString(lr));
    hp.put("momentum", Double.toString(momentum));
    hp.put("dampening", Double.toString(dampening));
    hp.put("weight_decay", Double.toString(weightDecay));
    hp.put("nesterov", Boolean.toString(nesterov));
    return hp;
  }

  @Override
  public void load(OptimizerState state) {
    state.requireKind(KIND);
    float[] buf = state.buffer(MOMENTUM_BUFFER);
    if (buf != null && momentum == 0) {
      throw new BadInputException("optimizer state has a momentum_buffer but this sgd has momentum = 0");
    }
    momentumBuffer = buf;
    steps = state.step();
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  public String toString() {
    return "sgd" + hyperparameters();
  }
}
