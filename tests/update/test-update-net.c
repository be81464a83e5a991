/* Signed updates over the real network: ten MesharaNodes on one
 * GMainContext, TLS links on 127.0.0.1.  An authority publishes a
 * package; every node trusting it ends with the same bytes (SHA-256
 * compared); a downloader stopped half-way and started again on the
 * same storage fetches only the chunks it lacked; a package published
 * by an untrusted node is rejected by every other node and fetched by
 * none.  Every wait has a deadline.
 *
 * MESHARA_TEST_UPDATE_KIB sets the package size (default 4 MiB; 512 KiB
 * under a test wrapper such as valgrind). */
#include "config.h"

#include "../testutil.h"

#include <string.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#define N_NODES 10
#define AUTHORITY 0
#define UNTRUSTED 1
#define RESUMER (N_NODES - 1)

static gint64 wait_limit_us = 20 * G_USEC_PER_SEC;

/* Iterate the default context until cond holds; fail with what after the
 * deadline.  A periodic source wakes the loop to check it. */
#define WAIT_FOR(cond, what)                                                 \
  G_STMT_START {                                                             \
    gint64 wait_deadline_ = g_get_monotonic_time () + wait_limit_us;         \
    while (!(cond))                                                          \
      {                                                                      \
        if (g_get_monotonic_time () > wait_deadline_)                        \
          g_error ("%s:%d: timed out after %d s waiting for %s", __FILE__,   \
                   __LINE__, (int) (wait_limit_us / G_USEC_PER_SEC), what);  \
        g_main_context_iteration (NULL, TRUE);                               \
      }                                                                      \
  } G_STMT_END

typedef struct {
  MesharaNode *node;
  char *key;
  char *address;
  char *dir;
  guint connected;
  gint64 available_us;          /* update-available of the trusted update */
  gint64 complete_us;
  char *complete_path;
  char *complete_id;
  guint failed;
  guint rejected;               /* update-rejected signals */
  guint progress;               /* update-progress signals */
  guint stop_at;                /* stop the node at this many chunks; 0 no */
  guint stopped_at;             /* chunks held when it stopped */
} TestNode;

typedef struct {
  TestNode nodes[N_NODES];
  char *root;
  guint tick;
  MesharaTrustStore *trust;
} Fixture;

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) id;
  t->connected++;
}

static void
on_available (MesharaNode *node, const char *id, const char *name,
              guint64 version, gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) id;
  (void) name;
  (void) version;
  if (t->available_us == 0)
    t->available_us = g_get_monotonic_time ();
}

static void
on_progress (MesharaNode *node, const char *id, guint done, guint total,
             gpointer user_data)
{
  TestNode *t = user_data;

  (void) id;
  g_assert_cmpuint (done, <=, total);
  t->progress++;
  if (t->stop_at > 0 && done >= t->stop_at)
    {
      t->stopped_at = done;
      t->stop_at = 0;
      meshara_node_stop (node);
    }
}

static void
on_complete (MesharaNode *node, const char *id, const char *path,
             gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  g_assert_null (t->complete_path);
  t->complete_us = g_get_monotonic_time ();
  t->complete_path = g_strdup (path);
  t->complete_id = g_strdup (id);
}

static void
on_failed (MesharaNode *node, const char *id, const char *reason,
           gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  g_test_message ("update %s failed: %s", id, reason);
  t->failed++;
}

static void
on_rejected (MesharaNode *node, const char *id, const char *reason,
             gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  g_test_message ("update %s rejected: %s", id, reason);
  t->rejected++;
}

static void
node_start (TestNode *t)
{
  GError *error = NULL;

  g_assert_true (meshara_node_start (t->node, &error));
  g_assert_no_error (error);
  g_free (t->address);
  t->address = g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (t->node));
}

