/* The protocol engine: sans-I/O core of a node.
 *
 * The engine never opens a socket, reads a clock or draws randomness on
 * its own.  The caller (net/ over TLS, sim/ over a virtual network, a
 * fuzzer) passes the monotonic time into every call, supplies randomness
 * and takes output through callbacks, and arms one timer from
 * mesh_engine_next_timeout().  Events are queued while a call runs and
 * handed to the event callback when the call returns, never from a
 * half-updated state.  Callbacks must not call back into the engine,
 * except the event callback, which may.
 *
 * Inside: engine.c (links, dispatch, events, timers), link.c (per-link
 * state, rate limits, reputation), msg.c (building and relaying
 * BaseMessages), routing.c (distance-vector advertisements over
 * routes.c), session.c (end-to-end sessions, acknowledgments, retries),
 * seen.c (deduplication of routed messages), gossip.c (broadcasts),
 * dht.c (contact records).
 *
 * Links: the first frame each way is HELLO; any other frame first, an
 * undecodable frame, a wrong message ID or a HELLO that does not match
 * the authenticated peer makes the engine ask for the link to be closed
 * (close_link, MESH_EVENT_PEER_MISBEHAVED).  Frames over the per-link
 * rate are dropped and cost reputation; timestamps outside the window
 * are dropped.  Every ping_interval_ns a link is pinged (the round trip
 * feeds its route cost); a link that carries routed traffic is probed at
 * least every second, and one whose ping goes unanswered five times
 * (each try waiting max (1 s, 8 RTT), at most ping_interval_ns) or that
 * sent nothing for four ping intervals is closed.
 *
 * Routed messages (RoutingInfo.hop_count counts the links crossed on
 * arrival: the origin sends 1, a relay adds one and never exceeds
 * max_hops) are handled once per message ID, and relayed towards their
 * destination by the routing table, never back on the link they came
 * from.  Routed types this version does not know are relayed as well. */
#ifndef MESH_ENGINE_ENGINE_H
#define MESH_ENGINE_ENGINE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "crypto/util.h"

/* Links are named by the caller; 0 and UINT32_MAX are never valid. */
typedef uint32_t MeshLinkId;
#define MESH_LINK_NONE 0

typedef struct MeshEngine MeshEngine;

typedef enum {
  MESH_EVENT_PRIVATE_RECEIVED = 1, /* bundle and node_id = sender (verified
                                    * through the session), message_id,
                                    * data/len, hops, link = arrival */
  MESH_EVENT_BROADCAST_RECEIVED,   /* node_id = sender, message_id, data/len,
                                    * content_type, hops */
  MESH_EVENT_DELIVERED,            /* message_id, node_id = recipient,
                                    * latency_ns = send to acknowledgment */
  MESH_EVENT_DELIVERY_FAILED,      /* message_id, node_id, reason */
  MESH_EVENT_PEER_CONNECTED,       /* link, node_id, bundle */
  MESH_EVENT_PEER_DISCONNECTED,    /* link, node_id, reason */
  MESH_EVENT_PEER_MISBEHAVED,      /* link, node_id, reason; the engine has
                                    * asked the caller to close the link */
  MESH_EVENT_LOOKUP_DONE,          /* node_id = target; bundle and addresses
                                    * when found, else reason; hops, latency_ns
                                    * (only for mesh_engine_lookup) */
  MESH_EVENT_UPDATE_PROGRESS,      /* message_id = manifest ID; chunks_done,
                                    * chunks_total, bytes_done, bytes_total;
                                    * link = the peer the chunk came from */
  MESH_EVENT_UPDATE_COMPLETED,     /* message_id = manifest ID; every chunk
                                    * held and verified; as above */
  MESH_EVENT_UPDATE_BAD_CHUNK,     /* message_id, link, node_id = the peer
                                    * that sent a chunk not matching the
                                    * manifest, reason; chunks_done = index */
  MESH_EVENT_UPDATE_MANIFEST,      /* answer to mesh_engine_update_query_
                                    * manifest(): message_id = manifest ID,
                                    * node_id = who was asked; data/len = the
                                    * encoded manifest (not yet verified), or
                                    * reason when none came */
  MESH_EVENT_QUERY_RECEIVED,       /* bundle and node_id = asker, data/len =
                                    * encoded QueryMessage the engine did not
                                    * answer itself; answer with
                                    * mesh_engine_send_content (RESPONSE) */
  MESH_EVENT_RESPONSE_RECEIVED,    /* bundle, node_id, data/len = encoded
                                    * ResponseMessage to none of the
                                    * engine's own queries */
} MeshEventType;

