/* Gossip: push to a random fanout, repair by announce and pull.
 *
 * State, all bounded by the configuration:
 *   seen       IDs of every flooded message taken (seen_capacity).
 *   store      recent frames, to answer pulls and to say what we hold
 *              (store_max_frames, store_max_bytes, store_max_age_ns);
 *              its ring is in arrival order, so the IDs to announce are
 *              read newest first until the link's last turns.  Each frame
 *              has one bit per link slot: that link is known to have it
 *              (it sent it or a duplicate of it, or announced it), so it
 *              is not offered there.  In a flood every
 *              neighbour sends every message, and announces carry almost
 *              nothing; the repair costs only where something is missing.
 *   in_flight  IDs pulled and not yet received, each with the link asked,
 *              aged out after pull_timeout_ns (max_pulls_in_flight).
 *   links      at most max_links, in the shuffled order of the announce
 *              cycle; a scan over them is cheap next to a signature check.
 *              Each holds a slot number (its bit) for as long as it is up.
 * Scratch buffers for building messages grow on demand and are kept, so
 * steady state allocates only the stored copy of each new frame. */
#include "config.h"

#include "engine/gossip.h"
#include "engine/seen.h"
#include "meshara/meshara-error.h"

#include <string.h>

#define NS_PER_S G_GUINT64_CONSTANT (1000000000)
#define NS_PER_MS G_GUINT64_CONSTANT (1000000)

/* A stored frame: the bits of the link slots known to have it
 * (known_len bytes), then the frame itself (len bytes, length header
 * included). */
typedef struct {
  uint32_t len;
  uint8_t bytes[];
} StoredFrame;

typedef struct {
  MeshLinkId id;
  uint32_t slot;         /* its bit in the stored frames */
  uint32_t in_flight;    /* pulls on this link not yet answered */
  /* Times of the last announce_rounds turns, oldest first: a turn offers
   * what was stored since the oldest. */
  uint64_t turns[MESH_GOSSIP_MAX_ROUNDS];
  /* Token buckets for serving pulls, refilled at the configured rates up
   * to one second's worth. */
  double frame_tokens;
  double byte_tokens;
  uint64_t bucket_ns;
} GossipLink;

struct MeshGossip {
  MeshGossipConfig config;
  MeshGossipCallbacks cb;
  void *user_data;

  MeshSeen *seen;
  MeshSeen *store;        /* values: StoredFrame */
  MeshSeen *in_flight;    /* values: the link asked, GUINT_TO_POINTER */
  size_t store_bytes;
  uint64_t store_byte_evictions;

  GossipLink *links;
  uint32_t n_links, links_alloc;
  uint32_t cursor;        /* next position of the announce cycle */
  uint8_t *slot_used;     /* max_links flags */
  size_t known_len;       /* bytes of link bits per stored frame */

  MeshLinkId *candidates; /* links_alloc entries */
  ProtobufCBinaryData *ids;
  size_t ids_alloc;
  uint8_t *buf;
  size_t buf_alloc;

  uint64_t next_tick_ns;
  MeshGossipStats stats;
};

void
mesh_gossip_config_init (MeshGossipConfig *config)
{
  g_return_if_fail (config != NULL);

  memset (config, 0, sizeof *config);
  config->max_frame_size = MESH_FRAME_MAX_DEFAULT;
  config->fanout = MESH_GOSSIP_DEFAULT_FANOUT;
  config->max_links = 128;
  config->seen_capacity = MESH_SEEN_DEFAULT_CAPACITY;
  config->seen_max_age_ns = 10 * 60 * NS_PER_S;
  config->store_max_frames = 4096;
  config->store_max_bytes = 16 * 1024 * 1024;
  config->store_max_age_ns = 2 * 60 * NS_PER_S;
  config->announce_interval_ns = NS_PER_S;
  config->announce_links = 3;
  config->announce_rounds = 2;
  config->announce_window_ns = 20 * NS_PER_S;
  config->announce_max_ids = MESH_WIRE_MAX_GOSSIP_IDS;
  config->max_pulls_in_flight = 1024;
  config->max_pulls_per_link = 256;
  config->pull_timeout_ns = NS_PER_S;
  config->serve_max_per_pull = 64;
  config->serve_frames_per_s = 256;
  config->serve_bytes_per_s = 4 * 1024 * 1024;
}

