# GObject introspection data for libmeshara: Meshara-1.0.gir (installed to
# girdir) and Meshara-1.0.typelib (installed to typelibdir).
-include $(INTROSPECTION_MAKEFILE)
INTROSPECTION_GIRS =
INTROSPECTION_SCANNER_ARGS = --warn-all --add-include-path=$(srcdir)/lib
INTROSPECTION_COMPILER_ARGS = --includedir=$(srcdir)/lib

if HAVE_INTROSPECTION
lib/Meshara-1.0.gir: lib/libmeshara.la
lib_Meshara_1_0_gir_NAMESPACE = Meshara
lib_Meshara_1_0_gir_VERSION = 1.0
lib_Meshara_1_0_gir_LIBS = lib/libmeshara.la
lib_Meshara_1_0_gir_INCLUDES = GObject-2.0 Gio-2.0
lib_Meshara_1_0_gir_CFLAGS = -I$(top_srcdir)/lib -I$(top_builddir)/lib \
	-DMESHARA_COMPILATION $(GLIB_CFLAGS)
lib_Meshara_1_0_gir_SCANNERFLAGS = \
	--identifier-prefix=Meshara --symbol-prefix=meshara \
	--c-include=meshara/meshara.h --pkg-export=meshara
lib_Meshara_1_0_gir_FILES = \
	$(mesharainclude_HEADERS) \
	lib/version.c \
	lib/net/node.c \
	lib/net/config.c \
	lib/crypto/identity.c \
	lib/update/update-api.c
INTROSPECTION_GIRS += lib/Meshara-1.0.gir

girdir = $(datadir)/gir-1.0
gir_DATA = $(INTROSPECTION_GIRS)

typelibdir = $(libdir)/girepository-1.0
typelib_DATA = $(INTROSPECTION_GIRS:.gir=.typelib)

CLEANFILES += $(gir_DATA) $(typelib_DATA)
endif
