/* A minimal Noise Protocol Framework core (revision 34) for the one-way
 * pattern X, Noise_X_25519_ChaChaPoly_SHA256:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss
 *
 * One handshake message from the initiator, after which only the
 * initiator->responder transport key exists.  Transport messages take an
 * explicit 64-bit counter as nonce instead of the implicit one of a Noise
 * CipherState, so that a receiver can accept them out of order behind its
 * own replay window. */
#ifndef MESH_CRYPTO_NOISE_H
#define MESH_CRYPTO_NOISE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <glib.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "crypto/util.h"

#define MESH_NOISE_X_PROTOCOL_NAME "Noise_X_25519_ChaChaPoly_SHA256"

#define MESH_NOISE_DH_LEN MESH_X25519_KEY_LEN     /* 32 */
#define MESH_NOISE_HASH_LEN MESH_SHA256_LEN       /* 32 */
#define MESH_NOISE_KEY_LEN MESH_AEAD_KEY_LEN      /* 32 */
#define MESH_NOISE_TAG_LEN MESH_AEAD_TAG_LEN      /* 16 */

/* Largest Noise message, handshake or transport (spec section 3). */
#define MESH_NOISE_MAX_MSG_LEN 65535

/* Handshake message of pattern X: e (32) || encrypted s (32 + 16) ||
 * encrypted payload (payload + 16).  This is the size beyond the payload. */
#define MESH_NOISE_X_OVERHEAD \
  (MESH_NOISE_DH_LEN + MESH_NOISE_DH_LEN + MESH_NOISE_TAG_LEN + MESH_NOISE_TAG_LEN)
#define MESH_NOISE_X_MAX_PAYLOAD (MESH_NOISE_MAX_MSG_LEN - MESH_NOISE_X_OVERHEAD)

/* Noise reserves the all-ones nonce: no transport message may use it. */
#define MESH_NOISE_NONCE_RESERVED UINT64_MAX

/* CipherState. */
typedef struct {
  uint8_t k[MESH_NOISE_KEY_LEN];
  bool has_key;
  uint64_t n;
} MeshNoiseCipher;

/* SymmetricState. */
typedef struct {
  MeshNoiseCipher cs;
  uint8_t ck[MESH_NOISE_HASH_LEN];
  uint8_t h[MESH_NOISE_HASH_LEN];
} MeshNoiseSymmetric;

/* What a completed X handshake leaves to both sides. */
typedef struct {
  /* First Split() key: initiator -> responder.  The second, for the
   * unused reverse direction, is never kept. */
  uint8_t send_key[MESH_NOISE_KEY_LEN];
  /* GetHandshakeHash(): identifies this handshake (channel binding). */
  uint8_t handshake_hash[MESH_NOISE_HASH_LEN];
} MeshNoiseTransport;

/* The SymmetricState operations, exposed for tests that build
 * deliberately malformed handshakes. */
void mesh_noise_symmetric_init (MeshNoiseSymmetric *ss, const char *protocol_name);
void mesh_noise_mix_hash (MeshNoiseSymmetric *ss, const uint8_t *data, size_t len);
void mesh_noise_mix_key (MeshNoiseSymmetric *ss, const uint8_t *ikm, size_t len);
/* out receives len bytes, plus MESH_NOISE_TAG_LEN once a key is set. */
void mesh_noise_encrypt_and_hash (MeshNoiseSymmetric *ss,
                                  const uint8_t *pt, size_t len, uint8_t *out);
/* in holds len bytes (ciphertext and tag once a key is set).  Returns false
 * on a bad tag; out then holds nothing useful. */
bool mesh_noise_decrypt_and_hash (MeshNoiseSymmetric *ss,
                                  const uint8_t *in, size_t len, uint8_t *out);
/* Fills t from the state and wipes the state. */
void mesh_noise_split (MeshNoiseSymmetric *ss, MeshNoiseTransport *t);
void mesh_noise_symmetric_clear (MeshNoiseSymmetric *ss);