static gboolean
config_bad (GError **error, const char *field, uint64_t value,
            const char *expected)
{
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
               "gossip config: %s is %" G_GUINT64_FORMAT ", expected %s",
               field, value, expected);
  return FALSE;
}

#define CHECK_RANGE(field, lo, hi)                                        \
  do {                                                                    \
    if ((uint64_t) c->field < (uint64_t) (lo)                             \
        || (uint64_t) c->field > (uint64_t) (hi))                         \
      {                                                                   \
        char *range_ = g_strdup_printf ("%" G_GUINT64_FORMAT " to %"      \
                                        G_GUINT64_FORMAT,                 \
                                        (uint64_t) (lo), (uint64_t) (hi)); \
        gboolean r_ = config_bad (error, #field, (uint64_t) c->field,     \
                                  range_);                                \
        g_free (range_);                                                  \
        return r_;                                                        \
      }                                                                   \
  } while (0)

static gboolean
config_check (const MeshGossipConfig *c, GError **error)
{
  /* The largest announce must fit a frame. */
  CHECK_RANGE (max_frame_size, MESH_WIRE_MIN_PEER_FRAME_SIZE, G_MAXUINT32);
  CHECK_RANGE (fanout, 1, MESH_GOSSIP_MAX_FANOUT);
  CHECK_RANGE (max_links, 1, MESH_GOSSIP_MAX_LINKS);
  CHECK_RANGE (seen_capacity, 1, MESH_SEEN_MAX_CAPACITY);
  CHECK_RANGE (store_max_frames, 1, MESH_SEEN_MAX_CAPACITY);
  CHECK_RANGE (store_max_bytes, 1, G_MAXSIZE);
  CHECK_RANGE (store_max_age_ns, 1, G_MAXUINT64);
  CHECK_RANGE (announce_interval_ns, 1, G_MAXUINT64 / 4);
  CHECK_RANGE (announce_links, 1, MESH_GOSSIP_MAX_LINKS);
  CHECK_RANGE (announce_rounds, 1, MESH_GOSSIP_MAX_ROUNDS);
  CHECK_RANGE (announce_max_ids, 1, MESH_WIRE_MAX_GOSSIP_IDS);
  CHECK_RANGE (max_pulls_in_flight, 1, MESH_SEEN_MAX_CAPACITY / 2);
  CHECK_RANGE (max_pulls_per_link, 1, G_MAXUINT32);
  CHECK_RANGE (pull_timeout_ns, 1, G_MAXUINT64 / 4);
  CHECK_RANGE (serve_max_per_pull, 1, MESH_WIRE_MAX_GOSSIP_IDS);
  CHECK_RANGE (serve_frames_per_s, 1, G_MAXUINT32);
  CHECK_RANGE (serve_bytes_per_s, 1, G_MAXUINT64 / 4);
  return TRUE;
}

/* ---- Store and pulls in flight: what leaves them */

static inline const uint8_t *
frame_data (const MeshGossip *g, const StoredFrame *f)
{
  return f->bytes + g->known_len;
}

static inline size_t
frame_cost (const MeshGossip *g, size_t len)
{
  return sizeof (StoredFrame) + g->known_len + len;
}

static inline gboolean
frame_known (const StoredFrame *f, uint32_t slot)
{
  return (f->bytes[slot / 8] >> (slot % 8)) & 1;
}

static inline void
frame_set_known (StoredFrame *f, uint32_t slot)
{
  f->bytes[slot / 8] |= (uint8_t) (1u << (slot % 8));
}

