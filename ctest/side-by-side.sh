#!/usr/bin/env bash
# The side-by-side numbers of docs/benchmarks.md, in one run on one machine: the suite's runner
# against a bare LibTorch loop (tools/throughput), and against Python `threading` on the box's own
# PyTorch (tools/python_baseline), for the same workloads, threads and CUDA stream policy.
#   ctest/side-by-side.sh BUILD_DIR [SECONDS]      (JSON lines on stdout)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: side-by-side.sh BUILD_DIR [SECONDS]}
secs=${2:-2}
tp=$build/tools/throughput/torchstress_throughput
echo "# $(date -u +%FT%TZ) $(nvidia-smi -L 2>/dev/null | head -1)"
for cfg in "matmul128 8" "linear_relu 1" "linear_relu 8" "mlp 8"; do
  set -- $cfg
  for policy in shared per-thread; do
    TORCHSTRESS_CUDA_STREAMS=$policy "$tp" --workload "$1" --threads "$2" --seconds "$secs" --repetitions 3 --json
  done
done
if python3 -c 'import torch' 2>/dev/null; then
  python3 tools/python_baseline/threads_baseline.py --workload linear_relu --threads 1,8 --seconds "$secs"
  python3 tools/python_baseline/threads_baseline.py --workload matmul128 --threads 8 --seconds "$secs"
  python3 tools/python_baseline/threads_baseline.py --workload mlp --threads 1,8 --seconds "$secs"
fi
