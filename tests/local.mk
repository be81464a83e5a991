# Unit tests: one GTest program per module, TAP output.
TEST_CPPFLAGS = $(AM_CPPFLAGS) -DTEST_SRCDIR=\"$(abs_top_srcdir)/tests\"
TEST_LIBS = lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)

unit_tests = \
	tests/test-engine \
	tests/test-private \
	tests/test-crypto \
	tests/test-identity \
	tests/test-keystore \
	tests/test-noise \
	tests/test-session \
	tests/test-wire \
	tests/test-frame \
	tests/test-routes \
	tests/test-seen \
	tests/test-gossip \
	tests/test-dht \
	tests/net/test-link \
	tests/net/test-node \
	tests/net/test-config \
	tests/net/test-inprocess \
	tests/net/test-node-hostile \
	tests/sim/test-sim

check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)

tests_test_crypto_SOURCES = tests/test-crypto.c tests/testutil.h
tests_test_crypto_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_crypto_LDADD = $(TEST_LIBS)
tests_test_identity_SOURCES = tests/test-identity.c tests/testutil.h
tests_test_identity_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_identity_LDADD = lib/libmeshara.la $(TEST_LIBS)
tests_test_keystore_SOURCES = tests/test-keystore.c tests/testutil.h
tests_test_keystore_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_keystore_LDADD = $(TEST_LIBS)
tests_test_noise_SOURCES = tests/test-noise.c tests/testutil.h
tests_test_noise_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_noise_LDADD = $(TEST_LIBS)
tests_test_session_SOURCES = tests/test-session.c tests/testutil.h
tests_test_session_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_session_LDADD = $(TEST_LIBS)
tests_test_wire_SOURCES = tests/test-wire.c tests/testutil.h
tests_test_wire_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_wire_LDADD = $(TEST_LIBS)
tests_test_frame_SOURCES = tests/test-frame.c tests/testutil.h
tests_test_frame_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_frame_LDADD = $(TEST_LIBS)

# Script tests: the exported symbol list and the command-line tool.
dist_check_SCRIPTS += tests/check-symbols.sh tests/test-tool.sh tests/run-test.sh
TESTS += tests/check-symbols.sh tests/test-tool.sh
EXTRA_DIST += lib/libmeshara.sym

# make check-valgrind: the unit tests and corpus replays under memcheck.
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-origins=yes --num-callers=30 \
	--suppressions=$(abs_top_srcdir)/tests/valgrind.supp
EXTRA_DIST += tests/valgrind.supp
check-valgrind:
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) check \
	  TESTS="$(unit_tests) $(fuzz_targets)" \
	  MESHARA_TEST_WRAPPER="$(VALGRIND) $(VALGRIND_FLAGS)"
.PHONY: check-valgrind

tests_test_routes_SOURCES = tests/test-routes.c tests/testutil.h
tests_test_routes_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_routes_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)

tests_test_seen_SOURCES = tests/test-seen.c tests/testutil.h
tests_test_seen_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_seen_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)
tests_test_gossip_SOURCES = tests/test-gossip.c tests/testutil.h
tests_test_gossip_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gossip_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)
tests_test_dht_SOURCES = tests/test-dht.c tests/testutil.h
tests_test_dht_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_dht_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)

tests_test_engine_SOURCES = tests/test-engine.c tests/testutil.h
tests_test_engine_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_engine_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)
tests_test_private_SOURCES = tests/test-private.c tests/testutil.h
tests_test_private_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_private_LDADD = lib/engine/libmesh-engine.la $(TEST_LIBS)

include tests/sim/local.mk
include tests/update/local.mk

# TLS links over loopback, both ends on one main context.
tests_net_test_link_SOURCES = tests/net/test-link.c tests/testutil.h
tests_net_test_link_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_link_LDADD = lib/net/libmesh-net.la lib/wire/libmesh-wire.la \
	lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)

