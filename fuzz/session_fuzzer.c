/* The receiving side of end-to-end sessions (crypto/session.h): the Noise
 * X init through mesh_session_accept(), then transport messages through
 * mesh_session_open(), against a fixed responder identity.
 *
 * Input: byte 0 picks the mode (value % 3).
 *
 *   0  raw init: the rest of the input is an init, given to
 *      mesh_session_id_from_init() and mesh_session_accept().
 *
 *   1  built init: the harness writes the handshake with the Noise layer
 *      from parts the input gives, so that inputs get past the AEAD tags
 *      of the init and reach the checks behind them:
 *        e_priv (32)  ephemeral private key
 *        f (1)        bit 0: s_pub is X25519(s_priv), else read below
 *                     bit 1: the binding comes from an identity made of
 *                            ed_priv and s_priv, else ed_pub and sig are
 *                            read raw
 *        s_priv (32), [s_pub (32)], ed_priv (32) | ed_pub (32) sig (64)
 *      then operations (below) on the session when it is accepted.
 *
 *   2  fixed session: a valid init from a fixed sender, accepted, then
 *      operations.
 *
 * Operations, one byte each (low 3 bits) and their arguments:
 *   0  raw: n (1), n bytes: opened as a transport message
 *   1  sealed at counter top + d: d (1), n (1), n plaintext bytes
 *   2  sealed at counter top - 1 - d: d (2), n (1), plaintext
 *   3  sealed at counter c: c (8), n (1), plaintext
 *   4  sealed at top + d, then one bit flipped: d (1), n (1), plaintext,
 *      bit (2)
 *   5  limits: sel (1), v (2), rekey (1), age in ms (1); max_messages is
 *      v, or the hard limit (sel 255) or one above it (sel 254)
 *   6  clock: a (1), b (1): now moves by a * 10^(b % 16) ns (decimal, so
 *      that it meets the millisecond ages of op 5 exactly), backwards
 *      when bit 7 of the operation byte is set
 *   7  large: n (2); bit 7 set: a message n bytes beyond the largest
 *      allowed; clear: sealed at top with n generated plaintext bytes
 * "top" is one more than the highest counter accepted so far.
 *
 * "Sealed" messages are encrypted by the harness itself under the key the
 * Noise layer gave it, so valid tags reach everything behind the tag check
 * (replay window, counters, plaintext) with no change to the library and
 * no weaker build: a FUZZING_BUILD_MODE bypass of the tag check is not
 * needed.
 *
 * Checked besides memory safety: every open against a model of the rules
 * in session.h (length bounds, hard limit, a window of MESH_SESSION_WINDOW
 * counters each accepted once, tag), including the reported counter, the
 * duplicate flag, the plaintext and last_used; limits and needs_rekey
 * against their documented rules; accept against the binding signature
 * the harness checks itself. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "crypto/session.h"
#include "crypto/noise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

#define START_NS G_GUINT64_CONSTANT (1000000000000000)

/* Room for the largest refused length the input can ask for; never
 * touched, since open must refuse it before reading. */
#define BIG_LEN (MESH_SESSION_MAX_PLAINTEXT + MESH_SESSION_OVERHEAD + 1 + 65535)
static uint8_t big[BIG_LEN];

static struct {
  gboolean ready;
  MeshIdentity responder, sender;
  uint8_t init[MESH_SESSION_INIT_LEN];
  MeshNoiseTransport t;
} fixed;

typedef struct {
  MeshSession *s;
  const uint8_t *key;
  GHashTable *accepted;   /* counters, as guint64 keys */
  uint64_t top;
  uint64_t max;
  uint64_t age;
  uint64_t created;
  uint64_t last_used;
  uint64_t now;
} Model;

static void
put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--)
    {
      p[i] = (uint8_t) v;
      v >>= 8;
    }
}

static uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* A copy of exactly n bytes, so that a read past them shows. */
static uint8_t *
copy_exact (const uint8_t *p, size_t n)
{
  uint8_t *c = g_malloc (n ? n : 1);

  memcpy (c, p, n);
  return c;
}

