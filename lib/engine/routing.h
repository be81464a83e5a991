/* Distance-vector routing over the routes.h table: route advertisements
 * to and from the neighbours.
 *
 * - Link up: a direct route to the peer, the whole table sent to it at
 *   once, and the new route announced to the others.
 * - Periodic: every advert_interval the whole table goes to every link
 *   (which also refreshes the routes the neighbours hold through us), in
 *   messages of at most MESH_ROUTING_CHUNK entries.  Routes through the
 *   link itself go back to it as withdrawn (poisoned reverse), in every
 *   advertisement: split horizon alone leaves a neighbour with an older
 *   route through us (its alternate, or what it failed over to when a
 *   link went down) and the two pass messages back and forth.
 * - Triggered: destinations whose route changed are collected and sent to
 *   every link MESH_ROUTING_TRIGGER_DELAY_NS after the first change, so a
 *   burst of changes costs one round.  A link going down withdraws every
 *   route through it, which routes.h does in one pass without telling
 *   which: then the whole table is sent instead.
 * - Received entries: next hop = the link, hops + 1, cost + the link's
 *   cost; routes to ourselves and to the advertising peer itself are
 *   ignored; a hop count beyond MESH_WIRE_MAX_HOPS is a withdrawal (this
 *   bounds counting to infinity).  Routes not refreshed for
 *   route_max_age_ns expire, so it must exceed advert_interval_ns.
 *
 * RouteAdvertisement.full_table is sent as FALSE and read as if it were:
 * routes a neighbour stops listing expire instead of being dropped at
 * once, which keeps the receiver from having to reassemble a table sent
 * in pieces. */
#ifndef MESH_ENGINE_ROUTING_H
#define MESH_ENGINE_ROUTING_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/routes.h"
#include "wire/codec.h"

/* Entries per advertisement message (at most MESH_WIRE_MAX_ROUTE_ENTRIES):
 * about 40 KiB encoded. */
#define MESH_ROUTING_CHUNK 1024
/* Delay from the first change to the triggered advertisement. */
#define MESH_ROUTING_TRIGGER_DELAY_NS (G_GUINT64_CONSTANT (20) * 1000000)
/* Changed destinations remembered for one triggered advertisement; more
 * changes than this send the whole table instead. */
#define MESH_ROUTING_MAX_DIRTY 4096

typedef struct MeshRouting MeshRouting;

/* Send adv on link.  The message and what it points to are valid only
 * during the call. */
typedef void (*MeshRoutingSendFunc) (void *ctx, MeshLinkId link,
                                     const MeshWireRouteAdvertisement *adv,
                                     uint64_t now_ns);

typedef struct {
  uint32_t max_routes;
  uint64_t advert_interval_ns;
  uint64_t route_max_age_ns;
} MeshRoutingConfig;

typedef struct {
  uint64_t adverts_sent, adverts_received, entries_sent, entries_received;
  uint64_t stale_adverts;       /* sequence not above the last one */
  uint64_t refused;             /* new destinations over max_routes */
  uint64_t expired;
} MeshRoutingStats;

/* self_id and hash_key are copied.  Transfer full. */
MeshRouting *mesh_routing_new (const uint8_t self_id[MESH_ROUTE_ID_LEN],
                               const MeshRoutingConfig *config,
                               const uint8_t hash_key[MESH_ROUTES_KEY_LEN],
                               MeshRoutingSendFunc send, void *ctx,
                               uint64_t now_ns);
void mesh_routing_free (MeshRouting *r);

/* The table (transfer none), for lookups and tests. */
MeshRoutes *mesh_routing_get_table (MeshRouting *r);

/* A link to peer_id (node ID) is up at this cost: the direct route, the
 * table sent to it now, the news to the others soon. */
void mesh_routing_link_up (MeshRouting *r, MeshLinkId link,
                           const uint8_t peer_id[MESH_ROUTE_ID_LEN],
                           uint16_t cost, uint64_t now_ns);
void mesh_routing_link_down (MeshRouting *r, MeshLinkId link, uint64_t now_ns);
/* The link's cost changed (a new round-trip measurement). */
void mesh_routing_link_cost (MeshRouting *r, MeshLinkId link, uint16_t cost,
                             uint64_t now_ns);

/* An advertisement from link (decoded and validated). */
void mesh_routing_receive (MeshRouting *r, MeshLinkId link,
                           const MeshWireRouteAdvertisement *adv,
                           uint64_t now_ns);

/* The link to forward a message for dest on, never avoid_link (the one
 * it came from; MESH_LINK_NONE for our own): the route's next hop, or its
 * alternate when the next hop is avoid_link.  MESH_LINK_NONE without one. */
MeshLinkId mesh_routing_next_hop (const MeshRouting *r,
                                  const uint8_t dest[MESH_ROUTE_ID_LEN],
                                  MeshLinkId avoid_link);

uint64_t mesh_routing_next_timeout (const MeshRouting *r);
void mesh_routing_tick (MeshRouting *r, uint64_t now_ns);

size_t mesh_routing_count (const MeshRouting *r);
void mesh_routing_get_stats (const MeshRouting *r, MeshRoutingStats *stats);

#endif