static void
node_setup (Fixture *f, TestNode *t, guint i, TestRng *rng)
{
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *identity;
  GError *error = NULL;

  test_rng (rng, seed, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  t->node = meshara_node_new (identity);
  t->key = meshara_identity_get_public_key (identity);
  meshara_identity_unref (identity);
  t->dir = g_strdup_printf ("%s/node%u", f->root, i);
  meshara_node_set_storage_path (t->node, t->dir);
  g_signal_connect (t->node, "peer-connected", G_CALLBACK (on_connected), t);
  g_signal_connect (t->node, "update-available", G_CALLBACK (on_available), t);
  g_signal_connect (t->node, "update-progress", G_CALLBACK (on_progress), t);
  g_signal_connect (t->node, "update-complete", G_CALLBACK (on_complete), t);
  g_signal_connect (t->node, "update-failed", G_CALLBACK (on_failed), t);
  g_signal_connect (t->node, "update-rejected", G_CALLBACK (on_rejected), t);
}

static void
link_nodes (TestNode *from, TestNode *to)
{
  GError *error = NULL;
  guint a = from->connected, b = to->connected;

  g_assert_true (meshara_node_add_peer (from->node, to->address, to->key,
                                        &error));
  g_assert_no_error (error);
  WAIT_FOR (from->connected > a && to->connected > b,
            "both ends of a new link to report peer-connected");
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  TestRng rng = { 0x5eed };
  GError *error = NULL;

  (void) data;
  f->root = g_dir_make_tmp ("meshara-update-net-XXXXXX", &error);
  g_assert_no_error (error);
  f->tick = g_timeout_add (20, wake, NULL);
  for (guint i = 0; i < N_NODES; i++)
    node_setup (f, &f->nodes[i], i, &rng);
  /* Everybody trusts the authority, and only it. */
  f->trust = meshara_trust_store_new ();
  g_assert_true (meshara_trust_store_add (f->trust, f->nodes[AUTHORITY].key,
                                          "test authority", NULL, NULL,
                                          MESHARA_TRUST_LEVEL_UPDATE, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < N_NODES; i++)
    {
      meshara_node_set_trust_store (f->nodes[i].node, f->trust);
      node_start (&f->nodes[i]);
    }
  /* A connected mesh with more than one path to most nodes. */
  for (guint i = 1; i < N_NODES; i++)
    {
      link_nodes (&f->nodes[i], &f->nodes[i - 1]);
      if (i >= 3)
        link_nodes (&f->nodes[i], &f->nodes[i - 3]);
    }
}

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d != NULL)
    {
      while ((name = g_dir_read_name (d)) != NULL)
        {
          char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
          g_free (child);
        }
      g_dir_close (d);
    }
  g_remove (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  for (guint i = 0; i < N_NODES; i++)
    {
      TestNode *t = &f->nodes[i];

      meshara_node_stop (t->node);
      g_clear_object (&t->node);
      g_free (t->key);
      g_free (t->address);
      g_free (t->dir);
      g_free (t->complete_path);
      g_free (t->complete_id);
    }
  meshara_trust_store_unref (f->trust);
  g_source_remove (f->tick);
  rm_rf (f->root);
  g_free (f->root);
}

/* A package of size random bytes signed by signer; the data file is
 * written under the fixture's root as name. */
static GBytes *
make_package (Fixture *f, MesharaNode *signer, const char *name, gsize size,
              guint64 seed, char **data_path, char **sha256)
{
  TestRng rng = { seed };
  guint8 *data = g_malloc (size);
  GError *error = NULL;
  GBytes *manifest, *is_signed;

  test_rng (&rng, data, size);
  *data_path = g_build_filename (f->root, name, NULL);
  g_assert_true (g_file_set_contents (*data_path, (const char *) data,
                                      (gssize) size, &error));
  g_assert_no_error (error);
  *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
  g_free (data);
  manifest = meshara_update_manifest_new_from_file (*data_path, name, 2, "2.0",
                                                    0, "test package", &error);
  g_assert_no_error (error);
  is_signed = meshara_update_manifest_sign (manifest,
                                            meshara_node_get_identity (signer),
                                            &error);
  g_assert_no_error (error);
  g_bytes_unref (manifest);
  return is_signed;
}

static char *
file_sha256 (const char *path)
{
  char *contents = NULL, *sum;
  gsize len = 0;
  GError *error = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) contents,
                                     len);
  g_free (contents);
  return sum;
}

