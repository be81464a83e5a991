/* Gossip: push to a random fanout and never back, announces and pulls
 * that pass the receiver's wire checks, the limits on pulls in flight and
 * on serving, the store bounds, and a deterministic network of 100 nodes
 * (frames through a queue, decoded with lib/wire as an engine would) in
 * which every node gets every broadcast exactly once, with and without
 * frame loss. */
#include "config.h"

#include "engine/gossip.h"
#include "engine/seen.h"
#include "meshara/meshara-error.h"
#include "testutil.h"

#define S(sec) ((uint64_t) (sec) * G_GUINT64_CONSTANT (1000000000))
#define MS(ms) ((uint64_t) (ms) * G_GUINT64_CONSTANT (1000000))
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)

static uint32_t
rng_u32 (TestRng *r)
{
  uint8_t b[4];
  test_rng (r, b, sizeof b);
  return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
         | (uint32_t) b[3] << 24;
}

/* A BROADCAST frame as the engine builds one.  The key and signature are
 * filler: gossip never reads them, and the wire decoder checks only their
 * lengths. */
static GBytes *
make_broadcast (unsigned origin, unsigned seq, uint32_t max_hops,
                size_t content_len, uint8_t id_out[MESH_WIRE_ID_LEN])
{
  MeshWireBroadcast b = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
  MeshWireBaseMessage m = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireRoutingInfo r = MESHARA__V1__ROUTING_INFO__INIT;
  uint8_t key[32], sig[64];
  g_autofree uint8_t *content = g_malloc0 (content_len + 1);
  g_autoptr (GBytes) payload = NULL;
  GError *error = NULL;
  GBytes *frame;

  memset (key, (int) origin + 1, sizeof key);
  memset (sig, 0x55, sizeof sig);
  g_snprintf ((char *) content, content_len + 1, "broadcast %u/%u", origin, seq);
  b.content.data = content;
  b.content.len = content_len;
  b.content_type = (char *) "text/plain";
  payload = mesh_wire_encode (&b.base);

  r.route_type = MESH_WIRE_ROUTE_FLOOD;
  r.max_hops = max_hops;
  m.version = MESH_WIRE_PROTOCOL_VERSION;
  m.type = MESH_WIRE_TYPE_BROADCAST;
  m.timestamp_ms = EPOCH_MS + seq;
  m.sender_public_key.data = key;
  m.sender_public_key.len = sizeof key;
  m.payload.data = (uint8_t *) g_bytes_get_data (payload, &m.payload.len);
  m.signature.data = sig;
  m.signature.len = sizeof sig;
  m.routing = &r;
  mesh_wire_compute_message_id (&m, id_out);
  m.message_id.data = id_out;
  m.message_id.len = MESH_WIRE_ID_LEN;
  frame = mesh_wire_encode_frame (&m, MESH_FRAME_MAX_DEFAULT, &error);
  g_assert_no_error (error);
  return frame;
}

/* A frame gossip treats as opaque bytes: the ID written into filler. */
static void
fake_frame (uint8_t *frame, size_t len, const uint8_t id[32])
{
  memset (frame, 0xab, len);
  frame[0] = (uint8_t) ((len - 4) >> 24);
  frame[1] = (uint8_t) ((len - 4) >> 16);
  frame[2] = (uint8_t) ((len - 4) >> 8);
  frame[3] = (uint8_t) (len - 4);
  memcpy (frame + 4, id, 32);
}

/* Decode a frame gossip sent as its receiver would: the length header,
 * the BaseMessage rules, the message ID, and for link messages the
 * timestamp window at the sender's wall time. */