static void
write_init (const uint8_t s_priv[32], const uint8_t s_pub[32],
            const uint8_t e_priv[32], const uint8_t ed_pub[32],
            const uint8_t sig[64], uint8_t init[MESH_SESSION_INIT_LEN],
            MeshNoiseTransport *t)
{
  uint8_t binding[MESH_SESSION_BINDING_LEN];
  GError *error = NULL;

  memcpy (binding, ed_pub, MESH_ED25519_KEY_LEN);
  memcpy (binding + MESH_ED25519_KEY_LEN, sig, MESH_ED25519_SIG_LEN);
  if (!mesh_noise_x_write_with_ephemeral ((const uint8_t *) MESH_SESSION_PROLOGUE,
                                          strlen (MESH_SESSION_PROLOGUE),
                                          s_priv, s_pub, e_priv,
                                          fixed.responder.pub.x_pub,
                                          binding, sizeof binding, init, t,
                                          &error))
    {
      /* Only a low-order responder key makes the writer fail. */
      fprintf (stderr, "writing an init failed: %s\n", error->message);
      abort ();
    }
}

static void
setup (void)
{
  uint8_t seed[MESH_SEED_LEN], e_priv[32];

  if (fixed.ready)
    return;
  memset (seed, 'b', sizeof seed);
  mesh_identity_from_seed (&fixed.responder, seed);
  memset (seed, 'a', sizeof seed);
  mesh_identity_from_seed (&fixed.sender, seed);
  memset (e_priv, 'e', sizeof e_priv);
  write_init (fixed.sender.x_priv, fixed.sender.pub.x_pub, e_priv,
              fixed.sender.pub.ed_pub, fixed.sender.pub.binding_sig,
              fixed.init, &fixed.t);
  fixed.ready = TRUE;
}

/* What every accepted session must look like. */
static void
check_accepted (MeshSession *s, const uint8_t *init, uint64_t now)
{
  uint8_t id[MESH_SESSION_ID_LEN], node_id[MESH_NODE_ID_LEN];
  uint8_t out[MESH_SESSION_OVERHEAD];
  const MeshPublicBundle *peer = mesh_session_get_peer (s);
  GError *error = NULL;

  if (!mesh_session_id_from_init (init, MESH_SESSION_INIT_LEN, id, NULL)
      || memcmp (id, mesh_session_get_id (s), sizeof id) != 0)
    {
      fprintf (stderr, "session ID differs from the ID of its init\n");
      abort ();
    }
  if (mesh_session_is_initiator (s) || mesh_session_get_init (s) != NULL
      || mesh_session_get_created_ns (s) != now
      || mesh_session_get_last_used_ns (s) != now
      || mesh_session_needs_rekey (s, now))
    {
      fprintf (stderr, "accepted session in a wrong initial state\n");
      abort ();
    }
  if (!mesh_bundle_verify (peer, &error))
    {
      fprintf (stderr, "accepted sender does not verify: %s\n", error->message);
      abort ();
    }
  mesh_node_id (peer->ed_pub, node_id);
  if (memcmp (node_id, peer->node_id, sizeof node_id) != 0)
    {
      fprintf (stderr, "accepted sender has a wrong node ID\n");
      abort ();
    }
  if (mesh_session_seal (s, out, 0, out, NULL, now, &error))
    {
      fprintf (stderr, "the receiving side sealed a message\n");
      abort ();
    }
  mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID_ARGUMENT, "seal on receiver");
  g_error_free (error);
}

static void
fail_open (const char *why, uint64_t c, size_t len, const GError *error)
{
  fprintf (stderr, "open of %zu bytes, counter %" G_GUINT64_FORMAT ": %s (%s)\n",
           len, c, why, error ? error->message : "opened");
  abort ();
}

