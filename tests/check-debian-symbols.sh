#!/bin/sh
# debian/libmeshara0.symbols (dpkg-gensymbols format) lists exactly the
# functions of lib/libmeshara.sym, each with a version no newer than the
# one in debian/changelog, so a function added to the library is also
# added to the Debian package's symbols file.
srcdir=${top_srcdir:-.}
symbols="$srcdir/debian/libmeshara0.symbols"
changelog="$srcdir/debian/changelog"
tmp=${TMPDIR:-/tmp}/mesh-debsym.$$
trap 'rm -f "$tmp".*' EXIT

echo "1..3"
if [ ! -f "$symbols" ] || [ ! -f "$changelog" ]; then
  for i in 1 2 3; do echo "ok $i # SKIP no debian/ directory in $srcdir"; done
  exit 0
fi

# 1: the header names the SONAME and the package.
if head -n 1 "$symbols" | grep -q '^libmeshara\.so\.0 libmeshara0 #MINVER#$'; then
  echo "ok 1 - the symbols file is for libmeshara.so.0 in libmeshara0"
else
  echo "not ok 1 - the first line of debian/libmeshara0.symbols must be 'libmeshara.so.0 libmeshara0 #MINVER#', not:"
  head -n 1 "$symbols" | sed 's/^/#   /'
fi

# 2: the same functions as lib/libmeshara.sym.
grep -v '^#' "$srcdir/lib/libmeshara.sym" | sed '/^$/d' | sort > "$tmp.exp"
sed -n 's/^ \([A-Za-z0-9_]*\)@Base [^ ]*$/\1/p' "$symbols" | sort > "$tmp.got"
if cmp -s "$tmp.exp" "$tmp.got"; then
  echo "ok 2 - debian/libmeshara0.symbols lists the $(wc -l < "$tmp.exp") functions of lib/libmeshara.sym"
else
  echo "not ok 2 - debian/libmeshara0.symbols differs from lib/libmeshara.sym (- lib/libmeshara.sym, + debian):"
  diff -u "$tmp.exp" "$tmp.got" | tail -n +3 | grep '^[-+]' | sed 's/^/#   /'
  echo "#   add a line ' NAME@Base VERSION' with the first upstream version that has NAME"
fi

# 3: no symbol claims a version newer than the package's.
latest=$(sed -n '1s/^[^ ]* (\([^)-]*\).*/\1/p' "$changelog")
newer=
for v in $(sed -n 's/^ [A-Za-z0-9_]*@Base \([^ ]*\)$/\1/p' "$symbols" | sort -u); do
  if [ "$v" != "$latest" ] && \
     [ "$(printf '%s\n%s\n' "$v" "$latest" | sort -V | tail -n 1)" = "$v" ]; then
    newer="$newer $v"
  fi
done
if [ -n "$latest" ] && [ -z "$newer" ]; then
  echo "ok 3 - no symbol version is above $latest, the version in debian/changelog"
else
  echo "not ok 3 - symbol versions above '$latest' of debian/changelog:$newer"
fi
