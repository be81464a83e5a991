/* Update distribution in the engine: a few engines wired together in one
 * process, frames delivered in order after a fixed latency on a virtual
 * clock, each node with a chunk store in memory.  Covers fetching from
 * two peers in parallel, a peer serving corrupt chunks (asked of the
 * other peer instead, and the bad one loses reputation), resuming from
 * chunks already held, the download rate limit, peers without the
 * update, and manifest queries answered by the engine, by the
 * application, or not at all. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#include "crypto/hash.h"
#include "engine/engine.h"
#include "engine/msg.h"
#include "update/package.h"
#include "update/source.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "testutil.h"

#define MS G_GUINT64_CONSTANT (1000000)
#define SEC G_GUINT64_CONSTANT (1000000000)
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)
#define MAX_NODES 5
#define MAX_LINKS 8
#define CHUNK (64 * 1024)

typedef struct Net Net;

typedef struct {
  Net *net;
  int index;
  MeshIdentity id;
  MeshEngine *engine;
  TestRng rng;
  GHashTable *chunks;           /* index -> GBytes, one update per test */
  gboolean corrupt;             /* serve chunks with a flipped byte */
  guint puts;
  guint progress_events, completed_events, bad_events;
  uint64_t completed_at;
  MeshLinkId bad_link;
  GArray *progress;             /* Sample: time and bytes held */
  /* Manifest queries. */
  guint manifest_events, queries_seen;
  GBytes *manifest_got;
  char *manifest_reason;
  gboolean answer_not_found;    /* the application answers queries so */
  guint halfway_at, halfway;    /* halfway is set at that many chunks */
} Node;

typedef struct {
  uint64_t at_ns;
  uint64_t bytes;
} Sample;

typedef struct {
  int a, b;
  gboolean up;
} Link;

typedef struct {
  uint64_t at_ns;
  int to;
  MeshLinkId link;
  uint8_t *frame;
  size_t len;
} Frame;

struct Net {
  Node nodes[MAX_NODES];
  int n_nodes;
  Link links[MAX_LINKS];
  int n_links;
  GQueue frames;
  uint64_t now;
  uint64_t latency_ns;
  GArray *closes;
  MeshEngineConfig config;
  /* The update. */
  guint8 *data;
  gsize size;
  GBytes *manifest;
  MeshWireUpdateManifest *m;
  uint8_t id[MESH_SHA256_LEN];
};

/* ---------------------------------------------------------------------- */
/* Chunk store in memory */

static gboolean
store_has (void *store, const uint8_t *update_id, uint32_t index)
{
  Node *node = store;

  g_assert_cmpmem (update_id, MESH_SHA256_LEN, node->net->id, MESH_SHA256_LEN);
  return g_hash_table_contains (node->chunks, GUINT_TO_POINTER (index));
}

static GBytes *
store_get (void *store, const uint8_t *update_id, uint32_t index)
{
  Node *node = store;
  GBytes *b = g_hash_table_lookup (node->chunks, GUINT_TO_POINTER (index));
  gsize len;
  guint8 *copy;

  g_assert_cmpmem (update_id, MESH_SHA256_LEN, node->net->id, MESH_SHA256_LEN);
  if (b == NULL)
    return NULL;
  if (!node->corrupt)
    return g_bytes_ref (b);
  copy = g_memdup2 (g_bytes_get_data (b, &len), g_bytes_get_size (b));
  copy[len / 2] ^= 0x55;
  return g_bytes_new_take (copy, len);
}

static gboolean
store_put (void *store, const uint8_t *update_id, uint32_t index,
           const uint8_t *data, size_t len)
{
  Node *node = store;

  g_assert_cmpmem (update_id, MESH_SHA256_LEN, node->net->id, MESH_SHA256_LEN);
  g_assert_true (mesh_update_verify_chunk (node->net->m, index, data, len, NULL));
  g_hash_table_insert (node->chunks, GUINT_TO_POINTER (index), g_bytes_new (data, len));
  node->puts++;
  return TRUE;
}

static const MeshChunkStoreFuncs store_funcs = { store_has, store_get, store_put };

static void
store_fill (Node *node, uint32_t from, uint32_t to)
{
  Net *net = node->net;

  for (uint32_t i = from; i < to && i < net->m->n_chunk_hashes; i++)
    {
      gsize off = (gsize) i * CHUNK;

      g_hash_table_insert (node->chunks, GUINT_TO_POINTER (i),
                           g_bytes_new (net->data + off, MIN ((gsize) CHUNK, net->size - off)));
    }
}

