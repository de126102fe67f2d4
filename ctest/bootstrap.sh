#!/usr/bin/env bash
# Installs what torchstress needs on Debian 12 / Ubuntu 24.04, as root. Idempotent: it installs
# only what is missing and says what it found.
#   ctest/bootstrap.sh                     # build tools + the modern LibTorch of the PyPI torch wheel (default)
#   ctest/bootstrap.sh --libtorch debian   # build tools + Debian's libtorch-dev 1.13.1 (no PyPI needed)
#   ctest/bootstrap.sh --libtorch both     # both (what .ci/run builds against)
#   ctest/bootstrap.sh --libtorch none     # build tools only (you bring your own LibTorch)
# The wheel goes into a venv at ~/.cache/torchstress/wheel (the presets' TORCHSTRESS_TORCH_PYTHON),
# with pip's cache beside it, both reused on the next run. A python3 that already has torch (a GPU
# box) is used as it is: wheel/bin/python3 is then a two-line wrapper that runs it. Pin:
# TORCHSTRESS_TORCH_WHEEL (default below).
set -euo pipefail

readonly wheel_spec=${TORCHSTRESS_TORCH_WHEEL:-torch==2.11.0}   # the GPU box's version: one version tested in both places
readonly cache=$HOME/.cache/torchstress
readonly venv=$cache/wheel
# A python3 with torch already (a GPU box's own, or the user's) is the LibTorch the user has.
system_torch=$(python3 -c 'import torch;print(torch.__version__)' 2>/dev/null || true)

usage() { echo "bootstrap.sh: $1; accepted: --libtorch wheel|debian|both|none" >&2; exit 2; }
libtorch=wheel
while [ $# -gt 0 ]; do
  case "$1" in
    --libtorch) [ $# -ge 2 ] || usage "--libtorch needs a value"; libtorch=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[[ "$libtorch" =~ ^(wheel|debian|both|none)$ ]] || usage "--libtorch '$libtorch' is not accepted"

# Debian packages: build tools always; libtorch-dev and OpenBLAS (pthread) for the 1.13 build,
# where reference BLAS would make matmul ~25x and the transformer ~40x slower.
install_debian_packages() {
  local packages=(g++ make libgtest-dev libgmock-dev libspdlog-dev libfmt-dev nlohmann-json3-dev)
  # A cmake or python3 already on PATH (a pip or Kitware cmake, pyenv) counts as installed.
  command -v cmake >/dev/null 2>&1 || packages+=(cmake)
  command -v python3 >/dev/null 2>&1 || packages+=(python3)
  if { [ "$libtorch" = wheel ] || [ "$libtorch" = both ]; } && [ -z "$system_torch" ]; then
    python3 -c 'import ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)
  fi
  if [ "$libtorch" = debian ] || [ "$libtorch" = both ]; then
    packages+=(libtorch-dev libopenblas0-pthread)
  fi
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "bootstrap: all ${#packages[@]} Debian packages already installed"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap.sh: run as root (apt-get install); missing packages: ${missing[*]}" >&2
    exit 2
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "bootstrap: installed ${missing[*]}"
}

# The venv the presets name. Its stamp says what it holds, so a changed pin rebuilds it.
install_wheel() {
  local want=$wheel_spec
  [ -z "$system_torch" ] || want="python3's own torch $system_torch ($(command -v python3))"
  if [ -x "$venv/bin/python3" ] && [ "$(cat "$venv/.torchstress-spec" 2>/dev/null)" = "$want" ]; then
    echo "bootstrap: LibTorch $("$venv/bin/python3" -c 'import torch;print(torch.__version__)' 2>/dev/null) from $want (venv $venv, reused)"
    return
  fi
  rm -rf "$venv"
  mkdir -p "$cache"
  if [ -n "$system_torch" ]; then
    # Not a venv: python3 may itself be a venv's, whose packages another venv would not see.
    mkdir -p "$venv/bin"
    printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" >"$venv/bin/python3"
    chmod +x "$venv/bin/python3"
  else
    python3 -m venv "$venv"
    if ! "$venv/bin/python3" -m pip install -q --cache-dir "$cache/pip" "$wheel_spec"; then
      rm -rf "$venv"
      echo "bootstrap.sh: cannot install $wheel_spec from PyPI; without PyPI use Debian's LibTorch: ctest/bootstrap.sh --libtorch debian && cmake --workflow --preset quick-debian" >&2
      exit 1
    fi
  fi
  echo "$want" >"$venv/.torchstress-spec"
  echo "bootstrap: LibTorch $("$venv/bin/python3" -c 'import torch;print(torch.__version__)' 2>/dev/null) from $want (venv $venv)"
}

install_debian_packages
if [ "$libtorch" = wheel ] || [ "$libtorch" = both ]; then
  install_wheel
fi
