/* The routing table.
 *
 * Layout: slots[cap] holds MeshRoute entries (52 bytes, no pointers),
 * tags[cap + 8] one byte per slot: 0 for empty, else 0x80 | 7 hash bits.
 * The 8 bytes past the end mirror tags[0..7], so a probe always loads a
 * whole 64-bit word of tags (8 slots) and wraps around without a branch.
 *
 * Linear probing from home = the high 32 hash bits scaled onto [0, cap)
 * (a multiply, so cap need not be a power of two and the final capacity
 * can sit right at the 7/8 load factor).  At load 7/8 a present ID is
 * found 4.5 slots from home on average, so one or two tag words, and the
 * 7-bit tags make a full ID comparison with a wrong entry rare (3 %).  An
 * absent ID scans 32 slots on average, 4 tag words, and compares one
 * wrong entry in 4 lookups.
 *
 * Memory per entry when full (load 7/8): (52 + 1) / 0.875 = 60.6 bytes,
 * plus 8 mirror bytes and the structure for the whole table.  The arrays
 * grow by doubling from 64 slots, so a node with few routes uses little;
 * during a step old and new arrays coexist, a peak under twice the final
 * size (1.92 times at 1M entries: 55.6 + 60.6 MB).
 *
 * Deletion shifts the rest of the cluster back (no tombstones), so probe
 * chains never lengthen with churn.  Expiry of many entries at once
 * rebuilds the arrays instead, which also shrinks them. */
#include "config.h"

#include "engine/routes.h"
#include "engine/siphash.h"
#include "crypto/util.h"

#include <string.h>

#define TAG_MIRROR 8
#define MIN_CAP 16
#define INIT_CAP 64
#define TAG_LOW 0x0101010101010101ULL
#define TAG_HIGH 0x8080808080808080ULL

G_STATIC_ASSERT (sizeof (MeshRoute) == 52);

struct MeshRoutes {
  MeshRoute *slots;
  uint8_t *tags;
  size_t cap;           /* slots now */
  size_t cap_max;       /* slots when full: load 7/8 at max_entries */
  size_t grow_at;       /* entries allowed at cap before doubling */
  size_t n;
  uint32_t max_entries;
  uint64_t sip_init[4]; /* SipHash state after keying */
};

/* ---- SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012), keyed because peers choose the IDs.  The table uses SipHash-1-3,
 * the variant hash tables use against flooding (Python, Rust, the Linux
 * hsiphash): 8 rounds on 32 bytes to 2-4's 14, about 7 ns less here, and
 * the shorter instruction stream lets the CPU overlap the cache misses of
 * consecutive lookups (at 1M entries: 120 ns a lookup instead of 200).
 * The conservative 2-4 is here too, for callers that need a PRF. */

