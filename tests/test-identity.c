/* Identities: key derivation, the public bundle in binary and text form,
 * node IDs and fingerprints, and the public MesharaIdentity API. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#include "crypto/identity.h"
#include "crypto/keystore.h"
#include "testutil.h"

#define TEXT_LEN 177

static void
identity_from_test_rng (MeshIdentity *id, guint64 seed)
{
  TestRng rng = { seed };
  mesh_identity_generate (id, test_rng, &rng);
}

/* The public halves match the private ones, the binding verifies, and the
 * node ID is the hash of the Ed25519 key. */
static void
assert_consistent (const MeshIdentity *id)
{
  uint8_t pub[32], node_id[32];
  g_autoptr (GError) error = NULL;

  mesh_ed25519_public_key (id->ed_priv, pub);
  g_assert_cmpmem (pub, 32, id->pub.ed_pub, 32);
  mesh_x25519_public_key (id->x_priv, pub);
  g_assert_cmpmem (pub, 32, id->pub.x_pub, 32);
  mesh_sha256 (id->pub.ed_pub, 32, node_id);
  g_assert_cmpmem (node_id, 32, id->pub.node_id, 32);
  g_assert_true (mesh_bundle_verify (&id->pub, &error));
  g_assert_no_error (error);
}

static void
test_generate (void)
{
  MeshIdentity a, b, c;

  mesh_identity_generate (&a, mesh_random_system, NULL);
  mesh_identity_generate (&b, mesh_random_system, NULL);
  assert_consistent (&a);
  assert_consistent (&b);
  g_assert_false (mesh_ct_equal (a.ed_priv, b.ed_priv, 32));
  g_assert_false (mesh_ct_equal (a.x_priv, b.x_priv, 32));
  g_assert_false (mesh_ct_equal (a.pub.node_id, b.pub.node_id, 32));

  /* the randomness is the only input */
  identity_from_test_rng (&a, 7);
  identity_from_test_rng (&b, 7);
  identity_from_test_rng (&c, 8);
  g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
  g_assert_false (mesh_ct_equal (a.ed_priv, c.ed_priv, 32));
  g_assert_false (mesh_ct_equal (a.ed_priv, a.x_priv, 32));

  mesh_identity_clear (&a);
  g_assert_true (mesh_ct_is_zero (&a, sizeof a));
  mesh_identity_clear (&b);
  mesh_identity_clear (&c);
}

static void
test_from_seed (void)
{
  uint8_t seed[32], seed2[32], expect[32];
  uint8_t buf[17 + 32];
  MeshIdentity a, b, c;

  for (int i = 0; i < 32; i++)
    seed[i] = (uint8_t) i;
  memcpy (seed2, seed, 32);
  seed2[31] ^= 1;

  mesh_identity_from_seed (&a, seed);
  mesh_identity_from_seed (&b, seed);
  mesh_identity_from_seed (&c, seed2);
  assert_consistent (&a);
  g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
  g_assert_false (mesh_ct_equal (a.ed_priv, c.ed_priv, 32));
  g_assert_false (mesh_ct_equal (a.x_priv, c.x_priv, 32));

  /* The derivation is a format commitment: the same seed must give the
   * same node in every version. */
  memcpy (buf, "meshara/1 ed25519", 17);
  memcpy (buf + 17, seed, 32);
  mesh_sha256 (buf, sizeof buf, expect);
  g_assert_cmpmem (a.ed_priv, 32, expect, 32);
  memcpy (buf, "meshara/1 x25519", 16);
  memcpy (buf + 16, seed, 32);
  mesh_sha256 (buf, 16 + 32, expect);
  g_assert_cmpmem (a.x_priv, 32, expect, 32);
}

static void
test_from_private (void)
{
  MeshIdentity a, b;

  identity_from_test_rng (&a, 1);
  mesh_identity_from_private (&b, a.ed_priv, a.x_priv);
  g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
  /* in place */
  mesh_identity_from_private (&b, b.ed_priv, b.x_priv);
  g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
}