static MeshWireBaseMessage *
decode_frame (const uint8_t *frame, size_t len, uint64_t now_ns)
{
  GError *error = NULL;
  MeshWireBaseMessage *m;

  g_assert_cmpuint (len, >, MESH_FRAME_HEADER_LEN);
  g_assert_cmpuint (mesh_frame_read_header (frame), ==, len - MESH_FRAME_HEADER_LEN);
  m = mesh_wire_decode_base (frame + MESH_FRAME_HEADER_LEN,
                             len - MESH_FRAME_HEADER_LEN,
                             MESH_FRAME_MAX_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (mesh_wire_check_message_id (m, &error));
  g_assert_no_error (error);
  if (m->type == MESH_WIRE_TYPE_GOSSIP_ANNOUNCE
      || m->type == MESH_WIRE_TYPE_GOSSIP_PULL)
    {
      g_assert_cmpuint (m->timestamp_ms, ==, EPOCH_MS + now_ns / MS (1));
      g_assert_true (mesh_wire_check_base_timestamp (m, EPOCH_MS + now_ns / MS (1),
                                                     &error));
      g_assert_no_error (error);
      g_assert_null (m->routing);
      g_assert_cmpuint (m->sender_public_key.len, ==, 0);
      g_assert_cmpuint (m->signature.len, ==, 0);
    }
  return m;
}

/* ---- A single node whose output is captured */

typedef struct {
  MeshLinkId link;
  GBytes *frame;
} Sent;

typedef struct {
  GArray *sent;        /* Sent */
  gboolean keep;       /* copy frames, else only count */
  uint64_t n_sent;
  TestRng rng;
} Capture;

static void
capture_send (void *user_data, MeshLinkId link, const uint8_t *frame,
              size_t len)
{
  Capture *c = user_data;
  Sent s = { link, NULL };

  c->n_sent++;
  if (!c->keep)
    return;
  s.frame = g_bytes_new (frame, len);
  g_array_append_val (c->sent, s);
}

static void
capture_random (void *user_data, uint8_t *buf, size_t n)
{
  Capture *c = user_data;
  test_rng (&c->rng, buf, n);
}

static void
sent_clear (gpointer p)
{
  Sent *s = p;
  g_bytes_unref (s->frame);
}

static void
capture_init (Capture *c, guint64 seed)
{
  c->sent = g_array_new (FALSE, FALSE, sizeof (Sent));
  g_array_set_clear_func (c->sent, sent_clear);
  c->keep = TRUE;
  c->n_sent = 0;
  c->rng.state = seed;
}

static void
capture_reset (Capture *c)
{
  g_array_set_size (c->sent, 0);
}

static void
capture_free (Capture *c)
{
  g_array_unref (c->sent);
}

static const MeshGossipCallbacks capture_callbacks = {
  capture_send, capture_random,
};

static MeshGossip *
capture_node (const MeshGossipConfig *config, Capture *c, unsigned n_links,
              uint64_t now)
{
  GError *error = NULL;
  MeshGossip *g = mesh_gossip_new (config, &capture_callbacks, c, now, &error);

  g_assert_no_error (error);
  for (unsigned i = 1; i <= n_links; i++)
    {
      g_assert_true (mesh_gossip_link_up (g, i, now, &error));
      g_assert_no_error (error);
    }
  return g;
}

static void
test_config (void)
{
  MeshGossipConfig c;
  Capture cap;
  GError *error = NULL;
  MeshGossip *g;
  struct {
    const char *field;
    MeshGossipConfig c;
  } cases[16];
  size_t n = 0;

  mesh_gossip_config_init (&c);
  g_assert_cmpuint (c.fanout, ==, 10);
  g_assert_cmpuint (c.announce_max_ids, <=, MESH_WIRE_MAX_GOSSIP_IDS);
  capture_init (&cap, 1);
  g = mesh_gossip_new (&c, &capture_callbacks, &cap, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g);
  mesh_gossip_free (g);

#define CASE(name, stmt) \
  do { cases[n].field = name; mesh_gossip_config_init (&cases[n].c); \
       { MeshGossipConfig *x = &cases[n].c; stmt; } n++; } while (0)
  CASE ("fanout", x->fanout = 0);
  CASE ("fanout", x->fanout = MESH_GOSSIP_MAX_FANOUT + 1);
  CASE ("announce_max_ids", x->announce_max_ids = MESH_WIRE_MAX_GOSSIP_IDS + 1);
  CASE ("store_max_age_ns", x->store_max_age_ns = 0);
  CASE ("store_max_frames", x->store_max_frames = MESH_SEEN_MAX_CAPACITY + 1);
  CASE ("max_frame_size", x->max_frame_size = 1024);
  CASE ("announce_rounds", x->announce_rounds = MESH_GOSSIP_MAX_ROUNDS + 1);
  CASE ("max_pulls_per_link", x->max_pulls_per_link = 0);
  CASE ("announce_interval_ns", x->announce_interval_ns = 0);
  CASE ("serve_frames_per_s", x->serve_frames_per_s = 0);
  CASE ("max_links", x->max_links = 0);
#undef CASE
  for (size_t i = 0; i < n; i++)
    {
      g = mesh_gossip_new (&cases[i].c, &capture_callbacks, &cap, 0, &error);
      g_assert_null (g);
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, cases[i].field));
      g_clear_error (&error);
    }

  /* Limits that derive from others are cut to them: the store never
   * outlives the seen-cache. */
  {
    g_autoptr (MeshGossip) small = NULL;
    MeshGossipStats st;

    mesh_gossip_config_init (&c);
    c.seen_capacity = 100;
    c.seen_max_age_ns = S (30);
    cap.keep = FALSE;
    small = mesh_gossip_new (&c, &capture_callbacks, &cap, 0, &error);
    g_assert_no_error (error);
    for (unsigned i = 0; i < 500; i++)
      {
        uint8_t id[32], fr[64];

        test_rng (&cap.rng, id, sizeof id);
        fake_frame (fr, sizeof fr, id);
        g_assert_true (mesh_gossip_publish (small, id, fr, sizeof fr, S (1)));
        if (i == 0)
          {
            g_assert_nonnull (mesh_gossip_lookup (small, id, S (31) - 1, NULL));
            g_assert_null (mesh_gossip_lookup (small, id, S (31), NULL));
          }
      }
    mesh_gossip_get_stats (small, &st);
    g_assert_cmpuint (st.seen, ==, 100);
    g_assert_cmpuint (st.stored, ==, 100);
  }

  {
    MeshGossipCallbacks none = { NULL, capture_random };
    g = mesh_gossip_new (&c, &none, &cap, 0, &error);
    g_assert_null (g);
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  capture_free (&cap);
}