typedef struct {
  MeshEventType type;
  MeshLinkId link;
  const uint8_t *node_id;             /* 32 bytes, or NULL */
  const MeshPublicBundle *bundle;     /* or NULL */
  const uint8_t *message_id;          /* 32 bytes, or NULL */
  const uint8_t *data;                /* payload, valid during the callback */
  size_t len;
  const char *content_type;           /* broadcasts; may be "" */
  const char *const *addresses;       /* lookups; n_addresses entries */
  size_t n_addresses;
  uint32_t hops;                      /* links crossed */
  uint64_t latency_ns;
  const char *reason;                 /* failures: what went wrong */
  uint32_t chunks_done, chunks_total; /* update events */
  uint64_t bytes_done, bytes_total;
} MeshEvent;

typedef struct {
  /* Write one frame (4-byte big-endian length + encoded BaseMessage) to a
   * link.  The bytes are valid only during the call: copy or write them. */
  void (*send_frame) (void *user_data, MeshLinkId link,
                      const uint8_t *frame, size_t len);
  /* The engine wants this link closed (misbehaviour, limit, duplicate).
   * The caller closes it and later calls mesh_engine_link_down(). */
  void (*close_link) (void *user_data, MeshLinkId link, const char *reason);
  /* The engine wants a link to this peer (found through the DHT when a
   * private message had no route); the caller connects when it can and
   * calls mesh_engine_link_up().  May be NULL. */
  void (*connect) (void *user_data, const MeshPublicBundle *peer,
                   const char *const *addresses, size_t n_addresses);
  /* An event, after the engine finished the step that caused it. */
  void (*event) (void *user_data, const MeshEvent *event);
  /* Randomness for keys, nonces, fanout choice and jitter. */
  MeshRandomFunc random;
} MeshEngineCallbacks;

typedef struct {
  /* Wall clock (Unix ms) at monotonic time 0, for message timestamps:
   * wall_ms = wall_epoch_ms + now_ns / 1e6. */
  uint64_t wall_epoch_ms;
  size_t max_frame_size;          /* default 16 MiB */
  uint32_t max_links;             /* default 32 (profile Standard) */
  uint32_t max_routes;            /* default 1,000,000 */
  uint32_t max_hops;              /* default 16, at most 32 */
  uint32_t gossip_fanout;         /* default 10, at most 50 */
  uint32_t seen_capacity;         /* message IDs remembered; default 65536 */
  uint64_t seen_max_age_ns;       /* default 10 min */
  uint64_t ack_timeout_ns;        /* first retry after; default 500 ms */
  uint32_t max_retries;           /* default 11; the timeout doubles up to
                                   * 8 times ack_timeout: 39.5 s in all */
  uint32_t max_pending;           /* unacknowledged private messages; 4096 */
  uint32_t max_sessions;          /* each direction; default 4096 */
  uint64_t advert_interval_ns;    /* periodic route advertisement; 30 s */
  uint64_t route_max_age_ns;      /* routes not refreshed expire; 120 s */
  uint64_t ping_interval_ns;      /* keepalive and RTT; 15 s */
  uint32_t peer_frames_per_s;     /* per-link rate limit; default 500000 */
  uint64_t peer_bytes_per_s;      /* per-link rate limit; default 1 GiB */
  uint64_t max_future_ms;         /* timestamp window: 5 min ahead */
  uint64_t max_past_ms;           /* and 24 h behind */
  uint32_t dht_k;                 /* bucket size, 20 */
  uint32_t dht_alpha;             /* lookup parallelism, 3 */
  uint64_t dht_record_ttl_ms;     /* contact record lifetime, 1 h */
  uint32_t session_accepts_per_s; /* new incoming sessions per link and
                                   * second (each costs 2 X25519 + 1
                                   * Ed25519 verification); default 100 */
  const char *const *addresses;   /* this node's listen addresses, for its
                                   * contact record; NULL-terminated */
  /* Update distribution (mesh_engine_update_add). */
  uint32_t update_max;            /* updates tracked at once; default 8 */
  uint32_t update_inflight_per_peer; /* chunks asked of one peer and not yet
                                   * answered; default 4, at most 64 */
  uint64_t update_request_timeout_ns; /* a chunk not answered in this time is
                                   * asked of another peer; default 1 s */
  uint64_t update_bytes_per_s;    /* download limit over all updates; 0 none */
  uint32_t update_serve_per_request; /* chunks answered per request; 16 */
  uint64_t update_query_timeout_ns; /* manifest queries; default 10 s */
} MeshEngineConfig;

