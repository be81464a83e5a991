# The link layer: TLS 1.3 sessions over nonblocking TCP sockets on a
# GMainContext, carrying frames.
noinst_LTLIBRARIES += lib/net/libmesh-net.la
lib_net_libmesh_net_la_SOURCES = \
	lib/net/tls.c lib/net/tls.h \
	lib/net/link.c lib/net/link.h \
	lib/net/node.c \
	lib/net/config.c \
	lib/net/memlink.c lib/net/memlink.h
lib_net_libmesh_net_la_LIBADD = $(GLIB_LIBS) $(GNUTLS_LIBS)

# mDNS/DNS-SD discovery (configure --with-avahi); AVAHI_* are empty
# without it.
lib_net_libmesh_net_la_CFLAGS = $(AM_CFLAGS) $(AVAHI_CFLAGS)
lib_net_libmesh_net_la_LIBADD += $(AVAHI_LIBS)
if HAVE_AVAHI
lib_net_libmesh_net_la_SOURCES += lib/net/avahi.c lib/net/avahi.h
endif