static void
test_links (void)
{
  MeshGossipConfig c;
  Capture cap;
  GError *error = NULL;
  g_autoptr (MeshGossip) g = NULL;
  MeshGossipStats st;

  mesh_gossip_config_init (&c);
  c.max_links = 3;
  capture_init (&cap, 2);
  g = capture_node (&c, &cap, 0, 0);

  g_assert_false (mesh_gossip_link_up (g, MESH_LINK_NONE, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (mesh_gossip_link_up (g, 7, 0, NULL));
  g_assert_false (mesh_gossip_link_up (g, 7, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (mesh_gossip_link_up (g, 8, 0, NULL));
  g_assert_true (mesh_gossip_link_up (g, 9, 0, NULL));
  g_assert_false (mesh_gossip_link_up (g, 10, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_clear_error (&error);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.links, ==, 3);

  mesh_gossip_link_down (g, 42, 0);   /* unknown: nothing */
  mesh_gossip_link_down (g, 8, 0);
  g_assert_true (mesh_gossip_link_up (g, 10, 0, NULL));
  mesh_gossip_link_down (g, 7, 0);
  mesh_gossip_link_down (g, 9, 0);
  mesh_gossip_link_down (g, 10, 0);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.links, ==, 0);

  /* Without links a publish reaches nobody, but is kept. */
  {
    uint8_t id[32] = { 1 }, frame[100];

    fake_frame (frame, sizeof frame, id);
    g_assert_true (mesh_gossip_publish (g, id, frame, sizeof frame, 0));
    g_assert_cmpuint (cap.n_sent, ==, 0);
    g_assert_nonnull (mesh_gossip_lookup (g, id, 0, NULL));
  }
  capture_free (&cap);
}

static void
test_publish (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  g_autoptr (GBytes) frame = NULL;
  uint8_t id[32];
  gsize len;
  const uint8_t *data, *stored;
  size_t stored_len;
  MeshGossipStats st;

  mesh_gossip_config_init (&c);
  capture_init (&cap, 3);
  g = capture_node (&c, &cap, 3, 0);
  frame = make_broadcast (0, 1, 16, 40, id);
  data = g_bytes_get_data (frame, &len);

  g_assert_true (mesh_gossip_is_new (g, MESH_LINK_NONE, id, 0));
  g_assert_true (mesh_gossip_publish (g, id, data, len, 0));
  /* Fewer links than the fanout: all of them, the frame as given. */
  g_assert_cmpuint (cap.sent->len, ==, 3);
  for (guint i = 0; i < cap.sent->len; i++)
    {
      Sent *s = &g_array_index (cap.sent, Sent, i);
      g_assert_true (g_bytes_equal (s->frame, frame));
      for (guint j = 0; j < i; j++)
        g_assert_cmpuint (g_array_index (cap.sent, Sent, j).link, !=, s->link);
    }
  stored = mesh_gossip_lookup (g, id, 0, &stored_len);
  g_assert_nonnull (stored);
  g_assert_cmpmem (stored, stored_len, data, len);

  /* Seen now: a second publish, or the same message coming back, does
   * nothing. */
  capture_reset (&cap);
  g_assert_false (mesh_gossip_is_new (g, MESH_LINK_NONE, id, 1));
  g_assert_false (mesh_gossip_publish (g, id, data, len, 1));
  g_assert_false (mesh_gossip_accept (g, 2, id, data, len, 1));
  g_assert_cmpuint (cap.sent->len, ==, 0);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.published, ==, 1);
  g_assert_cmpuint (st.accepted, ==, 0);
  g_assert_cmpuint (st.duplicates, ==, 1);
  g_assert_cmpuint (st.pushes, ==, 3);
  g_assert_cmpuint (st.seen, ==, 1);
  g_assert_cmpuint (st.stored, ==, 1);
  capture_free (&cap);
}

/* More links than the fanout: exactly fanout distinct links, never the
 * sender, spread over all the others. */
static void
test_fanout (void)
{
  const unsigned n_links = 20, rounds = 400;
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  unsigned hits[21] = { 0 };
  uint8_t frame[200];
  MeshGossipStats st;

  mesh_gossip_config_init (&c);
  c.fanout = 5;
  capture_init (&cap, 4);
  g = capture_node (&c, &cap, n_links, 0);

  for (unsigned k = 0; k < rounds; k++)
    {
      uint8_t id[32];
      gboolean used[21] = { FALSE };

      capture_reset (&cap);
      test_rng (&cap.rng, id, sizeof id);
      fake_frame (frame, sizeof frame, id);
      g_assert_true (mesh_gossip_accept (g, 3, id, frame, sizeof frame, k));
      g_assert_cmpuint (cap.sent->len, ==, 5);
      for (guint i = 0; i < cap.sent->len; i++)
        {
          MeshLinkId l = g_array_index (cap.sent, Sent, i).link;
          g_assert_cmpuint (l, >=, 1);
          g_assert_cmpuint (l, <=, n_links);
          g_assert_cmpuint (l, !=, 3);
          g_assert_false (used[l]);
          used[l] = TRUE;
          hits[l]++;
        }
    }
  /* 400 * 5 / 19 = 105 each on average. */
  for (unsigned l = 1; l <= n_links; l++)
    if (l == 3)
      g_assert_cmpuint (hits[l], ==, 0);
    else
      {
        g_assert_cmpuint (hits[l], >=, 60);
        g_assert_cmpuint (hits[l], <=, 150);
      }
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.pushes, ==, rounds * 5);
  g_assert_cmpuint (st.accepted, ==, rounds);

  /* Own messages have no sender to spare: fanout of all 20. */
  {
    uint8_t id[32] = { 0xee };

    capture_reset (&cap);
    fake_frame (frame, sizeof frame, id);
    g_assert_true (mesh_gossip_publish (g, id, frame, sizeof frame, rounds));
    g_assert_cmpuint (cap.sent->len, ==, 5);
  }
  capture_free (&cap);
}

/* Hop budget spent: remembered, not stored, not forwarded. */
static void
test_accept_last_hop (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t id[32] = { 7 }, frame[64];
  MeshGossipStats st;

  mesh_gossip_config_init (&c);
  capture_init (&cap, 5);
  g = capture_node (&c, &cap, 4, 0);
  g_assert_true (mesh_gossip_accept (g, 1, id, NULL, 0, 0));
  g_assert_cmpuint (cap.sent->len, ==, 0);
  g_assert_false (mesh_gossip_is_new (g, MESH_LINK_NONE, id, 1));
  g_assert_null (mesh_gossip_lookup (g, id, 1, NULL));
  fake_frame (frame, sizeof frame, id);
  g_assert_false (mesh_gossip_accept (g, 2, id, frame, sizeof frame, 1));
  g_assert_cmpuint (cap.sent->len, ==, 0);
  /* Nothing stored, nothing to announce. */
  mesh_gossip_tick (g, S (5));
  g_assert_cmpuint (cap.sent->len, ==, 0);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.stored, ==, 0);
  g_assert_cmpuint (st.seen, ==, 1);
  capture_free (&cap);
}

static MeshWireGossipAnnounce *
announce_of (uint8_t (*ids)[32], size_t n)
{
  MeshWireGossipAnnounce *a = g_new0 (MeshWireGossipAnnounce, 1);

  meshara__v1__gossip_announce__init (a);
  a->n_message_ids = n;
  a->message_ids = g_new0 (ProtobufCBinaryData, n);
  for (size_t i = 0; i < n; i++)
    {
      a->message_ids[i].data = ids[i];
      a->message_ids[i].len = 32;
    }
  return a;
}

static void
announce_free (MeshWireGossipAnnounce *a)
{
  g_free (a->message_ids);
  g_free (a);
}

/* The IDs of the announces sent to link. */
static GPtrArray *
announced_to (Capture *cap, MeshLinkId link, uint64_t now, unsigned *n_announces)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < cap->sent->len; i++)
    {
      Sent *s = &g_array_index (cap->sent, Sent, i);
      gsize len;
      const uint8_t *f = g_bytes_get_data (s->frame, &len);
      g_autoptr (MeshWireBaseMessage) m = decode_frame (f, len, now);
      g_autoptr (MeshWireGossipAnnounce) a = NULL;
      GError *error = NULL;

      g_assert_cmpint (m->type, ==, MESH_WIRE_TYPE_GOSSIP_ANNOUNCE);
      if (s->link != link)
        continue;
      a = (MeshWireGossipAnnounce *) mesh_wire_decode_payload (m, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (a->n_message_ids, >, 0);
      for (size_t k = 0; k < a->n_message_ids; k++)
        g_ptr_array_add (ids, g_memdup2 (a->message_ids[k].data, 32));
      if (n_announces)
        (*n_announces)++;
    }
  return ids;
}

static gboolean
ids_contain (GPtrArray *ids, const uint8_t *id)
{
  for (guint i = 0; i < ids->len; i++)
    if (memcmp (ids->pdata[i], id, 32) == 0)
      return TRUE;
  return FALSE;
}

/* Announces: valid link messages, newest first, never the IDs a link sent
 * us, each ID offered to each link announce_rounds times, the links taken
 * in a cycle that reaches each once before any twice. */
