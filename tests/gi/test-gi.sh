#!/bin/sh
# Runs tests/gi/test-gi.py against the typelib and library in the build tree.
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
if [ ! -f "$top_builddir/lib/Meshara-1.0.typelib" ]; then
  echo "1..0 # SKIP introspection disabled (no lib/Meshara-1.0.typelib)"
  exit 77
fi
# The python3 first in PATH may be a private build without the Debian
# python3-gi module; take the first one that has it.
py=
for cand in ${PYTHON:+"$PYTHON"} python3 /usr/bin/python3; do
  if "$cand" -c 'import gi' >/dev/null 2>&1; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  echo "1..0 # SKIP no python3 with the gi module (install python3-gi)"
  exit 77
fi
GI_TYPELIB_PATH="$top_builddir/lib${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}"
LD_LIBRARY_PATH="$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GI_TYPELIB_PATH LD_LIBRARY_PATH
exec "$py" "$top_srcdir/tests/gi/test-gi.py"
