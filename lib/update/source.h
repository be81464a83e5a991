/* The chunk cache (chunks.h) as the chunk store of the engine
 * (mesh_engine_set_chunk_store()): the engine names chunks by update ID
 * and index, the cache by hash, so the updates the engine tracks are
 * registered here with their manifests.  A registered update's chunks
 * are pinned in the cache until it is removed. */
#ifndef MESH_UPDATE_SOURCE_H
#define MESH_UPDATE_SOURCE_H

#include <glib.h>

#include "engine/engine.h"
#include "update/chunks.h"

typedef struct MeshChunkSource MeshChunkSource;

/* cs is not owned and must outlive the source. */
MeshChunkSource *mesh_chunk_source_new (MeshChunkStore *cs);
void mesh_chunk_source_free (MeshChunkSource *src);

/* The functions to give mesh_engine_set_chunk_store() with src. */
const MeshChunkStoreFuncs *mesh_chunk_source_funcs (void);

/* Register an encoded manifest (parsed: INVALID and the like); id_out
 * (may be NULL) gets its manifest ID.  Registering one again is fine. */
gboolean mesh_chunk_source_add (MeshChunkSource *src, const guint8 *manifest,
                                gsize len, uint8_t id_out[MESH_SHA256_LEN],
                                GError **error);
void mesh_chunk_source_remove (MeshChunkSource *src,
                               const uint8_t id[MESH_SHA256_LEN]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshChunkSource, mesh_chunk_source_free)

#endif