static void
test_announce (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t a[32] = { 0xa }, b[32] = { 0xb }, fr[128];
  unsigned offered[5] = { 0 }, turns[5] = { 0 };
  uint64_t now = 0;

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.announce_links = 1;
  c.announce_rounds = 2;
  c.announce_window_ns = 0;
  capture_init (&cap, 6);
  g = capture_node (&c, &cap, 4, 0);
  g_assert_cmpuint (mesh_gossip_next_timeout (g), ==, S (1));

  fake_frame (fr, sizeof fr, a);
  g_assert_true (mesh_gossip_accept (g, 2, a, fr, sizeof fr, MS (10)));
  fake_frame (fr, sizeof fr, b);
  g_assert_true (mesh_gossip_publish (g, b, fr, sizeof fr, MS (20)));

  /* Not due yet. */
  capture_reset (&cap);
  mesh_gossip_tick (g, S (1) - 1);
  g_assert_cmpuint (cap.sent->len, ==, 0);

  for (unsigned t = 1; t <= 12; t++)
    {
      now = S (t);
      g_assert_cmpuint (mesh_gossip_next_timeout (g), <=, now);
      capture_reset (&cap);
      mesh_gossip_tick (g, now);
      g_assert_cmpuint (mesh_gossip_next_timeout (g), ==, now + S (1));
      /* One link per tick: one announce, unless it had nothing new. */
      g_assert_cmpuint (cap.sent->len, <=, 1);
      for (MeshLinkId l = 1; l <= 4; l++)
        {
          unsigned n = 0;
          g_autoptr (GPtrArray) ids = announced_to (&cap, l, now, &n);

          turns[l] += n;
          if (n == 0)
            continue;
          /* Newest first. */
          if (ids->len == 2)
            {
              g_assert_cmpmem (ids->pdata[0], 32, b, 32);
              g_assert_cmpmem (ids->pdata[1], 32, a, 32);
            }
          g_assert_cmpint (ids_contain (ids, a), ==, l != 2);
          g_assert_true (ids_contain (ids, b));
          offered[l]++;
        }
    }
  /* Each link had turns 1..3 in 12 ticks; the first two offered both IDs
   * (link 2 only b), later turns had nothing new to say. */
  for (MeshLinkId l = 1; l <= 4; l++)
    {
      g_assert_cmpuint (offered[l], ==, 2);
      g_assert_cmpuint (turns[l], ==, 2);
    }
  capture_free (&cap);
}

/* What a link is known to have is not offered to it: what it sent us,
 * duplicates included, and what it announced.  The rest is offered on
 * every turn for the announce window. */
static void
test_announce_known (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t x[32] = { 0x58 }, y[32] = { 0x59 }, fr[64];
  MeshWireGossipAnnounce *a;
  unsigned offered_y[4] = { 0 };

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.announce_links = 3;
  capture_init (&cap, 12);
  g = capture_node (&c, &cap, 3, 0);

  fake_frame (fr, sizeof fr, x);
  g_assert_true (mesh_gossip_accept (g, 1, x, fr, sizeof fr, MS (100)));
  g_assert_false (mesh_gossip_is_new (g, 2, x, MS (110)));
  a = announce_of (&x, 1);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 3, a, MS (120)), ==, 0);
  announce_free (a);
  capture_reset (&cap);

  /* All three have x: nothing to announce. */
  mesh_gossip_tick (g, S (1));
  g_assert_cmpuint (cap.sent->len, ==, 0);

  fake_frame (fr, sizeof fr, y);
  g_assert_true (mesh_gossip_publish (g, y, fr, sizeof fr, S (1) + MS (500)));
  for (unsigned t = 2; t <= 30; t++)
    {
      capture_reset (&cap);
      mesh_gossip_tick (g, S (t));
      for (MeshLinkId l = 1; l <= 3; l++)
        {
          unsigned n = 0;
          g_autoptr (GPtrArray) ids = announced_to (&cap, l, S (t), &n);

          g_assert_false (ids_contain (ids, x));
          if (ids_contain (ids, y))
            {
              offered_y[l]++;
              g_assert_cmpuint (t, <=, 21);
            }
        }
    }
  /* Ticks 2 .. 21: y is younger than the window of 20 s. */
  for (MeshLinkId l = 1; l <= 3; l++)
    g_assert_cmpuint (offered_y[l], ==, 20);

  /* Once a link says it has y, it is spared. */
  a = announce_of (&y, 1);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 2, a, S (30)), ==, 0);
  announce_free (a);
  capture_reset (&cap);
  mesh_gossip_tick (g, S (31));
  {
    g_autoptr (GPtrArray) ids = announced_to (&cap, 2, S (31), NULL);
    g_assert_false (ids_contain (ids, y));
  }
  capture_free (&cap);
}

/* With several links per tick and new IDs every tick, the cycle gives
 * each link the same number of turns and never two in one tick. */
static void
test_announce_cycle (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  unsigned turns[11] = { 0 };
  uint8_t fr[64];

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.announce_links = 3;
  capture_init (&cap, 7);
  g = capture_node (&c, &cap, 10, 0);

  for (unsigned t = 1; t <= 40; t++)
    {
      uint8_t id[32] = { 0 };
      gboolean this_tick[11] = { FALSE };

      id[0] = (uint8_t) t;
      fake_frame (fr, sizeof fr, id);
      g_assert_true (mesh_gossip_publish (g, id, fr, sizeof fr, S (t) - MS (500)));
      capture_reset (&cap);
      mesh_gossip_tick (g, S (t));
      /* The publish pushed to all 10 links; the rest are announces. */
      g_assert_cmpuint (cap.sent->len, ==, 3);
      for (guint i = 0; i < cap.sent->len; i++)
        {
          MeshLinkId l = g_array_index (cap.sent, Sent, i).link;
          g_assert_false (this_tick[l]);
          this_tick[l] = TRUE;
          turns[l]++;
        }
      capture_reset (&cap);
    }
  /* 120 turns over 10 links. */
  for (unsigned l = 1; l <= 10; l++)
    g_assert_cmpuint (turns[l], ==, 12);
  capture_free (&cap);
}

/* The IDs of the single GossipPull in cap, which went to link. */
static GPtrArray *
pulled_ids (Capture *cap, MeshLinkId link, uint64_t now)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  g_assert_cmpuint (cap->sent->len, <=, 1);
  for (guint i = 0; i < cap->sent->len; i++)
    {
      Sent *s = &g_array_index (cap->sent, Sent, i);
      gsize len;
      const uint8_t *f = g_bytes_get_data (s->frame, &len);
      g_autoptr (MeshWireBaseMessage) m = decode_frame (f, len, now);
      g_autoptr (MeshWireGossipPull) p = NULL;
      GError *error = NULL;

      g_assert_cmpuint (s->link, ==, link);
      g_assert_cmpint (m->type, ==, MESH_WIRE_TYPE_GOSSIP_PULL);
      p = (MeshWireGossipPull *) mesh_wire_decode_payload (m, &error);
      g_assert_no_error (error);
      for (size_t k = 0; k < p->n_message_ids; k++)
        g_ptr_array_add (ids, g_memdup2 (p->message_ids[k].data, 32));
    }
  return ids;
}

/* Announce in, pull out: only what is neither seen nor in flight, again
 * after the pull timeout, never past the limits. */
