#include "config.h"

#include "crypto/noise.h"

#include <string.h>
#include <meshara/meshara.h>

/* CipherState */

static void
cipher_init_key (MeshNoiseCipher *cs, const uint8_t k[MESH_NOISE_KEY_LEN])
{
  memcpy (cs->k, k, MESH_NOISE_KEY_LEN);
  cs->has_key = true;
  cs->n = 0;
}

/* A handshake makes at most two calls per key, far from the reserved
 * nonce, so EncryptWithAd cannot fail here. */
static void
cipher_encrypt_with_ad (MeshNoiseCipher *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *pt, size_t len, uint8_t *out)
{
  uint8_t nonce[MESH_AEAD_NONCE_LEN];

  if (!cs->has_key)
    {
      if (out != pt)
        memmove (out, pt, len);
      return;
    }
  mesh_aead_noise_nonce (cs->n, nonce);
  mesh_aead_seal (cs->k, nonce, ad, ad_len, pt, len, out);
  cs->n++;
}

static bool
cipher_decrypt_with_ad (MeshNoiseCipher *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t len, uint8_t *out)
{
  uint8_t nonce[MESH_AEAD_NONCE_LEN];

  if (!cs->has_key)
    {
      if (out != in)
        memmove (out, in, len);
      return true;
    }
  mesh_aead_noise_nonce (cs->n, nonce);
  if (!mesh_aead_open (cs->k, nonce, ad, ad_len, in, len, out))
    return false;
  cs->n++;
  return true;
}

/* SymmetricState */

void
mesh_noise_symmetric_init (MeshNoiseSymmetric *ss, const char *protocol_name)
{
  size_t len = strlen (protocol_name);

  memset (ss, 0, sizeof *ss);
  if (len <= MESH_NOISE_HASH_LEN)
    memcpy (ss->h, protocol_name, len);
  else
    mesh_sha256 (protocol_name, len, ss->h);
  memcpy (ss->ck, ss->h, MESH_NOISE_HASH_LEN);
}

void
mesh_noise_mix_hash (MeshNoiseSymmetric *ss, const uint8_t *data, size_t len)
{
  mesh_sha256_2 (ss->h, MESH_NOISE_HASH_LEN, data, len, ss->h);
}

void
mesh_noise_mix_key (MeshNoiseSymmetric *ss, const uint8_t *ikm, size_t len)
{
  uint8_t ck[MESH_NOISE_HASH_LEN];
  uint8_t k[MESH_NOISE_HASH_LEN];

  mesh_hkdf_noise (ss->ck, ikm, len, ck, k, NULL);
  memcpy (ss->ck, ck, sizeof ck);
  /* HASHLEN equals the cipher key length: no truncation needed. */
  cipher_init_key (&ss->cs, k);
  mesh_wipe (ck, sizeof ck);
  mesh_wipe (k, sizeof k);
}

void
mesh_noise_encrypt_and_hash (MeshNoiseSymmetric *ss,
                             const uint8_t *pt, size_t len, uint8_t *out)
{
  size_t out_len = len + (ss->cs.has_key ? MESH_NOISE_TAG_LEN : 0);

  cipher_encrypt_with_ad (&ss->cs, ss->h, MESH_NOISE_HASH_LEN, pt, len, out);
  mesh_noise_mix_hash (ss, out, out_len);
}

bool
mesh_noise_decrypt_and_hash (MeshNoiseSymmetric *ss,
                             const uint8_t *in, size_t len, uint8_t *out)
{
  uint8_t next_h[MESH_NOISE_HASH_LEN];

  if (ss->cs.has_key && len < MESH_NOISE_TAG_LEN)
    return false;
  /* Hash the ciphertext before decrypting so that out may alias in. */
  mesh_sha256_2 (ss->h, MESH_NOISE_HASH_LEN, in, len, next_h);
  if (!cipher_decrypt_with_ad (&ss->cs, ss->h, MESH_NOISE_HASH_LEN, in, len, out))
    return false;
  memcpy (ss->h, next_h, MESH_NOISE_HASH_LEN);
  return true;
}

