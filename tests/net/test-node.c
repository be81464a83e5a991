/* MesharaNode over TLS on 127.0.0.1, all nodes on one GMainContext:
 * private messages over one and two hops with their acknowledgment, a
 * broadcast reaching every node, and a pinned key that does not match.
 * Every wait has a deadline. */
#include "config.h"

#include "../testutil.h"

#include <string.h>
#include <meshara/meshara.h>

#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

/* Iterate the default context until cond holds; fail with what after the
 * deadline.  A periodic source (fixture) wakes the loop to check it. */
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
  char *key;                    /* public key string */
  char *node_id;                /* hex */
  char *address;                /* "127.0.0.1:port" */
  guint connected;
  guint disconnected;
  gboolean stop_on_connect;     /* stop the node from the signal handler */
  GPtrArray *privates;          /* "sender-key message-id content" */
  GPtrArray *broadcasts;        /* "sender-id message-id content" */
  GPtrArray *delivered;         /* message IDs */
  guint failed;
  GPtrArray *link_failures;     /* reasons */
} TestNode;

typedef struct {
  guint tick;
  TestNode nodes[3];
  guint n;
} Fixture;

static char *
bytes_str (GBytes *data)
{
  gsize len;
  const char *p = g_bytes_get_data (data, &len);

  return g_strndup (p, len);
}

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  TestNode *t = user_data;
  char *s = bytes_str (data);

  (void) node;
  g_ptr_array_add (t->privates, g_strdup_printf ("%s %s %s", sender, id, s));
  g_free (s);
}

static void
on_broadcast (MesharaNode *node, const char *sender, const char *id,
              GBytes *data, gpointer user_data)
{
  TestNode *t = user_data;
  char *s = bytes_str (data);

  (void) node;
  g_ptr_array_add (t->broadcasts, g_strdup_printf ("%s %s %s", sender, id, s));
  g_free (s);
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  g_assert_cmpuint (latency_us, <, WAIT_LIMIT_US);
  g_ptr_array_add (t->delivered, g_strdup (id));
}

static void
on_failed (MesharaNode *node, const char *id, const char *reason,
           gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  g_test_message ("delivery of %s failed: %s", id, reason);
  t->failed++;
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) id;
  t->connected++;
  if (t->stop_on_connect)
    meshara_node_stop (node);
}

static void
on_disconnected (MesharaNode *node, const char *id, gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) id;
  t->disconnected++;
}

