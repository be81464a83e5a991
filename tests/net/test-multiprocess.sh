#!/bin/sh
# TAP test through the tool, one process per node: A - B - C in a line (A
# and C have no link).  "meshara send" from A's data directory reaches C
# over the relay B; then B is killed with SIGKILL and a new B starts on the
# same data directory and port; A and C dial it again by themselves and a
# second message arrives.  Every wait polls an output file with a deadline
# and says what did not happen.  Arguments (such as --tap) are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"
limit=${MESHARA_TEST_WAIT:-30}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-multiprocess.XXXXXX") || exit 1
pids=""
cleanup () {
  for p in $pids; do
    kill -9 "$p" 2>/dev/null
  done
  for p in $pids; do
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

n=0
failed=0
result () {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=1
  fi
}

# Show what the nodes printed, then stop: later steps depend on this one.
bail () {
  echo "not ok $((n + 1)) - $1"
  for f in "$tmp"/*.out "$tmp"/*.err; do
    [ -f "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"
  done
  echo "Bail out! $1"
  exit 1
}

# wait_for FILE EXTENDED-REGEX COUNT WHAT: until FILE has COUNT matching
# lines, at most $limit seconds.
wait_for () {
  i=0
  while c=$(grep -c -E -- "$2" "$1" 2>/dev/null); [ "${c:-0}" -lt "$3" ]; do
    i=$((i + 1))
    if [ $i -gt $((limit * 10)) ]; then
      bail "timed out after $limit s waiting for $4"
    fi
    sleep 0.1
  done
  result 0 "$4"
}

echo "1..19"

for x in a b c; do
  "$meshara" keygen --data "$tmp/$x" --no-passphrase >"$tmp/$x.id" 2>&1 ||
    bail "keygen for node $x"
done
key_of () { sed -n 1p "$tmp/$1.id"; }
ka=$(key_of a)
kb=$(key_of b)
kc=$(key_of c)

start_node () {  # NAME [OPTIONS...]
  name=$1
  shift
  "$meshara" node --data "$tmp/$name" "$@" >>"$tmp/$name.out" \
    2>>"$tmp/$name.err" </dev/null &
  pids="$pids $!"
  eval "pid_$name=$!"
}

# The whole line, so that a line still being written is not taken.
listening='^listening [0-9.]+:[0-9]+ [0-9a-f]{64} mshr1[A-Za-z0-9_-]{172}$'

start_node b --listen 127.0.0.1:0
wait_for "$tmp/b.out" "$listening" 1 "relay B listens"
baddr=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/b.out" | head -n 1)

start_node a --listen 127.0.0.1:0 --peer "$baddr,$kb"
start_node c --listen 127.0.0.1:0 --peer "$baddr,$kb"
wait_for "$tmp/b.out" '^peer-connected ' 2 "B has two peers, A and C"
wait_for "$tmp/a.out" '^peer-connected ' 1 "A is linked to B"
wait_for "$tmp/c.out" '^peer-connected ' 1 "C is linked to B"

"$meshara" send --data "$tmp/a" --to "$kc" "first over the relay" \
  >"$tmp/send1" 2>&1
result $? "meshara send from A to C is accepted"
wait_for "$tmp/c.out" "^private $ka [0-9a-f]{64} first over the relay\$" 1 \
  "C prints the first message from A"
if grep -q '^peer-connected' "$tmp/a.out" &&
   [ "$(grep -c '^peer-connected' "$tmp/a.out")" -eq 1 ]; then
  result 0 "A and C have no direct link (A has one peer)"
else
  result 1 "A and C have no direct link (A has one peer)"
fi

# "meshara peers": one line per linked peer and the total.
"$meshara" peers --data "$tmp/a" >"$tmp/peers-a" 2>&1
result $? "meshara peers on A succeeds"
sed 's/^/# /' "$tmp/peers-a"
peer_line="^$kb $baddr out up=[0-9.]+s idle=[0-9.]+s rtt=([0-9.]+ms|-) bytes-in=[1-9][0-9]* bytes-out=[1-9][0-9]* frames-in=[1-9][0-9]* frames-out=[1-9][0-9]* invalid=0 reputation=-?[0-9]+\$"
[ "$(grep -c -E -- "$peer_line" "$tmp/peers-a")" -eq 1 ] &&
  [ "$(wc -l <"$tmp/peers-a")" -eq 2 ] &&
  [ "$(tail -n 1 "$tmp/peers-a")" = "total 1 peer" ]
result $? "A's peers: the relay B (key, address, outgoing, stats), total 1"
"$meshara" peers --data "$tmp/b" --json >"$tmp/peers-b" 2>&1 &&
  [ "$(wc -l <"$tmp/peers-b")" -eq 2 ] &&
  grep -q -F "{\"public_key\":\"$ka\",\"address\":null,\"direction\":\"in\"," "$tmp/peers-b" &&
  grep -q -F "{\"public_key\":\"$kc\",\"address\":null,\"direction\":\"in\"," "$tmp/peers-b"
result $? "B's peers as JSON: A and C, both incoming, one object each"
sed 's/^/# /' "$tmp/peers-b"
if "$meshara" peers --data "$tmp/nowhere" >"$tmp/peers-none" 2>&1; then
  result 1 "meshara peers without a running node fails"
else
  grep -q 'no meshara node is running' "$tmp/peers-none"
  result $? "meshara peers without a running node fails with a clear message"
fi

# The relay dies without a chance to say goodbye.
kill -9 "$pid_b"
wait "$pid_b" 2>/dev/null
wait_for "$tmp/a.out" '^peer-disconnected ' 1 "A sees B go"
wait_for "$tmp/c.out" '^peer-disconnected ' 1 "C sees B go"

# A new relay on the same data directory (its stale control socket is
# replaced) and port.
: >"$tmp/b.out"
start_node b --listen "$baddr"
wait_for "$tmp/b.out" "$listening" 1 "the new B listens"
grep -q "^listening $baddr " "$tmp/b.out"
result $? "the new B listens on the same address"
wait_for "$tmp/b.out" '^peer-connected ' 2 "A and C reconnect to the new B"

"$meshara" send --data "$tmp/a" --to "$kc" "second after the restart" \
  >"$tmp/send2" 2>&1
result $? "the second meshara send is accepted"
wait_for "$tmp/c.out" "^private $ka [0-9a-f]{64} second after the restart\$" 1 \
  "C prints the second message after B's restart"

# A remembered B in its data directory.
grep -q -F "$baddr $kb" "$tmp/a/peers"
result $? "A's peers file holds B"

exit $failed
