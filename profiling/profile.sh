#!/bin/sh
# Profile the standard workloads and write the reports into
# profiling/out/<stamp>/ (or $PROFILE_OUT):
#
#   idle   one node listening for 10 s          bench-node idle
#   pair   private messages between two nodes  bench-node pair (TLS on
#          127.0.0.1, both nodes in one process, the library's real path)
#   sim    the simulator, broadcast scenario    meshara sim
#
# Tools: massif (peak heap, ms_print report), DHAT (allocations and bytes
# per private message), heaptrack (when installed), perf record -g on the
# software clock (DWARF call graphs) rendered to a self-contained SVG flame graph by
# flamegraph.py.  summary.md collects the headline figures and the
# functions with the most self time.
#
# Sizes: perf runs the full workloads (100,000 messages, 1,000 nodes);
# the valgrind tools run 20 to 50 times slower, so massif and DHAT use
# 10,000 messages and a 200-node simulation.  PROFILE_QUICK=1 shrinks
# everything (idle 2 s, 5,000 messages, 200 nodes under perf, 100 under
# valgrind) to finish in about a minute.
#
# Environment: BENCH_NODE (bench/bench-node), MESHARA (tools/meshara),
# VALGRIND, PERF, PERF_CALLGRAPH (dwarf,8192), PERF_FREQ (499 Hz, a
# quarter of it for the simulator), PYTHON, PROFILE_QUICK, PROFILE_OUT.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bench_node=${BENCH_NODE:-bench/bench-node}
meshara=${MESHARA:-tools/meshara}
valgrind=${VALGRIND:-valgrind}
[ "$valgrind" = no ] && valgrind=valgrind
perf=${PERF:-perf}
python=${PYTHON:-python3}
quick=${PROFILE_QUICK:-0}
# The library and the system libraries are built without frame pointers:
# DWARF unwinding gives whole stacks (PERF_CALLGRAPH=fp for the cheap way).
callgraph=${PERF_CALLGRAPH:-dwarf,8192}
perf_freq=${PERF_FREQ:-499}
[ -n "$quick" ] || quick=0

if [ "$quick" != 0 ]; then
  idle_s=2; perf_msgs=5000; vg_msgs=2000; vg_msgs_small=1000
  perf_nodes=200; vg_nodes=100; bcasts=10
else
  idle_s=10; perf_msgs=100000; vg_msgs=10000; vg_msgs_small=5000
  perf_nodes=1000; vg_nodes=200; bcasts=20
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${PROFILE_OUT:-profiling/out/$stamp}
mkdir -p "$out" || exit 2
summary=$out/summary.md

for p in "$bench_node" "$meshara"; do
  [ -x "$p" ] || { echo "profile: $p is missing; run make first" >&2; exit 2; }
done

# libtool leaves a wrapper script where the program should be; the tools
# must run the program itself, with the uninstalled library found first.
real_prog () {
  d=$(dirname "$1"); b=$(basename "$1")
  if [ -x "$d/.libs/$b" ] && [ -f "$d/.libs/$b" ]; then echo "$d/.libs/$b"; else echo "$1"; fi
}
if [ -d lib/.libs ]; then
  LD_LIBRARY_PATH=$(pwd)/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
fi
bench_node=$(real_prog "$bench_node")
meshara=$(real_prog "$meshara")
run () { "$@"; }

note () { echo "$*"; echo "$*" >> "$summary"; }

have_valgrind=0; command -v "$valgrind" >/dev/null 2>&1 && have_valgrind=1
have_perf=0
if command -v "$perf" >/dev/null 2>&1 \
   && "$perf" record -q -e cpu-clock -o "$out/.perf-probe" -- true >/dev/null 2>&1; then
  have_perf=1
fi
rm -f "$out/.perf-probe"
have_heaptrack=0; command -v heaptrack >/dev/null 2>&1 && have_heaptrack=1
have_python=0; command -v "$python" >/dev/null 2>&1 && have_python=1