/* One open, against the model. */
static void
check_open (Model *m, const uint8_t *msg, size_t len)
{
  GError *error = NULL;
  int expect = 0;              /* error code, 0 for success */
  gboolean expect_dup = FALSE;
  uint64_t c = 0, got_c = G_MAXUINT64 - 1;
  gboolean dup = TRUE, ok, header = FALSE;
  uint8_t *ref = NULL, *out;
  size_t pt_len = len >= MESH_SESSION_OVERHEAD ? len - MESH_SESSION_OVERHEAD : 0;
  size_t out_len = 0;

  if (len < MESH_SESSION_OVERHEAD)
    expect = MESHARA_ERROR_TRUNCATED;
  else if (pt_len > MESH_SESSION_MAX_PLAINTEXT)
    expect = MESHARA_ERROR_TOO_LARGE;
  else
    {
      header = TRUE;
      c = get_be64 (msg);
      if (c >= m->max)
        expect = MESHARA_ERROR_EXHAUSTED;
      else if (c < m->top && m->top - c > MESH_SESSION_WINDOW)
        expect = MESHARA_ERROR_REPLAY;
      else if (c < m->top && g_hash_table_contains (m->accepted, &c))
        {
          expect = MESHARA_ERROR_REPLAY;
          expect_dup = TRUE;
        }
      else
        {
          ref = g_malloc (pt_len + 1);
          if (!mesh_noise_transport_decrypt (m->key, c, msg + MESH_SESSION_COUNTER_LEN,
                                             len - MESH_SESSION_COUNTER_LEN, ref))
            expect = MESHARA_ERROR_DECRYPT;
        }
    }

  out = g_malloc (expect == MESHARA_ERROR_TOO_LARGE ? 1 : pt_len + 1);
  ok = mesh_session_open (m->s, msg, len, out, &out_len, &got_c, &dup, m->now,
                          &error);
  if (ok != (expect == 0))
    fail_open (ok ? "opened, expected a failure" : "failed, expected it to open",
               c, len, error);
  if (!ok && error->code != expect)
    fail_open ("unexpected error code", c, len, error);
  if (!ok)
    mesh_fuzz_check_error (error, "mesh_session_open");
  if (header && got_c != c)
    fail_open ("reported another counter", c, len, error);
  if (dup != expect_dup)
    fail_open ("wrong duplicate flag", c, len, error);

  if (ok)
    {
      guint64 *key = g_new (guint64, 1);

      if (out_len != pt_len || memcmp (out, ref, pt_len) != 0)
        fail_open ("wrong plaintext", c, len, NULL);
      *key = c;
      g_hash_table_add (m->accepted, key);
      if (c >= m->top)
        m->top = c + 1;
      m->last_used = m->now;
    }
  if (mesh_session_get_last_used_ns (m->s) != m->last_used)
    fail_open ("last_used is wrong", c, len, error);

  g_clear_error (&error);
  g_free (out);
  g_free (ref);
}

/* Encrypt pt at counter c as the sender would. */
static uint8_t *
seal (const Model *m, uint64_t c, const uint8_t *pt, size_t n, size_t *len)
{
  uint8_t *msg = g_malloc0 (n + MESH_SESSION_OVERHEAD);

  put_be64 (msg, c);
  /* The reserved nonce cannot be sealed; the message then carries the
     plaintext and a zero tag. */
  if (!mesh_noise_transport_encrypt (m->key, c, pt, n, msg + MESH_SESSION_COUNTER_LEN))
    memcpy (msg + MESH_SESSION_COUNTER_LEN, pt, n);
  *len = n + MESH_SESSION_OVERHEAD;
  return msg;
}

static void
op_sealed (Model *m, MeshFuzzInput *in, uint64_t c, gboolean flip)
{
  const uint8_t *pt;
  size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &pt);
  size_t len;
  uint8_t *msg = seal (m, c, pt, n, &len);

  if (flip)
    {
      size_t bit = mesh_fuzz_u16 (in) % (8 * len);
      msg[bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
  check_open (m, msg, len);
  g_free (msg);
}

static void
op_limits (Model *m, MeshFuzzInput *in)
{
  MeshSessionLimits l;
  GError *error = NULL;
  uint8_t sel = mesh_fuzz_u8 (in);
  uint16_t v = mesh_fuzz_u16 (in);
  gboolean valid, ok;

  l.max_messages = sel == 255 ? MESH_SESSION_COUNTER_LIMIT
                   : sel == 254 ? MESH_SESSION_COUNTER_LIMIT + 1 : v;
  l.rekey_messages = mesh_fuzz_u8 (in);
  l.rekey_age_ns = mesh_fuzz_u8 (in) * G_GUINT64_CONSTANT (1000000);
  valid = l.max_messages != 0 && l.max_messages <= MESH_SESSION_COUNTER_LIMIT
          && l.rekey_messages != 0 && l.rekey_messages <= l.max_messages
          && l.rekey_age_ns != 0;
  ok = mesh_session_set_limits (m->s, &l, &error);
  if (ok != valid)
    {
      fprintf (stderr, "limits %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%"
               G_GUINT64_FORMAT " %s\n", l.max_messages, l.rekey_messages,
               l.rekey_age_ns, ok ? "accepted" : "refused");
      abort ();
    }
  if (ok)
    {
      m->max = l.max_messages;
      m->age = l.rekey_age_ns;
    }
  else
    {
      mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID_ARGUMENT, "set_limits");
      g_error_free (error);
    }
}

