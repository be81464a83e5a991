# The meshara tool: one file per subcommand.  Built without
# MESHARA_COMPILATION, so it sees the library exactly as an application
# does: <meshara/meshara.h> and nothing else.
bin_PROGRAMS += tools/meshara
tools_meshara_SOURCES = \
	tools/meshara.c tools/meshara-tool.h \
	tools/cmd-keygen.c tools/cmd-id.c \
	tools/cmd-sim.c \
	tools/cmd-node.c tools/cmd-send.c tools/cmd-demo.c \
	tools/control.c tools/control.h tools/cmd-update.c
tools_meshara_CPPFLAGS = \
	-I$(top_srcdir)/lib -I$(top_builddir)/lib -D_GNU_SOURCE
# "meshara sim" runs the internal simulator and engine: their convenience
# libraries are linked in beside the library (their symbols are hidden in
# libmeshara.so, so nothing clashes).
tools_meshara_LDADD = lib/libmeshara.la \
	lib/sim/libmesh-sim.la lib/engine/libmesh-engine.la \
	lib/wire/libmesh-wire.la lib/crypto/libmesh-crypto.la \
	$(MESH_DEP_LIBS) $(GLIB_LIBS)
