/* MesharaNode: the engine on real sockets.  TLS links (link.c) feed
 * frames into the sans-I/O engine, the engine's output goes back to the
 * links, one GSource timer follows mesh_engine_next_timeout(), and engine
 * events become GObject signals.
 *
 * Starting a link: the engine needs the peer's whole public bundle at
 * mesh_engine_link_up(), but TLS proves only the Ed25519 key.  A link we
 * open knows the bundle from the public key string it was given (or from
 * the engine's connect request) and starts at once; a link we accepted
 * waits for the peer's HELLO, takes the bundle from it, checks that its
 * Ed25519 key is the one TLS verified, and then starts the engine link and
 * hands it that HELLO.  Hence an outgoing link always needs the peer's
 * public key: two sides both waiting for HELLO would wait forever. */
#include "config.h"

#include "net/link.h"
#include "net/memlink.h"
#include "net/tls.h"
#ifdef HAVE_AVAHI
#include "net/avahi.h"
#endif
#include "engine/engine.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "crypto/identity.h"
#include "crypto/util.h"
#include "update/chunks.h"
#include "update/notice.h"
#include "update/package.h"
#include "update/query.h"
#include "update/source.h"
#include "update/update-api.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

/* Reconnecting to a known peer whose link dropped or failed: the delay
 * starts at the base and doubles with every failed attempt up to the cap;
 * the delay used is a random point in its upper half, so that nodes that
 * lost the same peer do not all come back at once. */
#define NODE_RECONNECT_BASE_MS 250
#define NODE_RECONNECT_MAX_MS 60000

/* The peers file in the storage path: larger files are refused before
 * they are read, and entries beyond the maximum are ignored. */
#define NODE_PEERS_FILE_MAX (64 * 1024)
#define NODE_PEERS_MAX 256

/* What each profile sets (MesharaNodeProfile order).  Incoming
 * connections beyond accepts_per_s are closed at accept, before any TLS
 * work; outgoing ones beyond connects_per_s wait. */
typedef struct {
  guint max_peers;
  guint fanout;
  guint max_routes;
  guint seen_capacity;
  guint accepts_per_s;
  guint connects_per_s;
} NodeLimits;

static const NodeLimits profile_limits[] = {
  /* Minimal */   { 8, 5, 10000, 8192, 20, 5 },
  /* Standard */  { 32, 10, 1000000, 65536, 200, 20 },
  /* Bridge */    { 128, 20, 1000000, 262144, 1000, 50 },
  /* Authority */ { 128, 10, 1000000, 262144, 1000, 50 },
};

static const char *const profile_names[] = {
  "minimal", "standard", "bridge", "authority"
};

/* An accepted link holds a peer slot before its HELLO: it gets this long
 * after the TCP accept (the TLS handshake included) to send it. */
#define NODE_HELLO_TIMEOUT_MS 15000

typedef struct {
  MesharaNode *node;
  MeshNetLink *link;            /* a TLS link, or */
  MeshMemLink *mem;             /* an in-process one */
  guint32 id;
  gboolean up;                  /* mesh_engine_link_up() done */
  gboolean have_bundle;         /* outgoing: known before HELLO */
  MeshPublicBundle bundle;
  char *address;                /* outgoing: what we connected to */
  GSource *hello_timer;         /* incoming, until the engine link is up */
} NodeLink;

/* A peer the node keeps a link to: given by the application (add_peer,
 * bootstrap) or read from the peers file.  Survives stop and start. */
typedef struct {
  MesharaNode *node;
  char *key;                    /* public key string, the table's key */
  char *address;
  MeshPublicBundle bundle;
  guint attempts;               /* dials since its link was last up */
  gboolean persist;             /* written to the peers file */
  gboolean from_mdns;           /* found on the local network */
  GSource *retry;               /* the next dial, when one is due */
} KnownPeer;

struct _MesharaNode {
  GObject parent;

  MesharaIdentity *identity;
  GMainContext *context;
  char *listen_address;
  MesharaNodeProfile profile;
  NodeLimits set;               /* explicit settings; 0 = the profile's */
  char *storage_path;
  gboolean mdns;                /* discovery on the local network */
  GHashTable *known;            /* key string -> KnownPeer*, owned */
  double connect_tokens;        /* outgoing connections per second */
  gint64 connect_refill_us;

  gboolean running;
  MeshTlsCredentials *creds;
  MeshListener *listener;
  char *mem_address;            /* listening in-process ("mem:NAME") */
  MeshEngine *engine;
  GSource *timer;
  char *bound_address;
#ifdef HAVE_AVAHI
  MeshMdns *discovery;
#endif
  GHashTable *links;            /* id -> NodeLink*, owned */
  guint32 next_link_id;
  guint peers_up;

  /* Calls into the node in progress: engine calls (whose event callback
   * may re-enter) and link callbacks.  A stop inside one of them (from a
   * signal handler) leaves the engine and the links to be freed when the
   * outermost returns, since the callers still hold pointers to them. */
  guint busy;
  MeshEngine *engine_dead;
  GHashTable *links_dead;

  guint64 closed_queue_full;    /* links closed for backpressure */
  /* How engine_send_frame() treats a full send queue; see there. */
  enum { QUEUE_FULL_CLOSES, QUEUE_FULL_REFUSES, QUEUE_FULL_DROPS } queue_full;
  gboolean send_refused;        /* a frame was refused in REFUSES mode */
  guint64 dropped_queue_full;   /* timer frames dropped (counted) */

  /* Updates (section "Updates").  The chunk cache and its source stay
   * open across stop and start: an engine freed late may still use them. */
  MesharaTrustStore *trust;     /* given by the application */
  MesharaTrustStore *trust_loaded; /* or read from the storage path */
  char *update_dir;             /* given, or NULL for storage path/updates */
  char *update_dir_open;        /* the directory the cache below is in */
  MeshChunkStore *chunks;
  MeshChunkSource *chunk_source;
  GHashTable *updates;          /* hex ID -> NodeUpdate*, while running */
  guint64 updates_rejected;

  /* The last sender of a private message and its key text (a GRefString,
   * held by each emission too), so that a stream from one node encodes
   * the text once; another bundle replaces the entry. */
  MeshPublicBundle last_sender;
  char *last_sender_text;
};

enum {
  PROP_0,
  PROP_IDENTITY,
  PROP_LISTEN_ADDRESS,
  PROP_MAX_PEERS,
  PROP_PORT,
  PROP_PROFILE,
  PROP_STORAGE_PATH,
  PROP_FANOUT,
  PROP_MDNS,
  N_PROPS
};

enum {
  SIG_PRIVATE_MESSAGE,
  SIG_BROADCAST,
  SIG_DELIVERED,
  SIG_DELIVERY_FAILED,
  SIG_PEER_CONNECTED,
  SIG_PEER_DISCONNECTED,
  SIG_LOOKUP_DONE,
  SIG_LINK_FAILED,
  SIG_UPDATE_AVAILABLE,
  SIG_UPDATE_PROGRESS,
  SIG_UPDATE_COMPLETE,
  SIG_UPDATE_FAILED,
  SIG_UPDATE_REJECTED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MesharaNode, meshara_node, G_TYPE_OBJECT)
G_DEFINE_ENUM_TYPE (MesharaNodeProfile, meshara_node_profile,
  G_DEFINE_ENUM_VALUE (MESHARA_NODE_PROFILE_MINIMAL, "minimal"),
  G_DEFINE_ENUM_VALUE (MESHARA_NODE_PROFILE_STANDARD, "standard"),
  G_DEFINE_ENUM_VALUE (MESHARA_NODE_PROFILE_BRIDGE, "bridge"),
  G_DEFINE_ENUM_VALUE (MESHARA_NODE_PROFILE_AUTHORITY, "authority"))

static void node_link_free (gpointer data);
static void known_link_up (MesharaNode *node, NodeLink *nl);
static void known_link_closed (MesharaNode *node, NodeLink *nl);
static gboolean updates_open (MesharaNode *node, GError **error);
static void updates_start (MesharaNode *node);
static void updates_stop (MesharaNode *node);
static void updates_free (MesharaNode *node);
static void update_event (MesharaNode *node, const MeshEvent *ev);

/* An explicit setting, or the profile's. */
#define LIMIT(node, field)                                                   \
  ((node)->set.field ? (node)->set.field                                     \
                     : profile_limits[(node)->profile].field)

/* ---------------------------------------------------------------------- */
/* Time and the engine timer */

static uint64_t
now_ns (void)
{
  return (uint64_t) g_get_monotonic_time () * 1000u;
}

static void
rearm_timer (MesharaNode *node)
{
  uint64_t due;

  if (node->engine == NULL || node->timer == NULL)
    return;
  due = mesh_engine_next_timeout (node->engine);
  if (due == UINT64_MAX)
    g_source_set_ready_time (node->timer, -1);
  else
    /* Round up: waking a microsecond early would find nothing due and
     * spin. */
    g_source_set_ready_time (node->timer,
                             (gint64) MIN ((due + 999u) / 1000u,
                                           (uint64_t) G_MAXINT64));
}

/* Every call into the engine and every link callback is bracketed by
 * these: the node stays alive meanwhile, what a stop left behind is freed
 * at the end, and the timer is re-armed.  Nothing may touch a NodeLink
 * after the outermost node_leave(). */
static void
node_enter (MesharaNode *node)
{
  g_object_ref (node);
  node->busy++;
}

