/* Private messages without the engine: the session tables of
 * lib/engine/session.c driven directly, their messages carried by hand.
 * Rekey handover, the bounds of both session tables and of the pending
 * table, the accept rate limit, acknowledgment tags, SESSION_UNKNOWN
 * hints, the retry schedule and replays. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "engine/msg.h"
#include "engine/session.h"
#include "testutil.h"

#define MS G_GUINT64_CONSTANT (1000000)
#define SEC G_GUINT64_CONSTANT (1000000000)
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)
#define MAX_PEERS 5

typedef struct World World;

typedef struct {
  int from;
  uint32_t type;
  uint8_t dest[32];
  GBytes *payload;
  uint64_t ts_ms;
} Sent;

typedef struct {
  MeshEventType type;
  uint8_t message_id[32];
  uint8_t node_id[32];
  GBytes *data;
  uint64_t latency_ns;
  char *reason;
} Ev;

typedef struct {
  World *world;
  int index;
  MeshIdentity id;
  MeshPrivate *p;
  TestRng rng;
  GPtrArray *events;
  int accept_refusals;          /* refuse this many accepts first */
  guint accept_calls;
} Peer;

struct World {
  Peer peers[MAX_PEERS];
  int n;
  GPtrArray *sent;              /* Sent, in order */
  uint64_t now;
  guint no_route;
};

static void
sent_free (gpointer p)
{
  Sent *s = p;

  g_bytes_unref (s->payload);
  g_free (s);
}

static void
ev_free (gpointer p)
{
  Ev *e = p;

  if (e->data)
    g_bytes_unref (e->data);
  g_free (e->reason);
  g_free (e);
}

static gboolean
cb_send (void *ctx, uint32_t type, const uint8_t dest[32], const uint8_t *payload,
         size_t len, uint64_t now_ns, uint64_t *ts, uint8_t id_out[32])
{
  Peer *peer = ctx;
  Sent *s = g_new0 (Sent, 1);
  MeshMsg m;

  *ts = MAX (*ts, EPOCH_MS + now_ns / MS);
  s->from = peer->index;
  s->type = type;
  memcpy (s->dest, dest, 32);
  s->payload = g_bytes_new (payload, len);
  s->ts_ms = *ts;
  mesh_msg_init (&m, type, *ts, payload, len);
  mesh_msg_finish (&m, NULL);
  memcpy (id_out, m.id, 32);
  g_ptr_array_add (peer->world->sent, s);
  return TRUE;
}

static void
cb_event (void *ctx, const MeshEvent *ev)
{
  Peer *peer = ctx;
  Ev *e = g_new0 (Ev, 1);

  e->type = ev->type;
  if (ev->message_id)
    memcpy (e->message_id, ev->message_id, 32);
  if (ev->node_id)
    memcpy (e->node_id, ev->node_id, 32);
  if (ev->data)
    e->data = g_bytes_new (ev->data, ev->len);
  e->latency_ns = ev->latency_ns;
  e->reason = g_strdup (ev->reason);
  g_ptr_array_add (peer->events, e);
}

static gboolean
cb_accept (void *ctx, MeshLinkId link, uint64_t now_ns)
{
  Peer *peer = ctx;

  peer->accept_calls++;
  if (peer->accept_refusals > 0)
    {
      peer->accept_refusals--;
      return FALSE;
    }
  return TRUE;
}

static void
cb_no_route (void *ctx, const uint8_t dest[32], uint64_t now_ns)
{
  ((Peer *) ctx)->world->no_route++;
}

static void
cb_random (void *user_data, uint8_t *buf, size_t n)
{
  test_rng (&((Peer *) user_data)->rng, buf, n);
}