/* The node's chunks put together equal the update's data. */
static void
assert_holds_update (Node *node)
{
  Net *net = node->net;
  GByteArray *all = g_byte_array_new ();

  for (uint32_t i = 0; i < net->m->n_chunk_hashes; i++)
    {
      GBytes *b = g_hash_table_lookup (node->chunks, GUINT_TO_POINTER (i));

      g_assert_nonnull (b);
      g_byte_array_append (all, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    }
  g_assert_true (mesh_update_verify_data (net->m, all->data, all->len, NULL));
  g_assert_cmpmem (all->data, all->len, net->data, net->size);
  g_byte_array_unref (all);
}

/* ---------------------------------------------------------------------- */
/* Harness */

static void
cb_send_frame (void *user_data, MeshLinkId id, const uint8_t *frame, size_t len)
{
  Node *node = user_data;
  Net *net = node->net;
  Link *l = &net->links[id - 1];
  Frame *f;

  g_assert_true (l->a == node->index || l->b == node->index);
  g_assert_cmpuint (mesh_frame_read_header (frame), ==, len - 4);
  if (!l->up)
    return;
  f = g_new0 (Frame, 1);
  f->at_ns = net->now + net->latency_ns;
  f->to = l->a == node->index ? l->b : l->a;
  f->link = id;
  f->frame = g_memdup2 (frame, len);
  f->len = len;
  g_queue_push_tail (&net->frames, f);
}

static void
cb_close_link (void *user_data, MeshLinkId id, const char *reason)
{
  Node *node = user_data;
  int i = (int) id - 1;

  g_assert_nonnull (reason);
  g_array_append_val (node->net->closes, i);
}

static void
cb_event (void *user_data, const MeshEvent *ev)
{
  Node *node = user_data;
  Net *net = node->net;

  switch (ev->type)
    {
    case MESH_EVENT_UPDATE_PROGRESS:
      {
        Sample s = { net->now, ev->bytes_done };

        g_assert_cmpmem (ev->message_id, MESH_SHA256_LEN, net->id, MESH_SHA256_LEN);
        g_assert_cmpuint (ev->chunks_total, ==, net->m->n_chunk_hashes);
        g_assert_cmpuint (ev->bytes_total, ==, net->size);
        g_assert_cmpuint (ev->bytes_done, <=, ev->bytes_total);
        g_array_append_val (node->progress, s);
        node->progress_events++;
        if (node->halfway_at > 0 && node->progress_events == node->halfway_at)
          node->halfway = 1;
      }
      break;
    case MESH_EVENT_UPDATE_COMPLETED:
      g_assert_cmpmem (ev->message_id, MESH_SHA256_LEN, net->id, MESH_SHA256_LEN);
      g_assert_cmpuint (ev->chunks_done, ==, ev->chunks_total);
      g_assert_cmpuint (ev->bytes_done, ==, net->size);
      node->completed_events++;
      node->completed_at = net->now;
      break;
    case MESH_EVENT_UPDATE_BAD_CHUNK:
      g_assert_nonnull (ev->reason);
      g_assert_nonnull (ev->node_id);
      node->bad_events++;
      node->bad_link = ev->link;
      break;
    case MESH_EVENT_UPDATE_MANIFEST:
      g_assert_cmpmem (ev->message_id, MESH_SHA256_LEN, net->id, MESH_SHA256_LEN);
      g_assert_nonnull (ev->node_id);
      node->manifest_events++;
      g_clear_pointer (&node->manifest_got, g_bytes_unref);
      g_clear_pointer (&node->manifest_reason, g_free);
      if (ev->data != NULL)
        node->manifest_got = g_bytes_new (ev->data, ev->len);
      node->manifest_reason = g_strdup (ev->reason);
      break;
    case MESH_EVENT_QUERY_RECEIVED:
      node->queries_seen++;
      if (node->answer_not_found)
        {
          g_autoptr (MeshWireQuery) q = mesh_wire_decode_query (ev->data, ev->len, NULL);
          MeshWireResponse r = MESHARA__V1__RESPONSE_MESSAGE__INIT;
          g_autoptr (GError) error = NULL;
          guint8 buf[256];
          size_t len;

          g_assert_nonnull (q);
          g_assert_cmpstr (q->query_type, ==, MESH_WIRE_QUERY_UPDATE_MANIFEST);
          r.query_id = q->query_id;
          r.code = MESH_WIRE_RESPONSE_NOT_FOUND;
          r.message = (char *) "no such update here";
          len = protobuf_c_message_pack (&r.base, buf);
          g_assert_true (mesh_engine_send_content (node->engine, ev->bundle,
                                                   MESH_WIRE_TYPE_RESPONSE, buf, len,
                                                   net->now, NULL, &error));
          g_assert_no_error (error);
        }
      break;
    default:
      break;
    }
}

static void
cb_random (void *user_data, uint8_t *buf, size_t n)
{
  test_rng (&((Node *) user_data)->rng, buf, n);
}

static Net *
net_new (int n, gsize size, const MeshEngineConfig *config)
{
  g_autoptr (GError) error = NULL;
  MeshEngineCallbacks cb = { cb_send_frame, cb_close_link, NULL, cb_event, cb_random };
  MeshUpdateInfo info = { .name = "test-app", .version = 2, .chunk_size = CHUNK };
  TestRng rng = { 42 };
  Net *net = g_new0 (Net, 1);

  g_assert_cmpint (n, <=, MAX_NODES);
  if (config)
    net->config = *config;
  else
    mesh_engine_config_init (&net->config);
  net->config.wall_epoch_ms = EPOCH_MS;
  net->n_nodes = n;
  net->latency_ns = 5 * MS;
  net->now = 1 * SEC;
  net->closes = g_array_new (FALSE, FALSE, sizeof (int));
  g_queue_init (&net->frames);

  net->size = size;
  net->data = g_malloc (size);
  test_rng (&rng, net->data, size);
  net->manifest = mesh_update_manifest_build (&info, net->data, size, &error);
  g_assert_no_error (error);
  net->m = mesh_update_manifest_parse (g_bytes_get_data (net->manifest, NULL),
                                       g_bytes_get_size (net->manifest), &error);
  g_assert_no_error (error);
  mesh_update_manifest_digest (net->m, net->id);

  for (int i = 0; i < n; i++)
    {
      Node *node = &net->nodes[i];
      uint8_t seed[MESH_SEED_LEN];

      node->net = net;
      node->index = i;
      memset (seed, 'a' + i, sizeof seed);
      mesh_identity_from_seed (&node->id, seed);
      node->rng.state = 7000 + (guint64) i;
      node->chunks = g_hash_table_new_full (NULL, NULL, NULL,
                                            (GDestroyNotify) g_bytes_unref);
      node->progress = g_array_new (FALSE, FALSE, sizeof (Sample));
      node->engine = mesh_engine_new (&node->id, &net->config, &cb, node, net->now);
      mesh_engine_set_chunk_store (node->engine, &store_funcs, node);
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
      g_hash_table_unref (net->nodes[i].chunks);
      g_array_unref (net->nodes[i].progress);
      g_clear_pointer (&net->nodes[i].manifest_got, g_bytes_unref);
      g_free (net->nodes[i].manifest_reason);
      mesh_identity_clear (&net->nodes[i].id);
    }
  g_queue_clear_full (&net->frames, frame_free);
  g_array_unref (net->closes);
  g_free (net->data);
  g_bytes_unref (net->manifest);
  mesh_wire_free (net->m);
  g_free (net);
}

static MeshEngine *
E (Net *net, int i)
{
  return net->nodes[i].engine;
}

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
  g_assert_true (mesh_engine_link_up (E (net, a), id, &net->nodes[b].id.pub,
                                      net->now, &error));
  g_assert_no_error (error);
  g_assert_true (mesh_engine_link_up (E (net, b), id, &net->nodes[a].id.pub,
                                      net->now, &error));
  g_assert_no_error (error);
  return id;
}