static void
node_leave (MesharaNode *node)
{
  if (--node->busy == 0)
    {
      g_clear_pointer (&node->links_dead, g_hash_table_unref);
      g_clear_pointer (&node->engine_dead, mesh_engine_free);
      rearm_timer (node);
    }
  g_object_unref (node);
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  MesharaNode *node = user_data;

  (void) callback;
  g_source_set_ready_time (source, -1);
  if (!node->running)
    return G_SOURCE_CONTINUE;
  node_enter (node);
  node->queue_full = QUEUE_FULL_DROPS;
  mesh_engine_tick (node->engine, now_ns ());
  node->queue_full = QUEUE_FULL_CLOSES;
  node_leave (node);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = { NULL, NULL, timer_dispatch, NULL,
                                    NULL, NULL };

/* ---------------------------------------------------------------------- */
/* Links */

static NodeLink *
link_get (MesharaNode *node, guint32 id)
{
  return node->links ? g_hash_table_lookup (node->links, GUINT_TO_POINTER (id))
                     : NULL;
}

static guint32
link_new_id (MesharaNode *node)
{
  for (;;)
    {
      guint32 id = node->next_link_id++;

      if (id != MESH_LINK_NONE && id != UINT32_MAX && link_get (node, id) == NULL)
        return id;
    }
}

/* The link operations, TLS or in-process. */
static void
nl_abort (NodeLink *nl, const char *reason)
{
  if (nl->link != NULL)
    mesh_net_link_abort (nl->link, reason);
  else if (nl->mem != NULL)
    mesh_mem_link_abort (nl->mem, reason);
}

static const uint8_t *
nl_peer_ed_pub (NodeLink *nl)
{
  if (nl->link != NULL)
    return mesh_net_link_get_peer_ed_pub (nl->link);
  return nl->mem ? mesh_mem_link_get_peer_ed_pub (nl->mem) : NULL;
}

static gboolean
nl_send (NodeLink *nl, const guint8 *frame, gsize len, GError **error)
{
  if (nl->link != NULL)
    return mesh_net_link_send (nl->link, frame, len, error);
  return mesh_mem_link_send (nl->mem, frame, len, error);
}

/* An address a node can listen on or connect to: "ip:port", or
 * "mem:NAME" in this process. */
static gboolean
address_check (const char *address, GError **error)
{
  g_autoptr (GSocketAddress) parsed = NULL;

  if (mesh_mem_address_is (address))
    return mesh_mem_address_check (address, error);
  parsed = mesh_net_parse_address (address, error);
  return parsed != NULL;
}

static void
node_link_free (gpointer data)
{
  NodeLink *nl = data;

  if (nl->hello_timer != NULL)
    {
      g_source_destroy (nl->hello_timer);
      g_source_unref (nl->hello_timer);
    }
  /* Dropping the last reference closes the socket without callbacks. */
  g_clear_pointer (&nl->link, mesh_net_link_unref);
  g_clear_pointer (&nl->mem, mesh_mem_link_free);
  g_free (nl->address);
  g_free (nl);
}

static void
link_failed (MesharaNode *node, NodeLink *nl, const char *reason)
{
  g_signal_emit (node, signals[SIG_LINK_FAILED], 0,
                 nl->address ? nl->address : "", reason);
}

/* The engine link starts: HELLO and our routes go out.  Called inside
 * node_enter(). */
static gboolean
link_start (MesharaNode *node, NodeLink *nl)
{
  g_autoptr (GError) error = NULL;

  if (!mesh_engine_link_up (node->engine, nl->id, &nl->bundle, now_ns (),
                            &error))
    {
      nl_abort (nl, error->message);
      return FALSE;
    }
  nl->up = TRUE;
  if (nl->hello_timer != NULL)
    {
      g_source_destroy (nl->hello_timer);
      g_clear_pointer (&nl->hello_timer, g_source_unref);
    }
  known_link_up (node, nl);
  /* A handler of its events may have stopped the node. */
  return node->running;
}

static void
on_established (MeshNetLink *link, const uint8_t *peer_ed_pub,
                gpointer user_data)
{
  NodeLink *nl = user_data;
  MesharaNode *node = nl->node;

  (void) link;
  if (!nl->have_bundle)
    return;                     /* waits for the peer's HELLO */
  if (!mesh_ct_equal (nl->bundle.ed_pub, peer_ed_pub, MESH_ED25519_KEY_LEN))
    {
      /* The pin makes TLS refuse this; checked again because the engine
       * trusts the bundle it is given. */
      nl_abort (nl, "the peer's key differs from the "
                           "expected public key");
      return;
    }
  node_enter (node);
  link_start (node, nl);
  node_leave (node);
}

/* First frame of a link whose peer bundle we do not know: it must be a
 * HELLO carrying a valid bundle for the key TLS verified. */
static gboolean
take_hello_bundle (NodeLink *nl, const guint8 *data, gsize len)
{
  g_autoptr (MeshWireBaseMessage) base = NULL;
  g_autoptr (MeshWireHello) hello = NULL;
  g_autoptr (GError) error = NULL;
  const uint8_t *ed_pub = nl_peer_ed_pub (nl);
  char *reason;

  base = mesh_wire_decode_base (data, len, MESH_FRAME_MAX_DEFAULT, &error);
  if (base != NULL && base->type != MESH_WIRE_TYPE_HELLO)
    g_set_error (&error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                 "the first frame is %s, not HELLO",
                 mesh_wire_type_name (base->type));
  if (error == NULL)
    hello = mesh_wire_decode_hello (base->payload.data, base->payload.len,
                                    &error);
  if (error == NULL)
    mesh_bundle_parse (&nl->bundle, hello->bundle.data, hello->bundle.len,
                       &error);
  if (error == NULL
      && (ed_pub == NULL
          || !mesh_ct_equal (ed_pub, nl->bundle.ed_pub, MESH_ED25519_KEY_LEN)))
    g_set_error (&error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                 "the HELLO bundle is not the key the peer's TLS "
                 "certificate holds");
  if (error != NULL)
    {
      reason = g_strdup_printf ("bad HELLO: %s", error->message);
      nl_abort (nl, reason);
      g_free (reason);
      return FALSE;
    }
  nl->have_bundle = TRUE;
  return TRUE;
}

static void
on_frame (MeshNetLink *link, const guint8 *data, gsize len, gpointer user_data)
{
  NodeLink *nl = user_data;
  MesharaNode *node = nl->node;

  (void) link;
  if (!node->running)
    return;
  node_enter (node);
  if (!nl->up)
    {
      if (nl->have_bundle)
        goto out;               /* link_start failed; the link is closing */
      if (!take_hello_bundle (nl, data, len) || !link_start (node, nl))
        goto out;
    }
  mesh_engine_receive (node->engine, nl->id, data, len, now_ns ());
out:
  node_leave (node);
}

static void
on_closed (MeshNetLink *link, const GError *error, gpointer user_data)
{
  NodeLink *nl = user_data;
  MesharaNode *node = nl->node;

  (void) link;
  if (!node->running)
    return;
  node_enter (node);
  if (nl->up)
    {
      nl->up = FALSE;
      mesh_engine_link_down (node->engine, nl->id, now_ns ());
    }
  else
    link_failed (node, nl, error ? error->message
                                 : "closed before the peer said HELLO");
  if (node->running)
    known_link_closed (node, nl);
  /* Still running after the handlers: the link goes now.  Otherwise the
   * stop took the table, and the link with it. */
  if (node->links != NULL)
    g_hash_table_remove (node->links, GUINT_TO_POINTER (nl->id));
  node_leave (node);
}

static const MeshNetLinkCallbacks link_callbacks = {
  on_established, on_frame, on_closed, NULL
};

static NodeLink *
link_add (MesharaNode *node, MeshNetLink *link, MeshMemLink *mem,
          const char *address)
{
  NodeLink *nl = g_new0 (NodeLink, 1);

  nl->node = node;
  nl->link = link;
  nl->mem = mem;
  nl->id = link_new_id (node);
  nl->address = g_strdup (address);
  if (link != NULL)
    mesh_net_link_set_id (link, nl->id);
  g_hash_table_insert (node->links, GUINT_TO_POINTER (nl->id), nl);
  return nl;
}

static gboolean
link_to_node_exists (MesharaNode *node, const uint8_t *ed_pub)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, node->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NodeLink *nl = value;
      const uint8_t *k = nl->have_bundle ? nl->bundle.ed_pub
                                         : nl_peer_ed_pub (nl);

      if (k != NULL && memcmp (k, ed_pub, MESH_ED25519_KEY_LEN) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
connect_to (MesharaNode *node, const char *address,
            const MeshPublicBundle *peer, GError **error)
{
  MeshNetLink *link;
  NodeLink *nl;

  if (g_hash_table_size (node->links) >= LIMIT (node, max_peers))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "cannot connect to %s: %u links are open, the maximum "
                   "number of peers", address, LIMIT (node, max_peers));
      return FALSE;
    }
  if (mesh_mem_address_is (address))
    {
      MeshMemLink *mem;

      if (!mesh_mem_address_check (address, error))
        return FALSE;
      mem = mesh_mem_connect (node->context, address,
                              mesh_identity_from_public (node->identity)->pub.ed_pub,
                              peer->ed_pub, &link_callbacks, NULL);
      nl = link_add (node, NULL, mem, address);
      nl->bundle = *peer;
      nl->have_bundle = TRUE;
      mesh_mem_link_set_callbacks (mem, &link_callbacks, nl);
      return TRUE;
    }
  link = mesh_net_link_connect (node->context, node->creds, NULL, address,
                                peer->ed_pub, &link_callbacks, NULL, error);
  if (link == NULL)
    return FALSE;
  nl = link_add (node, link, NULL, address);
  nl->bundle = *peer;
  nl->have_bundle = TRUE;
  mesh_net_link_set_callbacks (link, &link_callbacks, nl);
  return TRUE;
}

static gboolean
on_hello_timeout (gpointer user_data)
{
  NodeLink *nl = user_data;

  g_clear_pointer (&nl->hello_timer, g_source_unref);
  nl_abort (nl, "no HELLO in time");
  return G_SOURCE_REMOVE;
}

static void
on_accept (MeshListener *listener, MeshNetLink *link, gpointer user_data)
{
  MesharaNode *node = user_data;
  NodeLink *nl;

  (void) listener;
  if (g_hash_table_size (node->links) >= LIMIT (node, max_peers))
    {
      mesh_net_link_unref (link);
      return;
    }
  nl = link_add (node, link, NULL, NULL);
  mesh_net_link_set_callbacks (link, &link_callbacks, nl);
  nl->hello_timer = g_timeout_source_new (NODE_HELLO_TIMEOUT_MS);
  g_source_set_callback (nl->hello_timer, on_hello_timeout, nl, NULL);
  g_source_attach (nl->hello_timer, node->context);
}

static void
on_mem_accept (MeshMemLink *mem, gpointer user_data)
{
  MesharaNode *node = user_data;
  NodeLink *nl;

  if (!node->running
      || g_hash_table_size (node->links) >= LIMIT (node, max_peers))
    {
      mesh_mem_link_free (mem);
      return;
    }
  nl = link_add (node, NULL, mem, NULL);
  mesh_mem_link_set_callbacks (mem, &link_callbacks, nl);
  nl->hello_timer = g_timeout_source_new (NODE_HELLO_TIMEOUT_MS);
  g_source_set_callback (nl->hello_timer, on_hello_timeout, nl, NULL);
  g_source_attach (nl->hello_timer, node->context);
}

/* ---------------------------------------------------------------------- */
/* Known peers: reconnection with backoff, and the peers file */

static void
known_peer_free (gpointer data)
{
  KnownPeer *kp = data;

  if (kp->retry != NULL)
    {
      g_source_destroy (kp->retry);
      g_source_unref (kp->retry);
    }
  g_free (kp->key);
  g_free (kp->address);
  g_free (kp);
}

static void
known_cancel_retry (KnownPeer *kp)
{
  if (kp->retry == NULL)
    return;
  g_source_destroy (kp->retry);
  g_clear_pointer (&kp->retry, g_source_unref);
}

/* Takes one outgoing connection from the per-second budget. */
static gboolean
connect_token_take (MesharaNode *node)
{
  gint64 now = g_get_monotonic_time ();
  double rate = LIMIT (node, connects_per_s);

  node->connect_tokens += (double) (now - node->connect_refill_us) * rate
                          / G_USEC_PER_SEC;
  node->connect_tokens = MIN (node->connect_tokens, rate);
  node->connect_refill_us = now;
  if (node->connect_tokens < 1.0)
    return FALSE;
  node->connect_tokens -= 1.0;
  return TRUE;
}

static gboolean known_retry_due (gpointer user_data);

static void
known_schedule (MesharaNode *node, KnownPeer *kp, guint delay_ms)
{
  known_cancel_retry (kp);
  kp->retry = g_timeout_source_new (delay_ms);
  g_source_set_callback (kp->retry, known_retry_due, kp, NULL);
  g_source_set_name (kp->retry, "MesharaNode reconnect");
  g_source_attach (kp->retry, node->context);
}

/* The next dial after kp->attempts failed ones (0: the link just
 * dropped). */
static void
known_backoff (MesharaNode *node, KnownPeer *kp)
{
  guint shift = MIN (kp->attempts, 16u);
  guint64 delay = MIN ((guint64) NODE_RECONNECT_BASE_MS << shift,
                       (guint64) NODE_RECONNECT_MAX_MS);
  guint64 half = delay / 2;

  delay = half + (guint64) g_random_int_range (0, (gint32) half + 1);
  known_schedule (node, kp, (guint) delay);
}

static void
known_dial (MesharaNode *node, KnownPeer *kp)
{
  g_autoptr (GError) error = NULL;

  if (!node->running || kp->retry != NULL)
    return;
  if (link_to_node_exists (node, kp->bundle.ed_pub))
    return;
  if (!connect_token_take (node))
    {
      /* Over the budget: try again when a token has come back. */
      known_schedule (node, kp, 1000 / LIMIT (node, connects_per_s) + 1);
      return;
    }
  kp->attempts++;
  if (!connect_to (node, kp->address, &kp->bundle, &error))
    {
      g_debug ("cannot connect to known peer %s: %s", kp->address,
               error->message);
      known_backoff (node, kp);
    }
}

static gboolean
known_retry_due (gpointer user_data)
{
  KnownPeer *kp = user_data;

  g_clear_pointer (&kp->retry, g_source_unref);
  known_dial (kp->node, kp);
  return G_SOURCE_REMOVE;
}

static KnownPeer *
known_lookup_link (MesharaNode *node, NodeLink *nl)
{
  char *key;
  KnownPeer *kp;

  if (!nl->have_bundle)
    return NULL;
  key = mesh_bundle_to_string (&nl->bundle);
  kp = g_hash_table_lookup (node->known, key);
  g_free (key);
  return kp;
}

/* Replaces the peers file with the persisted known peers, atomically
 * (temporary file, then rename).  Failures only lose the update. */
static void
known_save (MesharaNode *node)
{
  GHashTableIter iter;
  gpointer value;
  GString *out;
  char *path;
  g_autoptr (GError) error = NULL;

  if (node->storage_path == NULL)
    return;
  out = g_string_new ("# meshara known peers: ADDRESS PUBLIC-KEY\n");
  g_hash_table_iter_init (&iter, node->known);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      KnownPeer *kp = value;

      if (kp->persist)
        g_string_append_printf (out, "%s %s\n", kp->address, kp->key);
    }
  path = g_build_filename (node->storage_path, MESHARA_NODE_PEERS_FILE, NULL);
  if (!g_file_set_contents_full (path, out->str, (gssize) out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 &error))
    g_warning ("cannot save the known peers: %s", error->message);
  g_free (path);
  g_string_free (out, TRUE);
}

static void
known_link_up (MesharaNode *node, NodeLink *nl)
{
  KnownPeer *kp = known_lookup_link (node, nl);

  if (kp == NULL)
    return;
  kp->attempts = 0;
  known_cancel_retry (kp);
  /* Only an address we reached is worth remembering. */
  if (nl->address != NULL && !kp->persist)
    {
      kp->persist = TRUE;
      known_save (node);
    }
}

static void
known_link_closed (MesharaNode *node, NodeLink *nl)
{
  KnownPeer *kp = known_lookup_link (node, nl);

  if (kp != NULL && kp->retry == NULL)
    known_backoff (node, kp);
}

/* Adds or updates a known peer; a peer already known keeps its state. */
static KnownPeer *
known_add (MesharaNode *node, const char *address,
           const MeshPublicBundle *bundle, gboolean persist)
{
  char *key = mesh_bundle_to_string (bundle);
  KnownPeer *kp = g_hash_table_lookup (node->known, key);

  if (kp != NULL)
    {
      g_free (key);
      if (g_strcmp0 (kp->address, address) != 0)
        {
          g_free (kp->address);
          kp->address = g_strdup (address);
        }
      kp->persist |= persist;
      return kp;
    }
  kp = g_new0 (KnownPeer, 1);
  kp->node = node;
  kp->key = key;
  kp->address = g_strdup (address);
  kp->bundle = *bundle;
  kp->persist = persist;
  g_hash_table_insert (node->known, kp->key, kp);
  return kp;
}

/* Parses "ADDRESS KEY"; FALSE for anything else. */
static gboolean
parse_peer_line (MesharaNode *node, const char *line, char **address,
                 MeshPublicBundle *bundle, GError **error)
{
  const char *space = strchr (line, ' ');
  char *addr;

  if (space == NULL || strchr (space + 1, ' ') != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "not \"ADDRESS PUBLIC-KEY\"");
      return FALSE;
    }
  addr = g_strndup (line, (gsize) (space - line));
  if (!address_check (addr, error)
      || !mesh_bundle_from_string (bundle, space + 1, error))
    {
      g_free (addr);
      return FALSE;
    }
  if (node->identity != NULL
      && mesh_ct_equal (bundle->ed_pub,
                        mesh_identity_from_public (node->identity)->pub.ed_pub,
                        MESH_ED25519_KEY_LEN))
    {
      g_free (addr);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "the node's own key");
      return FALSE;
    }
  *address = addr;
  return TRUE;
}

