/* The seen-cache: a set of 32-byte message IDs with a hard memory bound
 * and aging, so that a node handles and forwards each message at most once.
 *
 * Entries live in a ring in insertion order, so the oldest is always at
 * its head: aging pops from the head, and a full set evicts the head to
 * make room, both in O(1).  An index by ID (open addressing, linear
 * probing, at most half full) finds entries in O(1) expected time.  All
 * memory is allocated at creation from the capacity; nothing a peer sends
 * makes it grow.
 *
 * IDs are SHA-256 outputs, but a peer can grind them, so index slots are
 * chosen by SipHash-1-3 under a per-node random key given at creation.
 *
 * The same structure, created with mesh_seen_new_map(), also carries one
 * pointer per entry, handed back to a drop function when the entry leaves
 * (aged, evicted, removed or freed): gossip keeps its recent frames and
 * its pulls in flight that way.
 *
 * Sans-I/O: time comes in as now_ns (the caller's monotonic clock).
 * Entries keep their first insertion time; times are expected not to go
 * backwards, and an earlier now_ns is taken as the latest time seen. */
#ifndef MESH_ENGINE_SEEN_H
#define MESH_ENGINE_SEEN_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_SEEN_ID_LEN 32
#define MESH_SEEN_KEY_LEN 16
#define MESH_SEEN_DEFAULT_CAPACITY 65536
#define MESH_SEEN_MAX_CAPACITY (1u << 24)

typedef struct MeshSeen MeshSeen;

/* An entry of a map leaves the set; value is what was inserted with it.
 * Must not call into the same MeshSeen. */
typedef void (*MeshSeenDropFunc) (void *user_data,
                                  const uint8_t id[MESH_SEEN_ID_LEN],
                                  void *value);

/* A set of at most capacity IDs (1 .. MESH_SEEN_MAX_CAPACITY), each
 * remembered for max_age_ns after it was added (0: until evicted), slots
 * chosen under hash_key (random, per node).  About 56 bytes per entry of
 * capacity, all allocated here.  Transfer full. */
MeshSeen *mesh_seen_new (uint32_t capacity, uint64_t max_age_ns,
                         const uint8_t hash_key[MESH_SEEN_KEY_LEN]);

/* The same with a value per entry (8 bytes more per entry); drop (may be
 * NULL) receives each value when its entry leaves. */
MeshSeen *mesh_seen_new_map (uint32_t capacity, uint64_t max_age_ns,
                             const uint8_t hash_key[MESH_SEEN_KEY_LEN],
                             MeshSeenDropFunc drop, void *user_data);

/* Drops every entry of a map, then frees the set. */
void mesh_seen_free (MeshSeen *s);

/* id was added less than max_age_ns before now_ns and is still held. */
gboolean mesh_seen_contains (const MeshSeen *s,
                             const uint8_t id[MESH_SEEN_ID_LEN],
                             uint64_t now_ns);

/* Add id at now_ns: TRUE when it was new, FALSE when already present (its
 * time is not renewed).  Ages out what is due first; a full set then
 * evicts its oldest entry. */
gboolean mesh_seen_add (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                        uint64_t now_ns);

/* mesh_seen_add with a value for a map.  FALSE when id is present: the
 * stored value stays and value is not taken (the caller still owns it). */
gboolean mesh_seen_insert (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                           void *value, uint64_t now_ns);

/* The value stored with id, or NULL when absent or aged.  Transfer none. */
void *mesh_seen_lookup (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                        uint64_t now_ns);

/* Forget id now (its value is dropped); FALSE when absent. */
gboolean mesh_seen_remove (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN]);

/* Forget the oldest entry; FALSE when empty. */
gboolean mesh_seen_pop_oldest (MeshSeen *s);

/* Forget every entry older than max_age_ns at now_ns; returns how many.
 * mesh_seen_add does this itself; call it to release values early. */
size_t mesh_seen_expire (MeshSeen *s, uint64_t now_ns);

/* Entries held (aged ones count until they are expired). */
size_t mesh_seen_count (const MeshSeen *s);
size_t mesh_seen_capacity (const MeshSeen *s);
/* Bytes allocated: the structure, the ring, the index (and the values). */
size_t mesh_seen_memory (const MeshSeen *s);
/* Entries evicted by a full set before they aged: when this grows, the
 * capacity is too small for the message rate, or someone floods. */
uint64_t mesh_seen_evictions (const MeshSeen *s);

/* Iteration from the newest entry to the oldest.  Removing the entry just
 * returned (or any other) between two calls is safe; adding is not. */
typedef struct {
  const MeshSeen *set;
  size_t left;     /* ring positions still to visit */
  size_t pos;      /* next ring position */
} MeshSeenIter;

void mesh_seen_iter_init (MeshSeenIter *it, const MeshSeen *s);
/* The next ID (transfer none, valid until the set is modified), or NULL
 * at the end; added_ns and value (either may be NULL) get its time and
 * value.  Aged entries not yet expired are returned too. */
const uint8_t *mesh_seen_iter_next (MeshSeenIter *it, uint64_t *added_ns,
                                    void **value);

/* The index slot where the probe for id starts, and the number of index
 * slots.  For tests that build colliding IDs, as an attacker who knew the
 * key could. */
size_t mesh_seen_home_slot (const MeshSeen *s,
                            const uint8_t id[MESH_SEEN_ID_LEN]);
size_t mesh_seen_index_slots (const MeshSeen *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshSeen, mesh_seen_free)

#endif