static void
net_disconnect (Net *net, MeshLinkId id)
{
  Link *l = &net->links[id - 1];

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

/* Run frames and timers in time order until *watch is non-zero or the
 * deadline passes; FALSE on the deadline. */
static gboolean
net_run_until (Net *net, const guint *watch, uint64_t deadline)
{
  for (;;)
    {
      Frame *f;
      uint64_t t_timer = UINT64_MAX, t_frame, t;

      if (*watch > 0)
        return TRUE;
      while (net->closes->len > 0)
        {
          int i = g_array_index (net->closes, int, 0);

          g_array_remove_index (net->closes, 0);
          net_disconnect (net, (MeshLinkId) i + 1);
        }
      f = g_queue_peek_head (&net->frames);
      t_frame = f ? f->at_ns : UINT64_MAX;
      for (int i = 0; i < net->n_nodes; i++)
        t_timer = MIN (t_timer, mesh_engine_next_timeout (E (net, i)));
      t = MIN (t_frame, t_timer);
      if (t > deadline)
        return FALSE;
      net->now = MAX (net->now, t);
      if (t_frame <= t_timer)
        {
          g_queue_pop_head (&net->frames);
          if (net->links[f->link - 1].up)
            mesh_engine_receive (E (net, f->to), f->link, f->frame + 4, f->len - 4,
                                 net->now);
          frame_free (f);
        }
      else
        {
          for (int i = 0; i < net->n_nodes; i++)
            if (mesh_engine_next_timeout (E (net, i)) <= net->now)
              mesh_engine_tick (E (net, i), net->now);
        }
    }
}

static gboolean
net_run_until_complete (Net *net, int node, uint64_t deadline)
{
  return net_run_until (net, &net->nodes[node].completed_events, deadline);
}

static void
add_update (Net *net, int node, gboolean fetch)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (mesh_engine_update_add (E (net, node), net->id,
                                         g_bytes_get_data (net->manifest, NULL),
                                         g_bytes_get_size (net->manifest),
                                         fetch, net->now, &error));
  g_assert_no_error (error);
}

