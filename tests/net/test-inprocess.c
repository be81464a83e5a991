/* The in-process transport: nodes listening on "mem:NAME" link without
 * sockets; a private message over two hops with its acknowledgment, a
 * broadcast to all, a pinned key that differs, a name nobody listens on,
 * and a relay that stops and comes back.  Every wait has a deadline. */
#include "config.h"

#include "../testutil.h"

#include <string.h>
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
  char *address;
  guint connected, disconnected, delivered, broadcasts;
  GPtrArray *privates;
  GPtrArray *failures;
} Node;

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  (void) id;
  ((Node *) user_data)->connected++;
}

static void
on_disconnected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  (void) id;
  ((Node *) user_data)->disconnected++;
}

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  gsize len;
  const char *p = g_bytes_get_data (data, &len);

  (void) node;
  (void) id;
  g_ptr_array_add (((Node *) user_data)->privates,
                   g_strdup_printf ("%s %.*s", sender, (int) len, p));
}

static void
on_broadcast (MesharaNode *node, const char *sender, const char *id,
              GBytes *data, gpointer user_data)
{
  (void) node;
  (void) sender;
  (void) id;
  (void) data;
  ((Node *) user_data)->broadcasts++;
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  (void) node;
  (void) id;
  (void) latency_us;
  ((Node *) user_data)->delivered++;
}

static void
on_link_failed (MesharaNode *node, const char *address, const char *reason,
                gpointer user_data)
{
  (void) node;
  g_ptr_array_add (((Node *) user_data)->failures,
                   g_strdup_printf ("%s %s", address, reason));
}