typedef struct {
  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  uint64_t invalid_frames;        /* failed decoding or validation */
  uint64_t duplicates;            /* messages seen before, dropped */
  uint64_t forwarded;             /* routed messages relayed */
  uint64_t dropped_no_route, dropped_ttl, dropped_rate;
  uint64_t dropped_timestamp;     /* outside the timestamp window */
  uint64_t dropped_unknown;       /* unknown types not routed, or for us */
  uint64_t misbehaved;            /* links the engine asked to close for it */
  uint64_t private_sent, private_delivered, private_failed, private_received;
  uint64_t private_retries;       /* retransmissions (attempts beyond the first) */
  uint64_t broadcasts_sent, broadcasts_received;
  uint64_t lookups_started, lookups_done;
  uint64_t records_stored;        /* STOREs of our contact record sent */
  uint32_t links, routes, sessions_out, sessions_in, pending, seen;
  uint64_t chunks_served, chunks_received, chunks_bad, chunk_requests_sent;
  uint64_t chunk_timeouts;
  uint64_t chunks_serve_limited;  /* requests cut short by the per-peer
                                   * serving limit (peer_bytes_per_s) */
} MeshEngineStats;

void mesh_engine_config_init (MeshEngineConfig *config);

/* self is copied; config may be NULL for the defaults, and values left
 * at 0 or out of range are brought into range (max_hops 1..32, fanout
 * 1..50, max_frame_size 64 KiB..16 MiB, ...).  Memory held from the
 * start is mostly the two seen-caches (routed messages here, flooded ones
 * in gossip): about 56 bytes times seen_capacity each, 7 MiB at the
 * default; a simulation of many nodes wants a smaller seen_capacity.
 * Transfer full. */
MeshEngine *mesh_engine_new (const MeshIdentity *self,
                             const MeshEngineConfig *config,
                             const MeshEngineCallbacks *callbacks,
                             void *user_data, uint64_t now_ns);
void mesh_engine_free (MeshEngine *engine);

const MeshPublicBundle *mesh_engine_get_bundle (const MeshEngine *engine);

/* An authenticated link to peer is ready (TLS verified the peer's key;
 * the bundle must have passed mesh_bundle_parse() or _verify(): it is
 * not checked again).  Sends HELLO and the routing table at once.  Fails
 * (and the caller closes it) at max_links (EXHAUSTED), for a reserved or
 * busy link id, or a link to this node itself (INVALID_ARGUMENT). */
gboolean mesh_engine_link_up (MeshEngine *engine, MeshLinkId link,
                              const MeshPublicBundle *peer, uint64_t now_ns,
                              GError **error);
void mesh_engine_link_down (MeshEngine *engine, MeshLinkId link,
                            uint64_t now_ns);

/* One complete frame body (without the 4-byte length) from link. */
void mesh_engine_receive (MeshEngine *engine, MeshLinkId link,
                          const uint8_t *data, size_t len, uint64_t now_ns);

/* App commands.  id_out (32 bytes, may be NULL) receives the message ID
 * that later events name.
 *
 * send_private: to must be a verified bundle.  The message is accepted
 * even without a route (then a DHT lookup of the recipient starts and
 * the connect callback may follow; retries take the new route).  Errors:
 * INVALID_ARGUMENT (to is this node), TOO_LARGE (more than max_frame_size
 * minus about 1.3 KiB of envelope), EXHAUSTED (max_pending messages wait
 * for acknowledgment, or max_sessions sessions all have some).
 *
 * broadcast: signed with our key and flooded by gossip; content_type is
 * printable ASCII of at most 128 bytes (INVALID), the frame at most
 * max_frame_size (TOO_LARGE). */
gboolean mesh_engine_send_private (MeshEngine *engine,
                                   const MeshPublicBundle *to,
                                   const uint8_t *data, size_t len,
                                   uint64_t now_ns, uint8_t *id_out,
                                   GError **error);
/* Withdraw a private message that mesh_engine_send_private() just
 * accepted, when the caller could not queue its frame: no event follows
 * for it.  FALSE when id names no waiting message. */
gboolean mesh_engine_cancel_private (MeshEngine *engine, const uint8_t *id);
gboolean mesh_engine_broadcast (MeshEngine *engine,
                                const uint8_t *data, size_t len,
                                const char *content_type, uint64_t now_ns,
                                uint8_t *id_out, GError **error);
/* Find the contact record of node_id through the DHT; the result comes as
 * MESH_EVENT_LOOKUP_DONE (possibly before this returns, when the record
 * is held here).  EXHAUSTED when the DHT runs its maximum of lookups. */
gboolean mesh_engine_lookup (MeshEngine *engine, const uint8_t *node_id,
                             uint64_t now_ns, GError **error);

/* Absolute monotonic time of the next thing due, or UINT64_MAX. */
uint64_t mesh_engine_next_timeout (const MeshEngine *engine);
/* Run whatever is due at now_ns. */
void mesh_engine_tick (MeshEngine *engine, uint64_t now_ns);

void mesh_engine_get_stats (const MeshEngine *engine, MeshEngineStats *stats);

/* One link as the engine sees it (per-peer statistics for net/ and the
 * tools). */
