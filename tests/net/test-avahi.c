/* mDNS/DNS-SD discovery through the Avahi daemon: two nodes with
 * discovery on and no configured peers find each other on the local
 * network and exchange a private message.  Meanwhile the test publishes
 * services of its own: with a valid key (on a port it listens on, so it
 * sees the nodes dial it) and with bad TXT records (no key, a malformed
 * one, one too long: on another port, which must never be dialled).
 * Skipped, with the reason, only when no Avahi daemon can be reached.
 * Every wait has a deadline. */
#include "config.h"

#include "../testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <meshara/meshara.h>
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-glib/glib-watch.h>

#define WAIT_LIMIT_S 20

#define WAIT_FOR(cond, what)                                                 \
  G_STMT_START {                                                             \
    gint64 wait_deadline_ = g_get_monotonic_time ()                          \
                            + WAIT_LIMIT_S * G_USEC_PER_SEC;                 \
    while (!(cond))                                                          \
      {                                                                      \
        if (g_get_monotonic_time () > wait_deadline_)                        \
          g_error ("%s:%d: timed out after %d s waiting for %s",             \
                   __FILE__, __LINE__, WAIT_LIMIT_S, what);                  \
        g_main_context_iteration (NULL, TRUE);                               \
      }                                                                      \
  } G_STMT_END

typedef struct {
  MesharaNode *node;
  char *key;
  GPtrArray *privates;          /* "sender-key content" */
  GPtrArray *delivered;         /* message IDs */
} TestNode;

static gboolean tap_output;

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  TestNode *t = user_data;
  gsize len;
  const char *p = g_bytes_get_data (data, &len);

  (void) node;
  (void) id;
  g_ptr_array_add (t->privates, g_strdup_printf ("%s %.*s", sender,
                                                 (int) len, p));
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  TestNode *t = user_data;

  (void) node;
  (void) latency_us;
  g_ptr_array_add (t->delivered, g_strdup (id));
}

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