static void
node_init (Node *n, guint8 seed_byte, const char *address)
{
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *identity;
  GError *error = NULL;

  memset (seed, seed_byte, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  n->node = meshara_node_new (identity);
  n->key = meshara_identity_get_public_key (identity);
  n->address = g_strdup (address);
  n->privates = g_ptr_array_new_with_free_func (g_free);
  n->failures = g_ptr_array_new_with_free_func (g_free);
  meshara_identity_unref (identity);
  g_signal_connect (n->node, "peer-connected", G_CALLBACK (on_connected), n);
  g_signal_connect (n->node, "peer-disconnected",
                    G_CALLBACK (on_disconnected), n);
  g_signal_connect (n->node, "private-message", G_CALLBACK (on_private), n);
  g_signal_connect (n->node, "broadcast", G_CALLBACK (on_broadcast), n);
  g_signal_connect (n->node, "delivered", G_CALLBACK (on_delivered), n);
  g_signal_connect (n->node, "link-failed", G_CALLBACK (on_link_failed), n);
  meshara_node_set_listen_address (n->node, address);
  g_assert_true (meshara_node_start (n->node, &error));
  g_assert_no_error (error);
  /* No socket: no port. */
  g_assert_cmpuint (meshara_node_get_port (n->node), ==, 0);
}

static void
node_clear (Node *n)
{
  meshara_node_stop (n->node);
  g_clear_object (&n->node);
  g_free (n->key);
  g_free (n->address);
  g_ptr_array_unref (n->privates);
  g_ptr_array_unref (n->failures);
}

static void
test_inprocess (void)
{
  Node a = { 0 }, b = { 0 }, c = { 0 };
  GError *error = NULL;
  guint tick = g_timeout_add (50, wake, NULL);
  char *id, *expect;
  MesharaIdentity *other;
  guint8 seed[MESHARA_SEED_LEN] = { 99 };
  char *other_key;

  node_init (&a, 1, "mem:test-a");
  node_init (&b, 2, "mem:test-b");
  node_init (&c, 3, "mem:test-c");

  /* The name is taken while b runs. */
  {
    guint8 s2[MESHARA_SEED_LEN] = { 4 };
    MesharaIdentity *i2 = meshara_identity_new_from_seed (s2, sizeof s2, NULL);
    MesharaNode *n2 = meshara_node_new (i2);

    meshara_node_set_listen_address (n2, "mem:test-b");
    g_assert_false (meshara_node_start (n2, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "already in use"));
    g_clear_error (&error);
    g_object_unref (n2);
    meshara_identity_unref (i2);
  }

  g_assert_true (meshara_node_add_peer (a.node, b.address, b.key, &error));
  g_assert_no_error (error);
  g_assert_true (meshara_node_add_peer (c.node, b.address, b.key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.connected == 1 && c.connected == 1 && b.connected == 2,
            "a - b - c to link up in process");

  id = meshara_node_send_private (a.node, c.key, (const guint8 *) "in memory",
                                  9, &error);
  g_assert_no_error (error);
  WAIT_FOR (c.privates->len == 1, "the private message two hops away");
  expect = g_strdup_printf ("%s in memory", a.key);
  g_assert_cmpstr (g_ptr_array_index (c.privates, 0), ==, expect);
  WAIT_FOR (a.delivered == 1, "\"delivered\" at the sender");

  /* Per-peer statistics, after an exchange: a sees b, outgoing to b's
   * address; b sees two incoming links. */
  {
    GVariant *peers = meshara_node_list_peers (a.node);
    GVariant *p0;
    const char *key = NULL, *address = NULL;
    gboolean outgoing = FALSE;
    guint64 bytes_in = 0, frames_out = 0;
    gint32 reputation = -1;

    g_assert_true (g_variant_is_of_type (peers, G_VARIANT_TYPE ("aa{sv}")));
    g_assert_cmpuint (g_variant_n_children (peers), ==, 1);
    p0 = g_variant_get_child_value (peers, 0);
    g_assert_true (g_variant_lookup (p0, "public-key", "&s", &key));
    g_assert_cmpstr (key, ==, b.key);
    g_assert_true (g_variant_lookup (p0, "address", "&s", &address));
    g_assert_cmpstr (address, ==, b.address);
    g_assert_true (g_variant_lookup (p0, "outgoing", "b", &outgoing));
    g_assert_true (outgoing);
    g_assert_true (g_variant_lookup (p0, "bytes-in", "t", &bytes_in));
    g_assert_cmpuint (bytes_in, >, 0);
    g_assert_true (g_variant_lookup (p0, "frames-out", "t", &frames_out));
    g_assert_cmpuint (frames_out, >, 0);
    g_assert_true (g_variant_lookup (p0, "reputation", "i", &reputation));
    g_assert_cmpint (reputation, >=, 0);
    g_variant_unref (p0);
    g_variant_unref (peers);

    peers = meshara_node_list_peers (b.node);
    g_assert_cmpuint (g_variant_n_children (peers), ==, 2);
    p0 = g_variant_get_child_value (peers, 0);
    g_assert_true (g_variant_lookup (p0, "outgoing", "b", &outgoing));
    g_assert_false (outgoing);
    g_variant_unref (p0);
    g_variant_unref (peers);
  }
  g_assert_cmpuint (b.privates->len, ==, 0);
  g_free (expect);
  g_free (id);

  id = meshara_node_broadcast (b.node, (const guint8 *) "all", 3, NULL, &error);
  g_assert_no_error (error);
  WAIT_FOR (a.broadcasts == 1 && c.broadcasts == 1, "the broadcast at a and c");
  g_free (id);

  /* A pin that differs, and a name nobody listens on. */
  other = meshara_identity_new_from_seed (seed, sizeof seed, NULL);
  other_key = meshara_identity_get_public_key (other);
  g_assert_true (meshara_node_add_peer (a.node, c.address, other_key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.failures->len >= 1, "the pinned link to fail");
  g_assert_nonnull (strstr (g_ptr_array_index (a.failures, 0),
                            "differs from the pinned key"));
  g_assert_true (meshara_node_add_peer (a.node, "mem:nobody", other_key,
                                        &error));
  WAIT_FOR (a.failures->len >= 2 && strstr (g_ptr_array_index (a.failures,
                                                               a.failures->len - 1),
                                            "no node of this process") != NULL,
            "the link to an unknown name to fail");
  g_assert_false (meshara_node_add_peer (a.node, "mem:", b.key, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (other_key);
  meshara_identity_unref (other);

  /* The relay goes and comes back: a and c dial it again. */
  meshara_node_stop (b.node);
  WAIT_FOR (a.disconnected == 1 && c.disconnected == 1,
            "a and c to see the relay go");
  g_assert_true (meshara_node_start (b.node, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.connected == 2 && c.connected == 2,
            "a and c to reconnect to the relay");

  {
    GVariant *peers;

    meshara_node_stop (a.node);
    peers = meshara_node_list_peers (a.node);
    g_assert_cmpuint (g_variant_n_children (peers), ==, 0);
    g_variant_unref (peers);
  }
  node_clear (&a);
  node_clear (&b);
  node_clear (&c);
  g_source_remove (tick);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inprocess/line", test_inprocess);
  return g_test_run ();
}
