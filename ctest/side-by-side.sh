#!/usr/bin/env bash
# The side-by-side numbers of docs/benchmarks.md, in one run on one machine: the suite's runner
# against the seed's bare loop (tools/throughput: op + the policy's sync, nothing else), and the
# seed's loop in Python `threading` on the box's own PyTorch (tools/python_baseline).
#   ctest/side-by-side.sh BUILD_DIR [SECONDS] [THREADS]      (JSON lines on stdout)
# On CUDA (TORCHSTRESS_DEVICE=cuda): matmul128 under each stream policy x sync (stream, device,
# none) and the module workloads under each stream policy with sync stream. Elsewhere: every
# workload with sync stream and none. Schedule noise is off (NOISE=0) unless set: the figure is
# the value check's cost; noise pauses on purpose.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: side-by-side.sh BUILD_DIR [SECONDS] [THREADS]}
secs=${2:-2}
threads=${3:-8}
tp=$build/tools/throughput/torchstress_throughput
[ -x "$tp" ] || { echo "side-by-side.sh: '$tp' is not built; accepted: a build folder with torchstress_throughput" >&2; exit 2; }
export TORCHSTRESS_NOISE=${TORCHSTRESS_NOISE:-0}
echo "# $(date -u +%FT%TZ) $(nvidia-smi -L 2>/dev/null | head -1)"

row() {  # streams sync workload
  TORCHSTRESS_CUDA_STREAMS=$1 TORCHSTRESS_SYNC=$2 "$tp" --workload "$3" --threads "$threads" --seconds "$secs" \
    --repetitions 3 --json || echo "side-by-side.sh: $3 $1/$2 failed (exit $?)" >&2
}

if [[ "${TORCHSTRESS_DEVICE:-auto}" == cuda* ]]; then
  for streams in shared per-thread; do
    for sync in stream device none; do row "$streams" "$sync" matmul128; done
    for w in layernorm transformer mlp; do row "$streams" stream "$w"; done
  done
  if python3 -c 'import torch' 2>/dev/null; then
    py=tools/python_baseline/threads_baseline.py
    python3 $py --workload matmul128 --threads "$threads" --seconds "$secs" --sync device --streams shared
    python3 $py --workload matmul128 --threads "$threads" --seconds "$secs" --sync stream --streams per-thread
    python3 $py --workload mlp --threads "$threads" --seconds "$secs" --sync stream --streams per-thread
  fi
else
  for sync in stream none; do
    for w in matmul128 layernorm transformer mlp; do row shared "$sync" "$w"; done
  done
fi
