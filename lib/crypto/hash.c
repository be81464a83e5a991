#include "config.h"

#include "crypto/hash.h"
#include "crypto/util.h"

#include <nettle/sha2.h>
#include <nettle/hmac.h>
#include <string.h>

void
mesh_sha256 (const void *data, size_t len, uint8_t out[MESH_SHA256_LEN])
{
  struct sha256_ctx ctx;
  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  sha256_digest (&ctx, MESH_SHA256_LEN, out);
}

void
mesh_sha256_2 (const void *a, size_t alen, const void *b, size_t blen,
               uint8_t out[MESH_SHA256_LEN])
{
  struct sha256_ctx ctx;
  sha256_init (&ctx);
  sha256_update (&ctx, alen, a);
  sha256_update (&ctx, blen, b);
  sha256_digest (&ctx, MESH_SHA256_LEN, out);
}

void
mesh_hmac_sha256 (const uint8_t *key, size_t key_len,
                  const void *data, size_t len, uint8_t out[MESH_SHA256_LEN])
{
  struct hmac_sha256_ctx ctx;
  hmac_sha256_set_key (&ctx, key_len, key);
  hmac_sha256_update (&ctx, len, data);
  hmac_sha256_digest (&ctx, MESH_SHA256_LEN, out);
  mesh_wipe (&ctx, sizeof ctx);
}

void
mesh_hkdf_noise (const uint8_t ck[MESH_SHA256_LEN],
                 const uint8_t *ikm, size_t ikm_len,
                 uint8_t out1[MESH_SHA256_LEN],
                 uint8_t out2[MESH_SHA256_LEN],
                 uint8_t out3[MESH_SHA256_LEN])
{
  uint8_t temp[MESH_SHA256_LEN];
  uint8_t buf[MESH_SHA256_LEN + 1];

  mesh_hmac_sha256 (ck, MESH_SHA256_LEN, ikm, ikm_len, temp);
  buf[0] = 0x01;
  mesh_hmac_sha256 (temp, sizeof temp, buf, 1, out1);
  memcpy (buf, out1, MESH_SHA256_LEN);
  buf[MESH_SHA256_LEN] = 0x02;
  mesh_hmac_sha256 (temp, sizeof temp, buf, sizeof buf, out2);
  if (out3 != NULL)
    {
      memcpy (buf, out2, MESH_SHA256_LEN);
      buf[MESH_SHA256_LEN] = 0x03;
      mesh_hmac_sha256 (temp, sizeof temp, buf, sizeof buf, out3);
    }
  mesh_wipe (temp, sizeof temp);
  mesh_wipe (buf, sizeof buf);
}
