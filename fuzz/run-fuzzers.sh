#!/bin/sh
# Runs libFuzzer targets one after the other, each for a fixed time, from
# a working copy of its seeds (make fuzz calls this):
#
#   fuzz/run-fuzzers.sh SECONDS FUZZDIR TARGET...
#
# FUZZDIR is the source fuzz/ directory (seeds, reproducers, dictionaries,
# .options).  Each target works in fuzz/work/<name>/ of the build tree:
# corpus/ (kept between runs, so fuzzing resumes), crashes/ (what it
# found) and log.  Prints one line per target and fails when any target
# found something.
set -u

[ $# -ge 3 ] || { echo "usage: $0 SECONDS FUZZDIR TARGET..." >&2; exit 2; }
seconds=$1
fuzzdir=$2
shift 2
status=0
summary=

for t in "$@"; do
  name=$(basename "$t")
  work=fuzz/work/$name
  mkdir -p "$work/corpus" "$work/crashes"
  for d in "$fuzzdir/$name.in" "$fuzzdir/$name.repro"; do
    [ -d "$d" ] && cp "$d"/* "$work/corpus/" 2>/dev/null
  done

  dict=$fuzzdir/meshara.dict
  [ -f "$fuzzdir/$name.dict" ] && dict=$fuzzdir/$name.dict
  # [libfuzzer] "key = value" lines of <name>.options become -key=value.
  opts=
  if [ -f "$fuzzdir/$name.options" ]; then
    opts=$(sed -n '/^\[libfuzzer\]/,/^\[/s/^\([a-z_]*\) *= *\([^ ]*\) *$/-\1=\2/p' \
             "$fuzzdir/$name.options")
  fi

  echo "run-fuzzers: $name for ${seconds}s"
  # shellcheck disable=SC2086
  "$t" -max_total_time="$seconds" -print_final_stats=1 -dict="$dict" $opts \
       -artifact_prefix="$work/crashes/" "$work/corpus" > "$work/log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
  cov=$(sed -n 's/.*DONE *cov: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
  files=$(find "$work/corpus" -type f | wc -l)
  found=$(find "$work/crashes" -type f | wc -l)
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    result="FOUND $found input(s) in $work/crashes (exit $rc), see $work/log"
    status=1
  else
    result="no crash"
  fi
  line=$(printf '%-24s %10s execs %8s/s  cov %6s  corpus %5s  %s' \
           "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$files" "$result")
  summary="$summary$line
"
done

printf '\n%s' "$summary"
exit $status