/* Reads the peers file, when there is one.  A file too large, or not a
 * text file, is an error; a bad line is skipped. */
static gboolean
known_load (MesharaNode *node, GError **error)
{
  char *path, *contents = NULL;
  gsize len;
  GStatBuf st;
  char **lines;
  guint taken = 0;

  path = g_build_filename (node->storage_path, MESHARA_NODE_PEERS_FILE, NULL);
  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        {
          g_free (path);
          return TRUE;
        }
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot read %s: %s", path, g_strerror (saved));
      g_free (path);
      return FALSE;
    }
  if (st.st_size > NODE_PEERS_FILE_MAX)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "%s is %" G_GINT64_FORMAT " bytes, more than the %d a "
                   "peers file may have", path, (gint64) st.st_size,
                   NODE_PEERS_FILE_MAX);
      g_free (path);
      return FALSE;
    }
  if (!g_file_get_contents (path, &contents, &len, error))
    {
      g_free (path);
      return FALSE;
    }
  /* Checked again: the file may have grown since the stat. */
  if (len > NODE_PEERS_FILE_MAX || memchr (contents, '\0', len) != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "%s is not a peers file (too large, or binary)", path);
      g_free (contents);
      g_free (path);
      return FALSE;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL && taken < NODE_PEERS_MAX; i++)
    {
      g_autoptr (GError) line_error = NULL;
      MeshPublicBundle bundle;
      char *address = NULL;
      char *line = g_strstrip (lines[i]);

      if (*line == '\0' || *line == '#')
        continue;
      if (!parse_peer_line (node, line, &address, &bundle, &line_error))
        {
          g_debug ("%s:%" G_GSIZE_FORMAT ": skipped: %s", path, i + 1,
                   line_error->message);
          continue;
        }
      known_add (node, address, &bundle, TRUE);
      g_free (address);
      taken++;
    }
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
  return TRUE;
}

/* The identity from the storage path, created there when missing. */
static gboolean
storage_open (MesharaNode *node, GError **error)
{
  char *path;

  if (g_mkdir_with_parents (node->storage_path, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot create the storage directory %s: %s",
                   node->storage_path, g_strerror (saved));
      return FALSE;
    }
  if (node->identity == NULL)
    {
      path = g_build_filename (node->storage_path, MESHARA_NODE_IDENTITY_FILE,
                               NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          node->identity = meshara_identity_load (path, NULL, error);
          if (node->identity == NULL)
            g_prefix_error (error, "the node's identity: ");
        }
      else
        {
          node->identity = meshara_identity_new ();
          if (!meshara_identity_save (node->identity, path, NULL, error))
            {
              g_prefix_error (error, "cannot store a new identity: ");
              g_clear_pointer (&node->identity, meshara_identity_unref);
            }
        }
      g_free (path);
      if (node->identity == NULL)
        return FALSE;
      g_object_notify_by_pspec (G_OBJECT (node), props[PROP_IDENTITY]);
    }
  return known_load (node, error);
}

/* ---------------------------------------------------------------------- */
/* Engine callbacks */

static void
engine_send_frame (void *user_data, MeshLinkId id, const uint8_t *frame,
                   size_t len)
{
  MesharaNode *node = user_data;
  NodeLink *nl = link_get (node, id);
  g_autoptr (GError) error = NULL;

  if (nl == NULL || (nl->link == NULL && nl->mem == NULL))
    return;
  if (!nl_send (nl, frame, len, &error)
      && g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED))
    {
      /* The application sends faster than the link drains:
       * meshara_node_send_private() withdraws the message and says so. */
      if (node->queue_full == QUEUE_FULL_REFUSES)
        {
          node->send_refused = TRUE;
          return;
        }
      /* A frame from the engine's timer (a resent private message, a
       * ping, an advertisement): dropped, the link and its sessions stay.
       * A private message stays pending and is sent again later (then
       * delivered, or delivery-failed); a peer that stopped reading
       * still loses the link when its pings go unanswered. */
      if (node->queue_full == QUEUE_FULL_DROPS)
        {
          node->dropped_queue_full++;
          return;
        }
      /* A peer that does not read its queue (1 MiB) away is closed rather
       * than waited for: the engine has no way yet to hold frames back, and
       * dropping some would break its sessions and routes.  Counted. */
      node->closed_queue_full++;
      nl_abort (nl, "the send queue is full: the peer "
                           "does not read fast enough");
    }
}

static void
engine_close_link (void *user_data, MeshLinkId id, const char *reason)
{
  MesharaNode *node = user_data;
  NodeLink *nl = link_get (node, id);

  if (nl != NULL)
    nl_abort (nl, reason);
}

static void
engine_connect (void *user_data, const MeshPublicBundle *peer,
                const char *const *addresses, size_t n_addresses)
{
  MesharaNode *node = user_data;

  if (n_addresses == 0 || !node->running
      || link_to_node_exists (node, peer->ed_pub)
      || !connect_token_take (node))
    return;
  /* Failures show later as a failed delivery; nothing to report here. */
  connect_to (node, addresses[0], peer, NULL);
}

static char *
hex32 (const uint8_t *b)
{
  return b ? mesh_node_id_to_hex (b) : g_strdup ("");
}

/* The key text of the sender of a private message, as a new reference
 * to a GRefString. */
static char *
sender_text (MesharaNode *node, const MeshPublicBundle *b)
{
  const MeshPublicBundle *l = &node->last_sender;

  if (node->last_sender_text == NULL
      || memcmp (b->ed_pub, l->ed_pub, sizeof l->ed_pub) != 0
      || memcmp (b->x_pub, l->x_pub, sizeof l->x_pub) != 0
      || memcmp (b->binding_sig, l->binding_sig, sizeof l->binding_sig) != 0)
    {
      char *text = mesh_bundle_to_string (b);

      g_clear_pointer (&node->last_sender_text, g_ref_string_release);
      node->last_sender_text = g_ref_string_new (text);
      node->last_sender = *b;
      g_free (text);
    }
  return g_ref_string_acquire (node->last_sender_text);
}

static void
engine_event (void *user_data, const MeshEvent *ev)
{
  MesharaNode *node = user_data;
  char *id = NULL, *who = NULL;
  GBytes *data;

  /* Stopped from a handler of an earlier event of the same step. */
  if (!node->running)
    return;
  switch (ev->type)
    {
    case MESH_EVENT_PRIVATE_RECEIVED:
      if (ev->bundle == NULL)
        break;
      {
        char *sender = sender_text (node, ev->bundle);

        id = hex32 (ev->message_id);
        data = g_bytes_new (ev->data, ev->len);
        g_signal_emit (node, signals[SIG_PRIVATE_MESSAGE], 0, sender, id, data);
        g_bytes_unref (data);
        g_ref_string_release (sender);
      }
      break;
    case MESH_EVENT_BROADCAST_RECEIVED:
      if (g_strcmp0 (ev->content_type,
                     MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE) == 0)
        {
          update_event (node, ev);
          break;
        }
      who = hex32 (ev->node_id);
      id = hex32 (ev->message_id);
      data = g_bytes_new (ev->data, ev->len);
      g_signal_emit (node, signals[SIG_BROADCAST], 0, who, id, data);
      g_bytes_unref (data);
      break;
    case MESH_EVENT_DELIVERED:
      id = hex32 (ev->message_id);
      g_signal_emit (node, signals[SIG_DELIVERED], 0, id,
                     (guint64) (ev->latency_ns / 1000u));
      break;
    case MESH_EVENT_DELIVERY_FAILED:
      id = hex32 (ev->message_id);
      g_signal_emit (node, signals[SIG_DELIVERY_FAILED], 0, id,
                     ev->reason ? ev->reason : "");
      break;
    case MESH_EVENT_PEER_CONNECTED:
      node->peers_up++;
      who = hex32 (ev->node_id);
      g_signal_emit (node, signals[SIG_PEER_CONNECTED], 0, who);
      break;
    case MESH_EVENT_PEER_DISCONNECTED:
      if (node->peers_up > 0)
        node->peers_up--;
      who = hex32 (ev->node_id);
      g_signal_emit (node, signals[SIG_PEER_DISCONNECTED], 0, who);
      break;
    case MESH_EVENT_LOOKUP_DONE:
      who = hex32 (ev->node_id);
      g_signal_emit (node, signals[SIG_LOOKUP_DONE], 0, who,
                     ev->bundle != NULL);
      break;
    case MESH_EVENT_UPDATE_PROGRESS:
    case MESH_EVENT_UPDATE_COMPLETED:
    case MESH_EVENT_UPDATE_MANIFEST:
    case MESH_EVENT_QUERY_RECEIVED:
      update_event (node, ev);
      break;
    case MESH_EVENT_PEER_MISBEHAVED:
    default:
      break;
    }
  g_free (id);
  g_free (who);
}

/* ---------------------------------------------------------------------- */
/* Updates
 *
 * An authority publishes: the data goes into the chunk cache, the
 * engine serves it, and the notice (the manifest ID and its signatures)
 * goes out as a broadcast.  A node that hears a notice checks k of n
 * against its trust store, asks a neighbour for the manifest (the one
 * that passed the notice on first, then the others in turn: a node
 * answers for the updates it tracks), checks the manifest against the
 * notice and the trust store, keeps it as NAME-VERSION.manifest and
 * lets the engine fetch the chunks into the cache.  When all are held
 * they are assembled (and checked) into NAME-VERSION.data.  At start
 * the manifests in the directory are taken up again: held data is
 * served, missing data fetched, resuming from the chunks in the cache. */

/* The chunk cache under the update directory. */
#define NODE_UPDATE_CACHE_DIR "chunks"
#define NODE_UPDATE_CACHE_MAX (G_GUINT64_CONSTANT (1024) * 1024 * 1024)
/* Manifest queries per notice before the update fails, and the pause
 * after a failed one (a neighbour asked too early may not have it). */
#define NODE_UPDATE_TRIES 40
#define NODE_UPDATE_RETRY_MS 250
/* Manifest files larger than this are not read; at most this many are
 * taken up at start. */
#define NODE_UPDATE_MANIFEST_MAX (1024 * 1024)
#define NODE_UPDATE_FILES_MAX 64

typedef enum {
  NODE_UPDATE_QUERYING,         /* notice accepted, manifest asked for */
  NODE_UPDATE_FETCHING,
  NODE_UPDATE_COMPLETE,         /* data verified in path */
  NODE_UPDATE_FAILED,
  NODE_UPDATE_PUBLISHED,        /* ours, or held whole: served */
} NodeUpdateState;

static const char *const update_state_names[] = {
  "querying", "fetching", "complete", "failed", "published"
};

typedef struct {
  MesharaNode *node;
  uint8_t id[MESH_SHA256_LEN];
  char *hex;
  char *name;
  guint64 version;
  NodeUpdateState state;
  MeshWireUpdateNotice *notice; /* until the manifest is accepted */
  MeshLinkId first_link;        /* the link the notice came on */
  guint tries;
  GSource *retry;
  MeshWireUpdateManifest *m;    /* once accepted */
  GBytes *encoded;              /* and encoded */
  guint32 done, total;
  char *path;                   /* the data file */
} NodeUpdate;

static void
node_update_free (gpointer data)
{
  NodeUpdate *up = data;

  if (up->retry != NULL)
    {
      g_source_destroy (up->retry);
      g_source_unref (up->retry);
    }
  mesh_wire_free (up->notice);
  mesh_wire_free (up->m);
  if (up->encoded != NULL)
    g_bytes_unref (up->encoded);
  g_free (up->hex);
  g_free (up->name);
  g_free (up->path);
  g_free (up);
}

static const MeshTrustStore *
node_trust (MesharaNode *node)
{
  return mesh_trust_store_of (node->trust ? node->trust : node->trust_loaded);
}

static char *
node_update_dir (MesharaNode *node)
{
  if (node->update_dir != NULL)
    return g_strdup (node->update_dir);
  if (node->storage_path != NULL)
    return g_build_filename (node->storage_path, MESHARA_NODE_UPDATES_DIR,
                             NULL);
  return NULL;
}

/* DIR/NAME-VERSION.suffix, the name made safe for a file name. */
static char *
update_file (MesharaNode *node, const char *name, guint64 version,
             const char *suffix)
{
  g_autofree char *stem = g_strdup_printf ("%s-%" G_GUINT64_FORMAT "%s", name,
                                           version, suffix);

  g_strdelimit (stem, "/\\", '_');
  if (stem[0] == '.')
    stem[0] = '_';
  return g_build_filename (node->update_dir_open, stem, NULL);
}

static void
update_fail (NodeUpdate *up, const char *reason)
{
  up->state = NODE_UPDATE_FAILED;
  g_signal_emit (up->node, signals[SIG_UPDATE_FAILED], 0, up->hex, reason);
}

static void
update_reject (MesharaNode *node, const char *hex, const char *reason)
{
  node->updates_rejected++;
  g_signal_emit (node, signals[SIG_UPDATE_REJECTED], 0, hex ? hex : "", reason);
}

/* Reads the trust store and opens the chunk cache (before the engine
 * exists).  Nothing to do without an update directory. */