static void
on_link_failed (MesharaNode *node, const char *address, const char *reason,
                gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) address;
  g_ptr_array_add (t->link_failures, g_strdup (reason));
}

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
node_setup (TestNode *t, TestRng *rng)
{
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *identity;
  GError *error = NULL;

  test_rng (rng, seed, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  t->node = meshara_node_new (identity);
  t->key = meshara_identity_get_public_key (identity);
  t->node_id = meshara_identity_get_node_id_hex (identity);
  meshara_identity_unref (identity);
  t->privates = g_ptr_array_new_with_free_func (g_free);
  t->broadcasts = g_ptr_array_new_with_free_func (g_free);
  t->delivered = g_ptr_array_new_with_free_func (g_free);
  t->link_failures = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (t->node, "private-message", G_CALLBACK (on_private), t);
  g_signal_connect (t->node, "broadcast", G_CALLBACK (on_broadcast), t);
  g_signal_connect (t->node, "delivered", G_CALLBACK (on_delivered), t);
  g_signal_connect (t->node, "delivery-failed", G_CALLBACK (on_failed), t);
  g_signal_connect (t->node, "peer-connected", G_CALLBACK (on_connected), t);
  g_signal_connect (t->node, "link-failed", G_CALLBACK (on_link_failed), t);
  g_signal_connect (t->node, "peer-disconnected", G_CALLBACK (on_disconnected),
                    t);

  meshara_node_set_listen_address (t->node, "127.0.0.1:0");
  g_assert_true (meshara_node_start (t->node, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (meshara_node_get_port (t->node), >, 0);
  t->address = g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (t->node));
}

static void
node_teardown (TestNode *t)
{
  meshara_node_stop (t->node);
  g_assert_false (meshara_node_is_running (t->node));
  g_clear_object (&t->node);
  g_free (t->key);
  g_free (t->node_id);
  g_free (t->address);
  g_ptr_array_unref (t->privates);
  g_ptr_array_unref (t->broadcasts);
  g_ptr_array_unref (t->delivered);
  g_ptr_array_unref (t->link_failures);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  TestRng rng = { GPOINTER_TO_UINT (data) };

  f->tick = g_timeout_add (50, wake, NULL);
  f->n = G_N_ELEMENTS (f->nodes);
  for (guint i = 0; i < f->n; i++)
    node_setup (&f->nodes[i], &rng);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  for (guint i = 0; i < f->n; i++)
    node_teardown (&f->nodes[i]);
  g_source_remove (f->tick);
}

/* from connects to to, pinning its key; both see the peer come up. */
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

static char *
send_text (TestNode *from, TestNode *to, const char *text)
{
  GError *error = NULL;
  char *id = meshara_node_send_private (from->node, to->key,
                                        (const guint8 *) text, strlen (text),
                                        &error);

  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_assert_cmpuint (strlen (id), ==, 64);
  return id;
}

static void
test_two_nodes (Fixture *f, gconstpointer data)
{
  TestNode *a = &f->nodes[0], *b = &f->nodes[1];
  char *id, *expect;

  (void) data;
  link_nodes (a, b);
  g_assert_cmpuint (meshara_node_get_peer_count (a->node), ==, 1);
  g_assert_cmpuint (meshara_node_get_peer_count (b->node), ==, 1);
  g_assert_cmpuint (meshara_node_get_peer_count (f->nodes[2].node), ==, 0);

  id = send_text (a, b, "hello over TLS");
  WAIT_FOR (b->privates->len == 1, "the private message at the recipient");
  expect = g_strdup_printf ("%s %s hello over TLS", a->key, id);
  g_assert_cmpstr (g_ptr_array_index (b->privates, 0), ==, expect);
  WAIT_FOR (a->delivered->len == 1, "\"delivered\" at the sender");
  g_assert_cmpstr (g_ptr_array_index (a->delivered, 0), ==, id);
  g_assert_cmpuint (a->failed, ==, 0);
  g_assert_cmpuint (a->privates->len, ==, 0);
  g_free (expect);
  g_free (id);
}

static void
test_line_two_hops (Fixture *f, gconstpointer data)
{
  TestNode *a = &f->nodes[0], *b = &f->nodes[1], *c = &f->nodes[2];
  char *id, *expect;

  (void) data;
  /* a - b - c: a and c have no link, so the message is relayed by b. */
  link_nodes (a, b);
  link_nodes (c, b);
  g_assert_cmpuint (meshara_node_get_peer_count (a->node), ==, 1);
  g_assert_cmpuint (meshara_node_get_peer_count (b->node), ==, 2);

  id = send_text (a, c, "two hops");
  WAIT_FOR (c->privates->len == 1, "the private message two hops away");
  /* Sender and text only: when the first attempt found no route yet, the
   * copy that arrives is a retry, which the engine sends under a new
   * message ID (the sender's events keep the first one). */
  expect = g_strdup_printf ("%s ", a->key);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (c->privates, 0), expect));
  g_assert_true (g_str_has_suffix (g_ptr_array_index (c->privates, 0),
                                   " two hops"));
  g_assert_cmpuint (strlen (g_ptr_array_index (c->privates, 0)),
                    ==, strlen (expect) + 64 + strlen (" two hops"));
  g_assert_cmpuint (b->privates->len, ==, 0);
  WAIT_FOR (a->delivered->len == 1, "\"delivered\" over two hops");
  g_assert_cmpstr (g_ptr_array_index (a->delivered, 0), ==, id);
  /* The relay made no direct link between a and c. */
  g_assert_cmpuint (meshara_node_get_peer_count (a->node), ==, 1);
  g_free (expect);
  g_free (id);
}

/* The recipient remembers the last sender's key text: messages from two
 * senders in turn (a b b a b a a) must each name their own sender. */
static void
test_alternating_senders (Fixture *f, gconstpointer data)
{
  static const char order[] = "abbabaa";
  TestNode *a = &f->nodes[0], *b = &f->nodes[1], *c = &f->nodes[2];

  (void) data;
  link_nodes (a, c);
  link_nodes (b, c);
  for (guint k = 0; k < sizeof order - 1; k++)
    {
      TestNode *from = order[k] == 'a' ? a : b;
      char text[16];
      char *id, *expect;

      g_snprintf (text, sizeof text, "m%u", k);
      id = send_text (from, c, text);
      WAIT_FOR (c->privates->len == k + 1, "the next private message");
      expect = g_strdup_printf ("%s %s %s", from->key, id, text);
      g_assert_cmpstr (g_ptr_array_index (c->privates, k), ==, expect);
      g_free (expect);
      g_free (id);
    }
}

