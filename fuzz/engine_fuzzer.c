/* The protocol engine (lib/engine) as a whole, stateful: one engine under
 * test (T) and up to four peers, each itself a MeshEngine with a fixed
 * identity, linked to T.  The frames the peers write are real protocol
 * (HELLO, routes, sessions, acknowledgments, gossip, DHT), so an input
 * reaches what lies behind the signatures and session tags by asking the
 * peers to act; beside them it can write frames of its own, raw or built
 * by the harness from its bytes with a correct envelope, and mutate what
 * a peer wrote before T reads it.
 *
 * Input: byte 0: bits 0-1 the number of peers minus one; bit 2 links
 * every peer up at the start (and exchanges the HELLOs).  Then
 * operations, one byte each: low 4 bits the operation, high 4 bits the
 * peer p (modulo the number of peers), then the operation's arguments:
 *
 *   0  link p up on both sides
 *   1  link p down on both sides
 *   2  deliver n (1) frames from p to T, in order
 *   3  deliver p's next frame to T changed: how (1); then by how % 4:
 *      flip bit at (2); cut to (2) bytes; overwrite at (2) with n (1)
 *      bytes; deliver it twice
 *   4  deliver every frame T wrote to the peers
 *   5  raw frame body to T from p: n (2) % 4096, n bytes
 *   6  built frame from p (see build_frame()): kind (1), envelope (1),
 *      fields
 *   7  time: d (2), unit (1): now moves d ms, 100 ms, s or min; then
 *      every engine runs its timers
 *   8  time to T's next timer (at most an hour ahead); timers run
 *   9  T sends a private message to who (1): n (1) bytes
 *  10  T broadcasts: content type sel (1), n (1) bytes
 *  11  T looks up who (1) (or 32 bytes of input when who is 255)
 *  12  peer p sends a private message to who (1), n (1) bytes
 *  13  peer p broadcasts n (1) bytes
 *  14  peer p looks up who (1)
 *  15  pump: every queue is delivered, up to 8 rounds
 *
 * "who" picks an identity (value % 6): T, a peer (1-4), or a stranger no
 * one is linked to (whose messages start DHT lookups).  Close requests
 * take the link down on both sides after the operation; connect requests
 * for a peer's bundle link it up.  Randomness comes from a fixed
 * generator per engine, time only from the input, so one input always
 * does the same thing.
 *
 * Checked besides memory safety and leaks: the fields the events
 * document (engine.h) are there, frames are well formed and no longer
 * than the limits, and the statistics stay consistent with the links. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "engine/engine.h"
#include "engine/msg.h"
#include "engine/dht.h"
#include "wire/codec.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

#define MS G_GUINT64_CONSTANT (1000000)
#define SEC G_GUINT64_CONSTANT (1000000000)
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)
#define START_NS (1000 * SEC)
#define MAX_PEERS 4
#define N_IDS (MAX_PEERS + 2)   /* T, the peers, the stranger */
#define STRANGER (MAX_PEERS + 1)
#define MAX_QUEUE 64
#define MAX_FRAME (64 * 1024)
#define N_RECENT 8

typedef struct Harness Harness;

typedef struct {
  Harness *h;
  int index;                    /* 0 for T, 1.. for the peers */
  MeshEngine *engine;
  uint64_t rng;
} Node;

struct Harness {
  Node nodes[MAX_PEERS + 1];
  int n_peers;
  gboolean up[MAX_PEERS + 1];
  GQueue to_t[MAX_PEERS + 1];   /* GBytes frame bodies, peer -> T */
  GQueue to_peer[MAX_PEERS + 1];
  GArray *closes;               /* peer indexes */
  GArray *connects;             /* peer indexes */
  uint64_t now;
  /* What T wrote, for answers that fit: */
  uint64_t lookup_ids[N_RECENT];
  uint64_t ping_nonce, ping_ts;
  uint8_t msg_ids[N_RECENT][MESH_WIRE_ID_LEN];
  unsigned n_lookup_ids, n_msg_ids;
  MeshMsgBuf buf, payload;
};

static struct {
  gboolean ready;
  MeshIdentity ids[N_IDS];
  uint8_t bundles[N_IDS][MESH_BUNDLE_LEN];
} fixed;

static void
setup (void)
{
  uint8_t seed[MESH_SEED_LEN];

  if (fixed.ready)
    return;
  for (int i = 0; i < N_IDS; i++)
    {
      memset (seed, 'A' + i, sizeof seed);
      mesh_identity_from_seed (&fixed.ids[i], seed);
      mesh_bundle_serialize (&fixed.ids[i].pub, fixed.bundles[i]);
    }
  fixed.ready = TRUE;
}

