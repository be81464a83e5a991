noinst_LTLIBRARIES += lib/crypto/libmesh-crypto.la
lib_crypto_libmesh_crypto_la_SOURCES = \
	lib/crypto/util.c lib/crypto/util.h \
	lib/crypto/hash.c lib/crypto/hash.h \
	lib/crypto/aead.c lib/crypto/aead.h \
	lib/crypto/sign.c lib/crypto/sign.h \
	lib/crypto/identity.c lib/crypto/identity.h \
	lib/crypto/keystore.c lib/crypto/keystore.h \
	lib/crypto/noise.c lib/crypto/noise.h \
	lib/crypto/session.c lib/crypto/session.h
