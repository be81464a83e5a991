# Fuzz targets.  In a normal build each is a make-check program that replays
# its corpus (<target>.in/) and reproducers (<target>.repro/) through main.c.
#
# Fuzzing builds (see fuzz/README): configure --enable-fuzzing with a
# fuzzing compiler, then
#   make fuzz/frame_fuzzer FUZZ_ENGINE=-fsanitize=fuzzer     (libFuzzer)
#   make fuzz FUZZ_ENGINE=-fsanitize=fuzzer [FUZZ_SECONDS=60] (run them all)
# FUZZ_ENGINE is added to the link and defines MESH_FUZZ_ENGINE, so that
# main.c steps aside for the engine's main().  AFL++ needs no variable:
# afl-clang-fast makes main.c its persistent-mode loop.
fuzz_targets = \
	fuzz/frame_fuzzer \
	fuzz/base_message_fuzzer \
	fuzz/wire_payload_fuzzer \
	fuzz/contact_record_fuzzer \
	fuzz/bundle_fuzzer \
	fuzz/keystore_fuzzer \
	fuzz/session_fuzzer \
	fuzz/engine_fuzzer \
	fuzz/control_fuzzer \
	fuzz/config_fuzzer \
	fuzz/update_package_fuzzer \
	fuzz/update_notice_fuzzer \
	fuzz/update_chunk_fuzzer

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
fuzz_wire_payload_fuzzer_SOURCES = fuzz/wire_payload_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_wire_payload_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"wire_payload_fuzzer\"
fuzz_wire_payload_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_wire_payload_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_contact_record_fuzzer_SOURCES = fuzz/contact_record_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_contact_record_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"contact_record_fuzzer\"
fuzz_contact_record_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_contact_record_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_bundle_fuzzer_SOURCES = fuzz/bundle_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_bundle_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"bundle_fuzzer\"
fuzz_bundle_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_bundle_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_keystore_fuzzer_SOURCES = fuzz/keystore_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_keystore_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"keystore_fuzzer\"
fuzz_keystore_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_keystore_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_session_fuzzer_SOURCES = fuzz/session_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_session_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"session_fuzzer\"
fuzz_session_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_session_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_engine_fuzzer_SOURCES = fuzz/engine_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_engine_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"engine_fuzzer\"
fuzz_engine_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_engine_fuzzer_LDADD = lib/engine/libmesh-engine.la $(FUZZ_LIBS)
fuzz_control_fuzzer_SOURCES = fuzz/control_fuzzer.c fuzz/main.c fuzz/fuzz.h \
	fuzz/fuzz-input.h tools/control.c tools/control.h
fuzz_control_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"control_fuzzer\"
fuzz_control_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_control_fuzzer_LDADD = $(FUZZ_LIBS)
fuzz_config_fuzzer_SOURCES = fuzz/config_fuzzer.c fuzz/main.c fuzz/fuzz.h fuzz/fuzz-input.h
fuzz_config_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"config_fuzzer\"
fuzz_config_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_config_fuzzer_LDADD = lib/net/libmesh-net.la lib/engine/libmesh-engine.la \
	lib/update/libmesh-update.la $(FUZZ_LIBS)
fuzz_update_package_fuzzer_SOURCES = fuzz/update_package_fuzzer.c fuzz/main.c \
	fuzz/fuzz.h fuzz/fuzz-input.h fuzz/fuzz-update.h
fuzz_update_package_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"update_package_fuzzer\"
fuzz_update_package_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_update_package_fuzzer_LDADD = lib/update/libmesh-update.la $(FUZZ_LIBS)
fuzz_update_notice_fuzzer_SOURCES = fuzz/update_notice_fuzzer.c fuzz/main.c \
	fuzz/fuzz.h fuzz/fuzz-input.h fuzz/fuzz-update.h