static void
fail (const char *what)
{
  fprintf (stderr, "engine_fuzzer: %s\n", what);
  abort ();
}

/* SplitMix64: a fixed stream per engine. */
static void
cb_random (void *user_data, uint8_t *buf, size_t n)
{
  Node *node = user_data;

  for (size_t i = 0; i < n; i += 8)
    {
      uint64_t z = (node->rng += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

      z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
      z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
      z ^= z >> 31;
      for (size_t j = 0; j < 8 && i + j < n; j++)
        buf[i + j] = (uint8_t) (z >> (8 * j));
    }
}

static void
queue_push (GQueue *q, const uint8_t *body, size_t len)
{
  if (q->length >= MAX_QUEUE)
    return;
  g_queue_push_tail (q, g_bytes_new (body, len));
}

static void
queue_clear (GQueue *q)
{
  GBytes *b;

  while ((b = g_queue_pop_head (q)) != NULL)
    g_bytes_unref (b);
}

/* Note what T asks its peers, so that built answers can match it. */
static void
note_t_frame (Harness *h, const uint8_t *body, size_t len)
{
  MeshWireBaseMessage *m;

  m = mesh_wire_decode_base_full (body, len, MAX_FRAME,
                                  MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, NULL);
  if (m == NULL)
    fail ("T wrote a frame that does not decode");
  if (m->message_id.len == MESH_WIRE_ID_LEN
      && (m->type == MESH_WIRE_TYPE_BROADCAST || m->type == MESH_WIRE_TYPE_PRIVATE))
    memcpy (h->msg_ids[h->n_msg_ids++ % N_RECENT], m->message_id.data,
            MESH_WIRE_ID_LEN);
  if (m->type == MESH_WIRE_TYPE_FIND_NODE || m->type == MESH_WIRE_TYPE_FIND_VALUE)
    {
      ProtobufCMessage *p = mesh_wire_decode_payload (m, NULL);

      if (p != NULL)
        {
          uint64_t id = m->type == MESH_WIRE_TYPE_FIND_NODE
                        ? ((MeshWireFindNode *) p)->lookup_id
                        : ((MeshWireFindValue *) p)->lookup_id;
          h->lookup_ids[h->n_lookup_ids++ % N_RECENT] = id;
          mesh_wire_free (p);
        }
    }
  else if (m->type == MESH_WIRE_TYPE_PING)
    {
      MeshWirePing *p = (MeshWirePing *) mesh_wire_decode_payload (m, NULL);

      if (p != NULL)
        {
          h->ping_nonce = p->nonce;
          h->ping_ts = p->timestamp;
          mesh_wire_free (p);
        }
    }
  else if (m->type == MESH_WIRE_TYPE_GOSSIP_ANNOUNCE)
    {
      MeshWireGossipAnnounce *p =
        (MeshWireGossipAnnounce *) mesh_wire_decode_payload (m, NULL);

      if (p != NULL)
        {
          for (size_t i = 0; i < p->n_message_ids && i < 2; i++)
            if (p->message_ids[i].len == MESH_WIRE_ID_LEN)
              memcpy (h->msg_ids[h->n_msg_ids++ % N_RECENT],
                      p->message_ids[i].data, MESH_WIRE_ID_LEN);
          mesh_wire_free (p);
        }
    }
  mesh_wire_free (m);
}

static void
cb_send_frame (void *user_data, MeshLinkId link, const uint8_t *frame, size_t len)
{
  Node *node = user_data;
  Harness *h = node->h;

  if (len <= MESH_FRAME_HEADER_LEN
      || mesh_frame_read_header (frame) != len - MESH_FRAME_HEADER_LEN)
    fail ("a frame with a wrong length header");
  if (len - MESH_FRAME_HEADER_LEN > MAX_FRAME)
    fail ("a frame above max_frame_size");
  if (node->index == 0)
    {
      if (link == MESH_LINK_NONE || link > (MeshLinkId) h->n_peers)
        fail ("T wrote to a link it was never given");
      if (!h->up[link])
        fail ("T wrote to a link that is down");
      note_t_frame (h, frame + MESH_FRAME_HEADER_LEN, len - MESH_FRAME_HEADER_LEN);
      queue_push (&h->to_peer[link], frame + MESH_FRAME_HEADER_LEN,
                  len - MESH_FRAME_HEADER_LEN);
    }
  else
    {
      if (link != 1 || !h->up[node->index])
        fail ("a peer wrote to a link it does not have");
      queue_push (&h->to_t[node->index], frame + MESH_FRAME_HEADER_LEN,
                  len - MESH_FRAME_HEADER_LEN);
    }
}

static void
cb_close_link (void *user_data, MeshLinkId link, const char *reason)
{
  Node *node = user_data;
  int p = node->index == 0 ? (int) link : node->index;

  if (reason == NULL || reason[0] == '\0')
    fail ("close_link without a reason");
  if (p < 1 || p > node->h->n_peers)
    fail ("close_link for a link that does not exist");
  g_array_append_val (node->h->closes, p);
}

static void
cb_connect (void *user_data, const MeshPublicBundle *peer,
            const char *const *addresses, size_t n)
{
  Node *node = user_data;

  if (peer == NULL || (n > 0 && addresses == NULL))
    fail ("connect without a bundle or addresses");
  for (size_t i = 0; i < n; i++)
    if (addresses[i] == NULL)
      fail ("connect with a NULL address");
  if (node->index != 0)
    return;
  for (int p = 1; p <= node->h->n_peers; p++)
    if (memcmp (peer->node_id, fixed.ids[p].pub.node_id, MESH_NODE_ID_LEN) == 0)
      g_array_append_val (node->h->connects, p);
}

static void
cb_event (void *user_data, const MeshEvent *ev)
{
  Node *node = user_data;

  if (ev->len > 0 && ev->data == NULL)
    fail ("event with a length and no data");
  switch (ev->type)
    {
    case MESH_EVENT_PRIVATE_RECEIVED:
      if (ev->bundle == NULL || ev->node_id == NULL || ev->message_id == NULL
          || memcmp (ev->node_id, ev->bundle->node_id, MESH_NODE_ID_LEN) != 0)
        fail ("private message event without a matching sender");
      if (ev->hops == 0 || ev->link == MESH_LINK_NONE)
        fail ("private message event without hops or link");
      break;
    case MESH_EVENT_BROADCAST_RECEIVED:
      if (ev->node_id == NULL || ev->message_id == NULL || ev->content_type == NULL)
        fail ("broadcast event without sender, ID or content type");
      break;
    case MESH_EVENT_DELIVERED:
    case MESH_EVENT_DELIVERY_FAILED:
      if (ev->node_id == NULL || ev->message_id == NULL)
        fail ("delivery event without recipient or ID");
      if (ev->type == MESH_EVENT_DELIVERY_FAILED && ev->reason == NULL)
        fail ("delivery failure without a reason");
      break;
    case MESH_EVENT_PEER_CONNECTED:
      if (ev->bundle == NULL || ev->node_id == NULL || ev->link == MESH_LINK_NONE)
        fail ("connection event without peer or link");
      if (node->index == 0
          && memcmp (ev->node_id, fixed.ids[ev->link].pub.node_id,
                     MESH_NODE_ID_LEN) != 0)
        fail ("connection event names another peer than the link's");
      break;
    case MESH_EVENT_PEER_DISCONNECTED:
    case MESH_EVENT_PEER_MISBEHAVED:
      if (ev->link == MESH_LINK_NONE || ev->reason == NULL)
        fail ("link event without link or reason");
      break;
    case MESH_EVENT_LOOKUP_DONE:
      if (ev->node_id == NULL)
        fail ("lookup event without its target");
      if (ev->bundle == NULL && ev->reason == NULL)
        fail ("lookup event with neither a result nor a reason");
      if (ev->bundle != NULL
          && memcmp (ev->node_id, ev->bundle->node_id, MESH_NODE_ID_LEN) != 0)
        fail ("lookup found a bundle of another node");
      for (size_t i = 0; i < ev->n_addresses; i++)
        if (ev->addresses[i] == NULL)
          fail ("lookup event with a NULL address");
      break;
    default:
      fail ("an event of an unknown type");
    }
}

static const char *const addresses[] = { "tls://192.0.2.1:7400", NULL };

static void
node_start (Harness *h, int i)
{
  static const MeshEngineCallbacks cb = {
    cb_send_frame, cb_close_link, cb_connect, cb_event, cb_random
  };
  MeshEngineConfig config;
  Node *node = &h->nodes[i];

  mesh_engine_config_init (&config);
  config.wall_epoch_ms = EPOCH_MS;
  config.max_frame_size = MAX_FRAME;
  config.max_links = 8;
  config.seen_capacity = 256;
  config.max_pending = 64;
  config.max_sessions = 16;
  config.addresses = addresses;
  node->h = h;
  node->index = i;
  node->rng = G_GUINT64_CONSTANT (0x6d657368) + (uint64_t) i;
  node->engine = mesh_engine_new (&fixed.ids[i], &config, &cb, node, h->now);
}

static void
check_error (GError *error, const char *what)
{
  mesh_fuzz_check_error (error, what);
  g_error_free (error);
}

static void
link_up (Harness *h, int p)
{
  GError *error = NULL;

  if (h->up[p])
    return;
  h->up[p] = TRUE;
  if (!mesh_engine_link_up (h->nodes[0].engine, (MeshLinkId) p, &fixed.ids[p].pub,
                            h->now, &error))
    check_error (error, "link_up on T");
  error = NULL;
  if (!mesh_engine_link_up (h->nodes[p].engine, 1, &fixed.ids[0].pub, h->now,
                            &error))
    check_error (error, "link_up on a peer");
}

static void
link_down (Harness *h, int p)
{
  if (!h->up[p])
    return;
  h->up[p] = FALSE;
  queue_clear (&h->to_t[p]);
  queue_clear (&h->to_peer[p]);
  mesh_engine_link_down (h->nodes[0].engine, (MeshLinkId) p, h->now);
  mesh_engine_link_down (h->nodes[p].engine, 1, h->now);
}

/* Close and connect requests, once the call that made them returned. */
static void
settle (Harness *h)
{
  for (int round = 0; round < 4 && (h->closes->len || h->connects->len); round++)
    {
      while (h->closes->len > 0)
        {
          int p = g_array_index (h->closes, int, 0);

          g_array_remove_index (h->closes, 0);
          link_down (h, p);
        }
      while (h->connects->len > 0)
        {
          int p = g_array_index (h->connects, int, 0);

          g_array_remove_index (h->connects, 0);
          link_up (h, p);
        }
    }
  g_array_set_size (h->closes, 0);
  g_array_set_size (h->connects, 0);
}

static void
to_t (Harness *h, int p, const uint8_t *body, size_t len)
{
  if (h->up[p])
    mesh_engine_receive (h->nodes[0].engine, (MeshLinkId) p, body, len, h->now);
}

static void
deliver_to_t (Harness *h, int p, unsigned n)
{
  for (unsigned i = 0; i < n && h->up[p]; i++)
    {
      GBytes *b = g_queue_pop_head (&h->to_t[p]);
      gsize len;
      const uint8_t *d;

      if (b == NULL)
        return;
      d = g_bytes_get_data (b, &len);
      to_t (h, p, d, len);
      g_bytes_unref (b);
      settle (h);
    }
}

static void
deliver_to_peers (Harness *h)
{
  for (int p = 1; p <= h->n_peers; p++)
    for (unsigned i = 0; i < MAX_QUEUE && h->up[p]; i++)
      {
        GBytes *b = g_queue_pop_head (&h->to_peer[p]);
        gsize len;
        const uint8_t *d;

        if (b == NULL)
          break;
        d = g_bytes_get_data (b, &len);
        mesh_engine_receive (h->nodes[p].engine, 1, d, len, h->now);
        g_bytes_unref (b);
        settle (h);
      }
}

static void
deliver_changed (Harness *h, int p, MeshFuzzInput *in)
{
  GBytes *b = g_queue_pop_head (&h->to_t[p]);
  uint8_t how = mesh_fuzz_u8 (in);
  uint8_t *d;
  gsize len;

  if (b == NULL)
    return;
  d = g_bytes_unref_to_data (b, &len);
  switch (how % 4)
    {
    case 0:
      if (len > 0)
        {
          size_t bit = mesh_fuzz_u16 (in) % (8 * len);
          d[bit / 8] ^= (uint8_t) (1 << (bit % 8));
        }
      break;
    case 1:
      len = len ? mesh_fuzz_u16 (in) % len : 0;
      break;
    case 2:
      if (len > 0)
        {
          size_t at = mesh_fuzz_u16 (in) % len;
          const uint8_t *src;
          size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &src);

          memcpy (d + at, src, MIN (n, len - at));
        }
      break;
    default:
      to_t (h, p, d, len);
      settle (h);
      break;
    }
  to_t (h, p, d, len);
  settle (h);
  g_free (d);
}

