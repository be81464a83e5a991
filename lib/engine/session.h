/* Private messages of the engine: the end-to-end session tables, sending
 * with acknowledgment and retry, receiving and acknowledging.
 *
 * Sending.  One current outgoing session (crypto/session.h, Noise X) per
 * destination; a new one is opened when mesh_session_needs_rekey() says
 * so, and the old one stays until the messages sealed under it are
 * settled.  A message is a PrivateContent sealed in the session, carried
 * in a PrivateMessagePayload (with the session init until the recipient
 * acknowledged the session) as a BaseMessage PRIVATE routed to the
 * recipient's node ID.  It waits in the pending table (at most
 * max_pending) until an acknowledgment with a valid tag settles it, or is
 * sent again after ack_timeout_ns, doubling up to 2^MESH_PRIVATE_MAX_BACKOFF_SHIFT
 * times that, max_retries times, and then
 * fails.  A retry repeats the same sealed bytes (same counter), so a
 * recipient that got the first copy acknowledges it as a duplicate
 * instead of delivering it twice; it gets a fresh timestamp, hence a
 * fresh message ID, so relays that dropped the first copy as "seen" do
 * not drop the retry.
 *
 * Who can report an unknown session?  The sender is sealed: a message
 * without an init names only its session, so a recipient that lost the
 * session (restart, eviction) does not know whom to tell, and a
 * SESSION_UNKNOWN acknowledgment could not be routed.  So the recipient
 * stays silent, and every retry carries the session init again, also for
 * a session that was acknowledged before.  A recipient that still holds
 * the session finds it from the init by one hash (no DH) and acknowledges
 * the duplicate; one that lost it accepts the init, which re-creates the
 * same session, and delivers.  Delivery after a restart thus costs one
 * ack timeout, and neither a header nor a reply hint ever reveals the
 * sender to relays.  A SESSION_UNKNOWN acknowledgment that does arrive
 * (another implementation) carries no tag, so it is only a hint: at most
 * one per session per ack timeout makes the sender open a new session and
 * resend what was pending in the old one.
 *
 * Receiving.  Incoming sessions are found by session ID (keyed hash; at
 * most max_sessions, least recently used evicted).  A new session costs
 * two X25519 and one Ed25519 verification, so accepts are limited per
 * arrival link (the accept_allowed callback).  A replayed counter is
 * acknowledged again as DUPLICATE (rate-limited per session: the bytes
 * are not authenticated before the replay check) and not delivered.
 * Acknowledgments are routed to the sender's node ID, which the session
 * init revealed to the recipient only, and carry a tag under the session
 * (mesh_session_ack_tag) over acked_message_id || session_id ||
 * counter (8 bytes, big-endian) || status (1 byte), so relays cannot
 * confirm a delivery that did not happen. */
#ifndef MESH_ENGINE_SESSION_H
#define MESH_ENGINE_SESSION_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "crypto/session.h"
#include "engine/engine.h"
#include "wire/codec.h"

typedef struct MeshPrivate MeshPrivate;

typedef struct {
  /* Send payload as a routed message of type (PRIVATE or ACK) to node
   * dest, with a timestamp of at least *timestamp_ms (updated to the one
   * used); id_out receives the message ID.  FALSE when there is no route
   * (nothing was sent; the ID is still set). */
  gboolean (*send) (void *ctx, uint32_t type, const uint8_t dest[MESH_NODE_ID_LEN],
                    const uint8_t *payload, size_t len, uint64_t now_ns,
                    uint64_t *timestamp_ms, uint8_t id_out[MESH_WIRE_ID_LEN]);
  /* An event for the application; the engine copies what it needs. */
  void (*event) (void *ctx, const MeshEvent *event);
  /* May a new incoming session be accepted from link now? */
  gboolean (*accept_allowed) (void *ctx, MeshLinkId link, uint64_t now_ns);
  /* No route to dest: the place to start a lookup (may be NULL). */
  void (*no_route) (void *ctx, const uint8_t dest[MESH_NODE_ID_LEN],
                    uint64_t now_ns);
  /* A message to dest went unacknowledged and is about to be sent again:
   * the path may be broken, worth a probe of the first link (may be
   * NULL). */
  void (*unanswered) (void *ctx, const uint8_t dest[MESH_NODE_ID_LEN],
                      uint64_t now_ns);
  /* A QUERY or RESPONSE (PrivateContent.type) from sender; body is the
   * encoded QueryMessage or ResponseMessage, not yet decoded.  May be
   * NULL: they are then acknowledged and dropped. */
  void (*content) (void *ctx, uint32_t type, const MeshPublicBundle *sender,
                   const uint8_t *body, size_t len, uint64_t now_ns);
} MeshPrivateCallbacks;

