/* The deterministic network simulator: many protocol engines in one
 * process, on one virtual clock, over modeled links.
 *
 * Discrete events (frame arrivals, engine timers, link changes, calls
 * scheduled by a scenario) sit in a 4-ary heap ordered by virtual time,
 * then by the order they were scheduled in.  One seeded generator
 * (netmodel.h) feeds every engine's random callback and the link model,
 * and node identities are derived from the seed, so the seed alone fixes
 * a run: its ordered trace of events, folded into SHA-256, is the same
 * run after run.
 *
 * The simulator plays the part of net/ for every node: it carries the
 * frames an engine sends to the engine at the other end of the link (the
 * bytes copied into a pooled buffer, since they are only valid during
 * the callback), enforces the receiver's maximum frame size as the frame
 * reader would, arms one timer per node from mesh_engine_next_timeout(),
 * brings links up and down, answers connect requests after one round
 * trip, and never calls into an engine from inside one of its callbacks
 * (except what the event callback may do, as engine.h allows). */
#ifndef MESH_SIM_SIM_H
#define MESH_SIM_SIM_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "sim/netmodel.h"

typedef struct MeshSim MeshSim;

/* What the simulator calls in a node: the functions of engine.h, in a
 * table so that a test can put a stand-in engine in place of the real
 * one.  mesh_scenario_engine_ops (scenario.h) is the real engine. */
typedef struct {
  void *(*create) (const MeshIdentity *self, const MeshEngineConfig *config,
                   const MeshEngineCallbacks *callbacks, void *user_data,
                   uint64_t now_ns);
  void (*destroy) (void *engine);
  gboolean (*link_up) (void *engine, MeshLinkId link,
                       const MeshPublicBundle *peer, uint64_t now_ns,
                       GError **error);
  void (*link_down) (void *engine, MeshLinkId link, uint64_t now_ns);
  void (*receive) (void *engine, MeshLinkId link, const uint8_t *data,
                   size_t len, uint64_t now_ns);
  gboolean (*send_private) (void *engine, const MeshPublicBundle *to,
                            const uint8_t *data, size_t len, uint64_t now_ns,
                            uint8_t *id_out, GError **error);
  gboolean (*broadcast) (void *engine, const uint8_t *data, size_t len,
                         const char *content_type, uint64_t now_ns,
                         uint8_t *id_out, GError **error);
  gboolean (*lookup) (void *engine, const uint8_t *node_id, uint64_t now_ns,
                      GError **error);
  uint64_t (*next_timeout) (const void *engine);
  void (*tick) (void *engine, uint64_t now_ns);
  void (*get_stats) (const void *engine, MeshEngineStats *stats);
} MeshSimEngineOps;

typedef struct {
  uint32_t n_nodes;               /* 1 .. MESH_SIM_MAX_NODES */
  uint64_t seed;
  MeshSimLinkParams link;         /* both directions of every new link */
  /* Template of every node's engine configuration.  The simulator sets
   * addresses (one per node, "sim-INDEX:7000") and keeps the rest. */
  MeshEngineConfig engine;
  const MeshSimEngineOps *ops;    /* required */
  /* Frames copied and not yet delivered, over all links; a frame that
   * would go beyond is dropped (counted), so a runaway sender cannot
   * exhaust memory.  Default 512 MiB. */
  uint64_t max_bytes_in_flight;
  /* Bytes queued on one direction of a link, the bounded send queue of
   * net/; beyond it frames are dropped (counted).  Default 32 MiB. */
  uint64_t link_queue_max;
} MeshSimConfig;

#define MESH_SIM_MAX_NODES 100000
#define MESH_SIM_NO_NODE UINT32_MAX

/* Defaults: no nodes, seed 0, mesh_sim_link_params_init() links, an
 * engine configuration with every field zero (the engine's defaults) and
 * wall_epoch_ms at 2026-01-01, no ops. */
void mesh_sim_config_init (MeshSimConfig *config);

/* Make the nodes (identities from the seed, engines created at time 0),
 * without links.  Fails with MESHARA_ERROR_INVALID_ARGUMENT naming a bad
 * field.  Transfer full. */
MeshSim *mesh_sim_new (const MeshSimConfig *config, GError **error);
void mesh_sim_free (MeshSim *sim);

uint32_t mesh_sim_n_nodes (const MeshSim *sim);
uint64_t mesh_sim_now (const MeshSim *sim);
/* The one generator of the run; scenarios draw their choices from it.
 * Transfer none. */
MeshSimRng *mesh_sim_rng (MeshSim *sim);

