/* Update distribution in the engine (lib/engine/updist.c): UpdateRequest
 * and UpdateChunk from peers, manifest query answers, links and time,
 * against a chunk store in memory.
 *
 * Two updates are tracked (fuzz-update.h manifests, chunks of 1 KiB):
 * A, 5 chunks, fetched (its missing chunks are asked of the peers); B, 3
 * chunks, all held and served.  Links 1 to 3 can go up and down.
 *
 * Input: byte 0: bit 0 turns the download limit on (4 KiB/s), bit 1
 * makes the store refuse every third put; then operations, each one byte
 * (mod 11) and its arguments:
 *   0 L         link L % 3 + 1 up          1 L   link down
 *   2 N bytes   raw UpdateRequest (N: 2 bytes) from link 1
 *   3 L U C i.. UpdateRequest from L for update U (0 A, 1 B, 2 unknown)
 *               with C % 9 indices (a byte each)
 *   4 N bytes   raw UpdateChunk from link 1
 *   5 L I M     the real chunk I % 6 of A from L; M: 0 as is, 1 one byte
 *               changed, 2 one byte short, 3 B's chunk 0 sent as A's
 *   6 T         time passes: T (2 bytes) ms, then the timers run
 *   7 L Q U     a manifest query for U to L's peer under query ID Q (1
 *               byte, repeated)
 *   8 L Q C N b a response from L's peer to query ID Q, code C % 5, body
 *               (N: 1 byte) from the input, or B's manifest when N is 0
 *   9 N bytes   raw ResponseMessage from link 1's peer
 *  10 U F       remove update U, or add it again (fetch F & 1)
 *
 * Checked besides memory safety:
 * - a payload is refused (FALSE) exactly when it does not decode, or is
 *   a chunk of a tracked update with an index past its last chunk;
 * - requests go to links that are up, for fetched updates, with at most
 *   update_inflight_per_peer indices, each missing from the store;
 * - chunks served go to links that are up, hold the store's bytes and
 *   the manifest's hash, at most update_serve_per_request per request;
 * - the store is given only chunks that match the manifest's hash and
 *   length; a peer is penalized only for a chunk that does not;
 * - progress counts the chunks in the store; COMPLETED comes only with
 *   every chunk held; a manifest event answers a query started to that
 *   peer (and only once), a query beyond update_max is refused. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "fuzz-update.h"
#include "crypto/hash.h"
#include "engine/updist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_LINKS 3
#define MAX_QUERIES 8

typedef struct {
  uint8_t id[MESH_SHA256_LEN];
  GBytes *enc;
  MeshWireUpdateManifest *m;
  guint8 *data;
  gboolean tracked;
} Upd;

typedef struct {
  uint8_t qid[MESH_WIRE_QUERY_ID_LEN];
  uint8_t node[MESH_NODE_ID_LEN];
  uint8_t manifest_id[MESH_SHA256_LEN];
} PendingQuery;

typedef struct {
  MeshEngineConfig config;
  GHashTable *store;            /* "id-hex/index" -> GBytes */
  guint puts;
  gboolean refuse_some;
  gboolean up[N_LINKS + 1];
  uint8_t node_id[N_LINKS + 1][MESH_NODE_ID_LEN];
  gboolean in_chunk;            /* inside handle_chunk */
  gboolean chunk_bad;           /* the chunk being handled is not the manifest's */
  gboolean in_request;
  guint served;
  GArray *queries;              /* PendingQuery, in the order started */
  const uint8_t *answer_qid;    /* the query ID of a response being handled */
  MeshUpdist *u;
} State;

static Upd upd[2];

static void
fail (const char *why)
{
  fprintf (stderr, "update chunks: %s\n", why);
  abort ();
}