static void
run_timers (Harness *h)
{
  for (int i = 0; i <= h->n_peers; i++)
    {
      mesh_engine_tick (h->nodes[i].engine, h->now);
      settle (h);
    }
}

static void
pump (Harness *h)
{
  for (int round = 0; round < 8; round++)
    {
      gboolean any = FALSE;

      for (int p = 1; p <= h->n_peers; p++)
        if (h->to_t[p].length || h->to_peer[p].length)
          any = TRUE;
      if (!any)
        return;
      for (int p = 1; p <= h->n_peers; p++)
        deliver_to_t (h, p, MAX_QUEUE);
      deliver_to_peers (h);
    }
}

/* An identity: T, a peer or the stranger. */
static const MeshIdentity *
pick_id (MeshFuzzInput *in)
{
  return &fixed.ids[mesh_fuzz_u8 (in) % N_IDS];
}

/* A node ID: an identity's (mostly) or 32 bytes of input. */
static void
pick_node_id (MeshFuzzInput *in, uint8_t out[MESH_NODE_ID_LEN])
{
  uint8_t sel = mesh_fuzz_u8 (in);

  if (sel < 0xf0)
    memcpy (out, fixed.ids[sel % N_IDS].pub.node_id, MESH_NODE_ID_LEN);
  else
    mesh_fuzz_fill (in, out, MESH_NODE_ID_LEN);
}