/* What node lists for update id: state and chunks held; FALSE if absent. */
static gboolean
listed (MesharaNode *node, const char *id, char **state, guint *done,
        guint *total)
{
  GVariant *list = meshara_node_list_updates (node);
  GVariantIter iter;
  const char *lid, *name, *lstate, *path;
  guint64 version;
  guint32 d, n;
  gboolean found = FALSE;

  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&st&suu&s)", &lid, &name, &version,
                              &lstate, &d, &n, &path))
    if (strcmp (lid, id) == 0)
      {
        found = TRUE;
        if (state)
          *state = g_strdup (lstate);
        if (done)
          *done = d;
        if (total)
          *total = n;
      }
  g_variant_unref (list);
  return found;
}

static guint
count_complete (Fixture *f)
{
  guint n = 0;

  for (guint i = 0; i < N_NODES; i++)
    if (f->nodes[i].complete_path != NULL)
      n++;
  return n;
}

static gboolean
all_rejected (Fixture *f, guint publisher)
{
  for (guint i = 0; i < N_NODES; i++)
    if (i != publisher && f->nodes[i].rejected == 0)
      return FALSE;
  return TRUE;
}

static void
test_distribute (Fixture *f, gconstpointer data)
{
  const char *env = g_getenv ("MESHARA_TEST_UPDATE_KIB");
  const char *wrapper = g_getenv ("MESHARA_TEST_WRAPPER");
  gsize size = (wrapper && *wrapper ? 512 : 4096) * (gsize) 1024;
  g_autofree char *data_path = NULL, *sha = NULL, *id = NULL;
  g_autofree char *bad_path = NULL, *bad_sha = NULL, *bad_id = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GBytes) bad = NULL;
  TestNode *resumer = &f->nodes[RESUMER];
  GError *error = NULL;
  guint total_chunks, held_at_restart = 0, total = 0;
  guint64 fetched = 0, served = 0, rejected = 0, served_all = 0;
  gint64 published_us, last_us = 0;
  double slowest = -1, fastest = 0;

  (void) data;
  if (env != NULL)
    size = (gsize) g_ascii_strtoull (env, NULL, 10) * 1024;
  if (wrapper && *wrapper)
    wait_limit_us = 120 * G_USEC_PER_SEC;
  g_assert_cmpuint (size, >, 64 * 1024);
  total_chunks = (guint) ((size + 65535) / 65536);
  manifest = make_package (f, f->nodes[AUTHORITY].node, "app", size, 42,
                           &data_path, &sha);

  /* The resumer stops itself half-way through. */
  resumer->stop_at = total_chunks / 2;
  published_us = g_get_monotonic_time ();
  id = meshara_node_publish_update (f->nodes[AUTHORITY].node, manifest,
                                    data_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_assert_true (listed (f->nodes[AUTHORITY].node, id, NULL, NULL, NULL));

  WAIT_FOR (count_complete (f) == N_NODES - 2
            && !meshara_node_is_running (resumer->node),
            "every node but the resumer to hold the package, and the "
            "resumer to stop half-way");
  g_assert_cmpuint (resumer->stopped_at, >=, total_chunks / 2);
  g_assert_cmpuint (resumer->stopped_at, <, total_chunks);
  g_assert_null (resumer->complete_path);

  /* Started again on the same storage: it takes up the manifest it kept
   * and what the cache holds before any link is up. */
  node_start (resumer);
  {
    g_autofree char *state = NULL;

    g_assert_true (listed (resumer->node, id, &state, &held_at_restart, &total));
    g_assert_cmpstr (state, ==, "fetching");
  }
  g_assert_cmpuint (total, ==, total_chunks);
  g_assert_cmpuint (held_at_restart, >=, resumer->stopped_at);
  g_assert_cmpuint (held_at_restart, <, total_chunks);
  WAIT_FOR (resumer->complete_path != NULL,
            "the restarted downloader to finish the package");
  meshara_node_get_update_counters (resumer->node, &fetched, &served, &rejected);
  g_test_message ("resumer: %u of %u chunks held at the stop, %u at the "
                  "restart, %" G_GUINT64_FORMAT " fetched after it",
                  resumer->stopped_at, total_chunks, held_at_restart, fetched);
  /* No finished chunk is fetched again. */
  g_assert_cmpuint (fetched, ==, total_chunks - held_at_restart);

  for (guint i = 0; i < N_NODES; i++)
    {
      TestNode *t = &f->nodes[i];
      g_autofree char *got = NULL;
      double mbps;

      meshara_node_get_update_counters (t->node, NULL, &served, NULL);
      served_all += served;
      g_assert_cmpuint (t->failed, ==, 0);
      if (i == AUTHORITY)
        {
          g_assert_null (t->complete_path);
          continue;
        }
      g_assert_nonnull (t->complete_path);
      g_assert_cmpstr (t->complete_id, ==, id);
      got = file_sha256 (t->complete_path);
      g_assert_cmpstr (got, ==, sha);
      if (i == RESUMER)
        continue;
      g_test_message ("node %u: announced after %.3f s, complete after %.3f s",
                      i, (double) (t->available_us - published_us) / 1e6,
                      (double) (t->complete_us - published_us) / 1e6);
      last_us = MAX (last_us, t->complete_us);
      mbps = (double) size / 1e6
             / ((double) (t->complete_us - t->available_us) / 1e6);
      slowest = slowest < 0 ? mbps : MIN (slowest, mbps);
      fastest = MAX (fastest, mbps);
    }
  g_test_message ("%u nodes hold the %.1f MiB package %.3f s after it was "
                  "published; per downloader %.1f to %.1f MB/s; %"
                  G_GUINT64_FORMAT " chunks served (counted since the "
                  "last start)", N_NODES - 2, (double) size / 1048576,
                  (double) (last_us - published_us) / 1e6, slowest, fastest,
                  served_all);

  /* The same from a node nobody trusts: refused everywhere. */
  bad = make_package (f, f->nodes[UNTRUSTED].node, "evil", 256 * 1024, 7,
                      &bad_path, &bad_sha);
  for (guint i = 0; i < N_NODES; i++)
    f->nodes[i].rejected = 0;
  bad_id = meshara_node_publish_update (f->nodes[UNTRUSTED].node, bad,
                                        bad_path, &error);
  g_assert_no_error (error);
  WAIT_FOR (all_rejected (f, UNTRUSTED),
            "every node to reject the untrusted update");
  for (guint i = 0; i < N_NODES; i++)
    {
      if (i == UNTRUSTED)
        continue;
      g_assert_cmpuint (f->nodes[i].rejected, ==, 1);
      meshara_node_get_update_counters (f->nodes[i].node, NULL, NULL, &rejected);
      g_assert_cmpuint (rejected, >=, 1);
      g_assert_false (listed (f->nodes[i].node, bad_id, NULL, NULL, NULL));
    }
}

static void
test_not_ready (void)
{
  MesharaNode *node = meshara_node_new (NULL);
  GBytes *junk = g_bytes_new_static ("x", 1);
  GError *error = NULL;
  GVariant *list;
  guint64 fetched = 1, served = 1, rejected = 1;

  g_assert_null (meshara_node_publish_update (node, junk, "/nonexistent",
                                              &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  list = meshara_node_list_updates (node);
  g_assert_cmpuint (g_variant_n_children (list), ==, 0);
  g_variant_unref (list);
  meshara_node_get_update_counters (node, &fetched, &served, &rejected);
  g_assert_cmpuint (fetched + served + rejected, ==, 0);
  g_bytes_unref (junk);
  g_object_unref (node);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/update-net/not-ready", test_not_ready);
  g_test_add ("/update-net/distribute", Fixture, NULL, fixture_setup,
              test_distribute, fixture_teardown);
  return g_test_run ();
}
