/* Per-link state of the engine: who is at the other end, traffic
 * statistics, rate limits, round-trip time and reputation. */
#ifndef MESH_ENGINE_LINK_H
#define MESH_ENGINE_LINK_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "engine/engine.h"

/* A token bucket: rate tokens per second, holding at most burst. */
typedef struct {
  double tokens;
  double rate;
  double burst;
  uint64_t last_ns;
} MeshTokenBucket;

/* Start full. */
void mesh_bucket_init (MeshTokenBucket *b, double rate, double burst,
                       uint64_t now_ns);
/* Take n tokens if there are that many; FALSE (and nothing taken) if not. */
gboolean mesh_bucket_take (MeshTokenBucket *b, double n, uint64_t now_ns);

/* Reputation: starts at 0, moves within [MIN, MAX]; at MIN or below the
 * engine asks the caller to close the link. */
#define MESH_LINK_REPUTATION_MAX 1000
#define MESH_LINK_REPUTATION_MIN (-200)
#define MESH_LINK_REPUTATION_GOOD 1         /* a valid frame */
#define MESH_LINK_REPUTATION_RATE (-10)     /* a frame over the rate limit */
#define MESH_LINK_REPUTATION_TIMESTAMP (-20) /* a timestamp outside the window */
#define MESH_LINK_REPUTATION_INVALID (-500) /* an invalid frame */
#define MESH_LINK_REPUTATION_BAD_CHUNK (-50) /* an update chunk not matching
                                              * its manifest's hash */

typedef struct {
  MeshLinkId id;
  MeshPublicBundle peer;
  uint64_t connected_ns;
  uint64_t last_seen_ns;        /* last frame received */

  gboolean hello_received;
  gboolean closing;             /* close requested: ignore its frames */
  uint64_t peer_capabilities;
  uint32_t peer_max_frame;      /* largest frame body the peer takes */
  char **peer_addresses;        /* from its HELLO, NULL-terminated */
  char *peer_agent;

  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  uint64_t invalid_frames, dropped_rate;

  MeshTokenBucket frames_bucket;
  MeshTokenBucket bytes_bucket;
  MeshTokenBucket accepts_bucket;  /* new sessions opened through it */

  int32_t reputation;

  /* Keepalive and round-trip time. */
  uint64_t rtt_ns;              /* smoothed; 0 until measured */
  uint64_t ping_nonce;
  uint64_t ping_sent_ns;        /* first send of the outstanding ping; 0: none */
  uint64_t ping_deadline_ns;    /* when its current try counts as missed */
  uint32_t ping_misses;         /* tries of it that went unanswered */
  uint64_t pong_ns;             /* last answer to a ping (link up until then) */
  uint16_t route_cost;          /* the cost routing was last given */
  uint64_t next_ping_ns;
} MeshLink;

MeshLink *mesh_link_new (MeshLinkId id, const MeshPublicBundle *peer,
                         const MeshEngineConfig *config, uint64_t now_ns);
void mesh_link_free (MeshLink *link);

/* Charge one received frame of len bytes against the link's rate limits.
 * FALSE: over the limit, drop the frame (reputation lowered). */
gboolean mesh_link_admit (MeshLink *link, size_t len, uint64_t now_ns);

/* Add delta to the reputation, clamped; TRUE when it is now at or below
 * MESH_LINK_REPUTATION_MIN. */
gboolean mesh_link_reputation_add (MeshLink *link, int32_t delta);

/* Feed one round-trip sample (exponentially smoothed, weight 1/8). */
void mesh_link_rtt_sample (MeshLink *link, uint64_t rtt_ns);

/* The largest frame body this link carries outbound: our own maximum and
 * the peer's, whichever is smaller. */
size_t mesh_link_max_frame (const MeshLink *link, size_t own_max);

/* Replace the peer's announced addresses and agent (copied). */
void mesh_link_set_peer_info (MeshLink *link, char **addresses, size_t n,
                              const char *agent);

#endif
