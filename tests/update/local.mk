# Signed updates: trust store, manifests, chunk cache, apply and rollback.
unit_tests += tests/update/test-update
tests_update_test_update_SOURCES = tests/update/test-update.c tests/testutil.h
tests_update_test_update_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests
tests_update_test_update_LDADD = lib/update/libmesh-update.la $(TEST_LIBS)

# Update distribution in the engine, several engines on a virtual clock.
unit_tests += tests/update/test-distribute
tests_update_test_distribute_SOURCES = tests/update/test-distribute.c tests/testutil.h
tests_update_test_distribute_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests
tests_update_test_distribute_LDADD = lib/update/libmesh-update.la \
	lib/engine/libmesh-engine.la $(TEST_LIBS)

# The trust, publish-update and updates commands of the tool.
dist_check_SCRIPTS += tests/update/test-update-tool.sh
TESTS += tests/update/test-update-tool.sh

# Updates between MesharaNodes over TLS on 127.0.0.1: ten nodes, a
# resumed download, an untrusted authority.
unit_tests += tests/update/test-update-net
tests_update_test_update_net_SOURCES = tests/update/test-update-net.c tests/testutil.h
tests_update_test_update_net_CPPFLAGS = $(TEST_CPPFLAGS)
tests_update_test_update_net_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS)

# The same through the tool: "meshara node" processes, publish-update
# and updates --status over the control socket.
dist_check_SCRIPTS += tests/update/test-update-node.sh
TESTS += tests/update/test-update-node.sh
