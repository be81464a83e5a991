/* Installing an update: verify, back up, replace atomically, check,
 * roll back on failure. */
#ifndef MESH_UPDATE_APPLY_H
#define MESH_UPDATE_APPLY_H

#include <glib.h>

#include "update/package.h"
#include "update/trust.h"

/* The caller's check of the installed file (for the tool: a command).
 * FALSE with error set makes the apply roll back. */
typedef gboolean (*MeshUpdateCheckFunc) (const char *target, void *user_data,
                                         GError **error);

typedef enum {
  MESH_UPDATE_NOT_APPLIED = 0,   /* refused before target was touched */
  MESH_UPDATE_APPLIED,           /* target holds the new data */
  MESH_UPDATE_ROLLED_BACK,       /* the check failed; target restored */
  MESH_UPDATE_ROLLBACK_FAILED,   /* the check failed and so did the restore */
} MeshUpdateOutcome;

/* Replace target with the update data in data_path:
 * 1. verify the manifest against ts for installed_version (the codes of
 *    mesh_update_manifest_verify); nothing is touched on failure;
 * 2. copy the data to a temporary file beside target (target's mode,
 *    0755 for a new file), checking each chunk and the whole against the
 *    manifest on the way (CHECKSUM_MISMATCH; nothing is touched), so what
 *    is installed is exactly what was checked;
 * 3. copy the current target, when there is one, to backup_path (NULL:
 *    target + ".bak");
 * 4. rename the temporary over target;
 * 5. run check (may be NULL); when it fails, rename the backup over
 *    target (or remove target if there was none), so the old file is
 *    back byte for byte, and fail with check's error.
 * After success the backup stays, for a later manual rollback.
 * *outcome (nullable) tells which of these ends was reached. */
gboolean mesh_update_apply (const MeshWireUpdateManifest *m,
                            const MeshTrustStore *ts,
                            guint64 installed_version, const char *data_path,
                            const char *target, const char *backup_path,
                            MeshUpdateCheckFunc check, void *user_data,
                            MeshUpdateOutcome *outcome, GError **error);

#endif
