#include "config.h"

#include "engine/updist.h"

#include <string.h>
#include <meshara/meshara.h>

#include "crypto/hash.h"

#define S G_GUINT64_CONSTANT (1000000000)
/* A peer whose requests time out is left alone for one request timeout,
 * doubling with each round of timeouts in a row up to 2^MAX_BACKOFF_SHIFT
 * timeouts; any good chunk from it starts over. */
#define MAX_BACKOFF_SHIFT 2

/* The request timeout of a peer follows how fast it answered before
 * (as TCP's retransmission timeout does): RTT_FACTOR times its smoothed
 * answer time plus RTT_MARGIN_NS, at most update_request_timeout_ns.  A
 * peer that never answered gets a quarter of that: the usual reason is
 * that it does not hold the chunks yet, which no message says. */
#define RTT_FACTOR 4
#define RTT_MARGIN_NS (G_GUINT64_CONSTANT (50) * 1000000)

typedef enum {
  CHUNK_MISSING,
  CHUNK_INFLIGHT,
  CHUNK_HELD,
} ChunkState;

typedef struct {
  uint8_t state;
  MeshLinkId from;              /* in flight: the link asked */
  MeshLinkId avoid;             /* last link that failed us for it */
  uint64_t sent_ns;             /* in flight: when it was asked for */
  uint64_t deadline_ns;         /* in flight: when it counts as lost */
} Chunk;

typedef struct {
  uint8_t query_id[MESH_WIRE_QUERY_ID_LEN];
  uint8_t manifest_id[MESH_SHA256_LEN];
  uint8_t node_id[MESH_NODE_ID_LEN];
  uint64_t deadline_ns;
} Query;

typedef struct {
  uint8_t id[MESH_SHA256_LEN];
  GBytes *encoded;
  MeshWireUpdateManifest *m;
  gboolean fetch;
  gboolean completed;
  Chunk *chunks;
  uint32_t n_chunks, n_held;
  uint64_t bytes_held;
  uint32_t first_missing;       /* no missing chunk below */
} Update;

typedef struct {
  MeshLinkId link;
  uint8_t node_id[MESH_NODE_ID_LEN];
  uint32_t inflight;
  uint32_t misses;              /* timeouts since its last answer */
  uint64_t backoff_until_ns;
  uint64_t srtt_ns;             /* smoothed answer time; 0 unknown */
  /* What we serve it: at most peer_bytes_per_s, a second of burst, the
   * same limit the engine puts on what a peer sends us. */
  double serve_tokens;
  uint64_t serve_ns;
} Peer;

struct MeshUpdist {
  MeshEngineConfig config;
  MeshUpdistCallbacks cb;
  void *ctx;
  MeshChunkStoreFuncs funcs;
  void *store;
  gboolean has_store;
  GPtrArray *updates;           /* Update */
  GArray *peers;                /* Peer, at most max_links */
  GArray *queries;              /* Query, at most update_max */
  uint32_t rr;                  /* peer to start with, rotating */
  /* Download limit: may go one chunk into debt. */
  double tokens;
  uint64_t tokens_ns;
  uint64_t next_ns;
  uint64_t served, received, bad, requests, timeouts, serve_limited;
};

static void
update_free (gpointer p)
{
  Update *up = p;

  mesh_wire_free (up->m);
  g_bytes_unref (up->encoded);
  g_free (up->chunks);
  g_free (up);
}

MeshUpdist *
mesh_updist_new (const MeshEngineConfig *config, const MeshUpdistCallbacks *cb,
                 void *ctx, uint64_t now_ns)
{
  MeshUpdist *u = g_new0 (MeshUpdist, 1);

  u->config = *config;
  u->config.addresses = NULL;
  u->cb = *cb;
  u->ctx = ctx;
  u->updates = g_ptr_array_new_with_free_func (update_free);
  u->peers = g_array_new (FALSE, TRUE, sizeof (Peer));
  u->queries = g_array_new (FALSE, TRUE, sizeof (Query));
  u->tokens = 0;
  u->tokens_ns = now_ns;
  u->next_ns = UINT64_MAX;
  return u;
}

