#include "config.h"

#include "engine/routing.h"

#include <string.h>

#define NS_PER_S G_GUINT64_CONSTANT (1000000000)
/* Slots of the set that dedups changed destinations: a power of two, at
 * least twice MESH_ROUTING_MAX_DIRTY. */
#define DIRTY_SLOTS (2 * MESH_ROUTING_MAX_DIRTY)

G_STATIC_ASSERT (MESH_ROUTING_CHUNK <= MESH_WIRE_MAX_ROUTE_ENTRIES);
G_STATIC_ASSERT ((DIRTY_SLOTS & (DIRTY_SLOTS - 1)) == 0);

typedef struct {
  MeshLinkId link;
  uint8_t peer_id[MESH_ROUTE_ID_LEN];
  uint16_t cost;
  uint64_t seq_out;     /* last sequence sent on the link */
  uint64_t seq_in;      /* last sequence received */
  /* Destinations the peer withdrew while we still reach them another
   * way: our route goes back to it (only) with the next triggered
   * advertisement.  answer_full: too many, send it the whole table. */
  GArray *answer;
  gboolean answer_full;
} RLink;

struct MeshRouting {
  uint8_t self_id[MESH_ROUTE_ID_LEN];
  uint8_t hash_key[MESH_ROUTES_KEY_LEN];
  MeshRoutingConfig config;
  MeshRoutes *table;
  MeshRoutingSendFunc send;
  void *ctx;

  /* Links by id; few enough that a plain table fits. */
  GHashTable *links;

  uint64_t next_periodic_ns;
  uint64_t next_expire_ns;

  /* Changes waiting for the triggered advertisement. */
  uint64_t trigger_ns;          /* UINT64_MAX: nothing waiting */
  gboolean full_pending;        /* send the whole table instead */
  uint8_t (*dirty)[MESH_ROUTE_ID_LEN];
  size_t n_dirty;
  uint16_t *dirty_slots;        /* index + 1 into dirty, 0 when free */

  /* Entries of the advertisement being built. */
  MeshWireRouteEntry *entries;
  MeshWireRouteEntry **entry_ptrs;
  size_t n_entries;

  MeshRoutingStats stats;
};

static uint16_t
route_cost_add (uint32_t a, uint32_t b)
{
  uint64_t c = (uint64_t) a + b;

  return c > MESH_ROUTE_COST_MAX ? MESH_ROUTE_COST_MAX : (uint16_t) c;
}

static void
rlink_free (gpointer data)
{
  RLink *l = data;

  if (l->answer != NULL)
    g_array_unref (l->answer);
  g_free (l);
}

MeshRouting *
mesh_routing_new (const uint8_t self_id[MESH_ROUTE_ID_LEN],
                  const MeshRoutingConfig *config,
                  const uint8_t hash_key[MESH_ROUTES_KEY_LEN],
                  MeshRoutingSendFunc send, void *ctx, uint64_t now_ns)
{
  MeshRouting *r = g_new0 (MeshRouting, 1);

  memcpy (r->self_id, self_id, sizeof r->self_id);
  memcpy (r->hash_key, hash_key, sizeof r->hash_key);
  r->config = *config;
  r->table = mesh_routes_new (config->max_routes, hash_key);
  r->send = send;
  r->ctx = ctx;
  r->links = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                    rlink_free);
  r->next_periodic_ns = now_ns + config->advert_interval_ns;
  r->next_expire_ns = now_ns + MAX (config->route_max_age_ns / 4, NS_PER_S);
  r->trigger_ns = UINT64_MAX;
  return r;
}

void
mesh_routing_free (MeshRouting *r)
{
  if (r == NULL)
    return;
  mesh_routes_free (r->table);
  g_hash_table_destroy (r->links);
  g_free (r->dirty);
  g_free (r->dirty_slots);
  g_free (r->entries);
  g_free (r->entry_ptrs);
  g_free (r);
}

MeshRoutes *
mesh_routing_get_table (MeshRouting *r)
{
  return r->table;
}

/* ---- Building and sending advertisements */

static void
adv_flush (MeshRouting *r, RLink *l, uint64_t now_ns)
{
  MeshWireRouteAdvertisement adv = MESHARA__V1__ROUTE_ADVERTISEMENT__INIT;

  if (r->n_entries == 0)
    return;
  adv.entries = r->entry_ptrs;
  adv.n_entries = r->n_entries;
  adv.sequence = ++l->seq_out;
  r->stats.adverts_sent++;
  r->stats.entries_sent += r->n_entries;
  r->send (r->ctx, l->link, &adv, now_ns);
  r->n_entries = 0;
}

