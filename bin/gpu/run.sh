#!/usr/bin/env bash
# One GPU run, from the kit bin/gpu-kit builds (copied there as run.sh). On the GPU host:
#   bash .gpu/run.sh [GpuCheck arguments, e.g. shapes=quick jvm=1]
# 1. registers NVIDIA's OpenCL driver with the ICD loader when /etc/OpenCL/vendors lacks it (root);
# 2. times PyTorch cuDNN on the same shapes (cudnn_bench.py; skipped when torch or CUDA is missing);
# 3. checks our kernels against the float64 reference on the GPU and times them (GpuCheck),
#    with cuDNN's figures beside them.
# Writes everything to $OUT (default: out/ beside this script); the table is printed last.
# DEVICE=cpu-opencl tries the whole run on PoCL.
set -uo pipefail
KIT="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-$KIT/out}"
DEVICE="${DEVICE:-gpu}"
mkdir -p "$OUT"
echo "gpu run: kit of commit $(cat "$KIT/COMMIT" 2>/dev/null || echo unknown), writing to $OUT"

if [ "$DEVICE" = gpu ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
  lib=$(find / -xdev -name libnvidia-opencl.so.1 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    mkdir -p /etc/OpenCL/vendors && echo "$lib" > /etc/OpenCL/vendors/nvidia.icd && echo "registered $lib in /etc/OpenCL/vendors/nvidia.icd"
  else
    echo "no libnvidia-opencl.so.1 found: the GPU will not be visible to OpenCL"
  fi
fi
{ nvidia-smi; ls -l /etc/OpenCL/vendors; } > "$OUT/host.txt" 2>&1

JAVA="$KIT/jre/bin/java"
if [ ! -x "$JAVA" ]; then
  RT="${TMPDIR:-/tmp}/spark-rnn-gpu-jre"
  rm -rf "$RT" && mkdir -p "$RT" && tar xzf "$KIT/jre.tar.gz" -C "$RT"
  JAVA="$RT/jre/bin/java"
fi

if [ "$DEVICE" = gpu ]; then
  echo "cuDNN yardstick (PyTorch)..."
  timeout 300 python3 "$KIT/cudnn_bench.py" --out "$OUT/cudnn.json" > "$OUT/cudnn.log" 2>&1 \
    && tail -n 12 "$OUT/cudnn.log" || echo "cuDNN yardstick: failed or skipped, see $OUT/cudnn.log"
fi

timeout 480 "$JAVA" --add-modules=jdk.incubator.vector -cp "$KIT/lib/*" io.sparkrnn.kernel.aparapi.GpuCheck \
  device="$DEVICE" out="$OUT" yardstick="$OUT/cudnn.json" "$@" 2>&1 | tee "$OUT/gpu-check.log"
status=${PIPESTATUS[0]}
echo "gpu run: GpuCheck exit status $status (0 all checks passed, 1 a check failed, 2 no such device or bad arguments, 124 timed out)"
exit "$status"
