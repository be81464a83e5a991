/* The engine core, several engines wired together in one process by a
 * small deterministic harness: frames are queued per link with a fixed
 * latency and delivered in order, timers run on a fake clock, and the
 * harness acts on the engines' close requests.  Covers link setup
 * (HELLO, routes), private messages over several hops, deduplication,
 * link loss and the retry budget, max_hops, invalid frames, the rate
 * limit, the timestamp window, a recipient restart, relaying of unknown
 * types, round-trip measurement and re-entrant event callbacks. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "engine/engine.h"
#include "engine/msg.h"
#include "engine/session.h"
#include "wire/codec.h"
#include "testutil.h"

#define MS G_GUINT64_CONSTANT (1000000)
#define SEC G_GUINT64_CONSTANT (1000000000)
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)
#define MAX_NODES 6
#define MAX_LINKS 16

typedef struct Net Net;

typedef struct {
  MeshEventType type;
  MeshLinkId link;
  uint8_t node_id[32];
  gboolean has_node_id;
  uint8_t message_id[32];
  gboolean has_message_id;
  MeshPublicBundle bundle;
  gboolean has_bundle;
  GBytes *data;
  uint32_t hops;
  uint64_t latency_ns;
  uint64_t at_ns;
  char *reason;
} RecEvent;

typedef struct {
  Net *net;
  int index;
  MeshIdentity id;
  MeshEngine *engine;
  TestRng rng;
  GPtrArray *events;            /* RecEvent */
  /* Reply to every private message with its data reversed (re-entrant
   * call from the event callback). */
  gboolean echo;
} Node;

typedef struct {
  int a, b;                     /* node indexes; link id = index + 1 on both */
  gboolean up;
} Link;

typedef struct {
  uint64_t at_ns;
  int to;                       /* node */
  MeshLinkId link;
  uint8_t *frame;               /* header included */
  size_t len;
} Frame;

typedef struct {
  MeshLinkId link;
  GBytes *frame;                /* header included */
} SentFrame;

static void
sent_frame_free (gpointer p)
{
  SentFrame *f = p;

  g_bytes_unref (f->frame);
  g_free (f);
}

/* What a filter decides about a frame about to be queued. */
typedef enum {
  PASS,
  DROP,
  DUPLICATE,
} Verdict;

typedef Verdict (*FilterFunc) (Net *net, int from, int to, MeshLinkId link,
                               const MeshWireBaseMessage *msg, void *data);

struct Net {
  Node nodes[MAX_NODES];
  int n_nodes;
  Link links[MAX_LINKS];
  int n_links;
  GQueue frames;                /* Frame, in delivery order */
  uint64_t now;
  uint64_t latency_ns;
  GArray *closes;               /* link indexes to take down */
  FilterFunc filter;
  void *filter_data;
  /* Every frame sent, by sender: for looking at what relays forward. */
  GPtrArray *sent[MAX_NODES];   /* SentFrame */
  MeshEngineConfig config;
  /* Connect requests: which node asked for which peer. */
  GArray *connects;             /* ConnectReq */
};

typedef struct {
  int from;
  MeshPublicBundle peer;
  char address[64];
} ConnectReq;

static void
rec_event_free (gpointer p)
{
  RecEvent *r = p;

  if (r->data)
    g_bytes_unref (r->data);
  g_free (r->reason);
  g_free (r);
}

static int
link_index_of (Net *net, MeshLinkId id)
{
  int i = (int) id - 1;

  g_assert_cmpint (i, >=, 0);
  g_assert_cmpint (i, <, net->n_links);
  return i;
}

static void
cb_send_frame (void *user_data, MeshLinkId id, const uint8_t *frame, size_t len)
{
  Node *node = user_data;
  Net *net = node->net;
  Link *l = &net->links[link_index_of (net, id)];
  int to = l->a == node->index ? l->b : l->a;
  Verdict v = PASS;
  int copies;

  g_assert_true (l->a == node->index || l->b == node->index);
  g_assert_cmpuint (len, >, 4);
  g_assert_cmpuint (mesh_frame_read_header (frame), ==, len - 4);
  {
    SentFrame *sf = g_new0 (SentFrame, 1);

    sf->link = id;
    sf->frame = g_bytes_new (frame, len);
    g_ptr_array_add (net->sent[node->index], sf);
  }
  if (!l->up)
    return;
  if (net->filter != NULL)
    {
      g_autoptr (MeshWireBaseMessage) msg = NULL;

      msg = mesh_wire_decode_base_full (frame + 4, len - 4, MESH_FRAME_MAX_DEFAULT,
                                        MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, NULL);
      g_assert_nonnull (msg);
      v = net->filter (net, node->index, to, id, msg, net->filter_data);
    }
  copies = v == DROP ? 0 : v == DUPLICATE ? 2 : 1;
  for (int i = 0; i < copies; i++)
    {
      Frame *f = g_new0 (Frame, 1);

      f->at_ns = net->now + net->latency_ns;
      f->to = to;
      f->link = id;
      f->frame = g_memdup2 (frame, len);
      f->len = len;
      g_queue_push_tail (&net->frames, f);
    }
}

static void
cb_close_link (void *user_data, MeshLinkId id, const char *reason)
{
  Node *node = user_data;
  int i = link_index_of (node->net, id);

  g_assert_nonnull (reason);
  g_array_append_val (node->net->closes, i);
}

static void
cb_connect (void *user_data, const MeshPublicBundle *peer,
            const char *const *addresses, size_t n)
{
  Node *node = user_data;
  ConnectReq req = { 0 };

  g_assert_cmpuint (n, >, 0);
  req.from = node->index;
  req.peer = *peer;
  g_strlcpy (req.address, addresses[0], sizeof req.address);
  g_array_append_val (node->net->connects, req);
}

static void
cb_event (void *user_data, const MeshEvent *ev)
{
  Node *node = user_data;
  RecEvent *r = g_new0 (RecEvent, 1);

  r->type = ev->type;
  r->link = ev->link;
  if (ev->node_id)
    {
      memcpy (r->node_id, ev->node_id, 32);
      r->has_node_id = TRUE;
    }
  if (ev->message_id)
    {
      memcpy (r->message_id, ev->message_id, 32);
      r->has_message_id = TRUE;
    }
  if (ev->bundle)
    {
      r->bundle = *ev->bundle;
      r->has_bundle = TRUE;
    }
  if (ev->data)
    r->data = g_bytes_new (ev->data, ev->len);
  r->hops = ev->hops;
  r->latency_ns = ev->latency_ns;
  r->at_ns = node->net->now;
  r->reason = g_strdup (ev->reason);
  g_ptr_array_add (node->events, r);

  if (node->echo && ev->type == MESH_EVENT_PRIVATE_RECEIVED)
    {
      g_autoptr (GError) error = NULL;
      uint8_t *rev = g_malloc (ev->len + 1);

      for (size_t i = 0; i < ev->len; i++)
        rev[i] = ev->data[ev->len - 1 - i];
      g_assert_true (mesh_engine_send_private (node->engine, ev->bundle, rev, ev->len,
                                               node->net->now, NULL, &error));
      g_free (rev);
    }
}

static void
cb_random (void *user_data, uint8_t *buf, size_t n)
{
  test_rng (&((Node *) user_data)->rng, buf, n);
}

static void
node_start (Net *net, int i)
{
  Node *node = &net->nodes[i];
  MeshEngineCallbacks cb = { cb_send_frame, cb_close_link, cb_connect, cb_event,
                             cb_random };

  node->engine = mesh_engine_new (&node->id, &net->config, &cb, node, net->now);
  g_assert_nonnull (node->engine);
}

