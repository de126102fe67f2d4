#!/usr/bin/env bash
# The GPU box's verification steps in one call (a lent GPU machine starts bare and is held only
# minutes): each step's full log goes under OUT, its summary line into OUT/summary.txt, and a
# failing step does not stop the next. Needs CUDA (TORCHSTRESS_REQUIRE=cuda: a missing GPU fails).
#   ctest/gpu-run.sh [--out DIR] [--build-dir DIR] [--deadline SECONDS] STEP...
# --deadline: the call's wall limit; a step still running 20 s before it is stopped (exit 124 in
# summary.txt) so the summary and the archive are written before the lender cuts the call.
# Steps: build quick mutation sweep detection knownbug side-by-side verify
# Exit: 0 every step passed, 1 one failed, 2 bad arguments.
set -uo pipefail
cd "$(dirname "$0")/.."

out=out/gpu-run build=build-gpu deadline=0 steps=()
usage() { echo "gpu-run.sh: $1; accepted: [--out DIR] [--build-dir DIR] [--deadline SECONDS] build quick mutation sweep detection knownbug side-by-side verify" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage "--out needs a folder"; out=$2; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || usage "--build-dir needs a folder"; build=$2; shift 2 ;;
    --deadline) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage "--deadline '${2:-}' is not a whole number of seconds > 0"
      deadline=$2; shift 2 ;;
    build|quick|mutation|sweep|detection|knownbug|side-by-side|verify) steps+=("$1"); shift ;;
    *) usage "step '$1' is not accepted" ;;
  esac
done
[ ${#steps[@]} -gt 0 ] || usage "no step named"
mkdir -p "$out/logs"
export TORCHSTRESS_DEVICE=${TORCHSTRESS_DEVICE:-cuda} TORCHSTRESS_REQUIRE=${TORCHSTRESS_REQUIRE:-cuda}
jobs=$(nproc)
failed=0

# Runs one step, its output into logs/STEP.log; its summary line (CTest's, or the last line) and
# wall time into summary.txt.
run_step() {  # name command...
  local name=$1 start=$SECONDS rc limit=()
  shift
  if [ "$deadline" -gt 0 ]; then
    local left=$((deadline - SECONDS - 20))
    [ "$left" -gt 0 ] || { echo "$name: not run, the call's deadline was reached" | tee -a "$out/summary.txt"; failed=1; return; }
    limit=(timeout --kill-after=5 "$left" bash -c '"$@"' _)  # bash: tier is a function
  fi
  "${limit[@]}" "$@" >"$out/logs/$name.log" 2>&1
  rc=$?
  local line
  line=$(grep -E 'tests passed|tests failed|Total Test time' "$out/logs/$name.log" | tr '\n' ' ')
  [ -n "$line" ] || line=$(tail -1 "$out/logs/$name.log")
  printf '%-13s exit %d, %4d s: %s\n' "$name" "$rc" $((SECONDS - start)) "$line" | tee -a "$out/summary.txt"
  [ "$rc" -eq 0 ] || failed=1
}

tier() {  # label [-j N]
  ctest --test-dir "$build" -L "$1" --no-tests=error --output-on-failure -j "${2:-4}" \
    --output-junit "$(realpath "$out")/logs/$1-junit.xml" -O "$out/logs/$1-ctest.log"
}

export -f tier
export build out
# --dirty: a lender that copies the working tree beside an older .git shows as "<commit>-dirty".
echo "# $(date -u +%FT%TZ) $(nvidia-smi -L 2>/dev/null | head -1) commit $(git describe --always --dirty 2>/dev/null)" | tee -a "$out/summary.txt"
for step in "${steps[@]}"; do
  case "$step" in
    build) run_step build ctest/gpu-build.sh "$build" ;;
    quick) run_step quick tier quick 4 ;;
    mutation) run_step mutation tier mutation 2 ;;
    sweep) run_step sweep tier sweep "$jobs" ;;
    detection) run_step detection tier detection 4 ;;
    knownbug) run_step knownbug tier knownbug 2 ;;
    side-by-side) run_step side-by-side ctest/side-by-side.sh "$build" 2 8 ;;
    verify) run_step verify ctest/verify.sh --device cuda --soak-seconds 30 --build-dir "$build" --out "$out/verify" ;;
  esac
done
# One archive of everything (a lent machine returns few files).
tar -czf "$out/gpu-run-logs.tgz" -C "$out" logs $( [ -d "$out/verify" ] && echo verify ) 2>/dev/null
exit $failed