static void
fetch_or_fail (Net *net, int node, uint64_t within)
{
  if (!net_run_until_complete (net, node, net->now + within))
    {
      uint32_t done = 0, total = 0;

      mesh_engine_update_progress (E (net, node), net->id, &done, &total);
      g_error ("node %d did not complete the update within %" G_GUINT64_FORMAT
               " ms: %u of %u chunks held", node, within / MS, done, total);
    }
}

static MeshEngineStats
stats_of (Net *net, int node)
{
  MeshEngineStats s;

  mesh_engine_get_stats (E (net, node), &s);
  return s;
}

/* ---------------------------------------------------------------------- */
/* Tests */

/* Two peers hold the update; the third fetches from both at once. */
static void
test_fetch_two_peers (void)
{
  Net *net = net_new (3, 20 * CHUNK + 1000, NULL);
  uint32_t n = 21;
  MeshEngineStats s0, s1, s2;

  store_fill (&net->nodes[0], 0, n);
  store_fill (&net->nodes[1], 0, n);
  add_update (net, 0, FALSE);
  add_update (net, 1, FALSE);
  net_connect (net, 2, 0);
  net_connect (net, 2, 1);
  add_update (net, 2, TRUE);
  fetch_or_fail (net, 2, 10 * SEC);

  assert_holds_update (&net->nodes[2]);
  g_assert_cmpuint (net->nodes[2].puts, ==, n);
  g_assert_cmpuint (net->nodes[2].progress_events, ==, n);
  g_assert_cmpuint (net->nodes[2].completed_events, ==, 1);
  s0 = stats_of (net, 0);
  s1 = stats_of (net, 1);
  s2 = stats_of (net, 2);
  /* Both peers served a fair share, nothing twice. */
  g_assert_cmpuint (s0.chunks_served, >=, 5);
  g_assert_cmpuint (s1.chunks_served, >=, 5);
  g_assert_cmpuint (s0.chunks_served + s1.chunks_served, ==, n);
  g_assert_cmpuint (s2.chunks_received, ==, n);
  g_assert_cmpuint (s2.chunks_bad, ==, 0);
  /* In parallel: 21 chunks at 4 per peer and 10 ms a round trip. */
  g_assert_cmpuint (net->nodes[2].completed_at - 1 * SEC, <, 100 * MS);
  /* The peers that did not fetch report nothing. */
  g_assert_cmpuint (net->nodes[0].progress_events + net->nodes[0].completed_events, ==, 0);
  net_free (net);
}

/* Node 0 serves corrupt chunks: each is asked of node 1 instead, the
 * update ends correct, and node 0 lost reputation with node 2. */
static void
test_corrupt_peer (void)
{
  Net *net = net_new (3, 12 * CHUNK, NULL);
  MeshLinkId bad, good;
  MeshLinkInfo info;
  MeshEngineStats s2;

  net->nodes[0].corrupt = TRUE;
  store_fill (&net->nodes[0], 0, 12);
  store_fill (&net->nodes[1], 0, 12);
  add_update (net, 0, FALSE);
  add_update (net, 1, FALSE);
  bad = net_connect (net, 2, 0);
  good = net_connect (net, 2, 1);
  add_update (net, 2, TRUE);
  fetch_or_fail (net, 2, 10 * SEC);

  assert_holds_update (&net->nodes[2]);
  s2 = stats_of (net, 2);
  g_assert_cmpuint (s2.chunks_bad, >=, 1);
  g_assert_cmpuint (s2.chunks_received, ==, 12);
  g_assert_cmpuint (net->nodes[2].bad_events, ==, s2.chunks_bad);
  g_assert_cmpuint (net->nodes[2].bad_link, ==, bad);
  /* Every good chunk came from node 1. */
  g_assert_cmpuint (stats_of (net, 1).chunks_served, >=, 12);
  /* The bad peer is worse off than the good one. */
  if (mesh_engine_get_link_info (E (net, 2), bad, &info))
    {
      MeshLinkInfo ginfo;

      g_assert_true (mesh_engine_get_link_info (E (net, 2), good, &ginfo));
      g_assert_cmpint (info.reputation, <, 0);
      g_assert_cmpint (info.reputation, <, ginfo.reputation);
    }
  else
    /* Penalized down to the minimum: the link was closed. */
    g_assert_false (net->links[bad - 1].up);
  net_free (net);
}