cat > "$summary" <<EOF
# Profile $stamp

- commit: $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
- machine: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs
- mode: $( [ "$quick" != 0 ] && echo quick || echo full )
- workloads: idle = one node, ${idle_s} s; pair = two nodes over TLS on
  127.0.0.1 in one process (bench-node pair), perf ${perf_msgs} private
  messages of 64 B, massif/DHAT ${vg_msgs}; sim = meshara sim --scenario
  broadcast --degree 8 --seed 1 --broadcasts ${bcasts}, perf ${perf_nodes}
  nodes, massif ${vg_nodes} nodes (valgrind is too slow for more)

## Headline figures

EOF

# Largest mem_heap_B + mem_heap_extra_B over the snapshots of a massif file.
massif_peak () {
  awk -F= '/^mem_heap_B=/ { h = $2 } /^mem_heap_extra_B=/ { t = h + $2; if (t > m) m = t }
           END { print m + 0 }' "$1"
}

# "Total:     1,234 bytes in 56 blocks" from DHAT's stderr: "bytes blocks".
dhat_totals () {
  sed -n 's/.*Total: *\([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p' "$1" | tr -d , | head -n1
}

# ---- massif ----
if [ "$have_valgrind" = 1 ]; then
  echo "profile: massif (idle, pair, sim)"
  run "$valgrind" --tool=massif --massif-out-file="$out/massif.idle.out" \
    "$bench_node" idle --seconds "$idle_s" > "$out/massif.idle.log" 2>&1
  run "$valgrind" --tool=massif --massif-out-file="$out/massif.pair.out" \
    "$bench_node" pair --messages "$vg_msgs" > "$out/massif.pair.log" 2>&1
  run "$valgrind" --tool=massif --massif-out-file="$out/massif.sim.out" \
    "$meshara" sim --nodes "$vg_nodes" --degree 8 --seed 1 --scenario broadcast \
    --broadcasts "$bcasts" > "$out/massif.sim.log" 2>&1
  for w in idle pair sim; do
    if [ -s "$out/massif.$w.out" ]; then
      ms_print "$out/massif.$w.out" > "$out/massif.$w.txt" 2>&1
      peak=$(massif_peak "$out/massif.$w.out")
      note "- massif peak heap, $w: $peak bytes ($(awk "BEGIN { printf \"%.1f\", $peak / 1024 }") KiB)"
    else
      note "- massif, $w: failed, see massif.$w.log"
    fi
  done

  # ---- DHAT: per message = difference of two runs / difference of counts,
  # so the setup (identities, TLS, session) cancels out. ----
  echo "profile: DHAT (pair, two sizes)"
  for n in "$vg_msgs_small" "$vg_msgs"; do
    run "$valgrind" --tool=dhat --dhat-out-file="$out/dhat.pair.$n.json" \
      "$bench_node" pair --messages "$n" > "$out/dhat.pair.$n.log" 2>&1
  done
  set -- $(dhat_totals "$out/dhat.pair.$vg_msgs_small.log")
  b1=${1:-}; k1=${2:-}
  set -- $(dhat_totals "$out/dhat.pair.$vg_msgs.log")
  b2=${1:-}; k2=${2:-}
  if [ -n "$b1" ] && [ -n "$b2" ]; then
    awk -v b1="$b1" -v k1="$k1" -v b2="$b2" -v k2="$k2" -v n1="$vg_msgs_small" -v n2="$vg_msgs" \
      'BEGIN { d = n2 - n1;
               printf "- DHAT, pair, per private message (both nodes, message and acknowledgment, steady state = (run %d - run %d) / %d): %.1f allocations, %.0f bytes\n", n2, n1, d, (k2 - k1) / d, (b2 - b1) / d;
               printf "- DHAT, pair, whole run of %d messages: %d allocations, %d bytes (%.1f allocations, %.0f bytes per message with setup)\n", n2, k2, b2, k2 / n2, b2 / n2 }' \
      | tee -a "$summary"
  else
    note "- DHAT: no totals found, see dhat.pair.*.log"
  fi
  echo "  (open dhat.pair.*.json in valgrind's dh_view.html, shipped with valgrind)" >> "$summary"