/* The identity a seed gives node index (used by mesh_sim_new). */
void mesh_sim_node_identity (uint64_t seed, uint32_t index, MeshIdentity *id);

/* ---- Observers */

/* Every engine event, after the simulator recorded it in the trace.  May
 * call the node commands below (engine.h lets the event callback call
 * back into the engine), but must not restart the node whose engine is
 * calling: schedule that with mesh_sim_schedule(). */
typedef void (*MeshSimEventFunc) (MeshSim *sim, uint32_t node,
                                  const MeshEvent *event, void *user_data);
void mesh_sim_set_event_func (MeshSim *sim, MeshSimEventFunc func,
                              void *user_data);

/* Every frame body just before it is handed to node's engine. */
typedef void (*MeshSimFrameFunc) (MeshSim *sim, uint32_t node, MeshLinkId link,
                                  const uint8_t *body, size_t len,
                                  void *user_data);
void mesh_sim_set_frame_func (MeshSim *sim, MeshSimFrameFunc func,
                              void *user_data);

/* ---- Topology and links */

/* A wanted link between a and b: a topology edge, re-established by
 * mesh_sim_node_join() and mesh_sim_heal() whenever it is down.  It comes
 * up after delay_ns (0: at once, without the round trip of a
 * handshake).  FALSE for a bad index, a == b, or an edge that exists. */
gboolean mesh_sim_add_edge (MeshSim *sim, uint32_t a, uint32_t b,
                            uint64_t delay_ns);
/* mesh_sim_topology_random() edges, added with delay 0; returns how
 * many. */
size_t mesh_sim_connect_random (MeshSim *sim, uint32_t degree);
/* The edges added so far: 2 * *n_edges node indices.  Transfer none. */
const uint32_t *mesh_sim_edges (const MeshSim *sim, size_t *n_edges);

/* Links of node that are up, into links[0 .. max); returns how many
 * there are (may exceed max). */
size_t mesh_sim_node_links (const MeshSim *sim, uint32_t node,
                            MeshLinkId *links, size_t max);
/* The node at the other end of a link, or MESH_SIM_NO_NODE. */
uint32_t mesh_sim_link_peer (const MeshSim *sim, MeshLinkId link);
/* The up link from a to b, or MESH_LINK_NONE. */
MeshLinkId mesh_sim_find_link (const MeshSim *sim, uint32_t a, uint32_t b);
/* Parameters of the direction node -> peer of link, from now on. */
gboolean mesh_sim_set_link_params (MeshSim *sim, MeshLinkId link,
                                   const MeshSimLinkParams *params);
/* Close a link from node's side, as its engine's close_link would. */
void mesh_sim_close_link (MeshSim *sim, MeshLinkId link, const char *reason);

/* Send raw bytes on node's end of link as if its engine wrote them: a
 * frame with its 4-byte header.  A header that does not match the
 * length, or announces more than the receiver's max_frame_size, fails
 * the receiver's frame reader on arrival, which closes the link; a
 * header may come without its body for that purpose.  FALSE when the
 * link is not up at node's end. */
gboolean mesh_sim_inject (MeshSim *sim, MeshLinkId link, const uint8_t *frame,
                          size_t len);

/* ---- Partitions */

/* The partition state; edit it, then mesh_sim_apply_partition().
 * Transfer none. */
MeshSimPartition *mesh_sim_partition (MeshSim *sim);
/* Blocked directions drop frames from now on (a black hole).  With cut,
 * every link blocked in either direction also goes down at both ends, as
 * TCP gives up on it; connect attempts across a block fail. */
void mesh_sim_apply_partition (MeshSim *sim, gboolean cut);
/* Lift every block and bring the edges between up nodes that are down
 * back up after one round trip. */
void mesh_sim_heal (MeshSim *sim);

/* ---- Churn */

/* The node goes offline: its links go down at both ends (its own engine
 * at once, the peers when the close reaches them) and its timer stops. */
void mesh_sim_node_leave (MeshSim *sim, uint32_t node);
/* The node comes back with the engine it had (or a new one after
 * mesh_sim_node_restart()); its edges come up after one round trip. */
void mesh_sim_node_join (MeshSim *sim, uint32_t node);
/* Free the node's engine and make a new one with the same identity:
 * every session, route and table is lost.  A node that is up leaves and
 * joins around it. */
void mesh_sim_node_restart (MeshSim *sim, uint32_t node);
gboolean mesh_sim_node_is_up (const MeshSim *sim, uint32_t node);
/* The node does not act on its engine's connect requests. */
void mesh_sim_node_set_connect (MeshSim *sim, uint32_t node, gboolean allow);

/* ---- Nodes */

