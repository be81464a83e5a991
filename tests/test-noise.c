/* Noise core: pattern X against the public test vectors, then the ways a
 * handshake message can be wrong. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "crypto/noise.h"
#include "testutil.h"

/* The cacophony test vector for Noise_X_25519_ChaChaPoly_SHA256
 * (../shared/vectors/noise-oneway-25519-chachapoly-sha256.json).  The
 * first message is the handshake; the others are transport messages from
 * the initiator with nonces 0 to 4. */
#define V_PROLOGUE "4a6f686e2047616c74"
#define V_INIT_STATIC "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define V_INIT_EPHEMERAL "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define V_INIT_REMOTE_STATIC "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define V_RESP_STATIC "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define V_HANDSHAKE_HASH "e6adfaa886b76b16b2aa79c54434c77fed488c8aa66d2c545608f4352f70f664"

typedef struct {
  const char *payload;
  const char *ciphertext;
} VectorMessage;

static const VectorMessage v_messages[] = {
  { "4c756477696720766f6e204d69736573",
    "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
    "6c15957a594079a5bdeae05d01e089fbb7cc6ea2ecfd209b941f73c9235213bc"
    "875f7283e9e17ebdac8112627915b455fdc3aaa6de60cb3c98302f370fdb03ea"
    "850b9b0cf22fec13e4dc0707245c8721" },
  { "4d757272617920526f746862617264",
    "9868def631af6242aaf00c35218275832d8d022af1c67b9fc5e8ba90f4d91b" },
  { "462e20412e20486179656b",
    "9fdd2576d757f880de49b32b80abf53afec16ddc86769f0e92daff" },
  { "4361726c204d656e676572",
    "0e5a48d10dfd648145b78012bc9edc8440cbb6e9e237eb8d5b9c25" },
  { "4a65616e2d426170746973746520536179",
    "11a3818b2523d06a64168b814ff680e60930e7145378cd813055f00e1725b5f9e8" },
  { "457567656e2042f6686d20766f6e2042617765726b",
    "184a48a82f921ee36371d880e2abd177f8967349e992958c66fa51bff262a37845a200d26a" },
};

/* Keys of the vector, with the public halves computed. */
typedef struct {
  guint8 *prologue;
  gsize prologue_len;
  guint8 i_priv[32], i_pub[32], e_priv[32];
  guint8 r_priv[32], r_pub[32];
} Keys;

static void
keys_load (Keys *k)
{
  guint8 remote[32];

  k->prologue = test_unhex (V_PROLOGUE, &k->prologue_len);
  test_unhex_into (V_INIT_STATIC, k->i_priv, 32);
  test_unhex_into (V_INIT_EPHEMERAL, k->e_priv, 32);
  test_unhex_into (V_RESP_STATIC, k->r_priv, 32);
  mesh_x25519_public_key (k->i_priv, k->i_pub);
  mesh_x25519_public_key (k->r_priv, k->r_pub);
  test_unhex_into (V_INIT_REMOTE_STATIC, remote, 32);
  g_assert_cmpmem (remote, 32, k->r_pub, 32);
}

static void
keys_clear (Keys *k)
{
  g_free (k->prologue);
}

/* Write the vector's handshake message; returns it (g_free). */
static guint8 *
write_vector_handshake (const Keys *k, gsize *len, MeshNoiseTransport *t)
{
  GError *error = NULL;
  gsize plen;
  guint8 *payload = test_unhex (v_messages[0].payload, &plen);
  guint8 *msg = g_malloc (plen + MESH_NOISE_X_OVERHEAD);

  g_assert_true (mesh_noise_x_write_with_ephemeral (k->prologue, k->prologue_len,
                                                    k->i_priv, k->i_pub, k->e_priv,
                                                    k->r_pub, payload, plen,
                                                    msg, t, &error));
  g_assert_no_error (error);
  *len = plen + MESH_NOISE_X_OVERHEAD;
  g_free (payload);
  return msg;
}

