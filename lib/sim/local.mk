# The network simulator: drives many engines on a virtual clock.  Not part
# of libmeshara.la; linked into the meshara tool, the simulation tests and
# benches.
noinst_LTLIBRARIES += lib/sim/libmesh-sim.la
lib_sim_libmesh_sim_la_SOURCES = \
	lib/sim/sim.c lib/sim/sim.h \
	lib/sim/netmodel.c lib/sim/netmodel.h \
	lib/sim/scenario.c lib/sim/scenario.h
# The update scenarios build, sign and check updates.
lib_sim_libmesh_sim_la_LIBADD = lib/update/libmesh-update.la
