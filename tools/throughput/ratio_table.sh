#!/usr/bin/env bash
# The suite's pace against the seed's bare loop, for every workload and policy that docs/benchmarks.md
# tabulates: one torchstress_throughput line (JSON) per workload x policy, appended to OUT.
#   tools/throughput/ratio_table.sh BUILD_DIR OUT.jsonl [SECONDS] [THREADS]
# On CUDA: matmul128 under each stream policy x sync (stream, device, none), the module workloads
# under each stream policy with sync stream. Elsewhere: every workload, sync stream and none.
set -euo pipefail
build=${1:?usage: ratio_table.sh BUILD_DIR OUT.jsonl [SECONDS] [THREADS]}
out=${2:?usage: ratio_table.sh BUILD_DIR OUT.jsonl [SECONDS] [THREADS]}
seconds=${3:-2}
threads=${4:-8}
tool="$build/tools/throughput/torchstress_throughput"
# The check's cost alone: schedule noise (default 0.1) pauses on purpose; set TORCHSTRESS_NOISE to include it.
export TORCHSTRESS_NOISE=${TORCHSTRESS_NOISE:-0}
[ -x "$tool" ] || { echo "ratio_table.sh: '$tool' is not built; accepted: a build folder with torchstress_throughput" >&2; exit 2; }

row() {  # streams sync workload
  TORCHSTRESS_CUDA_STREAMS=$1 TORCHSTRESS_SYNC=$2 "$tool" --workload "$3" --threads "$threads" \
    --seconds "$seconds" --repetitions 3 --json >>"$out" || echo "ratio_table.sh: $3 $1/$2 failed (exit $?)" >&2
}

if [ "${TORCHSTRESS_DEVICE:-auto}" = cuda ] || [[ "${TORCHSTRESS_DEVICE:-}" == cuda:* ]]; then
  for streams in shared per-thread; do
    for sync in stream device none; do row "$streams" "$sync" matmul128; done
    for w in layernorm transformer mlp; do row "$streams" stream "$w"; done
  done
else
  for sync in stream none; do
    for w in matmul128 layernorm transformer mlp; do row shared "$sync" "$w"; done
  done
fi
