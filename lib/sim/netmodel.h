/* The network model of the simulator: the one seeded random generator,
 * the timing and loss of frames on a directed link, partitions, and the
 * random topology.
 *
 * Everything here is a pure function of its inputs and of the generator
 * state, so that a seed fixes every outcome of a simulated run. */
#ifndef MESH_SIM_NETMODEL_H
#define MESH_SIM_NETMODEL_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Randomness: xoshiro256** (Blackman and Vigna), its state filled
 * from the seed by splitmix64.  Fast, 256 bits of state, and equal
 * sequences on every platform. */
typedef struct {
  uint64_t s[4];
} MeshSimRng;

void mesh_sim_rng_init (MeshSimRng *rng, uint64_t seed);
uint64_t mesh_sim_rng_next (MeshSimRng *rng);
/* Uniform in [0, n); n > 0.  Unbiased (rejection of the short tail). */
uint64_t mesh_sim_rng_below (MeshSimRng *rng, uint64_t n);
/* Uniform in [0, 1), 53 bits. */
double mesh_sim_rng_double (MeshSimRng *rng);
/* A MeshRandomFunc: user_data is the MeshSimRng. */
void mesh_sim_rng_fill (void *user_data, uint8_t *buf, size_t n);
/* Put the n elements of a uint32_t array in a uniformly random order. */
void mesh_sim_rng_shuffle (MeshSimRng *rng, uint32_t *a, size_t n);

/* ---- Links.  A link is two directions, each with its own parameters
 * and state; these describe one direction. */
typedef struct {
  uint64_t latency_ns;     /* propagation delay, one way */
  uint64_t jitter_ns;      /* extra delay per frame, uniform in [0, jitter] */
  double loss;             /* probability that a frame is lost, [0, 1] */
  uint64_t bandwidth_bps;  /* bits per second; 0 for no serialization delay */
} MeshSimLinkParams;

#define MESH_SIM_DEFAULT_LATENCY_NS (G_GUINT64_CONSTANT (10) * 1000000)
#define MESH_SIM_DEFAULT_JITTER_NS (G_GUINT64_CONSTANT (1) * 1000000)
#define MESH_SIM_DEFAULT_BANDWIDTH_BPS (G_GUINT64_CONSTANT (100) * 1000000)
/* Bounds that keep the arithmetic of a run far from overflow. */
#define MESH_SIM_MAX_DELAY_NS (G_GUINT64_CONSTANT (3600) * 1000000000)
#define MESH_SIM_MIN_BANDWIDTH_BPS 1000

/* 10 ms latency, 1 ms jitter, no loss, 100 Mbit/s. */
void mesh_sim_link_params_init (MeshSimLinkParams *params);

/* Each value within its range, else MESHARA_ERROR_INVALID_ARGUMENT
 * naming it. */
gboolean mesh_sim_link_params_check (const MeshSimLinkParams *params,
                                     GError **error);

typedef struct {
  uint64_t busy_until;     /* the wire is busy sending until then */
  uint64_t last_arrival;   /* the latest arrival so far: frames stay in order */
} MeshSimDirection;

/* A frame of size bytes handed to the direction at now: it waits for the
 * frames before it, takes size * 8 / bandwidth to serialize, then the
 * latency and a draw of jitter to arrive, and never overtakes an earlier
 * frame (a TCP stream).  A lost frame still took its time on the wire.
 * Returns FALSE when the frame is lost, else TRUE with its arrival time. */
gboolean mesh_sim_link_transmit (const MeshSimLinkParams *params,
                                 MeshSimDirection *dir, MeshSimRng *rng,
                                 uint64_t now_ns, size_t size,
                                 uint64_t *arrival_ns);

/* When a close sent at now arrives: after the frames already on the way,
 * as a TCP FIN would. */
uint64_t mesh_sim_link_close_arrival (const MeshSimLinkParams *params,
                                      const MeshSimDirection *dir,
                                      uint64_t now_ns);

/* ---- Partitions: a node is in one of MESH_SIM_MAX_GROUPS groups (0
 * unless set); a directed block between two groups, or between two
 * nodes, drops every frame and connection attempt in that direction.
 * Symmetric partitions block both directions; asymmetric ones one. */
#define MESH_SIM_MAX_GROUPS 64

typedef struct MeshSimPartition MeshSimPartition;

MeshSimPartition *mesh_sim_partition_new (uint32_t n_nodes);
void mesh_sim_partition_free (MeshSimPartition *p);

void mesh_sim_partition_set_group (MeshSimPartition *p, uint32_t node,
                                   unsigned group);
unsigned mesh_sim_partition_get_group (const MeshSimPartition *p,
                                       uint32_t node);
/* Block from -> to (and to -> from when symmetric). */
void mesh_sim_partition_block_groups (MeshSimPartition *p, unsigned from,
                                      unsigned to, gboolean symmetric);
void mesh_sim_partition_block_nodes (MeshSimPartition *p, uint32_t from,
                                     uint32_t to, gboolean symmetric);
/* Lift every block and put every node back in group 0. */
void mesh_sim_partition_heal (MeshSimPartition *p);
/* Whether frames from -> to are dropped. */
gboolean mesh_sim_partition_blocks (const MeshSimPartition *p, uint32_t from,
                                    uint32_t to);
/* Whether any block is in place. */
gboolean mesh_sim_partition_active (const MeshSimPartition *p);

/* ---- Topology. */

/* A connected random graph on n nodes where every node has at most
 * degree links and most have exactly that many: a ring through a random
 * order of the nodes (connected by construction), then random chords
 * from a configuration model of the remaining degree - 2 stubs per node,
 * without self-links or parallel links.  degree >= n - 1 gives the
 * complete graph.  Returns 2 * *n_edges node indices, edge i joining
 * [2i] and [2i + 1], with [2i] < [2i + 1].  Transfer full (g_free). */
uint32_t *mesh_sim_topology_random (uint32_t n, uint32_t degree,
                                    MeshSimRng *rng, size_t *n_edges);

/* Whether the graph of n nodes and n_edges edges (as above) connects
 * every node to every other, ignoring the nodes for which skip[i] is
 * TRUE (skip may be NULL). */
gboolean mesh_sim_topology_connected (uint32_t n, const uint32_t *edges,
                                      size_t n_edges, const gboolean *skip);

#endif