/* Add route to the advertisement for l.  A route through l goes back to
 * it as withdrawn (poisoned reverse): plain split horizon would say
 * nothing, and a neighbour that holds an older route through us (as its
 * alternate, or after failing over to it when a link went down) would
 * keep it, and the two of us would pass messages back and forth. */
static void
adv_add (MeshRouting *r, RLink *l, const MeshRoute *route, uint64_t now_ns)
{
  static const MeshWireRouteEntry entry_init = MESHARA__V1__ROUTE_ENTRY__INIT;
  MeshWireRouteEntry *e;
  gboolean withdrawn = (route->flags & MESH_ROUTE_WITHDRAWN)
                       || route->cost == MESH_ROUTE_COST_INFINITY;

  if (route->next_hop == l->link)
    withdrawn = TRUE;
  /* The neighbour's own direct route is its business. */
  if (memcmp (route->id, l->peer_id, MESH_ROUTE_ID_LEN) == 0)
    return;

  if (r->entries == NULL)
    {
      r->entries = g_new (MeshWireRouteEntry, MESH_ROUTING_CHUNK);
      r->entry_ptrs = g_new (MeshWireRouteEntry *, MESH_ROUTING_CHUNK);
    }
  e = &r->entries[r->n_entries];
  *e = entry_init;
  e->destination.data = (uint8_t *) route->id;
  e->destination.len = MESH_ROUTE_ID_LEN;
  e->hop_count = CLAMP (route->hops, 1, MESH_WIRE_MAX_HOPS);
  e->cost = withdrawn ? MESH_ROUTE_COST_INFINITY : route->cost;
  e->withdrawn = withdrawn;
  r->entry_ptrs[r->n_entries++] = e;
  if (r->n_entries == MESH_ROUTING_CHUNK)
    adv_flush (r, l, now_ns);
}

static void
send_full (MeshRouting *r, RLink *l, uint64_t now_ns)
{
  MeshRoutesIter it;
  const MeshRoute *route;

  mesh_routes_iter_init (&it, r->table, MESH_ROUTE_NO_LINK);
  while ((route = mesh_routes_iter_next (&it)) != NULL)
    adv_add (r, l, route, now_ns);
  adv_flush (r, l, now_ns);
}

static void
send_dirty (MeshRouting *r, RLink *l, uint64_t now_ns)
{
  for (size_t i = 0; i < r->n_dirty; i++)
    {
      const MeshRoute *route = mesh_routes_get (r->table, r->dirty[i]);

      if (route != NULL)
        adv_add (r, l, route, now_ns);
    }
  adv_flush (r, l, now_ns);
}

/* Our routes to what l's peer withdrew (see answer_withdrawal()). */
static void
send_answers (MeshRouting *r, RLink *l, uint64_t now_ns)
{
  if (l->answer_full)
    {
      send_full (r, l, now_ns);
      return;
    }
  if (l->answer == NULL)
    return;
  for (guint off = 0; off + MESH_ROUTE_ID_LEN <= l->answer->len;
       off += MESH_ROUTE_ID_LEN)
    {
      const uint8_t *id = (const uint8_t *) l->answer->data + off;
      const MeshRoute *route = mesh_routes_get (r->table, id);

      /* Still ours and still not through the peer; else nothing to say. */
      if (route != NULL && !(route->flags & MESH_ROUTE_WITHDRAWN)
          && route->next_hop != l->link)
        adv_add (r, l, route, now_ns);
    }
  adv_flush (r, l, now_ns);
}

/* ---- Changed destinations */

static void
answers_reset (MeshRouting *r)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      RLink *l = value;

      /* Freed, not emptied: after a burst every link would keep an
       * array sized for it. */
      if (l->answer != NULL)
        {
          g_array_unref (l->answer);
          l->answer = NULL;
        }
      l->answer_full = FALSE;
    }
}

static void
dirty_reset (MeshRouting *r)
{
  answers_reset (r);
  if (r->n_dirty > 0)
    memset (r->dirty_slots, 0, DIRTY_SLOTS * sizeof *r->dirty_slots);
  r->n_dirty = 0;
  r->full_pending = FALSE;
  r->trigger_ns = UINT64_MAX;
}

static void
schedule_trigger (MeshRouting *r, uint64_t now_ns)
{
  if (r->trigger_ns == UINT64_MAX)
    r->trigger_ns = now_ns + MESH_ROUTING_TRIGGER_DELAY_NS;
}

static void
mark_full (MeshRouting *r, uint64_t now_ns)
{
  r->full_pending = TRUE;
  schedule_trigger (r, now_ns);
}

