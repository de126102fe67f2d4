#!/usr/bin/env bash
# The LibTorch version matrix: for each version given, install that PyPI torch wheel into its own
# cached venv, build the regression and known-bug tests against it (nothing else), run them
# (ctest -L regression), and write its row of docs/versions.md from the results.
#   ctest/version-matrix.sh [--jobs N] [--tier regression|knownbug] [--doc FILE|--no-doc] [--keep-going] VERSION...
#   VERSION: a PyPI torch release (2.4.1, 2.5.0, 2.11.0, 2.12.1, 2.15.0, ...) or `debian` (Debian's
#   libtorch-dev, 1.13.1 on Debian 12, from ctest/bootstrap.sh --libtorch debian).
#   --tier regression (default): builds torchstress_regression + torchstress_known_bugs, runs
#   `ctest -L regression` (both carry it); knownbug: only torchstress_known_bugs, `ctest -L knownbug`.
#   --no-doc: leave docs/versions.md alone (CI). Builds are -O0 (no CMAKE_BUILD_TYPE) with
#   <ATen/ATen.h> precompiled per target: a row costs its compile time, and nothing measured here
#   is a speed.
#
# How each wheel is used (why not plain `pip install torch==X`): the Linux wheels are CUDA builds
# whose CUDA dependencies are gigabytes per version, and whose TorchConfig.cmake insists on the CUDA
# toolkit they were built with (2.4.1's stops at "Failed to find nvToolsExt" with CUDA 13). The
# matrix tests the CPU half, so it installs `torch==X --no-deps` (~0.8-1 GB, pip's cache kept in
# ~/.cache/torchstress/pip), adds only the CUDA runtime libraries that libtorch_cpu.so itself
# loads and this machine lacks (libcudart, libcupti: nvidia-cuda-runtime-cu12 and
# nvidia-cuda-cupti-cu12 for 2.4/2.5, a few MB; the CUDA 13 toolkit here already has the cu130
# wheels' ones), and points find_package(Torch) at a small generated config, the "CPU view":
# target `torch` = libtorch_cpu.so + libc10.so, the wheel's headers and its ABI flag. CUDA code is
# therefore not compiled in matrix builds (TORCHSTRESS_HAVE_CUDA is off); the CUDA twin skips loudly.
#
# ABIs: 2.4.1 and 2.5.0 are pre-C++11-ABI builds (_GLIBCXX_USE_CXX11_ABI=0). Debian's GoogleTest,
# fmt and spdlog libraries use the new ABI, so for those rows GoogleTest is built once from Debian's
# own sources (/usr/src/googletest, package googletest) with -D_GLIBCXX_USE_CXX11_ABI=0, and fmt
# and spdlog are used header-only (FMT_HEADER_ONLY, SPDLOG_HEADER_ONLY) through small configs;
# all of it cached in ~/.cache/torchstress/matrix/abi0. The suite is C++20 throughout, which the
# 2.14+ headers need. Exit: 0 every row as expected, 1 a row was not, 2 bad arguments.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cache=$HOME/.cache/torchstress
matrix=$cache/matrix
jobs=2
doc=$src/docs/versions.md
keep_going=0
tier=regression
python=$(command -v python3 || true)

usage() { echo "version-matrix.sh: $1; accepted: [--jobs N] [--tier regression|knownbug] [--doc FILE|--no-doc] [--keep-going] VERSION... (VERSION: a PyPI torch release such as 2.4.1, or debian)" >&2; exit 2; }
versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) [ $# -ge 2 ] || usage "--jobs needs a value"; jobs=$2; shift 2
            [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || usage "--jobs '$jobs' is not accepted (a whole number >= 1)" ;;
    --doc) [ $# -ge 2 ] || usage "--doc needs a value"; doc=$2; shift 2 ;;
    --no-doc) doc=""; shift ;;
    --tier) [ $# -ge 2 ] || usage "--tier needs a value"; tier=$2; shift 2
            [[ "$tier" =~ ^(regression|knownbug)$ ]] || usage "--tier '$tier' is not accepted" ;;
    --keep-going) keep_going=1; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    -*) usage "unknown option '$1'" ;;
    *) [[ "$1" =~ ^([0-9]+\.[0-9]+(\.[0-9]+)?|debian)$ ]] || usage "version '$1' is not accepted"
       versions+=("$1"); shift ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || usage "no version given"
