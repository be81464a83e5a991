#include "config.h"

#include "crypto/aead.h"
#include "crypto/util.h"

#include <string.h>
#include <nettle/chacha-poly1305.h>

void
mesh_aead_seal (const uint8_t key[MESH_AEAD_KEY_LEN],
                const uint8_t nonce[MESH_AEAD_NONCE_LEN],
                const uint8_t *ad, size_t ad_len,
                const uint8_t *pt, size_t len, uint8_t *out)
{
  struct chacha_poly1305_ctx ctx;
  chacha_poly1305_set_key (&ctx, key);
  chacha_poly1305_set_nonce (&ctx, nonce);
  if (ad_len)
    chacha_poly1305_update (&ctx, ad_len, ad);
  chacha_poly1305_encrypt (&ctx, len, out, pt);
  chacha_poly1305_digest (&ctx, MESH_AEAD_TAG_LEN, out + len);
  mesh_wipe (&ctx, sizeof ctx);
}

bool
mesh_aead_open (const uint8_t key[MESH_AEAD_KEY_LEN],
                const uint8_t nonce[MESH_AEAD_NONCE_LEN],
                const uint8_t *ad, size_t ad_len,
                const uint8_t *in, size_t ct_len, uint8_t *out)
{
  struct chacha_poly1305_ctx ctx;
  uint8_t tag[MESH_AEAD_TAG_LEN];
  size_t len;
  bool ok;

  if (ct_len < MESH_AEAD_TAG_LEN)
    return false;
  len = ct_len - MESH_AEAD_TAG_LEN;
  /* Keep the received tag: with out == in the decryption overwrites
   * nothing past len, but copy it anyway to stay alias-safe. */
  memcpy (tag, in + len, MESH_AEAD_TAG_LEN);
  chacha_poly1305_set_key (&ctx, key);
  chacha_poly1305_set_nonce (&ctx, nonce);
  if (ad_len)
    chacha_poly1305_update (&ctx, ad_len, ad);
  chacha_poly1305_decrypt (&ctx, len, out, in);
  {
    uint8_t calc[MESH_AEAD_TAG_LEN];
    chacha_poly1305_digest (&ctx, MESH_AEAD_TAG_LEN, calc);
    ok = mesh_ct_equal (calc, tag, MESH_AEAD_TAG_LEN);
  }
  mesh_wipe (&ctx, sizeof ctx);
  if (!ok)
    mesh_wipe (out, len);
  return ok;
}

void
mesh_aead_noise_nonce (uint64_t n, uint8_t nonce[MESH_AEAD_NONCE_LEN])
{
  memset (nonce, 0, 4);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t) (n >> (8 * i));
}