/* SipHash-c-d: c rounds per message block, d to finalize. */
static inline uint64_t
siphash_cd (const uint8_t key[MESH_ROUTES_KEY_LEN], const void *data,
            size_t len, int c, int d)
{
  const uint8_t *p = data;
  uint64_t v[4], v0, v1, v2, v3, m, b;
  size_t full = len & ~(size_t) 7;

  mesh_siphash_key (key, v);
  v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
  for (size_t i = 0; i < full; i += 8)
    {
      m = mesh_sip_load_le64 (p + i);
      v3 ^= m;
      for (int r = 0; r < c; r++)
        MESH_SIPROUND (v0, v1, v2, v3);
      v0 ^= m;
    }
  /* Last block: the remaining bytes, and the length mod 256 on top. */
  b = (uint64_t) len << 56;
  for (size_t i = 0; i < (len & 7); i++)
    b |= (uint64_t) p[full + i] << (8 * i);
  v3 ^= b;
  for (int r = 0; r < c; r++)
    MESH_SIPROUND (v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < d; r++)
    MESH_SIPROUND (v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
mesh_routes_siphash24 (const uint8_t key[MESH_ROUTES_KEY_LEN],
                       const void *data, size_t len)
{
  return siphash_cd (key, data, len, 2, 4);
}

uint64_t
mesh_routes_siphash13 (const uint8_t key[MESH_ROUTES_KEY_LEN],
                       const void *data, size_t len)
{
  return siphash_cd (key, data, len, 1, 3);
}

/* SipHash-1-3 of the 32-byte ID, from the precomputed keyed state. */
static inline uint64_t
routes_hash (const MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN])
{
  return mesh_siphash13_id32 (t->sip_init, id);
}

/* ---- Cost */

/* cost = ceil ((10 * hops + latency_us / 100) / p), p = success_ratio
 * clamped to [1/16, 1] in steps of 1/1024, saturated at COST_MAX.
 *
 * One hop weighs as much as 1 ms of latency (forwarding work and one more
 * node that can fail), latency counts in 100 us units (LAN-scale
 * differences show, 6.5 s still fits).  Dividing by p is the expected
 * number of transmissions (ETX); the clamp keeps a route that lost
 * everything usable as a last resort instead of unreachable, since only
 * using it can show that it recovered.  Inputs are path totals: hops and
 * latency add up along a path, success ratios multiply. */
uint16_t
mesh_route_cost (unsigned hops, uint32_t latency_us, double success_ratio)
{
  uint64_t base = (uint64_t) hops * 10 + latency_us / 100;
  uint64_t p, c;

  if (success_ratio >= 1.0)
    p = 1024;
  else if (success_ratio > 1.0 / 16)  /* also false for NaN */
    p = (uint64_t) (success_ratio * 1024 + 0.5);
  else
    p = 64;
  c = (base * 1024 + p - 1) / p;
  return c > MESH_ROUTE_COST_MAX ? MESH_ROUTE_COST_MAX : (uint16_t) c;
}

/* ---- Slots and tags */

static inline size_t
routes_home (uint64_t h, size_t cap)
{
  return (size_t) (((h >> 32) * (uint64_t) cap) >> 32);
}

static inline uint8_t
routes_tag (uint64_t h)
{
  return (uint8_t) (0x80 | (h & 0x7f));
}

static inline uint64_t
routes_tag_word (const MeshRoutes *t, size_t pos)
{
  return mesh_sip_load_le64 (t->tags + pos);
}

static inline void
routes_set_tag (MeshRoutes *t, size_t i, uint8_t tag)
{
  t->tags[i] = tag;
  if (i < TAG_MIRROR)
    t->tags[t->cap + i] = tag;
}

/* High bit of each byte of w that equals 0, exactly (no false hits, unlike
 * the shorter (w - 0x01..) & ~w form). */
static inline uint64_t
zero_bytes (uint64_t w)
{
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
  return ~(((w & low7) + low7) | w | low7);
}

static inline gboolean
id_equal (const uint8_t *a, const uint8_t *b)
{
  uint64_t x = 0, p, q;
  for (int i = 0; i < MESH_ROUTE_ID_LEN; i += 8)
    {
      memcpy (&p, a + i, 8);
      memcpy (&q, b + i, 8);
      x |= p ^ q;
    }
  return x == 0;
}

static inline size_t
wrap (size_t i, size_t cap)
{
  return i >= cap ? i - cap : i;
}

/* The slot holding id and TRUE, or the free slot where it would go and
 * FALSE.  There is always a free slot: the load never exceeds 7/8. */
static inline gboolean
routes_probe (const MeshRoutes *t, const uint8_t *id, uint64_t h, size_t *slot)
{
  const uint64_t want = TAG_LOW * routes_tag (h);
  size_t cap = t->cap, pos = routes_home (h, cap);

  for (;;)
    {
      uint64_t w = routes_tag_word (t, pos);
      uint64_t empty = ~w & TAG_HIGH;  /* occupied tags have the top bit */
      uint64_t match = zero_bytes (w ^ want);

      /* Past the first empty slot lies another cluster: id cannot be there. */
      if (empty)
        match &= (empty & -empty) - 1;
      while (match)
        {
          size_t i = wrap (pos + (size_t) (__builtin_ctzll (match) >> 3), cap);
          if (id_equal (t->slots[i].id, id))
            {
              *slot = i;
              return TRUE;
            }
          match &= match - 1;
        }
      if (empty)
        {
          *slot = wrap (pos + (size_t) (__builtin_ctzll (empty) >> 3), cap);
          return FALSE;
        }
      pos = wrap (pos + 8, cap);
    }
}

static inline size_t
routes_free_slot (const MeshRoutes *t, uint64_t h)
{
  size_t cap = t->cap, pos = routes_home (h, cap);

  for (;;)
    {
      uint64_t empty = ~routes_tag_word (t, pos) & TAG_HIGH;
      if (empty)
        return wrap (pos + (size_t) (__builtin_ctzll (empty) >> 3), cap);
      pos = wrap (pos + 8, cap);
    }
}

/* routes_probe for a single operation.  The entry is usually within a
 * slot or two of its home, so fetching starts there while the tags are
 * read instead of after them: two extra cache lines of traffic for
 * overlapping what would be two cache misses in a row (at 1M entries
 * about 15 % off a lookup, 40 % off a refresh). */
static inline gboolean
routes_find (const MeshRoutes *t, const uint8_t *id, uint64_t h, size_t *slot)
{
  const char *home = (const char *) &t->slots[routes_home (h, t->cap)];

  __builtin_prefetch (home);
  __builtin_prefetch (home + 64);
  return routes_probe (t, id, h, slot);
}

/* Entries allowed in cap slots: load 7/8, and always one slot free. */
static size_t
routes_limit (size_t cap)
{
  return cap - cap / 8;
}

static void
routes_alloc (MeshRoutes *t, size_t cap)
{
  t->cap = cap;
  t->grow_at = routes_limit (cap);
  /* Slots are read only where the tag says occupied: no need to clear. */
  t->slots = g_new (MeshRoute, cap);
  t->tags = g_malloc0 (cap + TAG_MIRROR);
}

typedef gboolean (*RouteKeepFunc) (const MeshRoute *e, const void *data);

/* Move every entry (for which keep says so) into new arrays of new_cap
 * slots, then free the old ones. */
static void
routes_rebuild (MeshRoutes *t, size_t new_cap, RouteKeepFunc keep,
                const void *data)
{
  MeshRoute *old_slots = t->slots;
  uint8_t *old_tags = t->tags;
  size_t old_cap = t->cap;

  routes_alloc (t, new_cap);
  t->n = 0;
  for (size_t i = 0; i < old_cap; i++)
    {
      if (old_tags[i] == 0 || (keep && !keep (&old_slots[i], data)))
        continue;
      size_t j = routes_free_slot (t, routes_hash (t, old_slots[i].id));
      t->slots[j] = old_slots[i];
      routes_set_tag (t, j, old_tags[i]);
      t->n++;
    }
  g_free (old_slots);
  g_free (old_tags);
}

/* The capacity of the growth step that holds n entries at most half full,
 * so that a rebuild after mass expiry neither wastes memory nor grows
 * again at once. */
static size_t
routes_cap_for (const MeshRoutes *t, size_t n)
{
  size_t cap = MIN (INIT_CAP, t->cap_max);
  while (cap < t->cap_max && routes_limit (cap) < 2 * n)
    cap = MIN (cap * 2, t->cap_max);
  return cap;
}

/* Empty slot i, shifting later entries of its cluster back into the hole
 * so that every remaining entry stays reachable from its home. */
static void
routes_delete_at (MeshRoutes *t, size_t hole)
{
  size_t cap = t->cap, j = hole;

  for (;;)
    {
      j = j + 1 == cap ? 0 : j + 1;
      uint8_t tag = t->tags[j];
      if (tag == 0)
        break;
      size_t home = routes_home (routes_hash (t, t->slots[j].id), cap);
      /* An entry whose home lies cyclically in (hole, j] must stay: before
       * its home its own probe would never reach it. */
      gboolean stays = hole <= j ? (home > hole && home <= j)
                                 : (home > hole || home <= j);
      if (stays)
        continue;
      t->slots[hole] = t->slots[j];
      routes_set_tag (t, hole, tag);
      hole = j;
    }
  routes_set_tag (t, hole, 0);
  t->n--;
}

/* ---- API */

MeshRoutes *
mesh_routes_new (uint32_t max_entries, const uint8_t hash_key[MESH_ROUTES_KEY_LEN])
{
  g_return_val_if_fail (max_entries >= 1 && max_entries <= MESH_ROUTES_MAX_ENTRIES, NULL);
  g_return_val_if_fail (hash_key != NULL, NULL);

  MeshRoutes *t = g_new0 (MeshRoutes, 1);
  t->max_entries = max_entries;
  /* Smallest capacity whose 7/8 load holds max_entries. */
  t->cap_max = MAX ((size_t) MIN_CAP, ((size_t) max_entries * 8 + 6) / 7);
  while (routes_limit (t->cap_max) < max_entries)
    t->cap_max++;
  mesh_siphash_key (hash_key, t->sip_init);
  routes_alloc (t, MIN (INIT_CAP, t->cap_max));
  return t;
}

void
mesh_routes_free (MeshRoutes *t)
{
  if (t == NULL)
    return;
  mesh_wipe (t->sip_init, sizeof t->sip_init);
  g_free (t->slots);
  g_free (t->tags);
  g_free (t);
}

static void
route_set_primary (MeshRoute *e, uint32_t hop, uint8_t hops, uint16_t cost)
{
  e->next_hop = hop;
  e->cost = cost;
  e->hops = hops;
  e->flags = hops == 1 ? MESH_ROUTE_DIRECT : 0;
}

static void
route_clear_alt (MeshRoute *e)
{
  e->alt_hop = MESH_ROUTE_NO_LINK;
  e->alt_cost = MESH_ROUTE_COST_INFINITY;
  e->alt_hops = 0;
}

/* Primary and alternate trade places (the alternate must exist). */
static void
route_swap (MeshRoute *e)
{
  uint32_t hop = e->next_hop;
  uint16_t cost = e->cost;
  uint8_t hops = e->hops;

  route_set_primary (e, e->alt_hop, e->alt_hops, e->alt_cost);
  e->alt_hop = hop;
  e->alt_cost = cost;
  e->alt_hops = hops;
}

static void
route_withdraw (MeshRoute *e, uint32_t now_s)
{
  e->cost = MESH_ROUTE_COST_INFINITY;
  e->flags = (uint8_t) ((e->flags & ~MESH_ROUTE_DIRECT) | MESH_ROUTE_WITHDRAWN);
  route_clear_alt (e);
  e->updated_s = now_s;
}

/* The primary is gone: the alternate takes over if there is one, keeping
 * the entry's time, so an alternate that went stale unnoticed lasts at
 * most one max age; otherwise the route is withdrawn. */
static gboolean
route_fail_over (MeshRoute *e, uint32_t now_s)
{
  if (e->alt_hop == MESH_ROUTE_NO_LINK)
    {
      route_withdraw (e, now_s);
      return FALSE;
    }
  route_swap (e);
  route_clear_alt (e);
  return TRUE;
}

MeshRouteResult
mesh_routes_update (MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN],
                    uint32_t next_hop, uint8_t hops, uint16_t cost,
                    uint64_t now_ns)
{
  g_return_val_if_fail (t != NULL && id != NULL, MESH_ROUTE_UNCHANGED);
  g_return_val_if_fail (next_hop != MESH_ROUTE_NO_LINK, MESH_ROUTE_UNCHANGED);

  uint32_t now_s = (uint32_t) (now_ns / G_GUINT64_CONSTANT (1000000000));
  uint64_t h = routes_hash (t, id);
  size_t i;

  if (!routes_find (t, id, h, &i))
    {
      if (cost == MESH_ROUTE_COST_INFINITY)
        return MESH_ROUTE_UNCHANGED;
      if (t->n >= t->max_entries)
        return MESH_ROUTE_REFUSED;
      if (t->n + 1 > t->grow_at)
        {
          routes_rebuild (t, MIN (t->cap * 2, t->cap_max), NULL, NULL);
          i = routes_free_slot (t, h);
        }
      MeshRoute *e = &t->slots[i];
      memcpy (e->id, id, MESH_ROUTE_ID_LEN);
      route_set_primary (e, next_hop, hops, cost);
      route_clear_alt (e);
      e->reserved = 0;
      e->updated_s = now_s;
      routes_set_tag (t, i, routes_tag (h));
      t->n++;
      return MESH_ROUTE_ADDED;
    }

  MeshRoute *e = &t->slots[i];

  if (e->flags & MESH_ROUTE_WITHDRAWN)
    {
      /* Any finite news revives it; more poison changes nothing, and must
       * not extend the time the withdrawal is kept. */
      if (cost == MESH_ROUTE_COST_INFINITY)
        return MESH_ROUTE_UNCHANGED;
      route_set_primary (e, next_hop, hops, cost);
      route_clear_alt (e);
      e->updated_s = now_s;
      return MESH_ROUTE_CHANGED;
    }

  if (next_hop == e->next_hop)
    {
      /* The current next hop is authoritative, for better or worse. */
      if (cost == MESH_ROUTE_COST_INFINITY)
        {
          route_fail_over (e, now_s);
          return MESH_ROUTE_CHANGED;
        }
      gboolean changed = cost != e->cost || hops != e->hops;
      route_set_primary (e, next_hop, hops, cost);
      e->updated_s = now_s;
      if (e->alt_hop != MESH_ROUTE_NO_LINK && e->alt_cost < e->cost)
        {
          route_swap (e);
          changed = TRUE;
        }
      return changed ? MESH_ROUTE_CHANGED : MESH_ROUTE_UNCHANGED;
    }

  if (next_hop == e->alt_hop)
    {
      if (cost == MESH_ROUTE_COST_INFINITY)
        {
          route_clear_alt (e);
          return MESH_ROUTE_UNCHANGED;
        }
      e->alt_cost = cost;
      e->alt_hops = hops;
      if (cost < e->cost)
        {
          route_swap (e);
          e->updated_s = now_s;
          return MESH_ROUTE_CHANGED;
        }
      return MESH_ROUTE_UNCHANGED;
    }

  /* Another hop: only strictly better replaces (ties keep the route
   * stable); the displaced primary becomes the alternate. */
  if (cost < e->cost)
    {
      e->alt_hop = e->next_hop;
      e->alt_cost = e->cost;
      e->alt_hops = e->hops;
      route_set_primary (e, next_hop, hops, cost);
      e->updated_s = now_s;
      return MESH_ROUTE_CHANGED;
    }
  if (cost != MESH_ROUTE_COST_INFINITY
      && (e->alt_hop == MESH_ROUTE_NO_LINK || cost < e->alt_cost))
    {
      e->alt_hop = next_hop;
      e->alt_cost = cost;
      e->alt_hops = hops;
    }
  return MESH_ROUTE_UNCHANGED;
}