static void
op_clock (Model *m, MeshFuzzInput *in, gboolean backwards)
{
  uint64_t d = mesh_fuzz_u8 (in);
  unsigned e = mesh_fuzz_u8 (in) % 16;
  gboolean expect;

  for (; e > 0; e--)
    d *= 10;

  if (backwards)
    m->now = m->now > d ? m->now - d : 0;
  else
    m->now = m->now > G_MAXUINT64 - d ? G_MAXUINT64 : m->now + d;
  /* A receiver rekeys on age only; a clock gone back counts as no time. */
  expect = m->now > m->created && m->now - m->created >= m->age;
  if (mesh_session_needs_rekey (m->s, m->now) != expect)
    {
      fprintf (stderr, "needs_rekey wrong at %" G_GUINT64_FORMAT " ns after "
               "creation\n", m->now - m->created);
      abort ();
    }
}

static void
run_ops (MeshSession *s, const uint8_t *key, uint64_t now, MeshFuzzInput *in)
{
  Model m = { 0 };

  m.s = s;
  m.key = key;
  m.accepted = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  m.max = MESH_SESSION_COUNTER_LIMIT;
  m.age = MESH_SESSION_REKEY_AGE_NS;
  m.created = m.last_used = m.now = now;

  while (in->n > 0)
    {
      uint8_t op = mesh_fuzz_u8 (in);

      switch (op & 7)
        {
        case 0:
          {
            const uint8_t *p;
            size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &p);
            uint8_t *copy = copy_exact (p, n);

            check_open (&m, copy, n);
            g_free (copy);
          }
          break;
        case 1:
          op_sealed (&m, in, m.top + mesh_fuzz_u8 (in), FALSE);
          break;
        case 2:
          {
            /* Below zero wraps around, into counters beyond the limit
               (spelled out: OSS-Fuzz's UBSan reports unsigned wraps). */
            uint64_t d = mesh_fuzz_u16 (in);

            op_sealed (&m, in, m.top > d ? m.top - 1 - d : G_MAXUINT64 - (d - m.top),
                       FALSE);
          }
          break;
        case 3:
          op_sealed (&m, in, mesh_fuzz_u64 (in), FALSE);
          break;
        case 4:
          op_sealed (&m, in, m.top + mesh_fuzz_u8 (in), TRUE);
          break;
        case 5:
          op_limits (&m, in);
          break;
        case 6:
          op_clock (&m, in, (op & 0x80) != 0);
          break;
        case 7:
          {
            size_t n = mesh_fuzz_u16 (in);

            if (op & 0x80)
              check_open (&m, big, MESH_SESSION_MAX_PLAINTEXT
                                   + MESH_SESSION_OVERHEAD + 1 + n);
            else
              {
                uint8_t *pt = g_malloc (n + 1), *msg;
                size_t len;

                for (size_t i = 0; i < n; i++)
                  pt[i] = (uint8_t) (i * 7 + op);
                msg = seal (&m, m.top, pt, n, &len);
                check_open (&m, msg, len);
                g_free (msg);
                g_free (pt);
              }
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }
  g_hash_table_unref (m.accepted);
}

static void
mode_raw (MeshFuzzInput *in)
{
  GError *e1 = NULL, *e2 = NULL;
  uint8_t id[MESH_SESSION_ID_LEN];
  uint8_t *init = copy_exact (in->p, in->n);
  size_t len = in->n;
  MeshSession *s;
  gboolean id_ok;

  id_ok = mesh_session_id_from_init (init, len, id, &e1);
  s = mesh_session_accept (&fixed.responder, init, len, START_NS, &e2);
  if (!id_ok)
    {
      /* A wrong length: both refuse it alike. */
      mesh_fuzz_expect_code (e1, len < MESH_SESSION_INIT_LEN
                                 ? MESHARA_ERROR_TRUNCATED : MESHARA_ERROR_INVALID,
                             "session_id_from_init");
      if (s != NULL)
        abort ();
      mesh_fuzz_expect_code (e2, e1->code, "session_accept");
    }
  else if (s == NULL)
    {
      mesh_fuzz_check_error (e2, "session_accept");
      if (e2->code != MESHARA_ERROR_DECRYPT && e2->code != MESHARA_ERROR_INVALID
          && e2->code != MESHARA_ERROR_BAD_SIGNATURE)
        {
          fprintf (stderr, "accept: undocumented error: %s\n", e2->message);
          abort ();
        }
    }
  else
    check_accepted (s, init, START_NS);
  mesh_session_free (s);
  g_clear_error (&e1);
  g_clear_error (&e2);
  g_free (init);
}

static void
mode_built (MeshFuzzInput *in)
{
  uint8_t e_priv[32], s_priv[32], s_pub[32], ed_pub[32], sig[64];
  uint8_t init[MESH_SESSION_INIT_LEN];
  MeshPublicBundle claimed;
  MeshNoiseTransport t;
  GError *error = NULL;
  MeshSession *s;
  gboolean consistent, binding_ok;
  uint8_t f;

  mesh_fuzz_fill (in, e_priv, sizeof e_priv);
  f = mesh_fuzz_u8 (in);
  mesh_fuzz_fill (in, s_priv, sizeof s_priv);
  consistent = (f & 1) != 0;
  if (consistent)
    mesh_x25519_public_key (s_priv, s_pub);
  else
    mesh_fuzz_fill (in, s_pub, sizeof s_pub);
  if (f & 2)
    {
      MeshIdentity sender;
      uint8_t ed_priv[32];

      mesh_fuzz_fill (in, ed_priv, sizeof ed_priv);
      mesh_identity_from_private (&sender, ed_priv, s_priv);
      memcpy (ed_pub, sender.pub.ed_pub, sizeof ed_pub);
      memcpy (sig, sender.pub.binding_sig, sizeof sig);
      mesh_identity_clear (&sender);
    }
  else
    {
      mesh_fuzz_fill (in, ed_pub, sizeof ed_pub);
      mesh_fuzz_fill (in, sig, sizeof sig);
    }
  write_init (s_priv, s_pub, e_priv, ed_pub, sig, init, &t);

  memset (&claimed, 0, sizeof claimed);
  memcpy (claimed.ed_pub, ed_pub, sizeof ed_pub);
  memcpy (claimed.x_pub, s_pub, sizeof s_pub);
  memcpy (claimed.binding_sig, sig, sizeof sig);
  mesh_node_id (ed_pub, claimed.node_id);
  binding_ok = mesh_bundle_verify (&claimed, NULL);

  s = mesh_session_accept (&fixed.responder, init, sizeof init, START_NS, &error);
  if (consistent && (s != NULL) != binding_ok)
    {
      fprintf (stderr, "accept %s an init whose binding %s\n",
               s ? "took" : "refused", binding_ok ? "verifies" : "does not verify");
      abort ();
    }
  if (s == NULL)
    {
      mesh_fuzz_check_error (error, "session_accept");
      if (consistent ? error->code != MESHARA_ERROR_BAD_SIGNATURE
                     : (error->code != MESHARA_ERROR_DECRYPT
                        && error->code != MESHARA_ERROR_INVALID
                        && error->code != MESHARA_ERROR_BAD_SIGNATURE))
        {
          fprintf (stderr, "accept: unexpected error: %s\n", error->message);
          abort ();
        }
      g_error_free (error);
      return;
    }

  check_accepted (s, init, START_NS);
  if (memcmp (mesh_session_get_peer (s), &claimed, sizeof claimed) != 0
      || memcmp (mesh_session_get_handshake_hash (s), t.handshake_hash,
                 sizeof t.handshake_hash) != 0)
    {
      fprintf (stderr, "accepted session differs from the one written\n");
      abort ();
    }
  run_ops (s, t.send_key, START_NS, in);
  mesh_session_free (s);
}

static void
mode_fixed (MeshFuzzInput *in)
{
  GError *error = NULL;
  MeshSession *s = mesh_session_accept (&fixed.responder, fixed.init,
                                        sizeof fixed.init, START_NS, &error);

  if (s == NULL)
    {
      fprintf (stderr, "the fixed init is refused: %s\n", error->message);
      abort ();
    }
  check_accepted (s, fixed.init, START_NS);
  if (memcmp (mesh_session_get_peer (s), &fixed.sender.pub,
              sizeof fixed.sender.pub) != 0)
    abort ();
  run_ops (s, fixed.t.send_key, START_NS, in);
  mesh_session_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshFuzzInput in;

  setup ();
  mesh_fuzz_input_init (&in, data, size);
  switch (mesh_fuzz_u8 (&in) % 3)
    {
    case 0:
      mode_raw (&in);
      break;
    case 1:
      mode_built (&in);
      break;
    default:
      mode_fixed (&in);
      break;
    }
  return 0;
}