[ -n "$python" ] || { echo "version-matrix.sh: python3 is needed (venvs and the results); install python3 and python3-venv" >&2; exit 2; }
[ -z "$doc" ] || [ -f "$doc" ] || usage "--doc '$doc' does not exist"

log() { echo "version-matrix: $*" >&2; }

# --- the wheel, its missing runtime libraries, its CPU view ------------------------------------

# Installs torch==$1 (no dependencies) into its venv; prints the torch package folder.
install_wheel() {
  local v=$1 venv=$matrix/torch-$1
  if [ ! -f "$venv/.torchstress-installed" ]; then
    rm -rf "$venv"
    mkdir -p "$matrix"
    "$python" -m venv "$venv"
    log "installing torch==$v (--no-deps) into $venv"
    if ! "$venv/bin/python3" -m pip install -q --no-deps --cache-dir "$cache/pip" "torch==$v" >&2; then
      rm -rf "$venv"
      echo "version-matrix.sh: cannot install torch==$v from PyPI (no such release for this python, or no network)" >&2
      return 1
    fi
    touch "$venv/.torchstress-installed"
  fi
  local site
  site=$("$venv/bin/python3" -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')
  echo "$site/torch"
}

# Adds, with --no-deps, the wheel's own pinned nvidia-* runtime packages for each library that
# libtorch_cpu.so or libc10.so needs and this machine does not have; prints their lib folders.
add_missing_runtime() {
  local v=$1 torch=$2 venv=$matrix/torch-$1 dirs=() lib pkg req
  local meta
  meta=$(ls -d "$(dirname "$torch")"/torch-*.dist-info/METADATA | head -1)
  for lib in $(ldd "$torch/lib/libtorch_cpu.so" "$torch/lib/libc10.so" | awk '/not found/ {print $1}' | sort -u); do
    case "$lib" in
      libcudart.so.*) pkg=nvidia-cuda-runtime ;;
      libcupti.so.*) pkg=nvidia-cuda-cupti ;;
      libnvToolsExt.so.*) pkg=nvidia-nvtx ;;
      *) echo "version-matrix.sh: torch $v's libtorch_cpu.so needs $lib, which is not here and not a CUDA runtime library the script knows" >&2; return 1 ;;
    esac
    req=$(sed -n "s/^Requires-Dist: \\(${pkg}[-a-z0-9]*\\) *(\\?\\(==[^ ;)]*\\))\\?.*/\\1\\2/p" "$meta" | head -1)
    [ -n "$req" ] || { echo "version-matrix.sh: torch $v needs $lib but its METADATA pins no $pkg* package" >&2; return 1; }
    if ! "$venv/bin/python3" -m pip show -q "${req%%==*}" >/dev/null 2>&1; then
      log "torch $v: $lib is missing here; installing $req (--no-deps)"
      "$venv/bin/python3" -m pip install -q --no-deps --cache-dir "$cache/pip" "$req" >&2
    fi
  done
  for d in "$(dirname "$torch")"/nvidia/*/lib; do [ -d "$d" ] && dirs+=("$d"); done
  (IFS=:; echo "${dirs[*]:-}")
}

# Writes the CPU view's TorchConfig.cmake; prints its folder.
write_cpu_view() {
  local v=$1 torch=$2 rpath=$3 view=$matrix/torch-$1/cpu-view abi=1
  grep -q '_GLIBCXX_USE_CXX11_ABI=0' "$torch/share/cmake/Torch/TorchConfig.cmake" && abi=0
  mkdir -p "$view"
  local link_opts=""
  [ -z "$rpath" ] || link_opts="-Wl,-rpath,$rpath;-Wl,-rpath-link,$rpath"
  cat >"$view/TorchConfig.cmake" <<CMAKE
# Generated by ctest/version-matrix.sh: the CPU half of the torch $v wheel in $torch
# (libtorch_cpu + libc10, its headers, its ABI flag), without the wheel's CUDA config.
set(TORCH_INSTALL_PREFIX "$torch")
set(TORCH_INCLUDE_DIRS "$torch/include;$torch/include/torch/csrc/api/include")
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=$abi")
set(TORCH_LIBRARY "$torch/lib/libtorch_cpu.so")
if(NOT TARGET torch)
  add_library(torch SHARED IMPORTED)
  set_target_properties(torch PROPERTIES
    IMPORTED_LOCATION "$torch/lib/libtorch_cpu.so"
    INTERFACE_INCLUDE_DIRECTORIES "\${TORCH_INCLUDE_DIRS}"
    INTERFACE_COMPILE_OPTIONS "\${TORCH_CXX_FLAGS}"
    INTERFACE_LINK_LIBRARIES "$torch/lib/libc10.so"
    INTERFACE_LINK_OPTIONS "$link_opts")
endif()
set(TORCH_LIBRARIES torch)
set(Torch_VERSION "$v")
set(Torch_FOUND TRUE)
CMAKE
  echo "$view"
}

# GoogleTest from Debian's sources with the old ABI, and header-only fmt/spdlog configs, once.
abi0_prefix() {
  local p=$matrix/abi0
  if [ ! -f "$p/.torchstress-built" ]; then
    [ -d /usr/src/googletest ] || { echo "version-matrix.sh: a pre-C++11-ABI wheel needs GoogleTest's sources: apt-get install googletest" >&2; return 1; }
    log "building GoogleTest from /usr/src/googletest with -D_GLIBCXX_USE_CXX11_ABI=0 into $p"
    rm -rf "$p"
    { cmake -S /usr/src/googletest -B "$p/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$p" \
        -DCMAKE_CXX_FLAGS=-D_GLIBCXX_USE_CXX11_ABI=0 -DCMAKE_POSITION_INDEPENDENT_CODE=ON &&
      cmake --build "$p/build" -j "$jobs" && cmake --install "$p/build"; } >"$matrix/abi0-build.log" 2>&1 \
      || { tail -20 "$matrix/abi0-build.log" >&2; return 1; }
    mkdir -p "$p/fmt-include" "$p/cmake/fmt" "$p/cmake/spdlog"
    ln -sfn /usr/include/fmt "$p/fmt-include/fmt"
    cat >"$p/cmake/fmt/fmt-config.cmake" <<'CMAKE'
# Debian's fmt headers used header-only: its libfmt.so is built with the C++11 ABI.
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1"
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../fmt-include")
endif()
set(fmt_FOUND TRUE)
CMAKE
    cat >"$p/cmake/spdlog/spdlog-config.cmake" <<'CMAKE'
# Debian's spdlog headers used header-only with the external fmt: libspdlog.so has the C++11 ABI.
include("${CMAKE_CURRENT_LIST_DIR}/../fmt/fmt-config.cmake")
if(NOT TARGET spdlog::spdlog)
  add_library(spdlog::spdlog INTERFACE IMPORTED)
  set_target_properties(spdlog::spdlog PROPERTIES INTERFACE_COMPILE_DEFINITIONS "SPDLOG_HEADER_ONLY;SPDLOG_FMT_EXTERNAL"
    INTERFACE_LINK_LIBRARIES fmt::fmt)
endif()
set(spdlog_FOUND TRUE)
CMAKE
    touch "$p/.torchstress-built"
  fi
  echo "$p"
}

# --- one row ---------------------------------------------------------------------------------

# Configures, builds and runs one version; writes $out/row.json.
run_version() {
  local v=$1 out=$2 build=$src/build-matrix-$1 args=() label
  if [ "$v" = debian ]; then
    local cfg=/usr/lib/x86_64-linux-gnu/cmake/Torch
    [ -f "$cfg/TorchConfig.cmake" ] || { echo "version-matrix.sh: Debian's LibTorch is not installed: ctest/bootstrap.sh --libtorch debian" >&2; return 1; }
    args+=(-DTorch_DIR="$cfg")
    label="$(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null | sed 's/[-+].*//') (Debian libtorch-dev)"
  else
    local torch rpath view
    torch=$(install_wheel "$v") || return 1
    rpath=$(add_missing_runtime "$v" "$torch") || return 1
    view=$(write_cpu_view "$v" "$torch" "$rpath")
    args+=(-DTorch_DIR="$view")
    if grep -q "ABI=0" "$view/TorchConfig.cmake"; then
      local p; p=$(abi0_prefix) || return 1
      args+=(-DGTest_DIR="$p/lib/cmake/GTest" -Dfmt_DIR="$p/cmake/fmt" -Dspdlog_DIR="$p/cmake/spdlog"
             -DCMAKE_CXX_FLAGS=-D_GLIBCXX_USE_CXX11_ABI=0)
    fi
    label="$v (PyPI wheel, CPU half)"
  fi
  mkdir -p "$out" "$build"
  # Precompiled LibTorch headers for the targets built here: ATen/ATen.h is most of every
  # translation unit's compile time. Applied from outside the project (a hook run when the top
  # folder's CMakeLists.txt is done), so the project's own CMake is the one every build uses.
  cat >"$build/matrix-pch.cmake" <<'CMAKE'
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _ts_matrix_pch)
function(_ts_matrix_pch)
  foreach(t torchstress_harness torchstress_suite torchstress_test_main torchstress_regression torchstress_known_bugs)
    if(TARGET ${t})
      target_precompile_headers(${t} PRIVATE <ATen/ATen.h>)
    endif()
  endforeach()
