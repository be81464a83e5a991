/* End-to-end sessions: handshake, identity binding, transport, replay
 * window, limits. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "crypto/session.h"
#include "testutil.h"

#define MS (G_GUINT64_CONSTANT (1000000))

typedef struct {
  MeshIdentity alice;   /* sender */
  MeshIdentity bob;     /* recipient */
  MeshIdentity carol;   /* somebody else */
  TestRng rng;
} Fixture;

static void
identity_from_byte (MeshIdentity *id, guint8 b)
{
  guint8 seed[MESH_SEED_LEN];

  memset (seed, b, sizeof seed);
  mesh_identity_from_seed (id, seed);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  identity_from_byte (&f->alice, 'a');
  identity_from_byte (&f->bob, 'b');
  identity_from_byte (&f->carol, 'c');
  f->rng.state = 7;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mesh_identity_clear (&f->alice);
  mesh_identity_clear (&f->bob);
  mesh_identity_clear (&f->carol);
}

/* Alice opens a session to Bob at time now; Bob accepts it. */
static void
open_pair (Fixture *f, uint64_t now, MeshSession **tx, MeshSession **rx)
{
  GError *error = NULL;
  guint8 init[MESH_SESSION_INIT_LEN];

  *tx = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, now,
                               init, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*tx);
  *rx = mesh_session_accept (&f->bob, init, sizeof init, now, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*rx);
}

/* Seal pt into a new buffer (g_free); *len gets its size. */
static guint8 *
seal (MeshSession *tx, const void *pt, gsize pt_len, gsize *len)
{
  GError *error = NULL;
  guint8 *out = g_malloc (pt_len + MESH_SESSION_OVERHEAD);

  g_assert_true (mesh_session_seal (tx, pt, pt_len, out, NULL, 0, &error));
  g_assert_no_error (error);
  *len = pt_len + MESH_SESSION_OVERHEAD;
  return out;
}

