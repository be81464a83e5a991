#!/bin/sh
# Line coverage of the fuzz corpora: builds the tree with --enable-coverage
# in a scratch directory, replays every target's seeds and reproducers,
# and prints gcov line coverage of lib/wire, lib/crypto, lib/engine,
# lib/update and lib/net (of which only config.c takes fuzzer input).
#
#   fuzz/coverage.sh [WORKDIR [WORKCORPORA]]
#
# WORKDIR (default: a new directory under $TMPDIR or /tmp) is kept: the
# build, the replay logs and gcov's input stay there for a closer look
# (gcov -o WORKDIR/build/lib/wire/.libs ...).  WORKCORPORA is a fuzz/work
# directory of make fuzz: the corpora grown there (<target>/corpus/) are
# replayed too, to see what fuzzing added to the seeds.
#
# The build is a VPATH build from the source tree.  Automake refuses one
# from a tree that is itself configured, so such a tree is first copied
# (the files git knows, including new ones, and the generated Autotools
# files) into WORKDIR/src.  Only gcc and gcov are needed.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/meshara-coverage.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
grown=
if [ -n "${2:-}" ]; then
  grown=$(cd "$2" && pwd) || exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)

die () { echo "coverage.sh: $*" >&2; exit 1; }

src=$srcdir
if [ -f "$srcdir/config.status" ]; then
  if ! git -C "$srcdir" rev-parse >/dev/null 2>&1; then
    die "$srcdir is configured in place and is not a git checkout: run from a clean tree"
  fi
  src=$work/src
  rm -rf "$src"
  mkdir -p "$src"
  (
    cd "$srcdir"
    git ls-files -co --exclude-standard
    for f in configure aclocal.m4 config.h.in Makefile.in; do
      [ -f "$f" ] && echo "$f"
    done
    find build-aux m4 -type f 2>/dev/null
  ) | sort -u | while read -r f; do [ -f "$srcdir/$f" ] && echo "$f"; done \
    > "$work/files"
  # tar keeps the timestamps, so make sees the generated files as current.
  tar -C "$srcdir" -cf - -T "$work/files" | tar -C "$src" -xf -
fi
[ -x "$src/configure" ] || die "$src has no configure script: run ./autogen.sh there first"

build=$work/build
mkdir -p "$build"
cd "$build"
echo "coverage: building in $build"
"$src/configure" --enable-coverage --quiet > configure.log 2>&1 \
  || die "configure failed, see $build/configure.log"
{
  make -j"$jobs" lib/wire/meshara.pb-c.h lib/wire/meshara.pb-c.c \
    && make -j"$jobs" lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la
} > make.log 2>&1 || die "the layer libraries do not build, see $build/make.log"
# engine_fuzzer and update_chunk_fuzzer link the engine, the update
# targets lib/update, config_fuzzer lib/net.
make -j"$jobs" lib/engine/libmesh-engine.la lib/update/libmesh-update.la \
  lib/net/libmesh-net.la >> make.log 2>&1 \
  || die "lib/engine, lib/update or lib/net does not build, see $build/make.log"

targets=
for f in "$src"/fuzz/*_fuzzer.c; do
  targets="$targets fuzz/$(basename "$f" .c)"
done
# shellcheck disable=SC2086
make -j"$jobs" $targets >> make.log 2>&1 \
  || die "the fuzz targets do not build, see $build/make.log"

# Counters from earlier runs in a kept WORKDIR would add up.
find . -name '*.gcda' -exec rm -f {} +
failed=0
for t in $targets; do
  name=$(basename "$t")
  ok=true
  "./$t" > "$t.replay.log" 2>&1 || ok=false
  if [ -n "$grown" ] && [ -d "$grown/$name/corpus" ]; then
    find "$grown/$name/corpus" -type f -print0 \
      | xargs -0 -r "./$t" >> "$t.replay.log" 2>&1 || ok=false
  fi
  if $ok; then
    echo "coverage: $t: $(grep -c '^ok' "$t.replay.log") inputs replayed"
  else
    echo "coverage: $t FAILED, see $build/$t.replay.log" >&2
    failed=1
  fi
done

# gcov -n prints, per source file, "File '...'" then "Lines executed:P% of N".
echo
printf '%-32s %8s %8s %8s\n' "file" "lines" "run" "percent"
for dir in lib/wire lib/crypto lib/engine lib/update lib/net; do
  [ -d "$dir" ] || continue
  find "$dir" -name '*.gcno' | sort | while read -r gcno; do
    gcov -n -o "$(dirname "$gcno")" "$gcno" 2>/dev/null
  done | awk -v dir="$dir" '
    /^File / {
      f = $2; gsub(/\047/, "", f); sub(/.*\/lib\//, "lib/", f)
      keep = index(f, dir "/") == 1 && f ~ /\.c$/ && f !~ /\.pb-c\.c$/
      next
    }
    /^Lines executed:/ && keep {
      split($2, a, ":"); pct = a[2] + 0; n = $4 + 0
      run = int(pct * n / 100 + 0.5)
      if (!(f in total)) order[++k] = f
      total[f] = n; done[f] = run
      keep = 0
    }
    END {
      for (i = 1; i <= k; i++) {
        f = order[i]; t += total[f]; r += done[f]
        printf "%-32s %8d %8d %7.1f%%\n", f, total[f], done[f],
               total[f] ? 100 * done[f] / total[f] : 0
      }
      if (k)
        printf "%-32s %8d %8d %7.1f%%\n\n", dir " (total)", t, r, t ? 100 * r / t : 0
    }'
done
echo "coverage: generated protobuf-c code (lib/wire/meshara.pb-c.c) is left out."
exit $failed