static void
store_drop (void *user_data, const uint8_t *id, void *value)
{
  MeshGossip *g = user_data;
  StoredFrame *f = value;

  g->store_bytes -= frame_cost (g, f->len);
  g_free (f);
}

static GossipLink *
find_link (MeshGossip *g, MeshLinkId id)
{
  for (uint32_t i = 0; i < g->n_links; i++)
    if (g->links[i].id == id)
      return &g->links[i];
  return NULL;
}

static void
in_flight_drop (void *user_data, const uint8_t *id, void *value)
{
  MeshGossip *g = user_data;
  GossipLink *l = find_link (g, GPOINTER_TO_UINT (value));

  if (l && l->in_flight > 0)
    l->in_flight--;
}

static void
store_frame (MeshGossip *g, const uint8_t *id, MeshLinkId from,
             const uint8_t *frame, size_t len, uint64_t now_ns)
{
  StoredFrame *f;
  GossipLink *l;
  size_t cost = frame_cost (g, len);

  /* Too big to keep: it is pushed once and never served. */
  if (len > G_MAXUINT32 || cost > g->config.store_max_bytes)
    return;
  f = g_malloc (cost);
  f->len = (uint32_t) len;
  memset (f->bytes, 0, g->known_len);
  if ((l = find_link (g, from)))
    frame_set_known (f, l->slot);
  memcpy (f->bytes + g->known_len, frame, len);
  if (!mesh_seen_insert (g->store, id, f, now_ns))
    {
      g_free (f);
      return;
    }
  g->store_bytes += cost;
  while (g->store_bytes > g->config.store_max_bytes
         && mesh_seen_pop_oldest (g->store))
    g->store_byte_evictions++;
}

/* ---- Creation */

MeshGossip *
mesh_gossip_new (const MeshGossipConfig *config,
                 const MeshGossipCallbacks *callbacks, void *user_data,
                 uint64_t now_ns, GError **error)
{
  MeshGossip *g;
  uint8_t keys[3 * MESH_SEEN_KEY_LEN];

  g_return_val_if_fail (config != NULL && callbacks != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (callbacks->send == NULL || callbacks->random == NULL)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "gossip callbacks: send and random are required");
      return NULL;
    }
  if (!config_check (config, error))
    return NULL;

  g = g_new0 (MeshGossip, 1);
  g->config = *config;
  /* A stored frame must still be in the seen-cache, or a pull answered
   * from the store could bring it back as new: the store is smaller, and
   * ages sooner (well before is better, since neighbours saw a message at
   * about the same time and forget it at about the same time). */
  g->config.store_max_frames = MIN (config->store_max_frames,
                                    config->seen_capacity);
  if (config->seen_max_age_ns)
    g->config.store_max_age_ns = MIN (config->store_max_age_ns,
                                      config->seen_max_age_ns);
  g->config.max_pulls_per_link = MIN (config->max_pulls_per_link,
                                      config->max_pulls_in_flight);
  g->cb = *callbacks;
  g->user_data = user_data;
  g->slot_used = g_new0 (uint8_t, config->max_links);
  g->known_len = (config->max_links + 7) / 8;

  /* One key per table: the IDs are the peers' choice. */
  g->cb.random (g->user_data, keys, sizeof keys);
  g->seen = mesh_seen_new (config->seen_capacity, config->seen_max_age_ns,
                           keys);
  g->store = mesh_seen_new_map (g->config.store_max_frames,
                                g->config.store_max_age_ns,
                                keys + MESH_SEEN_KEY_LEN, store_drop, g);
  /* Twice the limit: removals leave dead ring positions behind, and the
   * limit is enforced on live entries. */
  g->in_flight = mesh_seen_new_map (2 * config->max_pulls_in_flight,
                                    config->pull_timeout_ns,
                                    keys + 2 * MESH_SEEN_KEY_LEN,
                                    in_flight_drop, g);
  mesh_wipe (keys, sizeof keys);

  g->next_tick_ns = now_ns + config->announce_interval_ns;
  return g;
}

