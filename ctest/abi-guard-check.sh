#!/usr/bin/env bash
# Proves cmake/TorchstressAbiGuard.cmake stops configure with its message when LibTorch's
# _GLIBCXX_USE_CXX11_ABI differs from GoogleTest's: a tiny project includes the guard once with
# each value; exactly one must configure, and the other must fail naming the mismatch.
#   ctest/abi-guard-check.sh [WORK_DIR]      (exit 0 ok, 1 fail, 77 not applicable: not GCC)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then
  work=$1; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
cat >"$work/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25...4.4)
project(torchstress_abi_guard_check LANGUAGES CXX)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "abi-guard-check: not applicable (the guard runs only with GCC's libstdc++)")
endif()
# What TorchstressDependencies.cmake reads from TORCH_CXX_FLAGS, forced here.
set(TORCHSTRESS_TORCH_CXX11_ABI \${FORCED_ABI})
include("$src/cmake/TorchstressAbiGuard.cmake")
CMAKE

declare -A rc
for abi in 0 1; do
  set +e
  cmake -S "$work" -B "$work/build-$abi" -DFORCED_ABI=$abi >"$work/log-$abi" 2>&1
  rc[$abi]=$?
  set -e
  if grep -q "abi-guard-check: not applicable" "$work/log-$abi"; then
    echo "skip abi-guard-check: the compiler is not GCC, the guard does not apply"
    exit 77
  fi
done

failed=0
ok_abi=""; bad_abi=""
for abi in 0 1; do
  if [ "${rc[$abi]}" = 0 ]; then ok_abi+=$abi; else bad_abi+=$abi; fi
done
if [ ${#ok_abi} != 1 ] || [ ${#bad_abi} != 1 ]; then
  echo "FAIL abi-guard-check: expected exactly one ABI value to configure; configured: '${ok_abi}', failed: '${bad_abi}'"
  for abi in 0 1; do echo "--- _GLIBCXX_USE_CXX11_ABI=$abi:"; tail -15 "$work/log-$abi"; done
  exit 1
fi
if ! grep -q "GoogleTest links with LibTorch's ABI setting: yes" "$work/log-$ok_abi"; then
  echo "FAIL abi-guard-check: _GLIBCXX_USE_CXX11_ABI=$ok_abi configured without the guard's 'yes' line"; failed=1
fi
# CMake wraps the message; compare with the line breaks and runs of spaces squeezed out.
if tr -s ' \n' '  ' <"$work/log-$bad_abi" | grep -q "torchstress: ABI mismatch. LibTorch uses _GLIBCXX_USE_CXX11_ABI=$bad_abi, but GoogleTest"; then
  echo "ok   abi-guard-check: GoogleTest here uses _GLIBCXX_USE_CXX11_ABI=$ok_abi; a LibTorch with $bad_abi stops configure with the mismatch message"
else
  echo "FAIL abi-guard-check: _GLIBCXX_USE_CXX11_ABI=$bad_abi failed, but not with the guard's message:"
  tail -15 "$work/log-$bad_abi"; failed=1
fi
exit $failed