static Net *
net_new (int n, const MeshEngineConfig *config)
{
  Net *net = g_new0 (Net, 1);

  g_assert_cmpint (n, <=, MAX_NODES);
  if (config)
    net->config = *config;
  else
    mesh_engine_config_init (&net->config);
  net->config.wall_epoch_ms = EPOCH_MS;
  net->n_nodes = n;
  net->latency_ns = 1 * MS;
  net->now = 1 * SEC;
  net->closes = g_array_new (FALSE, FALSE, sizeof (int));
  net->connects = g_array_new (FALSE, FALSE, sizeof (ConnectReq));
  g_queue_init (&net->frames);
  for (int i = 0; i < n; i++)
    {
      Node *node = &net->nodes[i];
      uint8_t seed[MESH_SEED_LEN];

      node->net = net;
      node->index = i;
      memset (seed, 'A' + i, sizeof seed);
      mesh_identity_from_seed (&node->id, seed);
      node->rng.state = 1000 + (guint64) i;
      node->events = g_ptr_array_new_with_free_func (rec_event_free);
      net->sent[i] = g_ptr_array_new_with_free_func (sent_frame_free);
      node_start (net, i);
    }
  return net;
}

static void
frame_free (gpointer p)
{
  Frame *f = p;

  g_free (f->frame);
  g_free (f);
}

static void
net_free (Net *net)
{
  for (int i = 0; i < net->n_nodes; i++)
    {
      mesh_engine_free (net->nodes[i].engine);
      g_ptr_array_unref (net->nodes[i].events);
      g_ptr_array_unref (net->sent[i]);
      mesh_identity_clear (&net->nodes[i].id);
    }
  g_queue_clear_full (&net->frames, frame_free);
  g_array_unref (net->closes);
  g_array_unref (net->connects);
  g_free (net);
}

static MeshEngine *
E (Net *net, int i)
{
  return net->nodes[i].engine;
}

static const MeshPublicBundle *
B (Net *net, int i)
{
  return &net->nodes[i].id.pub;
}

/* Connect a and b; returns the link id (the same on both sides). */
static MeshLinkId
net_connect (Net *net, int a, int b)
{
  g_autoptr (GError) error = NULL;
  Link *l;
  MeshLinkId id;

  g_assert_cmpint (net->n_links, <, MAX_LINKS);
  l = &net->links[net->n_links++];
  l->a = a;
  l->b = b;
  l->up = TRUE;
  id = (MeshLinkId) net->n_links;
  g_assert_true (mesh_engine_link_up (E (net, a), id, B (net, b), net->now, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_engine_link_up (E (net, b), id, B (net, a), net->now, &error));
  g_assert_no_error (error);
  return id;
}

/* Take a link down on both sides; frames in flight on it are lost. */
static void
net_disconnect (Net *net, MeshLinkId id)
{
  Link *l = &net->links[link_index_of (net, id)];

  if (!l->up)
    return;
  l->up = FALSE;
  for (GList *it = net->frames.head; it != NULL;)
    {
      GList *next = it->next;
      Frame *f = it->data;

      if (f->link == id)
        {
          frame_free (f);
          g_queue_delete_link (&net->frames, it);
        }
      it = next;
    }
  mesh_engine_link_down (E (net, l->a), id, net->now);
  mesh_engine_link_down (E (net, l->b), id, net->now);
}

static void
net_process_closes (Net *net)
{
  while (net->closes->len > 0)
    {
      int i = g_array_index (net->closes, int, 0);

      g_array_remove_index (net->closes, 0);
      net_disconnect (net, (MeshLinkId) i + 1);
    }
}

/* Run frames and timers in time order up to until; then now = until. */
static void
net_run_until (Net *net, uint64_t until)
{
  for (;;)
    {
      Frame *f;
      uint64_t t_timer = UINT64_MAX, t_frame, t;

      net_process_closes (net);
      f = g_queue_peek_head (&net->frames);
      t_frame = f ? f->at_ns : UINT64_MAX;
      for (int i = 0; i < net->n_nodes; i++)
        if (E (net, i) != NULL)
          t_timer = MIN (t_timer, mesh_engine_next_timeout (E (net, i)));
      t = MIN (t_frame, t_timer);
      if (t > until)
        break;
      net->now = MAX (net->now, t);
      if (t_frame <= t_timer)
        {
          g_queue_pop_head (&net->frames);
          if (net->links[f->link - 1].up && E (net, f->to) != NULL)
            mesh_engine_receive (E (net, f->to), f->link, f->frame + 4, f->len - 4,
                                 net->now);
          frame_free (f);
        }
      else
        {
          for (int i = 0; i < net->n_nodes; i++)
            if (E (net, i) != NULL && mesh_engine_next_timeout (E (net, i)) <= net->now)
              mesh_engine_tick (E (net, i), net->now);
        }
    }
  net_process_closes (net);
  net->now = MAX (net->now, until);
}

static void
net_run (Net *net, uint64_t duration)
{
  net_run_until (net, net->now + duration);
}

/* A line 0 - 1 - 2 - ... - (n-1), routes converged. */
static Net *
net_line (int n, const MeshEngineConfig *config)
{
  Net *net = net_new (n, config);

  for (int i = 0; i + 1 < n; i++)
    net_connect (net, i, i + 1);
  net_run (net, 1 * SEC);
  return net;
}

static guint
count_events (Net *net, int node, MeshEventType type)
{
  guint n = 0;
  GPtrArray *ev = net->nodes[node].events;

  for (guint i = 0; i < ev->len; i++)
    if (((RecEvent *) ev->pdata[i])->type == type)
      n++;
  return n;
}

static RecEvent *
find_event (Net *net, int node, MeshEventType type, guint nth)
{
  GPtrArray *ev = net->nodes[node].events;

  for (guint i = 0; i < ev->len; i++)
    {
      RecEvent *r = ev->pdata[i];

      if (r->type == type && nth-- == 0)
        return r;
    }
  return NULL;
}

static void
stats (Net *net, int node, MeshEngineStats *s)
{
  mesh_engine_get_stats (E (net, node), s);
}

static gboolean
bytes_contain (GBytes *hay, const void *needle, size_t n)
{
  gsize len;
  const uint8_t *p = g_bytes_get_data (hay, &len);

  return memmem (p, len, needle, n) != NULL;
}

static void
send_private (Net *net, int from, int to, const char *text, uint8_t id[32])
{
  g_autoptr (GError) error = NULL;

  g_assert_true (mesh_engine_send_private (E (net, from), B (net, to),
                                           (const uint8_t *) text, strlen (text),
                                           net->now, id, &error));
  g_assert_no_error (error);
}

/* ---- Frame building for injection */

static GBytes *
build_body (uint32_t type, const ProtobufCMessage *payload, uint64_t ts_ms,
            const uint8_t *dest, uint32_t hop_count, uint32_t max_hops)
{
  MeshMsgBuf pbuf = { 0 }, fbuf = { 0 };
  MeshMsg m;
  size_t plen = payload ? mesh_msg_buf_encode (&pbuf, payload) : 0;
  size_t len;
  GBytes *out;

  mesh_msg_init (&m, type, ts_ms, pbuf.data, plen);
  if (dest != NULL)
    {
      mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_ROUTED, dest, max_hops);
      m.routing.hop_count = hop_count;
    }
  mesh_msg_finish (&m, NULL);
  g_assert_true (mesh_msg_encode_frame (&m.base, MESH_FRAME_MAX_DEFAULT, &fbuf, &len, NULL));
  out = g_bytes_new (fbuf.data + 4, len - 4);
  mesh_msg_buf_clear (&pbuf);
  mesh_msg_buf_clear (&fbuf);
  return out;
}

