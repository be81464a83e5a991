/* Backpressure: an application that sends private messages faster than
 * the link drains fills the link's send queue (1 MiB).  The message that
 * does not fit is refused with MESHARA_ERROR_EXHAUSTED; every message
 * accepted before it is delivered, none fails, the link stays up, and
 * sending works again once the queue drained.  Two nodes over TLS on
 * 127.0.0.1 in one process; every wait has a deadline. */
#include "config.h"

#include "../testutil.h"

#include <string.h>
#include <meshara/meshara.h>

#define WAIT_LIMIT_US (30 * G_USEC_PER_SEC)
#define PAYLOAD 1024
/* Far more than the queue holds (about 950 messages of 1 KiB), far
 * fewer than the engine's limit of waiting messages (4,096). */
#define MAX_BURST 3000

#define WAIT_FOR(cond, what)                                                 \
  G_STMT_START {                                                             \
    gint64 wait_deadline_ = g_get_monotonic_time () + WAIT_LIMIT_US;         \
    while (!(cond))                                                          \
      {                                                                      \
        if (g_get_monotonic_time () > wait_deadline_)                        \
          g_error ("%s:%d: timed out after 30 s waiting for %s",             \
                   __FILE__, __LINE__, what);                                \
        g_main_context_iteration (NULL, TRUE);                               \
      }                                                                      \
  } G_STMT_END

typedef struct {
  MesharaNode *node;
  char *key;
  char *address;
  guint connected, disconnected;
  guint received, delivered, failed;
  GHashTable *ids;              /* accepted message IDs not yet delivered */
  gboolean unknown_id;          /* an event named an ID never accepted */
} Peer;

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  (void) sender;
  (void) id;
  g_assert_cmpuint (g_bytes_get_size (data), ==, PAYLOAD);
  p->received++;
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  (void) latency_us;
  if (!g_hash_table_remove (p->ids, id))
    p->unknown_id = TRUE;
  p->delivered++;
}

static void
on_failed (MesharaNode *node, const char *id, const char *reason,
           gpointer user_data)
{
  Peer *p = user_data;

  (void) node;
  g_test_message ("delivery of %s failed: %s", id, reason);
  p->failed++;
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  (void) id;
  ((Peer *) user_data)->connected++;
}

static void
on_disconnected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  (void) id;
  ((Peer *) user_data)->disconnected++;
}

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
peer_setup (Peer *p, guint64 seed_value)
{
  TestRng rng = { seed_value };
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *identity;
  GError *error = NULL;

  test_rng (&rng, seed, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  p->node = meshara_node_new (identity);
  p->key = meshara_identity_get_public_key (identity);
  meshara_identity_unref (identity);
  p->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_signal_connect (p->node, "private-message", G_CALLBACK (on_private), p);
  g_signal_connect (p->node, "delivered", G_CALLBACK (on_delivered), p);
  g_signal_connect (p->node, "delivery-failed", G_CALLBACK (on_failed), p);
  g_signal_connect (p->node, "peer-connected", G_CALLBACK (on_connected), p);
  g_signal_connect (p->node, "peer-disconnected",
                    G_CALLBACK (on_disconnected), p);
  meshara_node_set_listen_address (p->node, "127.0.0.1:0");
  g_assert_true (meshara_node_start (p->node, &error));
  g_assert_no_error (error);
  p->address = g_strdup_printf ("127.0.0.1:%u",
                                meshara_node_get_port (p->node));
}

static void
peer_teardown (Peer *p)
{
  meshara_node_stop (p->node);
  g_clear_object (&p->node);
  g_free (p->key);
  g_free (p->address);
  g_hash_table_unref (p->ids);
}

static void
test_full_queue_refuses (void)
{
  Peer a = { 0 }, b = { 0 };
  guint tick = g_timeout_add (50, wake, NULL);
  guint8 payload[PAYLOAD];
  GError *error = NULL;
  guint accepted = 0;
  char *id;

  peer_setup (&a, 71);
  peer_setup (&b, 72);
  g_assert_true (meshara_node_add_peer (a.node, b.address, b.key, &error));
  g_assert_no_error (error);
  WAIT_FOR (a.connected > 0 && b.connected > 0, "the link between the nodes");

  /* One message first, so that the session is established and the burst
   * below is plain traffic. */
  memset (payload, 'x', sizeof payload);
  id = meshara_node_send_private (a.node, b.key, payload, sizeof payload,
                                  &error);
  g_assert_no_error (error);
  g_hash_table_add (a.ids, id);
  accepted++;
  WAIT_FOR (a.delivered == 1, "the first message's acknowledgment");

  /* The burst, without letting the main context run. */
  for (guint i = 0; i < MAX_BURST; i++)
    {
      id = meshara_node_send_private (a.node, b.key, payload, sizeof payload,
                                      &error);
      if (id == NULL)
        break;
      g_assert_true (g_hash_table_add (a.ids, id));
      accepted++;
    }
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_assert_nonnull (strstr (error->message, "send queue"));
  g_test_message ("%u messages accepted, then: %s", accepted, error->message);
  g_clear_error (&error);
  /* The queue is 1 MiB: several hundred messages of 1 KiB fit. */
  g_assert_cmpuint (accepted, >, 500);

  /* Every accepted message arrives and is acknowledged. */
  WAIT_FOR (a.delivered + a.failed == accepted,
            "delivered or delivery-failed for every accepted message");
  g_assert_cmpuint (a.failed, ==, 0);
  g_assert_false (a.unknown_id);
  g_assert_cmpuint (g_hash_table_size (a.ids), ==, 0);
  g_assert_cmpuint (b.received, ==, accepted);

  /* The link stayed and takes messages again. */
  g_assert_cmpuint (a.disconnected, ==, 0);
  g_assert_cmpuint (b.disconnected, ==, 0);
  id = meshara_node_send_private (a.node, b.key, payload, sizeof payload,
                                  &error);
  g_assert_no_error (error);
  g_hash_table_add (a.ids, id);
  accepted++;
  WAIT_FOR (a.delivered == accepted, "a message after the queue drained");
  /* The refused message never produced an event of its own. */
  g_assert_false (a.unknown_id);
  g_assert_cmpuint (a.failed, ==, 0);
  g_assert_cmpuint (b.received, ==, accepted);

  peer_teardown (&a);
  peer_teardown (&b);
  g_source_remove (tick);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/perf/send-queue/full-refuses", test_full_queue_refuses);
  return g_test_run ();
}