# "meshara demo" over TLS on 127.0.0.1.
dist_check_SCRIPTS += tests/test-demo.sh
TESTS += tests/test-demo.sh

# MesharaNode: several nodes over TLS on 127.0.0.1 in one process.
tests_net_test_node_SOURCES = tests/net/test-node.c tests/testutil.h
tests_net_test_node_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_node_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS)

# MesharaNode configuration file, profiles, storage path and reconnection.
tests_net_test_config_SOURCES = tests/net/test-config.c tests/testutil.h
tests_net_test_config_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_config_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS)

# Three "meshara node" processes and "meshara send"; SIGKILL of the relay.
dist_check_SCRIPTS += tests/net/test-multiprocess.sh
TESTS += tests/net/test-multiprocess.sh

# Nodes of one process linked without sockets ("mem:NAME").
tests_net_test_inprocess_SOURCES = tests/net/test-inprocess.c tests/testutil.h
tests_net_test_inprocess_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_inprocess_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS)

# A node and a client that passes TLS but sends no HELLO (link layer).
tests_net_test_node_hostile_SOURCES = tests/net/test-node-hostile.c tests/testutil.h
tests_net_test_node_hostile_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_node_hostile_LDADD = lib/net/libmesh-net.la lib/update/libmesh-update.la \
	lib/engine/libmesh-engine.la lib/wire/libmesh-wire.la \
	lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)

# mDNS/DNS-SD discovery through the Avahi daemon (configure --with-avahi).
if HAVE_AVAHI
unit_tests += tests/net/test-avahi
endif
tests_net_test_avahi_SOURCES = tests/net/test-avahi.c tests/testutil.h
tests_net_test_avahi_CPPFLAGS = $(TEST_CPPFLAGS)
tests_net_test_avahi_CFLAGS = $(AM_CFLAGS) $(AVAHI_CFLAGS)
tests_net_test_avahi_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS) $(AVAHI_LIBS)
EXTRA_DIST += tests/net/test-avahi.c

# make installcheck (and distcheck): a program outside the tree builds
# against the installed library with pkg-config alone and runs.
EXTRA_DIST += tests/consumer/consumer.c tests/consumer/run-consumer.sh
installcheck-local:
	$(AM_V_at)if test -n "$(DESTDIR)"; then \
	  $(SHELL) $(abs_top_srcdir)/tests/consumer/run-consumer.sh "$(DESTDIR)"; \
	else \
	  PKG_CONFIG_PATH="$(pkgconfigdir)$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH}" \
	  LD_LIBRARY_PATH="$(libdir)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" \
	  $(SHELL) $(abs_top_srcdir)/tests/consumer/run-consumer.sh; \
	fi
.PHONY: installcheck-local

# make check-abi: the built library against the committed ABI baseline
# (libabigail); make abi-baseline records the current ABI on purpose.
EXTRA_DIST += abi/libmeshara.abi tests/check-abi.sh
check-abi: lib/libmeshara.la
	$(AM_V_at)top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(abs_top_srcdir)/tests/check-abi.sh
abi-baseline: lib/libmeshara.la
	$(AM_V_GEN)abidw --no-corpus-path --headers-dir $(abs_top_srcdir)/lib/meshara \
	  --drop-private-types lib/.libs/libmeshara.so > $(abs_top_srcdir)/abi/libmeshara.abi
.PHONY: check-abi abi-baseline

# GObject introspection: two nodes through gi.repository.Meshara.
TESTS += tests/gi/test-gi.sh
EXTRA_DIST += tests/gi/test-gi.sh tests/gi/test-gi.py

# Section-3 manual pages: one for every exported function, all lint-clean.
dist_check_SCRIPTS += tests/check-man3.sh
TESTS += tests/check-man3.sh

# The Debian symbols file follows lib/libmeshara.sym.
dist_check_SCRIPTS += tests/check-debian-symbols.sh
TESTS += tests/check-debian-symbols.sh