static void
test_pull (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t ids[1024][32];
  MeshWireGossipAnnounce *a;
  GPtrArray *got;
  TestRng r = { .state = 99 };
  uint8_t fr[64];
  MeshGossipStats st;

  for (unsigned i = 0; i < 1024; i++)
    test_rng (&r, ids[i], 32);

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.max_pulls_in_flight = 300;
  c.max_pulls_per_link = 200;
  c.pull_timeout_ns = S (2);
  capture_init (&cap, 8);
  g = capture_node (&c, &cap, 3, 0);

  /* ids[0] seen already. */
  fake_frame (fr, sizeof fr, ids[0]);
  g_assert_true (mesh_gossip_accept (g, 3, ids[0], fr, sizeof fr, 0));
  capture_reset (&cap);

  a = announce_of (ids, 4);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 1, a, MS (100)), ==, 3);
  got = pulled_ids (&cap, 1, MS (100));
  g_assert_cmpuint (got->len, ==, 3);
  for (unsigned i = 0; i < 3; i++)
    g_assert_cmpmem (got->pdata[i], 32, ids[i + 1], 32);
  g_ptr_array_unref (got);

  /* In flight: another announce of the same, from any link, pulls nothing. */
  capture_reset (&cap);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 2, a, MS (200)), ==, 0);
  g_assert_cmpuint (cap.sent->len, ==, 0);

  /* ids[1] arrives (through the pull); ids[2], ids[3] do not. */
  fake_frame (fr, sizeof fr, ids[1]);
  g_assert_true (mesh_gossip_accept (g, 1, ids[1], fr, sizeof fr, MS (300)));
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.pulled, ==, 1);
  g_assert_cmpuint (st.in_flight, ==, 2);
  capture_reset (&cap);

  /* After the timeout the missing ones are asked again, of whoever
   * announces them. */
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 2, a, MS (2099)), ==, 0);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 2, a, MS (2100)), ==, 2);
  got = pulled_ids (&cap, 2, MS (2100));
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpmem (got->pdata[0], 32, ids[2], 32);
  g_assert_cmpmem (got->pdata[1], 32, ids[3], 32);
  g_ptr_array_unref (got);
  announce_free (a);

  /* A link that goes down frees its pulls at once. */
  mesh_gossip_link_down (g, 2, MS (2200));
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.in_flight, ==, 0);
  g_assert_true (mesh_gossip_link_up (g, 2, MS (2200), NULL));

  /* Limits: 200 per link, 300 in all. */
  capture_reset (&cap);
  a = announce_of (ids + 4, 1000);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 1, a, S (3)), ==, 200);
  got = pulled_ids (&cap, 1, S (3));
  g_assert_cmpuint (got->len, ==, 200);
  g_ptr_array_unref (got);
  capture_reset (&cap);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 2, a, S (3)), ==, 100);
  capture_reset (&cap);
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 3, a, S (3)), ==, 0);
  g_assert_cmpuint (cap.sent->len, ==, 0);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.in_flight, ==, 300);
  g_assert_cmpuint (st.pulls_sent, ==, 4);
  g_assert_cmpuint (st.pull_ids_sent, ==, 3 + 2 + 200 + 100);
  g_assert_cmpuint (st.pull_refused, >, 0);

  /* An unknown link is ignored. */
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 77, a, S (3)), ==, 0);
  /* All expire together, then pulls resume. */
  g_assert_cmpuint (mesh_gossip_handle_announce (g, 3, a, S (5)), ==, 200);
  announce_free (a);
  capture_free (&cap);
}

static MeshWireGossipPull *
pull_of (uint8_t (*ids)[32], size_t n)
{
  return (MeshWireGossipPull *) announce_of (ids, n);
}

/* Serving pulls: nothing for unknown IDs, at most serve_max_per_pull per
 * pull, and a flood from one link held to its rate without touching the
 * others. */
static void
test_serve (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t ids[200][32], unknown[8][32];
  TestRng r = { .state = 1000 };
  MeshWireGossipPull *p;
  uint8_t fr[1000];
  MeshGossipStats st;
  uint64_t now, served;

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.serve_max_per_pull = 64;
  c.serve_frames_per_s = 100;
  c.serve_bytes_per_s = 1 << 20;
  capture_init (&cap, 9);
  g = capture_node (&c, &cap, 3, 0);
  for (unsigned i = 0; i < 200; i++)
    {
      test_rng (&r, ids[i], 32);
      fake_frame (fr, sizeof fr, ids[i]);
      g_assert_true (mesh_gossip_publish (g, ids[i], fr, sizeof fr, 0));
    }
  for (unsigned i = 0; i < 8; i++)
    test_rng (&r, unknown[i], 32);
  capture_reset (&cap);
  cap.keep = FALSE;
  cap.n_sent = 0;

  /* Unknown IDs: no answer at all. */
  p = pull_of (unknown, 8);
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 1, p, 1), ==, 0);
  g_assert_cmpuint (cap.n_sent, ==, 0);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.serve_unknown, ==, 8);
  announce_free ((MeshWireGossipAnnounce *) p);

  /* One pull of 200 stored IDs: 64 frames. */
  cap.keep = TRUE;
  p = pull_of (ids, 200);
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 1, p, 2), ==, 64);
  g_assert_cmpuint (cap.sent->len, ==, 64);
  for (guint i = 0; i < cap.sent->len; i++)
    {
      Sent *s = &g_array_index (cap.sent, Sent, i);
      gsize len;
      const uint8_t *f = g_bytes_get_data (s->frame, &len);

      g_assert_cmpuint (s->link, ==, 1);
      g_assert_cmpuint (len, ==, sizeof fr);
      g_assert_cmpmem (f + 4, 32, ids[i], 32);
    }
  capture_reset (&cap);
  cap.keep = FALSE;
  cap.n_sent = 0;

  /* A flood of pulls from link 1 over 3 seconds: what was left of the
   * one-second bucket (36) plus 100 per second. */
  now = 2;
  served = 0;
  for (unsigned k = 0; k < 3000; k++)
    {
      now += MS (1);
      served += mesh_gossip_handle_pull (g, 1, p, now);
    }
  g_assert_cmpuint (served, ==, cap.n_sent);
  g_assert_cmpuint (served, <=, 36 + 300 + 1);
  g_assert_cmpuint (served, >=, 36 + 300 - 2);
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.serve_refused, >, 3000 * 100);

  /* Link 2 has its own bucket. */
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 2, p, now), ==, 64);
  /* A quiet second refills link 1, to one second's worth at most. */
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 1, p, now + S (10)), ==, 64);
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 1, p, now + S (10)), ==, 36);
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 1, p, now + S (10)), ==, 0);
  /* Unknown link: ignored. */
  g_assert_cmpuint (mesh_gossip_handle_pull (g, 99, p, now + S (10)), ==, 0);
  announce_free ((MeshWireGossipAnnounce *) p);
  capture_free (&cap);
}

