#!/bin/sh
# Runs one test for Automake's TAP driver.  Scripts run as they are; test
# programs get --tap, behind $MESHARA_TEST_WRAPPER when set (for example
# "valgrind --error-exitcode=1"), through libtool so that the wrapper sees
# the real binary.
prog=$1
shift
case $prog in
  *.sh) exec "$prog" "$@" ;;
esac
if [ -n "$MESHARA_TEST_WRAPPER" ]; then
  exec "${top_builddir:-.}/libtool" --mode=execute $MESHARA_TEST_WRAPPER "$prog" --tap "$@"
fi
exec "$prog" --tap "$@"