/* Whether node has a link up to the peer with this public key. */
static gboolean
linked_to (MesharaNode *node, const char *key)
{
  g_autoptr (GVariant) peers = meshara_node_list_peers (node);
  GVariantIter iter;
  GVariant *peer;
  gboolean found = FALSE;

  g_variant_iter_init (&iter, peers);
  while (!found && (peer = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *k = NULL;

      if (g_variant_lookup (peer, "public-key", "&s", &k)
          && strcmp (k, key) == 0)
        found = TRUE;
      g_variant_unref (peer);
    }
  return found;
}

static void
skip (const char *reason)
{
  /* Under the TAP driver a skip is a plan of no tests; run by hand the
   * conventional exit status 77 says the same. */
  if (tap_output)
    {
      printf ("1..0 # SKIP %s\n", reason);
      exit (0);
    }
  fprintf (stderr, "SKIP: %s\n", reason);
  exit (77);
}

/* Starts a node with discovery on; FALSE with *error set when it could
 * not start. */
static gboolean
node_setup (TestNode *t, TestRng *rng, GError **error)
{
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *identity;

  test_rng (rng, seed, sizeof seed);
  identity = meshara_identity_new_from_seed (seed, sizeof seed, NULL);
  g_assert_nonnull (identity);
  t->node = meshara_node_new (identity);
  t->key = meshara_identity_get_public_key (identity);
  meshara_identity_unref (identity);
  t->privates = g_ptr_array_new_with_free_func (g_free);
  t->delivered = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (t->node, "private-message", G_CALLBACK (on_private), t);
  g_signal_connect (t->node, "delivered", G_CALLBACK (on_delivered), t);
  /* Reachable from the network: mDNS gives the other node the address
   * of an interface, not the loopback one. */
  meshara_node_set_listen_address (t->node, "0.0.0.0:0");
  g_object_set (t->node, "mdns", TRUE, NULL);
  g_assert_true (meshara_node_get_mdns (t->node));
  return meshara_node_start (t->node, error);
}

static void
node_teardown (TestNode *t)
{
  meshara_node_stop (t->node);
  g_clear_object (&t->node);
  g_free (t->key);
  g_ptr_array_unref (t->privates);
  g_ptr_array_unref (t->delivered);
}

/* Services the test publishes itself. */
typedef struct {
  AvahiGLibPoll *poll;
  AvahiClient *client;
  AvahiEntryGroup *group;
  gboolean established;
  gboolean failed;
  char *good_key;               /* of a node that does not run */
  guint16 good_port, bad_port;
  guint tag;
} Decoys;

static void
decoys_group_cb (AvahiEntryGroup *g, AvahiEntryGroupState state, void *data)
{
  Decoys *d = data;

  (void) g;
  if (state == AVAHI_ENTRY_GROUP_ESTABLISHED)
    d->established = TRUE;
  else if (state == AVAHI_ENTRY_GROUP_COLLISION
           || state == AVAHI_ENTRY_GROUP_FAILURE)
    d->failed = TRUE;
}

static void
decoys_client_cb (AvahiClient *c, AvahiClientState state, void *data)
{
  Decoys *d = data;
  char name[64], too_long[300];
  char *good;
  int ret = 0;

  if (state != AVAHI_CLIENT_S_RUNNING || d->group != NULL)
    {
      if (state == AVAHI_CLIENT_FAILURE)
        d->failed = TRUE;
      return;
    }
  d->group = avahi_entry_group_new (c, decoys_group_cb, d);
  g_assert_nonnull (d->group);
  memcpy (too_long, "key=", 4);
  memset (too_long + 4, 'A', 250);
  too_long[254] = '\0';
  good = g_strconcat ("key=", d->good_key, NULL);
  g_snprintf (name, sizeof name, "meshara-test-good-%u", d->tag);
  ret |= avahi_entry_group_add_service (d->group, AVAHI_IF_UNSPEC,
                                        AVAHI_PROTO_UNSPEC, 0, name,
                                        "_meshara._tcp", NULL, NULL,
                                        d->good_port, good, NULL);
  g_snprintf (name, sizeof name, "meshara-test-nokey-%u", d->tag);
  ret |= avahi_entry_group_add_service (d->group, AVAHI_IF_UNSPEC,
                                        AVAHI_PROTO_UNSPEC, 0, name,
                                        "_meshara._tcp", NULL, NULL,
                                        d->bad_port, "colour=blue", NULL);
  g_snprintf (name, sizeof name, "meshara-test-badkey-%u", d->tag);
  ret |= avahi_entry_group_add_service (d->group, AVAHI_IF_UNSPEC,
                                        AVAHI_PROTO_UNSPEC, 0, name,
                                        "_meshara._tcp", NULL, NULL,
                                        d->bad_port, "key=mshr1notakey",
                                        NULL);
  g_snprintf (name, sizeof name, "meshara-test-long-%u", d->tag);
  ret |= avahi_entry_group_add_service (d->group, AVAHI_IF_UNSPEC,
                                        AVAHI_PROTO_UNSPEC, 0, name,
                                        "_meshara._tcp", NULL, NULL,
                                        d->bad_port, too_long, NULL);
  g_free (good);
  if (ret != 0 || avahi_entry_group_commit (d->group) < 0)
    g_error ("the test cannot publish its services: %s",
             avahi_strerror (avahi_client_errno (c)));
}

static gboolean
on_trap (GSocketService *service, GSocketConnection *connection,
         GObject *source, gpointer user_data)
{
  guint *count = user_data;

  (void) service;
  (void) connection;
  (void) source;
  (*count)++;
  return FALSE;                 /* closed when unreferenced */
}

/* A TCP listener on 0.0.0.0 counting connections; its port in *port. */
static GSocketService *
trap_new (guint *count, guint16 *port)
{
  GSocketService *service = g_socket_service_new ();
  GError *error = NULL;

  *port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service),
                                               NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_trap), count);
  g_socket_service_start (service);
  return service;
}

