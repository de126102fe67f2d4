#!/usr/bin/env bash
# The verification run (README's first command): builds if needed, runs the seed's battery on the
# best available device (quick, stress, regression, soak, isolated rounds, benchmarks), then writes
# report.md, report.json and chart.svg from the results. A crash or hang in one tier loses nothing
# already written: every test appends its results as it ends, and the next tier still runs.
#
#   ctest/verify.sh [--device auto|cpu|cuda|cuda:N|mps] [--libtorch wheel|debian] [--out DIR]
#                   [--baseline OLD/report.json] [--build-dir DIR] [--soak-seconds S]
#                   [--cmake-args "-DTorch_DIR=..."]
# --libtorch: wheel (default) is the pinned PyPI torch wheel (or python3's own torch on a GPU box),
# debian is Debian's libtorch-dev 1.13.1; --cmake-args with a Torch_DIR brings your own LibTorch.
# --device X other than auto/cpu also requires X: absent, the run stops with exit 2, and the tests
# of that backend fail instead of skipping (TORCHSTRESS_REQUIRE).
#
# Exit: 0 all passed; 1 a test failed or the report found a regression against the baseline;
#       2 bad arguments, or a missing dependency found at configure (one line on stderr, no tests run).
set -uo pipefail
cd "$(dirname "$0")/.."

device=auto libtorch=wheel out="" baseline="" build_dir="" soak="" cmake_args=""
die_usage() { echo "verify.sh: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --device) [ $# -ge 2 ] || die_usage "--device needs a value; accepted: auto, cpu, cuda, cuda:N, mps"; device=$2; shift 2 ;;
    --libtorch) [ $# -ge 2 ] || die_usage "--libtorch needs a value; accepted: wheel, debian"; libtorch=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die_usage "--out needs a folder"; out=$2; shift 2 ;;
    --baseline) [ $# -ge 2 ] || die_usage "--baseline needs a report.json"; baseline=$2; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || die_usage "--build-dir needs a folder"; build_dir=$2; shift 2 ;;
    --soak-seconds) [ $# -ge 2 ] || die_usage "--soak-seconds needs a duration"; soak=$2; shift 2 ;;
    --cmake-args) [ $# -ge 2 ] || die_usage "--cmake-args needs a value, e.g. -DTorch_DIR=<LibTorch>/share/cmake/Torch"; cmake_args=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die_usage "unknown argument '$1'; accepted: --device --libtorch --out --baseline --build-dir --soak-seconds --cmake-args" ;;
  esac
done
[[ "$device" =~ ^(auto|cpu|cuda|cuda:[0-9]+|mps)$ ]] || die_usage "--device '$device' is not accepted; accepted: auto, cpu, cuda, cuda:N, mps"
[[ "$libtorch" =~ ^(wheel|debian)$ ]] || die_usage "--libtorch '$libtorch' is not accepted; accepted: wheel, debian"
[ -z "$baseline" ] || [ -r "$baseline" ] || die_usage "--baseline '$baseline' is not a readable file; accepted: a report.json of an earlier run"
if [ -n "$soak" ] && ! [[ "$soak" =~ ^[0-9]+(\.[0-9]+)?(ms|s|m)?$ ]]; then
  die_usage "--soak-seconds '$soak' is not accepted; accepted: a duration such as 60, 2.5, 500ms, 2m"
fi

start=$(date +%s)
stamp=$(date +%Y%m%d-%H%M%S)
out=${out:-out/verify-$stamp}
mkdir -p "$out/results" || die_usage "--out '$out' cannot be created"
out=$(cd "$out" && pwd)

# 1. Dependencies (Debian/Ubuntu as root; elsewhere the configure step names what is missing) and
#    which LibTorch: the wheel's venv, Debian's, or the one --cmake-args names.
wheel_python=$HOME/.cache/torchstress/wheel/bin/python3
if [ -n "$cmake_args" ]; then
  libtorch=custom
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if ! ctest/bootstrap.sh --libtorch "$libtorch"; then
    [ "$libtorch" = wheel ] || die_usage "could not install Debian's libtorch-dev; see the lines above"
    echo "verify: WARNING: the torch wheel could not be installed (no PyPI?); falling back to Debian's LibTorch 1.13.1" >&2
    libtorch=debian
    ctest/bootstrap.sh --libtorch debian || die_usage "could not install Debian's libtorch-dev either"
  fi
fi
case "$libtorch" in
  wheel) cmake_args="-DTORCHSTRESS_TORCH_PYTHON=$wheel_python"; build_dir=${build_dir:-build} ;;
  debian) cmake_args="-DTORCHSTRESS_TORCH_PYTHON="; build_dir=${build_dir:-build-debian} ;;
  custom) build_dir=${build_dir:-build-custom} ;;
esac

# 2. Configure and build (incrementally when the build folder exists).
if ! [ -f "$build_dir/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086  # --cmake-args is a list of arguments
  if ! cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release $cmake_args >"$out/configure.log" 2>&1; then
    # A missing dependency (LibTorch, GoogleTest, spdlog) is bad input, not a test failure: say it
    # in one line, as configure worded it, and exit 2.
    line=$(awk '/^CMake Error/ {grab=1; next} grab && NF {printf "%s ", $0; seen=1; next} grab && seen {exit}' \
           "$out/configure.log" | tr -s ' ' | sed 's/ Call Stack.*//; s/^ //; s/ $//')
    rm -rf "$build_dir"
    echo "verify.sh: ${line:-configure failed; see $out/configure.log}" >&2
    exit 2
  fi
  cat "$out/configure.log"
fi
cmake --build "$build_dir" -j"$(nproc)" || exit 1

# 3. The battery, tier by tier, on the chosen device; each tier's JUnit XML beside the results.
export TORCHSTRESS_DEVICE=$device
# A device asked for by name is required: its absence is exit 2, its skipped tests are failures.
case "$device" in
  cuda*) export TORCHSTRESS_REQUIRE=cuda ;;
  mps) export TORCHSTRESS_REQUIRE=mps ;;
esac
export TORCHSTRESS_RESULTS_DIR=$out/results
[ -n "$soak" ] && export TORCHSTRESS_SOAK_SECONDS=$soak
status=0
run_tier() {  # name, ctest selection...
  local name=$1; shift
  echo "== verify: $name"
  ctest --test-dir "$build_dir" --output-on-failure --output-junit "$out/junit-$name.xml" "$@" || status=1
}
jobs=$(( $(nproc) < 4 ? $(nproc) : 4 ))
run_tier quick -L quick -j"$jobs"
run_tier regression -L regression -LE quick
run_tier soak -L soak
run_tier isolation -L isolation
run_tier bench -L bench -LE quick

# 4. The report.
report=$build_dir/tools/report/torchstress_report
if [ -x "$report" ]; then
  "$report" --results "$out/results" --out "$out" ${baseline:+--baseline "$baseline"}
  rc=$?
  [ $rc -eq 0 ] || status=1
else
  echo "verify: $report was not built; results are in $out/results" >&2
  status=1
fi
echo "verify: finished in $(( $(date +%s) - start )) s on device '$device'; report: $out/report.md"
exit $status
