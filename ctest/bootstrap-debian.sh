#!/usr/bin/env bash
# Installs everything torchstress needs on Debian 12 / Ubuntu 24.04, as root, with apt. Idempotent:
# it installs only what is missing and prints what it installed.
#   sudo ctest/bootstrap-debian.sh            # build + CPU LibTorch from the distribution
#   TORCHSTRESS_NO_LIBTORCH=1 ctest/...        # skip libtorch-dev (you bring your own LibTorch)
set -euo pipefail

packages=(g++ make libgtest-dev libgmock-dev libspdlog-dev libfmt-dev)
# A cmake or python3 already on PATH (e.g. a pip or Kitware cmake) counts as installed.
command -v cmake >/dev/null 2>&1 || packages+=(cmake)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
# A PyTorch wheel on this python3 carries its own LibTorch (the CUDA box): no libtorch-dev then.
if python3 -c 'import torch' >/dev/null 2>&1; then
  TORCHSTRESS_NO_LIBTORCH=1
fi
if [ "${TORCHSTRESS_NO_LIBTORCH:-0}" != 1 ]; then
  # libtorch-dev pulls Debian's reference BLAS; OpenBLAS (pthread) makes matmul ~25x and the
  # transformer ~40x faster on the 2-core CI box, which is what keeps the quick tier under 60 s.
  packages+=(libtorch-dev libopenblas0-pthread)
fi

if [ "$(id -u)" != 0 ]; then
  echo "bootstrap-debian.sh: run as root (apt-get install); missing packages would be: ${packages[*]}" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: installed ${missing[*]}"
