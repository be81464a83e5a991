#!/bin/sh
# TAP test of "meshara trust", "meshara publish-update" and "meshara
# updates": an authority signs an update, a node trusts it and sees the
# update accepted, rejected with a downgrade or corrupt data, co-signing
# by a second authority for a threshold of two, applying with a check
# that fails (rolled back) or passes, and removing an authority.
# Arguments (such as --tap) are ignored.

builddir=${top_builddir:-.}
meshara="$builddir/tools/meshara"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-update-tool.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
exec </dev/null
MESHARA_PASSPHRASE=test-passphrase
export MESHARA_PASSPHRASE

n=0
result () {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
  fi
}
run () {
  "$meshara" "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}
has () {
  grep -q -- "$1" "$tmp/out"
}

"$meshara" keygen --data "$tmp/auth" >/dev/null 2>&1
"$meshara" keygen --data "$tmp/auth2" >/dev/null 2>&1
"$meshara" keygen --data "$tmp/node" >/dev/null 2>&1
key=$("$meshara" id --data "$tmp/auth" | head -n 1)
key2=$("$meshara" id --data "$tmp/auth2" | head -n 1)
head -c 150000 /dev/urandom >"$tmp/app.bin" 2>/dev/null || dd if=/dev/urandom of="$tmp/app.bin" bs=1000 count=150 2>/dev/null

run trust list --data "$tmp/node"
result $(test $status -eq 0 && has "threshold 1 of 0"; echo $?) "an empty trust store lists nothing"

run trust add --data "$tmp/node" --key "$key" --name "Release team" --url https://example.org
result $status "trust add"
run trust list --data "$tmp/node" --json
result $(test $status -eq 0 && has '"name": "Release team"' && has '"level": "update"'; echo $?) "trust list --json shows the authority"

run trust add --data "$tmp/node" --name "No key"
result $(test $status -eq 2; echo $?) "trust add without --key is a usage error"
run trust add --data "$tmp/node" --key "not-a-key" --name "Bad"
result $(test $status -eq 1; echo $?) "trust add with a bad key fails"

run publish-update --data "$tmp/auth" --version 2 --file "$tmp/app.bin" --name app --label 2.0 --changelog "first" --export-unsigned "$tmp/unsigned" --offline
result $(test $status -eq 0 && test -s "$tmp/auth/updates/app-2.manifest" && cmp -s "$tmp/app.bin" "$tmp/auth/updates/app-2.data" && test -s "$tmp/unsigned"; echo $?) "publish-update signs and keeps the update"
run publish-update --data "$tmp/auth" --file "$tmp/app.bin"
result $(test $status -eq 2; echo $?) "publish-update without --version is a usage error"

mkdir -p "$tmp/node/updates"
cp "$tmp/auth/updates/app-2.manifest" "$tmp/auth/updates/app-2.data" "$tmp/node/updates/"
run updates --data "$tmp/node"
result $(test $status -eq 0 && has "app 2 (2.0)  150000 bytes, 1 signature, trusted; data held, verified"; echo $?) "updates: trusted and verified"
run updates --data "$tmp/node" --installed 2
result $(test $status -eq 0 && has "not newer"; echo $?) "updates: same version installed is rejected"

# Corrupt one byte of the data.
printf 'X' | dd of="$tmp/node/updates/app-2.data" bs=1 seek=70000 conv=notrunc 2>/dev/null
run updates --data "$tmp/node" --json
result $(test $status -eq 0 && has '"data": "held, bad'; echo $?) "updates: corrupt data is found"

# k = 2: one signature is not enough, a co-signature is.
"$meshara" trust add --data "$tmp/node" --key "$key2" --name "Second" --threshold 2 >/dev/null 2>&1
run updates --data "$tmp/node"
result $(test $status -eq 0 && has "1 required\|2 required" && has "rejected"; echo $?) "updates: one of two required signatures is rejected"
run publish-update --data "$tmp/auth2" --cosign "$tmp/node/updates/app-2.manifest"
result $(test $status -eq 0 && has "2 signatures"; echo $?) "publish-update --cosign adds a signature"
run updates --data "$tmp/node"
result $(test $status -eq 0 && has "2 signatures, trusted"; echo $?) "updates: two of two signatures are trusted"

# Apply: the co-signed update over an old file, a failing check rolls
# back byte for byte, a passing one keeps it.
cp "$tmp/app.bin" "$tmp/node/updates/app-2.data"
printf 'old version\n' >"$tmp/installed"
cp "$tmp/installed" "$tmp/installed.orig"
run updates --data "$tmp/node" --installed 1 --apply "$tmp/node/updates/app-2.manifest" --target "$tmp/installed" --check false
result $(test $status -eq 1 && has "rolled back" && cmp -s "$tmp/installed" "$tmp/installed.orig"; echo $?) "updates --apply: a failing check rolls back"
run updates --data "$tmp/node" --installed 1 --apply "$tmp/node/updates/app-2.manifest" --target "$tmp/installed" --check "test -s"
result $(test $status -eq 0 && has "applied" && cmp -s "$tmp/installed" "$tmp/app.bin"; echo $?) "updates --apply: a passing check keeps the update"
run updates --data "$tmp/node" --installed 2 --apply "$tmp/node/updates/app-2.manifest" --target "$tmp/installed"
result $(test $status -eq 1 && has "not applied"; echo $?) "updates --apply: no downgrade or reinstall"
run updates --data "$tmp/node" --apply "$tmp/node/updates/app-2.manifest"
result $(test $status -eq 2; echo $?) "updates --apply without --target is a usage error"

run trust remove --data "$tmp/node" --key "$key2" --threshold 1
result $status "trust remove"
run trust list --data "$tmp/node"
result $(test $status -eq 0 && has "threshold 1 of 1" && ! has "Second"; echo $?) "the removed authority is gone"

echo "1..$n"
