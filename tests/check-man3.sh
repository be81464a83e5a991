#!/bin/sh
# Every exported function has a section-3 manual page, every such page is
# installed, the one-line pages include a page that documents them, and
# all manual pages pass "mandoc -Tlint" (warnings and errors; the style
# level also looks for installed manuals and depends on the machine).
#
# The exported functions are those of the built library (nm -D) together
# with lib/libmeshara.sym, so a function added to either is caught.
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
lib="$builddir/lib/.libs/libmeshara.so"
man3="$srcdir/man/man3"
tmp=${TMPDIR:-/tmp}/mesh-man3.$$
trap 'rm -f "$tmp".*' EXIT

echo "1..4"

grep -v '^#' "$srcdir/lib/libmeshara.sym" | sed '/^$/d' > "$tmp.syms"
if [ -f "$lib" ] && command -v nm > /dev/null 2>&1; then
  nm -D --defined-only "$lib" | awk '{print $3}' | sed '/^$/d' >> "$tmp.syms"
fi
sort -u "$tmp.syms" -o "$tmp.syms"

# 1: a page per exported function.
missing=
for sym in $(cat "$tmp.syms"); do
  [ -f "$man3/$sym.3" ] || missing="$missing $sym"
done
if [ -z "$missing" ]; then
  echo "ok 1 - every exported function ($(wc -l < "$tmp.syms")) has a page in man/man3"
else
  echo "not ok 1 - exported functions without a section-3 page:"
  for sym in $missing; do
    echo "#   $sym: document it in the page of its area and add"
    echo "#     man/man3/$sym.3 holding '.so man3/<area>.3' to MAN3_LINKS in man/local.mk"
  done
fi

# 2: every page is listed in man/local.mk, so it is installed and shipped.
unlisted=
for page in "$man3"/*.3; do
  [ -f "$page" ] || continue
  name=man/man3/$(basename "$page")
  grep -q "$name\\>" "$srcdir/man/local.mk" || unlisted="$unlisted $name"
done
if [ -z "$unlisted" ]; then
  echo "ok 2 - every section-3 page is listed in man/local.mk"
else
  echo "not ok 2 - pages missing from MAN3_PAGES or MAN3_LINKS in man/local.mk:"
  for name in $unlisted; do echo "#   $name"; done
fi

# 3: each function's page, directly or through .so, names the function
# in NAME (.Nm) and gives its prototype in SYNOPSIS (.Fn or .Fo).
bad=
for sym in $(cat "$tmp.syms"); do
  page="$man3/$sym.3"
  [ -f "$page" ] || continue
  target=$page
  if grep -q '^\.so ' "$page"; then
    if [ "$(wc -l < "$page")" -ne 1 ]; then
      bad="$bad $sym:a-.so-page-must-be-one-line"
      continue
    fi
    target="$srcdir/man/$(sed -n 's/^\.so //p' "$page")"
    if [ ! -f "$target" ]; then
      bad="$bad $sym:.so-target-$(basename "$target")-missing"
      continue
    fi
  fi
  sed -n '/^\.Sh NAME/,/^\.Sh /p' "$target" | grep -q "^\\.Nm $sym\\( ,\\)\\{0,1\\}\$" \
    || bad="$bad $sym:not-in-NAME-of-$(basename "$target")"
  sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$target" | grep -q "^\\.F[no] $sym\\>" \
    || bad="$bad $sym:no-prototype-in-SYNOPSIS-of-$(basename "$target")"
done
if [ -z "$bad" ]; then
  echo "ok 3 - every function is named in NAME and SYNOPSIS of its page"
else
  echo "not ok 3 - pages that do not document their function:"
  for b in $bad; do echo "#   $b"; done
fi

# 4: mandoc -Tlint over all pages prints nothing.  The one-line .so pages
# draw mandoc's note that .so is fragile, which is their design (the
# Debian packaging turns them into symbolic links); that note alone is
# accepted, and the page they include is checked with them.
if ! command -v mandoc > /dev/null 2>&1; then
  echo "ok 4 # SKIP mandoc is not installed, the pages were not linted"
  exit 0
fi
(
  cd "$srcdir/man" || exit 1
  for page in *.[1-8] man3/*.3; do
    [ -f "$page" ] || continue
    mandoc -Tlint -W warning "$page" 2>&1
  done
) | grep -v ': WARNING: \.so is fragile, better use ln(1): so man3/' > "$tmp.lint"
if [ ! -s "$tmp.lint" ]; then
  echo "ok 4 - mandoc -Tlint -W warning finds nothing in man/"
else
  echo "not ok 4 - mandoc -Tlint -W warning complains:"
  sed 's/^/#   /' "$tmp.lint"
fi
