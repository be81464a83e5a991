noinst_LTLIBRARIES += lib/engine/libmesh-engine.la
lib_engine_libmesh_engine_la_SOURCES = \
	lib/engine/routes.c lib/engine/routes.h lib/engine/siphash.h \
	lib/engine/seen.c lib/engine/seen.h \
	lib/engine/gossip.c lib/engine/gossip.h \
	lib/engine/dht.c lib/engine/dht.h \
	lib/engine/engine.c lib/engine/engine.h \
	lib/engine/link.c lib/engine/link.h \
	lib/engine/msg.c lib/engine/msg.h \
	lib/engine/routing.c lib/engine/routing.h \
	lib/engine/session.c lib/engine/session.h \
	lib/engine/updist.c lib/engine/updist.h
