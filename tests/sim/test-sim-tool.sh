#!/bin/sh
# TAP test of "meshara sim": options, exit statuses, the JSON and table
# output, and that a seed fixes the run.  Small networks, so it is quick.
# Arguments (such as --tap) are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-sim-tool.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
exec </dev/null

n=0
result () {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
  fi
}
check () {
  desc=$1
  shift
  "$@"
  result $? "$desc"
}

# Run meshara sim; stdout, stderr and the exit status land in $tmp/out,
# $tmp/err and $status.
run () {
  "$meshara" sim "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

# The value of a member of the one-line JSON object in $1.
member () {
  sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" "$1"
}

echo "1..24"

run --help
check "--help succeeds" [ "$status" -eq 0 ]
check "--help lists the scenarios" grep -q 'hostile' "$tmp/out"
check "--help names --latency-ms" grep -q -- '--latency-ms' "$tmp/out"

run --nodes 1
check "one node is a usage error" [ "$status" -eq 2 ]
check "the error names --nodes" grep -q -- '--nodes' "$tmp/err"
run --scenario nope
check "an unknown scenario is a usage error" [ "$status" -eq 2 ]
check "the error lists the scenarios" grep -q 'private, broadcast' "$tmp/err"
run --loss 1.5
check "loss above 1 is a usage error" [ "$status" -eq 2 ]
run --bandwidth-mbps x
check "a bandwidth that is no number is a usage error" [ "$status" -eq 2 ]
run --nodes 10 stray
check "a stray argument is a usage error" [ "$status" -eq 2 ]

small="--nodes 10 --degree 3 --messages 20 --quiet"

run $small --seed 4 --scenario private --json
check "a small private run succeeds" [ "$status" -eq 0 ]
cp "$tmp/out" "$tmp/a.json"
check "it prints one line" [ "$(wc -l <"$tmp/a.json")" -eq 1 ]
missing=
for key in scenario nodes seed expected delivered duplicates success_rate \
  hops_p50 hops_p99 latency_ms_p50 latency_ms_p99 virtual_ms wall_ms \
  peak_rss_kb trace_sha256 passed detail; do
  grep -q "\"$key\": " "$tmp/a.json" || missing="$missing $key"
done
check "every required member is there${missing:+ (missing:$missing)}" \
  [ -z "$missing" ]
check "all 20 messages were delivered" \
  [ "$(member "$tmp/a.json" delivered)" = 20 ]
check "the trace hash has 64 hex digits" \
  grep -Eq '"trace_sha256": "[0-9a-f]{64}"' "$tmp/a.json"

run $small --seed 4 --scenario private --json
check "the same seed gives the same trace" \
  [ "$(member "$tmp/out" trace_sha256)" = "$(member "$tmp/a.json" trace_sha256)" ]
run $small --seed 5 --scenario private --json
check "another seed gives another trace" \
  [ "$(member "$tmp/out" trace_sha256)" != "$(member "$tmp/a.json" trace_sha256)" ]

run $small --scenario broadcast --broadcasts 3
check "a small broadcast run succeeds" [ "$status" -eq 0 ]
check "the table has its header" grep -q '^scenario .*delivered' "$tmp/out"
check "the table row says ok with 27 receptions" \
  grep -Eq '^broadcast +ok +10 +27 +27 ' "$tmp/out"

# Every frame lost: nothing can arrive, and the command says so.
run $small --scenario private --loss 1 --json
check "a failed scenario exits with 1" [ "$status" -eq 1 ]
check "its JSON says it did not pass" grep -q '"passed": false' "$tmp/out"
check "its detail says why" grep -q 'not delivered' "$tmp/out"
check "nothing counts as delivered" [ "$(member "$tmp/out" delivered)" = 0 ]
