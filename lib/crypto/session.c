#include "config.h"

#include "crypto/session.h"

#include <string.h>
#include <nettle/hmac.h>
#include <meshara/meshara.h>

#define WINDOW_WORDS (MESH_SESSION_WINDOW / 64)

G_STATIC_ASSERT (MESH_SESSION_INIT_LEN == 192);
G_STATIC_ASSERT (MESH_SESSION_WINDOW % 64 == 0);
G_STATIC_ASSERT (MESH_SESSION_COUNTER_LIMIT < MESH_NOISE_NONCE_RESERVED);

struct _MeshSession {
  uint8_t key[MESH_NOISE_KEY_LEN];
  uint8_t id[MESH_SESSION_ID_LEN];
  uint8_t handshake_hash[MESH_NOISE_HASH_LEN];
  MeshPublicBundle peer;
  MeshSessionLimits limits;
  gboolean initiator;
  uint64_t created_ns;
  uint64_t last_used_ns;

  /* Sending side: the next counter. */
  uint64_t send_next;

  /* Receiving side: one more than the highest accepted counter (0 while
   * none was), and one bit per counter in [recv_top - WINDOW, recv_top),
   * bit (c mod WINDOW) for counter c. */
  uint64_t recv_top;
  uint64_t window[WINDOW_WORDS];

  /* Sending side: the init, resent until acknowledged. */
  uint8_t init[MESH_SESSION_INIT_LEN];

  /* HMAC state after the acknowledgment key was set, so that a tag costs
   * two compressions instead of four. */
  struct hmac_sha256_ctx ack_mac;
};

void
mesh_session_limits_init (MeshSessionLimits *l)
{
  l->rekey_messages = MESH_SESSION_REKEY_MESSAGES;
  l->rekey_age_ns = MESH_SESSION_REKEY_AGE_NS;
  l->max_messages = MESH_SESSION_COUNTER_LIMIT;
}

gboolean
mesh_session_set_limits (MeshSession *s, const MeshSessionLimits *l, GError **error)
{
  if (l->max_messages == 0 || l->max_messages > MESH_SESSION_COUNTER_LIMIT)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "session max_messages %" G_GUINT64_FORMAT " is outside "
                   "1 .. %" G_GUINT64_FORMAT, l->max_messages,
                   (guint64) MESH_SESSION_COUNTER_LIMIT);
      return FALSE;
    }
  if (l->rekey_messages == 0 || l->rekey_messages > l->max_messages)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "session rekey_messages %" G_GUINT64_FORMAT " is outside "
                   "1 .. max_messages %" G_GUINT64_FORMAT,
                   l->rekey_messages, l->max_messages);
      return FALSE;
    }
  if (l->rekey_age_ns == 0)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "session rekey_age_ns is 0; it must be at least 1");
      return FALSE;
    }
  s->limits = *l;
  return TRUE;
}

static void
session_id (const uint8_t e[MESH_NOISE_DH_LEN], uint8_t out[MESH_SESSION_ID_LEN])
{
  uint8_t h[MESH_SHA256_LEN];

  mesh_sha256_2 (MESH_SESSION_ID_LABEL, strlen (MESH_SESSION_ID_LABEL),
                 e, MESH_NOISE_DH_LEN, h);
  memcpy (out, h, MESH_SESSION_ID_LEN);
}

static MeshSession *
session_new (const MeshNoiseTransport *t, gboolean initiator, uint64_t now_ns)
{
  uint8_t ack_key[MESH_SHA256_LEN];
  MeshSession *s = g_new0 (MeshSession, 1);

  memcpy (s->key, t->send_key, sizeof s->key);
  memcpy (s->handshake_hash, t->handshake_hash, sizeof s->handshake_hash);
  /* Tags get a key of their own, derived once, rather than the AEAD key
   * itself. */
  mesh_hmac_sha256 (s->key, sizeof s->key, MESH_SESSION_ACK_KEY_LABEL,
                    strlen (MESH_SESSION_ACK_KEY_LABEL), ack_key);
  hmac_sha256_set_key (&s->ack_mac, sizeof ack_key, ack_key);
  mesh_wipe (ack_key, sizeof ack_key);
  mesh_session_limits_init (&s->limits);
  s->initiator = initiator;
  s->created_ns = now_ns;
  s->last_used_ns = now_ns;
  return s;
}

MeshSession *
mesh_session_initiate (const MeshIdentity *self,
                       const MeshPublicBundle *peer,
                       MeshRandomFunc rnd, void *rnd_data,
                       uint64_t now_ns,
                       uint8_t init_out[MESH_SESSION_INIT_LEN],
                       GError **error)
{
  uint8_t binding[MESH_SESSION_BINDING_LEN];
  MeshNoiseTransport t;
  MeshSession *s;

  memcpy (binding, self->pub.ed_pub, MESH_ED25519_KEY_LEN);
  memcpy (binding + MESH_ED25519_KEY_LEN, self->pub.binding_sig, MESH_ED25519_SIG_LEN);
  if (!mesh_noise_x_write ((const uint8_t *) MESH_SESSION_PROLOGUE,
                           strlen (MESH_SESSION_PROLOGUE),
                           self->x_priv, self->pub.x_pub, peer->x_pub,
                           rnd, rnd_data, binding, sizeof binding,
                           init_out, &t, error))
    {
      g_prefix_error (error, "opening a session: ");
      return NULL;
    }

  s = session_new (&t, TRUE, now_ns);
  mesh_wipe (&t, sizeof t);
  s->peer = *peer;
  memcpy (s->init, init_out, MESH_SESSION_INIT_LEN);
  session_id (init_out, s->id);
  return s;
}

