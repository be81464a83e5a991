#!/bin/bash -eu
# OSS-Fuzz build script (projects/meshara/build.sh in google/oss-fuzz; the
# copy in the tree is fuzz/oss-fuzz/build.sh).
#
# The layer libraries are lib/wire, lib/crypto, lib/engine (for
# engine_fuzzer and update_chunk_fuzzer) and lib/update (the update
# targets); every target is linked against all four in one group, so that
# each takes what it uses.  config_fuzzer reads the node's configuration
# file, in lib/net, which brings the node and with it GnuTLS: it alone is
# linked against lib/net and GnuTLS (static where Ubuntu ships archives;
# p11-kit has none, so that one stays dynamic).
#
# OSS-Fuzz runs it in $SRC/libmeshara with CC, CXX, CFLAGS, CXXFLAGS,
# LIB_FUZZING_ENGINE, SANITIZER, SRC, WORK and OUT set.  It builds the
# layer libraries with the fuzzing compiler flags, links every
# fuzz/<name>_fuzzer.c into $OUT/<name>_fuzzer, and puts beside each its
# seed corpus (zip), dictionary and .options.  To try it outside
# OSS-Fuzz, see "OSS-Fuzz" in fuzz/README.
#
# Dependencies come from Ubuntu packages (Dockerfile), so they are not
# instrumented: coverage stops at their boundary, and ASan and UBSan
# check only our code and what it passes them.  They are linked
# statically from the packages' archives, because the machines that run
# the targets have none of these libraries installed.

# Also when run as "bash build.sh", where the #! line's flags do not apply.
set -eu

cd "$SRC/libmeshara"

if [ "${SANITIZER:-}" = memory ]; then
  # MSan must see every store: memory written by uninstrumented code
  # (Nettle's hashes and ciphers, GLib's containers, protobuf-c's
  # unpacking) reads as uninitialized, so a build against the packages
  # reports false positives on every input.  Supporting it means building
  # GLib, PCRE2, libffi, Nettle (with --disable-assembler), GMP (or
  # Nettle's mini-gmp), protobuf-c and libargon2 from source here with
  # $CC $CFLAGS and linking those instead.
  echo "build.sh: MemorySanitizer needs instrumented GLib, Nettle, GMP," \
       "protobuf-c and libargon2; this script links Ubuntu's. Not built." >&2
  exit 1
fi

./autogen.sh
# No mDNS (Avahi) and no introspection: the fuzz targets need neither.
./configure --enable-fuzzing --enable-static --disable-shared \
  --with-avahi=no --enable-introspection=no
make -j"$(nproc)" lib/wire/meshara.pb-c.h lib/wire/meshara.pb-c.c
make -j"$(nproc)" lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la \
  lib/engine/libmesh-engine.la lib/update/libmesh-update.la \
  lib/net/libmesh-net.la

# Static archives of the dependencies where the packages ship them, in one
# link group so that their order does not matter; system libraries stay
# dynamic.  Sets archives and syslibs for the pkg-config packages given.
split_libs () {
  archives=
  syslibs=
  for flag in $(pkg-config --static --libs "$@"); do
    case $flag in
      -lm | -lrt | -ldl | -lpthread | -pthread | -lc)
        syslibs="$syslibs $flag" ;;
      -l*)
        a=$($CC -print-file-name="lib${flag#-l}.a")
        if [ -f "$a" ]; then
          case " $archives " in *" $a "*) ;; *) archives="$archives $a" ;; esac
        elif [ -f "$($CC -print-file-name="lib${flag#-l}.so")" ]; then
          echo "build.sh: no static lib${flag#-l}.a, linking it dynamically" >&2
          syslibs="$syslibs $flag"
        else
          # Only the run-time library is installed (no lib*.so link, as
          # for libunistring without its -dev package): name its file.
          so=$(ldconfig -p | awk -v n="lib${flag#-l}.so." \
                 'index($1, n) == 1 { print $NF; exit }')
          [ -n "$so" ] || { echo "build.sh: no lib${flag#-l} at all" >&2; exit 1; }
          echo "build.sh: no static lib${flag#-l}.a, linking $so" >&2
          syslibs="$syslibs $so"
        fi ;;
      *)
        syslibs="$syslibs $flag" ;;
    esac
  done
}
split_libs gio-2.0 gnutls nettle hogweed libprotobuf-c libargon2
net_archives=$archives
net_syslibs=$syslibs
split_libs glib-2.0 gobject-2.0 nettle hogweed libprotobuf-c libargon2

cppflags=(-I. -Ilib -Ifuzz '-DG_LOG_DOMAIN="Meshara"' -DMESHARA_COMPILATION
          -D_GNU_SOURCE)
read -r -a depflags <<< "$(pkg-config --cflags glib-2.0 nettle libprotobuf-c)"
read -r -a gnutlsflags <<< "$(pkg-config --cflags gnutls)"

# shellcheck disable=SC2086
$CC $CFLAGS "${gnutlsflags[@]}" -c fuzz/oss-fuzz/no_system_random.c \
  -o "$WORK/no_system_random.o"
# The control protocol of the tool, for control_fuzzer (the others do not
# reference it, so it costs them nothing).
# shellcheck disable=SC2086
$CC $CFLAGS "${cppflags[@]}" "${depflags[@]}" -c tools/control.c \
  -o "$WORK/control.o"

for src in fuzz/*_fuzzer.c; do
  name=$(basename "$src" .c)
  # main.c is left out: the engine brings main().
  # shellcheck disable=SC2086
  $CC $CFLAGS "${cppflags[@]}" "${depflags[@]}" -c "$src" -o "$WORK/$name.o"
  if [ "$name" = config_fuzzer ]; then
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$WORK/$name.o" \
      -Wl,--start-group lib/net/.libs/libmesh-net.a \
      lib/engine/.libs/libmesh-engine.a lib/update/.libs/libmesh-update.a \
      lib/wire/.libs/libmesh-wire.a lib/crypto/.libs/libmesh-crypto.a \
      $net_archives -Wl,--end-group \
      $net_syslibs $LIB_FUZZING_ENGINE -o "$OUT/$name"
  else
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$WORK/$name.o" "$WORK/no_system_random.o" "$WORK/control.o" \
      -Wl,--start-group lib/engine/.libs/libmesh-engine.a \
      lib/update/.libs/libmesh-update.a \
      lib/wire/.libs/libmesh-wire.a lib/crypto/.libs/libmesh-crypto.a \
      $archives -Wl,--end-group \
      $syslibs $LIB_FUZZING_ENGINE -o "$OUT/$name"
  fi

  rm -f "$OUT/${name}_seed_corpus.zip"
  for dir in "fuzz/$name.in" "fuzz/$name.repro"; do
    if [ -d "$dir" ]; then
      zip -q -j -r "$OUT/${name}_seed_corpus.zip" "$dir"
    fi
  done
  if [ -f "fuzz/$name.dict" ]; then
    cp "fuzz/$name.dict" "$OUT/$name.dict"
  else
    cp fuzz/meshara.dict "$OUT/$name.dict"
  fi
  if [ -f "fuzz/$name.options" ]; then
    cp "fuzz/$name.options" "$OUT/"
  fi
done