uint32_t
mesh_routes_lookup (const MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN])
{
  size_t i;

  if (!routes_find (t, id, routes_hash (t, id), &i))
    return MESH_ROUTE_NO_LINK;
  const MeshRoute *e = &t->slots[i];
  return (e->flags & MESH_ROUTE_WITHDRAWN) ? MESH_ROUTE_NO_LINK : e->next_hop;
}

/* Batched lookups.  A lone lookup at 1M entries is two dependent cache
 * misses (tag word, then the entry from DRAM, about 200 ns), and the hash is
 * too long for the CPU to run far enough ahead to overlap many lookups by
 * itself; in groups of 16 (measured best of 8 to 32), the fetches of many
 * lookups are in flight at once. */
#define MANY_GROUP 16

static void
many_hash (const MeshRoutes *t, const uint8_t *const *ids, size_t n,
           uint64_t *h)
{
  for (size_t k = 0; k < n; k++)
    h[k] = routes_hash (t, ids[k]);
  for (size_t k = 0; k < n; k++)
    __builtin_prefetch (t->tags + routes_home (h[k], t->cap));
}

void
mesh_routes_lookup_many (const MeshRoutes *t, const uint8_t *const *ids,
                         size_t n, uint32_t *next_hops)
{
  /* A three-stage pipeline over groups.  Round g hashes group g (and
   * fetches its tags), compares group g - 2, then fetches the entries of
   * group g - 1, so every fetch has a round of work to arrive in.  The fetch
   * stage stays in this function: GCC deletes calls to a function whose
   * only effects are prefetches. */
  uint64_t h[3][MANY_GROUP];
  size_t groups = (n + MANY_GROUP - 1) / MANY_GROUP;

  for (size_t g = 0; g < groups + 2; g++)
    {
      if (g < groups)
        {
          size_t base = g * MANY_GROUP;
          many_hash (t, ids + base, MIN (n - base, (size_t) MANY_GROUP), h[g % 3]);
        }
      if (g >= 2)
        {
          size_t base = (g - 2) * MANY_GROUP, len = MIN (n - base, (size_t) MANY_GROUP);
          const uint64_t *hg = h[(g - 2) % 3];
          for (size_t k = 0; k < len; k++)
            {
              size_t i;
              const MeshRoute *e;
              next_hops[base + k] = MESH_ROUTE_NO_LINK;
              if (!routes_probe (t, ids[base + k], hg[k], &i))
                continue;
              e = &t->slots[i];
              if (!(e->flags & MESH_ROUTE_WITHDRAWN))
                next_hops[base + k] = e->next_hop;
            }
        }
      if (g >= 1 && g - 1 < groups)
        {
          size_t base = (g - 1) * MANY_GROUP, len = MIN (n - base, (size_t) MANY_GROUP);
          const uint64_t *hg = h[(g - 1) % 3];
          for (size_t k = 0; k < len; k++)
            {
              size_t pos = routes_home (hg[k], t->cap);
              uint64_t w = routes_tag_word (t, pos);
              uint64_t match = zero_bytes (w ^ (TAG_LOW * routes_tag (hg[k])));
              uint64_t empty = ~w & TAG_HIGH;
              if (empty)
                match &= (empty & -empty) - 1;
              if (match)
                {
                  size_t i = wrap (pos + (size_t) (__builtin_ctzll (match) >> 3), t->cap);
                  const char *e = (const char *) &t->slots[i];
                  __builtin_prefetch (e);
                  __builtin_prefetch (e + sizeof (MeshRoute) - 1);
                }
            }
        }
    }
}