/* A string of at most max bytes from the input, NUL-terminated, owned by
 * strings. */
static char *
take_string (MeshFuzzInput *in, size_t max, GPtrArray *strings)
{
  const uint8_t *p;
  size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in) % (max + 1), &p);
  char *s = g_strndup ((const char *) p, n);

  g_ptr_array_add (strings, s);
  return s;
}

static void
app_send_private (Harness *h, int from, const MeshIdentity *to, MeshFuzzInput *in)
{
  GError *error = NULL;
  const uint8_t *data;
  size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &data);

  if (!mesh_engine_send_private (h->nodes[from].engine, &to->pub, data, n, h->now,
                                 NULL, &error))
    check_error (error, "send_private");
  settle (h);
}

static void
app_broadcast (Harness *h, int from, const char *type, MeshFuzzInput *in)
{
  GError *error = NULL;
  const uint8_t *data;
  size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &data);

  if (!mesh_engine_broadcast (h->nodes[from].engine, data, n, type, h->now, NULL,
                              &error))
    check_error (error, "broadcast");
  settle (h);
}

static void
app_lookup (Harness *h, int from, const uint8_t *target)
{
  GError *error = NULL;

  if (!mesh_engine_lookup (h->nodes[from].engine, target, h->now, &error))
    check_error (error, "lookup");
  settle (h);
}

