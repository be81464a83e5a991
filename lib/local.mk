# libmeshara.la: the installed library, made of the layer convenience
# libraries.  Tests, fuzzers and benches link the layers directly.
include lib/engine/local.mk
include lib/crypto/local.mk
include lib/wire/local.mk
include lib/net/local.mk
include lib/sim/local.mk
include lib/update/local.mk

lib_LTLIBRARIES += lib/libmeshara.la
lib_libmeshara_la_SOURCES = lib/version.c
lib_libmeshara_la_LIBADD = \
	lib/net/libmesh-net.la \
	lib/engine/libmesh-engine.la \
	lib/update/libmesh-update.la \
	lib/wire/libmesh-wire.la \
	lib/crypto/libmesh-crypto.la \
	$(MESH_DEP_LIBS)
# Only meshara_* symbols leave the library (they also carry MESHARA_API).
lib_libmeshara_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(MESHARA_LT_VERSION) \
	-export-symbols-regex '^meshara_' -no-undefined

mesharaincludedir = $(includedir)/meshara
mesharainclude_HEADERS = \
	lib/meshara/meshara.h \
	lib/meshara/meshara-version.h \
	lib/meshara/meshara-error.h \
	lib/meshara/meshara-identity.h \
	lib/meshara/meshara-node.h \
	lib/meshara/meshara-update.h
include lib/gir.mk
