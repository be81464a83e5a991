noinst_LTLIBRARIES += lib/engine/libmesh-engine.la
lib_engine_libmesh_engine_la_SOURCES = \
	lib/engine/routes.c lib/engine/routes.h
