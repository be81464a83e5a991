/* The Kademlia DHT of a node: where to find any node's signed contact
 * record by node ID.
 *
 * IDs are the 256-bit node IDs (SHA-256 of Ed25519 keys), distance is
 * their XOR.  The routing table has 256 buckets of at most k contacts
 * (bucket i: contacts whose ID shares exactly i leading bits with ours),
 * so it never holds more than 256 * k.  Lookups are iterative and
 * parallel: a shortlist of the closest candidates, alpha requests in
 * flight, each with a timeout, until the k closest candidates have
 * answered (FIND_NODE) or one returns the record (FIND_VALUE).
 *
 * Standalone and sans-I/O: the module never routes.  It hands complete
 * frames for a node ID to send_to_node(), which the caller delivers over
 * a direct link or through the mesh; every request is ROUTED to the
 * queried node's ID and carries our Ed25519 key, so that the reply can be
 * routed back to SHA-256 (key).  The caller decodes incoming DHT frames
 * (mesh_wire_decode_base + mesh_wire_decode_payload) and passes them to
 * mesh_dht_receive().  Time comes in as now_ns, randomness through the
 * callback.  Callbacks must not call back into the DHT, except
 * lookup_done, which may start lookups or add contacts (not free it).
 *
 * Contact record signature.  A record is signed by the Ed25519 key in its
 * bundle over the 32-byte record digest
 *
 *   SHA-256 ("meshara/1 contact-record"      24 bytes, no terminator
 *            || node_id                      32 bytes
 *            || bundle                       129 bytes
 *            || timestamp_ms                 8 bytes, big-endian
 *            || expires_ms                   8 bytes, big-endian
 *            || n_addresses                  4 bytes, big-endian
 *            || for each address in order:
 *                 length                     4 bytes, big-endian
 *                 bytes                      (no terminator))
 *
 * A holder accepts a record (STORE) when its encoding is at most
 * max_record_size bytes, the bundle is version 1 and node_id is the
 * SHA-256 of its Ed25519 key, timestamp_ms is at most max_future_ms
 * ahead of the holder's clock, expires_ms lies in the future and at most
 * max_record_ttl_ms after timestamp_ms, the signature verifies, and no
 * record with the same or a later timestamp_ms is held.  A node looking
 * a record up checks the same and, before reporting it, the bundle's
 * binding signature (mesh_bundle_parse).  Holders skip that second
 * signature: the record signature already covers the whole bundle, so a
 * bad binding can only come from the key owner itself.
 *
 * Bundles in NodeInfo entries of Nodes replies are hints: only their
 * Ed25519 key is checked against the node ID (by hash, for entries that
 * join a lookup's shortlist; the others are not used).  A bundle is
 * reported to the caller only after mesh_bundle_parse() verified it. */
#ifndef MESH_ENGINE_DHT_H
#define MESH_ENGINE_DHT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "crypto/util.h"
#include "wire/codec.h"

#define MESH_DHT_ID_LEN 32
#define MESH_DHT_BUCKETS 256
/* Largest k: a Nodes reply carries at most MESH_WIRE_MAX_DHT_NODES. */
#define MESH_DHT_MAX_K MESH_WIRE_MAX_DHT_NODES
/* Domain separation of the record digest. */
#define MESH_DHT_RECORD_LABEL "meshara/1 contact-record"

typedef struct MeshDht MeshDht;

typedef enum {
  MESH_DHT_FIND_VALUE = 1,  /* a contact record (mesh_dht_lookup) */
  MESH_DHT_FIND_NODE,       /* the closest nodes (mesh_dht_find_node) */
} MeshDhtLookupKind;

/* What a lookup found.  Everything is valid only during the callback. */
typedef struct {
  const uint8_t *node_id;            /* 32 bytes, the target */
  const MeshPublicBundle *bundle;    /* binding signature verified */
  const char *const *addresses;      /* n_addresses "host:port" strings */
  size_t n_addresses;
  /* From a signed record: its times.  FALSE when the target was found as
   * a contact that answered but no record was found (then timestamp_ms
   * and expires_ms are 0, and addresses are those the caller gave in
   * mesh_dht_add_contact(), if any). */
  gboolean from_record;
  uint64_t timestamp_ms;
  uint64_t expires_ms;
} MeshDhtResult;