const MeshRoute *
mesh_routes_get (const MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN])
{
  size_t i;

  g_return_val_if_fail (t != NULL && id != NULL, NULL);
  if (!routes_find (t, id, routes_hash (t, id), &i))
    return NULL;
  return &t->slots[i];
}

gboolean
mesh_routes_remove (MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN])
{
  size_t i;

  g_return_val_if_fail (t != NULL && id != NULL, FALSE);
  if (!routes_find (t, id, routes_hash (t, id), &i))
    return FALSE;
  routes_delete_at (t, i);
  return TRUE;
}

size_t
mesh_routes_withdraw_link (MeshRoutes *t, uint32_t link, uint64_t now_ns,
                           size_t *n_failover)
{
  uint32_t now_s = (uint32_t) (now_ns / G_GUINT64_CONSTANT (1000000000));
  size_t withdrawn = 0, failover = 0;

  g_return_val_if_fail (t != NULL, 0);
  for (size_t i = 0; i < t->cap; i++)
    {
      if (t->tags[i] == 0)
        continue;
      MeshRoute *e = &t->slots[i];
      if (e->flags & MESH_ROUTE_WITHDRAWN)
        continue;
      if (e->alt_hop == link)
        route_clear_alt (e);
      if (e->next_hop == link)
        {
          if (route_fail_over (e, now_s))
            failover++;
          else
            withdrawn++;
        }
    }
  if (n_failover)
    *n_failover = failover;
  return withdrawn;
}

