# Fuzz targets.  In a normal build each is a make-check program that replays
# its corpus (<target>.in/) and reproducers (<target>.repro/) through main.c.
fuzz_targets = \
	fuzz/frame_fuzzer \
	fuzz/base_message_fuzzer

check_PROGRAMS += $(fuzz_targets)
TESTS += $(fuzz_targets)
FUZZ_LIBS = lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_SRCDIR=\"$(abs_top_srcdir)/fuzz\"

fuzz_frame_fuzzer_SOURCES = fuzz/frame_fuzzer.c fuzz/main.c fuzz/fuzz.h
fuzz_frame_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"frame_fuzzer\"
fuzz_frame_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_base_message_fuzzer_SOURCES = fuzz/base_message_fuzzer.c fuzz/main.c fuzz/fuzz.h
fuzz_base_message_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"base_message_fuzzer\"
fuzz_base_message_fuzzer_LDADD = $(FUZZ_LIBS)

EXTRA_DIST += fuzz/frame_fuzzer.in fuzz/base_message_fuzzer.in \
	fuzz/meshara.dict fuzz/gen-corpus.c fuzz/README