static GBytes *
build_hello (const MeshPublicBundle *b, uint64_t ts_ms)
{
  MeshWireHello hello = MESHARA__V1__HELLO__INIT;
  uint8_t bundle[MESH_BUNDLE_LEN];

  mesh_bundle_serialize (b, bundle);
  hello.protocol_version = 1;
  hello.bundle.data = bundle;
  hello.bundle.len = sizeof bundle;
  return build_body (MESH_WIRE_TYPE_HELLO, &hello.base, ts_ms, NULL, 0, 0);
}

static GBytes *
build_ping (uint64_t nonce, uint64_t ts_ms)
{
  MeshWirePing ping = MESHARA__V1__PING__INIT;

  ping.nonce = nonce;
  return build_body (MESH_WIRE_TYPE_PING, &ping.base, ts_ms, NULL, 0, 0);
}

static void
inject (Net *net, int to, MeshLinkId link, GBytes *body)
{
  gsize len;
  const uint8_t *p = g_bytes_get_data (body, &len);

  mesh_engine_receive (E (net, to), link, p, len, net->now);
}

static uint64_t
wall_now (Net *net)
{
  return EPOCH_MS + net->now / MS;
}

/* Frames of a type that node sent on link since index `from` of its log. */
static guint
count_sent (Net *net, int node, MeshLinkId link, uint32_t type, guint from)
{
  guint n = 0;
  GPtrArray *sent = net->sent[node];

  for (guint i = from; i < sent->len; i++)
    {
      SentFrame *sf = sent->pdata[i];
      gsize len;
      const uint8_t *p = g_bytes_get_data (sf->frame, &len);
      g_autoptr (MeshWireBaseMessage) m = NULL;

      m = mesh_wire_decode_base_full (p + 4, len - 4, MESH_FRAME_MAX_DEFAULT,
                                      MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, NULL);
      g_assert_nonnull (m);
      if (sf->link == link && m->type == type)
        n++;
    }
  return n;
}

/* ---- Tests */

static void
test_link_up (void)
{
  Net *net = net_new (3, NULL);
  MeshLinkId ab, bc;
  MeshLinkInfo info;
  MeshEngineStats s;
  RecEvent *r;

  ab = net_connect (net, 0, 1);
  /* HELLO is the first frame, then the routes. */
  g_assert_cmpuint (net->sent[0]->len, >=, 1);
  g_assert_cmpuint (count_sent (net, 0, ab, MESH_WIRE_TYPE_HELLO, 0), ==, 1);
  {
    gsize len;
    const uint8_t *p = g_bytes_get_data (((SentFrame *) net->sent[0]->pdata[0])->frame, &len);
    g_autoptr (MeshWireBaseMessage) m = mesh_wire_decode_base (p + 4, len - 4,
                                                               MESH_FRAME_MAX_DEFAULT, NULL);
    g_assert_nonnull (m);
    g_assert_cmpint (m->type, ==, MESH_WIRE_TYPE_HELLO);
  }
  bc = net_connect (net, 1, 2);
  net_run (net, 1 * SEC);

  r = find_event (net, 0, MESH_EVENT_PEER_CONNECTED, 0);
  g_assert_nonnull (r);
  g_assert_cmpuint (r->link, ==, ab);
  g_assert_cmpmem (r->node_id, 32, B (net, 1)->node_id, 32);
  g_assert_true (r->has_bundle);
  g_assert_cmpmem (r->bundle.ed_pub, 32, B (net, 1)->ed_pub, 32);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_CONNECTED), ==, 2);

  g_assert_true (mesh_engine_get_link_info (E (net, 0), ab, &info));
  g_assert_true (info.hello_received);
  g_assert_false (info.closing);
  g_assert_cmpuint (info.peer_capabilities & MESH_WIRE_CAP_RELAY, !=, 0);
  g_assert_cmpuint (info.frames_in, >=, 2);
  g_assert_cmpint (info.reputation, >, 0);
  g_assert_false (mesh_engine_get_link_info (E (net, 0), bc, &info));

  /* Direct routes, and the two-hop route learnt from the advertisement. */
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 1)->node_id), ==, ab);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 2)->node_id), ==, ab);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 2), B (net, 0)->node_id), ==, bc);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 1), B (net, 2)->node_id), ==, bc);
  stats (net, 0, &s);
  g_assert_cmpuint (s.links, ==, 1);
  g_assert_cmpuint (s.routes, ==, 2);
  g_assert_cmpuint (s.invalid_frames, ==, 0);
  stats (net, 1, &s);
  g_assert_cmpuint (s.links, ==, 2);
  g_assert_cmpuint (s.routes, ==, 2);
  net_free (net);
}

