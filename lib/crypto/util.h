/* Small helpers shared by the crypto layer: wiping secrets, constant-time
 * comparison, and the randomness callback type. */
#ifndef MESH_CRYPTO_UTIL_H
#define MESH_CRYPTO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Fill buf with n random bytes.  Modules never read a random source
 * themselves: callers pass one of these (tests and the simulator pass a
 * seeded one, the node passes mesh_random_system). */
typedef void (*MeshRandomFunc) (void *user_data, uint8_t *buf, size_t n);

/* Key-quality randomness from GnuTLS (gnutls_rnd, GNUTLS_RND_KEY).
 * Aborts if the system generator fails: no key may be made without it. */
void mesh_random_system (void *user_data, uint8_t *buf, size_t n);

/* Overwrite a secret so the compiler cannot elide it. */
void mesh_wipe (void *p, size_t n);

/* true when a and b hold the same n bytes; time depends on n only. */
bool mesh_ct_equal (const void *a, const void *b, size_t n);

/* true when all n bytes are zero; time depends on n only. */
bool mesh_ct_is_zero (const void *p, size_t n);

#endif