static World *
world_new (int n, const MeshPrivateConfig *configs)
{
  static const MeshPrivateCallbacks cb = { cb_send, cb_event, cb_accept, cb_no_route, NULL };
  World *w = g_new0 (World, 1);
  uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

  w->n = n;
  w->now = 10 * SEC;
  w->sent = g_ptr_array_new_with_free_func (sent_free);
  for (int i = 0; i < n; i++)
    {
      Peer *peer = &w->peers[i];
      uint8_t seed[32];
      MeshPrivateConfig c;

      if (configs)
        c = configs[i];
      else
        mesh_private_config_init (&c);
      memset (seed, 'a' + i, sizeof seed);
      mesh_identity_from_seed (&peer->id, seed);
      peer->world = w;
      peer->index = i;
      peer->rng.state = 77 + (guint64) i;
      peer->events = g_ptr_array_new_with_free_func (ev_free);
      key[0] = (uint8_t) i;
      peer->p = mesh_private_new (&peer->id, &c, &cb, peer, cb_random, peer, key);
    }
  return w;
}

static void
world_free (World *w)
{
  for (int i = 0; i < w->n; i++)
    {
      mesh_private_free (w->peers[i].p);
      g_ptr_array_unref (w->peers[i].events);
      mesh_identity_clear (&w->peers[i].id);
    }
  g_ptr_array_unref (w->sent);
  g_free (w);
}

static MeshPrivate *
P (World *w, int i)
{
  return w->peers[i].p;
}

static const MeshPublicBundle *
BUNDLE (World *w, int i)
{
  return &w->peers[i].id.pub;
}

static void
send_text (World *w, int from, int to, const char *text, uint8_t id[32])
{
  g_autoptr (GError) error = NULL;

  g_assert_true (mesh_private_send (P (w, from), BUNDLE (w, to), (const uint8_t *) text,
                                    strlen (text), 1 << 20, w->now, id, &error));
  g_assert_no_error (error);
}

static int
peer_of (World *w, const uint8_t node_id[32])
{
  for (int i = 0; i < w->n; i++)
    if (memcmp (w->peers[i].id.pub.node_id, node_id, 32) == 0)
      return i;
  g_assert_not_reached ();
}

/* Hand one captured message to its destination. */
static void
deliver (World *w, Sent *s)
{
  gsize len;
  const uint8_t *p = g_bytes_get_data (s->payload, &len);
  MeshMsg m;

  mesh_msg_init (&m, s->type, s->ts_ms, p, len);
  mesh_msg_set_routing (&m, MESH_WIRE_ROUTE_ROUTED, s->dest, 16);
  m.routing.hop_count = 2;
  mesh_msg_finish (&m, NULL);
  mesh_private_receive (P (w, peer_of (w, s->dest)), 1, &m.base, w->now);
}

/* Deliver everything captured, including what that causes, in order. */
static void
deliver_all (World *w)
{
  while (w->sent->len > 0)
    {
      Sent *s = g_ptr_array_steal_index (w->sent, 0);

      deliver (w, s);
      sent_free (s);
    }
}

static void
drop_all (World *w)
{
  g_ptr_array_set_size (w->sent, 0);
}

static guint
count_ev (World *w, int peer, MeshEventType type)
{
  guint n = 0;
  GPtrArray *a = w->peers[peer].events;

  for (guint i = 0; i < a->len; i++)
    if (((Ev *) a->pdata[i])->type == type)
      n++;
  return n;
}

static Ev *
nth_ev (World *w, int peer, MeshEventType type, guint nth)
{
  GPtrArray *a = w->peers[peer].events;

  for (guint i = 0; i < a->len; i++)
    {
      Ev *e = a->pdata[i];

      if (e->type == type && nth-- == 0)
        return e;
    }
  return NULL;
}

static MeshWirePrivateMessage *
decode_sent (Sent *s)
{
  MeshWirePrivateMessage *pm;

  g_assert_cmpuint (s->type, ==, MESH_WIRE_TYPE_PRIVATE);
  pm = mesh_wire_decode_private (g_bytes_get_data (s->payload, NULL),
                                 g_bytes_get_size (s->payload), NULL);
  g_assert_nonnull (pm);
  return pm;
}

