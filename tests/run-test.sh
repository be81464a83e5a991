#!/bin/sh
# Runs one test for Automake's TAP driver.  Scripts run as they are; test
# programs get --tap, behind $MESHARA_TEST_WRAPPER when set (for example
# "valgrind --error-exitcode=1"), through libtool so that the wrapper sees
# the real binary.
prog=$1
shift
case $prog in
  *.sh)
    # A script that skips prints "1..0 # SKIP reason" and exits 77 (the
    # Automake convention when run on its own); the TAP driver wants the
    # plan and a zero status.
    "$prog" "$@"
    rc=$?
    [ "$rc" = 77 ] && exit 0
    exit "$rc" ;;
esac
if [ -n "$MESHARA_TEST_WRAPPER" ]; then
  exec "${top_builddir:-.}/libtool" --mode=execute $MESHARA_TEST_WRAPPER "$prog" --tap "$@"
fi
exec "$prog" --tap "$@"
