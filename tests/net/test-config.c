/* MesharaNode configuration: profiles and explicit overrides, the
 * configuration file (a valid one applied, each kind of bad one refused
 * with a message naming file, group and key), the storage path (same
 * identity and peers dialled again after a restart), and reconnection
 * with backoff after a peer went away.  Every wait has a deadline. */
#include "config.h"

#include "../testutil.h"

#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <meshara/meshara.h>

#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

#define WAIT_FOR(cond, what)                                                 \
  G_STMT_START {                                                             \
    gint64 wait_deadline_ = g_get_monotonic_time () + WAIT_LIMIT_US;         \
    while (!(cond))                                                          \
      {                                                                      \
        if (g_get_monotonic_time () > wait_deadline_)                        \
          g_error ("%s:%d: timed out after 10 s waiting for %s",             \
                   __FILE__, __LINE__, what);                                \
        g_main_context_iteration (NULL, TRUE);                               \
      }                                                                      \
  } G_STMT_END

typedef struct {
  MesharaNode *node;
  char *key;
  guint connected;
  guint disconnected;
  GPtrArray *failures;          /* "address reason" of link-failed */
} Peer;

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  (void) id;
  p->connected++;
}

static void
on_disconnected (MesharaNode *node, const char *id, gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  (void) id;
  p->disconnected++;
}

static void
on_link_failed (MesharaNode *node, const char *address, const char *reason,
                gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  g_ptr_array_add (p->failures, g_strdup_printf ("%s %s", address, reason));
}

static MesharaIdentity *
identity_from (guint8 n)
{
  guint8 seed[MESHARA_SEED_LEN];
  GError *error = NULL;
  MesharaIdentity *identity;

  memset (seed, n, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  return identity;
}

/* A stopped node with its signals counted; identity NULL: from storage. */
static void
peer_init (Peer *p, MesharaIdentity *identity)
{
  memset (p, 0, sizeof *p);
  p->node = meshara_node_new (identity);
  p->key = identity ? meshara_identity_get_public_key (identity) : NULL;
  p->failures = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (p->node, "peer-connected", G_CALLBACK (on_connected), p);
  g_signal_connect (p->node, "peer-disconnected",
                    G_CALLBACK (on_disconnected), p);
  g_signal_connect (p->node, "link-failed", G_CALLBACK (on_link_failed), p);
}

static void
peer_clear (Peer *p)
{
  if (p->node != NULL)
    meshara_node_stop (p->node);
  g_clear_object (&p->node);
  g_clear_pointer (&p->key, g_free);
  g_clear_pointer (&p->failures, g_ptr_array_unref);
}

static char *
node_address (MesharaNode *node)
{
  return g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (node));
}

static char *
write_temp (const char *dir, const char *name, const char *contents)
{
  char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_dir (path);
      else
        g_assert_cmpint (g_unlink (path), ==, 0);
      g_free (path);
    }
  g_dir_close (d);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ---------------------------------------------------------------------- */

static void
test_profiles (void)
{
  MesharaIdentity *identity = identity_from (1);
  MesharaNode *node = meshara_node_new (identity);
  MesharaNodeProfile profile;
  GError *error = NULL;

  g_assert_cmpint (meshara_node_get_profile (node), ==,
                   MESHARA_NODE_PROFILE_STANDARD);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 32);
  g_assert_cmpuint (meshara_node_get_fanout (node), ==, 10);

  meshara_node_set_profile (node, MESHARA_NODE_PROFILE_MINIMAL);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 8);
  g_assert_cmpuint (meshara_node_get_fanout (node), ==, 5);
  g_assert_cmpuint (meshara_node_get_max_routes (node), ==, 10000);

  meshara_node_set_profile (node, MESHARA_NODE_PROFILE_BRIDGE);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 128);
  g_assert_cmpuint (meshara_node_get_fanout (node), ==, 20);

  /* Explicit settings win over any profile, before and after. */
  meshara_node_set_max_peers (node, 3);
  meshara_node_set_profile (node, MESHARA_NODE_PROFILE_AUTHORITY);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 3);
  g_assert_cmpuint (meshara_node_get_fanout (node), ==, 10);
  g_object_set (node, "profile", MESHARA_NODE_PROFILE_MINIMAL, NULL);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 3);
  g_assert_cmpuint (meshara_node_get_seen_capacity (node), ==, 8192);

  g_assert_true (meshara_node_profile_from_string ("Authority", &profile,
                                                   &error));
  g_assert_no_error (error);
  g_assert_cmpint (profile, ==, MESHARA_NODE_PROFILE_AUTHORITY);
  g_assert_false (meshara_node_profile_from_string ("huge", &profile, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "\"huge\""));
  g_clear_error (&error);

  g_object_unref (node);
  meshara_identity_unref (identity);
}

