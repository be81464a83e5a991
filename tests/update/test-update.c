/* Signed updates: the trust store, manifests and their k-of-n
 * verification with one error code per rejection reason, the chunk
 * cache (verification, resume, eviction) and the apply helper's
 * rollback. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#include "testutil.h"
#include "crypto/identity.h"
#include "update/trust.h"
#include "update/package.h"
#include "wire/codec.h"

/* ---- Fixtures */

static void
make_authority (MeshIdentity *id, guint8 n)
{
  guint8 seed[MESH_SEED_LEN];

  memset (seed, n, sizeof seed);
  mesh_identity_from_seed (id, seed);
}

static guint8 *
make_data (gsize len, guint64 seed)
{
  TestRng rng = { seed };
  guint8 *p = g_malloc (len ? len : 1);

  test_rng (&rng, p, len);
  return p;
}

/* A fresh directory under the test temp dir; free with rm_tree. */
static char *
make_tmpdir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("mesh-update-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (path, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        rm_tree (p);
      else
        g_unlink (p);
    }
  g_dir_close (d);
  g_rmdir (path);
}

static guint
count_entries (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

static MeshTrustStore *
store_with (const MeshIdentity *ids, guint n, guint k)
{
  MeshTrustStore *ts = mesh_trust_store_new ();
  GError *error = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("authority %u", i);
      g_assert_true (mesh_trust_store_add (ts, ids[i].pub.ed_pub, name, "",
                                           "", MESH_TRUST_UPDATE, 0, &error));
      g_assert_no_error (error);
    }
  g_assert_true (mesh_trust_store_set_threshold (ts, k, &error));
  g_assert_no_error (error);
  return ts;
}

static const MeshUpdateInfo default_info = {
  .name = "meshara-demo",
  .version = 10,
  .version_label = "1.0.0",
  .min_version = 5,
  .changelog = "First release.\n",
  .chunk_size = 0,
};

