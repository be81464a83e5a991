#!/bin/sh
# Regression check by instruction count: run each workload of
# bench-workloads under callgrind, compare its instruction count (Ir) with
# the baseline, print a table, and fail when one rose by more than
# THRESHOLD percent.
#
#   bench-check.sh            compare; exit 0 (ok), 1 (regression), 2 (error)
#   bench-check.sh --update   run, then write the counts as the new baseline
#
# Only the measured part of a workload counts: bench-workloads wraps it in
# CALLGRIND_START/STOP_INSTRUMENTATION and callgrind starts with
# --instr-atstart=no, so setup and teardown run uninstrumented (and fast).
# Built without <valgrind/callgrind.h>, bench-workloads says so and the
# count is collected with --toggle-collect=workload_measured instead.
#
# Counts are exact and repeatable for one build on one machine, so a small
# threshold works; they do depend on the compiler, its flags, the valgrind
# version and the libraries linked (Nettle picks code by CPU features), so
# the baseline records those and a difference is warned about.
#
# Environment: BENCH_WORKLOADS (program, default bench/bench-workloads),
# BENCH_BASELINE (default bench/baseline/instructions.json beside this
# script), THRESHOLD (percent, default 3), WORKLOADS (names to run,
# default all), VALGRIND, LIBTOOL (to run a libtool wrapper), CC and
# CFLAGS (recorded and compared; make passes them).
set -u

here=$(cd "$(dirname "$0")" && pwd)
prog=${BENCH_WORKLOADS:-bench/bench-workloads}
baseline=${BENCH_BASELINE:-$here/baseline/instructions.json}
threshold=${THRESHOLD:-3}
valgrind=${VALGRIND:-valgrind}
[ "$valgrind" = no ] && valgrind=valgrind
cc=${CC:-cc}
cflags=${CFLAGS:-}
update=0

case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: bench-check.sh [--update]" >&2; exit 2 ;;
esac

err () { echo "bench-check: $*" >&2; exit 2; }

[ -x "$prog" ] || err "$prog is missing; build it with make bench/bench-workloads"
command -v "$valgrind" >/dev/null 2>&1 || err "valgrind is not installed"
case "$threshold" in
  ''|*[!0-9.]*) err "THRESHOLD must be a number of percent, not '$threshold'" ;;
esac

if [ "$update" = 0 ] && [ ! -r "$baseline" ]; then
  err "no baseline at $baseline; record one with make bench-baseline"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-check.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# The environment of this run, as recorded in the baseline.
vg_version=$("$valgrind" --version 2>/dev/null)
compiler=$($cc --version 2>/dev/null | head -n 1)
arch=$(uname -m)
instr=$("$prog" --instrumentation) || err "$prog --instrumentation failed"
case "$instr" in
  client-requests) vg_mode="--instr-atstart=no" ;;
  toggle-collect) vg_mode="--toggle-collect=workload_measured" ;;
  *) err "unexpected answer from $prog --instrumentation: $instr" ;;
esac
method="callgrind $instr"

names=${WORKLOADS:-$("$prog" --list)}
[ -n "$names" ] || err "no workloads"

# The workloads are independent: run them side by side, as many at once
# as there are processors.
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
run_one () {
  # shellcheck disable=SC2086
  ${LIBTOOL:+$LIBTOOL --mode=execute} "$valgrind" --tool=callgrind $vg_mode \
    --callgrind-out-file="$tmp/$1.out" --log-file="$tmp/$1.log" \
    "$prog" "$1" >"$tmp/$1.check" 2>"$tmp/$1.err"
  echo $? >"$tmp/$1.rc"
}
running=0
for w in $names; do
  run_one "$w" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait
    running=0
  fi
done
wait