void
mesh_gossip_free (MeshGossip *g)
{
  if (g == NULL)
    return;
  /* The in-flight drop looks links up: free it while they exist. */
  mesh_seen_free (g->in_flight);
  mesh_seen_free (g->store);
  mesh_seen_free (g->seen);
  g_free (g->links);
  g_free (g->slot_used);
  g_free (g->candidates);
  g_free (g->ids);
  g_free (g->buf);
  g_free (g);
}

/* ---- Links */

static uint32_t
random_u32 (MeshGossip *g)
{
  uint8_t b[4];

  g->cb.random (g->user_data, b, sizeof b);
  return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
         | (uint32_t) b[3] << 24;
}

gboolean
mesh_gossip_link_up (MeshGossip *g, MeshLinkId link, uint64_t now_ns,
                     GError **error)
{
  GossipLink *l;
  uint64_t since;

  g_return_val_if_fail (g != NULL, FALSE);

  if (link == MESH_LINK_NONE)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "gossip: link id 0 is reserved");
      return FALSE;
    }
  if (find_link (g, link))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "gossip: link %" G_GUINT32_FORMAT " is already up", link);
      return FALSE;
    }
  if (g->n_links >= g->config.max_links)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "gossip: link %" G_GUINT32_FORMAT " refused, %"
                   G_GUINT32_FORMAT " links is the maximum",
                   link, g->config.max_links);
      return FALSE;
    }
  if (g->n_links == g->links_alloc)
    {
      g->links_alloc = MIN (MAX (8u, 2 * g->links_alloc), g->config.max_links);
      g->links = g_renew (GossipLink, g->links, g->links_alloc);
      g->candidates = g_renew (MeshLinkId, g->candidates, g->links_alloc);
    }

  /* The new link takes the next turn of the cycle, and its first turns
   * offer everything still stored (a reconnecting neighbour catches up). */
  memmove (&g->links[g->cursor + 1], &g->links[g->cursor],
           (g->n_links - g->cursor) * sizeof *g->links);
  g->n_links++;
  l = &g->links[g->cursor];
  memset (l, 0, sizeof *l);
  l->id = link;
  while (g->slot_used[l->slot])
    l->slot++;
  g->slot_used[l->slot] = 1;
  /* The slot's bits may still say what its last holder had. */
  {
    MeshSeenIter it;
    void *v;

    mesh_seen_iter_init (&it, g->store);
    while (mesh_seen_iter_next (&it, NULL, &v))
      ((StoredFrame *) v)->bytes[l->slot / 8] &= (uint8_t) ~(1u << (l->slot % 8));
  }
  since = now_ns > g->config.store_max_age_ns
          ? now_ns - g->config.store_max_age_ns : 0;
  for (int i = 0; i < MESH_GOSSIP_MAX_ROUNDS; i++)
    l->turns[i] = since;
  l->frame_tokens = g->config.serve_frames_per_s;
  l->byte_tokens = (double) g->config.serve_bytes_per_s;
  l->bucket_ns = now_ns;
  g->stats.links = g->n_links;
  return TRUE;
}

void
mesh_gossip_link_down (MeshGossip *g, MeshLinkId link, uint64_t now_ns)
{
  GossipLink *l;
  uint32_t i;

  g_return_if_fail (g != NULL);

  l = find_link (g, link);
  if (l == NULL)
    return;

  /* Release its pulls, so that another neighbour's announce can ask. */
  if (l->in_flight > 0)
    {
      MeshSeenIter it;
      const uint8_t *id;
      void *v;

      mesh_seen_iter_init (&it, g->in_flight);
      while ((id = mesh_seen_iter_next (&it, NULL, &v)) && l->in_flight > 0)
        if (GPOINTER_TO_UINT (v) == link)
          mesh_seen_remove (g->in_flight, id);
    }

  g->slot_used[l->slot] = 0;
  i = (uint32_t) (l - g->links);
  memmove (&g->links[i], &g->links[i + 1],
           (g->n_links - i - 1) * sizeof *g->links);
  g->n_links--;
  if (i < g->cursor)
    g->cursor--;
  g->stats.links = g->n_links;
}

