#include "config.h"

#include "engine/engine.h"

#include <string.h>
#include <meshara/meshara.h>

#include "engine/dht.h"
#include "engine/gossip.h"
#include "engine/link.h"
#include "engine/msg.h"
#include "engine/routes.h"
#include "engine/routing.h"
#include "engine/seen.h"
#include "engine/session.h"
#include "engine/updist.h"
#include "wire/codec.h"

#define MS G_GUINT64_CONSTANT (1000000)
#define S G_GUINT64_CONSTANT (1000000000)

/* A link silent for this many ping intervals is closed. */
#define IDLE_PINGS 4
/* A ping is tried PING_TRIES times, each waiting pong_timeout(), before
 * the link counts as broken: a lost frame (the simulator drops some) is
 * not a dead link. */
#define PONG_TIMEOUT_MIN_NS (1 * S)
#define PING_TRIES 5
/* A link that carries routed traffic is probed this often, so that one
 * whose way back broke is found by its pong timeout within seconds,
 * not at the next keepalive. */
#define PROBE_INTERVAL_NS (1 * S)
#define AGENT "libmeshara/" PACKAGE_VERSION

/* ---------------------------------------------------------------------- */
/* Queued events.  Whatever an event points to is copied into an arena
 * when it is queued and the pointers are made when it is delivered, so
 * queueing allocates nothing once the arrays have grown. */

typedef struct {
  MeshEvent ev;                 /* pointer fields unused */
  gssize node_id, bundle, message_id, data, content_type, reason, addresses;
  size_t n_addresses;
} QueuedEvent;

typedef struct {
  GArray *events;               /* QueuedEvent */
  GByteArray *arena;
} EventQueue;

struct MeshEngine {
  MeshIdentity self;
  MeshEngineConfig config;
  char **addresses;             /* our copy of config.addresses */
  MeshEngineCallbacks cb;
  void *user_data;
  uint8_t hash_key[MESH_ROUTES_KEY_LEN];

  GHashTable *links;            /* MeshLinkId -> MeshLink (caller's ids) */
  MeshRouting *routing;
  MeshPrivate *priv;
  MeshSeen *seen;               /* routed messages already handled */
  MeshGossip *gossip;
  MeshDht *dht;
  MeshUpdist *updist;           /* update chunks */
  /* DHT lookups in progress that someone waits for: GBytes target ->
   * LOOKUP_FOR_* flags.  At most the DHT's concurrent lookups. */
  GHashTable *lookups;
  gboolean dht_joined;          /* our record was published once */

  MeshMsgBuf frame_buf;
  MeshMsgBuf payload_buf;

  EventQueue queue, spare;
  unsigned depth;               /* public calls in progress */
  gboolean flushing;

  uint64_t next_link_check_ns;
  MeshEngineStats stats;
};

static void handle_broadcast (MeshEngine *e, MeshLink *link,
                              const MeshWireBaseMessage *msg, uint64_t now_ns);
static void handle_gossip_link_msg (MeshEngine *e, MeshLink *link,
                                    const MeshWireBaseMessage *msg, uint64_t now_ns);
static void handle_dht (MeshEngine *e, MeshLink *link,
                        const MeshWireBaseMessage *msg, uint64_t now_ns);
static void dht_peer (MeshEngine *e, MeshLink *link, uint64_t now_ns);

static gssize
arena_put (GByteArray *arena, const void *p, size_t n)
{
  gssize off = arena->len;

  g_byte_array_append (arena, p, (guint) n);
  return off;
}

static void
queue_event (MeshEngine *e, const MeshEvent *ev)
{
  QueuedEvent q;
  GByteArray *a = e->queue.arena;

  memset (&q, 0, sizeof q);
  q.ev = *ev;
  q.node_id = ev->node_id ? arena_put (a, ev->node_id, MESH_NODE_ID_LEN) : -1;
  q.bundle = ev->bundle ? arena_put (a, ev->bundle, sizeof *ev->bundle) : -1;
  q.message_id = ev->message_id ? arena_put (a, ev->message_id, MESH_WIRE_ID_LEN) : -1;
  q.data = ev->data ? arena_put (a, ev->data, ev->len) : -1;
  q.content_type = ev->content_type
                   ? arena_put (a, ev->content_type, strlen (ev->content_type) + 1) : -1;
  q.reason = ev->reason ? arena_put (a, ev->reason, strlen (ev->reason) + 1) : -1;
  q.addresses = -1;
  q.n_addresses = MIN (ev->n_addresses, (size_t) MESH_WIRE_MAX_ADDRESSES);
  if (ev->addresses != NULL && q.n_addresses > 0)
    {
      q.addresses = a->len;
      for (size_t i = 0; i < q.n_addresses; i++)
        arena_put (a, ev->addresses[i], strlen (ev->addresses[i]) + 1);
    }
  g_array_append_val (e->queue.events, q);
}

static void
deliver_event (MeshEngine *e, const QueuedEvent *q, const uint8_t *base)
{
  const char *addrs[MESH_WIRE_MAX_ADDRESSES];
  MeshEvent ev = q->ev;

#define AT(field) (q->field >= 0 ? (const void *) (base + q->field) : NULL)
  ev.node_id = AT (node_id);
  ev.bundle = AT (bundle);
  ev.message_id = AT (message_id);
  ev.data = AT (data);
  ev.content_type = AT (content_type);
  ev.reason = AT (reason);
#undef AT
  ev.addresses = NULL;
  ev.n_addresses = 0;
  if (q->addresses >= 0)
    {
      const char *p = (const char *) base + q->addresses;

      for (size_t i = 0; i < q->n_addresses; i++)
        {
          addrs[i] = p;
          p += strlen (p) + 1;
        }
      ev.addresses = addrs;
      ev.n_addresses = q->n_addresses;
    }
  e->cb.event (e->user_data, &ev);
}

/* Deliver the queued events.  The event callback may call into the
 * engine: what that queues lands in the other queue and is delivered by
 * this loop's next round, so no event is delivered from inside another
 * call's half-done work. */
static void
flush_events (MeshEngine *e)
{
  e->flushing = TRUE;
  while (e->queue.events->len > 0)
    {
      EventQueue batch = e->queue;

      e->queue = e->spare;
      for (guint i = 0; i < batch.events->len; i++)
        {
          if (e->cb.event != NULL)
            deliver_event (e, &g_array_index (batch.events, QueuedEvent, i),
                           batch.arena->data);
        }
      g_array_set_size (batch.events, 0);
      g_byte_array_set_size (batch.arena, 0);
      e->spare = batch;
    }
  e->flushing = FALSE;
}

static void
enter (MeshEngine *e)
{
  e->depth++;
}

static void
leave (MeshEngine *e)
{
  if (--e->depth == 0 && !e->flushing)
    flush_events (e);
}

/* ---------------------------------------------------------------------- */
/* Sending */

static uint64_t
wall_ms (const MeshEngine *e, uint64_t now_ns)
{
  /* A timestamp of 0 is invalid on the wire. */
  return MAX (mesh_msg_wall_ms (e->config.wall_epoch_ms, now_ns), (uint64_t) 1);
}

static MeshLink *
link_get (const MeshEngine *e, MeshLinkId id)
{
  return g_hash_table_lookup (e->links, GUINT_TO_POINTER (id));
}

static void
send_frame (MeshEngine *e, MeshLink *link, const uint8_t *frame, size_t len)
{
  link->frames_out++;
  link->bytes_out += len;
  e->stats.frames_out++;
  e->stats.bytes_out += len;
  e->cb.send_frame (e->user_data, link->id, frame, len);
}

/* Encode and send m on link, within the peer's frame limit. */
static gboolean
send_msg (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *m)
{
  size_t len;

  if (!mesh_msg_encode_frame (m, mesh_link_max_frame (link, e->config.max_frame_size),
                              &e->frame_buf, &len, NULL))
    return FALSE;
  send_frame (e, link, e->frame_buf.data, len);
  return TRUE;
}

/* A message for this link only: payload is a message of the schema. */
static void
send_link_msg (MeshEngine *e, MeshLink *link, uint32_t type,
               const ProtobufCMessage *payload, uint64_t now_ns)
{
  MeshMsg m;
  size_t len = mesh_msg_buf_encode (&e->payload_buf, payload);

  mesh_msg_init (&m, type, wall_ms (e, now_ns), e->payload_buf.data, len);
  mesh_msg_finish (&m, NULL);
  send_msg (e, link, &m.base);
}