/* The byte bucket: large frames are served at the byte rate. */
static void
test_serve_bytes (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  uint8_t ids[4][32];
  const size_t big = 300 * 1024;
  g_autofree uint8_t *fr = g_malloc (big);
  MeshWireGossipPull *p;
  uint64_t bytes = 0;

  mesh_gossip_config_init (&c);
  c.serve_bytes_per_s = 1 << 20;
  capture_init (&cap, 10);
  cap.keep = FALSE;
  g = capture_node (&c, &cap, 1, 0);
  for (unsigned i = 0; i < 4; i++)
    {
      memset (ids[i], i + 1, 32);
      fake_frame (fr, big, ids[i]);
      g_assert_true (mesh_gossip_publish (g, ids[i], fr, big, 0));
    }
  p = pull_of (ids, 4);
  for (unsigned k = 0; k < 1000; k++)
    bytes += big * mesh_gossip_handle_pull (g, 1, p, MS (5 * k + 1));
  /* 5 seconds at 1 MiB/s plus the first second's bucket, and at most one
   * frame over. */
  g_assert_cmpuint (bytes, <=, 6 * (1 << 20) + big);
  g_assert_cmpuint (bytes, >=, 6 * (1 << 20) - big);
  announce_free ((MeshWireGossipAnnounce *) p);
  capture_free (&cap);
}

/* 100,000 messages through one node: the seen-cache and the store stay
 * within their bounds, and memory stops growing once they are full. */
static void
test_store_bounds (void)
{
  MeshGossipConfig c;
  Capture cap;
  g_autoptr (MeshGossip) g = NULL;
  g_autoptr (MeshGossip) small = NULL;
  uint8_t fr[300], id[32];
  MeshGossipStats st;
  size_t mem_full = 0;

  mesh_gossip_config_init (&c);
  capture_init (&cap, 11);
  cap.keep = FALSE;
  g = capture_node (&c, &cap, 3, 0);
  for (unsigned i = 0; i < 100000; i++)
    {
      test_rng (&cap.rng, id, sizeof id);
      fake_frame (fr, sizeof fr, id);
      g_assert_true (mesh_gossip_accept (g, 1 + i % 3, id, fr, sizeof fr, MS (i)));
      if (i == 70000)
        {
          mesh_gossip_get_stats (g, &st);
          mem_full = st.memory;
        }
    }
  mesh_gossip_get_stats (g, &st);
  g_assert_cmpuint (st.seen, ==, c.seen_capacity);
  g_assert_cmpuint (st.stored, ==, c.store_max_frames);
  g_assert_cmpuint (st.store_bytes, <=, c.store_max_bytes);
  g_assert_cmpuint (st.memory, ==, mem_full);
  g_assert_cmpuint (st.store_evictions, ==, 100000 - c.store_max_frames);
  g_assert_cmpuint (st.pushes, ==, 2 * 100000);
  g_test_message ("gossip node, defaults, full: %zu bytes", st.memory);
  /* Budget: seen 56 B/ID, store 64 B/frame plus the frames. */
  g_assert_cmpuint (st.memory, <=, (size_t) c.seen_capacity * 56
                    + (size_t) c.store_max_frames * (64 + sizeof fr + 8)
                    + 2 * (size_t) c.max_pulls_in_flight * 64 + 64 * 1024);

  /* A byte bound below the frame bound is the one that holds. */
  c.store_max_bytes = 64 * 1024;
  c.seen_capacity = 10000;
  small = capture_node (&c, &cap, 3, 0);
  for (unsigned i = 0; i < 100000; i++)
    {
      size_t len = 100 + i % 200;

      test_rng (&cap.rng, id, sizeof id);
      fake_frame (fr, len, id);
      g_assert_true (mesh_gossip_accept (small, 1, id, fr, len, MS (i)));
      if (i % 997 == 0)
        {
          mesh_gossip_get_stats (small, &st);
          g_assert_cmpuint (st.store_bytes, <=, c.store_max_bytes);
        }
    }
  mesh_gossip_get_stats (small, &st);
  g_assert_cmpuint (st.seen, ==, 10000);
  g_assert_cmpuint (st.stored, <, 64 * 1024 / 100);
  g_assert_cmpuint (st.stored, >, 64 * 1024 / 320);
  /* A frame larger than the whole store is pushed, not kept. */
  {
    g_autofree uint8_t *huge = g_malloc (100 * 1024);

    test_rng (&cap.rng, id, sizeof id);
    fake_frame (huge, 100 * 1024, id);
    cap.n_sent = 0;
    g_assert_true (mesh_gossip_accept (small, 1, id, huge, 100 * 1024, S (200)));
    g_assert_cmpuint (cap.n_sent, ==, 2);
    g_assert_null (mesh_gossip_lookup (small, id, S (200), NULL));
  }
  /* Aging empties the store on the tick. */
  mesh_gossip_tick (small, S (1000));
  mesh_gossip_get_stats (small, &st);
  g_assert_cmpuint (st.stored, ==, 0);
  g_assert_cmpuint (st.store_bytes, ==, 0);
  capture_free (&cap);
}

/* ---- A network of gossip nodes */

#define NET_MAX_DEG 9

typedef struct Net Net;

typedef struct {
  Net *net;
  unsigned index;
  MeshGossip *g;
  TestRng rng;
} Node;

typedef struct {
  unsigned from, to;
  GBytes *frame;
} Packet;

struct Net {
  unsigned n;
  Node *nodes;
  unsigned (*adj)[NET_MAX_DEG];
  unsigned *deg;
  unsigned edges;
  GQueue queue;
  TestRng loss_rng;
  unsigned loss_permille;
  uint64_t now;
  uint64_t interval;
  /* Broadcasts: index by ID, origin, deliveries per node. */
  GHashTable *index;       /* GBytes id -> b + 1 */
  unsigned nb, nb_alloc;
  unsigned *origin;
  uint8_t *delivered;      /* [b * n + node] */
  int *first_from;         /* [b * n + node]: the neighbour it came from */
  uint64_t frames, lost, bcast_frames;
};

static gboolean
net_adjacent (Net *net, unsigned a, unsigned b)
{
  for (unsigned k = 0; k < net->deg[a]; k++)
    if (net->adj[a][k] == b)
      return TRUE;
  return FALSE;
}

static void
net_send (void *user_data, MeshLinkId link, const uint8_t *frame, size_t len)
{
  Node *node = user_data;
  Net *net = node->net;
  Packet *p;

  g_assert_cmpuint (link, >=, 1);
  g_assert_true (net_adjacent (net, node->index, link - 1));
  net->frames++;
  if (rng_u32 (&net->loss_rng) % 1000 < net->loss_permille)
    {
      net->lost++;
      return;
    }
  p = g_new (Packet, 1);
  p->from = node->index;
  p->to = link - 1;
  p->frame = g_bytes_new (frame, len);
  g_queue_push_tail (&net->queue, p);
}

