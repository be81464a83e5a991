#include "config.h"

#include "crypto/sign.h"
#include "crypto/util.h"

#include <nettle/eddsa.h>
#include <nettle/curve25519.h>

void
mesh_ed25519_public_key (const uint8_t priv[MESH_ED25519_KEY_LEN],
                         uint8_t pub[MESH_ED25519_KEY_LEN])
{
  ed25519_sha512_public_key (pub, priv);
}

void
mesh_ed25519_sign (const uint8_t priv[MESH_ED25519_KEY_LEN],
                   const uint8_t pub[MESH_ED25519_KEY_LEN],
                   const void *msg, size_t len,
                   uint8_t sig[MESH_ED25519_SIG_LEN])
{
  ed25519_sha512_sign (pub, priv, len, msg, sig);
}

bool
mesh_ed25519_verify (const uint8_t pub[MESH_ED25519_KEY_LEN],
                     const void *msg, size_t len,
                     const uint8_t sig[MESH_ED25519_SIG_LEN])
{
  return ed25519_sha512_verify (pub, len, msg, sig) != 0;
}

void
mesh_x25519_public_key (const uint8_t priv[MESH_X25519_KEY_LEN],
                        uint8_t pub[MESH_X25519_KEY_LEN])
{
  curve25519_mul_g (pub, priv);
}

bool
mesh_x25519 (const uint8_t priv[MESH_X25519_KEY_LEN],
             const uint8_t pub[MESH_X25519_KEY_LEN],
             uint8_t shared[MESH_X25519_KEY_LEN])
{
  curve25519_mul (shared, priv, pub);
  return !mesh_ct_is_zero (shared, MESH_X25519_KEY_LEN);
}