static void
send_hello (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  MeshWireHello hello = MESHARA__V1__HELLO__INIT;
  uint8_t bundle[MESH_BUNDLE_LEN];
  size_t n = 0;

  mesh_bundle_serialize (&e->self.pub, bundle);
  hello.protocol_version = MESH_WIRE_PROTOCOL_VERSION;
  hello.bundle.data = bundle;
  hello.bundle.len = sizeof bundle;
  hello.capabilities = MESH_WIRE_CAP_RELAY | MESH_WIRE_CAP_DHT;
  while (e->addresses && e->addresses[n] && n < MESH_WIRE_MAX_ADDRESSES)
    n++;
  hello.listen_addresses = e->addresses;
  hello.n_listen_addresses = n;
  hello.agent = (char *) AGENT;
  if (e->config.max_frame_size < MESH_FRAME_MAX_DEFAULT)
    hello.max_frame_size = (uint32_t) e->config.max_frame_size;
  send_link_msg (e, link, MESH_WIRE_TYPE_HELLO, &hello.base, now_ns);
}

static uint64_t pong_timeout (const MeshEngine *e, const MeshLink *link);

/* Send the outstanding ping (again, same nonce: a late pong to an
 * earlier try still counts). */
static void
send_ping_try (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  MeshWirePing ping = MESHARA__V1__PING__INIT;

  ping.nonce = link->ping_nonce;
  ping.timestamp = link->ping_sent_ns;
  link->ping_deadline_ns = now_ns + pong_timeout (e, link);
  e->next_link_check_ns = MIN (e->next_link_check_ns, link->ping_deadline_ns);
  send_link_msg (e, link, MESH_WIRE_TYPE_PING, &ping.base, now_ns);
}

static void
send_ping (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  uint8_t nonce[8];

  e->cb.random (e->user_data, nonce, sizeof nonce);
  memcpy (&link->ping_nonce, nonce, sizeof nonce);
  link->ping_sent_ns = now_ns;
  link->ping_misses = 0;
  send_ping_try (e, link, now_ns);
}

/* How long one try of a ping waits for its pong: a few round trips, at
 * least PONG_TIMEOUT_MIN_NS (or the ping interval when that is shorter),
 * so that a busy but working link is not cut. */
static uint64_t
pong_timeout (const MeshEngine *e, const MeshLink *link)
{
  uint64_t t = MIN (PONG_TIMEOUT_MIN_NS, e->config.ping_interval_ns);

  return MAX (t, 8 * link->rtt_ns);
}

static void
probe (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  send_ping (e, link, now_ns);
}

/* Routed traffic goes out on link: probe it if it has not answered a
 * ping for PROBE_INTERVAL_NS. */
static void
probe_if_stale (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  if (link->ping_sent_ns == 0 && now_ns - link->pong_ns >= PROBE_INTERVAL_NS)
    probe (e, link, now_ns);
}

/* ---------------------------------------------------------------------- */
/* Closing and misbehaviour */

static void
request_close (MeshEngine *e, MeshLink *link, const char *reason,
               gboolean misbehaved, uint64_t now_ns)
{
  if (link->closing)
    return;
  link->closing = TRUE;
  /* Stop routing through it now rather than when the caller reports it
   * down. */
  mesh_routing_link_down (e->routing, link->id, now_ns);
  if (misbehaved)
    {
      MeshEvent ev = { 0 };

      e->stats.misbehaved++;
      ev.type = MESH_EVENT_PEER_MISBEHAVED;
      ev.link = link->id;
      ev.node_id = link->peer.node_id;
      ev.bundle = &link->peer;
      ev.reason = reason;
      queue_event (e, &ev);
    }
  g_debug ("asking to close link %" G_GUINT32_FORMAT ": %s", link->id, reason);
  e->cb.close_link (e->user_data, link->id, reason);
}

/* An invalid frame from link: count it, lower the reputation, and close. */
static void
invalid_frame (MeshEngine *e, MeshLink *link, const char *what, uint64_t now_ns)
{
  char *reason = g_strdup_printf ("invalid frame: %s", what);

  link->invalid_frames++;
  e->stats.invalid_frames++;
  mesh_link_reputation_add (link, MESH_LINK_REPUTATION_INVALID);
  request_close (e, link, reason, TRUE, now_ns);
  g_free (reason);
}

/* ---------------------------------------------------------------------- */
/* Link messages */

static uint16_t
link_cost (const MeshLink *link)
{
  uint64_t one_way_us = link->rtt_ns / 2 / 1000;

  return mesh_route_cost (1, (uint32_t) MIN (one_way_us, (uint64_t) UINT32_MAX), 1.0);
}

static void
handle_hello (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
              uint64_t now_ns)
{
  g_autoptr (MeshWireHello) hello = NULL;
  g_autoptr (GError) error = NULL;
  uint8_t expect[MESH_BUNDLE_LEN];

  if (link->hello_received)
    {
      invalid_frame (e, link, "a second HELLO", now_ns);
      return;
    }
  hello = mesh_wire_decode_hello (msg->payload.data, msg->payload.len, &error);
  if (hello == NULL)
    {
      invalid_frame (e, link, error->message, now_ns);
      return;
    }
  mesh_bundle_serialize (&link->peer, expect);
  if (memcmp (expect, hello->bundle.data, MESH_BUNDLE_LEN) != 0)
    {
      invalid_frame (e, link, "HELLO bundle differs from the identity the link "
                     "authenticated", now_ns);
      return;
    }
  link->hello_received = TRUE;
  link->peer_capabilities = hello->capabilities;
  link->peer_max_frame = hello->max_frame_size ? hello->max_frame_size
                                               : MESH_FRAME_MAX_DEFAULT;
  mesh_link_set_peer_info (link, hello->listen_addresses,
                           hello->n_listen_addresses, hello->agent);
  dht_peer (e, link, now_ns);
}

static gboolean
decode_or_close (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
                 ProtobufCMessage **out, uint64_t now_ns)
{
  g_autoptr (GError) error = NULL;

  *out = mesh_wire_decode_payload (msg, &error);
  if (*out == NULL)
    {
      invalid_frame (e, link, error->message, now_ns);
      return FALSE;
    }
  return TRUE;
}

static void
handle_ping (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
             uint64_t now_ns)
{
  MeshWirePong pong = MESHARA__V1__PONG__INIT;
  ProtobufCMessage *m;
  MeshWirePing *ping;

  if (!decode_or_close (e, link, msg, &m, now_ns))
    return;
  ping = (MeshWirePing *) m;
  pong.nonce = ping->nonce;
  pong.timestamp = ping->timestamp;
  mesh_wire_free (m);
  send_link_msg (e, link, MESH_WIRE_TYPE_PONG, &pong.base, now_ns);
}

static void
handle_pong (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
             uint64_t now_ns)
{
  ProtobufCMessage *m;
  MeshWirePong *pong;

  if (!decode_or_close (e, link, msg, &m, now_ns))
    return;
  pong = (MeshWirePong *) m;
  /* Only the answer to our outstanding ping counts: an unsolicited pong
   * must not set our idea of the link's latency. */
  if (link->ping_sent_ns != 0 && pong->nonce == link->ping_nonce
      && now_ns >= link->ping_sent_ns)
    {
      /* A retried ping's time mixes in the wait for the lost try. */
      if (link->ping_misses == 0)
        mesh_link_rtt_sample (link, now_ns - link->ping_sent_ns);
      link->ping_sent_ns = 0;
      link->ping_misses = 0;
      link->pong_ns = now_ns;
    }
  mesh_wire_free (m);
}

/* Give routing the link's cost from its smoothed round-trip time, at the
 * keepalive pace and only on a clear change: every change is advertised
 * through the mesh, and a distance-vector protocol loops for a while
 * whenever costs move, so jitter must not make routes flap. */
static void
update_link_cost (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  uint16_t cost = link_cost (link);
  uint16_t old = link->route_cost;

  if (cost > old + MAX (old / 2, 2) || cost + MAX (old / 3, 2) < old)
    {
      link->route_cost = cost;
      mesh_routing_link_cost (e->routing, link->id, cost, now_ns);
    }
}

