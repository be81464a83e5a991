/* A MesharaNode facing a client that passes TLS but then misbehaves: its
 * first frame is not HELLO.  The node must close that link (naming why)
 * and keep serving an honest peer.  Uses the link layer directly for the
 * hostile side.  Every wait has a deadline. */
#include "config.h"

#include "net/link.h"
#include "net/tls.h"
#include "crypto/identity.h"
#include "wire/frame.h"
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
  gboolean established;
  gboolean closed;
  char *reason;
} Raw;

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static void
raw_established (MeshNetLink *link, const uint8_t *key, gpointer user_data)
{
  (void) link;
  (void) key;
  ((Raw *) user_data)->established = TRUE;
}

static void
raw_frame (MeshNetLink *link, const guint8 *data, gsize len,
           gpointer user_data)
{
  (void) link;
  (void) data;
  (void) len;
  (void) user_data;
}

static void
raw_closed (MeshNetLink *link, const GError *error, gpointer user_data)
{
  Raw *r = user_data;

  (void) link;
  r->closed = TRUE;
  r->reason = g_strdup (error ? error->message : "graceful");
}

static const MeshNetLinkCallbacks raw_callbacks = {
  raw_established, raw_frame, raw_closed, NULL
};

static void
on_link_failed (MesharaNode *node, const char *address, const char *reason,
                gpointer user_data)
{
  (void) node;
  (void) address;
  g_ptr_array_add (user_data, g_strdup (reason));
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  (void) id;
  (*(guint *) user_data)++;
}

static void
test_not_hello (void)
{
  guint8 seed[MESH_SEED_LEN];
  MeshIdentity hostile;
  MeshTlsCredentials *creds;
  MesharaIdentity *nid, *hid;
  MesharaNode *node, *honest;
  GPtrArray *failures = g_ptr_array_new_with_free_func (g_free);
  guint connected = 0, honest_connected = 0;
  GError *error = NULL;
  MeshNetLink *link;
  Raw raw = { 0 };
  guint8 frame[4 + 8];
  char *addr, *node_key;
  guint tick = g_timeout_add (50, wake, NULL);

  memset (seed, 11, sizeof seed);
  nid = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  node = meshara_node_new (nid);
  g_signal_connect (node, "link-failed", G_CALLBACK (on_link_failed),
                    failures);
  g_signal_connect (node, "peer-connected", G_CALLBACK (on_connected),
                    &connected);
  g_assert_true (meshara_node_start (node, &error));
  g_assert_no_error (error);
  addr = g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (node));

  memset (seed, 12, sizeof seed);
  mesh_identity_from_seed (&hostile, seed);
  creds = mesh_tls_credentials_new (&hostile,
                                    g_get_real_time () / G_USEC_PER_SEC,
                                    mesh_random_system, NULL, &error);
  g_assert_no_error (error);
  link = mesh_net_link_connect (g_main_context_default (), creds, NULL, addr,
                                NULL, &raw_callbacks, &raw, &error);
  g_assert_no_error (error);
  WAIT_FOR (raw.established, "the hostile client's TLS handshake");
  /* A frame that is not a HELLO: 8 bytes of junk. */
  mesh_frame_write_header (frame, 8);
  memset (frame + 4, 0xee, 8);
  g_assert_true (mesh_net_link_send (link, frame, sizeof frame, &error));
  g_assert_no_error (error);
  WAIT_FOR (failures->len == 1, "the node to refuse the link");
  g_test_message ("refused: %s", (char *) g_ptr_array_index (failures, 0));
  g_assert_nonnull (strstr (g_ptr_array_index (failures, 0), "bad HELLO"));
  WAIT_FOR (raw.closed, "the hostile client to see its link closed");
  g_assert_cmpuint (connected, ==, 0);

  /* The node still serves an honest peer. */
  memset (seed, 13, sizeof seed);
  hid = meshara_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  honest = meshara_node_new (hid);
  g_signal_connect (honest, "peer-connected", G_CALLBACK (on_connected),
                    &honest_connected);
  g_assert_true (meshara_node_start (honest, &error));
  g_assert_no_error (error);
  node_key = meshara_identity_get_public_key (nid);
  g_assert_true (meshara_node_add_peer (honest, addr, node_key, &error));
  g_assert_no_error (error);
  WAIT_FOR (connected == 1 && honest_connected == 1,
            "an honest peer to link up after the hostile one");

  meshara_node_stop (honest);
  g_object_unref (honest);
  meshara_node_stop (node);
  g_object_unref (node);
  mesh_net_link_unref (link);
  mesh_tls_credentials_unref (creds);
  mesh_identity_clear (&hostile);
  meshara_identity_unref (nid);
  meshara_identity_unref (hid);
  g_ptr_array_unref (failures);
  g_free (raw.reason);
  g_free (node_key);
  g_free (addr);
  g_source_remove (tick);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/node-hostile/not-hello", test_not_hello);
  return g_test_run ();
}