static gboolean
updates_open (MesharaNode *node, GError **error)
{
  g_autofree char *dir = node_update_dir (node);
  g_autofree char *cache = NULL;

  g_clear_pointer (&node->trust_loaded, meshara_trust_store_unref);
  if (node->trust == NULL && node->storage_path != NULL)
    {
      g_autofree char *path = g_build_filename (node->storage_path,
                                                MESHARA_NODE_TRUST_FILE, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          node->trust_loaded = meshara_trust_store_load (path, error);
          if (node->trust_loaded == NULL)
            {
              g_prefix_error (error, "the node's trust store: ");
              return FALSE;
            }
        }
    }
  if (dir == NULL)
    return TRUE;
  if (node->chunks != NULL && g_strcmp0 (dir, node->update_dir_open) == 0)
    return TRUE;
  updates_free (node);
  cache = g_build_filename (dir, NODE_UPDATE_CACHE_DIR, NULL);
  node->chunks = mesh_chunk_store_open (cache, NODE_UPDATE_CACHE_MAX, error);
  if (node->chunks == NULL)
    {
      g_prefix_error (error, "the node's update cache: ");
      return FALSE;
    }
  node->chunk_source = mesh_chunk_source_new (node->chunks);
  node->update_dir_open = g_steal_pointer (&dir);
  return TRUE;
}

/* Closes the chunk cache (the engine using it is gone). */
static void
updates_free (MesharaNode *node)
{
  g_clear_pointer (&node->chunk_source, mesh_chunk_source_free);
  g_clear_pointer (&node->chunks, mesh_chunk_store_free);
  g_clear_pointer (&node->update_dir_open, g_free);
}

/* Stores the chunks of m that the cache misses from the data file. */
static gboolean
chunks_from_file (MesharaNode *node, const MeshWireUpdateManifest *m,
                  const char *path, GError **error)
{
  g_autoptr (GMappedFile) file = NULL;
  const guint8 *data;
  gsize len;

  file = g_mapped_file_new (path, FALSE, error);
  if (file == NULL)
    return FALSE;
  data = (const guint8 *) g_mapped_file_get_contents (file);
  len = g_mapped_file_get_length (file);
  if (len != m->size)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "%s holds %" G_GSIZE_FORMAT " bytes, the manifest says %"
                   G_GUINT64_FORMAT, path, len, m->size);
      return FALSE;
    }
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      gsize off = (gsize) i * m->chunk_size;

      if (mesh_chunk_store_has (node->chunks, m->chunk_hashes[i].data))
        continue;
      if (!mesh_chunk_store_put_chunk (node->chunks, m, i, data + off,
                                       mesh_update_chunk_len (m, i), error))
        return FALSE;
    }
  return TRUE;
}

static NodeUpdate *
update_new (MesharaNode *node, const uint8_t id[MESH_SHA256_LEN],
            const char *name, guint64 version, NodeUpdateState state)
{
  NodeUpdate *up = g_new0 (NodeUpdate, 1);

  up->node = node;
  memcpy (up->id, id, MESH_SHA256_LEN);
  up->hex = mesh_node_id_to_hex (id);
  up->name = g_strdup (name);
  up->version = version;
  up->state = state;
  up->first_link = MESH_LINK_NONE;
  g_hash_table_replace (node->updates, up->hex, up);
  return up;
}

/* Hands the manifest (checked) to the cache and the engine: served, and
 * fetched unless held whole. */
static gboolean
update_track (MesharaNode *node, NodeUpdate *up, const guint8 *manifest,
              gsize len, gboolean fetch, GError **error)
{
  if (!mesh_chunk_source_add (node->chunk_source, manifest, len, NULL, error)
      || !mesh_engine_update_add (node->engine, up->id, manifest, len, fetch,
                                  now_ns (), error))
    return FALSE;
  mesh_engine_update_progress (node->engine, up->id, &up->done, &up->total);
  if (up->encoded == NULL)
    up->encoded = g_bytes_new (manifest, len);
  return TRUE;
}

/* Takes up a manifest file of the update directory at start: held data
 * is served, missing data fetched (what the cache holds counts). */
static void
update_resume (MesharaNode *node, const char *name)
{
  g_autofree char *path = g_build_filename (node->update_dir_open, name, NULL);
  g_autofree char *stem = NULL, *data_path = NULL, *contents = NULL;
  g_autoptr (GError) error = NULL;
  MeshWireUpdateManifest *m;
  uint8_t id[MESH_SHA256_LEN];
  g_autofree char *hex = NULL;
  NodeUpdate *up;
  GStatBuf st;
  gboolean held;
  gsize len;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)
      || st.st_size > NODE_UPDATE_MANIFEST_MAX
      || !g_file_get_contents (path, &contents, &len, &error))
    return;
  m = mesh_update_manifest_parse ((const guint8 *) contents, len, &error);
  if (m == NULL)
    {
      g_debug ("update %s not taken up: %s", path, error->message);
      return;
    }
  mesh_update_manifest_digest (m, id);
  hex = mesh_node_id_to_hex (id);
  if (g_hash_table_contains (node->updates, hex))
    {
      mesh_wire_free (m);
      return;
    }
  stem = g_strndup (path, strlen (path) - strlen (".manifest"));
  data_path = g_strconcat (stem, ".data", NULL);
  held = g_file_test (data_path, G_FILE_TEST_IS_REGULAR)
         && mesh_update_verify_file (m, data_path, NULL);
  if (held && !chunks_from_file (node, m, data_path, &error))
    {
      g_debug ("update %s not served: %s", path, error->message);
      mesh_wire_free (m);
      return;
    }
  if (!held && (node_trust (node) == NULL
                || !mesh_update_manifest_verify (m, node_trust (node), 0, NULL,
                                                 &error)))
    {
      g_debug ("update %s not fetched: %s", path,
               error ? error->message : "no trust store");
      mesh_wire_free (m);
      return;
    }
  if (!held)
    {
      /* Reads what the cache holds of it and drops damaged chunks, so
       * that the engine counts only good ones as held. */
      GArray *missing = mesh_chunk_store_missing (node->chunks, m);

      g_array_unref (missing);
    }
  up = update_new (node, id, m->name, m->version,
                   held ? NODE_UPDATE_PUBLISHED : NODE_UPDATE_FETCHING);
  up->m = m;
  up->path = g_steal_pointer (&data_path);
  if (!update_track (node, up, (const guint8 *) contents, len, !held, &error)
      && node->running)
    update_fail (up, error->message);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The engine exists: give it the cache and take up the manifests. */
static void
updates_start (MesharaNode *node)
{
  g_autoptr (GPtrArray) names = NULL;
  const char *name;
  GDir *dir;

  node->updates_rejected = 0;
  if (node->chunks == NULL)
    return;
  node->updates = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         node_update_free);
  mesh_engine_set_chunk_store (node->engine, mesh_chunk_source_funcs (),
                               node->chunk_source);
  dir = g_dir_open (node->update_dir_open, 0, NULL);
  if (dir == NULL)
    return;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL
         && names->len < NODE_UPDATE_FILES_MAX)
    if (g_str_has_suffix (name, ".manifest"))
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  node_enter (node);
  for (guint i = 0; i < names->len && node->running; i++)
    update_resume (node, g_ptr_array_index (names, i));
  node_leave (node);
}

static void
updates_stop (MesharaNode *node)
{
  g_clear_pointer (&node->updates, g_hash_table_unref);
}

static NodeUpdate *
update_lookup (MesharaNode *node, const uint8_t *id)
{
  g_autofree char *hex = NULL;

  if (node->updates == NULL || id == NULL)
    return NULL;
  hex = mesh_node_id_to_hex (id);
  return g_hash_table_lookup (node->updates, hex);
}

static void update_query (NodeUpdate *up);

static gboolean
update_retry_due (gpointer user_data)
{
  NodeUpdate *up = user_data;
  MesharaNode *node = up->node;

  g_clear_pointer (&up->retry, g_source_unref);
  node_enter (node);
  if (node->running)
    update_query (up);
  node_leave (node);
  return G_SOURCE_REMOVE;
}

static void
update_retry (NodeUpdate *up)
{
  if (up->retry != NULL)
    return;
  up->retry = g_timeout_source_new (NODE_UPDATE_RETRY_MS);
  g_source_set_callback (up->retry, update_retry_due, up, NULL);
  g_source_attach (up->retry, up->node->context);
}

static gint
compare_link_ids (gconstpointer a, gconstpointer b)
{
  guint32 x = (*(NodeLink *const *) a)->id, y = (*(NodeLink *const *) b)->id;

  return x < y ? -1 : x > y;
}

/* Asks a neighbour for the manifest: first the one the notice came
 * from, then each in turn. */
static void
update_query (NodeUpdate *up)
{
  MesharaNode *node = up->node;
  g_autoptr (GPtrArray) peers = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  NodeLink *nl = NULL;
  GHashTableIter iter;
  gpointer value;
  char *reason;

  if (up->state != NODE_UPDATE_QUERYING)
    return;
  if (up->tries >= NODE_UPDATE_TRIES)
    {
      reason = g_strdup_printf ("no neighbour gave the manifest in %u tries",
                                up->tries);
      update_fail (up, reason);
      g_free (reason);
      return;
    }
  up->tries++;
  if (up->tries == 1)
    nl = link_get (node, up->first_link);
  if (nl == NULL || !nl->up || !nl->have_bundle)
    {
      g_hash_table_iter_init (&iter, node->links);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((NodeLink *) value)->up && ((NodeLink *) value)->have_bundle)
          g_ptr_array_add (peers, value);
      if (peers->len == 0)
        {
          update_retry (up);
          return;
        }
      g_ptr_array_sort (peers, compare_link_ids);
      nl = g_ptr_array_index (peers, up->tries % peers->len);
    }
  if (!mesh_engine_update_query_manifest (node->engine, &nl->bundle, up->id,
                                          now_ns (), &error))
    {
      g_debug ("update %s: cannot ask for the manifest: %s", up->hex,
               error->message);
      if (node->running)
        update_retry (up);
    }
}

/* A broadcast notice: k of n trusted signatures, or rejected. */
static void
update_notice (MesharaNode *node, const MeshEvent *ev)
{
  g_autoptr (MeshWireUpdateNotice) notice = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *hex = NULL;
  NodeUpdate *up;

  if (node->updates == NULL)
    return;
  notice = mesh_update_notice_parse (ev->data, ev->len, &error);
  if (notice == NULL)
    {
      update_reject (node, NULL, error->message);
      return;
    }
  hex = mesh_node_id_to_hex (notice->manifest_id.data);
  if (g_hash_table_contains (node->updates, hex))
    return;
  if (node_trust (node) == NULL)
    {
      update_reject (node, hex, "no update authority is trusted (no trust "
                     "store)");
      return;
    }
  if (!mesh_update_notice_verify (notice, node_trust (node), 0, &error))
    {
      update_reject (node, hex, error->message);
      return;
    }
  up = update_new (node, notice->manifest_id.data, notice->name,
                   notice->version, NODE_UPDATE_QUERYING);
  up->first_link = ev->link;
  up->notice = g_steal_pointer (&notice);
  g_signal_emit (node, signals[SIG_UPDATE_AVAILABLE], 0, up->hex, up->name,
                 up->version);
  if (node->running)
    update_query (up);
}

/* The answer to a manifest query: checked against the notice and the
 * trust store, kept, and fetched. */
static void
update_manifest (MesharaNode *node, const MeshEvent *ev)
{
  NodeUpdate *up = update_lookup (node, ev->message_id);
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *manifest_path = NULL;
  uint8_t id[MESH_SHA256_LEN];

  if (up == NULL || up->state != NODE_UPDATE_QUERYING)
    return;
  if (ev->data == NULL)
    {
      g_debug ("update %s: no manifest: %s", up->hex,
               ev->reason ? ev->reason : "?");
      update_retry (up);
      return;
    }
  m = mesh_update_manifest_parse (ev->data, ev->len, &error);
  if (m != NULL)
    {
      mesh_update_manifest_digest (m, id);
      if (memcmp (id, up->id, MESH_SHA256_LEN) != 0)
        g_set_error (&error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                     "the manifest sent is not the one announced");
    }
  if (error == NULL)
    mesh_update_manifest_verify (m, node_trust (node), 0, NULL, &error);
  if (error == NULL)
    mesh_update_notice_matches (up->notice, m, &error);
  if (error != NULL)
    {
      update_reject (node, up->hex, error->message);
      if (node->running)
        update_retry (up);
      return;
    }
  manifest_path = update_file (node, m->name, m->version, ".manifest");
  up->path = update_file (node, m->name, m->version, ".data");
  if (!g_file_set_contents (manifest_path, (const char *) ev->data,
                            (gssize) ev->len, &error))
    {
      update_fail (up, error->message);
      return;
    }
  up->state = NODE_UPDATE_FETCHING;
  g_clear_pointer (&up->notice, mesh_wire_free);
  up->m = g_steal_pointer (&m);
  if (!update_track (node, up, ev->data, ev->len, TRUE, &error)
      && node->running)
    update_fail (up, error->message);
}

static void
update_completed (MesharaNode *node, const MeshEvent *ev)
{
  NodeUpdate *up = update_lookup (node, ev->message_id);
  g_autoptr (GError) error = NULL;

  if (up == NULL || up->state != NODE_UPDATE_FETCHING)
    return;
  if (!mesh_chunk_store_assemble (node->chunks, up->m, up->path, &error))
    {
      update_fail (up, error->message);
      return;
    }
  up->state = NODE_UPDATE_COMPLETE;
  up->done = up->total;
  g_signal_emit (node, signals[SIG_UPDATE_COMPLETE], 0, up->hex, up->path);
}

/* An update query the engine did not answer (it answers manifest
 * queries for the updates it tracks): "update-latest" from the updates
 * held whole, NOT_FOUND for another manifest, so that the asker moves on
 * at once instead of waiting for its timeout.  Other queries are left. */