static void
handle_advert (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
               uint64_t now_ns)
{
  ProtobufCMessage *m;

  if (!decode_or_close (e, link, msg, &m, now_ns))
    return;
  mesh_routing_receive (e->routing, link->id, (MeshWireRouteAdvertisement *) m,
                        now_ns);
  mesh_wire_free (m);
}

/* ---------------------------------------------------------------------- */
/* Routed messages */


/* Deduplication remembers message IDs for seen_max_age_ns only, while the
 * timestamp window reaches back 24 h: a message older than the seen-cache
 * could be replayed after its ID was forgotten and pass as new.  Such
 * messages are dropped instead. */
static gboolean
older_than_seen (MeshEngine *e, const MeshWireBaseMessage *msg, uint64_t now_ns)
{
  uint64_t now_ms = wall_ms (e, now_ns);
  uint64_t age_ms = e->config.seen_max_age_ns / 1000000u;

  if (msg->timestamp_ms + age_ms >= now_ms)
    return FALSE;
  e->stats.dropped_timestamp++;
  return TRUE;
}

static void
handle_routed (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
               gboolean known, uint64_t now_ns)
{
  const MeshWireRoutingInfo *r = msg->routing;
  MeshLinkId next;
  MeshLink *out;
  size_t len;

  if (older_than_seen (e, msg, now_ns))
    return;
  if (!mesh_seen_add (e->seen, msg->message_id.data, now_ns))
    {
      e->stats.duplicates++;
      return;
    }
  if (memcmp (r->destination.data, e->self.pub.node_id, MESH_NODE_ID_LEN) == 0)
    {
      if (msg->type == MESH_WIRE_TYPE_PRIVATE || msg->type == MESH_WIRE_TYPE_ACK)
        mesh_private_receive (e->priv, link->id, msg, now_ns);
      else if (known && mesh_dht_handles_type (msg->type))
        handle_dht (e, link, msg, now_ns);
      else
        e->stats.dropped_unknown++;
      return;
    }
  /* DIRECT names a neighbour of the sender: that is not us. */
  if (r->route_type != MESH_WIRE_ROUTE_ROUTED)
    {
      e->stats.dropped_no_route++;
      return;
    }
  if (MAX (r->hop_count, 1u) + 1 > r->max_hops)
    {
      e->stats.dropped_ttl++;
      return;
    }
  next = mesh_routing_next_hop (e->routing, r->destination.data, link->id);
  out = next != MESH_LINK_NONE ? link_get (e, next) : NULL;
  if (out == NULL || out->closing)
    {
      e->stats.dropped_no_route++;
      return;
    }
  if (!mesh_msg_encode_forward (msg, mesh_link_max_frame (out, e->config.max_frame_size),
                                &e->frame_buf, &len, NULL))
    {
      /* Larger than the next link takes. */
      e->stats.dropped_no_route++;
      return;
    }
  send_frame (e, out, e->frame_buf.data, len);
  e->stats.forwarded++;
  probe_if_stale (e, out, now_ns);
}

/* ---------------------------------------------------------------------- */
/* Update chunks (updist.c) */

static void
handle_update_msg (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
                   uint64_t now_ns)
{
  gboolean ok;

  if (msg->routing != NULL)
    {
      invalid_frame (e, link, "update chunk message with routing", now_ns);
      return;
    }
  if (msg->type == MESH_WIRE_TYPE_UPDATE_REQUEST)
    ok = mesh_updist_handle_request (e->updist, link->id, msg->payload.data,
                                     msg->payload.len, now_ns);
  else
    ok = mesh_updist_handle_chunk (e->updist, link->id, msg->payload.data,
                                   msg->payload.len, now_ns);
  if (!ok)
    invalid_frame (e, link, msg->type == MESH_WIRE_TYPE_UPDATE_REQUEST
                   ? "malformed update request" : "malformed update chunk",
                   now_ns);
}

static void
updist_send_cb (void *ctx, MeshLinkId id, uint32_t type,
                const ProtobufCMessage *payload, uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshLink *link = link_get (e, id);

  if (link != NULL && !link->closing)
    send_link_msg (e, link, type, payload, now_ns);
}

static void
updist_penalize_cb (void *ctx, MeshLinkId id, const char *reason, uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshLink *link = link_get (e, id);

  if (link == NULL || link->closing)
    return;
  if (mesh_link_reputation_add (link, MESH_LINK_REPUTATION_BAD_CHUNK))
    request_close (e, link, reason, TRUE, now_ns);
}

static void
updist_event_cb (void *ctx, const MeshEvent *ev)
{
  queue_event (ctx, ev);
}

static size_t
private_max_data (const MeshEngine *e)
{
  return e->config.max_frame_size - MESH_WIRE_MAX_ENVELOPE - MESH_PRIVATE_OVERHEAD;
}

/* Answer an "update-manifest" query for an update we track; FALSE when
 * it is not one (the application gets it). */
static gboolean
answer_manifest_query (MeshEngine *e, const MeshPublicBundle *sender,
                       const MeshWireQuery *q, uint64_t now_ns)
{
  MeshWireResponse r = MESHARA__V1__RESPONSE_MESSAGE__INIT;
  g_autoptr (GError) error = NULL;
  GBytes *manifest;
  size_t len;

  if (g_strcmp0 (q->query_type, MESH_WIRE_QUERY_UPDATE_MANIFEST) != 0
      || q->body.len != MESH_WIRE_ID_LEN
      || (manifest = mesh_updist_manifest (e->updist, q->body.data)) == NULL)
    return FALSE;
  r.query_id = q->query_id;
  r.code = MESH_WIRE_RESPONSE_OK;
  r.body.data = (uint8_t *) g_bytes_get_data (manifest, &len);
  r.body.len = len;
  len = mesh_msg_buf_encode (&e->payload_buf, &r.base);
  if (!mesh_private_send_type (e->priv, MESH_WIRE_TYPE_RESPONSE, sender,
                               e->payload_buf.data, len, private_max_data (e),
                               now_ns, NULL, &error))
    g_debug ("cannot answer a manifest query: %s", error->message);
  return TRUE;
}

static void
private_content_cb (void *ctx, uint32_t type, const MeshPublicBundle *sender,
                    const uint8_t *body, size_t len, uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshEvent ev = { 0 };

  if (type == MESH_WIRE_TYPE_QUERY)
    {
      g_autoptr (MeshWireQuery) q = mesh_wire_decode_query (body, len, NULL);

      if (q == NULL || answer_manifest_query (e, sender, q, now_ns))
        return;
      ev.type = MESH_EVENT_QUERY_RECEIVED;
    }
  else
    {
      g_autoptr (MeshWireResponse) r = mesh_wire_decode_response (body, len, NULL);

      if (r == NULL || mesh_updist_query_response (e->updist, sender->node_id,
                                                   r, now_ns))
        return;
      ev.type = MESH_EVENT_RESPONSE_RECEIVED;
    }
  ev.bundle = sender;
  ev.node_id = sender->node_id;
  ev.data = body;
  ev.len = len;
  queue_event (e, &ev);
}

gboolean
mesh_engine_update_query_manifest (MeshEngine *e, const MeshPublicBundle *from,
                                   const uint8_t *manifest_id, uint64_t now_ns,
                                   GError **error)
{
  MeshWireQuery q = MESHARA__V1__QUERY_MESSAGE__INIT;
  uint8_t qid[MESH_WIRE_QUERY_ID_LEN];
  MeshPublicBundle peer;
  gboolean ok;
  size_t len;

  g_return_val_if_fail (e != NULL, FALSE);
  g_return_val_if_fail (from != NULL, FALSE);
  g_return_val_if_fail (manifest_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  peer = *from;
  mesh_node_id (peer.ed_pub, peer.node_id);
  e->cb.random (e->user_data, qid, sizeof qid);
  q.query_id.data = qid;
  q.query_id.len = sizeof qid;
  q.query_type = (char *) MESH_WIRE_QUERY_UPDATE_MANIFEST;
  q.body.data = (uint8_t *) manifest_id;
  q.body.len = MESH_WIRE_ID_LEN;
  enter (e);
  /* Room first, then send, then wait: a query that could not be sent
   * waits for nothing. */
  ok = mesh_updist_query_room (e->updist, error);
  if (ok)
    {
      len = mesh_msg_buf_encode (&e->payload_buf, &q.base);
      ok = mesh_private_send_type (e->priv, MESH_WIRE_TYPE_QUERY, &peer,
                                   e->payload_buf.data, len,
                                   private_max_data (e), now_ns, NULL, error);
    }
  if (ok)
    ok = mesh_updist_query_start (e->updist, manifest_id, peer.node_id, qid,
                                  now_ns, error);
  leave (e);
  return ok;
}

gboolean
mesh_engine_send_content (MeshEngine *e, const MeshPublicBundle *to,
                          uint32_t type, const uint8_t *data, size_t len,
                          uint64_t now_ns, uint8_t *id_out, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (e != NULL && to != NULL && (data != NULL || len == 0), FALSE);
  if (type != MESH_WIRE_TYPE_QUERY && type != MESH_WIRE_TYPE_RESPONSE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "content of type %" G_GUINT32_FORMAT " is neither a query "
                   "nor a response", type);
      return FALSE;
    }
  enter (e);
  ok = mesh_private_send_type (e->priv, type, to, data, len,
                               private_max_data (e), now_ns, id_out, error);
  leave (e);
  return ok;
}