void
mesh_noise_split (MeshNoiseSymmetric *ss, MeshNoiseTransport *t)
{
  uint8_t k2[MESH_NOISE_HASH_LEN];

  mesh_hkdf_noise (ss->ck, NULL, 0, t->send_key, k2, NULL);
  memcpy (t->handshake_hash, ss->h, MESH_NOISE_HASH_LEN);
  mesh_wipe (k2, sizeof k2);
  mesh_noise_symmetric_clear (ss);
}

void
mesh_noise_symmetric_clear (MeshNoiseSymmetric *ss)
{
  mesh_wipe (ss, sizeof *ss);
}

/* Pattern X */

static void
x_start (MeshNoiseSymmetric *ss, const uint8_t *prologue, size_t prologue_len,
         const uint8_t responder_pub[MESH_NOISE_DH_LEN])
{
  mesh_noise_symmetric_init (ss, MESH_NOISE_X_PROTOCOL_NAME);
  mesh_noise_mix_hash (ss, prologue, prologue_len);
  /* pre-message: <- s */
  mesh_noise_mix_hash (ss, responder_pub, MESH_NOISE_DH_LEN);
}

static gboolean
x_mix_dh (MeshNoiseSymmetric *ss, const uint8_t priv[MESH_NOISE_DH_LEN],
          const uint8_t pub[MESH_NOISE_DH_LEN], const char *token,
          const char *whose, GError **error)
{
  uint8_t shared[MESH_NOISE_DH_LEN];
  bool ok = mesh_x25519 (priv, pub, shared);

  if (ok)
    mesh_noise_mix_key (ss, shared, sizeof shared);
  mesh_wipe (shared, sizeof shared);
  if (!ok)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                 "Noise X token %s: X25519 with the %s key gives an all-zero "
                 "result (low-order point)", token, whose);
  return ok;
}

gboolean
mesh_noise_x_write_with_ephemeral (const uint8_t *prologue, size_t prologue_len,
                                   const uint8_t s_priv[MESH_NOISE_DH_LEN],
                                   const uint8_t s_pub[MESH_NOISE_DH_LEN],
                                   const uint8_t e_priv[MESH_NOISE_DH_LEN],
                                   const uint8_t rs_pub[MESH_NOISE_DH_LEN],
                                   const uint8_t *payload, size_t payload_len,
                                   uint8_t *out,
                                   MeshNoiseTransport *t,
                                   GError **error)
{
  MeshNoiseSymmetric ss;
  uint8_t *p = out;

  if (payload_len > MESH_NOISE_X_MAX_PAYLOAD)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "Noise X payload of %zu bytes exceeds the maximum of %d",
                   payload_len, MESH_NOISE_X_MAX_PAYLOAD);
      return FALSE;
    }

  x_start (&ss, prologue, prologue_len, rs_pub);

  /* e */
  mesh_x25519_public_key (e_priv, p);
  mesh_noise_mix_hash (&ss, p, MESH_NOISE_DH_LEN);
  p += MESH_NOISE_DH_LEN;
  /* es */
  if (!x_mix_dh (&ss, e_priv, rs_pub, "es", "responder static", error))
    goto fail;
  /* s */
  mesh_noise_encrypt_and_hash (&ss, s_pub, MESH_NOISE_DH_LEN, p);
  p += MESH_NOISE_DH_LEN + MESH_NOISE_TAG_LEN;
  /* ss */
  if (!x_mix_dh (&ss, s_priv, rs_pub, "ss", "responder static", error))
    goto fail;
  mesh_noise_encrypt_and_hash (&ss, payload, payload_len, p);

  mesh_noise_split (&ss, t);
  return TRUE;

fail:
  mesh_noise_symmetric_clear (&ss);
  mesh_wipe (out, MESH_NOISE_X_OVERHEAD + payload_len);
  return FALSE;
}

gboolean
mesh_noise_x_write (const uint8_t *prologue, size_t prologue_len,
                    const uint8_t s_priv[MESH_NOISE_DH_LEN],
                    const uint8_t s_pub[MESH_NOISE_DH_LEN],
                    const uint8_t rs_pub[MESH_NOISE_DH_LEN],
                    MeshRandomFunc rnd, void *rnd_data,
                    const uint8_t *payload, size_t payload_len,
                    uint8_t *out,
                    MeshNoiseTransport *t,
                    GError **error)
{
  uint8_t e_priv[MESH_NOISE_DH_LEN];
  gboolean ok;

  rnd (rnd_data, e_priv, sizeof e_priv);
  ok = mesh_noise_x_write_with_ephemeral (prologue, prologue_len, s_priv, s_pub,
                                          e_priv, rs_pub, payload, payload_len,
                                          out, t, error);
  mesh_wipe (e_priv, sizeof e_priv);
  return ok;
}