# Counts of this run, "name count" per line.
: >"$tmp/current"
for w in $names; do
  rc=$(cat "$tmp/$w.rc" 2>/dev/null || echo 2)
  if [ "$rc" != 0 ]; then
    echo "bench-check: workload $w failed (exit $rc):" >&2
    cat "$tmp/$w.err" "$tmp/$w.log" >&2
    exit 2
  fi
  ir=$(sed -n 's/^totals: *\([0-9][0-9]*\).*/\1/p' "$tmp/$w.out" | head -n 1)
  [ -n "$ir" ] || ir=$(sed -n 's/^summary: *\([0-9][0-9]*\).*/\1/p' "$tmp/$w.out" | head -n 1)
  if [ -z "$ir" ] || [ "$ir" -eq 0 ]; then
    err "no instruction count for $w in $tmp/$w.out"
  fi
  echo "$w $ir" >>"$tmp/current"
done

# The baseline is written by this script in a fixed layout: one
# "name": count per line, then a "_meta" object of "key": "string" lines.
meta_get () {
  sed -n "s/^ *\"$1\": *\"\(.*\)\",\{0,1\} *$/\1/p" "$baseline" | head -n 1
}
base_get () {
  sed -n "s/^ *\"$1\": *\([0-9][0-9]*\),\{0,1\} *$/\1/p" "$baseline" | head -n 1
}
json_str () {
  printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'
}

if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  {
    echo "{"
    while read -r w ir; do
      printf '  "%s": %s,\n' "$w" "$ir"
    done <"$tmp/current"
    echo '  "_meta": {'
    printf '    "valgrind": "%s",\n' "$(json_str "$vg_version")"
    printf '    "compiler": "%s",\n' "$(json_str "$compiler")"
    printf '    "cflags": "%s",\n' "$(json_str "$cflags")"
    printf '    "arch": "%s",\n' "$(json_str "$arch")"
    printf '    "method": "%s",\n' "$(json_str "$method")"
    printf '    "date": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "  }"
    echo "}"
  } >"$tmp/baseline.json" || err "cannot write the baseline"
  cp "$tmp/baseline.json" "$baseline" || err "cannot write $baseline"
  printf '%-10s %16s\n' workload instructions
  while read -r w ir; do
    printf '%-10s %16s\n' "$w" "$ir"
  done <"$tmp/current"
  echo "bench-check: baseline written to $baseline"
  exit 0
fi

for key in valgrind compiler cflags arch method; do
  case $key in
    valgrind) now=$vg_version ;;
    compiler) now=$compiler ;;
    cflags) now=$cflags ;;
    arch) now=$arch ;;
    method) now=$method ;;
  esac
  was=$(meta_get "$key")
  if [ "$was" != "$now" ]; then
    echo "bench-check: warning: $key differs from the baseline's" \
         "('$now', baseline '$was'); counts may shift for that reason alone" >&2
  fi
done

status=0
printf '%-10s %16s %16s %9s\n' workload baseline current change
while read -r w ir; do
  base=$(base_get "$w")
  if [ -z "$base" ]; then
    printf '%-10s %16s %16s %9s\n' "$w" "-" "$ir" "new"
    continue
  fi
  verdict=$(awk -v b="$base" -v c="$ir" -v t="$threshold" 'BEGIN {
    p = (c - b) * 100.0 / b
    v = "ok"
    if (p > t) v = "REGRESSION"
    else if (p < -t) v = "improved"
    printf "%+.2f%% %s", p, v
  }')
  change=${verdict% *}
  what=${verdict#* }
  printf '%-10s %16s %16s %9s  %s\n' "$w" "$base" "$ir" "$change" "$what"
  [ "$what" = REGRESSION ] && status=1
done <"$tmp/current"

if [ "$status" = 1 ]; then
  echo "bench-check: FAILED: instruction count up more than $threshold % over the baseline"
  echo "  (profile one workload: valgrind --tool=callgrind $vg_mode $prog NAME; callgrind_annotate)"
else
  echo "bench-check: passed (threshold $threshold %)"
fi
exit $status