else
  note "- massif and DHAT skipped: valgrind is not installed"
fi

# ---- heaptrack ----
if [ "$have_heaptrack" = 1 ]; then
  echo "profile: heaptrack (pair)"
  run heaptrack -o "$out/heaptrack.pair" "$bench_node" pair --messages "$vg_msgs" \
    > "$out/heaptrack.pair.log" 2>&1
  ht=$(ls "$out"/heaptrack.pair*.zst "$out"/heaptrack.pair*.gz 2>/dev/null | head -n1)
  if [ -n "$ht" ] && command -v heaptrack_print >/dev/null 2>&1; then
    heaptrack_print "$ht" > "$out/heaptrack.pair.txt" 2>&1
    grep -E '^(calls to allocation functions|peak heap memory consumption|total memory leaked)' \
      "$out/heaptrack.pair.txt" | sed 's/^/- heaptrack, pair: /' | tee -a "$summary"
  else
    note "- heaptrack: ran, but no data file or heaptrack_print; see heaptrack.pair.log"
  fi
else
  note "- heaptrack skipped: not installed (apt-get install heaptrack)"
fi

# ---- perf + flame graphs ----
tops=""
if [ "$have_perf" = 1 ] && [ "$have_python" = 1 ]; then
  for w in idle pair sim; do
    echo "profile: perf ($w)"
    case $w in
      idle) set -- "$bench_node" idle --seconds "$idle_s" ;;
      pair) set -- "$bench_node" pair --messages "$perf_msgs" ;;
      sim)  set -- "$meshara" sim --nodes "$perf_nodes" --degree 8 --seed 1 \
              --scenario broadcast --broadcasts "$bcasts" ;;
    esac
    freq=$perf_freq
    [ "$w" = sim ] && freq=$((perf_freq / 4))
    start=$(date +%s.%N)
    run "$perf" record -q -g --call-graph "$callgraph" -e cpu-clock -F "$freq" \
      -o "$out/perf.$w.data" -- "$@" \
      > "$out/perf.$w.log" 2>&1
    end=$(date +%s.%N)
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    "$perf" script -i "$out/perf.$w.data" > "$out/perf.$w.script" 2>/dev/null
    "$python" "$here/flamegraph.py" --title "meshara: $w ($*)" \
      --folded "$out/perf.$w.folded" --top 15 \
      "$out/perf.$w.script" "$out/flame.$w.svg" > "$out/top.$w.md" 2>"$out/flame.$w.log"
    rm -f "$out/perf.$w.script"
    samples=$(awk '{ s += $NF } END { print s + 0 }' "$out/perf.$w.folded" 2>/dev/null)
    note "- perf, $w: ${wall} s wall under perf, ${samples:-0} samples at $freq Hz; $(tail -n1 "$out/perf.$w.log" 2>/dev/null | cut -c1-160)"
    tops="$tops $w"
  done
else
  note "- perf skipped: perf is not installed or not permitted (kernel.perf_event_paranoid), or python3 is missing"
fi

{
  echo
  echo "## Top functions by self time (perf, cpu-clock)"
  for w in $tops; do
    echo
    echo "### $w"
    echo
    cat "$out/top.$w.md"
  done
  echo
  echo "## Files"
  echo
  echo "- massif.*.txt: ms_print reports; massif.*.out: raw (massif-visualizer)"
  echo "- dhat.pair.*.json: DHAT data (dh_view.html)"
  echo "- flame.*.svg: flame graphs, open in any browser, offline"
  echo "- perf.*.folded: folded stacks; perf.*.data: perf report -i FILE"
} >> "$summary"

echo "profile: reports in $out"
ls -l "$out"
echo
cat "$summary"
