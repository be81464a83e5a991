# Fuzz targets.  In a normal build each is a make-check program that replays
# its corpus (<target>.in/) and reproducers (<target>.repro/) through main.c.
#
# Fuzzing builds (see fuzz/README): configure --enable-fuzzing with a
# fuzzing compiler, then
#   make fuzz/frame_fuzzer FUZZ_ENGINE=-fsanitize=fuzzer     (libFuzzer)
# FUZZ_ENGINE is added to the link and defines MESH_FUZZ_ENGINE, so that
# main.c steps aside for the engine's main().  AFL++ needs no variable:
# afl-clang-fast makes main.c its persistent-mode loop.
fuzz_targets = \
	fuzz/frame_fuzzer \
	fuzz/base_message_fuzzer

check_PROGRAMS += $(fuzz_targets)
TESTS += $(fuzz_targets)
FUZZ_LIBS = lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)
FUZZ_ENGINE =
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_SRCDIR=\"$(abs_top_srcdir)/fuzz\" \
	$(if $(FUZZ_ENGINE),-DMESH_FUZZ_ENGINE)
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_ENGINE)

fuzz_frame_fuzzer_SOURCES = fuzz/frame_fuzzer.c fuzz/main.c fuzz/fuzz.h
fuzz_frame_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"frame_fuzzer\"
fuzz_frame_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_frame_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_base_message_fuzzer_SOURCES = fuzz/base_message_fuzzer.c fuzz/main.c fuzz/fuzz.h
fuzz_base_message_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"base_message_fuzzer\"
fuzz_base_message_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_base_message_fuzzer_LDADD = $(FUZZ_LIBS)

# The seed corpus generator, built on demand: make fuzz-corpus.
EXTRA_PROGRAMS = fuzz/gen-corpus
fuzz_gen_corpus_SOURCES = fuzz/gen-corpus.c
fuzz_gen_corpus_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_SRCDIR=\"$(abs_top_srcdir)/fuzz\"
fuzz_gen_corpus_LDADD = $(FUZZ_LIBS)
CLEANFILES += fuzz/gen-corpus$(EXEEXT)

fuzz-corpus: fuzz/gen-corpus$(EXEEXT)
	$(AM_V_GEN)fuzz/gen-corpus$(EXEEXT) $(srcdir)/fuzz
.PHONY: fuzz-corpus

EXTRA_DIST += fuzz/frame_fuzzer.in fuzz/base_message_fuzzer.in \
	fuzz/meshara.dict fuzz/README