typedef struct {
  MeshLinkId link;
  MeshPublicBundle peer;
  uint64_t connected_ns, last_seen_ns;
  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  uint64_t invalid_frames, dropped_rate;
  uint64_t rtt_ns;                /* smoothed round-trip time; 0 unmeasured */
  int32_t reputation;             /* -200 .. 1000, starts at 0 */
  gboolean hello_received;
  gboolean closing;               /* the engine asked for it to be closed */
  uint64_t peer_capabilities;     /* MESH_WIRE_CAP_* from its HELLO */
} MeshLinkInfo;

/* FALSE when link is not up. */
gboolean mesh_engine_get_link_info (const MeshEngine *engine, MeshLinkId link,
                                    MeshLinkInfo *info);

/* The link a message to node_id would leave on now, or MESH_LINK_NONE
 * when there is no route (for diagnostics and tests). */
MeshLinkId mesh_engine_route_lookup (const MeshEngine *engine,
                                     const uint8_t *node_id);

/* Update distribution.  The engine moves the 64 KiB (manifest chunk_size)
 * chunks of updates between peers with UpdateRequest and UpdateChunk;
 * where chunks are kept is the caller's: a real node gives it its chunk
 * cache (lib/update/chunks.c), a simulation memory.  The store is asked
 * only from inside engine calls, and its functions must not call back
 * into the engine. */
typedef struct {
  /* Whether chunk index of the update is held. */
  gboolean (*has) (void *store, const uint8_t *update_id, uint32_t index);
  /* Its bytes, for serving; NULL when not held.  (transfer full) */
  GBytes *(*get) (void *store, const uint8_t *update_id, uint32_t index);
  /* Keep a chunk the engine has checked against the manifest's hash.
   * FALSE when it could not be kept (it is then asked for again later). */
  gboolean (*put) (void *store, const uint8_t *update_id, uint32_t index,
                   const uint8_t *data, size_t len);
} MeshChunkStoreFuncs;

void mesh_engine_set_chunk_store (MeshEngine *engine,
                                  const MeshChunkStoreFuncs *funcs,
                                  void *store);

/* Track the update whose manifest (encoded UpdateManifest) is given,
 * named by update_id (its manifest ID).  The caller has checked the
 * manifest's signatures (mesh_update_manifest_verify()) and computed the
 * ID; the engine only checks that the chunk hashes fit size and
 * chunk_size (INVALID).  From then on chunks of it held in the store are
 * served to peers that ask, to each at most peer_bytes_per_s, and
 * update-manifest queries for it are answered.  With fetch, the missing
 * chunks (held ones count at once, which is how a download resumes) are
 * asked of the linked peers in parallel, at most
 * update_inflight_per_peer each; each answer is checked against the
 * manifest's hash, and a bad chunk is asked of another peer while the
 * sender loses reputation.  Progress and completion come as events.
 * EXHAUSTED at update_max updates, INVALID_ARGUMENT when the chunk store
 * is not set.  Adding a tracked update again only turns fetching on. */
gboolean mesh_engine_update_add (MeshEngine *engine,
                                 const uint8_t *update_id,
                                 const uint8_t *manifest, size_t len,
                                 gboolean fetch, uint64_t now_ns,
                                 GError **error);
/* Ask the node from (an authority, or the node that announced the
 * update) for the manifest with this ID, end-to-end encrypted (QUERY
 * "update-manifest").  A node answers such a query itself for the
 * updates it tracks.  The result comes as MESH_EVENT_UPDATE_MANIFEST:
 * the manifest, still to be verified and then given to
 * mesh_engine_update_add(), or a reason (the answer's code and message,
 * or no answer within update_query_timeout_ns).  EXHAUSTED at update_max
 * queries waiting; otherwise as mesh_engine_send_private(). */
gboolean mesh_engine_update_query_manifest (MeshEngine *engine,
                                            const MeshPublicBundle *from,
                                            const uint8_t *manifest_id,
                                            uint64_t now_ns, GError **error);

/* Send an encoded QueryMessage (type MESH_WIRE_TYPE_QUERY) or
 * ResponseMessage (MESH_WIRE_TYPE_RESPONSE) in an end-to-end session,
 * delivered and acknowledged like a private message.  INVALID_ARGUMENT
 * for another type. */
gboolean mesh_engine_send_content (MeshEngine *engine,
                                   const MeshPublicBundle *to, uint32_t type,
                                   const uint8_t *data, size_t len,
                                   uint64_t now_ns, uint8_t *id_out,
                                   GError **error);

/* Stop fetching and serving it. */
void mesh_engine_update_remove (MeshEngine *engine, const uint8_t *update_id);
/* Chunks held of a tracked update and their number; FALSE if untracked. */
gboolean mesh_engine_update_progress (const MeshEngine *engine,
                                      const uint8_t *update_id,
                                      uint32_t *chunks_done,
                                      uint32_t *chunks_total);

#endif