void
mesh_engine_set_chunk_store (MeshEngine *e, const MeshChunkStoreFuncs *funcs,
                             void *store)
{
  g_return_if_fail (e != NULL);
  g_return_if_fail (funcs == NULL
                    || (funcs->has != NULL && funcs->get != NULL
                        && funcs->put != NULL));
  mesh_updist_set_store (e->updist, funcs, store);
}

gboolean
mesh_engine_update_add (MeshEngine *e, const uint8_t *update_id,
                        const uint8_t *manifest, size_t len, gboolean fetch,
                        uint64_t now_ns, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (e != NULL, FALSE);
  g_return_val_if_fail (update_id != NULL, FALSE);
  g_return_val_if_fail (manifest != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  enter (e);
  ok = mesh_updist_add (e->updist, update_id, manifest, len, fetch, now_ns,
                        error);
  leave (e);
  return ok;
}

void
mesh_engine_update_remove (MeshEngine *e, const uint8_t *update_id)
{
  g_return_if_fail (e != NULL);
  g_return_if_fail (update_id != NULL);
  mesh_updist_remove (e->updist, update_id);
}

gboolean
mesh_engine_update_progress (const MeshEngine *e, const uint8_t *update_id,
                             uint32_t *chunks_done, uint32_t *chunks_total)
{
  g_return_val_if_fail (e != NULL, FALSE);
  g_return_val_if_fail (update_id != NULL, FALSE);
  return mesh_updist_progress (e->updist, update_id, chunks_done, chunks_total);
}

/* ---------------------------------------------------------------------- */
/* Receiving */

static void
dispatch (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
          uint64_t now_ns)
{
  switch (msg->type)
    {
    case MESH_WIRE_TYPE_HELLO:
      handle_hello (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_PING:
      handle_ping (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_PONG:
      handle_pong (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT:
      handle_advert (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_PRIVATE:
    case MESH_WIRE_TYPE_ACK:
      handle_routed (e, link, msg, TRUE, now_ns);
      break;

    case MESH_WIRE_TYPE_BROADCAST:
      handle_broadcast (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_GOSSIP_ANNOUNCE:
    case MESH_WIRE_TYPE_GOSSIP_PULL:
      handle_gossip_link_msg (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_FIND_NODE:
    case MESH_WIRE_TYPE_FIND_VALUE:
    case MESH_WIRE_TYPE_STORE:
    case MESH_WIRE_TYPE_NODES:
      /* One link, or routed to a node that has no link to the sender. */
      if (msg->routing != NULL)
        handle_routed (e, link, msg, TRUE, now_ns);
      else
        handle_dht (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_UPDATE_REQUEST:
    case MESH_WIRE_TYPE_UPDATE_CHUNK:
      handle_update_msg (e, link, msg, now_ns);
      break;
    case MESH_WIRE_TYPE_UPDATE_PACKAGE:
    case MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT:
      /* Superseded by manifests and notices: ignored. */
      e->stats.dropped_unknown++;
      break;

    default:
      /* A type of a later version: relayed when routed, else ignored. */
      if (mesh_wire_type_info (msg->type) == NULL && msg->routing != NULL
          && msg->routing->route_type != MESH_WIRE_ROUTE_FLOOD)
        handle_routed (e, link, msg, FALSE, now_ns);
      else
        e->stats.dropped_unknown++;
      break;
    }
}

void
mesh_engine_receive (MeshEngine *e, MeshLinkId id, const uint8_t *data,
                     size_t len, uint64_t now_ns)
{
  g_autoptr (GError) error = NULL;
  MeshWireBaseMessage *msg;
  MeshLink *link;

  g_return_if_fail (e != NULL);
  enter (e);
  link = link_get (e, id);
  if (link == NULL || link->closing)
    goto out;
  link->last_seen_ns = now_ns;
  link->frames_in++;
  link->bytes_in += len + MESH_FRAME_HEADER_LEN;
  e->stats.frames_in++;
  e->stats.bytes_in += len + MESH_FRAME_HEADER_LEN;

  if (!mesh_link_admit (link, len, now_ns))
    {
      e->stats.dropped_rate++;
      if (link->reputation <= MESH_LINK_REPUTATION_MIN)
        request_close (e, link, "kept sending above the rate limit", TRUE, now_ns);
      goto out;
    }

  msg = mesh_wire_decode_base_full (data, len, e->config.max_frame_size,
                                    MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, &error);
  if (msg == NULL)
    {
      invalid_frame (e, link, error->message, now_ns);
      goto out;
    }
  if (!mesh_wire_check_message_id (msg, &error))
    {
      /* A relay checks this too, so a wrong ID is the neighbour's fault. */
      invalid_frame (e, link, error->message, now_ns);
      goto free;
    }
  if (!mesh_wire_check_timestamp ("BaseMessage.timestamp_ms", msg->timestamp_ms,
                                  wall_ms (e, now_ns), e->config.max_future_ms,
                                  e->config.max_past_ms, &error))
    {
      /* Clocks drift: not an attack by itself, but a peer whose own
       * HELLO is out of the window cannot talk to us. */
      e->stats.dropped_timestamp++;
      if (msg->type == MESH_WIRE_TYPE_HELLO && !link->hello_received)
        request_close (e, link, error->message, FALSE, now_ns);
      else if (mesh_link_reputation_add (link, MESH_LINK_REPUTATION_TIMESTAMP))
        request_close (e, link, "too many timestamps outside the window",
                       TRUE, now_ns);
      goto free;
    }
  if (!link->hello_received && msg->type != MESH_WIRE_TYPE_HELLO)
    {
      char *what = g_strdup_printf ("%s before HELLO",
                                    mesh_wire_type_name (msg->type));

      invalid_frame (e, link, what, now_ns);
      g_free (what);
      goto free;
    }
  mesh_link_reputation_add (link, MESH_LINK_REPUTATION_GOOD);
  dispatch (e, link, msg, now_ns);

free:
  mesh_wire_free (msg);
out:
  leave (e);
}

/* ---------------------------------------------------------------------- */
/* Callbacks of the modules */

static void
routing_send_cb (void *ctx, MeshLinkId id, const MeshWireRouteAdvertisement *adv,
                 uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshLink *link = link_get (e, id);

  if (link != NULL && !link->closing)
    send_link_msg (e, link, MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT, &adv->base, now_ns);
}

static gboolean
private_send_cb (void *ctx, uint32_t type, const uint8_t dest[MESH_NODE_ID_LEN],
                 const uint8_t *payload, size_t len, uint64_t now_ns,
                 uint64_t *timestamp_ms, uint8_t id_out[MESH_WIRE_ID_LEN])
{
  MeshEngine *e = ctx;
  MeshLinkId next;
  MeshLink *link;
  MeshMsg m;

  *timestamp_ms = MAX (*timestamp_ms, wall_ms (e, now_ns));
  mesh_msg_init (&m, type, *timestamp_ms, payload, len);
  mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_ROUTED, dest, e->config.max_hops);
  mesh_msg_finish (&m, NULL);
  /* Not entered in the seen set: should a routing loop bring it back,
   * the first relay it passes twice drops it, and the insertion would
   * cost every message. */
  memcpy (id_out, m.id, MESH_WIRE_ID_LEN);

  next = mesh_routing_next_hop (e->routing, dest, MESH_LINK_NONE);
  link = next != MESH_LINK_NONE ? link_get (e, next) : NULL;
  if (link == NULL || link->closing)
    {
      e->stats.dropped_no_route++;
      return FALSE;
    }
  if (!send_msg (e, link, &m.base))
    return FALSE;
  probe_if_stale (e, link, now_ns);
  return TRUE;
}

static void
private_event_cb (void *ctx, const MeshEvent *ev)
{
  queue_event (ctx, ev);
}

static gboolean
private_accept_cb (void *ctx, MeshLinkId id, uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshLink *link = link_get (e, id);

  return link != NULL && mesh_bucket_take (&link->accepts_bucket, 1, now_ns);
}

/* The first link towards dest stays silent about a message: ask it for a
 * pong now rather than at the next keepalive, so that a link that lost
 * its way back is found (pong timeout) within seconds. */
static void
private_unanswered_cb (void *ctx, const uint8_t dest[MESH_NODE_ID_LEN], uint64_t now_ns)
{
  MeshEngine *e = ctx;
  MeshLinkId next = mesh_routing_next_hop (e->routing, dest, MESH_LINK_NONE);
  MeshLink *link = next != MESH_LINK_NONE ? link_get (e, next) : NULL;

  if (link != NULL && !link->closing && link->ping_sent_ns == 0)
    probe (e, link, now_ns);
}

static gboolean start_lookup (MeshEngine *e, const uint8_t *target,
                              unsigned flags, uint64_t now_ns, GError **error);

#define LOOKUP_FOR_APP 1u       /* report MESH_EVENT_LOOKUP_DONE */
#define LOOKUP_FOR_CONNECT 2u   /* ask the caller to connect to the result */

static void
private_no_route_cb (void *ctx, const uint8_t dest[MESH_NODE_ID_LEN], uint64_t now_ns)
{
  /* Find dest's contact record and ask for a direct link; the message's
   * retries take the new route once it is up.  A lookup already running
   * for dest is not started again. */
  start_lookup (ctx, dest, LOOKUP_FOR_CONNECT, now_ns, NULL);
}

/* ---------------------------------------------------------------------- */
/* Gossip */

static void
engine_random (void *user_data, uint8_t *buf, size_t n)
{
  MeshEngine *e = user_data;

  e->cb.random (e->user_data, buf, n);
}

static void
gossip_send_cb (void *user_data, MeshLinkId id, const uint8_t *frame, size_t len)
{
  MeshEngine *e = user_data;
  MeshLink *link = link_get (e, id);

  if (link != NULL && !link->closing)
    send_frame (e, link, frame, len);
}

static MeshGossip *
gossip_create (MeshEngine *e, uint64_t now_ns)
{
  MeshGossipCallbacks cb = { gossip_send_cb, engine_random };
  MeshGossipConfig gc;
  g_autoptr (GError) error = NULL;
  MeshGossip *g;

  mesh_gossip_config_init (&gc);
  gc.wall_epoch_ms = e->config.wall_epoch_ms;
  gc.max_frame_size = e->config.max_frame_size;
  gc.fanout = e->config.gossip_fanout;
  gc.max_links = e->config.max_links;
  gc.seen_capacity = e->config.seen_capacity;
  gc.seen_max_age_ns = e->config.seen_max_age_ns;
  gc.store_max_age_ns = MIN (gc.store_max_age_ns, gc.seen_max_age_ns);
  g = mesh_gossip_new (&gc, &cb, e, now_ns, &error);
  /* The configuration was brought into range before. */
  if (g == NULL)
    g_error ("gossip configuration refused: %s", error->message);
  return g;
}

static void
handle_broadcast (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
                  uint64_t now_ns)
{
  g_autoptr (MeshWireBroadcast) bp = NULL;
  g_autoptr (GError) error = NULL;
  const MeshWireRoutingInfo *r = msg->routing;
  uint8_t sender[MESH_NODE_ID_LEN];
  MeshEvent ev = { 0 };
  size_t len = 0;
  const uint8_t *frame = NULL;

  if (older_than_seen (e, msg, now_ns))
    return;
  if (!mesh_gossip_is_new (e->gossip, link->id, msg->message_id.data, now_ns))
    {
      e->stats.duplicates++;
      return;
    }
  /* Relays verify before passing on, so a bad signature or payload is
   * the neighbour's doing. */
  if (!mesh_msg_verify_signature (msg))
    {
      invalid_frame (e, link, "BROADCAST signature does not verify", now_ns);
      return;
    }
  bp = mesh_wire_decode_broadcast (msg->payload.data, msg->payload.len, &error);
  if (bp == NULL)
    {
      invalid_frame (e, link, error->message, now_ns);
      return;
    }

  mesh_node_id (msg->sender_public_key.data, sender);
  ev.type = MESH_EVENT_BROADCAST_RECEIVED;
  ev.link = link->id;
  ev.node_id = sender;
  ev.message_id = msg->message_id.data;
  ev.data = bp->content.data;
  ev.len = bp->content.len;
  ev.content_type = bp->content_type ? bp->content_type : "";
  ev.hops = MAX (r->hop_count, 1u);
  queue_event (e, &ev);
  e->stats.broadcasts_received++;

  /* Pass it on unless its hop budget is spent. */
  if (MAX (r->hop_count, 1u) + 1 <= r->max_hops
      && mesh_msg_encode_forward (msg, e->config.max_frame_size, &e->frame_buf,
                                  &len, NULL))
    frame = e->frame_buf.data;
  mesh_gossip_accept (e->gossip, link->id, msg->message_id.data, frame,
                      frame ? len : 0, now_ns);
}

static void
handle_gossip_link_msg (MeshEngine *e, MeshLink *link,
                        const MeshWireBaseMessage *msg, uint64_t now_ns)
{
  ProtobufCMessage *m;

  if (!decode_or_close (e, link, msg, &m, now_ns))
    return;
  if (msg->type == MESH_WIRE_TYPE_GOSSIP_ANNOUNCE)
    mesh_gossip_handle_announce (e->gossip, link->id, (MeshWireGossipAnnounce *) m,
                                 now_ns);
  else
    mesh_gossip_handle_pull (e->gossip, link->id, (MeshWireGossipPull *) m, now_ns);
  mesh_wire_free (m);
}

/* ---------------------------------------------------------------------- */
/* DHT */

static gboolean
dht_send_cb (void *user_data, const uint8_t *node_id, const uint8_t *frame,
             size_t len)
{
  MeshEngine *e = user_data;
  MeshLinkId next = mesh_routing_next_hop (e->routing, node_id, MESH_LINK_NONE);
  MeshLink *link = next != MESH_LINK_NONE ? link_get (e, next) : NULL;

  if (link == NULL || link->closing
      || len - MESH_FRAME_HEADER_LEN > mesh_link_max_frame (link, e->config.max_frame_size))
    return FALSE;
  send_frame (e, link, frame, len);
  return TRUE;
}

static void
dht_lookup_done_cb (void *user_data, MeshDhtLookupKind kind, const uint8_t *target,
                    const MeshDhtResult *result, uint32_t hops, uint64_t elapsed_ns)
{
  MeshEngine *e = user_data;
  g_autoptr (GBytes) key = NULL;
  gpointer value;
  unsigned flags;

  if (kind != MESH_DHT_FIND_VALUE)
    return;
  key = g_bytes_new (target, MESH_NODE_ID_LEN);
  if (!g_hash_table_lookup_extended (e->lookups, key, NULL, &value))
    return;
  flags = GPOINTER_TO_UINT (value);
  g_hash_table_remove (e->lookups, key);

  if (flags & LOOKUP_FOR_APP)
    {
      MeshEvent ev = { 0 };

      ev.type = MESH_EVENT_LOOKUP_DONE;
      ev.node_id = target;
      ev.hops = hops;
      ev.latency_ns = elapsed_ns;
      if (result != NULL && result->bundle != NULL)
        {
          ev.bundle = result->bundle;
          ev.addresses = result->addresses;
          ev.n_addresses = result->n_addresses;
        }
      else
        ev.reason = "no contact record found";
      e->stats.lookups_done++;
      queue_event (e, &ev);
    }
  if ((flags & LOOKUP_FOR_CONNECT) && result != NULL && result->bundle != NULL
      && result->n_addresses > 0 && e->cb.connect != NULL
      && mesh_routing_next_hop (e->routing, target, MESH_LINK_NONE) == MESH_LINK_NONE)
    e->cb.connect (e->user_data, result->bundle, result->addresses,
                   result->n_addresses);
}

static MeshDht *
dht_create (MeshEngine *e, uint64_t now_ns)
{
  MeshDhtCallbacks cb = { dht_send_cb, dht_lookup_done_cb, engine_random };
  MeshDhtConfig dc;
  g_autoptr (GError) error = NULL;
  MeshDht *dht;

  mesh_dht_config_init (&dc);
  dc.k = e->config.dht_k;
  dc.alpha = e->config.dht_alpha;
  dc.record_ttl_ms = e->config.dht_record_ttl_ms;
  dc.wall_epoch_ms = e->config.wall_epoch_ms;
  dc.max_hops = e->config.max_hops;
  dc.max_future_ms = e->config.max_future_ms;
  dc.addresses = e->config.addresses;
  dht = mesh_dht_new (&e->self, &dc, &cb, e, now_ns, &error);
  if (dht == NULL)
    g_error ("DHT configuration refused: %s", error->message);
  return dht;
}

static gboolean
start_lookup (MeshEngine *e, const uint8_t *target, unsigned flags,
              uint64_t now_ns, GError **error)
{
  GBytes *key = g_bytes_new (target, MESH_NODE_ID_LEN);
  gpointer old;

  /* Flags first: the DHT may answer from inside mesh_dht_lookup(). */
  if (g_hash_table_lookup_extended (e->lookups, key, NULL, &old))
    flags |= GPOINTER_TO_UINT (old);
  g_hash_table_replace (e->lookups, key, GUINT_TO_POINTER (flags));
  if (!mesh_dht_lookup (e->dht, target, now_ns, error))
    {
      g_hash_table_remove (e->lookups, key);
      return FALSE;
    }
  return TRUE;
}

/* A DHT message for us; from_node is who sent it (its key's hash, or the
 * neighbour for one-link messages). */
static void
handle_dht (MeshEngine *e, MeshLink *link, const MeshWireBaseMessage *msg,
            uint64_t now_ns)
{
  g_autoptr (GError) error = NULL;
  ProtobufCMessage *payload;
  uint8_t from[MESH_NODE_ID_LEN];
  gboolean neighbour;

  if (msg->sender_public_key.len == MESH_ED25519_KEY_LEN)
    mesh_node_id (msg->sender_public_key.data, from);
  else if (msg->routing == NULL)
    memcpy (from, link->peer.node_id, MESH_NODE_ID_LEN);
  else
    {
      /* Routed without a key: nobody to answer. */
      e->stats.dropped_unknown++;
      return;
    }
  /* Only what the neighbour itself wrote is held against the link; a
   * relay does not read what it forwards. */
  neighbour = memcmp (from, link->peer.node_id, MESH_NODE_ID_LEN) == 0;
  payload = mesh_wire_decode_payload (msg, &error);
  if (payload == NULL)
    {
      if (neighbour)
        invalid_frame (e, link, error->message, now_ns);
      return;
    }
  if (!mesh_dht_receive (e->dht, from, msg, payload, now_ns, &error) && neighbour)
    invalid_frame (e, link, error->message, now_ns);
  mesh_wire_free (payload);
}

/* A peer that speaks DHT became known with its addresses: a contact, and
 * with the first one, our record goes out. */
static void
dht_peer (MeshEngine *e, MeshLink *link, uint64_t now_ns)
{
  size_t n = link->peer_addresses ? g_strv_length (link->peer_addresses) : 0;

  if (!(link->peer_capabilities & MESH_WIRE_CAP_DHT))
    return;
  mesh_dht_add_contact (e->dht, link->peer.node_id, &link->peer,
                        (const char *const *) link->peer_addresses, n, now_ns);
  if (!e->dht_joined)
    e->dht_joined = mesh_dht_publish_self (e->dht, now_ns, NULL);
}

/* ---------------------------------------------------------------------- */
/* Life cycle */

void
mesh_engine_config_init (MeshEngineConfig *c)
{
  memset (c, 0, sizeof *c);
  c->wall_epoch_ms = 0;
  c->max_frame_size = MESH_FRAME_MAX_DEFAULT;
  c->max_links = 32;
  c->max_routes = 1000000;
  c->max_hops = 16;
  c->gossip_fanout = 10;
  c->seen_capacity = 65536;
  c->seen_max_age_ns = 10 * 60 * S;
  c->ack_timeout_ns = 500 * MS;
  c->max_retries = 11;
  c->max_pending = 4096;
  c->max_sessions = 4096;
  c->advert_interval_ns = 30 * S;
  c->route_max_age_ns = 120 * S;
  c->ping_interval_ns = 15 * S;
  /* Above what one link can carry on this machine (the goal is 500,000
   * private messages/s between two processes, bulk at ChaCha20-Poly1305
   * speed): a frame dropped here is a private message lost until its
   * retry, which may then fall outside the receiver's replay window. */
  c->peer_frames_per_s = 500000;
  c->peer_bytes_per_s = 1024u * 1024 * 1024;
  c->max_future_ms = MESH_WIRE_MAX_FUTURE_MS;
  c->max_past_ms = MESH_WIRE_MAX_PAST_MS;
  c->dht_k = 20;
  c->dht_alpha = 3;
  c->dht_record_ttl_ms = 60 * 60 * 1000;
  c->session_accepts_per_s = 100;
  c->addresses = NULL;
  c->update_max = 8;
  c->update_inflight_per_peer = 4;
  c->update_request_timeout_ns = 1 * S;
  c->update_bytes_per_s = 0;
  c->update_serve_per_request = 16;
  c->update_query_timeout_ns = 10 * S;
}

/* Bring values a caller may have left at 0 or out of range into range. */
static void
config_sanitize (MeshEngineConfig *c)
{
  MeshEngineConfig d;

  mesh_engine_config_init (&d);
  if (c->max_frame_size == 0 || c->max_frame_size > MESH_FRAME_MAX_DEFAULT)
    c->max_frame_size = MESH_FRAME_MAX_DEFAULT;
  c->max_frame_size = MAX (c->max_frame_size, (size_t) MESH_WIRE_MIN_PEER_FRAME_SIZE);
  if (c->max_links == 0)
    c->max_links = d.max_links;
  c->max_routes = CLAMP (c->max_routes, 1u, MESH_ROUTES_MAX_ENTRIES);
  c->max_hops = CLAMP (c->max_hops, 1u, (uint32_t) MESH_WIRE_MAX_HOPS);
  c->gossip_fanout = CLAMP (c->gossip_fanout, 1u, 50u);
  if (c->seen_capacity == 0)
    c->seen_capacity = d.seen_capacity;
  if (c->seen_max_age_ns == 0)
    c->seen_max_age_ns = d.seen_max_age_ns;
  if (c->ack_timeout_ns == 0)
    c->ack_timeout_ns = d.ack_timeout_ns;
  if (c->max_pending == 0)
    c->max_pending = d.max_pending;
  if (c->max_sessions == 0)
    c->max_sessions = d.max_sessions;
  if (c->advert_interval_ns == 0)
    c->advert_interval_ns = d.advert_interval_ns;
  if (c->route_max_age_ns == 0)
    c->route_max_age_ns = d.route_max_age_ns;
  if (c->ping_interval_ns == 0)
    c->ping_interval_ns = d.ping_interval_ns;
  if (c->peer_frames_per_s == 0)
    c->peer_frames_per_s = d.peer_frames_per_s;
  if (c->peer_bytes_per_s == 0)
    c->peer_bytes_per_s = d.peer_bytes_per_s;
  /* A whole frame must fit in one second of burst. */
  c->peer_bytes_per_s = MAX (c->peer_bytes_per_s, (uint64_t) c->max_frame_size);
  if (c->session_accepts_per_s == 0)
    c->session_accepts_per_s = d.session_accepts_per_s;
  c->seen_capacity = MIN (c->seen_capacity, MESH_SEEN_MAX_CAPACITY);
  c->max_links = MIN (c->max_links, (uint32_t) MESH_GOSSIP_MAX_LINKS);
  c->dht_k = CLAMP (c->dht_k ? c->dht_k : d.dht_k, 1u, (uint32_t) MESH_DHT_MAX_K);
  c->dht_alpha = CLAMP (c->dht_alpha ? c->dht_alpha : d.dht_alpha, 1u, c->dht_k);
  if (c->dht_record_ttl_ms == 0)
    c->dht_record_ttl_ms = d.dht_record_ttl_ms;
  c->update_max = CLAMP (c->update_max ? c->update_max : d.update_max, 1u, 64u);
  c->update_inflight_per_peer = CLAMP (c->update_inflight_per_peer
                                       ? c->update_inflight_per_peer
                                       : d.update_inflight_per_peer, 1u, 64u);
  if (c->update_request_timeout_ns == 0)
    c->update_request_timeout_ns = d.update_request_timeout_ns;
  if (c->update_query_timeout_ns == 0)
    c->update_query_timeout_ns = d.update_query_timeout_ns;
  c->update_serve_per_request = CLAMP (c->update_serve_per_request
                                       ? c->update_serve_per_request
                                       : d.update_serve_per_request, 1u,
                                       (uint32_t) MESH_WIRE_MAX_CHUNK_REQUEST);
}

MeshEngine *
mesh_engine_new (const MeshIdentity *self, const MeshEngineConfig *config,
                 const MeshEngineCallbacks *callbacks, void *user_data,
                 uint64_t now_ns)
{
  MeshEngine *e;
  MeshRoutingConfig rc;
  MeshPrivateConfig pc;
  MeshPrivateCallbacks pcb = {
    private_send_cb, private_event_cb, private_accept_cb, private_no_route_cb,
    private_unanswered_cb, private_content_cb,
  };

  g_return_val_if_fail (self != NULL && callbacks != NULL, NULL);
  g_return_val_if_fail (callbacks->send_frame != NULL && callbacks->close_link != NULL
                        && callbacks->random != NULL, NULL);

  e = g_new0 (MeshEngine, 1);
  e->self = *self;
  if (config != NULL)
    e->config = *config;
  else
    mesh_engine_config_init (&e->config);
  config_sanitize (&e->config);
  e->addresses = g_strdupv ((char **) e->config.addresses);
  e->config.addresses = (const char *const *) e->addresses;
  e->cb = *callbacks;
  e->user_data = user_data;
  e->cb.random (user_data, e->hash_key, sizeof e->hash_key);

  e->links = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                    (GDestroyNotify) mesh_link_free);
  rc.max_routes = e->config.max_routes;
  rc.advert_interval_ns = e->config.advert_interval_ns;
  rc.route_max_age_ns = e->config.route_max_age_ns;
  e->routing = mesh_routing_new (self->pub.node_id, &rc, e->hash_key,
                                 routing_send_cb, e, now_ns);

  mesh_private_config_init (&pc);
  pc.max_sessions = e->config.max_sessions;
  pc.max_pending = e->config.max_pending;
  pc.max_retries = e->config.max_retries;
  pc.ack_timeout_ns = e->config.ack_timeout_ns;
  e->priv = mesh_private_new (self, &pc, &pcb, e, e->cb.random, user_data,
                              e->hash_key);

  e->seen = mesh_seen_new (e->config.seen_capacity, e->config.seen_max_age_ns,
                           e->hash_key);
  e->gossip = gossip_create (e, now_ns);
  e->dht = dht_create (e, now_ns);
  {
    MeshUpdistCallbacks ucb = {
      .send = updist_send_cb,
      .penalize = updist_penalize_cb,
      .event = updist_event_cb,
    };

    e->updist = mesh_updist_new (&e->config, &ucb, e, now_ns);
  }
  e->lookups = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                      (GDestroyNotify) g_bytes_unref, NULL);
  e->queue.events = g_array_new (FALSE, FALSE, sizeof (QueuedEvent));
  e->queue.arena = g_byte_array_new ();
  e->spare.events = g_array_new (FALSE, FALSE, sizeof (QueuedEvent));
  e->spare.arena = g_byte_array_new ();
  e->next_link_check_ns = UINT64_MAX;
  return e;
}

void
mesh_engine_free (MeshEngine *e)
{
  if (e == NULL)
    return;
  mesh_private_free (e->priv);
  mesh_routing_free (e->routing);
  g_hash_table_destroy (e->links);
  mesh_seen_free (e->seen);
  mesh_gossip_free (e->gossip);
  mesh_dht_free (e->dht);
  mesh_updist_free (e->updist);
  g_hash_table_destroy (e->lookups);
  mesh_msg_buf_clear (&e->frame_buf);
  mesh_msg_buf_clear (&e->payload_buf);
  g_array_free (e->queue.events, TRUE);
  g_byte_array_free (e->queue.arena, TRUE);
  g_array_free (e->spare.events, TRUE);
  g_byte_array_free (e->spare.arena, TRUE);
  g_strfreev (e->addresses);
  mesh_identity_clear (&e->self);
  mesh_wipe (e->hash_key, sizeof e->hash_key);
  g_free (e);
}

const MeshPublicBundle *
mesh_engine_get_bundle (const MeshEngine *e)
{
  return &e->self.pub;
}

/* ---------------------------------------------------------------------- */
/* Links */

gboolean
mesh_engine_link_up (MeshEngine *e, MeshLinkId id, const MeshPublicBundle *peer,
                     uint64_t now_ns, GError **error)
{
  MeshLink *link;
  MeshPublicBundle p;
  MeshEvent ev = { 0 };

  g_return_val_if_fail (e != NULL && peer != NULL, FALSE);

  if (id == MESH_LINK_NONE || id == MESH_ROUTE_NO_LINK)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link id %" G_GUINT32_FORMAT " is reserved", id);
      return FALSE;
    }
  if (link_get (e, id) != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link id %" G_GUINT32_FORMAT " is already up", id);
      return FALSE;
    }
  if (g_hash_table_size (e->links) >= e->config.max_links)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "link %" G_GUINT32_FORMAT " refused: %" G_GUINT32_FORMAT
                   " links are up, the configured max_links", id,
                   e->config.max_links);
      return FALSE;
    }
  p = *peer;
  mesh_node_id (p.ed_pub, p.node_id);
  if (memcmp (p.node_id, e->self.pub.node_id, MESH_NODE_ID_LEN) == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link %" G_GUINT32_FORMAT " leads to this node itself", id);
      return FALSE;
    }

  enter (e);
  link = mesh_link_new (id, &p, &e->config, now_ns);
  g_hash_table_insert (e->links, GUINT_TO_POINTER (id), link);
  /* HELLO first: the peer refuses anything before it. */
  send_hello (e, link, now_ns);
  link->route_cost = link_cost (link);
  mesh_routing_link_up (e->routing, id, p.node_id, link->route_cost, now_ns);
  /* Within max_links, which gossip was created with. */
  mesh_gossip_link_up (e->gossip, id, now_ns, NULL);
  mesh_updist_link_up (e->updist, id, p.node_id, now_ns);
  e->next_link_check_ns = MIN (e->next_link_check_ns, link->next_ping_ns);

  ev.type = MESH_EVENT_PEER_CONNECTED;
  ev.link = id;
  ev.node_id = link->peer.node_id;
  ev.bundle = &link->peer;
  queue_event (e, &ev);
  leave (e);
  return TRUE;
}

void
mesh_engine_link_down (MeshEngine *e, MeshLinkId id, uint64_t now_ns)
{
  MeshLink *link;
  MeshEvent ev = { 0 };

  g_return_if_fail (e != NULL);
  link = link_get (e, id);
  if (link == NULL)
    return;
  enter (e);
  mesh_routing_link_down (e->routing, id, now_ns);
  mesh_gossip_link_down (e->gossip, id, now_ns);
  mesh_updist_link_down (e->updist, id, now_ns);
  ev.type = MESH_EVENT_PEER_DISCONNECTED;
  ev.link = id;
  ev.node_id = link->peer.node_id;
  ev.bundle = &link->peer;
  ev.reason = link->closing ? "closed at the engine's request" : "link closed";
  queue_event (e, &ev);
  g_hash_table_remove (e->links, GUINT_TO_POINTER (id));
  leave (e);
}

/* Keepalive: ping every link each interval; close a link whose ping went
 * unanswered PING_TRIES times (it may still deliver to us: only our
 * direction is broken) or that sent nothing for IDLE_PINGS intervals. */
static void
links_tick (MeshEngine *e, uint64_t now_ns)
{
  GHashTableIter it;
  gpointer value;
  uint64_t next = UINT64_MAX;
  uint64_t idle = IDLE_PINGS * e->config.ping_interval_ns;
  GPtrArray *dead = NULL;

  g_hash_table_iter_init (&it, e->links);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MeshLink *link = value;

      if (link->closing)
        continue;
      if (link->ping_sent_ns != 0 && now_ns >= link->ping_deadline_ns)
        {
          if (++link->ping_misses < PING_TRIES)
            send_ping_try (e, link, now_ns);
        }
      if ((link->ping_sent_ns != 0 && link->ping_misses >= PING_TRIES)
          || now_ns - link->last_seen_ns >= idle)
        {
          if (dead == NULL)
            dead = g_ptr_array_new ();
          g_ptr_array_add (dead, link);
          continue;
        }
      if (now_ns >= link->next_ping_ns)
        {
          if (link->rtt_ns != 0)
            update_link_cost (e, link, now_ns);
          if (link->ping_sent_ns == 0)
            send_ping (e, link, now_ns);
          link->next_ping_ns = now_ns + e->config.ping_interval_ns;
        }
      next = MIN (next, link->next_ping_ns);
      if (link->ping_sent_ns != 0)
        next = MIN (next, link->ping_deadline_ns);
    }
  e->next_link_check_ns = next;
  if (dead != NULL)
    {
      for (guint i = 0; i < dead->len; i++)
        {
          MeshLink *link = dead->pdata[i];

          request_close (e, link, link->ping_sent_ns != 0
                         ? "no answer to a keepalive ping"
                         : "no frame received for four ping intervals",
                         FALSE, now_ns);
        }
      g_ptr_array_free (dead, TRUE);
    }
}

/* ---------------------------------------------------------------------- */
/* Commands */

gboolean
mesh_engine_send_private (MeshEngine *e, const MeshPublicBundle *to,
                          const uint8_t *data, size_t len, uint64_t now_ns,
                          uint8_t *id_out, GError **error)
{
  size_t max_data;
  gboolean ok;

  g_return_val_if_fail (e != NULL && to != NULL && (data != NULL || len == 0), FALSE);

  max_data = e->config.max_frame_size - MESH_WIRE_MAX_ENVELOPE - MESH_PRIVATE_OVERHEAD;
  enter (e);
  ok = mesh_private_send (e->priv, to, data, len, max_data, now_ns, id_out, error);
  leave (e);
  return ok;
}

gboolean
mesh_engine_cancel_private (MeshEngine *e, const uint8_t *id)
{
  gboolean ok;

  g_return_val_if_fail (e != NULL && id != NULL, FALSE);
  enter (e);
  ok = mesh_private_cancel (e->priv, id);
  leave (e);
  return ok;
}

gboolean
mesh_engine_broadcast (MeshEngine *e, const uint8_t *data, size_t len,
                       const char *content_type, uint64_t now_ns,
                       uint8_t *id_out, GError **error)
{
  MeshWireBroadcast bp = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
  MeshMsg m;
  size_t plen, flen;

  g_return_val_if_fail (e != NULL && (data != NULL || len == 0), FALSE);

  bp.content.data = (uint8_t *) data;
  bp.content.len = len;
  bp.content_type = (char *) (content_type ? content_type : "");
  if (!mesh_wire_validate (&bp.base, error))
    return FALSE;
  plen = mesh_msg_buf_encode (&e->payload_buf, &bp.base);
  mesh_msg_init (&m, MESH_WIRE_TYPE_BROADCAST, wall_ms (e, now_ns),
                 e->payload_buf.data, plen);
  mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_FLOOD, NULL, e->config.max_hops);
  mesh_msg_finish (&m, &e->self);
  if (!mesh_msg_encode_frame (&m.base, e->config.max_frame_size, &e->frame_buf,
                              &flen, error))
    return FALSE;

  enter (e);
  mesh_gossip_publish (e->gossip, m.id, e->frame_buf.data, flen, now_ns);
  e->stats.broadcasts_sent++;
  leave (e);
  if (id_out != NULL)
    memcpy (id_out, m.id, MESH_WIRE_ID_LEN);
  return TRUE;
}

