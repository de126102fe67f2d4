#!/usr/bin/env bash
# Builds and runs examples/consumer both ways a fork consumes torchstress, and checks the
# configure-time guards:
#   1. add_subdirectory(<torchstress>) from the consumer (TORCHSTRESS_BUILD_TESTS=OFF: the support
#      library and the consumer's test only), checking nothing leaks into the parent;
#   2. `cmake --install` of the torchstress build BUILD_DIR into a temporary prefix, then
#      find_package(torchstress CONFIG) from the consumer;
#   3. the ABI guard stops configure on a mismatched _GLIBCXX_USE_CXX11_ABI, and configure says
#      "compiled without X because Y" for every backend left out.
#   ctest/ci-consumers.sh BUILD_DIR
# BUILD_DIR is a torchstress build tree (e.g. `build` after `cmake --workflow --preset ci`); it is
# reused for the install (only the support libraries core, harness, suite and test_main are brought up to
# date). If it does not exist, it is configured with TORCHSTRESS_BUILD_TESTS=OFF. Scratch builds go
# to BUILD_DIR/ci-consumers/. Exits non-zero on any failure. JOBS (default 2) sets the parallelism.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: ctest/ci-consumers.sh BUILD_DIR}
jobs=${JOBS:-2}
mkdir -p "$build"
build=$(cd "$build" && pwd)
scratch="$build/ci-consumers"
rm -rf "$scratch"
mkdir -p "$scratch"
start=$SECONDS
step() { echo; echo "== ci-consumers [$((SECONDS - start))s]: $*"; }
fail() { echo "FAIL ci-consumers: $*" >&2; exit 1; }
# A CI that shards might have exported these; the consumer's ctest must see every test.
unset GTEST_TOTAL_SHARDS GTEST_SHARD_INDEX GTEST_FILTER

# --- the torchstress build tree to install from --------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  step "configuring $build (TORCHSTRESS_BUILD_TESTS=OFF)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTORCHSTRESS_BUILD_TESTS=OFF
fi
home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
[ "$home" -ef "$src" ] || fail "$build is a build tree of '$home', not of $src"
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
# The consumers use the same LibTorch, compiler and build type as the suite's build.
common=(-DCMAKE_BUILD_TYPE="$(cache_get CMAKE_BUILD_TYPE)" -DCMAKE_CXX_COMPILER="$(cache_get CMAKE_CXX_COMPILER)")
torch_dir=$(cache_get Torch_DIR)
[ -n "$torch_dir" ] && [ "$torch_dir" != "Torch_DIR-NOTFOUND" ] || fail "no Torch_DIR in $build/CMakeCache.txt"

# run_consumer NAME BUILD_DIR: build, check the labels reach the consumer's ctest, run its tests.
run_consumer() {
  local name=$1 dir=$2
  step "$name: build"
  # Only the consumer's test and what it links (not torchstress's tools, under add_subdirectory).
  cmake --build "$dir" -j "$jobs" --target consumer_threaded_test
  step "$name: ctest"
  local labels; labels=$(cd "$dir" && ctest --print-labels)
  echo "$labels"
  grep -qx '  consumer' <<<"$labels" || fail "$name: label 'consumer' missing from the consumer's ctest --print-labels"
  grep -qx '  quick' <<<"$labels" || fail "$name: label 'quick' missing from the consumer's ctest --print-labels"
  local n; n=$(cd "$dir" && ctest -N -L consumer | sed -n 's/^Total Tests: //p')
  [ "$n" = 2 ] || fail "$name: expected the consumer's 2 test cases under label 'consumer', ctest lists $n"
  (cd "$dir" && TORCHSTRESS_RESULTS_DIR="$dir/results" ctest -L consumer --output-on-failure --no-tests=error) ||
    fail "$name: the consumer's tests failed"
}

# --- 1. add_subdirectory --------------------------------------------------------------------------
step "add_subdirectory: configure"
cmake -S "$src/examples/consumer" -B "$scratch/subdir" "${common[@]}" -DTorch_DIR="$torch_dir" \
  -DTORCHSTRESS_SOURCE_DIR="$src" -DTORCHSTRESS_BUILD_TESTS=OFF | tee "$scratch/subdir-configure.log"
grep -q "example-consumer: torchstress through add_subdirectory" "$scratch/subdir-configure.log" || fail "consumer did not take the add_subdirectory path"
run_consumer add_subdirectory "$scratch/subdir"

# --- 2. install + find_package ------------------------------------------------------------------
step "install: bring $build's libraries up to date, install into $scratch/prefix"
cmake --build "$build" -j "$jobs" --target torchstress_core torchstress_harness torchstress_suite torchstress_test_main
cmake --install "$build" --prefix "$scratch/prefix" >"$scratch/install.log"
for f in include/torchstress/runner.h include/torchstress/knobs.def lib/cmake/torchstress/torchstressConfig.cmake \
         lib/cmake/torchstress/TorchstressTesting.cmake; do
  [ -f "$scratch/prefix/$f" ] || fail "install lacks $f"
done
step "find_package: configure (LibTorch found through the package's recorded Torch_DIR)"
# No Torch_DIR given: the config must find the LibTorch the suite was built against by itself.
cmake -S "$src/examples/consumer" -B "$scratch/installed" "${common[@]}" \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" | tee "$scratch/installed-configure.log"
grep -q "example-consumer: torchstress through find_package" "$scratch/installed-configure.log" || fail "consumer did not take the find_package path"
run_consumer find_package "$scratch/installed"
# The ABI define and the backend define reach the consumer's compile line from the exported target.
flags=$(cat "$scratch/installed/CMakeFiles/consumer_threaded_test.dir/flags.make" 2>/dev/null || true)
if [ -n "$flags" ]; then
  grep -q -- "-DTORCHSTRESS_HAVE_CUDA=" <<<"$flags" || fail "find_package: TORCHSTRESS_HAVE_CUDA not on the consumer's compile line"
  grep -q -- "-D_GLIBCXX_USE_CXX11_ABI=" <<<"$flags" || fail "find_package: LibTorch's _GLIBCXX_USE_CXX11_ABI not on the consumer's compile line"
  grep -q -- "$scratch/prefix/include" <<<"$flags" || fail "find_package: the installed include folder is not on the consumer's compile line"
fi

# --- 3. configure-time guards -------------------------------------------------------------------
step "guards"
"$src/ctest/abi-guard-check.sh" "$scratch/abi-guard" || { rc=$?; [ $rc = 77 ] || fail "ABI guard check"; }
# Every backend is either compiled in or reported as "compiled without X because Y".
for backend in CUDA MPS; do
  grep -Eq "torchstress: +compiled (with|without) ${backend}|torchstress: +compiled with the ${backend} API" "$scratch/subdir-configure.log" ||
    fail "configure did not say whether $backend is compiled in"
done
grep -E "torchstress: +compiled (with|without)" "$scratch/subdir-configure.log"

step "all consumer checks passed in $((SECONDS - start))s"