/* ---- Push */

/* Send frame to min (fanout, links other than exclude) links chosen at
 * random: a partial Fisher-Yates shuffle of the candidates. */
static void
push (MeshGossip *g, MeshLinkId exclude, const uint8_t *frame, size_t len)
{
  uint32_t n = 0, k;

  for (uint32_t i = 0; i < g->n_links; i++)
    if (g->links[i].id != exclude)
      g->candidates[n++] = g->links[i].id;
  k = MIN (g->config.fanout, n);
  if (k < n)
    {
      uint8_t r[4 * MESH_GOSSIP_MAX_FANOUT];

      g->cb.random (g->user_data, r, 4 * k);
      for (uint32_t i = 0; i < k; i++)
        {
          uint32_t x = (uint32_t) r[4 * i] | (uint32_t) r[4 * i + 1] << 8
                       | (uint32_t) r[4 * i + 2] << 16
                       | (uint32_t) r[4 * i + 3] << 24;
          uint32_t j = i + (uint32_t) (((uint64_t) x * (n - i)) >> 32);
          MeshLinkId t = g->candidates[i];

          g->candidates[i] = g->candidates[j];
          g->candidates[j] = t;
        }
    }
  for (uint32_t i = 0; i < k; i++)
    g->cb.send (g->user_data, g->candidates[i], frame, len);
  g->stats.pushes += k;
}

/* from_link has id: no need to offer it there. */
static void
note_known (MeshGossip *g, GossipLink *l, const uint8_t *id, uint64_t now_ns)
{
  StoredFrame *f;

  if (l && (f = mesh_seen_lookup (g->store, id, now_ns)))
    frame_set_known (f, l->slot);
}

gboolean
mesh_gossip_is_new (MeshGossip *g, MeshLinkId from_link,
                    const uint8_t id[MESH_WIRE_ID_LEN], uint64_t now_ns)
{
  g_return_val_if_fail (g != NULL && id != NULL, FALSE);

  if (!mesh_seen_contains (g->seen, id, now_ns))
    return TRUE;
  g->stats.duplicates++;
  note_known (g, find_link (g, from_link), id, now_ns);
  return FALSE;
}

gboolean
mesh_gossip_publish (MeshGossip *g, const uint8_t id[MESH_WIRE_ID_LEN],
                     const uint8_t *frame, size_t len, uint64_t now_ns)
{
  g_return_val_if_fail (g != NULL && id != NULL, FALSE);
  g_return_val_if_fail (frame != NULL && len > MESH_FRAME_HEADER_LEN, FALSE);

  if (!mesh_seen_add (g->seen, id, now_ns))
    return FALSE;
  g->stats.published++;
  store_frame (g, id, MESH_LINK_NONE, frame, len, now_ns);
  push (g, MESH_LINK_NONE, frame, len);
  return TRUE;
}

gboolean
mesh_gossip_accept (MeshGossip *g, MeshLinkId from_link,
                    const uint8_t id[MESH_WIRE_ID_LEN], const uint8_t *frame,
                    size_t len, uint64_t now_ns)
{
  g_return_val_if_fail (g != NULL && id != NULL, FALSE);
  g_return_val_if_fail (frame == NULL || len > MESH_FRAME_HEADER_LEN, FALSE);

  if (!mesh_seen_add (g->seen, id, now_ns))
    return FALSE;
  g->stats.accepted++;
  if (mesh_seen_remove (g->in_flight, id))
    g->stats.pulled++;
  if (frame == NULL)
    return TRUE;
  store_frame (g, id, from_link, frame, len, now_ns);
  push (g, from_link, frame, len);
  return TRUE;
}