void
mesh_updist_free (MeshUpdist *u)
{
  if (u == NULL)
    return;
  g_ptr_array_unref (u->updates);
  g_array_unref (u->peers);
  g_array_unref (u->queries);
  g_free (u);
}

void
mesh_updist_set_store (MeshUpdist *u, const MeshChunkStoreFuncs *funcs,
                       void *store)
{
  u->has_store = funcs != NULL;
  if (funcs != NULL)
    u->funcs = *funcs;
  u->store = store;
}

static Update *
find_update (const MeshUpdist *u, const uint8_t *id)
{
  for (guint i = 0; i < u->updates->len; i++)
    {
      Update *up = g_ptr_array_index (u->updates, i);

      if (memcmp (up->id, id, MESH_SHA256_LEN) == 0)
        return up;
    }
  return NULL;
}

static Peer *
find_peer (const MeshUpdist *u, MeshLinkId link)
{
  for (guint i = 0; i < u->peers->len; i++)
    {
      Peer *p = &g_array_index (u->peers, Peer, i);

      if (p->link == link)
        return p;
    }
  return NULL;
}

static size_t
chunk_len (const MeshWireUpdateManifest *m, uint32_t index)
{
  uint64_t off = (uint64_t) index * m->chunk_size;

  return (size_t) MIN ((uint64_t) m->chunk_size, m->size - off);
}

static void
emit (MeshUpdist *u, MeshEventType type, const Update *up, MeshLinkId link,
      const uint8_t *node_id, const char *reason, uint32_t index)
{
  MeshEvent ev;

  memset (&ev, 0, sizeof ev);
  ev.type = type;
  ev.link = link;
  ev.node_id = node_id;
  ev.message_id = up->id;
  ev.reason = reason;
  ev.chunks_done = type == MESH_EVENT_UPDATE_BAD_CHUNK ? index : up->n_held;
  ev.chunks_total = up->n_chunks;
  ev.bytes_done = up->bytes_held;
  ev.bytes_total = up->m->size;
  u->cb.event (u->ctx, &ev);
}

static void
refill (MeshUpdist *u, uint64_t now_ns)
{
  double cap = (double) MESH_WIRE_DEFAULT_CHUNK_SIZE;

  if (now_ns > u->tokens_ns)
    {
      u->tokens += (double) (now_ns - u->tokens_ns) / 1e9
                   * (double) u->config.update_bytes_per_s;
      u->tokens = MIN (u->tokens, cap);
      u->tokens_ns = now_ns;
    }
}

/* The chunk in flight from its peer is no longer waited for. */
static void
release (MeshUpdist *u, Chunk *c)
{
  Peer *p;

  if (c->state != CHUNK_INFLIGHT)
    return;
  p = find_peer (u, c->from);
  if (p != NULL && p->inflight > 0)
    p->inflight--;
  c->state = CHUNK_MISSING;
  c->from = MESH_LINK_NONE;
}

static void
mark_held (MeshUpdist *u, Update *up, uint32_t index)
{
  Chunk *c = &up->chunks[index];

  release (u, c);
  c->state = CHUNK_HELD;
  up->n_held++;
  up->bytes_held += chunk_len (up->m, index);
}

