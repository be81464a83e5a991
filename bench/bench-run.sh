#!/bin/sh
# make bench / make bench-quick: run every benchmark, keep the median of
# the repetitions, print the table with goals and targets, write
# bench/results/latest.json and append a file to bench/history/.
#
#   bench-run.sh full     3 runs of each timed program (median kept), the
#                         1,000-node simulations, a clean build and make
#                         check of a copy of HEAD (several minutes)
#   bench-run.sh quick    1 run with fewer samples, the 1,000-node DHT and
#                         a 5-broadcast 1,000-node broadcast, no build
#                         timing (under 3 minutes)
#
# Environment: PYTHON (python3), MAKE, BENCH_HISTORY (bench/history in the
# source tree).
set -u

mode=${1:-full}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
history=${BENCH_HISTORY:-$here/history}
raw=bench/results/raw
case $mode in
  full) runs=3; q="" ;;
  quick) runs=1; q=--quick ;;
  *) echo "usage: bench-run.sh full|quick" >&2; exit 2 ;;
esac
command -v "$python" >/dev/null 2>&1 || { echo "bench: $python is needed for the report" >&2; exit 2; }

rm -rf "$raw"
mkdir -p "$raw" || exit 2
fail=0
step () {
  echo "== $*"
  "$@" || { echo "bench: FAILED: $*" >&2; fail=1; }
}

r=1
while [ "$r" -le "$runs" ]; do
  echo "=== run $r of $runs"
  out=$raw/run-$r.json
  step bench/bench-core $q --json "$out"
  if [ "$mode" = quick ]; then
    step bench/bench-routes --batches 500 --json "$out"
  else
    step bench/bench-routes --json "$out"
  fi
  step bench/bench-engine $q --json "$out"
  step bench/bench-tls --fork $q --json "$out"
  step bench/bench-node net $q --json "$out"
  r=$((r + 1))
done

# The simulator: deterministic in virtual time, so one run.
if [ "$mode" = quick ]; then bcasts=5; else bcasts=100; fi
echo "== meshara sim, 1,000 nodes: dht, broadcast ($bcasts broadcasts)"
tools/meshara sim --nodes 1000 --degree 8 --seed 1 --scenario dht --json \
  > "$raw/sim-dht.json" 2>/dev/null || { echo "bench: sim dht failed" >&2; fail=1; }
tools/meshara sim --nodes 1000 --degree 8 --seed 1 --scenario broadcast \
  --broadcasts "$bcasts" --json > "$raw/sim-broadcast.json" 2>/dev/null \
  || { echo "bench: sim broadcast failed" >&2; fail=1; }

# Build figures.
extra=$raw/extra.json
line () {   # name unit value note
  printf '{"name":"%s","unit":"%s","n":1,"p50":%s,"p95":%s,"p99":%s,"p999":%s,"mean":%s,"throughput":null,"target":"%s"}\n' \
    "$1" "$2" "$3" "$3" "$3" "$3" "$3" "$4" >> "$extra"
}
so=$(ls lib/.libs/libmeshara.so.*.*.* 2>/dev/null | head -n1)
if [ -n "$so" ]; then
  strip --strip-unneeded -o "$raw/libmeshara.stripped" "$so" 2>/dev/null \
    && line build.lib_stripped_bytes bytes "$(wc -c < "$raw/libmeshara.stripped")" "$(basename "$so"), strip --strip-unneeded"
fi
if [ "$mode" = full ]; then
  echo "== clean build and make check of a copy of HEAD (make -j2)"
  src=$(mktemp -d "${TMPDIR:-/tmp}/bench-build.XXXXXX")
  if git -C "$here/.." archive HEAD | tar -x -C "$src" \
     && (cd "$src" && ./autogen.sh && ./configure) > "$raw/build-configure.log" 2>&1; then
    t0=$(date +%s.%N)
    if (cd "$src" && ${MAKE:-make} -j2) > "$raw/build.log" 2>&1; then
      t1=$(date +%s.%N)
      line build.clean_seconds s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "make -j2 after configure, fresh tree"
      t0=$(date +%s.%N)
      if (cd "$src" && ${MAKE:-make} -j2 check) > "$raw/check.log" 2>&1; then
        t1=$(date +%s.%N)
        line build.check_seconds s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "make -j2 check after the build (test programs compiled and run)"
      else
        echo "bench: make check of the copy failed, see $raw/check.log" >&2; fail=1
      fi
    else
      echo "bench: build of the copy failed, see $raw/build.log" >&2; fail=1
    fi
  else
    echo "bench: could not configure a copy of HEAD, see $raw/build-configure.log" >&2; fail=1
  fi
  rm -rf "$src"
fi

# Connections: a node keeps at most 4,096 links, so 10,000 cannot be
# reached; the serving node's RSS per link is measured with 1,000 client
# nodes (200 in quick mode) in one process (about 0.9 MB of RSS each).
if [ "$mode" = quick ]; then conns=200; else conns=1000; fi
step bench/bench-node conns --count "$conns" --json "$extra"

"$python" "$here/bench-report.py" report "$raw" bench/results/latest.json "$history" "$mode" || fail=1
exit $fail