fuzz_update_notice_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"update_notice_fuzzer\"
fuzz_update_notice_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_update_notice_fuzzer_LDADD = lib/update/libmesh-update.la $(FUZZ_LIBS)
fuzz_update_chunk_fuzzer_SOURCES = fuzz/update_chunk_fuzzer.c fuzz/main.c \
	fuzz/fuzz.h fuzz/fuzz-input.h fuzz/fuzz-update.h
fuzz_update_chunk_fuzzer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET=\"update_chunk_fuzzer\"
fuzz_update_chunk_fuzzer_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_update_chunk_fuzzer_LDADD = lib/engine/libmesh-engine.la \
	lib/update/libmesh-update.la $(FUZZ_LIBS)

# The seed corpus generator, built on demand: make fuzz-corpus.
EXTRA_PROGRAMS = fuzz/gen-corpus
fuzz_gen_corpus_SOURCES = fuzz/gen-corpus.c fuzz/fuzz-update.h
fuzz_gen_corpus_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_SRCDIR=\"$(abs_top_srcdir)/fuzz\"
fuzz_gen_corpus_LDADD = lib/update/libmesh-update.la $(FUZZ_LIBS)
CLEANFILES += fuzz/gen-corpus$(EXEEXT)

fuzz-corpus: fuzz/gen-corpus$(EXEEXT)
	$(AM_V_GEN)fuzz/gen-corpus$(EXEEXT) $(srcdir)/fuzz
.PHONY: fuzz-corpus

# make fuzz: every target (or FUZZ_TARGETS) for FUZZ_SECONDS each, in a
# tree built for fuzzing, relinked here with FUZZ_ENGINE (see fuzz/README).
# main.c is recompiled too: with the engine it must not define main().
FUZZ_SECONDS = 60
FUZZ_TARGETS = $(fuzz_targets)
fuzz:
	$(AM_V_at)if test -z '$(FUZZ_ENGINE)'; then \
	  echo "make fuzz: give the engine, e.g. make fuzz FUZZ_ENGINE=-fsanitize=fuzzer," >&2; \
	  echo "in a tree configured for fuzzing with clang (see fuzz/README)" >&2; \
	  exit 1; fi
	$(AM_V_at)rm -f $(FUZZ_TARGETS) $(FUZZ_TARGETS:=-main.$(OBJEXT))
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) $(FUZZ_TARGETS) FUZZ_ENGINE='$(FUZZ_ENGINE)'
	$(AM_V_at)$(SHELL) $(srcdir)/fuzz/run-fuzzers.sh $(FUZZ_SECONDS) $(srcdir)/fuzz $(FUZZ_TARGETS)
.PHONY: fuzz

EXTRA_DIST += fuzz/frame_fuzzer.in fuzz/base_message_fuzzer.in \
	fuzz/wire_payload_fuzzer.in fuzz/contact_record_fuzzer.in \
	fuzz/bundle_fuzzer.in fuzz/keystore_fuzzer.in fuzz/session_fuzzer.in fuzz/engine_fuzzer.in \
	fuzz/control_fuzzer.in fuzz/config_fuzzer.in fuzz/config_fuzzer.repro fuzz/config_fuzzer.dict \
	fuzz/update_package_fuzzer.in fuzz/update_notice_fuzzer.in \
	fuzz/update_chunk_fuzzer.in fuzz/update_chunk_fuzzer.repro \
	fuzz/update_chunk_fuzzer.options \
	fuzz/keystore_fuzzer.options fuzz/bundle_fuzzer.options \
	fuzz/session_fuzzer.options fuzz/contact_record_fuzzer.options \
	fuzz/engine_fuzzer.options fuzz/engine_fuzzer.dict fuzz/control_fuzzer.dict \
	fuzz/keystore_fuzzer.dict fuzz/bundle_fuzzer.dict fuzz/session_fuzzer.dict \
	fuzz/meshara.dict fuzz/README fuzz/run-fuzzers.sh fuzz/run-afl.sh fuzz/coverage.sh \
	fuzz/oss-fuzz