static void
test_vector_initiator (void)
{
  Keys k;
  MeshNoiseTransport t;
  guint8 hash[32];
  gsize len, expect_len;
  guint8 *msg, *expect;

  keys_load (&k);
  msg = write_vector_handshake (&k, &len, &t);
  expect = test_unhex (v_messages[0].ciphertext, &expect_len);
  g_assert_cmpmem (msg, len, expect, expect_len);
  test_unhex_into (V_HANDSHAKE_HASH, hash, 32);
  g_assert_cmpmem (t.handshake_hash, 32, hash, 32);
  g_free (msg);
  g_free (expect);

  for (guint i = 1; i < G_N_ELEMENTS (v_messages); i++)
    {
      gsize plen, clen;
      guint8 *pt = test_unhex (v_messages[i].payload, &plen);
      guint8 *ct = test_unhex (v_messages[i].ciphertext, &clen);
      guint8 *out = g_malloc (plen + MESH_NOISE_TAG_LEN);

      g_assert_true (mesh_noise_transport_encrypt (t.send_key, i - 1, pt, plen, out));
      g_assert_cmpmem (out, plen + MESH_NOISE_TAG_LEN, ct, clen);
      g_free (pt);
      g_free (ct);
      g_free (out);
    }
  keys_clear (&k);
}