gboolean
mesh_noise_x_read (const uint8_t *prologue, size_t prologue_len,
                   const uint8_t s_priv[MESH_NOISE_DH_LEN],
                   const uint8_t s_pub[MESH_NOISE_DH_LEN],
                   const uint8_t *msg, size_t msg_len,
                   uint8_t rs_out[MESH_NOISE_DH_LEN],
                   uint8_t *payload_out, size_t *payload_len,
                   MeshNoiseTransport *t,
                   GError **error)
{
  MeshNoiseSymmetric ss;
  uint8_t rs[MESH_NOISE_DH_LEN];
  const uint8_t *re, *enc_s, *enc_payload;
  size_t plen;

  if (msg_len < MESH_NOISE_X_OVERHEAD)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "Noise X handshake message of %zu bytes is shorter than "
                   "the minimum of %d", msg_len, MESH_NOISE_X_OVERHEAD);
      return FALSE;
    }
  if (msg_len > MESH_NOISE_MAX_MSG_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "Noise X handshake message of %zu bytes exceeds the "
                   "maximum of %d", msg_len, MESH_NOISE_MAX_MSG_LEN);
      return FALSE;
    }
  plen = msg_len - MESH_NOISE_X_OVERHEAD;
  re = msg;
  enc_s = re + MESH_NOISE_DH_LEN;
  enc_payload = enc_s + MESH_NOISE_DH_LEN + MESH_NOISE_TAG_LEN;

  x_start (&ss, prologue, prologue_len, s_pub);

  /* e */
  mesh_noise_mix_hash (&ss, re, MESH_NOISE_DH_LEN);
  /* es */
  if (!x_mix_dh (&ss, s_priv, re, "es", "initiator ephemeral", error))
    goto fail;
  /* s */
  if (!mesh_noise_decrypt_and_hash (&ss, enc_s, MESH_NOISE_DH_LEN + MESH_NOISE_TAG_LEN, rs))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT,
                           "Noise X handshake: the initiator static key does "
                           "not decrypt (wrong recipient key, different "
                           "prologue or tampered message)");
      goto fail;
    }
  /* ss */
  if (!x_mix_dh (&ss, s_priv, rs, "ss", "initiator static", error))
    goto fail;
  if (!mesh_noise_decrypt_and_hash (&ss, enc_payload, plen + MESH_NOISE_TAG_LEN,
                                    payload_out))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT,
                           "Noise X handshake: the payload does not decrypt "
                           "(tampered message)");
      goto fail;
    }

  memcpy (rs_out, rs, MESH_NOISE_DH_LEN);
  *payload_len = plen;
  mesh_noise_split (&ss, t);
  return TRUE;

fail:
  mesh_noise_symmetric_clear (&ss);
  mesh_wipe (rs, sizeof rs);
  return FALSE;
}

/* Transport */

bool
mesh_noise_transport_encrypt (const uint8_t key[MESH_NOISE_KEY_LEN], uint64_t n,
                              const uint8_t *pt, size_t len, uint8_t *out)
{
  uint8_t nonce[MESH_AEAD_NONCE_LEN];

  if (n == MESH_NOISE_NONCE_RESERVED)
    return false;
  mesh_aead_noise_nonce (n, nonce);
  mesh_aead_seal (key, nonce, NULL, 0, pt, len, out);
  return true;
}

bool
mesh_noise_transport_decrypt (const uint8_t key[MESH_NOISE_KEY_LEN], uint64_t n,
                              const uint8_t *in, size_t len, uint8_t *out)
{
  uint8_t nonce[MESH_AEAD_NONCE_LEN];

  if (n == MESH_NOISE_NONCE_RESERVED || len < MESH_NOISE_TAG_LEN)
    return false;
  mesh_aead_noise_nonce (n, nonce);
  return mesh_aead_open (key, nonce, NULL, 0, in, len, out);
}
