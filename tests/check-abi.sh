#!/bin/sh
# The built libmeshara against the committed ABI baseline (libabigail).
# Added functions are fine; anything that breaks a program built against
# the baseline fails.  After a deliberate soname bump, or to record new
# API, refresh the baseline with `make abi-baseline`.
#
# Exit: 0 compatible, 1 incompatible or error, 77 abidiff not installed.
set -u

: "${top_srcdir:=.}" "${top_builddir:=.}"
baseline=$top_srcdir/abi/libmeshara.abi
lib=$top_builddir/lib/.libs/libmeshara.so

if ! command -v abidiff >/dev/null 2>&1; then
  echo "1..0 # SKIP abidiff not installed (package abigail-tools)"
  exit 77
fi
if [ ! -f "$lib" ]; then
  echo "check-abi: $lib not built" >&2
  exit 1
fi

echo "1..1"
report=$(abidiff --headers-dir2 "$top_srcdir/lib/meshara" --drop-private-types \
         --no-added-syms "$baseline" "$lib" 2>&1)
status=$?
# abidiff's status is a bit field: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
if [ $((status & 11)) -ne 0 ]; then
  echo "$report" | sed 's/^/# /'
  echo "not ok 1 - libmeshara ABI compatible with abi/libmeshara.abi (abidiff status $status)"
  exit 1
fi
[ $((status & 4)) -ne 0 ] && echo "$report" | sed 's/^/# /'
echo "ok 1 - libmeshara ABI compatible with abi/libmeshara.abi"
exit 0
