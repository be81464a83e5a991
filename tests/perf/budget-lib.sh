# Shared part of the memory budget tests, sourced by each of them.
#
# The tests run bench/bench-node (the library's public API, TLS on
# 127.0.0.1) under valgrind's massif or DHAT and compare a figure with a
# budget.  Run on their own they exit 77 (skip) when valgrind is absent;
# under the TAP driver (run-test.sh passes --tap) the skip is reported as
# TAP's "1..0 # SKIP reason".

builddir=${top_builddir:-.}
tap=0
[ "${1:-}" = --tap ] && tap=1

skip_all () {
  echo "1..0 # SKIP $1"
  [ "$tap" = 1 ] && exit 0
  exit 77
}

valgrind=${VALGRIND:-valgrind}
command -v "$valgrind" >/dev/null 2>&1 || skip_all "valgrind is not installed"

# The program itself, not libtool's wrapper script, with the uninstalled
# library first in the search path.
bench_node="$builddir/bench/.libs/bench-node"
[ -x "$bench_node" ] || bench_node="$builddir/bench/bench-node"
[ -x "$bench_node" ] || skip_all "bench/bench-node is not built"
if [ -d "$builddir/lib/.libs" ]; then
  LD_LIBRARY_PATH=$(cd "$builddir/lib/.libs" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-budget.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

n=0
# check DESCRIPTION VALUE BUDGET: ok when VALUE <= BUDGET (numbers).
check_budget () {
  n=$((n + 1))
  if awk -v v="$2" -v b="$3" 'BEGIN { exit !(v != "" && v + 0 <= b + 0) }'; then
    echo "ok $n - $1: $2 <= budget $3"
  else
    echo "not ok $n - $1: ${2:-no figure} over budget $3"
  fi
}

# Largest heap (useful + allocator overhead) over a massif output file.
massif_peak () {
  awk -F= '/^mem_heap_B=/ { h = $2 } /^mem_heap_extra_B=/ { t = h + $2; if (t > m) m = t }
           END { if (m > 0) print m }' "$1"
}

# "BYTES BLOCKS" from DHAT's "Total: X bytes in Y blocks" line.
dhat_totals () {
  sed -n 's/.*Total: *\([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p' "$1" | tr -d , | head -n1
}

# run_ok DESCRIPTION LOG COMMAND...: run, report a failure with its log.
run_ok () {
  desc=$1 log=$2
  shift 2
  if ! "$@" >"$log" 2>&1; then
    n=$((n + 1))
    echo "not ok $n - $desc: the workload failed"
    sed 's/^/# /' "$log" | tail -n 20
    return 1
  fi
}