const MeshPublicBundle *mesh_sim_node_bundle (const MeshSim *sim,
                                              uint32_t node);
const char *mesh_sim_node_address (const MeshSim *sim, uint32_t node);
/* The node's engine.  Transfer none; changes on restart. */
void *mesh_sim_node_engine (MeshSim *sim, uint32_t node);
/* After calling into a node's engine directly (mesh_sim_node_engine()),
 * arm its timer again from the engine's next timeout. */
void mesh_sim_node_rearm (MeshSim *sim, uint32_t node);
/* Index of the node with this ID, or MESH_SIM_NO_NODE. */
uint32_t mesh_sim_find_node (const MeshSim *sim, const uint8_t *node_id);
void mesh_sim_node_stats (const MeshSim *sim, uint32_t node,
                          MeshEngineStats *stats);

typedef struct {
  uint64_t frames_sent, bytes_sent, frames_received, bytes_received;
  uint32_t links_up;
  uint32_t closed_by_self;    /* links its engine (or reader) closed */
  uint32_t closed_by_peer;    /* links the other end closed */
  uint32_t restarts;
  uint32_t connect_requests;
} MeshSimNodeCounters;

void mesh_sim_node_counters (const MeshSim *sim, uint32_t node,
                             MeshSimNodeCounters *counters);

/* Commands to a node's engine at the current virtual time.  Fail with
 * MESHARA_ERROR_INVALID_ARGUMENT for a node that is down, otherwise as
 * the engine does. */
gboolean mesh_sim_send_private (MeshSim *sim, uint32_t from, uint32_t to,
                                const uint8_t *data, size_t len,
                                uint8_t *id_out, GError **error);
gboolean mesh_sim_broadcast (MeshSim *sim, uint32_t from, const uint8_t *data,
                             size_t len, const char *content_type,
                             uint8_t *id_out, GError **error);
gboolean mesh_sim_lookup (MeshSim *sim, uint32_t from, const uint8_t *node_id,
                          GError **error);

/* ---- Running */

typedef void (*MeshSimCallFunc) (MeshSim *sim, void *user_data);

/* Call func at virtual time at (not before now), in order with the other
 * events. */
void mesh_sim_schedule (MeshSim *sim, uint64_t at_ns, MeshSimCallFunc func,
                        void *user_data);

/* Process the next event; FALSE when there is none. */
gboolean mesh_sim_step (MeshSim *sim);
/* Process every event up to and including time t, then set the clock to
 * t (if later). */
void mesh_sim_run_until (MeshSim *sim, uint64_t t_ns);

typedef gboolean (*MeshSimDoneFunc) (MeshSim *sim, void *user_data);
/* Run in steps of step_ns until done() says so (checked after each step
 * and once before the first) or the clock reaches deadline_ns; TRUE when
 * done. */
gboolean mesh_sim_run_until_done (MeshSim *sim, MeshSimDoneFunc done,
                                  void *user_data, uint64_t step_ns,
                                  uint64_t deadline_ns);

typedef struct {
  uint64_t events;                /* processed, stale timers included */
  uint64_t frames_sent, bytes_sent;
  uint64_t frames_delivered, bytes_delivered;
  uint64_t frames_lost;           /* by the link's loss probability */
  uint64_t frames_blocked;        /* by a partition */
  uint64_t frames_dropped_closed; /* on or to a link or node that went down */
  uint64_t frames_dropped_queue;  /* send queue or in-flight limit */
  uint64_t frames_rejected;       /* failed the receiver's frame reader */
  uint64_t bytes_in_flight, peak_bytes_in_flight;
  uint64_t pool_bytes;            /* held by the frame buffer pool */
  uint64_t links_opened;
  uint64_t links_up;              /* link ends up now, two per link */
  uint64_t links_refused;         /* an engine's link_up failed */
  uint64_t closes_by_engine;      /* close_link callbacks */
  uint64_t connects_requested, connects_made, connects_failed;
  uint64_t timers_fired, timers_stale, timer_stalls;
  uint64_t engine_events;
  uint64_t queue_len, peak_queue_len;
} MeshSimStats;

void mesh_sim_get_stats (const MeshSim *sim, MeshSimStats *stats);

/* SHA-256 of the trace so far: every processed event (time, kind, node,
 * link or timer, frame length) and every engine event (node, type,
 * message or node ID, hops), in order. */
void mesh_sim_trace_sha256 (const MeshSim *sim, uint8_t out[32]);
/* As 64 lowercase hex digits into out (65 bytes). */
void mesh_sim_trace_hex (const MeshSim *sim, char out[65]);

#endif