static void
update_query_received (MesharaNode *node, const MeshEvent *ev)
{
  g_autoptr (MeshWireQuery) q = NULL;
  g_autoptr (GPtrArray) held = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) error = NULL;
  GHashTableIter iter;
  gpointer value;

  if (ev->bundle == NULL || node->updates == NULL)
    return;
  q = mesh_wire_decode_query (ev->data, ev->len, NULL);
  if (q == NULL
      || (g_strcmp0 (q->query_type, MESH_WIRE_QUERY_UPDATE_MANIFEST) != 0
          && g_strcmp0 (q->query_type, MESH_WIRE_QUERY_UPDATE_LATEST) != 0))
    return;
  held = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, node->updates);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NodeUpdate *up = value;

      if (up->encoded != NULL && (up->state == NODE_UPDATE_PUBLISHED
                                  || up->state == NODE_UPDATE_COMPLETE))
        g_ptr_array_add (held, up->encoded);
    }
  answer = mesh_update_query_answer (q, held, TRUE);
  if (answer != NULL
      && !mesh_engine_send_content (node->engine, ev->bundle,
                                    MESH_WIRE_TYPE_RESPONSE,
                                    g_bytes_get_data (answer, NULL),
                                    g_bytes_get_size (answer), now_ns (), NULL,
                                    &error))
    g_debug ("cannot answer an update query: %s", error->message);
}

static void
update_event (MesharaNode *node, const MeshEvent *ev)
{
  NodeUpdate *up;

  switch (ev->type)
    {
    case MESH_EVENT_QUERY_RECEIVED:
      update_query_received (node, ev);
      break;
    case MESH_EVENT_BROADCAST_RECEIVED:
      update_notice (node, ev);
      break;
    case MESH_EVENT_UPDATE_MANIFEST:
      update_manifest (node, ev);
      break;
    case MESH_EVENT_UPDATE_PROGRESS:
      up = update_lookup (node, ev->message_id);
      if (up == NULL)
        break;
      up->done = ev->chunks_done;
      up->total = ev->chunks_total;
      g_signal_emit (node, signals[SIG_UPDATE_PROGRESS], 0, up->hex,
                     (guint) up->done, (guint) up->total);
      break;
    case MESH_EVENT_UPDATE_COMPLETED:
      update_completed (node, ev);
      break;
    default:
      break;
    }
}

/* ---------------------------------------------------------------------- */
/* Public API */

/**
 * meshara_node_new:
 * @identity: (nullable): the node's identity (referenced), or %NULL to
 *   take it from the storage path at start (see
 *   meshara_node_set_storage_path())
 *
 * Creates a stopped node bound to the thread-default #GMainContext; all
 * its sockets, timers and signals run there.  It listens on
 * "127.0.0.1:0" unless meshara_node_set_listen_address() says otherwise.
 *
 * Returns: (transfer full): the new node
 */
MesharaNode *
meshara_node_new (MesharaIdentity *identity)
{
  return g_object_new (MESHARA_TYPE_NODE, "identity", identity, NULL);
}

/**
 * meshara_node_get_identity:
 * @node: a node
 *
 * Returns: (transfer none) (nullable): the node's identity; %NULL when
 *   none was given and the node has not started yet
 */
MesharaIdentity *
meshara_node_get_identity (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  return node->identity;
}

/**
 * meshara_node_set_listen_address:
 * @node: a stopped node
 * @address: "ip:port" or "[ipv6]:port"; port 0 picks a free port.  Or
 *   "mem:NAME": the in-process transport, for tests of applications
 *   that run several nodes in one process; such a node opens no socket,
 *   and its peers connect to "mem:NAME" (they must run on the same
 *   thread)
 *
 * Where meshara_node_start() listens.
 */
void
meshara_node_set_listen_address (MesharaNode *node, const char *address)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (address != NULL);
  g_return_if_fail (!node->running);
  if (g_strcmp0 (node->listen_address, address) == 0)
    return;
  g_free (node->listen_address);
  node->listen_address = g_strdup (address);
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_LISTEN_ADDRESS]);
}

/**
 * meshara_node_get_listen_address:
 * @node: a node
 *
 * Returns: (transfer none): the address as set
 */
const char *
meshara_node_get_listen_address (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  return node->listen_address;
}

/**
 * meshara_node_get_port:
 * @node: a node
 *
 * Returns: the TCP port the running node listens on, 0 when stopped
 */
guint16
meshara_node_get_port (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return node->listener ? mesh_listener_get_port (node->listener) : 0;
}

/**
 * meshara_node_set_max_peers:
 * @node: a stopped node
 * @max_peers: links kept at most, incoming and outgoing (at least 1)
 *
 * Overrides the profile's number.
 */
void
meshara_node_set_max_peers (MesharaNode *node, guint max_peers)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (max_peers > 0);
  g_return_if_fail (!node->running);
  if (node->set.max_peers == max_peers)
    return;
  node->set.max_peers = max_peers;
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_MAX_PEERS]);
}

/**
 * meshara_node_get_max_peers:
 * @node: a node
 *
 * Returns: the maximum number of links
 */
guint
meshara_node_get_max_peers (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, max_peers);
}

/**
 * meshara_node_set_profile:
 * @node: a stopped node
 * @profile: the preset for limits, table sizes and fanout
 *
 * Settings made explicitly keep their values.
 */
void
meshara_node_set_profile (MesharaNode *node, MesharaNodeProfile profile)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail ((guint) profile < G_N_ELEMENTS (profile_limits));
  g_return_if_fail (!node->running);
  if (node->profile == profile)
    return;
  node->profile = profile;
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_PROFILE]);
  if (node->set.max_peers == 0)
    g_object_notify_by_pspec (G_OBJECT (node), props[PROP_MAX_PEERS]);
  if (node->set.fanout == 0)
    g_object_notify_by_pspec (G_OBJECT (node), props[PROP_FANOUT]);
}

/**
 * meshara_node_get_profile:
 * @node: a node
 *
 * Returns: the node's profile (%MESHARA_NODE_PROFILE_STANDARD unless set)
 */
MesharaNodeProfile
meshara_node_get_profile (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), MESHARA_NODE_PROFILE_STANDARD);
  return node->profile;
}

/**
 * meshara_node_profile_from_string:
 * @name: "minimal", "standard", "bridge" or "authority" (any case)
 * @profile: (out): the profile
 * @error: return location for a #GError, or %NULL
 *
 * Returns: %TRUE when @name is a profile
 */
gboolean
meshara_node_profile_from_string (const char *name,
                                  MesharaNodeProfile *profile, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (profile != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (profile_names); i++)
    if (g_ascii_strcasecmp (name, profile_names[i]) == 0)
      {
        *profile = (MesharaNodeProfile) i;
        return TRUE;
      }
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
               "unknown profile \"%s\" (minimal, standard, bridge or "
               "authority)", name);
  return FALSE;
}

/**
 * meshara_node_set_fanout:
 * @node: a stopped node
 * @fanout: peers each broadcast is pushed to, 1 to 50; 0 for the
 *   profile's
 */
void
meshara_node_set_fanout (MesharaNode *node, guint fanout)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (fanout <= 50);
  g_return_if_fail (!node->running);
  if (node->set.fanout == fanout)
    return;
  node->set.fanout = fanout;
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_FANOUT]);
}

/**
 * meshara_node_get_fanout:
 * @node: a node
 *
 * Returns: the gossip fanout in use
 */
guint
meshara_node_get_fanout (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, fanout);
}

/**
 * meshara_node_set_max_routes:
 * @node: a stopped node
 * @max_routes: entries the routing table holds at most; 0 for the
 *   profile's
 */
void
meshara_node_set_max_routes (MesharaNode *node, guint max_routes)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  node->set.max_routes = max_routes;
}

/**
 * meshara_node_get_max_routes:
 * @node: a node
 *
 * Returns: the routing table's size limit
 */
guint
meshara_node_get_max_routes (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, max_routes);
}

/**
 * meshara_node_set_seen_capacity:
 * @node: a stopped node
 * @capacity: message IDs each seen-cache remembers; 0 for the profile's
 */
void
meshara_node_set_seen_capacity (MesharaNode *node, guint capacity)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  node->set.seen_capacity = capacity;
}

/**
 * meshara_node_get_seen_capacity:
 * @node: a node
 *
 * Returns: the seen-caches' capacity
 */
guint
meshara_node_get_seen_capacity (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, seen_capacity);
}

/**
 * meshara_node_set_accepts_per_second:
 * @node: a stopped node
 * @rate: incoming connections taken per second (more are closed at
 *   once); 0 for the profile's
 */
void
meshara_node_set_accepts_per_second (MesharaNode *node, guint rate)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  node->set.accepts_per_s = rate;
}

/**
 * meshara_node_get_accepts_per_second:
 * @node: a node
 *
 * Returns: the limit on incoming connections per second
 */
guint
meshara_node_get_accepts_per_second (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, accepts_per_s);
}

/**
 * meshara_node_set_connects_per_second:
 * @node: a stopped node
 * @rate: outgoing connections opened per second (more wait); 0 for the
 *   profile's
 */
void
meshara_node_set_connects_per_second (MesharaNode *node, guint rate)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  node->set.connects_per_s = rate;
}

/**
 * meshara_node_get_connects_per_second:
 * @node: a node
 *
 * Returns: the limit on outgoing connections per second
 */
guint
meshara_node_get_connects_per_second (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return LIMIT (node, connects_per_s);
}

/**
 * meshara_node_set_mdns:
 * @node: a stopped node
 * @enabled: whether to discover peers on the local network
 *
 * With discovery on, the running node publishes itself as a
 * "_meshara._tcp" DNS-SD service through the Avahi daemon (its port, and
 * its public key in the TXT record "key") and connects to the other
 * nodes it finds that way, pinning the key each one published, as long
 * as it has fewer links than its maximum.  The listen address must be
 * reachable from the network (for example "0.0.0.0:PORT").
 * meshara_node_start() fails when the library was built without Avahi
 * or the daemon cannot be reached.
 */
void
meshara_node_set_mdns (MesharaNode *node, gboolean enabled)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  enabled = !!enabled;
  if (node->mdns == enabled)
    return;
  node->mdns = enabled;
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_MDNS]);
}

/**
 * meshara_node_get_mdns:
 * @node: a node
 *
 * Returns: whether discovery on the local network is on
 */
gboolean
meshara_node_get_mdns (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  return node->mdns;
}

/**
 * meshara_node_set_storage_path:
 * @node: a stopped node
 * @path: (nullable): a directory the node keeps its state in, created
 *   with mode 0700 when missing; %NULL for none
 *
 * At start a node created without an identity loads it from
 * @path/identity.key, or creates one and stores it there (in an
 * unencrypted keystore: an application that wants a passphrase loads
 * the identity itself and passes it to meshara_node_new()).  Peers the
 * node connected to are remembered in @path/peers and dialled again at
 * the next start.
 */
void
meshara_node_set_storage_path (MesharaNode *node, const char *path)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  g_return_if_fail (!node->running);
  if (g_strcmp0 (node->storage_path, path) == 0)
    return;
  g_free (node->storage_path);
  node->storage_path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_STORAGE_PATH]);
}

/**
 * meshara_node_get_storage_path:
 * @node: a node
 *
 * Returns: (transfer none) (nullable): the storage path
 */
const char *
meshara_node_get_storage_path (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  return node->storage_path;
}

/**
 * meshara_node_is_running:
 * @node: a node
 *
 * Returns: %TRUE between a successful meshara_node_start() and
 *   meshara_node_stop()
 */
gboolean
meshara_node_is_running (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  return node->running;
}

static char *
address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
  GInetAddress *ip = g_inet_socket_address_get_address (inet);
  char *host = g_inet_address_to_string (ip);
  guint16 port = g_inet_socket_address_get_port (inet);
  char *out;

  if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV6)
    out = g_strdup_printf ("[%s]:%u", host, port);
  else
    out = g_strdup_printf ("%s:%u", host, port);
  g_free (host);
  return out;
}

#ifdef HAVE_AVAHI
/* A service found on the local network: dial it with its key pinned,
 * unless it is us, already known or linked, or the node is full. */
static void
on_mdns_found (const char *address, const char *public_key,
               gpointer user_data)
{
  MesharaNode *node = user_data;
  g_autoptr (GError) error = NULL;
  MeshPublicBundle peer;
  GHashTableIter iter;
  gpointer value;
  guint from_mdns = 0;
  char *key;
  KnownPeer *kp;

  if (!node->running || !mesh_bundle_from_string (&peer, public_key, NULL))
    return;
  if (mesh_ct_equal (peer.ed_pub,
                     mesh_identity_from_public (node->identity)->pub.ed_pub,
                     MESH_ED25519_KEY_LEN)
      || link_to_node_exists (node, peer.ed_pub))
    return;
  key = mesh_bundle_to_string (&peer);
  kp = g_hash_table_lookup (node->known, key);
  g_free (key);
  if (kp != NULL)
    {
      /* A peer found this way before that came back on another address
       * (a new port after a restart): dial the new one now. */
      if (kp->from_mdns && strcmp (kp->address, address) != 0)
        {
          g_free (kp->address);
          kp->address = g_strdup (address);
          kp->attempts = 0;
          known_cancel_retry (kp);
          known_dial (node, kp);
        }
      return;
    }
  /* Bounded: a network announcing many keys does not grow the table. */
  g_hash_table_iter_init (&iter, node->known);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((KnownPeer *) value)->from_mdns)
      from_mdns++;
  if (from_mdns >= LIMIT (node, max_peers)
      || g_hash_table_size (node->links) >= LIMIT (node, max_peers))
    return;
  if (!meshara_node_add_peer (node, address, public_key, &error))
    {
      g_debug ("mDNS: cannot connect to %s: %s", address, error->message);
      return;
    }
  key = mesh_bundle_to_string (&peer);
  kp = g_hash_table_lookup (node->known, key);
  g_free (key);
  if (kp != NULL)
    kp->from_mdns = TRUE;
}
#endif

