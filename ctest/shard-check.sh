#!/usr/bin/env bash
# Proves that splitting the suite into two shards runs every test exactly once, both ways a CI can
# split it: GoogleTest sharding of one binary (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX) and CTest
# striding of the test list (ctest -I start,,stride).
#   ctest/shard-check.sh BUILD_DIR TEST_BINARY [GTEST_FILTER]
# The binary runs only a filter of cheap harness self-tests; ctest is only asked to list (-N), so
# this check never runs the suite, nor itself, again.
set -euo pipefail

build_dir=${1:?usage: shard-check.sh BUILD_DIR TEST_BINARY [GTEST_FILTER]}
binary=${2:?usage: shard-check.sh BUILD_DIR TEST_BINARY [GTEST_FILTER]}
filter=${3:-'StartGate.*:ErrorSink.*:Knobs.*:Stats.*'}
ctest_cmd=${CTEST_COMMAND:-ctest}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A CI that shards might have exported these; each run below sets its own.
unset GTEST_TOTAL_SHARDS GTEST_SHARD_INDEX GTEST_SHARD_STATUS_FILE GTEST_FILTER GTEST_OUTPUT
export TORCHSTRESS_RESULTS_DIR="$work/results"   # keep these runs out of the suite's results
failed=0

# check_split NAME FULL_LIST PART_A PART_B: A and B disjoint, both non-empty, A+B == FULL.
check_split() {
  local name=$1 full=$2 a=$3 b=$4
  sort "$full" -o "$full"; sort "$a" -o "$a"; sort "$b" -o "$b"
  local both; both=$(comm -12 "$a" "$b")
  local missing; missing=$(sort -m "$a" "$b" | comm -23 "$full" -)
  local extra; extra=$(sort -m "$a" "$b" | comm -13 "$full" -)
  local dups; dups=$(sort -m "$a" "$b" | uniq -d)
  if [ ! -s "$full" ] || [ ! -s "$a" ] || [ ! -s "$b" ]; then
    echo "FAIL $name: a list is empty (full $(wc -l <"$full"), shard A $(wc -l <"$a"), shard B $(wc -l <"$b"))"
    failed=1
  elif [ -n "$both$missing$extra$dups" ]; then
    echo "FAIL $name: shards do not partition the full set"
    [ -z "$both" ] || printf '  in both shards: %s\n' $both
    [ -z "$missing" ] || printf '  in no shard: %s\n' $missing
    [ -z "$extra" ] || printf '  not in the full list: %s\n' $extra
    failed=1
  else
    echo "ok   $name: $(wc -l <"$a") + $(wc -l <"$b") = $(wc -l <"$full") tests, none twice"
  fi
}

# --- GoogleTest sharding of one binary ----------------------------------------------------------
# The full list comes from --gtest_list_tests ("Suite." lines, then indented case names).
"$binary" --gtest_filter="$filter" --gtest_list_tests |
  awk '/^[^ ]/ {suite=$1; next} /^  / {print suite $1}' >"$work/gtest-full"
for i in 0 1; do
  # A shard's cases are those it actually ran.
  GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i "$binary" --gtest_filter="$filter" >"$work/gtest-log-$i" 2>&1 ||
    { echo "FAIL gtest shard $i of 2 exited non-zero:"; tail -20 "$work/gtest-log-$i"; failed=1; }
  sed -n 's/^\[ RUN      \] \([^ ]*\).*/\1/p' "$work/gtest-log-$i" >"$work/gtest-shard-$i"
done
check_split "gtest shards (GTEST_TOTAL_SHARDS=2, filter $filter)" \
  "$work/gtest-full" "$work/gtest-shard-0" "$work/gtest-shard-1"

# --- CTest striding of the test list ------------------------------------------------------------
# -N lists without running; names are unique per build tree, so they identify the tests.
ctest_names() { "$ctest_cmd" --test-dir "$build_dir" -N "$@" | sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p'; }
ctest_names >"$work/ctest-full"
ctest_names -I 1,,2 >"$work/ctest-odd"
ctest_names -I 2,,2 >"$work/ctest-even"
check_split "ctest -I 1,,2 / -I 2,,2" "$work/ctest-full" "$work/ctest-odd" "$work/ctest-even"
ctest_names -L quick >"$work/ctest-quick"
ctest_names -L quick -I 1,,2 >"$work/ctest-quick-odd"
ctest_names -L quick -I 2,,2 >"$work/ctest-quick-even"
check_split "ctest -L quick -I 1,,2 / -I 2,,2" "$work/ctest-quick" "$work/ctest-quick-odd" "$work/ctest-quick-even"

exit $failed