static void
recompute_next (MeshUpdist *u, uint64_t now_ns)
{
  uint64_t t = UINT64_MAX;
  gboolean wanting = FALSE;

  for (guint i = 0; i < u->queries->len; i++)
    t = MIN (t, g_array_index (u->queries, Query, i).deadline_ns);

  for (guint i = 0; i < u->updates->len; i++)
    {
      Update *up = g_ptr_array_index (u->updates, i);

      if (!up->fetch || up->completed)
        continue;
      for (uint32_t j = up->first_missing; j < up->n_chunks; j++)
        {
          if (up->chunks[j].state == CHUNK_INFLIGHT)
            t = MIN (t, up->chunks[j].deadline_ns);
          else if (up->chunks[j].state == CHUNK_MISSING)
            wanting = TRUE;
        }
    }
  if (wanting)
    {
      for (guint i = 0; i < u->peers->len; i++)
        {
          Peer *p = &g_array_index (u->peers, Peer, i);

          if (p->backoff_until_ns > now_ns)
            t = MIN (t, p->backoff_until_ns);
        }
      if (u->config.update_bytes_per_s > 0 && u->tokens <= 0)
        t = MIN (t, now_ns + (uint64_t) ((1.0 - u->tokens) * 1e9
                                         / (double) u->config.update_bytes_per_s) + 1);
    }
  u->next_ns = t;
}

static uint64_t
peer_timeout (const MeshUpdist *u, const Peer *p)
{
  uint64_t max = u->config.update_request_timeout_ns;

  if (p == NULL || p->srtt_ns == 0)
    return MAX (max / 4, 1);
  return MIN (max, RTT_FACTOR * p->srtt_ns + RTT_MARGIN_NS);
}

/* Ask peers for missing chunks, as far as in-flight limits and the
 * bandwidth allow. */
static void
pump (MeshUpdist *u, uint64_t now_ns)
{
  uint32_t limit = u->config.update_inflight_per_peer;
  uint32_t batch[64];
  guint n_peers = u->peers->len;

  if (u->config.update_bytes_per_s > 0)
    refill (u, now_ns);
  for (guint i = 0; i < u->updates->len; i++)
    {
      Update *up = g_ptr_array_index (u->updates, i);

      if (!up->fetch || up->completed)
        continue;
      while (up->first_missing < up->n_chunks
             && up->chunks[up->first_missing].state == CHUNK_HELD)
        up->first_missing++;
      for (guint k = 0; k < n_peers; k++)
        {
          Peer *p = &g_array_index (u->peers, Peer, (u->rr + k) % n_peers);
          size_t n = 0;

          if (p->backoff_until_ns > now_ns || p->inflight >= limit)
            continue;
          for (uint32_t j = up->first_missing;
               j < up->n_chunks && p->inflight + n < limit; j++)
            {
              Chunk *c = &up->chunks[j];

              if (c->state != CHUNK_MISSING)
                continue;
              /* Another peer first, unless this is the only one. */
              if (c->avoid == p->link && n_peers > 1)
                continue;
              if (u->config.update_bytes_per_s > 0)
                {
                  if (u->tokens <= 0)
                    break;
                  u->tokens -= (double) chunk_len (up->m, j);
                }
              c->state = CHUNK_INFLIGHT;
              c->from = p->link;
              c->sent_ns = now_ns;
              c->deadline_ns = now_ns + peer_timeout (u, p);
              batch[n++] = j;
            }
          if (n > 0)
            {
              MeshWireUpdateRequest req = MESHARA__V1__UPDATE_REQUEST__INIT;

              req.package_id.data = up->id;
              req.package_id.len = MESH_SHA256_LEN;
              req.chunk_indices = batch;
              req.n_chunk_indices = n;
              p->inflight += n;
              u->requests++;
              u->cb.send (u->ctx, p->link, MESH_WIRE_TYPE_UPDATE_REQUEST,
                          &req.base, now_ns);
            }
        }
    }
  if (n_peers > 0)
    u->rr = (u->rr + 1) % n_peers;
  recompute_next (u, now_ns);
}