/* Started by main() before the tests, since it tells whether the daemon
 * can be reached; its seed is random per run, so that two runs at once on
 * one network use other keys. */
static TestNode a;
static TestRng rng;

static void
test_discover_and_message (void)
{
  TestNode b = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *expect = NULL;
  guint tick, good_hits = 0, bad_hits = 0;
  gint64 t0 = g_get_monotonic_time ();
  GSocketService *good_trap, *bad_trap;
  Decoys d = { 0 };
  guint8 seed[MESHARA_SEED_LEN];
  MesharaIdentity *other;
  int err = 0;

  tick = g_timeout_add (50, wake, NULL);

  /* The decoy services, before B starts. */
  good_trap = trap_new (&good_hits, &d.good_port);
  bad_trap = trap_new (&bad_hits, &d.bad_port);
  test_rng (&rng, seed, sizeof seed);
  other = meshara_identity_new_from_seed (seed, sizeof seed, NULL);
  d.good_key = meshara_identity_get_public_key (other);
  meshara_identity_unref (other);
  d.tag = (guint) (rng.state & 0xffffff);
  d.poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  d.client = avahi_client_new (avahi_glib_poll_get (d.poll), 0,
                               decoys_client_cb, &d, &err);
  g_assert_nonnull (d.client);
  WAIT_FOR (d.established || d.failed, "the test's own services to be "
            "published");
  g_assert_false (d.failed);

  g_assert_true (node_setup (&b, &rng, &error));
  g_assert_no_error (error);

  WAIT_FOR (linked_to (a.node, b.key) && linked_to (b.node, a.key),
            "the two nodes to find each other through mDNS and link");
  g_test_message ("linked after %.2f s",
                  (g_get_monotonic_time () - t0) / 1e6);
  /* Both resolved the decoys by now or soon: the valid one is dialled. */
  WAIT_FOR (good_hits >= 1, "a node to dial the service with a valid key");

  id = meshara_node_send_private (a.node, b.key, (const guint8 *) "hello lan",
                                  9, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  WAIT_FOR (b.privates->len >= 1, "B to receive A's private message");
  expect = g_strdup_printf ("%s hello lan", a.key);
  g_assert_cmpstr (b.privates->pdata[0], ==, expect);
  WAIT_FOR (a.delivered->len >= 1, "A to see its message delivered");
  g_assert_cmpstr (a.delivered->pdata[0], ==, id);
  g_test_message ("message delivered after %.2f s",
                  (g_get_monotonic_time () - t0) / 1e6);
  /* The services with bad TXT records were never dialled. */
  g_assert_cmpuint (bad_hits, ==, 0);
  g_test_message ("the valid decoy was dialled %u times, the bad ones "
                  "never", good_hits);

  avahi_client_free (d.client);
  avahi_glib_poll_free (d.poll);
  g_free (d.good_key);
  g_socket_service_stop (good_trap);
  g_socket_service_stop (bad_trap);
  g_object_unref (good_trap);
  g_object_unref (bad_trap);

  node_teardown (&a);
  node_teardown (&b);
  g_source_remove (tick);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--tap") == 0)
      tap_output = TRUE;
  rng.state = (guint64) g_get_real_time () ^ ((guint64) getpid () << 32);

  /* The daemon reachable?  A node that cannot start for that reason is
   * the only cause of a skip; any other failure fails the test. */
  if (!node_setup (&a, &rng, &error))
    {
      if (g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_IO)
          && g_str_has_prefix (error->message, "mDNS: cannot reach"))
        {
          g_autofree char *reason = g_strdup_printf ("no Avahi daemon "
                                                     "reachable (%s)",
                                                     error->message);

          node_teardown (&a);
          skip (reason);
        }
      g_error ("a node with mDNS discovery did not start: %s",
               error->message);
    }

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/avahi/discover-and-message", test_discover_and_message);
  return g_test_run ();
}
