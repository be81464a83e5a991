#!/bin/sh
# Runs AFL++ on targets built with afl-clang-fast (persistent mode through
# main.c), one after the other, each for a fixed time:
#
#   fuzz/run-afl.sh SECONDS FUZZDIR TARGET...
#
# The tree must be configured with CC=afl-clang-fast (see fuzz/README)
# and the targets built there (make fuzz/frame_fuzzer ...).  FUZZDIR is
# the source fuzz/ directory (seeds, reproducers, dictionaries).  Each
# target works in fuzz/afl/<name>/ of the build tree (in/, out/, log).
# Prints one line per target: executions, executions per second, corpus
# entries, crashes and hangs; fails when a target crashed or hung.
set -u

[ $# -ge 3 ] || { echo "usage: $0 SECONDS FUZZDIR TARGET..." >&2; exit 2; }
seconds=$1
fuzzdir=$2
shift 2
command -v afl-fuzz >/dev/null 2>&1 || { echo "run-afl: no afl-fuzz" >&2; exit 2; }
status=0
summary=

for t in "$@"; do
  name=$(basename "$t")
  work=fuzz/afl/$name
  rm -rf "$work"
  mkdir -p "$work/in"
  for d in "$fuzzdir/$name.in" "$fuzzdir/$name.repro"; do
    [ -d "$d" ] && cp "$d"/* "$work/in/" 2>/dev/null
  done

  dict=$fuzzdir/meshara.dict
  [ -f "$fuzzdir/$name.dict" ] && dict=$fuzzdir/$name.dict

  echo "run-afl: $name for ${seconds}s"
  AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
  AFL_NO_AFFINITY=${AFL_NO_AFFINITY:-1} \
    afl-fuzz -V "$seconds" -i "$work/in" -o "$work/out" -x "$dict" \
      -- "$t" > "$work/log" 2>&1
  rc=$?

  stats=$work/out/default/fuzzer_stats
  get () { sed -n "s/^$1 *: *//p" "$stats" 2>/dev/null; }
  execs=$(get execs_done)
  rate=$(get execs_per_sec)
  corpus=$(get corpus_count)
  crashes=$(get saved_crashes)
  hangs=$(get saved_hangs)
  if [ $rc -ne 0 ] || [ "${crashes:-1}" != 0 ] || [ "${hangs:-1}" != 0 ]; then
    result="FOUND (exit $rc), see $work"
    status=1
  else
    result="no crash"
  fi
  line=$(printf '%-24s %10s execs %9s/s  corpus %5s  crashes %s  hangs %s  %s' \
           "$name" "${execs:-?}" "${rate:-?}" "${corpus:-?}" "${crashes:-?}" \
           "${hangs:-?}" "$result")
  summary="$summary$line
"
done

printf '\n%s' "$summary"
exit $status