endfunction()
CMAKE
  args+=(-DCMAKE_PROJECT_INCLUDE="$build/matrix-pch.cmake")
  local t0=$SECONDS
  log "[$v] configure $build"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE= -DTORCHSTRESS_TORCH_PYTHON= -DTORCHSTRESS_INSTALL=OFF \
    "${args[@]}" >"$out/configure.log" 2>&1 || { tail -20 "$out/configure.log" >&2; return 1; }
  local targets=(torchstress_known_bugs)
  [ "$tier" = knownbug ] || targets+=(torchstress_regression)
  log "[$v] build ${targets[*]} (-j$jobs)"
  cmake --build "$build" --target "${targets[@]}" -j "$jobs" >"$out/build.log" 2>&1 \
    || { grep -m5 -B2 -A5 "error" "$out/build.log" >&2; return 1; }
  local built=$((SECONDS - t0))
  rm -rf "$out/results"
  log "[$v] ctest -L $tier"
  local t1=$SECONDS
  TORCHSTRESS_RESULTS_DIR="$out/results" ctest --test-dir "$build" -L "$tier" -j "$jobs" --output-on-failure \
    --output-junit "$out/junit.xml" >"$out/ctest.log" 2>&1 || true
  local ran=$((SECONDS - t1))
  local abi cxx
  abi=$(sed -n 's/.*_GLIBCXX_USE_CXX11_ABI=\([01]\).*/\1/p' "$build/CMakeCache.txt" "$out/configure.log" | head -1)
  "$python" - "$out" "$v" "$label" "${abi:-1}" "$built" "$ran" "$tier" <<'PY'
