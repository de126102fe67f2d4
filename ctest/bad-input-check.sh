#!/usr/bin/env bash
# Bad input to the suite's scripts and tools: each case must exit 2 with one line that names the
# value and what is accepted, before doing any work.
#   ctest/bad-input-check.sh THROUGHPUT_BINARY REPORT_BINARY
set -uo pipefail
cd "$(dirname "$0")/.."
throughput=$1 report=$2
fails=0
expect_usage_error() {  # description, expected text, command...
  local what=$1 text=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null </dev/null); rc=$?   # the error line goes to stderr
  local lines; lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [[ "$out" != *"$text"* ]]; then
    echo "FAIL $what: exit $rc, $lines line(s): $out"; fails=$((fails + 1))
  else
    echo "ok   $what: $out"
  fi
}
expect_usage_error "verify --device gpu" "--device 'gpu' is not accepted; accepted: auto, cpu, cuda, cuda:N, mps" ctest/verify.sh --device gpu
# Knob values are checked by the built test binary (the one parser of durations and devices).
build_dir=$(cd "$(dirname "$throughput")/../.." && pwd)
expect_usage_error "verify --soak-seconds abc" "TORCHSTRESS_SOAK_SECONDS='abc' is not accepted" ctest/verify.sh --build-dir "$build_dir" --soak-seconds abc
expect_usage_error "verify --device cuda:99" "TORCHSTRESS_DEVICE='cuda:99' is not available here" ctest/verify.sh --build-dir "$build_dir" --device cuda:99
expect_usage_error "verify unknown flag" "unknown argument '--fast'" ctest/verify.sh --fast
expect_usage_error "verify missing baseline" "is not a readable file" ctest/verify.sh --baseline /nonexistent/report.json
tmp=$(mktemp -d)
expect_usage_error "verify --libtorch conda" "--libtorch 'conda' is not accepted; accepted: wheel, debian" ctest/verify.sh --libtorch conda
expect_usage_error "verify without LibTorch" "torchstress: LibTorch not found. Accepted: ctest/bootstrap.sh" \
  ctest/verify.sh --build-dir "$tmp/build" --out "$tmp/out" --cmake-args -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON
rm -rf "$tmp"
expect_usage_error "throughput --threads -3" "--threads='-3' is not accepted; accepted: a whole number >= 1" "$throughput" --threads -3
expect_usage_error "throughput --workload bogus" "unknown workload 'bogus'" env TORCHSTRESS_DEVICE=cpu "$throughput" --workload bogus
expect_usage_error "throughput with TORCHSTRESS_DEVICE=gpu" "TORCHSTRESS_DEVICE='gpu' is not accepted" env TORCHSTRESS_DEVICE=gpu "$throughput"
battery="$build_dir/tests/torchstress_battery"
expect_usage_error "battery with TORCHSTRESS_WORKLOAD=op:no::such" "TORCHSTRESS_WORKLOAD='op:no::such' is not accepted (operator 'no::such' is not registered" env TORCHSTRESS_WORKLOAD=op:no::such "$battery"
expect_usage_error "battery with a two-argument op" "a workload op takes (Tensor) -> Tensor); accepted: mm, matmul128" env TORCHSTRESS_WORKLOAD=op:aten::add.Tensor "$battery"
expect_usage_error "battery with TORCHSTRESS_OP_LIBRARY=/nonexistent.so" "TORCHSTRESS_OP_LIBRARY='/nonexistent.so' is not accepted: cannot load" env TORCHSTRESS_OP_LIBRARY=/nonexistent.so "$battery"
detect="$build_dir/tools/detection/torchstress_detection_table"
expect_usage_error "detection table --runs 0" "--runs='0' is not accepted; accepted: a whole number >= 1" "$detect" --runs 0
expect_usage_error "detection table --modes warm" "--modes entry 'warm' is not accepted; accepted: threaded, cold, soak" \
  "$detect" --battery "$battery" --op-library "$battery" --catalogue tests/detection/zoo_catalogue.json --results /tmp/x --modes warm
expect_usage_error "report without arguments" "--results and --out are required; accepted: torchstress_report --results DIR --out DIR" "$report"
expect_usage_error "report with an unknown flag" "unknown argument '--bogus'" "$report" --bogus
exit $((fails > 0))