const uint8_t *
mesh_gossip_lookup (const MeshGossip *g, const uint8_t id[MESH_WIRE_ID_LEN],
                    uint64_t now_ns, size_t *len)
{
  const StoredFrame *f;

  g_return_val_if_fail (g != NULL && id != NULL, NULL);

  f = mesh_seen_lookup (g->store, id, now_ns);
  if (len)
    *len = f ? f->len : 0;
  return f ? frame_data (g, f) : NULL;
}

/* ---- Link messages: GossipAnnounce and GossipPull */

static void
ensure_ids (MeshGossip *g, size_t n)
{
  if (g->ids_alloc < n)
    {
      g->ids_alloc = MAX (n, MIN (2 * g->ids_alloc, MESH_WIRE_MAX_GOSSIP_IDS));
      g->ids = g_renew (ProtobufCBinaryData, g->ids, g->ids_alloc);
    }
}

static void
ensure_buf (MeshGossip *g, size_t n)
{
  if (g->buf_alloc < n)
    {
      g->buf_alloc = MAX (n, 2 * g->buf_alloc);
      g->buf = g_realloc (g->buf, g->buf_alloc);
    }
}

/* Frame a link message (no routing, no sender key, unsigned) around
 * payload and send it on link.  The encoded payload and the frame share
 * the scratch buffer. */
static gboolean
send_link_message (MeshGossip *g, MeshLinkId link, guint32 type,
                   const ProtobufCMessage *payload, uint64_t now_ns)
{
  MeshWireBaseMessage base = MESHARA__V1__BASE_MESSAGE__INIT;
  uint8_t id[MESH_WIRE_ID_LEN];
  size_t plen, flen, written;
  GError *error = NULL;

  plen = mesh_wire_encoded_size (payload);
  /* The envelope of a link message takes under 64 bytes. */
  ensure_buf (g, 2 * plen + 64 + MESH_FRAME_HEADER_LEN);
  mesh_wire_encode_into (payload, g->buf);

  base.version = MESH_WIRE_PROTOCOL_VERSION;
  base.type = (Meshara__V1__MessageType) type;
  /* Zero would be read as a missing timestamp. */
  base.timestamp_ms = MAX (g->config.wall_epoch_ms + now_ns / NS_PER_MS, 1);
  base.payload.data = g->buf;
  base.payload.len = plen;
  mesh_wire_compute_message_id (&base, id);
  base.message_id.data = id;
  base.message_id.len = sizeof id;

  flen = mesh_wire_frame_size (&base);
  if (plen + flen > g->buf_alloc)
    {
      ensure_buf (g, plen + flen);
      base.payload.data = g->buf;
    }
  if (!mesh_wire_encode_frame_into (&base, g->config.max_frame_size,
                                    g->buf + plen, g->buf_alloc - plen,
                                    &written, &error))
    {
      g_debug ("gossip: %s for link %" G_GUINT32_FORMAT " not sent: %s",
               mesh_wire_type_name (type), link, error->message);
      g_error_free (error);
      return FALSE;
    }
  g->cb.send (g->user_data, link, g->buf + plen, written);
  return TRUE;
}

/* One announce turn of link l: newest first, the IDs stored within the
 * announce window or since its oldest remembered turn, whichever reaches
 * further, except those it is known to have. */