typedef struct {
  /* Deliver frame (4-byte big-endian length, then the encoded
   * BaseMessage) to node_id: over a direct link or routed through the
   * mesh.  The bytes are valid only during the call.  FALSE when there is
   * no way to reach node_id now; the request then counts as failed at
   * once instead of waiting for its timeout. */
  gboolean (*send_to_node) (void *user_data, const uint8_t *node_id,
                            const uint8_t *frame, size_t len);
  /* A lookup started with mesh_dht_lookup() or mesh_dht_find_node()
   * ended.  result is NULL when nothing was found (for FIND_NODE: unless
   * the target itself answered).  hops: the longest chain of requests
   * that led to the answer (1 when a contact of ours answered, 0 when
   * answered locally).  elapsed_ns: from the start of the lookup.  May
   * run inside mesh_dht_lookup() when the answer is known at once. */
  void (*lookup_done) (void *user_data, MeshDhtLookupKind kind,
                       const uint8_t *target, const MeshDhtResult *result,
                       uint32_t hops, uint64_t elapsed_ns);
  /* Randomness: request nonces, refresh targets, the hash key. */
  MeshRandomFunc random;
} MeshDhtCallbacks;

typedef struct {
  uint32_t k;                       /* bucket size and replication; 20, 1..32 */
  uint32_t alpha;                   /* requests in flight per lookup; 3, 1..k */
  uint64_t request_timeout_ns;      /* 1 s */
  uint32_t request_retries;         /* a lookup request unanswered within
                                     * the timeout is sent again this many
                                     * times, the wait doubling each time;
                                     * 2, at most 4 */
  uint32_t max_lookups;             /* concurrent lookups, internal ones
                                     * included; 64 */
  uint64_t record_ttl_ms;           /* lifetime of our own record; 1 h */
  uint64_t republish_interval_ns;   /* own record re-stored; 0: record_ttl / 2 */
  uint64_t refresh_interval_ns;     /* buckets no lookup touched for this
                                     * long get a random-ID lookup; 15 min,
                                     * 0: only after a join */
  uint32_t max_records;             /* records held for others; 4096 */
  size_t max_record_bytes;          /* their total encoded size; 4 MiB */
  size_t max_record_size;           /* one record, encoded; 1024 */
  uint64_t max_record_ttl_ms;       /* expires_ms - timestamp_ms accepted; 24 h */
  uint64_t max_future_ms;           /* record timestamps ahead of us; 5 min */
  uint32_t max_contact_addresses;   /* kept per contact; 4, at most 16 */
  /* Wall clock (Unix ms) at monotonic time 0: wall_ms = wall_epoch_ms +
   * now_ns / 1e6, for message and record timestamps. */
  uint64_t wall_epoch_ms;
  uint32_t max_hops;                /* RoutingInfo.max_hops; 16, 1..32 */
  /* Our listen addresses, for our record; NULL-terminated, copied; at
   * most MESH_WIRE_MAX_ADDRESSES. */
  const char *const *addresses;
} MeshDhtConfig;

typedef struct {
  uint32_t contacts;                /* in the routing table */
  uint32_t records;                 /* held for others */
  uint64_t record_bytes;
  uint32_t lookups_active;
  uint32_t requests_pending;
  uint64_t lookups_started, lookups_done, lookups_found;
  uint64_t requests_sent, requests_received, replies_received;
  uint64_t timeouts;                /* requests that got no reply in time */
  uint64_t retries;                 /* lookup requests sent again */
  uint64_t lookup_repeats;          /* user lookups given a second pass */
  uint64_t send_failures;           /* send_to_node returned FALSE */
  uint64_t unsolicited;             /* Nodes matching no pending request */
  uint64_t invalid;                 /* messages breaking a DHT rule */
  uint64_t stores_sent;
  uint64_t records_accepted;        /* new or replacing */
  uint64_t records_replaced;
  uint64_t records_forged;          /* bad signature, ID not the key's hash */
  uint64_t records_stale;           /* expired, or not newer than the one held */
  uint64_t records_oversize;        /* above max_record_size */
  uint64_t records_bad_time;        /* too far ahead, or lifetime too long */
  uint64_t records_evicted;         /* to make room, soonest-expiring first */
  uint64_t records_expired;
  uint64_t contacts_evicted;        /* least recently seen, after a failed ping */
} MeshDhtStats;

void mesh_dht_config_init (MeshDhtConfig *config);

/* A DHT for the node self (copied).  NULL with MESHARA_ERROR_INVALID_ARGUMENT
 * when a config value is out of range.  Transfer full. */
MeshDht *mesh_dht_new (const MeshIdentity *self, const MeshDhtConfig *config,
                       const MeshDhtCallbacks *callbacks, void *user_data,
                       uint64_t now_ns, GError **error);
void mesh_dht_free (MeshDht *dht);

/* A contact known to the caller, such as the peer of a new link: bundle
 * (verified by the caller; may be NULL) and addresses (may be NULL) are
 * copied.  A full bucket keeps its contacts: the least recently seen one
 * is pinged and replaced by this one only if it does not answer.  TRUE
 * when node_id is in the table afterwards. */
