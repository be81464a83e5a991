#!/bin/sh
# TAP test of the meshara command-line tool: keygen and id, passphrase
# sources, exit statuses and output formats.  Arguments (such as --tap)
# are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-tool.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# Never prompt, whatever terminal the test was started from.
unset MESHARA_PASSPHRASE
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
skip () {
  n=$((n + 1))
  echo "ok $n # SKIP $1"
}

# Run meshara; stdout, stderr and the exit status land in $tmp/out,
# $tmp/err and $status.
run () {
  "$meshara" "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

# The same with MESHARA_PASSPHRASE set to $1 for this run only.
run_pass () {
  pass=$1
  shift
  MESHARA_PASSPHRASE=$pass "$meshara" "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

mode () {
  stat -c %a "$1" 2>/dev/null
}

echo "1..31"

data="$tmp/data"

# Unencrypted identity
run keygen --data "$data" --no-passphrase
check "keygen --no-passphrase succeeds" [ "$status" -eq 0 ]
cp "$tmp/out" "$tmp/keygen-out"
check "keystore has mode 600" [ "$(mode "$data/identity.key")" = 600 ]
check "data directory has mode 700" [ "$(mode "$data")" = 700 ]

run id --data "$data"
check "id succeeds" [ "$status" -eq 0 ]
cp "$tmp/out" "$tmp/id-out"
check "first line is the public key alone" \
  grep -Eq '^mshr1[A-Za-z0-9_-]+$' "$tmp/id-out"
check "first line starts with mshr1" \
  [ "$(head -n 1 "$tmp/id-out" | cut -c1-5)" = mshr1 ]
check "node-id line has 64 hex digits" \
  grep -Eq '^node-id: [0-9a-f]{64}$' "$tmp/id-out"
check "fingerprint line present" grep -Eq '^fingerprint: .+' "$tmp/id-out"
check "id prints three lines" [ "$(wc -l <"$tmp/id-out")" -eq 3 ]
check "keygen printed what id prints" cmp -s "$tmp/keygen-out" "$tmp/id-out"

run id --data "$data"
check "id twice gives the same output" cmp -s "$tmp/out" "$tmp/id-out"

cp "$data/identity.key" "$tmp/saved.key"
run keygen --data "$data" --no-passphrase
check "keygen over an identity without --force exits 1" [ "$status" -eq 1 ]
check "keystore left unchanged" cmp -s "$data/identity.key" "$tmp/saved.key"
check "refusal mentions --force" grep -q -- '--force' "$tmp/err"

run keygen --data "$data" --no-passphrase --force
check "keygen --force succeeds" [ "$status" -eq 0 ]
check "keygen --force makes a different key" \
  [ "$(head -n 1 "$tmp/out")" != "$(head -n 1 "$tmp/id-out")" ]

if command -v python3 >/dev/null 2>&1; then
  "$meshara" id --data "$data" --json >"$tmp/json" 2>"$tmp/err"
  check "id --json is a JSON object with the three fields" \
    python3 -c '
import json, sys
d = json.load(sys.stdin)
assert sorted(d) == ["fingerprint", "node_id", "public_key"], d
assert d["public_key"].startswith("mshr1") and len(d["node_id"]) == 64
' <"$tmp/json"
else
  skip "id --json: python3 not found"
fi

# Encrypted identity (Argon2id: a few tenths of a second per run)
enc="$tmp/enc"
run_pass 'correct horse' keygen --data "$enc"
check "keygen with MESHARA_PASSPHRASE succeeds" [ "$status" -eq 0 ]
cp "$tmp/out" "$tmp/enc-out"

run_pass 'correct horse' id --data "$enc"
check "id with the right passphrase prints the same identity" \
  sh -c '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$status" "$tmp/out" "$tmp/enc-out"

run_pass 'wrong horse' id --data "$enc"
check "id with a wrong passphrase exits 1 and says why" \
  sh -c '[ "$0" -eq 1 ] && grep -qi passphrase "$1"' "$status" "$tmp/err"

run id --data "$enc"
check "id without a passphrase and no terminal exits 1, naming MESHARA_PASSPHRASE" \
  sh -c '[ "$0" -eq 1 ] && grep -q MESHARA_PASSPHRASE "$1"' "$status" "$tmp/err"

run keygen --data "$tmp/nopass"
check "keygen without a passphrase source exits 1 and suggests both ways" \
  sh -c '[ "$0" -eq 1 ] && grep -q MESHARA_PASSPHRASE "$1" && grep -q -- --no-passphrase "$1"' \
  "$status" "$tmp/err"
check "failed keygen wrote no keystore" [ ! -e "$tmp/nopass/identity.key" ]

run_pass '' keygen --data "$tmp/empty"
check "keygen refuses an empty passphrase" \
  sh -c '[ "$0" -eq 1 ] && [ ! -e "$1" ]' "$status" "$tmp/empty/identity.key"

# Usage and errors
run id --data "$tmp/none"
check "id without an identity exits 1 and says how to make one" \
  sh -c '[ "$0" -eq 1 ] && grep -q "no identity in .*meshara keygen --data" "$1"' \
  "$status" "$tmp/err"

run frobnicate
check "unknown command exits 2 with a message" \
  sh -c '[ "$0" -eq 2 ] && grep -q frobnicate "$1"' "$status" "$tmp/err"

run id
check "id without --data exits 2" [ "$status" -eq 2 ]

run keygen --data "$data" --no-such-option
check "unknown option exits 2" [ "$status" -eq 2 ]

run --help
check "--help exits 0 and lists keygen and id" \
  sh -c '[ "$0" -eq 0 ] && grep -q "^  keygen " "$1" && grep -q "^  id " "$1"' \
  "$status" "$tmp/out"

run keygen --help
check "keygen --help exits 0 and shows its options" \
  sh -c '[ "$0" -eq 0 ] && grep -q -- --no-passphrase "$1" && grep -q -- --force "$1"' \
  "$status" "$tmp/out"

run --version
check "--version exits 0" \
  sh -c '[ "$0" -eq 0 ] && grep -q "^meshara [0-9]" "$1"' "$status" "$tmp/out"
