#!/usr/bin/env python3
"""The cuDNN yardstick for a GPU run (bin/gpu/run.sh): PyTorch's RNN, LSTM and GRU (cuDNN) plus a
Linear head, fp32 with TF32 off, on the shapes of shared/GPU.md, timed two ways after warm-up:

  fwd_bwd: forward, MSE loss (sum) and backward - what our kernels' training step does;
  step:    the same plus an Adam step - what shared/GPU.md's table reports.

Writes a JSON list of rows {"shape": "cell:F:H:B:T", "seq_per_s": B / median fwd_bwd time,
"fwd_bwd_ms", "step_ms", "step_seq_per_s", "runs"}; GpuCheck reads "shape" and "seq_per_s".
Inputs and targets are uniform in [-1, 1); one layer, sequence-first tensors [T, B, F].

  python3 cudnn_bench.py --out cudnn.json [--runs 30] [--warmup 5] [--device cuda]
"""
import argparse
import json
import os
import statistics
import sys
import time

SHAPES = ["rnn:1:64:64:50", "lstm:1:64:64:50", "gru:1:64:64:50", "rnn:1:256:64:50", "lstm:1:256:64:50",
          "gru:1:256:64:50", "lstm:64:256:256:100", "lstm:128:512:1024:50", "lstm:256:1024:256:100"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda")
    p.add_argument("--shapes", default=",".join(SHAPES))
    a = p.parse_args()
    try:
        import torch
    except ImportError:
        print("cudnn_bench: no torch here; nothing to compare with", file=sys.stderr)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("cudnn_bench: torch has no CUDA device here", file=sys.stderr)
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    print("torch %s, cuDNN %s, %s" % (torch.__version__, torch.backends.cudnn.version(),
                                        torch.cuda.get_device_name(0) if a.device == "cuda" else a.device))

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    rows = []
    for shape in a.shapes.split(","):
        cell, F, H, B, T = shape.split(":")
        F, H, B, T = int(F), int(H), int(B), int(T)
        torch.manual_seed(1)
        rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](F, H).to(dev)
        head = torch.nn.Linear(H, 1).to(dev)
        params = list(rnn.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)
        x = torch.rand(T, B, F, device=dev) * 2 - 1
        y = torch.rand(T, B, 1, device=dev) * 2 - 1

        def fwd_bwd():
            for q in params:
                q.grad = None
            out, _ = rnn(x)
            loss = ((head(out) - y) ** 2).sum()
            loss.backward()

        def step():
            fwd_bwd()
            opt.step()

        def timed(fn):
            for _ in range(a.warmup):
                fn()
            sync()
            ms = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                fn()
                sync()
                ms.append((time.perf_counter() - t0) * 1e3)
            return statistics.median(ms)

        fb = timed(fwd_bwd)
        st = timed(step)
        row = {"shape": shape, "seq_per_s": B / fb * 1e3, "fwd_bwd_ms": fb, "step_ms": st,
               "step_seq_per_s": B / st * 1e3, "runs": a.runs,
               "source": "PyTorch %s cuDNN, forward + backward, measured in this run" % torch.__version__}
        rows.append(row)
        print("%-24s fwd+bwd %8.3f ms %10.0f seq/s   with Adam %8.3f ms %10.0f seq/s" % (shape, fb, row["seq_per_s"], st,
                                                                                         row["step_seq_per_s"]))
        sys.stdout.flush()
        save(rows, a.out)  # after every shape: a run cut short keeps what it measured
    return 0


def save(rows, path):
    with open(path + ".tmp", "w") as f:
        json.dump(rows, f, indent=2)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