static void
pstats (World *w, int i, MeshPrivateStats *s)
{
  mesh_private_get_stats (P (w, i), s);
}

/* ---- Tests */

static void
test_basic (void)
{
  World *w = world_new (2, NULL);
  uint8_t id[32];
  MeshPrivateStats s;
  Ev *e;

  send_text (w, 0, 1, "hi", id);
  g_assert_cmpuint (w->sent->len, ==, 1);
  {
    g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[0]);
    g_assert_cmpuint (pm->session_init.len, ==, MESH_SESSION_INIT_LEN);
    g_assert_cmpuint (pm->ciphertext.len, >, MESH_SESSION_OVERHEAD);
  }
  w->now += 3 * MS;
  deliver_all (w);
  e = nth_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED, 0);
  g_assert_nonnull (e);
  g_assert_cmpmem (g_bytes_get_data (e->data, NULL), g_bytes_get_size (e->data), "hi", 2);
  g_assert_cmpmem (e->node_id, 32, BUNDLE (w, 0)->node_id, 32);
  e = nth_ev (w, 0, MESH_EVENT_DELIVERED, 0);
  g_assert_nonnull (e);
  g_assert_cmpmem (e->message_id, 32, id, 32);
  g_assert_cmpmem (e->node_id, 32, BUNDLE (w, 1)->node_id, 32);
  g_assert_cmpuint (e->latency_ns, ==, 3 * MS);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.pending, ==, 0);
  g_assert_cmpuint (s.sessions_out, ==, 1);
  g_assert_cmpuint (mesh_private_next_timeout (P (w, 0)), ==, UINT64_MAX);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.sessions_in, ==, 1);
  g_assert_cmpuint (s.acks_sent, ==, 1);
  world_free (w);
}

static void
test_rekey_handover (void)
{
  MeshPrivateConfig c[2];
  World *w;
  uint8_t sid_old[16], sid[16];
  MeshPrivateStats s;
  MeshSession *first;

  mesh_private_config_init (&c[0]);
  mesh_private_config_init (&c[1]);
  c[0].limits.rekey_messages = 3;
  w = world_new (2, c);

  for (int i = 0; i < 3; i++)
    send_text (w, 0, 1, "old session", NULL);
  first = mesh_private_get_out_session (P (w, 0), BUNDLE (w, 1)->node_id);
  memcpy (sid_old, mesh_session_get_id (first), 16);
  g_assert_true (mesh_session_needs_rekey (first, w->now));
  send_text (w, 0, 1, "new session", NULL);
  memcpy (sid, mesh_session_get_id (mesh_private_get_out_session (P (w, 0),
                                                                  BUNDLE (w, 1)->node_id)), 16);
  g_assert_true (memcmp (sid, sid_old, 16) != 0);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.sessions_out, ==, 2);   /* the old one still has pending messages */
  g_assert_cmpuint (s.sessions_opened, ==, 2);
  g_assert_cmpuint (s.pending, ==, 4);

  g_assert_cmpuint (w->sent->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[i]);

      g_assert_cmpmem (pm->session_id.data, 16, i < 3 ? sid_old : sid, 16);
      g_assert_cmpuint (pm->session_init.len, ==, MESH_SESSION_INIT_LEN);
    }

  /* The old session's acknowledgments still settle its messages. */
  deliver_all (w);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 4);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 4);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.sessions_out, ==, 1);
  g_assert_cmpuint (s.pending, ==, 0);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.sessions_in, ==, 2);
  g_assert_cmpuint (s.sessions_accepted, ==, 2);
  g_assert_true (mesh_private_has_in_session (P (w, 1), sid_old));
  g_assert_true (mesh_private_has_in_session (P (w, 1), sid));
  world_free (w);
}