static gboolean
discovery_start (MesharaNode *node, GError **error)
{
  if (!node->mdns)
    return TRUE;
  if (node->listener == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "mDNS discovery needs a TCP listen address, not %s",
                   node->listen_address);
      return FALSE;
    }
#ifdef HAVE_AVAHI
  {
    const MeshIdentity *self = mesh_identity_from_public (node->identity);
    char *key = mesh_bundle_to_string (&self->pub);
    char *id = mesh_node_id_to_hex (self->pub.node_id);
    GSocketAddress *bound = mesh_listener_get_address (node->listener);
    gboolean ipv6 = g_socket_address_get_family (bound) == G_SOCKET_FAMILY_IPV6;

    g_object_unref (bound);
    node->discovery = mesh_mdns_new (node->context, key, id,
                                     mesh_listener_get_port (node->listener),
                                     ipv6, on_mdns_found, node, error);
    g_free (key);
    g_free (id);
    return node->discovery != NULL;
  }
#else
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
               "mDNS discovery is on, but libmeshara was built without Avahi "
               "(configure --with-avahi)");
  return FALSE;
#endif
}

/**
 * meshara_node_start:
 * @node: a stopped node
 * @error: return location for a #GError, or %NULL
 *
 * Makes the TLS credentials from the identity, listens, and starts the
 * protocol engine.
 *
 * Returns: %TRUE when the node runs, %FALSE with @error set (the address
 *   is bad or busy, ...)
 */
gboolean
meshara_node_start (MesharaNode *node, GError **error)
{
  const MeshIdentity *self;
  MeshEngineConfig config;
  MeshEngineCallbacks callbacks = {
    engine_send_frame, engine_close_link, engine_connect, engine_event,
    mesh_random_system
  };
  GSocketAddress *bound;
  const char *addresses[2] = { NULL, NULL };
  uint64_t now;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (node->running)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the node is already running");
      return FALSE;
    }
  if (node->links_dead != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the node cannot start again inside the callback that "
                   "stopped it");
      return FALSE;
    }
  if (node->storage_path != NULL && !storage_open (node, error))
    return FALSE;
  if (node->identity == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the node has no identity: give one to meshara_node_new() "
                   "or set a storage path");
      return FALSE;
    }
  if (!updates_open (node, error))
    return FALSE;
  self = mesh_identity_from_public (node->identity);
  node->creds = mesh_tls_credentials_new (self,
                                          g_get_real_time () / G_USEC_PER_SEC,
                                          mesh_random_system, NULL, error);
  if (node->creds == NULL)
    return FALSE;
  node->links = g_hash_table_new_full (NULL, NULL, NULL, node_link_free);
  node->next_link_id = 1;
  if (mesh_mem_address_is (node->listen_address))
    {
      /* In-process: no socket at all. */
      if (!mesh_mem_listen (node->listen_address, self->pub.ed_pub,
                            on_mem_accept, node, error))
        {
          g_clear_pointer (&node->links, g_hash_table_unref);
          g_clear_pointer (&node->creds, mesh_tls_credentials_unref);
          return FALSE;
        }
      node->mem_address = g_strdup (node->listen_address);
      node->bound_address = g_strdup (node->listen_address);
    }
  else
    {
      node->listener = mesh_listener_new (node->context, node->listen_address,
                                          node->creds, NULL,
                                          LIMIT (node, accepts_per_s),
                                          on_accept, node, error);
      if (node->listener == NULL)
        {
          g_clear_pointer (&node->links, g_hash_table_unref);
          g_clear_pointer (&node->creds, mesh_tls_credentials_unref);
          return FALSE;
        }
      bound = mesh_listener_get_address (node->listener);
      node->bound_address = address_to_string (bound);
      g_object_unref (bound);
    }
  if (!discovery_start (node, error))
    {
      g_clear_pointer (&node->listener, mesh_listener_free);
      if (node->mem_address != NULL)
        {
          mesh_mem_unlisten (node->mem_address);
          g_clear_pointer (&node->mem_address, g_free);
        }
      g_clear_pointer (&node->bound_address, g_free);
      g_clear_pointer (&node->links, g_hash_table_unref);
      g_clear_pointer (&node->creds, mesh_tls_credentials_unref);
      return FALSE;
    }
  addresses[0] = node->bound_address;

  now = now_ns ();
  mesh_engine_config_init (&config);
  /* The engine's clock is the monotonic one; this ties it to the wall
   * clock for message timestamps. */
  config.wall_epoch_ms = (uint64_t) (g_get_real_time () / 1000)
                         - now / 1000000u;
  config.max_links = LIMIT (node, max_peers);
  config.gossip_fanout = LIMIT (node, fanout);
  config.max_routes = LIMIT (node, max_routes);
  config.seen_capacity = LIMIT (node, seen_capacity);
  config.addresses = addresses;
  node->engine = mesh_engine_new (self, &config, &callbacks, node, now);

  node->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (node->timer, NULL, node, NULL);
  g_source_set_name (node->timer, "MesharaNode engine timer");
  g_source_attach (node->timer, node->context);
  node->running = TRUE;
  node->connect_tokens = LIMIT (node, connects_per_s);
  node->connect_refill_us = g_get_monotonic_time ();
  rearm_timer (node);
  g_object_notify_by_pspec (G_OBJECT (node), props[PROP_PORT]);
  updates_start (node);

  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, node->known);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        KnownPeer *kp = value;

        kp->attempts = 0;
        known_dial (node, kp);
      }
  }
  return TRUE;
}

/**
 * meshara_node_stop:
 * @node: a node
 *
 * Closes every link at once and the listener, and drops the engine with
 * what it held (undelivered messages are lost).  No signal follows.  May
 * be called from a signal handler.
 */
void
meshara_node_stop (MesharaNode *node)
{
  g_return_if_fail (MESHARA_IS_NODE (node));
  if (!node->running)
    return;
  node->running = FALSE;
  updates_stop (node);
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, node->known);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      known_cancel_retry (value);
  }
  if (node->timer != NULL)
    {
      g_source_destroy (node->timer);
      g_clear_pointer (&node->timer, g_source_unref);
    }
#ifdef HAVE_AVAHI
  g_clear_pointer (&node->discovery, mesh_mdns_free);
#endif
  g_clear_pointer (&node->listener, mesh_listener_free);
  if (node->mem_address != NULL)
    {
      mesh_mem_unlisten (node->mem_address);
      g_clear_pointer (&node->mem_address, g_free);
    }
  /* Unreferencing the links closes their sockets without callbacks. */
  if (node->busy > 0)
    {
      /* Freed by the outermost node_leave(). */
      node->links_dead = g_steal_pointer (&node->links);
      node->engine_dead = g_steal_pointer (&node->engine);
    }
  else
    {
      g_clear_pointer (&node->links, g_hash_table_unref);
      g_clear_pointer (&node->engine, mesh_engine_free);
    }
  node->peers_up = 0;
  g_clear_pointer (&node->creds, mesh_tls_credentials_unref);
  g_clear_pointer (&node->bound_address, g_free);
}

static gboolean
check_running (MesharaNode *node, GError **error)
{
  if (node->running)
    return TRUE;
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
               "the node is not running (call meshara_node_start first)");
  return FALSE;
}

/**
 * meshara_node_add_peer:
 * @node: a running node
 * @address: "ip:port" of the peer, or "mem:NAME" for a node of this
 *   process
 * @public_key: (nullable): the peer's public key ("mshr1..."), pinned:
 *   a peer presenting another key is refused
 * @error: return location for a #GError, or %NULL
 *
 * Connects to a peer.  The outcome comes later: "peer-connected", or
 * "link-failed" naming @address and why.  The public key is required
 * for now: the protocol engine needs the peer's whole public bundle,
 * which TLS alone does not give (incoming links learn it from HELLO).
 *
 * Returns: %TRUE when the connection attempt started
 */
gboolean
meshara_node_add_peer (MesharaNode *node, const char *address,
                       const char *public_key, GError **error)
{
  MeshPublicBundle peer;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_running (node, error))
    return FALSE;
  if (!address_check (address, error))
    return FALSE;
  if (public_key == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "peer %s: its public key is needed to connect (the node "
                   "cannot yet learn it from the peer)", address);
      return FALSE;
    }
  if (!mesh_bundle_from_string (&peer, public_key, error))
    {
      g_prefix_error (error, "peer %s: ", address);
      return FALSE;
    }
  if (mesh_ct_equal (peer.ed_pub,
                     mesh_identity_from_public (node->identity)->pub.ed_pub,
                     MESH_ED25519_KEY_LEN))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "peer %s: the public key is this node's own", address);
      return FALSE;
    }
  if (!connect_to (node, address, &peer, error))
    return FALSE;
  /* Kept: dialled again when the link drops. */
  known_cancel_retry (known_add (node, address, &peer, FALSE));
  return TRUE;
}

/**
 * meshara_node_add_bootstrap_peer:
 * @node: a node, running or not
 * @address: "ip:port" of the peer
 * @public_key: the peer's public key ("mshr1..."), pinned
 * @error: return location for a #GError, or %NULL
 *
 * Adds a peer the node dials at start (now, when it runs) and again,
 * with exponential backoff, whenever the link to it drops or cannot be
 * made.  Once connected it is also remembered in the storage path.
 *
 * Returns: %TRUE when @address and @public_key are valid
 */
gboolean
meshara_node_add_bootstrap_peer (MesharaNode *node, const char *address,
                                 const char *public_key, GError **error)
{
  MeshPublicBundle peer;
  KnownPeer *kp;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!address_check (address, error))
    return FALSE;
  if (!mesh_bundle_from_string (&peer, public_key, error))
    {
      g_prefix_error (error, "peer %s: ", address);
      return FALSE;
    }
  if (node->identity != NULL
      && mesh_ct_equal (peer.ed_pub,
                        mesh_identity_from_public (node->identity)->pub.ed_pub,
                        MESH_ED25519_KEY_LEN))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "peer %s: the public key is this node's own", address);
      return FALSE;
    }
  kp = known_add (node, address, &peer, FALSE);
  if (node->running)
    known_dial (node, kp);
  return TRUE;
}

/**
 * meshara_node_remove_peer:
 * @node: a node, running or not
 * @public_key: the peer's public key ("mshr1...")
 * @error: return location for a #GError, or %NULL
 *
 * Forgets a peer: it is no longer dialled again, it leaves the peers
 * file of the storage path, and a link to it is closed.
 *
 * Returns: %TRUE when the peer was known or linked; %FALSE with
 *   %MESHARA_ERROR_NOT_FOUND when it was neither, or another code for a
 *   bad key
 */
gboolean
meshara_node_remove_peer (MesharaNode *node, const char *public_key,
                          GError **error)
{
  MeshPublicBundle peer;
  KnownPeer *kp;
  char *key;
  gboolean found = FALSE, persisted = FALSE;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mesh_bundle_from_string (&peer, public_key, error))
    return FALSE;
  key = mesh_bundle_to_string (&peer);
  kp = g_hash_table_lookup (node->known, key);
  if (kp != NULL)
    {
      persisted = kp->persist;
      g_hash_table_remove (node->known, key);
      found = TRUE;
    }
  g_free (key);
  if (persisted)
    known_save (node);
  if (node->running)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, node->links);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          NodeLink *nl = value;
          const uint8_t *k = nl->have_bundle ? nl->bundle.ed_pub
                                             : nl_peer_ed_pub (nl);

          if (k != NULL && mesh_ct_equal (k, peer.ed_pub, MESH_ED25519_KEY_LEN))
            {
              /* Closed from the context: callbacks may not run here. */
              nl_abort (nl, "the peer was removed");
              found = TRUE;
            }
        }
    }
  if (!found)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND,
                 "the peer is neither known nor linked");
  return found;
}

static char *
id_or_null (gboolean ok, const uint8_t *id)
{
  return ok ? mesh_node_id_to_hex (id) : NULL;
}

/**
 * meshara_node_send_private:
 * @node: a running node
 * @public_key: the recipient's public key ("mshr1...")
 * @data: (array length=len): the message
 * @len: its length
 * @error: return location for a #GError, or %NULL
 *
 * Sends an end-to-end encrypted message.  It is routed over the mesh
 * and retried until acknowledged: "delivered" or "delivery-failed"
 * follows with the returned ID.
 *
 * When the send queue of the link toward the recipient is full (the
 * application sends faster than the link drains), the message is not
 * sent and the error is %MESHARA_ERROR_EXHAUSTED: let the node's main
 * context run, then send it again.
 *
 * Returns: (transfer full) (nullable): the message ID in hex, or %NULL
 *   with @error set (bad key, too large, too many messages waiting, send
 *   queue full)
 */
char *
meshara_node_send_private (MesharaNode *node, const char *public_key,
                           const guint8 *data, gsize len, GError **error)
{
  MeshPublicBundle to;
  uint8_t id[32];
  gboolean ok, refused;
  int mode;

  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  g_return_val_if_fail (public_key != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_running (node, error))
    return NULL;
  if (!mesh_bundle_from_string (&to, public_key, error))
    {
      g_prefix_error (error, "recipient: ");
      return NULL;
    }
  node_enter (node);
  mode = node->queue_full;
  refused = node->send_refused;
  node->queue_full = QUEUE_FULL_REFUSES;
  node->send_refused = FALSE;
  ok = mesh_engine_send_private (node->engine, &to, data, len, now_ns (), id,
                                 error);
  node->queue_full = mode;
  if (ok && node->send_refused)
    {
      mesh_engine_cancel_private (node->engine, id);
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                           "the send queue of the link toward the recipient "
                           "is full: message not sent, send it again once "
                           "the node's main context has run");
      ok = FALSE;
    }
  node->send_refused = refused;
  node_leave (node);
  return id_or_null (ok, id);
}