typedef struct {
  uint32_t now_s;
  uint32_t max_age_s;
} ExpireArgs;

static inline gboolean
route_is_fresh (const MeshRoute *e, const void *data)
{
  const ExpireArgs *a = data;
  /* An entry stamped after now (a caller whose clock went back) is fresh. */
  return e->updated_s >= a->now_s || a->now_s - e->updated_s <= a->max_age_s;
}

size_t
mesh_routes_expire (MeshRoutes *t, uint64_t now_ns, uint32_t max_age_s)
{
  ExpireArgs a = {
    .now_s = (uint32_t) (now_ns / G_GUINT64_CONSTANT (1000000000)),
    .max_age_s = max_age_s,
  };
  size_t stale = 0, before;

  g_return_val_if_fail (t != NULL, 0);
  for (size_t i = 0; i < t->cap; i++)
    if (t->tags[i] && !route_is_fresh (&t->slots[i], &a))
      stale++;
  if (stale == 0)
    return 0;

  before = t->n;
  if (stale * 8 > t->n)
    {
      /* Many: one rehash of the survivors beats shifting clusters once per
       * removal, and lets the arrays shrink. */
      routes_rebuild (t, MIN (t->cap, routes_cap_for (t, t->n - stale)),
                      route_is_fresh, &a);
      return before - t->n;
    }

  /* Few: delete in place.  A backward shift only moves entries from later
   * in the cluster into slot i, so slot i is examined again; an entry that
   * wraps from the start to the end is seen twice, which is harmless. */
  for (size_t i = 0; i < t->cap;)
    {
      if (t->tags[i] && !route_is_fresh (&t->slots[i], &a))
        routes_delete_at (t, i);
      else
        i++;
    }
  return before - t->n;
}

void
mesh_routes_iter_init (MeshRoutesIter *it, const MeshRoutes *t,
                       uint32_t exclude_link)
{
  it->table = t;
  it->pos = 0;
  it->exclude_link = exclude_link;
}

const MeshRoute *
mesh_routes_iter_next (MeshRoutesIter *it)
{
  const MeshRoutes *t = it->table;

  /* Bounds are read on each call: the table may have been rebuilt. */
  while (it->pos < t->cap)
    {
      size_t i = it->pos++;
      if (t->tags[i] == 0)
        continue;
      const MeshRoute *e = &t->slots[i];
      if (e->next_hop == it->exclude_link)
        continue;  /* split horizon */
      return e;
    }
  return NULL;
}

size_t
mesh_routes_count (const MeshRoutes *t)
{
  return t->n;
}

size_t
mesh_routes_memory (const MeshRoutes *t)
{
  return sizeof *t + t->cap * sizeof (MeshRoute) + t->cap + TAG_MIRROR;
}

size_t
mesh_routes_capacity (const MeshRoutes *t)
{
  return t->cap;
}

size_t
mesh_routes_home_slot (const MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN])
{
  return routes_home (routes_hash (t, id), t->cap);
}
