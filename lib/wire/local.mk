# meshara.proto is compiled by protoc-c at build time (into the build tree,
# so VPATH builds and distcheck work from a tarball without generated files).
noinst_LTLIBRARIES += lib/wire/libmesh-wire.la
lib_wire_libmesh_wire_la_SOURCES = \
	lib/wire/codec.c lib/wire/codec.h \
	lib/wire/frame.c lib/wire/frame.h
nodist_lib_wire_libmesh_wire_la_SOURCES = \
	lib/wire/meshara.pb-c.c lib/wire/meshara.pb-c.h
# protoc-c output must not fail on our warning flags.
lib_wire_libmesh_wire_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes -Wno-shadow
EXTRA_DIST += lib/wire/meshara.proto
BUILT_SOURCES += lib/wire/meshara.pb-c.c lib/wire/meshara.pb-c.h
CLEANFILES += lib/wire/meshara.pb-c.c lib/wire/meshara.pb-c.h

lib/wire/meshara.pb-c.h: lib/wire/meshara.pb-c.c
lib/wire/meshara.pb-c.c: $(srcdir)/lib/wire/meshara.proto
	$(AM_V_GEN)$(MKDIR_P) lib/wire && \
	$(PROTOC_C) --proto_path=$(srcdir)/lib/wire --c_out=lib/wire $(srcdir)/lib/wire/meshara.proto