static void
announce_to (MeshGossip *g, GossipLink *l, uint64_t now_ns)
{
  MeshWireGossipAnnounce msg = MESHARA__V1__GOSSIP_ANNOUNCE__INIT;
  uint32_t rounds = g->config.announce_rounds;
  uint64_t since = l->turns[MESH_GOSSIP_MAX_ROUNDS - rounds];
  uint64_t window = g->config.announce_window_ns;
  uint64_t max_age = g->config.store_max_age_ns;
  MeshSeenIter it;
  const uint8_t *id;
  uint64_t added;
  void *v;
  size_t n = 0;

  if (now_ns - MIN (now_ns, window) < since)
    since = now_ns - MIN (now_ns, window);
  memmove (&l->turns[0], &l->turns[1],
           (MESH_GOSSIP_MAX_ROUNDS - 1) * sizeof l->turns[0]);
  l->turns[MESH_GOSSIP_MAX_ROUNDS - 1] = now_ns;

  ensure_ids (g, g->config.announce_max_ids);
  mesh_seen_iter_init (&it, g->store);
  while (n < g->config.announce_max_ids
         && (id = mesh_seen_iter_next (&it, &added, &v)))
    {
      const StoredFrame *f = v;

      /* Equal times count as later: offering twice beats missing one. */
      if (added < since || (now_ns >= added && now_ns - added >= max_age))
        break;
      if (frame_known (f, l->slot))
        continue;
      g->ids[n].data = (uint8_t *) id;
      g->ids[n].len = MESH_WIRE_ID_LEN;
      n++;
    }
  if (n == 0)
    return;
  msg.n_message_ids = n;
  msg.message_ids = g->ids;
  if (send_link_message (g, l->id, MESH_WIRE_TYPE_GOSSIP_ANNOUNCE,
                         &msg.base, now_ns))
    {
      g->stats.announces_sent++;
      g->stats.announce_ids_sent += n;
    }
}

size_t
mesh_gossip_handle_announce (MeshGossip *g, MeshLinkId from_link,
                             const MeshWireGossipAnnounce *msg,
                             uint64_t now_ns)
{
  MeshWireGossipPull pull = MESHARA__V1__GOSSIP_PULL__INIT;
  GossipLink *l;
  size_t n = 0, count;

  g_return_val_if_fail (g != NULL && msg != NULL, 0);

  l = find_link (g, from_link);
  if (l == NULL)
    return 0;
  g->stats.announces_received++;

  mesh_seen_expire (g->in_flight, now_ns);
  count = MIN (msg->n_message_ids, MESH_WIRE_MAX_GOSSIP_IDS);
  ensure_ids (g, count);
  for (size_t i = 0; i < count; i++)
    {
      const ProtobufCBinaryData *b = &msg->message_ids[i];

      if (b->len != MESH_WIRE_ID_LEN)
        continue;
      if (mesh_seen_contains (g->seen, b->data, now_ns))
        {
          note_known (g, l, b->data, now_ns);
          continue;
        }
      if (mesh_seen_contains (g->in_flight, b->data, now_ns))
        continue;
      if (mesh_seen_count (g->in_flight) >= g->config.max_pulls_in_flight
          || l->in_flight >= g->config.max_pulls_per_link)
        {
          g->stats.pull_refused++;
          continue;
        }
      /* Inserting may evict an old pull, whose drop lowers its link's
       * count; the links array does not move. */
      mesh_seen_insert (g->in_flight, b->data, GUINT_TO_POINTER (from_link),
                        now_ns);
      l->in_flight++;
      g->ids[n].data = b->data;
      g->ids[n].len = MESH_WIRE_ID_LEN;
      n++;
    }
  if (n == 0)
    return 0;
  pull.n_message_ids = n;
  pull.message_ids = g->ids;
  if (send_link_message (g, from_link, MESH_WIRE_TYPE_GOSSIP_PULL,
                         &pull.base, now_ns))
    {
      g->stats.pulls_sent++;
      g->stats.pull_ids_sent += n;
    }
  return n;
}

static void
refill (const MeshGossip *g, GossipLink *l, uint64_t now_ns)
{
  double dt;

  if (now_ns <= l->bucket_ns)
    return;
  dt = (double) (now_ns - l->bucket_ns) / (double) NS_PER_S;
  l->bucket_ns = now_ns;
  l->frame_tokens = MIN ((double) g->config.serve_frames_per_s,
                         l->frame_tokens + dt * g->config.serve_frames_per_s);
  l->byte_tokens = MIN ((double) g->config.serve_bytes_per_s,
                        l->byte_tokens
                        + dt * (double) g->config.serve_bytes_per_s);
}