/* A node holding half the chunks asks only for the other half. */
static void
test_resume (void)
{
  Net *net = net_new (2, 16 * CHUNK, NULL);
  MeshEngineStats s0, s1;
  uint32_t done = 0, total = 0;

  store_fill (&net->nodes[0], 0, 16);
  store_fill (&net->nodes[1], 0, 8);
  add_update (net, 0, FALSE);
  net_connect (net, 0, 1);
  add_update (net, 1, TRUE);
  g_assert_true (mesh_engine_update_progress (E (net, 1), net->id, &done, &total));
  g_assert_cmpuint (done, ==, 8);
  g_assert_cmpuint (total, ==, 16);
  fetch_or_fail (net, 1, 10 * SEC);

  assert_holds_update (&net->nodes[1]);
  s0 = stats_of (net, 0);
  s1 = stats_of (net, 1);
  g_assert_cmpuint (s0.chunks_served, ==, 8);
  g_assert_cmpuint (s1.chunks_received, ==, 8);
  g_assert_cmpuint (net->nodes[1].puts, ==, 8);
  net_free (net);

  /* Everything held already: completed at once, nothing asked. */
  net = net_new (2, 4 * CHUNK, NULL);
  store_fill (&net->nodes[0], 0, 4);
  store_fill (&net->nodes[1], 0, 4);
  add_update (net, 0, FALSE);
  net_connect (net, 0, 1);
  add_update (net, 1, TRUE);
  g_assert_cmpuint (net->nodes[1].completed_events, ==, 1);
  g_assert_cmpuint (stats_of (net, 1).chunk_requests_sent, ==, 0);
  net_free (net);
}

/* With a download limit of 256 KiB/s, 1 MiB takes about 4 s of virtual
 * time, and at no time is more held than the limit allows. */
static void
test_bandwidth_limit (void)
{
  MeshEngineConfig config;
  const uint64_t rate = 256 * 1024;
  Net *net;
  uint64_t start, took;
  Node *n1;

  mesh_engine_config_init (&config);
  config.update_bytes_per_s = rate;
  net = net_new (2, 16 * CHUNK, &config);
  store_fill (&net->nodes[0], 0, 16);
  add_update (net, 0, FALSE);
  net_connect (net, 0, 1);
  start = net->now;
  add_update (net, 1, TRUE);
  fetch_or_fail (net, 1, 30 * SEC);
  n1 = &net->nodes[1];
  assert_holds_update (n1);
  took = n1->completed_at - start;
  /* (1 MiB - one chunk of allowance) at 256 KiB/s = 3.75 s. */
  g_assert_cmpuint (took, >=, 3750 * MS);
  g_assert_cmpuint (took, <, 5 * SEC);
  for (guint i = 0; i < n1->progress->len; i++)
    {
      Sample *s = &g_array_index (n1->progress, Sample, i);
      double allowed = (double) (s->at_ns - start) / 1e9 * (double) rate
                       + 2.0 * CHUNK;

      g_assert_cmpfloat ((double) s->bytes, <=, allowed);
    }
  net_free (net);
}

/* Without the limit the same download takes a few round trips. */
static void
test_no_limit_fast (void)
{
  Net *net = net_new (2, 16 * CHUNK, NULL);

  store_fill (&net->nodes[0], 0, 16);
  add_update (net, 0, FALSE);
  net_connect (net, 0, 1);
  add_update (net, 1, TRUE);
  fetch_or_fail (net, 1, 1 * SEC);
  g_assert_cmpuint (net->nodes[1].completed_at - 1 * SEC, <, 100 * MS);
  net_free (net);
}

/* A peer without the update does not answer: its chunks time out and
 * are asked of the peer that has it. */
static void
test_peer_without_update (void)
{
  Net *net = net_new (3, 8 * CHUNK, NULL);
  MeshEngineStats s2;

  store_fill (&net->nodes[1], 0, 8);
  add_update (net, 1, FALSE);
  net_connect (net, 2, 0);
  net_connect (net, 2, 1);
  add_update (net, 2, TRUE);
  fetch_or_fail (net, 2, 20 * SEC);
  assert_holds_update (&net->nodes[2]);
  s2 = stats_of (net, 2);
  g_assert_cmpuint (s2.chunk_timeouts, >=, 1);
  g_assert_cmpuint (stats_of (net, 0).chunks_served, ==, 0);
  net_free (net);
}

/* API errors: no store, too many updates, a manifest whose hashes do
 * not fit its size. */
