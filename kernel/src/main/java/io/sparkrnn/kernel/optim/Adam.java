package io.sparkrnn.kernel.optim;

import io.sparkrnn.kernel.BadInputException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adam (Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015) exactly as
 * {@code torch.optim.Adam} with amsgrad=False, maximize=False, and, with {@code decoupled = true},
 * {@code torch.optim.AdamW} (Loshchilov and Hutter, "Decoupled Weight Decay Regularization",
 * ICLR 2019).
 *
 * <p>The order of operations is that of PyTorch's single-tensor (foreach=False, fused=False,
 * capturable=False) path, read from {@code torch/optim/adam.py} {@code _single_tensor_adam}
 * (pytorch/pytorch at dc80ccded538) and {@code torch/optim/adamw.py} {@code _single_tensor_adamw}
 * (at c15fcf4eb79d):
 *
 * <pre>
 *   step_t += 1
 *   grad = grad.add(param, alpha=weight_decay)           # Adam, if weight_decay ≠ 0 (L2 in the gradient)
 *   param.mul_(1 - lr * weight_decay)                    # AdamW instead (decoupled)
 *   exp_avg.lerp_(grad, 1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   bias_correction1 = 1 - beta1 ** step                 # Python floats (float64)
 *   bias_correction2 = 1 - beta2 ** step
 *   step_size = lr / bias_correction1
 *   bias_correction2_sqrt = sqrt(bias_correction2)
 *   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)
 * </pre>
 *
 * The element-wise kernels are those of ATen on the CPU: {@code lerp} is
 * {@code w < 0.5 ? self + w·(end − self) : end − (end − self)·(1 − w)} ({@code ATen/native/Lerp.h}),
 * {@code addcmul} is {@code self + value·t1·t2} and {@code addcdiv} is {@code self + value·t1/t2}
 * ({@code ATen/native/cpu/PointwiseOpsKernel.cpp}), each scalar cast to float32, each operation
 * rounded to float32, left to right. The float64 scalars (bias corrections, step size) are
 * computed as Python computes them. PyTorch's vectorised CPU kernels may fuse a multiply-add, and
 * Java's {@code StrictMath.pow} (fdlibm) may differ from the C library's by an ulp, so agreement with PyTorch is to
 * about one float32 ulp per step rather than guaranteed bit for bit.
 */
public final class Adam implements Optimizer {
  public static final String KIND_ADAM = "adam";
  public static final String KIND_ADAMW = "adamw";
  static final String EXP_AVG = "exp_avg";
  static final String EXP_AVG_SQ = "exp_avg_sq";

  private double lr;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final boolean decoupled;

  /** First moment m [P]; null before the first step. */
  private float[] expAvg;
  /** Second moment v [P]; null before the first step. */
  private float[] expAvgSq;
  private long steps;

  /** {@code torch.optim.Adam(params, lr)} with PyTorch's defaults betas=(0.9, 0.999), eps=1e-8, weight_decay=0. */
  public static Adam adam(double lr) {
    return new Adam(lr, 0.9, 0.999, 1e-8, 0, false);
  }

  /** {@code torch.optim.AdamW(params, lr)} with PyTorch's defaults betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01. */
  public static Adam adamW(double lr) {
    return new Adam(lr, 0.9, 0.999, 1e-8, 0.01, true);
  }

  /**
   * @param weightDecay λ: added to the gradient as λθ (Adam), or applied as θ ← θ(1 − lr·λ) (decoupled, AdamW)
   * @param decoupled false for {@code torch.optim.Adam}, true for {@code torch.optim.AdamW}
   */
  public Adam(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
    Sgd.requireFinite("lr", lr);
    Sgd.requireFinite("eps", eps);
    Sgd.requireFinite("weight_decay", weightDecay);
    if (lr < 0) {
      throw new BadInputException("adam lr must be ≥ 0, found " + lr);
    }
    if (!(eps >= 0)) {
      throw new BadInputException("adam eps must be ≥ 0, found " + eps);
    }
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new BadInputException("adam betas[0] must be in [0, 1), found " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new BadInputException("adam betas[1] must be in [0, 1), found " + beta2);
    }
    if (weightDecay < 0) {
      throw new BadInputException("adam weight_decay must be ≥ 0, found " + weightDecay);
    }
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decoupled = decoupled;
  }