static void
test_sign (void)
{
  MeshIdentity a, b;
  uint8_t sig[64];
  const char *msg = "route advertisement";

  identity_from_test_rng (&a, 2);
  identity_from_test_rng (&b, 3);
  mesh_identity_sign (&a, msg, strlen (msg), sig);
  g_assert_true (mesh_ed25519_verify (a.pub.ed_pub, msg, strlen (msg), sig));
  g_assert_false (mesh_ed25519_verify (b.pub.ed_pub, msg, strlen (msg), sig));
}

static void
test_bundle_roundtrip (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  uint8_t raw[MESH_BUNDLE_LEN];
  g_autoptr (GError) error = NULL;

  identity_from_test_rng (&id, 4);
  mesh_bundle_serialize (&id.pub, raw);
  g_assert_cmpuint (raw[0], ==, MESH_BUNDLE_VERSION);
  g_assert_cmpmem (raw + 1, 32, id.pub.ed_pub, 32);
  g_assert_cmpmem (raw + 33, 32, id.pub.x_pub, 32);
  g_assert_cmpmem (raw + 65, 64, id.pub.binding_sig, 64);

  memset (&b, 0xee, sizeof b);
  g_assert_true (mesh_bundle_parse (&b, raw, sizeof raw, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
}

/* Verified bundles are remembered: once a bundle verified, a changed copy
 * (any field) must still fail, the bundle itself must still pass after
 * many others pushed it out of the cache, and two verified bundles must
 * not combine into one that passes. */
static void
test_bundle_verified_cache (void)
{
  MeshIdentity id, other;
  MeshPublicBundle b;
  uint8_t raw[MESH_BUNDLE_LEN];

  identity_from_test_rng (&id, 21);
  identity_from_test_rng (&other, 22);
  mesh_bundle_serialize (&id.pub, raw);
  g_assert_true (mesh_bundle_parse (&b, raw, sizeof raw, NULL));
  g_assert_true (mesh_bundle_parse (&b, raw, sizeof raw, NULL));
  for (size_t i = 1; i < MESH_BUNDLE_LEN; i++)
    {
      g_autoptr (GError) error = NULL;

      raw[i] ^= 0x80;
      g_assert_false (mesh_bundle_parse (&b, raw, sizeof raw, &error));
      g_assert_nonnull (error);
      raw[i] ^= 0x80;
    }

  /* Both verified; mixing their fields must not pass. */
  g_assert_true (mesh_bundle_verify (&other.pub, NULL));
  b = id.pub;
  memcpy (b.x_pub, other.pub.x_pub, sizeof b.x_pub);
  g_assert_false (mesh_bundle_verify (&b, NULL));
  b = id.pub;
  memcpy (b.binding_sig, other.pub.binding_sig, sizeof b.binding_sig);
  g_assert_false (mesh_bundle_verify (&b, NULL));

  /* More bundles than the cache holds, then the first again. */
  for (guint64 seed = 100; seed < 100 + 300; seed++)
    {
      MeshIdentity n;

      identity_from_test_rng (&n, seed);
      g_assert_true (mesh_bundle_verify (&n.pub, NULL));
    }
  g_assert_true (mesh_bundle_parse (&b, raw, sizeof raw, NULL));
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
}

static void
test_bundle_wrong_length (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  uint8_t raw[MESH_BUNDLE_LEN + 8] = { 0 };

  identity_from_test_rng (&id, 5);
  mesh_bundle_serialize (&id.pub, raw);
  for (size_t len = 0; len <= sizeof raw; len++)
    {
      g_autoptr (GError) error = NULL;
      int expect = len < MESH_BUNDLE_LEN ? MESHARA_ERROR_TRUNCATED
                                         : MESHARA_ERROR_INVALID;
      if (len == MESH_BUNDLE_LEN)
        continue;
      g_assert_false (mesh_bundle_parse (&b, raw, len, &error));
      g_assert_error (error, MESHARA_ERROR, expect);
    }
}

static void
test_bundle_wrong_version (void)
{
  static const uint8_t versions[] = { 0, 2, 0x81, 0xff };
  MeshIdentity id;
  MeshPublicBundle b;
  uint8_t raw[MESH_BUNDLE_LEN];

  identity_from_test_rng (&id, 6);
  mesh_bundle_serialize (&id.pub, raw);
  for (size_t i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autoptr (GError) error = NULL;
      raw[0] = versions[i];
      g_assert_false (mesh_bundle_parse (&b, raw, sizeof raw, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION);
    }
}

/* A flipped bit in either key or in the signature breaks the binding.
 * Each byte gets one flip, at a rotating bit position. */
static void
test_bundle_bit_flips (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  uint8_t raw[MESH_BUNDLE_LEN];

  identity_from_test_rng (&id, 9);
  mesh_bundle_serialize (&id.pub, raw);
  for (size_t i = 1; i < MESH_BUNDLE_LEN; i++)
    {
      g_autoptr (GError) error = NULL;
      uint8_t mask = (uint8_t) (1u << (i % 8));

      raw[i] ^= mask;
      g_assert_false (mesh_bundle_parse (&b, raw, sizeof raw, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
      raw[i] ^= mask;
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_true (mesh_bundle_parse (&b, raw, sizeof raw, &error));
    g_assert_no_error (error);
  }
}

/* An X25519 key of low order is refused even when correctly signed, and
 * each of these keys really gives an all-zero shared secret. */
static void
test_bundle_low_order (void)
{
  static const char *const low_order[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  MeshIdentity id;
  uint8_t msg[sizeof MESH_BINDING_CONTEXT - 1 + 64];
  uint8_t raw[MESH_BUNDLE_LEN], shared[32];
  MeshPublicBundle b;

  identity_from_test_rng (&id, 10);
  for (size_t i = 0; i < G_N_ELEMENTS (low_order) * 2; i++)
    {
      g_autoptr (GError) error = NULL;
      size_t n = sizeof MESH_BINDING_CONTEXT - 1;

      test_unhex_into (low_order[i / 2], id.pub.x_pub, 32);
      /* X25519 ignores the top bit, so the same point with it set */
      if (i % 2)
        id.pub.x_pub[31] |= 0x80;
      g_assert_false (mesh_x25519 (id.x_priv, id.pub.x_pub, shared));

      memcpy (msg, MESH_BINDING_CONTEXT, n);
      memcpy (msg + n, id.pub.ed_pub, 32);
      memcpy (msg + n + 32, id.pub.x_pub, 32);
      mesh_identity_sign (&id, msg, sizeof msg, id.pub.binding_sig);
      mesh_bundle_serialize (&id.pub, raw);
      g_assert_false (mesh_bundle_parse (&b, raw, sizeof raw, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    }
}

static gboolean
is_b64url (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

static void
test_string_roundtrip (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  identity_from_test_rng (&id, 11);
  text = mesh_bundle_to_string (&id.pub);
  g_assert_cmpuint (strlen (text), ==, TEXT_LEN);
  g_assert_true (g_str_has_prefix (text, "mshr1"));
  for (size_t i = 5; i < TEXT_LEN; i++)
    g_assert_true (is_b64url (text[i]));
  g_assert_true (mesh_bundle_from_string (&b, text, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
}

static void
test_string_bad_prefix (void)
{
  static const char *const prefixes[] = { "mshr2", "MSHR1", "mshr", "xshr1", "" };
  MeshIdentity id;
  MeshPublicBundle b;
  g_autofree char *text = NULL;

  identity_from_test_rng (&id, 12);
  text = mesh_bundle_to_string (&id.pub);
  for (size_t i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *bad = g_strconcat (prefixes[i], text + 5, NULL);
      g_assert_false (mesh_bundle_from_string (&b, bad, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (mesh_bundle_from_string (&b, "", &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (mesh_bundle_from_string (&b, NULL, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_string_bad_char (void)
{
  static const char bad_chars[] = { '+', '/', '=', ' ', '\n', '.', '\x80', '\x01' };
  static const size_t positions[] = { 5, 6, 100, TEXT_LEN - 1 };
  MeshIdentity id;
  MeshPublicBundle b;
  g_autofree char *text = NULL;

  identity_from_test_rng (&id, 13);
  text = mesh_bundle_to_string (&id.pub);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_chars); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (positions); j++)
      {
        g_autoptr (GError) error = NULL;
        g_autofree char *bad = g_strdup (text);
        g_autofree char *where = g_strdup_printf ("position %zu", positions[j]);

        bad[positions[j]] = bad_chars[i];
        g_assert_false (mesh_bundle_from_string (&b, bad, &error));
        g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
        g_assert_nonnull (strstr (error->message, where));
      }
  /* padding, and a trailing newline as read from a file */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *bad = g_strconcat (text, "=", NULL);
    g_assert_false (mesh_bundle_from_string (&b, bad, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *bad = g_strconcat (text, "\n", NULL);
    g_assert_false (mesh_bundle_from_string (&b, bad, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  }
}

static void
test_string_length (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  g_autofree char *text = NULL;

  identity_from_test_rng (&id, 14);
  text = mesh_bundle_to_string (&id.pub);
  for (size_t len = 0; len < TEXT_LEN; len++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *cut = g_strndup (text, len);
      int expect = len < 5 ? MESHARA_ERROR_MALFORMED : MESHARA_ERROR_TRUNCATED;
      g_assert_false (mesh_bundle_from_string (&b, cut, &error));
      g_assert_error (error, MESHARA_ERROR, expect);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *longer = g_strconcat (text, "AAAA", NULL);
    g_assert_false (mesh_bundle_from_string (&b, longer, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  }
}

/* Valid characters but different bytes: the version or the signature
 * check catches it. */
static void
test_string_tampered (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  g_autofree char *text = NULL;

  identity_from_test_rng (&id, 15);
  text = mesh_bundle_to_string (&id.pub);
  for (size_t i = 5; i < TEXT_LEN; i += 7)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *bad = g_strdup (text);

      bad[i] = bad[i] == 'B' ? 'C' : 'B';
      g_assert_false (mesh_bundle_from_string (&b, bad, &error));
      if (i < 7)
        g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION);
      else
        g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
    }
}

/* The table of parsed key texts: a text given again gives the same
 * bundle; texts that fail (bad signature, length, characters, prefix)
 * are never stored, also while a close valid text is; more texts than it
 * holds never grow it past its bound, and an evicted text parses again. */
static void
test_string_text_cache (void)
{
  MeshIdentity id;
  MeshPublicBundle b;
  g_autofree char *text = NULL;
  guint cap = mesh_bundle_text_cache_capacity ();

  mesh_bundle_text_cache_clear ();
  g_assert_cmpuint (mesh_bundle_text_cache_size (), ==, 0);
  identity_from_test_rng (&id, 31);
  text = mesh_bundle_to_string (&id.pub);
  g_assert_true (mesh_bundle_from_string (&b, text, NULL));
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
  g_assert_cmpuint (mesh_bundle_text_cache_size (), ==, 1);
  memset (&b, 0, sizeof b);
  g_assert_true (mesh_bundle_from_string (&b, text, NULL));
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
  g_assert_cmpuint (mesh_bundle_text_cache_size (), ==, 1);

  /* Hostile texts next to the stored one. */
  for (size_t i = 0; i < TEXT_LEN; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *bad = g_strdup (text);

      bad[i] = bad[i] == 'B' ? 'C' : 'B';
      g_assert_false (mesh_bundle_from_string (&b, bad, &error));
      g_assert_nonnull (error);
    }
  {
    g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
    g_autofree char *longer = g_strconcat (text, "A", NULL);
    g_autofree char *shorter = g_strndup (text, TEXT_LEN - 4);
    g_autofree char *badchar = g_strdup (text);

    badchar[100] = '+';
    g_assert_false (mesh_bundle_from_string (&b, longer, &e1));
    g_assert_false (mesh_bundle_from_string (&b, shorter, &e2));
    g_assert_false (mesh_bundle_from_string (&b, badchar, &e3));
    g_assert_error (e1, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_error (e2, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
    g_assert_error (e3, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  }
  g_assert_cmpuint (mesh_bundle_text_cache_size (), ==, 1);
  g_assert_true (mesh_bundle_from_string (&b, text, NULL));
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);

  /* Four times as many texts as the table holds: bounded, and every text
   * still gives its own bundle, the first one included. */
  for (guint64 seed = 200; seed < 200 + 4 * cap; seed++)
    {
      MeshIdentity n;
      g_autofree char *t = NULL;

      identity_from_test_rng (&n, seed);
      t = mesh_bundle_to_string (&n.pub);
      g_assert_true (mesh_bundle_from_string (&b, t, NULL));
      g_assert_cmpmem (&b, sizeof b, &n.pub, sizeof n.pub);
      g_assert_true (mesh_bundle_from_string (&b, t, NULL));
      g_assert_cmpmem (&b, sizeof b, &n.pub, sizeof n.pub);
      g_assert_cmpuint (mesh_bundle_text_cache_size (), <=, cap);
    }
  g_assert_cmpuint (mesh_bundle_text_cache_size (), >, 1);
  g_assert_true (mesh_bundle_from_string (&b, text, NULL));
  g_assert_cmpmem (&b, sizeof b, &id.pub, sizeof id.pub);
  mesh_bundle_text_cache_clear ();
  g_assert_cmpuint (mesh_bundle_text_cache_size (), ==, 0);
}

static void
test_node_id (void)
{
  uint8_t ed_pub[32], id[32], expect[32];
  g_autofree char *hex = NULL;

  for (int i = 0; i < 32; i++)
    ed_pub[i] = (uint8_t) (0xa0 + i);
  mesh_node_id (ed_pub, id);
  mesh_sha256 (ed_pub, 32, expect);
  g_assert_cmpmem (id, 32, expect, 32);

  for (int i = 0; i < 32; i++)
    id[i] = (uint8_t) (i * 0x11);
  hex = mesh_node_id_to_hex (id);
  g_assert_cmpstr (hex, ==,
                   "00112233445566778899aabbccddeeff"
                   "102132435465768798a9bacbdcedfe0f");
}

static void
test_fingerprint (void)
{
  uint8_t id[32];
  g_autofree char *fp = NULL;
  g_autofree char *fp2 = NULL;
  MeshIdentity ident;

  for (int i = 0; i < 32; i++)
    id[i] = (uint8_t) (0xf0 - i * 3);
  fp = mesh_fingerprint (id);
  g_assert_cmpstr (fp, ==, "f0ed-eae7-e4e1-dedb-d8d5-d2cf-ccc9-c6c3");

  identity_from_test_rng (&ident, 16);
  fp2 = mesh_fingerprint (ident.pub.node_id);
  g_assert_true (g_regex_match_simple ("^[0-9a-f]{4}(-[0-9a-f]{4}){7}$", fp2, 0, 0));
}

/* The public API */

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_dir_close (dir);
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
test_api_new (void)
{
  g_autoptr (MesharaIdentity) a = meshara_identity_new ();
  g_autoptr (MesharaIdentity) b = meshara_identity_new ();
  g_autofree char *ka = meshara_identity_get_public_key (a);
  g_autofree char *kb = meshara_identity_get_public_key (b);
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  const guint8 *id = meshara_identity_get_node_id (a, &len);

  g_assert_nonnull (id);
  g_assert_cmpuint (len, ==, MESHARA_NODE_ID_LEN);
  g_assert_nonnull (meshara_identity_get_node_id (a, NULL));
  g_assert_cmpstr (ka, !=, kb);
  g_assert_true (meshara_public_key_validate (ka, &error));
  g_assert_no_error (error);
  assert_consistent (mesh_identity_from_public (a));
}

static void
test_api_from_seed (void)
{
  guint8 seed[40] = { 0 };
  gsize lens[] = { 0, 1, 31, 33, 40 };
  MeshIdentity expect;

  for (size_t i = 0; i < G_N_ELEMENTS (lens); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *num = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes", lens[i]);
      MesharaIdentity *id = meshara_identity_new_from_seed (seed, lens[i], &error);
      g_assert_null (id);
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, num));
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (meshara_identity_new_from_seed (NULL, 32, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MesharaIdentity) a = meshara_identity_new_from_seed (seed, 32, &error);
    g_autoptr (MesharaIdentity) b = meshara_identity_new_from_seed (seed, 32, NULL);
    g_autofree char *ka = NULL;
    g_autofree char *kb = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (a);
    mesh_identity_from_seed (&expect, seed);
    g_assert_cmpmem (mesh_identity_from_public (a), sizeof expect,
                     &expect, sizeof expect);
    ka = meshara_identity_get_public_key (a);
    kb = meshara_identity_get_public_key (b);
    g_assert_cmpstr (ka, ==, kb);
  }
}

static void
test_api_getters (void)
{
  guint8 seed[32];
  g_autoptr (MesharaIdentity) id = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *expect_hex = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *key = NULL;
  const MeshIdentity *inner;
  MeshPublicBundle b;
  g_autoptr (GError) error = NULL;
  gsize len;

  memset (seed, 0x42, sizeof seed);
  id = meshara_identity_new_from_seed (seed, sizeof seed, NULL);
  inner = mesh_identity_from_public (id);

  g_assert_cmpmem (meshara_identity_get_node_id (id, &len), len,
                   inner->pub.node_id, 32);
  hex = meshara_identity_get_node_id_hex (id);
  expect_hex = mesh_node_id_to_hex (inner->pub.node_id);
  g_assert_cmpstr (hex, ==, expect_hex);
  g_assert_cmpuint (strlen (hex), ==, 64);

  fp = meshara_identity_get_fingerprint (id);
  g_assert_cmpuint (strlen (fp), ==, 39);
  /* the fingerprint is the start of the node ID */
  for (size_t i = 0, j = 0; i < 32; j++)
    {
      if (fp[j] == '-')
        continue;
      g_assert_cmpint (fp[j], ==, hex[i]);
      i++;
    }

  key = meshara_identity_get_public_key (id);
  g_assert_cmpuint (strlen (key), ==, TEXT_LEN);
  g_assert_true (mesh_bundle_from_string (&b, key, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&b, sizeof b, &inner->pub, sizeof b);
}

static void
test_api_validate (void)
{
  g_autoptr (MesharaIdentity) id = meshara_identity_new ();
  g_autofree char *key = meshara_identity_get_public_key (id);
  g_autofree char *cut = g_strndup (key, 100);
  g_autofree char *bad = g_strdup (key);

  {
    g_autoptr (GError) error = NULL;
    g_assert_false (meshara_public_key_validate ("hello", &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (meshara_public_key_validate (cut, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
  }
  {
    g_autoptr (GError) error = NULL;
    bad[150] = bad[150] == 'A' ? 'B' : 'A';
    g_assert_false (meshara_public_key_validate (bad, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  }
  g_assert_true (meshara_public_key_validate (key, NULL));
}

static void
test_api_ref (void)
{
  MesharaIdentity *id = meshara_identity_new ();
  MesharaIdentity *copy;

  g_assert_true (meshara_identity_ref (id) == id);
  meshara_identity_unref (id);
  g_assert_true (G_TYPE_IS_BOXED (MESHARA_TYPE_IDENTITY));
  g_assert_cmpstr (g_type_name (MESHARA_TYPE_IDENTITY), ==, "MesharaIdentity");
  copy = g_boxed_copy (MESHARA_TYPE_IDENTITY, id);
  g_assert_true (copy == id);
  g_boxed_free (MESHARA_TYPE_IDENTITY, copy);
  meshara_identity_unref (id);
}

static void
test_api_save_load (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("meshara-identity-XXXXXX", &error);
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (MesharaIdentity) id = meshara_identity_new ();
  g_autoptr (MesharaIdentity) back = NULL;
  g_autofree char *k1 = NULL;
  g_autofree char *k2 = NULL;
  struct stat st;

  g_assert_no_error (error);
  /* a directory that does not exist yet */
  dir = g_build_filename (tmp, "state", NULL);
  path = g_build_filename (dir, "identity.key", NULL);

  g_assert_true (meshara_identity_save (id, path, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);

  back = meshara_identity_load (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpmem (mesh_identity_from_public (back), sizeof (MeshIdentity),
                   mesh_identity_from_public (id), sizeof (MeshIdentity));
  k1 = meshara_identity_get_public_key (id);
  k2 = meshara_identity_get_public_key (back);
  g_assert_cmpstr (k1, ==, k2);

  /* saving again replaces the file */
  {
    g_autoptr (MesharaIdentity) other = meshara_identity_new ();
    g_autoptr (MesharaIdentity) again = NULL;
    g_assert_true (meshara_identity_save (other, path, NULL, &error));
    g_assert_no_error (error);
    again = meshara_identity_load (path, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (meshara_identity_get_node_id (again, NULL), 32,
                     meshara_identity_get_node_id (other, NULL), 32);
  }

  /* a missing file */
  {
    g_autofree char *missing = g_build_filename (dir, "nope.key", NULL);
    g_assert_null (meshara_identity_load (missing, NULL, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  /* an empty passphrase is a mistake, not a request for no encryption */
  g_assert_false (meshara_identity_save (id, path, "", &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  rm_rf (tmp);
}

/* An encrypted keystore through the public API.  Written with small KDF
 * parameters (load reads them from the file) to keep the test fast. */
static void
test_api_load_encrypted (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("meshara-identity-XXXXXX", &error);
  g_autofree char *path = g_build_filename (tmp, "identity.key", NULL);
  MeshKdfParams params = { 1, 8, 1 };
  TestRng rng = { 99 };
  MeshIdentity id;
  g_autoptr (MesharaIdentity) back = NULL;

  identity_from_test_rng (&id, 17);
  g_assert_true (mesh_keystore_save (path, &id, "hunter2", &params,
                                     test_rng, &rng, &error));
  g_assert_no_error (error);

  g_assert_null (meshara_identity_load (path, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PASSPHRASE_REQUIRED);
  g_clear_error (&error);
  g_assert_null (meshara_identity_load (path, "hunter3", &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_WRONG_PASSPHRASE);
  g_clear_error (&error);

  back = meshara_identity_load (path, "hunter2", &error);
  g_assert_no_error (error);
  g_assert_cmpmem (mesh_identity_from_public (back), sizeof id, &id, sizeof id);
  rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/identity/generate", test_generate);
  g_test_add_func ("/identity/from-seed", test_from_seed);
  g_test_add_func ("/identity/from-private", test_from_private);
  g_test_add_func ("/identity/sign", test_sign);
  g_test_add_func ("/identity/bundle/roundtrip", test_bundle_roundtrip);
  g_test_add_func ("/identity/bundle/wrong-length", test_bundle_wrong_length);
  g_test_add_func ("/identity/bundle/wrong-version", test_bundle_wrong_version);
  g_test_add_func ("/identity/bundle/bit-flips", test_bundle_bit_flips);
  g_test_add_func ("/identity/bundle/verified-cache", test_bundle_verified_cache);
  g_test_add_func ("/identity/bundle/low-order-x25519", test_bundle_low_order);
  g_test_add_func ("/identity/string/roundtrip", test_string_roundtrip);
  g_test_add_func ("/identity/string/bad-prefix", test_string_bad_prefix);
  g_test_add_func ("/identity/string/bad-char", test_string_bad_char);
  g_test_add_func ("/identity/string/length", test_string_length);
  g_test_add_func ("/identity/string/tampered", test_string_tampered);
  g_test_add_func ("/identity/string/text-cache", test_string_text_cache);
  g_test_add_func ("/identity/node-id", test_node_id);
  g_test_add_func ("/identity/fingerprint", test_fingerprint);
  g_test_add_func ("/identity/api/new", test_api_new);
  g_test_add_func ("/identity/api/from-seed", test_api_from_seed);
  g_test_add_func ("/identity/api/getters", test_api_getters);
  g_test_add_func ("/identity/api/validate", test_api_validate);
  g_test_add_func ("/identity/api/ref", test_api_ref);
  g_test_add_func ("/identity/api/save-load", test_api_save_load);
  g_test_add_func ("/identity/api/load-encrypted", test_api_load_encrypted);

  return g_test_run ();
}