gboolean
mesh_updist_add (MeshUpdist *u, const uint8_t *id, const uint8_t *manifest,
                 size_t len, gboolean fetch, uint64_t now_ns, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  Update *up;
  uint64_t want;

  if (!u->has_store)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "cannot track an update: no chunk store is set");
      return FALSE;
    }
  up = find_update (u, id);
  if (up != NULL)
    {
      if (fetch && !up->fetch)
        {
          up->fetch = TRUE;
          if (up->n_held == up->n_chunks)
            {
              up->completed = TRUE;
              emit (u, MESH_EVENT_UPDATE_COMPLETED, up, MESH_LINK_NONE, NULL, NULL, 0);
            }
          pump (u, now_ns);
        }
      return TRUE;
    }
  if (u->updates->len >= u->config.update_max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "cannot track an update: %u updates are tracked already",
                   u->config.update_max);
      return FALSE;
    }
  m = mesh_wire_decode_update_manifest (manifest, len, error);
  if (m == NULL)
    return FALSE;
  want = m->chunk_size ? (m->size + m->chunk_size - 1) / m->chunk_size : 0;
  if (m->chunk_size == 0 || m->size == 0 || want != m->n_chunk_hashes
      || want > MESH_WIRE_MAX_UPDATE_CHUNKS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "update manifest has %zu chunk hashes for %" G_GUINT64_FORMAT
                   " bytes in chunks of %" G_GUINT32_FORMAT,
                   m->n_chunk_hashes, m->size, m->chunk_size);
      return FALSE;
    }
  for (size_t i = 0; i < m->n_chunk_hashes; i++)
    if (m->chunk_hashes[i].len != MESH_SHA256_LEN)
      {
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                     "update manifest chunk hash %zu is not 32 bytes", i);
        return FALSE;
      }
  up = g_new0 (Update, 1);
  memcpy (up->id, id, MESH_SHA256_LEN);
  up->m = g_steal_pointer (&m);
  up->encoded = g_bytes_new (manifest, len);
  up->fetch = fetch;
  up->n_chunks = (uint32_t) want;
  up->chunks = g_new0 (Chunk, up->n_chunks);
  g_ptr_array_add (u->updates, up);
  /* What the store holds already counts: resuming. */
  for (uint32_t j = 0; j < up->n_chunks; j++)
    if (u->funcs.has (u->store, up->id, j))
      mark_held (u, up, j);
  if (fetch && up->n_held == up->n_chunks)
    {
      up->completed = TRUE;
      emit (u, MESH_EVENT_UPDATE_COMPLETED, up, MESH_LINK_NONE, NULL, NULL, 0);
    }
  pump (u, now_ns);
  return TRUE;
}

void
mesh_updist_remove (MeshUpdist *u, const uint8_t *id)
{
  Update *up = find_update (u, id);

  if (up == NULL)
    return;
  for (uint32_t j = 0; j < up->n_chunks; j++)
    release (u, &up->chunks[j]);
  g_ptr_array_remove (u->updates, up);
}

gboolean
mesh_updist_progress (const MeshUpdist *u, const uint8_t *id, uint32_t *done,
                      uint32_t *total)
{
  Update *up = find_update (u, id);

  if (up == NULL)
    return FALSE;
  if (done)
    *done = up->n_held;
  if (total)
    *total = up->n_chunks;
  return TRUE;
}

void
mesh_updist_link_up (MeshUpdist *u, MeshLinkId link, const uint8_t *node_id,
                     uint64_t now_ns)
{
  Peer p;

  if (find_peer (u, link) != NULL)
    return;
  memset (&p, 0, sizeof p);
  p.link = link;
  p.serve_tokens = (double) u->config.peer_bytes_per_s;
  p.serve_ns = now_ns;
  memcpy (p.node_id, node_id, MESH_NODE_ID_LEN);
  g_array_append_val (u->peers, p);
  pump (u, now_ns);
}