static void
test_link_up_refused (void)
{
  MeshEngineConfig c;
  Net *net;
  g_autoptr (GError) error = NULL;

  mesh_engine_config_init (&c);
  c.max_links = 1;
  net = net_new (3, &c);
  net_connect (net, 0, 1);
  g_assert_false (mesh_engine_link_up (E (net, 0), 7, B (net, 2), net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_clear_error (&error);
  g_assert_false (mesh_engine_link_up (E (net, 1), 1, B (net, 2), net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mesh_engine_link_up (E (net, 2), 0, B (net, 0), net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mesh_engine_link_up (E (net, 2), 5, B (net, 2), net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  net_free (net);
}

static void
test_line_private (void)
{
  Net *net = net_line (4, NULL);
  const char *secret = "meet me at the old mill at midnight";
  uint8_t id[32];
  guint sent_b = net->sent[1]->len, sent_c = net->sent[2]->len;
  MeshEngineStats s;
  RecEvent *r;

  send_private (net, 0, 3, secret, id);
  net_run (net, 1 * SEC);

  r = find_event (net, 3, MESH_EVENT_PRIVATE_RECEIVED, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (g_bytes_get_data (r->data, NULL), g_bytes_get_size (r->data),
                   secret, strlen (secret));
  g_assert_cmpuint (r->hops, ==, 3);
  g_assert_true (r->has_bundle);
  g_assert_cmpmem (r->bundle.ed_pub, 32, B (net, 0)->ed_pub, 32);
  g_assert_cmpmem (r->bundle.x_pub, 32, B (net, 0)->x_pub, 32);
  g_assert_cmpmem (r->node_id, 32, B (net, 0)->node_id, 32);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);

  r = find_event (net, 0, MESH_EVENT_DELIVERED, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (r->message_id, 32, id, 32);
  g_assert_cmpmem (r->node_id, 32, B (net, 3)->node_id, 32);
  /* Three links there and three back at 1 ms each. */
  g_assert_cmpuint (r->latency_ns, ==, 6 * MS);

  /* The relays forwarded it and never saw the plaintext. */
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 0);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 0);
  g_assert_cmpuint (count_sent (net, 1, 2, MESH_WIRE_TYPE_PRIVATE, sent_b), ==, 1);
  g_assert_cmpuint (count_sent (net, 2, 3, MESH_WIRE_TYPE_PRIVATE, sent_c), ==, 1);
  for (guint i = sent_b; i < net->sent[1]->len; i++)
    g_assert_false (bytes_contain (((SentFrame *) net->sent[1]->pdata[i])->frame, secret, strlen (secret)));
  for (guint i = sent_c; i < net->sent[2]->len; i++)
    g_assert_false (bytes_contain (((SentFrame *) net->sent[2]->pdata[i])->frame, secret, strlen (secret)));
  /* Nor who sent it: the sender's keys do not travel in clear (DHT
   * messages do carry their sender's key, by design). */
  for (guint i = sent_b; i < net->sent[1]->len; i++)
    {
      GBytes *f = ((SentFrame *) net->sent[1]->pdata[i])->frame;
      g_autoptr (MeshWireBaseMessage) m =
        mesh_wire_decode_base ((const uint8_t *) g_bytes_get_data (f, NULL) + 4,
                               g_bytes_get_size (f) - 4,
                               MESH_FRAME_MAX_DEFAULT, NULL);

      if (m->type != MESH_WIRE_TYPE_PRIVATE && m->type != MESH_WIRE_TYPE_ACK)
        continue;
      g_assert_false (bytes_contain (f, B (net, 0)->ed_pub, 32));
      g_assert_false (bytes_contain (f, B (net, 0)->x_pub, 32));
      /* An acknowledgment is routed to the sender: it names it. */
      if (m->type == MESH_WIRE_TYPE_PRIVATE)
        g_assert_false (bytes_contain (f, B (net, 0)->node_id, 32));
    }

  /* The message one way, its acknowledgment the other. */
  g_assert_cmpuint (count_sent (net, 1, 1, MESH_WIRE_TYPE_ACK, sent_b), ==, 1);
  stats (net, 1, &s);
  g_assert_cmpuint (s.forwarded, >=, 2);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_sent, ==, 1);
  g_assert_cmpuint (s.private_delivered, ==, 1);
  g_assert_cmpuint (s.pending, ==, 0);
  g_assert_cmpuint (s.sessions_out, ==, 1);
  stats (net, 3, &s);
  g_assert_cmpuint (s.private_received, ==, 1);
  g_assert_cmpuint (s.sessions_in, ==, 1);

  /* A second message in the session: delivered, and without the init
   * now that the session was acknowledged. */
  sent_b = net->sent[1]->len;
  send_private (net, 0, 3, "second", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 2);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 2);
  for (guint i = sent_b; i < net->sent[1]->len; i++)
    {
      gsize len;
      const uint8_t *p = g_bytes_get_data (((SentFrame *) net->sent[1]->pdata[i])->frame, &len);
      g_autoptr (MeshWireBaseMessage) m = mesh_wire_decode_base (p + 4, len - 4,
                                                                 MESH_FRAME_MAX_DEFAULT, NULL);
      g_autoptr (MeshWirePrivateMessage) pm = NULL;

      if (m->type != MESH_WIRE_TYPE_PRIVATE)
        continue;
      pm = mesh_wire_decode_private (m->payload.data, m->payload.len, NULL);
      g_assert_nonnull (pm);
      g_assert_cmpuint (pm->session_init.len, ==, 0);
    }
  net_free (net);
}

static void
test_echo_reentrant (void)
{
  Net *net = net_line (3, NULL);
  uint8_t id[32];
  RecEvent *r;

  net->nodes[2].echo = TRUE;
  send_private (net, 0, 2, "abc", id);
  net_run (net, 1 * SEC);
  r = find_event (net, 0, MESH_EVENT_PRIVATE_RECEIVED, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (g_bytes_get_data (r->data, NULL), g_bytes_get_size (r->data), "cba", 3);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_DELIVERED), ==, 1);
  net_free (net);
}

static Verdict
filter_duplicate_private (Net *net, int from, int to, MeshLinkId link,
                          const MeshWireBaseMessage *msg, void *data)
{
  return msg->type == MESH_WIRE_TYPE_PRIVATE ? DUPLICATE : PASS;
}

static void
test_duplicate_frames (void)
{
  Net *net = net_line (3, NULL);
  uint8_t id[32];
  MeshEngineStats s, relay0, dest0;
  guint sent_b;

  /* Let the DHT join (whose republished records repeat) settle first:
   * only the private message's copies are counted below. */
  net_run (net, 30 * SEC);
  stats (net, 1, &relay0);
  stats (net, 2, &dest0);
  sent_b = net->sent[1]->len;

  net->filter = filter_duplicate_private;
  send_private (net, 0, 2, "once only", id);
  net_run (net, 1 * SEC);
  /* Duplicated on both links: 1 at the relay, 3 at the destination. */
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);
  stats (net, 1, &s);
  g_assert_cmpuint (s.duplicates - relay0.duplicates, ==, 1);
  g_assert_cmpuint (count_sent (net, 1, 2, MESH_WIRE_TYPE_PRIVATE, sent_b), ==, 1);
  stats (net, 2, &s);
  g_assert_cmpuint (s.duplicates - dest0.duplicates, ==, 1);
  g_assert_cmpuint (s.private_received, ==, 1);
  net_free (net);
}

typedef struct {
  uint32_t type;
  int from;
  int budget;       /* frames of type from `from` to drop; -1: all */
  int dropped;
} DropSpec;

static Verdict
filter_drop (Net *net, int from, int to, MeshLinkId link,
             const MeshWireBaseMessage *msg, void *data)
{
  DropSpec *d = data;

  if (msg->type == d->type && from == d->from && d->budget != 0)
    {
      if (d->budget > 0)
        d->budget--;
      d->dropped++;
      return DROP;
    }
  return PASS;
}

static void
test_lost_ack_not_delivered_twice (void)
{
  Net *net = net_line (3, NULL);
  DropSpec d = { MESH_WIRE_TYPE_ACK, 2, 1, 0 };
  uint8_t id[32];
  MeshEngineStats s;
  RecEvent *r;

  net->filter = filter_drop;
  net->filter_data = &d;
  send_private (net, 0, 2, "ack me", id);
  net_run (net, 5 * SEC);
  g_assert_cmpint (d.dropped, ==, 1);
  /* The retry reached the recipient, which acknowledged the duplicate. */
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);
  r = find_event (net, 0, MESH_EVENT_DELIVERED, 0);
  g_assert_cmpmem (r->message_id, 32, id, 32);
  /* Acknowledged after the first timeout (500 ms) plus a round trip. */
  g_assert_cmpuint (r->latency_ns, ==, 500 * MS + 4 * MS);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_retries, ==, 1);
  stats (net, 2, &s);
  g_assert_cmpuint (s.duplicates, ==, 1);
  net_free (net);
}

static void
test_retry_budget (void)
{
  Net *net = net_line (4, NULL);
  DropSpec d = { MESH_WIRE_TYPE_PRIVATE, 2, -1, 0 };
  uint8_t id[32];
  guint sent_a = net->sent[0]->len;
  uint64_t t0 = net->now;
  MeshEngineStats s;
  RecEvent *r;

  /* C swallows every private message: the route is there, no answer. */
  net->filter = filter_drop;
  net->filter_data = &d;
  send_private (net, 0, 3, "into the void", id);
  net_run (net, 60 * SEC);

  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 0);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERY_FAILED), ==, 1);
  r = find_event (net, 0, MESH_EVENT_DELIVERY_FAILED, 0);
  g_assert_cmpmem (r->message_id, 32, id, 32);
  g_assert_cmpmem (r->node_id, 32, B (net, 3)->node_id, 32);
  g_assert_nonnull (r->reason);
  g_assert_nonnull (strstr (r->reason, "12 attempts"));
  /* 1 + max_retries (11) attempts, 500 ms doubling up to 4 s: the last
   * timeout ends at 500 * (1 + 2 + 4 + 9 * 8) ms. */
  g_assert_cmpuint (count_sent (net, 0, 1, MESH_WIRE_TYPE_PRIVATE, sent_a), ==, 12);
  g_assert_cmpint (d.dropped, ==, 12);
  g_assert_cmpuint (r->at_ns - t0, ==, 500 * MS * 79);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_retries, ==, 11);
  g_assert_cmpuint (s.private_failed, ==, 1);
  g_assert_cmpuint (s.pending, ==, 0);
  net_free (net);
}