static void
net_random (void *user_data, uint8_t *buf, size_t n)
{
  Node *node = user_data;
  test_rng (&node->rng, buf, n);
}

static const MeshGossipCallbacks net_callbacks = { net_send, net_random };

/* A ring (so the graph is connected) plus random chords until every node
 * has degree 6, none more than NET_MAX_DEG. */
static Net *
net_new (unsigned n, unsigned nb_max, const MeshGossipConfig *config,
         guint64 seed)
{
  Net *net = g_new0 (Net, 1);
  TestRng r = { .state = seed };

  net->n = n;
  net->nodes = g_new0 (Node, n);
  net->adj = g_malloc0 (n * sizeof *net->adj);
  net->deg = g_new0 (unsigned, n);
  net->loss_rng.state = seed ^ 0x1055;
  net->interval = config->announce_interval_ns;
  net->index = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                      (GDestroyNotify) g_bytes_unref, NULL);
  net->nb_alloc = nb_max;
  net->origin = g_new0 (unsigned, nb_max);
  net->delivered = g_new0 (uint8_t, (size_t) nb_max * n);
  net->first_from = g_new (int, (size_t) nb_max * n);
  for (size_t i = 0; i < (size_t) nb_max * n; i++)
    net->first_from[i] = -1;

#define ADD_EDGE(a, b) \
  do { net->adj[a][net->deg[a]++] = (b); net->adj[b][net->deg[b]++] = (a); \
       net->edges++; } while (0)
  for (unsigned i = 0; i < n; i++)
    ADD_EDGE (i, (i + 1) % n);
  for (unsigned i = 0; i < n; i++)
    for (unsigned tries = 0; net->deg[i] < 6 && tries < 10000; tries++)
      {
        unsigned j = rng_u32 (&r) % n;
        if (j != i && net->deg[j] < NET_MAX_DEG && !net_adjacent (net, i, j))
          ADD_EDGE (i, j);
      }
#undef ADD_EDGE

  for (unsigned i = 0; i < n; i++)
    {
      GError *error = NULL;
      Node *node = &net->nodes[i];

      g_assert_cmpuint (net->deg[i], >=, 3);
      node->net = net;
      node->index = i;
      node->rng.state = seed * 1000 + i;
      node->g = mesh_gossip_new (config, &net_callbacks, node, 0, &error);
      g_assert_no_error (error);
      for (unsigned k = 0; k < net->deg[i]; k++)
        {
          g_assert_true (mesh_gossip_link_up (node->g, net->adj[i][k] + 1, 0,
                                              &error));
          g_assert_no_error (error);
        }
    }
  return net;
}

static void
packet_free (gpointer data)
{
  Packet *p = data;
  g_bytes_unref (p->frame);
  g_free (p);
}

static void
net_free (Net *net)
{
  for (unsigned i = 0; i < net->n; i++)
    mesh_gossip_free (net->nodes[i].g);
  g_queue_clear_full (&net->queue, packet_free);
  g_hash_table_unref (net->index);
  g_free (net->nodes);
  g_free (net->adj);
  g_free (net->deg);
  g_free (net->origin);
  g_free (net->delivered);
  g_free (net->first_from);
  g_free (net);
}