static void
mark_dirty (MeshRouting *r, const uint8_t id[MESH_ROUTE_ID_LEN], uint64_t now_ns)
{
  size_t i;

  schedule_trigger (r, now_ns);
  if (r->full_pending)
    return;
  if (r->dirty == NULL)
    {
      r->dirty = g_malloc_n (MESH_ROUTING_MAX_DIRTY, MESH_ROUTE_ID_LEN);
      r->dirty_slots = g_new0 (uint16_t, DIRTY_SLOTS);
    }
  /* Destinations are peer-chosen: probe from a keyed hash. */
  i = mesh_routes_siphash13 (r->hash_key, id, MESH_ROUTE_ID_LEN) & (DIRTY_SLOTS - 1);
  while (r->dirty_slots[i] != 0)
    {
      if (memcmp (r->dirty[r->dirty_slots[i] - 1], id, MESH_ROUTE_ID_LEN) == 0)
        return;
      i = (i + 1) & (DIRTY_SLOTS - 1);
    }
  if (r->n_dirty == MESH_ROUTING_MAX_DIRTY)
    {
      r->full_pending = TRUE;
      return;
    }
  memcpy (r->dirty[r->n_dirty], id, MESH_ROUTE_ID_LEN);
  r->dirty_slots[i] = (uint16_t) ++r->n_dirty;
}

static void
note_result (MeshRouting *r, MeshRouteResult res,
             const uint8_t id[MESH_ROUTE_ID_LEN], uint64_t now_ns)
{
  if (res == MESH_ROUTE_ADDED || res == MESH_ROUTE_CHANGED)
    mark_dirty (r, id, now_ns);
  else if (res == MESH_ROUTE_REFUSED)
    r->stats.refused++;
}

/* ---- Links */

void
mesh_routing_link_up (MeshRouting *r, MeshLinkId link,
                      const uint8_t peer_id[MESH_ROUTE_ID_LEN],
                      uint16_t cost, uint64_t now_ns)
{
  RLink *l;

  g_return_if_fail (link != MESH_LINK_NONE && link != MESH_ROUTE_NO_LINK);

  l = g_new0 (RLink, 1);
  l->link = link;
  memcpy (l->peer_id, peer_id, MESH_ROUTE_ID_LEN);
  l->cost = cost;
  g_hash_table_replace (r->links, GUINT_TO_POINTER (link), l);

  note_result (r, mesh_routes_update (r->table, peer_id, link, 1, cost, now_ns),
               peer_id, now_ns);
  send_full (r, l, now_ns);
}

void
mesh_routing_link_down (MeshRouting *r, MeshLinkId link, uint64_t now_ns)
{
  size_t failover = 0, withdrawn;

  if (!g_hash_table_remove (r->links, GUINT_TO_POINTER (link)))
    return;
  withdrawn = mesh_routes_withdraw_link (r->table, link, now_ns, &failover);
  if (withdrawn > 0 || failover > 0)
    mark_full (r, now_ns);
}

void
mesh_routing_link_cost (MeshRouting *r, MeshLinkId link, uint16_t cost,
                        uint64_t now_ns)
{
  RLink *l = g_hash_table_lookup (r->links, GUINT_TO_POINTER (link));

  if (l == NULL || l->cost == cost)
    return;
  l->cost = cost;
  note_result (r, mesh_routes_update (r->table, l->peer_id, link, 1, cost, now_ns),
               l->peer_id, now_ns);
}

/* ---- Receiving */

/* l's peer says it does not reach dest (or, poisoned reverse, that it
 * reaches it through us).  A peer whose route was withdrawn (its next
 * hop poisoned it, as happens mesh-wide when link costs change and routes
 * shift) learns of other ways only from adverts, and a neighbour whose
 * route did not change would not send one before the next periodic
 * round: whole regions then stayed unreachable for up to
 * advert_interval.  So our route, if it does not go through that peer,
 * goes back to it alone with the next triggered advertisement.  Only to
 * it: the answer then carries no poisoned entry that would make another
 * node answer in turn. */
static void
answer_withdrawal (MeshRouting *r, RLink *l, const uint8_t *dest,
                   uint64_t now_ns)
{
  const MeshRoute *route = mesh_routes_get (r->table, dest);

  if (route == NULL || (route->flags & MESH_ROUTE_WITHDRAWN)
      || route->cost == MESH_ROUTE_COST_INFINITY || route->next_hop == l->link)
    return;
  schedule_trigger (r, now_ns);
  if (l->answer_full || r->full_pending)
    return;
  if (l->answer == NULL)
    l->answer = g_array_new (FALSE, FALSE, 1);
  if (l->answer->len / MESH_ROUTE_ID_LEN >= MESH_ROUTING_MAX_DIRTY)
    {
      l->answer_full = TRUE;
      return;
    }
  g_array_append_vals (l->answer, dest, MESH_ROUTE_ID_LEN);
}