gboolean
mesh_engine_lookup (MeshEngine *e, const uint8_t *node_id, uint64_t now_ns,
                    GError **error)
{
  gboolean ok;

  g_return_val_if_fail (e != NULL && node_id != NULL, FALSE);
  enter (e);
  ok = start_lookup (e, node_id, LOOKUP_FOR_APP, now_ns, error);
  if (ok)
    e->stats.lookups_started++;
  leave (e);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* Time */

uint64_t
mesh_engine_next_timeout (const MeshEngine *e)
{
  uint64_t t = e->next_link_check_ns;

  t = MIN (t, mesh_private_next_timeout (e->priv));
  t = MIN (t, mesh_routing_next_timeout (e->routing));
  t = MIN (t, mesh_gossip_next_timeout (e->gossip));
  t = MIN (t, mesh_dht_next_timeout (e->dht));
  t = MIN (t, mesh_updist_next_timeout (e->updist));
  return t;
}

void
mesh_engine_tick (MeshEngine *e, uint64_t now_ns)
{
  g_return_if_fail (e != NULL);
  enter (e);
  if (now_ns >= e->next_link_check_ns)
    links_tick (e, now_ns);
  mesh_routing_tick (e->routing, now_ns);
  mesh_private_tick (e->priv, now_ns);
  if (now_ns >= mesh_gossip_next_timeout (e->gossip))
    mesh_gossip_tick (e->gossip, now_ns);
  if (now_ns >= mesh_dht_next_timeout (e->dht))
    mesh_dht_tick (e->dht, now_ns);
  if (now_ns >= mesh_updist_next_timeout (e->updist))
    mesh_updist_tick (e->updist, now_ns);
  leave (e);
}

/* ---------------------------------------------------------------------- */
/* Introspection */

void
mesh_engine_get_stats (const MeshEngine *e, MeshEngineStats *stats)
{
  MeshPrivateStats ps;

  *stats = e->stats;
  mesh_private_get_stats (e->priv, &ps);
  stats->private_sent = ps.sent;
  stats->private_delivered = ps.delivered;
  stats->private_failed = ps.failed;
  stats->private_received = ps.received;
  stats->private_retries = ps.retries;
  stats->duplicates += ps.duplicates;
  stats->links = g_hash_table_size (e->links);
  stats->routes = (uint32_t) mesh_routing_count (e->routing);
  stats->sessions_out = ps.sessions_out;
  stats->sessions_in = ps.sessions_in;
  stats->pending = ps.pending;
  stats->seen = (uint32_t) mesh_seen_count (e->seen);
  {
    MeshDhtStats ds;

    mesh_dht_get_stats (e->dht, &ds);
    stats->records_stored = ds.stores_sent;
  }
  mesh_updist_add_stats (e->updist, stats);
}

gboolean
mesh_engine_get_link_info (const MeshEngine *e, MeshLinkId id, MeshLinkInfo *info)
{
  const MeshLink *link = link_get (e, id);

  if (link == NULL)
    return FALSE;
  memset (info, 0, sizeof *info);
  info->link = link->id;
  info->peer = link->peer;
  info->connected_ns = link->connected_ns;
  info->last_seen_ns = link->last_seen_ns;
  info->frames_in = link->frames_in;
  info->frames_out = link->frames_out;
  info->bytes_in = link->bytes_in;
  info->bytes_out = link->bytes_out;
  info->invalid_frames = link->invalid_frames;
  info->dropped_rate = link->dropped_rate;
  info->rtt_ns = link->rtt_ns;
  info->reputation = link->reputation;
  info->hello_received = link->hello_received;
  info->closing = link->closing;
  info->peer_capabilities = link->peer_capabilities;
  return TRUE;
}

MeshLinkId
mesh_engine_route_lookup (const MeshEngine *e, const uint8_t *node_id)
{
  return mesh_routing_next_hop (e->routing, node_id, MESH_LINK_NONE);
}