static gboolean
check_init_len (size_t len, GError **error)
{
  if (len < MESH_SESSION_INIT_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "session init of %zu bytes is shorter than the %d bytes "
                   "it must have", len, MESH_SESSION_INIT_LEN);
      return FALSE;
    }
  if (len > MESH_SESSION_INIT_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "session init of %zu bytes is longer than the %d bytes "
                   "it must have", len, MESH_SESSION_INIT_LEN);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_session_id_from_init (const uint8_t *init, size_t len,
                           uint8_t out[MESH_SESSION_ID_LEN], GError **error)
{
  if (!check_init_len (len, error))
    return FALSE;
  session_id (init, out);
  return TRUE;
}

MeshSession *
mesh_session_accept (const MeshIdentity *self,
                     const uint8_t *init, size_t len,
                     uint64_t now_ns, GError **error)
{
  uint8_t binding[MESH_SESSION_BINDING_LEN];
  size_t binding_len = 0;
  MeshPublicBundle sender;
  MeshNoiseTransport t;
  GError *local = NULL;
  MeshSession *s;

  if (!check_init_len (len, error))
    return NULL;
  memset (&sender, 0, sizeof sender);
  if (!mesh_noise_x_read ((const uint8_t *) MESH_SESSION_PROLOGUE,
                          strlen (MESH_SESSION_PROLOGUE),
                          self->x_priv, self->pub.x_pub, init, len,
                          sender.x_pub, binding, &binding_len, &t, error))
    {
      g_prefix_error (error, "accepting a session: ");
      return NULL;
    }
  g_assert (binding_len == MESH_SESSION_BINDING_LEN);

  /* The Noise static key proves only that the sender holds that X25519
   * key; the binding ties it to an Ed25519 identity. */
  memcpy (sender.ed_pub, binding, MESH_ED25519_KEY_LEN);
  memcpy (sender.binding_sig, binding + MESH_ED25519_KEY_LEN, MESH_ED25519_SIG_LEN);
  if (!mesh_bundle_verify (&sender, &local))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE,
                   "accepting a session: the sender's Ed25519 key did not "
                   "sign its X25519 session key: %s", local->message);
      g_error_free (local);
      mesh_wipe (&t, sizeof t);
      return NULL;
    }
  mesh_node_id (sender.ed_pub, sender.node_id);

  s = session_new (&t, FALSE, now_ns);
  mesh_wipe (&t, sizeof t);
  s->peer = sender;
  session_id (init, s->id);
  return s;
}

void
mesh_session_free (MeshSession *s)
{
  if (s == NULL)
    return;
  mesh_wipe (s, sizeof *s);
  g_free (s);
}

const uint8_t *
mesh_session_get_id (const MeshSession *s)
{
  return s->id;
}

const MeshPublicBundle *
mesh_session_get_peer (const MeshSession *s)
{
  return &s->peer;
}

const uint8_t *
mesh_session_get_init (const MeshSession *s)
{
  return s->initiator ? s->init : NULL;
}

const uint8_t *
mesh_session_get_handshake_hash (const MeshSession *s)
{
  return s->handshake_hash;
}

gboolean
mesh_session_is_initiator (const MeshSession *s)
{
  return s->initiator;
}

uint64_t
mesh_session_get_created_ns (const MeshSession *s)
{
  return s->created_ns;
}

uint64_t
mesh_session_get_last_used_ns (const MeshSession *s)
{
  return s->last_used_ns;
}

uint64_t
mesh_session_get_next_counter (const MeshSession *s)
{
  return s->send_next;
}

gboolean
mesh_session_needs_rekey (const MeshSession *s, uint64_t now_ns)
{
  if (s->send_next >= s->limits.rekey_messages)
    return TRUE;
  /* A clock that went backwards counts as no time elapsed. */
  return now_ns > s->created_ns && now_ns - s->created_ns >= s->limits.rekey_age_ns;
}

void
mesh_session_ack_tag (const MeshSession *s, const uint8_t *data, size_t len,
                      uint8_t out[MESH_SESSION_ACK_TAG_LEN])
{
  struct hmac_sha256_ctx ctx = s->ack_mac;

  hmac_sha256_update (&ctx, len, data);
  hmac_sha256_digest (&ctx, MESH_SESSION_ACK_TAG_LEN, out);
  mesh_wipe (&ctx, sizeof ctx);
}

