# Micro benchmarks of the foundation layers (issue-level figures; the full
# suite with history and regression checks builds on this).
noinst_PROGRAMS += bench/bench-core
bench_bench_core_SOURCES = bench/bench-core.c bench/stats.c bench/stats.h
bench_bench_core_LDADD = lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS) -lm

# make bench: every benchmark, 3 runs of the timed ones (median kept),
# the table with goals and targets, bench/results/latest.json, and a new
# file in bench/history/.  make bench-quick: one short run (< 3 min).
# make bench-dashboard: bench/results/dashboard.html from the history.
bench_run_deps = bench/bench-core bench/bench-routes bench/bench-engine \
	bench/bench-tls bench/bench-node tools/meshara
bench: $(bench_run_deps)
	$(SHELL) $(srcdir)/bench/bench-run.sh full
bench-quick: $(bench_run_deps)
	$(SHELL) $(srcdir)/bench/bench-run.sh quick
bench-dashboard:
	$(AM_V_at)$(MKDIR_P) bench/results
	python3 $(srcdir)/bench/bench-report.py dashboard $(srcdir)/bench/history bench/results/dashboard.html
.PHONY: bench bench-quick bench-dashboard
EXTRA_DIST += bench/bench-run.sh bench/bench-report.py bench/history

noinst_PROGRAMS += bench/bench-routes
bench_bench_routes_SOURCES = bench/bench-routes.c bench/stats.c bench/stats.h
bench_bench_routes_LDADD = lib/engine/libmesh-engine.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS) -lm

# TLS links on loopback: handshake latency, one-link bulk throughput.
noinst_PROGRAMS += bench/bench-tls
bench_bench_tls_SOURCES = bench/bench-tls.c bench/stats.c bench/stats.h
bench_bench_tls_LDADD = lib/net/libmesh-net.la lib/wire/libmesh-wire.la \
	lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS) -lm

noinst_PROGRAMS += bench/bench-engine
bench_bench_engine_SOURCES = bench/bench-engine.c bench/stats.c bench/stats.h
bench_bench_engine_LDADD = lib/engine/libmesh-engine.la lib/wire/libmesh-wire.la \
	lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS) -lm

# Fixed, deterministic workloads whose instruction counts (callgrind) are
# compared with bench/baseline/instructions.json by bench-check.sh.
noinst_PROGRAMS += bench/bench-workloads
bench_bench_workloads_SOURCES = bench/bench-workloads.c
bench_bench_workloads_LDADD = lib/sim/libmesh-sim.la lib/engine/libmesh-engine.la \
	lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS) -lm
EXTRA_DIST += bench/bench-check.sh bench/baseline/instructions.json bench/README

# make bench-check: fail when a workload's instruction count rose more
# than THRESHOLD percent (default 3) over the baseline; make bench-baseline
# records the counts of this build as the new baseline.  Another
# baseline file: make bench-check BENCH_BASELINE_FILE=PATH.
BENCH_BASELINE_FILE = $(srcdir)/bench/baseline/instructions.json
BENCH_CHECK_ENV = CC="$(CC)" CFLAGS="$(CFLAGS)" LIBTOOL="$(LIBTOOL)" \
	VALGRIND="$(VALGRIND)" BENCH_WORKLOADS=bench/bench-workloads \
	BENCH_BASELINE="$(BENCH_BASELINE_FILE)"
bench-check: bench/bench-workloads
	$(BENCH_CHECK_ENV) $(SHELL) $(srcdir)/bench/bench-check.sh
bench-baseline: bench/bench-workloads
	$(BENCH_CHECK_ENV) $(SHELL) $(srcdir)/bench/bench-check.sh --update
.PHONY: bench-check bench-baseline

# Whole-library workloads over the public API (profiling, memory budgets)
# and the process benchmarks (net).
noinst_PROGRAMS += bench/bench-node
bench_bench_node_SOURCES = bench/bench-node.c bench/stats.c bench/stats.h
bench_bench_node_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS) -lm