static void
test_link_down_and_heal (void)
{
  MeshEngineConfig c;
  Net *net;
  uint8_t id[32];
  MeshEngineStats s;
  MeshLinkId bc;

  mesh_engine_config_init (&c);
  c.max_retries = 3;
  net = net_line (4, &c);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id), ==, 1);

  net_disconnect (net, 2);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_DISCONNECTED), ==, 1);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PEER_DISCONNECTED), ==, 1);
  net_run (net, 1 * SEC);
  /* The withdrawal reached A: no route to C or D any more. */
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 1), B (net, 3)->node_id), ==, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id), ==, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 2)->node_id), ==, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 1)->node_id), ==, 1);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 3), B (net, 0)->node_id), ==, MESH_LINK_NONE);

  /* Accepted, tried 1 + 3 times without a route, then failed. */
  send_private (net, 0, 3, "anyone there?", id);
  net_run (net, 20 * SEC);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERY_FAILED), ==, 1);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_retries, ==, 3);
  g_assert_cmpuint (s.dropped_no_route, ==, 4);
  g_assert_cmpuint (s.private_failed, ==, 1);

  /* Heal: a new link between B and C. */
  bc = net_connect (net, 1, 2);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id), ==, 1);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 1), B (net, 3)->node_id), ==, bc);
  send_private (net, 0, 3, "back again", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  net_free (net);
}

static void
test_max_hops (void)
{
  MeshEngineConfig c;
  Net *net;
  uint8_t id[32];
  MeshEngineStats s;

  mesh_engine_config_init (&c);
  c.max_hops = 2;
  c.max_retries = 1;
  net = net_line (4, &c);

  /* Two links: within the budget. */
  send_private (net, 0, 2, "two hops", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);

  /* Three links: C drops it (both attempts). */
  send_private (net, 0, 3, "three hops", id);
  net_run (net, 5 * SEC);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 0);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERY_FAILED), ==, 1);
  stats (net, 2, &s);
  g_assert_cmpuint (s.dropped_ttl, ==, 2);
  stats (net, 1, &s);
  g_assert_cmpuint (s.dropped_ttl, ==, 0);

  /* A relayed frame whose hop count is spent is not forwarded either. */
  {
    g_autoptr (GBytes) body = build_body (MESH_WIRE_TYPE_PRIVATE + 150, NULL,
                                          wall_now (net), B (net, 3)->node_id, 4, 4);
    inject (net, 1, 1, body);
  }
  stats (net, 1, &s);
  g_assert_cmpuint (s.dropped_ttl, ==, 1);
  net_free (net);
}

static void
test_garbage_frame (void)
{
  Net *net = net_line (3, NULL);
  static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };
  MeshEngineStats s;
  MeshLinkInfo info;
  uint8_t id[32];
  RecEvent *r;

  /* Junk on B's link from A. */
  mesh_engine_receive (E (net, 1), 1, junk, sizeof junk, net->now);
  r = find_event (net, 1, MESH_EVENT_PEER_MISBEHAVED, 0);
  g_assert_nonnull (r);
  g_assert_cmpuint (r->link, ==, 1);
  g_assert_cmpmem (r->node_id, 32, B (net, 0)->node_id, 32);
  g_assert_nonnull (strstr (r->reason, "invalid frame"));
  g_assert_cmpuint (net->closes->len, ==, 1);
  g_assert_true (mesh_engine_get_link_info (E (net, 1), 1, &info));
  g_assert_true (info.closing);
  g_assert_cmpuint (info.invalid_frames, ==, 1);
  g_assert_cmpint (info.reputation, <, 0);
  /* Further frames from it are ignored until the caller closes it. */
  mesh_engine_receive (E (net, 1), 1, junk, sizeof junk, net->now);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  stats (net, 1, &s);
  g_assert_cmpuint (s.invalid_frames, ==, 1);
  g_assert_cmpuint (s.misbehaved, ==, 1);

  net_run (net, 1 * SEC);
  g_assert_false (net->links[0].up);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_DISCONNECTED), ==, 1);
  g_assert_false (mesh_engine_get_link_info (E (net, 1), 1, &info));

  /* B keeps working with C. */
  send_private (net, 1, 2, "still here", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_DELIVERED), ==, 1);
  net_free (net);
}

static void
test_bad_message_id (void)
{
  Net *net = net_line (2, NULL);
  g_autoptr (GBytes) body = build_ping (7, wall_now (net));
  g_autoptr (MeshWireBaseMessage) m = NULL;
  MeshMsgBuf fbuf = { 0 };
  size_t len;

  /* A well-formed PING whose ID does not match its content. */
  m = mesh_wire_decode_base (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                             MESH_FRAME_MAX_DEFAULT, NULL);
  g_assert_nonnull (m);
  m->message_id.data[0] ^= 1;
  g_assert_true (mesh_msg_encode_frame (m, MESH_FRAME_MAX_DEFAULT, &fbuf, &len, NULL));
  mesh_engine_receive (E (net, 1), 1, fbuf.data + 4, len - 4, net->now);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  g_assert_nonnull (strstr (find_event (net, 1, MESH_EVENT_PEER_MISBEHAVED, 0)->reason,
                            "message_id"));
  mesh_msg_buf_clear (&fbuf);
  net_free (net);
}

/* A node with a link (id 1) to a peer that is only the test, which has
 * sent its HELLO. */
static Net *
lone_node (const MeshEngineConfig *c)
{
  Net *net = net_new (2, c);
  g_autoptr (GBytes) hello = NULL;

  net->links[0].a = 0;
  net->links[0].b = 1;
  net->links[0].up = FALSE;     /* nothing reaches node 1: the test plays it */
  net->n_links = 1;
  g_assert_true (mesh_engine_link_up (E (net, 0), 1, B (net, 1), net->now, NULL));
  hello = build_hello (B (net, 1), wall_now (net));
  inject (net, 0, 1, hello);
  return net;
}

static void
test_rate_limit (void)
{
  MeshEngineConfig c;
  Net *net;
  MeshEngineStats s;
  MeshLinkInfo info;
  guint pongs;
  guint from;

  mesh_engine_config_init (&c);
  c.peer_frames_per_s = 10;
  net = lone_node (&c);
  net->now += 2 * SEC;      /* the bucket is full again */
  from = net->sent[0]->len;
  for (int i = 0; i < 25; i++)
    {
      g_autoptr (GBytes) ping = build_ping ((uint64_t) i, wall_now (net));
      inject (net, 0, 1, ping);
    }
  pongs = count_sent (net, 0, 1, MESH_WIRE_TYPE_PONG, from);
  g_assert_cmpuint (pongs, ==, 10);
  stats (net, 0, &s);
  g_assert_cmpuint (s.dropped_rate, ==, 15);
  g_assert_true (mesh_engine_get_link_info (E (net, 0), 1, &info));
  g_assert_cmpuint (info.dropped_rate, ==, 15);
  g_assert_false (info.closing);

  /* A tenth of a second later there is room for one more. */
  net->now += 100 * MS;
  from = net->sent[0]->len;
  for (int i = 0; i < 3; i++)
    {
      g_autoptr (GBytes) ping = build_ping (100, wall_now (net));
      inject (net, 0, 1, ping);
    }
  g_assert_cmpuint (count_sent (net, 0, 1, MESH_WIRE_TYPE_PONG, from), ==, 1);

  /* A peer that keeps flooding loses its reputation and the link. */
  for (int i = 0; i < 100 && !info.closing; i++)
    {
      g_autoptr (GBytes) ping = build_ping (100, wall_now (net));
      inject (net, 0, 1, ping);
      mesh_engine_get_link_info (E (net, 0), 1, &info);
    }
  g_assert_true (info.closing);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  net_free (net);
}