static void
test_in_lru (void)
{
  MeshPrivateConfig c[4];
  World *w;
  MeshPrivateStats s;
  uint8_t sid[3][16];

  for (int i = 0; i < 4; i++)
    mesh_private_config_init (&c[i]);
  c[3].max_sessions = 2;
  w = world_new (4, c);

  /* Three senders, room for two at the recipient (peer 3). */
  for (int i = 0; i < 3; i++)
    {
      send_text (w, i, 3, "hello", NULL);
      memcpy (sid[i], mesh_session_get_id (mesh_private_get_out_session (P (w, i),
                                                                         BUNDLE (w, 3)->node_id)), 16);
      deliver_all (w);
    }
  g_assert_cmpuint (count_ev (w, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 3);
  pstats (w, 3, &s);
  g_assert_cmpuint (s.sessions_in, ==, 2);
  g_assert_cmpuint (s.sessions_evicted, ==, 1);
  g_assert_false (mesh_private_has_in_session (P (w, 3), sid[0]));
  g_assert_true (mesh_private_has_in_session (P (w, 3), sid[1]));
  g_assert_true (mesh_private_has_in_session (P (w, 3), sid[2]));

  /* Sender 1 is used again, so sender 2 is now the least recent. */
  send_text (w, 1, 3, "again", NULL);
  deliver_all (w);

  /* Sender 0's session was acknowledged: no init, so the recipient can
   * neither read nor answer it. */
  send_text (w, 0, 3, "evicted?", NULL);
  {
    g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[0]);
    g_assert_cmpuint (pm->session_init.len, ==, 0);
  }
  deliver_all (w);
  pstats (w, 3, &s);
  g_assert_cmpuint (s.unknown_session, ==, 1);
  g_assert_cmpuint (s.acks_sent, ==, 4);
  g_assert_cmpuint (count_ev (w, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 4);

  /* The retry carries the init: the same session is re-created. */
  w->now += 500 * MS;
  mesh_private_tick (P (w, 0), w->now);
  g_assert_cmpuint (w->sent->len, ==, 1);
  deliver_all (w);
  g_assert_cmpuint (count_ev (w, 3, MESH_EVENT_PRIVATE_RECEIVED), ==, 5);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 2);
  g_assert_true (mesh_private_has_in_session (P (w, 3), sid[0]));
  g_assert_true (mesh_private_has_in_session (P (w, 3), sid[1]));
  g_assert_false (mesh_private_has_in_session (P (w, 3), sid[2]));
  pstats (w, 3, &s);
  g_assert_cmpuint (s.sessions_in, ==, 2);
  g_assert_cmpuint (s.sessions_evicted, ==, 2);
  world_free (w);
}

static void
test_accept_rate_limit (void)
{
  World *w = world_new (2, NULL);
  MeshPrivateStats s;

  w->peers[1].accept_refusals = 1;
  send_text (w, 0, 1, "costly", NULL);
  deliver_all (w);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.accepts_limited, ==, 1);
  g_assert_cmpuint (s.sessions_in, ==, 0);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 0);

  w->now += 500 * MS;
  mesh_private_tick (P (w, 0), w->now);
  deliver_all (w);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 1);
  g_assert_cmpuint (w->peers[1].accept_calls, ==, 2);

  /* A known session costs no accept. */
  send_text (w, 0, 1, "cheap", NULL);
  deliver_all (w);
  g_assert_cmpuint (w->peers[1].accept_calls, ==, 2);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 2);
  world_free (w);
}

