/* The small announcement of an update (UpdateNotice), spread as the
 * content of a broadcast of content type
 * MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE.  It carries the manifest ID and
 * the authorities' signatures over it, so a node checks k of n before it
 * fetches anything; the other fields are hints until the manifest
 * arrives and mesh_update_notice_matches() accepts it. */
#ifndef MESH_UPDATE_NOTICE_H
#define MESH_UPDATE_NOTICE_H

#include <glib.h>

#include "update/package.h"
#include "update/trust.h"
#include "wire/codec.h"

/* The notice of a signed manifest (INVALID when it has no signature).
 * Returns: (transfer full): the encoded UpdateNotice. */
GBytes *mesh_update_notice_build (const MeshWireUpdateManifest *m,
                                  GError **error);

/* Returns: (transfer full): free with mesh_wire_free(). */
MeshWireUpdateNotice *mesh_update_notice_parse (const guint8 *data, gsize len,
                                                GError **error);

/* Worth fetching: k of n trusted signatures over the manifest ID
 * (BAD_SIGNATURE, UNTRUSTED) and a version above installed_version
 * (DOWNGRADE).  min_version is only known from the manifest. */
gboolean mesh_update_notice_verify (const MeshWireUpdateNotice *n,
                                    const MeshTrustStore *ts,
                                    guint64 installed_version, GError **error);

/* The fetched manifest is the one announced: same ID, name, version,
 * label and size (INVALID naming the first difference). */
gboolean mesh_update_notice_matches (const MeshWireUpdateNotice *n,
                                     const MeshWireUpdateManifest *m,
                                     GError **error);

#endif