/**
 * meshara_node_broadcast:
 * @node: a running node
 * @data: (array length=len): the content
 * @len: its length
 * @content_type: (nullable): printable ASCII, at most 128 bytes
 * @error: return location for a #GError, or %NULL
 *
 * Signs @data and floods it to every node of the mesh.
 *
 * Returns: (transfer full) (nullable): the message ID in hex, or %NULL
 *   with @error set
 */
char *
meshara_node_broadcast (MesharaNode *node, const guint8 *data, gsize len,
                        const char *content_type, GError **error)
{
  uint8_t id[32];
  gboolean ok;

  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_running (node, error))
    return NULL;
  node_enter (node);
  ok = mesh_engine_broadcast (node->engine, data, len,
                              content_type ? content_type : "", now_ns (), id,
                              error);
  node_leave (node);
  return id_or_null (ok, id);
}

static gboolean
parse_node_id (const char *hex, uint8_t out[MESH_NODE_ID_LEN], GError **error)
{
  if (strlen (hex) != 2 * MESH_NODE_ID_LEN)
    goto bad;
  for (gsize i = 0; i < MESH_NODE_ID_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        goto bad;
      out[i] = (uint8_t) (hi << 4 | lo);
    }
  return TRUE;

bad:
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
               "a node ID is %d hex digits", 2 * MESH_NODE_ID_LEN);
  return FALSE;
}

/**
 * meshara_node_has_route:
 * @node: a node
 * @node_id_hex: a node ID, 64 hex digits
 *
 * Whether a message to that node would leave on a link now, for
 * diagnostics and for waiting until routes have spread.
 *
 * Returns: %TRUE when the running node has a route to @node_id_hex
 */
gboolean
meshara_node_has_route (MesharaNode *node, const char *node_id_hex)
{
  uint8_t target[MESH_NODE_ID_LEN];

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (node_id_hex != NULL, FALSE);
  if (!node->running || !parse_node_id (node_id_hex, target, NULL))
    return FALSE;
  return mesh_engine_route_lookup (node->engine, target) != MESH_LINK_NONE;
}

/**
 * meshara_node_lookup:
 * @node: a running node
 * @node_id_hex: the node ID to find, 64 hex digits
 * @error: return location for a #GError, or %NULL
 *
 * Looks the node's contact record up in the DHT; "lookup-done" tells
 * the result (possibly before this returns).
 *
 * Returns: %TRUE when the lookup started
 */
gboolean
meshara_node_lookup (MesharaNode *node, const char *node_id_hex,
                     GError **error)
{
  uint8_t target[MESH_NODE_ID_LEN];
  gboolean ok;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (node_id_hex != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_running (node, error) || !parse_node_id (node_id_hex, target, error))
    return FALSE;
  node_enter (node);
  ok = mesh_engine_lookup (node->engine, target, now_ns (), error);
  node_leave (node);
  return ok;
}

/**
 * meshara_node_get_peer_count:
 * @node: a node
 *
 * Returns: the peers whose links are up
 */
guint
meshara_node_get_peer_count (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), 0);
  return node->peers_up;
}

/**
 * meshara_node_list_peers:
 * @node: a node
 *
 * The peers whose links are up, with per-peer statistics, as an array of
 * dictionaries (type "aa{sv}").  Each has the members "node-id",
 * "public-key" and "address" (strings; the address is the one dialled,
 * or "" for a link the peer opened), "outgoing" (boolean),
 * "connected-us" and "idle-us" (microseconds since the link came up and
 * since the peer last sent anything), "bytes-in", "bytes-out",
 * "frames-in", "frames-out", "invalid-frames" and "rtt-us" (unsigned
 * 64-bit; rtt-us is 0 until measured) and "reputation" (int32, -200 to
 * 1000; invalid data lowers it).
 *
 * Returns: (transfer full): the list; empty when the node is stopped
 */
GVariant *
meshara_node_list_peers (MesharaNode *node)
{
  GVariantBuilder list;
  GHashTableIter iter;
  gpointer value;
  uint64_t now = now_ns ();

  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  if (node->running)
    {
      g_hash_table_iter_init (&iter, node->links);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          NodeLink *nl = value;
          MeshLinkInfo info;
          GVariantBuilder d;
          char *id, *key;

          if (!nl->up || !mesh_engine_get_link_info (node->engine, nl->id,
                                                     &info))
            continue;
          id = mesh_node_id_to_hex (info.peer.node_id);
          key = mesh_bundle_to_string (&info.peer);
          g_variant_builder_init (&d, G_VARIANT_TYPE ("a{sv}"));
          g_variant_builder_add (&d, "{sv}", "node-id",
                                 g_variant_new_string (id));
          g_variant_builder_add (&d, "{sv}", "public-key",
                                 g_variant_new_string (key));
          g_variant_builder_add (&d, "{sv}", "address",
                                 g_variant_new_string (nl->address
                                                       ? nl->address : ""));
          g_variant_builder_add (&d, "{sv}", "outgoing",
                                 g_variant_new_boolean (nl->address != NULL));
          g_variant_builder_add (&d, "{sv}", "connected-us",
                                 g_variant_new_uint64 (
                                   (now - MIN (now, info.connected_ns)) / 1000u));
          g_variant_builder_add (&d, "{sv}", "idle-us",
                                 g_variant_new_uint64 (
                                   (now - MIN (now, info.last_seen_ns)) / 1000u));
          g_variant_builder_add (&d, "{sv}", "bytes-in",
                                 g_variant_new_uint64 (info.bytes_in));
          g_variant_builder_add (&d, "{sv}", "bytes-out",
                                 g_variant_new_uint64 (info.bytes_out));
          g_variant_builder_add (&d, "{sv}", "frames-in",
                                 g_variant_new_uint64 (info.frames_in));
          g_variant_builder_add (&d, "{sv}", "frames-out",
                                 g_variant_new_uint64 (info.frames_out));
          g_variant_builder_add (&d, "{sv}", "invalid-frames",
                                 g_variant_new_uint64 (info.invalid_frames));
          g_variant_builder_add (&d, "{sv}", "rtt-us",
                                 g_variant_new_uint64 (info.rtt_ns / 1000u));
          g_variant_builder_add (&d, "{sv}", "reputation",
                                 g_variant_new_int32 (info.reputation));
          g_variant_builder_add_value (&list, g_variant_builder_end (&d));
          g_free (id);
          g_free (key);
        }
    }
  return g_variant_ref_sink (g_variant_builder_end (&list));
}

/**
 * meshara_node_set_trust_store:
 * @node: a stopped node
 * @store: (nullable): the update authorities to trust, or %NULL to read
 *   them at start from %MESHARA_NODE_TRUST_FILE in the storage path
 *
 * Notices and manifests of updates are accepted only with the store's
 * threshold of trusted signatures; others are counted and reported by
 * #MesharaNode::update-rejected.  Without any trust store every update
 * is rejected.  Takes effect at the next start.
 */
void
meshara_node_set_trust_store (MesharaNode *node, MesharaTrustStore *store)
{
  g_return_if_fail (MESHARA_IS_NODE (node));

  if (store != NULL)
    meshara_trust_store_ref (store);
  g_clear_pointer (&node->trust, meshara_trust_store_unref);
  node->trust = store;
}

/**
 * meshara_node_set_update_directory:
 * @node: a stopped node
 * @path: (type filename) (nullable): the directory of updates, or %NULL
 *   for %MESHARA_NODE_UPDATES_DIR in the storage path
 *
 * Where the node keeps the chunk cache and the updates it published or
 * fetched.  A node with neither this nor a storage path takes no part in
 * updates.  Takes effect at the next start.
 */
void
meshara_node_set_update_directory (MesharaNode *node, const char *path)
{
  g_return_if_fail (MESHARA_IS_NODE (node));

  g_free (node->update_dir);
  node->update_dir = g_strdup (path);
}

/**
 * meshara_node_get_update_directory:
 * @node: a node
 *
 * Returns: (type filename) (nullable): the directory set with
 *   meshara_node_set_update_directory(), or %NULL
 */
const char *
meshara_node_get_update_directory (MesharaNode *node)
{
  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  return node->update_dir;
}

static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;

  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0
         && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/**
 * meshara_node_publish_update:
 * @node: a running node with an update directory
 * @manifest: a signed manifest (meshara_update_manifest_sign())
 * @data_path: (type filename): the file the manifest describes
 * @error: return location for a #GError, or %NULL
 *
 * Publishes an update as an authority: the data is checked against the
 * manifest, kept in the update directory (NAME-VERSION.manifest and
 * .data) and its chunks in the cache, the node serves them from now on
 * (and after restarts), and the notice goes out to the mesh as a
 * broadcast.  Nodes trusting the signers fetch it.
 *
 * Returns: (transfer full) (nullable): the update's manifest ID in hex,
 *   or %NULL with @error set
 */
char *
meshara_node_publish_update (MesharaNode *node, GBytes *manifest,
                             const char *data_path, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (GBytes) notice = NULL;
  g_autofree char *manifest_path = NULL, *kept = NULL;
  uint8_t id[MESH_SHA256_LEN], msg_id[MESH_SHA256_LEN];
  const guint8 *data;
  NodeUpdate *up;
  gsize len;
  gboolean ok;

  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);
  g_return_val_if_fail (manifest != NULL, NULL);
  g_return_val_if_fail (data_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_running (node, error))
    return NULL;
  if (node->updates == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the node has no update directory (set a storage path or "
                   "an update directory before starting it)");
      return NULL;
    }
  data = g_bytes_get_data (manifest, &len);
  m = mesh_update_manifest_parse (data, len, error);
  if (m == NULL)
    return NULL;
  if (m->n_signatures == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "the manifest of %s %" G_GUINT64_FORMAT " is not signed",
                   m->name, m->version);
      return NULL;
    }
  if (!mesh_update_verify_file (m, data_path, error))
    return NULL;
  mesh_update_manifest_digest (m, id);
  notice = mesh_update_notice_build (m, error);
  if (notice == NULL)
    return NULL;
  manifest_path = update_file (node, m->name, m->version, ".manifest");
  kept = update_file (node, m->name, m->version, ".data");
  if (!chunks_from_file (node, m, data_path, error)
      || (!same_file (data_path, kept)
          && !mesh_chunk_store_assemble (node->chunks, m, kept, error))
      || !g_file_set_contents (manifest_path, (const char *) data,
                               (gssize) len, error))
    {
      g_prefix_error (error, "cannot keep the update in %s: ",
                      node->update_dir_open);
      return NULL;
    }
  up = update_lookup (node, id);
  if (up == NULL)
    up = update_new (node, id, m->name, m->version, NODE_UPDATE_PUBLISHED);
  up->state = NODE_UPDATE_PUBLISHED;
  g_free (up->path);
  up->path = g_steal_pointer (&kept);
  if (up->m == NULL)
    up->m = g_steal_pointer (&m);
  node_enter (node);
  ok = update_track (node, up, data, len, FALSE, error)
       && node->running
       && mesh_engine_broadcast (node->engine, g_bytes_get_data (notice, NULL),
                                 g_bytes_get_size (notice),
                                 MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE,
                                 now_ns (), msg_id, error);
  node_leave (node);
  if (!ok)
    return NULL;
  return mesh_node_id_to_hex (id);
}

/**
 * meshara_node_list_updates:
 * @node: a node
 *
 * The updates the running node knows: announced, fetching, fetched,
 * failed or published by it.  Each entry is (manifest ID in hex, name,
 * version, state: "querying", "fetching", "complete", "failed" or
 * "published", chunks held, chunks in all, data file or "").
 *
 * Returns: (transfer full): a #GVariant of type "a(sstsuus)"
 */
GVariant *
meshara_node_list_updates (MesharaNode *node)
{
  GVariantBuilder b;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (MESHARA_IS_NODE (node), NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sstsuus)"));
  if (node->updates != NULL)
    {
      g_hash_table_iter_init (&iter, node->updates);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          NodeUpdate *up = value;

          if (node->engine != NULL && up->state != NODE_UPDATE_QUERYING)
            mesh_engine_update_progress (node->engine, up->id, &up->done,
                                         &up->total);
          g_variant_builder_add (&b, "(sstsuus)", up->hex, up->name,
                                 up->version, update_state_names[up->state],
                                 (guint32) up->done, (guint32) up->total,
                                 up->path ? up->path : "");
        }
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/**
 * meshara_node_get_update_counters:
 * @node: a node
 * @chunks_fetched: (out) (optional): update chunks received from peers,
 *   verified and kept, since the node last started
 * @chunks_served: (out) (optional): update chunks sent to peers since then
 * @rejected: (out) (optional): notices and manifests refused since then
 *   (see #MesharaNode::update-rejected)
 *
 * Counters of the update traffic; all 0 while the node is stopped,
 * except @rejected, kept until the next start.
 */
void
meshara_node_get_update_counters (MesharaNode *node, guint64 *chunks_fetched,
                                  guint64 *chunks_served, guint64 *rejected)
{
  MeshEngineStats st;

  g_return_if_fail (MESHARA_IS_NODE (node));

  memset (&st, 0, sizeof st);
  if (node->engine != NULL)
    mesh_engine_get_stats (node->engine, &st);
  if (chunks_fetched != NULL)
    *chunks_fetched = st.chunks_received;
  if (chunks_served != NULL)
    *chunks_served = st.chunks_served;
  if (rejected != NULL)
    *rejected = node->updates_rejected;
}

/* ---------------------------------------------------------------------- */
/* GObject */

static void
meshara_node_init (MesharaNode *node)
{
  node->context = g_main_context_ref_thread_default ();
  node->listen_address = g_strdup ("127.0.0.1:0");
  node->profile = MESHARA_NODE_PROFILE_STANDARD;
  node->known = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       known_peer_free);
}