static void
test_out_bound (void)
{
  MeshPrivateConfig c[4];
  World *w;
  g_autoptr (GError) error = NULL;
  MeshPrivateStats s;

  for (int i = 0; i < 4; i++)
    mesh_private_config_init (&c[i]);
  c[0].max_sessions = 2;
  w = world_new (4, c);
  send_text (w, 0, 1, "to 1", NULL);
  send_text (w, 0, 2, "to 2", NULL);
  /* Both sessions have messages in flight: none can go. */
  g_assert_false (mesh_private_send (P (w, 0), BUNDLE (w, 3), (const uint8_t *) "x", 1,
                                     1 << 20, w->now, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_clear_error (&error);

  /* Settle the message to 1 only. */
  deliver (w, w->sent->pdata[0]);
  g_ptr_array_remove_index (w->sent, 0);
  while (w->sent->len > 1)
    {
      Sent *ack = g_ptr_array_steal_index (w->sent, 1);
      deliver (w, ack);
      sent_free (ack);
    }
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 1);
  send_text (w, 0, 3, "to 3", NULL);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.sessions_out, ==, 2);
  g_assert_cmpuint (s.sessions_evicted, ==, 1);
  g_assert_null (mesh_private_get_out_session (P (w, 0), BUNDLE (w, 1)->node_id));
  g_assert_nonnull (mesh_private_get_out_session (P (w, 0), BUNDLE (w, 2)->node_id));
  g_assert_nonnull (mesh_private_get_out_session (P (w, 0), BUNDLE (w, 3)->node_id));
  world_free (w);
}

