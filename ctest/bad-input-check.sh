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
expect_usage_error "battery with an op that writes its input" "TORCHSTRESS_WORKLOAD='op:aten::relu_' is not accepted (operator 'aten::relu_' has schema aten::relu_(Tensor(a!) self) -> Tensor(a!), which writes its input" \
  env TORCHSTRESS_WORKLOAD=op:aten::relu_ "$battery"
expect_usage_error "battery with an op library whose static initialisers throw" "threw from its static initialisers (torchstress fixture: this library refuses to load)" \
  env TORCHSTRESS_OP_LIBRARY="$build_dir/tests/sweep/libtorchstress_throwing_library.so" "$battery"
# A filter that selects no test is a typo, not a pass (gtest alone runs nothing and exits 0).
expect_usage_error "battery --gtest_filter with a typo" "--gtest_filter='Stress.Tranformer' selects no test of torchstress_battery" \
  "$battery" --gtest_filter=Stress.Tranformer
expect_usage_error "battery with GTEST_FILTER selecting nothing" "--gtest_filter='NoSuchSuite.*' selects no test of torchstress_battery" \
  env GTEST_FILTER='NoSuchSuite.*' "$battery"
expect_usage_error "battery --gtest_filter whose negative part removes every test" "--gtest_filter='Stress.*-Stress.*' selects no test" \
  "$battery" --gtest_filter='Stress.*-Stress.*'
# A user's op catalogue: each bad entry stops the sweep binary before any test (exit 2, one line).
sweep="$build_dir/tests/sweep/torchstress_sweep"
bad_catalogue() {  # what, fixture, expected text
  expect_usage_error "sweep catalogue: $1" "$3" env TORCHSTRESS_OP_CATALOGUE="tests/sweep/fixtures/$2.json" "$sweep"
}
bad_catalogue "since not a version" bad_since "\"since\" is \"two\", not a version; accepted: a LibTorch version as a string, \"MAJOR[.MINOR[.PATCH]]\""
bad_catalogue "name GoogleTest refuses" bad_name "case name 'add-with-dash_float32_contiguous' has the character '-', which GoogleTest refuses; accepted: letters, digits and '_'"
bad_catalogue "unknown key" unknown_key "key 'dtype' is not accepted; accepted: op, args, name, shape, dtypes, layouts"
bad_catalogue "empty dtypes" empty_dtypes "\"dtypes\" is []; accepted: a non-empty list of names (leave the key out for float32)"
bad_catalogue "tol without its reason" tol_without_reason "\"tol\" loosens the exact same-device check and needs \"tol_reason\""
bad_catalogue "values-only CPU check without its reason" values_only_without_reason "\"vs_cpu_values_only\" is true; accepted: the reason the CPU cross-check may compare only the first output"
bad_catalogue "empty layouts" empty_layouts "\"layouts\" is []; accepted: a non-empty list of names (leave the key out for contiguous)"
expect_usage_error "sweep with TORCHSTRESS_CONTROL=either" "TORCHSTRESS_CONTROL='wrong value|exception' is not accepted; accepted: wrong value, exception, crash, hang (one kind)" \
  env TORCHSTRESS_CONTROL='wrong value|exception' "$sweep"
detect="$build_dir/tools/detection/torchstress_detection_table"
expect_usage_error "detection table --runs 0" "--runs='0' is not accepted; accepted: a whole number >= 1" "$detect" --runs 0
expect_usage_error "detection table --modes warm" "--modes entry 'warm' is not accepted; accepted: quick, release, threaded, cold, soak" \
  "$detect" --battery "$battery" --op-library "$battery" --catalogue tests/detection/zoo_catalogue.json --results /tmp/x --modes warm
expect_usage_error "detection table --ops without its namespace" "--ops 'lazy_table' is not in tests/detection/zoo_catalogue.json; accepted: an op the catalogue names" \
  "$detect" --battery "$battery" --op-library "$battery" --catalogue tests/detection/zoo_catalogue.json --results /tmp/x --ops lazy_table
expect_usage_error "report without arguments" "--results and --out are required; accepted: torchstress_report --results DIR --out DIR" "$report"
expect_usage_error "report with an unknown flag" "unknown argument '--bogus'" "$report" --bogus
expect_usage_error "report with a missing JUnit file" "CTest JUnit file /nonexistent/junit.xml cannot be read" \
  "$report" --results tools/report/testdata/full --out "$(mktemp -d)" --ctest-junit /nonexistent/junit.xml
# Every documented `ctest ... -R <regex>` says --no-tests=error: without it a mistyped name runs
# nothing and CTest exits 0 (a typo would pass).
doc_fails=0
while IFS= read -r hit; do
  echo "FAIL documented ctest -R without --no-tests=error: $hit"; doc_fails=$((doc_fails + 1))
done < <(grep -rnE --include='*.md' 'ctest[^`]* -R ' README.md CONTRIBUTING.md docs tests tools examples 2>/dev/null | grep -v -- '--no-tests=error')
[ "$doc_fails" -gt 0 ] || echo "ok   documented ctest -R commands all say --no-tests=error"
fails=$((fails + doc_fails))
exit $((fails > 0))
