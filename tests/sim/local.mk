# Simulation tests: the simulator's parts with a stand-in engine, then
# scenarios of the real engine on fixed seeds, and the "meshara sim"
# command.  The 1,000-node DHT scenario (about 25 s) runs only with
# -m slow: make check-slow-sim.
tests_sim_test_sim_SOURCES = tests/sim/test-sim.c tests/testutil.h
tests_sim_test_sim_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests
tests_sim_test_sim_LDADD = lib/sim/libmesh-sim.la lib/engine/libmesh-engine.la \
	$(TEST_LIBS)

dist_check_SCRIPTS += tests/sim/test-sim-tool.sh
TESTS += tests/sim/test-sim-tool.sh

check-slow-sim: tests/sim/test-sim
	$(AM_V_at)$(LOG_COMPILER) tests/sim/test-sim -m slow
.PHONY: check-slow-sim
