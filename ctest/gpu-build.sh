#!/usr/bin/env bash
# Configures and builds the suite on a CUDA box whose LibTorch comes from the PyTorch wheel
# (no system libtorch): the same steps as the `gpu` preset, with the wheel's prefix filled in.
#   ctest/gpu-build.sh [BUILD_DIR]     (default build-gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$build" -j"$(nproc)"
