# The meshara tool: one file per subcommand.  Built without
# MESHARA_COMPILATION, so it sees the library exactly as an application
# does: <meshara/meshara.h> and nothing else.
bin_PROGRAMS += tools/meshara
tools_meshara_SOURCES = \
	tools/meshara.c tools/meshara-tool.h \
	tools/cmd-keygen.c tools/cmd-id.c
tools_meshara_CPPFLAGS = \
	-I$(top_srcdir)/lib -I$(top_builddir)/lib -D_GNU_SOURCE
tools_meshara_LDADD = lib/libmeshara.la $(GLIB_LIBS)