/* Initiator: write the single handshake message of pattern X.
 *
 * s_priv and s_pub are the initiator's static X25519 key pair (the public
 * half is passed in so that no handshake recomputes it), e_priv the ephemeral
 * private key (fresh for every handshake: reusing one breaks secrecy; the
 * explicit form exists for test vectors), rs_pub the responder's static
 * public key.  out must hold payload_len + MESH_NOISE_X_OVERHEAD bytes and
 * receives the message; t receives the transport key and handshake hash.
 * Fails when payload_len exceeds MESH_NOISE_X_MAX_PAYLOAD or a DH result is
 * all zero (a low-order rs_pub). */
gboolean mesh_noise_x_write_with_ephemeral (const uint8_t *prologue, size_t prologue_len,
                                            const uint8_t s_priv[MESH_NOISE_DH_LEN],
                                            const uint8_t s_pub[MESH_NOISE_DH_LEN],
                                            const uint8_t e_priv[MESH_NOISE_DH_LEN],
                                            const uint8_t rs_pub[MESH_NOISE_DH_LEN],
                                            const uint8_t *payload, size_t payload_len,
                                            uint8_t *out,
                                            MeshNoiseTransport *t,
                                            GError **error);

/* As above, with the ephemeral key drawn from rnd. */
gboolean mesh_noise_x_write (const uint8_t *prologue, size_t prologue_len,
                             const uint8_t s_priv[MESH_NOISE_DH_LEN],
                             const uint8_t s_pub[MESH_NOISE_DH_LEN],
                             const uint8_t rs_pub[MESH_NOISE_DH_LEN],
                             MeshRandomFunc rnd, void *rnd_data,
                             const uint8_t *payload, size_t payload_len,
                             uint8_t *out,
                             MeshNoiseTransport *t,
                             GError **error);

/* Responder: read the handshake message msg of msg_len bytes.
 *
 * s_priv and s_pub are the responder's static key pair.  On success rs_out
 * receives the initiator's static public key, payload_out (room for
 * msg_len - MESH_NOISE_X_OVERHEAD bytes) the payload, *payload_len its size,
 * and t the transport key and handshake hash.  Errors: TRUNCATED or
 * TOO_LARGE for a message length outside the Noise bounds, INVALID for a
 * low-order key, DECRYPT when a tag does not verify (wrong recipient,
 * different prologue, tampering).  On failure rs_out is untouched and
 * payload_out holds no plaintext. */
gboolean mesh_noise_x_read (const uint8_t *prologue, size_t prologue_len,
                            const uint8_t s_priv[MESH_NOISE_DH_LEN],
                            const uint8_t s_pub[MESH_NOISE_DH_LEN],
                            const uint8_t *msg, size_t msg_len,
                            uint8_t rs_out[MESH_NOISE_DH_LEN],
                            uint8_t *payload_out, size_t *payload_len,
                            MeshNoiseTransport *t,
                            GError **error);

/* Transport encryption with an explicit counter n as the nonce and empty
 * associated data.  out receives len + MESH_NOISE_TAG_LEN bytes and may
 * equal pt.  Returns false only for the reserved nonce.  The caller must
 * never use the same n twice with one key. */
bool mesh_noise_transport_encrypt (const uint8_t key[MESH_NOISE_KEY_LEN], uint64_t n,
                                   const uint8_t *pt, size_t len, uint8_t *out);

/* in holds len bytes: ciphertext then tag.  On success writes
 * len - MESH_NOISE_TAG_LEN bytes to out (which may equal in) and returns
 * true; false for a short input, the reserved nonce or a bad tag. */
bool mesh_noise_transport_decrypt (const uint8_t key[MESH_NOISE_KEY_LEN], uint64_t n,
                                   const uint8_t *in, size_t len, uint8_t *out);

#endif
