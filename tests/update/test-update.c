/* Signed updates: the trust store, manifests and their k-of-n
 * verification with one error code per rejection reason, notices and
 * update queries, the chunk cache (verification, resume, eviction) and
 * the apply helper's rollback. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#include "testutil.h"
#include "crypto/identity.h"
#include "update/trust.h"
#include "update/package.h"
#include "update/chunks.h"
#include "update/apply.h"
#include "update/notice.h"
#include "update/query.h"
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

  /* A file others may write is refused. */
  g_assert_cmpint (g_chmod (path, 0666), ==, 0);
  g_assert_null (mesh_trust_store_load (path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "0666"));
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);

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

/* ---- Chunk cache */

static gboolean
array_equal (GArray *a, const guint32 *want, guint n)
{
  if (a->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (g_array_index (a, guint32, i) != want[i])
      return FALSE;
  return TRUE;
}

static char *
chunk_file (const char *dir, const guint8 *hash)
{
  g_autofree char *hex = g_malloc (65);
  for (int i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", hash[i]);
  return g_build_filename (dir, hex, NULL);
}

static void
test_chunks_verify (void)
{
  const gsize len = 4 * 65536 + 1000;
  g_autofree guint8 *data = make_data (len, 5);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *cache = g_build_filename (dir, "cache", NULL);
  g_autoptr (GBytes) b = build_signed (&default_info, data, len, NULL, 0);
  g_autoptr (MeshWireUpdateManifest) m = parse (b);
  g_autoptr (MeshChunkStore) cs = NULL;
  g_autoptr (GBytes) got = NULL;
  g_autofree char *file = NULL;
  GError *error = NULL;
  guint8 bad[65536];

  cs = mesh_chunk_store_open (cache, 16 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cs);
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 0);

  /* A good chunk is stored. */
  g_assert_true (mesh_chunk_store_put_chunk (cs, m, 1, data + 65536, 65536, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_chunk_store_has (cs, m->chunk_hashes[1].data));
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, 65536);

  /* A corrupt chunk is refused and not stored. */
  memcpy (bad, data, sizeof bad);
  bad[1234] ^= 0x40;
  g_assert_false (mesh_chunk_store_put_chunk (cs, m, 0, bad, sizeof bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_false (mesh_chunk_store_has (cs, m->chunk_hashes[0].data));
  /* The right bytes under the wrong index, a short chunk, a bad index. */
  g_assert_false (mesh_chunk_store_put_chunk (cs, m, 2, data, 65536, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_false (mesh_chunk_store_put_chunk (cs, m, 4, data + 4 * 65536, 999, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_false (mesh_chunk_store_put_chunk (cs, m, 5, data, 1000, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  /* Raw put checks the hash as well. */
  g_assert_false (mesh_chunk_store_put (cs, m->chunk_hashes[0].data, bad,
                                        sizeof bad, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 1);
  g_assert_cmpuint (count_entries (cache), ==, 1);

  /* Served by hash, byte for byte. */
  got = mesh_chunk_store_get (cs, m->chunk_hashes[1].data, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   data + 65536, 65536);
  g_assert_null (mesh_chunk_store_get (cs, m->chunk_hashes[0].data, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A file damaged on disk is not served, and is forgotten. */
  file = chunk_file (cache, m->chunk_hashes[1].data);
  g_assert_true (g_file_set_contents (file, (char *) bad, sizeof bad, NULL));
  g_assert_null (mesh_chunk_store_get (cs, m->chunk_hashes[1].data, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_false (mesh_chunk_store_has (cs, m->chunk_hashes[1].data));
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, 0);

  g_clear_pointer (&cs, mesh_chunk_store_free);
  rm_tree (dir);
}

/* After a restart the cache knows what it holds: only the rest is
 * fetched. */
static void
test_chunks_resume (void)
{
  const gsize len = 5 * 65536 - 7;
  g_autofree guint8 *data = make_data (len, 6);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *cache = g_build_filename (dir, "cache", NULL);
  g_autofree char *out = g_build_filename (dir, "assembled", NULL);
  g_autofree char *junk = NULL;
  g_autofree char *file3 = NULL;
  g_autoptr (GBytes) b = build_signed (&default_info, data, len, NULL, 0);
  g_autoptr (MeshWireUpdateManifest) m = parse (b);
  MeshChunkStore *cs;
  GArray *missing;
  GError *error = NULL;
  g_autofree char *assembled = NULL;
  gsize alen;
  const guint32 all[] = { 0, 1, 2, 3, 4 };
  const guint32 rest[] = { 2, 4 };
  const guint32 rest3[] = { 2, 3, 4 };

  cs = mesh_chunk_store_open (cache, 16 * 1024 * 1024, &error);
  g_assert_no_error (error);
  missing = mesh_chunk_store_missing (cs, m);
  g_assert_true (array_equal (missing, all, 5));
  g_array_unref (missing);
  for (guint32 i = 0; i < 4; i++)
    if (i != 2)
      g_assert_true (mesh_chunk_store_put_chunk (cs, m, i, data + i * 65536,
                                                 65536, &error));
  g_assert_no_error (error);
  /* Assembling now names the first missing chunk. */
  g_assert_false (mesh_chunk_store_assemble (cs, m, out, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "chunk 2"));
  g_clear_error (&error);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  mesh_chunk_store_free (cs);

  /* Restart: a write interrupted by the crash left a temporary file. */
  junk = g_strconcat (cache, "/", "00000000000000000000000000000000"
                      "00000000000000000000000000000000.tmp-AbCdEf", NULL);
  g_assert_true (g_file_set_contents (junk, "partial", -1, NULL));
  cs = mesh_chunk_store_open (cache, 16 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (junk, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 3);
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, 3 * 65536);
  missing = mesh_chunk_store_missing (cs, m);
  g_assert_true (array_equal (missing, rest, 2));
  g_array_unref (missing);

  /* A chunk damaged while the node was down is fetched again. */
  file3 = chunk_file (cache, m->chunk_hashes[3].data);
  g_assert_true (g_file_set_contents (file3, "garbage", -1, NULL));
  mesh_chunk_store_free (cs);
  cs = mesh_chunk_store_open (cache, 16 * 1024 * 1024, &error);
  g_assert_no_error (error);
  missing = mesh_chunk_store_missing (cs, m);
  g_assert_true (array_equal (missing, rest3, 3));
  g_array_unref (missing);
  g_assert_false (g_file_test (file3, G_FILE_TEST_EXISTS));

  for (guint32 i = 2; i < 5; i++)
    g_assert_true (mesh_chunk_store_put_chunk (cs, m, i, data + i * 65536,
                                               mesh_update_chunk_len (m, i),
                                               &error));
  g_assert_no_error (error);
  missing = mesh_chunk_store_missing (cs, m);
  g_assert_cmpuint (missing->len, ==, 0);
  g_array_unref (missing);
  g_assert_true (mesh_chunk_store_assemble (cs, m, out, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out, &assembled, &alen, NULL));
  g_assert_cmpmem (assembled, alen, data, len);
  mesh_chunk_store_free (cs);
  rm_tree (dir);
}

/* The cache keeps at most its limit and evicts the oldest chunk first,
 * also after a restart. */
static void
test_chunks_evict (void)
{
  const gsize csize = 256 * 1024;
  const guint64 limit = 1024 * 1024;   /* four chunks */
  g_autofree char *dir = make_tmpdir ();
  guint8 *chunks[7];
  guint8 hashes[7][32];
  MeshChunkStore *cs;
  GError *error = NULL;

  for (guint i = 0; i < 7; i++)
    {
      chunks[i] = make_data (csize, 100 + i);
      mesh_sha256 (chunks[i], csize, hashes[i]);
    }
  g_assert_null (mesh_chunk_store_open (dir, limit - 1, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  cs = mesh_chunk_store_open (dir, limit, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    g_assert_true (mesh_chunk_store_put (cs, hashes[i], chunks[i], csize, &error));
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, limit);
  /* The fifth evicts the first. */
  g_assert_true (mesh_chunk_store_put (cs, hashes[4], chunks[4], csize, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 4);
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, limit);
  g_assert_false (mesh_chunk_store_has (cs, hashes[0]));
  for (guint i = 1; i < 5; i++)
    g_assert_true (mesh_chunk_store_has (cs, hashes[i]));
  g_assert_cmpuint (count_entries (dir), ==, 4);
  /* Storing a held chunk again changes nothing. */
  g_assert_true (mesh_chunk_store_put (cs, hashes[1], chunks[1], csize, &error));
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 4);
  mesh_chunk_store_free (cs);

  /* After a restart the order comes from the files' times: make chunk 3
     the oldest. */
  for (guint i = 1; i < 5; i++)
    {
      g_autofree char *f = chunk_file (dir, hashes[i]);
      struct utimbuf t;
      t.actime = t.modtime = i == 3 ? 1000 : 2000 + i;
      g_assert_cmpint (g_utime (f, &t), ==, 0);
    }
  cs = mesh_chunk_store_open (dir, limit, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mesh_chunk_store_count (cs), ==, 4);
  g_assert_true (mesh_chunk_store_put (cs, hashes[5], chunks[5], csize, &error));
  g_assert_false (mesh_chunk_store_has (cs, hashes[3]));
  g_assert_true (mesh_chunk_store_has (cs, hashes[1]));
  g_assert_true (mesh_chunk_store_put (cs, hashes[6], chunks[6], csize, &error));
  g_assert_false (mesh_chunk_store_has (cs, hashes[1]));
  g_assert_true (mesh_chunk_store_has (cs, hashes[2]));
  g_assert_true (mesh_chunk_store_has (cs, hashes[4]));
  g_assert_cmpuint (mesh_chunk_store_used (cs), ==, limit);
  g_assert_cmpuint (count_entries (dir), ==, 4);
  mesh_chunk_store_free (cs);

  for (guint i = 0; i < 7; i++)
    g_free (chunks[i]);
  rm_tree (dir);
}

/* Chunks of a pinned update (the one being downloaded) are not evicted;
 * when nothing else can go, storing more fails instead. */
static void
test_chunks_pin (void)
{
  const gsize csize = 256 * 1024;
  const guint64 limit = 1024 * 1024;
  g_autofree char *dir = make_tmpdir ();
  g_autofree guint8 *data = make_data (3 * csize, 15);
  g_autofree guint8 *x = make_data (csize, 16);
  g_autofree guint8 *y = make_data (csize, 17);
  g_autofree guint8 *z = make_data (csize, 18);
  guint8 hx[32], hy[32], hz[32];
  MeshUpdateInfo info = default_info;
  g_autoptr (GBytes) b = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (MeshChunkStore) cs = NULL;
  GError *error = NULL;

  info.chunk_size = csize;
  b = build_signed (&info, data, 3 * csize, NULL, 0);
  m = parse (b);
  mesh_sha256 (x, csize, hx);
  mesh_sha256 (y, csize, hy);
  mesh_sha256 (z, csize, hz);
  cs = mesh_chunk_store_open (dir, limit, &error);
  g_assert_no_error (error);

  /* Pinned twice (nested), then filled: the update's three chunks are the
     oldest, then x. */
  mesh_chunk_store_pin (cs, m);
  mesh_chunk_store_pin (cs, m);
  for (guint32 i = 0; i < 3; i++)
    g_assert_true (mesh_chunk_store_put_chunk (cs, m, i, data + i * csize, csize,
                                               &error));
  g_assert_true (mesh_chunk_store_put (cs, hx, x, csize, &error));
  /* y evicts x, the oldest unpinned, not the older pinned chunks. */
  g_assert_true (mesh_chunk_store_put (cs, hy, y, csize, &error));
  g_assert_no_error (error);
  g_assert_false (mesh_chunk_store_has (cs, hx));
  g_assert_cmpuint (mesh_chunk_store_progress (cs, m, NULL), ==, 3);

  /* One unpin leaves it pinned. */
  mesh_chunk_store_unpin (cs, m);
  g_assert_true (mesh_chunk_store_put (cs, hz, z, csize, &error));
  g_assert_false (mesh_chunk_store_has (cs, hy));
  g_assert_cmpuint (mesh_chunk_store_progress (cs, m, NULL), ==, 3);

  /* With a second update pinned over the rest, nothing can go. */
  {
    MeshUpdateInfo info2 = default_info;
    g_autoptr (GBytes) b2 = NULL;
    g_autoptr (MeshWireUpdateManifest) m2 = NULL;
    info2.chunk_size = csize;
    b2 = build_signed (&info2, z, csize, NULL, 0);
    m2 = parse (b2);
    mesh_chunk_store_pin (cs, m2);
    g_assert_false (mesh_chunk_store_put (cs, hx, x, csize, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
    g_assert_nonnull (strstr (error->message, "pinned"));
    g_clear_error (&error);
    g_assert_cmpuint (mesh_chunk_store_used (cs), ==, limit);
    mesh_chunk_store_unpin (cs, m2);
  }

  /* Unpinned at last: the update's oldest chunk goes first. */
  mesh_chunk_store_unpin (cs, m);
  g_assert_true (mesh_chunk_store_put (cs, hx, x, csize, &error));
  g_assert_no_error (error);
  g_assert_false (mesh_chunk_store_has (cs, m->chunk_hashes[0].data));
  g_assert_true (mesh_chunk_store_has (cs, m->chunk_hashes[1].data));

  g_clear_pointer (&cs, mesh_chunk_store_free);
  rm_tree (dir);
}

/* A seeder answers requests from its cache; a downloader takes the
 * answers, trusting only the manifest's hashes. */
static void
test_chunks_transfer (void)
{
  const gsize len = 4 * 65536 + 321;
  g_autofree guint8 *data = make_data (len, 14);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *seed_dir = g_build_filename (dir, "seeder", NULL);
  g_autofree char *leech_dir = g_build_filename (dir, "downloader", NULL);
  g_autoptr (GBytes) b = build_signed (&default_info, data, len, NULL, 0);
  g_autoptr (MeshWireUpdateManifest) m = parse (b);
  g_autoptr (MeshChunkStore) seeder = NULL;
  g_autoptr (MeshChunkStore) leecher = NULL;
  MeshWireUpdateRequest req = MESHARA__V1__UPDATE_REQUEST__INIT;
  guint32 want[] = { 4, 0, 4, 7, 2 };
  guint8 id[32], other_id[32];
  guint64 held = 99;
  GError *error = NULL;
  GPtrArray *answers;

  mesh_update_manifest_digest (m, id);
  memset (other_id, 0x5a, sizeof other_id);
  seeder = mesh_chunk_store_open (seed_dir, 16 * 1024 * 1024, &error);
  leecher = mesh_chunk_store_open (leech_dir, 16 * 1024 * 1024, &error);
  g_assert_no_error (error);
  /* The seeder holds all but chunk 2. */
  for (guint32 i = 0; i < 5; i++)
    if (i != 2)
      g_assert_true (mesh_chunk_store_put_chunk (seeder, m, i, data + i * 65536,
                                                 mesh_update_chunk_len (m, i),
                                                 &error));
  g_assert_cmpuint (mesh_chunk_store_progress (seeder, m, &held), ==, 4);
  g_assert_cmpuint (held, ==, len - 65536);
  g_assert_cmpuint (mesh_chunk_store_progress (leecher, m, &held), ==, 0);
  g_assert_cmpuint (held, ==, 0);

  req.package_id.data = id;
  req.package_id.len = 32;
  req.chunk_indices = want;
  req.n_chunk_indices = G_N_ELEMENTS (want);
  g_assert_true (mesh_wire_validate (&req.base, NULL));

  /* 4 and 0 answered; the repeat, the index out of range and the chunk
     not held are skipped. */
  answers = mesh_chunk_store_serve (seeder, m, id, &req, 0);
  g_assert_cmpuint (answers->len, ==, 2);
  for (guint i = 0; i < answers->len; i++)
    {
      GBytes *a = g_ptr_array_index (answers, i);
      g_autoptr (MeshWireUpdateChunk) c =
        mesh_wire_decode_update_chunk (g_bytes_get_data (a, NULL),
                                       g_bytes_get_size (a), &error);
      g_assert_no_error (error);
      g_assert_cmpuint (c->index, ==, i == 0 ? 4 : 0);
      /* Another update's ID is refused. */
      g_assert_false (mesh_chunk_store_receive (leecher, m, other_id, c, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_true (mesh_chunk_store_receive (leecher, m, id, c, &error));
      g_assert_no_error (error);
    }
  g_ptr_array_unref (answers);
  g_assert_cmpuint (mesh_chunk_store_progress (leecher, m, &held), ==, 2);
  g_assert_cmpuint (held, ==, 65536 + 321);

  /* A lying seeder: bad data with a hash field that matches it. */
  {
    MeshWireUpdateChunk c = MESHARA__V1__UPDATE_CHUNK__INIT;
    g_autofree guint8 *bad = g_memdup2 (data + 65536, 65536);
    guint8 h[32];

    bad[0] ^= 1;
    mesh_sha256 (bad, 65536, h);
    c.package_id.data = id;
    c.package_id.len = 32;
    c.index = 1;
    c.data.data = bad;
    c.data.len = 65536;
    c.hash.data = h;
    c.hash.len = 32;
    g_assert_false (mesh_chunk_store_receive (leecher, m, id, &c, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
    g_clear_error (&error);
    g_assert_cmpuint (mesh_chunk_store_progress (leecher, m, NULL), ==, 2);
  }

  /* A request for everything under a byte budget of two chunks. */
  {
    guint32 every[] = { 0, 1, 2, 3, 4 };
    req.chunk_indices = every;
    req.n_chunk_indices = 5;
    answers = mesh_chunk_store_serve (seeder, m, id, &req, 2 * 65536);
    g_assert_cmpuint (answers->len, ==, 2);
    g_ptr_array_unref (answers);
    /* Another update's request gets nothing. */
    req.package_id.data = other_id;
    answers = mesh_chunk_store_serve (seeder, m, id, &req, 0);
    g_assert_cmpuint (answers->len, ==, 0);
    g_ptr_array_unref (answers);
  }

  g_clear_pointer (&seeder, mesh_chunk_store_free);
  g_clear_pointer (&leecher, mesh_chunk_store_free);
  rm_tree (dir);
}

/* ---- Apply and rollback */

typedef struct {
  gboolean pass;
  guint calls;
  GBytes *seen;          /* what target held during the check */
} CheckState;

static gboolean
check_cb (const char *target, void *user_data, GError **error)
{
  CheckState *st = user_data;
  char *contents;
  gsize len;

  st->calls++;
  g_assert_true (g_file_get_contents (target, &contents, &len, NULL));
  g_clear_pointer (&st->seen, g_bytes_unref);
  st->seen = g_bytes_new_take (contents, len);
  if (!st->pass)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                 "self-test exited with status 3");
  return st->pass;
}

typedef struct {
  char *dir, *target, *backup, *data_path;
  guint8 *old_data, *new_data;
  gsize old_len, new_len;
  MeshIdentity authority;
  MeshTrustStore *ts;
  GBytes *manifest;
  MeshWireUpdateManifest *m;
} ApplyFixture;

static void
apply_setup (ApplyFixture *f, gconstpointer unused)
{
  f->dir = make_tmpdir ();
  f->target = g_build_filename (f->dir, "program", NULL);
  f->backup = g_build_filename (f->dir, "program.bak", NULL);
  f->data_path = g_build_filename (f->dir, "download", NULL);
  f->old_len = 40000;
  f->old_data = make_data (f->old_len, 7);
  f->new_len = 150000;
  f->new_data = make_data (f->new_len, 8);
  g_assert_true (g_file_set_contents (f->target, (char *) f->old_data,
                                      (gssize) f->old_len, NULL));
  g_assert_cmpint (g_chmod (f->target, 0750), ==, 0);
  g_assert_true (g_file_set_contents (f->data_path, (char *) f->new_data,
                                      (gssize) f->new_len, NULL));
  make_authority (&f->authority, 50);
  f->ts = store_with (&f->authority, 1, 1);
  f->manifest = build_signed (&default_info, f->new_data, f->new_len,
                              &f->authority, 1);
  f->m = parse (f->manifest);
}

static void
apply_teardown (ApplyFixture *f, gconstpointer unused)
{
  rm_tree (f->dir);
  g_free (f->dir);
  g_free (f->target);
  g_free (f->backup);
  g_free (f->data_path);
  g_free (f->old_data);
  g_free (f->new_data);
  mesh_trust_store_free (f->ts);
  g_bytes_unref (f->manifest);
  mesh_wire_free (f->m);
}

static void
assert_file (const char *path, const guint8 *want, gsize len, int mode)
{
  char *contents;
  gsize got;
  GStatBuf st;

  g_assert_true (g_file_get_contents (path, &contents, &got, NULL));
  g_assert_cmpmem (contents, got, want, len);
  g_free (contents);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, mode);
}

static void
test_apply_rollback (ApplyFixture *f, gconstpointer unused)
{
  CheckState st = { FALSE, 0, NULL };
  MeshUpdateOutcome outcome = MESH_UPDATE_APPLIED;
  GError *error = NULL;

  g_assert_false (mesh_update_apply (f->m, f->ts, 7, f->data_path, f->target,
                                     NULL, check_cb, &st, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "status 3"));
  g_assert_nonnull (strstr (error->message, "previous file restored"));
  g_clear_error (&error);
  g_assert_cmpint (outcome, ==, MESH_UPDATE_ROLLED_BACK);
  /* The check ran on the new file... */
  g_assert_cmpuint (st.calls, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (st.seen, NULL), g_bytes_get_size (st.seen),
                   f->new_data, f->new_len);
  /* ...and the old one is back byte for byte, with its mode. */
  assert_file (f->target, f->old_data, f->old_len, 0750);
  /* Nothing left behind: the backup went back into place, no temporaries. */
  g_assert_false (g_file_test (f->backup, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries (f->dir), ==, 2);
  g_bytes_unref (st.seen);
}

static void
test_apply_success (ApplyFixture *f, gconstpointer unused)
{
  CheckState st = { TRUE, 0, NULL };
  MeshUpdateOutcome outcome = MESH_UPDATE_NOT_APPLIED;
  GError *error = NULL;

  g_assert_true (mesh_update_apply (f->m, f->ts, 7, f->data_path, f->target,
                                    NULL, check_cb, &st, &outcome, &error));
  g_assert_no_error (error);
  g_assert_cmpint (outcome, ==, MESH_UPDATE_APPLIED);
  g_assert_cmpuint (st.calls, ==, 1);
  assert_file (f->target, f->new_data, f->new_len, 0750);
  assert_file (f->backup, f->old_data, f->old_len, 0750);
  g_assert_cmpuint (count_entries (f->dir), ==, 3);
  g_bytes_unref (st.seen);
}

static void
test_apply_refused (ApplyFixture *f, gconstpointer unused)
{
  CheckState st = { TRUE, 0, NULL };
  MeshUpdateOutcome outcome = MESH_UPDATE_APPLIED;
  GError *error = NULL;
  guint8 *bad = g_memdup2 (f->new_data, f->new_len);

  /* Data changed on disk after it was verified on arrival. */
  bad[f->new_len / 2] ^= 1;
  g_assert_true (g_file_set_contents (f->data_path, (char *) bad,
                                      (gssize) f->new_len, NULL));
  g_assert_false (mesh_update_apply (f->m, f->ts, 7, f->data_path, f->target,
                                     NULL, check_cb, &st, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpint (outcome, ==, MESH_UPDATE_NOT_APPLIED);
  /* One byte too many, and one too few. */
  for (gssize extra = 1; extra >= -1; extra -= 2)
    {
      g_autofree guint8 *longer = g_malloc0 (f->new_len + 1);
      memcpy (longer, f->new_data, f->new_len);
      g_assert_true (g_file_set_contents (f->data_path, (char *) longer,
                                          (gssize) f->new_len + extra, NULL));
      g_assert_false (mesh_update_apply (f->m, f->ts, 7, f->data_path, f->target,
                                         NULL, check_cb, &st, &outcome, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH);
      g_clear_error (&error);
    }
  g_free (bad);
  g_assert_true (g_file_set_contents (f->data_path, (char *) f->new_data,
                                      (gssize) f->new_len, NULL));

  /* A downgrade, and an untrusted manifest. */
  g_assert_false (mesh_update_apply (f->m, f->ts, 10, f->data_path, f->target,
                                     NULL, check_cb, &st, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DOWNGRADE);
  g_clear_error (&error);
  g_assert_true (mesh_trust_store_remove (f->ts, f->authority.pub.ed_pub));
  g_assert_false (mesh_update_apply (f->m, f->ts, 7, f->data_path, f->target,
                                     NULL, check_cb, &st, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNTRUSTED);
  g_clear_error (&error);

  /* None of it touched the target or ran the check. */
  g_assert_cmpuint (st.calls, ==, 0);
  assert_file (f->target, f->old_data, f->old_len, 0750);
  g_assert_false (g_file_test (f->backup, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries (f->dir), ==, 2);
}

/* A first install whose check fails leaves no file behind. */
static void
test_apply_new_target (ApplyFixture *f, gconstpointer unused)
{
  CheckState st = { FALSE, 0, NULL };
  MeshUpdateOutcome outcome;
  GError *error = NULL;
  g_autofree char *fresh = g_build_filename (f->dir, "fresh", NULL);

  g_assert_false (mesh_update_apply (f->m, f->ts, 0, f->data_path, fresh, NULL,
                                     check_cb, &st, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "new file removed"));
  g_clear_error (&error);
  g_assert_cmpint (outcome, ==, MESH_UPDATE_ROLLED_BACK);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_clear_pointer (&st.seen, g_bytes_unref);

  st.pass = TRUE;
  g_assert_true (mesh_update_apply (f->m, f->ts, 0, f->data_path, fresh, NULL,
                                    check_cb, &st, &outcome, &error));
  g_assert_no_error (error);
  assert_file (fresh, f->new_data, f->new_len, 0755);
  g_clear_pointer (&st.seen, g_bytes_unref);
}

/* ---- Notice, queries and the codec rules of the new messages */

static void
test_notice (void)
{
  MeshIdentity ids[3];
  gsize len = 9000;
  g_autofree guint8 *data = make_data (len, 9);
  g_autoptr (MeshTrustStore) ts = NULL;
  g_autoptr (GBytes) b = NULL;
  g_autoptr (GBytes) nb = NULL;
  g_autoptr (GBytes) other = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (MeshWireUpdateManifest) om = NULL;
  g_autoptr (MeshWireUpdateNotice) n = NULL;
  g_autoptr (GBytes) unsig = NULL;
  g_autoptr (MeshWireUpdateManifest) um = NULL;
  MeshUpdateInfo info2 = default_info;
  GError *error = NULL;

  for (guint i = 0; i < 3; i++)
    make_authority (&ids[i], (guint8) (60 + i));
  ts = store_with (ids, 2, 2);
  b = build_signed (&default_info, data, len, ids, 2);
  m = parse (b);
  nb = mesh_update_notice_build (m, &error);
  g_assert_no_error (error);
  /* Small: no chunk list, no changelog. */
  g_assert_cmpuint (g_bytes_get_size (nb), <, 300);
  n = mesh_update_notice_parse (g_bytes_get_data (nb, NULL),
                                g_bytes_get_size (nb), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n->n_signatures, ==, 2);
  g_assert_true (mesh_update_notice_verify (n, ts, 7, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_update_notice_matches (n, m, &error));
  g_assert_no_error (error);

  /* Same rules as the manifest. */
  g_assert_false (mesh_update_notice_verify (n, ts, 10, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DOWNGRADE);
  g_clear_error (&error);
  g_assert_true (mesh_trust_store_set_threshold (ts, 3, NULL));
  g_assert_false (mesh_update_notice_verify (n, ts, 7, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNTRUSTED);
  g_clear_error (&error);
  g_assert_true (mesh_trust_store_set_threshold (ts, 2, NULL));
  n->manifest_id.data[3] ^= 1;
  g_assert_false (mesh_update_notice_verify (n, ts, 7, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  g_assert_false (mesh_update_notice_matches (n, m, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "manifest ID"));
  g_clear_error (&error);
  n->manifest_id.data[3] ^= 1;

  /* A manifest of another update is not the one announced. */
  info2.version = 11;
  other = build_signed (&info2, data, len, ids, 1);
  om = parse (other);
  g_assert_false (mesh_update_notice_matches (n, om, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  /* A hint changed in transit is caught when the manifest arrives. */
  n->size++;
  g_assert_false (mesh_update_notice_matches (n, m, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "size"));
  g_clear_error (&error);

  /* Nothing to announce without a signature. */
  unsig = build_signed (&default_info, data, len, NULL, 0);
  um = parse (unsig);
  g_assert_null (mesh_update_notice_build (um, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
}

static MeshWireResponse *
ask (GBytes *query, GPtrArray *published, gboolean authorized)
{
  GError *error = NULL;
  g_autoptr (MeshWireQuery) q = mesh_wire_decode_query (g_bytes_get_data (query, NULL),
                                                        g_bytes_get_size (query),
                                                        &error);
  g_autoptr (GBytes) answer = NULL;
  MeshWireResponse *r;

  g_assert_no_error (error);
  answer = mesh_update_query_answer (q, published, authorized);
  r = mesh_wire_decode_response (g_bytes_get_data (answer, NULL),
                                 g_bytes_get_size (answer), &error);
  g_assert_no_error (error);
  return r;
}

static void
test_query (void)
{
  MeshIdentity a;
  gsize len = 3000;
  g_autofree guint8 *data = make_data (len, 10);
  g_autoptr (GPtrArray) published = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (MeshTrustStore) ts = NULL;
  const guint8 qid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  guint8 other_qid[16] = { 0 };
  GError *error = NULL;
  guint64 versions[] = { 10, 12, 11 };
  guint8 id12[32];

  make_authority (&a, 70);
  ts = store_with (&a, 1, 1);
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MeshUpdateInfo info = default_info;
      info.version = versions[i];
      g_ptr_array_add (published, build_signed (&info, data, len, &a, 1));
    }
  {
    g_autoptr (MeshWireUpdateManifest) m12 = parse (g_ptr_array_index (published, 1));
    mesh_update_manifest_digest (m12, id12);
  }

  /* Latest: the newest, whatever the order published. */
  {
    g_autoptr (GBytes) q = mesh_update_query_latest (qid, "meshara-demo", 10, &error);
    g_autoptr (MeshWireResponse) r = NULL;
    g_autoptr (MeshWireUpdateManifest) m = NULL;

    g_assert_no_error (error);
    r = ask (q, published, TRUE);
    g_assert_cmpint (r->code, ==, MESH_WIRE_RESPONSE_OK);
    m = mesh_update_query_result (r, qid, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (m->version, ==, 12);
    g_assert_true (mesh_update_manifest_verify (m, ts, 10, NULL, &error));
    g_assert_no_error (error);
    /* Not the answer to another question. */
    g_assert_null (mesh_update_query_result (r, other_qid, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_clear_error (&error);
  }
  /* Nothing newer: NOT_FOUND. */
  {
    g_autoptr (GBytes) q = mesh_update_query_latest (qid, "meshara-demo", 12, &error);
    g_autoptr (MeshWireResponse) r = ask (q, published, TRUE);
    g_assert_cmpint (r->code, ==, MESH_WIRE_RESPONSE_NOT_FOUND);
    g_assert_null (mesh_update_query_result (r, qid, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  /* Refused asker: UNAUTHORIZED. */
  {
    g_autoptr (GBytes) q = mesh_update_query_latest (qid, "meshara-demo", 0, &error);
    g_autoptr (MeshWireResponse) r = ask (q, published, FALSE);
    g_assert_cmpint (r->code, ==, MESH_WIRE_RESPONSE_UNAUTHORIZED);
    g_assert_null (mesh_update_query_result (r, qid, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION);
    g_clear_error (&error);
  }
  /* By manifest ID, and an unknown one. */
  {
    g_autoptr (GBytes) q = mesh_update_query_manifest (qid, id12);
    g_autoptr (MeshWireResponse) r = ask (q, published, TRUE);
    g_autoptr (MeshWireUpdateManifest) m = mesh_update_query_result (r, qid, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (m->version, ==, 12);
  }
  {
    g_autoptr (GBytes) q = NULL;
    g_autoptr (MeshWireResponse) r = NULL;
    id12[0] ^= 1;
    q = mesh_update_query_manifest (qid, id12);
    r = ask (q, published, TRUE);
    g_assert_cmpint (r->code, ==, MESH_WIRE_RESPONSE_NOT_FOUND);
  }
  /* A malformed body: ERROR. */
  {
    MeshWireQuery q = MESHARA__V1__QUERY_MESSAGE__INIT;
    g_autoptr (GBytes) enc = NULL;
    g_autoptr (MeshWireResponse) r = NULL;
    guint8 junk[3] = { 0xff, 0xff, 0xff };
    q.query_id.data = (guint8 *) qid;
    q.query_id.len = 16;
    q.query_type = (char *) MESH_WIRE_QUERY_UPDATE_LATEST;
    q.body.data = junk;
    q.body.len = sizeof junk;
    enc = mesh_wire_encode (&q.base);
    r = ask (enc, published, TRUE);
    g_assert_cmpint (r->code, ==, MESH_WIRE_RESPONSE_ERROR);
    g_assert_null (mesh_update_query_result (r, qid, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "malformed"));
    g_clear_error (&error);
  }
  /* The asker's name follows the wire rules. */
  g_assert_null (mesh_update_query_latest (qid, "", 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
}

/* Decoding the new messages applies their bounds. */
static void
test_wire_rules (void)
{
  MeshIdentity a;
  g_autoptr (MeshTrustStore) ts = mesh_trust_store_new ();
  g_autoptr (GBytes) enc = NULL;
  g_autoptr (MeshWireTrustStore) m = NULL;
  GError *error = NULL;
  gsize len = 2048;
  g_autofree guint8 *data = make_data (len, 11);

  make_authority (&a, 80);
  g_assert_true (mesh_trust_store_add (ts, a.pub.ed_pub, "A", "", "",
                                       MESH_TRUST_FULL, 0, NULL));
  enc = mesh_trust_store_encode (ts);
  m = mesh_wire_decode_trust_store (g_bytes_get_data (enc, NULL),
                                    g_bytes_get_size (enc), &error);
  g_assert_no_error (error);

  /* A trust level out of range, a key twice, an unknown file version. */
  m->authorities[0]->level = 9;
  g_assert_false (mesh_wire_validate (&m->base, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "TrustStore.authorities[0].level"));
  g_clear_error (&error);
  m->authorities[0]->level = MESH_WIRE_TRUST_FULL;
  {
    MeshWireTrustedAuthority *two[2] = { m->authorities[0], m->authorities[0] };
    MeshWireTrustedAuthority **saved = m->authorities;
    m->authorities = two;
    m->n_authorities = 2;
    g_assert_false (mesh_wire_validate (&m->base, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "same authority"));
    g_clear_error (&error);
    m->authorities = saved;
    m->n_authorities = 1;
  }
  m->format_version = 2;
  g_assert_false (mesh_wire_validate (&m->base, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION);
  g_clear_error (&error);
  m->format_version = 1;
  g_assert_true (mesh_wire_validate (&m->base, &error));

  /* A manifest: chunk count must fit size and chunk size; the count is
     bounded before anything is allocated. */
  {
    g_autoptr (GBytes) b = build_signed (&default_info, data, len, &a, 1);
    g_autoptr (MeshWireUpdateManifest) mf = parse (b);
    mf->size = 100000;
    g_assert_false (mesh_wire_validate (&mf->base, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "chunk_hashes"));
    g_clear_error (&error);
    mf->size = (guint64) MESH_WIRE_MAX_UPDATE_SIZE + 1;
    g_assert_false (mesh_wire_validate (&mf->base, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
    g_clear_error (&error);
    mf->size = len;
    mf->chunk_size = 10;
    g_assert_false (mesh_wire_validate (&mf->base, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
    g_clear_error (&error);
  }
  {
    /* 8193 chunk hashes: refused by the walk before protobuf-c unpacks. */
    GByteArray *raw = g_byte_array_new ();
    guint8 entry[34];
    memset (entry, 0xab, sizeof entry);
    entry[0] = (9 << 3) | 2;
    entry[1] = 32;
    for (guint i = 0; i < MESH_WIRE_MAX_UPDATE_CHUNKS + 1; i++)
      g_byte_array_append (raw, entry, sizeof entry);
    g_assert_null (mesh_update_manifest_parse (raw->data, raw->len, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
    g_assert_nonnull (strstr (error->message, "chunk_hashes"));
    g_clear_error (&error);
    g_byte_array_unref (raw);
  }
}

/* ---- The public API */

static gboolean
public_check (const char *target, gpointer user_data, GError **error)
{
  guint *calls = user_data;

  (*calls)++;
  g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                       "refused by the test");
  return FALSE;
}

static void
test_public_api (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *store_path = g_build_filename (dir, "trust", NULL);
  g_autofree char *data_path = g_build_filename (dir, "data", NULL);
  g_autofree char *target = g_build_filename (dir, "target", NULL);
  g_autoptr (MesharaIdentity) a = NULL;
  g_autoptr (MesharaIdentity) b = NULL;
  g_autoptr (MesharaTrustStore) store = meshara_trust_store_new ();
  g_autoptr (MesharaTrustStore) back = NULL;
  g_autoptr (GBytes) unsig = NULL;
  g_autoptr (GBytes) by_a = NULL;
  g_autoptr (GBytes) by_b = NULL;
  g_autoptr (GBytes) both = NULL;
  g_autofree char *key_a = NULL;
  g_autofree char *key_b = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *name = NULL;
  g_autofree char *fp_a = NULL;
  g_autofree char *label = NULL;
  g_autofree char *changelog = NULL;
  gsize len = 200000;
  g_autofree guint8 *data = make_data (len, 12);
  MesharaTrustLevel level = 0;
  MesharaUpdateOutcome outcome = MESHARA_UPDATE_APPLIED;
  guint64 version = 0, size = 0;
  guint n_sigs = 99, calls = 0;
  guint8 seed[32];
  GError *error = NULL;

  memset (seed, 1, sizeof seed);
  a = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  memset (seed, 2, sizeof seed);
  b = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  key_a = meshara_identity_get_public_key (a);
  key_b = meshara_identity_get_public_key (b);

  g_assert_true (meshara_trust_store_add (store, key_a, "Alpha", "desc",
                                          "https://a.example/",
                                          MESHARA_TRUST_LEVEL_UPDATE, &error));
  g_assert_no_error (error);
  g_assert_true (meshara_trust_store_add (store, key_b, "Beta", NULL, NULL,
                                          meshara_trust_level_from_string ("full"),
                                          &error));
  g_assert_false (meshara_trust_store_add (store, "mshr1nonsense", "X", NULL,
                                           NULL, MESHARA_TRUST_LEVEL_FULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_true (meshara_trust_store_set_threshold (store, 2, &error));
  g_assert_cmpuint (meshara_trust_store_get_n_authorities (store), ==, 2);
  g_assert_true (meshara_trust_store_get_authority (store, 0, &fp, &name, NULL,
                                                    NULL, &level));
  fp_a = meshara_identity_get_fingerprint (a);
  g_assert_cmpstr (fp, ==, fp_a);
  g_assert_cmpstr (name, ==, "Alpha");
  g_assert_cmpint (level, ==, MESHARA_TRUST_LEVEL_UPDATE);
  g_assert_cmpstr (meshara_trust_level_to_string (level), ==, "update");
  g_assert_false (meshara_trust_store_get_authority (store, 2, NULL, NULL, NULL,
                                                     NULL, NULL));
  g_assert_true (meshara_trust_store_save (store, store_path, &error));
  back = meshara_trust_store_load (store_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (meshara_trust_store_get_n_authorities (back), ==, 2);
  g_assert_cmpuint (meshara_trust_store_get_threshold (back), ==, 2);

  /* Publish with co-signing. */
  g_assert_true (g_file_set_contents (data_path, (char *) data, (gssize) len, NULL));
  unsig = meshara_update_manifest_new_from_file (data_path, "app", 3, "0.3",
                                                 0, "notes", &error);
  g_assert_no_error (error);
  by_a = meshara_update_manifest_sign (unsig, a, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GBytes) exported = meshara_update_manifest_export_unsigned (by_a, &error);
    g_assert_true (g_bytes_equal (exported, unsig));
    by_b = meshara_update_manifest_sign (exported, b, &error);
    g_assert_no_error (error);
  }
  g_assert_false (meshara_update_manifest_verify (by_a, back, 2, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_UNTRUSTED);
  g_clear_error (&error);
  both = meshara_update_manifest_merge (by_a, by_b, &error);
  g_assert_no_error (error);
  g_clear_pointer (&name, g_free);
  g_assert_true (meshara_update_manifest_get_info (both, &name, &version, &label,
                                                   &size, &changelog, &n_sigs,
                                                   &error));
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "app");
  g_assert_cmpuint (version, ==, 3);
  g_assert_cmpstr (label, ==, "0.3");
  g_assert_cmpuint (size, ==, len);
  g_assert_cmpstr (changelog, ==, "notes");
  g_assert_cmpuint (n_sigs, ==, 2);
  g_assert_true (meshara_update_manifest_verify (both, back, 2, &error));
  g_assert_no_error (error);
  g_assert_false (meshara_update_manifest_verify (both, back, 3, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_DOWNGRADE);
  g_clear_error (&error);
  g_assert_true (meshara_update_verify_file (both, data_path, &error));

  /* Apply: the check refuses, the old file comes back. */
  g_assert_true (g_file_set_contents (target, "old contents\n", -1, NULL));
  g_assert_false (meshara_update_apply (both, back, 2, data_path, target,
                                        public_check, &calls, &outcome, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (outcome, ==, MESHARA_UPDATE_ROLLED_BACK);
  g_assert_cmpuint (calls, ==, 1);
  {
    g_autofree char *now = NULL;
    g_assert_true (g_file_get_contents (target, &now, NULL, NULL));
    g_assert_cmpstr (now, ==, "old contents\n");
  }
  g_assert_true (meshara_update_apply (both, back, 2, data_path, target, NULL,
                                       NULL, &outcome, &error));
  g_assert_no_error (error);
  g_assert_cmpint (outcome, ==, MESHARA_UPDATE_APPLIED);

  g_assert_true (meshara_trust_store_remove (back, key_b, &error));
  g_assert_false (meshara_trust_store_remove (back, key_b, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  rm_tree (dir);
}

/* ---- Hostile input: mutated encodings never crash the parsers, and
 * whatever parses still passes validation and is judged by verify. */

static void
test_mutations (void)
{
  MeshIdentity a;
  g_autoptr (MeshTrustStore) ts = NULL;
  g_autoptr (GBytes) man = NULL;
  g_autoptr (GBytes) store = NULL;
  g_autoptr (GBytes) notice = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  gsize len = 3 * 1024 + 5;
  g_autofree guint8 *data = make_data (len, 13);
  MeshUpdateInfo info = default_info;
  TestRng rng = { 77 };
  guint parsed = 0, accepted = 0;

  make_authority (&a, 90);
  ts = store_with (&a, 1, 1);
  info.chunk_size = 1024;
  man = build_signed (&info, data, len, &a, 1);
  m = parse (man);
  notice = mesh_update_notice_build (m, NULL);
  g_assert_nonnull (notice);
  store = mesh_trust_store_encode (ts);

  for (guint round = 0; round < 1000; round++)
    {
      GBytes *src = round % 3 == 0 ? man : round % 3 == 1 ? store : notice;
      gsize n = g_bytes_get_size (src);
      g_autofree guint8 *buf = g_memdup2 (g_bytes_get_data (src, NULL), n);
      guint8 r[4];
      GError *error = NULL;

      test_rng (&rng, r, sizeof r);
      /* Flip a byte, or cut the input short. */
      if (r[0] & 1)
        buf[((gsize) r[1] << 8 | r[2]) % n] ^= (guint8) (r[3] | 1);
      else
        n = ((gsize) r[1] << 8 | r[2]) % n;

      if (src == man)
        {
          g_autoptr (MeshWireUpdateManifest) x = mesh_update_manifest_parse (buf, n, &error);
          if (x == NULL)
            {
              g_assert_nonnull (error);
              g_clear_error (&error);
              continue;
            }
          parsed++;
          g_assert_true (mesh_wire_validate (&x->base, NULL));
          if (mesh_update_manifest_verify (x, ts, 0, NULL, &error))
            {
              /* Only a change outside what is signed can keep it valid;
                 the data must then still match. */
              accepted++;
              g_assert_true (mesh_update_verify_data (x, data, len, NULL));
            }
          else
            g_clear_error (&error);
        }
      else if (src == store)
        {
          MeshTrustStore *x = mesh_trust_store_decode (buf, n, &error);
          if (x == NULL)
            {
              g_assert_nonnull (error);
              g_clear_error (&error);
              continue;
            }
          parsed++;
          g_assert_cmpuint (mesh_trust_store_get_threshold (x), >=, 1);
          mesh_trust_store_free (x);
        }
      else
        {
          g_autoptr (MeshWireUpdateNotice) x = mesh_update_notice_parse (buf, n, &error);
          if (x == NULL)
            {
              g_assert_nonnull (error);
              g_clear_error (&error);
              continue;
            }
          parsed++;
          if (!mesh_update_notice_verify (x, ts, 0, &error))
            g_clear_error (&error);
          else if (!mesh_update_notice_matches (x, m, &error))
            g_clear_error (&error);
        }
    }
  g_test_message ("%u of 1000 mutations parsed, %u manifests still accepted",
                  parsed, accepted);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Files the tests write with g_file_set_contents() get 0644 whatever
     the caller's umask, as the trust store's permission check expects. */
  umask (022);

  g_test_add_func ("/update/trust/basic", test_trust_basic);
  g_test_add_func ("/update/trust/persist", test_trust_persist);
  g_test_add_func ("/update/manifest/build", test_manifest_build);
  g_test_add_func ("/update/manifest/threshold", test_threshold);
  g_test_add_func ("/update/manifest/cosign", test_cosign);
  g_test_add_func ("/update/manifest/rejections", test_rejections);
  g_test_add_func ("/update/notice", test_notice);
  g_test_add_func ("/update/query", test_query);
  g_test_add_func ("/update/wire-rules", test_wire_rules);
  g_test_add_func ("/update/chunks/verify", test_chunks_verify);
  g_test_add_func ("/update/chunks/resume", test_chunks_resume);
  g_test_add_func ("/update/chunks/evict", test_chunks_evict);
  g_test_add_func ("/update/chunks/transfer", test_chunks_transfer);
  g_test_add_func ("/update/chunks/pin", test_chunks_pin);
  g_test_add ("/update/apply/rollback", ApplyFixture, NULL, apply_setup,
              test_apply_rollback, apply_teardown);
  g_test_add ("/update/apply/success", ApplyFixture, NULL, apply_setup,
              test_apply_success, apply_teardown);
  g_test_add ("/update/apply/refused", ApplyFixture, NULL, apply_setup,
              test_apply_refused, apply_teardown);
  g_test_add ("/update/apply/new-target", ApplyFixture, NULL, apply_setup,
              test_apply_new_target, apply_teardown);
  g_test_add_func ("/update/public-api", test_public_api);
  g_test_add_func ("/update/mutations", test_mutations);
  return g_test_run ();
}