gboolean mesh_dht_add_contact (MeshDht *dht, const uint8_t *node_id,
                               const MeshPublicBundle *bundle,
                               const char *const *addresses,
                               size_t n_addresses, uint64_t now_ns);
/* Forget a contact; FALSE when it was not in the table. */
gboolean mesh_dht_remove_contact (MeshDht *dht, const uint8_t *node_id);

/* Find the contact record of target.  A record held locally (or our own)
 * answers at once; otherwise an iterative FIND_VALUE, which falls back to
 * the target's bundle when the target answered without a record.  A
 * lookup of the same target already running is not started twice (one
 * lookup_done).  MESHARA_ERROR_EXHAUSTED at max_lookups. */
gboolean mesh_dht_lookup (MeshDht *dht, const uint8_t *target,
                          uint64_t now_ns, GError **error);
/* An iterative FIND_NODE of target.  With our own ID it is the join: it
 * makes us known to the nodes closest to us, and when it ends every
 * bucket farther than our closest neighbour is refreshed at once. */
gboolean mesh_dht_find_node (MeshDht *dht, const uint8_t *target,
                             uint64_t now_ns, GError **error);

/* Sign a fresh record of ours (config addresses, or those of the last
 * mesh_dht_set_addresses) and store it at the k nodes closest to our ID
 * (a FIND_NODE of our ID first); repeated every republish_interval_ns.
 * FALSE with MESHARA_ERROR_EXHAUSTED when no lookup slot is free (the
 * republish timer retries). */
gboolean mesh_dht_publish_self (MeshDht *dht, uint64_t now_ns, GError **error);
/* Replace our addresses (NULL-terminated, at most MESH_WIRE_MAX_ADDRESSES
 * of 1 to 255 printable ASCII bytes) and publish again. */
gboolean mesh_dht_set_addresses (MeshDht *dht, const char *const *addresses,
                                 uint64_t now_ns, GError **error);

/* TRUE for the message types this module handles (FIND_NODE, FIND_VALUE,
 * STORE, NODES). */
gboolean mesh_dht_handles_type (uint32_t type);

/* A DHT message that arrived from from_node_id: base decoded and
 * validated by lib/wire, payload its decoded payload (transfer none).
 * When base carries a sender key, from_node_id must be its SHA-256: the
 * reply goes there.  Requests are answered through send_to_node.
 * Unsolicited or late replies and stale records are counted and ignored
 * (TRUE).  FALSE with an error when the message breaks a rule that only
 * a faulty or hostile sender breaks (sender key not matching
 * from_node_id, payload not of base->type, a NodeInfo whose ID is not
 * its key's hash, a forged, oversized or ill-timed record). */
gboolean mesh_dht_receive (MeshDht *dht, const uint8_t *from_node_id,
                           const MeshWireBaseMessage *base,
                           const ProtobufCMessage *payload, uint64_t now_ns,
                           GError **error);

/* Absolute monotonic time of the next thing due (a request timeout,
 * record expiry, republish, bucket refresh), or UINT64_MAX. */
uint64_t mesh_dht_next_timeout (const MeshDht *dht);
/* Run whatever is due at now_ns. */
void mesh_dht_tick (MeshDht *dht, uint64_t now_ns);

void mesh_dht_get_stats (const MeshDht *dht, MeshDhtStats *stats);

/* The record digest defined above. */
void mesh_dht_record_digest (const MeshWireContactRecord *record,
                             uint8_t out[MESH_SHA256_LEN]);

/* Check a record by the holder rules above at now_ns (the held record is
 * not consulted): MESHARA_ERROR_TOO_LARGE, INVALID, TIMESTAMP,
 * BAD_SIGNATURE. */
gboolean mesh_dht_check_record (const MeshDht *dht,
                                const MeshWireContactRecord *record,
                                uint64_t now_ns, GError **error);

/* Inspection, for tests and diagnostics. */
gboolean mesh_dht_has_contact (const MeshDht *dht, const uint8_t *node_id);
/* The bucket node_id falls in: its leading bits in common with our ID
 * (0..255), or -1 for our own ID. */
int mesh_dht_bucket_index (const MeshDht *dht, const uint8_t *node_id);
guint mesh_dht_bucket_size (const MeshDht *dht, guint index);
/* timestamp_ms of the record held for node_id, 0 when none. */
uint64_t mesh_dht_record_timestamp (const MeshDht *dht, const uint8_t *node_id);
const uint8_t *mesh_dht_self_id (const MeshDht *dht);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshDht, mesh_dht_free)

#endif