static void
test_pending_bound (void)
{
  MeshPrivateConfig c[2];
  World *w;
  g_autoptr (GError) error = NULL;

  mesh_private_config_init (&c[0]);
  mesh_private_config_init (&c[1]);
  c[0].max_pending = 2;
  w = world_new (2, c);
  send_text (w, 0, 1, "1", NULL);
  send_text (w, 0, 1, "2", NULL);
  g_assert_false (mesh_private_send (P (w, 0), BUNDLE (w, 1), (const uint8_t *) "3", 1,
                                     1 << 20, w->now, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_assert_nonnull (strstr (error->message, "max_pending"));
  g_clear_error (&error);
  deliver_all (w);
  send_text (w, 0, 1, "3", NULL);
  g_assert_false (mesh_private_send (P (w, 0), BUNDLE (w, 1), (const uint8_t *) "45", 2,
                                     1, w->now, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_false (mesh_private_send (P (w, 0), BUNDLE (w, 0), (const uint8_t *) "4", 1,
                                     1 << 20, w->now, NULL, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  world_free (w);
}

/* Deliver the PRIVATE, then return the ACK it caused (caller frees). */
static Sent *
take_ack (World *w)
{
  Sent *msg = g_ptr_array_steal_index (w->sent, 0);
  Sent *ack;

  deliver (w, msg);
  sent_free (msg);
  g_assert_cmpuint (w->sent->len, ==, 1);
  ack = g_ptr_array_steal_index (w->sent, 0);
  g_assert_cmpuint (ack->type, ==, MESH_WIRE_TYPE_ACK);
  return ack;
}

static Sent *
modified_ack (Sent *ack, int flip_tag_byte, int new_status)
{
  g_autoptr (MeshWireAck) a = mesh_wire_decode_ack (g_bytes_get_data (ack->payload, NULL),
                                                    g_bytes_get_size (ack->payload), NULL);
  Sent *out = g_new0 (Sent, 1);
  uint8_t buf[256];
  size_t n;

  g_assert_nonnull (a);
  if (flip_tag_byte >= 0)
    a->tag.data[flip_tag_byte] ^= 0x40;
  if (new_status > 0)
    a->status = new_status;
  n = mesh_wire_encode_into (&a->base, buf);
  *out = *ack;
  out->payload = g_bytes_new (buf, n);
  return out;
}

static void
test_forged_ack (void)
{
  World *w = world_new (2, NULL);
  MeshPrivateStats s;
  Sent *ack, *bad;

  send_text (w, 0, 1, "confirm me", NULL);
  ack = take_ack (w);

  bad = modified_ack (ack, 3, -1);
  deliver (w, bad);
  sent_free (bad);
  /* The tag covers the status too. */
  bad = modified_ack (ack, -1, MESH_WIRE_ACK_DUPLICATE);
  deliver (w, bad);
  sent_free (bad);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.acks_bad_tag, ==, 2);
  g_assert_cmpuint (s.pending, ==, 1);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 0);

  /* An untagged DELIVERED is not believed either. */
  {
    g_autoptr (MeshWireAck) a = mesh_wire_decode_ack (g_bytes_get_data (ack->payload, NULL),
                                                      g_bytes_get_size (ack->payload), NULL);
    uint8_t buf[256];
    size_t n;

    a->tag.len = 0;
    n = mesh_wire_encode_into (&a->base, buf);
    bad = g_new0 (Sent, 1);
    *bad = *ack;
    bad->payload = g_bytes_new (buf, n);
    deliver (w, bad);
    sent_free (bad);
  }
  pstats (w, 0, &s);
  g_assert_cmpuint (s.acks_bad_tag, ==, 3);

  deliver (w, ack);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 1);
  /* A second copy matches nothing any more. */
  deliver (w, ack);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.acks_unmatched, ==, 1);
  g_assert_cmpuint (count_ev (w, 0, MESH_EVENT_DELIVERED), ==, 1);
  sent_free (ack);
  world_free (w);
}

static Sent *
unknown_hint (World *w, const uint8_t sid[16], int from, int to)
{
  MeshWireAck a = MESHARA__V1__ACKNOWLEDGMENT__INIT;
  uint8_t zero[32] = { 0 };
  uint8_t buf[256];
  Sent *s = g_new0 (Sent, 1);

  a.acked_message_id.data = zero;
  a.acked_message_id.len = 32;
  a.session_id.data = (uint8_t *) sid;
  a.session_id.len = 16;
  a.status = MESH_WIRE_ACK_SESSION_UNKNOWN;
  s->from = from;
  s->type = MESH_WIRE_TYPE_ACK;
  memcpy (s->dest, BUNDLE (w, to)->node_id, 32);
  s->payload = g_bytes_new (buf, mesh_wire_encode_into (&a.base, buf));
  s->ts_ms = EPOCH_MS + w->now / MS;
  return s;
}

static void
test_session_unknown_hint (void)
{
  World *w = world_new (3, NULL);
  uint8_t id[32], sid[16];
  MeshPrivateStats s;
  Sent *hint;
  Ev *e;

  send_text (w, 0, 1, "lost?", id);
  memcpy (sid, mesh_session_get_id (mesh_private_get_out_session (P (w, 0),
                                                                  BUNDLE (w, 1)->node_id)), 16);
  drop_all (w);

  hint = unknown_hint (w, sid, 2, 0);
  deliver (w, hint);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.reopened, ==, 1);
  g_assert_cmpuint (s.sessions_out, ==, 1);
  g_assert_cmpuint (s.pending, ==, 1);
  g_assert_cmpuint (w->sent->len, ==, 1);
  {
    g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[0]);
    g_assert_true (memcmp (pm->session_id.data, sid, 16) != 0);
    g_assert_cmpuint (pm->session_init.len, ==, MESH_SESSION_INIT_LEN);
  }

  /* A hint for the old session now matches nothing; for the new one it
   * is rate-limited. */
  deliver (w, hint);
  sent_free (hint);
  memcpy (sid, mesh_session_get_id (mesh_private_get_out_session (P (w, 0),
                                                                  BUNDLE (w, 1)->node_id)), 16);
  hint = unknown_hint (w, sid, 2, 0);
  deliver (w, hint);
  sent_free (hint);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.reopened, ==, 1);
  g_assert_cmpuint (s.acks_unmatched, ==, 1);
  g_assert_cmpuint (w->sent->len, ==, 1);

  /* Delivered under the new session, reported under the original ID. */
  deliver_all (w);
  e = nth_ev (w, 0, MESH_EVENT_DELIVERED, 0);
  g_assert_nonnull (e);
  g_assert_cmpmem (e->message_id, 32, id, 32);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);

  /* A hint for a session with nothing pending changes nothing. */
  hint = unknown_hint (w, sid, 2, 0);
  w->now += 10 * SEC;
  deliver (w, hint);
  sent_free (hint);
  pstats (w, 0, &s);
  g_assert_cmpuint (s.reopened, ==, 1);
  world_free (w);
}