void
mesh_updist_link_down (MeshUpdist *u, MeshLinkId link, uint64_t now_ns)
{
  for (guint i = 0; i < u->updates->len; i++)
    {
      Update *up = g_ptr_array_index (u->updates, i);

      for (uint32_t j = 0; j < up->n_chunks; j++)
        if (up->chunks[j].state == CHUNK_INFLIGHT && up->chunks[j].from == link)
          {
            up->chunks[j].state = CHUNK_MISSING;
            up->chunks[j].from = MESH_LINK_NONE;
          }
    }
  for (guint i = 0; i < u->peers->len; i++)
    if (g_array_index (u->peers, Peer, i).link == link)
      {
        g_array_remove_index_fast (u->peers, i);
        break;
      }
  pump (u, now_ns);
}

gboolean
mesh_updist_handle_request (MeshUpdist *u, MeshLinkId link,
                            const uint8_t *payload, size_t len, uint64_t now_ns)
{
  g_autoptr (MeshWireUpdateRequest) req = NULL;
  double rate = (double) u->config.peer_bytes_per_s;
  Update *up;
  Peer *p;
  uint32_t served = 0;

  req = mesh_wire_decode_update_request (payload, len, NULL);
  if (req == NULL)
    return FALSE;
  if (req->package_id.len != MESH_SHA256_LEN
      || (up = find_update (u, req->package_id.data)) == NULL)
    return TRUE;                /* not an update we carry */
  p = find_peer (u, link);
  if (p == NULL)
    return TRUE;
  if (now_ns > p->serve_ns)
    {
      p->serve_tokens = MIN (rate, p->serve_tokens
                                   + (double) (now_ns - p->serve_ns) / 1e9 * rate);
      p->serve_ns = now_ns;
    }
  for (size_t i = 0; i < req->n_chunk_indices
       && served < u->config.update_serve_per_request; i++)
    {
      uint32_t index = req->chunk_indices[i];
      MeshWireUpdateChunk ch = MESHARA__V1__UPDATE_CHUNK__INIT;
      g_autoptr (GBytes) data = NULL;
      gsize dlen;

      if (index >= up->n_chunks)
        continue;
      if (p->serve_tokens < (double) chunk_len (up->m, index))
        {
          u->serve_limited++;
          break;                /* over its share: it will ask again */
        }
      if (up->chunks[index].state != CHUNK_HELD
          && !u->funcs.has (u->store, up->id, index))
        continue;
      data = u->funcs.get (u->store, up->id, index);
      if (data == NULL)
        continue;
      ch.package_id.data = up->id;
      ch.package_id.len = MESH_SHA256_LEN;
      ch.index = index;
      ch.data.data = (uint8_t *) g_bytes_get_data (data, &dlen);
      ch.data.len = dlen;
      ch.hash = up->m->chunk_hashes[index];
      u->cb.send (u->ctx, link, MESH_WIRE_TYPE_UPDATE_CHUNK, &ch.base, now_ns);
      p->serve_tokens -= (double) dlen;
      served++;
      u->served++;
    }
  return TRUE;
}

/* Peers answer a request's indices in order and skip those they do not
 * hold, and a link keeps order: when chunk index (c) arrives from p, the
 * chunks p was asked for earlier, or in the same request before it, and
 * has not sent are not held there.  They are asked of others at once
 * rather than after a timeout. */
static void
skipped_by (MeshUpdist *u, Update *up, Peer *p, const Chunk *c, uint32_t index)
{
  for (uint32_t j = up->first_missing; j < up->n_chunks && p->inflight > 1; j++)
    {
      Chunk *o = &up->chunks[j];

      if (o == c || o->state != CHUNK_INFLIGHT || o->from != p->link)
        continue;
      if (o->sent_ns < c->sent_ns || (o->sent_ns == c->sent_ns && j < index))
        {
          release (u, o);
          o->avoid = p->link;
        }
    }
}

