/* Ed25519 signatures (RFC 8032) and X25519 key agreement (RFC 7748),
 * through Nettle. */
#ifndef MESH_CRYPTO_SIGN_H
#define MESH_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define MESH_ED25519_KEY_LEN 32
#define MESH_ED25519_SIG_LEN 64
#define MESH_X25519_KEY_LEN 32

void mesh_ed25519_public_key (const uint8_t priv[MESH_ED25519_KEY_LEN],
                              uint8_t pub[MESH_ED25519_KEY_LEN]);

void mesh_ed25519_sign (const uint8_t priv[MESH_ED25519_KEY_LEN],
                        const uint8_t pub[MESH_ED25519_KEY_LEN],
                        const void *msg, size_t len,
                        uint8_t sig[MESH_ED25519_SIG_LEN]);

bool mesh_ed25519_verify (const uint8_t pub[MESH_ED25519_KEY_LEN],
                          const void *msg, size_t len,
                          const uint8_t sig[MESH_ED25519_SIG_LEN]);

void mesh_x25519_public_key (const uint8_t priv[MESH_X25519_KEY_LEN],
                             uint8_t pub[MESH_X25519_KEY_LEN]);

/* shared = X25519(priv, pub).  Returns false when the result is all zero
 * (a low-order peer key), which callers must treat as failure. */
bool mesh_x25519 (const uint8_t priv[MESH_X25519_KEY_LEN],
                  const uint8_t pub[MESH_X25519_KEY_LEN],
                  uint8_t shared[MESH_X25519_KEY_LEN]);

#endif
