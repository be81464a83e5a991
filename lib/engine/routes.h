/* The routing table of the engine: destination node ID -> next hop link,
 * for distance-vector routing with split horizon.
 *
 * Sized for a million destinations: open addressing with linear probing
 * over one array of 52-byte entries, plus one tag byte per slot so that a
 * probe scans eight slots per 64-bit word and compares a full ID only on a
 * tag match.  No pointers per entry.  The arrays double as the table fills,
 * up to a capacity fixed by the configured maximum at a load factor of 7/8,
 * which makes a full table about 60.6 bytes per entry (see routes.c).
 *
 * IDs are chosen by peers (they grind keys), so slots are picked by
 * SipHash-1-3 under a per-node random key given at creation.
 *
 * Sans-I/O like the rest of the engine: time comes in as now_ns (the
 * caller's monotonic clock), randomness as the hash key. */
#ifndef MESH_ENGINE_ROUTES_H
#define MESH_ENGINE_ROUTES_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_ROUTE_ID_LEN 32
#define MESH_ROUTES_KEY_LEN 16

/* Link ids are the caller's; this one value is reserved for "none". */
#define MESH_ROUTE_NO_LINK UINT32_MAX

/* A cost of INFINITY in an update is a withdrawal by that next hop (the
 * poison of distance-vector); finite costs are at most COST_MAX. */
#define MESH_ROUTE_COST_INFINITY UINT16_MAX
#define MESH_ROUTE_COST_MAX (UINT16_MAX - 1)

/* Route flags. */
#define MESH_ROUTE_DIRECT    0x01  /* hops == 1: the next hop is the destination */
#define MESH_ROUTE_WITHDRAWN 0x02  /* kept with infinite cost until expiry, so
                                    * advertisements carry the withdrawal */

/* One stored entry, as the table holds it.  The fields a lookup reads come
 * first so that they share as few cache lines as possible. */
typedef struct {
  uint32_t next_hop;      /* link id */
  uint16_t cost;          /* MESH_ROUTE_COST_INFINITY once withdrawn */
  uint8_t hops;
  uint8_t flags;          /* MESH_ROUTE_DIRECT, MESH_ROUTE_WITHDRAWN */
  uint8_t id[MESH_ROUTE_ID_LEN];
  /* Second-best next hop, MESH_ROUTE_NO_LINK when none: taken over at
   * once when the primary's link goes down or it withdraws the route. */
  uint32_t alt_hop;
  uint16_t alt_cost;
  uint8_t alt_hops;
  uint8_t reserved;       /* zero */
  uint32_t updated_s;     /* whole seconds of now_ns when the primary was
                           * last set or refreshed, or withdrawn */
} MeshRoute;

typedef enum {
  MESH_ROUTE_UNCHANGED = 0, /* ignored, refreshed, or only the alternate changed */
  MESH_ROUTE_ADDED,         /* new destination */
  MESH_ROUTE_CHANGED,       /* next hop, cost or hops changed, or withdrawn:
                             * worth a triggered advertisement */
  MESH_ROUTE_REFUSED        /* new destination, table at its maximum */
} MeshRouteResult;

typedef struct MeshRoutes MeshRoutes;

/* The cost of a path from its hop count, its measured one-way latency and
 * its delivery success ratio (0..1), for use in mesh_routes_update:
 * ceil ((10 * hops + latency_us / 100) / p), p = success_ratio clamped to
 * [1/16, 1], at most MESH_ROUTE_COST_MAX.  A hop weighs as much as 1 ms. */
uint16_t mesh_route_cost (unsigned hops, uint32_t latency_us,
                          double success_ratio);

/* A table of at most max_entries destinations (1 .. MESH_ROUTES_MAX_ENTRIES),
 * slots chosen by SipHash-1-3 keyed with hash_key (random, per node).
 * Transfer full. */
#define MESH_ROUTES_MAX_ENTRIES (1u << 30)
MeshRoutes *mesh_routes_new (uint32_t max_entries,
                             const uint8_t hash_key[MESH_ROUTES_KEY_LEN]);
void mesh_routes_free (MeshRoutes *t);