gboolean
mesh_updist_handle_chunk (MeshUpdist *u, MeshLinkId link,
                          const uint8_t *payload, size_t len, uint64_t now_ns)
{
  g_autoptr (MeshWireUpdateChunk) ch = NULL;
  uint8_t digest[MESH_SHA256_LEN];
  Update *up;
  Chunk *c;
  Peer *p;

  ch = mesh_wire_decode_update_chunk (payload, len, NULL);
  if (ch == NULL)
    return FALSE;
  if (ch->package_id.len != MESH_SHA256_LEN
      || (up = find_update (u, ch->package_id.data)) == NULL)
    return TRUE;                /* nothing we asked for: ignored */
  if (ch->index >= up->n_chunks)
    return FALSE;               /* not a chunk of that update at all */
  if (!up->fetch)
    return TRUE;
  c = &up->chunks[ch->index];
  if (c->state == CHUNK_HELD)
    return TRUE;
  p = find_peer (u, link);
  mesh_sha256 (ch->data.data, ch->data.len, digest);
  if (ch->data.len != chunk_len (up->m, ch->index)
      || memcmp (digest, up->m->chunk_hashes[ch->index].data, MESH_SHA256_LEN) != 0)
    {
      char *reason = g_strdup_printf ("chunk %" G_GUINT32_FORMAT
                                      " does not match the manifest's hash",
                                      ch->index);

      u->bad++;
      if (c->state == CHUNK_INFLIGHT && c->from == link)
        release (u, c);
      c->avoid = link;
      emit (u, MESH_EVENT_UPDATE_BAD_CHUNK, up, link, p ? p->node_id : NULL,
            reason, ch->index);
      u->cb.penalize (u->ctx, link, reason, now_ns);
      g_free (reason);
      pump (u, now_ns);
      return TRUE;
    }
  if (p != NULL)
    {
      p->misses = 0;
      if (c->state == CHUNK_INFLIGHT && c->from == link)
        {
          uint64_t sample = MAX (now_ns - MIN (c->sent_ns, now_ns), 1);

          p->srtt_ns = p->srtt_ns ? (7 * p->srtt_ns + sample) / 8 : sample;
          skipped_by (u, up, p, c, ch->index);
        }
    }
  if (!u->funcs.put (u->store, up->id, ch->index, ch->data.data, ch->data.len))
    {
      release (u, c);
      pump (u, now_ns);
      return TRUE;
    }
  u->received++;
  mark_held (u, up, ch->index);
  emit (u, MESH_EVENT_UPDATE_PROGRESS, up, link, p ? p->node_id : NULL, NULL, 0);
  if (up->n_held == up->n_chunks && !up->completed)
    {
      up->completed = TRUE;
      emit (u, MESH_EVENT_UPDATE_COMPLETED, up, link, p ? p->node_id : NULL, NULL, 0);
    }
  pump (u, now_ns);
  return TRUE;
}

GBytes *
mesh_updist_manifest (const MeshUpdist *u, const uint8_t *id)
{
  Update *up = find_update (u, id);

  return up ? up->encoded : NULL;
}