typedef struct {
  uint32_t max_sessions;        /* each direction */
  uint32_t max_pending;
  uint32_t max_retries;
  uint64_t ack_timeout_ns;
  /* Session limits for new sessions (rekey points). */
  MeshSessionLimits limits;
  /* DUPLICATE acknowledgments per incoming session and second. */
  uint32_t dup_acks_per_s;
} MeshPrivateConfig;

/* Fill config with the engine defaults. */
void mesh_private_config_init (MeshPrivateConfig *config);

typedef struct {
  uint64_t sent, delivered, failed, received, retries;
  uint64_t sessions_opened, sessions_accepted, sessions_evicted;
  uint64_t acks_sent, acks_received, acks_bad_tag, acks_unmatched;
  uint64_t duplicates;          /* replayed counters, not delivered */
  uint64_t unknown_session;     /* no session and no init: dropped */
  uint64_t rejected;            /* failed to decode, accept or open */
  uint64_t accepts_limited;     /* new sessions refused by the rate limit */
  uint64_t reopened;            /* sessions replaced after SESSION_UNKNOWN */
  uint32_t sessions_out, sessions_in, pending;
} MeshPrivateStats;

/* self, config, callbacks and hash_key are copied (self is kept: it must
 * outlive the object).  Transfer full. */
MeshPrivate *mesh_private_new (const MeshIdentity *self,
                               const MeshPrivateConfig *config,
                               const MeshPrivateCallbacks *callbacks,
                               void *ctx, MeshRandomFunc random,
                               void *random_data,
                               const uint8_t hash_key[16]);
/* Frees everything; pending messages are dropped without events. */
void mesh_private_free (MeshPrivate *p);

/* Seal data for to and send it.  id_out (32 bytes) receives the message
 * ID that MESH_EVENT_DELIVERED or MESH_EVENT_DELIVERY_FAILED will name.
 * Errors: INVALID_ARGUMENT (to is self), TOO_LARGE (data above
 * max_data), EXHAUSTED (pending or session table full).  A message
 * without a route is still accepted: it is retried like a lost one. */
gboolean mesh_private_send (MeshPrivate *p, const MeshPublicBundle *to,
                            const uint8_t *data, size_t len, size_t max_data,
                            uint64_t now_ns, uint8_t id_out[MESH_WIRE_ID_LEN],
                            GError **error);

/* The same with PrivateContent.type type: MESH_WIRE_TYPE_PRIVATE,
 * _QUERY or _RESPONSE. */
gboolean mesh_private_send_type (MeshPrivate *p, uint32_t type,
                                 const MeshPublicBundle *to,
                                 const uint8_t *data, size_t len,
                                 size_t max_data, uint64_t now_ns,
                                 uint8_t id_out[MESH_WIRE_ID_LEN],
                                 GError **error);

/* Forget a message just sent whose frame could not be queued (the
 * link's send queue was full), as if it had never been sent: no event
 * follows for it.  FALSE when no pending message has this ID. */
gboolean mesh_private_cancel (MeshPrivate *p,
                              const uint8_t id[MESH_WIRE_ID_LEN]);

/* A PRIVATE or ACK message addressed to us, decoded and checked by the
 * engine (message ID, timestamp), arrived on link. */
void mesh_private_receive (MeshPrivate *p, MeshLinkId link,
                           const MeshWireBaseMessage *msg, uint64_t now_ns);

/* Earliest retry deadline, or UINT64_MAX. */
uint64_t mesh_private_next_timeout (const MeshPrivate *p);
void mesh_private_tick (MeshPrivate *p, uint64_t now_ns);

void mesh_private_get_stats (const MeshPrivate *p, MeshPrivateStats *stats);

/* The retry timeout doubles at most this many times: with the default
 * 500 ms, waits go 0.5, 1, 2, 4, 4, 4 ... s, so a lossy path gets many
 * tries within half a minute. */
#define MESH_PRIVATE_MAX_BACKOFF_SHIFT 3u

/* Bytes of overhead between application data and the PRIVATE payload:
 * for sizing data against a frame limit. */
#define MESH_PRIVATE_OVERHEAD \
  (MESH_SESSION_OVERHEAD + MESH_SESSION_INIT_LEN + MESH_SESSION_ID_LEN + 64)

/* For tests: the outgoing session to node dest (transfer none), or NULL. */
MeshSession *mesh_private_get_out_session (MeshPrivate *p,
                                           const uint8_t dest[MESH_NODE_ID_LEN]);
/* For tests: whether an incoming session with this ID is held. */
gboolean mesh_private_has_in_session (MeshPrivate *p,
                                      const uint8_t id[MESH_SESSION_ID_LEN]);

#endif