/* The payload of a built frame, encoded into h->payload; returns its
 * length and sets *type. */
static size_t
build_payload (Harness *h, uint8_t kind, MeshFuzzInput *in, uint32_t *type,
               GPtrArray *keep)
{
  uint8_t ids[8][MESH_WIRE_ID_LEN];
  ProtobufCBinaryData bins[8];
  size_t n;

  switch (kind % 12)
    {
    case 0:
      {
        MeshWireHello m = MESHARA__V1__HELLO__INIT;
        uint8_t f = mesh_fuzz_u8 (in);
        char *addrs[3];

        *type = MESH_WIRE_TYPE_HELLO;
        m.protocol_version = f & 1 ? mesh_fuzz_u8 (in) : MESH_WIRE_PROTOCOL_VERSION;
        m.bundle.data = fixed.bundles[f & 2 ? (f >> 4) % N_IDS : 1];
        m.bundle.len = f & 4 ? mesh_fuzz_u8 (in) % (MESH_BUNDLE_LEN + 1)
                             : MESH_BUNDLE_LEN;
        m.capabilities = mesh_fuzz_u8 (in);
        m.n_listen_addresses = (f >> 3) % 4;
        for (size_t i = 0; i < m.n_listen_addresses; i++)
          addrs[i] = take_string (in, 40, keep);
        m.listen_addresses = addrs;
        m.agent = take_string (in, 16, keep);
        m.max_frame_size = f & 0x80 ? (uint32_t) mesh_fuzz_u16 (in) << 8 : 0;
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 1:
      {
        MeshWireRouteAdvertisement m = MESHARA__V1__ROUTE_ADVERTISEMENT__INIT;
        MeshWireRouteEntry e[8], *ep[8];
        uint8_t f = mesh_fuzz_u8 (in);

        *type = MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT;
        n = f % 8;
        for (size_t i = 0; i < n; i++)
          {
            meshara__v1__route_entry__init (&e[i]);
            pick_node_id (in, ids[i]);
            e[i].destination.data = ids[i];
            e[i].destination.len = MESH_WIRE_ID_LEN;
            e[i].hop_count = mesh_fuzz_u8 (in) % 40;
            e[i].cost = mesh_fuzz_u16 (in);
            e[i].withdrawn = (e[i].hop_count & 1) && (f & 0x80);
            ep[i] = &e[i];
          }
        m.entries = ep;
        m.n_entries = n;
        m.sequence = mesh_fuzz_u16 (in);
        m.full_table = (f & 8) != 0;
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 2:
      {
        MeshWirePing m = MESHARA__V1__PING__INIT;

        *type = MESH_WIRE_TYPE_PING;
        m.nonce = mesh_fuzz_u64 (in);
        m.timestamp = mesh_fuzz_u64 (in);
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 3:
      {
        MeshWirePong m = MESHARA__V1__PONG__INIT;

        *type = MESH_WIRE_TYPE_PONG;
        if (mesh_fuzz_u8 (in) & 1)
          {
            m.nonce = h->ping_nonce;
            m.timestamp = h->ping_ts;
          }
        else
          {
            m.nonce = mesh_fuzz_u64 (in);
            m.timestamp = mesh_fuzz_u64 (in);
          }
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 4:
    case 5:
      {
        MeshWireFindNode m = MESHARA__V1__FIND_NODE__INIT;

        /* FindValue has the same layout. */
        G_STATIC_ASSERT (sizeof (MeshWireFindNode) == sizeof (MeshWireFindValue));
        *type = kind % 12 == 4 ? MESH_WIRE_TYPE_FIND_NODE : MESH_WIRE_TYPE_FIND_VALUE;
        pick_node_id (in, ids[0]);
        m.target.data = ids[0];
        m.target.len = MESH_WIRE_ID_LEN;
        m.lookup_id = mesh_fuzz_u64 (in);
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 6:
      {
        MeshWireStore m = MESHARA__V1__STORE__INIT;
        MeshWireContactRecord r = MESHARA__V1__CONTACT_RECORD__INIT;
        const MeshIdentity *who = pick_id (in);
        uint8_t f = mesh_fuzz_u8 (in);
        uint8_t digest[MESH_SHA256_LEN], sig[MESH_ED25519_SIG_LEN];
        char *addrs[2];
        uint64_t wall = mesh_msg_wall_ms (EPOCH_MS, h->now);

        *type = MESH_WIRE_TYPE_STORE;
        r.node_id.data = (uint8_t *) who->pub.node_id;
        r.node_id.len = MESH_NODE_ID_LEN;
        r.bundle.data = fixed.bundles[who - fixed.ids];
        r.bundle.len = MESH_BUNDLE_LEN;
        r.n_addresses = f % 3;
        for (size_t i = 0; i < r.n_addresses; i++)
          addrs[i] = take_string (in, 40, keep);
        r.addresses = addrs;
        r.timestamp_ms = wall - mesh_fuzz_u16 (in) * 1000 + mesh_fuzz_u8 (in) * 1000;
        r.expires_ms = r.timestamp_ms + (uint64_t) mesh_fuzz_u16 (in) * 10000;
        mesh_dht_record_digest (&r, digest);
        mesh_identity_sign (f & 4 ? &fixed.ids[0] : who, digest, sizeof digest, sig);
        if (f & 8)
          sig[mesh_fuzz_u8 (in) % sizeof sig] ^= 1;
        r.signature.data = sig;
        r.signature.len = sizeof sig;
        m.record = &r;
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 7:
      {
        MeshWireNodes m = MESHARA__V1__NODES__INIT;
        MeshWireNodeInfo ni[4], *nip[4];
        uint8_t f = mesh_fuzz_u8 (in);
        char *addrs[4];

        *type = MESH_WIRE_TYPE_NODES;
        m.lookup_id = f & 1 ? h->lookup_ids[mesh_fuzz_u8 (in) % N_RECENT]
                            : mesh_fuzz_u64 (in);
        n = (f >> 1) % 5;
        for (size_t i = 0; i < n; i++)
          {
            const MeshIdentity *who = pick_id (in);

            meshara__v1__node_info__init (&ni[i]);
            ni[i].node_id.data = (uint8_t *) who->pub.node_id;
            ni[i].node_id.len = MESH_NODE_ID_LEN;
            ni[i].bundle.data = fixed.bundles[who - fixed.ids];
            ni[i].bundle.len = MESH_BUNDLE_LEN;
            addrs[i] = take_string (in, 40, keep);
            ni[i].addresses = &addrs[i];
            ni[i].n_addresses = addrs[i][0] ? 1 : 0;
            nip[i] = &ni[i];
          }
        m.nodes = nip;
        m.n_nodes = n;
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 8:
    case 9:
      {
        MeshWireGossipAnnounce m = MESHARA__V1__GOSSIP_ANNOUNCE__INIT;
        uint8_t f = mesh_fuzz_u8 (in);

        G_STATIC_ASSERT (sizeof (MeshWireGossipAnnounce) == sizeof (MeshWireGossipPull));
        *type = kind % 12 == 8 ? MESH_WIRE_TYPE_GOSSIP_ANNOUNCE
                               : MESH_WIRE_TYPE_GOSSIP_PULL;
        n = f % 8;
        for (size_t i = 0; i < n; i++)
          {
            uint8_t s = mesh_fuzz_u8 (in);

            if (s & 0x80)
              mesh_fuzz_fill (in, ids[i], MESH_WIRE_ID_LEN);
            else
              memcpy (ids[i], h->msg_ids[s % N_RECENT], MESH_WIRE_ID_LEN);
            bins[i].data = ids[i];
            bins[i].len = MESH_WIRE_ID_LEN;
          }
        m.message_ids = bins;
        m.n_message_ids = n;
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    case 10:
      {
        MeshWireBroadcast m = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
        const uint8_t *data;

        *type = MESH_WIRE_TYPE_BROADCAST;
        m.content.len = mesh_fuzz_bytes (in, mesh_fuzz_u8 (in), &data);
        m.content.data = (uint8_t *) data;
        m.content_type = take_string (in, 24, keep);
        return mesh_msg_buf_encode (&h->payload, &m.base);
      }
    default:
      {
        const uint8_t *data;

        /* Any type, unknown ones too, with a payload of input bytes. */
        *type = mesh_fuzz_u8 (in) % (MESH_WIRE_TYPE_COUNT + 2);
        n = mesh_fuzz_bytes (in, mesh_fuzz_u16 (in) % 2048, &data);
        memcpy (mesh_msg_buf_reserve (&h->payload, n), data, n);
        return n;
      }
    }
}

/* A frame from peer p built from the input with a correct envelope
 * (message ID, signature when asked) around a payload of the schema. */
static void
build_frame (Harness *h, int p, MeshFuzzInput *in)
{
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  uint8_t kind = mesh_fuzz_u8 (in);
  uint8_t env = mesh_fuzz_u8 (in);
  uint8_t dest[MESH_NODE_ID_LEN];
  const MeshIdentity *signer = NULL;
  uint32_t type;
  size_t plen, len;
  int64_t skew;
  MeshMsg m;

  plen = build_payload (h, kind, in, &type, keep);
  /* Timestamps around now: mostly close, sometimes far out. */
  skew = (int8_t) mesh_fuzz_u8 (in);
  skew *= env & 0x40 ? 3600 * 1000 : 1000;
  mesh_msg_init (&m, type, (uint64_t) ((int64_t) mesh_msg_wall_ms (EPOCH_MS, h->now)
                                       + skew),
                 h->payload.data, plen);
  switch (env & 3)
    {
    case 0:
      break;
    case 1:
      mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_DIRECT, NULL, 16);
      break;
    case 2:
      pick_node_id (in, dest);
      mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_ROUTED, dest, 16);
      break;
    default:
      mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_FLOOD, NULL, 16);
      break;
    }
  if (env & 3)
    {
      m.routing.hop_count = mesh_fuzz_u8 (in) % 40;
      m.routing.max_hops = mesh_fuzz_u8 (in) % 40;
    }
  if (env & 4)
    signer = env & 8 ? pick_id (in) : &fixed.ids[p];
  mesh_msg_finish (&m, signer);
  if (env & 0x10)
    m.id[mesh_fuzz_u8 (in) % MESH_WIRE_ID_LEN] ^= 0x80;
  if (env & 0x20)
    m.base.version = mesh_fuzz_u8 (in);

  if (mesh_msg_encode_frame (&m.base, MAX_FRAME * 2, &h->buf, &len, NULL))
    {
      to_t (h, p, h->buf.data + MESH_FRAME_HEADER_LEN, len - MESH_FRAME_HEADER_LEN);
      settle (h);
    }
  g_ptr_array_unref (keep);
}

static const char *const content_types[] = {
  "text/plain", "", "application/octet-stream", "bad\ttype"
};

static void
check_stats (Harness *h)
{
  MeshEngineStats s;
  uint32_t up = 0;

  mesh_engine_get_stats (h->nodes[0].engine, &s);
  for (int p = 1; p <= h->n_peers; p++)
    {
      MeshLinkInfo info;
      gboolean has = mesh_engine_get_link_info (h->nodes[0].engine, (MeshLinkId) p,
                                                &info);

      if (has != h->up[p])
        fail ("T's links differ from the ones up");
      if (has && (info.link != (MeshLinkId) p
                  || memcmp (info.peer.node_id, fixed.ids[p].pub.node_id,
                             MESH_NODE_ID_LEN) != 0))
        fail ("link info names another link or peer");
      up += has;
    }
  if (s.links != up)
    fail ("links statistic differs from the links up");
  if (s.invalid_frames > s.frames_in)
    fail ("more invalid frames than frames");
}

static void
run (Harness *h, MeshFuzzInput *in)
{
  unsigned steps = 0;

  while (in->n > 0 && steps++ < 512)
    {
      uint8_t op = mesh_fuzz_u8 (in);
      int p = 1 + (op >> 4) % h->n_peers;

      switch (op & 15)
        {
        case 0:
          link_up (h, p);
          break;
        case 1:
          link_down (h, p);
          break;
        case 2:
          deliver_to_t (h, p, 1 + mesh_fuzz_u8 (in) % 8);
          break;
        case 3:
          deliver_changed (h, p, in);
          break;
        case 4:
          deliver_to_peers (h);
          break;
        case 5:
          {
            const uint8_t *d;
            size_t n = mesh_fuzz_bytes (in, mesh_fuzz_u16 (in) % 4096, &d);
            uint8_t *copy = g_memdup2 (d, n);

            /* A copy of exactly n bytes, so that a read past them shows. */
            to_t (h, p, copy, n);
            g_free (copy);
            settle (h);
          }
          break;
        case 6:
          build_frame (h, p, in);
          break;
        case 7:
          {
            static const uint64_t units[] = { MS, 100 * MS, SEC, 60 * SEC };
            uint64_t d = mesh_fuzz_u16 (in);

            h->now += d * units[mesh_fuzz_u8 (in) % 4];
            run_timers (h);
          }
          break;
        case 8:
          {
            uint64_t next = mesh_engine_next_timeout (h->nodes[0].engine);

            if (next != G_MAXUINT64 && next > h->now && next - h->now <= 3600 * SEC)
              h->now = next;
            run_timers (h);
          }
          break;
        case 9:
          app_send_private (h, 0, pick_id (in), in);
          break;
        case 10:
          app_broadcast (h, 0, content_types[mesh_fuzz_u8 (in) % 4], in);
          break;
        case 11:
          {
            uint8_t target[MESH_NODE_ID_LEN];

            pick_node_id (in, target);
            app_lookup (h, 0, target);
          }
          break;
        case 12:
          app_send_private (h, p, pick_id (in), in);
          break;
        case 13:
          app_broadcast (h, p, "text/plain", in);
          break;
        case 14:
          app_lookup (h, p, pick_id (in)->pub.node_id);
          break;
        default:
          pump (h);
          break;
        }
      check_stats (h);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Harness h;
  MeshFuzzInput in;
  uint8_t head;

  setup ();
  memset (&h, 0, sizeof h);
  mesh_fuzz_input_init (&in, data, size);
  head = mesh_fuzz_u8 (&in);
  h.n_peers = 1 + (head & 3);
  h.now = START_NS;
  h.closes = g_array_new (FALSE, FALSE, sizeof (int));
  h.connects = g_array_new (FALSE, FALSE, sizeof (int));
  for (int i = 0; i <= h.n_peers; i++)
    {
      g_queue_init (&h.to_t[i]);
      g_queue_init (&h.to_peer[i]);
      node_start (&h, i);
    }
  if (head & 4)
    {
      for (int p = 1; p <= h.n_peers; p++)
        link_up (&h, p);
      pump (&h);
    }

  run (&h, &in);

  for (int i = 0; i <= h.n_peers; i++)
    {
      queue_clear (&h.to_t[i]);
      queue_clear (&h.to_peer[i]);
      mesh_engine_free (h.nodes[i].engine);
    }
  g_array_unref (h.closes);
  g_array_unref (h.connects);
  mesh_msg_buf_clear (&h.buf);
  mesh_msg_buf_clear (&h.payload);
  return 0;
}