gboolean
mesh_updist_query_room (const MeshUpdist *u, GError **error)
{
  if (u->queries->len >= u->config.update_max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "%u manifest queries are waiting for an answer already",
                   u->queries->len);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_updist_query_start (MeshUpdist *u, const uint8_t *manifest_id,
                         const uint8_t *node_id,
                         const uint8_t query_id[MESH_WIRE_QUERY_ID_LEN],
                         uint64_t now_ns, GError **error)
{
  Query q;

  if (!mesh_updist_query_room (u, error))
    return FALSE;
  memset (&q, 0, sizeof q);
  memcpy (q.query_id, query_id, MESH_WIRE_QUERY_ID_LEN);
  memcpy (q.manifest_id, manifest_id, MESH_SHA256_LEN);
  memcpy (q.node_id, node_id, MESH_NODE_ID_LEN);
  q.deadline_ns = now_ns + u->config.update_query_timeout_ns;
  g_array_append_val (u->queries, q);
  u->next_ns = MIN (u->next_ns, q.deadline_ns);
  return TRUE;
}

static void
emit_manifest (MeshUpdist *u, const Query *q, const uint8_t *data, size_t len,
               const char *reason)
{
  MeshEvent ev;

  memset (&ev, 0, sizeof ev);
  ev.type = MESH_EVENT_UPDATE_MANIFEST;
  ev.message_id = q->manifest_id;
  ev.node_id = q->node_id;
  ev.data = data;
  ev.len = len;
  ev.reason = reason;
  u->cb.event (u->ctx, &ev);
}

static const char *
response_code_name (int code)
{
  switch (code)
    {
    case MESH_WIRE_RESPONSE_OK:
      return "OK";
    case MESH_WIRE_RESPONSE_NOT_FOUND:
      return "NOT_FOUND";
    case MESH_WIRE_RESPONSE_UNAUTHORIZED:
      return "UNAUTHORIZED";
    default:
      return "ERROR";
    }
}

gboolean
mesh_updist_query_response (MeshUpdist *u, const uint8_t *node_id,
                            const MeshWireResponse *r, uint64_t now_ns)
{
  for (guint i = 0; i < u->queries->len; i++)
    {
      Query q = g_array_index (u->queries, Query, i);

      if (r->query_id.len != MESH_WIRE_QUERY_ID_LEN
          || memcmp (q.query_id, r->query_id.data, MESH_WIRE_QUERY_ID_LEN) != 0
          || memcmp (q.node_id, node_id, MESH_NODE_ID_LEN) != 0)
        continue;
      g_array_remove_index_fast (u->queries, i);
      if (r->code == MESH_WIRE_RESPONSE_OK && r->body.len > 0)
        emit_manifest (u, &q, r->body.data, r->body.len, NULL);
      else
        {
          char *reason = g_strdup_printf ("the node answered %s%s%s",
                                          response_code_name (r->code),
                                          r->message && *r->message ? ": " : "",
                                          r->message ? r->message : "");

          emit_manifest (u, &q, NULL, 0, reason);
          g_free (reason);
        }
      recompute_next (u, now_ns);
      return TRUE;
    }
  return FALSE;
}

uint64_t
mesh_updist_next_timeout (const MeshUpdist *u)
{
  return u->next_ns;
}

void
mesh_updist_tick (MeshUpdist *u, uint64_t now_ns)
{
  if (now_ns < u->next_ns)
    return;
  for (guint i = 0; i < u->queries->len;)
    {
      Query q = g_array_index (u->queries, Query, i);

      if (q.deadline_ns > now_ns)
        {
          i++;
          continue;
        }
      g_array_remove_index_fast (u->queries, i);
      emit_manifest (u, &q, NULL, 0, "no answer to the manifest query in time");
    }
  for (guint i = 0; i < u->updates->len; i++)
    {
      Update *up = g_ptr_array_index (u->updates, i);

      for (uint32_t j = up->first_missing; j < up->n_chunks; j++)
        {
          Chunk *c = &up->chunks[j];
          Peer *p;

          if (c->state != CHUNK_INFLIGHT || c->deadline_ns > now_ns)
            continue;
          p = find_peer (u, c->from);
          u->timeouts++;
          c->avoid = c->from;
          release (u, c);
          /* One miss per peer and round, however many chunks. */
          if (p != NULL && p->backoff_until_ns <= now_ns)
            {
              p->misses++;
              p->backoff_until_ns = now_ns + (peer_timeout (u, p)
                                              << MIN (p->misses - 1,
                                                      (uint32_t) MAX_BACKOFF_SHIFT));
            }
        }
    }
  pump (u, now_ns);
}

void
mesh_updist_add_stats (const MeshUpdist *u, MeshEngineStats *stats)
{
  stats->chunks_served = u->served;
  stats->chunks_received = u->received;
  stats->chunks_bad = u->bad;
  stats->chunk_requests_sent = u->requests;
  stats->chunk_timeouts = u->timeouts;
  stats->chunks_serve_limited = u->serve_limited;
}
