# Signed updates: trust store, manifests and their verification, the
# chunk cache, and the apply helper.  Above crypto/ and wire/, below the
# engine that will distribute updates.
noinst_LTLIBRARIES += lib/update/libmesh-update.la
lib_update_libmesh_update_la_SOURCES = \
	lib/update/fileutil.c lib/update/fileutil.h \
	lib/update/trust.c lib/update/trust.h \
	lib/update/package.c lib/update/package.h \
	lib/update/chunks.c lib/update/chunks.h \
	lib/update/apply.c lib/update/apply.h \
	lib/update/notice.c lib/update/notice.h \
	lib/update/query.c lib/update/query.h \
	lib/update/source.c lib/update/source.h \
	lib/update/update-api.c lib/update/update-api.h
