/* Update distribution inside the engine: which chunks of which updates
 * are held, asked for and from whom, answering peers' requests, and the
 * download bandwidth limit.  engine.c feeds it links, frames and time
 * and gives it the ways out below. */
#ifndef MESH_ENGINE_UPDIST_H
#define MESH_ENGINE_UPDIST_H

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

#include "engine/engine.h"
#include "wire/codec.h"

typedef struct MeshUpdist MeshUpdist;

typedef struct {
  /* Send a link message (UpdateRequest, UpdateChunk). */
  void (*send) (void *ctx, MeshLinkId link, uint32_t type,
                const ProtobufCMessage *payload, uint64_t now_ns);
  /* The peer on link sent a bad chunk: lower its reputation. */
  void (*penalize) (void *ctx, MeshLinkId link, const char *reason,
                    uint64_t now_ns);
  void (*event) (void *ctx, const MeshEvent *ev);
} MeshUpdistCallbacks;

MeshUpdist *mesh_updist_new (const MeshEngineConfig *config,
                             const MeshUpdistCallbacks *cb, void *ctx,
                             uint64_t now_ns);
void mesh_updist_free (MeshUpdist *u);

void mesh_updist_set_store (MeshUpdist *u, const MeshChunkStoreFuncs *funcs,
                            void *store);
gboolean mesh_updist_add (MeshUpdist *u, const uint8_t *id,
                          const uint8_t *manifest, size_t len, gboolean fetch,
                          uint64_t now_ns, GError **error);
void mesh_updist_remove (MeshUpdist *u, const uint8_t *id);
gboolean mesh_updist_progress (const MeshUpdist *u, const uint8_t *id,
                               uint32_t *done, uint32_t *total);

/* Links the engine can ask; node_id is the peer's (32 bytes, copied). */
void mesh_updist_link_up (MeshUpdist *u, MeshLinkId link,
                          const uint8_t *node_id, uint64_t now_ns);
void mesh_updist_link_down (MeshUpdist *u, MeshLinkId link, uint64_t now_ns);

/* Decoded payloads from link.  FALSE: the message is invalid (the
 * engine treats it as an invalid frame). */
gboolean mesh_updist_handle_request (MeshUpdist *u, MeshLinkId link,
                                     const uint8_t *payload, size_t len,
                                     uint64_t now_ns);
gboolean mesh_updist_handle_chunk (MeshUpdist *u, MeshLinkId link,
                                   const uint8_t *payload, size_t len,
                                   uint64_t now_ns);

/* The encoded manifest of a tracked update, for answering queries;
 * NULL when untracked.  (transfer none) */
GBytes *mesh_updist_manifest (const MeshUpdist *u, const uint8_t *id);

/* A manifest query was sent to node_id under query_id: wait for its
 * answer until now_ns + update_query_timeout_ns.  FALSE (EXHAUSTED) at
 * update_max queries waiting. */
/* FALSE (EXHAUSTED) when update_max queries wait already. */
gboolean mesh_updist_query_room (const MeshUpdist *u, GError **error);
gboolean mesh_updist_query_start (MeshUpdist *u, const uint8_t *manifest_id,
                                  const uint8_t *node_id,
                                  const uint8_t query_id[MESH_WIRE_QUERY_ID_LEN],
                                  uint64_t now_ns, GError **error);
/* A response from node_id; TRUE when it answered one of our manifest
 * queries (the event is then emitted), FALSE for anything else. */
gboolean mesh_updist_query_response (MeshUpdist *u, const uint8_t *node_id,
                                     const MeshWireResponse *r,
                                     uint64_t now_ns);

uint64_t mesh_updist_next_timeout (const MeshUpdist *u);
void mesh_updist_tick (MeshUpdist *u, uint64_t now_ns);

void mesh_updist_add_stats (const MeshUpdist *u, MeshEngineStats *stats);

#endif