static void
test_backoff (void)
{
  World *w = world_new (2, NULL);
  uint64_t t0 = w->now, expect;
  uint8_t id[32];
  Ev *e;

  send_text (w, 0, 1, "first", NULL);
  deliver_all (w);      /* the session is acknowledged now */

  send_text (w, 0, 1, "second", id);
  {
    g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[0]);
    g_assert_cmpuint (pm->session_init.len, ==, 0);
  }
  drop_all (w);
  expect = t0;
  /* Eleven retries, the wait doubling from 500 ms up to 4 s. */
  for (unsigned i = 0; i < 11; i++)
    {
      expect += (500 * MS) << MIN (i, MESH_PRIVATE_MAX_BACKOFF_SHIFT);
      g_assert_cmpuint (mesh_private_next_timeout (P (w, 0)), ==, expect);
      /* Not yet. */
      w->now = expect - 1;
      mesh_private_tick (P (w, 0), w->now);
      g_assert_cmpuint (w->sent->len, ==, 0);
      w->now = expect;
      mesh_private_tick (P (w, 0), w->now);
      g_assert_cmpuint (w->sent->len, ==, 1);
      {
        g_autoptr (MeshWirePrivateMessage) pm = decode_sent (w->sent->pdata[0]);
        /* Every retry carries the init again. */
        g_assert_cmpuint (pm->session_init.len, ==, MESH_SESSION_INIT_LEN);
      }
      drop_all (w);
    }
  expect += (500 * MS) << MESH_PRIVATE_MAX_BACKOFF_SHIFT;
  g_assert_cmpuint (expect - t0, ==, 500 * MS * 79);
  g_assert_cmpuint (mesh_private_next_timeout (P (w, 0)), ==, expect);
  w->now = expect;
  mesh_private_tick (P (w, 0), w->now);
  g_assert_cmpuint (w->sent->len, ==, 0);
  e = nth_ev (w, 0, MESH_EVENT_DELIVERY_FAILED, 0);
  g_assert_nonnull (e);
  g_assert_cmpmem (e->message_id, 32, id, 32);
  g_assert_cmpstr (e->reason, ==, "no acknowledgment after 12 attempts");
  g_assert_cmpuint (mesh_private_next_timeout (P (w, 0)), ==, UINT64_MAX);
  world_free (w);
}

static void
test_replay (void)
{
  MeshPrivateConfig c[2];
  World *w;
  MeshPrivateStats s;
  Sent *msg;

  mesh_private_config_init (&c[0]);
  mesh_private_config_init (&c[1]);
  c[1].dup_acks_per_s = 2;
  w = world_new (2, c);
  send_text (w, 0, 1, "only once", NULL);
  msg = g_ptr_array_steal_index (w->sent, 0);
  for (int i = 0; i < 5; i++)
    deliver (w, msg);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.duplicates, ==, 4);
  /* One DELIVERED, then DUPLICATE within the rate (2 per second). */
  g_assert_cmpuint (s.acks_sent, ==, 3);
  g_assert_cmpuint (w->sent->len, ==, 3);
  {
    g_autoptr (MeshWireAck) a = mesh_wire_decode_ack (
        g_bytes_get_data (((Sent *) w->sent->pdata[1])->payload, NULL),
        g_bytes_get_size (((Sent *) w->sent->pdata[1])->payload), NULL);
    g_assert_cmpint (a->status, ==, MESH_WIRE_ACK_DUPLICATE);
  }
  w->now += 1 * SEC;
  deliver (w, msg);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.acks_sent, ==, 4);
  sent_free (msg);

  /* A tampered ciphertext is refused and not acknowledged. */
  send_text (w, 0, 1, "tamper", NULL);
  msg = g_ptr_array_steal_index (w->sent, w->sent->len - 1);
  {
    gsize len;
    uint8_t *p = g_bytes_unref_to_data (msg->payload, &len);

    p[len - 1] ^= 1;
    msg->payload = g_bytes_new_take (p, len);
  }
  drop_all (w);
  deliver (w, msg);
  sent_free (msg);
  pstats (w, 1, &s);
  g_assert_cmpuint (s.rejected, ==, 1);
  g_assert_cmpuint (w->sent->len, ==, 0);
  g_assert_cmpuint (count_ev (w, 1, MESH_EVENT_PRIVATE_RECEIVED), ==, 1);
  world_free (w);
}

