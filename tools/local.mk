bin_PROGRAMS += tools/meshara
tools_meshara_SOURCES = \
	tools/meshara.c tools/meshara-tool.h \
	tools/cmd-keygen.c tools/cmd-id.c
tools_meshara_LDADD = lib/libmeshara.la $(GLIB_LIBS)
