/* Update queries to an authority ("latest version of X?", "the manifest
 * with this ID?"), carried as QueryMessage / ResponseMessage inside an
 * end-to-end session.  Sending, the timeout and matching answers to
 * questions belong to the engine; this is what goes in the bodies. */
#ifndef MESH_UPDATE_QUERY_H
#define MESH_UPDATE_QUERY_H

#include <glib.h>

#include "update/package.h"
#include "wire/codec.h"

/* Returns: (transfer full): the encoded QueryMessage of query_type
 * MESH_WIRE_QUERY_UPDATE_LATEST asking for name newer than
 * installed_version. */
GBytes *mesh_update_query_latest (const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                                  const char *name, guint64 installed_version,
                                  GError **error);

/* Returns: (transfer full): the encoded QueryMessage of query_type
 * MESH_WIRE_QUERY_UPDATE_MANIFEST for the manifest with this ID. */
GBytes *mesh_update_query_manifest (const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                                    const guint8 manifest_id[MESH_SHA256_LEN]);

/* The authority side: the encoded ResponseMessage to q, from the signed
 * manifests it publishes (encoded, GBytes*).  OK with the newest newer
 * manifest of that name, or the one with that ID; NOT_FOUND; ERROR for
 * a malformed body or an unknown query type; UNAUTHORIZED when
 * authorized is FALSE (the caller's policy on the asker).
 * Returns: (transfer full). */
GBytes *mesh_update_query_answer (const MeshWireQuery *q,
                                  GPtrArray *manifests, gboolean authorized);

/* The asker side: the manifest in r, an answer to query_id.  Codes:
 * INVALID (another query's answer or a bad body), NOT_FOUND,
 * PERMISSION (UNAUTHORIZED), FAILED (ERROR); the authority's message is
 * quoted.  The manifest still has to pass mesh_update_manifest_verify().
 * Returns: (transfer full): free with mesh_wire_free(). */
MeshWireUpdateManifest *mesh_update_query_result (const MeshWireResponse *r,
                                                  const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                                                  GError **error);

#endif
