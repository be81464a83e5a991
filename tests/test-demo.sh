#!/bin/sh
# TAP test of "meshara demo": five nodes over TLS on 127.0.0.1 in this
# machine; a private message over two hops, a broadcast and a DHT lookup
# must all happen before the demo's own deadline.  Arguments (such as
# --tap) are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-demo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

n=0
result () {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
  fi
}

echo "1..5"

"$meshara" demo --nodes 5 --timeout 30 >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
sed 's/^/# /' "$tmp/out" "$tmp/err"
result $status "meshara demo --nodes 5 exits 0"
grep -q '^private message: node 0 -> node 2 (2 hops), received and acknowledged' "$tmp/out"
result $? "the private message is received and acknowledged"
grep -q '^broadcast: from node 0 reached all 4 other nodes' "$tmp/out"
result $? "the broadcast reaches every node"
grep -q '^lookup: node 0 found node 4' "$tmp/out"
result $? "the DHT lookup finds the last node"

"$meshara" demo --nodes 1 >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- '--nodes must be between' "$tmp/err"
result $? "too few nodes is a usage error"