void
mesh_routing_receive (MeshRouting *r, MeshLinkId link,
                      const MeshWireRouteAdvertisement *adv, uint64_t now_ns)
{
  RLink *l = g_hash_table_lookup (r->links, GUINT_TO_POINTER (link));

  if (l == NULL)
    return;
  r->stats.adverts_received++;
  /* A link delivers in order, so an old sequence is a confused or
   * replaying peer; 0 is a peer that does not number its messages. */
  if (adv->sequence != 0)
    {
      if (adv->sequence <= l->seq_in)
        {
          r->stats.stale_adverts++;
          return;
        }
      l->seq_in = adv->sequence;
    }

  for (size_t i = 0; i < adv->n_entries; i++)
    {
      const MeshWireRouteEntry *e = adv->entries[i];
      const uint8_t *dest = e->destination.data;
      uint32_t hops = e->hop_count + 1;
      uint16_t cost;

      r->stats.entries_received++;
      if (memcmp (dest, r->self_id, MESH_ROUTE_ID_LEN) == 0
          || memcmp (dest, l->peer_id, MESH_ROUTE_ID_LEN) == 0)
        continue;
      if (e->withdrawn || hops > MESH_WIRE_MAX_HOPS
          || e->cost >= MESH_ROUTE_COST_INFINITY)
        cost = MESH_ROUTE_COST_INFINITY;
      else
        cost = route_cost_add (e->cost, l->cost);
      note_result (r, mesh_routes_update (r->table, dest, link,
                                          (uint8_t) MIN (hops, MESH_WIRE_MAX_HOPS),
                                          cost, now_ns),
                   dest, now_ns);
      if (cost == MESH_ROUTE_COST_INFINITY)
        answer_withdrawal (r, l, dest, now_ns);
    }
}

MeshLinkId
mesh_routing_next_hop (const MeshRouting *r, const uint8_t dest[MESH_ROUTE_ID_LEN],
                       MeshLinkId avoid_link)
{
  uint32_t hop = mesh_routes_lookup (r->table, dest);
  const MeshRoute *route;

  if (hop == MESH_ROUTE_NO_LINK)
    return MESH_LINK_NONE;
  if (hop != avoid_link)
    return hop;
  route = mesh_routes_get (r->table, dest);
  if (route != NULL && route->alt_hop != MESH_ROUTE_NO_LINK
      && route->alt_hop != avoid_link
      && route->alt_cost != MESH_ROUTE_COST_INFINITY)
    return route->alt_hop;
  return MESH_LINK_NONE;
}

/* ---- Time */

uint64_t
mesh_routing_next_timeout (const MeshRouting *r)
{
  return MIN (MIN (r->next_periodic_ns, r->next_expire_ns), r->trigger_ns);
}

void
mesh_routing_tick (MeshRouting *r, uint64_t now_ns)
{
  GHashTableIter it;
  gpointer value;
  gboolean periodic;

  if (now_ns >= r->next_expire_ns)
    {
      uint32_t max_age_s = (uint32_t) MIN (r->config.route_max_age_ns / NS_PER_S,
                                           (uint64_t) UINT32_MAX);

      r->stats.expired += mesh_routes_expire (r->table, now_ns, MAX (max_age_s, 1));
      r->next_expire_ns = now_ns + MAX (r->config.route_max_age_ns / 4, NS_PER_S);
    }

  /* A pending trigger goes first even when the periodic round is due:
   * only it carries the poisoned reverse entries. */
  periodic = now_ns >= r->next_periodic_ns;

  if (r->trigger_ns != UINT64_MAX
      && (now_ns >= r->trigger_ns || periodic)
      && !(periodic && r->full_pending))
    {
      g_hash_table_iter_init (&it, r->links);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          if (r->full_pending)
            send_full (r, value, now_ns);
          else
            {
              send_dirty (r, value, now_ns);
              send_answers (r, value, now_ns);
            }
        }
      dirty_reset (r);
    }

  if (periodic)
    {
      /* Refresh the direct routes (they have no advertiser), then send
       * everything. */
      g_hash_table_iter_init (&it, r->links);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          RLink *l = value;

          note_result (r, mesh_routes_update (r->table, l->peer_id, l->link, 1,
                                              l->cost, now_ns),
                       l->peer_id, now_ns);
        }
      g_hash_table_iter_init (&it, r->links);
      while (g_hash_table_iter_next (&it, NULL, &value))
        send_full (r, value, now_ns);
      dirty_reset (r);
      r->next_periodic_ns = now_ns + r->config.advert_interval_ns;
    }
}

size_t
mesh_routing_count (const MeshRouting *r)
{
  return mesh_routes_count (r->table);
}

void
mesh_routing_get_stats (const MeshRouting *r, MeshRoutingStats *stats)
{
  *stats = r->stats;
}
