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

# Backpressure: a private message sent into a full link send queue is
# refused (EXHAUSTED); every accepted one is delivered, the link stays.
perf_programs = tests/perf/test-send-queue
check_PROGRAMS += $(perf_programs)
TESTS += $(perf_programs)
tests_perf_test_send_queue_SOURCES = tests/perf/test-send-queue.c tests/testutil.h
tests_perf_test_send_queue_CPPFLAGS = $(TEST_CPPFLAGS)
tests_perf_test_send_queue_LDADD = lib/libmeshara.la $(MESH_DEP_LIBS)