static inline void
put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--)
    {
      p[i] = (uint8_t) v;
      v >>= 8;
    }
}

static inline uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

gboolean
mesh_session_seal (MeshSession *s, const uint8_t *pt, size_t len,
                   uint8_t *out, uint64_t *counter,
                   uint64_t now_ns, GError **error)
{
  uint64_t c = s->send_next;

  if (!s->initiator)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "cannot seal on the receiving side of a one-way "
                           "session");
      return FALSE;
    }
  if (len > MESH_SESSION_MAX_PLAINTEXT)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "session plaintext of %zu bytes exceeds the maximum of %d",
                   len, MESH_SESSION_MAX_PLAINTEXT);
      return FALSE;
    }
  if (c >= s->limits.max_messages)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "session sealed its limit of %" G_GUINT64_FORMAT
                   " messages; open a new session", s->limits.max_messages);
      return FALSE;
    }

  mesh_noise_transport_encrypt (s->key, c, pt, len, out + MESH_SESSION_COUNTER_LEN);
  put_be64 (out, c);
  s->send_next = c + 1;
  s->last_used_ns = now_ns;
  if (counter != NULL)
    *counter = c;
  return TRUE;
}

static inline gboolean
window_test (const MeshSession *s, uint64_t c)
{
  uint64_t bit = c % MESH_SESSION_WINDOW;

  return (s->window[bit / 64] >> (bit % 64)) & 1;
}

/* Clear the bits of count counters from `from` on, whose slots the window
 * is about to reuse. */
static void
window_clear (MeshSession *s, uint64_t from, uint64_t count)
{
  if (count >= MESH_SESSION_WINDOW)
    {
      memset (s->window, 0, sizeof s->window);
      return;
    }
  while (count > 0)
    {
      unsigned bit = (unsigned) (from % MESH_SESSION_WINDOW);
      unsigned off = bit % 64;
      uint64_t n = MIN ((uint64_t) (64 - off), count);
      uint64_t mask = n == 64 ? ~UINT64_C (0) : ((UINT64_C (1) << n) - 1) << off;

      s->window[bit / 64] &= ~mask;
      from += n;
      count -= n;
    }
}

static void
window_mark (MeshSession *s, uint64_t c)
{
  uint64_t bit;

  if (c >= s->recv_top)
    {
      window_clear (s, s->recv_top, c - s->recv_top + 1);
      s->recv_top = c + 1;
    }
  bit = c % MESH_SESSION_WINDOW;
  s->window[bit / 64] |= UINT64_C (1) << (bit % 64);
}

gboolean
mesh_session_open (MeshSession *s, const uint8_t *in, size_t len,
                   uint8_t *out, size_t *out_len,
                   uint64_t *counter, gboolean *duplicate,
                   uint64_t now_ns, GError **error)
{
  uint64_t c;

  if (duplicate != NULL)
    *duplicate = FALSE;
  if (s->initiator)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "cannot open on the sending side of a one-way "
                           "session");
      return FALSE;
    }
  if (len < MESH_SESSION_OVERHEAD)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "session message of %zu bytes is shorter than the minimum "
                   "of %d", len, MESH_SESSION_OVERHEAD);
      return FALSE;
    }
  if (len - MESH_SESSION_OVERHEAD > MESH_SESSION_MAX_PLAINTEXT)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "session message of %zu bytes exceeds the maximum of %d",
                   len, MESH_SESSION_MAX_PLAINTEXT + MESH_SESSION_OVERHEAD);
      return FALSE;
    }

  c = get_be64 (in);
  if (counter != NULL)
    *counter = c;
  if (c >= s->limits.max_messages)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "session message counter %" G_GUINT64_FORMAT " is beyond "
                   "the limit of %" G_GUINT64_FORMAT " messages",
                   c, s->limits.max_messages);
      return FALSE;
    }
  /* Cheap rejects before any decryption. */
  if (c < s->recv_top)
    {
      if (s->recv_top - c > MESH_SESSION_WINDOW)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_REPLAY,
                       "session message counter %" G_GUINT64_FORMAT " is older "
                       "than the replay window of %d below %" G_GUINT64_FORMAT,
                       c, MESH_SESSION_WINDOW, s->recv_top - 1);
          return FALSE;
        }
      if (window_test (s, c))
        {
          if (duplicate != NULL)
            *duplicate = TRUE;
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_REPLAY,
                       "session message counter %" G_GUINT64_FORMAT " was "
                       "already accepted", c);
          return FALSE;
        }
    }

  if (!mesh_noise_transport_decrypt (s->key, c, in + MESH_SESSION_COUNTER_LEN,
                                     len - MESH_SESSION_COUNTER_LEN, out))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT,
                   "session message with counter %" G_GUINT64_FORMAT " of "
                   "%zu bytes does not authenticate (tampered or another "
                   "session's)", c, len);
      return FALSE;
    }

  window_mark (s, c);
  s->last_used_ns = now_ns;
  *out_len = len - MESH_SESSION_OVERHEAD;
  return TRUE;
}