static void
test_timestamp_window (void)
{
  Net *net = lone_node (NULL);
  MeshEngineStats s;
  guint from = net->sent[0]->len;
  uint64_t now_ms = wall_now (net);
  GBytes *ping;

  ping = build_ping (1, now_ms + 5 * 60 * 1000 + 1);   /* just too far ahead */
  inject (net, 0, 1, ping);
  g_bytes_unref (ping);
  ping = build_ping (2, now_ms - 24 * 3600 * 1000 - 1);  /* just too old */
  inject (net, 0, 1, ping);
  g_bytes_unref (ping);
  g_assert_cmpuint (count_sent (net, 0, 1, MESH_WIRE_TYPE_PONG, from), ==, 0);
  stats (net, 0, &s);
  g_assert_cmpuint (s.dropped_timestamp, ==, 2);
  g_assert_cmpuint (s.invalid_frames, ==, 0);

  ping = build_ping (3, now_ms + 5 * 60 * 1000);        /* at the limits */
  inject (net, 0, 1, ping);
  g_bytes_unref (ping);
  ping = build_ping (4, now_ms - 24 * 3600 * 1000);
  inject (net, 0, 1, ping);
  g_bytes_unref (ping);
  g_assert_cmpuint (count_sent (net, 0, 1, MESH_WIRE_TYPE_PONG, from), ==, 2);
  net_free (net);
}

static void
test_frame_before_hello (void)
{
  Net *net = net_new (2, NULL);
  g_autoptr (GBytes) ping = NULL;

  net->n_links = 1;
  net->links[0].a = 0;
  net->links[0].b = 1;
  g_assert_true (mesh_engine_link_up (E (net, 0), 1, B (net, 1), net->now, NULL));
  ping = build_ping (1, wall_now (net));
  inject (net, 0, 1, ping);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  g_assert_nonnull (strstr (find_event (net, 0, MESH_EVENT_PEER_MISBEHAVED, 0)->reason,
                            "PING before HELLO"));
  net_free (net);
}

static void
test_hello_wrong_identity (void)
{
  Net *net = net_new (3, NULL);
  g_autoptr (GBytes) hello = NULL;

  net->n_links = 1;
  net->links[0].a = 0;
  net->links[0].b = 1;
  g_assert_true (mesh_engine_link_up (E (net, 0), 1, B (net, 1), net->now, NULL));
  /* The link authenticated node 1; the HELLO claims node 2. */
  hello = build_hello (B (net, 2), wall_now (net));
  inject (net, 0, 1, hello);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  net_free (net);
}

static void
test_recipient_restart (void)
{
  Net *net = net_line (3, NULL);
  uint8_t id[32];
  MeshEngineStats s;
  RecEvent *r;

  send_private (net, 0, 2, "before", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);

  /* C restarts: same identity, new engine, no sessions. */
  net_disconnect (net, 2);
  mesh_engine_free (E (net, 2));
  g_ptr_array_set_size (net->nodes[2].events, 0);
  node_start (net, 2);
  net_connect (net, 1, 2);
  net_run (net, 1 * SEC);

  /* The first copy names a session C no longer has; the retry carries
   * the init, and C re-creates the session from it. */
  send_private (net, 0, 2, "after", id);
  net_run (net, 3 * SEC);
  r = find_event (net, 2, MESH_EVENT_PRIVATE_RECEIVED, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (g_bytes_get_data (r->data, NULL), g_bytes_get_size (r->data), "after", 5);
  g_assert_cmpmem (r->bundle.ed_pub, 32, B (net, 0)->ed_pub, 32);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  r = find_event (net, 0, MESH_EVENT_DELIVERED, 1);
  g_assert_nonnull (r);
  g_assert_cmpmem (r->message_id, 32, id, 32);
  g_assert_cmpuint (r->latency_ns, ==, 500 * MS + 4 * MS);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_retries, ==, 1);
  stats (net, 2, &s);
  g_assert_cmpuint (s.sessions_in, ==, 1);

  /* And the session goes on without further retries. */
  send_private (net, 0, 2, "again", id);
  net_run (net, 1 * SEC);
  g_assert_cmpuint (count_events (net, 2, MESH_EVENT_PRIVATE_RECEIVED), ==, 2);
  stats (net, 0, &s);
  g_assert_cmpuint (s.private_retries, ==, 1);
  g_assert_cmpuint (s.private_delivered, ==, 3);
  net_free (net);
}

static void
test_unknown_type_relayed (void)
{
  Net *net = net_line (3, NULL);
  MeshEngineStats s0, s;
  g_autoptr (GBytes) body = NULL;
  guint from = net->sent[1]->len;

  /* A type of a later protocol version, routed from A to C through B. */
  stats (net, 1, &s0);
  body = build_body (150, NULL, wall_now (net), B (net, 2)->node_id, 1, 8);
  inject (net, 1, 1, body);
  stats (net, 1, &s);
  g_assert_cmpuint (s.forwarded, ==, s0.forwarded + 1);
  g_assert_cmpuint (count_sent (net, 1, 2, 150, from), ==, 1);
  net_run (net, 1 * SEC);
  stats (net, 2, &s);
  g_assert_cmpuint (s.dropped_unknown, ==, 1);
  g_assert_cmpuint (s.invalid_frames, ==, 0);

  /* Unrouted, it is ignored. */
  g_bytes_unref (body);
  stats (net, 1, &s0);
  body = build_body (150, NULL, wall_now (net), NULL, 0, 0);
  inject (net, 1, 1, body);
  stats (net, 1, &s);
  g_assert_cmpuint (s.forwarded, ==, s0.forwarded);
  g_assert_cmpuint (s.dropped_unknown, ==, s0.dropped_unknown + 1);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_MISBEHAVED), ==, 0);
  net_free (net);
}

static void
test_ping_rtt (void)
{
  MeshEngineConfig c;
  Net *net;
  MeshLinkInfo info;

  mesh_engine_config_init (&c);
  c.ping_interval_ns = 2 * SEC;
  net = net_new (2, &c);
  net->latency_ns = 5 * MS;
  net_connect (net, 0, 1);
  net_run (net, 1 * SEC);
  g_assert_true (mesh_engine_get_link_info (E (net, 0), 1, &info));
  g_assert_cmpuint (info.rtt_ns, ==, 0);
  net_run (net, 2 * SEC);
  g_assert_true (mesh_engine_get_link_info (E (net, 0), 1, &info));
  g_assert_cmpuint (info.rtt_ns, ==, 10 * MS);
  g_assert_true (mesh_engine_get_link_info (E (net, 1), 1, &info));
  g_assert_cmpuint (info.rtt_ns, ==, 10 * MS);

  /* Pings keep a quiet link open; a peer that stops answering is closed
   * once its ping went unanswered five times. */
  net_run (net, 20 * SEC);
  g_assert_true (net->links[0].up);
  net->links[0].up = FALSE;   /* frames now vanish */
  net_run (net, 10 * SEC);
  g_assert_cmpuint (net->closes->len, ==, 0);
  g_assert_true (mesh_engine_get_link_info (E (net, 0), 1, &info));
  g_assert_true (info.closing);
  net_free (net);
}

