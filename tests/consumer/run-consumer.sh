#!/bin/sh
# Build tests/consumer/consumer.c as a program outside the tree would,
# with nothing but `pkg-config --cflags --libs meshara`, and run it.
#
#   run-consumer.sh              against the installed package
#   run-consumer.sh DESTDIR      against `make install DESTDIR=DESTDIR`
set -eu

src=$(cd "$(dirname "$0")" && pwd)/consumer.c
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ $# -gt 0 ]; then
  destdir=$(cd "$1" && pwd)
  pc=$(find "$destdir" -name meshara.pc -path '*/pkgconfig/*' | head -n 1)
  if [ -z "$pc" ]; then
    echo "run-consumer: no meshara.pc under $destdir" >&2
    exit 1
  fi
  # The package's own .pc with its prefix moved under DESTDIR; the
  # dependencies' .pc files stay the system's.
  mkdir "$work/pc"
  sed "s|^prefix=|prefix=$destdir|" "$pc" > "$work/pc/meshara.pc"
  PKG_CONFIG_PATH=$work/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export PKG_CONFIG_PATH
  LD_LIBRARY_PATH=$(pkg-config --variable=libdir meshara)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
fi

cflags=$(pkg-config --cflags meshara)
libs=$(pkg-config --libs meshara)
echo "cc $cflags consumer.c $libs"
# shellcheck disable=SC2086
${CC:-cc} $cflags -Wall -Werror -o "$work/consumer" "$src" $libs
"$work/consumer"
