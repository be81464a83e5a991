# Micro benchmarks of the foundation layers (issue-level figures; the full
# suite with history and regression checks builds on this).
noinst_PROGRAMS += bench/bench-core
bench_bench_core_SOURCES = bench/bench-core.c
bench_bench_core_LDADD = lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la $(MESH_DEP_LIBS)