static void
test_next_timeout (void)
{
  Net *net = net_new (2, NULL);
  uint64_t t;

  /* An idle engine without links wakes only for routing housekeeping. */
  t = mesh_engine_next_timeout (E (net, 0));
  g_assert_cmpuint (t, >, net->now);
  g_assert_cmpuint (t, <=, net->now + 30 * SEC);
  net_connect (net, 0, 1);
  net_run (net, 100 * MS);
  /* A message waiting for its acknowledgment sets the next deadline. */
  {
    uint8_t id[32];
    net->links[0].up = FALSE;
    send_private (net, 0, 1, "x", id);
    g_assert_cmpuint (mesh_engine_next_timeout (E (net, 0)), <=, net->now + 500 * MS);
  }
  net_free (net);
}

static void
test_send_errors (void)
{
  MeshEngineConfig c;
  Net *net;
  g_autoptr (GError) error = NULL;
  uint8_t *big;
  size_t n;

  mesh_engine_config_init (&c);
  c.max_pending = 2;
  c.max_frame_size = 64 * 1024;
  net = net_line (2, &c);
  net->links[0].up = FALSE;
  g_assert_false (mesh_engine_send_private (E (net, 0), B (net, 0), (const uint8_t *) "x", 1,
                                            net->now, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  n = 64 * 1024;
  big = g_malloc0 (n);
  g_assert_false (mesh_engine_send_private (E (net, 0), B (net, 1), big, n, net->now,
                                            NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  /* The largest allowed fits the frame limit, with init and all. */
  n = 64 * 1024 - 1024 - MESH_PRIVATE_OVERHEAD;
  g_assert_true (mesh_engine_send_private (E (net, 0), B (net, 1), big, n, net->now,
                                           NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_engine_send_private (E (net, 0), B (net, 1), big, 1, net->now,
                                           NULL, &error));
  g_assert_false (mesh_engine_send_private (E (net, 0), B (net, 1), big, 1, net->now,
                                            NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_free (big);
  net_free (net);
}

static void
test_broadcast (void)
{
  Net *net = net_new (4, NULL);
  g_autoptr (GError) error = NULL;
  uint8_t id[32];
  MeshEngineStats s;

  /* A ring: every node hears it from two sides. */
  for (int i = 0; i < 4; i++)
    net_connect (net, i, (i + 1) % 4);
  net_run (net, 1 * SEC);
  g_assert_true (mesh_engine_broadcast (E (net, 0), (const uint8_t *) "news", 4,
                                        "text/plain", net->now, id, &error));
  g_assert_no_error (error);
  net_run (net, 1 * SEC);
  for (int i = 1; i < 4; i++)
    {
      RecEvent *r = find_event (net, i, MESH_EVENT_BROADCAST_RECEIVED, 0);

      g_assert_nonnull (r);
      g_assert_cmpuint (count_events (net, i, MESH_EVENT_BROADCAST_RECEIVED), ==, 1);
      g_assert_cmpmem (r->message_id, 32, id, 32);
      g_assert_cmpmem (r->node_id, 32, B (net, 0)->node_id, 32);
      g_assert_cmpmem (g_bytes_get_data (r->data, NULL), g_bytes_get_size (r->data), "news", 4);
      g_assert_cmpuint (r->hops, ==, i == 2 ? 2 : 1);
    }
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_BROADCAST_RECEIVED), ==, 0);
  stats (net, 0, &s);
  g_assert_cmpuint (s.broadcasts_sent, ==, 1);
  stats (net, 2, &s);
  g_assert_cmpuint (s.broadcasts_received, ==, 1);
  g_assert_cmpuint (s.invalid_frames, ==, 0);

  /* A content type that is not printable ASCII is refused. */
  g_assert_false (mesh_engine_broadcast (E (net, 0), (const uint8_t *) "x", 1,
                                         "text/\n", net->now, id, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  net_free (net);
}

static void
test_forged_broadcast (void)
{
  Net *net = net_line (2, NULL);
  MeshWireBroadcast bp = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
  MeshMsgBuf pbuf = { 0 }, fbuf = { 0 };
  MeshMsg m;
  size_t plen, len;

  /* Signed by node 1's key but claiming node 0's: the signature does not
   * verify, and the neighbour that passed it on is dropped. */
  bp.content.data = (uint8_t *) "fake";
  bp.content.len = 4;
  bp.content_type = (char *) "";
  plen = mesh_msg_buf_encode (&pbuf, &bp.base);
  mesh_msg_init (&m, MESH_WIRE_TYPE_BROADCAST, wall_now (net), pbuf.data, plen);
  mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_FLOOD, NULL, 8);
  mesh_msg_finish (&m, &net->nodes[0].id);
  mesh_identity_sign (&net->nodes[1].id, m.id, 32, m.signature);
  g_assert_true (mesh_msg_encode_frame (&m.base, MESH_FRAME_MAX_DEFAULT, &fbuf, &len, NULL));
  mesh_engine_receive (E (net, 1), 1, fbuf.data + 4, len - 4, net->now);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_BROADCAST_RECEIVED), ==, 0);
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_MISBEHAVED), ==, 1);
  mesh_msg_buf_clear (&pbuf);
  mesh_msg_buf_clear (&fbuf);
  net_free (net);
}

/* A correctly signed broadcast older than the seen-cache's memory is
 * dropped: after its ID was forgotten it could otherwise be replayed. */
static void
test_stale_broadcast (void)
{
  Net *net = net_line (2, NULL);
  MeshEngineConfig c;
  uint64_t ages_ms[2];
  guint delivered = 0;

  mesh_engine_config_init (&c);
  ages_ms[0] = c.seen_max_age_ns / 1000000u + 1000;  /* forgotten: dropped */
  ages_ms[1] = c.seen_max_age_ns / 1000000u - 1000;  /* still remembered */
  for (guint i = 0; i < 2; i++)
    {
      MeshWireBroadcast bp = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
      MeshMsgBuf pbuf = { 0 }, fbuf = { 0 };
      MeshMsg m;
      MeshEngineStats st;
      size_t plen, len;

      bp.content.data = (uint8_t *) "old news";
      bp.content.len = 8;
      bp.content_type = (char *) "";
      plen = mesh_msg_buf_encode (&pbuf, &bp.base);
      mesh_msg_init (&m, MESH_WIRE_TYPE_BROADCAST, wall_now (net) - ages_ms[i],
                     pbuf.data, plen);
      mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_FLOOD, NULL, 8);
      mesh_msg_finish (&m, &net->nodes[0].id);
      g_assert_true (mesh_msg_encode_frame (&m.base, MESH_FRAME_MAX_DEFAULT, &fbuf, &len, NULL));
      mesh_engine_receive (E (net, 1), 1, fbuf.data + 4, len - 4, net->now);
      stats (net, 1, &st);
      if (i == 0)
        g_assert_cmpuint (st.dropped_timestamp, ==, 1);
      delivered = count_events (net, 1, MESH_EVENT_BROADCAST_RECEIVED);
      g_assert_cmpuint (delivered, ==, i);
      mesh_msg_buf_clear (&pbuf);
      mesh_msg_buf_clear (&fbuf);
    }
  g_assert_cmpuint (count_events (net, 1, MESH_EVENT_PEER_MISBEHAVED), ==, 0);
  net_free (net);
}

static void
test_lookup (void)
{
  static const char *const addrs[] = { "node.example:7000", NULL };
  MeshEngineConfig c;
  Net *net;
  g_autoptr (GError) error = NULL;
  MeshEngineStats s;
  RecEvent *r;

  mesh_engine_config_init (&c);
  c.addresses = addrs;
  net = net_line (4, &c);
  net_run (net, 2 * SEC);

  g_assert_true (mesh_engine_lookup (E (net, 0), B (net, 3)->node_id, net->now, &error));
  g_assert_no_error (error);
  net_run (net, 2 * SEC);
  r = find_event (net, 0, MESH_EVENT_LOOKUP_DONE, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (r->node_id, 32, B (net, 3)->node_id, 32);
  g_assert_true (r->has_bundle);
  g_assert_cmpmem (r->bundle.ed_pub, 32, B (net, 3)->ed_pub, 32);
  g_assert_null (r->reason);
  stats (net, 0, &s);
  g_assert_cmpuint (s.lookups_started, ==, 1);
  g_assert_cmpuint (s.lookups_done, ==, 1);
  net_free (net);
}

static void
test_no_route_connects (void)
{
  static const char *const addrs[] = { "node.example:7000", NULL };
  MeshEngineConfig c;
  Net *net;
  uint8_t id[32];
  ConnectReq *req;

  mesh_engine_config_init (&c);
  c.addresses = addrs;
  net = net_line (4, &c);
  net_run (net, 2 * SEC);       /* records published */

  net_disconnect (net, 3);      /* C - D */
  net_run (net, 1 * SEC);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id), ==, MESH_LINK_NONE);

  /* No route: A finds D's record and asks for a link to it. */
  send_private (net, 0, 3, "via a new link", id);
  net_run (net, 200 * MS);
  g_assert_cmpuint (net->connects->len, >=, 1);
  req = &g_array_index (net->connects, ConnectReq, 0);
  g_assert_cmpint (req->from, ==, 0);
  g_assert_cmpmem (req->peer.ed_pub, 32, B (net, 3)->ed_pub, 32);
  g_assert_cmpstr (req->address, ==, "node.example:7000");

  /* The caller connects; a retry then takes the direct link. */
  net_connect (net, 0, 3);
  net_run (net, 2 * SEC);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_events (net, 0, MESH_EVENT_DELIVERED), ==, 1);
  net_free (net);
}

