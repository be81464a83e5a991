/* End-to-end sessions: a one-way Noise X handshake from sender to
 * recipient, then ChaCha20-Poly1305 messages with an explicit counter.
 *
 * A pure module: bytes in, bytes out, no I/O; randomness comes through a
 * callback and time as a monotonic now_ns from the caller.  A session is
 * one-way: the initiator only seals, the responder only opens (both
 * directions under one key would reuse nonces).  Two nodes that talk both
 * ways hold one session in each direction.
 *
 * Session init (MESH_SESSION_INIT_LEN = 192 bytes), the Noise X handshake
 * message with prologue MESH_SESSION_PROLOGUE:
 *
 *   offset  len  field
 *        0   32  e: the initiator's ephemeral X25519 public key, in clear
 *       32   48  s: the initiator's static X25519 public key, encrypted
 *                (32) and its tag (16)
 *       80  112  payload, encrypted (96) and its tag (16):
 *                  ed_pub (32)  the initiator's Ed25519 public key
 *                  sig    (64)  its binding signature over
 *                               MESH_BINDING_CONTEXT || ed_pub || s
 *
 * Only e is visible to relays; the sender's identity is inside (sealed
 * sender).  The session ID (MESH_SESSION_ID_LEN = 16 bytes) is the first
 * 16 bytes of SHA-256 (MESH_SESSION_ID_LABEL || e), so a recipient finds
 * an existing session from a repeated init with one hash and no DH.
 *
 * Transport message (MESH_SESSION_OVERHEAD = 24 bytes more than the
 * plaintext):
 *
 *   offset  len  field
 *        0    8  counter, big-endian; 0 for the first message
 *        8    n  ChaCha20-Poly1305 ciphertext of the n-byte plaintext
 *      8+n   16  tag
 *
 * The key is the first Split() key of the handshake; the nonce is the
 * Noise layout of the counter (4 zero bytes, counter little-endian); the
 * associated data is empty.  Counters at or beyond the hard limit are
 * refused on both sides.  The receiver keeps a window of the last
 * MESH_SESSION_WINDOW counters below the highest accepted one: each is
 * accepted once, in any order; older ones are refused. */
#ifndef MESH_CRYPTO_SESSION_H
#define MESH_CRYPTO_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <glib.h>

#include "crypto/identity.h"
#include "crypto/noise.h"
#include "crypto/util.h"

#define MESH_SESSION_PROLOGUE "meshara/1 session"
#define MESH_SESSION_ID_LABEL "meshara/1 session id"

#define MESH_SESSION_ID_LEN 16
#define MESH_SESSION_BINDING_LEN (MESH_ED25519_KEY_LEN + MESH_ED25519_SIG_LEN)  /* 96 */
#define MESH_SESSION_INIT_LEN (MESH_NOISE_X_OVERHEAD + MESH_SESSION_BINDING_LEN) /* 192 */

#define MESH_SESSION_COUNTER_LEN 8
#define MESH_SESSION_OVERHEAD (MESH_SESSION_COUNTER_LEN + MESH_NOISE_TAG_LEN)    /* 24 */
/* Largest plaintext of one transport message (16 MiB). */
#define MESH_SESSION_MAX_PLAINTEXT (16 * 1024 * 1024)

/* Counters remembered behind the highest accepted one. */
#define MESH_SESSION_WINDOW 1024

/* Default and largest hard limit: far below the reserved Noise nonce, and
 * out of reach of any real sender. */
#define MESH_SESSION_COUNTER_LIMIT (UINT64_C (1) << 60)
#define MESH_SESSION_REKEY_MESSAGES (UINT64_C (1) << 20)
#define MESH_SESSION_REKEY_AGE_NS (UINT64_C (3600) * 1000000000)

typedef struct {
  /* Soft: mesh_session_needs_rekey() turns true once this many messages
   * were sealed ... */
  uint64_t rekey_messages;
  /* ... or the session is this old. */
  uint64_t rekey_age_ns;
  /* Hard: counters 0 .. max_messages - 1 are usable; seal and open refuse
   * the rest.  At most MESH_SESSION_COUNTER_LIMIT. */
  uint64_t max_messages;
} MeshSessionLimits;

typedef struct _MeshSession MeshSession;

/* Fill l with the defaults: 2^20 messages, 1 hour, 2^60 counters. */
void mesh_session_limits_init (MeshSessionLimits *l);

/* Replace the limits of s (new sessions start with the defaults).
 * INVALID_ARGUMENT when a limit is zero, max_messages exceeds
 * MESH_SESSION_COUNTER_LIMIT or rekey_messages exceeds max_messages. */
gboolean mesh_session_set_limits (MeshSession *s, const MeshSessionLimits *l,
                                  GError **error);

/* Open a session from self to peer (transfer none for both; peer must have
 * passed mesh_bundle_parse() or mesh_bundle_verify()).  The ephemeral key
 * comes from rnd.  init_out receives the MESH_SESSION_INIT_LEN bytes to send
 * with messages until the peer acknowledges; mesh_session_get_init() keeps
 * a copy.  Fails (INVALID) only for a low-order peer X25519 key.
 * Returns: (transfer full) the sending side of the session, or NULL. */
MeshSession *mesh_session_initiate (const MeshIdentity *self,
                                    const MeshPublicBundle *peer,
                                    MeshRandomFunc rnd, void *rnd_data,
                                    uint64_t now_ns,
                                    uint8_t init_out[MESH_SESSION_INIT_LEN],
                                    GError **error);

