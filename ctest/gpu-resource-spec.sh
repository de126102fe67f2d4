#!/usr/bin/env bash
# Writes a CTest resource spec with one "gpus" slot per visible CUDA device, so
#   ctest --resource-spec-file <file> -j2 -L soak
# runs GPU tests side by side, each on a card of its own (tests carry RESOURCE_GROUPS gpus:1, and
# the harness reads CTEST_RESOURCE_GROUP_0_GPUS before any CUDA call).
#   ctest/gpu-resource-spec.sh [OUTPUT]   (default: gpu-resources.json; prints the path)
set -euo pipefail
out=${1:-gpu-resources.json}
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  count=$(awk -F, '{print NF}' <<<"$CUDA_VISIBLE_DEVICES")
elif command -v nvidia-smi >/dev/null 2>&1; then
  count=$(nvidia-smi -L | grep -c '^GPU ')
else
  count=0
fi
entries=""
for ((i = 0; i < count; i++)); do
  entries+="${entries:+,}{\"id\":\"$i\",\"slots\":1}"
done
printf '{"version":{"major":1,"minor":0},"local":[{"gpus":[%s]}]}\n' "$entries" >"$out"
echo "$out ($count GPU(s))"