/* Open msg and expect it to carry pt under counter. */
static void
assert_opens (MeshSession *rx, const guint8 *msg, gsize len,
              const void *pt, gsize pt_len, uint64_t counter)
{
  GError *error = NULL;
  guint8 *out = g_malloc (len);
  gsize out_len = 0;
  uint64_t c = G_MAXUINT64;
  gboolean dup = TRUE;

  g_assert_true (mesh_session_open (rx, msg, len, out, &out_len, &c, &dup, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, out_len, pt, pt_len);
  g_assert_cmpuint (c, ==, counter);
  g_assert_false (dup);
  g_free (out);
}

/* Open msg and expect error code; returns the duplicate flag. */
static gboolean
assert_open_fails (MeshSession *rx, const guint8 *msg, gsize len, int code)
{
  GError *error = NULL;
  guint8 *out = g_malloc (len + 1);
  gsize out_len = 12345;
  uint64_t c;
  gboolean dup = FALSE;

  g_assert_false (mesh_session_open (rx, msg, len, out, &out_len, &c, &dup, 0, &error));
  g_assert_error (error, MESHARA_ERROR, code);
  g_assert_cmpuint (out_len, ==, 12345);
  g_clear_error (&error);
  g_free (out);
  return dup;
}

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
  static const gsize sizes[] = { 0, 1, 64, 65536 };
  MeshSession *tx, *rx;

  open_pair (f, 0, &tx, &rx);
  g_assert_true (mesh_session_is_initiator (tx));
  g_assert_false (mesh_session_is_initiator (rx));
  g_assert_cmpmem (mesh_session_get_handshake_hash (tx), MESH_NOISE_HASH_LEN,
                   mesh_session_get_handshake_hash (rx), MESH_NOISE_HASH_LEN);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint8 *pt = g_malloc (sizes[i] + 1);
      guint8 *msg;
      gsize len;

      test_rng (&f->rng, pt, sizes[i]);
      msg = seal (tx, pt, sizes[i], &len);
      g_assert_cmpuint (len, ==, sizes[i] + 24);
      /* The counter leads, big-endian. */
      for (guint b = 0; b < 7; b++)
        g_assert_cmpuint (msg[b], ==, 0);
      g_assert_cmpuint (msg[7], ==, i);
      assert_opens (rx, msg, len, pt, sizes[i], i);
      g_free (pt);
      g_free (msg);
    }
  g_assert_cmpuint (mesh_session_get_next_counter (tx), ==, G_N_ELEMENTS (sizes));
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_in_place (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx, *rx;
  guint8 buf[MESH_SESSION_OVERHEAD + 11];
  gsize out_len;
  uint64_t c;

  open_pair (f, 0, &tx, &rx);
  memcpy (buf + MESH_SESSION_COUNTER_LEN, "hello world", 11);
  g_assert_true (mesh_session_seal (tx, buf + MESH_SESSION_COUNTER_LEN, 11, buf,
                                    &c, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c, ==, 0);
  g_assert_true (memcmp (buf + MESH_SESSION_COUNTER_LEN, "hello world", 11) != 0);
  g_assert_true (mesh_session_open (rx, buf, sizeof buf, buf + MESH_SESSION_COUNTER_LEN,
                                    &out_len, NULL, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf + MESH_SESSION_COUNTER_LEN, out_len, "hello world", 11);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_peer_and_id (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx, *rx, *tx2;
  guint8 init[MESH_SESSION_INIT_LEN], init2[MESH_SESSION_INIT_LEN];
  guint8 id[MESH_SESSION_ID_LEN], id2[MESH_SESSION_ID_LEN];
  const MeshPublicBundle *peer;

  tx = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, 5 * MS,
                              init, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (mesh_session_get_init (tx), MESH_SESSION_INIT_LEN, init, sizeof init);
  g_assert_true (mesh_session_id_from_init (init, sizeof init, id, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (id, sizeof id, mesh_session_get_id (tx), MESH_SESSION_ID_LEN);

  rx = mesh_session_accept (&f->bob, init, sizeof init, 7 * MS, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (id, sizeof id, mesh_session_get_id (rx), MESH_SESSION_ID_LEN);
  g_assert_null (mesh_session_get_init (rx));
  g_assert_cmpuint (mesh_session_get_created_ns (rx), ==, 7 * MS);
  g_assert_cmpuint (mesh_session_get_created_ns (tx), ==, 5 * MS);

  /* Bob learns and verified who sent it. */
  peer = mesh_session_get_peer (rx);
  g_assert_cmpmem (peer->ed_pub, 32, f->alice.pub.ed_pub, 32);
  g_assert_cmpmem (peer->x_pub, 32, f->alice.pub.x_pub, 32);
  g_assert_cmpmem (peer->binding_sig, 64, f->alice.pub.binding_sig, 64);
  g_assert_cmpmem (peer->node_id, 32, f->alice.pub.node_id, 32);
  peer = mesh_session_get_peer (tx);
  g_assert_cmpmem (peer->ed_pub, 32, f->bob.pub.ed_pub, 32);

  /* The init does not reveal the sender: neither of Alice's public keys
   * appears in it. */
  for (gsize i = 0; i + 32 <= sizeof init; i++)
    {
      g_assert_true (memcmp (init + i, f->alice.pub.ed_pub, 32) != 0);
      g_assert_true (memcmp (init + i, f->alice.pub.x_pub, 32) != 0);
    }

  /* A new session has a new ID. */
  tx2 = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, 0,
                               init2, &error);
  g_assert_no_error (error);
  g_assert_true (mesh_session_id_from_init (init2, sizeof init2, id2, &error));
  g_assert_true (memcmp (id, id2, sizeof id) != 0);

  mesh_session_free (tx);
  mesh_session_free (tx2);
  mesh_session_free (rx);
}

static void
test_tampered (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  guint8 *m0, *m1;
  gsize len;

  open_pair (f, 0, &tx, &rx);
  m0 = seal (tx, "attack at dawn", 14, &len);
  m1 = seal (tx, "attack at dusk", 14, &len);

  /* Every byte, one at a time: counter, ciphertext, tag. */
  for (gsize i = 0; i < len; i++)
    {
      m0[i] ^= 0x80;
      /* The top bit of the counter puts it beyond the hard limit. */
      assert_open_fails (rx, m0, len, i == 0 ? MESHARA_ERROR_EXHAUSTED
                                             : MESHARA_ERROR_DECRYPT);
      m0[i] ^= 0x80;
    }
  /* A counter changed to another unused value. */
  m0[7] = 5;
  assert_open_fails (rx, m0, len, MESHARA_ERROR_DECRYPT);
  m0[7] = 0;

  /* Nothing of that left a mark: both still open, once. */
  assert_opens (rx, m1, len, "attack at dusk", 14, 1);
  assert_opens (rx, m0, len, "attack at dawn", 14, 0);
  g_assert_true (assert_open_fails (rx, m0, len, MESHARA_ERROR_REPLAY));

  /* A message of another session under a valid counter. */
  {
    MeshSession *tx2, *rx2;
    guint8 *other;

    open_pair (f, 0, &tx2, &rx2);
    g_free (seal (tx2, "x", 1, &len));
    g_free (seal (tx2, "x", 1, &len));
    other = seal (tx2, "attack at noon", 14, &len);
    assert_open_fails (rx, other, len, MESHARA_ERROR_DECRYPT);
    assert_opens (rx2, other, len, "attack at noon", 14, 2);
    g_free (other);
    mesh_session_free (tx2);
    mesh_session_free (rx2);
  }

  g_free (m0);
  g_free (m1);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_transport_lengths (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  guint8 *m;
  gsize len;

  open_pair (f, 0, &tx, &rx);
  m = seal (tx, "", 0, &len);
  g_assert_cmpuint (len, ==, MESH_SESSION_OVERHEAD);
  /* Exact-size copies so that memory checkers see any overread. */
  for (gsize n = 0; n < len; n++)
    {
      guint8 *cut = g_memdup2 (m, n);

      assert_open_fails (rx, cut, n, MESHARA_ERROR_TRUNCATED);
      g_free (cut);
    }
  /* The size is refused before any byte is read. */
  assert_open_fails (rx, m, MESH_SESSION_MAX_PLAINTEXT + MESH_SESSION_OVERHEAD + 1,
                     MESHARA_ERROR_TOO_LARGE);
  assert_opens (rx, m, len, "", 0, 0);

  {
    GError *error = NULL;
    guint8 out[MESH_SESSION_OVERHEAD];

    g_assert_false (mesh_session_seal (tx, out, MESH_SESSION_MAX_PLAINTEXT + 1, out,
                                       NULL, 0, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
    g_clear_error (&error);
    g_assert_cmpuint (mesh_session_get_next_counter (tx), ==, 1);
  }
  g_free (m);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_one_way (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx, *rx;
  guint8 buf[MESH_SESSION_OVERHEAD + 1], out[1];
  gsize out_len;
  guint8 *m;
  gsize len;

  open_pair (f, 0, &tx, &rx);
  g_assert_false (mesh_session_seal (rx, (const guint8 *) "x", 1, buf, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  m = seal (tx, "x", 1, &len);
  g_assert_false (mesh_session_open (tx, m, len, out, &out_len, NULL, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (m);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_wrong_recipient (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx;
  guint8 init[MESH_SESSION_INIT_LEN];

  tx = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, 0, init, &error);
  g_assert_no_error (error);
  g_assert_null (mesh_session_accept (&f->carol, init, sizeof init, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT);
  g_clear_error (&error);
  /* Not even the sender can read its own init. */
  g_assert_null (mesh_session_accept (&f->alice, init, sizeof init, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT);
  g_clear_error (&error);
  mesh_session_free (tx);
}

static void
test_tampered_init (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx, *rx;
  guint8 init[MESH_SESSION_INIT_LEN];

  tx = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, 0, init, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < sizeof init; i++)
    {
      init[i] ^= (guint8) (1u << (i % 8));
      g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == MESHARA_ERROR);
      g_assert_true (error->code == MESHARA_ERROR_DECRYPT
                     || error->code == MESHARA_ERROR_INVALID);
      g_clear_error (&error);
      init[i] ^= (guint8) (1u << (i % 8));
    }
  rx = mesh_session_accept (&f->bob, init, sizeof init, 0, &error);
  g_assert_no_error (error);
  mesh_session_free (rx);
  mesh_session_free (tx);
}

static void
test_truncated_init (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *tx;
  guint8 init[MESH_SESSION_INIT_LEN + 1];
  guint8 id[MESH_SESSION_ID_LEN];

  tx = mesh_session_initiate (&f->alice, &f->bob.pub, test_rng, &f->rng, 0, init, &error);
  g_assert_no_error (error);
  init[MESH_SESSION_INIT_LEN] = 0;
  for (gsize n = 0; n < MESH_SESSION_INIT_LEN; n++)
    {
      guint8 *cut = g_memdup2 (init, n);

      g_assert_null (mesh_session_accept (&f->bob, cut, n, 0, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
      g_clear_error (&error);
      g_assert_false (mesh_session_id_from_init (cut, n, id, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
      g_clear_error (&error);
      g_free (cut);
    }
  g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mesh_session_id_from_init (init, sizeof init, id, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  mesh_session_free (tx);
}

/* Build an init with the Noise layer directly: static X25519 key x_priv,
 * payload ed_pub || sig, to Bob. */
static void
craft_init (Fixture *f, const guint8 x_priv[32], const guint8 ed_pub[32],
            const guint8 sig[64], guint8 init[MESH_SESSION_INIT_LEN])
{
  GError *error = NULL;
  MeshNoiseTransport t;
  guint8 x_pub[32], payload[MESH_SESSION_BINDING_LEN];

  mesh_x25519_public_key (x_priv, x_pub);
  memcpy (payload, ed_pub, 32);
  memcpy (payload + 32, sig, 64);
  g_assert_true (mesh_noise_x_write ((const guint8 *) MESH_SESSION_PROLOGUE,
                                     strlen (MESH_SESSION_PROLOGUE),
                                     x_priv, x_pub, f->bob.pub.x_pub,
                                     test_rng, &f->rng, payload, sizeof payload,
                                     init, &t, &error));
  g_assert_no_error (error);
}

static void
test_forged_binding (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshSession *rx;
  guint8 init[MESH_SESSION_INIT_LEN];

  /* The control: Alice's own keys, built the same way, are accepted. */
  craft_init (f, f->alice.x_priv, f->alice.pub.ed_pub, f->alice.pub.binding_sig, init);
  rx = mesh_session_accept (&f->bob, init, sizeof init, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (mesh_session_get_peer (rx)->node_id, 32, f->alice.pub.node_id, 32);
  mesh_session_free (rx);

  /* Carol claims to be Alice: Alice's Ed25519 key and binding signature,
   * Carol's X25519 key.  The signature covers Alice's X25519 key only. */
  craft_init (f, f->carol.x_priv, f->alice.pub.ed_pub, f->alice.pub.binding_sig, init);
  g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* Alice's Ed25519 key with a binding made by Carol's Ed25519 key over
   * Alice's X25519 key. */
  {
    guint8 msg[sizeof MESH_BINDING_CONTEXT - 1 + 64], sig[64];
    gsize n = sizeof MESH_BINDING_CONTEXT - 1;

    memcpy (msg, MESH_BINDING_CONTEXT, n);
    memcpy (msg + n, f->alice.pub.ed_pub, 32);
    memcpy (msg + n + 32, f->alice.pub.x_pub, 32);
    mesh_identity_sign (&f->carol, msg, sizeof msg, sig);
    craft_init (f, f->alice.x_priv, f->alice.pub.ed_pub, sig, init);
    g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
    g_clear_error (&error);
  }

  /* Carol's Ed25519 key with Alice's signature. */
  craft_init (f, f->alice.x_priv, f->carol.pub.ed_pub, f->alice.pub.binding_sig, init);
  g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* A zeroed signature. */
  {
    guint8 zero[64] = { 0 };

    craft_init (f, f->alice.x_priv, f->alice.pub.ed_pub, zero, init);
    g_assert_null (mesh_session_accept (&f->bob, init, sizeof init, 0, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
    g_clear_error (&error);
  }
}

static void
test_low_order_peer (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  MeshPublicBundle bad = f->bob.pub;
  guint8 init[MESH_SESSION_INIT_LEN];

  memset (bad.x_pub, 0, sizeof bad.x_pub);
  g_assert_null (mesh_session_initiate (&f->alice, &bad, test_rng, &f->rng, 0,
                                        init, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
}

static void
test_replay (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  guint8 *m;
  gsize len;

  open_pair (f, 0, &tx, &rx);
  m = seal (tx, "once", 4, &len);
  assert_opens (rx, m, len, "once", 4, 0);
  for (int i = 0; i < 3; i++)
    g_assert_true (assert_open_fails (rx, m, len, MESHARA_ERROR_REPLAY));
  g_free (m);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_reorder (Fixture *f, gconstpointer data)
{
  static const guint order[] = { 3, 0, 7, 1, 2, 9, 8, 4, 6, 5 };
  MeshSession *tx, *rx;
  guint8 *m[G_N_ELEMENTS (order)];
  gsize len;

  open_pair (f, 0, &tx, &rx);
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      guint8 pt = (guint8) i;
      m[i] = seal (tx, &pt, 1, &len);
    }
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      guint8 pt = (guint8) order[i];

      assert_opens (rx, m[order[i]], len, &pt, 1, order[i]);
      /* Every earlier one is now a duplicate. */
      for (guint j = 0; j <= i; j++)
        g_assert_true (assert_open_fails (rx, m[order[j]], len, MESHARA_ERROR_REPLAY));
    }
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    g_free (m[i]);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

/* Seal n one-byte messages; returns them (free with free_messages). */
static guint8 **
seal_many (MeshSession *tx, guint n)
{
  guint8 **m = g_new (guint8 *, n);

  for (guint i = 0; i < n; i++)
    {
      guint8 pt = (guint8) i;
      gsize len;

      m[i] = seal (tx, &pt, 1, &len);
    }
  return m;
}

static void
free_messages (guint8 **m, guint n)
{
  for (guint i = 0; i < n; i++)
    g_free (m[i]);
  g_free (m);
}

#define W MESH_SESSION_WINDOW
#define ONE (1 + MESH_SESSION_OVERHEAD)

static void
test_window_edges (Fixture *f, gconstpointer data)
{
  const guint n = 3 * W + 10;
  MeshSession *tx, *rx;
  guint8 **m;
  guint8 pt;

  open_pair (f, 0, &tx, &rx);
  m = seal_many (tx, n);

  /* Highest first: W + 5 accepted, the window is then [6, W + 5]. */
  pt = (guint8) (W + 5);
  assert_opens (rx, m[W + 5], ONE, &pt, 1, W + 5);
  for (guint c = 0; c <= 5; c++)
    g_assert_false (assert_open_fails (rx, m[c], ONE, MESHARA_ERROR_REPLAY));
  pt = 6;
  assert_opens (rx, m[6], ONE, &pt, 1, 6);
  g_assert_true (assert_open_fails (rx, m[6], ONE, MESHARA_ERROR_REPLAY));

  /* Sliding by one drops exactly the oldest slot, whose bit is reused. */
  pt = (guint8) (W + 6);
  assert_opens (rx, m[W + 6], ONE, &pt, 1, W + 6);
  g_assert_false (assert_open_fails (rx, m[6], ONE, MESHARA_ERROR_REPLAY));
  pt = 7;
  assert_opens (rx, m[7], ONE, &pt, 1, 7);

  /* A jump beyond the whole window forgets everything before it. */
  pt = (guint8) (3 * W + 9);
  assert_opens (rx, m[3 * W + 9], ONE, &pt, 1, 3 * W + 9);
  g_assert_false (assert_open_fails (rx, m[W + 6], ONE, MESHARA_ERROR_REPLAY));
  g_assert_false (assert_open_fails (rx, m[2 * W + 9], ONE, MESHARA_ERROR_REPLAY));
  /* The slots of the dropped counters are free for the new ones. */
  pt = (guint8) (2 * W + 10);
  assert_opens (rx, m[2 * W + 10], ONE, &pt, 1, 2 * W + 10);
  pt = (guint8) (2 * W + 20);
  assert_opens (rx, m[2 * W + 20], ONE, &pt, 1, 2 * W + 20);
  pt = (guint8) (3 * W + 8);
  assert_opens (rx, m[3 * W + 8], ONE, &pt, 1, 3 * W + 8);
  g_assert_true (assert_open_fails (rx, m[3 * W + 9], ONE, MESHARA_ERROR_REPLAY));

  free_messages (m, n);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

/* Random arrivals against a plain model of the window: accepted at most
 * once, refused when older than the window. */
static void
test_window_model (Fixture *f, gconstpointer data)
{
  const guint n = 4 * W;
  MeshSession *tx, *rx;
  guint8 **m;
  gboolean *seen = g_new0 (gboolean, n);
  guint64 top = 0;
  GRand *r = g_rand_new_with_seed (99);
  guint accepted = 0, dups = 0, old = 0;

  open_pair (f, 0, &tx, &rx);
  m = seal_many (tx, n);
  for (guint step = 0; step < 6 * n; step++)
    {
      /* Mostly near the front, sometimes far behind or ahead. */
      gint64 base = (gint64) step / 6;
      gint64 c = base + g_rand_int_range (r, -(gint32) W - 200, 300);
      GError *error = NULL;
      guint8 out[1];
      gsize out_len;
      uint64_t got;
      gboolean dup, ok;

      if (c < 0 || c >= n)
        continue;
      ok = mesh_session_open (rx, m[c], ONE, out, &out_len, &got, &dup, 0, &error);
      g_assert_cmpuint (got, ==, (guint64) c);
      if (seen[c])
        {
          g_assert_false (ok);
          g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_REPLAY);
          if (top - (guint64) c <= W)
            {
              g_assert_true (dup);
              dups++;
            }
          else
            {
              g_assert_false (dup);
              old++;
            }
        }
      else if ((guint64) c < top && top - (guint64) c > W)
        {
          g_assert_false (ok);
          g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_REPLAY);
          g_assert_false (dup);
          old++;
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (out[0], ==, (guint8) c);
          seen[c] = TRUE;
          top = MAX (top, (guint64) c + 1);
          accepted++;
        }
      g_clear_error (&error);
    }
  g_test_message ("accepted %u, duplicates %u, too old %u", accepted, dups, old);
  g_assert_cmpuint (accepted, >, 0);
  g_assert_cmpuint (dups, >, 0);
  g_assert_cmpuint (old, >, 0);

  g_rand_free (r);
  g_free (seen);
  free_messages (m, n);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_limits_invalid (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  MeshSessionLimits l, bad;
  GError *error = NULL;

  open_pair (f, 0, &tx, &rx);
  mesh_session_limits_init (&l);
  g_assert_cmpuint (l.rekey_messages, ==, G_GUINT64_CONSTANT (1) << 20);
  g_assert_cmpuint (l.rekey_age_ns, ==, G_GUINT64_CONSTANT (3600000000000));
  g_assert_cmpuint (l.max_messages, ==, G_GUINT64_CONSTANT (1) << 60);
  g_assert_true (mesh_session_set_limits (tx, &l, &error));
  g_assert_no_error (error);

  bad = l;
  bad.max_messages = 0;
  g_assert_false (mesh_session_set_limits (tx, &bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad.max_messages = MESH_SESSION_COUNTER_LIMIT + 1;
  g_assert_false (mesh_session_set_limits (tx, &bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = l;
  bad.rekey_messages = 0;
  g_assert_false (mesh_session_set_limits (tx, &bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = l;
  bad.max_messages = 10;
  bad.rekey_messages = 11;
  g_assert_false (mesh_session_set_limits (tx, &bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = l;
  bad.rekey_age_ns = 0;
  g_assert_false (mesh_session_set_limits (tx, &bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_hard_limit (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  MeshSessionLimits l;
  GError *error = NULL;
  guint8 out[MESH_SESSION_OVERHEAD + 1];
  guint8 **m;

  open_pair (f, 0, &tx, &rx);
  mesh_session_limits_init (&l);
  l.max_messages = 3;
  l.rekey_messages = 2;
  g_assert_true (mesh_session_set_limits (tx, &l, &error));
  m = seal_many (tx, 3);
  g_assert_false (mesh_session_seal (tx, (const guint8 *) "x", 1, out, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_clear_error (&error);
  g_assert_cmpuint (mesh_session_get_next_counter (tx), ==, 3);

  /* A receiver with a lower limit refuses counters past it before any
   * decryption. */
  l.max_messages = 2;
  g_assert_true (mesh_session_set_limits (rx, &l, &error));
  {
    guint8 pt = 1;
    assert_opens (rx, m[1], ONE, &pt, 1, 1);
  }
  assert_open_fails (rx, m[2], ONE, MESHARA_ERROR_EXHAUSTED);

  /* The default limit: a counter of 2^60 is refused as it is. */
  mesh_session_limits_init (&l);
  g_assert_true (mesh_session_set_limits (rx, &l, &error));
  m[2][0] = 0x10;
  assert_open_fails (rx, m[2], ONE, MESHARA_ERROR_EXHAUSTED);

  free_messages (m, 3);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_rekey_count (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  MeshSessionLimits l;
  GError *error = NULL;

  open_pair (f, 0, &tx, &rx);
  mesh_session_limits_init (&l);
  l.rekey_messages = 4;
  g_assert_true (mesh_session_set_limits (tx, &l, &error));
  for (guint i = 0; i < 4; i++)
    {
      g_assert_false (mesh_session_needs_rekey (tx, 0));
      free_messages (seal_many (tx, 1), 1);
    }
  g_assert_true (mesh_session_needs_rekey (tx, 0));
  /* Soft: sealing goes on. */
  free_messages (seal_many (tx, 1), 1);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
test_rekey_age (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  MeshSessionLimits l;
  GError *error = NULL;
  const uint64_t t0 = 1000 * MS;

  open_pair (f, t0, &tx, &rx);
  /* The default: one hour. */
  g_assert_false (mesh_session_needs_rekey (tx, t0 + MESH_SESSION_REKEY_AGE_NS - 1));
  g_assert_true (mesh_session_needs_rekey (tx, t0 + MESH_SESSION_REKEY_AGE_NS));

  mesh_session_limits_init (&l);
  l.rekey_age_ns = 50 * MS;
  g_assert_true (mesh_session_set_limits (tx, &l, &error));
  g_assert_false (mesh_session_needs_rekey (tx, t0));
  g_assert_false (mesh_session_needs_rekey (tx, t0 + 50 * MS - 1));
  g_assert_true (mesh_session_needs_rekey (tx, t0 + 50 * MS));
  /* A clock before the creation time is no age at all. */
  g_assert_false (mesh_session_needs_rekey (tx, 0));
  mesh_session_free (tx);
  mesh_session_free (rx);
}

/* The sender moves to a new session while a message of the old one is
 * still in flight; the recipient keeps both. */
static void
test_rekey_handover (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx, *tx2, *rx2;
  MeshSessionLimits l;
  GError *error = NULL;
  guint8 *in_flight, *m;
  gsize len;
  uint64_t now = 0;

  open_pair (f, now, &tx, &rx);
  mesh_session_limits_init (&l);
  l.rekey_messages = 2;
  g_assert_true (mesh_session_set_limits (tx, &l, &error));
  m = seal (tx, "first", 5, &len);
  assert_opens (rx, m, len, "first", 5, 0);
  g_free (m);
  in_flight = seal (tx, "late", 4, &len);
  g_assert_true (mesh_session_needs_rekey (tx, now));

  now += 10 * MS;
  open_pair (f, now, &tx2, &rx2);
  g_assert_true (memcmp (mesh_session_get_id (tx), mesh_session_get_id (tx2),
                         MESH_SESSION_ID_LEN) != 0);
  g_assert_false (mesh_session_needs_rekey (tx2, now));
  m = seal (tx2, "new", 3, &len);
  assert_opens (rx2, m, len, "new", 3, 0);
  g_free (m);
  /* Not under the old key (counter 1 is still free there). */
  m = seal (tx2, "two", 3, &len);
  assert_open_fails (rx, m, len, MESHARA_ERROR_DECRYPT);
  assert_opens (rx2, m, len, "two", 3, 1);
  g_free (m);

  assert_opens (rx, in_flight, 4 + MESH_SESSION_OVERHEAD, "late", 4, 1);
  g_free (in_flight);
  mesh_session_free (tx);
  mesh_session_free (rx);
  mesh_session_free (tx2);
  mesh_session_free (rx2);
}

static void
test_last_used (Fixture *f, gconstpointer data)
{
  MeshSession *tx, *rx;
  GError *error = NULL;
  guint8 buf[MESH_SESSION_OVERHEAD + 1], out[1];
  gsize out_len;

  open_pair (f, 10, &tx, &rx);
  g_assert_cmpuint (mesh_session_get_last_used_ns (tx), ==, 10);
  g_assert_true (mesh_session_seal (tx, (const guint8 *) "x", 1, buf, NULL, 20, &error));
  g_assert_cmpuint (mesh_session_get_last_used_ns (tx), ==, 20);
  g_assert_true (mesh_session_open (rx, buf, sizeof buf, out, &out_len, NULL, NULL,
                                    30, &error));
  g_assert_cmpuint (mesh_session_get_last_used_ns (rx), ==, 30);
  /* A refused message does not count as use. */
  g_assert_false (mesh_session_open (rx, buf, sizeof buf, out, &out_len, NULL, NULL,
                                     40, &error));
  g_clear_error (&error);
  g_assert_cmpuint (mesh_session_get_last_used_ns (rx), ==, 30);
  mesh_session_free (tx);
  mesh_session_free (rx);
  mesh_session_free (NULL);
}

/* Run with -m perf: per-message cost of a 64-byte message. */
static void
test_perf (Fixture *f, gconstpointer data)
{
  const guint n = 200000;
  MeshSession *tx, *rx;
  guint8 pt[64] = { 0 }, buf[64 + MESH_SESSION_OVERHEAD], out[64];
  gsize out_len;
  gdouble seal_s = 0, open_s = 0;
  GTimer *timer;

  if (!g_test_perf ())
    {
      g_test_skip ("timing only with -m perf");
      return;
    }
  open_pair (f, 0, &tx, &rx);
  timer = g_timer_new ();
  for (guint i = 0; i < n; i++)
    {
      g_timer_start (timer);
      mesh_session_seal (tx, pt, sizeof pt, buf, NULL, 0, NULL);
      seal_s += g_timer_elapsed (timer, NULL);
      g_timer_start (timer);
      g_assert_true (mesh_session_open (rx, buf, sizeof buf, out, &out_len, NULL, NULL,
                                        0, NULL));
      open_s += g_timer_elapsed (timer, NULL);
    }
  g_test_minimized_result (seal_s / n * 1e6, "seal 64 B: %.3f us", seal_s / n * 1e6);
  g_test_minimized_result (open_s / n * 1e6, "open 64 B: %.3f us", open_s / n * 1e6);
  g_timer_destroy (timer);
  mesh_session_free (tx);
  mesh_session_free (rx);
}

#define ADD(path, fn) \
  g_test_add ("/session/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("roundtrip", test_roundtrip);
  ADD ("in-place", test_in_place);
  ADD ("peer-and-id", test_peer_and_id);
  ADD ("tampered", test_tampered);
  ADD ("transport-lengths", test_transport_lengths);
  ADD ("one-way", test_one_way);
  ADD ("init/wrong-recipient", test_wrong_recipient);
  ADD ("init/tampered", test_tampered_init);
  ADD ("init/truncated", test_truncated_init);
  ADD ("init/forged-binding", test_forged_binding);
  ADD ("init/low-order-peer", test_low_order_peer);
  ADD ("replay/duplicate", test_replay);
  ADD ("replay/reorder", test_reorder);
  ADD ("replay/window-edges", test_window_edges);
  ADD ("replay/window-model", test_window_model);
  ADD ("limits/invalid", test_limits_invalid);
  ADD ("limits/hard", test_hard_limit);
  ADD ("rekey/count", test_rekey_count);
  ADD ("rekey/age", test_rekey_age);
  ADD ("rekey/handover", test_rekey_handover);
  ADD ("last-used", test_last_used);
  ADD ("perf", test_perf);
  return g_test_run ();
}
