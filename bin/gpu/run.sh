#!/usr/bin/env bash
# One GPU run, from the kit bin/gpu-kit builds (copied there as run.sh). On the GPU host:
#   bash .gpu/run.sh [GpuCheck arguments, e.g. shapes=quick jvm=1]
# 1. points the OpenCL ICD loader at NVIDIA's driver when /etc/OpenCL/vendors lacks it (OCL_ICD_VENDORS;
#    no root needed, nothing on the host changed);
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

# The ICD loader reads its drivers from $OCL_ICD_VENDORS when set: a folder of our own with the
# host's registered drivers plus NVIDIA's, found on disk, needs no root and changes nothing on the host.
VENDORS="${TMPDIR:-/tmp}/spark-rnn-gpu-vendors"
rm -rf "$VENDORS" && mkdir -p "$VENDORS"
cp /etc/OpenCL/vendors/*.icd "$VENDORS/" 2>/dev/null || true
if [ "$DEVICE" = gpu ] && ! grep -qs nvidia "$VENDORS"/*.icd; then
  lib=""
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64; do
    [ -e "$d/libnvidia-opencl.so.1" ] && lib="$d/libnvidia-opencl.so.1" && break
  done
  # driver libraries are often bind-mounted into a container: search every mount, not just /, for a minute at most
  [ -n "$lib" ] || lib=$(timeout 60 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name libnvidia-opencl.so.1 -print 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    echo "$lib" > "$VENDORS/nvidia.icd" && echo "OpenCL: using $lib (not registered in /etc/OpenCL/vendors)"
    # its neighbours (libcuda.so.1 and the like) must load too
    export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    echo "OpenCL: no libnvidia-opencl.so.1 on this host; the GPU will not be visible to OpenCL"
  fi
fi
export OCL_ICD_VENDORS="$VENDORS"
# Aparapi's native library links the ICD loader (libOpenCL.so.1); the kit carries one for hosts without it
if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL.so.1 '; then
  echo "OpenCL: no libOpenCL.so.1 installed; using the kit's ICD loader"
  export LD_LIBRARY_PATH="$KIT/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# the jlink'd runtime was built against glibc 2.34+ (Debian 12; Ubuntu 22.04 and later have it)
echo "host: $(ldd --version 2>/dev/null | head -1)"
{ nvidia-smi; ls -l /etc/OpenCL/vendors "$VENDORS"; cat "$VENDORS"/*.icd; } > "$OUT/host.txt" 2>&1

JAVA="$KIT/jre/bin/java"
if [ ! -x "$JAVA" ]; then
  RT="${TMPDIR:-/tmp}/spark-rnn-gpu-jre"
  rm -rf "$RT" && mkdir -p "$RT" && tar xzf "$KIT/jre.tar.gz" -C "$RT"
  JAVA="$RT/jre/bin/java"
fi
# the JVM's signal handlers chained, without which spark-rnn does not start OpenCL (SignalChaining);
# set for the JVM alone (other programs under libjsig print a deprecation line when they call signal())
JSIG="$(cd "$(dirname "$JAVA")/../lib" && pwd)/libjsig.so"

if [ "$DEVICE" = gpu ]; then
  echo "cuDNN yardstick (PyTorch)..."
  # 150 s + GpuCheck's 360 s stay inside a 540 s device call; both scripts save after every shape
  timeout 150 python3 "$KIT/cudnn_bench.py" --out "$OUT/cudnn.json" > "$OUT/cudnn.log" 2>&1 \
    && tail -n 12 "$OUT/cudnn.log" || echo "cuDNN yardstick: failed or cut short, see $OUT/cudnn.log"
fi
YARDSTICK="$OUT/cudnn.json"
if [ ! -s "$YARDSTICK" ]; then
  YARDSTICK="$KIT/gpu-md-yardstick.json"
  echo "yardstick: no cuDNN measurement from this run; using shared/GPU.md's figures (with Adam)"
fi

timeout 360 env LD_PRELOAD="$JSIG" "$JAVA" --add-modules=jdk.incubator.vector -cp "$KIT/lib/*" io.sparkrnn.kernel.bench.GpuCheck \
  device="$DEVICE" out="$OUT" yardstick="$YARDSTICK" budgetSeconds=240 "$@" 2>&1 | tee "$OUT/gpu-check.log"
status=${PIPESTATUS[0]}
echo "gpu run: GpuCheck exit status $status (0 all checks passed, 1 a check failed, 2 no such device or bad arguments, 124 timed out)"
exit "$status"
