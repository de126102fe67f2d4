#!/usr/bin/env bash
# Configures and builds the suite on a CUDA box whose LibTorch is python3's own torch wheel: the
# bootstrap points the presets' wheel python at it, then the `gpu` preset builds.
#   ctest/gpu-build.sh [BUILD_DIR]     (default build-gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
ctest/bootstrap.sh --libtorch wheel
[ -f "$build/CMakeCache.txt" ] || cmake --preset gpu -B "$build"
cmake --build "$build" -j"$(nproc)"