static void
test_broadcast (Fixture *f, gconstpointer data)
{
  TestNode *a = &f->nodes[0], *b = &f->nodes[1], *c = &f->nodes[2];
  GError *error = NULL;
  char *id, *expect;
  const char *text = "to everyone";

  (void) data;
  link_nodes (a, b);
  link_nodes (b, c);

  id = meshara_node_broadcast (a->node, (const guint8 *) text, strlen (text),
                               "text/plain", &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  WAIT_FOR (b->broadcasts->len == 1 && c->broadcasts->len == 1,
            "the broadcast at both other nodes");
  expect = g_strdup_printf ("%s %s %s", a->node_id, id, text);
  g_assert_cmpstr (g_ptr_array_index (b->broadcasts, 0), ==, expect);
  g_assert_cmpstr (g_ptr_array_index (c->broadcasts, 0), ==, expect);
  g_assert_cmpuint (a->broadcasts->len, ==, 0);
  g_free (expect);
  g_free (id);
}

static void
test_pin_mismatch (Fixture *f, gconstpointer data)
{
  TestNode *a = &f->nodes[0], *b = &f->nodes[1], *c = &f->nodes[2];
  GError *error = NULL;

  (void) data;
  /* b's address with c's key: TLS must refuse b. */
  g_assert_true (meshara_node_add_peer (a->node, b->address, c->key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a->link_failures->len == 1, "the link with the wrong pin to fail");
  g_test_message ("refused: %s", (char *) g_ptr_array_index (a->link_failures, 0));
  g_assert_cmpuint (a->connected, ==, 0);
  g_assert_cmpuint (meshara_node_get_peer_count (a->node), ==, 0);
  /* b must not have taken the link up either. */
  WAIT_FOR (b->link_failures->len == 1, "the refused peer's side to close");
  g_assert_cmpuint (b->connected, ==, 0);

  /* A key that is not a key, and no key at all, fail at once. */
  g_assert_false (meshara_node_add_peer (a->node, b->address, "mshr1xyz",
                                         &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (meshara_node_add_peer (a->node, b->address, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (meshara_node_add_peer (a->node, "nowhere", b->key, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
}

/* Stopping from a handler, while the engine is in the middle of a step:
 * the node stops at once and the peer sees the link go. */
static void
test_stop_in_handler (Fixture *f, gconstpointer data)
{
  TestNode *a = &f->nodes[0], *b = &f->nodes[1];
  GError *error = NULL;

  (void) data;
  b->stop_on_connect = TRUE;
  g_assert_true (meshara_node_add_peer (a->node, b->address, b->key, &error));
  g_assert_no_error (error);
  WAIT_FOR (b->connected == 1, "peer-connected at the node that stops");
  g_assert_false (meshara_node_is_running (b->node));
  g_assert_cmpuint (meshara_node_get_peer_count (b->node), ==, 0);
  WAIT_FOR (a->disconnected == 1 || a->link_failures->len == 1,
            "the other side to see the link close");
  g_assert_cmpuint (meshara_node_get_peer_count (a->node), ==, 0);
}

static void
test_not_running (void)
{
  guint8 seed[MESHARA_SEED_LEN] = { 7 };
  MesharaIdentity *identity = meshara_identity_new_from_seed (seed, sizeof seed,
                                                              NULL);
  MesharaNode *node = meshara_node_new (identity);
  char *key = meshara_identity_get_public_key (identity);
  GError *error = NULL;

  g_assert_cmpuint (meshara_node_get_port (node), ==, 0);
  g_assert_null (meshara_node_send_private (node, key, (const guint8 *) "x", 1,
                                            &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  meshara_node_set_listen_address (node, "256.0.0.1:1");
  g_assert_false (meshara_node_start (node, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (meshara_node_is_running (node));
  g_free (key);
  g_object_unref (node);
  meshara_identity_unref (identity);
}

typedef struct {
  GPtrArray *seen;
} SwapData;

static void
on_private_swapped (SwapData *d, const char *sender, const char *id,
                    GBytes *data, MesharaNode *node)
{
  char *s = bytes_str (data);

  g_assert_true (MESHARA_IS_NODE (node));
  g_ptr_array_add (d->seen, g_strdup_printf ("p %s %s %s", sender, id, s));
  g_free (s);
}

static void
on_delivered_swapped (SwapData *d, const char *id, guint64 latency_us,
                      MesharaNode *node)
{
  g_assert_true (MESHARA_IS_NODE (node));
  g_ptr_array_add (d->seen, g_strdup_printf ("d %s %" G_GUINT64_FORMAT,
                                             id, latency_us));
}

static void
on_delivered_plain (MesharaNode *node, const char *id, guint64 latency_us,
                    gpointer user_data)
{
  TestNode *t = user_data;

  g_assert_true (MESHARA_IS_NODE (node));
  g_ptr_array_add (t->delivered, g_strdup_printf ("%s %" G_GUINT64_FORMAT,
                                                  id, latency_us));
}

/* The node's own marshallers of "private-message" and "delivered": the
 * arguments arrive intact through g_signal_emit_by_name() (the va_list
 * path) and g_signal_emitv() (the GValue path, as bindings use), to
 * plain and swapped handlers, with a 64-bit latency above 2^32. */
static void
test_signal_marshallers (void)
{
  MesharaIdentity *identity = meshara_identity_new ();
  MesharaNode *node = meshara_node_new (identity);
  SwapData d = { g_ptr_array_new_with_free_func (g_free) };
  TestNode t = { 0 };
  GBytes *data = g_bytes_new_static ("body", 4);
  guint64 big = G_GUINT64_CONSTANT (0x123456789a);
  GValue args[4] = { G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT };

  t.privates = g_ptr_array_new_with_free_func (g_free);
  t.delivered = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (node, "private-message", G_CALLBACK (on_private), &t);
  g_signal_connect (node, "delivered", G_CALLBACK (on_delivered_plain), &t);
  g_signal_connect_swapped (node, "private-message",
                            G_CALLBACK (on_private_swapped), &d);
  g_signal_connect_swapped (node, "delivered",
                            G_CALLBACK (on_delivered_swapped), &d);

  g_signal_emit_by_name (node, "private-message", "mshr1k", "id1", data);
  g_signal_emit_by_name (node, "delivered", "id2", big);

  g_value_init (&args[0], MESHARA_TYPE_NODE);
  g_value_set_object (&args[0], node);
  g_value_init (&args[1], G_TYPE_STRING);
  g_value_set_string (&args[1], "mshr1v");
  g_value_init (&args[2], G_TYPE_STRING);
  g_value_set_string (&args[2], "id3");
  g_value_init (&args[3], G_TYPE_BYTES);
  g_value_set_boxed (&args[3], data);
  g_signal_emitv (args, g_signal_lookup ("private-message", MESHARA_TYPE_NODE),
                  0, NULL);
  g_value_unset (&args[3]);
  g_value_unset (&args[2]);
  g_value_init (&args[2], G_TYPE_UINT64);
  g_value_set_uint64 (&args[2], big + 1);
  g_value_set_string (&args[1], "id4");
  g_signal_emitv (args, g_signal_lookup ("delivered", MESHARA_TYPE_NODE),
                  0, NULL);
  for (guint i = 0; i < 3; i++)
    g_value_unset (&args[i]);

  g_assert_cmpuint (t.privates->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (t.privates, 0), ==, "mshr1k id1 body");
  g_assert_cmpstr (g_ptr_array_index (t.privates, 1), ==, "mshr1v id3 body");
  g_assert_cmpuint (t.delivered->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (t.delivered, 0), ==, "id2 78187493530");
  g_assert_cmpstr (g_ptr_array_index (t.delivered, 1), ==, "id4 78187493531");
  g_assert_cmpuint (d.seen->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (d.seen, 0), ==, "p mshr1k id1 body");
  g_assert_cmpstr (g_ptr_array_index (d.seen, 1), ==, "d id2 78187493530");
  g_assert_cmpstr (g_ptr_array_index (d.seen, 2), ==, "p mshr1v id3 body");
  g_assert_cmpstr (g_ptr_array_index (d.seen, 3), ==, "d id4 78187493531");

  g_bytes_unref (data);
  g_ptr_array_unref (d.seen);
  g_ptr_array_unref (t.privates);
  g_ptr_array_unref (t.delivered);
  g_object_unref (node);
  meshara_identity_unref (identity);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/node/not-running", test_not_running);
  g_test_add_func ("/node/signal-marshallers", test_signal_marshallers);
  g_test_add ("/node/two-nodes", Fixture, GUINT_TO_POINTER (1), fixture_setup,
              test_two_nodes, fixture_teardown);
  g_test_add ("/node/line-two-hops", Fixture, GUINT_TO_POINTER (2),
              fixture_setup, test_line_two_hops, fixture_teardown);
  g_test_add ("/node/broadcast", Fixture, GUINT_TO_POINTER (3), fixture_setup,
              test_broadcast, fixture_teardown);
  g_test_add ("/node/alternating-senders", Fixture, GUINT_TO_POINTER (6),
              fixture_setup, test_alternating_senders, fixture_teardown);
  g_test_add ("/node/pin-mismatch", Fixture, GUINT_TO_POINTER (4),
              fixture_setup, test_pin_mismatch, fixture_teardown);
  g_test_add ("/node/stop-in-handler", Fixture, GUINT_TO_POINTER (5),
              fixture_setup, test_stop_in_handler, fixture_teardown);
  return g_test_run ();
}