static void
test_config_valid (void)
{
  MesharaIdentity *identity = identity_from (2);
  MesharaIdentity *other = identity_from (3);
  MesharaNode *node = meshara_node_new (identity);
  char *dir = g_dir_make_tmp ("meshara-config-XXXXXX", NULL);
  char *key = meshara_identity_get_public_key (other);
  char *text, *path, *storage;
  GError *error = NULL;

  text = g_strdup_printf (
    "# a node\n"
    "[node]\n"
    "listen = 127.0.0.1:0\n"
    "profile = bridge\n"
    "storage = state\n"
    "peers = 127.0.0.1:9,%s\n"
    "bootstrap = 127.0.0.1:10,%s;\n"
    "max-peers = 64\n"
    "\n"
    "[limits]\n"
    "max-routes = 5000\n"
    "seen-capacity = 1024\n"
    "accepts-per-second = 7\n"
    "connects-per-second = 3\n", key, key);
  path = write_temp (dir, "meshara.conf", text);
  g_assert_true (meshara_node_load_config (node, path, &error));
  g_assert_no_error (error);

  g_assert_cmpstr (meshara_node_get_listen_address (node), ==, "127.0.0.1:0");
  g_assert_cmpint (meshara_node_get_profile (node), ==,
                   MESHARA_NODE_PROFILE_BRIDGE);
  g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 64);
  /* Not in the file: the profile's. */
  g_assert_cmpuint (meshara_node_get_fanout (node), ==, 20);
  g_assert_cmpuint (meshara_node_get_max_routes (node), ==, 5000);
  g_assert_cmpuint (meshara_node_get_seen_capacity (node), ==, 1024);
  g_assert_cmpuint (meshara_node_get_accepts_per_second (node), ==, 7);
  g_assert_cmpuint (meshara_node_get_connects_per_second (node), ==, 3);
  /* A relative storage path is relative to the file. */
  storage = g_build_filename (dir, "state", NULL);
  g_assert_cmpstr (meshara_node_get_storage_path (node), ==, storage);

  /* It starts with that configuration; the storage directory appears. */
  g_assert_true (meshara_node_start (node, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (storage, G_FILE_TEST_IS_DIR));
  meshara_node_stop (node);

  g_object_unref (node);
  remove_dir (dir);
  g_free (storage);
  g_free (path);
  g_free (text);
  g_free (key);
  g_free (dir);
  meshara_identity_unref (other);
  meshara_identity_unref (identity);
}

/* "mdns" sets the property, and back; the node is not started (that
 * needs the Avahi daemon: tests/net/test-avahi.c). */
static void
test_config_mdns (void)
{
  MesharaIdentity *identity = identity_from (4);
  MesharaNode *node = meshara_node_new (identity);
  char *dir = g_dir_make_tmp ("meshara-config-XXXXXX", NULL);
  char *path;
  gboolean on = FALSE;
  GError *error = NULL;

  g_assert_false (meshara_node_get_mdns (node));
  path = write_temp (dir, "on.conf", "[node]\nmdns = true\n");
  g_assert_true (meshara_node_load_config (node, path, &error));
  g_assert_no_error (error);
  g_assert_true (meshara_node_get_mdns (node));
  g_object_get (node, "mdns", &on, NULL);
  g_assert_true (on);
  g_free (path);
  path = write_temp (dir, "off.conf", "[node]\nmdns = false\n");
  g_assert_true (meshara_node_load_config (node, path, &error));
  g_assert_no_error (error);
  g_assert_false (meshara_node_get_mdns (node));

  /* Discovery needs a TCP listener: an in-process node refuses it. */
  meshara_node_set_mdns (node, TRUE);
  meshara_node_set_listen_address (node, "mem:config-mdns");
  g_assert_false (meshara_node_start (node, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "needs a TCP listen address"));
  g_clear_error (&error);
  g_assert_false (meshara_node_is_running (node));

  g_object_unref (node);
  remove_dir (dir);
  g_free (path);
  g_free (dir);
  meshara_identity_unref (identity);
}

typedef struct {
  const char *contents;         /* %s: a valid public key */
  gint code;
  const char *message;          /* expected part of the message, after
                                 * the file name */
} BadConfig;

