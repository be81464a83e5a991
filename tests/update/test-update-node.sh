#!/bin/sh
# TAP test of updates through running nodes, one process each: an
# authority A and two nodes B - C behind it, both trusting A.
# "meshara publish-update" on A's data directory has A's node announce
# the update; B and C fetch it over TLS and print update-complete, their
# copies equal the file published, and "meshara updates --status" asks a
# node what it holds.  Without a running node both commands fail and say
# so.  Every wait polls a file with a deadline.  Arguments are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"
limit=${MESHARA_TEST_WAIT:-30}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-update-node.XXXXXX") || exit 1
pids=""
cleanup () {
  for p in $pids; do
    kill "$p" 2>/dev/null
  done
  for p in $pids; do
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
exec </dev/null

n=0
failed=0
result () {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
    failed=1
  fi
}

bail () {
  echo "not ok $((n + 1)) - $1"
  for f in "$tmp"/*.out "$tmp"/*.err; do
    [ -f "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"
  done
  echo "Bail out! $1"
  exit 1
}

# wait_for FILE EXTENDED-REGEX WHAT: until FILE has a matching line, at
# most $limit seconds.
wait_for () {
  i=0
  until grep -q -E -- "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt $((limit * 10)) ]; then
      bail "timed out after $limit s waiting for $3"
    fi
    sleep 0.1
  done
  result 0 "$3"
}

run () {
  "$meshara" "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

echo "1..13"

for x in a b c; do
  "$meshara" keygen --data "$tmp/$x" --no-passphrase >"$tmp/$x.id" 2>&1 ||
    bail "keygen for node $x"
done
key_of () { sed -n 1p "$tmp/$1.id"; }
ka=$(key_of a)
kb=$(key_of b)
for x in b c; do
  "$meshara" trust add --data "$tmp/$x" --key "$ka" --name "Release" \
    >/dev/null 2>&1 || bail "trust add for node $x"
done
head -c 300000 /dev/urandom >"$tmp/app.bin" 2>/dev/null ||
  dd if=/dev/urandom of="$tmp/app.bin" bs=1000 count=300 2>/dev/null

run publish-update --data "$tmp/a" --version 3 --file "$tmp/app.bin" --name app
result $(test $status -eq 1 && grep -q "no meshara node is running" "$tmp/err" &&
         grep -q "not announced" "$tmp/err"; echo $?) \
  "publish-update without a running node fails and says so"
run updates --data "$tmp/b" --status
result $(test $status -eq 1 && grep -q "no meshara node is running" "$tmp/err"; echo $?) \
  "updates --status without a running node fails and says so"

start_node () {  # NAME [OPTIONS...]
  name=$1
  shift
  "$meshara" node --data "$tmp/$name" "$@" >>"$tmp/$name.out" \
    2>>"$tmp/$name.err" &
  pids="$pids $!"
}
listening='^listening [0-9.]+:[0-9]+ [0-9a-f]{64} mshr1[A-Za-z0-9_-]{172}$'

start_node a --listen 127.0.0.1:0
wait_for "$tmp/a.out" "$listening" "A listens"
aaddr=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/a.out" | head -n 1)
start_node b --listen 127.0.0.1:0 --peer "$aaddr,$ka"
wait_for "$tmp/b.out" "$listening" "B listens"
baddr=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/b.out" | head -n 1)
start_node c --listen 127.0.0.1:0 --peer "$baddr,$kb"
wait_for "$tmp/c.out" '^peer-connected ' "C is linked to B"

run publish-update --data "$tmp/a" --version 3 --file "$tmp/app.bin" --name app
result $(test $status -eq 0 && grep -q "^announced [0-9a-f]\{64\}$" "$tmp/out"; echo $?) \
  "publish-update has A's node announce the update"
id=$(sed -n 's/^announced //p' "$tmp/out")

wait_for "$tmp/c.out" "^update-complete $id " "C fetched the update"
wait_for "$tmp/b.out" "^update-complete $id " "B fetched the update"
cmp -s "$tmp/app.bin" "$tmp/b/updates/app-3.data" &&
  cmp -s "$tmp/app.bin" "$tmp/c/updates/app-3.data"
result $? "B's and C's copies are the published file"

run updates --data "$tmp/c" --status
result $(test $status -eq 0 && grep -q "^$id app 3 complete 5/5$" "$tmp/out"; echo $?) \
  "updates --status shows C's complete update"
run updates --data "$tmp/a" --status --json
result $(test $status -eq 0 && grep -q "\"state\": \"published\", \"chunks_held\": 5, \"chunks_total\": 5" "$tmp/out"; echo $?) \
  "updates --status --json shows A's published update"

run publish-update --data "$tmp/a" --announce "$tmp/a/updates/app-3.manifest"
result $(test $status -eq 0 && grep -q "^announced $id$" "$tmp/out"; echo $?) \
  "publish-update --announce has the node announce a kept manifest as it is"
run publish-update --data "$tmp/a" --announce "$tmp/a/updates/app-3.manifest" --offline
result $(test $status -eq 2; echo $?) "--announce with --offline is a usage error"

exit $failed