import glob, json, os, re, sys, time
out, v, label, abi, built, ran, tier = sys.argv[1:8]
tests = {}
for f in sorted(glob.glob(os.path.join(out, "results", "*.jsonl"))):
    for line in open(f, errors="replace"):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("type") == "test":
            tests[j["name"]] = j
log = open(os.path.join(out, "ctest.log"), errors="replace").read()
m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", log)
total = int(m.group(3)) if m else 0
failed = int(m.group(2)) if m else -1
bugs = {}
for name, t in tests.items():
    p = t.get("properties") or {}
    if "known_bug_verdict" in p:
        bugs[name] = {k[len("known_bug_"):]: p[k] for k in p if k.startswith("known_bug_")}
        bugs[name]["status"] = t["status"]
        bugs[name]["skip_reason"] = t.get("skip_reason", "")
row = {"version": v, "label": label, "tier": tier, "abi": int(abi), "build_s": int(built), "run_s": int(ran),
       "ctest_total": total, "ctest_failed": failed, "skipped": sum(1 for t in tests.values() if t["status"] == "skipped"),
       "known_bugs": bugs, "date": time.strftime("%Y-%m-%d")}
json.dump(row, open(os.path.join(out, "row.json"), "w"), indent=1)
PY
}

# --- docs/versions.md: the rows between the matrix markers, one per version -------------------

readonly begin_marker='<!-- version-matrix:begin (ctest/version-matrix.sh writes the rows below) -->'
readonly end_marker='<!-- version-matrix:end -->'