static const BadConfig bad_configs[] = {
  { "[node]\nlisten = 127.0.0.1:0\ncolour = blue\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"colour\": unknown key" },
  { "[node]\n[extras]\nx = 1\n", MESHARA_ERROR_INVALID,
    ": unknown group [extras]" },
  { "[limits]\nmax-peers = 3\n", MESHARA_ERROR_INVALID,
    ": group [limits], key \"max-peers\": unknown key" },
  { "[node]\nmax-peers = 0\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"max-peers\": \"0\" is not a number from 1 to 4096" },
  { "[node]\nfanout = lots\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"fanout\": \"lots\" is not a number from 1 to 50" },
  { "[limits]\nseen-capacity = 99999999999\n", MESHARA_ERROR_INVALID,
    ": group [limits], key \"seen-capacity\": \"99999999999\" is not a number" },
  { "[node]\nprofile = huge\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"profile\": unknown profile \"huge\"" },
  { "[node]\nlisten = nowhere\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"listen\": " },
  { "[node]\nstorage =\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"storage\": the path is empty" },
  { "[node]\npeers = 127.0.0.1:9\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"peers\": \"127.0.0.1:9\" is not ADDRESS:PORT,KEY" },
  { "[node]\nbootstrap = 127.0.0.1:9,%s;127.0.0.1:10,mshr1nokey\n",
    MESHARA_ERROR_INVALID, ": group [node], key \"bootstrap\": entry 2: " },
  { "[node]\npeers = 999.0.0.1:9,%s\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"peers\": entry 1: " },
  { "[node]\nmdns = maybe\n", MESHARA_ERROR_INVALID,
    ": group [node], key \"mdns\": \"maybe\" is not true or false" },
  { "listen = 127.0.0.1:0\n", MESHARA_ERROR_MALFORMED, ": " },
  { "[node\n", MESHARA_ERROR_MALFORMED, ": " },
};

