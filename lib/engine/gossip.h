/* Gossip: epidemic broadcast of flooded frames (BROADCAST, and any other
 * flooded type the engine hands over), with a repair path.
 *
 * Push: a message seen for the first time is sent on to `fanout` random
 * links, never back to the link it came from.  With fanout at least the
 * number of links this is flooding; below it, random subsets reach every
 * node with high probability, and the repair path catches the rest.
 *
 * Repair (pull): every announce interval gossip takes the next few links
 * of a shuffled cycle over its links and sends each a GossipAnnounce of
 * the recent IDs it stores (those of the last announce_window_ns, and at
 * least those since that link's turn `announce_rounds` turns ago), except
 * those the link is known to have: it sent them to us (first or as a
 * duplicate) or announced them.  A receiver pulls what it
 * has not seen (GossipPull), and the holder re-sends the stored frames.
 * A lost announce, pull or answer is made up on a later turn or by
 * another neighbour.  Pulls in flight are bounded in total and per link and expire;
 * serving is bounded per pull and by a token bucket per link, so a peer
 * cannot make a node amplify traffic without bound.
 *
 * Gossip never parses broadcasts or signatures: the engine decodes a
 * frame, asks mesh_gossip_is_new(), checks the message ID and signature,
 * delivers it, and then calls mesh_gossip_accept() with the frame to pass
 * on (hop_count already incremented).  Gossip builds and sends only its
 * own link messages, GossipAnnounce and GossipPull, and the engine hands
 * those it receives to mesh_gossip_handle_announce() and
 * mesh_gossip_handle_pull() once decoded.
 *
 * Sans-I/O: time comes in as now_ns, randomness and output through the
 * callbacks, which must not call back into gossip. */
#ifndef MESH_ENGINE_GOSSIP_H
#define MESH_ENGINE_GOSSIP_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/util.h"
#include "engine/engine.h"
#include "wire/codec.h"

#define MESH_GOSSIP_DEFAULT_FANOUT 10
#define MESH_GOSSIP_MAX_FANOUT 50
#define MESH_GOSSIP_MAX_LINKS 4096
#define MESH_GOSSIP_MAX_ROUNDS 4

typedef struct MeshGossip MeshGossip;

typedef struct {
  /* Write one frame (4-byte big-endian length + encoded BaseMessage) to a
   * link; the bytes are valid only during the call. */
  void (*send) (void *user_data, MeshLinkId link, const uint8_t *frame,
                size_t len);
  /* Randomness for the choice of links. */
  MeshRandomFunc random;
} MeshGossipCallbacks;

typedef struct {
  /* Wall clock (Unix ms) at monotonic time 0, for the timestamps of
   * announces and pulls: wall_ms = wall_epoch_ms + now_ns / 1e6. */
  uint64_t wall_epoch_ms;
  size_t max_frame_size;          /* of frames built here; 16 MiB, at
                                   * least MESH_WIRE_MIN_PEER_FRAME_SIZE */
  uint32_t fanout;                /* 10; 1 .. MESH_GOSSIP_MAX_FANOUT */
  uint32_t max_links;             /* 128 */
  uint32_t seen_capacity;         /* IDs remembered; 65536 */
  uint64_t seen_max_age_ns;       /* 10 min */
  /* Recent frames kept to answer pulls; a frame older than
   * store_max_age_ns is neither announced nor served.  The count and the
   * age are cut to those of the seen-cache if above. */
  uint32_t store_max_frames;      /* 4096 */
  size_t store_max_bytes;         /* 16 MiB: frames, with a few bytes each
                                   * for their length and link bits */
  uint64_t store_max_age_ns;      /* 2 min */
  uint64_t announce_interval_ns;  /* the tick; 1 s */
  uint32_t announce_links;        /* links announced to per tick; 3 */
  /* A turn offers the IDs stored since the link's turn announce_rounds
   * turns ago (2, at most MESH_GOSSIP_MAX_ROUNDS), or in the last
   * announce_window_ns (20 s; the store's age limits it), whichever
   * reaches further back.  The rounds serve links whose turns are rare
   * (many links), the window makes up for pulls lost on the way. */
  uint32_t announce_rounds;
  uint64_t announce_window_ns;
  uint32_t announce_max_ids;      /* per announce, newest first; 1024, at
                                   * most MESH_WIRE_MAX_GOSSIP_IDS */
  uint32_t max_pulls_in_flight;   /* IDs asked for, not yet received; 1024 */
  uint32_t max_pulls_per_link;    /* of those, on one link; 256 (cut to
                                   * max_pulls_in_flight if above) */
  /* Then the ID may be asked again (of whoever announces it next); 1 s.
   * A frame slower than this may come twice, the second a duplicate. */
  uint64_t pull_timeout_ns;
  uint32_t serve_max_per_pull;    /* frames re-sent for one pull; 64 */
  uint32_t serve_frames_per_s;    /* per link, token bucket of one second; 256 */
  uint64_t serve_bytes_per_s;     /* per link, likewise; 4 MiB */
} MeshGossipConfig;

