# Memory budget tests: massif peak heap of an idle node and of two nodes
# exchanging private messages, DHAT allocations per private message, each
# against the budget stated in the script.  Skipped without valgrind.
perf_tests = \
	tests/perf/test-heap-idle \
	tests/perf/test-heap-pair \
	tests/perf/test-allocs-per-message
dist_check_SCRIPTS += $(perf_tests)
EXTRA_DIST += tests/perf/budget-lib.sh
TESTS += $(perf_tests)