size_t
mesh_gossip_handle_pull (MeshGossip *g, MeshLinkId from_link,
                         const MeshWireGossipPull *msg, uint64_t now_ns)
{
  GossipLink *l;
  size_t sent = 0, count;

  g_return_val_if_fail (g != NULL && msg != NULL, 0);

  l = find_link (g, from_link);
  if (l == NULL)
    return 0;
  g->stats.pulls_received++;
  refill (g, l, now_ns);

  count = MIN (msg->n_message_ids, MESH_WIRE_MAX_GOSSIP_IDS);
  for (size_t i = 0; i < count; i++)
    {
      const ProtobufCBinaryData *b = &msg->message_ids[i];
      const StoredFrame *f;

      if (b->len != MESH_WIRE_ID_LEN
          || !(f = mesh_seen_lookup (g->store, b->data, now_ns)))
        {
          g->stats.serve_unknown++;
          continue;
        }
      /* Bytes may go negative by one frame, so that a frame larger than
       * a second's worth is still served, at the rate on average. */
      if (sent >= g->config.serve_max_per_pull || l->frame_tokens < 1.0
          || l->byte_tokens <= 0.0)
        {
          g->stats.serve_refused++;
          continue;
        }
      l->frame_tokens -= 1.0;
      l->byte_tokens -= f->len;
      /* Not marked known: the answer may be lost on the way.  If it
       * arrives, the link says so in its own announces. */
      g->cb.send (g->user_data, from_link, frame_data (g, f), f->len);
      sent++;
    }
  g->stats.served += sent;
  return sent;
}

/* ---- Time */

uint64_t
mesh_gossip_next_timeout (const MeshGossip *g)
{
  g_return_val_if_fail (g != NULL, UINT64_MAX);
  return g->next_tick_ns;
}

/* A new random order for the next cycle.  The last `keep` positions were
 * announced to in this tick already: they stay at the end so that no
 * link gets two turns in one tick. */
static void
reshuffle (MeshGossip *g, uint32_t keep)
{
  uint32_t n = g->n_links - MIN (keep, g->n_links);

  for (uint32_t i = n; i > 1; i--)
    {
      uint32_t j = (uint32_t) (((uint64_t) random_u32 (g) * i) >> 32);
      GossipLink t = g->links[i - 1];

      g->links[i - 1] = g->links[j];
      g->links[j] = t;
    }
  g->cursor = 0;
}

void
mesh_gossip_tick (MeshGossip *g, uint64_t now_ns)
{
  uint32_t k;

  g_return_if_fail (g != NULL);

  if (now_ns < g->next_tick_ns)
    return;
  g->next_tick_ns = now_ns + g->config.announce_interval_ns;

  mesh_seen_expire (g->store, now_ns);
  mesh_seen_expire (g->in_flight, now_ns);

  k = MIN (g->config.announce_links, g->n_links);
  for (uint32_t done = 0; done < k; done++)
    {
      if (g->cursor >= g->n_links)
        reshuffle (g, done);
      announce_to (g, &g->links[g->cursor], now_ns);
      g->cursor++;
    }
}

void
mesh_gossip_get_stats (const MeshGossip *g, MeshGossipStats *stats)
{
  g_return_if_fail (g != NULL && stats != NULL);

  *stats = g->stats;
  stats->links = g->n_links;
  stats->seen = (uint32_t) mesh_seen_count (g->seen);
  stats->stored = (uint32_t) mesh_seen_count (g->store);
  stats->in_flight = (uint32_t) mesh_seen_count (g->in_flight);
  stats->store_bytes = g->store_bytes;
  stats->store_evictions = mesh_seen_evictions (g->store)
                           + g->store_byte_evictions;
  stats->memory = sizeof *g + mesh_seen_memory (g->seen)
                  + mesh_seen_memory (g->store) + g->store_bytes
                  + mesh_seen_memory (g->in_flight)
                  + g->links_alloc * (sizeof (GossipLink) + sizeof (MeshLinkId))
                  + g->config.max_links
                  + g->ids_alloc * sizeof (ProtobufCBinaryData)
                  + g->buf_alloc;
}