static void
test_add_errors (void)
{
  g_autoptr (GError) error = NULL;
  MeshEngineConfig config;
  MeshEngineCallbacks cb = { cb_send_frame, cb_close_link, NULL, cb_event, cb_random };
  Net *net;
  MeshEngine *bare;
  uint8_t other[MESH_SHA256_LEN];

  mesh_engine_config_init (&config);
  config.update_max = 1;
  net = net_new (1, 2 * CHUNK, &config);
  bare = mesh_engine_new (&net->nodes[0].id, &net->config, &cb, &net->nodes[0], net->now);
  g_assert_false (mesh_engine_update_add (bare, net->id,
                                          g_bytes_get_data (net->manifest, NULL),
                                          g_bytes_get_size (net->manifest),
                                          TRUE, net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  mesh_engine_free (bare);

  add_update (net, 0, FALSE);
  add_update (net, 0, FALSE);   /* again: no new entry */
  memset (other, 7, sizeof other);
  g_assert_false (mesh_engine_update_add (E (net, 0), other,
                                          g_bytes_get_data (net->manifest, NULL),
                                          g_bytes_get_size (net->manifest),
                                          TRUE, net->now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
  g_clear_error (&error);
  mesh_engine_update_remove (E (net, 0), net->id);
  g_assert_false (mesh_engine_update_progress (E (net, 0), net->id, NULL, NULL));
  g_assert_false (mesh_engine_update_add (E (net, 0), other,
                                          (const uint8_t *) "garbage", 7,
                                          TRUE, net->now, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* update_max = 1 manifest query may wait at once. */
  {
    MeshIdentity stranger;
    uint8_t seed[MESH_SEED_LEN];

    memset (seed, 'z', sizeof seed);
    mesh_identity_from_seed (&stranger, seed);
    g_assert_true (mesh_engine_update_query_manifest (E (net, 0), &stranger.pub,
                                                      net->id, net->now, &error));
    g_assert_no_error (error);
    g_assert_false (mesh_engine_update_query_manifest (E (net, 0), &stranger.pub,
                                                       other, net->now, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED);
    mesh_identity_clear (&stranger);
  }
  net_free (net);
}

/* The manifest, asked of a node that tracks the update: the engine
 * answers it; of one that does not: its application answers NOT_FOUND,
 * or nobody answers and the query times out. */
static void
test_manifest_query (void)
{
  g_autoptr (GError) error = NULL;
  Net *net = net_new (3, 3 * CHUNK, NULL);
  Node *asker = &net->nodes[1];

  store_fill (&net->nodes[0], 0, 3);
  add_update (net, 0, FALSE);
  net_connect (net, 0, 1);
  net_connect (net, 1, 2);

  g_assert_true (mesh_engine_update_query_manifest (E (net, 1), &net->nodes[0].id.pub,
                                                    net->id, net->now, &error));
  g_assert_no_error (error);
  if (!net_run_until (net, &asker->manifest_events, net->now + 5 * SEC))
    g_error ("no answer to the manifest query of a node tracking the update");
  g_assert_null (asker->manifest_reason);
  g_assert_nonnull (asker->manifest_got);
  g_assert_true (g_bytes_equal (asker->manifest_got, net->manifest));
  g_assert_cmpuint (net->nodes[0].queries_seen, ==, 0);

  /* With the manifest, the asker fetches from the node it asked. */
  add_update (net, 1, TRUE);
  fetch_or_fail (net, 1, 5 * SEC);
  assert_holds_update (asker);

  /* Node 2 does not track it; its application says NOT_FOUND. */
  net->nodes[2].answer_not_found = TRUE;
  g_assert_true (mesh_engine_update_query_manifest (E (net, 0), &net->nodes[2].id.pub,
                                                    net->id, net->now, &error));
  g_assert_no_error (error);
  if (!net_run_until (net, &net->nodes[0].manifest_events, net->now + 5 * SEC))
    g_error ("no NOT_FOUND answer to the manifest query");
  g_assert_null (net->nodes[0].manifest_got);
  g_assert_nonnull (strstr (net->nodes[0].manifest_reason, "NOT_FOUND"));
  g_assert_nonnull (strstr (net->nodes[0].manifest_reason, "no such update here"));
  g_assert_cmpuint (net->nodes[2].queries_seen, ==, 1);

  /* Nobody answers: the query times out. */
  net->nodes[2].answer_not_found = FALSE;
  net->nodes[0].manifest_events = 0;
  g_assert_true (mesh_engine_update_query_manifest (E (net, 0), &net->nodes[2].id.pub,
                                                    net->id, net->now, &error));
  g_assert_no_error (error);
  if (!net_run_until (net, &net->nodes[0].manifest_events, net->now + 30 * SEC))
    g_error ("an unanswered manifest query never timed out");
  g_assert_null (net->nodes[0].manifest_got);
  g_assert_nonnull (strstr (net->nodes[0].manifest_reason, "no answer"));
  g_assert_cmpuint (net->nodes[2].queries_seen, ==, 2);
  net_free (net);
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_dir_close (d);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Real chunk caches on disk (chunks.h through source.h): node 1 stops
 * half-way (its engine and cache are thrown away, as in a crash), comes
 * back with the cache reopened from its directory, and fetches only what
 * it did not have. */
static void
test_disk_resume (void)
{
  g_autoptr (GError) error = NULL;
  MeshEngineCallbacks cb = { cb_send_frame, cb_close_link, NULL, cb_event, cb_random };
  Net *net = net_new (2, 20 * CHUNK, NULL);
  g_autofree char *dir0 = g_dir_make_tmp ("test-distribute-XXXXXX", &error);
  g_autofree char *dir1 = g_dir_make_tmp ("test-distribute-XXXXXX", &error);
  MeshChunkStore *cs0, *cs1;
  MeshChunkSource *src0, *src1;
  uint8_t id[MESH_SHA256_LEN];
  g_autofree char *out = NULL;
  gchar *assembled = NULL;
  gsize assembled_len;
  MeshLinkId link;
  guint held;
  const guint8 *mdata = g_bytes_get_data (net->manifest, NULL);
  gsize mlen = g_bytes_get_size (net->manifest);

  g_assert_no_error (error);
  cs0 = mesh_chunk_store_open (dir0, 64 * CHUNK, &error);
  g_assert_no_error (error);
  cs1 = mesh_chunk_store_open (dir1, 64 * CHUNK, &error);
  g_assert_no_error (error);
  for (uint32_t i = 0; i < 20; i++)
    g_assert_true (mesh_chunk_store_put (cs0, net->m->chunk_hashes[i].data,
                                         net->data + (gsize) i * CHUNK, CHUNK, &error));
  src0 = mesh_chunk_source_new (cs0);
  src1 = mesh_chunk_source_new (cs1);
  g_assert_true (mesh_chunk_source_add (src0, mdata, mlen, id, &error));
  g_assert_cmpmem (id, sizeof id, net->id, sizeof net->id);
  g_assert_true (mesh_chunk_source_add (src1, mdata, mlen, NULL, &error));
  mesh_engine_set_chunk_store (E (net, 0), mesh_chunk_source_funcs (), src0);
  mesh_engine_set_chunk_store (E (net, 1), mesh_chunk_source_funcs (), src1);
  add_update (net, 0, FALSE);
  link = net_connect (net, 0, 1);
  net->nodes[1].halfway_at = 9;
  add_update (net, 1, TRUE);
  if (!net_run_until (net, &net->nodes[1].halfway, net->now + 5 * SEC))
    g_error ("node 1 never held 9 chunks");

  /* Crash: engine and cache gone, frames in flight lost. */
  net_disconnect (net, link);
  mesh_engine_free (E (net, 1));
  mesh_chunk_source_free (src1);
  mesh_chunk_store_free (cs1);
  held = net->nodes[1].progress_events;
  g_assert_cmpuint (held, >=, 9);
  g_assert_cmpuint (held, <, 20);

  cs1 = mesh_chunk_store_open (dir1, 64 * CHUNK, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mesh_chunk_store_count (cs1), ==, held);
  src1 = mesh_chunk_source_new (cs1);
  g_assert_true (mesh_chunk_source_add (src1, mdata, mlen, NULL, &error));
  net->nodes[1].engine = mesh_engine_new (&net->nodes[1].id, &net->config, &cb,
                                          &net->nodes[1], net->now);
  mesh_engine_set_chunk_store (E (net, 1), mesh_chunk_source_funcs (), src1);
  net->nodes[1].halfway_at = 0;
  net->nodes[1].progress_events = 0;
  net_connect (net, 0, 1);
  add_update (net, 1, TRUE);
  fetch_or_fail (net, 1, 5 * SEC);
  /* Only the missing chunks crossed the link the second time. */
  g_assert_cmpuint (stats_of (net, 1).chunks_received, ==, 20 - held);
  g_assert_cmpuint (net->nodes[1].progress_events, ==, 20 - held);

  out = g_build_filename (dir1, "assembled.out", NULL);
  g_assert_true (mesh_chunk_store_assemble (cs1, net->m, out, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out, &assembled, &assembled_len, &error));
  g_assert_cmpmem (assembled, assembled_len, net->data, net->size);
  g_free (assembled);

  net_free (net);
  mesh_chunk_source_free (src0);
  mesh_chunk_source_free (src1);
  mesh_chunk_store_free (cs0);
  mesh_chunk_store_free (cs1);
  remove_dir (dir0);
  remove_dir (dir1);
}

/* Deliver a link message of type with payload to node `to` on link, as
 * if its peer had sent it. */
static void
inject (Net *net, int to, MeshLinkId link, uint32_t type,
        const ProtobufCMessage *payload)
{
  MeshMsgBuf pbuf = { 0 }, fbuf = { 0 };
  MeshMsg m;
  size_t plen = payload ? mesh_msg_buf_encode (&pbuf, payload) : 0;
  size_t flen;

  mesh_msg_init (&m, type, mesh_msg_wall_ms (EPOCH_MS, net->now),
                 plen ? pbuf.data : (const uint8_t *) "\xff\xff\xff", plen ? plen : 3);
  mesh_msg_finish (&m, NULL);
  g_assert_true (mesh_msg_encode_frame (&m.base, MESH_FRAME_MAX_DEFAULT, &fbuf,
                                        &flen, NULL));
  mesh_engine_receive (E (net, to), link, fbuf.data + 4, flen - 4, net->now);
  mesh_msg_buf_clear (&pbuf);
  mesh_msg_buf_clear (&fbuf);
}

/* Hostile requests and chunks: a request for 256 chunks is answered
 * with at most update_serve_per_request; requests for unknown updates
 * are ignored; a chunk of a tracked update with an index out of range,
 * or an undecodable request, gets the link closed. */
static void
test_hostile_messages (void)
{
  Net *net = net_new (2, 20 * CHUNK, NULL);
  MeshWireUpdateRequest req = MESHARA__V1__UPDATE_REQUEST__INIT;
  MeshWireUpdateChunk ch = MESHARA__V1__UPDATE_CHUNK__INIT;
  uint32_t indices[256];
  uint8_t other[MESH_SHA256_LEN], byte = 1;
  MeshLinkId link;
  guint frames_before;

  store_fill (&net->nodes[0], 0, 20);
  add_update (net, 0, FALSE);
  link = net_connect (net, 0, 1);
  net_run_until (net, &net->nodes[1].completed_events, net->now + 100 * MS);

  for (uint32_t i = 0; i < 256; i++)
    indices[i] = i % 40;        /* repeats and out-of-range ones too */
  req.package_id.data = net->id;
  req.package_id.len = MESH_SHA256_LEN;
  req.chunk_indices = indices;
  req.n_chunk_indices = 256;
  frames_before = g_queue_get_length (&net->frames);
  inject (net, 0, link, MESH_WIRE_TYPE_UPDATE_REQUEST, &req.base);
  g_assert_cmpuint (stats_of (net, 0).chunks_served, ==,
                    net->config.update_serve_per_request ? net->config.update_serve_per_request : 16);
  g_assert_cmpuint (g_queue_get_length (&net->frames) - frames_before, ==, 16);

  /* Another update: nothing served, nothing closed. */
  memset (other, 9, sizeof other);
  req.package_id.data = other;
  inject (net, 0, link, MESH_WIRE_TYPE_UPDATE_REQUEST, &req.base);
  g_assert_cmpuint (stats_of (net, 0).chunks_served, ==, 16);
  g_assert_cmpuint (net->closes->len, ==, 0);

  /* A chunk nobody asked for, of an update node 1 does not track:
   * ignored. */
  ch.package_id.data = net->id;
  ch.package_id.len = MESH_SHA256_LEN;
  ch.index = 3;
  ch.data.data = &byte;
  ch.data.len = 1;
  ch.hash.data = other;
  ch.hash.len = MESH_SHA256_LEN;
  inject (net, 1, link, MESH_WIRE_TYPE_UPDATE_CHUNK, &ch.base);
  g_assert_cmpuint (net->closes->len, ==, 0);

  /* Out of range for the tracked update: the link is closed. */
  ch.index = 5000;
  inject (net, 0, link, MESH_WIRE_TYPE_UPDATE_CHUNK, &ch.base);
  g_assert_cmpuint (net->closes->len, ==, 1);
  g_assert_cmpuint (stats_of (net, 0).invalid_frames, ==, 1);
  net_free (net);

  /* An undecodable request closes the link as well. */
  net = net_new (2, 2 * CHUNK, NULL);
  link = net_connect (net, 0, 1);
  net_run_until (net, &net->nodes[1].completed_events, net->now + 100 * MS);
  g_assert_cmpuint (stats_of (net, 0).invalid_frames, ==, 0);
  inject (net, 0, link, MESH_WIRE_TYPE_UPDATE_REQUEST, NULL);
  g_assert_cmpuint (net->closes->len, ==, 1);
  g_assert_cmpuint (stats_of (net, 0).invalid_frames, ==, 1);
  net_free (net);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/distribute/fetch-two-peers", test_fetch_two_peers);
  g_test_add_func ("/distribute/corrupt-peer", test_corrupt_peer);
  g_test_add_func ("/distribute/resume", test_resume);
  g_test_add_func ("/distribute/bandwidth-limit", test_bandwidth_limit);
  g_test_add_func ("/distribute/no-limit-fast", test_no_limit_fast);
  g_test_add_func ("/distribute/peer-without-update", test_peer_without_update);
  g_test_add_func ("/distribute/add-errors", test_add_errors);
  g_test_add_func ("/distribute/manifest-query", test_manifest_query);
  g_test_add_func ("/distribute/disk-resume", test_disk_resume);
  g_test_add_func ("/distribute/hostile-messages", test_hostile_messages);
  return g_test_run ();
}