static void
test_config_bad (void)
{
  MesharaIdentity *identity = identity_from (4);
  MesharaIdentity *other = identity_from (5);
  char *key = meshara_identity_get_public_key (other);
  char *dir = g_dir_make_tmp ("meshara-config-XXXXXX", NULL);
  MesharaNode *node = meshara_node_new (identity);
  GError *error = NULL;
  char *path, *big;

  meshara_node_set_listen_address (node, "127.0.0.1:1");
  for (gsize i = 0; i < G_N_ELEMENTS (bad_configs); i++)
    {
      const BadConfig *b = &bad_configs[i];
      char *text, *expect;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      text = g_strdup_printf (b->contents, key);
#pragma GCC diagnostic pop
      path = write_temp (dir, "bad.conf", text);
      g_assert_false (meshara_node_load_config (node, path, &error));
      g_assert_error (error, MESHARA_ERROR, b->code);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      expect = g_strconcat (path, b->message, NULL);
      if (!g_str_has_prefix (error->message, expect))
        g_error ("case %" G_GSIZE_FORMAT ": \"%s\" does not start with \"%s\"",
                 i, error->message, expect);
      g_clear_error (&error);
      /* Nothing of a bad file is applied. */
      g_assert_cmpstr (meshara_node_get_listen_address (node), ==,
                       "127.0.0.1:1");
      g_assert_cmpuint (meshara_node_get_max_peers (node), ==, 32);
      g_assert_cmpint (meshara_node_get_profile (node), ==,
                       MESHARA_NODE_PROFILE_STANDARD);
      g_free (expect);
      g_free (text);
      g_free (path);
    }

  /* Missing, too large, binary. */
  path = g_build_filename (dir, "missing.conf", NULL);
  g_assert_false (meshara_node_load_config (node, path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_free (path);

  big = g_strnfill (300 * 1024, '#');
  path = write_temp (dir, "big.conf", big);
  g_assert_false (meshara_node_load_config (node, path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_clear_error (&error);
  g_free (path);
  g_free (big);

  path = g_build_filename (dir, "nul.conf", NULL);
  g_file_set_contents (path, "[node]\0x=1\n", 11, &error);
  g_assert_no_error (error);
  g_assert_false (meshara_node_load_config (node, path, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED);
  g_clear_error (&error);
  g_free (path);

  g_object_unref (node);
  remove_dir (dir);
  g_free (dir);
  g_free (key);
  meshara_identity_unref (other);
  meshara_identity_unref (identity);
}

/* A node made without an identity creates one in its storage path and
 * remembers the peers it reached; a new node object on the same path has
 * the same identity and dials them again by itself. */
static void
test_storage (void)
{
  MesharaIdentity *bid = identity_from (6);
  char *dir = g_dir_make_tmp ("meshara-storage-XXXXXX", NULL);
  char *storage = g_build_filename (dir, "node", NULL);
  char *peers_path = g_build_filename (storage, MESHARA_NODE_PEERS_FILE, NULL);
  char *baddr, *key1, *key2, *contents = NULL, *garbage;
  Peer a = { 0 }, b = { 0 };
  GError *error = NULL;
  guint tick = g_timeout_add (50, wake, NULL);

  peer_init (&b, bid);
  g_assert_true (meshara_node_start (b.node, &error));
  g_assert_no_error (error);
  baddr = node_address (b.node);

  peer_init (&a, NULL);
  g_assert_null (meshara_node_get_identity (a.node));
  /* No identity and no storage: refused. */
  g_assert_false (meshara_node_start (a.node, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  meshara_node_set_storage_path (a.node, storage);
  g_assert_true (meshara_node_start (a.node, &error));
  g_assert_no_error (error);
  g_assert_nonnull (meshara_node_get_identity (a.node));
  key1 = meshara_identity_get_public_key (meshara_node_get_identity (a.node));
  g_assert_true (meshara_node_add_peer (a.node, baddr, b.key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.connected == 1 && b.connected == 1, "the first node to link up");
  g_assert_true (g_file_get_contents (peers_path, &contents, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, baddr));
  g_assert_nonnull (strstr (contents, b.key));
  g_free (contents);
  peer_clear (&a);
  WAIT_FOR (b.disconnected == 1, "the peer to see the first node go");

  /* Hostile lines in the peers file are skipped, the good one kept. */
  g_assert_true (g_file_get_contents (peers_path, &contents, NULL, &error));
  garbage = g_strconcat ("nonsense\n127.0.0.1:1 mshr1bad\n999.1.1.1:5 ",
                         b.key, "\n", contents, "a b c\n", NULL);
  g_assert_true (g_file_set_contents (peers_path, garbage, -1, &error));
  g_free (garbage);
  g_free (contents);

  peer_init (&a, NULL);
  meshara_node_set_storage_path (a.node, storage);
  g_assert_true (meshara_node_start (a.node, &error));
  g_assert_no_error (error);
  key2 = meshara_identity_get_public_key (meshara_node_get_identity (a.node));
  g_assert_cmpstr (key1, ==, key2);
  WAIT_FOR (a.connected == 1 && b.connected == 2,
            "the restarted node to dial its remembered peer");
  g_assert_cmpuint (a.failures->len, ==, 0);

  /* Removing the peer closes the link and drops it from the file. */
  g_assert_true (meshara_node_remove_peer (a.node, b.key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.disconnected == 1, "the removed peer's link to close");
  g_assert_true (g_file_get_contents (peers_path, &contents, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (strstr (contents, b.key));
  g_free (contents);
  g_assert_false (meshara_node_remove_peer (a.node, b.key, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  peer_clear (&a);

  /* A peers file beyond its limit stops the start with a clear error. */
  contents = g_strnfill (70 * 1024, '#');
  g_assert_true (g_file_set_contents (peers_path, contents, -1, &error));
  g_free (contents);
  peer_init (&a, NULL);
  meshara_node_set_storage_path (a.node, storage);
  g_assert_false (meshara_node_start (a.node, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, peers_path));
  g_clear_error (&error);
  peer_clear (&a);

  peer_clear (&b);
  g_source_remove (tick);
  remove_dir (dir);
  g_free (key1);
  g_free (key2);
  g_free (baddr);
  g_free (peers_path);
  g_free (storage);
  g_free (dir);
  meshara_identity_unref (bid);
}

/* b goes away; a keeps dialling with growing delays, and links up again
 * once b is back on the same port. */
static void
test_reconnect (void)
{
  MesharaIdentity *aid = identity_from (7), *bid = identity_from (8);
  Peer a = { 0 }, b = { 0 };
  GError *error = NULL;
  guint tick = g_timeout_add (50, wake, NULL);
  char *baddr;
  gint64 down_at, back_at;
  guint failures_while_down;

  peer_init (&a, aid);
  peer_init (&b, bid);
  g_assert_true (meshara_node_start (a.node, &error));
  g_assert_no_error (error);
  g_assert_true (meshara_node_start (b.node, &error));
  g_assert_no_error (error);
  baddr = node_address (b.node);
  g_assert_true (meshara_node_add_peer (a.node, baddr, b.key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.connected == 1, "the first link");

  meshara_node_stop (b.node);
  down_at = g_get_monotonic_time ();
  WAIT_FOR (a.disconnected == 1, "the node to see its peer go");
  WAIT_FOR (a.failures->len >= 3, "three failed redials while the peer is down");
  failures_while_down = a.failures->len;
  /* Backoff: base 250 ms doubling, each delay at least half its step, so
   * three failures take at least 125 + 250 + 500 ms. */
  g_assert_cmpint (g_get_monotonic_time () - down_at, >=, 800 * 1000);
  for (guint i = 0; i < a.failures->len; i++)
    g_assert_true (g_str_has_prefix (g_ptr_array_index (a.failures, i),
                                     baddr));

  meshara_node_set_listen_address (b.node, baddr);
  g_assert_true (meshara_node_start (b.node, &error));
  g_assert_no_error (error);
  back_at = g_get_monotonic_time ();
  WAIT_FOR (a.connected == 2, "the node to reconnect to its restarted peer");
  g_test_message ("reconnected %.2f s after the peer came back, %u failed "
                  "attempts", (double) (g_get_monotonic_time () - back_at) / 1e6,
                  a.failures->len);
  /* At most one more failure raced the restart. */
  g_assert_cmpuint (a.failures->len, <=, failures_while_down + 1);
  g_assert_cmpuint (a.failures->len, <=, 6);

  peer_clear (&a);
  peer_clear (&b);
  g_source_remove (tick);
  g_free (baddr);
  meshara_identity_unref (aid);
  meshara_identity_unref (bid);
}

/* Bootstrap peers that cannot be reached: the outgoing connection budget
 * (2 per second) spaces the dials out. */
static void
test_connect_rate (void)
{
  MesharaIdentity *aid = identity_from (9);
  Peer a = { 0 };
  GError *error = NULL;
  guint tick = g_timeout_add (50, wake, NULL);
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            NULL);
  gint64 start;

  peer_init (&a, aid);
  meshara_node_set_connects_per_second (a.node, 2);
  for (guint8 i = 0; i < 5; i++)
    {
      /* A port just freed: nothing listens there. */
      GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, &error);
      GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      GSocketAddress *sa = g_inet_socket_address_new (lo, 0);
      GSocketAddress *bound;
      MesharaIdentity *pid = identity_from ((guint8) (20 + i));
      char *key = meshara_identity_get_public_key (pid);
      char *addr;

      g_assert_no_error (error);
      g_assert_true (g_socket_bind (s, sa, FALSE, &error));
      g_assert_no_error (error);
      bound = g_socket_get_local_address (s, &error);
      g_assert_no_error (error);
      addr = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (
                                G_INET_SOCKET_ADDRESS (bound)));
      g_socket_close (s, NULL);
      g_assert_true (meshara_node_add_bootstrap_peer (a.node, addr, key,
                                                      &error));
      g_assert_no_error (error);
      g_object_unref (bound);
      g_object_unref (sa);
      g_object_unref (lo);
      g_object_unref (s);
      meshara_identity_unref (pid);
      g_free (key);
      g_free (addr);
    }
  start = g_get_monotonic_time ();
  g_assert_true (meshara_node_start (a.node, &error));
  g_assert_no_error (error);
  while (g_hash_table_size (seen) < 5)
    {
      WAIT_FOR (a.failures->len > 0, "a dial of every bootstrap peer to fail");
      for (guint i = 0; i < a.failures->len; i++)
        {
          const char *f = g_ptr_array_index (a.failures, i);

          g_hash_table_add (seen, g_strndup (f, strcspn (f, " ")));
        }
      g_ptr_array_set_size (a.failures, 0);
    }
  /* 2 at once, then 2 per second: the fifth no sooner than 1.5 s later. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1400 * 1000);

  peer_clear (&a);
  g_source_remove (tick);
  g_hash_table_unref (seen);
  meshara_identity_unref (aid);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/profiles", test_profiles);
  g_test_add_func ("/config/file-valid", test_config_valid);
  g_test_add_func ("/config/file-bad", test_config_bad);
  g_test_add_func ("/config/mdns", test_config_mdns);
  g_test_add_func ("/config/storage", test_storage);
  g_test_add_func ("/config/reconnect", test_reconnect);
  g_test_add_func ("/config/connect-rate", test_connect_rate);
  return g_test_run ();
}