static char *
key (const uint8_t *id, uint32_t index)
{
  char hex[2 * 8 + 1];

  for (int i = 0; i < 8; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", id[i]);
  return g_strdup_printf ("%s/%u", hex, index);
}

static Upd *
find_upd (const uint8_t *id)
{
  for (int i = 0; i < 2; i++)
    if (memcmp (upd[i].id, id, MESH_SHA256_LEN) == 0)
      return &upd[i];
  return NULL;
}

static gboolean
store_has (void *store, const uint8_t *id, uint32_t index)
{
  State *s = store;
  g_autofree char *k = key (id, index);

  return g_hash_table_contains (s->store, k);
}

static GBytes *
store_get (void *store, const uint8_t *id, uint32_t index)
{
  State *s = store;
  g_autofree char *k = key (id, index);
  GBytes *b = g_hash_table_lookup (s->store, k);

  return b ? g_bytes_ref (b) : NULL;
}

static gboolean
store_put (void *store, const uint8_t *id, uint32_t index, const uint8_t *data,
           size_t len)
{
  State *s = store;
  Upd *x = find_upd (id);
  uint8_t h[MESH_SHA256_LEN];

  if (!s->in_chunk)
    fail ("the store was given a chunk outside of a received chunk");
  if (x == NULL || index >= x->m->n_chunk_hashes)
    fail ("the store was given a chunk of no tracked update");
  mesh_sha256 (data, len, h);
  if (len != mesh_update_chunk_len (x->m, index)
      || memcmp (h, x->m->chunk_hashes[index].data, MESH_SHA256_LEN) != 0)
    fail ("the store was given a chunk that does not match the manifest");
  if (s->refuse_some && ++s->puts % 3 == 0)
    return FALSE;
  g_hash_table_insert (s->store, key (id, index), g_bytes_new (data, len));
  return TRUE;
}

static guint
held (State *s, const Upd *x)
{
  guint n = 0;

  for (uint32_t i = 0; i < x->m->n_chunk_hashes; i++)
    n += store_has (s, x->id, i);
  return n;
}

static void
cb_send (void *ctx, MeshLinkId link, uint32_t type,
         const ProtobufCMessage *payload, uint64_t now_ns)
{
  State *s = ctx;
  Upd *x;

  (void) now_ns;
  if (link < 1 || link > N_LINKS || !s->up[link])
    fail ("a message was sent on a link that is not up");
  if (type == MESH_WIRE_TYPE_UPDATE_REQUEST)
    {
      const MeshWireUpdateRequest *r = (const MeshWireUpdateRequest *) payload;

      x = find_upd (r->package_id.data);
      if (x == NULL || !x->tracked)
        fail ("a request for an update not tracked");
      if (r->n_chunk_indices == 0
          || r->n_chunk_indices > s->config.update_inflight_per_peer)
        fail ("a request with no index or more than may be in flight");
      for (size_t i = 0; i < r->n_chunk_indices; i++)
        if (r->chunk_indices[i] >= x->m->n_chunk_hashes
            || store_has (s, x->id, r->chunk_indices[i]))
          fail ("a request for a chunk out of range or held");
      if (!mesh_wire_validate (payload, NULL))
        fail ("a request that does not validate was sent");
    }
  else if (type == MESH_WIRE_TYPE_UPDATE_CHUNK)
    {
      const MeshWireUpdateChunk *c = (const MeshWireUpdateChunk *) payload;
      g_autoptr (GBytes) b = NULL;

      if (!s->in_request)
        fail ("a chunk was sent unasked");
      if (++s->served > s->config.update_serve_per_request)
        fail ("more chunks served than one request may get");
      x = find_upd (c->package_id.data);
      if (x == NULL || !x->tracked || c->index >= x->m->n_chunk_hashes)
        fail ("a chunk of an update not tracked was served");
      b = store_get (s, x->id, c->index);
      if (b == NULL || g_bytes_get_size (b) != c->data.len
          || memcmp (g_bytes_get_data (b, NULL), c->data.data, c->data.len) != 0)
        fail ("a chunk served is not the store's");
      if (c->hash.len != MESH_SHA256_LEN
          || memcmp (c->hash.data, x->m->chunk_hashes[c->index].data,
                     MESH_SHA256_LEN) != 0)
        fail ("a chunk served without the manifest's hash");
      if (!mesh_wire_validate (payload, NULL))
        fail ("a chunk that does not validate was served");
    }
  else
    fail ("a message of another type was sent");
}

static void
cb_penalize (void *ctx, MeshLinkId link, const char *reason, uint64_t now_ns)
{
  State *s = ctx;

  (void) link;
  (void) now_ns;
  if (!s->in_chunk || !s->chunk_bad || reason == NULL)
    fail ("a peer was penalized without sending a bad chunk");
}

static void
cb_event (void *ctx, const MeshEvent *ev)
{
  State *s = ctx;

  switch (ev->type)
    {
    case MESH_EVENT_UPDATE_PROGRESS:
    case MESH_EVENT_UPDATE_COMPLETED:
      {
        Upd *x = find_upd (ev->message_id);

        if (x == NULL || ev->chunks_total != x->m->n_chunk_hashes
            || ev->chunks_done > ev->chunks_total
            || ev->bytes_total != x->m->size || ev->bytes_done > ev->bytes_total)
          fail ("an update event with wrong counts");
        if (ev->type == MESH_EVENT_UPDATE_COMPLETED
            && (ev->chunks_done != ev->chunks_total
                || held (s, x) != ev->chunks_total))
          fail ("COMPLETED before every chunk is held");
        break;
      }
    case MESH_EVENT_UPDATE_BAD_CHUNK:
      if (!s->in_chunk || !s->chunk_bad || ev->reason == NULL)
        fail ("BAD_CHUNK without a bad chunk");
      break;
    case MESH_EVENT_UPDATE_MANIFEST:
      {
        guint i;

        for (i = 0; i < s->queries->len; i++)
          {
            PendingQuery *q = &g_array_index (s->queries, PendingQuery, i);

            /* An answer names its query; a timeout ends the oldest
             * query of that peer and manifest first. */
            if (memcmp (q->node, ev->node_id, MESH_NODE_ID_LEN) == 0
                && memcmp (q->manifest_id, ev->message_id, MESH_SHA256_LEN) == 0
                && (s->answer_qid == NULL
                    || memcmp (q->qid, s->answer_qid, MESH_WIRE_QUERY_ID_LEN) == 0))
              break;
          }
        if (i == s->queries->len)
          fail ("a manifest event answers no query of that peer");
        g_array_remove_index (s->queries, i);
        if ((ev->data == NULL) == (ev->reason == NULL))
          fail ("a manifest event with both or neither data and reason");
        break;
      }
    default:
      fail ("an event of another type");
    }
}

static void
init (void)
{
  if (upd[0].enc != NULL)
    return;
  mesh_fuzz_update_init ();
  upd[0].enc = mesh_fuzz_manifest ("meshara", 7, 0, 1024, 4500, 11,
                                   &upd[0].data);
  upd[1].enc = mesh_fuzz_manifest ("tools", 2, 0, 1024, 2100, 12,
                                   &upd[1].data);
  for (int i = 0; i < 2; i++)
    {
      upd[i].m = mesh_update_manifest_parse (g_bytes_get_data (upd[i].enc, NULL),
                                             g_bytes_get_size (upd[i].enc),
                                             NULL);
      if (upd[i].m == NULL)
        abort ();
      mesh_update_manifest_digest (upd[i].m, upd[i].id);
    }
}

static void
check_progress (State *s)
{
  for (int i = 0; i < 2; i++)
    {
      uint32_t done, total;
      gboolean tracked = mesh_updist_progress (s->u, upd[i].id, &done, &total);

      if (tracked != upd[i].tracked)
        fail ("the updates tracked are not the ones added");
      if (tracked && (total != upd[i].m->n_chunk_hashes
                      || done != held (s, &upd[i])))
        fail ("progress does not count the chunks in the store");
    }
}

static void
add (State *s, int i, gboolean fetch, uint64_t now)
{
  g_autoptr (GError) error = NULL;

  /* Tracked already while it is added: adding asks peers at once. */
  upd[i].tracked = TRUE;
  if (!mesh_updist_add (s->u, upd[i].id, g_bytes_get_data (upd[i].enc, NULL),
                        g_bytes_get_size (upd[i].enc), fetch, now, &error))
    fail ("a valid manifest could not be tracked");
}

/* What handle_chunk must answer: FALSE when it does not decode or names
 * a chunk past the end of a tracked update. */
static gboolean
chunk_expected (const uint8_t *p, size_t len, gboolean *bad)
{
  g_autoptr (MeshWireUpdateChunk) c = mesh_wire_decode_update_chunk (p, len, NULL);
  Upd *x;
  uint8_t h[MESH_SHA256_LEN];

  *bad = FALSE;
  if (c == NULL)
    return FALSE;
  if (c->package_id.len != MESH_SHA256_LEN
      || (x = find_upd (c->package_id.data)) == NULL || !x->tracked)
    return TRUE;
  if (c->index >= x->m->n_chunk_hashes)
    return FALSE;
  mesh_sha256 (c->data.data, c->data.len, h);
  *bad = c->data.len != mesh_update_chunk_len (x->m, c->index)
         || memcmp (h, x->m->chunk_hashes[c->index].data, MESH_SHA256_LEN) != 0;
  return TRUE;
}

static void
deliver_chunk (State *s, MeshLinkId link, const uint8_t *p, size_t len,
               uint64_t now)
{
  gboolean bad, want = chunk_expected (p, len, &bad), got;

  s->in_chunk = TRUE;
  s->chunk_bad = bad;
  got = mesh_updist_handle_chunk (s->u, link, p, len, now);
  s->in_chunk = FALSE;
  if (got != want)
    fail (got ? "a chunk that must be refused was taken"
              : "a valid chunk message was refused");
}

static void
deliver_request (State *s, MeshLinkId link, const uint8_t *p, size_t len,
                 uint64_t now)
{
  g_autoptr (MeshWireUpdateRequest) r = mesh_wire_decode_update_request (p, len,
                                                                         NULL);
  gboolean got;

  s->in_request = TRUE;
  s->served = 0;
  got = mesh_updist_handle_request (s->u, link, p, len, now);
  s->in_request = FALSE;
  if (got != (r != NULL))
    fail ("a request was taken or refused against the decoder");
}

static GBytes *
encode_free (ProtobufCMessage *m)
{
  return mesh_wire_encode (m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshFuzzInput in;
  MeshUpdistCallbacks cb = { cb_send, cb_penalize, cb_event };
  static const MeshChunkStoreFuncs funcs = { store_has, store_get, store_put };
  State s;
  uint64_t now = 1000000000;
  uint8_t flags;
  int ops = 0;

  init ();
  memset (&s, 0, sizeof s);
  mesh_engine_config_init (&s.config);
  mesh_fuzz_input_init (&in, data, size);
  flags = mesh_fuzz_u8 (&in);
  if (flags & 1)
    s.config.update_bytes_per_s = 4096;
  s.refuse_some = (flags & 2) != 0;
  s.store = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_bytes_unref);
  s.queries = g_array_new (FALSE, TRUE, sizeof (PendingQuery));
  for (int l = 1; l <= N_LINKS; l++)
    memset (s.node_id[l], 0x40 + l, MESH_NODE_ID_LEN);
  /* B is held whole. */
  for (uint32_t i = 0; i < upd[1].m->n_chunk_hashes; i++)
    {
      gsize off = (gsize) i * upd[1].m->chunk_size;

      g_hash_table_insert (s.store, key (upd[1].id, i),
                           g_bytes_new (upd[1].data + off,
                                        mesh_update_chunk_len (upd[1].m, i)));
    }
  upd[0].tracked = upd[1].tracked = FALSE;
  s.u = mesh_updist_new (&s.config, &cb, &s, now);
  mesh_updist_set_store (s.u, &funcs, &s);
  add (&s, 0, TRUE, now);
  add (&s, 1, FALSE, now);

  while (in.n > 0 && ops++ < 256)
    {
      uint8_t op = mesh_fuzz_u8 (&in) % 11;
      MeshLinkId link;
      const uint8_t *p;
      size_t n;

      switch (op)
        {
        case 0:
          link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
          s.up[link] = TRUE;
          mesh_updist_link_up (s.u, link, s.node_id[link], now);
          break;
        case 1:
          link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
          s.up[link] = FALSE;
          mesh_updist_link_down (s.u, link, now);
          break;
        case 2:
          n = mesh_fuzz_bytes (&in, mesh_fuzz_u16 (&in), &p);
          deliver_request (&s, 1, p, n, now);
          break;
        case 3:
          {
            MeshWireUpdateRequest r = MESHARA__V1__UPDATE_REQUEST__INIT;
            uint32_t idx[8];
            uint8_t unknown[MESH_SHA256_LEN];
            uint8_t which;
            g_autoptr (GBytes) b = NULL;

            link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
            which = mesh_fuzz_u8 (&in) % 3;
            memset (unknown, 0x5a, sizeof unknown);
            r.package_id.data = which < 2 ? upd[which].id : unknown;
            r.package_id.len = MESH_SHA256_LEN;
            r.n_chunk_indices = mesh_fuzz_u8 (&in) % 9;
            for (size_t i = 0; i < r.n_chunk_indices; i++)
              idx[i] = mesh_fuzz_u8 (&in);
            r.chunk_indices = idx;
            b = encode_free (&r.base);
            deliver_request (&s, link, g_bytes_get_data (b, NULL),
                             g_bytes_get_size (b), now);
            break;
          }
        case 4:
          n = mesh_fuzz_bytes (&in, mesh_fuzz_u16 (&in), &p);
          deliver_chunk (&s, 1, p, n, now);
          break;
        case 5:
          {
            MeshWireUpdateChunk c = MESHARA__V1__UPDATE_CHUNK__INIT;
            uint32_t index;
            uint8_t mode, h[MESH_SHA256_LEN];
            guint8 buf[1024];
            gsize len;
            g_autoptr (GBytes) b = NULL;
            const Upd *src = &upd[0];

            link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
            index = mesh_fuzz_u8 (&in) % 6;
            mode = mesh_fuzz_u8 (&in) % 4;
            if (mode == 3)
              {
                src = &upd[1];
                index = 0;
              }
            if (index < src->m->n_chunk_hashes)
              {
                len = mesh_update_chunk_len (src->m, index);
                memcpy (buf, src->data + (gsize) index * src->m->chunk_size, len);
              }
            else
              {
                len = 10;
                memset (buf, 1, len);
              }
            if (mode == 1)
              buf[len / 2] ^= 0x01;
            else if (mode == 2)
              len--;
            mesh_sha256 (buf, len, h);
            c.package_id.data = upd[0].id;
            c.package_id.len = MESH_SHA256_LEN;
            c.index = index;
            c.data.data = buf;
            c.data.len = len;
            c.hash.data = h;
            c.hash.len = sizeof h;
            b = encode_free (&c.base);
            deliver_chunk (&s, link, g_bytes_get_data (b, NULL),
                           g_bytes_get_size (b), now);
            break;
          }
        case 6:
          now += (uint64_t) mesh_fuzz_u16 (&in) * 1000000;
          if (mesh_updist_next_timeout (s.u) <= now)
            mesh_updist_tick (s.u, now);
          break;
        case 7:
          {
            PendingQuery q;
            g_autoptr (GError) error = NULL;
            uint8_t which;
            gboolean room = s.queries->len < s.config.update_max;

            link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
            memset (q.qid, mesh_fuzz_u8 (&in), sizeof q.qid);
            which = mesh_fuzz_u8 (&in) % 3;
            memcpy (q.node, s.node_id[link], MESH_NODE_ID_LEN);
            if (which < 2)
              memcpy (q.manifest_id, upd[which].id, MESH_SHA256_LEN);
            else
              memset (q.manifest_id, 0x77, MESH_SHA256_LEN);
            if (mesh_updist_query_start (s.u, q.manifest_id, q.node, q.qid, now,
                                         &error) != room)
              fail ("a manifest query was refused with room, or taken beyond "
                    "update_max");
            if (room)
              g_array_append_val (s.queries, q);
            else
              mesh_fuzz_expect_code (error, MESHARA_ERROR_EXHAUSTED,
                                     "mesh_updist_query_start");
            break;
          }
        case 8:
        case 9:
          {
            MeshWireResponse r = MESHARA__V1__RESPONSE_MESSAGE__INIT;
            g_autoptr (MeshWireResponse) raw = NULL;
            const MeshWireResponse *rp = &r;
            uint8_t qid[MESH_WIRE_QUERY_ID_LEN];
            guint before = s.queries->len;
            gboolean matched, answers = FALSE;

            if (op == 8)
              {
                link = mesh_fuzz_u8 (&in) % N_LINKS + 1;
                memset (qid, mesh_fuzz_u8 (&in), sizeof qid);
                r.query_id.data = qid;
                r.query_id.len = sizeof qid;
                r.code = mesh_fuzz_u8 (&in) % 5;
                n = mesh_fuzz_bytes (&in, mesh_fuzz_u8 (&in), &p);
                if (n == 0)
                  {
                    p = g_bytes_get_data (upd[1].enc, &n);
                  }
                r.body.data = (uint8_t *) p;
                r.body.len = n;
                r.message = (char *) "";
              }
            else
              {
                link = 1;
                n = mesh_fuzz_bytes (&in, mesh_fuzz_u16 (&in), &p);
                raw = mesh_wire_decode_response (p, n, NULL);
                if (raw == NULL)
                  break;
                rp = raw;
              }
            for (guint i = 0; i < s.queries->len; i++)
              {
                PendingQuery *q = &g_array_index (s.queries, PendingQuery, i);

                if (rp->query_id.len == MESH_WIRE_QUERY_ID_LEN
                    && memcmp (q->qid, rp->query_id.data, MESH_WIRE_QUERY_ID_LEN) == 0
                    && memcmp (q->node, s.node_id[link], MESH_NODE_ID_LEN) == 0)
                  answers = TRUE;
              }
            s.answer_qid = rp->query_id.len == MESH_WIRE_QUERY_ID_LEN
                             ? rp->query_id.data : NULL;
            matched = mesh_updist_query_response (s.u, s.node_id[link], rp, now);
            s.answer_qid = NULL;
            if (matched != answers)
              fail ("a response was matched to a query against the model");
            if (matched && s.queries->len != before - 1)
              fail ("an answered query did not give one manifest event");
            if (!matched && s.queries->len != before)
              fail ("an unmatched response gave a manifest event");
            break;
          }
        case 10:
          {
            uint8_t which = mesh_fuzz_u8 (&in) % 2;
            uint8_t f = mesh_fuzz_u8 (&in);

            if (upd[which].tracked)
              {
                mesh_updist_remove (s.u, upd[which].id);
                upd[which].tracked = FALSE;
              }
            else
              add (&s, which, f & 1, now);
            break;
          }
        }
      check_progress (&s);
    }

  /* Every query is answered by its deadline at the latest. */
  now += s.config.update_query_timeout_ns + 1;
  if (s.queries->len > 0)
    {
      mesh_updist_tick (s.u, now);
      if (s.queries->len != 0)
        fail ("a query past its deadline gave no manifest event");
    }

  mesh_updist_free (s.u);
  g_hash_table_unref (s.store);
  g_array_unref (s.queries);
  return 0;
}
