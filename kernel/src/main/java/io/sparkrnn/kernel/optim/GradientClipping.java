package io.sparkrnn.kernel.optim;

import io.sparkrnn.kernel.BadInputException;

/**
 * Clipping of the gradient by its global L2 norm, as {@code torch.nn.utils.clip_grad_norm_}
 * (norm_type=2) in {@code torch/nn/utils/clip_grad.py}:
 *
 * <pre>
 *   total_norm = ‖(‖g_1‖, …, ‖g_k‖)‖₂ = ‖g‖₂ over every element of every parameter
 *   clip_coef  = max_norm / (total_norm + 1e-6)
 *   g         ← g · min(clip_coef, 1)
 * </pre>
 *
 * Differences from PyTorch, on purpose:
 * <ul>
 *   <li>The norm is summed in float64 over the flat gradient, so it is the float32-rounded exact
 *       norm; PyTorch sums each parameter's float32 norm, then the norm of those, so it may differ
 *       in the last float32 bit or two. The coefficient is then formed as PyTorch forms it in
 *       float32: {@code (1 / (total_norm + 1e-6)) · max_norm} (Python's {@code float / Tensor} is
 *       {@code reciprocal() * other}).
 *   <li>A non-finite norm (a NaN or infinite gradient element, or overflow) leaves the gradient
 *       untouched and is returned, so the driver can report it and decide (skip the step, stop).
 *       PyTorch with error_if_nonfinite=False would multiply by NaN or 0 instead.
 * </ul>
 */
public final class GradientClipping {
  /** PyTorch's guard against dividing by a zero norm, added to the norm. */
  public static final float NORM_EPSILON = 1e-6f;

  private GradientClipping() {}

  /** The L2 norm of all of {@code grad}, summed in float64. NaN or infinity when an element is. */
  public static double globalNorm(float[] grad) {
    double sum = 0;
    for (float g : grad) {
      sum += (double) g * g;                                       // Σ g²
    }
    return Math.sqrt(sum);
  }

  /**
   * Scales {@code grad} [P] in place so that its global L2 norm is at most about {@code maxNorm},
   * when it is larger; leaves it untouched otherwise, and when the norm is not finite.
   *
   * @param maxNorm the largest norm allowed, &gt; 0
   * @return the norm before clipping (NaN or infinity when the gradient is not finite), for the log
   */
  public static double clipByGlobalNorm(float[] grad, double maxNorm) {
    if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
      throw new BadInputException("max_norm must be positive and finite, found " + maxNorm);
    }
    double norm = globalNorm(grad);
    if (!Double.isFinite(norm)) {
      return norm;
    }
    float totalNorm = (float) norm;
    float clipCoef = Float.isFinite(totalNorm)
        ? (1f / (totalNorm + NORM_EPSILON)) * (float) maxNorm     // max_norm / (‖g‖ + 1e-6), in float32
        : (float) (maxNorm / norm);                                // ‖g‖ beyond float32 range: float64
    if (clipCoef < 1f) {                                           // clamp(clip_coef, max=1): ×1 is a no-op
      for (int i = 0; i < grad.length; i++) {
        grad[i] = grad[i] * clipCoef;
      }
    }
    return norm;
  }
}