static void
meshara_node_dispose (GObject *object)
{
  MesharaNode *node = MESHARA_NODE (object);

  meshara_node_stop (node);
  G_OBJECT_CLASS (meshara_node_parent_class)->dispose (object);
}

static void
meshara_node_finalize (GObject *object)
{
  MesharaNode *node = MESHARA_NODE (object);

  g_clear_pointer (&node->identity, meshara_identity_unref);
  g_main_context_unref (node->context);
  g_free (node->listen_address);
  g_free (node->storage_path);
  g_clear_pointer (&node->last_sender_text, g_ref_string_release);
  g_hash_table_unref (node->known);
  g_clear_pointer (&node->trust, meshara_trust_store_unref);
  g_clear_pointer (&node->trust_loaded, meshara_trust_store_unref);
  g_free (node->update_dir);
  updates_free (node);
  G_OBJECT_CLASS (meshara_node_parent_class)->finalize (object);
}

static void
meshara_node_set_property (GObject *object, guint prop_id,
                           const GValue *value, GParamSpec *pspec)
{
  MesharaNode *node = MESHARA_NODE (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      node->identity = g_value_dup_boxed (value);
      break;
    case PROP_LISTEN_ADDRESS:
      meshara_node_set_listen_address (node, g_value_get_string (value));
      break;
    case PROP_MAX_PEERS:
      meshara_node_set_max_peers (node, g_value_get_uint (value));
      break;
    case PROP_PROFILE:
      meshara_node_set_profile (node, g_value_get_enum (value));
      break;
    case PROP_STORAGE_PATH:
      meshara_node_set_storage_path (node, g_value_get_string (value));
      break;
    case PROP_FANOUT:
      meshara_node_set_fanout (node, g_value_get_uint (value));
      break;
    case PROP_MDNS:
      meshara_node_set_mdns (node, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
meshara_node_get_property (GObject *object, guint prop_id, GValue *value,
                           GParamSpec *pspec)
{
  MesharaNode *node = MESHARA_NODE (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      g_value_set_boxed (value, node->identity);
      break;
    case PROP_LISTEN_ADDRESS:
      g_value_set_string (value, node->listen_address);
      break;
    case PROP_MAX_PEERS:
      g_value_set_uint (value, LIMIT (node, max_peers));
      break;
    case PROP_PROFILE:
      g_value_set_enum (value, node->profile);
      break;
    case PROP_STORAGE_PATH:
      g_value_set_string (value, node->storage_path);
      break;
    case PROP_FANOUT:
      g_value_set_uint (value, LIMIT (node, fanout));
      break;
    case PROP_MDNS:
      g_value_set_boolean (value, node->mdns);
      break;
    case PROP_PORT:
      g_value_set_uint (value, meshara_node_get_port (node));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Marshallers of the two per-message signals ("private-message" and
 * "delivered"), so that emitting them does not go through the generic
 * marshaller and libffi (about 8 percent of the time of a stream of
 * small messages).  Same behaviour as glib-genmarshal's: arguments
 * without G_SIGNAL_TYPE_STATIC_SCOPE are copied for the handlers. */
typedef void (*PrivateMessageFunc) (gpointer data1, const char *sender,
                                    const char *message_id, GBytes *data,
                                    gpointer data2);
typedef void (*DeliveredFunc) (gpointer data1, const char *message_id,
                               guint64 latency_us, gpointer data2);

static void
closure_data (GClosure *closure, gpointer instance, gpointer *data1,
              gpointer *data2)
{
  if (G_CCLOSURE_SWAP_DATA (closure))
    {
      *data1 = closure->data;
      *data2 = instance;
    }
  else
    {
      *data1 = instance;
      *data2 = closure->data;
    }
}

static void
marshal_private_message (GClosure *closure, GValue *return_value,
                         guint n_param_values, const GValue *param_values,
                         gpointer invocation_hint, gpointer marshal_data)
{
  PrivateMessageFunc callback;
  gpointer data1, data2;

  (void) return_value;
  (void) invocation_hint;
  g_return_if_fail (n_param_values == 4);
  closure_data (closure, g_value_peek_pointer (param_values + 0), &data1, &data2);
  callback = (PrivateMessageFunc) (marshal_data ? marshal_data
                                   : ((GCClosure *) closure)->callback);
  callback (data1, g_value_get_string (param_values + 1),
            g_value_get_string (param_values + 2),
            g_value_get_boxed (param_values + 3), data2);
}

static void
marshal_private_messagev (GClosure *closure, GValue *return_value,
                          gpointer instance, va_list args,
                          gpointer marshal_data, int n_params,
                          GType *param_types)
{
  PrivateMessageFunc callback;
  gpointer data1, data2;
  char *sender, *message_id;
  GBytes *data;
  gboolean copy_sender, copy_id, ref_data;
  va_list copy;

  (void) return_value;
  (void) n_params;
  G_VA_COPY (copy, args);
  sender = va_arg (copy, char *);
  message_id = va_arg (copy, char *);
  data = va_arg (copy, GBytes *);
  va_end (copy);
  copy_sender = (param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0;
  copy_id = (param_types[1] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0;
  ref_data = (param_types[2] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0 && data != NULL;
  if (copy_sender)
    sender = g_strdup (sender);
  if (copy_id)
    message_id = g_strdup (message_id);
  if (ref_data)
    g_bytes_ref (data);
  closure_data (closure, instance, &data1, &data2);
  callback = (PrivateMessageFunc) (marshal_data ? marshal_data
                                   : ((GCClosure *) closure)->callback);
  callback (data1, sender, message_id, data, data2);
  if (copy_sender)
    g_free (sender);
  if (copy_id)
    g_free (message_id);
  if (ref_data)
    g_bytes_unref (data);
}

static void
marshal_delivered (GClosure *closure, GValue *return_value,
                   guint n_param_values, const GValue *param_values,
                   gpointer invocation_hint, gpointer marshal_data)
{
  DeliveredFunc callback;
  gpointer data1, data2;

  (void) return_value;
  (void) invocation_hint;
  g_return_if_fail (n_param_values == 3);
  closure_data (closure, g_value_peek_pointer (param_values + 0), &data1, &data2);
  callback = (DeliveredFunc) (marshal_data ? marshal_data
                              : ((GCClosure *) closure)->callback);
  callback (data1, g_value_get_string (param_values + 1),
            g_value_get_uint64 (param_values + 2), data2);
}

static void
marshal_deliveredv (GClosure *closure, GValue *return_value, gpointer instance,
                    va_list args, gpointer marshal_data, int n_params,
                    GType *param_types)
{
  DeliveredFunc callback;
  gpointer data1, data2;
  char *message_id;
  guint64 latency_us;
  va_list copy;

  (void) return_value;
  (void) n_params;
  G_VA_COPY (copy, args);
  message_id = va_arg (copy, char *);
  latency_us = va_arg (copy, guint64);
  va_end (copy);
  if ((param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0)
    message_id = g_strdup (message_id);
  closure_data (closure, instance, &data1, &data2);
  callback = (DeliveredFunc) (marshal_data ? marshal_data
                              : ((GCClosure *) closure)->callback);
  callback (data1, message_id, latency_us, data2);
  if ((param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0)
    g_free (message_id);
}

static void
meshara_node_class_init (MesharaNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = meshara_node_dispose;
  object_class->finalize = meshara_node_finalize;
  object_class->set_property = meshara_node_set_property;
  object_class->get_property = meshara_node_get_property;

  /**
   * MesharaNode:identity:
   *
   * The node's identity, given at creation or taken from the storage
   * path at start.
   */
  props[PROP_IDENTITY] =
    g_param_spec_boxed ("identity", NULL, NULL, MESHARA_TYPE_IDENTITY,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                        | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:profile:
   *
   * The preset for limits, table sizes and fanout.
   */
  props[PROP_PROFILE] =
    g_param_spec_enum ("profile", NULL, NULL, MESHARA_TYPE_NODE_PROFILE,
                       MESHARA_NODE_PROFILE_STANDARD,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                       | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:storage-path:
   *
   * The directory of the node's identity and known peers, or %NULL.
   */
  props[PROP_STORAGE_PATH] =
    g_param_spec_string ("storage-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                         | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:fanout:
   *
   * Peers each broadcast is pushed to; setting 0 goes back to the
   * profile's.
   */
  props[PROP_FANOUT] =
    g_param_spec_uint ("fanout", NULL, NULL, 0, 50, 10,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                       | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:mdns:
   *
   * Whether the node publishes itself and finds peers on the local
   * network with mDNS/DNS-SD (see meshara_node_set_mdns()).
   */
  props[PROP_MDNS] =
    g_param_spec_boolean ("mdns", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                          | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:listen-address:
   *
   * "ip:port" to listen on; port 0 picks a free port.
   */
  props[PROP_LISTEN_ADDRESS] =
    g_param_spec_string ("listen-address", NULL, NULL, "127.0.0.1:0",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                         | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:max-peers:
   *
   * Links kept at most.
   */
  props[PROP_MAX_PEERS] =
    g_param_spec_uint ("max-peers", NULL, NULL, 1, 4096,
                       MESHARA_NODE_MAX_PEERS_DEFAULT,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                       | G_PARAM_STATIC_STRINGS);
  /**
   * MesharaNode:port:
   *
   * The TCP port the running node listens on; 0 when stopped.
   */
  props[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * MesharaNode::private-message:
   * @node: the node
   * @sender: the sender's public key ("mshr1...")
   * @message_id: the message ID in hex
   * @data: the message
   */
  signals[SIG_PRIVATE_MESSAGE] =
    g_signal_new ("private-message", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, marshal_private_message,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BYTES);
  g_signal_set_va_marshaller (signals[SIG_PRIVATE_MESSAGE],
                              G_TYPE_FROM_CLASS (klass),
                              marshal_private_messagev);
  /**
   * MesharaNode::broadcast:
   * @node: the node
   * @sender: the sender's node ID in hex
   * @message_id: the message ID in hex
   * @data: the content
   */
  signals[SIG_BROADCAST] =
    g_signal_new ("broadcast", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BYTES);
  /**
   * MesharaNode::delivered:
   * @node: the node
   * @message_id: the ID meshara_node_send_private() returned
   * @latency_us: from sending to the acknowledgment, in microseconds
   */
  signals[SIG_DELIVERED] =
    g_signal_new ("delivered", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, marshal_delivered,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT64);
  g_signal_set_va_marshaller (signals[SIG_DELIVERED], G_TYPE_FROM_CLASS (klass),
                              marshal_deliveredv);
  /**
   * MesharaNode::delivery-failed:
   * @node: the node
   * @message_id: the ID meshara_node_send_private() returned
   * @reason: why
   */
  signals[SIG_DELIVERY_FAILED] =
    g_signal_new ("delivery-failed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_STRING);
  /**
   * MesharaNode::peer-connected:
   * @node: the node
   * @node_id: the peer's node ID in hex
   */
  signals[SIG_PEER_CONNECTED] =
    g_signal_new ("peer-connected", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING);
  /**
   * MesharaNode::peer-disconnected:
   * @node: the node
   * @node_id: the peer's node ID in hex
   */
  signals[SIG_PEER_DISCONNECTED] =
    g_signal_new ("peer-disconnected", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING);
  /**
   * MesharaNode::lookup-done:
   * @node: the node
   * @node_id: the node ID looked up, in hex
   * @found: whether its contact record was found
   */
  signals[SIG_LOOKUP_DONE] =
    g_signal_new ("lookup-done", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_BOOLEAN);
  /**
   * MesharaNode::link-failed:
   * @node: the node
   * @address: the address connected to, "" for an incoming link
   * @reason: why the link closed before the peer was connected (refused
   *   connection, a key other than the pinned one, a bad HELLO, ...)
   */
  signals[SIG_LINK_FAILED] =
    g_signal_new ("link-failed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_STRING);
  /**
   * MesharaNode::update-available:
   * @node: the node
   * @update_id: the manifest ID in hex
   * @name: what the update is for
   * @version: its version
   *
   * A notice of an update signed by enough trusted authorities arrived;
   * the node now fetches its manifest and data.
   */
  signals[SIG_UPDATE_AVAILABLE] =
    g_signal_new ("update-available", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT64);
  /**
   * MesharaNode::update-progress:
   * @node: the node
   * @update_id: the manifest ID in hex
   * @chunks_done: chunks held and verified
   * @chunks_total: chunks of the update
   */
  signals[SIG_UPDATE_PROGRESS] =
    g_signal_new ("update-progress", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_UINT, G_TYPE_UINT);
  /**
   * MesharaNode::update-complete:
   * @node: the node
   * @update_id: the manifest ID in hex
   * @path: the file holding the verified data (NAME-VERSION.data in the
   *   update directory, its manifest beside it)
   */
  signals[SIG_UPDATE_COMPLETE] =
    g_signal_new ("update-complete", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_STRING);
  /**
   * MesharaNode::update-failed:
   * @node: the node
   * @update_id: the manifest ID in hex
   * @reason: why the update was given up (no manifest, a full cache,
   *   a file that cannot be written, ...)
   */
  signals[SIG_UPDATE_FAILED] =
    g_signal_new ("update-failed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_STRING);
  /**
   * MesharaNode::update-rejected:
   * @node: the node
   * @update_id: the manifest ID in hex, "" when the notice is unreadable
   * @reason: why: an untrusted signer, too few trusted signatures, a bad
   *   signature, a downgrade, a manifest other than the one announced
   *
   * A notice or manifest was refused; nothing is fetched for it.
   */
  signals[SIG_UPDATE_REJECTED] =
    g_signal_new ("update-rejected", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_STRING);
}