/* An unsigned manifest of data, then signed by each of signers. */
static GBytes *
build_signed (const MeshUpdateInfo *info, const guint8 *data, gsize len,
              const MeshIdentity *signers, guint n)
{
  GError *error = NULL;
  GBytes *m = mesh_update_manifest_build (info, data, len, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  for (guint i = 0; i < n; i++)
    {
      gsize mlen;
      const guint8 *p = g_bytes_get_data (m, &mlen);
      GBytes *next = mesh_update_manifest_sign (p, mlen, &signers[i], &error);
      g_assert_no_error (error);
      g_bytes_unref (m);
      m = next;
    }
  return m;
}

static MeshWireUpdateManifest *
parse (GBytes *b)
{
  GError *error = NULL;
  gsize len;
  const guint8 *p = g_bytes_get_data (b, &len);
  MeshWireUpdateManifest *m = mesh_update_manifest_parse (p, len, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

/* verify fails with code, and its message mentions needle. */
static void
assert_rejected (const MeshWireUpdateManifest *m, const MeshTrustStore *ts,
                 guint64 installed, gint code, const char *needle)
{
  GError *error = NULL;

  g_assert_false (mesh_update_manifest_verify (m, ts, installed, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, code);
  if (needle && strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", error->message, needle);
  g_error_free (error);
}

/* ---- Trust store */

static void
test_trust_basic (void)
{
  MeshIdentity a, b;
  g_autoptr (MeshTrustStore) ts = mesh_trust_store_new ();
  GError *error = NULL;
  const MeshAuthority *got;
  char longname[MESH_WIRE_MAX_AUTHORITY_NAME + 2];

  make_authority (&a, 1);
  make_authority (&b, 2);
  g_assert_cmpuint (mesh_trust_store_get_threshold (ts), ==, 1);
  g_assert_true (mesh_trust_store_add (ts, a.pub.ed_pub, "Alpha", "builds",
                                       "https://alpha.example/",
                                       MESH_TRUST_UPDATE, 1234, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_trust_store_add (ts, b.pub.ed_pub, "Beta", NULL, NULL,
                                       MESH_TRUST_BOOTSTRAP, 0, &error));
  g_assert_cmpuint (mesh_trust_store_count (ts), ==, 2);

  /* Same key again replaces, does not add. */
  g_assert_true (mesh_trust_store_add (ts, a.pub.ed_pub, "Alpha 2", "", "",
                                       MESH_TRUST_FULL, 99, &error));
  g_assert_cmpuint (mesh_trust_store_count (ts), ==, 2);
  got = mesh_trust_store_lookup (ts, a.pub.ed_pub);
  g_assert_nonnull (got);
  g_assert_cmpstr (got->name, ==, "Alpha 2");
  g_assert_cmpint (got->level, ==, MESH_TRUST_FULL);
  g_assert_cmpuint (got->added_ms, ==, 99);
  g_assert_cmpstr (mesh_trust_store_get (ts, 1)->description, ==, "");

  /* Levels. */
  g_assert_true (mesh_trust_level_signs_updates (MESH_TRUST_UPDATE));
  g_assert_true (mesh_trust_level_signs_updates (MESH_TRUST_FULL));
  g_assert_false (mesh_trust_level_signs_updates (MESH_TRUST_SIGNING));
  g_assert_false (mesh_trust_level_signs_updates (MESH_TRUST_BOOTSTRAP));
  for (int l = MESH_TRUST_UPDATE; l <= MESH_TRUST_FULL; l++)
    g_assert_cmpint (mesh_trust_level_from_string (mesh_trust_level_to_string (l)),
                     ==, l);
  g_assert_cmpint (mesh_trust_level_from_string ("root"), ==, 0);

  /* Bad input names the field. */
  g_assert_false (mesh_trust_store_add (ts, a.pub.ed_pub, "", "", "",
                                        MESH_TRUST_UPDATE, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "name"));
  g_clear_error (&error);
  memset (longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  g_assert_false (mesh_trust_store_add (ts, a.pub.ed_pub, longname, "", "",
                                        MESH_TRUST_UPDATE, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_false (mesh_trust_store_add (ts, a.pub.ed_pub, "A", "", "http://x/\n",
                                        MESH_TRUST_UPDATE, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "url"));
  g_clear_error (&error);
  g_assert_false (mesh_trust_store_add (ts, a.pub.ed_pub, "A", "", "", 7, 0,
                                        &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The failed calls left the entry alone. */
  g_assert_cmpstr (mesh_trust_store_lookup (ts, a.pub.ed_pub)->name, ==, "Alpha 2");

  /* Threshold bounds. */
  g_assert_false (mesh_trust_store_set_threshold (ts, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mesh_trust_store_set_threshold (ts, MESH_WIRE_MAX_AUTHORITY_SIGS + 1,
                                                  &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (mesh_trust_store_set_threshold (ts, 3, &error));
  g_assert_cmpuint (mesh_trust_store_get_threshold (ts), ==, 3);

  g_assert_true (mesh_trust_store_remove (ts, a.pub.ed_pub));
  g_assert_false (mesh_trust_store_remove (ts, a.pub.ed_pub));
  g_assert_null (mesh_trust_store_lookup (ts, a.pub.ed_pub));
  g_assert_cmpuint (mesh_trust_store_count (ts), ==, 1);
}

static void
test_trust_persist (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "trust", NULL);
  g_autoptr (MeshTrustStore) ts = mesh_trust_store_new ();
  MeshTrustStore *back;
  GError *error = NULL;
  MeshIdentity ids[3];
  gsize len;
  g_autofree guint8 *raw = NULL;

  for (guint i = 0; i < 3; i++)
    make_authority (&ids[i], (guint8) (10 + i));
  g_assert_true (mesh_trust_store_add (ts, ids[0].pub.ed_pub, "Zero",
                                       "the first", "https://0.example/",
                                       MESH_TRUST_UPDATE, 1000, &error));
  g_assert_true (mesh_trust_store_add (ts, ids[1].pub.ed_pub, "Ein\xc3\xa9",
                                       "", "", MESH_TRUST_SIGNING, 0, &error));
  g_assert_true (mesh_trust_store_add (ts, ids[2].pub.ed_pub, "Two", "", "",
                                       MESH_TRUST_FULL, 3, &error));
  g_assert_true (mesh_trust_store_set_threshold (ts, 2, &error));
  g_assert_no_error (error);

  /* Missing file: NOT_FOUND. */
  g_assert_null (mesh_trust_store_load (path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (mesh_trust_store_save (ts, path, &error));
  g_assert_no_error (error);
  /* Only the file itself: the temporary was renamed. */
  g_assert_cmpuint (count_entries (dir), ==, 1);

  back = mesh_trust_store_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpuint (mesh_trust_store_count (back), ==, 3);
  g_assert_cmpuint (mesh_trust_store_get_threshold (back), ==, 2);
  for (guint i = 0; i < 3; i++)
    {
      const MeshAuthority *x = mesh_trust_store_get (ts, i);
      const MeshAuthority *y = mesh_trust_store_get (back, i);
      g_assert_cmpmem (x->public_key, 32, y->public_key, 32);
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpstr (x->description, ==, y->description);
      g_assert_cmpstr (x->url, ==, y->url);
      g_assert_cmpint (x->level, ==, y->level);
      g_assert_cmpuint (x->added_ms, ==, y->added_ms);
    }
  mesh_trust_store_free (back);

  /* Corrupt or cut files are refused with the reason. */
  g_assert_true (g_file_get_contents (path, (char **) &raw, &len, NULL));
  g_assert_true (g_file_set_contents (path, (char *) raw, (gssize) len - 3, NULL));
  g_assert_null (mesh_trust_store_load (path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_null (mesh_trust_store_load (path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
  g_clear_error (&error);

  {
    /* Threshold 0 in the file. */
    MeshWireTrustStore m = MESHARA__V1__TRUST_STORE__INIT;
    g_autoptr (GBytes) b = NULL;
    m.format_version = MESH_WIRE_TRUST_STORE_VERSION;
    m.threshold = 0;
    b = mesh_wire_encode (&m.base);
    g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL),
                                        (gssize) g_bytes_get_size (b), NULL));
    g_assert_null (mesh_trust_store_load (path, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "threshold"));
    g_clear_error (&error);
  }

  {
    /* Larger than the limit: refused before reading. */
    g_autofree char *big = g_malloc0 (MESH_TRUST_MAX_FILE_SIZE + 1);
    g_assert_true (g_file_set_contents (path, big, MESH_TRUST_MAX_FILE_SIZE + 1,
                                        NULL));
    g_assert_null (mesh_trust_store_load (path, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }

  /* A save over a bad file replaces it whole. */
  g_assert_true (mesh_trust_store_save (ts, path, &error));
  back = mesh_trust_store_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mesh_trust_store_count (back), ==, 3);
  mesh_trust_store_free (back);

  rm_tree (dir);
}

/* ---- Manifests */

static void
test_manifest_build (void)
{
  const gsize len = 3 * MESH_WIRE_DEFAULT_CHUNK_SIZE + 100;
  g_autofree guint8 *data = make_data (len, 1);
  g_autoptr (GBytes) b = NULL;
  g_autoptr (GBytes) b2 = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (MeshWireUpdateManifest) m2 = NULL;
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "data", NULL);
  guint8 sum[MESH_SHA256_LEN], id1[32], id2[32];
  GError *error = NULL;
  MeshUpdateInfo bad = default_info;

  b = build_signed (&default_info, data, len, NULL, 0);
  m = parse (b);
  g_assert_cmpstr (m->name, ==, "meshara-demo");
  g_assert_cmpuint (m->version, ==, 10);
  g_assert_cmpuint (m->size, ==, len);
  g_assert_cmpuint (m->chunk_size, ==, 64 * 1024);
  g_assert_cmpuint (m->n_chunk_hashes, ==, 4);
  g_assert_cmpuint (m->n_signatures, ==, 0);
  g_assert_cmpuint (mesh_update_chunk_len (m, 3), ==, 100);
  mesh_sha256 (data, len, sum);
  g_assert_cmpmem (m->checksum.data, m->checksum.len, sum, sizeof sum);
  mesh_sha256 (data + MESH_WIRE_DEFAULT_CHUNK_SIZE, MESH_WIRE_DEFAULT_CHUNK_SIZE, sum);
  g_assert_cmpmem (m->chunk_hashes[1].data, 32, sum, 32);
  g_assert_true (mesh_update_verify_data (m, data, len, &error));
  g_assert_no_error (error);

  /* The file builder agrees with the memory one. */
  g_assert_true (g_file_set_contents (path, (char *) data, (gssize) len, NULL));
  b2 = mesh_update_manifest_build_file (&default_info, path, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (b, b2));
  m2 = parse (b2);
  mesh_update_manifest_digest (m, id1);
  mesh_update_manifest_digest (m2, id2);
  g_assert_cmpmem (id1, 32, id2, 32);
  g_assert_true (mesh_update_verify_file (m, path, &error));
  g_assert_no_error (error);

  /* Every field is in the ID. */
  m2->min_version = 4;
  mesh_update_manifest_digest (m2, id2);
  g_assert_true (memcmp (id1, id2, 32) != 0);

  /* Builder rules. */
  bad.min_version = 11;
  g_assert_null (mesh_update_manifest_build (&bad, data, len, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "min_version"));
  g_clear_error (&error);
  bad = default_info;
  bad.chunk_size = 100;
  g_assert_null (mesh_update_manifest_build (&bad, data, len, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (mesh_update_manifest_build (&default_info, data, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);

  rm_tree (dir);
}

/* k of n: k-1 valid signatures are refused, k accepted; an authority
 * that signed twice counts once. */
static void
test_threshold (void)
{
  MeshIdentity ids[4];
  gsize len = 5000;
  g_autofree guint8 *data = make_data (len, 2);
  g_autoptr (MeshTrustStore) ts = NULL;
  guint n_trusted = 99;
  GError *error = NULL;

  for (guint i = 0; i < 4; i++)
    make_authority (&ids[i], (guint8) (20 + i));
  ts = store_with (ids, 4, 3);

  for (guint signers = 0; signers <= 4; signers++)
    {
      g_autoptr (GBytes) b = build_signed (&default_info, data, len, ids, signers);
      g_autoptr (MeshWireUpdateManifest) m = parse (b);
      gboolean ok = mesh_update_manifest_verify (m, ts, 7, &n_trusted, &error);

      g_assert_cmpuint (n_trusted, ==, signers);
      if (signers < 3)
        {
          g_assert_false (ok);
          g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNTRUSTED);
          g_assert_nonnull (strstr (error->message, "3 required"));
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
    }

  /* Two distinct signers and a repeat of one: still two. */
  {
    g_autoptr (GBytes) b = build_signed (&default_info, data, len, ids, 2);
    g_autoptr (MeshWireUpdateManifest) m = parse (b);
    MeshWireAuthoritySignature **sigs = g_new (MeshWireAuthoritySignature *, 3);
    MeshWireAuthoritySignature **saved = m->signatures;
    g_autoptr (GBytes) enc = NULL;

    sigs[0] = m->signatures[0];
    sigs[1] = m->signatures[1];
    sigs[2] = m->signatures[0];
    m->signatures = sigs;
    m->n_signatures = 3;
    assert_rejected (m, ts, 7, MESHARA_ERROR_UNTRUSTED, "2 valid signatures");
    g_assert_true (mesh_update_manifest_verify (m, ts, 7, &n_trusted, NULL) == FALSE);
    g_assert_cmpuint (n_trusted, ==, 2);

    /* Such a manifest does not even decode. */
    enc = mesh_wire_encode (&m->base);
    g_assert_null (mesh_update_manifest_parse (g_bytes_get_data (enc, NULL),
                                               g_bytes_get_size (enc), &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "same authority"));
    g_clear_error (&error);

    /* With k = 2 the two distinct ones suffice. */
    g_assert_true (mesh_trust_store_set_threshold (ts, 2, NULL));
    g_assert_true (mesh_update_manifest_verify (m, ts, 7, &n_trusted, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_trusted, ==, 2);
    g_assert_true (mesh_trust_store_set_threshold (ts, 3, NULL));

    m->signatures = saved;
    m->n_signatures = 2;
    g_free (sigs);
  }

  /* Signing twice with one key is refused at the source. */
  {
    g_autoptr (GBytes) b = build_signed (&default_info, data, len, ids, 1);
    g_assert_null (mesh_update_manifest_sign (g_bytes_get_data (b, NULL),
                                              g_bytes_get_size (b), &ids[0],
                                              &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "already signed"));
    g_clear_error (&error);
  }
}

/* One authority exports the unsigned manifest; two others sign it apart;
 * the publisher merges the signatures. */
static void
test_cosign (void)
{
  MeshIdentity ids[3];
  gsize len = 70000;
  g_autofree guint8 *data = make_data (len, 3);
  g_autoptr (MeshTrustStore) ts = NULL;
  g_autoptr (GBytes) own = NULL;
  g_autoptr (GBytes) unsigned_ = NULL;
  g_autoptr (GBytes) by1 = NULL;
  g_autoptr (GBytes) by2 = NULL;
  g_autoptr (GBytes) merged = NULL;
  g_autoptr (GBytes) merged2 = NULL;
  g_autoptr (GBytes) other = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  MeshUpdateInfo info2 = default_info;
  GError *error = NULL;

  for (guint i = 0; i < 3; i++)
    make_authority (&ids[i], (guint8) (30 + i));
  ts = store_with (ids, 3, 3);

  own = build_signed (&default_info, data, len, ids, 1);
  unsigned_ = mesh_update_manifest_export_unsigned (g_bytes_get_data (own, NULL),
                                                    g_bytes_get_size (own), &error);
  g_assert_no_error (error);
  {
    g_autoptr (MeshWireUpdateManifest) u = parse (unsigned_);
    g_assert_cmpuint (u->n_signatures, ==, 0);
  }
  by1 = mesh_update_manifest_sign (g_bytes_get_data (unsigned_, NULL),
                                   g_bytes_get_size (unsigned_), &ids[1], &error);
  g_assert_no_error (error);
  by2 = mesh_update_manifest_sign (g_bytes_get_data (unsigned_, NULL),
                                   g_bytes_get_size (unsigned_), &ids[2], &error);
  g_assert_no_error (error);

  merged = mesh_update_manifest_merge (g_bytes_get_data (own, NULL),
                                       g_bytes_get_size (own),
                                       g_bytes_get_data (by1, NULL),
                                       g_bytes_get_size (by1), &error);
  g_assert_no_error (error);
  /* Merging a signature already present adds nothing. */
  merged2 = mesh_update_manifest_merge (g_bytes_get_data (merged, NULL),
                                        g_bytes_get_size (merged),
                                        g_bytes_get_data (by1, NULL),
                                        g_bytes_get_size (by1), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (merged, merged2));
  m = parse (merged);
  g_assert_cmpuint (m->n_signatures, ==, 2);
  assert_rejected (m, ts, 0, MESHARA_ERROR_UNTRUSTED, "2 valid signatures");
  g_clear_pointer (&m, mesh_wire_free);
  g_clear_pointer (&merged2, g_bytes_unref);

  merged2 = mesh_update_manifest_merge (g_bytes_get_data (merged, NULL),
                                        g_bytes_get_size (merged),
                                        g_bytes_get_data (by2, NULL),
                                        g_bytes_get_size (by2), &error);
  g_assert_no_error (error);
  m = parse (merged2);
  g_assert_cmpuint (m->n_signatures, ==, 3);
  g_assert_true (mesh_update_manifest_verify (m, ts, 0, NULL, &error));
  g_assert_no_error (error);

  /* Signatures of another update do not merge. */
  info2.version = 11;
  other = build_signed (&info2, data, len, &ids[1], 1);
  g_assert_null (mesh_update_manifest_merge (g_bytes_get_data (own, NULL),
                                             g_bytes_get_size (own),
                                             g_bytes_get_data (other, NULL),
                                             g_bytes_get_size (other), &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
}

/* Each rejection reason has its own code. */
static void
test_rejections (void)
{
  MeshIdentity ids[3];
  gsize len = 100000;
  g_autofree guint8 *data = make_data (len, 4);
  g_autoptr (MeshTrustStore) ts = NULL;
  g_autoptr (GBytes) b = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  GError *error = NULL;

  for (guint i = 0; i < 3; i++)
    make_authority (&ids[i], (guint8) (40 + i));
  /* ids[0] trusted for updates, ids[1] only as a bootstrap node, ids[2]
     unknown. */
  ts = store_with (ids, 1, 1);
  g_assert_true (mesh_trust_store_add (ts, ids[1].pub.ed_pub, "boot", "", "",
                                       MESH_TRUST_BOOTSTRAP, 0, &error));

  b = build_signed (&default_info, data, len, ids, 1);
  m = parse (b);
  g_assert_true (mesh_update_manifest_verify (m, ts, 7, NULL, &error));
  g_assert_no_error (error);
  /* Nothing installed: min_version does not apply. */
  g_assert_true (mesh_update_manifest_verify (m, ts, 0, NULL, &error));

  /* Untrusted signer (unknown key, and a key trusted for something else). */
  for (guint i = 1; i < 3; i++)
    {
      g_autoptr (GBytes) u = build_signed (&default_info, data, len, &ids[i], 1);
      g_autoptr (MeshWireUpdateManifest) um = parse (u);
      assert_rejected (um, ts, 7, MESHARA_ERROR_UNTRUSTED, "1 signer not trusted");
    }

  /* Bad signature: a flipped bit, and a field changed after signing. */
  m->signatures[0]->signature.data[5] ^= 0x20;
  assert_rejected (m, ts, 7, MESHARA_ERROR_BAD_SIGNATURE, "authority 0");
  m->signatures[0]->signature.data[5] ^= 0x20;
  m->version = 12;
  assert_rejected (m, ts, 7, MESHARA_ERROR_BAD_SIGNATURE, "does not verify");
  m->version = 10;
  m->chunk_hashes[0].data[0] ^= 1;
  assert_rejected (m, ts, 7, MESHARA_ERROR_BAD_SIGNATURE, NULL);
  m->chunk_hashes[0].data[0] ^= 1;
  g_assert_true (mesh_update_manifest_verify (m, ts, 7, NULL, &error));

  /* Below the minimum version (min 5). */
  assert_rejected (m, ts, 4, MESHARA_ERROR_VERSION_TOO_OLD, "installed is 4");
  g_assert_true (mesh_update_manifest_verify (m, ts, 5, NULL, &error));

  /* Downgrade or the same version (version 10). */
  assert_rejected (m, ts, 10, MESHARA_ERROR_DOWNGRADE, "not newer");
  assert_rejected (m, ts, 11, MESHARA_ERROR_DOWNGRADE, "installed version 11");

  /* Checksum mismatch: a changed byte, a cut and a longer data. */
  data[len - 1] ^= 1;
  g_assert_false (mesh_update_verify_data (m, data, len, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_assert_nonnull (strstr (error->message, "chunk 1"));
  g_clear_error (&error);
  data[len - 1] ^= 1;
  g_assert_false (mesh_update_verify_data (m, data, len - 1, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  /* A manifest whose whole checksum lies (chunks match). */
  m->checksum.data[0] ^= 1;
  g_assert_false (mesh_update_verify_data (m, data, len, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_assert_nonnull (strstr (error->message, "checksum"));
  g_clear_error (&error);
  m->checksum.data[0] ^= 1;
  g_assert_true (mesh_update_verify_data (m, data, len, &error));
  g_assert_no_error (error);

  /* Chunks one by one. */
  g_assert_true (mesh_update_verify_chunk (m, 1, data + 65536, len - 65536, &error));
  g_assert_false (mesh_update_verify_chunk (m, 0, data + 1, 65536, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_false (mesh_update_verify_chunk (m, 2, data, 10, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/update/trust/basic", test_trust_basic);
  g_test_add_func ("/update/trust/persist", test_trust_persist);
  g_test_add_func ("/update/manifest/build", test_manifest_build);
  g_test_add_func ("/update/manifest/threshold", test_threshold);
  g_test_add_func ("/update/manifest/cosign", test_cosign);
  g_test_add_func ("/update/manifest/rejections", test_rejections);
  return g_test_run ();
}
