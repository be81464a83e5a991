/* The chunk cache: update chunks on disk under one directory, one file
 * per chunk named by the 64 hex digits of its SHA-256, so a chunk is
 * found by its hash whatever update it belongs to.
 *
 * Every chunk is checked against its hash when it arrives and again
 * when it is read, so a corrupt file is never served or assembled.
 * Files are written to a temporary name and renamed, so a crash leaves
 * whole chunks or none (they are not synced to disk, so after a power
 * loss one may be damaged: mesh_chunk_store_missing() finds and drops
 * it); reopening the directory after a restart finds
 * what was stored, which is how a download resumes.  The cache holds at
 * most max_bytes: storing more evicts the oldest chunks first (the order
 * they were stored in; after a restart, file modification times), except
 * the chunks of pinned updates, such as the one being downloaded. */
#ifndef MESH_UPDATE_CHUNKS_H
#define MESH_UPDATE_CHUNKS_H

#include <stdint.h>
#include <glib.h>

#include "crypto/hash.h"
#include "wire/codec.h"

typedef struct MeshChunkStore MeshChunkStore;

/* Open (creating it with mode 0700 if needed) the cache in dir.  Chunk
 * files are indexed by name and size; leftover temporary files are
 * removed; other names are left alone.  max_bytes is at least
 * MESH_WIRE_MAX_CHUNK_SIZE (INVALID_ARGUMENT otherwise).  When the
 * directory holds more than max_bytes, the oldest chunks are evicted. */
MeshChunkStore *mesh_chunk_store_open (const char *dir, guint64 max_bytes,
                                       GError **error);
void mesh_chunk_store_free (MeshChunkStore *cs);

/* Store data as the chunk whose SHA-256 is hash.  CHECKSUM_MISMATCH
 * (nothing stored) when data does not hash to it; INVALID for an empty
 * chunk, TOO_LARGE above MESH_WIRE_MAX_CHUNK_SIZE; EXHAUSTED when only
 * pinned chunks could be evicted to make room; IO.  Storing a chunk
 * already held succeeds without writing. */
gboolean mesh_chunk_store_put (MeshChunkStore *cs,
                               const uint8_t hash[MESH_SHA256_LEN],
                               const guint8 *data, gsize len, GError **error);

/* Chunk index of the update m, as received from a peer: checked against
 * the manifest's hash for that index and length (CHECKSUM_MISMATCH,
 * INVALID for an index out of range), then stored. */
gboolean mesh_chunk_store_put_chunk (MeshChunkStore *cs,
                                     const MeshWireUpdateManifest *m,
                                     guint32 index, const guint8 *data,
                                     gsize len, GError **error);

/* Keep the chunks of m (held now or stored later) from eviction until
 * as many unpin calls; pins nest. */
void mesh_chunk_store_pin (MeshChunkStore *cs, const MeshWireUpdateManifest *m);
void mesh_chunk_store_unpin (MeshChunkStore *cs, const MeshWireUpdateManifest *m);

/* Whether a chunk with this hash is indexed (its file is not read). */
gboolean mesh_chunk_store_has (const MeshChunkStore *cs,
                               const uint8_t hash[MESH_SHA256_LEN]);

/* The chunk with this hash, for serving it: NOT_FOUND when absent;
 * CHECKSUM_MISMATCH when the file no longer matches (it is then removed).
 * Returns: (transfer full). */
GBytes *mesh_chunk_store_get (MeshChunkStore *cs,
                              const uint8_t hash[MESH_SHA256_LEN],
                              GError **error);

/* Indices (guint32) of the chunks of m not held, in order.  Held chunks
 * are read and checked; a corrupt one is removed and listed.
 * Returns: (transfer full). */
GArray *mesh_chunk_store_missing (MeshChunkStore *cs,
                                  const MeshWireUpdateManifest *m);

/* Write the data of m to path (temporary file, checked, renamed):
 * NOT_FOUND naming the first missing chunk, CHECKSUM_MISMATCH. */
gboolean mesh_chunk_store_assemble (MeshChunkStore *cs,
                                    const MeshWireUpdateManifest *m,
                                    const char *path, GError **error);

/* The wire side.  Answer an UpdateRequest for the update m (whose ID is
 * manifest_id): one encoded UpdateChunk (GBytes*) per requested index
 * held, in request order; indices out of range, repeated or not held
 * are skipped, and at most max_bytes of chunk data are answered (0: no
 * limit), so a request cannot make us send without bound.  An empty
 * array when request->package_id is not manifest_id.
 * Returns: (transfer full). */
GPtrArray *mesh_chunk_store_serve (MeshChunkStore *cs,
                                   const MeshWireUpdateManifest *m,
                                   const uint8_t manifest_id[MESH_SHA256_LEN],
                                   const MeshWireUpdateRequest *request,
                                   gsize max_bytes);

/* Take an UpdateChunk received for m: INVALID when it belongs to another
 * update (package_id is not manifest_id) or its index is out of range;
 * CHECKSUM_MISMATCH when the data does not match the manifest's hash for
 * that index (the chunk's own hash field is not trusted); then stored. */
gboolean mesh_chunk_store_receive (MeshChunkStore *cs,
                                   const MeshWireUpdateManifest *m,
                                   const uint8_t manifest_id[MESH_SHA256_LEN],
                                   const MeshWireUpdateChunk *chunk,
                                   GError **error);

/* Chunks of m held (by the index; files are not read) and their bytes,
 * for progress reports. */
guint mesh_chunk_store_progress (const MeshChunkStore *cs,
                                 const MeshWireUpdateManifest *m,
                                 guint64 *bytes_held);

guint64 mesh_chunk_store_used (const MeshChunkStore *cs);
guint mesh_chunk_store_count (const MeshChunkStore *cs);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshChunkStore, mesh_chunk_store_free)

#endif
