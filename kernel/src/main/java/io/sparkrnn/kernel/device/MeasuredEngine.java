package io.sparkrnn.kernel.device;

import io.sparkrnn.kernel.aparapi.DeviceFallbackException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.GroupedResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * {@code --device auto} on a GPU host for the callers in one JVM that learn their shape only at
 * their first call (predict, evaluate and generate on local files, grad, the quickstart; the Spark
 * jobs over a dataset pick once in an executor instead, spark-job's AutoDeviceJob, and Spark ML's
 * transform runs the JVM engine): that call is timed on
 * the GPU's engine and on the JVM engine ({@link AutoDevice#choose(String, List, AutoDevice.Timer)}:
 * each gets half the budget, at least one call), the faster is kept for the engine's life and the
 * other closed. Forward calls are timed as forward calls and training calls as training calls,
 * each at the call's own B and T. The choice is cached per kind of call, shape and host in this
 * JVM (callers at the same time wait for one measurement), so the next engine of the same shape
 * does not time again; an engine keeps its pick for its life, so every call of a run goes to one
 * device. Logged once per shape.
 *
 * <p>The timing runs the first call's work several times more (about the budget, 2 s by default,
 * or two calls per engine where a call takes longer: {@link AutoDevice#rate}), once per shape and JVM. {@code train} does
 * not come here: it times in an executor before its first step ({@code AutoDeviceJob}) and names
 * the device its tasks run.
 */
final class MeasuredEngine implements BpttEngine {
  private static final Logger LOG = Logger.getLogger(MeasuredEngine.class.getName());

  private final int jvmThreads;
  private final String host;
  private final double budgetSeconds;
  private BpttEngine gpu;
  private final Supplier<BpttEngine> jvmFactory;
  private BpttEngine jvm;
  private BpttEngine chosen;
  private AutoDevice.Choice choice;

  /**
   * @param gpu the GPU's engine, its kernel compiled for the GPU ({@link Engines#gpuOrJvm}); owned from here on
   * @param jvmFactory makes the JVM engine, when it is timed or picked
   * @param jvmThreads the threads it makes the JVM engine with (0: every core), part of the cache key
   */
  MeasuredEngine(BpttEngine gpu, Supplier<BpttEngine> jvmFactory, int jvmThreads, String host, double budgetSeconds) {
    this.gpu = gpu;
    this.jvmFactory = jvmFactory;
    this.jvmThreads = jvmThreads;
    this.host = host;
    this.budgetSeconds = budgetSeconds;
  }

  @Override
  public ForwardResult forward(Params params, Batch batch, State initial) {
    pick("forward", params, batch, e -> e.forward(params, batch, initial));
    return onChosen(e -> e.forward(params, batch, initial));
  }

  @Override
  public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
    pick("training step", params, batch, e -> e.lossAndGradient(params, batch, initial));
    return onChosen(e -> e.lossAndGradient(params, batch, initial));
  }

  @Override
  public GroupedResult lossAndGradients(Params params, Batch batch, State initial, int[] bounds) {
    pick("training step", params, batch, e -> e.lossAndGradients(params, batch, initial, bounds));
    return onChosen(e -> e.lossAndGradients(params, batch, initial, bounds));
  }

  /**
   * The call on the chosen engine. Where the GPU was chosen and a launch of the call fails there
   * (Aparapi could not run it on the GPU: a driver error, the device lost or out of memory; the
   * engine never lets Aparapi's thread pool run it instead, {@link DeviceFallbackException}), the
   * call runs again on the JVM engine, which runs every later call of this engine too; the next
   * engines of this JVM are the JVM engine from the start ({@link Engines#gpuFailed}). Logged.
   */
  private <R> R onChosen(Function<BpttEngine, R> call) {
    if (chosen != gpu) {
      return call.apply(chosen);
    }
    try {
      return call.apply(chosen);
    } catch (DeviceFallbackException e) {
      String why = "a launch on the GPU failed in a call (" + e.getMessage() + ")";
      LOG.warning("--device auto: " + why + "; that call and every later one run on the JVM engine");
      Engines.gpuFailed(why);
      gpu.close();
      gpu = null;
      chosen = engine(DeviceChoice.JVM);
      return call.apply(chosen);
    }
  }

  /** The choice this engine made at its first call, or null before it. */
  AutoDevice.Choice choice() {
    return choice;
  }

  /** On the first call: the cached choice for this kind of call and shape, or both engines timed on it. */
  private void pick(String kind, Params params, Batch batch, Function<BpttEngine, ?> call) {
    if (chosen != null) {
      return;
    }
    String key = kind + ": " + AutoDevice.key(params.config(), batch.batchSize(), batch.steps(), jvmThreads, host);
    choice = AutoDevice.choose(key, List.of(DeviceChoice.GPU, DeviceChoice.JVM), d -> {
      BpttEngine e = engine(d);
      return AutoDevice.rate(() -> call.apply(e), batch.batchSize(), budgetSeconds / 2);
    });
    chosen = engine(DeviceChoice.parse(choice.device()));
    if (chosen == gpu) {
      closeJvm();
    } else {
      gpu.close();
      gpu = null;
    }
    Engines.logOnce(choice.describe() + " -> " + chosen.describe());
  }

  private BpttEngine engine(DeviceChoice d) {
    if (d == DeviceChoice.GPU) {
      return gpu;
    }
    if (jvm == null) {
      jvm = jvmFactory.get();
    }
    return jvm;
  }

  @Override
  public long workingBytes() {
    return chosen == null ? -1 : chosen.workingBytes();
  }

  @Override
  public String describe() {
    return chosen != null ? chosen.describe()
        : gpu != null ? "auto: the faster of " + gpu.describe() + " and the JVM engine, timed at the first call" : "auto: closed";
  }

  @Override
  public void close() {
    if (gpu != null) {
      gpu.close();
      gpu = null;
    }
    closeJvm();
  }

  private void closeJvm() {
    if (jvm != null) {
      jvm.close();
      jvm = null;
    }
  }
}