/* The session ID an init belongs to, from a hash of its ephemeral key
 * only: no DH, no verification, so a repeated init is matched to its
 * session cheaply.  This authenticates nothing: only mesh_session_accept()
 * does.  INVALID or TRUNCATED when len is not MESH_SESSION_INIT_LEN. */
gboolean mesh_session_id_from_init (const uint8_t *init, size_t len,
                                    uint8_t out[MESH_SESSION_ID_LEN],
                                    GError **error);

/* Accept an init addressed to self (transfer none): the Noise read, then
 * the sender's identity binding.  Errors: TRUNCATED (short) or INVALID
 * (long) for a wrong length; DECRYPT for an init made for another
 * recipient or tampered with; INVALID for a low-order key; BAD_SIGNATURE
 * when the carried Ed25519 key did not sign the sender's X25519 key.
 * Costs two X25519 and one Ed25519 verification: look the ID up first.
 * Returns: (transfer full) the receiving side of the session, or NULL. */
MeshSession *mesh_session_accept (const MeshIdentity *self,
                                  const uint8_t *init, size_t len,
                                  uint64_t now_ns, GError **error);

/* Wipe the keys and free s.  NULL is ignored. */
void mesh_session_free (MeshSession *s);

/* Accessors; the returned memory belongs to s (transfer none). */
const uint8_t *mesh_session_get_id (const MeshSession *s);
/* The other end: the recipient for an initiator, the verified sender
 * (with its node ID) for a responder. */
const MeshPublicBundle *mesh_session_get_peer (const MeshSession *s);
/* The init bytes, MESH_SESSION_INIT_LEN long; NULL on the responder. */
const uint8_t *mesh_session_get_init (const MeshSession *s);
/* The Noise handshake hash (MESH_NOISE_HASH_LEN bytes). */
const uint8_t *mesh_session_get_handshake_hash (const MeshSession *s);
gboolean mesh_session_is_initiator (const MeshSession *s);
uint64_t mesh_session_get_created_ns (const MeshSession *s);
/* now_ns of the last successful seal or open (creation until then). */
uint64_t mesh_session_get_last_used_ns (const MeshSession *s);
/* The counter the next seal will use, so also the number sealed. */
uint64_t mesh_session_get_next_counter (const MeshSession *s);

/* true when the sender should open a new session: rekey_messages sealed,
 * or rekey_age_ns elapsed since creation.  The old session stays valid up
 * to the hard limit so that messages in flight still open.  On the
 * receiving side only the age applies. */
gboolean mesh_session_needs_rekey (const MeshSession *s, uint64_t now_ns);

/* Acknowledgment tag: the first MESH_SESSION_ACK_TAG_LEN bytes of
 * HMAC-SHA256 over data, under a key both ends of s derive from the
 * session key (HMAC-SHA256 of the session key over
 * MESH_SESSION_ACK_KEY_LABEL).  Either side may compute it, so the
 * recipient tags an acknowledgment and the initiator checks it: only the
 * real recipient can confirm delivery, while relays, who never hold the
 * key, cannot forge one.  No allocation. */
#define MESH_SESSION_ACK_TAG_LEN 16
#define MESH_SESSION_ACK_KEY_LABEL "meshara/1 ack key"
void mesh_session_ack_tag (const MeshSession *s, const uint8_t *data, size_t len,
                           uint8_t out[MESH_SESSION_ACK_TAG_LEN]);

/* Encrypt len bytes of pt into out, which must hold len +
 * MESH_SESSION_OVERHEAD bytes (pt may be out + MESH_SESSION_COUNTER_LEN for
 * in-place use).  *counter (may be NULL) receives the counter used.
 * Errors: INVALID_ARGUMENT on a receiving session, TOO_LARGE above
 * MESH_SESSION_MAX_PLAINTEXT, EXHAUSTED at the hard limit (open a new
 * session).  No allocation, no public-key operation. */
gboolean mesh_session_seal (MeshSession *s, const uint8_t *pt, size_t len,
                            uint8_t *out, uint64_t *counter,
                            uint64_t now_ns, GError **error);

/* Authenticate and decrypt one transport message of len bytes into out
 * (room for len - MESH_SESSION_OVERHEAD bytes; out may be
 * in + MESH_SESSION_COUNTER_LEN).  *out_len receives the plaintext size.
 *
 * Once the header was read, *counter (may be NULL) holds the message's
 * counter, also on failure.  The replay window is checked before
 * decrypting, and a counter is marked only after its tag verified.
 * Errors:
 * - INVALID_ARGUMENT on a sending session;
 * - TRUNCATED below MESH_SESSION_OVERHEAD, TOO_LARGE above
 *   MESH_SESSION_MAX_PLAINTEXT + MESH_SESSION_OVERHEAD;
 * - EXHAUSTED for a counter at or beyond the hard limit;
 * - REPLAY for a counter already accepted, with *duplicate (may be NULL)
 *   set to TRUE: the message was delivered before, the caller may
 *   acknowledge it again but must not deliver it.  This is decided before
 *   any decryption, so the bytes themselves are not authenticated: rate
 *   limit such acknowledgements;
 * - REPLAY with *duplicate FALSE for a counter older than the window: it
 *   may or may not have been delivered, so it must not be acknowledged;
 * - DECRYPT when the tag does not verify (the window is unchanged).
 * *duplicate is FALSE in every case but the first REPLAY one. */
gboolean mesh_session_open (MeshSession *s, const uint8_t *in, size_t len,
                            uint8_t *out, size_t *out_len,
                            uint64_t *counter, gboolean *duplicate,
                            uint64_t now_ns, GError **error);

#endif