static void
test_free_with_pending (void)
{
  World *w = world_new (3, NULL);

  /* Messages in flight, a rekeyed session, incoming sessions: freeing
   * releases it all (valgrind checks). */
  send_text (w, 0, 1, "a", NULL);
  send_text (w, 0, 2, "b", NULL);
  send_text (w, 1, 0, "c", NULL);
  deliver_all (w);
  send_text (w, 0, 1, "d", NULL);
  world_free (w);
}

/* The sender remembers the last recipient's node ID: messages to
 * alternating recipients, each bundle with a wrong node_id field (the
 * caller's copy is not trusted), must each be routed to the node ID
 * derived from the recipient's own key; a message to this node itself is
 * still refused after the remembered key changed. */
static void
test_recipient_memo (void)
{
  static const int order[] = { 1, 2, 1, 1, 2, 2, 1 };
  World *w = world_new (3, NULL);
  uint8_t id[32];

  for (guint k = 0; k < G_N_ELEMENTS (order); k++)
    {
      MeshPublicBundle to = *BUNDLE (w, order[k]);
      const Sent *s;
      guint8 body[4] = { 'm', (guint8) k, 0, 0 };

      memset (to.node_id, 0xaa, sizeof to.node_id);
      g_assert_true (mesh_private_send (P (w, 0), &to, body, sizeof body, 1024,
                                        w->now, id, NULL));
      g_assert_cmpuint (w->sent->len, ==, k + 1);
      s = g_ptr_array_index (w->sent, k);
      g_assert_cmpint (s->type, ==, MESH_WIRE_TYPE_PRIVATE);
      g_assert_cmpmem (s->dest, 32, BUNDLE (w, order[k])->node_id, 32);
    }
  {
    g_autoptr (GError) error = NULL;
    MeshPublicBundle self = *BUNDLE (w, 0);

    memset (self.node_id, 0, sizeof self.node_id);
    g_assert_false (mesh_private_send (P (w, 0), &self, (const uint8_t *) "x", 1,
                                       1024, w->now, id, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  }
  world_free (w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/private/basic", test_basic);
  g_test_add_func ("/private/recipient-memo", test_recipient_memo);
  g_test_add_func ("/private/rekey-handover", test_rekey_handover);
  g_test_add_func ("/private/in-lru", test_in_lru);
  g_test_add_func ("/private/accept-rate-limit", test_accept_rate_limit);
  g_test_add_func ("/private/out-bound", test_out_bound);
  g_test_add_func ("/private/pending-bound", test_pending_bound);
  g_test_add_func ("/private/forged-ack", test_forged_ack);
  g_test_add_func ("/private/session-unknown-hint", test_session_unknown_hint);
  g_test_add_func ("/private/backoff", test_backoff);
  g_test_add_func ("/private/replay", test_replay);
  g_test_add_func ("/private/free-with-pending", test_free_with_pending);
  return g_test_run ();
}
