# make profile: profile the standard workloads (idle node, private
# messages between two nodes, simulator) with massif, DHAT, heaptrack and
# perf; reports and flame graphs in profiling/out/<stamp>/.  Several
# minutes; make profile PROFILE_QUICK=1 for a short version.
PROFILE_QUICK = 0
EXTRA_DIST += profiling/profile.sh profiling/flamegraph.py profiling/README
profile: bench/bench-node tools/meshara
	BENCH_NODE=bench/bench-node MESHARA=tools/meshara \
	  VALGRIND="$(VALGRIND)" PROFILE_QUICK="$(PROFILE_QUICK)" \
	  $(SHELL) $(srcdir)/profiling/profile.sh
.PHONY: profile
