#!/bin/sh
# The exported ABI changes only on purpose: the library's dynamic symbols
# must equal lib/libmeshara.sym, and all of them start with meshara_.
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
lib="$builddir/lib/.libs/libmeshara.so"
echo "1..2"
if [ ! -f "$lib" ]; then
  echo "ok 1 # SKIP no shared library built"
  echo "ok 2 # SKIP no shared library built"
  exit 0
fi
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
bad=$(printf '%s\n' "$syms" | grep -v '^meshara_' | grep -v '^$')
if [ -z "$bad" ]; then
  echo "ok 1 - every exported symbol starts with meshara_"
else
  echo "not ok 1 - symbols outside the meshara_ namespace are exported:"
  printf '%s\n' "$bad" | sed 's/^/# /'
fi
expected=$(grep -v '^#' "$srcdir/lib/libmeshara.sym" | sed '/^$/d' | sort)
if [ "$syms" = "$expected" ]; then
  echo "ok 2 - exported symbols match lib/libmeshara.sym"
else
  echo "not ok 2 - exported symbols differ from lib/libmeshara.sym (- expected, + built):"
  printf '%s\n' "$expected" > "${TMPDIR:-/tmp}/mesh-sym-exp.$$"
  printf '%s\n' "$syms" > "${TMPDIR:-/tmp}/mesh-sym-got.$$"
  diff -u "${TMPDIR:-/tmp}/mesh-sym-exp.$$" "${TMPDIR:-/tmp}/mesh-sym-got.$$" | tail -n +3 | sed 's/^/# /'
  rm -f "${TMPDIR:-/tmp}/mesh-sym-exp.$$" "${TMPDIR:-/tmp}/mesh-sym-got.$$"
fi