  @Override
  public void step(float[] params, float[] grad) {
    int P = Optimizers.checkLengths(params, grad, expAvg == null ? -1 : expAvg.length);
    if (expAvg == null) {
      expAvg = new float[P];
      expAvgSq = new float[P];
    }
    steps++;
    double step = steps;
    // Python floats: bias corrections, step size and √bc2 in float64, as in the source.
    // StrictMath: the JIT may intrinsify Math.pow, and replicas of one update (barrier training
    // applies it on every executor) must agree to the bit whatever tier runs them.
    double biasCorrection1 = 1 - StrictMath.pow(beta1, step);
    double biasCorrection2 = 1 - StrictMath.pow(beta2, step);
    double stepSize = lr / biasCorrection1;
    double biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    // Scalars as the float32 kernels see them.
    float wd = (float) weightDecay;
    float decay = (float) (1 - lr * weightDecay);
    float w = (float) (1 - beta1);
    boolean smallWeight = Math.abs(w) < 0.5f;
    float oneMinusW = 1f - w;
    float b2 = (float) beta2;
    float oneMinusB2 = (float) (1 - beta2);
    float bc2Sqrt = (float) biasCorrection2Sqrt;
    float epsF = (float) eps;
    float negStepSize = (float) -stepSize;
    for (int i = 0; i < P; i++) {
      float g = grad[i];
      float p = params[i];
      if (decoupled) {
        p = p * decay;                                             // θ = θ (1 − γλ)   (AdamW)
      } else if (weightDecay != 0) {
        g = g + wd * p;                                            // g = g + λθ       (Adam, L2)
      }
      float m = expAvg[i];
      m = smallWeight ? m + w * (g - m) : g - (g - m) * oneMinusW; // m = lerp(m, g, 1 − β1)
      float v = expAvgSq[i] * b2;                                  // v = β2 v ...
      v = v + oneMinusB2 * g * g;                                  //     + (1 − β2) g²
      float denom = (float) Math.sqrt(v) / bc2Sqrt;               // denom = √v / √(1 − β2^t) ...
      denom = denom + epsF;                                        //         + ε
      p = p + negStepSize * m / denom;                             // θ = θ − γ/(1 − β1^t) · m / denom
      expAvg[i] = m;
      expAvgSq[i] = v;
      params[i] = p;
    }
  }

  @Override
  public void setLearningRate(double lr) {
    this.lr = Optimizers.checkLearningRate("adam", lr);
  }

  @Override
  public long stepCount() {
    return steps;
  }

  @Override
  public OptimizerState state() {
    Map<String, float[]> buffers = new LinkedHashMap<>();
    if (expAvg != null) {
      buffers.put(EXP_AVG, expAvg);
      buffers.put(EXP_AVG_SQ, expAvgSq);
    }
    return new OptimizerState(kind(), steps, hyperparameters(), buffers);
  }

  /** PyTorch's argument names and values, as recorded in a checkpoint. */
  public Map<String, String> hyperparameters() {
    Map<String, String> hp = new LinkedHashMap<>();
    hp.put("lr", Double.toString(lr));
    hp.put("beta1", Double.toString(beta1));
    hp.put("beta2", Double.toString(beta2));
    hp.put("eps", Double.toString(eps));
    hp.put("weight_decay", Double.toString(weightDecay));
    return hp;
  }

  @Override
  public void load(OptimizerState state) {
    state.requireKind(kind());
    float[] m = state.buffer(EXP_AVG);
    float[] v = state.buffer(EXP_AVG_SQ);
    if ((m == null) != (v == null)) {
      throw new BadInputException(kind() + " state needs both exp_avg and exp_avg_sq, found " + state.bufferNames());
    }
    if (m == null && state.step() > 0) {
      throw new BadInputException(kind() + " state at step " + state.step() + " lacks exp_avg and exp_avg_sq");
    }
    expAvg = m;
    expAvgSq = v;
    steps = state.step();
  }

  @Override
  public String kind() {
    return decoupled ? KIND_ADAMW : KIND_ADAM;
  }

  @Override
  public String toString() {
    return kind() + hyperparameters();
  }
}