/* News from link next_hop: destination id is reachable through it at this
 * cost and hop count, or no longer (cost MESH_ROUTE_COST_INFINITY).
 * Distance-vector rules: a strictly lower cost from another hop replaces
 * the route (the old one becomes the alternate); news from the current
 * next hop is authoritative and applies even when worse; equal or higher
 * cost from another hop only replaces a worse alternate.  Whenever the
 * alternate is cheaper than the route, they trade places; a withdrawal by
 * the next hop hands the route to the alternate, or withdraws it.  Only
 * news that sets or refreshes the route (not the alternate) renews
 * updated_s.  A new destination when the table holds max_entries is
 * refused: existing routes keep updating, and expiry makes room; evicting
 * instead would need an order over all entries, and would let a flood of
 * invented destinations push real routes out. */
MeshRouteResult mesh_routes_update (MeshRoutes *t,
                                    const uint8_t id[MESH_ROUTE_ID_LEN],
                                    uint32_t next_hop, uint8_t hops,
                                    uint16_t cost, uint64_t now_ns);

/* The hot path: the next hop towards id, or MESH_ROUTE_NO_LINK when there
 * is no route (absent or withdrawn). */
uint32_t mesh_routes_lookup (const MeshRoutes *t,
                             const uint8_t id[MESH_ROUTE_ID_LEN]);

/* mesh_routes_lookup of n IDs into next_hops[0..n), for a burst of frames
 * to forward.  Same results as n calls of mesh_routes_lookup, but the
 * memory accesses of many lookups overlap: in a table far bigger than the
 * cache each costs under half (48 ns against 110 ns at 1M entries here). */
void mesh_routes_lookup_many (const MeshRoutes *t, const uint8_t *const *ids,
                              size_t n, uint32_t *next_hops);

/* The whole entry (withdrawn ones too), or NULL.  Transfer none: valid
 * until the table is next modified. */
const MeshRoute *mesh_routes_get (const MeshRoutes *t,
                                  const uint8_t id[MESH_ROUTE_ID_LEN]);

/* Forget id at once (no withdrawal is advertised); FALSE when absent. */
gboolean mesh_routes_remove (MeshRoutes *t, const uint8_t id[MESH_ROUTE_ID_LEN]);

/* Link down: every route whose next hop is link fails over to its
 * alternate if it has one (counted in *n_failover, may be NULL), otherwise
 * is withdrawn (counted in the result); alternates through link are
 * dropped.  O(capacity). */
size_t mesh_routes_withdraw_link (MeshRoutes *t, uint32_t link,
                                  uint64_t now_ns, size_t *n_failover);

/* Remove every entry, live or withdrawn, whose updated_s is more than
 * max_age_s seconds before now_ns; returns how many.  O(capacity). */
size_t mesh_routes_expire (MeshRoutes *t, uint64_t now_ns, uint32_t max_age_s);

/* Iteration for building advertisements, with split horizon: routes whose
 * next hop is exclude_link are skipped (pass MESH_ROUTE_NO_LINK to see
 * all).  Withdrawn routes are returned too (their flag set), so that the
 * withdrawal is advertised.  A modification of the table between two
 * calls never makes the iterator unsafe, but the rest of that pass may
 * skip or repeat entries. */
typedef struct {
  const MeshRoutes *table;
  size_t pos;
  uint32_t exclude_link;
} MeshRoutesIter;

void mesh_routes_iter_init (MeshRoutesIter *it, const MeshRoutes *t,
                            uint32_t exclude_link);
/* The next route, or NULL at the end.  Transfer none. */
const MeshRoute *mesh_routes_iter_next (MeshRoutesIter *it);

/* Entries held, withdrawn ones included (they count towards the maximum). */
size_t mesh_routes_count (const MeshRoutes *t);
/* Bytes allocated for the table: the structure and both arrays. */
size_t mesh_routes_memory (const MeshRoutes *t);
/* Slots in the arrays now (grows by doubling up to the final capacity). */
size_t mesh_routes_capacity (const MeshRoutes *t);
/* The slot where the probe for id starts.  For tests that build colliding
 * IDs, as an attacker who knew the key could. */
size_t mesh_routes_home_slot (const MeshRoutes *t,
                              const uint8_t id[MESH_ROUTE_ID_LEN]);

/* SipHash-2-4 and SipHash-1-3 of data under a 16-byte key, any length
 * (the reference definitions; the table uses a fixed-length copy of 1-3). */
uint64_t mesh_routes_siphash24 (const uint8_t key[MESH_ROUTES_KEY_LEN],
                                const void *data, size_t len);
uint64_t mesh_routes_siphash13 (const uint8_t key[MESH_ROUTES_KEY_LEN],
                                const void *data, size_t len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshRoutes, mesh_routes_free)

#endif