/* What an engine does with a frame from a neighbour. */
static void
net_dispatch (Net *net, Packet *p)
{
  Node *node = &net->nodes[p->to];
  MeshLinkId link = p->from + 1;
  gsize len;
  const uint8_t *f = g_bytes_get_data (p->frame, &len);
  g_autoptr (MeshWireBaseMessage) m = decode_frame (f, len, net->now);
  GError *error = NULL;

  switch ((int) m->type)
    {
    case MESH_WIRE_TYPE_BROADCAST:
      {
        g_autoptr (GBytes) key = g_bytes_new_static (m->message_id.data, 32);
        unsigned b = GPOINTER_TO_UINT (g_hash_table_lookup (net->index, key));
        size_t at = (size_t) (b - 1) * net->n;

        g_assert_cmpuint (b, >=, 1);
        net->bcast_frames++;
        /* Never back to where it came from. */
        g_assert_cmpint (net->first_from[at + p->from], !=, (int) p->to);
        if (!mesh_gossip_is_new (node->g, link, m->message_id.data, net->now))
          break;
        g_assert_cmpuint (p->to, !=, net->origin[b - 1]);
        g_assert_cmpuint (net->delivered[at + p->to], ==, 0);
        net->delivered[at + p->to]++;
        net->first_from[at + p->to] = (int) p->from;
        if (m->routing->hop_count + 1 > m->routing->max_hops)
          g_assert_true (mesh_gossip_accept (node->g, link, m->message_id.data,
                                             NULL, 0, net->now));
        else
          {
            g_autoptr (GBytes) fwd = NULL;
            gsize flen;
            const uint8_t *fd;

            m->routing->hop_count++;
            fwd = mesh_wire_encode_frame (m, MESH_FRAME_MAX_DEFAULT, &error);
            g_assert_no_error (error);
            fd = g_bytes_get_data (fwd, &flen);
            g_assert_true (mesh_gossip_accept (node->g, link, m->message_id.data,
                                               fd, flen, net->now));
          }
      }
      break;
    case MESH_WIRE_TYPE_GOSSIP_ANNOUNCE:
      {
        g_autoptr (MeshWireGossipAnnounce) a =
          (MeshWireGossipAnnounce *) mesh_wire_decode_payload (m, &error);
        g_assert_no_error (error);
        mesh_gossip_handle_announce (node->g, link, a, net->now);
      }
      break;
    case MESH_WIRE_TYPE_GOSSIP_PULL:
      {
        g_autoptr (MeshWireGossipPull) pl =
          (MeshWireGossipPull *) mesh_wire_decode_payload (m, &error);
        g_assert_no_error (error);
        mesh_gossip_handle_pull (node->g, link, pl, net->now);
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
net_run (Net *net)
{
  Packet *p;

  while ((p = g_queue_pop_head (&net->queue)))
    {
      net_dispatch (net, p);
      packet_free (p);
    }
}

static void
net_broadcast (Net *net, unsigned origin)
{
  uint8_t id[32];
  g_autoptr (GBytes) frame = NULL;
  const uint8_t *f;
  gsize len;
  unsigned b = net->nb++;

  g_assert_cmpuint (net->nb, <=, net->nb_alloc);
  frame = make_broadcast (origin, b, 16, 64, id);
  g_hash_table_insert (net->index, g_bytes_new (id, 32), GUINT_TO_POINTER (b + 1));
  net->origin[b] = origin;
  f = g_bytes_get_data (frame, &len);
  g_assert_true (mesh_gossip_publish (net->nodes[origin].g, id, f, len, net->now));
}

static void
net_tick (Net *net)
{
  net->now += net->interval;
  for (unsigned i = 0; i < net->n; i++)
    mesh_gossip_tick (net->nodes[i].g, net->now);
  net_run (net);
}

/* Nodes that have broadcast b (its origin included). */
static unsigned
net_coverage (Net *net, unsigned b)
{
  unsigned c = 1;

  for (unsigned i = 0; i < net->n; i++)
    c += net->delivered[(size_t) b * net->n + i];
  return c;
}

static gboolean
net_complete (Net *net)
{
  for (unsigned b = 0; b < net->nb; b++)
    if (net_coverage (net, b) != net->n)
      return FALSE;
  return TRUE;
}

static void
net_stats (Net *net, MeshGossipStats *sum)
{
  memset (sum, 0, sizeof *sum);
  for (unsigned i = 0; i < net->n; i++)
    {
      MeshGossipStats st;

      mesh_gossip_get_stats (net->nodes[i].g, &st);
      sum->pushes += st.pushes;
      sum->duplicates += st.duplicates;
      sum->accepted += st.accepted;
      sum->announces_sent += st.announces_sent;
      sum->pulls_sent += st.pulls_sent;
      sum->pull_ids_sent += st.pull_ids_sent;
      sum->served += st.served;
      sum->pulled += st.pulled;
    }
}

/* Lossless, fanout 10 above every degree: a flood, every node delivers
 * every broadcast exactly once, and the frame count is exact. */
static void
test_network_exactly_once (void)
{
  const unsigned n = 100, nb = 20;
  MeshGossipConfig c;
  Net *net;
  TestRng r = { .state = 31 };
  MeshGossipStats sum;
  uint64_t expect_frames;

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  net = net_new (n, nb, &c, 1);
  for (unsigned b = 0; b < nb; b++)
    {
      net_broadcast (net, rng_u32 (&r) % n);
      net_run (net);
      g_assert_cmpuint (net_coverage (net, b), ==, n);
    }
  /* Each node sends on every link but the one it heard first from; the
   * origin on all of them. */
  expect_frames = (uint64_t) nb * (2 * net->edges - (n - 1));
  g_assert_cmpuint (net->bcast_frames, ==, expect_frames);
  net_stats (net, &sum);
  g_assert_cmpuint (sum.pushes, ==, expect_frames);
  g_assert_cmpuint (sum.accepted, ==, (uint64_t) nb * (n - 1));
  g_assert_cmpuint (sum.duplicates, ==, expect_frames - (uint64_t) nb * (n - 1));

  /* The repair path finds nothing to do. */
  for (unsigned t = 0; t < 5; t++)
    net_tick (net);
  net_stats (net, &sum);
  g_assert_cmpuint (sum.announces_sent, >, 0);
  g_assert_cmpuint (sum.pulls_sent, ==, 0);
  g_assert_cmpuint (net->bcast_frames, ==, expect_frames);
  for (unsigned b = 0; b < nb; b++)
    g_assert_cmpuint (net_coverage (net, b), ==, n);
  net_free (net);
}

/* 20 % of all frames (broadcasts, announces, pulls, answers) lost: the
 * announce and pull repair completes coverage within a bounded number of
 * ticks, still exactly once per node. */
static void
run_lossy (unsigned fanout, unsigned max_ticks, gboolean expect_misses,
           guint64 seed)
{
  const unsigned n = 100, nb = 30;
  MeshGossipConfig c;
  Net *net;
  TestRng r = { .state = seed + 7 };
  MeshGossipStats sum;
  unsigned ticks = 0, covered = 0;

  mesh_gossip_config_init (&c);
  c.wall_epoch_ms = EPOCH_MS;
  c.fanout = fanout;
  net = net_new (n, nb, &c, seed);
  net->loss_permille = 200;
  /* Broadcasts spread over the first ticks, as traffic would be. */
  for (unsigned b = 0; b < nb; b++)
    {
      net_broadcast (net, rng_u32 (&r) % n);
      net_run (net);
      if (b % 10 == 9)
        {
          net_tick (net);
          ticks++;
        }
    }
  for (unsigned b = 0; b < nb; b++)
    covered += net_coverage (net, b);
  while (!net_complete (net) && ticks < 100)
    {
      net_tick (net);
      ticks++;
    }
  net_stats (net, &sum);
  g_test_message ("fanout %u, 20%% loss: %.1f%% after push, complete after "
                  "%u ticks; %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
                  " lost), %" G_GUINT64_FORMAT " announces, %" G_GUINT64_FORMAT
                  " pulls, %" G_GUINT64_FORMAT " served",
                  fanout, 100.0 * covered / (n * nb), ticks, net->frames,
                  net->lost, sum.announces_sent, sum.pulls_sent, sum.served);
  g_assert_true (net_complete (net));
  g_assert_cmpuint (ticks, <=, max_ticks);
  g_assert_cmpuint (net->lost, >, net->frames / 10);
  if (expect_misses)
    {
      g_assert_cmpuint (covered, <, n * nb);
      g_assert_cmpuint (sum.served, >, 0);
      g_assert_cmpuint (sum.pulled, >, 0);
    }
  /* Exactly once: checked on every delivery; and no more deliveries than
   * nodes. */
  g_assert_cmpuint (sum.accepted, ==, (uint64_t) nb * (n - 1));
  net_free (net);
}

static void
test_network_loss (void)
{
  run_lossy (10, 6, FALSE, 2);
}

static void
test_network_loss_low_fanout (void)
{
  run_lossy (2, 15, TRUE, 3);
  run_lossy (3, 15, TRUE, 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gossip/config", test_config);
  g_test_add_func ("/gossip/links", test_links);
  g_test_add_func ("/gossip/publish", test_publish);
  g_test_add_func ("/gossip/fanout", test_fanout);
  g_test_add_func ("/gossip/accept-last-hop", test_accept_last_hop);
  g_test_add_func ("/gossip/announce", test_announce);
  g_test_add_func ("/gossip/announce-known", test_announce_known);
  g_test_add_func ("/gossip/announce-cycle", test_announce_cycle);
  g_test_add_func ("/gossip/pull", test_pull);
  g_test_add_func ("/gossip/serve", test_serve);
  g_test_add_func ("/gossip/serve-bytes", test_serve_bytes);
  g_test_add_func ("/gossip/store-bounds", test_store_bounds);
  g_test_add_func ("/gossip/network/exactly-once", test_network_exactly_once);
  g_test_add_func ("/gossip/network/loss", test_network_loss);
  g_test_add_func ("/gossip/network/loss-low-fanout", test_network_loss_low_fanout);
  return g_test_run ();
}
