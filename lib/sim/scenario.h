/* Simulation scenarios: whole runs of the real engine on a simulated
 * network, each ending in a result with its own success criterion.
 *
 *   private    random sender/recipient pairs; every message delivered to
 *              its recipient exactly once and acknowledged to its sender
 *   broadcast  broadcasts from random nodes reach every other node
 *              exactly once
 *   dht        lookups of random existing node IDs from random nodes:
 *              at least 99.9 % find the right record, median rounds <= 4
 *   partition  split in two halves (cut, then one-way), traffic within
 *              and across, heal: nothing silently lost, everything
 *              delivered after each heal
 *   churn      10 % of the nodes leave and come back or restart during
 *              traffic: DHT success >= 99 %, traffic between stable nodes
 *              delivered, restarted nodes reachable again (sessions
 *              re-opened both ways)
 *   hostile    one node sends garbage, oversized frames, replays, forged
 *              broadcasts and forged DHT records: its peers disconnect it,
 *              nothing forged is accepted, honest traffic is delivered,
 *              engine tables stay within their limits
 *   update     one authority announces a signed update (update_size
 *              bytes) by broadcast; every other node checks the notice,
 *              asks the authority for the manifest (an update-manifest
 *              query its engine answers), checks it and fetches the
 *              chunks from its neighbours: the notice reaches every node, every node ends
 *              with the whole package, matching its hashes
 *   update-hostile  the same with one node serving corrupted copies of
 *              every chunk: still every other node ends with the right
 *              package (the update scenarios are not part of "all")
 *
 * Every run starts with a warm-up: a random topology comes up at time 0
 * and the clock runs until every node has a route to every other (or
 * warmup_max_ns passes), then a short settling time. */
#ifndef MESH_SIM_SCENARIO_H
#define MESH_SIM_SCENARIO_H

#include <glib.h>
#include <stdint.h>

#include "sim/sim.h"

/* The real engine (engine.h) as simulator operations. */
extern const MeshSimEngineOps mesh_scenario_engine_ops;

/* Progress of a running scenario: done of expected outcomes in the
 * current phase, at virtual time now_ns. */
typedef void (*MeshScenarioProgressFunc) (const char *scenario,
                                          const char *phase, uint64_t done,
                                          uint64_t expected, uint64_t now_ns,
                                          void *user_data);

typedef struct {
  uint32_t nodes;           /* default 100 */
  uint32_t degree;          /* links per node in the topology; default 6 */
  uint64_t seed;            /* default 1 */
  MeshSimLinkParams link;   /* default mesh_sim_link_params_init() */
  uint32_t messages;        /* private messages per scenario; 1000 */
  uint32_t broadcasts;      /* broadcasts; 100 */
  uint32_t lookups;         /* DHT lookups; 1000 */
  uint32_t payload_len;     /* bytes per message, 16 .. 65536; 64 */
  /* private: one message per ordered pair of nodes instead of random
   * pairs (messages is then ignored). */
  gboolean all_pairs;
  uint64_t warmup_max_ns;   /* default 120 s */
  /* How long after its last command a phase may run before its missing
   * outcomes count as such; default 120 s. */
  uint64_t phase_deadline_ns;
  /* Engine configuration for every node; NULL for the engine defaults
   * with wall_epoch_ms fixed. */
  const MeshEngineConfig *engine;
  MeshScenarioProgressFunc progress;
  void *progress_data;
  uint64_t update_size;     /* update scenarios: bytes; default 10 MiB */
} MeshScenarioParams;

typedef struct {
  char scenario[16];
  uint32_t nodes;
  uint64_t seed;
  /* Private messages (private, partition, churn, hostile), receptions
   * (broadcast) or lookups (dht). */
  uint64_t expected;
  uint64_t delivered;       /* distinct deliveries to the right node */
  uint64_t duplicates;      /* deliveries beyond the first */
  uint64_t acked;           /* private: DELIVERED events at the sender */
  uint64_t failed;          /* private: DELIVERY_FAILED at the sender, or
                             * refused by send */
  uint64_t lost;            /* private: the sender heard neither */
  uint64_t misdelivered;    /* to the wrong node, with the wrong content
                             * or sender, or unknown IDs */
  double success_rate;      /* delivered / expected */
  double hops_p50, hops_p99;        /* dht: lookup rounds */
  uint32_t hops_max;
  double latency_ms_p50, latency_ms_p99;
  double converge_ms;       /* warm-up until every route was known */
  gboolean converged;
  double virtual_ms, wall_ms;
  long peak_rss_kb;
  char trace_sha256[65];

  /* Scenario-specific outcomes. */
  uint64_t lookups, lookups_ok;     /* dht in churn and hostile */
  double dht_success_rate;
  uint64_t reopen_expected, reopen_delivered;   /* churn */
  uint32_t hostile_peers;           /* hostile: its links at the attack */
  uint32_t hostile_disconnected;    /* ... closed by those peers */
  uint64_t forged_accepted;         /* forged broadcasts or records used */
  uint64_t attack_frames;
  uint64_t misbehaved_events;
  gboolean limits_ok;               /* engine tables within config maxima */
  /* update: expected/delivered count interested nodes and those that
   * hold the whole package; latency is the time from the announcement
   * until a node completed, hops those of the notice. */
  uint64_t update_bytes;
  uint32_t update_chunks;
  uint64_t announce_expected, announce_reached;
  double update_last_ms;            /* until the last node completed */
  double chunks_served_p50;         /* per node, the malicious one aside */
  uint64_t chunks_served_max;
  uint64_t bad_chunks;              /* corrupt chunks received, all nodes */

  MeshSimStats sim;                 /* the simulator's counters at the end */
  gboolean passed;
  char detail[512];         /* why it failed, or "" */
} MeshScenarioResult;

void mesh_scenario_params_init (MeshScenarioParams *params);

/* The scenario names, NULL-terminated ("all" is not among them). */
const char *const *mesh_scenario_names (void);
gboolean mesh_scenario_exists (const char *name);

/* The engine defaults the scenarios use, wall_epoch_ms fixed. */
void mesh_scenario_engine_config (MeshEngineConfig *config);

/* Run one scenario.  FALSE with MESHARA_ERROR_INVALID_ARGUMENT for an
 * unknown name or a bad parameter; otherwise TRUE, result filled in, and
 * result->passed tells whether the scenario met its criterion (when not,
 * result->detail says which part failed). */
gboolean mesh_scenario_run (const char *name, const MeshScenarioParams *params,
                            MeshScenarioResult *result, GError **error);

#endif