typedef struct {
  uint64_t published;        /* own messages */
  uint64_t accepted;         /* others' messages taken for the first time */
  uint64_t duplicates;       /* mesh_gossip_is_new() answered FALSE */
  uint64_t pushes;           /* frames pushed (published and accepted) */
  uint64_t announces_sent, announce_ids_sent;
  uint64_t announces_received;
  uint64_t pulls_sent, pull_ids_sent;   /* GossipPull frames, IDs in them */
  uint64_t pulls_received;
  uint64_t pulled;           /* accepted messages that had been pulled */
  uint64_t served;           /* stored frames re-sent for pulls */
  uint64_t serve_unknown;    /* IDs pulled that are not (or no longer) stored */
  uint64_t serve_refused;    /* IDs pulled beyond the per-pull or rate limit */
  uint64_t pull_refused;     /* announced IDs not pulled: limit in flight */
  uint64_t store_evictions;  /* frames pushed out of the store by its bounds */
  uint32_t links;
  uint32_t seen;             /* IDs in the seen-cache */
  uint32_t stored;           /* frames in the store */
  uint32_t in_flight;        /* IDs pulled, not yet received */
  size_t store_bytes;
  size_t memory;             /* bytes held: seen-cache, store, pulls, links */
} MeshGossipStats;

void mesh_gossip_config_init (MeshGossipConfig *config);

/* Checks config (MESHARA_ERROR_INVALID_ARGUMENT naming the field) and
 * draws the hash keys from callbacks->random.  config and callbacks are
 * copied.  Transfer full. */
MeshGossip *mesh_gossip_new (const MeshGossipConfig *config,
                             const MeshGossipCallbacks *callbacks,
                             void *user_data, uint64_t now_ns,
                             GError **error);
void mesh_gossip_free (MeshGossip *g);

/* A link is up; fails at max_links or when link is 0 or already up.  It
 * is offered what the store holds on its next turn, which comes on the
 * next tick. */
gboolean mesh_gossip_link_up (MeshGossip *g, MeshLinkId link, uint64_t now_ns,
                              GError **error);
/* A link is down: its pulls in flight are forgotten so that other links
 * may serve them. */
void mesh_gossip_link_down (MeshGossip *g, MeshLinkId link, uint64_t now_ns);

/* The first check on a flooded message received from from_link, before
 * any expensive one: TRUE when id was not seen, FALSE for a duplicate
 * (counted; and from_link is known to have it, so it is not offered
 * there). */
gboolean mesh_gossip_is_new (MeshGossip *g, MeshLinkId from_link,
                             const uint8_t id[MESH_WIRE_ID_LEN],
                             uint64_t now_ns);

/* An own message, already signed: mark seen, store, and push to
 * min (fanout, links) random links.  frame is the whole frame (length
 * header included), copied.  FALSE when id was already seen (nothing
 * done). */
gboolean mesh_gossip_publish (MeshGossip *g, const uint8_t id[MESH_WIRE_ID_LEN],
                              const uint8_t *frame, size_t len,
                              uint64_t now_ns);

/* A verified message from from_link, seen for the first time: mark seen,
 * and unless frame is NULL (hop budget spent: nothing to pass on) store it
 * and push it to fanout random links other than from_link.  frame is the
 * whole frame to forward (hop_count already incremented), copied.  FALSE
 * when id was already seen (nothing done). */
gboolean mesh_gossip_accept (MeshGossip *g, MeshLinkId from_link,
                             const uint8_t id[MESH_WIRE_ID_LEN],
                             const uint8_t *frame, size_t len,
                             uint64_t now_ns);

/* A decoded, validated GossipAnnounce from from_link: send one GossipPull
 * on that link for the IDs neither seen nor already in flight, within the
 * limits in flight.  Returns how many IDs were pulled. */
size_t mesh_gossip_handle_announce (MeshGossip *g, MeshLinkId from_link,
                                    const MeshWireGossipAnnounce *msg,
                                    uint64_t now_ns);

/* A decoded, validated GossipPull from from_link: re-send the stored
 * frames it asks for, at most serve_max_per_pull and within the link's
 * rate.  Returns how many frames were sent. */
size_t mesh_gossip_handle_pull (MeshGossip *g, MeshLinkId from_link,
                                const MeshWireGossipPull *msg,
                                uint64_t now_ns);

/* The stored frame of id (length header included), or NULL.  Transfer
 * none: valid until the next call that adds to gossip. */
const uint8_t *mesh_gossip_lookup (const MeshGossip *g,
                                   const uint8_t id[MESH_WIRE_ID_LEN],
                                   uint64_t now_ns, size_t *len);

/* Absolute monotonic time of the next tick. */
uint64_t mesh_gossip_next_timeout (const MeshGossip *g);
/* Announce to the next links of the cycle and age the store, when the
 * tick is due at now_ns; does nothing earlier. */
void mesh_gossip_tick (MeshGossip *g, uint64_t now_ns);

void mesh_gossip_get_stats (const MeshGossip *g, MeshGossipStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshGossip, mesh_gossip_free)

#endif