typedef struct {
  int from, to;
} Hole;

static Verdict
filter_hole (Net *net, int from, int to, MeshLinkId link,
             const MeshWireBaseMessage *msg, void *data)
{
  Hole *h = data;

  return from == h->from && to == h->to ? DROP : PASS;
}

static void
test_one_way_black_hole (void)
{
  Net *net = net_new (4, NULL);
  Hole hole;
  MeshLinkId first;
  uint8_t id[32];
  RecEvent *r;
  int relay, other;

  /* A diamond: 0 - 1 - 3 and 0 - 2 - 3. */
  net_connect (net, 0, 1);
  net_connect (net, 0, 2);
  net_connect (net, 1, 3);
  net_connect (net, 2, 3);
  net_run (net, 1 * SEC);
  first = mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id);
  g_assert_true (first == 1 || first == 2);
  relay = first == 1 ? 1 : 2;
  other = 3 - relay;

  /* The relay's frames to 3 vanish, 3's frames to it still arrive: the
   * link looks alive from the relay's side, only pings tell. */
  hole.from = relay;
  hole.to = 3;
  net->filter = filter_hole;
  net->filter_data = &hole;
  send_private (net, 0, 3, "around the hole", id);
  net_run (net, 10 * SEC);

  r = find_event (net, 0, MESH_EVENT_DELIVERED, 0);
  g_assert_nonnull (r);
  g_assert_cmpmem (r->message_id, 32, id, 32);
  /* The relay's probe went unanswered five times (5 s); the retry at
   * 7.5 s took the other side. */
  g_assert_cmpuint (r->latency_ns, >, 5 * SEC);
  g_assert_cmpuint (r->latency_ns, <, 8 * SEC);
  g_assert_cmpuint (count_events (net, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 0), B (net, 3)->node_id), ==,
                    (MeshLinkId) other);
  g_assert_false (net->links[relay == 1 ? 2 : 3].up);
  net_free (net);
}

static void
test_poisoned_reverse (void)
{
  Net *net = net_line (3, NULL);
  GPtrArray *sent = net->sent[2];
  gboolean found = FALSE;

  /* C reaches A through B: its advertisements to B list A as withdrawn,
   * so that B never takes a route to A through C. */
  for (guint i = 0; i < sent->len; i++)
    {
      SentFrame *sf = sent->pdata[i];
      const uint8_t *p = g_bytes_get_data (sf->frame, NULL);
      g_autoptr (MeshWireBaseMessage) m =
        mesh_wire_decode_base (p + 4, g_bytes_get_size (sf->frame) - 4,
                               MESH_FRAME_MAX_DEFAULT, NULL);
      g_autoptr (MeshWireRouteAdvertisement) adv = NULL;

      if (m->type != MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT)
        continue;
      adv = mesh_wire_decode_route_advertisement (m->payload.data, m->payload.len, NULL);
      g_assert_nonnull (adv);
      for (size_t j = 0; j < adv->n_entries; j++)
        if (memcmp (adv->entries[j]->destination.data, B (net, 0)->node_id, 32) == 0)
          {
            g_assert_true (adv->entries[j]->withdrawn);
            found = TRUE;
          }
      /* Never its own peer's route, never itself. */
      for (size_t j = 0; j < adv->n_entries; j++)
        {
          g_assert_true (memcmp (adv->entries[j]->destination.data, B (net, 1)->node_id, 32) != 0);
          g_assert_true (memcmp (adv->entries[j]->destination.data, B (net, 2)->node_id, 32) != 0);
        }
    }
  g_assert_true (found);
  g_assert_cmpuint (mesh_engine_route_lookup (E (net, 1), B (net, 0)->node_id), ==, 1);
  net_free (net);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/link-up", test_link_up);
  g_test_add_func ("/engine/link-up-refused", test_link_up_refused);
  g_test_add_func ("/engine/line-private", test_line_private);
  g_test_add_func ("/engine/echo-reentrant", test_echo_reentrant);
  g_test_add_func ("/engine/duplicate-frames", test_duplicate_frames);
  g_test_add_func ("/engine/lost-ack", test_lost_ack_not_delivered_twice);
  g_test_add_func ("/engine/retry-budget", test_retry_budget);
  g_test_add_func ("/engine/link-down-and-heal", test_link_down_and_heal);
  g_test_add_func ("/engine/max-hops", test_max_hops);
  g_test_add_func ("/engine/garbage-frame", test_garbage_frame);
  g_test_add_func ("/engine/bad-message-id", test_bad_message_id);
  g_test_add_func ("/engine/rate-limit", test_rate_limit);
  g_test_add_func ("/engine/timestamp-window", test_timestamp_window);
  g_test_add_func ("/engine/frame-before-hello", test_frame_before_hello);
  g_test_add_func ("/engine/hello-wrong-identity", test_hello_wrong_identity);
  g_test_add_func ("/engine/recipient-restart", test_recipient_restart);
  g_test_add_func ("/engine/unknown-type-relayed", test_unknown_type_relayed);
  g_test_add_func ("/engine/ping-rtt", test_ping_rtt);
  g_test_add_func ("/engine/next-timeout", test_next_timeout);
  g_test_add_func ("/engine/send-errors", test_send_errors);
  g_test_add_func ("/engine/broadcast", test_broadcast);
  g_test_add_func ("/engine/forged-broadcast", test_forged_broadcast);
  g_test_add_func ("/engine/stale-broadcast", test_stale_broadcast);
  g_test_add_func ("/engine/lookup", test_lookup);
  g_test_add_func ("/engine/no-route-connects", test_no_route_connects);
  g_test_add_func ("/engine/one-way-black-hole", test_one_way_black_hole);
  g_test_add_func ("/engine/poisoned-reverse", test_poisoned_reverse);
  return g_test_run ();
}