write_rows() {
  "$python" - "$doc" "$begin_marker" "$end_marker" "$@" <<'PY'
import json, sys
doc, begin, end, *rows = sys.argv[1:]
# Each known bug's column: the bug test and its control.
cols = [("C1 autocast dtype across at::launch", "AutocastTls.LaunchedTaskSeesTheCallersCpuAutocastDtype",
         "AutocastTls.CallingThreadSeesItsOwnCpuAutocastDtype"),
        ("C1 CUDA twin (#132715)", "CudaAutocast.BackwardOfIndexPutUnderBf16AutocastRuns", None),
        ("C2 XNNPACK shared linear context", "XnnpackContext.SharedLinearContextFromTwoThreadsCrashes",
         "XnnpackContext.SharedConv2dContextFromTwoThreadsStaysExact"),
        ("C5 fork after a parallel op", "ForkAfterParallel.ChildsFirstParallelRegionHangs",
         "ForkAfterParallel.ChildWithOneIntraOpThreadFinishes")]
def cell(b):
    if b is None:
        return "not run"
    v = b.get("verdict", "")
    if v == "caught":
        return "**red**: caught ({})".format(b.get("symptom", ""))
    if v == "passed":
        return "green"
    if v == "skipped":
        return "skipped: " + (b.get("detail") or b.get("skip_reason", "")).split(" (")[0]
    return "**{}** (test failed): {}".format(v.upper(), b.get("detail", ""))
def ctl(b):
    if b is None:
        return ""
    v = b.get("verdict", "")
    return "; control " + ("green" if v == "passed" else v if v != "skipped" else "skipped")
table = {}
lines = open(doc).read().split("\n")
if begin in lines and end in lines:
    i, j = lines.index(begin), lines.index(end)
    for l in lines[i + 1:j]:
        if l.startswith("| ") and not l.startswith("| LibTorch") and not l.startswith("| ---"):
            table[l.split(" | ")[0][2:].strip()] = l
else:
    i = j = None
for path in rows:
    r = json.load(open(path))
    kb = r["known_bugs"]
    expected = all(b["status"] in ("passed", "skipped") for b in kb.values())
    regression = "`-L {}`: ".format(r.get("tier", "regression")) + "{} of {} passed{}".format(r["ctest_total"] - r["ctest_failed"] - r["skipped"], r["ctest_total"],
                                             ", {} skipped".format(r["skipped"]) if r["skipped"] else "")
    if r["ctest_failed"]:
        regression += ", **{} failed**".format(r["ctest_failed"])
    cells = [r["label"], "old (0)" if r["abi"] == 0 else "C++11 (1)", regression]
    for _, bug, control in cols:
        cells.append(cell(kb.get(bug)) + ctl(kb.get(control)) if control else cell(kb.get(bug)))
    cells += ["yes" if expected else "**no**", "{} s / {} s".format(r["build_s"], r["run_s"]), r["date"]]
    table[r["label"]] = "| " + " | ".join(cells) + " |"
def key(label):
    import re
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", label)
    return tuple(int(x or 0) for x in m.groups()) if m else (0,)
header = ["| LibTorch | ABI | ctest | " + " | ".join(c[0] for c in cols) +
          " | verdicts as declared | build / run | date |",
          "| " + " | ".join(["---"] * (len(cols) + 6)) + " |"]
block = [begin] + header + [table[k] for k in sorted(table, key=key)] + [end]
if i is None:
    lines += [""] + block
else:
    lines = lines[:i] + block + lines[j + 1:]
open(doc, "w").write("\n".join(lines))
PY
}

status=0
rows=()
stamp=$(date +%Y%m%d-%H%M%S)
for v in "${versions[@]}"; do
  out=$src/out/version-matrix-$stamp/$v
  t0=$SECONDS
  if run_version "$v" "$out"; then
    rows+=("$out/row.json")
    ok=$("$python" -c "import json,sys;r=json.load(open(sys.argv[1]));print(int(r['ctest_failed']==0))" "$out/row.json")
    log "[$v] done in $((SECONDS - t0)) s: $([ "$ok" = 1 ] && echo 'every test as expected' || echo 'SOME TESTS FAILED') ($out)"
    [ "$ok" = 1 ] || status=1
  else
    log "[$v] could not be built or run (logs: $out)"
    status=1
    [ "$keep_going" = 1 ] || break
  fi
done
if [ ${#rows[@]} -gt 0 ] && [ -n "$doc" ]; then
  write_rows "${rows[@]}"
  log "rows written to $doc"
fi
exit $status