static void
test_vector_responder (void)
{
  Keys k;
  MeshNoiseTransport t;
  GError *error = NULL;
  guint8 hash[32], rs[32];
  gsize mlen, plen, got_len;
  guint8 *msg = NULL, *payload, *got;

  keys_load (&k);
  msg = test_unhex (v_messages[0].ciphertext, &mlen);
  payload = test_unhex (v_messages[0].payload, &plen);
  got = g_malloc (mlen);
  g_assert_true (mesh_noise_x_read (k.prologue, k.prologue_len, k.r_priv, k.r_pub,
                                    msg, mlen, rs, got, &got_len, &t, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got, got_len, payload, plen);
  g_assert_cmpmem (rs, 32, k.i_pub, 32);
  test_unhex_into (V_HANDSHAKE_HASH, hash, 32);
  g_assert_cmpmem (t.handshake_hash, 32, hash, 32);
  g_free (msg);
  g_free (payload);
  g_free (got);

  /* Transport messages, in reverse order to show that the explicit nonce
   * does not depend on arrival order. */
  for (guint i = G_N_ELEMENTS (v_messages) - 1; i >= 1; i--)
    {
      gsize clen;
      guint8 *ct = test_unhex (v_messages[i].ciphertext, &clen);
      guint8 *pt = test_unhex (v_messages[i].payload, &plen);
      guint8 *out = g_malloc (clen);

      g_assert_true (mesh_noise_transport_decrypt (t.send_key, i - 1, ct, clen, out));
      g_assert_cmpmem (out, clen - MESH_NOISE_TAG_LEN, pt, plen);
      /* The same bytes under another nonce must not open. */
      g_assert_false (mesh_noise_transport_decrypt (t.send_key, i, ct, clen, out));
      g_free (ct);
      g_free (pt);
      g_free (out);
    }
  keys_clear (&k);
}

/* The vector file also holds N and K; only X is used by the library. */
static void
test_vector_out_of_scope (gconstpointer data)
{
  char *msg = g_strdup_printf ("%s: pattern not implemented, only X is in scope",
                               (const char *) data);

  g_test_skip (msg);
  g_free (msg);
}

static void
test_random_ephemeral (void)
{
  Keys k;
  TestRng rng = { 42 };
  MeshNoiseTransport ti, tr, ti2;
  GError *error = NULL;
  guint8 msg[MESH_NOISE_X_OVERHEAD + 5], msg2[sizeof msg];
  guint8 rs[32], out[5];
  gsize out_len;

  keys_load (&k);
  g_assert_true (mesh_noise_x_write (k.prologue, k.prologue_len, k.i_priv, k.i_pub,
                                     k.r_pub, test_rng, &rng,
                                     (const guint8 *) "hello", 5, msg, &ti, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_noise_x_read (k.prologue, k.prologue_len, k.r_priv, k.r_pub,
                                    msg, sizeof msg, rs, out, &out_len, &tr, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, out_len, "hello", 5);
  g_assert_cmpmem (rs, 32, k.i_pub, 32);
  g_assert_cmpmem (ti.send_key, 32, tr.send_key, 32);
  g_assert_cmpmem (ti.handshake_hash, 32, tr.handshake_hash, 32);

  /* A second handshake draws a new ephemeral key: nothing repeats. */
  g_assert_true (mesh_noise_x_write (k.prologue, k.prologue_len, k.i_priv, k.i_pub,
                                     k.r_pub, test_rng, &rng,
                                     (const guint8 *) "hello", 5, msg2, &ti2, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (msg, msg2, 32) != 0);
  g_assert_true (memcmp (ti.send_key, ti2.send_key, 32) != 0);
  keys_clear (&k);
}

static void
test_empty_payload (void)
{
  Keys k;
  MeshNoiseTransport ti, tr;
  GError *error = NULL;
  guint8 msg[MESH_NOISE_X_OVERHEAD], rs[32], out[1];
  gsize out_len = 99;

  keys_load (&k);
  g_assert_true (mesh_noise_x_write_with_ephemeral (NULL, 0, k.i_priv, k.i_pub,
                                                    k.e_priv, k.r_pub, NULL, 0,
                                                    msg, &ti, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_noise_x_read (NULL, 0, k.r_priv, k.r_pub, msg, sizeof msg,
                                    rs, out, &out_len, &tr, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out_len, ==, 0);
  g_assert_cmpmem (ti.send_key, 32, tr.send_key, 32);
  keys_clear (&k);
}

static void
test_wrong_recipient (void)
{
  Keys k;
  MeshNoiseTransport t;
  GError *error = NULL;
  guint8 other_priv[32], other_pub[32], rs[32] = { 0 }, zero[32] = { 0 };
  gsize len, out_len;
  guint8 *msg, *out;

  keys_load (&k);
  msg = write_vector_handshake (&k, &len, &t);
  out = g_malloc (len);
  memset (other_priv, 0x77, sizeof other_priv);
  mesh_x25519_public_key (other_priv, other_pub);
  g_assert_false (mesh_noise_x_read (k.prologue, k.prologue_len, other_priv, other_pub,
                                     msg, len, rs, out, &out_len, &t, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT);
  g_clear_error (&error);
  g_assert_cmpmem (rs, 32, zero, 32);

  /* Right key, different prologue. */
  g_assert_false (mesh_noise_x_read ((const guint8 *) "other", 5, k.r_priv, k.r_pub,
                                     msg, len, rs, out, &out_len, &t, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT);
  g_clear_error (&error);
  g_free (msg);
  g_free (out);
  keys_clear (&k);
}

static void
test_tampered (void)
{
  Keys k;
  MeshNoiseTransport t;
  gsize len, out_len;
  guint8 *msg, *out, rs[32];

  keys_load (&k);
  msg = write_vector_handshake (&k, &len, &t);
  out = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    {
      GError *error = NULL;

      msg[i] ^= 0x01;
      g_assert_false (mesh_noise_x_read (k.prologue, k.prologue_len, k.r_priv, k.r_pub,
                                         msg, len, rs, out, &out_len, &t, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == MESHARA_ERROR);
      g_assert_true (error->code == MESHARA_ERROR_DECRYPT
                     || error->code == MESHARA_ERROR_INVALID);
      g_clear_error (&error);
      msg[i] ^= 0x01;
    }
  g_free (msg);
  g_free (out);
  keys_clear (&k);
}

static void
test_lengths (void)
{
  Keys k;
  MeshNoiseTransport t;
  gsize len, out_len;
  guint8 *msg, *out, rs[32];
  GError *error = NULL;

  keys_load (&k);
  msg = write_vector_handshake (&k, &len, &t);
  out = g_malloc (len);
  /* Every truncation: the short ones by length, the rest by the tag. */
  for (gsize n = 0; n < len; n++)
    {
      g_assert_false (mesh_noise_x_read (k.prologue, k.prologue_len, k.r_priv, k.r_pub,
                                         msg, n, rs, out, &out_len, &t, &error));
      g_assert_nonnull (error);
      if (n < MESH_NOISE_X_OVERHEAD)
        g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
      g_clear_error (&error);
    }
  g_assert_false (mesh_noise_x_read (k.prologue, k.prologue_len, k.r_priv, k.r_pub,
                                     msg, MESH_NOISE_MAX_MSG_LEN + 1, rs, out,
                                     &out_len, &t, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);

  g_assert_false (mesh_noise_x_write_with_ephemeral (NULL, 0, k.i_priv, k.i_pub,
                                                     k.e_priv, k.r_pub, NULL,
                                                     MESH_NOISE_X_MAX_PAYLOAD + 1,
                                                     out, &t, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_free (msg);
  g_free (out);
  keys_clear (&k);
}

/* Points of small order make every DH result zero: both sides refuse. */
static void
test_low_order (void)
{
  static const char *const points[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  };
  Keys k;
  MeshNoiseTransport t;
  guint8 msg[MESH_NOISE_X_OVERHEAD], out[1], rs[32];
  gsize out_len;

  keys_load (&k);
  for (guint i = 0; i < G_N_ELEMENTS (points); i++)
    {
      GError *error = NULL;
      guint8 bad[32];

      test_unhex_into (points[i], bad, 32);
      g_assert_false (mesh_noise_x_write_with_ephemeral (NULL, 0, k.i_priv, k.i_pub,
                                                         k.e_priv, bad, NULL, 0,
                                                         msg, &t, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
      g_clear_error (&error);

      /* A handshake whose ephemeral key is a low-order point. */
      memset (msg, 0xaa, sizeof msg);
      memcpy (msg, bad, 32);
      g_assert_false (mesh_noise_x_read (NULL, 0, k.r_priv, k.r_pub, msg, sizeof msg,
                                         rs, out, &out_len, &t, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
      g_clear_error (&error);
    }

  /* A handshake that carries a low-order initiator static key, built
   * step by step: the ss token must refuse it. */
  {
    MeshNoiseSymmetric ss;
    GError *error = NULL;
    guint8 zero[32] = { 0 }, shared[32], *p = msg;

    mesh_noise_symmetric_init (&ss, MESH_NOISE_X_PROTOCOL_NAME);
    mesh_noise_mix_hash (&ss, NULL, 0);
    mesh_noise_mix_hash (&ss, k.r_pub, 32);
    mesh_x25519_public_key (k.e_priv, p);
    mesh_noise_mix_hash (&ss, p, 32);
    g_assert_true (mesh_x25519 (k.e_priv, k.r_pub, shared));
    mesh_noise_mix_key (&ss, shared, 32);
    mesh_noise_encrypt_and_hash (&ss, zero, 32, p + 32);
    mesh_noise_encrypt_and_hash (&ss, NULL, 0, p + 80);
    mesh_noise_symmetric_clear (&ss);
    g_assert_false (mesh_noise_x_read (NULL, 0, k.r_priv, k.r_pub, msg, sizeof msg,
                                       rs, out, &out_len, &t, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_clear_error (&error);
  }
  keys_clear (&k);
}

static void
test_transport_bounds (void)
{
  guint8 key[32], buf[MESH_NOISE_TAG_LEN + 4];

  memset (key, 0x42, sizeof key);
  g_assert_false (mesh_noise_transport_encrypt (key, MESH_NOISE_NONCE_RESERVED,
                                                (const guint8 *) "abcd", 4, buf));
  g_assert_true (mesh_noise_transport_encrypt (key, MESH_NOISE_NONCE_RESERVED - 1,
                                               (const guint8 *) "abcd", 4, buf));
  g_assert_true (mesh_noise_transport_decrypt (key, MESH_NOISE_NONCE_RESERVED - 1,
                                               buf, sizeof buf, buf));
  g_assert_cmpmem (buf, 4, "abcd", 4);
  g_assert_false (mesh_noise_transport_decrypt (key, MESH_NOISE_NONCE_RESERVED,
                                                buf, sizeof buf, buf));
  for (gsize n = 0; n < MESH_NOISE_TAG_LEN; n++)
    g_assert_false (mesh_noise_transport_decrypt (key, 0, buf, n, buf));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/noise/x/vector/initiator", test_vector_initiator);
  g_test_add_func ("/noise/x/vector/responder", test_vector_responder);
  g_test_add_data_func ("/noise/n/vector", "Noise_N_25519_ChaChaPoly_SHA256",
                        test_vector_out_of_scope);
  g_test_add_data_func ("/noise/k/vector", "Noise_K_25519_ChaChaPoly_SHA256",
                        test_vector_out_of_scope);
  g_test_add_func ("/noise/x/random-ephemeral", test_random_ephemeral);
  g_test_add_func ("/noise/x/empty-payload", test_empty_payload);
  g_test_add_func ("/noise/x/wrong-recipient", test_wrong_recipient);
  g_test_add_func ("/noise/x/tampered", test_tampered);
  g_test_add_func ("/noise/x/lengths", test_lengths);
  g_test_add_func ("/noise/x/low-order", test_low_order);
  g_test_add_func ("/noise/transport/bounds", test_transport_bounds);
  return g_test_run ();
}
