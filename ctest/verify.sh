#!/usr/bin/env bash
# The verification run (README's first command): installs what is missing, then hands over to the
# one pipeline, ctest/ci-driver.cmake (configure, build, knob check, tiers quick -> regression ->
# soak -> isolation -> bench on the best available device, report.md/details.md/report.json/
# chart.svg/benchmarks.json, the release gate). This script only turns its options into the
# driver's variables. A crash or hang in one tier loses nothing already written: every test
# appends its results as it ends, and the next tier still runs.
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

# Knobs, as the tests will see them. The test binary is the one parser of their values: where it is
# built already, it checks them now, before any work; otherwise the driver checks them after the build.
export TORCHSTRESS_DEVICE=$device
# A device asked for by name is required: its absence is exit 2, its skipped tests are failures.
case "$device" in
  cuda*) export TORCHSTRESS_REQUIRE=cuda ;;
  mps) export TORCHSTRESS_REQUIRE=mps ;;
esac
[ -z "$soak" ] || export TORCHSTRESS_SOAK_SECONDS=$soak
check_knobs() {  # build dir
  local checker=$1/tests/torchstress_selftest err
  [ -x "$checker" ] || return 0
  err=$("$checker" --torchstress_print_knobs --torchstress_check_device 2>&1 >/dev/null) || die_usage "${err:-knob check failed}"
}
[ -z "$build_dir" ] || check_knobs "$build_dir"

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
if [ -f "$build_dir/CMakeCache.txt" ] && [ "$libtorch" != custom ]; then
  cmake_args=""   # an existing build tree keeps the LibTorch it was configured with
fi

check_knobs "$build_dir"

# 2. The pipeline. Its bad-input and configure errors become one line and exit 2.
jobs=$(( $(nproc) < 4 ? $(nproc) : 4 ))
# shellcheck disable=SC2086  # --cmake-args is a list of arguments
configure_options=$(printf '%s;' $cmake_args)
ctest --no-compress-output --output-on-failure -S ctest/ci-driver.cmake \
  -DTORCHSTRESS_BUILD_DIR="$build_dir" -DTORCHSTRESS_OUT_DIR="$out" -DTORCHSTRESS_JOBS="$(nproc)" \
  -DTORCHSTRESS_TEST_JOBS="$jobs" -DTORCHSTRESS_TIERS="quick;regression:quick;soak;isolation;bench:quick" \
  -DTORCHSTRESS_CONFIGURE_OPTIONS="${configure_options%;}" -DTORCHSTRESS_BASELINE="$baseline" 2>&1 | tee "$out/driver.log"
status=${PIPESTATUS[0]}
if bad=$(grep -m1 -o 'torchstress ci-driver: bad input: .*' "$out/driver.log"); then
  die_usage "${bad#torchstress ci-driver: bad input: }"
fi
if grep -q 'torchstress ci-driver: configure failed' "$out/driver.log"; then
  # A missing dependency (LibTorch, GoogleTest, spdlog) is bad input, not a test failure: one line,
  # as configure worded it.
  line=$(awk '/^CMake Error/ {if (seen) exit; grab=1; next} grab && NF {printf "%s ", $0; seen=1; next} grab && seen {exit}' \
         "$out/driver.log" | tr -s ' ' | sed 's/ Call Stack.*//; s/^ //; s/ $//')
  die_usage "${line:-configure failed; see $out/driver.log}"
fi
echo "verify: finished in $(( $(date +%s) - start )) s on device '$device'; report: $out/report.md"
# The report's verdict, which counts every test CTest ran (tests, controls, and those that wrote no
# results line), so its numbers and CTest's "all N test(s) passed" can be read side by side.
[ -f "$out/report.md" ] && sed -n 's/^\*\*\(PASS\|FAIL\|INCOMPLETE\)\*\*: /verify: report: \1: /p' "$out/report.md" | head -1
[ "$status" -eq 0 ] || exit 1
